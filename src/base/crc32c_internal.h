#pragma once
// Internal entry points of crc32c.cc, for tests that compare the two implementations.

#include <cstddef>
#include <cstdint>

namespace pastel::internal {

// The table implementation, whatever the CPU has.
uint32_t Crc32cExtendPortable(uint32_t crc, const void* data, size_t n);

}  // namespace pastel::internal
