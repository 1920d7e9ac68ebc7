#include "pastel/pool.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <cstring>
#include <set>
#include <thread>
#include <vector>

#include "pm/recording_persist_ops.h"
#include "pool/pool_format.h"
#include "tests/support/aligned_buffer.h"
#include "tests/support/temp_dir.h"

namespace pastel {
namespace {

using testing::AlignedBuffer;
using testing::TempDir;

struct MemPool {
  explicit MemPool(uint32_t count, uint32_t buffer_size = 2048, uint32_t partitions = 1)
      : mem(Pool::RegionSize(buffer_size, count)), ops(mem.data(), mem.size()) {
    PoolParams p;
    p.buffer_size = buffer_size;
    p.buffer_count = count;
    p.partitions = partitions;
    Status st = Pool::Format(mem.data(), mem.size(), p, 1, ops);
    EXPECT_TRUE(st.ok()) << st.ToString();
    Result<std::unique_ptr<Pool>> r = Pool::Attach(mem.data(), mem.size(), ops);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    pool = std::move(r).value();
  }
  AlignedBuffer mem;
  RecordingPersistOps ops;
  std::unique_ptr<Pool> pool;
};

TEST(PoolTest, FormatIsDurableAndAttachReadsIt) {
  MemPool m(16);
  // The header was persisted: a power cut right now keeps it.
  std::vector<uint8_t> img = m.ops.CrashImage();
  Result<PoolHeader> h = Pool::ReadHeader(img.data(), img.size());
  ASSERT_TRUE(h.ok()) << h.status().ToString();
  EXPECT_EQ(h->buffer_count, 16u);
  EXPECT_EQ(h->buffer_size, 2048u);
  EXPECT_EQ(h->generation, 1u);
  EXPECT_EQ(m.pool->buffer_count(), 16u);
  EXPECT_EQ(m.pool->BufferData(0), m.mem.data() + kPoolDataAlign);
  EXPECT_EQ(m.pool->BufferData(3), m.mem.data() + kPoolDataAlign + 3 * 2048);
  EXPECT_EQ(m.pool->IndexOf(m.pool->BufferData(5) + 100), 5u);
  EXPECT_EQ(m.pool->IndexOf(m.mem.data()), Pool::kNoBuffer);
}

TEST(PoolTest, NoAllocationWhileRecovering) {
  MemPool m(4);
  EXPECT_TRUE(m.pool->recovering());
  EXPECT_EQ(m.pool->Allocate(0).status().code(), StatusCode::kFailedPrecondition);
  // Recovery claims buffer 2 for a live record; it must never be handed out.
  ASSERT_TRUE(m.pool->Retain(2).ok());
  ASSERT_TRUE(m.pool->FinishRecovery().ok());
  EXPECT_EQ(m.pool->FinishRecovery().code(), StatusCode::kFailedPrecondition);
  std::set<uint32_t> got;
  while (true) {
    Result<uint32_t> b = m.pool->Allocate(0);
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), StatusCode::kNoSpace);
      break;
    }
    got.insert(*b);
  }
  EXPECT_EQ(got, (std::set<uint32_t>{0, 1, 3}));
  EXPECT_EQ(m.pool->state(2), BufferState::kRetained);
}

