#include <fcntl.h>
#include <gtest/gtest.h>
#include <stdio.h>
#include <unistd.h>

#include <algorithm>
#include <condition_variable>
#include <cstring>
#include <map>
#include <memory_resource>
#include <mutex>
#include <random>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "src/store/store_index.h"
#include "tests/support/smaps.h"
#include "tests/support/temp_dir.h"

namespace pastel::store {
namespace {

using testing::TempDir;

Value Live(uint64_t seq, uint32_t len, std::vector<Extent> ext = {}) {
  Value v;
  v.sequence = seq;
  v.length = len;
  v.extents = std::move(ext);
  return v;
}

Value Tombstone(uint64_t seq) {
  Value v;
  v.sequence = seq;
  v.deleted = true;
  return v;
}

StoreFiles SmallFiles(const TempDir& dir, uint32_t loops = 1) {
  StoreFiles f;
  f.pool_path = dir.path() + "/s.pool";
  f.loops = loops;
  f.pool_size = 4ull << 20;
  f.log_size = 256ull << 10;
  return f;
}

TEST(ExtentsTest, KeepsShortListsInlineAndLongOnesWholeAcrossCopiesAndMoves) {
  std::vector<Extent> want;
  Extents e;
  for (uint32_t i = 0; i < 3 * Extents::kInline + 1; ++i) {
    const Extent x{i, i * 2, i * 3 + 1};
    e.push_back(x);
    want.push_back(x);
    ASSERT_EQ(e.size(), want.size());
    ASSERT_TRUE(e == std::span<const Extent>(want));
    // A copy and a move carry the list, inline or grown; the moved-from list is empty.
    Extents copy = e;
    EXPECT_TRUE(copy == e);
    Extents moved = std::move(copy);
    EXPECT_TRUE(moved == e);
    EXPECT_TRUE(copy.empty());  // NOLINT(bugprone-use-after-move): moved-from is specified here
    copy = moved;
    moved = Extents();
    EXPECT_TRUE(copy == e);
    EXPECT_TRUE(moved.empty());
  }
  EXPECT_EQ(e.back(), want.back());
  EXPECT_EQ(e[Extents::kInline], want[Extents::kInline]);
  // Shrinking keeps the first entries; growing again fills with zero extents.
  e.resize(2);
  EXPECT_TRUE(e == std::span<const Extent>(want.data(), 2));
  e.resize(3);
  EXPECT_EQ(e[2], Extent{});
  // A grown list assigned a short one, and a short list assigned a long one.
  Extents small;
  small.push_back({7, 0, 1});
  e = small;
  EXPECT_TRUE(e == small);
  small = std::span<const Extent>(want);
  EXPECT_TRUE(small == std::span<const Extent>(want));
  small.append(want.data(), want.data() + 2);
  EXPECT_EQ(small.size(), want.size() + 2);
  EXPECT_EQ(small[want.size() + 1], want[1]);
  small.clear();
  EXPECT_TRUE(small.empty());
  EXPECT_FALSE(small == e);
}

// KeyMap against std::map over random inserts, overwrites, erases and lookups: a small key space
// makes long probe runs that wrap around the slot array and erases that shift entries back.
TEST(KeyMapTest, AgreesWithAModelOverRandomOperations) {
  std::pmr::unsynchronized_pool_resource arena;
  KeyMap map(&arena);
  std::map<std::string, uint64_t> model;
  std::mt19937_64 rng(7);
  for (int op = 0; op < 400000; ++op) {
    const uint64_t space = op < 200000 ? 64 : 5000;
    std::string key = "key:" + std::to_string(rng() % space);
    if (rng() % 7 == 0) {
      key.append(40, 'x');  // longer than a string's inline buffer
    }
    const uint64_t seq = static_cast<uint64_t>(op) + 1;
    switch (rng() % 4) {
      case 0: {  // insert if absent
        const uint64_t h = KeyMap::HashOf(key);
        if (map.Find(key, h) == nullptr) {
          Value v;
          v.sequence = seq;
          KeyMap::Entry* e = map.InsertNew(key, h, std::move(v));
          ASSERT_EQ(e->key(), key);
          model[key] = seq;
        }
        break;
      }
      case 1: {
        Value v;
        v.sequence = seq;
        map.InsertOrAssign(key, std::move(v));
        model[key] = seq;
        break;
      }
      case 2: ASSERT_EQ(map.Erase(key), model.erase(key) == 1) << key; break;
      default: {
        const KeyMap::Entry* e = map.Find(key);
        auto it = model.find(key);
        ASSERT_EQ(e != nullptr, it != model.end()) << key;
        if (e != nullptr) {
          ASSERT_EQ(e->value.sequence, it->second) << key;
        }
      }
    }
    ASSERT_EQ(map.size(), model.size());
    if (op % 50000 == 49999) {
      std::map<std::string, uint64_t> seen;
      map.ForEach([&](const KeyMap::Entry& e) {
        seen.emplace(std::string(e.key()), e.value.sequence);
        return true;
      });
      ASSERT_EQ(seen, model);
      for (const auto& [k, s] : model) {
        const KeyMap::Entry* e = map.Find(k);
        ASSERT_NE(e, nullptr) << k;
        ASSERT_EQ(e->value.sequence, s);
      }
    }
  }
  map.clear();
  EXPECT_EQ(map.size(), 0u);
  const Value* first = nullptr;
  EXPECT_EQ(map.Find("key:1"), nullptr);
  EXPECT_FALSE(map.Erase("key:1"));
  for (int i = 0; i < 10000; ++i) {
    Value v;
    v.sequence = static_cast<uint64_t>(i) + 1;
    map.InsertNew("n" + std::to_string(i), KeyMap::HashOf("n" + std::to_string(i)), std::move(v));
    if (i == 0) {
      first = &map.Find("n0")->value;
    }
  }
  // An entry stays where it is while the slot array grows (16 slots, then 16384).
  EXPECT_EQ(&map.Find("n0")->value, first);
  EXPECT_EQ(map.Find("n9999")->value.sequence, 10000u);
  EXPECT_EQ(map.size(), 10000u);
}

TEST(IndexTest, TheHigherSequenceWinsWhateverTheOrderOfApply) {
  Index index;
  EXPECT_EQ(index.Apply("k", Live(5, 3)).sequence, 0u);  // nothing lost: the key was new
  // An older write applied late (another loop committed it after) loses and comes back.
  Value lost = index.Apply("k", Live(3, 10));
  EXPECT_EQ(lost.sequence, 3u);
  EXPECT_EQ(lost.length, 10u);
  EXPECT_EQ(index.live_keys(), 1u);
  EXPECT_EQ(index.live_bytes(), 3u);
  // A newer one replaces it and hands the old one back for its references to be dropped.
  Value old = index.Apply("k", Live(8, 7));
  EXPECT_EQ(old.sequence, 5u);
  EXPECT_EQ(index.live_bytes(), 7u);
}

TEST(IndexTest, ADeleteLeavesATombstoneThatOrdersLaterApplies) {
  Index index;
  index.Apply("k", Live(2, 4));
  index.Apply("other", Live(3, 6));
  Value old = index.Apply("k", Tombstone(9));
  EXPECT_EQ(old.sequence, 2u);
  EXPECT_FALSE(index.Contains("k"));
  EXPECT_EQ(index.live_keys(), 1u);
  EXPECT_EQ(index.live_bytes(), 6u);
  // A put older than the delete, committed late, must not resurrect the key.
  Value lost = index.Apply("k", Live(7, 100));
  EXPECT_EQ(lost.sequence, 7u);
  EXPECT_FALSE(index.Contains("k"));
  EXPECT_EQ(index.live_keys(), 1u);
  // A newer put replaces the tombstone, which comes back with its sequence.
  Value tomb = index.Apply("k", Live(10, 5));
  EXPECT_TRUE(tomb.deleted);
  EXPECT_EQ(tomb.sequence, 9u);
  EXPECT_TRUE(index.Contains("k"));
  EXPECT_EQ(index.live_keys(), 2u);
}

TEST(IndexTest, ForEachLiveSkipsTombstonesAndStopsWhenAsked) {
  Index index;
  index.Apply("a", Live(1, 1));
  index.Apply("b", Live(2, 2));
  index.Apply("c", Live(3, 3));
  index.Apply("b", Tombstone(4));
  std::vector<std::string> seen;
  index.ForEachLive([&](std::string_view k, const Value& v) {
    EXPECT_FALSE(v.deleted);
    seen.emplace_back(k);
    return true;
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"a", "c"}));
  int visits = 0;
  index.ForEachLive([&](std::string_view, const Value&) { return ++visits < 1; });
  EXPECT_EQ(visits, 1);
}

TEST(IndexTest, GetAndRetainPinsEveryBufferOfTheValue) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Result<OpenedStore> s = OpenOrCreate(SmallFiles(dir));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  Pool& pool = *s->pool;
  std::vector<Extent> ext;
  for (int i = 0; i < 2; ++i) {
    Result<uint32_t> b = pool.Allocate(0);
    ASSERT_TRUE(b.ok()) << b.status().ToString();
    ASSERT_TRUE(pool.Retain(*b).ok());  // the index entry's reference
    ext.push_back({*b, 0, 100});
  }
  Index index;
  index.Apply("k", Live(1, 200, ext));
  Value got;
  ASSERT_TRUE(index.GetAndRetain("k", pool, &got));
  EXPECT_EQ(got.length, 200u);
  EXPECT_EQ(got.extents, ext);
  for (const Extent& e : ext) {
    EXPECT_EQ(pool.refs(e.buffer), 2u);
  }
  // Replaced while the reader still holds it: the bytes stay put until the reader lets go.
  Value old = index.Apply("k", Tombstone(2));
  for (const Extent& e : old.extents) {
    ASSERT_TRUE(pool.Unretain(e.buffer).ok());
    EXPECT_EQ(pool.refs(e.buffer), 1u);
    EXPECT_EQ(pool.state(e.buffer), BufferState::kRetained);
  }
  for (const Extent& e : got.extents) {
    ASSERT_TRUE(pool.Unretain(e.buffer).ok());
    EXPECT_EQ(pool.state(e.buffer), BufferState::kFree);
  }
  Value none;
  EXPECT_FALSE(index.GetAndRetain("k", pool, &none));
  EXPECT_FALSE(index.GetAndRetain("absent", pool, &none));
}

