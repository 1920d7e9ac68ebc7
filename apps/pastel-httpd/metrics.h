#pragma once
// Counters of pastel-httpd (store::LoopCounters, one per loop, each written by its loop with
// relaxed atomics; /metrics sums them), rendered in the Prometheus text format. requests[] is
// indexed by http::Method.

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

#include "pastel/net.h"
#include "pastel/pool.h"
#include "pastel/store.h"

namespace pastel::httpd {

using store::Index;
using store::LoopCounters;

class Metrics {
 public:
  Metrics(Pool& pool, Index& index, uint32_t loops, uint64_t recoveries)
      : pool_(pool), index_(index), loops_(loops), recoveries_(recoveries) {}
  LoopCounters& loop(uint32_t i) { return loops_[i]; }
  std::string Render() const;

 private:
  Pool& pool_;
  Index& index_;
  std::deque<LoopCounters> loops_;
  uint64_t recoveries_;
};

}  // namespace pastel::httpd
