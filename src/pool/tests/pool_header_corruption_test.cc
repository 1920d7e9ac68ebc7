// The table of damaged pool headers (leveldb log_test style): every case must be refused with a
// clear kCorruption, never a crash and never a pool that opens with wrong geometry.

#include <gtest/gtest.h>

#include <cstddef>
#include <cstring>
#include <functional>
#include <string>

#include "pastel/crc32c.h"
#include "pastel/pool.h"
#include "pm/recording_persist_ops.h"
#include "pool/pool_format.h"
#include "tests/support/aligned_buffer.h"

namespace pastel {
namespace {

using testing::AlignedBuffer;

constexpr uint32_t kCount = 8;
constexpr uint32_t kSize = 1024;

AlignedBuffer FormattedPool() {
  AlignedBuffer mem(Pool::RegionSize(kSize, kCount));
  RecordingPersistOps ops(mem.data(), mem.size());
  PoolParams p;
  p.buffer_size = kSize;
  p.buffer_count = kCount;
  EXPECT_TRUE(Pool::Format(mem.data(), mem.size(), p, 3, ops).ok());
  return mem;
}

PoolHeader* Header(AlignedBuffer& m) {
  return reinterpret_cast<PoolHeader*>(m.data());
}
void Reseal(AlignedBuffer& m) {
  Header(m)->checksum = Crc32c(m.data(), kPoolHeaderChecksummedBytes);
}

struct Case {
  const char* name;
  std::function<void(AlignedBuffer&)> damage;
  uint64_t len_delta;  // bytes cut from the end of the region
  const char* expect;  // substring of the error message
};

TEST(PoolHeaderCorruptionTest, Table) {
  const Case cases[] = {
      {"all zeros", [](AlignedBuffer& m) { std::memset(m.data(), 0, 128); }, 0, "never formatted"},
      {"bad magic", [](AlignedBuffer& m) { m.data()[0] = 'X'; }, 0, "bad magic"},
      {"flip in generation", [](AlignedBuffer& m) { m.data()[16] ^= 1; }, 0, "checksum"},
      {"flip in buffer size", [](AlignedBuffer& m) { m.data()[41] ^= 0x10; }, 0, "checksum"},
      {"flip in checksum", [](AlignedBuffer& m) { m.data()[125] ^= 0x80; }, 0, "checksum"},
      {"flip in reserved", [](AlignedBuffer& m) { m.data()[100] ^= 4; }, 0, "checksum"},
      {"version from the future",
       [](AlignedBuffer& m) {
         Header(m)->version = 2;
         Reseal(m);
       },
       0, "version"},
      {"header size",
       [](AlignedBuffer& m) {
         Header(m)->header_size = 64;
         Reseal(m);
       },
       0, "header size"},
      {"buffer size not a power of two",
       [](AlignedBuffer& m) {
         Header(m)->buffer_size = 1000;
         Reseal(m);
       },
       0, "power of two"},
      {"buffer size too large",
       [](AlignedBuffer& m) {
         Header(m)->buffer_size = 1u << 20;
         Reseal(m);
       },
       0, "power of two"},
      {"count disagrees with file size",
       [](AlignedBuffer& m) {
         Header(m)->buffer_count = kCount + 1;
         Reseal(m);
       },
       0, "disagree"},
      {"zero buffers",
       [](AlignedBuffer& m) {
         Header(m)->buffer_count = 0;
         Header(m)->file_size = Header(m)->data_offset;
         Reseal(m);
       },
       0, "too few buffers"},
      {"zero generation",
       [](AlignedBuffer& m) {
         Header(m)->generation = 0;
         Reseal(m);
       },
       0, "zero generation"},
      {"misaligned data offset",
       [](AlignedBuffer& m) {
         Header(m)->data_offset = 100;
         Reseal(m);
       },
       0, "data offset"},
      {"data offset that wraps the size around",
       [](AlignedBuffer& m) {
         Header(m)->data_offset = 0 - uint64_t{kSize} * kCount;
         Header(m)->file_size = 0;
         Reseal(m);
       },
       0, "data offset"},
      {"flags set",
       [](AlignedBuffer& m) {
         Header(m)->flags = 1;
         Reseal(m);
       },
       0, "flags"},
      {"reserved set",
       [](AlignedBuffer& m) {
         Header(m)->reserved[3] = 1;
         Reseal(m);
       },
       0, "reserved"},
      {"partitions zero",
       [](AlignedBuffer& m) {
         Header(m)->partitions = 0;
         Reseal(m);
       },
       0, "partitions"},
      {"truncated by one buffer", [](AlignedBuffer&) {}, kSize, "truncated"},
      {"truncated into the header", [](AlignedBuffer&) {}, Pool::RegionSize(kSize, kCount) - 100,
       "too short"},
  };
  for (const Case& c : cases) {
    SCOPED_TRACE(c.name);
    AlignedBuffer mem = FormattedPool();
    c.damage(mem);
    RecordingPersistOps ops(mem.data(), mem.size());
    Result<std::unique_ptr<Pool>> p = Pool::Attach(mem.data(), mem.size() - c.len_delta, ops);
    ASSERT_FALSE(p.ok());
    EXPECT_EQ(p.status().code(), StatusCode::kCorruption);
    EXPECT_NE(p.status().message().find(c.expect), std::string::npos) << p.status().ToString();
  }
}

TEST(PoolHeaderCorruptionTest, EverySingleBitFlipIsDetected) {
  for (size_t bit = 0; bit < sizeof(PoolHeader) * 8; ++bit) {
    AlignedBuffer mem = FormattedPool();
    mem.data()[bit / 8] ^= static_cast<uint8_t>(1u << (bit % 8));
    EXPECT_FALSE(Pool::ReadHeader(mem.data(), mem.size()).ok()) << "bit " << bit;
  }
}

TEST(PoolHeaderCorruptionTest, UndamagedHeaderOpens) {
  AlignedBuffer mem = FormattedPool();
  RecordingPersistOps ops(mem.data(), mem.size());
  Result<std::unique_ptr<Pool>> p = Pool::Attach(mem.data(), mem.size(), ops);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_EQ((*p)->generation(), 3u);
  EXPECT_EQ((*p)->buffer_count(), kCount);
}

}  // namespace
}  // namespace pastel
