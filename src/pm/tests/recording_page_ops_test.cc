#include "pm/recording_page_ops.h"

#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

namespace pastel {
namespace {

using Event = RecordingPageOps::Event;

constexpr size_t kPages = 4;
constexpr size_t kSectorsPerPage = kModelPageBytes / kSectorBytes;

struct Region {
  alignas(4096) uint8_t bytes[kModelPageBytes * kPages] = {};
};

// Every sector of `img` is whole: all of it as `before` or all of it as `after`.
void ExpectSectorsWhole(const std::vector<uint8_t>& img, const std::vector<uint8_t>& before,
                        const uint8_t* after) {
  for (size_t off = 0; off < img.size(); off += kSectorBytes) {
    const bool old = std::memcmp(&img[off], &before[off], kSectorBytes) == 0;
    const bool now = std::memcmp(&img[off], after + off, kSectorBytes) == 0;
    EXPECT_TRUE(old || now) << "sector at " << off << " is neither old nor new";
  }
}

TEST(RecordingPageOpsTest, ReportsPageGranularity) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  EXPECT_EQ(ops.granularity(), Granularity::kPage);
  EXPECT_EQ(ops.page_count(), kPages);
}

TEST(RecordingPageOpsTest, ASyncMakesTheWholeCurrentPageDurable) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  r.bytes[10] = 1;                   // page 0, flushed
  r.bytes[4000] = 2;                 // page 0, never flushed: the sync writes the page
  r.bytes[kModelPageBytes + 5] = 3;  // page 1, never flushed
  r.bytes[2 * kModelPageBytes] = 4;  // page 2, flushed, not yet synced
  ASSERT_TRUE(ops.Flush(r.bytes + 10, 1).ok());
  EXPECT_EQ(ops.pending_pages(), 1u);
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[10], 0) << "a flush alone writes nothing";

  ASSERT_TRUE(ops.Drain().ok());
  ASSERT_TRUE(ops.Flush(r.bytes + 2 * kModelPageBytes, 1).ok());
  r.bytes[11] = 5;  // page 0 again, after its sync: not durable
  img = ops.CrashImage();
  EXPECT_EQ(img[10], 1);
  EXPECT_EQ(img[4000], 2);
  EXPECT_EQ(img[11], 0);
  EXPECT_EQ(img[kModelPageBytes + 5], 0) << "a page no sync covered is not on the device";
  EXPECT_EQ(img[2 * kModelPageBytes], 0);

  // A store after the flush, before the sync, is in it (the sync writes the page as it is then).
  r.bytes[2 * kModelPageBytes + 1] = 6;
  ASSERT_TRUE(ops.Drain().ok());
  img = ops.CrashImage();
  EXPECT_EQ(img[2 * kModelPageBytes], 4);
  EXPECT_EQ(img[2 * kModelPageBytes + 1], 6);
  EXPECT_EQ(img[11], 0);
  EXPECT_EQ(ops.pending_pages(), 0u);
}

TEST(RecordingPageOpsTest, ASyncCoversEveryPageOfItsRangeAndNoOther) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  std::memset(r.bytes, 7, sizeof(r.bytes));
  ASSERT_TRUE(ops.Persist(r.bytes + kModelPageBytes - 1, 2).ok());  // touches pages 0 and 1
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 7);
  EXPECT_EQ(img[2 * kModelPageBytes - 1], 7);
  EXPECT_EQ(img[2 * kModelPageBytes], 0);
}

