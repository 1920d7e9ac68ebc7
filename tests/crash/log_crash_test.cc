// Power-cut tests of the write path (pool + log) with the recording PersistOps.
//
// A workload of group-committed batches (puts of values spanning 1..3 buffers, overwrites,
// deletes, over two streams, with buffers recycled as values die) runs against a MemStore. At
// every persistence point (each fence's start and end) and at random flushes in between, the test
// takes the image a power cut would leave (only flushed-and-fenced lines, or those plus a random
// subset of the unfenced ones, as a cache may evict any line at any time), recovers a fresh store
// from it and checks:
//   - every batch whose Commit returned is there, byte for byte;
//   - the batch in flight is there whole or not at all (never half), and when the cut came after
//     its fence completed, it is there;
//   - the recovered buffer ownership is consistent (no buffer both free and referenced);
//   - nothing is reported as corruption.
// Some recovered stores then take more batches and are cut again, which checks that appends after
// a torn tail recover too.
//
// The `OnPages` variants model the pool and the log as files on a block device (RecordingPageOps,
// one per file): a commit syncs the pool's pages, then the log's, each sync writing whole 4 KiB
// pages as they are then; the kernel writes dirty pages back between syncs (flushed or not); and
// every cut with eviction leaves each page that differs from the device as it was, written whole,
// or torn at 512-byte sectors. The batch counts as fenced once the log's sync completed.
//
// PASTEL_CRASH_BATCHES (default 1500; 300 on pages) and PASTEL_CRASH_SEED (default 1, also the
// seed of the page model's writeback) scale and vary the run.

#include <gtest/gtest.h>

#include <cstdlib>
#include <map>
#include <optional>
#include <random>
#include <string>
#include <vector>

#include "pastel/log.h"
#include "tests/support/mem_store.h"
#include "tests/support/test_env.h"

namespace pastel {
namespace {

using testing::EnvU64;
using testing::MemStore;
using testing::PersistModel;
using testing::StoreFile;
using testing::StoreShape;
using Model = std::map<std::string, std::string>;
using Event = PersistEvent;

struct Op {
  std::string key;
  std::optional<std::string> value;  // nullopt: delete
};

void Apply(Model& m, const std::vector<Op>& ops) {
  for (const Op& op : ops) {
    if (op.value) {
      m[op.key] = *op.value;
    } else {
      m.erase(op.key);
    }
  }
}

struct Stats {
  uint64_t cuts = 0;
  uint64_t exact_cuts = 0;
  uint64_t evicting_cuts = 0;
  uint64_t in_flight_kept = 0;       // cuts where the batch in flight was recovered whole
  uint64_t in_flight_dropped = 0;    // ... and where it was dropped whole
  uint64_t continued = 0;            // recovered stores that took more batches and were cut again
  RecordingPageOps::CutStats pages;  // page model: dirty pages the evicting cuts wrote or tore
};

class CrashHarness {
 public:
  CrashHarness(const StoreShape& shape, uint64_t seed) : shape_(shape), rng_(seed) {}

  // Runs `batches` batches on `store`, cutting power as it goes (when `cut`).
  void Run(MemStore& store, Model& acked, uint64_t batches, bool cut, Stats& stats) {
    std::vector<Op> pending;
    store.SetHook([&](StoreFile f, Event e) {
      if (!cut) {
        return;
      }
      // The batch is durable once the log's fence (sync) completed; with a file per medium the
      // pool's sync comes first, after which only the values are.
      const bool fenced =
          e == Event::kDrainEnd && (f == StoreFile::kShared || f == StoreFile::kLog);
      std::bernoulli_distribution coin(e == Event::kFlush ? 0.05 : 0.25);
      if (e != Event::kFlush) {
        Check(store, acked, pending, fenced, /*evict=*/false, stats);
      }
      if (coin(rng_)) {
        Check(store, acked, pending, fenced, /*evict=*/true, stats);
      }
    });
    for (uint64_t b = 0; b < batches; ++b) {
      const uint32_t stream = static_cast<uint32_t>(rng_() % shape_.streams);
      pending = MakeBatch(acked);
      std::vector<std::vector<Extent>> extents(pending.size());
      for (size_t i = 0; i < pending.size(); ++i) {
        const Op& op = pending[i];
        if (op.value) {
          Result<std::vector<Extent>> ext = store.WriteValue(*op.value);
          ASSERT_TRUE(ext.ok()) << ext.status().ToString();
          extents[i] = *ext;
          ASSERT_TRUE(store.log().stream(stream).AppendPut(op.key, extents[i]).ok());
        } else {
          ASSERT_TRUE(store.log().stream(stream).AppendDelete(op.key).ok());
        }
      }
      Result<CommitInfo> c = store.log().stream(stream).Commit();
      ASSERT_TRUE(c.ok()) << c.status().ToString();
      ASSERT_EQ(c->records, pending.size());
      // Acknowledged: the model moves on, ownership follows (new buffers kept, old ones freed).
      for (size_t i = 0; i < pending.size(); ++i) {
        store.ApplyDurable(pending[i].key, pending[i].value ? &extents[i] : nullptr);
      }
      Apply(acked, pending);
      pending.clear();
      if (::testing::Test::HasFatalFailure()) {
        return;
      }
    }
    store.SetHook(nullptr);
  }

