// Micro-benchmarks of the store's key index: what one write costs the index (Index::Apply, plus
// its share of the checkpoints into the index file that the log's truncation waits for), against
// baselines measured in the same run: a std::unordered_map upsert (the in-memory map the index
// had before KeyMap) and a KeyMap upsert, and the index with no index file (--persist none).
// Keys as redis-benchmark makes them ("key:" and 12 digits; and "counter:" and 12 digits, its
// INCR keys, whose first 16 bytes are alike), drawn at random from 100,000; a checkpoint after
// every 65,536 writes, in slices of 4,096 (as a loop does under load).

#include <memory_resource>
#include <random>
#include <string>
#include <unordered_map>
#include <vector>

#include "bench/micro/bench_util.h"
#include "src/store/store_index.h"

namespace pastel {
namespace {

using store::Index;
using store::KeyMap;
using store::Value;

constexpr int kKeys = 100000;
constexpr uint64_t kCheckpointEvery = 65536;
constexpr size_t kSlice = 4096;

// The keys, and a long random sequence of indexes into them (no random numbers drawn in the loop).
struct Workload {
  std::vector<std::string> keys;
  std::vector<uint32_t> order;
  explicit Workload(std::string_view prefix) {
    char buf[32];
    for (int i = 0; i < kKeys; ++i) {
      (void)std::snprintf(buf, sizeof buf, "%012d", i);
      keys.push_back(std::string(prefix) + buf);
    }
    std::mt19937 rng(1);
    order.resize(1 << 20);
    for (uint32_t& o : order) {
      o = rng() % kKeys;
    }
  }
  std::string_view Key(uint64_t i) const { return keys[order[i & (order.size() - 1)]]; }
};
const Workload& Work() {
  static const Workload w("key:");
  return w;
}
const Workload& CounterWork() {
  static const Workload w("counter:");
  return w;
}

Value ValueFor(uint64_t seq) {
  Value v;
  v.sequence = seq;
  v.length = 1024;
  v.extents.push_back({static_cast<uint32_t>(seq % 4096), 0, 1024});
  return v;
}

void BM_Map_UnorderedMap(benchmark::State& state) {
  const Workload& w = Work();
  std::pmr::unsynchronized_pool_resource arena;
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  std::pmr::unordered_map<std::pmr::string, Value, Hash, std::equal_to<>> map(&arena);
  uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    const std::string_view key = w.Key(seq);
    auto it = map.find(key);
    if (it != map.end()) {
      it->second = ValueFor(seq);
    } else {
      map.emplace(key, ValueFor(seq));
    }
  }
  benchmark::DoNotOptimize(map.size());
}

void BM_Map_KeyMap(benchmark::State& state) {
  const Workload& w = Work();
  std::pmr::unsynchronized_pool_resource arena;
  KeyMap map(&arena);
  uint64_t seq = 0;
  for (auto _ : state) {
    ++seq;
    const std::string_view key = w.Key(seq);
    const uint64_t h = KeyMap::HashOf(key);
    if (KeyMap::Entry* e = map.Find(key, h)) {
      e->value = ValueFor(seq);
    } else {
      map.InsertNew(key, h, ValueFor(seq));
    }
  }
  benchmark::DoNotOptimize(map.size());
}

// An index with its index file (a store in /dev/shm; the pool's buffers are not touched: Apply
// and Checkpoint read only the extents), or without one.
void BM_Index_Write(benchmark::State& state, bool tree, uint64_t cache_keys, bool counters) {
  const Workload& w = counters ? CounterWork() : Work();
  bench::TempDir dir = bench::TempDir::Make("/dev/shm");
  if (!dir.ok()) {
    state.SkipWithError("cannot make a directory in /dev/shm");
    return;
  }
  store::StoreFiles files;
  files.pool_path = dir.path() + "/b.pool";
  files.pool_size = 16ull << 20;
  files.log_size = 1ull << 20;
  files.index_size = 64ull << 20;
  files.checkpoints = tree;
  files.index_cache_keys = cache_keys;
  Result<store::OpenedStore> s = store::OpenOrCreate(files);
  if (!s.ok()) {
    state.SkipWithError(s.status().ToString().c_str());
    return;
  }
  Index& index = *s->index;
  uint64_t seq = 0;
  uint64_t since = 0;
  for (auto _ : state) {
    ++seq;
    Value loser = index.Apply(w.Key(seq), ValueFor(seq));
    benchmark::DoNotOptimize(loser.sequence);
    if (tree && ++since == kCheckpointEvery) {
      since = 0;
      for (;;) {
        Result<Index::CheckpointStep> step = index.Checkpoint(kSlice, seq);
        if (!step.ok()) {
          state.SkipWithError(step.status().ToString().c_str());
          return;
        }
        if (step->committed) {
          break;
        }
      }
    }
  }
  state.counters["map_keys"] = static_cast<double>(index.map_keys());
}

void RegisterAll() {
  benchmark::RegisterBenchmark("BM_Map_Upsert/unordered_map", BM_Map_UnorderedMap)
      ->Iterations(1 << 20);
  benchmark::RegisterBenchmark("BM_Map_Upsert/keymap", BM_Map_KeyMap)->Iterations(1 << 20);
  benchmark::RegisterBenchmark("BM_Index_Write/none", BM_Index_Write, false, 0, false)
      ->Iterations(1 << 20);
  benchmark::RegisterBenchmark("BM_Index_Write/checkpoint", BM_Index_Write, true,
                               store::StoreFiles{}.index_cache_keys, false)
      ->Iterations(1 << 20);
  benchmark::RegisterBenchmark("BM_Index_Write/checkpoint_nocache", BM_Index_Write, true, 0, false)
      ->Iterations(1 << 20);
  benchmark::RegisterBenchmark("BM_Index_Write/checkpoint_counter_keys", BM_Index_Write, true,
                               store::StoreFiles{}.index_cache_keys, true)
      ->Iterations(1 << 20);
}

}  // namespace
}  // namespace pastel

int main(int argc, char** argv) {
  pastel::RegisterAll();
  return pastel::bench::RunBenchmarks(argc, argv);
}
