// The table of damaged logs (leveldb log_test style). For each case: what recovery keeps, how
// the stream's end is classified, and whether Recover fails with kCorruption.

#include <gtest/gtest.h>

#include <cstring>
#include <functional>
#include <string>
#include <vector>

#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "pastel/log.h"
#include "tests/support/mem_store.h"

namespace pastel {
namespace {

using testing::MemStore;
using testing::StoreShape;

// Five batches of two puts each: k0..k9, values "value-<i>" (one buffer each).
struct Fixture {
  Fixture() : s(MemStore::Fresh(shape)) {
    for (int b = 0; b < 5; ++b) {
      std::vector<std::pair<std::string, std::vector<Extent>>> batch;
      for (int i = 0; i < 2; ++i) {
        const std::string key = "k" + std::to_string(b * 2 + i);
        Result<std::vector<Extent>> ext = s->WriteValue("value-" + std::to_string(b * 2 + i));
        EXPECT_TRUE(ext.ok());
        EXPECT_TRUE(s->log().stream(0).AppendPut(key, *ext).ok());
        batch.emplace_back(key, *ext);
      }
      EXPECT_TRUE(s->log().stream(0).Commit().ok());
      for (auto& [k, e] : batch) {
        s->ApplyDurable(k, &e);
      }
    }
    image = s->ops().CrashImage();
  }
  // Offset in the image of record r (0..9) of stream 0: every record is one line.
  size_t RecordAt(int r) const {
    return shape.pool_bytes() + kLogHeaderRegion + kStreamRecordsOffset + size_t(r) * 64;
  }
  size_t ValueAt(int r) const {
    const std::vector<Extent>& e = s->index().at("k" + std::to_string(r));
    return static_cast<size_t>(s->pool().BufferData(e[0].buffer) - s->pool_region());
  }
  void Reseal(int r) {
    uint8_t* rec = &image[RecordAt(r)];
    const uint32_t zero = 0;
    uint32_t crc = Crc32cExtend(0, &zero, 4);
    crc = Crc32cExtend(crc, rec + 4, 60);
    std::memcpy(rec, &crc, 4);
  }

