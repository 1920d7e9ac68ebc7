#pragma once
// pm: mapping a file for persistence, and the persist primitives.
//
// What survives what depends on where the file lives (Medium) and on the store granularity:
//   kByte      eADR platform: a store is durable once globally visible; Drain() is a fence.
//   kCacheLine DAX file with MAP_SYNC, or emulated PM (a file in /dev/shm): Flush() writes back the
//              cache lines (clwb, else clflushopt, else clflush), Drain() is an sfence.
//   kPage      a file on a regular file system: Flush() notes the dirty pages, Drain() msyncs them
//              (or fdatasyncs the file).
// Thread safety: the cache-line and fence-only ops keep no state and the page ops lock theirs, so
// the loops of a server may share one mapping's ops (a Drain makes durable every range any thread
// flushed before it). The recording ops for tests are single-threaded.

#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

#include "pastel/status.h"

namespace pastel {

inline constexpr size_t kCacheLineSize = 64;

enum class Granularity : uint8_t { kByte, kCacheLine, kPage };
std::string_view GranularityName(Granularity g);

// How a CACHE_LINE PersistOps writes a line back.
enum class FlushInstr : uint8_t { kClwb, kClflushopt, kClflush };
std::string_view FlushInstrName(FlushInstr f);
// The best instruction this CPU has (clwb > clflushopt > clflush).
FlushInstr BestFlushInstr();
bool CpuHasFlushInstr(FlushInstr f);

// How a PAGE PersistOps makes its pages durable.
enum class PageSync : uint8_t { kMsync, kFdatasync };

class PersistOps;

// A sync of `length` bytes at `offset` of the file `ops` maps (fdatasync of that range), which a
// pipelined group commit on page granularity runs asynchronously (Backend::SubmitSync of
// ops->sync_fd()), or synchronously (ops->SyncRange) where it cannot wait.
struct SyncRange {
  uint64_t offset = 0;
  uint64_t length = 0;
  PersistOps* ops = nullptr;
};

// The persistence primitives, swappable so that tests can record and drop unflushed stores
// (RecordingPersistOps in pm/recording_persist_ops.h).
//
// Failure is permanent: once Flush() or Drain() returned an error, every later call returns the
// same error, and the caller must treat its store as read-only (never retry silently).
class PersistOps {
 public:
  virtual ~PersistOps() = default;
  PersistOps() = default;
  PersistOps(const PersistOps&) = delete;
  PersistOps& operator=(const PersistOps&) = delete;

  // Starts writing back [addr, addr + len). Nothing is durable until Drain() returned OK.
  [[nodiscard]] virtual Status Flush(const void* addr, size_t len) = 0;
  // Returns once every range flushed before it is durable.
  [[nodiscard]] virtual Status Drain() = 0;
  virtual Granularity granularity() const = 0;
  virtual std::string_view name() const = 0;
  // True when Drain() is a CPU fence that also completes every other cache-line PersistOps's
  // flushes (sfence orders all of this thread's clwb/clflushopt), so one Drain serves both.
  virtual bool DrainIsCpuFence() const { return false; }
  // PAGE granularity over a file: the descriptor a Backend's asynchronous sync of a range of this
  // mapping goes to (Backend::SubmitSync; offsets from the mapping's start); -1 where there is
  // none (then a group commit syncs synchronously, by Drain).
  virtual int sync_fd() const { return -1; }
  // The synchronous twin of that asynchronous sync: [offset, offset + length) of the mapping is
  // durable when this returns OK, whether or not it was flushed. A failure is permanent, as
  // Drain's. Only where sync_fd() >= 0.
  [[nodiscard]] virtual Status SyncRange(uint64_t /*offset*/, uint64_t /*length*/) {
    return Status::Unsupported("no range sync on this medium");
  }

  // Flush + Drain: [addr, addr + len) is durable when this returns OK.
  [[nodiscard]] Status Persist(const void* addr, size_t len);
  // memcpy, then Persist of the destination.
  [[nodiscard]] Status MemcpyPersist(void* dst, const void* src, size_t len);
};

// CACHE_LINE: write back with `instr`, fence with sfence.
std::unique_ptr<PersistOps> MakeCacheLineOps(FlushInstr instr);
// BYTE (eADR): Flush is a no-op, Drain an sfence.
std::unique_ptr<PersistOps> MakeFenceOnlyOps();
// PAGE: over the mapping [base, base + len) of file `fd` (not owned).
std::unique_ptr<PersistOps> MakePageOps(void* base, size_t len, int fd, PageSync sync);

// Where a mapped file lives, which decides what survives what.
enum class Medium : uint8_t {
  kDax,       // real persistent memory: survives a power cut
  kEmulated,  // tmpfs (/dev/shm): survives a process crash, not a power cut or reboot
  kFile,      // page cache of a regular file system: survives both once msync/fdatasync returned
};
std::string_view MediumName(Medium m);

struct PmOpenOptions {
  bool read_only = false;
  PageSync page_sync = PageSync::kMsync;
  // Forces a granularity (tests, benchmarks); by default it is detected.
  bool force_granularity = false;
  Granularity granularity = Granularity::kPage;
};

// A file mapped MAP_SHARED for persistence (through libpmem2), with the PersistOps that fit it.
// Lifecycle: Create/Open map the file, the destructor unmaps it and closes the descriptor.
// Move-only; the mapping stays at the same address for the object's life.
class PmFile {
 public:
  // Creates `path` (mode 0600, which must not exist) of `size` bytes, zero-filled, and maps it.
  static Result<PmFile> Create(const std::string& path, size_t size, const PmOpenOptions& o = {});
  static Result<PmFile> Open(const std::string& path, const PmOpenOptions& o = {});

  PmFile(PmFile&& other) noexcept;
  PmFile& operator=(PmFile&& other) noexcept;
  PmFile(const PmFile&) = delete;
  PmFile& operator=(const PmFile&) = delete;
  ~PmFile();

  uint8_t* data() const { return data_; }
  size_t size() const { return size_; }
  Granularity granularity() const { return ops_->granularity(); }
  Medium medium() const { return medium_; }
  bool read_only() const { return read_only_; }
  const std::string& path() const { return path_; }
  int fd() const { return fd_; }
  PersistOps& ops() const { return *ops_; }
  // The owner writes the file in small pieces from now on (the pool's receive buffers, the log's
  // records), each made durable by a sync of its pages. On a regular file a sync writes whole
  // page-cache folios, and a fault's read-around builds folios of up to 2 MiB (ext4 since Linux
  // 6.16, xfs before it): a request's few dirty bytes would cost a 2 MiB write. So from here on
  // a fault brings one 4 KiB page (MADV_RANDOM). A start calls it once recovery has read what it
  // reads (read-around is what makes a cold start's reads fast). A hint; elsewhere nothing.
  void PreferSmallFolios() const;
  // One line for operators: "emulated persistent memory (tmpfs): survives a process crash, not a
  // power cut; granularity cache-line (clwb)".
  std::string DescribeDurability() const;

 private:
  PmFile() = default;
  static Result<PmFile> Map(int fd, std::string path, const PmOpenOptions& o);
  void Reset();

  std::string path_;
  int fd_ = -1;
  struct pmem2_map* map_ = nullptr;
  uint8_t* data_ = nullptr;
  size_t size_ = 0;
  Medium medium_ = Medium::kFile;
  bool read_only_ = false;
  std::unique_ptr<PersistOps> ops_;
};

}  // namespace pastel