TEST(IndexTest, LoadReplacesTheIndexWithTheRecoveredSet) {
  Index index;
  index.Apply("stale", Live(1, 1));
  LiveMap live;
  live["x"] = LiveValue{4, 0, 10, {{1, 0, 10}}};
  live["y"] = LiveValue{5, 1, 20, {{2, 0, 20}}};
  index.Load(live);
  EXPECT_FALSE(index.Contains("stale"));
  std::map<std::string, uint64_t> seqs;
  index.ForEachLive([&](std::string_view k, const Value& v) {
    seqs[std::string(k)] = v.sequence;
    return true;
  });
  EXPECT_EQ(seqs, (std::map<std::string, uint64_t>{{"x", 4}, {"y", 5}}));
  EXPECT_EQ(index.live_keys(), 2u);
  EXPECT_EQ(index.live_bytes(), 30u);
}

TEST(OpenOrCreateTest, CreatesOnFirstStartThenRecoversWhatWasCommitted) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir, 2);
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_TRUE(s->created);
    EXPECT_EQ(s->pool->partitions(), 2u);
    EXPECT_EQ(s->log->stream_count(), 2u);  // one stream per loop
    Pool& pool = *s->pool;
    Result<uint32_t> b = pool.Allocate(1);
    ASSERT_TRUE(b.ok());
    std::memcpy(pool.BufferData(*b), "durable", 7);
    const Extent e{*b, 0, 7};
    ASSERT_TRUE(s->log->stream(1).AppendPut("key", {&e, 1}).ok());
    ASSERT_TRUE(s->log->stream(1).Commit().ok());
    ASSERT_TRUE(pool.Retain(*b).ok());
  }
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_FALSE(s->created);
  ASSERT_EQ(s->recovered.log.live.size(), 1u);
  const LiveValue& v = s->recovered.log.live.at("key");
  ASSERT_EQ(v.extents.size(), 1u);
  EXPECT_EQ(v.value_len, 7u);
  EXPECT_EQ(std::memcmp(s->pool->BufferData(v.extents[0].buffer), "durable", 7), 0);
  EXPECT_EQ(s->pool->state(v.extents[0].buffer), BufferState::kRetained);
}

TEST(OpenOrCreateTest, MoreLoopsThanTheLogHasStreamsIsRefusedWithTheLimit) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  ASSERT_TRUE(OpenOrCreate(SmallFiles(dir, 1)).ok());
  Result<OpenedStore> s = OpenOrCreate(SmallFiles(dir, 2));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  EXPECT_NE(s.status().message().find("at most 1 thread"), std::string::npos)
      << s.status().ToString();
}

// Every stream of the log has one owner, whatever the loops: a new pool has one per loop, a pool
// from before that two per loop, and a pool may be opened with fewer loops than it was made for.
TEST(OpenOrCreateTest, EveryStreamHasOneLoop) {
  EXPECT_EQ(LoopStreams(1, 1, 0), (std::vector<uint32_t>{0}));
  EXPECT_EQ(LoopStreams(2, 1, 0), (std::vector<uint32_t>{0, 1}));  // an older pool's two
  EXPECT_EQ(LoopStreams(4, 2, 0), (std::vector<uint32_t>{0, 2}));
  EXPECT_EQ(LoopStreams(4, 2, 1), (std::vector<uint32_t>{1, 3}));
  EXPECT_EQ(LoopStreams(4, 3, 0), (std::vector<uint32_t>{0, 3}));
  EXPECT_EQ(LoopStreams(4, 3, 1), (std::vector<uint32_t>{1}));
  EXPECT_EQ(LoopStreams(4, 3, 2), (std::vector<uint32_t>{2}));
  for (uint32_t streams = 1; streams <= 8; ++streams) {
    for (uint32_t loops = 1; loops <= streams; ++loops) {
      std::vector<int> owners(streams, 0);
      for (uint32_t l = 0; l < loops; ++l) {
        const std::vector<uint32_t> mine = LoopStreams(streams, loops, l);
        ASSERT_FALSE(mine.empty());
        EXPECT_EQ(mine.front(), l);
        for (const uint32_t st : mine) {
          ++owners[st];
        }
      }
      EXPECT_EQ(owners, std::vector<int>(streams, 1)) << streams << " streams, " << loops;
    }
  }
}

