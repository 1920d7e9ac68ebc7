#pragma once
// server: what pastel-httpd and pastel-kv share around their protocols. The store's and the
// network's command-line options, opening the store, the start lines (what survives what), one
// loop per thread serving the protocol (store::RunLoop), the stop on SIGINT/SIGTERM, and the
// loops' counters as one table of metrics with one set of names, rendered as Prometheus text
// (/metrics) or Redis INFO lines.
//
// Threads: Serve runs on the main thread; a Server is shared by every loop (its counters are
// relaxed atomics, its strings fixed before the loops start).

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/store.h"

namespace CLI {
class App;
}  // namespace CLI

namespace pastel::server {

// The options both servers take; each server sets its own defaults for listen and pool.
struct Config {
  std::string name;  // "pastel-kv": prefixes the messages
  std::string listen;
  std::string pool;
  uint64_t pool_size = 256ull << 20;
  uint32_t buffer_size = 2048;
  uint64_t log_size = 64ull << 20;
  uint64_t index_size = 0;  // 0: StoreFiles's default
  std::string persist = "inplace";
  std::string backend = "uring";
  uint32_t threads = 1;
  bool busy_poll = false;
  double request_timeout_s = 30;
  uint64_t index_cache = store::StoreFiles{}.index_cache_keys;
};

// Declares the shared options on `app`, with *cfg's values as their defaults. `timeout_answer`
// says what a request that takes too long gets ("408" for HTTP).
void AddOptions(CLI::App& app, Config* cfg, std::string_view timeout_answer);

// What every loop's protocol shares: the store, the loops' counters, and the start's facts.
struct Server {
  Server(store::Store& s, uint32_t loops) : store(s), counters(loops) {}
  store::Store& store;
  std::deque<store::LoopCounters> counters;  // one per loop
  std::string persist = "inplace";
  std::string backend = "uring";
  std::string pool_path;
  std::string durability;              // what survives what (Store::Durability)
  std::atomic<bool> rx_shared{false};  // receives share pool buffers (LoopGroup::shares_buffers)
  std::atomic<uint32_t> port{0};       // set once the loops listen (they may answer before)
  std::chrono::steady_clock::time_point started = std::chrono::steady_clock::now();
};

// Makes loop `loop`'s protocol (on the loop's thread).
using MakeProtocol = std::function<std::unique_ptr<store::Protocol>(Server&, uint32_t loop)>;

// Opens the store, says what it recovered and what survives what, serves `make`'s protocol on
// cfg.threads loops until SIGINT or SIGTERM (blocked by the caller with BlockStopSignals before
// any thread started) or a loop's failure; returns the process's exit code.
int Serve(const Config& cfg, const MakeProtocol& make);

// The loops' counters summed.
struct Totals {
  uint64_t requests[8] = {};
  uint64_t responses_2xx = 0;
  uint64_t responses_4xx = 0;
  uint64_t responses_5xx = 0;
  uint64_t rx_bytes = 0;
  uint64_t batches = 0;
  uint64_t batch_slots = 0;
  uint64_t commits = 0;
  uint64_t pipelined_commits = 0;
  uint64_t committed_writes = 0;
  uint64_t rejected_full = 0;
  uint64_t enobufs = 0;
  uint64_t kept = 0;
  uint64_t checkpoints = 0;
  uint64_t checkpointed_entries = 0;
  uint64_t log_full_checkpoints = 0;
  uint64_t checkpoint_failures = 0;
  uint64_t request_timeouts = 0;
  uint64_t held = 0;
  uint64_t held_paused = 0;
  uint64_t error_closes = 0;
  uint64_t tx_full_closes = 0;
  uint64_t lingering_closes = 0;
  uint64_t expired_keys = 0;
  uint64_t keyspace_hits = 0;
  uint64_t keyspace_misses = 0;
  uint64_t log_bytes = 0;  // a gauge: record bytes in the log streams
  uint64_t packed_values = 0;
};
Totals Sum(const std::deque<store::LoopCounters>& loops);

// Where INFO shows a metric.
enum class Section : uint8_t { kPersistence, kStats, kMemory };

// One metric of the store: `pastel_<name>_total` (a counter) or `pastel_<name>` (a gauge) in
// Prometheus text, `pastel_<name>:<value>` in INFO.
struct Metric {
  const char* name;
  const char* help;
  bool counter;
  Section section;
  double value;
  bool fraction = false;  // a mean: two decimals
  // A gauge with a label (pastel_pool_buffers{state="free"}): the label's key and value; INFO
  // shows it as pastel_<name>_<value>.
  const char* label_key = nullptr;
  const char* label_value = nullptr;
};
// The store's metrics: the summed counters, the pool's buffers, the index's figures.
std::vector<Metric> StoreMetrics(const Server& s, const Totals& t);
void AppendPrometheus(std::span<const Metric> metrics, std::string* out);
void AppendInfo(std::span<const Metric> metrics, Section section, std::string* out);

}  // namespace pastel::server
