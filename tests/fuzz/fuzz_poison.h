// Buffers that fuzz targets keep between inputs (building them per input was most of those
// targets' time) stay as strict as fresh ones under ASan: the part an input may not touch is
// poisoned, so that a read or write past what the code under test was given is still reported.

#pragma once

#include <cstddef>

#if defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PASTEL_FUZZ_ASAN 1
#include <sanitizer/asan_interface.h>
#endif
#endif
#ifndef PASTEL_FUZZ_ASAN
#define PASTEL_FUZZ_ASAN 0
#endif

namespace pastel::fuzz {

// Makes bytes [0, keep) of the `size` bytes at `p` addressable and [keep, size) unaddressable.
inline void ExposeOnly(void* p, size_t size, size_t keep) {
#if PASTEL_FUZZ_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, keep);
  ASAN_POISON_MEMORY_REGION(static_cast<char*>(p) + keep, size - keep);
#else
  (void)p;
  (void)size;
  (void)keep;
#endif
}

}  // namespace pastel::fuzz