TEST(OpenOrCreateTest, ErrorsNameTheStepThatFailed) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  StoreFiles files = SmallFiles(dir);
  files.pool_path = dir.path() + "/no-such-dir/s.pool";
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("create pool: ", 0), 0u) << s.status().ToString();

  // A file that is not a pool is refused, and left as it was.
  files = SmallFiles(dir);
  const int fd = ::open(files.pool_path.c_str(), O_CREAT | O_WRONLY, 0600);
  ASSERT_GE(fd, 0);
  const std::string junk(1 << 20, 'x');
  ASSERT_EQ(::write(fd, junk.data(), junk.size()), static_cast<ssize_t>(junk.size()));
  ::close(fd);
  s = OpenOrCreate(files);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("open pool: ", 0), 0u) << s.status().ToString();
  EXPECT_EQ(::access(files.pool_path.c_str(), F_OK), 0);

  // A pool whose log is missing.
  TempDir dir2;
  ASSERT_TRUE(dir2.ok());
  files = SmallFiles(dir2);
  ASSERT_TRUE(OpenOrCreate(files).ok());
  ASSERT_EQ(::unlink(Log::PathForPool(files.pool_path).c_str()), 0);
  s = OpenOrCreate(files);
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().message().rfind("open log: ", 0), 0u) << s.status().ToString();
}

// A loop's write up to its apply: the value in fresh buffers of `partition` (`pieces` extents, as
// a value received in several segments; a delete when `value` is null), its record committed on
// `stream` and its references taken. *out is what the loop then applies.
void Append(OpenedStore& s, uint32_t partition, uint32_t stream, const std::string& key,
            const std::string* value, size_t pieces, int64_t expire_ms, Value* out) {
  Pool& pool = *s.pool;
  Value& v = *out;
  v = Value();
  if (value != nullptr) {
    for (size_t p = 0, at = 0; p < pieces; ++p) {
      const size_t len = p + 1 == pieces ? value->size() - at : value->size() / pieces;
      Result<uint32_t> b = pool.Allocate(partition);
      ASSERT_TRUE(b.ok());
      std::memcpy(pool.BufferData(*b), value->data() + at, len);
      v.extents.push_back({*b, 0, static_cast<uint32_t>(len)});
      at += len;
    }
    v.length = static_cast<uint32_t>(value->size());
    v.data_crc = ValueCrc(pool, v.extents);  // as a loop's write: a read from the tree checks it
  }
  LogStream& st = s.log->stream(stream);
  Result<uint64_t> seq =
      value != nullptr ? st.AppendPut(key, v.extents, expire_ms) : st.AppendDelete(key);
  ASSERT_TRUE(seq.ok()) << seq.status().ToString();
  ASSERT_TRUE(st.Commit().ok());
  for (const Extent& e : v.extents) {
    ASSERT_TRUE(pool.Retain(e.buffer).ok());  // the record's reference (App -> Retained)
  }
  v.sequence = *seq;
  v.deleted = value == nullptr;
  v.expire_ms = value != nullptr ? expire_ms : 0;
}

// Applies v as a loop does (with `only_if`, a kExpire's) and drops the loser's references.
void ApplyWrite(OpenedStore& s, const std::string& key, Value v, uint64_t only_if = 0) {
  Value loser = s.index->Apply(key, std::move(v), only_if);
  for (const Extent& e : loser.extents) {
    ASSERT_TRUE(s.pool->Unretain(e.buffer).ok());
  }
}

// What a loop does for one write: Append, then the index entry (the replaced value's references
// dropped).
void Write(OpenedStore& s, uint32_t partition, uint32_t stream, const std::string& key,
           const std::string* value, size_t pieces = 1, int64_t expire_ms = 0) {
  Value v;
  Append(s, partition, stream, key, value, pieces, expire_ms, &v);
  ApplyWrite(s, key, std::move(v));
}

// The index's content as key -> value bytes, and a check that every live extent holds exactly
// one reference and no other buffer is held.
std::map<std::string, std::string> Contents(const OpenedStore& s) {
  std::map<std::string, std::string> out;
  std::vector<uint32_t> refs(s.pool->buffer_count(), 0);
  s.index->ForEachLive([&](std::string_view key, const Value& v) {
    std::string bytes;
    for (const Extent& e : v.extents) {
      bytes.append(reinterpret_cast<const char*>(s.pool->BufferData(e.buffer)) + e.offset,
                   e.length);
      ++refs[e.buffer];
    }
    out.emplace(std::string(key), std::move(bytes));
    return true;
  });
  for (uint32_t i = 0; i < s.pool->buffer_count(); ++i) {
    EXPECT_EQ(s.pool->refs(i), refs[i]) << "buffer " << i;
  }
  return out;
}

TEST(CheckpointTest, TheIndexFileAndTheLogTailRecoverTogether) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  std::map<std::string, std::string> want;
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_TRUE(s->index->checkpoints());
    for (int i = 0; i < 100; ++i) {
      const std::string k = "k" + std::to_string(i);
      const std::string v = "value of " + k;
      Write(*s, 0, 0, k, &v);
      want[k] = v;
    }
    EXPECT_EQ(s->index->unsaved_keys(), 100u);
    // A slice, then the rest, which commits.
    Result<Index::CheckpointStep> step = s->index->Checkpoint(30, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    EXPECT_EQ(step->written, 30u);
    EXPECT_FALSE(step->committed);
    step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    EXPECT_EQ(step->written, 70u);
    EXPECT_TRUE(step->committed);
    EXPECT_EQ(s->tree->entries(), 100u);
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
    // The tail: an overwrite and a delete of checkpointed keys, a new key.
    const std::string v0 = "new value of k0";
    Write(*s, 0, 0, "k0", &v0);
    want["k0"] = v0;
    Write(*s, 0, 0, "k1", nullptr);
    want.erase("k1");
    const std::string v200 = "value of k200";
    Write(*s, 0, 0, "k200", &v200);
    want["k200"] = v200;
    EXPECT_EQ(Contents(*s), want);
  }
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->recovered.tree_entries, 100u);
    EXPECT_EQ(s->recovered.tree_live, 98u);  // k0 and k1 were replaced by the log
    EXPECT_EQ(s->recovered.log.records, 3u);
    EXPECT_EQ(Contents(*s), want);
    EXPECT_EQ(s->index->live_keys(), want.size());
    // The log's three writes are unsaved; a checkpoint takes them, and a restart after truncating
    // the stream replays nothing.
    EXPECT_EQ(s->index->unsaved_keys(), 3u);
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    EXPECT_EQ(s->tree->entries(), 100u);  // k1 erased (one loop: no tombstone), k200 added
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
  }
  Result<OpenedStore> again = OpenOrCreate(files);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->recovered.log.records, 0u);
  EXPECT_EQ(again->recovered.tree_live, want.size());
  EXPECT_EQ(Contents(*again), want);
}

