#pragma once
// CRC-32C (Castagnoli), the checksum of every on-media structure. Uses the SSE4.2 crc32
// instruction when the CPU has it, a table otherwise; both give the same values.

#include <cstddef>
#include <cstdint>

namespace pastel {

// Extends `crc` (0 for a fresh checksum) over [data, data + n).
uint32_t Crc32cExtend(uint32_t crc, const void* data, size_t n);

inline uint32_t Crc32c(const void* data, size_t n) {
  return Crc32cExtend(0, data, n);
}

}  // namespace pastel
