#include <cpuid.h>
#include <immintrin.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <mutex>

#include "pastel/pm.h"

namespace pastel {

std::string_view GranularityName(Granularity g) {
  switch (g) {
    case Granularity::kByte: return "byte";
    case Granularity::kCacheLine: return "cache-line";
    case Granularity::kPage: return "page";
  }
  return "?";
}

std::string_view FlushInstrName(FlushInstr f) {
  switch (f) {
    case FlushInstr::kClwb: return "clwb";
    case FlushInstr::kClflushopt: return "clflushopt";
    case FlushInstr::kClflush: return "clflush";
  }
  return "?";
}

bool CpuHasFlushInstr(FlushInstr f) {
  unsigned a = 0, b = 0, c = 0, d = 0;
  switch (f) {
    case FlushInstr::kClflush: return __get_cpuid(1, &a, &b, &c, &d) != 0 && (d & (1u << 19)) != 0;
    case FlushInstr::kClflushopt:
      return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & (1u << 23)) != 0;
    case FlushInstr::kClwb:
      return __get_cpuid_count(7, 0, &a, &b, &c, &d) != 0 && (b & (1u << 24)) != 0;
  }
  return false;
}

FlushInstr BestFlushInstr() {
  if (CpuHasFlushInstr(FlushInstr::kClwb)) {
    return FlushInstr::kClwb;
  }
  if (CpuHasFlushInstr(FlushInstr::kClflushopt)) {
    return FlushInstr::kClflushopt;
  }
  return FlushInstr::kClflush;
}

Status PersistOps::Persist(const void* addr, size_t len) {
  PASTEL_RETURN_IF_ERROR(Flush(addr, len));
  return Drain();
}

Status PersistOps::MemcpyPersist(void* dst, const void* src, size_t len) {
  std::memcpy(dst, src, len);
  return Persist(dst, len);
}

namespace {

uintptr_t LineDown(const void* p) {
  return reinterpret_cast<uintptr_t>(p) & ~(kCacheLineSize - 1);
}

__attribute__((target("clwb"))) void FlushClwb(const void* addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = LineDown(addr); p < end; p += kCacheLineSize) {
    _mm_clwb(reinterpret_cast<void*>(p));
  }
}

__attribute__((target("clflushopt"))) void FlushClflushopt(const void* addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = LineDown(addr); p < end; p += kCacheLineSize) {
    _mm_clflushopt(reinterpret_cast<void*>(p));
  }
}

void FlushClflush(const void* addr, size_t len) {
  const uintptr_t end = reinterpret_cast<uintptr_t>(addr) + len;
  for (uintptr_t p = LineDown(addr); p < end; p += kCacheLineSize) {
    _mm_clflush(reinterpret_cast<void*>(p));
  }
}

class CacheLineOps final : public PersistOps {
 public:
  explicit CacheLineOps(FlushInstr instr) : instr_(instr) {}
  Status Flush(const void* addr, size_t len) override {
    if (len == 0) {
      return Status::Ok();
    }
    switch (instr_) {
      case FlushInstr::kClwb: FlushClwb(addr, len); break;
      case FlushInstr::kClflushopt: FlushClflushopt(addr, len); break;
      case FlushInstr::kClflush: FlushClflush(addr, len); break;
    }
    return Status::Ok();
  }
  Status Drain() override {
    _mm_sfence();
    return Status::Ok();
  }
  Granularity granularity() const override { return Granularity::kCacheLine; }
  std::string_view name() const override { return FlushInstrName(instr_); }
  bool DrainIsCpuFence() const override { return true; }

 private:
  FlushInstr instr_;
};

class FenceOnlyOps final : public PersistOps {
 public:
  Status Flush(const void*, size_t) override { return Status::Ok(); }
  Status Drain() override {
    _mm_sfence();
    return Status::Ok();
  }
  Granularity granularity() const override { return Granularity::kByte; }
  std::string_view name() const override { return "eadr-fence"; }
  bool DrainIsCpuFence() const override { return true; }
};

