// BTree: operations against a std::map model, limits, overflow values, reopening, a full file,
// a failed fence, and a table of damaged files.
//
// PASTEL_BTREE_OPS (default 400,000) scales the model run; PASTEL_TEST_SEED repeats one.

#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <random>
#include <string>

#include "index/btree_format.h"
#include "pastel/crc32c.h"
#include "pastel/index.h"
#include "pm/recording_persist_ops.h"
#include "tests/support/aligned_buffer.h"
#include "tests/support/temp_dir.h"
#include "tests/support/test_env.h"

namespace pastel {
namespace {

using testing::AlignedBuffer;
using Model = std::map<std::string, std::string>;

constexpr BTree::Owner kOwner = {1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15, 16};

// A tree over heap memory with fence-only persistence (the model tests do not cut power).
struct MemTree {
  explicit MemTree(size_t pages) : buf(pages * kBTreePageSize), ops(MakeFenceOnlyOps()) {
    EXPECT_TRUE(BTree::Format(buf.data(), buf.size(), kOwner, *ops).ok());
    Reopen();
  }
  void Reopen() {
    tree.reset();
    Result<std::unique_ptr<BTree>> t = BTree::Attach(buf.data(), buf.size(), *ops);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    tree = std::move(t).value();
  }
  AlignedBuffer buf;
  std::unique_ptr<PersistOps> ops;
  std::unique_ptr<BTree> tree;
};

// Keys of 1..kBTreeMaxKey bytes that sort like their numbers; some long, so that nodes hold few
// entries and trees grow several levels with few keys.
std::string KeyOf(uint64_t id) {
  char head[24];
  std::snprintf(head, sizeof head, "k%010llu", static_cast<unsigned long long>(id));
  std::string k(head);
  const uint64_t h = (id * 0x9E3779B97F4A7C15ull) >> 56;
  if (h < 32) {
    k.append(static_cast<size_t>(h) * 15 + 10, static_cast<char>('a' + id % 26));
  }
  return k;
}

std::string ValueOf(std::mt19937_64& rng, uint64_t id) {
  const uint64_t r = rng() % 100;
  const size_t len = r < 85   ? rng() % 64
                     : r < 97 ? rng() % kBTreeMaxInline + 1
                              : kBTreeMaxInline + 1 + rng() % 9000;
  std::string v(len, '\0');
  for (size_t i = 0; i < len; ++i) {
    v[i] = static_cast<char>((id * 31 + i * 7 + rng() % 3) & 0xFF);
  }
  return v;
}

Model Contents(const BTree& t, std::string_view start = {}) {
  Model m;
  t.Scan(start, [&](std::string_view k, std::string_view v) {
    m.emplace(std::string(k), std::string(v));
    return true;
  });
  return m;
}

TEST(BTreeTest, AFreshTreeIsEmptyAndReopens) {
  MemTree t(4);
  EXPECT_EQ(t.tree->Stats().entries, 0u);
  EXPECT_EQ(t.tree->Stats().height, 0u);
  EXPECT_EQ(t.tree->Stats().epoch, 0u);
  EXPECT_EQ(t.tree->owner(), kOwner);
  std::string v;
  EXPECT_FALSE(t.tree->Get("a", &v));
  EXPECT_TRUE(Contents(*t.tree).empty());
  t.Reopen();
  EXPECT_EQ(t.tree->Stats().pages_in_use, 0u);
}

TEST(BTreeTest, PutGetReplaceEraseAndTheCommittedStateOnly) {
  MemTree t(64);
  ASSERT_TRUE(t.tree->Put("b", "2").ok());
  ASSERT_TRUE(t.tree->Put("a", "1").ok());
  ASSERT_TRUE(t.tree->Put("c", "").ok());
  ASSERT_TRUE(t.tree->Put("b", "22").ok());
  std::string v;
  ASSERT_TRUE(t.tree->Get("b", &v));
  EXPECT_EQ(v, "22");
  ASSERT_TRUE(t.tree->Get("c", &v));
  EXPECT_EQ(v, "");
  EXPECT_EQ(t.tree->Stats().entries, 3u);
  ASSERT_TRUE(t.tree->Commit({7, 0, 0, 0}).ok());
  bool erased = false;
  ASSERT_TRUE(t.tree->Erase("a", &erased).ok());
  EXPECT_TRUE(erased);
  ASSERT_TRUE(t.tree->Erase("zz", &erased).ok());
  EXPECT_FALSE(erased);
  ASSERT_TRUE(t.tree->Put("d", "4").ok());
  // Not committed: reopening shows the commit of epoch 1.
  t.Reopen();
  EXPECT_EQ(t.tree->user()[0], 7u);
  EXPECT_EQ(t.tree->Stats().epoch, 1u);
  EXPECT_EQ(Contents(*t.tree), (Model{{"a", "1"}, {"b", "22"}, {"c", ""}}));
}

TEST(BTreeTest, SameSizeOverwritesNeverTouchTheCommittedTree) {
  // Put overwrites a value of the same size in place: in the leaf's copy for the epoch, never in
  // a page the committed root reaches.
  MemTree t(64);
  Model want;
  for (int i = 0; i < 400; ++i) {
    const std::string key = "key" + std::to_string(i);
    want[key] = std::string(36, static_cast<char>('a' + i % 26));
    ASSERT_TRUE(t.tree->Put(key, want[key]).ok());
  }
  ASSERT_GE(t.tree->height(), 2u);
  ASSERT_TRUE(t.tree->Commit({1, 0, 0, 0}).ok());
  const uint64_t pages = t.tree->Stats().pages_in_use;
  Model changed = want;
  for (int round = 0; round < 3; ++round) {  // the second and third rounds hit dirty leaves
    for (int i = 0; i < 400; i += 3) {
      const std::string key = "key" + std::to_string(i);
      changed[key] = std::string(36, static_cast<char>('A' + (i + round) % 26));
      ASSERT_TRUE(t.tree->Put(key, changed[key]).ok());
    }
  }
  EXPECT_EQ(Contents(*t.tree), changed);
  EXPECT_EQ(t.tree->entries(), 400u);
  t.Reopen();  // not committed: the commit of epoch 1 is intact
  EXPECT_EQ(Contents(*t.tree), want);
  for (const auto& [k, v] : changed) {
    ASSERT_TRUE(t.tree->Put(k, v).ok());
  }
  ASSERT_TRUE(t.tree->Commit({2, 0, 0, 0}).ok());
  EXPECT_EQ(t.tree->Stats().pages_in_use, pages);  // copies replaced their pages, no growth
  t.Reopen();
  EXPECT_EQ(Contents(*t.tree), changed);
}

TEST(BTreeTest, KeyAndValueLimitsAreClearErrors) {
  MemTree t(600);
  EXPECT_EQ(t.tree->Put("", "v").code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(t.tree->Put(std::string(kBTreeMaxKey + 1, 'k'), "v").code(),
            StatusCode::kInvalidArgument);
  EXPECT_EQ(t.tree->Put("k", std::string(kBTreeMaxValue + 1, 'v')).code(),
            StatusCode::kInvalidArgument);
  ASSERT_TRUE(t.tree->Put(std::string(kBTreeMaxKey, 'k'), std::string(kBTreeMaxInline, 'v')).ok());
  ASSERT_TRUE(t.tree->Put("big", std::string(kBTreeMaxValue, 'x')).ok());
  ASSERT_TRUE(t.tree->Commit({}).ok());
  t.Reopen();
  std::string v;
  ASSERT_TRUE(t.tree->Get("big", &v));
  EXPECT_EQ(v, std::string(kBTreeMaxValue, 'x'));
  ASSERT_TRUE(t.tree->Get(std::string(kBTreeMaxKey, 'k'), &v));
  EXPECT_EQ(v, std::string(kBTreeMaxInline, 'v'));
}

// Keys as long as the store's log holds (kBTreeMaxKey) with values around the inline bound,
// which shrinks as keys grow (BTreeInlineValue): leaves and inner nodes of such entries split,
// separators of up to kBTreeMaxKey bytes move up, and the file verifies on every reopen. (The tree
// once refused keys above 512 bytes that the log took, and every checkpoint failed after one.)
TEST(BTreeTest, KeysUpToTheLongestWithValuesAroundTheInlineBound) {
  static_assert(kBTreeMaxKey >= 1024);
  EXPECT_TRUE(BTreeInlineValue(512, kBTreeMaxInline));
  EXPECT_FALSE(BTreeInlineValue(1, kBTreeMaxInline + 1));
  EXPECT_TRUE(BTreeInlineValue(kBTreeMaxKey, kBTreeMaxInlineEntry - kBTreeMaxKey));
  EXPECT_FALSE(BTreeInlineValue(kBTreeMaxKey, kBTreeMaxInlineEntry - kBTreeMaxKey + 1));
  MemTree t(4096);
  Model model;
  const size_t key_lens[] = {1, 511, 512, 513, 701, 1000, 1023, kBTreeMaxKey};
  const size_t val_lens[] = {0, 1, 255, 256, 257, 280, 281, 511, 512, 513, 767, 768, 5000};
  std::mt19937_64 rng(testing::TestSeed());
  const auto key_of = [](size_t len, int n) {
    std::string k(len, static_cast<char>('a' + n % 26));
    const std::string tag = std::to_string(n) + "/";
    k.replace(0, std::min(len, tag.size()), tag.substr(0, std::min(len, tag.size())));
    return k;
  };
  const auto value_of = [&](size_t len) {
    std::string v(len, '\0');
    for (char& c : v) {
      c = static_cast<char>(rng());
    }
    return v;
  };
  for (int round = 0; round < 3; ++round) {
    SCOPED_TRACE("round " + std::to_string(round));
    // One at a time (Put)...
    for (int n = 0; n < 12; ++n) {
      for (const size_t kl : key_lens) {
        const std::string k = key_of(kl, n);
        const std::string v = value_of(val_lens[rng() % std::size(val_lens)]);
        ASSERT_TRUE(t.tree->Put(k, v).ok()) << "key " << kl << " value " << v.size();
        model[k] = v;
      }
    }
    // ... and as a checkpoint writes them (PutSorted, increasing keys).
    std::map<std::string, std::string> batch;
    for (int n = 12; n < 40; ++n) {
      for (const size_t kl : key_lens) {
        batch[key_of(kl, n)] = value_of(val_lens[rng() % std::size(val_lens)]);
      }
    }
    std::vector<BTree::KeyValue> entries;
    for (const auto& [k, v] : batch) {
      entries.push_back({k, v});
      model[k] = v;
    }
    size_t done = 0;
    ASSERT_TRUE(t.tree->PutSorted(entries, &done).ok());
    EXPECT_EQ(done, entries.size());
    // Some erased.
    for (int n = 0; n < 40; n += 3) {
      const std::string k = key_of(key_lens[(n + round) % std::size(key_lens)], n);
      bool erased = false;
      ASSERT_TRUE(t.tree->Erase(k, &erased).ok());
      EXPECT_EQ(erased, model.erase(k) == 1) << k.size();
    }
    ASSERT_TRUE(t.tree->Commit({}).ok());
    t.Reopen();  // verifies every reachable page
    EXPECT_GE(t.tree->Stats().height, 2u);
    ASSERT_EQ(t.tree->Stats().entries, model.size());
    ASSERT_TRUE(Contents(*t.tree) == model);
    std::string v;
    for (const auto& [k, want] : model) {
      ASSERT_TRUE(t.tree->Get(k, &v)) << k.size();
      ASSERT_EQ(v, want) << k.size();
    }
  }
}

TEST(BTreeTest, OverflowChainsAreFreedWhenReplacedOrErased) {
  MemTree t(64);
  const uint64_t base = t.tree->Stats().pages_in_use;
  for (int round = 0; round < 20; ++round) {
    ASSERT_TRUE(t.tree->Put("v", std::string(20000 + round, static_cast<char>('a' + round))).ok());
    ASSERT_TRUE(t.tree->Commit({}).ok());
  }
  std::string v;
  ASSERT_TRUE(t.tree->Get("v", &v));
  EXPECT_EQ(v, std::string(20019, 't'));
  // One leaf and five overflow pages: the old chains came back (else 64 pages would not do).
  EXPECT_EQ(t.tree->Stats().pages_in_use, base + 6);
  ASSERT_TRUE(t.tree->Erase("v").ok());
  ASSERT_TRUE(t.tree->Commit({}).ok());
  EXPECT_EQ(t.tree->Stats().pages_in_use, 0u);
  t.Reopen();
  EXPECT_EQ(t.tree->Stats().pages_in_use, 0u);
}

// Random puts, replaces and erases over a key space, against std::map; commits and reopenings on
// the way, full and partial scans compared.
TEST(BTreeTest, RandomOperationsMatchAStdMap) {
  const uint64_t seed = testing::TestSeed();
  const uint64_t ops = testing::EnvU64("PASTEL_BTREE_OPS", 400000);
  std::printf("seed %llu, %llu operations\n", static_cast<unsigned long long>(seed),
              static_cast<unsigned long long>(ops));
  std::mt19937_64 rng(seed);
  MemTree t(16384);
  Model model;
  Model committed;
  uint64_t max_height = 0;
  std::string v;
  for (uint64_t i = 0; i < ops; ++i) {
    // The key space grows then shrinks, so that trees grow, split, and empty again.
    const uint64_t phase = (i * 4 / ops) % 4;
    const uint64_t space = phase == 0 ? 2000 + i / 16 : 20000;
    const uint64_t id = rng() % space;
    const std::string key = KeyOf(id);
    const uint64_t r = rng() % 100;
    const bool erase = phase == 3 ? r < 80 : r < 25;
    if (erase) {
      bool erased = false;
      ASSERT_TRUE(t.tree->Erase(key, &erased).ok());
      ASSERT_EQ(erased, model.erase(key) == 1) << key;
    } else if (r < 35) {
      const bool in_tree = t.tree->Get(key, &v);
      auto it = model.find(key);
      ASSERT_EQ(in_tree, it != model.end()) << key;
      if (in_tree) {
        ASSERT_EQ(v, it->second) << key;
      }
    } else {
      std::string value = ValueOf(rng, id);
      auto it = model.find(key);
      if (it != model.end() && it->second.size() <= kBTreeMaxInline && rng() % 3 == 0) {
        value.resize(it->second.size(), 'x');  // an overwrite in place (the store's common case)
      }
      Status st = t.tree->Put(key, value);
      ASSERT_TRUE(st.ok()) << st.ToString();
      model[key] = std::move(value);
    }
    ASSERT_EQ(t.tree->entries(), model.size());
    max_height = std::max<uint64_t>(max_height, t.tree->height());
    if (i % 997 == 0) {
      ASSERT_TRUE(t.tree->Commit({i, 0, 0, 0}).ok());
      committed = model;
    }
    if (i % 50021 == 0 || i + 1 == ops) {
      // Uncommitted changes vanish at a reopen; the committed state must be exactly there.
      t.Reopen();
      ASSERT_EQ(Contents(*t.tree), committed) << "after operation " << i;
      model = committed;
      const std::string start = KeyOf(rng() % space);
      ASSERT_EQ(Contents(*t.tree, start), Model(model.lower_bound(start), model.end()));
    }
  }
  EXPECT_GE(max_height, 3u);
}

// PutSorted (a checkpoint's slice, sorted) against a std::map: batches of random sizes, in
// order and now and then out of order, with new keys, overwrites of every size, values in overflow
// pages, leaves that fill and split in the middle of a batch, and erases between the batches.
TEST(BTreeTest, SortedBatchesOfPutsMatchAStdMap) {
  const uint64_t seed = testing::TestSeed();
  std::mt19937_64 rng(seed);
  std::printf("seed %llu\n", static_cast<unsigned long long>(seed));
  MemTree t(16384);
  Model model;
  uint64_t batched = 0;
  for (int round = 0; round < 600; ++round) {
    const uint64_t space = round < 300 ? 500 + static_cast<uint64_t>(round) * 20 : 6000;
    std::map<std::string, std::string> batch;
    const size_t n = 1 + rng() % (rng() % 4 == 0 ? 600 : 40);
    for (size_t i = 0; i < n; ++i) {
      const uint64_t id = rng() % space;
      batch[KeyOf(id)] = ValueOf(rng, id);
    }
    std::vector<BTree::KeyValue> entries;
    for (const auto& [k, v] : batch) {
      entries.push_back({k, v});
    }
    if (rng() % 10 == 0) {
      std::shuffle(entries.begin(), entries.end(), rng);  // still right, only slower
    }
    size_t done = 0;
    const Status st = t.tree->PutSorted(entries, &done);
    ASSERT_TRUE(st.ok()) << st.ToString();
    ASSERT_EQ(done, entries.size());
    batched += done;
    std::string got;
    for (const auto& [k, v] : batch) {
      ASSERT_TRUE(t.tree->Get(k, &got)) << k;  // found where a lookup goes: in its leaf
      ASSERT_EQ(got, v) << k;
      model[k] = v;
    }
    ASSERT_EQ(t.tree->entries(), model.size()) << "round " << round;
    for (int e = 0; e < 20; ++e) {
      const std::string key = KeyOf(rng() % space);
      bool erased = false;
      ASSERT_TRUE(t.tree->Erase(key, &erased).ok());
      ASSERT_EQ(erased, model.erase(key) == 1);
    }
    if (round % 50 == 49) {
      ASSERT_EQ(Contents(*t.tree), model) << "round " << round;
      ASSERT_TRUE(t.tree->Commit({static_cast<uint64_t>(round), 0, 0, 0}).ok());
      t.Reopen();  // the committed state, checked as it opens
      ASSERT_EQ(Contents(*t.tree), model) << "after reopening, round " << round;
    }
  }
  std::printf("%llu entries put in batches, %zu in the tree, height %u\n",
              static_cast<unsigned long long>(batched), model.size(), t.tree->height());
  EXPECT_GE(t.tree->height(), 3u);
  // An empty batch does nothing.
  size_t done = 1;
  ASSERT_TRUE(t.tree->PutSorted({}, &done).ok());
  EXPECT_EQ(done, 0u);
  // A key Put refuses stops the batch there, with what came before it put.
  const std::string ok_key = KeyOf(1);
  const std::string too_long(kBTreeMaxKey + 1, 'z');
  const std::vector<BTree::KeyValue> bad = {{ok_key, "before"}, {too_long, "x"}, {"zz", "after"}};
  EXPECT_EQ(t.tree->PutSorted(bad, &done).code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(done, 1u);
  std::string v;
  ASSERT_TRUE(t.tree->Get(ok_key, &v));
  EXPECT_EQ(v, "before");
  EXPECT_FALSE(t.tree->Get("zz", &v));
}

TEST(BTreeTest, AFullFileRefusesPutsWithoutChangeAndDeletesMakeRoom) {
  MemTree t(24);
  Model model;
  uint64_t id = 0;
  Status st;
  while (true) {
    const std::string key = KeyOf(id);
    const std::string value(200, static_cast<char>('a' + id % 26));
    st = t.tree->Put(key, value);
    if (!st.ok()) {
      break;
    }
    model[key] = value;
    ASSERT_TRUE(t.tree->Commit({}).ok());
    ++id;
  }
  EXPECT_EQ(st.code(), StatusCode::kNoSpace) << st.ToString();
  EXPECT_GT(model.size(), 20u);
  EXPECT_EQ(Contents(*t.tree), model);
  t.Reopen();
  EXPECT_EQ(Contents(*t.tree), model);
  // Leaves are not merged, so room comes back when whole leaves empty: the lower two thirds.
  for (uint64_t k = 0; k < id * 2 / 3; ++k) {
    Status er = t.tree->Erase(KeyOf(k));
    ASSERT_TRUE(er.ok()) << er.ToString();
    model.erase(KeyOf(k));
    ASSERT_TRUE(t.tree->Commit({}).ok());
  }
  ASSERT_TRUE(t.tree->Put(KeyOf(id), "room again").ok());
  model[KeyOf(id)] = "room again";
  ASSERT_TRUE(t.tree->Commit({}).ok());
  t.Reopen();
  EXPECT_EQ(Contents(*t.tree), model);
}

TEST(BTreeTest, AFailedFenceMakesTheTreeReadOnly) {
  AlignedBuffer buf(32 * kBTreePageSize);
  RecordingPersistOps rec(buf.data(), buf.size());
  ASSERT_TRUE(BTree::Format(buf.data(), buf.size(), kOwner, rec).ok());
  Result<std::unique_ptr<BTree>> t = BTree::Attach(buf.data(), buf.size(), rec);
  ASSERT_TRUE(t.ok());
  ASSERT_TRUE((*t)->Put("a", "1").ok());
  ASSERT_TRUE((*t)->Commit({}).ok());
  rec.FailDrainsFrom(rec.drain_count());
  ASSERT_TRUE((*t)->Put("b", "2").ok());
  Status st = (*t)->Commit({});
  EXPECT_EQ(st.code(), StatusCode::kReadOnly) << st.ToString();
  EXPECT_TRUE((*t)->read_only());
  EXPECT_EQ((*t)->Put("c", "3").code(), StatusCode::kReadOnly);
  EXPECT_EQ((*t)->Commit({}).code(), StatusCode::kReadOnly);
  // What survives is the last completed commit.
  std::vector<uint8_t> image = rec.CrashImage();
  std::unique_ptr<PersistOps> ops = MakeFenceOnlyOps();
  Result<std::unique_ptr<BTree>> back = BTree::Attach(image.data(), image.size(), *ops);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(Contents(**back), (Model{{"a", "1"}}));
}

TEST(BTreeTest, CreateAndOpenAFile) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string path = BTree::PathForPool(dir.File("pool"));
  {
    Result<std::unique_ptr<BTree>> t = BTree::Create(path, 1 << 20, kOwner);
    ASSERT_TRUE(t.ok()) << t.status().ToString();
    ASSERT_TRUE((*t)->Put("key", "value").ok());
    ASSERT_TRUE((*t)->Commit({42, 0, 0, 0}).ok());
  }
  EXPECT_EQ(BTree::Create(path, 1 << 20, kOwner).status().code(), StatusCode::kAlreadyExists);
  Result<std::unique_ptr<BTree>> t = BTree::Open(path);
  ASSERT_TRUE(t.ok()) << t.status().ToString();
  EXPECT_EQ((*t)->user()[0], 42u);
  EXPECT_EQ(Contents(**t), (Model{{"key", "value"}}));
  EXPECT_EQ(BTree::Open(dir.File("missing")).status().code(), StatusCode::kNotFound);
}

// A tree of three levels with overflow values, committed twice (both slots written).
struct Damaged {
  Damaged() : t(256) {
    for (uint64_t i = 0; i < 400; ++i) {
      EXPECT_TRUE(t.tree->Put(KeyOf(i), std::string(i % 50 == 0 ? 3000 : 40, 'v')).ok());
    }
    EXPECT_TRUE(t.tree->Commit({1, 0, 0, 0}).ok());
    EXPECT_TRUE(t.tree->Put(KeyOf(1000), "last").ok());
    EXPECT_TRUE(t.tree->Commit({2, 0, 0, 0}).ok());
    EXPECT_GE(t.tree->Stats().height, 2u);
  }
  Status Attach(uint64_t len = 0) {
    Result<std::unique_ptr<BTree>> r =
        BTree::Attach(t.buf.data(), len ? len : t.buf.size(), *t.ops);
    return r.status();
  }
  BTreeSuper Super(int slot) const {
    BTreeSuper sb;
    std::memcpy(&sb, t.buf.data() + kBTreeSuperSlotOffset[slot], sizeof sb);
    return sb;
  }
  void PutSuper(int slot, BTreeSuper sb, bool fix_crc = true) {
    if (fix_crc) {
      sb.checksum = Crc32c(&sb, kBTreeSuperChecksummed);
    }
    std::memcpy(t.buf.data() + kBTreeSuperSlotOffset[slot], &sb, sizeof sb);
  }
  uint8_t* PageOf(uint32_t n) { return t.buf.data() + static_cast<uint64_t>(n) * kBTreePageSize; }
  void FixPage(uint32_t n) {
    uint8_t* p = PageOf(n);
    std::memset(p + offsetof(BTreeNode, checksum), 0, 4);
    const uint32_t crc = Crc32c(p, kBTreePageSize);
    std::memcpy(p + offsetof(BTreeNode, checksum), &crc, 4);
  }
  MemTree t;
};

TEST(BTreeTest, ATornNewerSuperblockLeavesTheOlderCommit) {
  Damaged d;
  d.PutSuper(0, d.Super(0), /*fix_crc=*/false);  // epoch 2 is in slot 0
  BTreeSuper sb = d.Super(0);
  sb.checksum ^= 1;
  d.PutSuper(0, sb, false);
  d.t.Reopen();
  EXPECT_EQ(d.t.tree->Stats().epoch, 1u);
  EXPECT_EQ(d.t.tree->user()[0], 1u);
  std::string v;
  EXPECT_FALSE(d.t.tree->Get(KeyOf(1000), &v));
  EXPECT_EQ(d.t.tree->Stats().entries, 400u);
}

// Found by tests/fuzz/btree_open_fuzz (regress-epoch-wrap): a valid superblock of epoch 2^64-1
// was in force, the next commit wrapped to epoch 0 and went to the other slot, and the next open
// took the higher epoch again: the commit was lost. Epochs above 2^63 are now invalid, and a tree
// at 2^63 refuses to commit.
TEST(BTreeTest, AtTheLastEpochCommitsAreRefusedNeverLost) {
  {
    Damaged d;
    BTreeSuper sb = d.Super(1);
    sb.epoch = UINT64_MAX;  // odd: its own slot
    d.PutSuper(1, sb);
    d.t.Reopen();
    EXPECT_EQ(d.t.tree->Stats().epoch, 2u);  // the slot above 2^63 is not valid
    ASSERT_TRUE(d.t.tree->Put("after", "the wrap").ok());
    ASSERT_TRUE(d.t.tree->Commit({3, 0, 0, 0}).ok());
    d.t.Reopen();
    EXPECT_EQ(d.t.tree->Stats().epoch, 3u);
    std::string v;
    ASSERT_TRUE(d.t.tree->Get("after", &v));
    EXPECT_EQ(v, "the wrap");
  }
  {
    Damaged d;
    BTreeSuper sb = d.Super(0);
    sb.epoch = kBTreeMaxEpoch;  // even: slot 0
    d.PutSuper(0, sb);
    d.t.Reopen();
    ASSERT_EQ(d.t.tree->Stats().epoch, kBTreeMaxEpoch);
    const uint64_t entries = d.t.tree->entries();
    ASSERT_TRUE(d.t.tree->Put("after", "the last epoch").ok());
    const Status st = d.t.tree->Commit({9, 0, 0, 0});
    EXPECT_EQ(st.code(), StatusCode::kReadOnly);
    EXPECT_NE(st.message().find("exhausted"), std::string::npos) << st.ToString();
    d.t.Reopen();  // the commit at 2^63 is still the one in force
    EXPECT_EQ(d.t.tree->Stats().epoch, kBTreeMaxEpoch);
    EXPECT_EQ(d.t.tree->entries(), entries);
    std::string v;
    EXPECT_FALSE(d.t.tree->Get("after", &v));
  }
}

TEST(BTreeTest, DamagedFilesAreCorruptionNeverACrash) {
  struct Case {
    const char* name;
    std::function<void(Damaged&)> damage;
    const char* expect;  // in the message
  };
  const std::vector<Case> cases = {
      {"both superblocks bad",
       [](Damaged& d) {
         d.t.buf.data()[kBTreeSuperSlotOffset[0]] ^= 1;
         d.t.buf.data()[kBTreeSuperSlotOffset[1] + 30] ^= 1;
       },
       "no valid superblock"},
      {"root names a free page",
       [](Damaged& d) {
         BTreeSuper sb = d.Super(0);
         sb.root = static_cast<uint32_t>(sb.page_count - 1);
         d.PutSuper(0, sb);
       },
       "bad magic"},
      {"wrong page count",
       [](Damaged& d) {
         for (int s = 0; s < 2; ++s) {
           BTreeSuper sb = d.Super(s);
           sb.page_count += 1;
           d.PutSuper(s, sb);
         }
       },
       "page count"},
      {"entry count off",
       [](Damaged& d) {
         BTreeSuper sb = d.Super(0);
         sb.entries += 1;
         d.PutSuper(0, sb);
       },
       "entries"},
      {"bit flip in the root",
       [](Damaged& d) { d.PageOf(d.Super(0).root)[kBTreePageSize - 3] ^= 0x10; },
       "checksum mismatch"},
      {"root claims to be a leaf",
       [](Damaged& d) {
         const uint32_t r = d.Super(0).root;
         d.PageOf(r)[offsetof(BTreeNode, kind)] = kBTreeLeaf;
         d.FixPage(r);
       },
       "does not fit"},
      {"slot offset past the page",
       [](Damaged& d) {
         const uint32_t r = d.Super(0).root;
         const uint16_t off = kBTreePageSize - 1;
         std::memcpy(d.PageOf(r) + kBTreeNodeHeader, &off, 2);
         d.FixPage(r);
       },
       "offset"},
      {"child pointing to its parent",
       [](Damaged& d) {
         const uint32_t r = d.Super(0).root;
         uint8_t* p = d.PageOf(r);
         uint16_t off;
         std::memcpy(&off, p + kBTreeNodeHeader, 2);
         std::memcpy(p + off + kBTreeEntryHeader, &r, 4);  // entry 0: empty key, then the child
         d.FixPage(r);
       },
       "reached twice"},
      {"keys swapped in the root",
       [](Damaged& d) {
         const uint32_t r = d.Super(0).root;
         uint8_t* p = d.PageOf(r);
         uint16_t a, b;
         std::memcpy(&a, p + kBTreeNodeHeader + 2, 2);
         std::memcpy(&b, p + kBTreeNodeHeader + 4, 2);
         std::memcpy(p + kBTreeNodeHeader + 2, &b, 2);
         std::memcpy(p + kBTreeNodeHeader + 4, &a, 2);
         d.FixPage(r);
       },
       "order"},
      {"overlapping entries",  // found by btree_open_fuzz: each value ran over the next entries
       [](Damaged& d) {
         const uint32_t r = d.Super(0).root;
         uint8_t* p = d.PageOf(r);
         const uint16_t count = 200;
         std::memset(p + kBTreeNodeHeader, 0, kBTreePageSize - kBTreeNodeHeader);
         p[offsetof(BTreeNode, kind)] = kBTreeLeaf;
         p[offsetof(BTreeNode, level)] = 0;
         std::memcpy(p + offsetof(BTreeNode, count), &count, 2);
         for (uint16_t i = 0; i < count; ++i) {
           const uint16_t off = static_cast<uint16_t>(432 + 5 * i);
           std::memcpy(p + kBTreeNodeHeader + 2 * i, &off, 2);
           const uint8_t e[5] = {1, 0, 0, 2, static_cast<uint8_t>(i + 1)};
           std::memcpy(p + off, e, sizeof e);
         }
         d.FixPage(r);
         for (int s = 0; s < 2; ++s) {
           BTreeSuper sb = d.Super(s);
           sb.height = 1;
           sb.entries = count;
           d.PutSuper(s, sb);
         }
       },
       "overlap"},
      {"truncated file", [](Damaged&) {}, "page"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Damaged d;
    ASSERT_EQ(d.Super(0).epoch, 2u);
    c.damage(d);
    const Status st = std::string(c.name) == "truncated file"
                          ? d.Attach(d.t.buf.size() - kBTreePageSize)
                          : d.Attach();
    EXPECT_EQ(st.code(), StatusCode::kCorruption) << st.ToString();
    EXPECT_NE(st.message().find(c.expect), std::string::npos) << st.ToString();
  }
}

// Random byte damage anywhere in the tree: Attach either refuses (kCorruption) or gives a tree
// whose whole content can be read (a flip in free space or a dead page is harmless).
TEST(BTreeTest, RandomDamageIsDetectedOrHarmless) {
  std::mt19937_64 rng(testing::TestSeed());
  Damaged pristine;
  const std::vector<uint8_t> good(pristine.t.buf.data(),
                                  pristine.t.buf.data() + pristine.t.buf.size());
  const Model want = Contents(*pristine.t.tree);
  int refused = 0;
  for (int round = 0; round < 400; ++round) {
    std::memcpy(pristine.t.buf.data(), good.data(), good.size());
    const int flips = 1 + static_cast<int>(rng() % 4);
    for (int f = 0; f < flips; ++f) {
      pristine.t.buf.data()[rng() % good.size()] ^= static_cast<uint8_t>(1 + rng() % 255);
    }
    Result<std::unique_ptr<BTree>> r =
        BTree::Attach(pristine.t.buf.data(), pristine.t.buf.size(), *pristine.t.ops);
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption) << r.status().ToString();
      ++refused;
      continue;
    }
    const Model got = Contents(**r);
    if ((*r)->Stats().epoch == 2) {
      EXPECT_EQ(got, want) << "round " << round;
    }
  }
  EXPECT_GT(refused, 20);  // about a tenth of the pages are in use
}

}  // namespace
}  // namespace pastel
