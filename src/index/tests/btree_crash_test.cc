// Power cuts at every persistence point of the B+tree, with the recording PersistOps.
//
// Batches of random puts (inline and overflow values, long keys: splits at every level), replaces
// and erases (emptied leaves and inner nodes, root collapses) are committed one by one. At every
// flush and at the start and end of every fence of a commit, the image a power cut would leave
// (only fenced lines, or those and a random half of the others, as a cache may evict any line) is
// opened as a tree, which must verify and equal the model as of the last completed commit, or as
// of the commit in flight once its superblock may have reached the media (never a mix), and
// exactly the commit in flight after its last fence.
//
// PASTEL_BTREE_CRASH_BATCHES (default 150) and PASTEL_TEST_SEED scale and vary the run.

#include <gtest/gtest.h>

#include <algorithm>
#include <map>
#include <random>
#include <string>

#include "pastel/index.h"
#include "pm/recording_persist_ops.h"
#include "tests/support/aligned_buffer.h"
#include "tests/support/test_env.h"

namespace pastel {
namespace {

using Model = std::map<std::string, std::string>;
using Event = RecordingPersistOps::Event;

// Long keys: few per node, so that a few hundred keys make a tree of three levels.
std::string CrashKey(uint64_t id) {
  std::string k = "key" + std::to_string(id % 1000000 + 1000000);
  k.append(200 + id % 250, 'x');
  return k;
}

TEST(BTreeCrashTest, EveryCutLeavesALastCompleteCommit) {
  const uint64_t seed = testing::TestSeed();
  const uint64_t batches = testing::EnvU64("PASTEL_BTREE_CRASH_BATCHES", 150);
  std::printf("seed %llu, %llu batches\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(batches));
  std::mt19937_64 rng(seed);
  testing::AlignedBuffer buf(256 * kBTreePageSize);
  RecordingPersistOps rec(buf.data(), buf.size());
  const BTree::Owner owner{};
  ASSERT_TRUE(BTree::Format(buf.data(), buf.size(), owner, rec).ok());
  Result<std::unique_ptr<BTree>> opened = BTree::Attach(buf.data(), buf.size(), rec);
  ASSERT_TRUE(opened.ok());
  std::unique_ptr<BTree> tree = std::move(opened).value();

  Model committed;  // as of the last completed Commit
  Model pending;    // as the batch in flight leaves it
  uint64_t batch = 0;
  bool drain_ended = false;  // the commit's last fence completed
  uint64_t drains_in_commit = 0;
  uint64_t cuts = 0, old_state = 0, new_state = 0, max_height = 0;
  std::unique_ptr<PersistOps> fence = MakeFenceOnlyOps();

  auto check = [&](std::vector<uint8_t> image, const char* when) {
    ++cuts;
    Result<std::unique_ptr<BTree>> back = BTree::Attach(image.data(), image.size(), *fence);
    ASSERT_TRUE(back.ok()) << when << ", batch " << batch << ": " << back.status().ToString();
    Model got;
    (*back)->Scan({}, [&](std::string_view k, std::string_view v) {
      got.emplace(std::string(k), std::string(v));
      return true;
    });
    const uint64_t at = (*back)->user()[0];
    if (drain_ended) {
      ASSERT_EQ(at, batch) << when;
      ASSERT_EQ(got, pending) << when << ", batch " << batch;
      ++new_state;
    } else if (at == batch) {
      // Only once the pages' fence completed may the new superblock be what survives.
      ASSERT_GE(drains_in_commit, 1u) << when;
      ASSERT_EQ(got, pending) << when << ", batch " << batch;
      ++new_state;
    } else {
      ASSERT_EQ(at, batch - 1) << when;
      ASSERT_EQ(got, committed) << when << ", batch " << batch;
      ++old_state;
    }
    ASSERT_EQ((*back)->Stats().entries, got.size());
  };
  rec.SetHook([&](Event e, uint64_t index) {
    if (e == Event::kDrainBegin) {
      check(rec.CrashImage(), "before a fence");
    } else if (e == Event::kDrainEnd) {
      ++drains_in_commit;
      drain_ended = drains_in_commit == 2;
      check(rec.CrashImage(), "after a fence");
      check(rec.CrashImage(&rng, 0.5), "after a fence, with evictions");
    } else if (index % 3 == 0) {
      check(rec.CrashImage(&rng, 0.5), "at a flush, with evictions");
    }
  });

  for (batch = 1; batch <= batches; ++batch) {
    // The key space widens then narrows: the tree grows, then empties.
    const uint64_t space = batch < batches / 2 ? std::min<uint64_t>(400, 50 + batch * 4) : 60;
    const size_t ops = 1 + rng() % 40;
    for (size_t i = 0; i < ops; ++i) {
      const uint64_t id = rng() % space;
      const std::string key = CrashKey(id);
      const bool erase = batch < batches / 2 ? rng() % 100 < 20 : rng() % 100 < 70;
      if (erase) {
        ASSERT_TRUE(tree->Erase(key).ok());
        pending.erase(key);
      } else {
        const size_t len = rng() % 10 == 0 ? 600 + rng() % 6000 : rng() % 100;
        std::string value(len, static_cast<char>('a' + (batch + i) % 26));
        Status st = tree->Put(key, value);
        ASSERT_TRUE(st.ok()) << st.ToString();
        pending[key] = std::move(value);
      }
    }
    max_height = std::max<uint64_t>(max_height, tree->height());
    drain_ended = false;
    drains_in_commit = 0;
    ASSERT_TRUE(tree->Commit({batch, 0, 0, 0}).ok());
    ASSERT_TRUE(drain_ended);
    committed = pending;
    if (::testing::Test::HasFatalFailure()) {
      return;
    }
  }
  std::printf("%llu cuts (%llu left the previous commit, %llu the new one), max height %llu\n",
              static_cast<unsigned long long>(cuts), static_cast<unsigned long long>(old_state),
              static_cast<unsigned long long>(new_state),
              static_cast<unsigned long long>(max_height));
  EXPECT_GT(old_state, 0u);
  EXPECT_GT(new_state, 0u);
  EXPECT_GE(max_height, 3u);
}

}  // namespace
}  // namespace pastel