TEST(PoolTest, OwnershipTransitions) {
  MemPool m(4);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  Result<uint32_t> a = p.Allocate(0);
  ASSERT_TRUE(a.ok());
  EXPECT_EQ(*a, 0u) << "a fresh pool hands out the lowest index first";
  EXPECT_EQ(p.state(*a), BufferState::kApp);
  std::memset(p.BufferData(*a), 1, p.buffer_size());  // the app may write its buffer

  ASSERT_TRUE(p.LendToKernel(*a).ok());
  EXPECT_EQ(p.state(*a), BufferState::kKernel);
  EXPECT_EQ(p.Retain(*a).code(), StatusCode::kFailedPrecondition) << "kernel-owned";
  ASSERT_TRUE(p.ReturnFromKernel(*a).ok());

  ASSERT_TRUE(p.Retain(*a).ok());
  ASSERT_TRUE(p.Retain(*a).ok());
  EXPECT_EQ(p.refs(*a), 2u);
  EXPECT_EQ(p.Release(*a).code(), StatusCode::kFailedPrecondition) << "retained";
  EXPECT_EQ(p.LendToKernel(*a).code(), StatusCode::kFailedPrecondition);
  ASSERT_TRUE(p.Unretain(*a).ok());
  EXPECT_EQ(p.state(*a), BufferState::kRetained);
  ASSERT_TRUE(p.Unretain(*a).ok());
  EXPECT_EQ(p.state(*a), BufferState::kFree);
  EXPECT_EQ(p.Unretain(*a).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.Release(*a).code(), StatusCode::kFailedPrecondition) << "double free";
  EXPECT_EQ(p.Retain(*a).code(), StatusCode::kFailedPrecondition) << "free after recovery";
  EXPECT_EQ(p.Release(99).code(), StatusCode::kInvalidArgument);

  PoolCounts c = p.Counts();
  EXPECT_EQ(c.free, 4u);
  Result<uint32_t> k = p.Allocate(0, BufferState::kKernel);
  ASSERT_TRUE(k.ok());
  EXPECT_EQ(p.state(*k), BufferState::kKernel);
  EXPECT_TRUE(p.Release(*k).ok()) << "teardown takes buffers back from the kernel";
  EXPECT_EQ(p.Allocate(0, BufferState::kRetained).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(p.Allocate(7).status().code(), StatusCode::kInvalidArgument);
}

TEST(PoolTest, RetainedBufferIsNeverHandedOut) {
  MemPool m(8);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  std::vector<uint32_t> held;
  for (int i = 0; i < 8; ++i) {
    held.push_back(*p.Allocate(0));
  }
  // Keep the odd ones (the log retains them), give back the even ones, many times over.
  for (uint32_t b : held) {
    ASSERT_TRUE(b % 2 == 1 ? p.Retain(b).ok() : p.Release(b).ok());
  }
  for (int round = 0; round < 100; ++round) {
    std::vector<uint32_t> got;
    for (int i = 0; i < 4; ++i) {
      Result<uint32_t> b = p.Allocate(0);
      ASSERT_TRUE(b.ok());
      ASSERT_EQ(*b % 2, 0u);
      got.push_back(*b);
    }
    EXPECT_EQ(p.Allocate(0).status().code(), StatusCode::kNoSpace);
    for (uint32_t b : got) {
      ASSERT_TRUE(p.Release(b).ok());
    }
  }
  PoolCounts c = p.Counts();
  EXPECT_EQ(c.retained, 4u);
  EXPECT_EQ(c.free, 4u);
}

TEST(PoolTest, PartitionsSplitByIndexRange) {
  MemPool m(10, 512, 3);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  EXPECT_EQ(p.partitions(), 3u);
  uint32_t total = 0;
  // Each partition hands out its own buffers first.
  for (uint32_t part = 0; part < 3; ++part) {
    total += p.PartitionCount(part);
    EXPECT_EQ(p.FreeInPartition(part), p.PartitionCount(part));
    for (uint32_t i = 0; i < p.PartitionCount(part); ++i) {
      Result<uint32_t> b = p.Allocate(part);
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(p.PartitionOf(*b), part);
      EXPECT_GE(*b, p.PartitionFirst(part));
    }
  }
  EXPECT_EQ(total, 10u);
  for (uint32_t part = 0; part < 3; ++part) {
    EXPECT_FALSE(p.Allocate(part).ok());
  }
  // A buffer freed anywhere goes home to its own partition, whose floor (one buffer) keeps it
  // from the others.
  ASSERT_TRUE(p.Release(0).ok());
  EXPECT_EQ(p.FreeInPartition(0), 1u);
  EXPECT_EQ(p.FreeFor(1), 0u);
  EXPECT_FALSE(p.Allocate(1).ok());
  EXPECT_EQ(p.FreeFor(0), 1u);
  EXPECT_EQ(*p.Allocate(0), 0u);
}

// One thread's load can use the whole pool: a partition with none of its own buffers left borrows
// from the others, each of which keeps its floor (a sixteenth) for its own thread; borrowed
// buffers go home when freed.
TEST(PoolTest, APartitionThatRunsOutBorrowsFromTheOthersDownToTheirFloors) {
  MemPool m(256, 512, 4);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  ASSERT_EQ(p.PartitionCount(1), 64u);
  EXPECT_EQ(p.Floor(1), 4u);
  EXPECT_EQ(p.FreeFor(0), 64u + 3 * 60u);
  std::vector<uint32_t> got;
  std::set<uint32_t> seen;
  while (true) {
    Result<uint32_t> b = p.Allocate(0);
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), StatusCode::kNoSpace);
      break;
    }
    EXPECT_TRUE(seen.insert(*b).second) << "buffer " << *b << " handed out twice";
    EXPECT_EQ(p.state(*b), BufferState::kApp);
    // Its own first, then the next partitions', in turn.
    EXPECT_EQ(p.PartitionOf(*b), got.size() < 64 ? 0u : 1 + (got.size() - 64) / 60);
    got.push_back(*b);
  }
  ASSERT_EQ(got.size(), 64u + 3 * 60u);
  for (uint32_t q = 1; q < 4; ++q) {
    EXPECT_EQ(p.FreeInPartition(q), p.Floor(q));
  }
  EXPECT_EQ(p.FreeFor(0), 0u);
  // The floors are their owners': each takes its own.
  for (uint32_t q = 1; q < 4; ++q) {
    EXPECT_EQ(p.FreeFor(q), 4u);
    for (int i = 0; i < 4; ++i) {
      Result<uint32_t> b = p.Allocate(q);
      ASSERT_TRUE(b.ok());
      EXPECT_EQ(p.PartitionOf(*b), q);
    }
    EXPECT_FALSE(p.Allocate(q).ok());
  }
  // A borrowed buffer freed goes home, to partition 2, which lends only what it has above its
  // floor.
  const uint32_t borrowed = got[64 + 60];  // partition 2's first
  ASSERT_EQ(p.PartitionOf(borrowed), 2u);
  ASSERT_TRUE(p.Release(borrowed).ok());
  EXPECT_EQ(p.FreeInPartition(2), 1u);
  EXPECT_EQ(p.FreeFor(0), 0u);
  EXPECT_EQ(p.FreeFor(2), 1u);
  for (uint32_t i = 64 + 61; i < 64 + 66; ++i) {
    ASSERT_TRUE(p.Release(got[i]).ok());
  }
  EXPECT_EQ(p.FreeInPartition(2), 6u);
  EXPECT_EQ(p.FreeFor(0), 2u);
  EXPECT_TRUE(p.Allocate(0).ok());
  EXPECT_TRUE(p.Allocate(0).ok());
  EXPECT_FALSE(p.Allocate(0).ok());
  EXPECT_EQ(p.FreeInPartition(2), 4u);
}

