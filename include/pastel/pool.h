#pragma once
// pool: the named packet-buffer pool.
//
// A pool is a region of persistent media (normally a file, see Pool::Create/Open) holding a
// checksummed header and N fixed-size buffers addressed by index, never by pointer. Received
// network data lands in these buffers and stays there when it is made durable.
//
// Ownership (in memory only; after a restart it is rebuilt from the log and index, every buffer
// that nothing references being free). Attach leaves the pool *recovering*: every buffer is free
// but none is handed out, and Retain may claim free buffers for live records; FinishRecovery()
// then puts every buffer still free on a free list. Create finishes recovery at once.
//   kFree      on its partition's free list; nobody may touch its bytes (poisoned under ASan)
//   kKernel    lent to the kernel (a provided receive buffer); the application must not touch it
//   kApp       held by the application (a received slot, or a buffer it allocated to fill)
//   kRetained  referenced by live log records or index entries (refs >= 1); never handed out
//
//   Allocate: Free -> App          LendToKernel: App -> Kernel      ReturnFromKernel: Kernel -> App
//   Release:  App|Kernel -> Free   Retain: App -> Retained(1), Retained(n) -> Retained(n+1),
//                                          Free -> Retained(1) while recovering only
//   Unretain: Retained(n) -> Retained(n-1), Retained(1) -> Free
// Any other transition is refused with kFailedPrecondition and changes nothing.
//
// Threads: buffers are split into partitions (one per thread) by index range. Allocate(p) must be
// called only by the thread that owns partition p. Every other call is thread-safe: each buffer's
// state is one atomic word, and a buffer that becomes free is pushed onto its home partition's
// lock-free return stack, which the owner takes whole when its own list runs empty. Allocate and
// the transitions are O(1).
//
// Sharing: a partition that runs out borrows. Allocate(p) with none of p's own buffers free takes
// one of another partition's, as long as that one keeps more than its floor (a sixteenth of it,
// at least one buffer: its owner's receives go on), so one thread's load can use the whole pool,
// not a 1/N share of it, while another thread is idle. A borrowed buffer goes home when freed.
// Each partition's free lists sit under a mutex that its owner takes, uncontended, and a
// borrower only when its own partition is empty. FreeFor(p) is what Allocate(p) can hand out.
//
// Allocation order: on persistent memory (byte or cache-line granularity) the buffers freed last
// are handed out first (few pages in use: caches, TLB, first-touch faults). On a regular file
// (page granularity) buffers are handed out in file order from a cursor that goes round the
// partition, skipping those in use: what the kernel receives next lands in consecutive pages, so a
// group commit's sync writes a few sequential ranges, not one scattered page per request (20x
// cheaper per page on an SSD under ext4: bench/RESULTS.md). Allocate then scans a bitmap: O(1)
// amortized, O(partition / 64) when the partition is nearly full.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "pastel/pm.h"
#include "pastel/status.h"

namespace pastel {

// Where part of a value lies: `length` bytes at `offset` in pool buffer `buffer` (the log's
// records, the index's entries and the net layer's sends all name bytes this way).
struct Extent {
  uint32_t buffer = 0;
  uint32_t offset = 0;
  uint32_t length = 0;
  bool operator==(const Extent&) const = default;
};

struct PoolHeader;

enum class BufferState : uint8_t { kFree = 0, kKernel = 1, kApp = 2, kRetained = 3 };
std::string_view BufferStateName(BufferState s);

struct PoolParams {
  uint32_t buffer_size = 2048;  // power of two, 512 B .. 64 KiB
  uint32_t buffer_count = 0;    // 0: as many as fit in the file size given to Create
  uint32_t partitions = 1;      // default partitions recorded in the header (1..256)
};

struct PoolCounts {
  uint32_t free = 0;
  uint32_t kernel = 0;
  uint32_t app = 0;
  uint32_t retained = 0;
};

class Pool {
 public:
  static constexpr uint32_t kNoBuffer = UINT32_MAX;

