#include "pm/recording_persist_ops.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <cstring>
#include <vector>

namespace pastel {
namespace {

struct Region {
  alignas(64) uint8_t bytes[64 * 16] = {};
};

TEST(RecordingPersistOpsTest, OnlyFlushedAndFencedLinesSurvive) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  std::memset(r.bytes, 0x11, 64);        // line 0: written, flushed, fenced
  std::memset(r.bytes + 64, 0x22, 64);   // line 1: written, flushed, not fenced
  std::memset(r.bytes + 128, 0x33, 64);  // line 2: written, never flushed
  ASSERT_TRUE(ops.Persist(r.bytes, 64).ok());
  ASSERT_TRUE(ops.Flush(r.bytes + 64, 64).ok());
  EXPECT_EQ(ops.pending_lines(), 1u);

  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 0x11);
  EXPECT_EQ(img[63], 0x11);
  EXPECT_EQ(img[64], 0);
  EXPECT_EQ(img[128], 0);

  ASSERT_TRUE(ops.Drain().ok());
  img = ops.CrashImage();
  EXPECT_EQ(img[64], 0x22);
  EXPECT_EQ(img[128], 0);
}

TEST(RecordingPersistOpsTest, StoreAfterFlushIsNotCovered) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  r.bytes[0] = 1;
  ASSERT_TRUE(ops.Flush(r.bytes, 1).ok());
  r.bytes[1] = 2;  // after the flush, before the fence
  ASSERT_TRUE(ops.Drain().ok());
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 1);
  EXPECT_EQ(img[1], 0);
}

TEST(RecordingPersistOpsTest, PartialRangesCoverWholeLines) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  std::memset(r.bytes, 9, sizeof(r.bytes));
  ASSERT_TRUE(ops.Persist(r.bytes + 60, 8).ok());  // touches lines 0 and 1
  std::vector<uint8_t> img = ops.CrashImage();
  EXPECT_EQ(img[0], 9);
  EXPECT_EQ(img[127], 9);
  EXPECT_EQ(img[128], 0);
}

TEST(RecordingPersistOpsTest, RandomEvictionKeepsSomeUnfencedLines) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  std::memset(r.bytes, 0x7F, sizeof(r.bytes));  // 16 dirty lines, none flushed
  std::mt19937_64 rng(42);
  size_t kept = 0;
  std::vector<uint8_t> img = ops.CrashImage(&rng, 0.5);
  for (size_t line = 0; line < 16; ++line) {
    const uint8_t b = img[line * 64];
    EXPECT_TRUE(b == 0 || b == 0x7F);
    for (size_t i = 1; i < 64; ++i) {
      EXPECT_EQ(img[line * 64 + i], b) << "a line survives whole or not at all";
    }
    kept += b == 0x7F ? 1 : 0;
  }
  EXPECT_GT(kept, 0u);
  EXPECT_LT(kept, 16u);
  EXPECT_EQ(ops.CrashImage(&rng, 1.0)[5], 0x7F);
  EXPECT_EQ(ops.CrashImage(&rng, 0.0)[5], 0);
}

TEST(RecordingPersistOpsTest, HooksSeeEveryPersistencePoint) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  std::vector<RecordingPersistOps::Event> seen;
  std::vector<uint8_t> at_begin;
  ops.SetHook([&](RecordingPersistOps::Event e, uint64_t) {
    seen.push_back(e);
    if (e == RecordingPersistOps::Event::kDrainBegin) {
      at_begin = ops.CrashImage();
    }
  });
  r.bytes[0] = 5;
  ASSERT_TRUE(ops.Persist(r.bytes, 1).ok());
  ASSERT_EQ(seen.size(), 3u);
  EXPECT_EQ(seen[0], RecordingPersistOps::Event::kFlush);
  EXPECT_EQ(seen[1], RecordingPersistOps::Event::kDrainBegin);
  EXPECT_EQ(seen[2], RecordingPersistOps::Event::kDrainEnd);
  EXPECT_EQ(at_begin[0], 0) << "before the fence completes, nothing is durable";
  EXPECT_EQ(ops.CrashImage()[0], 5);
  EXPECT_EQ(ops.events(), 3u);
}

TEST(RecordingPersistOpsTest, InjectedDrainFailureIsPermanent) {
  Region r;
  RecordingPersistOps ops(r.bytes, sizeof(r.bytes));
  ops.FailDrainsFrom(1);
  EXPECT_TRUE(ops.Persist(r.bytes, 1).ok());
  r.bytes[64] = 1;
  Status st = ops.Persist(r.bytes + 64, 1);
  EXPECT_EQ(st.code(), StatusCode::kIoError);
  EXPECT_EQ(ops.CrashImage()[64], 0);
  EXPECT_FALSE(ops.Flush(r.bytes, 1).ok());
  EXPECT_FALSE(ops.Drain().ok());
}

TEST(RecordingPersistOpsTest, RejectsRangesOutsideTheRegion) {
  Region r;
  RecordingPersistOps ops(r.bytes, 128);
  EXPECT_EQ(ops.Flush(r.bytes + 100, 64).code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pastel