TEST(RecordingPageOpsTest, APowerCutLeavesDirtyPagesOldNewOrTornAtSectors) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  // Page 0 changes everywhere, page 1 in sectors 2 and 5 only, pages 2 and 3 not at all.
  std::memset(r.bytes, 0xA5, kModelPageBytes);
  r.bytes[kModelPageBytes + 2 * kSectorBytes + 17] = 1;
  r.bytes[kModelPageBytes + 5 * kSectorBytes + 511] = 2;
  const std::vector<uint8_t> before = ops.CrashImage();
  std::mt19937_64 rng(42);
  RecordingPageOps::CutStats stats;
  size_t page0_old = 0;
  size_t page0_new = 0;
  size_t page0_torn = 0;
  for (int i = 0; i < 300; ++i) {
    const std::vector<uint8_t> img = ops.CrashImage(&rng, {}, &stats);
    ExpectSectorsWhole(img, before, r.bytes);
    // Sectors whose content did not change are never touched.
    for (size_t sec = 0; sec < kSectorsPerPage; ++sec) {
      if (sec != 2 && sec != 5) {
        const size_t off = kModelPageBytes + sec * kSectorBytes;
        EXPECT_EQ(std::memcmp(&img[off], &before[off], kSectorBytes), 0);
      }
    }
    EXPECT_EQ(
        std::memcmp(&img[2 * kModelPageBytes], &before[2 * kModelPageBytes], 2 * kModelPageBytes),
        0);
    size_t written = 0;
    for (size_t sec = 0; sec < kSectorsPerPage; ++sec) {
      written += img[sec * kSectorBytes] == 0xA5 ? 1 : 0;
    }
    ++(written == 0 ? page0_old : written == kSectorsPerPage ? page0_new : page0_torn);
    if (::testing::Test::HasFailure()) {
      return;
    }
  }
  EXPECT_GT(page0_old, 0u);
  EXPECT_GT(page0_new, 0u);
  EXPECT_GT(page0_torn, 0u) << "some cuts must tear the page between its sectors";
  EXPECT_EQ(stats.dirty_pages, 600u);
  EXPECT_GT(stats.torn_pages, 0u);
  EXPECT_GT(stats.written_pages, 0u);
  // Without an rng, the device only: nothing of the unsynced pages.
  EXPECT_EQ(ops.CrashImage(), before);
  // Odds at their ends: every dirty page written whole, or left.
  EXPECT_EQ(std::memcmp(ops.CrashImage(&rng, {1.0, 0.0}).data(), r.bytes, sizeof(r.bytes)), 0);
  EXPECT_EQ(ops.CrashImage(&rng, {0.0, 0.0}), before);
}

TEST(RecordingPageOpsTest, WritebackPutsPagesNeverFlushedOnTheDevice) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  ops.SetWriteback(9, 1.0);                // a pass at every event
  r.bytes[3 * kModelPageBytes + 100] = 9;  // never flushed
  std::vector<uint8_t> img;
  for (int i = 0; i < 64 && img.empty(); ++i) {
    ASSERT_TRUE(ops.Flush(r.bytes, 1).ok());  // an event; page 0 is clean
    if (ops.CrashImage()[3 * kModelPageBytes + 100] == 9) {
      img = ops.CrashImage();
    }
  }
  ASSERT_FALSE(img.empty()) << "writeback never wrote the dirty page";
  EXPECT_GT(ops.writeback_pages(), 0u);
  // The device may hold a version that is neither synced nor current.
  r.bytes[3 * kModelPageBytes + 100] = 10;
  EXPECT_EQ(ops.CrashImage()[3 * kModelPageBytes + 100], 9);

  // Without writeback, a page never flushed stays off the device through any number of syncs.
  Region q;
  RecordingPageOps quiet(q.bytes, sizeof(q.bytes));
  q.bytes[3 * kModelPageBytes] = 1;
  for (int i = 0; i < 64; ++i) {
    ASSERT_TRUE(quiet.Persist(q.bytes, 1).ok());
  }
  EXPECT_EQ(quiet.CrashImage()[3 * kModelPageBytes], 0);
  EXPECT_EQ(quiet.writeback_pages(), 0u);
}

