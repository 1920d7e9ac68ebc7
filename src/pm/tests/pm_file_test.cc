#include <gtest/gtest.h>
#include <sys/stat.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "pastel/pm.h"
#include "tests/support/smaps.h"
#include "tests/support/temp_dir.h"

namespace pastel {
namespace {

using testing::TempDir;

TEST(PmFileTest, TmpfsIsEmulatedPersistentMemory) {
  TempDir dir("/dev/shm");
  ASSERT_TRUE(dir.ok());
  Result<PmFile> f = PmFile::Create(dir.File("a"), 1 << 20);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->medium(), Medium::kEmulated);
  EXPECT_EQ(f->granularity(), Granularity::kCacheLine);
  EXPECT_EQ(f->size(), size_t{1} << 20);
  EXPECT_NE(f->DescribeDurability().find("NOT a power cut"), std::string::npos);
  EXPECT_EQ(f->ops().name(), FlushInstrName(BestFlushInstr()));
}

TEST(PmFileTest, RegularFileHasPageGranularity) {
  TempDir dir("/var/tmp");
  ASSERT_TRUE(dir.ok());
  Result<PmFile> f = PmFile::Create(dir.File("a"), 1 << 20);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_EQ(f->medium(), Medium::kFile);
  EXPECT_EQ(f->granularity(), Granularity::kPage);
  EXPECT_EQ(f->ops().name(), "msync");
  std::memset(f->data() + 5000, 0xAB, 3000);
  EXPECT_TRUE(f->ops().Persist(f->data() + 5000, 3000).ok());
  // A range outside the mapping is a caller bug, reported, not synced.
  EXPECT_EQ(f->ops().Flush(f->data() + f->size() - 10, 100).code(), StatusCode::kInvalidArgument);
}

TEST(PmFileTest, AFileWrittenInSmallPiecesGetsNoReadAround) {
  // docs/formats/pool.md, "On block storage": on a regular file the mapping is marked for random
  // access (VmFlags "rr": a fault brings one page, so folios stay small); on tmpfs nothing.
  for (const char* where : {"/var/tmp", "/dev/shm"}) {
    SCOPED_TRACE(where);
    TempDir dir(where);
    ASSERT_TRUE(dir.ok());
    Result<PmFile> f = PmFile::Create(dir.File("a"), 1 << 20);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    ASSERT_NE(testing::VmFlagsOf(f->data()), "") << "no mapping in /proc/self/smaps";
    EXPECT_FALSE(testing::RandomAccess(f->data())) << testing::VmFlagsOf(f->data());
    f->PreferSmallFolios();
    const bool file = f->medium() == Medium::kFile;
    EXPECT_EQ(testing::RandomAccess(f->data()), file) << testing::VmFlagsOf(f->data());
    EXPECT_EQ(testing::RandomAccess(f->data() + f->size() - 1), file);
  }
}

TEST(PmFileTest, PageOpsAreSharedByThreads) {
  // The loops of a server share one mapping's ops: concurrent flushes and drains (run this under
  // the tsan preset to check the locking) all succeed and every thread's bytes reach the file.
  TempDir dir("/var/tmp");
  ASSERT_TRUE(dir.ok());
  const std::string path = dir.File("a");
  constexpr int kThreads = 4;
  constexpr int kRounds = 200;
  {
    Result<PmFile> f = PmFile::Create(path, 1 << 20);
    ASSERT_TRUE(f.ok()) << f.status().ToString();
    std::vector<std::thread> threads;
    std::atomic<int> failures{0};
    for (int t = 0; t < kThreads; ++t) {
      threads.emplace_back([&, t] {
        for (int r = 0; r < kRounds; ++r) {
          uint8_t* at = f->data() + (t * kRounds + r) * 256;
          std::memset(at, t + 1, 256);
          if (!f->ops().Flush(at, 256).ok() || !f->ops().Drain().ok()) {
            failures.fetch_add(1);
          }
        }
      });
    }
    for (auto& th : threads) {
      th.join();
    }
    EXPECT_EQ(failures.load(), 0);
  }
  Result<PmFile> f = PmFile::Open(path);
  ASSERT_TRUE(f.ok());
  for (int t = 0; t < kThreads; ++t) {
    EXPECT_EQ(f->data()[(t * kRounds + kRounds - 1) * 256 + 255], t + 1);
  }
}

TEST(PmFileTest, CreateIsExclusiveAndPrivate) {
  TempDir dir;
  const std::string path = dir.File("pool");
  ASSERT_TRUE(PmFile::Create(path, 8192).ok());
  struct stat st {};
  ASSERT_EQ(::stat(path.c_str(), &st), 0);
  EXPECT_EQ(st.st_mode & 0777, 0600u);
  EXPECT_EQ(PmFile::Create(path, 8192).status().code(), StatusCode::kAlreadyExists);
  EXPECT_EQ(PmFile::Create(dir.File("empty"), 0).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(PmFile::Open(dir.File("missing")).status().code(), StatusCode::kNotFound);
  EXPECT_EQ(PmFile::Open(dir.path()).status().code(), StatusCode::kInvalidArgument);
}

TEST(PmFileTest, PersistedBytesAreThereAfterReopen) {
  TempDir dir;
  const std::string path = dir.File("pool");
  {
    Result<PmFile> f = PmFile::Create(path, 1 << 16);
    ASSERT_TRUE(f.ok());
    const char msg[] = "durable in place";
    ASSERT_TRUE(f->ops().MemcpyPersist(f->data() + 4096, msg, sizeof(msg)).ok());
  }
  PmOpenOptions ro;
  ro.read_only = true;
  Result<PmFile> f = PmFile::Open(path, ro);
  ASSERT_TRUE(f.ok()) << f.status().ToString();
  EXPECT_TRUE(f->read_only());
  EXPECT_STREQ(reinterpret_cast<const char*>(f->data() + 4096), "durable in place");
}

TEST(PmFileTest, MoveKeepsTheMapping) {
  TempDir dir;
  Result<PmFile> f = PmFile::Create(dir.File("pool"), 8192);
  ASSERT_TRUE(f.ok());
  uint8_t* data = f->data();
  PmFile moved = std::move(f).value();
  EXPECT_EQ(moved.data(), data);
  data[0] = 1;
  EXPECT_TRUE(moved.ops().Persist(data, 1).ok());
}

TEST(PmFileTest, ForcedGranularity) {
  TempDir dir;
  PmOpenOptions o;
  o.force_granularity = true;
  o.granularity = Granularity::kPage;
  o.page_sync = PageSync::kFdatasync;
  Result<PmFile> f = PmFile::Create(dir.File("pool"), 8192, o);
  ASSERT_TRUE(f.ok());
  EXPECT_EQ(f->granularity(), Granularity::kPage);
  EXPECT_EQ(f->ops().name(), "fdatasync");
  f->data()[100] = 7;
  EXPECT_TRUE(f->ops().Persist(f->data() + 100, 1).ok());
}

TEST(PersistOpsTest, EveryFlushInstructionTheCpuHas) {
  alignas(64) static uint8_t buf[4096];
  int tried = 0;
  for (FlushInstr i : {FlushInstr::kClwb, FlushInstr::kClflushopt, FlushInstr::kClflush}) {
    if (!CpuHasFlushInstr(i)) {
      continue;
    }
    ++tried;
    auto ops = MakeCacheLineOps(i);
    std::memset(buf, tried, sizeof(buf));
    EXPECT_TRUE(ops->Persist(buf + 3, sizeof(buf) - 3).ok());
    EXPECT_EQ(buf[100], tried);
  }
  if (tried == 0) {
    GTEST_SKIP() << "this CPU has none of clwb, clflushopt, clflush";
  }
  auto fence = MakeFenceOnlyOps();
  EXPECT_EQ(fence->granularity(), Granularity::kByte);
  EXPECT_TRUE(fence->Persist(buf, 64).ok());
}

}  // namespace
}  // namespace pastel
