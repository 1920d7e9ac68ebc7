#include "pm/recording_persist_ops.h"

#include <cassert>
#include <cerrno>
#include <cstring>

namespace pastel {

RecordingPersistOps::RecordingPersistOps(uint8_t* base, size_t len)
    : base_(base), len_(len), durable_(base, base + len), snapshot_(len),
      is_pending_((len + kCacheLineSize - 1) / kCacheLineSize, 0) {
  assert(reinterpret_cast<uintptr_t>(base) % kCacheLineSize == 0);
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
    // The write-back carries the line as it is now; a store after the flush is not covered.
    std::memcpy(&snapshot_[off], base_ + off, n);
    if (is_pending_[line] == 0) {
      is_pending_[line] = 1;
      pending_.push_back(static_cast<uint32_t>(line));
    }
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
  for (uint32_t line : pending_) {
    const size_t off = size_t{line} * kCacheLineSize;
    const size_t n = std::min(kCacheLineSize, len_ - off);
    std::memcpy(&durable_[off], &snapshot_[off], n);
    is_pending_[line] = 0;
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
    if (std::memcmp(&image[off], base_ + off, n) != 0 && keep(*rng)) {
      std::memcpy(&image[off], base_ + off, n);
    }
  }
  return image;
}

}  // namespace pastel
