#pragma once
// Manual poisoning of memory the program must not touch (free or kernel-owned pool buffers).
// No-ops without AddressSanitizer.

#include <cstddef>

#if defined(__SANITIZE_ADDRESS__)
#define PASTEL_ASAN 1
#elif defined(__has_feature)
#if __has_feature(address_sanitizer)
#define PASTEL_ASAN 1
#endif
#endif

#ifdef PASTEL_ASAN
#include <sanitizer/asan_interface.h>
#endif

namespace pastel {

inline void AsanPoison(const void* p, size_t n) {
#ifdef PASTEL_ASAN
  ASAN_POISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

inline void AsanUnpoison(const void* p, size_t n) {
#ifdef PASTEL_ASAN
  ASAN_UNPOISON_MEMORY_REGION(p, n);
#else
  (void)p;
  (void)n;
#endif
}

}  // namespace pastel