// A freed buffer is handed out again before any buffer not used since the pool was opened, so
// that a server touches only as many pages as its load needs (no first-touch page faults across a
// whole fresh pool file, a small footprint in the caches and the TLB).
TEST(PoolTest, FreedBuffersAreReusedBeforeUntouchedOnes) {
  MemPool m(64);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  // Untouched buffers come in index order.
  std::vector<uint32_t> held;
  for (uint32_t i = 0; i < 8; ++i) {
    Result<uint32_t> b = p.Allocate(0);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b, i);
    held.push_back(*b);
  }
  // Freed ones first, most recently freed first, over and over: 10,000 allocations of a working
  // set of 8 never reach buffer 8.
  for (int round = 0; round < 10000; ++round) {
    const uint32_t give = held[static_cast<size_t>(round) % held.size()];
    ASSERT_TRUE(p.Release(give).ok());
    Result<uint32_t> b = p.Allocate(0);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b, give);
    held[static_cast<size_t>(round) % held.size()] = *b;
  }
  ASSERT_TRUE(p.Release(held[2]).ok());
  ASSERT_TRUE(p.Release(held[5]).ok());
  EXPECT_EQ(p.FreeInPartition(0), 58u);
  EXPECT_EQ(*p.Allocate(0), held[5]);
  EXPECT_EQ(*p.Allocate(0), held[2]);
  EXPECT_EQ(*p.Allocate(0), 8u);  // then the untouched ones again
  // Every buffer is still handed out once before the pool is empty.
  std::set<uint32_t> got;
  while (true) {
    Result<uint32_t> b = p.Allocate(0);
    if (!b.ok()) {
      EXPECT_EQ(b.status().code(), StatusCode::kNoSpace);
      break;
    }
    EXPECT_TRUE(got.insert(*b).second);
  }
  EXPECT_EQ(got.size(), 64u - 9u);  // all but the 9 held
  EXPECT_EQ(p.FreeInPartition(0), 0u);
}

