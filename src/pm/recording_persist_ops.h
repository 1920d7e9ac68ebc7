#pragma once
// RecordingPersistOps: a PersistOps for tests that knows, at every instant, which bytes of a
// region would survive a power cut.
//
// Model (x86 with clwb/sfence, as in pmdk's pmemcheck): a store is durable only once its cache line
// was flushed and a later fence (Drain) completed. A line flushed but not yet fenced, or written
// and never flushed, may or may not have reached the media: the cache may have evicted it at any
// time. The object keeps `durable_`, the image made of fenced lines only. CrashImage() returns that
// image, optionally with a random subset of the lines whose current content differs from it (the
// ones a real cache could have written back on its own).
//
// Hooks let a crash test act at every persistence point: before each Flush, before each Drain
// (nothing of the batch fenced yet) and after it (the batch durable).
//
// Single-threaded, like the PersistOps it stands in for.

#include <cstdint>
#include <functional>
#include <random>
#include <vector>

#include "pastel/pm.h"

namespace pastel {

// The persistence points a recording PersistOps reports (RecordingPersistOps, RecordingPageOps):
// before each Flush, before each Drain (nothing of it done yet) and after it (the batch durable).
enum class PersistEvent : uint8_t { kFlush, kDrainBegin, kDrainEnd };
using PersistHook = std::function<void(PersistEvent, uint64_t event_index)>;

class RecordingPersistOps final : public PersistOps {
 public:
  using Event = PersistEvent;
  using Hook = PersistHook;

  // Tracks [base, base + len); base must be cache-line aligned. Whatever the region holds now
  // counts as durable (a freshly created, zeroed file).
  RecordingPersistOps(uint8_t* base, size_t len);

  Status Flush(const void* addr, size_t len) override;
  Status Drain() override;
  Granularity granularity() const override { return Granularity::kCacheLine; }
  std::string_view name() const override { return "recording"; }

  // The region as a power cut now would leave it. With `rng`, each line that differs from the
  // durable image survives with its current content with probability `keep_probability`.
  std::vector<uint8_t> CrashImage(std::mt19937_64* rng = nullptr,
                                  double keep_probability = 0.5) const;

  void SetHook(Hook hook) { hook_ = std::move(hook); }
  // Drain number `n` (counting from 0) and every later one fail with EIO, as a failed msync would.
  void FailDrainsFrom(uint64_t n) { fail_from_ = n; }

  uint64_t flush_count() const { return flushes_; }
  uint64_t drain_count() const { return drains_; }
  uint64_t events() const { return events_; }
  // Lines flushed since the last Drain (their content as of the flush is pending).
  size_t pending_lines() const { return pending_.size(); }

 private:
  uint8_t* base_;
  size_t len_;
  struct PendingLine {
    uint32_t line;
    uint8_t bytes[kCacheLineSize];  // the line as of its (latest) flush
  };
  std::vector<uint8_t> durable_;        // fenced content
  std::vector<PendingLine> pending_;    // lines flushed since the last Drain
  std::vector<uint32_t> pending_slot_;  // line -> index in pending_ + 1, 0 when not pending
  Hook hook_;
  uint64_t flushes_ = 0;
  uint64_t drains_ = 0;
  uint64_t events_ = 0;
  uint64_t fail_from_ = UINT64_MAX;
  Status failed_;
};

}  // namespace pastel