 private:
  std::vector<Op> MakeBatch(const Model& acked) {
    std::vector<Op> ops;
    const size_t n = 1 + rng_() % 6;
    for (size_t i = 0; i < n; ++i) {
      Op op;
      op.key = "key-" + std::to_string(rng_() % 24);
      if (rng_() % 5 == 0 && acked.count(op.key) != 0) {
        ops.push_back(op);  // delete
        continue;
      }
      // 1 B .. 3 buffers; a random byte pattern so misplaced bytes show.
      const size_t len = 1 + rng_() % (shape_.buffer_size * 3);
      std::string v(len, '\0');
      const uint64_t salt = rng_();
      for (size_t j = 0; j < len; ++j) {
        v[j] = static_cast<char>((salt >> (j % 57)) ^ j);
      }
      op.value = std::move(v);
      ops.push_back(std::move(op));
    }
    return ops;
  }

  void Check(MemStore& store, const Model& acked, const std::vector<Op>& pending, bool fenced,
             bool evict, Stats& stats) {
    ++stats.cuts;
    ++(evict ? stats.evicting_cuts : stats.exact_cuts);
    std::vector<uint8_t> image = evict ? store.CrashImage(&rng_, &stats.pages) : store.CrashImage();
    Recovered rec;
    Result<std::unique_ptr<MemStore>> r = MemStore::Recover(shape_, image, {}, &rec);
    ASSERT_TRUE(r.ok()) << "cut " << stats.cuts << ": " << r.status().ToString();
    MemStore& n = **r;
    ASSERT_TRUE(rec.corruption.empty()) << rec.corruption.front();
    Model got;
    for (const auto& [k, v] : rec.live) {
      got[k] = n.ReadValue(v.extents);
    }
    Model with = acked;
    Apply(with, pending);
    if (fenced) {
      ASSERT_EQ(got, with) << "cut " << stats.cuts << " after the fence lost the batch";
    } else if (got == with && got != acked) {
      ++stats.in_flight_kept;
    } else {
      ASSERT_EQ(got, acked) << "cut " << stats.cuts << ": recovered state is neither the "
                            << "acknowledged one nor it plus the whole batch in flight";
      ++stats.in_flight_dropped;
    }
    Status own = VerifyOwnership(n.pool(), rec.live);
    ASSERT_TRUE(own.ok()) << own.ToString();
    // Now and then, go on from the recovered store and cut again after more batches.
    if (stats.cuts % 97 == 0) {
      ++stats.continued;
      n.AdoptLive(rec.live);
      Model next = got;
      CrashHarness more(shape_, rng_());
      Stats ignored;
      more.Run(n, next, 5, /*cut=*/false, ignored);
      Recovered again;
      auto r2 = MemStore::Recover(shape_, n.CrashImage(), {}, &again);
      ASSERT_TRUE(r2.ok()) << r2.status().ToString();
      Model got2;
      for (const auto& [k, v] : again.live) {
        got2[k] = (*r2)->ReadValue(v.extents);
      }
      ASSERT_EQ(got2, next) << "batches appended after recovery were lost";
    }
  }

