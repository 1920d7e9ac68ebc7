#pragma once
// Zeroed, 4 KiB-aligned heap memory standing in for a mapped file in tests.

#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <memory>

namespace pastel::testing {

class AlignedBuffer {
 public:
  explicit AlignedBuffer(size_t n)
      : n_(n), p_(static_cast<uint8_t*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096))) {
    std::memset(p_.get(), 0, n_);
  }
  // A copy of `src[0, n)` (a file's image).
  AlignedBuffer(const uint8_t* src, size_t n)
      : n_(n), p_(static_cast<uint8_t*>(std::aligned_alloc(4096, (n + 4095) / 4096 * 4096))) {
    std::memcpy(p_.get(), src, n_);
  }
  uint8_t* data() const { return p_.get(); }
  size_t size() const { return n_; }

 private:
  struct Free {
    void operator()(uint8_t* p) const { std::free(p); }
  };
  size_t n_;
  std::unique_ptr<uint8_t, Free> p_;
};

}  // namespace pastel::testing