TEST(PoolTest, OnARegularFileBuffersGoOutInFileOrderRoundThePartition) {
  // Page granularity (a file on a regular file system): what is received next lands in the next
  // pages of the file, so one sync covers a few sequential ranges.
  TempDir dir("/var/tmp");
  ASSERT_TRUE(dir.ok());
  PoolParams params;
  params.buffer_size = 512;
  params.partitions = 2;
  Result<std::unique_ptr<Pool>> r = Pool::Create(dir.File("p"), 4096 + 2 * 200 * 512, params);
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  Pool& p = **r;
  ASSERT_EQ(p.ops().granularity(), Granularity::kPage);
  EXPECT_TRUE(p.file_order());
  const uint32_t first = p.PartitionFirst(1);
  const uint32_t count = p.PartitionCount(1);
  std::vector<uint32_t> held;
  for (uint32_t i = 0; i < 10; ++i) {
    Result<uint32_t> b = p.Allocate(1);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b, first + i);
    held.push_back(*b);
  }
  // Freed buffers behind the cursor wait for it to come round; the cursor goes on in file order,
  // skipping what is in use, also when buffers are freed by another thread.
  ASSERT_TRUE(p.Release(held[3]).ok());
  std::thread([&] { ASSERT_TRUE(p.Release(held[7]).ok()); }).join();
  ASSERT_TRUE(p.Retain(held[8]).ok());
  EXPECT_EQ(p.FreeInPartition(1), count - 8);
  for (uint32_t i = 10; i < count; ++i) {
    Result<uint32_t> b = p.Allocate(1);
    ASSERT_TRUE(b.ok());
    EXPECT_EQ(*b, first + i);
  }
  EXPECT_EQ(*p.Allocate(1), held[3]);  // round again: the first free one from the start
  EXPECT_EQ(*p.Allocate(1), held[7]);
  EXPECT_EQ(p.FreeInPartition(1), 0u);
  // Partition 0 was never touched by any of it.
  EXPECT_EQ(p.FreeInPartition(0), p.PartitionCount(0));
  EXPECT_EQ(*p.Allocate(0), p.PartitionFirst(0));
  // Partition 1, out of its own, borrows partition 0's, in partition 0's file order too.
  EXPECT_EQ(*p.Allocate(1), p.PartitionFirst(0) + 1);
  EXPECT_EQ(*p.Allocate(1), p.PartitionFirst(0) + 2);
  EXPECT_EQ(*p.Allocate(0), p.PartitionFirst(0) + 3);
}

TEST(PoolTest, OnPersistentMemoryFreedBuffersComeFirst) {
  MemPool m(16);
  ASSERT_TRUE(m.pool->FinishRecovery().ok());
  EXPECT_FALSE(m.pool->file_order());  // cache-line granularity: most recently freed first
}

