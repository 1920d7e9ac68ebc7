#pragma once
// Counters of pastel-httpd, per loop (each loop writes its own with relaxed atomics; /metrics sums
// them), rendered in the Prometheus text format.

#include <atomic>
#include <cstdint>
#include <deque>
#include <string>

#include "index.h"
#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::httpd {

struct LoopCounters {
  std::atomic<uint64_t> requests[6] = {};  // by http::Method
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> batches{0};      // Polls that brought slots
  std::atomic<uint64_t> batch_slots{0};  // RX slots in them
  std::atomic<uint64_t> commits{0};      // group commits (fences)
  std::atomic<uint64_t> committed_writes{0};
  std::atomic<uint64_t> rejected_full{0};  // 507
  std::atomic<uint64_t> enobufs{0};        // receives stopped for want of buffers
  std::atomic<uint64_t> kept{0};
  std::atomic<uint64_t> compactions{0};
  std::atomic<uint64_t> compacted_records{0};
  std::atomic<uint64_t> request_timeouts{0};  // 408: a request did not arrive whole in time

  void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

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
