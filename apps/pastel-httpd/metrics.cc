#include "metrics.h"

#include <cstdio>

namespace pastel::httpd {
namespace {

void Line(std::string* out, const char* name, const char* labels, uint64_t v) {
  char buf[256];
  const int n = std::snprintf(buf, sizeof(buf), "%s%s %llu\n", name, labels,
                              static_cast<unsigned long long>(v));
  out->append(buf, static_cast<size_t>(n));
}

void Type(std::string* out, const char* name, const char* type, const char* help) {
  out->append("# HELP ").append(name).append(" ").append(help).append("\n");
  out->append("# TYPE ").append(name).append(" ").append(type).append("\n");
}

}  // namespace

std::string Metrics::Render() const {
  uint64_t req[6] = {};
  uint64_t r2 = 0, r4 = 0, r5 = 0, rx = 0, batches = 0, slots = 0, commits = 0, writes = 0,
           full = 0, kept = 0, enobufs = 0, checkpoints = 0, checkpointed = 0, timeouts = 0,
           full_checkpoints = 0, checkpoint_failures = 0, held = 0, held_paused = 0,
           error_closes = 0, tx_full_closes = 0, lingering = 0;
  for (const LoopCounters& l : loops_) {
    for (int m = 0; m < 6; ++m) {
      req[m] += l.requests[m].load(std::memory_order_relaxed);
    }
    r2 += l.responses_2xx.load(std::memory_order_relaxed);
    r4 += l.responses_4xx.load(std::memory_order_relaxed);
    r5 += l.responses_5xx.load(std::memory_order_relaxed);
    rx += l.rx_bytes.load(std::memory_order_relaxed);
    batches += l.batches.load(std::memory_order_relaxed);
    slots += l.batch_slots.load(std::memory_order_relaxed);
    commits += l.commits.load(std::memory_order_relaxed);
    writes += l.committed_writes.load(std::memory_order_relaxed);
    full += l.rejected_full.load(std::memory_order_relaxed);
    kept += l.kept.load(std::memory_order_relaxed);
    enobufs += l.enobufs.load(std::memory_order_relaxed);
    timeouts += l.request_timeouts.load(std::memory_order_relaxed);
    checkpoints += l.checkpoints.load(std::memory_order_relaxed);
    checkpointed += l.checkpointed_entries.load(std::memory_order_relaxed);
    full_checkpoints += l.log_full_checkpoints.load(std::memory_order_relaxed);
    checkpoint_failures += l.checkpoint_failures.load(std::memory_order_relaxed);
    held += l.held.load(std::memory_order_relaxed);
    held_paused += l.held_paused.load(std::memory_order_relaxed);
    error_closes += l.error_closes.load(std::memory_order_relaxed);
    tx_full_closes += l.tx_full_closes.load(std::memory_order_relaxed);
    lingering += l.lingering_closes.load(std::memory_order_relaxed);
  }
  std::string out;
  out.reserve(4096);
  Type(&out, "pastel_requests_total", "counter", "Requests parsed, by method.");
  static const char* kMethods[] = {"GET", "HEAD", "POST", "PUT", "DELETE", "OTHER"};
  for (int m = 0; m < 6; ++m) {
    const std::string labels = std::string("{method=\"") + kMethods[m] + "\"}";
    Line(&out, "pastel_requests_total", labels.c_str(), req[m]);
  }
  Type(&out, "pastel_responses_total", "counter", "Responses, by status class.");
  Line(&out, "pastel_responses_total", "{class=\"2xx\"}", r2);
  Line(&out, "pastel_responses_total", "{class=\"4xx\"}", r4);
  Line(&out, "pastel_responses_total", "{class=\"5xx\"}", r5);
  Type(&out, "pastel_received_bytes_total", "counter", "Bytes received into pool buffers.");
  Line(&out, "pastel_received_bytes_total", "", rx);
  Type(&out, "pastel_batches_total", "counter", "Polls that returned RX slots.");
  Line(&out, "pastel_batches_total", "", batches);
  Type(&out, "pastel_batch_slots_total", "counter", "RX slots over all batches.");
  Line(&out, "pastel_batch_slots_total", "", slots);
  Type(&out, "pastel_mean_batch_slots", "gauge", "Mean RX slots per batch.");
  Line(&out, "pastel_mean_batch_slots", "", batches == 0 ? 0 : slots / batches);
  Type(&out, "pastel_fences_total", "counter", "Group commits (one fence each).");
  Line(&out, "pastel_fences_total", "", commits);
  Type(&out, "pastel_committed_writes_total", "counter", "Writes made durable.");
  Line(&out, "pastel_committed_writes_total", "", writes);
  Type(&out, "pastel_mean_commit_writes", "gauge", "Mean writes per group commit.");
  Line(&out, "pastel_mean_commit_writes", "", commits == 0 ? 0 : writes / commits);
  Type(&out, "pastel_rejected_full_total", "counter", "Writes refused with 507.");
  Line(&out, "pastel_rejected_full_total", "", full);
  Type(&out, "pastel_kept_buffers_total", "counter", "Receive buffers kept in place (swapped).");
  Line(&out, "pastel_kept_buffers_total", "", kept);
  Type(&out, "pastel_rx_starved_total", "counter",
       "Receives stopped for want of buffers (ENOBUFS), resumed when buffers came back.");
  Line(&out, "pastel_rx_starved_total", "", enobufs);
  // (The names are from when the log was compacted; kept so that dashboards keep working.)
  Type(&out, "pastel_log_compactions_total", "counter",
       "Checkpoints completed: the index file committed and the log streams truncated.");
  Line(&out, "pastel_log_compactions_total", "", checkpoints);
  Type(&out, "pastel_log_compacted_records_total", "counter",
       "Index entries written by checkpoints.");
  Line(&out, "pastel_log_compacted_records_total", "", checkpointed);
  Type(&out, "pastel_log_full_checkpoints_total", "counter",
       "Whole checkpoints run within a turn because the log stream could not take a request.");
  Line(&out, "pastel_log_full_checkpoints_total", "", full_checkpoints);
  Type(&out, "pastel_checkpoint_failures_total", "counter",
       "Checkpoints that failed: index file full (retried), or another cause (read-only).");
  Line(&out, "pastel_checkpoint_failures_total", "", checkpoint_failures);
  Type(&out, "pastel_held_connections_total", "counter",
       "Times a connection's requests waited for its answers to drain (backpressure).");
  Line(&out, "pastel_held_connections_total", "", held);
  Type(&out, "pastel_held_paused_total", "counter",
       "Held connections whose receiving was paused too (much unparsed data).");
  Line(&out, "pastel_held_paused_total", "", held_paused);
  Type(&out, "pastel_error_closes_total", "counter",
       "Connections closed after an error answer that says why (400, 408, 411, 413, 414, 431, "
       "505).");
  Line(&out, "pastel_error_closes_total", "", error_closes);
  Type(&out, "pastel_tx_full_closes_total", "counter",
       "Connections closed because an answer did not fit the TX room at all.");
  Line(&out, "pastel_tx_full_closes_total", "", tx_full_closes);
  Type(&out, "pastel_lingering_closes_total", "counter",
       "Closes that shut the sending side and read what the peer still sent before closing.");
  Line(&out, "pastel_lingering_closes_total", "", lingering);
  Type(&out, "pastel_request_timeouts_total", "counter",
       "Requests not received whole within --request-timeout (408, connection closed).");
  Line(&out, "pastel_request_timeouts_total", "", timeouts);
  const PoolCounts pc = pool_.Counts();
  Type(&out, "pastel_pool_buffers", "gauge", "Pool buffers by owner.");
  Line(&out, "pastel_pool_buffers", "{state=\"free\"}", pc.free);
  Line(&out, "pastel_pool_buffers", "{state=\"kernel\"}", pc.kernel);
  Line(&out, "pastel_pool_buffers", "{state=\"app\"}", pc.app);
  Line(&out, "pastel_pool_buffers", "{state=\"retained\"}", pc.retained);
  Type(&out, "pastel_keys", "gauge", "Live keys.");
  Line(&out, "pastel_keys", "", index_.live_keys());
  Type(&out, "pastel_value_bytes", "gauge", "Bytes of live values.");
  Line(&out, "pastel_value_bytes", "", index_.live_bytes());
  Type(&out, "pastel_index_tombstones", "gauge",
       "Deletes kept in the index file (several threads) until every log stream is past them.");
  Line(&out, "pastel_index_tombstones", "", index_.tree_tombstones());
  Type(&out, "pastel_index_memory_keys", "gauge",
       "Index entries in memory: changed since their checkpoint, or kept (--index-cache).");
  Line(&out, "pastel_index_memory_keys", "", index_.map_keys());
  Type(&out, "pastel_recoveries_total", "counter", "Recoveries from the log at start.");
  Line(&out, "pastel_recoveries_total", "", recoveries_);
  Type(&out, "pastel_read_only", "gauge", "1 after a failed flush or sync.");
  Line(&out, "pastel_read_only", "", pool_.read_only() ? 1 : 0);
  return out;
}

}  // namespace pastel::httpd