TEST(PoolTest, CrossThreadReleaseReturnsBuffersToTheirOwner) {
  MemPool m(4096, 512, 2);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  // Thread 0 allocates from partition 0 while two other threads free what it hands them.
  constexpr int kRounds = 20000;
  std::atomic<int> produced{0};
  std::atomic<bool> done{false};
  std::vector<std::atomic<uint32_t>> slots(1024);
  for (auto& s : slots) {
    s.store(Pool::kNoBuffer);
  }
  auto freer = [&](int id) {
    while (!done.load()) {
      for (size_t i = static_cast<size_t>(id); i < slots.size(); i += 2) {
        uint32_t b = slots[i].exchange(Pool::kNoBuffer);
        if (b != Pool::kNoBuffer) {
          EXPECT_TRUE(p.Release(b).ok());
        }
      }
    }
  };
  std::thread f0(freer, 0), f1(freer, 1);
  size_t next = 0;
  while (produced.load() < kRounds) {
    Result<uint32_t> b = p.Allocate(0);
    if (!b.ok()) {
      std::this_thread::yield();
      continue;
    }
    EXPECT_EQ(p.state(*b), BufferState::kApp);
    while (true) {
      uint32_t expect = Pool::kNoBuffer;
      if (slots[next].compare_exchange_strong(expect, *b)) {
        break;
      }
      next = (next + 1) % slots.size();
    }
    produced.fetch_add(1);
  }
  done.store(true);
  f0.join();
  f1.join();
  for (auto& s : slots) {
    uint32_t b = s.exchange(Pool::kNoBuffer);
    if (b != Pool::kNoBuffer) {
      ASSERT_TRUE(p.Release(b).ok());
    }
  }
  EXPECT_EQ(p.FreeInPartition(0), p.PartitionCount(0));
  EXPECT_EQ(p.Counts().free, 4096u);
}

// Four threads, each its own partition's owner, allocate and free at once, two of them far more
// than their share (so they borrow all the time), the other two little: no buffer is ever handed
// out twice, every free goes home, and at the end every buffer is free again.
TEST(PoolTest, BorrowingAcrossThreadsHandsEachBufferOutOnce) {
  constexpr uint32_t kBuffers = 1024;
  MemPool m(kBuffers, 512, 4);
  Pool& p = *m.pool;
  ASSERT_TRUE(p.FinishRecovery().ok());
  std::vector<std::atomic<uint8_t>> held(kBuffers);
  std::atomic<uint64_t> twice{0}, borrowed{0};
  auto run = [&](uint32_t part, uint32_t keep, uint64_t seed) {
    std::vector<uint32_t> mine;
    uint64_t r = seed;
    for (int i = 0; i < 200000; ++i) {
      r ^= r << 13;
      r ^= r >> 7;
      r ^= r << 17;
      if (mine.size() < keep && r % 3 != 0) {
        Result<uint32_t> b = p.Allocate(part);
        if (b.ok()) {
          twice.fetch_add(held[*b].exchange(1) != 0 ? 1 : 0);
          borrowed.fetch_add(p.PartitionOf(*b) != part ? 1 : 0);
          mine.push_back(*b);
        }
      } else if (!mine.empty()) {
        const size_t at = r % mine.size();
        const uint32_t b = mine[at];
        mine[at] = mine.back();
        mine.pop_back();
        held[b].store(0);
        EXPECT_TRUE(p.Release(b).ok());
      }
    }
    for (uint32_t b : mine) {
      held[b].store(0);
      EXPECT_TRUE(p.Release(b).ok());
    }
  };
  std::thread t0(run, 0, 900, 1), t1(run, 1, 700, 2), t2(run, 2, 10, 3), t3(run, 3, 40, 4);
  t0.join();
  t1.join();
  t2.join();
  t3.join();
  EXPECT_EQ(twice.load(), 0u);
  EXPECT_GT(borrowed.load(), 0u);
  EXPECT_EQ(p.Counts().free, kBuffers);
  for (uint32_t q = 0; q < 4; ++q) {
    EXPECT_EQ(p.FreeInPartition(q), p.PartitionCount(q));
  }
}