// Every key the log holds, up to kMaxKeyBytes, is checkpointed into the index file, whether it
// comes from a loop's write or from a log written before (recovery): the tree once refused keys
// above 512 bytes, every checkpoint failed after one such write, and the log could never be
// truncated again (every later write refused, also after a restart).
TEST(CheckpointTest, EveryKeyTheLogHoldsIsCheckpointedAndRecovered) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  std::map<std::string, std::string> want;
  const auto key_of = [](size_t len, char c) { return std::string(len, c); };
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    char c = 'a';
    for (const size_t len : {size_t{1}, size_t{512}, size_t{513}, size_t{701}, kMaxKeyBytes}) {
      for (const size_t pieces : {size_t{1}, size_t{3}, size_t{24}}) {  // index values of all sizes
        const std::string k = key_of(len, c++);
        const std::string v = "value of a key of " + std::to_string(len) + " bytes in " +
                              std::to_string(pieces) + " pieces";
        Write(*s, 0, 0, k, &v, pieces);
        want[k] = v;
      }
    }
    // Not checkpointed: the next open finds these keys in the log only.
  }
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->recovered.log.records, want.size());
    EXPECT_EQ(Contents(*s), want);
    Result<Index::CheckpointStep> step =
        s->index->Checkpoint(UINT64_MAX, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    ASSERT_TRUE(step->committed);
    EXPECT_EQ(s->tree->entries(), want.size());
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
    // And from a loop's write after recovery.
    const std::string k = key_of(kMaxKeyBytes, 'z');
    const std::string v = "written after recovery, in as many pieces as the first";
    Write(*s, 0, 0, k, &v, 24);
    want[k] = v;
    step = s->index->Checkpoint(UINT64_MAX, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    ASSERT_TRUE(step->committed);
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
  }
  Result<OpenedStore> again = OpenOrCreate(files);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_EQ(again->recovered.log.records, 0u);
  EXPECT_EQ(again->recovered.tree_live, want.size());
  EXPECT_EQ(Contents(*again), want);
}

// A checkpoint sorts its keys by 16 of their bytes taken after those they all share (index.cc,
// CommonPrefix): keys with a long common start (counters, a hash's field keys), keys that differ
// only far past it, and keys that are prefixes of others, with NUL bytes, checkpointed in slices
// with writes noted between them, are all in the tree after the commit, in order, each found.
// (The tree takes a slice in any order, BTree::PutSorted checking each leaf's bounds: the sort is
// for speed, measured in bench/RESULTS.md; this checks that nothing is lost or misplaced.)
TEST(CheckpointTest, KeysThatShareLongPrefixesAreCheckpointedWhole) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  Result<OpenedStore> s = OpenOrCreate(SmallFiles(dir));
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  std::vector<std::string> keys;
  for (int i = 0; i < 120; ++i) {
    char k[64];
    (void)std::snprintf(k, sizeof k, "counter:%012d", i * 37 % 1000);
    keys.emplace_back(k);
  }
  const std::string long_start(40, 'p');
  for (int i = 0; i < 60; ++i) {  // the same first 40 + 20 bytes, then a number
    keys.push_back(long_start + std::string(20, 'q') + std::to_string(i * 7919 % 60));
  }
  for (const std::string_view k :
       {std::string_view("k"), std::string_view("k\0", 2), std::string_view("k\0\0", 3),
        std::string_view("k\0a", 3), std::string_view("ka"), std::string_view("\xff\x01"),
        std::string_view("\0", 1)}) {
    keys.emplace_back(k);
  }
  std::mt19937_64 rng(3);
  std::shuffle(keys.begin(), keys.end(), rng);
  std::map<std::string, std::string> want;
  size_t next = 0;
  const auto write_some = [&](size_t n) {
    for (; n > 0 && next < keys.size(); --n, ++next) {
      const std::string v = "v" + std::to_string(next);
      Write(*s, 0, 0, keys[next], &v);
      want[keys[next]] = v;
    }
  };
  write_some(keys.size() / 2);
  bool committed = false;
  for (int slice = 0; !committed && slice < 1000; ++slice) {
    Result<Index::CheckpointStep> step = s->index->Checkpoint(7, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    committed = step->committed;
    write_some(3);  // noted after the sort: the next slices take them too
  }
  while (!committed || next < keys.size()) {
    write_some(keys.size());
    Result<Index::CheckpointStep> step =
        s->index->Checkpoint(UINT64_MAX, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok()) << step.status().ToString();
    committed = step->committed;
  }
  std::vector<std::string> scanned;
  s->tree->Scan("", [&](std::string_view k, std::string_view) {
    scanned.emplace_back(k);
    return true;
  });
  std::vector<std::string> sorted;
  for (const auto& [k, v] : want) {
    sorted.push_back(k);  // (std::map: the keys' byte order)
  }
  EXPECT_EQ(scanned, sorted);
  for (const std::string& k : sorted) {
    std::string bytes;
    EXPECT_TRUE(s->tree->Get(k, &bytes)) << "key of " << k.size() << " bytes not found";
  }
  EXPECT_EQ(Contents(*s), want);
}

// A checkpoint leaves the live entries it wrote in memory while the map is within the cache limit
// (deletes leave it); later overwrites, deletes and reads find the replaced value there or in the
// tree alike: every buffer keeps exactly one reference (Contents) and a restart recovers the same.
TEST(CheckpointTest, SavedEntriesStayInMemoryWithinTheCacheLimitAndAnswerLikeTheTree) {
  for (const uint64_t limit : {uint64_t{0}, uint64_t{6}, uint64_t{1000}}) {
    SCOPED_TRACE("cache limit " + std::to_string(limit));
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    StoreFiles files = SmallFiles(dir);
    files.index_cache_keys = limit;
    std::map<std::string, std::string> want;
    {
      Result<OpenedStore> s = OpenOrCreate(files);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      for (int i = 0; i < 20; ++i) {
        const std::string k = "k" + std::to_string(i);
        const std::string v = "value of " + k;
        Write(*s, 0, 0, k, &v);
        want[k] = v;
      }
      Write(*s, 0, 0, "k3", nullptr);
      want.erase("k3");
      EXPECT_EQ(s->index->map_keys(), 20u);  // 19 live, one deleted
      Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
      ASSERT_TRUE(step.ok() && step->committed) << step.status().ToString();
      ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
      EXPECT_EQ(s->index->unsaved_keys(), 0u);
      EXPECT_EQ(s->tree->entries(), 19u);
      // The delete always leaves; the live entries stay while the map is within the limit (which
      // of them, below it, depends on the order the checkpoint took them in).
      EXPECT_LE(s->index->map_keys(), limit);
      if (limit == 0 || limit >= 20) {
        EXPECT_EQ(s->index->map_keys(), std::min<uint64_t>(limit, 19));
      }
      EXPECT_EQ(Contents(*s), want);
      // Overwrites and deletes of every saved key, whether memory or the tree holds it.
      for (int i = 0; i < 20; i += 2) {
        const std::string k = "k" + std::to_string(i);
        const std::string v = "second value of " + k;
        Write(*s, 0, 0, k, &v);
        want[k] = v;
      }
      for (int i = 1; i < 20; i += 4) {
        const std::string k = "k" + std::to_string(i);
        Write(*s, 0, 0, k, nullptr);
        want.erase(k);
      }
      EXPECT_EQ(s->index->live_keys(), want.size());
      EXPECT_EQ(Contents(*s), want);
      for (const auto& [k, v] : want) {
        Value got;
        ASSERT_TRUE(s->index->GetAndRetain(k, *s->pool, &got)) << k;
        EXPECT_EQ(got.length, v.size());
        for (const Extent& e : got.extents) {
          ASSERT_TRUE(s->pool->Unretain(e.buffer).ok());
        }
      }
      EXPECT_FALSE(s->index->Contains("k3"));
      EXPECT_FALSE(s->index->Contains("k1"));
      step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
      ASSERT_TRUE(step.ok() && step->committed) << step.status().ToString();
      EXPECT_EQ(s->tree->entries(), want.size());
      ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
      EXPECT_LE(s->index->map_keys(), limit);
      EXPECT_EQ(Contents(*s), want);
      // A tail the next start replays over the checkpoint.
      const std::string last = "last value of k0";
      Write(*s, 0, 0, "k0", &last);
      want["k0"] = last;
    }
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->recovered.log.records, 1u);
    EXPECT_EQ(Contents(*s), want);
    EXPECT_EQ(s->index->live_keys(), want.size());
  }
}