TEST(RecordingPageOpsTest, ASectorChangedDuringASyncMayOrMayNotBeInIt) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  std::mt19937_64 rng(5);
  size_t in = 0;
  size_t out = 0;
  for (uint8_t v = 1; v <= 64; ++v) {
    r.bytes[0] = v;
    ASSERT_TRUE(ops.Flush(r.bytes, 1).ok());
    const uint64_t id = ops.BeginSync();
    r.bytes[1] = v;                 // the synced byte's sector, while the sync is in flight
    r.bytes[3 * kSectorBytes] = v;  // another sector of the page
    ASSERT_TRUE(ops.EndSync(id).ok());
    const std::vector<uint8_t> img = ops.CrashImage();
    ASSERT_EQ(img[0], v) << "what the page held when the sync began is durable";
    ASSERT_TRUE(img[1] == v || img[1] == v - 1);
    ASSERT_TRUE(img[3 * kSectorBytes] <= v);
    ++(img[1] == v ? in : out);
    // A sector left out stays dirty: a cut may still write it, the next sync will.
    EXPECT_EQ(ops.CrashImage(&rng, {1.0, 0.0})[1], v);
    r.bytes[1] = v;  // (unchanged) so that the next round starts from v - 1 or v on the device
  }
  EXPECT_GT(in, 0u);
  EXPECT_GT(out, 0u);
}

TEST(RecordingPageOpsTest, SyncsInFlightCompleteInAnyOrder) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  r.bytes[0] = 1;
  ASSERT_TRUE(ops.Flush(r.bytes, 1).ok());
  const uint64_t a = ops.BeginSync();
  r.bytes[kModelPageBytes] = 2;
  ASSERT_TRUE(ops.Flush(r.bytes + kModelPageBytes, 1).ok());
  const uint64_t b = ops.BeginSync();
  ASSERT_TRUE(ops.EndSync(b).ok());
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 0) << "the first sync has not completed";
  EXPECT_EQ(img[kModelPageBytes], 2);
  ASSERT_TRUE(ops.EndSync(a).ok());
  EXPECT_EQ(ops.CrashImage()[0], 1);
  EXPECT_EQ(ops.EndSync(a).code(), StatusCode::kInvalidArgument) << "completed already";
}

TEST(RecordingPageOpsTest, ARangeSyncCoversEveryPageOfItsRangeFlushedOrNot) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  EXPECT_EQ(ops.sync_fd(), -1) << "no file to sync by default";
  ops.SetSyncFd(7);
  EXPECT_EQ(ops.sync_fd(), 7);
  r.bytes[0] = 1;                        // page 0: outside the range
  r.bytes[kModelPageBytes + 1] = 2;      // page 1, never flushed
  r.bytes[2 * kModelPageBytes + 2] = 3;  // page 2, never flushed
  r.bytes[3 * kModelPageBytes + 3] = 4;  // page 3, flushed, outside the range
  ASSERT_TRUE(ops.Flush(r.bytes + 3 * kModelPageBytes + 3, 1).ok());
  // From the middle of page 1 to the middle of page 2: both pages whole.
  ASSERT_TRUE(ops.SyncRange(kModelPageBytes + 100, kModelPageBytes).ok());
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 0);
  EXPECT_EQ(img[kModelPageBytes + 1], 2);
  EXPECT_EQ(img[2 * kModelPageBytes + 2], 3);
  EXPECT_EQ(img[3 * kModelPageBytes + 3], 0) << "a flushed page outside the range";
  EXPECT_EQ(ops.pending_pages(), 1u) << "the noted page waits for the next sync";
  ASSERT_TRUE(ops.Drain().ok());
  EXPECT_EQ(ops.CrashImage()[3 * kModelPageBytes + 3], 4);
}

