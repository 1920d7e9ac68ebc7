#include "pm/recording_persist_ops.h"

#include <cassert>
#include <cerrno>
#include <cstring>

namespace pastel {
namespace {

// The recorder reads the whole region, free pool buffers included, which are poisoned under
// ASan; these copies are deliberately not instrumented.
__attribute__((no_sanitize("address"))) void RawCopy(uint8_t* dst, const uint8_t* src, size_t n) {
  for (size_t i = 0; i < n; ++i) {
    dst[i] = src[i];
  }
}

__attribute__((no_sanitize("address"))) bool RawEqual(const uint8_t* a, const uint8_t* b,
                                                      size_t n) {
  for (size_t i = 0; i < n; ++i) {
    if (a[i] != b[i]) {
      return false;
    }
  }
  return true;
}

}  // namespace

RecordingPersistOps::RecordingPersistOps(uint8_t* base, size_t len)
    : base_(base),
      len_(len),
      durable_(len),
      pending_slot_((len + kCacheLineSize - 1) / kCacheLineSize, 0) {
  assert(reinterpret_cast<uintptr_t>(base) % kCacheLineSize == 0);
  RawCopy(durable_.data(), base, len);
}

Status RecordingPersistOps::Flush(const void* addr, size_t len) {
  if (hook_) {
    hook_(Event::kFlush, events_);
  }
  ++events_;
  ++flushes_;
  if (!failed_.ok()) {
    return failed_;
  }
  const auto* p = static_cast<const uint8_t*>(addr);
  if (p < base_ || p + len > base_ + len_) {
    return Status::InvalidArgument("flush outside the recorded region");
  }
  if (len == 0) {
    return Status::Ok();
  }
  const size_t first = static_cast<size_t>(p - base_) / kCacheLineSize;
  const size_t last = (static_cast<size_t>(p - base_) + len - 1) / kCacheLineSize;
  for (size_t line = first; line <= last; ++line) {
    const size_t off = line * kCacheLineSize;
    const size_t n = std::min(kCacheLineSize, len_ - off);
    if (pending_slot_[line] == 0) {
      pending_.push_back({static_cast<uint32_t>(line), {}});
      pending_slot_[line] = static_cast<uint32_t>(pending_.size());
    }
    // The write-back carries the line as it is now; a store after the flush is not covered.
    RawCopy(pending_[pending_slot_[line] - 1].bytes, base_ + off, n);
  }
  return Status::Ok();
}

Status RecordingPersistOps::Drain() {
  if (hook_) {
    hook_(Event::kDrainBegin, events_);
  }
  ++events_;
  const uint64_t this_drain = drains_++;
  if (failed_.ok() && this_drain >= fail_from_) {
    failed_ = Status::FromErrno("injected drain failure", EIO);
  }
  if (!failed_.ok()) {
    return failed_;
  }
  for (const PendingLine& p : pending_) {
    const size_t off = size_t{p.line} * kCacheLineSize;
    const size_t n = std::min(kCacheLineSize, len_ - off);
    std::memcpy(&durable_[off], p.bytes, n);
    pending_slot_[p.line] = 0;
  }
  pending_.clear();
  if (hook_) {
    hook_(Event::kDrainEnd, events_);
  }
  ++events_;
  return Status::Ok();
}

std::vector<uint8_t> RecordingPersistOps::CrashImage(std::mt19937_64* rng,
                                                     double keep_probability) const {
  std::vector<uint8_t> image = durable_;
  if (rng == nullptr) {
    return image;
  }
  std::bernoulli_distribution keep(keep_probability);
  for (size_t off = 0; off < len_; off += kCacheLineSize) {
    const size_t n = std::min(kCacheLineSize, len_ - off);
    if (!RawEqual(&image[off], base_ + off, n) && keep(*rng)) {
      RawCopy(&image[off], base_ + off, n);
    }
  }
  return image;
}

}  // namespace pastel