// Several loops: a delete is kept in the index file as a tombstone, since another loop's stream
// may still hold an older write of the key, which must not come back at a restart.
TEST(CheckpointTest, ADeleteCheckpointedByOneLoopHidesAnOlderWriteInAnotherLoopsStream) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir, 2);
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const std::string v = "old";
    Write(*s, 1, 1, "gone", &v);       // loop 1's stream
    Write(*s, 0, 0, "gone", nullptr);  // loop 0 deletes it
    const std::string kept = "kept";
    Write(*s, 1, 1, "kept", &kept);
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());  // loop 0's only
    std::string bytes;
    ASSERT_TRUE(s->tree->Get("gone", &bytes));
    Value t;
    ASSERT_TRUE(DecodeIndexValue(bytes, &t));
    EXPECT_TRUE(t.deleted);
  }
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Contents(*s), (std::map<std::string, std::string>{{"kept", "kept"}}));
  EXPECT_FALSE(s->index->Contains("gone"));
}

// What a loop does after its checkpoint committed: truncates its streams (LoopStreams) at `upto`
// and sets their horizons.
void TruncateLoop(OpenedStore& s, uint32_t loop, uint64_t upto) {
  for (uint32_t id : LoopStreams(s.log->stream_count(), s.pool->partitions(), loop)) {
    LogStream& st = s.log->stream(id);
    if (st.tail() != LogStream::records_begin()) {
      ASSERT_TRUE(st.Truncate(upto).ok());
    }
    s.index->SetStreamHorizon(id, upto);
  }
}

bool TreeHoldsTombstone(const OpenedStore& s, const std::string& key) {
  std::string bytes;
  Value v;
  return s.tree->Get(key, &bytes) && DecodeIndexValue(bytes, &v) && v.deleted;
}

// A tombstone stays in the index file while a stream may hold an older write of its key, and
// leaves it at the first checkpoint after every stream was truncated past it; also when it was
// found in the file at a restart.
TEST(CheckpointTest, TombstonesLeaveTheIndexFileOnceEveryStreamIsPastThem) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir, 2);
  const std::string old = "old";
  const std::string kept = "kept";
  for (const bool restart : {false, true}) {
    SCOPED_TRACE(restart ? "found at a restart" : "written by a checkpoint");
    const std::string key = restart ? "gone-before-restart" : "gone";
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    Write(*s, 1, 1, key, &old);     // loop 1's stream
    Write(*s, 0, 0, key, nullptr);  // loop 0 deletes it
    Write(*s, 1, 1, "kept", &kept);
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    TruncateLoop(*s, 0, s->log->next_sequence() - 1);
    EXPECT_TRUE(TreeHoldsTombstone(*s, key));
    EXPECT_EQ(s->index->tree_tombstones(), 1u);
    if (restart) {
      s = OpenOrCreate(files);  // loop 1's stream still holds the older write
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      EXPECT_EQ(s->index->tree_tombstones(), 1u);
      EXPECT_FALSE(s->index->Contains(key));
    }
    // Loop 1's stream still holds the older write: the tombstone stays.
    step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    EXPECT_EQ(step->tombstones_erased, 0u);
    EXPECT_TRUE(TreeHoldsTombstone(*s, key));
    // Loop 1 checkpoints: its truncation takes the older write away, and the next checkpoint
    // erases the tombstone.
    TruncateLoop(*s, 1, s->log->next_sequence() - 1);
    step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    EXPECT_EQ(step->tombstones_erased, 1u);
    EXPECT_EQ(s->index->tree_tombstones(), 0u);
    std::string bytes;
    EXPECT_FALSE(s->tree->Get(key, &bytes));
    EXPECT_EQ(Contents(*s), (std::map<std::string, std::string>{{"kept", "kept"}}));
    // A new write of the key after the tombstone left is an ordinary new key.
    const std::string again = "again";
    Write(*s, 1, 1, key, &again);
    EXPECT_TRUE(s->index->Contains(key));
    Write(*s, 0, 0, key, nullptr);
    EXPECT_FALSE(s->index->Contains(key));
    EXPECT_EQ(s->index->live_keys(), 1u);
    step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    TruncateLoop(*s, 0, s->log->next_sequence() - 1);
    TruncateLoop(*s, 1, s->log->next_sequence() - 1);
  }
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(Contents(*s), (std::map<std::string, std::string>{{"kept", "kept"}}));
  EXPECT_EQ(s->index->live_keys(), 1u);
  // The first round's last delete went at the second round's first checkpoint (found at the
  // restart, every stream empty); the second round's is left, and goes at the next checkpoint.
  EXPECT_EQ(s->index->tree_tombstones(), 1u);
  EXPECT_TRUE(TreeHoldsTombstone(*s, "gone-before-restart"));
  Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
  ASSERT_TRUE(step.ok() && step->committed);
  EXPECT_EQ(step->tombstones_erased, 1u);
  EXPECT_EQ(s->tree->entries(), 1u);
}

// Several loops: one loop's sweep removes an expired value (a kExpire of its sequence) while
// another loop still commits a new write of the key, which its stream got first (a lower
// sequence than the kExpire's) and which it applies after the kExpire. In sequence order, which a
// restart follows, the write comes between the expired value and the kExpire, which then removes
// nothing: the write is in force, before and after a restart, with or without a checkpoint
// between the kExpire's apply and the write's (and a crash before the write's apply). Its buffers
// must stay referenced (a server found such a value overwritten by a later receive).
TEST(CheckpointTest, AKExpireAppliedBeforeAnEarlierWriteOfAnotherLoopRemovesNothing) {
  const int64_t past = 1000;
  const std::string expiring = "expiring", fresh = "fresh value";
  for (const bool checkpoint : {false, true}) {
    SCOPED_TRACE(checkpoint ? "checkpoint and crash before the write's apply" : "no checkpoint");
    TempDir dir;
    ASSERT_TRUE(dir.ok());
    const StoreFiles files = SmallFiles(dir, 2);
    {
      Result<OpenedStore> s = OpenOrCreate(files);
      ASSERT_TRUE(s.ok()) << s.status().ToString();
      Write(*s, 0, 0, "k", &expiring, 1, past);  // expired at once
      const uint64_t target = s->log->next_sequence() - 1;
      Value write;  // loop 0's new value: committed, not applied yet
      Append(*s, 0, 0, "k", &fresh, 1, 0, &write);
      Result<uint64_t> expire = s->log->stream(1).AppendExpire("k", target);
      ASSERT_TRUE(expire.ok()) << expire.status().ToString();
      ASSERT_TRUE(s->log->stream(1).Commit().ok());
      ASSERT_GT(*expire, write.sequence);
      ApplyWrite(*s, "k", Tombstone(*expire), target);  // loop 1 applies first
      EXPECT_FALSE(s->index->Contains("k"));
      if (checkpoint) {
        Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, *expire);
        ASSERT_TRUE(step.ok() && step->committed) << step.status().ToString();
        TruncateLoop(*s, 1, *expire);  // loop 1's stream: the kExpire and before
        EXPECT_TRUE(TreeHoldsTombstone(*s, "k"));
        // The process dies before loop 0 applies its write (whose record is durable).
      } else {
        ApplyWrite(*s, "k", write);
        EXPECT_TRUE(s->index->Contains("k")) << "the kExpire removed a later write";
        EXPECT_EQ(Contents(*s), (std::map<std::string, std::string>{{"k", fresh}}));
        EXPECT_EQ(s->index->live_keys(), 1u);
        EXPECT_EQ(s->index->expiring_keys(), 0u);
      }
    }
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(Contents(*s), (std::map<std::string, std::string>{{"k", fresh}}));
    EXPECT_EQ(s->index->live_keys(), 1u);
  }
}