TEST(PoolTest, FileCreateOpenAndReadOnly) {
  TempDir dir;
  const std::string path = dir.File("p.pool");
  PoolParams params;
  params.buffer_size = 4096;
  params.buffer_count = 32;
  {
    Result<std::unique_ptr<Pool>> p = Pool::Create(path, 0, params);
    ASSERT_TRUE(p.ok()) << p.status().ToString();
    EXPECT_FALSE((*p)->recovering());
    ASSERT_NE((*p)->file(), nullptr);
    EXPECT_EQ((*p)->file()->medium(), Medium::kEmulated);
    uint32_t b = *(*p)->Allocate(0);
    std::memcpy((*p)->BufferData(b), "hello", 5);
    ASSERT_TRUE((*p)->ops().Persist((*p)->BufferData(b), 5).ok());
  }
  EXPECT_EQ(Pool::Create(path, 0, params).status().code(), StatusCode::kAlreadyExists);
  Result<std::unique_ptr<Pool>> p = Pool::Open(path);
  ASSERT_TRUE(p.ok()) << p.status().ToString();
  EXPECT_TRUE((*p)->recovering()) << "open waits for the log to rebuild ownership";
  EXPECT_EQ(std::memcmp((*p)->BufferData(0), "hello", 5), 0);
  EXPECT_EQ((*p)->buffer_size(), 4096u);
  (*p)->SetReadOnly(Status::IoError("msync: EIO"));
  (*p)->SetReadOnly(Status::IoError("second"));
  EXPECT_TRUE((*p)->read_only());
  EXPECT_EQ((*p)->read_only_reason().message(), "msync: EIO");
}

TEST(PoolTest, RejectsBadParameters) {
  TempDir dir;
  PoolParams params;
  params.buffer_count = 8;
  for (uint32_t bad : {0u, 256u, 1000u, 3000u, 131072u}) {
    params.buffer_size = bad;
    EXPECT_EQ(Pool::Create(dir.File("x"), 0, params).status().code(), StatusCode::kInvalidArgument)
        << bad;
  }
  params.buffer_size = 512;
  params.partitions = 0;
  EXPECT_EQ(Pool::Create(dir.File("x"), 0, params).status().code(), StatusCode::kInvalidArgument);
  params.partitions = 9;
  EXPECT_EQ(Pool::Create(dir.File("x"), 0, params).status().code(), StatusCode::kInvalidArgument);
  params.partitions = 1;
  params.buffer_count = 0;
  Result<std::unique_ptr<Pool>> fit = Pool::Create(dir.File("fit"), 4096 + 10 * 512 + 100, params);
  ASSERT_TRUE(fit.ok()) << fit.status().ToString();
  EXPECT_EQ((*fit)->buffer_count(), 10u) << "as many buffers as fit";
}

#ifdef __SANITIZE_ADDRESS__
TEST(PoolDeathTest, FreeBufferIsPoisoned) {
  MemPool m(4);
  ASSERT_TRUE(m.pool->FinishRecovery().ok());
  uint32_t b = *m.pool->Allocate(0);
  volatile uint8_t* data = m.pool->BufferData(b);
  data[0] = 1;  // held: fine
  ASSERT_TRUE(m.pool->Release(b).ok());
  EXPECT_DEATH(data[0] = 2, "use-after-poison");
  Result<uint32_t> k = m.pool->Allocate(0, BufferState::kKernel);
  ASSERT_TRUE(k.ok());
  volatile uint8_t* kd = m.pool->BufferData(*k);
  EXPECT_DEATH((void)kd[10], "use-after-poison");
}
#endif

}  // namespace
}  // namespace pastel