  // The region size a pool of these parameters needs.
  static uint64_t RegionSize(uint32_t buffer_size, uint32_t buffer_count);

  // Writes a fresh header (new uuid, the given generation) to `region`. Buffers are not touched.
  // PERSIST: before, nothing of the pool is valid; after it returns OK, the header is durable and
  // the pool opens (with every buffer free).
  static Status Format(uint8_t* region, uint64_t len, const PoolParams& params, uint64_t generation,
                       PersistOps& ops);

  // Validates the header of `region` and builds the in-memory state with every buffer free.
  // `partitions` 0 takes the header's value. The region and `ops` must outlive the pool.
  static Result<std::unique_ptr<Pool>> Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                              uint32_t partitions = 0);
  // Only reads and validates the header (used by Attach, pastelctl and the fuzzer).
  static Result<PoolHeader> ReadHeader(const uint8_t* region, uint64_t len);

  // Creates the pool file `path` (0600, must not exist): `file_size` bytes, or exactly what
  // params.buffer_count buffers need when file_size is 0.
  static Result<std::unique_ptr<Pool>> Create(const std::string& path, uint64_t file_size,
                                              const PoolParams& params,
                                              const PmOpenOptions& o = {});
  static Result<std::unique_ptr<Pool>> Open(const std::string& path, const PmOpenOptions& o = {},
                                            uint32_t partitions = 0);

  ~Pool();
  Pool(const Pool&) = delete;
  Pool& operator=(const Pool&) = delete;

  uint8_t* BufferData(uint32_t index) const {
    return region_ + data_offset_ + static_cast<uint64_t>(index) * buffer_size_;
  }
  // Asks the CPU to bring in buffer `index`'s state word and the cache line at `offset` of its
  // data: a value about to be read and retained (a hint only; an index out of range is ignored).
  void Prefetch(uint32_t index, uint32_t offset) const {
    if (index < buffer_count_) {
      __builtin_prefetch(&meta_[index]);
      __builtin_prefetch(BufferData(index) + offset);
    }
  }
  // The index of the buffer holding `p`, or kNoBuffer.
  uint32_t IndexOf(const void* p) const;
  uint32_t buffer_size() const { return buffer_size_; }
  uint32_t buffer_count() const { return buffer_count_; }
  uint32_t partitions() const { return static_cast<uint32_t>(parts_.size()); }
  uint32_t PartitionOf(uint32_t index) const;
  // [first, first + count) are the buffers of partition p.
  uint32_t PartitionFirst(uint32_t p) const { return parts_[p].first; }
  uint32_t PartitionCount(uint32_t p) const { return parts_[p].count; }
  const PoolHeader& header() const;
  uint64_t generation() const;
  PersistOps& ops() const { return *ops_; }
  uint8_t* region() const { return region_; }
  uint64_t region_size() const { return region_len_; }
  // The backing file, when the pool was created or opened from one.
  const PmFile* file() const { return file_ ? &*file_ : nullptr; }

  // Takes a free buffer of partition p (caller must own p): Free -> `to` (kApp or kKernel).
  Result<uint32_t> Allocate(uint32_t partition, BufferState to = BufferState::kApp);
  Status LendToKernel(uint32_t index);
  Status ReturnFromKernel(uint32_t index);
  Status Release(uint32_t index);
  // n references at once (n >= 1): Unretain(i, n) needs at least n.
  Status Retain(uint32_t index, uint32_t n = 1);
  Status Unretain(uint32_t index, uint32_t n = 1);

  BufferState state(uint32_t index) const;
  uint32_t refs(uint32_t index) const;
  PoolCounts Counts() const;  // O(n); for metrics and checks, not the data path
  // Bit i of *bits set: buffer i is kRetained now (O(n); the store's checkpoints save it, see
  // src/store/buffer_map.h). *bits keeps its capacity from call to call.
  void RetainedBits(std::vector<uint64_t>* bits) const;
  // Free buffers of partition p's own (its index range).
  uint32_t FreeInPartition(uint32_t p) const;
  // What Allocate(p) can hand out: p's own free buffers and what the other partitions have above
  // their floors (O(partitions)). Any thread.
  uint64_t FreeFor(uint32_t p) const;
  // A partition keeps this many free buffers from borrowers.
  uint32_t Floor(uint32_t p) const { return std::max<uint32_t>(1, parts_[p].count / 16); }