  StoreShape shape;
  std::unique_ptr<MemStore> s;
  std::vector<uint8_t> image;
};

struct Case {
  const char* name;
  std::function<void(Fixture&)> damage;
  bool fails;       // Recover (default options) fails with kCorruption
  int kept;         // records kept (when it does not fail)
  ScanEnd end;      // stream 0's end (when it does not fail)
  const char* msg;  // substring of the error or of the stream's detail
};

TEST(LogCorruptionTest, Table) {
  const Case cases[] = {
      {"clean", [](Fixture&) {}, false, 10, ScanEnd::kZeroed, ""},
      {"bit flip in the last record (torn tail)",
       [](Fixture& f) { f.image[f.RecordAt(9) + 9] ^= 1; }, false, 8, ScanEnd::kTorn, "checksum"},
      {"last line zeroed (batch end never reached the media)",
       [](Fixture& f) { std::memset(&f.image[f.RecordAt(9)], 0, 64); }, false, 8, ScanEnd::kTorn,
       "never completed"},
      {"first record of the last batch lost, second kept",
       [](Fixture& f) { std::memset(&f.image[f.RecordAt(8)], 0, 64); }, false, 8, ScanEnd::kZeroed,
       ""},
      {"garbage in the first record of the last batch",
       [](Fixture& f) { std::memset(&f.image[f.RecordAt(8)], 0x5C, 64); }, false, 8, ScanEnd::kTorn,
       "same batch"},
      {"bit flip in the middle of the log", [](Fixture& f) { f.image[f.RecordAt(3) + 30] ^= 0x40; },
       true, 0, ScanEnd::kCorruption, "whole later batch"},
      {"record rewritten with a bad extent and a good checksum",
       [](Fixture& f) {
         uint32_t huge = 1u << 30;
         std::memcpy(&f.image[f.RecordAt(5) + 40], &huge, 4);
         f.Reseal(5);
       },
       true, 0, ScanEnd::kCorruption, "outside the pool"},
      {"stale generation in a record",
       [](Fixture& f) {
         uint32_t gen = 7;
         std::memcpy(&f.image[f.RecordAt(6) + 16], &gen, 4);
         f.Reseal(6);
       },
       false, 6, ScanEnd::kStale, "generation 7"},
      {"sequence going backwards",
       [](Fixture& f) {
         uint64_t seq = 1;
         std::memcpy(&f.image[f.RecordAt(4) + 8], &seq, 8);
         f.Reseal(4);
       },
       false, 4, ScanEnd::kStale, "does not follow"},
      // Found by tests/fuzz/log_recover_fuzz: a sequence near 2^64 made the next appends wrap
      // to small sequences, which the next recovery dropped as stale (acknowledged writes lost).
      {"sequence beyond kMaxSequence in the last record, checksum good",
       [](Fixture& f) {
         const uint64_t seq = UINT64_MAX;
         std::memcpy(&f.image[f.RecordAt(9) + 8], &seq, 8);
         f.Reseal(9);
       },
       false, 8, ScanEnd::kTorn, "fields inconsistent"},
      {"old value bytes flipped (acknowledged batch)",
       [](Fixture& f) { f.image[f.ValueAt(2)] ^= 0x20; }, true, 0, ScanEnd::kZeroed,
       "fails its data checksum"},
      {"last batch's value never reached the media",
       [](Fixture& f) { f.image[f.ValueAt(9) + 3] ^= 0x01; }, false, 8, ScanEnd::kTorn,
       "never became durable"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    c.damage(f);
    Recovered rec;
    auto r = MemStore::Recover(f.shape, f.image, {}, &rec);
    if (c.fails) {
      ASSERT_FALSE(r.ok());
      EXPECT_EQ(r.status().code(), StatusCode::kCorruption);
      EXPECT_NE(r.status().message().find(c.msg), std::string::npos) << r.status().ToString();
      // The same image with tolerate_corruption reports it and keeps what is sound.
      RecoveryOptions o;
      o.tolerate_corruption = true;
      Recovered tol;
      auto t = MemStore::Recover(f.shape, f.image, o, &tol);
      ASSERT_TRUE(t.ok()) << t.status().ToString();
      ASSERT_FALSE(tol.corruption.empty());
      EXPECT_FALSE((*t)->log().recovered()) << "no appends on top of corruption";
      continue;
    }
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(rec.records, static_cast<uint64_t>(c.kept));
    EXPECT_EQ(rec.streams[0].end, c.end) << ScanEndName(rec.streams[0].end);
    EXPECT_NE(rec.streams[0].detail.find(c.msg), std::string::npos) << rec.streams[0].detail;
    // Whatever was kept is a prefix of whole batches with intact values.
    for (int i = 0; i < c.kept; ++i) {
      const std::string key = "k" + std::to_string(i);
      ASSERT_EQ(rec.live.count(key), 1u) << key;
      EXPECT_EQ((*r)->ReadValue(rec.live[key].extents), "value-" + std::to_string(i));
    }
    EXPECT_EQ(rec.live.size(), static_cast<size_t>(c.kept));
    EXPECT_TRUE(VerifyOwnership((*r)->pool(), rec.live).ok());
  }
}

TEST(LogCorruptionTest, HeaderDamage) {
  struct HCase {
    const char* name;
    std::function<void(Fixture&)> damage;
    uint64_t cut;
    const char* msg;
  };
  const HCase cases[] = {
      {"bad magic", [](Fixture& f) { f.image[f.shape.pool_bytes()] = 'Q'; }, 0, "bad magic"},
      {"flip in stream size", [](Fixture& f) { f.image[f.shape.pool_bytes() + 25] ^= 1; }, 0,
       "checksum"},
      {"truncated", [](Fixture&) {}, 4096, "truncated"},
      {"stream size that overflows the file size",
       [](Fixture& f) {
         uint8_t* h = &f.image[f.shape.pool_bytes()];
         const uint32_t count = 2;
         const uint64_t size = uint64_t{1} << 63;
         std::memcpy(h + 16, &count, 4);
         std::memcpy(h + 24, &size, 8);
         const uint32_t crc = Crc32c(h, 124);
         std::memcpy(h + 124, &crc, 4);
       },
       0, "out of range"},
      {"both stream header slots damaged",
       [](Fixture& f) {
         f.image[f.shape.pool_bytes() + kLogHeaderRegion + 8] ^= 1;
         std::memset(&f.image[f.shape.pool_bytes() + kLogHeaderRegion + 64], 0x11, 64);
       },
       0, "no valid header"},
      // Found by tests/fuzz/log_recover_fuzz: recovery used to take it and wrap next_sequence
      // to 0, so the writes after it were dropped as stale by the next recovery.
      {"checkpoint sequence beyond kMaxSequence, checksum good",
       [](Fixture& f) {
         uint8_t* slot = &f.image[f.shape.pool_bytes() + kLogHeaderRegion];
         const uint64_t seq = UINT64_MAX;
         std::memcpy(slot + 16, &seq, 8);
         const uint32_t crc = Crc32c(slot, 60);
         std::memcpy(slot + 60, &crc, 4);
       },
       0, "no valid header"},
      {"pool re-formatted under the log",
       [](Fixture& f) {
         f.image[24] ^= 1; /* pool uuid; reseal the pool header */
         const uint32_t crc = Crc32c(f.image.data(), 124);
         std::memcpy(&f.image[124], &crc, 4);
       },
       0, "another pool"},
  };
  for (const HCase& c : cases) {
    SCOPED_TRACE(c.name);
    Fixture f;
    c.damage(f);
    f.image.resize(f.image.size() - c.cut);
    StoreShape shape = f.shape;
    RecordingPersistOps ops(f.image.data(), f.image.size());
    auto pool = Pool::Attach(f.image.data(), shape.pool_bytes(), ops);
    ASSERT_TRUE(pool.ok()) << pool.status().ToString();
    auto log = Log::Attach(f.image.data() + shape.pool_bytes(), f.image.size() - shape.pool_bytes(),
                           ops, **pool);
    ASSERT_FALSE(log.ok());
    EXPECT_EQ(log.status().code(), StatusCode::kCorruption);
    EXPECT_NE(log.status().message().find(c.msg), std::string::npos) << log.status().ToString();
  }
}

// Found by tests/fuzz/log_recover_fuzz (regress-checkpoint-seq-at-max): a checkpoint of exactly
// kMaxSequence is valid, but the next write then got kMaxSequence + 1, which recovery takes for
// damage: the write was acknowledged and lost at the next start. The log now refuses it.
TEST(LogCorruptionTest, AtTheLastSequenceWritesAreRefusedNeverLost) {
  for (const uint64_t checkpoint : {kMaxSequence - 1, kMaxSequence}) {
    SCOPED_TRACE(checkpoint);
    Fixture f;
    uint8_t* slot = &f.image[f.shape.pool_bytes() + kLogHeaderRegion];
    std::memcpy(slot + 16, &checkpoint, 8);
    const uint32_t crc = Crc32c(slot, 60);
    std::memcpy(slot + 60, &crc, 4);
    Recovered rec;
    auto r = MemStore::Recover(f.shape, f.image, {}, &rec);
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(rec.next_sequence, checkpoint + 1);
    EXPECT_EQ(rec.live.size(), 10u);
    MemStore& s = **r;

    // The last sequence there is (kMaxSequence) is handed out once, and survives a restart.
    Result<std::vector<Extent>> ext = s.WriteValue("last");
    ASSERT_TRUE(ext.ok());
    Result<uint64_t> seq = s.log().stream(0).AppendPut("/last", *ext);
    if (checkpoint < kMaxSequence) {
      ASSERT_TRUE(seq.ok()) << seq.status().ToString();
      EXPECT_EQ(*seq, kMaxSequence);
      ASSERT_TRUE(s.log().stream(0).Commit().ok());
      ext = s.WriteValue("one too many");
      ASSERT_TRUE(ext.ok());
      seq = s.log().stream(0).AppendPut("/over", *ext);
    }
    ASSERT_FALSE(seq.ok());
    EXPECT_EQ(seq.status().code(), StatusCode::kReadOnly);
    EXPECT_NE(seq.status().message().find("exhausted"), std::string::npos)
        << seq.status().ToString();
    // The refusal is not a failure of the log: a delete is refused the same way, and what was
    // committed before it is recovered at the next start.
    EXPECT_EQ(s.log().stream(0).AppendDelete("/last").status().code(), StatusCode::kReadOnly);
    ASSERT_TRUE(s.log().stream(0).Commit().ok());
    Recovered again;
    auto r2 = MemStore::Recover(f.shape, s.ops().CrashImage(), {}, &again);
    ASSERT_TRUE(r2.ok()) << r2.status().ToString();
    EXPECT_TRUE(again.corruption.empty());
    EXPECT_EQ(again.live.count("/over"), 0u);
    if (checkpoint < kMaxSequence) {
      ASSERT_EQ(again.live.size(), 11u);
      ASSERT_EQ(again.live.count("/last"), 1u);
      EXPECT_EQ(again.live.at("/last").sequence, kMaxSequence);
      EXPECT_EQ((*r2)->ReadValue(again.live.at("/last").extents), "last");
    } else {
      EXPECT_EQ(again.live.size(), 10u);
    }
  }
}

TEST(LogCorruptionTest, TornTruncationKeepsTheOldGeneration) {
  Fixture f;
  // A truncation whose new header slot never became whole: the old slot stays in force.
  std::memset(&f.image[f.shape.pool_bytes() + kLogHeaderRegion + 64], 0xEE, 40);
  Recovered rec;
  auto r = MemStore::Recover(f.shape, f.image, {}, &rec);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(rec.streams[0].generation, 1u);
  EXPECT_EQ(rec.records, 10u);
}

TEST(LogCorruptionTest, EverySingleBitFlipInTheLastBatchIsCaught) {
  // No flip in the records of the last batch may yield a wrong value: either the batch is
  // dropped whole (torn) or, for bits that do not matter, everything is intact.
  Fixture base;
  for (size_t bit = 0; bit < 128 * 8; bit += 3) {
    Fixture f;
    f.image[f.RecordAt(8) + bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    Recovered rec;
    auto r = MemStore::Recover(f.shape, f.image, {}, &rec);
    ASSERT_TRUE(r.ok()) << "bit " << bit << ": " << r.status().ToString();
    EXPECT_EQ(rec.records, 8u) << "bit " << bit;
    for (const auto& [k, v] : rec.live) {
      EXPECT_EQ((*r)->ReadValue(v.extents), "value-" + k.substr(1)) << "bit " << bit;
    }
  }
}

}  // namespace
}  // namespace pastel
