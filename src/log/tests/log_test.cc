#include "pastel/log.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <string>
#include <vector>

#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "tests/support/mem_store.h"
#include "tests/support/temp_dir.h"

namespace pastel {
namespace {

using testing::MemStore;
using testing::StoreShape;
using testing::TempDir;

std::string Value(size_t n, char seed) {
  std::string v(n, '\0');
  for (size_t i = 0; i < n; ++i) {
    v[i] = static_cast<char>(seed + static_cast<char>(i * 7));
  }
  return v;
}

// put + commit + retain, as a server would; returns the extents.
std::vector<Extent> Put(MemStore& s, const std::string& key, const std::string& value,
                        uint32_t stream = 0) {
  Result<std::vector<Extent>> ext = s.WriteValue(value, s.pool().PartitionOf(0));
  EXPECT_TRUE(ext.ok()) << ext.status().ToString();
  Result<uint64_t> seq = s.log().stream(stream).AppendPut(key, *ext);
  EXPECT_TRUE(seq.ok()) << seq.status().ToString();
  Result<CommitInfo> c = s.log().stream(stream).Commit();
  EXPECT_TRUE(c.ok()) << c.status().ToString();
  s.ApplyDurable(key, &*ext);
  return *ext;
}

void Del(MemStore& s, const std::string& key, uint32_t stream = 0) {
  ASSERT_TRUE(s.log().stream(stream).AppendDelete(key).ok());
  ASSERT_TRUE(s.log().stream(stream).Commit().ok());
  s.ApplyDurable(key, nullptr);
}

// Cuts power now (only fenced lines survive), recovers, and checks the result against the index
// the test kept: same keys, same bytes, consistent ownership.
std::unique_ptr<MemStore> CrashAndCheck(MemStore& s, Recovered* rec_out = nullptr) {
  Recovered rec;
  Result<std::unique_ptr<MemStore>> r =
      MemStore::Recover(s.shape(), s.ops().CrashImage(), {}, &rec);
  EXPECT_TRUE(r.ok()) << r.status().ToString();
  if (!r.ok()) {
    return nullptr;
  }
  MemStore& n = **r;
  EXPECT_EQ(rec.live.size(), s.index().size());
  for (const auto& [key, ext] : s.index()) {
    auto it = rec.live.find(key);
    if (it == rec.live.end()) {
      ADD_FAILURE() << "acknowledged key lost: " << key;
      continue;
    }
    EXPECT_EQ(n.ReadValue(it->second.extents), s.ReadValue(ext)) << key;
  }
  EXPECT_TRUE(VerifyOwnership(n.pool(), rec.live).ok());
  EXPECT_TRUE(rec.corruption.empty());
  n.AdoptLive(rec.live);
  if (rec_out != nullptr) {
    *rec_out = std::move(rec);
  }
  return std::move(r).value();
}

TEST(LogTest, SmallPutIsOneCacheLine) {
  auto s = MemStore::Fresh({});
  Put(*s, "/k123", "v");
  EXPECT_EQ(s->log().stream(0).tail(), kStreamRecordsOffset + 64);
}

TEST(LogTest, CommittedPutsSurviveACrash) {
  auto s = MemStore::Fresh({});
  for (int i = 0; i < 20; ++i) {
    Put(*s, "key" + std::to_string(i), Value(100 + i * 37, static_cast<char>(i)));
  }
  Recovered rec;
  auto n = CrashAndCheck(*s, &rec);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(rec.records, 20u);
  EXPECT_EQ(rec.streams[0].batches, 20u);
  EXPECT_EQ(rec.streams[0].end, ScanEnd::kZeroed);
  EXPECT_EQ(rec.next_sequence, 21u);
}

TEST(LogTest, OverwriteAndDeleteReplayInOrder) {
  auto s = MemStore::Fresh({});
  Put(*s, "a", "one");
  Put(*s, "b", "two");
  Put(*s, "a", "three");
  Del(*s, "b");
  Put(*s, "c", "four");
  Del(*s, "c");
  Put(*s, "c", "five");
  EXPECT_EQ(s->pool().Counts().retained, 2u) << "old values' buffers were given back";
  auto n = CrashAndCheck(*s);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->index().size(), 2u);
  EXPECT_EQ(n->ReadValue(n->index()["a"]), "three");
  EXPECT_EQ(n->ReadValue(n->index()["c"]), "five");
}

TEST(LogTest, ValueSpanningBuffers) {
  StoreShape shape;
  shape.buffer_size = 512;
  auto s = MemStore::Fresh(shape);
  const std::string big = Value(512 * 9 + 100, 'x');
  std::vector<Extent> ext = Put(*s, "big", big);
  EXPECT_EQ(ext.size(), 10u);
  Recovered rec;
  auto n = CrashAndCheck(*s, &rec);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(rec.live["big"].value_len, big.size());
  EXPECT_EQ(rec.live["big"].extents, ext);
}

TEST(LogTest, ExtentsMayShareABuffer) {
  // Pipelined requests: two values in one receive buffer, each kept by its own record.
  auto s = MemStore::Fresh({});
  uint32_t b = *s->pool().Allocate(0);
  std::memcpy(s->pool().BufferData(b), "AAAABBBBBB", 10);
  std::vector<Extent> a{{b, 0, 4}}, bb{{b, 4, 6}};
  ASSERT_TRUE(s->log().stream(0).AppendPut("a", a).ok());
  ASSERT_TRUE(s->log().stream(0).AppendPut("b", bb).ok());
  Result<CommitInfo> c = s->log().stream(0).Commit();
  ASSERT_TRUE(c.ok());
  EXPECT_EQ(c->records, 2u);
  EXPECT_EQ(c->value_bytes, 10u);
  EXPECT_EQ(c->last_sequence, c->first_sequence + 1);
  s->ApplyDurable("a", &a);
  s->ApplyDurable("b", &bb);
  EXPECT_EQ(s->pool().refs(b), 2u);
  auto n = CrashAndCheck(*s);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(n->pool().refs(b), 2u);
}

TEST(LogTest, StreamsMergeBySequence) {
  StoreShape shape;
  shape.streams = 3;
  shape.partitions = 3;
  shape.buffer_count = 300;
  auto s = MemStore::Fresh(shape);
  // The same keys written from different streams; the latest sequence wins.
  for (int i = 0; i < 60; ++i) {
    const uint32_t stream = static_cast<uint32_t>(i % 3);
    Result<std::vector<Extent>> ext = s->WriteValue(Value(50, static_cast<char>(i)), stream);
    ASSERT_TRUE(ext.ok());
    ASSERT_TRUE(s->log().stream(stream).AppendPut("k" + std::to_string(i % 7), *ext).ok());
    ASSERT_TRUE(s->log().stream(stream).Commit().ok());
    s->ApplyDurable("k" + std::to_string(i % 7), &*ext);
  }
  Recovered rec;
  auto n = CrashAndCheck(*s, &rec);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(rec.records, 60u);
  EXPECT_EQ(rec.streams.size(), 3u);
  EXPECT_EQ(rec.live["k6"].stream, 55u % 3);
}

TEST(LogTest, UncommittedBatchIsNotRecovered) {
  auto s = MemStore::Fresh({});
  Put(*s, "kept", "durable");
  Result<std::vector<Extent>> ext = s->WriteValue("never acknowledged");
  ASSERT_TRUE(ext.ok());
  ASSERT_TRUE(s->log().stream(0).AppendPut("lost", *ext).ok());
  ASSERT_TRUE(s->log().stream(0).AppendDelete("kept").ok());
  // No Commit: even if every written line reached the media, the batch has no end and is dropped.
  std::mt19937_64 rng(7);
  Recovered rec;
  Result<std::unique_ptr<MemStore>> r =
      MemStore::Recover(s->shape(), s->ops().CrashImage(&rng, 1.0), {}, &rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(rec.live.count("lost"), 0u);
  ASSERT_EQ(rec.live.count("kept"), 1u);
  EXPECT_EQ((*r)->ReadValue(rec.live["kept"].extents), "durable");
  EXPECT_EQ(rec.streams[0].end, ScanEnd::kTorn);
  EXPECT_EQ(rec.streams[0].discarded_records, 2u);
  EXPECT_TRUE(VerifyOwnership((*r)->pool(), rec.live).ok());
}

TEST(LogTest, AppendsContinueAfterRecoveryOverTheZeroedTail) {
  auto s = MemStore::Fresh({});
  Put(*s, "a", "1");
  Result<std::vector<Extent>> ext = s->WriteValue("torn");
  ASSERT_TRUE(s->log().stream(0).AppendPut("t", *ext).ok());
  std::mt19937_64 rng(1);
  Recovered rec;
  auto r = MemStore::Recover(s->shape(), s->ops().CrashImage(&rng, 1.0), {}, &rec);
  ASSERT_TRUE(r.ok());
  MemStore& n = **r;
  n.AdoptLive(rec.live);
  const uint64_t tail = n.log().stream(0).tail();
  EXPECT_EQ(tail, kStreamRecordsOffset + 64);
  // The torn record's line was zeroed durably, so a new, shorter batch cannot sit beside it.
  EXPECT_EQ(n.ops().CrashImage()[n.shape().pool_bytes() + kLogHeaderRegion + tail], 0);
  Put(n, "b", "2");
  Result<uint64_t> seq = n.log().stream(0).AppendDelete("zzz");
  ASSERT_TRUE(seq.ok());
  EXPECT_GT(*seq, 2u) << "sequences continue past every record seen, torn ones included";
  ASSERT_TRUE(n.log().stream(0).Commit().ok());
  auto again = CrashAndCheck(n);
  ASSERT_NE(again, nullptr);
  EXPECT_EQ(again->ReadValue(again->index()["b"]), "2");
}

TEST(LogTest, FullStreamSaysNoSpaceAndTruncateStartsOver) {
  StoreShape shape;
  shape.stream_size = 8192;  // 126 one-line records
  auto s = MemStore::Fresh(shape);
  uint32_t b = *s->pool().Allocate(0);
  std::memcpy(s->pool().BufferData(b), "v", 1);
  const std::vector<Extent> ext{{b, 0, 1}};
  int n = 0;
  while (true) {
    Result<uint64_t> seq = s->log().stream(0).AppendPut("k", ext);
    if (!seq.ok()) {
      EXPECT_EQ(seq.status().code(), StatusCode::kNoSpace);
      break;
    }
    ++n;
  }
  EXPECT_EQ(n, static_cast<int>((8192 - kStreamRecordsOffset) / 64));
  EXPECT_EQ(s->log().stream(0).free_bytes(), 0u);
  EXPECT_EQ(s->log().stream(0).capacity(), 8192 - LogStream::records_begin());
  ASSERT_TRUE(s->log().stream(0).Commit().ok());
  EXPECT_EQ(s->log().stream(0).Truncate(5).code(), StatusCode::kOk);
  EXPECT_EQ(s->log().stream(0).generation(), 2u);
  ASSERT_TRUE(s->log().stream(0).AppendPut("after", ext).ok());
  EXPECT_EQ(s->log().stream(0).Truncate(9).code(), StatusCode::kFailedPrecondition) << "open batch";
  ASSERT_TRUE(s->log().stream(0).Commit().ok());

  Recovered rec;
  auto r = MemStore::Recover(shape, s->ops().CrashImage(), {}, &rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(rec.streams[0].generation, 2u);
  EXPECT_EQ(rec.streams[0].checkpoint_seq, 5u);
  EXPECT_EQ(rec.records, 1u) << "records before the checkpoint are stale";
  EXPECT_EQ(rec.live.count("after"), 1u);
  EXPECT_EQ(rec.streams[0].end, ScanEnd::kStale);
  EXPECT_GT(rec.next_sequence, static_cast<uint64_t>(n));
}

TEST(LogTest, FailedFenceMakesEverythingReadOnly) {
  auto s = MemStore::Fresh({});
  Put(*s, "a", "1");
  s->ops().FailDrainsFrom(s->ops().drain_count());
  Result<std::vector<Extent>> ext = s->WriteValue("2");
  ASSERT_TRUE(s->log().stream(0).AppendPut("b", *ext).ok());
  Result<CommitInfo> c = s->log().stream(0).Commit();
  ASSERT_FALSE(c.ok());
  EXPECT_EQ(c.status().code(), StatusCode::kIoError);
  EXPECT_TRUE(s->log().stream(0).read_only());
  EXPECT_TRUE(s->pool().read_only());
  EXPECT_EQ(s->pool().read_only_reason().code(), StatusCode::kIoError);
  EXPECT_EQ(s->log().stream(0).AppendPut("c", *ext).status().code(), StatusCode::kReadOnly);
  EXPECT_EQ(s->log().stream(0).Commit().status().code(), StatusCode::kReadOnly);
  EXPECT_EQ(s->log().stream(0).Truncate(1).code(), StatusCode::kReadOnly);
  // What was acknowledged before the failure is still there.
  Recovered rec;
  auto r = MemStore::Recover(s->shape(), s->ops().CrashImage(), {}, &rec);
  ASSERT_TRUE(r.ok());
  EXPECT_EQ(rec.live.count("a"), 1u);
  EXPECT_EQ(rec.live.count("b"), 0u);
}

TEST(LogTest, RejectsBadAppends) {
  auto s = MemStore::Fresh({});
  LogStream& st = s->log().stream(0);
  uint32_t b = *s->pool().Allocate(0);
  const std::vector<Extent> ok{{b, 0, 10}};
  EXPECT_EQ(st.AppendPut("", ok).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.AppendPut(std::string(kMaxKeyLen + 1, 'k'), ok).status().code(),
            StatusCode::kInvalidArgument);
  EXPECT_TRUE(st.AppendPut(std::string(kMaxKeyLen, 'k'), ok).ok());
  const std::vector<Extent> past_end{{b, 500, 13}};
  EXPECT_EQ(st.AppendPut("k", past_end).status().code(), StatusCode::kInvalidArgument);
  const std::vector<Extent> no_buffer{{100000, 0, 1}};
  EXPECT_EQ(st.AppendPut("k", no_buffer).status().code(), StatusCode::kInvalidArgument);
  const std::vector<Extent> empty_extent{{b, 0, 0}};
  EXPECT_EQ(st.AppendPut("k", empty_extent).status().code(), StatusCode::kInvalidArgument);
  const std::vector<Extent> free_buffer{{b + 1, 0, 1}};
  EXPECT_EQ(st.AppendPut("k", free_buffer).status().code(), StatusCode::kFailedPrecondition)
      << "a free buffer cannot hold a value";
  std::vector<Extent> too_many(3000, Extent{b, 0, 1});
  EXPECT_EQ(st.AppendPut("k", too_many).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.pending_records(), 1u);
}

TEST(LogTest, EmptyValueAndEmptyCommit) {
  auto s = MemStore::Fresh({});
  Result<CommitInfo> none = s->log().stream(0).Commit();
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->records, 0u);
  const std::vector<Extent> empty;
  ASSERT_TRUE(s->log().stream(0).AppendPut("empty", empty).ok());
  ASSERT_TRUE(s->log().stream(0).Commit().ok());
  s->ApplyDurable("empty", &empty);
  Recovered rec;
  auto n = CrashAndCheck(*s, &rec);
  ASSERT_NE(n, nullptr);
  EXPECT_EQ(rec.live["empty"].value_len, 0u);
}

TEST(LogTest, RecoverOnlyOnceAndOnlyOnARecoveringPool) {
  auto s = MemStore::Fresh({});
  EXPECT_EQ(s->log().Recover().status().code(), StatusCode::kFailedPrecondition);
}

TEST(LogTest, LogOfAnotherPoolIsRefused) {
  auto a = MemStore::Fresh({});
  auto b = MemStore::Fresh({});
  // b's log region against a's pool: uuids differ.
  Result<std::unique_ptr<Log>> l =
      Log::Attach(b->log_region(), b->shape().log_bytes(), b->ops(), a->pool());
  ASSERT_FALSE(l.ok());
  EXPECT_EQ(l.status().code(), StatusCode::kCorruption);
  EXPECT_NE(l.status().message().find("another pool"), std::string::npos);
}

TEST(LogTest, FilesCreateOpenRecover) {
  TempDir dir;
  const std::string pool_path = dir.File("p.pool");
  PoolParams pp;
  pp.buffer_count = 64;
  std::vector<Extent> ext;
  {
    auto pool = Pool::Create(pool_path, 0, pp);
    ASSERT_TRUE(pool.ok());
    auto log = Log::Create(Log::PathForPool(pool_path), {2, 16384}, **pool);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    uint32_t b = *(*pool)->Allocate(0);
    std::memcpy((*pool)->BufferData(b), "persisted", 9);
    ext = {{b, 0, 9}};
    ASSERT_TRUE((*log)->stream(1).AppendPut("/file", ext).ok());
    ASSERT_TRUE((*log)->stream(1).Commit().ok());
  }
  {
    // Read-only inspection may not repair (write) anything.
    PmOpenOptions ro;
    ro.read_only = true;
    auto pool = Pool::Open(pool_path, ro);
    ASSERT_TRUE(pool.ok());
    auto log = Log::Open(Log::PathForPool(pool_path), **pool, ro);
    ASSERT_TRUE(log.ok());
    EXPECT_EQ((*log)->Recover().status().code(), StatusCode::kFailedPrecondition);
    RecoveryOptions inspect;
    inspect.repair = false;
    Result<Recovered> rec = (*log)->Recover(inspect);
    ASSERT_TRUE(rec.ok()) << rec.status().ToString();
    EXPECT_EQ(rec->live.size(), 1u);
    EXPECT_FALSE((*log)->recovered()) << "no appends after a read-only recovery";
  }
  auto pool = Pool::Open(pool_path);
  ASSERT_TRUE(pool.ok());
  auto log = Log::Open(Log::PathForPool(pool_path), **pool);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  Result<Recovered> rec = (*log)->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  ASSERT_EQ(rec->live.count("/file"), 1u);
  EXPECT_EQ(rec->live["/file"].extents, ext);
  EXPECT_EQ(std::memcmp((*pool)->BufferData(ext[0].buffer), "persisted", 9), 0);
  EXPECT_TRUE(VerifyOwnership(**pool, rec->live).ok());
  EXPECT_EQ((*pool)->state(ext[0].buffer), BufferState::kRetained);
  EXPECT_EQ(Log::Open(dir.File("none"), **pool).status().code(), StatusCode::kNotFound);
}

// Recovery zeroes what follows the last whole batch of each stream (a torn batch's lines), but
// never touches the never-written rest of the log file: on tmpfs that would allocate and clear
// every page of it (a 1 GiB log made a start take seconds longer).
TEST(LogTest, RecoveryRepairsTheTornTailAndLeavesHolesUntouched) {
  TempDir dir;
  ASSERT_TRUE(dir.ok());
  const std::string pool_path = dir.File("p.pool");
  const uint64_t stream_size = 1 << 20;
  PoolParams pp;
  pp.buffer_count = 64;
  uint64_t garbage_at = 0;
  {
    auto pool = Pool::Create(pool_path, 0, pp);
    ASSERT_TRUE(pool.ok());
    auto log = Log::Create(Log::PathForPool(pool_path), {2, stream_size}, **pool);
    ASSERT_TRUE(log.ok()) << log.status().ToString();
    uint32_t b = *(*pool)->Allocate(0);
    std::memcpy((*pool)->BufferData(b), "kept", 4);
    const Extent e{b, 0, 4};
    ASSERT_TRUE((*log)->stream(0).AppendPut("/k", {&e, 1}).ok());
    ASSERT_TRUE((*log)->stream(0).Commit().ok());
    // Bytes after the last batch, as a batch torn by a crash leaves them (never committed).
    garbage_at = kLogHeaderRegion + (*log)->stream(0).tail() + 2 * kRecordAlign;
    std::memset((*log)->file()->data() + garbage_at, 0xA5, kRecordAlign);
  }
  auto pool = Pool::Open(pool_path);
  ASSERT_TRUE(pool.ok());
  auto log = Log::Open(Log::PathForPool(pool_path), **pool);
  ASSERT_TRUE(log.ok()) << log.status().ToString();
  Result<Recovered> rec = (*log)->Recover();
  ASSERT_TRUE(rec.ok()) << rec.status().ToString();
  EXPECT_EQ(rec->live.count("/k"), 1u);
  const uint8_t* line = (*log)->file()->data() + garbage_at;
  EXPECT_TRUE(std::all_of(line, line + kRecordAlign, [](uint8_t c) { return c == 0; }))
      << "the torn line after the last batch is zeroed";
  // The second half of each stream was never written: still holes after recovery.
  const int fd = (*log)->file()->fd();
  for (uint64_t s = 0; s < 2; ++s) {
    const off_t half = static_cast<off_t>(kLogHeaderRegion + s * stream_size + stream_size / 2);
    const off_t data = ::lseek(fd, half, SEEK_DATA);
    const off_t next_stream = static_cast<off_t>(kLogHeaderRegion + (s + 1) * stream_size);
    EXPECT_TRUE(data < 0 || data >= next_stream)
        << "stream " << s << ": recovery wrote or read the never-written page at " << data;
  }
  // And the log appends on.
  uint32_t b = *(*pool)->Allocate(0);
  const Extent e{b, 0, 1};
  ASSERT_TRUE((*log)->stream(0).AppendPut("/after", {&e, 1}).ok());
  ASSERT_TRUE((*log)->stream(0).Commit().ok());
}

TEST(LogTest, ForEachRecordVisitsWholeBatches) {
  auto s = MemStore::Fresh({});
  Put(*s, "x", "1");
  Put(*s, "y", "22");
  Del(*s, "x");
  std::vector<std::string> seen;
  std::string detail;
  ScanEnd end = s->log().ForEachRecord(
      0,
      [&](const RecordView& v) {
        seen.push_back(std::string(v.type == RecordType::kPut ? "put " : "del ") +
                       std::string(v.key));
        EXPECT_TRUE(v.batch_end);
        return true;
      },
      &detail);
  EXPECT_EQ(end, ScanEnd::kZeroed);
  EXPECT_EQ(seen, (std::vector<std::string>{"put x", "put y", "del x"}));
}

// Expiry times ride in the record's word, and a kExpire removes a key only while the put it names
// is the write in force: an expiry that lost to a later write of its key changes nothing.
TEST(LogExpiryTest, ExpiryTimesAndConditionalExpiresReplayAsWritten) {
  auto s = MemStore::Fresh({});
  LogStream& st = s->log().stream(0);
  const auto put = [&](const std::string& key, const std::string& value, int64_t expire_ms) {
    Result<std::vector<Extent>> ext = s->WriteValue(value, 0);
    EXPECT_TRUE(ext.ok());
    Result<uint64_t> seq = st.AppendPut(key, *ext, expire_ms);
    EXPECT_TRUE(seq.ok()) << seq.status().ToString();
    EXPECT_TRUE(st.Commit().ok());
    s->ApplyDurable(key, &*ext);
    return *seq;
  };
  const auto expire = [&](const std::string& key, uint64_t target, bool applies) {
    ASSERT_TRUE(st.AppendExpire(key, target).ok());
    ASSERT_TRUE(st.Commit().ok());
    if (applies) {
      s->ApplyDurable(key, nullptr);
    }
  };
  put("keep", "kept with its time", 4000000000000);
  put("plain", "no time", 0);
  const uint64_t gone = put("gone", "expired", 1000);
  expire("gone", gone, /*applies=*/true);
  const uint64_t old = put("later", "first", 2000);
  put("later", "second, no time", 0);
  expire("later", old, /*applies=*/false);  // lost to the later write
  expire("never", 1, /*applies=*/false);    // no such key
  EXPECT_EQ(st.AppendPut("k", {}, -1).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.AppendExpire("k", 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(st.AppendExpire("k", 100).status().code(), StatusCode::kInvalidArgument)
      << "a target not written yet";
  // The word takes 8 bytes: a put of a 4-byte key with one extent and an expiry time is one cache
  // line, as a kExpire of a key of up to 16 bytes.
  EXPECT_EQ(LogStream::record_bytes(4, 1, true), 64u);
  EXPECT_EQ(LogStream::record_bytes(5, 1, true), 128u);
  EXPECT_EQ(LogStream::record_bytes(16, 0, true), 64u);

  std::vector<std::string> seen;
  s->log().ForEachRecord(0, [&](const RecordView& v) {
    seen.push_back(v.type == RecordType::kExpire
                       ? "expire " + std::string(v.key) + " of " + std::to_string(v.target)
                       : std::string(v.key) + " at " + std::to_string(v.expire_ms));
    return true;
  });
  EXPECT_EQ(seen, (std::vector<std::string>{"keep at 4000000000000", "plain at 0", "gone at 1000",
                                            "expire gone of 3", "later at 2000", "later at 0",
                                            "expire later of 5", "expire never of 1"}));
  Recovered rec;
  auto n = CrashAndCheck(*s, &rec);
  ASSERT_NE(n, nullptr);
  ASSERT_EQ(rec.live.size(), 3u);
  EXPECT_EQ(rec.live["keep"].expire_ms, 4000000000000);
  EXPECT_EQ(rec.live["plain"].expire_ms, 0);
  EXPECT_EQ(rec.live["later"].expire_ms, 0);
  EXPECT_EQ(n->ReadValue(rec.live["later"].extents), "second, no time");
  ASSERT_EQ(rec.deleted.size(), 1u);
  EXPECT_EQ(rec.deleted[0].first, "gone");
}

// A kExpire of a value the checkpoint under the log holds (RecoveryOptions::base_sequence) removes
// it; one of an older value of the key does not.
TEST(LogExpiryTest, AnExpireOfTheCheckpointsValueDeletesIt) {
  auto s = MemStore::Fresh({});
  LogStream& st = s->log().stream(0);
  for (int i = 0; i < 8; ++i) {
    Put(*s, "other", "v");  // sequences 1..8
  }
  ASSERT_TRUE(st.AppendExpire("in-tree", 7).ok());
  ASSERT_TRUE(st.AppendExpire("older", 5).ok());
  ASSERT_TRUE(st.Commit().ok());
  RecoveryOptions o;
  o.base_sequence = [](std::string_view key) -> uint64_t {
    return key == "in-tree" ? 7 : key == "older" ? 6 : 0;
  };
  Recovered rec;
  Result<std::unique_ptr<MemStore>> r =
      MemStore::Recover(s->shape(), s->ops().CrashImage(), o, &rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(rec.deleted.size(), 1u);
  EXPECT_EQ(rec.deleted[0].first, "in-tree");
  EXPECT_EQ(rec.live.size(), 1u);  // "other"
}

// A log written before records had words (version 1), value types (version 2), lists (version 3)
// or sorted sets (version 4) is read as it is, and says version 5 once opened for appending, so
// that an older binary refuses it rather than misread an expiry record or a composite's header.
TEST(LogExpiryTest, AnOlderLogBecomesVersionFiveWhenOpenedForAppending) {
  for (uint32_t version : {1u, 2u, 3u, 4u}) {
    auto s = MemStore::Fresh({});
    Put(*s, "a", "old record");
    auto& h = const_cast<LogHeader&>(s->log().header());
    h.version = version;
    h.checksum = Crc32c(&h, kLogHeaderChecksummedBytes);
    ASSERT_TRUE(s->log().ops().Flush(&h, sizeof(h)).ok());
    ASSERT_TRUE(s->log().ops().Drain().ok());
    Recovered rec;
    Result<std::unique_ptr<MemStore>> r =
        MemStore::Recover(s->shape(), s->ops().CrashImage(), {}, &rec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(rec.live.size(), 1u);
    EXPECT_EQ((*r)->log().header().version, 5u);
    Result<std::unique_ptr<MemStore>> again =
        MemStore::Recover((*r)->shape(), (*r)->ops().CrashImage(), {}, &rec);
    ASSERT_TRUE(again.ok()) << "the upgrade was durable and checksummed";
    EXPECT_EQ((*again)->log().header().version, 5u);
  }
}

// A put's value type is carried through the record and recovery; a type above kMaxValueType is
// refused at the append.
TEST(LogExpiryTest, AValueTypeSurvivesRecovery) {
  auto s = MemStore::Fresh({});
  Put(*s, "plain", "string");
  Result<std::vector<Extent>> ext = s->WriteValue("header", s->pool().PartitionOf(0));
  ASSERT_TRUE(ext.ok());
  ASSERT_TRUE(s->log().stream(0).AppendPut("h", *ext, 0, ValueType::kHash).ok());
  ASSERT_TRUE(s->log().stream(0).Commit().ok());
  s->ApplyDurable("h", &*ext);
  EXPECT_FALSE(
      s->log().stream(0).AppendPut("bad", *ext, 0, static_cast<ValueType>(kMaxValueType + 1)).ok());
  Recovered rec;
  Result<std::unique_ptr<MemStore>> r =
      MemStore::Recover(s->shape(), s->ops().CrashImage(), {}, &rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  ASSERT_EQ(rec.live.size(), 2u);
  EXPECT_EQ(rec.live.at("h").value_type, ValueType::kHash);
  EXPECT_EQ(rec.live.at("plain").value_type, ValueType::kString);
}

TEST(VerifyOwnershipTest, FindsMismatches) {
  auto s = MemStore::Fresh({});
  Put(*s, "a", "1");
  LiveMap live;
  live["a"].extents = s->index()["a"];
  EXPECT_TRUE(VerifyOwnership(s->pool(), live).ok());
  uint32_t stray = *s->pool().Allocate(0);
  EXPECT_EQ(VerifyOwnership(s->pool(), live).code(), StatusCode::kCorruption);
  ASSERT_TRUE(s->pool().Release(stray).ok());
  live["b"].extents = {{stray, 0, 1}};
  Status st = VerifyOwnership(s->pool(), live);
  EXPECT_EQ(st.code(), StatusCode::kCorruption);
  EXPECT_NE(st.message().find("buffer " + std::to_string(stray) + " is free"), std::string::npos);
}

}  // namespace
}  // namespace pastel

namespace pastel {
namespace {

TEST(LogCompactionTest, CopiesKeepTheirSequenceAndRecoverAsOne) {
  StoreShape shape;
  shape.streams = 2;
  auto s = testing::MemStore::Fresh(shape);
  Put(*s, "a", "first");
  Put(*s, "b", "bee");
  Put(*s, "a", "second");
  Del(*s, "b");
  // Copy stream 0's live records (a@3, the tombstone b@4) into stream 1, as compaction does.
  std::vector<uint64_t> copied;
  LogStream& dst = s->log().stream(1);
  const std::vector<uint64_t> live_seqs = {3, 4};
  s->log().ForEachRecord(0, [&](const RecordView& r) {
    if (std::find(live_seqs.begin(), live_seqs.end(), r.sequence) != live_seqs.end()) {
      Result<uint64_t> seq = dst.AppendCopy(r);
      EXPECT_TRUE(seq.ok()) << seq.status().ToString();
      copied.push_back(*seq);
    }
    return true;
  });
  EXPECT_EQ(copied, live_seqs);
  // The values were durable since their originals' commit: the copies' batch flushes its record
  // lines (one range) and nothing else.
  const uint64_t flushes = s->ops().flush_count();
  ASSERT_TRUE(dst.Commit().ok());
  EXPECT_EQ(s->ops().flush_count() - flushes, 1u);
  RecordView older;
  older.sequence = 2;
  older.key = "x";
  EXPECT_EQ(dst.AppendCopy(older).status().code(), StatusCode::kInvalidArgument)
      << "sequences must increase within a stream";

  // A crash now leaves both the originals and the copies: they recover as one.
  auto both = CrashAndCheck(*s);
  ASSERT_NE(both, nullptr);
  // Then the compacted stream is truncated: the copies alone carry the state.
  ASSERT_TRUE(s->log().stream(0).Truncate(4).ok());
  Recovered rec;
  auto after = CrashAndCheck(*s, &rec);
  ASSERT_NE(after, nullptr);
  EXPECT_EQ(after->ReadValue(after->index()["a"]), "second");
  EXPECT_EQ(rec.records, 2u);
  // New writes continue above every sequence seen.
  Put(*after, "c", "new");
  EXPECT_EQ(after->log().next_sequence(), 6u);
}

TEST(LogCompactionTest, TwoDifferentRecordsWithOneSequenceAreCorruption) {
  StoreShape shape;
  shape.streams = 2;
  auto s = testing::MemStore::Fresh(shape);
  Put(*s, "a", "value");
  RecordView forged;
  forged.sequence = 1;
  forged.type = RecordType::kDelete;
  forged.key = "zzz";
  ASSERT_TRUE(s->log().stream(1).AppendCopy(forged).ok());
  ASSERT_TRUE(s->log().stream(1).Commit().ok());
  Recovered rec;
  auto r = testing::MemStore::Recover(shape, s->ops().CrashImage(), {}, &rec);
  ASSERT_FALSE(r.ok());
  EXPECT_NE(r.status().message().find("different records"), std::string::npos);
}

}  // namespace
}  // namespace pastel
