// The store's metrics, one table for /metrics and INFO (pastel/server.h).

#include <cstdio>

#include "pastel/prometheus.h"
#include "pastel/server.h"

namespace pastel::server {

Totals Sum(const std::deque<store::LoopCounters>& loops) {
  Totals t;
  const auto get = [](const std::atomic<uint64_t>& c) { return c.load(std::memory_order_relaxed); };
  for (const store::LoopCounters& l : loops) {
    for (size_t k = 0; k < std::size(t.requests); ++k) {
      t.requests[k] += get(l.requests[k]);
    }
    t.responses_2xx += get(l.responses_2xx);
    t.responses_4xx += get(l.responses_4xx);
    t.responses_5xx += get(l.responses_5xx);
    t.rx_bytes += get(l.rx_bytes);
    t.batches += get(l.batches);
    t.batch_slots += get(l.batch_slots);
    t.commits += get(l.commits);
    t.pipelined_commits += get(l.pipelined_commits);
    t.committed_writes += get(l.committed_writes);
    t.rejected_full += get(l.rejected_full);
    t.enobufs += get(l.enobufs);
    t.kept += get(l.kept);
    t.checkpoints += get(l.checkpoints);
    t.checkpointed_entries += get(l.checkpointed_entries);
    t.log_full_checkpoints += get(l.log_full_checkpoints);
    t.checkpoint_failures += get(l.checkpoint_failures);
    t.request_timeouts += get(l.request_timeouts);
    t.held += get(l.held);
    t.held_paused += get(l.held_paused);
    t.error_closes += get(l.error_closes);
    t.tx_full_closes += get(l.tx_full_closes);
    t.lingering_closes += get(l.lingering_closes);
    t.expired_keys += get(l.expired_keys);
    t.keyspace_hits += get(l.keyspace_hits);
    t.keyspace_misses += get(l.keyspace_misses);
    t.log_bytes += get(l.log_bytes);
    t.packed_values += get(l.packed_values);
  }
  return t;
}

std::vector<Metric> StoreMetrics(const Server& s, const Totals& t) {
  using enum Section;
  const Pool& pool = s.store.pool();
  const PoolCounts pc = pool.Counts();
  const auto mean = [](uint64_t a, uint64_t b) {
    return b == 0 ? 0.0 : static_cast<double>(a) / static_cast<double>(b);
  };
  const auto n = [](uint64_t v) { return static_cast<double>(v); };
  const store::Store::Start& start = s.store.start();
  // (The log_compaction names are from when the log was compacted; kept so that dashboards keep
  // working.)
  return {
      {"received_bytes", "Bytes received into pool buffers.", true, kStats, n(t.rx_bytes)},
      {"batches", "Polls that returned RX slots.", true, kStats, n(t.batches)},
      {"batch_slots", "RX slots over all batches.", true, kStats, n(t.batch_slots)},
      {"mean_batch_slots", "Mean RX slots per batch.", false, kStats,
       mean(t.batch_slots, t.batches), true},
      {"fences", "Group commits (one fence each).", true, kPersistence, n(t.commits)},
      {"pipelined_commits",
       "Group commits whose syncs ran asynchronously while the loop went on (a regular file with "
       "the io_uring backend).",
       true, kPersistence, n(t.pipelined_commits)},
      {"committed_writes", "Writes made durable.", true, kPersistence, n(t.committed_writes)},
      {"mean_commit_writes", "Mean writes per group commit.", false, kPersistence,
       mean(t.committed_writes, t.commits), true},
      {"rejected_full", "Writes refused for want of space (507, -OOM).", true, kStats,
       n(t.rejected_full)},
      {"kept_buffers", "Receive buffers kept in place (swapped).", true, kStats, n(t.kept)},
      {"packed_values",
       "Small values written again out of sparsely used buffers while the pool ran short "
       "(the packer, docs/store.md).",
       true, kStats, n(t.packed_values)},
      {"expired_keys", "Keys removed because their expiry time passed.", true, kStats,
       n(t.expired_keys)},
      {"keyspace_hits", "Reads of a key that found it (pastel-kv: as redis-server counts them).",
       true, kStats, n(t.keyspace_hits)},
      {"keyspace_misses", "Reads of a key that did not find it.", true, kStats,
       n(t.keyspace_misses)},
      {"rx_starved",
       "Receives stopped for want of buffers (ENOBUFS), resumed when buffers came back.", true,
       kStats, n(t.enobufs)},
      {"log_compactions",
       "Checkpoints completed: the index file committed and the log streams "
       "truncated.",
       true, kPersistence, n(t.checkpoints)},
      {"log_compacted_records", "Index entries written by checkpoints.", true, kPersistence,
       n(t.checkpointed_entries)},
      {"log_full_checkpoints",
       "Whole checkpoints run within a turn because the log stream could not take a request.", true,
       kPersistence, n(t.log_full_checkpoints)},
      {"checkpoint_failures",
       "Checkpoints that failed: index file full (retried), or another cause (read-only).", true,
       kPersistence, n(t.checkpoint_failures)},
      {"held_connections",
       "Times a connection's requests waited for its answers to drain (backpressure).", true,
       kStats, n(t.held)},
      {"held_paused", "Held connections whose receiving was paused too (much unparsed data).", true,
       kStats, n(t.held_paused)},
      {"error_closes", "Connections closed after an error answer that says why.", true, kStats,
       n(t.error_closes)},
      {"tx_full_closes", "Connections closed because an answer did not fit the TX room at all.",
       true, kStats, n(t.tx_full_closes)},
      {"lingering_closes",
       "Closes that shut the sending side and read what the peer still sent before closing.", true,
       kStats, n(t.lingering_closes)},
      {"request_timeouts",
       "Requests not received whole within --request-timeout (answered, connection closed).", true,
       kStats, n(t.request_timeouts)},
      {"pool_buffers", "Pool buffers by owner.", false, kMemory, n(pc.free), false, "state",
       "free"},
      {"pool_buffers", "Pool buffers by owner.", false, kMemory, n(pc.kernel), false, "state",
       "kernel"},
      {"pool_buffers", "Pool buffers by owner.", false, kMemory, n(pc.app), false, "state", "app"},
      {"pool_buffers", "Pool buffers by owner.", false, kMemory, n(pc.retained), false, "state",
       "retained"},
      {"rx_shared_buffers",
       "1 when receives share pool buffers (io_uring incremental consumption, docs/net.md), 0 "
       "when each receive takes a whole buffer.",
       false, kMemory, s.rx_shared.load(std::memory_order_relaxed) ? 1.0 : 0.0},
      {"pool_bytes", "Bytes of the pool's buffers.", false, kMemory,
       n(uint64_t{pool.buffer_count()} * pool.buffer_size())},
      {"pool_bytes_used",
       "Bytes of the pool's buffers not free: holding values (retained), lent to the kernel or "
       "held by the application.",
       false, kMemory, n(uint64_t{pool.buffer_count() - pc.free} * pool.buffer_size())},
      {"log_bytes", "Bytes of the log streams' records (their room).", false, kMemory,
       n(s.store.log_bytes())},
      {"log_bytes_used", "Bytes of records in the log streams (each loop's as of its last turn).",
       false, kMemory, n(t.log_bytes)},
      {"index_file_bytes", "Bytes of the index file.", false, kMemory,
       n(s.store.index_file_bytes())},
      {"index_file_bytes_used", "Bytes of the index file in use as of its last commit.", false,
       kMemory, n(s.store.index_file_bytes_in_use())},
      {"keys", "Live keys.", false, kMemory, n(s.store.live_keys())},
      {"value_bytes", "Bytes of live values.", false, kMemory, n(s.store.live_bytes())},
      {"index_tombstones",
       "Deletes kept in the index file (several threads) until every log stream is past them.",
       false, kPersistence, n(s.store.index_tombstones())},
      {"index_memory_keys",
       "Index entries in memory: changed since their checkpoint, or kept (--index-cache).", false,
       kPersistence, n(s.store.memory_keys())},
      {"recoveries", "Recoveries from the log at start.", true, kPersistence,
       start.created ? 0.0 : 1.0},
      {"recovered_keys", "Live keys found at start.", false, kPersistence, n(start.keys)},
      {"recovered_records", "Log records replayed at start.", false, kPersistence,
       n(start.log_records)},
      {"read_only", "1 after a failed flush or sync: writes are refused from then on.", false,
       kPersistence, pool.read_only() ? 1.0 : 0.0},
  };
}

namespace {

void AppendValue(const Metric& m, std::string* out) {
  char buf[32];
  const int k = m.fraction ? std::snprintf(buf, sizeof(buf), "%.2f", m.value)
                           : std::snprintf(buf, sizeof(buf), "%llu",
                                           static_cast<unsigned long long>(m.value));
  out->append(buf, static_cast<size_t>(k));
}

}  // namespace

void AppendPrometheus(std::span<const Metric> metrics, std::string* out) {
  std::string name;
  const char* last = nullptr;
  for (const Metric& m : metrics) {
    name.assign("pastel_").append(m.name).append(m.counter ? "_total" : "");
    if (last == nullptr || std::string_view(last) != m.name) {
      AppendPrometheusHelp(out, name, m.counter ? "counter" : "gauge", m.help);
      last = m.name;
    }
    out->append(name);
    if (m.label_key != nullptr) {
      out->append("{").append(m.label_key).append("=\"").append(m.label_value).append("\"}");
    }
    out->append(" ");
    AppendValue(m, out);
    out->append("\n");
  }
}

void AppendInfo(std::span<const Metric> metrics, Section section, std::string* out) {
  for (const Metric& m : metrics) {
    if (m.section != section) {
      continue;
    }
    out->append("pastel_").append(m.name);
    if (m.label_value != nullptr) {
      out->append("_").append(m.label_value);
    }
    out->append(":");
    AppendValue(m, out);
    out->append("\r\n");
  }
}

}  // namespace pastel::server