TEST(CheckpointTest, IndexValuesRoundTripAndMalformedOnesAreRefused) {
  Value v = Live(42, 10, {{3, 0, 4}, {9, 100, 6}});
  v.data_crc = 0xC0FFEE;
  std::string bytes;
  EncodeIndexValue(v, &bytes);
  EXPECT_EQ(bytes.size(), 24u + 2 * 12u);
  Value back;
  ASSERT_TRUE(DecodeIndexValue(bytes, &back));
  EXPECT_EQ(back.sequence, 42u);
  EXPECT_EQ(back.length, 10u);
  EXPECT_EQ(back.extents, v.extents);
  EXPECT_EQ(back.data_crc, 0xC0FFEEu);
  EXPECT_FALSE(back.deleted);
  EncodeIndexValue(Tombstone(7), &bytes);
  ASSERT_TRUE(DecodeIndexValue(bytes, &back));
  EXPECT_TRUE(back.deleted);
  EXPECT_EQ(back.sequence, 7u);

  EncodeIndexValue(v, &bytes);
  EXPECT_FALSE(DecodeIndexValue(bytes.substr(0, bytes.size() - 1), &back));  // ragged
  EXPECT_FALSE(DecodeIndexValue(bytes.substr(0, 8), &back));                 // short
  std::string bad = bytes;
  bad[8] = 11;  // length 11 but extents of 10 bytes
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad = bytes;
  bad[16] = 4;  // unknown flag
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad = bytes;
  bad[16] = 2;  // an expiry time the bytes do not hold (24 + 8 + 16 bytes of extents)
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad = bytes;
  bad[16] = 1;  // a tombstone with extents
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad = bytes;
  std::memset(bad.data(), 0, 8);  // sequence 0
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad = bytes;
  bad[20] = 1;  // reserved
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
}

// A value's type (a hash's header) round-trips in byte 17; a string's entry is encoded as before
// it; a type above kMaxValueType, or one on a tombstone, is malformed.
TEST(CheckpointTest, ValueTypesRoundTripInIndexValues) {
  Value v = Live(42, 10, {{3, 0, 4}, {9, 100, 6}});
  std::string string_bytes;
  EncodeIndexValue(v, &string_bytes);
  EXPECT_EQ(string_bytes[17], 0);
  v.type = ValueType::kHash;
  std::string bytes;
  EncodeIndexValue(v, &bytes);
  EXPECT_EQ(bytes.size(), string_bytes.size());
  Value back;
  ASSERT_TRUE(DecodeIndexValue(bytes, &back));
  EXPECT_EQ(back.type, ValueType::kHash);
  ASSERT_TRUE(DecodeIndexValue(string_bytes, &back));
  EXPECT_EQ(back.type, ValueType::kString);
  std::string bad = bytes;
  bad[17] = static_cast<char>(kMaxValueType + 1);
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  Value t = Tombstone(9);
  t.type = ValueType::kHash;  // a tombstone carries no type
  EncodeIndexValue(t, &bytes);
  EXPECT_EQ(bytes[17], 0);
  bad = bytes;
  bad[17] = 1;
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
}

TEST(CheckpointTest, ExpiryTimesRoundTripInIndexValues) {
  Value v = Live(42, 10, {{3, 0, 4}, {9, 100, 6}});
  v.expire_ms = 4000000000123;
  std::string bytes;
  EncodeIndexValue(v, &bytes);
  EXPECT_EQ(bytes.size(), 24u + 8u + 2 * 12u);
  Value back;
  ASSERT_TRUE(DecodeIndexValue(bytes, &back));
  EXPECT_EQ(back.expire_ms, 4000000000123);
  EXPECT_EQ(back.extents, v.extents);
  v.expire_ms = 0;
  EncodeIndexValue(v, &bytes);
  EXPECT_EQ(bytes.size(), 24u + 2 * 12u) << "a value without a time is encoded as before";
  back.expire_ms = 5;
  ASSERT_TRUE(DecodeIndexValue(bytes, &back));
  EXPECT_EQ(back.expire_ms, 0);
  Value t = Tombstone(9);
  t.expire_ms = 77;  // a tombstone carries no time
  EncodeIndexValue(t, &bytes);
  EXPECT_EQ(bytes.size(), 24u);
  std::string bad(32, '\0');
  bad[0] = 1;
  bad[16] = 2;  // expiry time 0
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
  bad[16] = 3;  // a tombstone with a time
  bad[24] = 1;
  EXPECT_FALSE(DecodeIndexValue(bad, &back));
}

// A kExpire's Apply (only_if) replaces exactly the value it names; values with an expiry time stay
// in memory through checkpoints (the sweep finds them there) and come back into memory at a start,
// so that CollectExpired sees every expired key; counts and times survive a restart.
TEST(CheckpointTest, ExpiringValuesStayInMemoryAndExpireOnlyTheValueTheyName) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  StoreFiles files = SmallFiles(dir);
  files.index_cache_keys = 0;  // a checkpoint keeps nothing else in memory
  const int64_t past = 1000, future = 4000000000000;
  const auto expired_now = [](const OpenedStore& s, int64_t now) {
    std::map<std::string, uint64_t> out;
    size_t cursor = 0;
    s.index->CollectExpired(now, &cursor, 1 << 20, [&](std::string_view k, uint64_t seq) {
      out.emplace(std::string(k), seq);
      return true;
    });
    return out;
  };
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const std::string v = "value";
    Write(*s, 0, 0, "plain", &v);
    Write(*s, 0, 0, "soon", &v, 1, past);
    Write(*s, 0, 0, "later", &v, 1, future);
    Write(*s, 0, 0, "rewritten", &v, 1, past);
    EXPECT_EQ(s->index->expiring_keys(), 3u);
    std::map<std::string, uint64_t> due = expired_now(*s, 2000);
    ASSERT_EQ(due.size(), 2u);
    ASSERT_EQ(due.count("soon"), 1u);
    ASSERT_EQ(due.count("rewritten"), 1u);
    // "rewritten" gets a new value before its expiry is applied: the expiry loses.
    Write(*s, 0, 0, "rewritten", &v);
    Value gone = Tombstone(s->log->next_sequence());
    Value loser = s->index->Apply("rewritten", gone, due["rewritten"]);
    EXPECT_TRUE(loser.deleted) << "the kExpire itself lost";
    EXPECT_TRUE(s->index->Contains("rewritten", 2000));
    loser = s->index->Apply("soon", Tombstone(s->log->next_sequence() + 1), due["soon"]);
    EXPECT_FALSE(loser.deleted) << "the expired value lost";
    for (const Extent& e : loser.extents) {
      ASSERT_TRUE(s->pool->Unretain(e.buffer).ok());
    }
    EXPECT_FALSE(s->index->Contains("soon"));
    EXPECT_EQ(s->index->expiring_keys(), 1u);
    uint64_t expired = 0;
    EXPECT_FALSE(s->index->Contains("later", future, &expired));
    EXPECT_NE(expired, 0u);
    EXPECT_TRUE(s->index->Contains("later", future - 1));
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed) << step.status().ToString();
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
    EXPECT_EQ(s->index->map_keys(), 1u) << "only the value with an expiry time stays in memory";
    EXPECT_EQ(expired_now(*s, future).count("later"), 1u);
  }
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_EQ(s->index->live_keys(), 3u);
  EXPECT_EQ(s->index->expiring_keys(), 1u);
  EXPECT_EQ(s->index->map_keys(), 1u) << "loaded from the index file into memory at start";
  Value got;
  ASSERT_TRUE(s->index->GetAndRetain("later", *s->pool, &got));
  EXPECT_EQ(got.expire_ms, future);
  for (const Extent& e : got.extents) {
    ASSERT_TRUE(s->pool->Unretain(e.buffer).ok());
  }
  EXPECT_EQ(expired_now(*s, future).count("later"), 1u);
  EXPECT_TRUE(expired_now(*s, future - 1).empty());
  EXPECT_EQ(Contents(*s).size(), 3u);
}

