#pragma once
// Extents: the list of extents (pastel/pool.h) that a stored value's bytes lie in, kept inline up
// to kInline of them, so that the request path builds, copies and drops a value's list without
// allocating. Owned by the pool component: it is a pool-level value type that the log's records,
// the store's index and its protocols pass around.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>

#include "pastel/pool.h"

namespace pastel {

// A value's extents. Up to kInline of them are kept inline, so that the request path makes,
// copies and drops the Value of a write or a read without allocating: a value of up to
// (kInline - 1) buffers' bytes received at any offset spans at most kInline buffers. A longer
// list goes to the heap (the value is then several buffers long, and its copies dominate).
class Extents {
 public:
  static constexpr uint32_t kInline = 4;

  Extents() = default;
  Extents(std::span<const Extent> e) { assign(e.data(), e.data() + e.size()); }  // NOLINT
  Extents(const Extents& o) { assign(o.begin(), o.end()); }
  Extents(Extents&& o) noexcept { Take(o); }
  Extents& operator=(const Extents& o) {
    if (this != &o) {
      assign(o.begin(), o.end());
    }
    return *this;
  }
  Extents& operator=(Extents&& o) noexcept {
    if (this != &o) {
      delete[] heap_;
      Take(o);
    }
    return *this;
  }
  Extents& operator=(std::span<const Extent> e) {
    assign(e.data(), e.data() + e.size());
    return *this;
  }
  ~Extents() { delete[] heap_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Extent* data() { return heap_ != nullptr ? heap_ : inline_; }
  const Extent* data() const { return heap_ != nullptr ? heap_ : inline_; }
  Extent* begin() { return data(); }
  Extent* end() { return data() + size_; }
  const Extent* begin() const { return data(); }
  const Extent* end() const { return data() + size_; }
  Extent& operator[](size_t i) { return data()[i]; }
  const Extent& operator[](size_t i) const { return data()[i]; }
  Extent& back() { return data()[size_ - 1]; }
  operator std::span<const Extent>() const { return {data(), size_}; }  // NOLINT

  void clear() { size_ = 0; }
  // [first, last) must not lie in this list.
  void assign(const Extent* first, const Extent* last) {
    size_ = 0;
    append(first, last);
  }
  void append(const Extent* first, const Extent* last) {
    const size_t n = static_cast<size_t>(last - first);
    Reserve(size_ + n);
    std::copy(first, last, data() + size_);
    size_ += static_cast<uint32_t>(n);
  }
  void push_back(const Extent& e) { append(&e, &e + 1); }
  void resize(size_t n) {
    Reserve(n);
    std::fill(data() + std::min<size_t>(size_, n), data() + n, Extent{});
    size_ = static_cast<uint32_t>(n);
  }

  friend bool operator==(const Extents& a, std::span<const Extent> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const Extents& a, const Extents& b) {
    return a == std::span<const Extent>(b);
  }

 private:
  void Reserve(size_t n) {
    if (n <= cap_) {
      return;
    }
    const size_t cap = std::max<size_t>(n, 2 * size_t{cap_});
    Extent* grown = new Extent[cap];
    std::copy(begin(), end(), grown);
    delete[] heap_;
    heap_ = grown;
    cap_ = static_cast<uint32_t>(cap);
  }
  void Take(Extents& o) noexcept {
    size_ = o.size_;
    cap_ = o.cap_;
    heap_ = o.heap_;
    if (heap_ == nullptr) {
      std::copy(o.inline_, o.inline_ + size_, inline_);
    }
    o.heap_ = nullptr;
    o.size_ = 0;
    o.cap_ = kInline;
  }

  Extent inline_[kInline];
  Extent* heap_ = nullptr;  // when the list outgrew inline_
  uint32_t size_ = 0;
  uint32_t cap_ = kInline;
};

}  // namespace pastel