  // Ends recovery: every buffer still free goes on its partition's free list (and is poisoned
  // under ASan). Allocate works from now on; Retain no longer takes free buffers. The allocation
  // order follows the granularity of the pool's PersistOps (above).
  Status FinishRecovery();
  bool recovering() const { return recovering_.load(std::memory_order_acquire); }
  bool file_order() const { return file_order_; }

  // A failed persist makes the pool read-only for good; the first reason is kept.
  void SetReadOnly(const Status& why);
  bool read_only() const { return read_only_.load(std::memory_order_acquire); }
  Status read_only_reason() const;

 private:
  struct alignas(64) Partition {
    uint32_t first = 0;
    uint32_t count = 0;
    // Guards the lists below (local, fresh, the bitmap): the owner's Allocate takes it, and a
    // borrower's (Sharing, above).
    std::mutex mu;
    // local_len + fresh_len + bits_free, stored under mu: read by any thread (FreeFor).
    std::atomic<uint32_t> listed{0};
    // Buffers freed and taken back from return_head: allocated first, so that the buffers in
    // use stay as few pages as the load needs (caches, TLB, and no first-touch page faults of a
    // fresh pool file while recycled buffers are at hand). Under mu.
    uint32_t local_head = kNoBuffer;
    uint32_t local_len = 0;
    // Free buffers not allocated since the pool was opened, in index order: taken one at a time,
    // only when no freed buffer is at hand. Under mu.
    uint32_t fresh_head = kNoBuffer;
    uint32_t fresh_len = 0;
    // Lock-free LIFO of buffers freed by any thread. Pushers CAS (acq_rel); the owner takes the
    // whole stack with exchange (acquire), which pairs with the pushers' release.
    std::atomic<uint32_t> return_head{kNoBuffer};
    std::atomic<uint32_t> return_len{0};
    // File order (page granularity): the free buffers as bits (bit i: buffer first + i), the next
    // buffer to hand out, and how many bits are set. Under mu.
    std::vector<uint64_t> free_bits;
    uint32_t cursor = 0;
    uint32_t bits_free = 0;
  };

  Pool() = default;
  enum class Op : uint8_t { kLend, kReturn, kRelease, kRetain, kUnretain };
  Status Transition(uint32_t index, Op op, uint32_t n = 1);
  void PushFree(uint32_t index);
  void Poison(uint32_t index, bool poison) const;
  // File order: takes the return stack into the bitmap, then the first free buffer from the
  // cursor on (wrapping); kNoBuffer when none. Under part.mu.
  uint32_t TakeInFileOrder(Partition& part);
  // One of part's free buffers (in file order, or the freed ones first), with part.mu held;
  // kNoBuffer when none, or when `floor` or fewer are free.
  uint32_t Take(Partition& part, uint32_t floor);

  std::optional<PmFile> file_;
  uint8_t* region_ = nullptr;
  uint64_t region_len_ = 0;
  PersistOps* ops_ = nullptr;
  uint64_t data_offset_ = 0;
  uint32_t buffer_size_ = 0;
  uint32_t buffer_count_ = 0;
  uint32_t buffers_per_partition_ = 0;
  // Per buffer: state in bits 0..7, reference count in bits 8..31.
  std::unique_ptr<std::atomic<uint32_t>[]> meta_;
  std::unique_ptr<uint32_t[]> next_;  // free-list links
  std::vector<Partition> parts_;
  std::atomic<bool> recovering_{true};
  bool file_order_ = false;  // page granularity: Allocate hands buffers out in file order
  std::atomic<bool> read_only_{false};
  std::unique_ptr<Status> read_only_reason_;
  std::atomic_flag reason_set_ = ATOMIC_FLAG_INIT;
};

}  // namespace pastel
