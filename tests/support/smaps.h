#pragma once
// What the kernel says of this process's mappings (/proc/self/smaps), for tests of the hints the
// project gives it.

#include <cstdint>
#include <cstdio>
#include <fstream>
#include <string>

namespace pastel::testing {

// The "VmFlags:" line of the mapping that holds `addr`, or "" when no mapping does.
inline std::string VmFlagsOf(const void* addr) {
  std::ifstream smaps("/proc/self/smaps");
  const auto at = reinterpret_cast<uintptr_t>(addr);
  bool in = false;
  for (std::string line; std::getline(smaps, line);) {
    unsigned long lo = 0, hi = 0;
    if (std::sscanf(line.c_str(), "%lx-%lx ", &lo, &hi) == 2) {
      in = lo <= at && at < hi;
    } else if (in && line.starts_with("VmFlags:")) {
      return line;
    }
  }
  return "";
}

// Whether that mapping is marked for random access (MADV_RANDOM: no fault read-around).
inline bool RandomAccess(const void* addr) {
  return VmFlagsOf(addr).find(" rr") != std::string::npos;
}

}  // namespace pastel::testing