TEST(CheckpointTest, ANewPoolReplacesAnIndexFileLeftWithoutItsPoolAndLog) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    const std::string v = "old";
    Write(*s, 0, 0, "k", &v);
    ASSERT_TRUE(s->index->Checkpoint(100, s->log->next_sequence() - 1).ok());
    EXPECT_EQ(s->tree->entries(), 1u);
  }
  ASSERT_EQ(::unlink(files.pool_path.c_str()), 0);
  ASSERT_EQ(::unlink(Log::PathForPool(files.pool_path).c_str()), 0);
  Result<OpenedStore> s = OpenOrCreate(files);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  EXPECT_TRUE(s->created);
  EXPECT_EQ(s->tree->entries(), 0u);
  EXPECT_EQ(s->index->live_keys(), 0u);
  EXPECT_FALSE(s->index->Contains("k"));
}

TEST(CheckpointTest, AnIndexFileOfAnotherPoolIsRefused) {
  TempDir a;
  TempDir b;
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_TRUE(OpenOrCreate(SmallFiles(a)).ok());
  ASSERT_TRUE(OpenOrCreate(SmallFiles(b)).ok());
  const std::string a_index = BTree::PathForPool(SmallFiles(a).pool_path);
  const std::string b_index = BTree::PathForPool(SmallFiles(b).pool_path);
  ASSERT_EQ(::rename(a_index.c_str(), b_index.c_str()), 0);
  Result<OpenedStore> s = OpenOrCreate(SmallFiles(b));
  ASSERT_FALSE(s.ok());
  EXPECT_EQ(s.status().code(), StatusCode::kCorruption);
  EXPECT_NE(s.status().message().find("belongs to another pool"), std::string::npos)
      << s.status().ToString();
}

// --- A start that serves before it has read the index file (RecoverStoreFast, RunWarmUp).

// 200 keys checkpointed (every tenth with an expiry time), then a log tail that overwrites k0,
// deletes k1 and adds k300; the files are left as a crash leaves them.
std::map<std::string, std::string> CheckpointedWithATail(const StoreFiles& files,
                                                         int64_t expire_ms) {
  std::map<std::string, std::string> want;
  Result<OpenedStore> s = OpenOrCreate(files);
  EXPECT_TRUE(s.ok()) << s.status().ToString();
  if (!s.ok()) {
    return want;
  }
  for (int i = 0; i < 200; ++i) {
    const std::string k = "k" + std::to_string(i);
    const std::string v = "value of " + k;
    Write(*s, 0, 0, k, &v, 1, i % 10 == 0 ? expire_ms : 0);
    want[k] = v;
  }
  Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
  EXPECT_TRUE(step.ok() && step->committed);
  EXPECT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
  const std::string v0 = "new value of k0";
  Write(*s, 0, 0, "k0", &v0);
  want["k0"] = v0;
  Write(*s, 0, 0, "k1", nullptr);
  want.erase("k1");
  const std::string v300 = "value of k300";
  Write(*s, 0, 0, "k300", &v300);
  want["k300"] = v300;
  return want;
}

