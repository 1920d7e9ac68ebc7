#pragma once
// The durable key-value store of pastel-baseline: what a Linux programmer writes today on top of a
// persistent pool file. Every write copies the request body out of the connection's private
// buffer into freshly allocated pool buffers, appends one log record naming them, and commits
// (flush + one fence, or one fdatasync per file) before it returns: one persist step PER REQUEST,
// no group commit. The in-memory index (key -> extents) is rebuilt from the log at start.
//
// Lifecycle: Open() maps the pool and its log (creating both on first start), recovers the log
// (which retains every live buffer) and loads the index. The destructor unmaps both; nothing is
// written on the way out (every acknowledged write is already durable).
//
// Threads: thread t (0 <= t < threads) calls Put/Delete with its own `thread` index only: it
// allocates from pool partition t and appends to log stream t, so writers never share a partition
// or a stream. Get may be called by any thread. The index is shared: readers take index_mu_
// shared, a writer takes it exclusive only to swap an entry after its commit. Writes of one key
// are serialized by a striped key lock held from the append to the index swap, so the index
// applies a key's writes in the order of their log sequences (the order recovery replays them)
// and an old value's buffers are unretained exactly once, after the write replacing it committed.
//
// Failure: a failed commit makes the pool read-only for good (Pool::SetReadOnly, by the log);
// every later write returns kReadOnly, reads go on. The reason is printed once on stderr.

#include <array>
#include <atomic>
#include <cstdint>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pastel/log.h"
#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pastel/status.h"

namespace pastel::baseline {

enum class SyncMode : uint8_t {
  kFlush,      // the files' natural PersistOps: clwb + sfence on /dev/shm or DAX, msync on a file
  kFdatasync,  // page granularity forced, every commit fdatasyncs the pool and the log file
};

struct StoreOptions {
  std::string pool_path = "/dev/shm/pastel-baseline.pool";
  uint64_t pool_size = uint64_t{256} << 20;  // when created
  uint32_t buffer_size = 2048;               // when created
  uint64_t log_size = uint64_t{64} << 20;    // per stream, when created (multiple of 4096)
  uint32_t threads = 1;                      // partitions and log streams used
  SyncMode sync = SyncMode::kFlush;
};

// A value pinned for reading: one extra pool reference on each of its buffers, taken while the
// index entry could not change and dropped by the destructor, so the bytes stay valid (and are
// not reused) while a response is being written from them, even if the key is overwritten.
// Move-only; used by one thread.
class ValueRef {
 public:
  ValueRef(ValueRef&& other) noexcept;
  ValueRef& operator=(ValueRef&& other) noexcept;
  ValueRef(const ValueRef&) = delete;
  ValueRef& operator=(const ValueRef&) = delete;
  ~ValueRef();

  uint64_t length() const { return length_; }
  std::span<const Extent> extents() const { return extents_; }
  const uint8_t* Data(const Extent& e) const { return pool_->BufferData(e.buffer) + e.offset; }

 private:
  friend class Store;
  ValueRef(Pool* pool, std::vector<Extent> extents, uint64_t length)
      : pool_(pool), extents_(std::move(extents)), length_(length) {}
  void Drop();

  Pool* pool_ = nullptr;
  std::vector<Extent> extents_;
  uint64_t length_ = 0;
};

struct StoreStats {
  uint64_t keys = 0;
  uint64_t value_bytes = 0;
  uint64_t fences = 0;  // successful commits (each one flush + fence, or fdatasyncs)
  uint64_t committed_writes = 0;
  uint64_t rejected_full = 0;  // writes refused: pool partition or log stream full
  bool read_only = false;
  PoolCounts buffers;
};

class Store {
 public:
  static Result<std::unique_ptr<Store>> Open(const StoreOptions& options);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // Stores `value` under `key` (1..kMaxKeyLen bytes). OK only once the value and its record are
  // durable. kNoSpace: partition `thread` or log stream `thread` is full (nothing changed);
  // kReadOnly: a persist step failed (now or earlier); kInvalidArgument: the value spans more
  // buffers than one log record can name.
  Status Put(uint32_t thread, std::string_view key, std::string_view value);
  // Deletes `key`; OK once the delete record is durable. kNotFound: no such key (nothing logged).
  Status Delete(uint32_t thread, std::string_view key);
  // kNotFound: no such key.
  Result<ValueRef> Get(std::string_view key) const;

  StoreStats Stats() const;
  // One line for operators: what survives what (the pool file's PersistOps).
  std::string DescribeDurability() const;
  // "N buffers of B B, P partition(s), K key(s) recovered from R record(s)".
  std::string DescribeContents() const;

 private:
  struct Value {
    std::vector<Extent> extents;
    uint64_t length = 0;
  };
  struct Hash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  using Index = std::unordered_map<std::string, Value, Hash, std::equal_to<>>;
  static constexpr size_t kKeyLocks = 256;

  Store() = default;
  Status LoadIndex(const Recovered& recovered);
  // Commits log stream `thread`'s pending record; on failure reports it once and returns
  // kReadOnly.
  Status CommitStream(uint32_t thread);
  Status CheckWritable() const;
  void ReportFailure(const Status& why);
  std::mutex& KeyLock(std::string_view key) { return key_mu_[Hash{}(key) % kKeyLocks]; }
  void ReleaseAll(std::span<const Extent> extents);
  void UnretainAll(std::span<const Extent> extents);

  // Declared in this order so that the log (which points into the pool) goes first.
  std::unique_ptr<Pool> pool_;
  std::unique_ptr<Log> log_;
  uint64_t recovered_records_ = 0;
  uint64_t recovered_keys_ = 0;

  mutable std::shared_mutex index_mu_;
  Index index_;               // guarded by index_mu_
  uint64_t value_bytes_ = 0;  // guarded by index_mu_
  std::array<std::mutex, kKeyLocks> key_mu_;

  std::atomic<uint64_t> fences_{0};
  std::atomic<uint64_t> committed_writes_{0};
  std::atomic<uint64_t> rejected_full_{0};
  std::atomic<bool> failure_reported_{false};
};

}  // namespace pastel::baseline