  StoreShape shape_;
  std::mt19937_64 rng_;
};

StoreShape CrashShape(uint64_t batches, PersistModel model) {
  StoreShape s;
  s.buffer_size = 512;
  s.buffer_count = 320;  // 24 keys x 3 buffers live + a batch in flight, recycled constantly
  s.streams = 2;
  // ~3.5 records of <= 128 B per batch, spread over the streams, with room to spare.
  const uint64_t need = batches * 6 * 128 / s.streams + 64 * 1024;
  s.stream_size = (need + 4095) / 4096 * 4096;
  s.model = model;
  return s;
}

void PowerCuts(PersistModel model, uint64_t default_batches) {
  const uint64_t batches = EnvU64("PASTEL_CRASH_BATCHES", default_batches);
  const uint64_t seed = EnvU64("PASTEL_CRASH_SEED", 1);
  StoreShape shape = CrashShape(batches, model);
  shape.writeback_seed = seed;
  auto store = MemStore::Fresh(shape);
  Model acked;
  Stats stats;
  CrashHarness h(shape, seed);
  h.Run(*store, acked, batches, /*cut=*/true, stats);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  // Every batch had its fence's start and end cut, and some flushes in between.
  EXPECT_GE(stats.exact_cuts, 2 * batches);
  EXPECT_GT(stats.evicting_cuts, batches / 4);
  EXPECT_GT(stats.in_flight_dropped, 0u);
  EXPECT_GT(stats.in_flight_kept, 0u) << "random eviction should sometimes complete a batch";
  EXPECT_GT(stats.continued, 0u);
  if (model == PersistModel::kPage) {
    EXPECT_GT(stats.pages.torn_pages, 0u) << "no cut tore a page";
    EXPECT_GT(store->writeback_pages(), 0u) << "no page was written back between syncs";
  }
  ::testing::Test::RecordProperty("cuts", std::to_string(stats.cuts));
  std::printf(
      "%s seed=%llu batches=%llu cuts=%llu exact=%llu evicting=%llu in-flight kept=%llu "
      "dropped=%llu continued=%llu",
      model == PersistModel::kPage ? "pages" : "cache lines", static_cast<unsigned long long>(seed),
      static_cast<unsigned long long>(batches), static_cast<unsigned long long>(stats.cuts),
      static_cast<unsigned long long>(stats.exact_cuts),
      static_cast<unsigned long long>(stats.evicting_cuts),
      static_cast<unsigned long long>(stats.in_flight_kept),
      static_cast<unsigned long long>(stats.in_flight_dropped),
      static_cast<unsigned long long>(stats.continued));
  if (model == PersistModel::kPage) {
    std::printf(" dirty pages at evicting cuts=%llu written=%llu torn=%llu written back=%llu",
                static_cast<unsigned long long>(stats.pages.dirty_pages),
                static_cast<unsigned long long>(stats.pages.written_pages),
                static_cast<unsigned long long>(stats.pages.torn_pages),
                static_cast<unsigned long long>(store->writeback_pages()));
  }
  std::printf("\n");
}

TEST(LogCrashTest, PowerCutAtEveryPersistencePoint) {
  PowerCuts(PersistModel::kCacheLine, 1500);
}

// The log and the pool as files on a block device (RecordingPageOps, a file each): syncs cover
// whole pages, dirty pages are written back between syncs, and every cut with eviction leaves each
// dirty page old, new or torn at 512-byte sectors.
TEST(LogCrashTest, PowerCutAtEveryPersistencePointOnPages) {
  PowerCuts(PersistModel::kPage, 300);
}

void FailedFence(PersistModel model) {
  const StoreShape shape = CrashShape(200, model);
  auto store = MemStore::Fresh(shape);
  Model acked;
  Stats stats;
  CrashHarness h(shape, 3);
  h.Run(*store, acked, 100, /*cut=*/false, stats);
  ASSERT_FALSE(::testing::Test::HasFatalFailure());
  store->FailDrainsFromNow();
  Result<std::vector<Extent>> ext = store->WriteValue("after the failure");
  ASSERT_TRUE(ext.ok());
  ASSERT_TRUE(store->log().stream(0).AppendPut("late", *ext).ok());
  EXPECT_FALSE(store->log().stream(0).Commit().ok());
  EXPECT_TRUE(store->pool().read_only());
  EXPECT_EQ(store->log().stream(1).AppendDelete("key-1").status().code(), StatusCode::kOk)
      << "the other stream fails at its own fence";
  EXPECT_FALSE(store->log().stream(1).Commit().ok());
  Recovered rec;
  auto r = MemStore::Recover(shape, store->CrashImage(), {}, &rec);
  ASSERT_TRUE(r.ok());
  Model got;
  for (const auto& [k, v] : rec.live) {
    got[k] = (*r)->ReadValue(v.extents);
  }
  EXPECT_EQ(got, acked);
}

TEST(LogCrashTest, FailedFenceAcknowledgesNothingMore) {
  FailedFence(PersistModel::kCacheLine);
}

TEST(LogCrashTest, FailedSyncAcknowledgesNothingMoreOnPages) {
  FailedFence(PersistModel::kPage);
}

}  // namespace
}  // namespace pastel