TEST(RecordingPageOpsTest, AnOlderSyncCompletingLateNeverUndoesANewerOne) {
  // Sync a begins over a page; the page changes; sync b begins and completes (fdatasync waits for
  // a's writes of the page); the page changes again; then a is reported complete: the device keeps
  // b's version, whichever version of the page a wrote. Over many sectors, so that a draw of "a
  // wrote the page as it was when a began" would show.
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  for (size_t sec = 0; sec < kSectorsPerPage * kPages; ++sec) {
    r.bytes[sec * kSectorBytes] = 1;
  }
  const uint64_t a = ops.BeginRangeSync(0, sizeof(r.bytes));
  for (size_t sec = 0; sec < kSectorsPerPage * kPages; ++sec) {
    r.bytes[sec * kSectorBytes] = 2;
  }
  ASSERT_TRUE(ops.SyncRange(0, sizeof(r.bytes)).ok());
  for (size_t sec = 0; sec < kSectorsPerPage * kPages; ++sec) {
    r.bytes[sec * kSectorBytes] = 3;
  }
  ASSERT_TRUE(ops.EndSync(a).ok());
  const std::vector<uint8_t> img = ops.CrashImage();
  for (size_t sec = 0; sec < kSectorsPerPage * kPages; ++sec) {
    EXPECT_EQ(img[sec * kSectorBytes], 2) << "sector " << sec;
  }
}

TEST(RecordingPageOpsTest, HooksSeeEveryPersistencePoint) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  std::vector<Event> seen;
  std::vector<uint8_t> at_begin;
  ops.SetHook([&](Event e, uint64_t) {
    seen.push_back(e);
    if (e == Event::kDrainBegin) {
      at_begin = ops.CrashImage();
    }
  });
  r.bytes[0] = 5;
  ASSERT_TRUE(ops.Persist(r.bytes, 1).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], Event::kFlush);
  EXPECT_EQ(seen[1], Event::kDrainBegin);
  EXPECT_EQ(seen[2], Event::kDrainEnd);
  EXPECT_EQ(at_begin[0], 0) << "before the sync completes, nothing is durable";
  EXPECT_EQ(ops.CrashImage()[0], 5);
  EXPECT_EQ(ops.events(), 3u);
  EXPECT_EQ(ops.flush_count(), 1u);
  EXPECT_EQ(ops.drain_count(), 1u);
}

TEST(RecordingPageOpsTest, InjectedSyncFailureIsPermanent) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  ops.FailDrainsFrom(1);
  EXPECT_TRUE(ops.Persist(r.bytes, 1).ok());
  r.bytes[kModelPageBytes] = 1;
  Status st = ops.Persist(r.bytes + kModelPageBytes, 1);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(ops.CrashImage()[kModelPageBytes], 0) << "a failed sync makes nothing durable";
  EXPECT_EQ(ops.Flush(r.bytes, 1).code(), StatusCode::kIoError);
  EXPECT_EQ(ops.Drain().code(), StatusCode::kIoError);
  EXPECT_EQ(ops.drain_count(), 3u);
}

TEST(RecordingPageOpsTest, AnAsynchronousSyncFailsAtItsCompletion) {
  Region r;
  RecordingPageOps ops(r.bytes, sizeof(r.bytes));
  ops.FailDrainsFrom(0);
  r.bytes[0] = 1;
  ASSERT_TRUE(ops.Flush(r.bytes, 1).ok());
  const uint64_t id = ops.BeginSync();
  EXPECT_TRUE(ops.Flush(r.bytes, 1).ok()) << "the failure is not known before the completion";
  EXPECT_EQ(ops.EndSync(id).code(), StatusCode::kIoError);
  EXPECT_EQ(ops.CrashImage()[0], 0);
  EXPECT_EQ(ops.Flush(r.bytes, 1).code(), StatusCode::kIoError);
}

TEST(RecordingPageOpsTest, RejectsRangesOutsideTheRegion) {
  Region r;
  RecordingPageOps ops(r.bytes, kModelPageBytes);
  EXPECT_EQ(ops.Flush(r.bytes + 4000, 200).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pastel