TEST(WarmUpTest, WritesWhileTheIndexFileIsReadKeepEveryReferenceAndCount) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  const int64_t later = 4'000'000'000'000;  // an expiry time far ahead (ms since the epoch)
  std::map<std::string, std::string> want = CheckpointedWithATail(files, later);
  {
    Result<OpenedStore> s = OpenOrCreate(files, /*keep_warm_up=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_NE(s->warm, nullptr) << "the buffer map of the commit was not found";
    EXPECT_FALSE(s->index->warm());
    EXPECT_FALSE(s->tree->verified());
    EXPECT_EQ(s->recovered.log.records, 3u);
    // The counts are right before the tree was read: the commit's, less what the tail replaced.
    EXPECT_EQ(s->index->live_keys(), want.size());
    EXPECT_EQ(s->index->expiring_keys(), 19u);  // k0 of the twenty was overwritten without one
    Result<Index::CheckpointStep> refused = s->index->Checkpoint(1000, 1);
    ASSERT_FALSE(refused.ok());
    EXPECT_EQ(refused.status().code(), StatusCode::kFailedPrecondition);
    // Meanwhile the loops serve: overwrites and deletes of values only the tree holds (their
    // references are not counted yet), reads, new keys.
    for (int i = 2; i < 60; ++i) {
      const std::string k = "k" + std::to_string(i);
      if (i % 3 == 0) {
        Write(*s, 0, 0, k, nullptr);
        want.erase(k);
      } else {
        const std::string v = "rewritten " + k;
        Write(*s, 0, 0, k, &v, 2);
        want[k] = v;
      }
    }
    for (int i = 400; i < 450; ++i) {
      const std::string k = "k" + std::to_string(i);
      const std::string v = "new " + k;
      Write(*s, 0, 0, k, &v);
      want[k] = v;
    }
    Value got;
    ASSERT_TRUE(s->index->GetAndRetain("k150", *s->pool, &got));
    EXPECT_EQ(
        std::string(reinterpret_cast<const char*>(s->pool->BufferData(got.extents[0].buffer)) +
                        got.extents[0].offset,
                    got.length),
        "value of k150");
    for (const Extent& e : got.extents) {
      ASSERT_TRUE(s->pool->Unretain(e.buffer).ok());
    }
    EXPECT_EQ(s->index->live_keys(), want.size());
    ASSERT_TRUE(RunWarmUp(*s->pool, *s->tree, *s->index, *s->warm, nullptr).ok());
    EXPECT_TRUE(s->index->warm());
    EXPECT_TRUE(s->tree->verified());
    // Every buffer holds exactly the references of the extents that name it (no hold left, none
    // freed early, none handed out twice), and the counts are what a full start finds.
    EXPECT_EQ(Contents(*s), want);
    EXPECT_EQ(s->index->live_keys(), want.size());
    uint64_t expiring = 0;
    for (int i = 0; i < 200; i += 10) {
      expiring += i >= 60 ? 1 : 0;  // k0..k50 were rewritten without an expiry time or deleted
    }
    EXPECT_EQ(s->index->expiring_keys(), expiring);
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed) << step.status().ToString();
  }
  // The next start finds the commit made after the warm-up (not truncated: the tail replays).
  Result<OpenedStore> again = OpenOrCreate(files);
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_TRUE(again->index->warm());
  EXPECT_EQ(Contents(*again), want);
  EXPECT_EQ(again->index->live_keys(), want.size());
}

TEST(WarmUpTest, WithoutAWholeBufferMapOfTheCommitTheStartReadsTheIndexFileFirst) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  const std::map<std::string, std::string> want = CheckpointedWithATail(files, 0);
  const std::string map_path = BufferMap::PathForPool(files.pool_path);
  {
    Result<OpenedStore> s = OpenOrCreate(files, /*keep_warm_up=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_NE(s->warm, nullptr);
  }
  for (const char* how : {"a flipped bit in the committed slot's bitmap", "no buffer map file"}) {
    SCOPED_TRACE(how);
    if (std::string(how).starts_with("a flipped")) {
      Result<OpenedStore> probe = OpenOrCreate(files, /*keep_warm_up=*/true);
      ASSERT_TRUE(probe.ok());
      const uint64_t epoch = probe->tree->epoch();
      const uint64_t slot_bytes =
          (BufferMap::FileSize(probe->pool->buffer_count()) - kBufferMapBitsOffset) / 2;
      probe = Status::Corruption("closed");  // the files are let go
      FILE* f = ::fopen(map_path.c_str(), "r+b");
      ASSERT_NE(f, nullptr);
      const long at = static_cast<long>(kBufferMapBitsOffset + (epoch % 2) * slot_bytes);
      ASSERT_EQ(::fseek(f, at, SEEK_SET), 0);
      const int c = ::fgetc(f);
      ASSERT_EQ(::fseek(f, at, SEEK_SET), 0);
      ::fputc(c ^ 1, f);
      ::fclose(f);
    } else {
      ASSERT_EQ(::unlink(map_path.c_str()), 0);
    }
    Result<OpenedStore> s = OpenOrCreate(files, /*keep_warm_up=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    EXPECT_EQ(s->warm, nullptr);  // a full start
    EXPECT_TRUE(s->tree->verified());
    EXPECT_TRUE(s->index->warm());
    EXPECT_EQ(Contents(*s), want);
  }
}

TEST(WarmUpTest, AStoreServesWhileItsWarmUpThreadReadsTheIndexFile) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  StoreFiles files = SmallFiles(dir);
  const std::map<std::string, std::string> want = CheckpointedWithATail(files, 0);
  std::mutex mu;
  std::condition_variable cv;
  bool go = false;
  files.warm_up_hold = [&] {
    std::unique_lock lock(mu);
    cv.wait(lock, [&] { return go; });
  };
  Result<std::unique_ptr<Store>> st = Store::Open(files);
  ASSERT_TRUE(st.ok()) << st.status().ToString();
  Store& store = **st;
  EXPECT_TRUE(store.start().warming);
  EXPECT_TRUE(store.warming());
  EXPECT_EQ(store.live_keys(), want.size());
  Value v;
  ASSERT_TRUE(store.Get("k77", &v));
  EXPECT_EQ(v.length, std::string("value of k77").size());
  for (const Extent& e : v.extents) {
    ASSERT_TRUE(store.pool().Unretain(e.buffer).ok());
  }
  {
    std::lock_guard lock(mu);
    go = true;
  }
  cv.notify_all();
  EXPECT_TRUE(store.WaitWarm());
  EXPECT_FALSE(store.warming());
  EXPECT_EQ(store.live_keys(), want.size());
  EXPECT_EQ(store.pool().Counts().retained, store.live_keys());  // one buffer a value here
}

TEST(WarmUpTest, TheApplicationsOwnKeysAreCountedApartAtEveryStart) {
  // pastel-kv's DBSIZE is the live keys less those from kInternalKeysFrom on: both counts change
  // in one step of the index, and every kind of start finds them.
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const StoreFiles files = SmallFiles(dir);
  const int64_t later = 4'000'000'000'000;
  std::set<std::string> user, internal;
  const auto write = [&](OpenedStore& s, const std::string& k, bool put, int64_t expire_ms = 0) {
    const std::string v = "value of " + k;
    Write(s, 0, 0, k, put ? &v : nullptr, 1, expire_ms);
    std::set<std::string>& in = IsInternalKey(k) ? internal : user;
    if (put) {
      in.insert(k);
    } else {
      in.erase(k);
    }
  };
  const auto field = [](int i) { return std::string("\xff\xff", 2) + "f" + std::to_string(i); };
  const auto check = [&](const Index& index) {
    EXPECT_EQ(index.live_keys(), user.size() + internal.size());
    EXPECT_EQ(index.live_user_keys(), user.size());
  };
  {
    Result<OpenedStore> s = OpenOrCreate(files);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    for (int i = 0; i < 30; ++i) {
      write(*s, "u" + std::to_string(i), true);
      // (every fifth internal key with an expiry time: a full start loads those apart)
      write(*s, field(i), true, i % 5 == 0 ? later : 0);
    }
    write(*s, std::string("\xff\xfc", 2) + "user", true);  // below the namespace: the user's
    write(*s, std::string("\xff\xfd", 2), true);           // its first key
    check(*s->index);
    Result<Index::CheckpointStep> step = s->index->Checkpoint(1000, s->log->next_sequence() - 1);
    ASSERT_TRUE(step.ok() && step->committed);
    ASSERT_TRUE(s->log->stream(0).Truncate(s->log->next_sequence() - 1).ok());
    // The log's tail: internal keys deleted, rewritten and added, a user key deleted.
    write(*s, field(0), false);
    write(*s, field(1), false);
    write(*s, field(2), true);
    write(*s, field(100), true);
    write(*s, "u0", false);
    write(*s, field(1), false);  // deleting an absent key changes nothing
    check(*s->index);
  }
  {
    Result<OpenedStore> s = OpenOrCreate(files, /*keep_warm_up=*/true);
    ASSERT_TRUE(s.ok()) << s.status().ToString();
    ASSERT_NE(s->warm, nullptr);
    SCOPED_TRACE("a start that serves before it has read the index file");
    check(*s->index);
    write(*s, field(3), false);  // a tree value not counted by the warm-up yet
    write(*s, field(200), true);
    write(*s, "u1", false);
    check(*s->index);
    ASSERT_TRUE(RunWarmUp(*s->pool, *s->tree, *s->index, *s->warm, nullptr).ok());
    check(*s->index);
  }
  ASSERT_EQ(::unlink(BufferMap::PathForPool(files.pool_path).c_str()), 0);
  Result<OpenedStore> s = OpenOrCreate(files, /*keep_warm_up=*/true);
  ASSERT_TRUE(s.ok()) << s.status().ToString();
  ASSERT_EQ(s->warm, nullptr);
  SCOPED_TRACE("a full start");
  check(*s->index);
}

TEST(StoreTest, OnARegularFileThePoolAndTheLogAreMappedForSmallWritesOnceRecovered) {
  // docs/formats/pool.md, "On block storage": the recovery reads with the kernel's read-around,
  // then the pool and the log (written in small pieces) get none; the index file keeps it.
  TempDir dir("/var/tmp");
  ASSERT_TRUE(dir.ok());
  for (int start = 0; start < 2; ++start) {
    SCOPED_TRACE(start == 0 ? "created" : "reopened");
    Result<std::unique_ptr<Store>> st = Store::Open(SmallFiles(dir));
    ASSERT_TRUE(st.ok()) << st.status().ToString();
    const Store& s = **st;
    ASSERT_NE(s.pool().file(), nullptr);
    EXPECT_EQ(s.pool().file()->medium(), Medium::kFile);
    EXPECT_TRUE(testing::RandomAccess(s.pool().file()->data()))
        << testing::VmFlagsOf(s.pool().file()->data());
    EXPECT_TRUE(testing::RandomAccess(s.log().file()->data()))
        << testing::VmFlagsOf(s.log().file()->data());
  }
}

}  // namespace
}  // namespace pastel::store