// PAGE granularity. Flush() only notes the page range; Drain() makes the noted ranges durable with
// ONE sync: an msync of the range that covers them all (or one fdatasync), so a batch costs one
// sync (one device cache flush) per file, not one per request or per range. The covering range may
// take in pages nobody flushed: they are written early, which is never wrong (bytes a crash could
// have kept anyway). Pool buffers are handed out in file order on this granularity (pool.h), so
// the covering range is mostly the pages the batch wrote.
// Thread-safe: the loops of a server share one mapping's ops. Drain holds the lock through the
// sync, so a thread whose ranges another thread's Drain took waits until they are on media.
class PageOps final : public PersistOps {
 public:
  PageOps(void* base, size_t len, int fd, PageSync sync)
      : base_(reinterpret_cast<uintptr_t>(base)),
        len_(len),
        fd_(fd),
        sync_(sync),
        page_(static_cast<uintptr_t>(sysconf(_SC_PAGESIZE))) {}

  Status Flush(const void* addr, size_t len) override {
    const uintptr_t a = reinterpret_cast<uintptr_t>(addr);
    if (len != 0 && (a < base_ || a + len > base_ + len_)) {
      return Status::InvalidArgument("flush range outside the mapping");
    }
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.ok()) {
      return failed_;
    }
    if (len == 0) {
      return Status::Ok();
    }
    // Only the range covering every flush is kept: Drain syncs it in one call.
    lo_ = std::min(lo_, a & ~(page_ - 1));
    hi_ = std::max(hi_, (a + len + page_ - 1) & ~(page_ - 1));
    return Status::Ok();
  }

  Status Drain() override {
    std::lock_guard<std::mutex> lock(mu_);
    if (!failed_.ok()) {
      return failed_;
    }
    if (lo_ < hi_) {
      const bool synced = sync_ == PageSync::kFdatasync
                              ? ::fdatasync(fd_) == 0
                              : ::msync(reinterpret_cast<void*>(lo_), hi_ - lo_, MS_SYNC) == 0;
      if (!synced) {
        failed_ = Status::FromErrno(sync_ == PageSync::kFdatasync ? "fdatasync" : "msync", errno);
      }
    }
    lo_ = UINTPTR_MAX;
    hi_ = 0;
    return failed_;
  }

  int sync_fd() const override { return fd_; }
  // fdatasync of the whole file (no system call syncs a range and flushes the device's cache):
  // every page of the range is durable after it, and more.
  // (Not under the lock: another loop's Flush does not wait for it.)
  Status SyncRange(uint64_t /*offset*/, uint64_t /*length*/) override {
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!failed_.ok()) {
        return failed_;
      }
    }
    const bool synced = ::fdatasync(fd_) == 0;
    const int err = errno;
    std::lock_guard<std::mutex> lock(mu_);
    if (!synced && failed_.ok()) {
      failed_ = Status::FromErrno("fdatasync", err);
    }
    return failed_;
  }

  Granularity granularity() const override { return Granularity::kPage; }
  std::string_view name() const override {
    return sync_ == PageSync::kMsync ? "msync" : "fdatasync";
  }

 private:
  uintptr_t base_;
  size_t len_;
  int fd_;
  PageSync sync_;
  uintptr_t page_;
  std::mutex mu_;
  uintptr_t lo_ = UINTPTR_MAX;  // the pages flushed since the last Drain: [lo_, hi_); guarded
  uintptr_t hi_ = 0;            // by mu_
  Status failed_;               // guarded by mu_
};

}  // namespace

std::unique_ptr<PersistOps> MakeCacheLineOps(FlushInstr instr) {
  return std::make_unique<CacheLineOps>(instr);
}
std::unique_ptr<PersistOps> MakeFenceOnlyOps() {
  return std::make_unique<FenceOnlyOps>();
}
std::unique_ptr<PersistOps> MakePageOps(void* base, size_t len, int fd, PageSync sync) {
  return std::make_unique<PageOps>(base, len, fd, sync);
}

}  // namespace pastel
