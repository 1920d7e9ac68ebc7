// libFuzzer target: log recovery (Log::Attach + Log::Recover) over a log region built from the
// input, next to a valid small pool (16 buffers of 512 bytes, each filled with a pattern).
// Input: one mode byte, then bytes laid over a freshly formatted log of 2 streams of 8 KiB:
//   mode bit 0: keep the formatted log header and stream headers; the bytes go to the records of
//               stream 0 (and run on into stream 1). Otherwise the first 128 bytes replace the
//               log header and the rest is laid from the first stream's header on;
//   mode bit 1: reseal: recompute every checksum the bytes disturbed (log header with the pool's
//               uuid and generation, stream header slots, each record's data and header checksum),
//               so that the fuzzer reaches the field checks behind them;
//   mode bit 2: recover with tolerate_corruption;  mode bit 3: recover without repair.
// Checks: Recover fails with a status or succeeds with a live set whose extents lie in the pool
// and whose buffer ownership VerifyOwnership accepts. After a clean, repaired recovery the log
// must take one more put, and a second recovery (a restart) must give the same live set plus it.

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "pastel/log.h"
#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pool/pool_format.h"

namespace {

using namespace pastel;  // NOLINT: a test's local scope

constexpr uint8_t kKeepHeaders = 1;
constexpr uint8_t kReseal = 2;
constexpr uint8_t kTolerate = 4;
constexpr uint8_t kNoRepair = 8;
constexpr uint32_t kBufferSize = 512;
constexpr uint32_t kBufferCount = 16;
constexpr LogParams kLogParams{2, 8192};

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "log_recover_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

struct Region {
  explicit Region(size_t n) : size(n), data(static_cast<uint8_t*>(std::aligned_alloc(4096, n))) {
    std::memset(data, 0, n);
  }
  ~Region() { std::free(data); }
  Region(const Region&) = delete;
  Region& operator=(const Region&) = delete;
  size_t size;
  uint8_t* data;
};

// Recomputes the checksums of the log header, stream header slots and records in `log`.
void Reseal(uint8_t* log, const Pool& pool) {
  LogHeader lh;
  std::memcpy(&lh, log, sizeof(lh));
  std::memcpy(lh.pool_uuid, pool.header().uuid, sizeof(lh.pool_uuid));
  lh.pool_generation = pool.generation();
  lh.checksum = Crc32c(&lh, kLogHeaderChecksummedBytes);
  std::memcpy(log, &lh, sizeof(lh));
  for (uint32_t s = 0; s < kLogParams.streams; ++s) {
    uint8_t* stream = log + kLogHeaderRegion + s * kLogParams.stream_size;
    for (uint32_t slot = 0; slot < 2; ++slot) {
      StreamHeader sh;
      std::memcpy(&sh, stream + slot * sizeof(sh), sizeof(sh));
      sh.checksum = Crc32c(&sh, kStreamHeaderChecksummedBytes);
      std::memcpy(stream + slot * sizeof(sh), &sh, sizeof(sh));
    }
    uint64_t off = kStreamRecordsOffset;
    while (off + kRecordAlign <= kLogParams.stream_size) {
      RecordHeader h;
      std::memcpy(&h, stream + off, sizeof(h));
      const uint64_t bytes = uint64_t{h.n_lines} * kRecordAlign;
      if (h.n_lines == 0 || bytes > kMaxRecordBytes || off + bytes > kLogParams.stream_size) {
        off += kRecordAlign;
        continue;
      }
      const uint64_t max_extents = (bytes - sizeof(RecordHeader)) / sizeof(Extent);
      uint32_t data_crc = 0;
      for (uint32_t i = 0; i < std::min<uint64_t>(h.n_extents, max_extents); ++i) {
        Extent e;
        std::memcpy(&e, stream + off + sizeof(RecordHeader) + i * sizeof(Extent), sizeof(e));
        if (e.buffer < pool.buffer_count() && uint64_t{e.offset} + e.length <= pool.buffer_size()) {
          data_crc = Crc32cExtend(data_crc, pool.BufferData(e.buffer) + e.offset, e.length);
        }
      }
      h.data_crc = data_crc;
      h.header_crc = 0;
      std::memcpy(stream + off, &h, sizeof(h));
      h.header_crc = Crc32c(stream + off, bytes);
      std::memcpy(stream + off, &h.header_crc, sizeof(h.header_crc));
      off += bytes;
    }
  }
}

void CheckLive(const Recovered& r, const Pool& pool) {
  for (const auto& [key, v] : r.live) {
    Check(!key.empty() && key.size() <= kMaxKeyLen, "live key length");
    uint64_t sum = 0;
    for (const Extent& e : v.extents) {
      Check(e.buffer < pool.buffer_count() && uint64_t{e.offset} + e.length <= pool.buffer_size(),
            "live extent outside the pool");
      sum += e.length;
    }
    Check(sum == v.value_len, "live value length");
  }
  Check(VerifyOwnership(pool, r.live).ok(), "buffer ownership after recovery");
}

bool SameLive(const LiveMap& a, const LiveMap& b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (const auto& [key, v] : a) {
    auto it = b.find(key);
    if (it == b.end() || it->second.sequence != v.sequence || it->second.extents != v.extents ||
        it->second.value_len != v.value_len) {
      return false;
    }
  }
  return true;
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const uint8_t mode = data[0];
  ++data;
  --size;
  static const std::unique_ptr<PersistOps> ops = MakeFenceOnlyOps();
  // The formatted pool (its buffers filled with a pattern) and log are built once and copied into
  // the regions for each input; formatting and filling per input was most of this target's time.
  static const std::vector<uint8_t> pool_image = [] {
    Region r(Pool::RegionSize(kBufferSize, kBufferCount));
    PoolParams pp;
    pp.buffer_size = kBufferSize;
    pp.buffer_count = kBufferCount;
    Check(Pool::Format(r.data, r.size, pp, 1, *ops).ok(), "pool format");
    Result<std::unique_ptr<Pool>> p = Pool::Attach(r.data, r.size, *ops);
    Check(p.ok(), "pool attach");
    for (uint32_t b = 0; b < kBufferCount; ++b) {
      for (uint32_t i = 0; i < kBufferSize; ++i) {
        (*p)->BufferData(b)[i] = static_cast<uint8_t>(b * 31 + i);
      }
    }
    return std::vector<uint8_t>(r.data, r.data + r.size);
  }();
  static Region pool_region(pool_image.size());
  static Region log_region(Log::RegionSize(kLogParams));
  std::memcpy(pool_region.data, pool_image.data(), pool_image.size());
  Result<std::unique_ptr<Pool>> pool = Pool::Attach(pool_region.data, pool_region.size, *ops);
  Check(pool.ok(), "pool attach");
  static const std::vector<uint8_t> log_image = [&pool] {
    Check(Log::Format(log_region.data, log_region.size, kLogParams, **pool, *ops).ok(),
          "log format");
    return std::vector<uint8_t>(log_region.data, log_region.data + log_region.size);
  }();
  std::memcpy(log_region.data, log_image.data(), log_image.size());

  // Lay the input over the formatted log.
  if ((mode & kKeepHeaders) != 0) {
    const size_t at = kLogHeaderRegion + kStreamRecordsOffset;
    std::memcpy(log_region.data + at, data, std::min(size, log_region.size - at));
  } else {
    const size_t head = std::min(size, sizeof(LogHeader));
    std::memcpy(log_region.data, data, head);
    std::memcpy(log_region.data + kLogHeaderRegion, data + head,
                std::min(size - head, log_region.size - kLogHeaderRegion));
  }
  if ((mode & kReseal) != 0) {
    Reseal(log_region.data, **pool);
  }

  RecoveryOptions options;
  options.tolerate_corruption = (mode & kTolerate) != 0;
  options.repair = (mode & kNoRepair) == 0;
  Recovered first;
  {
    Result<std::unique_ptr<Log>> log = Log::Attach(log_region.data, log_region.size, *ops, **pool);
    if (!log.ok()) {
      return 0;
    }
    Result<Recovered> r = (*log)->Recover(options);
    if (!r.ok()) {
      Check(!r.status().message().empty(), "an error without a message");
      return 0;
    }
    CheckLive(*r, **pool);
    Check(r->corruption.empty() || options.tolerate_corruption, "corruption passed unnoticed");
    if (!(*log)->recovered()) {
      return 0;
    }
    first = std::move(*r);

    // One more put, the servers' way: fill a free buffer, log it, commit, then retain.
    Result<uint32_t> b = (*pool)->Allocate(0);
    if (!b.ok()) {
      return 0;  // every buffer is live
    }
    std::memcpy((*pool)->BufferData(*b), "fuzz value", 10);
    const Extent e{*b, 0, 10};
    LogStream& stream = (*log)->stream(0);
    Result<uint64_t> seq = stream.AppendPut("/fuzz-new", {&e, 1});
    if (!seq.ok()) {
      // Full, or no sequence left at or below kMaxSequence (a checkpoint or record at it).
      Check(
          seq.status().code() == StatusCode::kNoSpace ||
              (seq.status().code() == StatusCode::kReadOnly && first.next_sequence > kMaxSequence),
          "append failed other than full or out of sequences");
      return 0;
    }
    Check(*seq >= first.next_sequence, "new sequence not above every recovered one");
    Check(stream.Commit().ok(), "commit");
    first.live["/fuzz-new"] = LiveValue{*seq, 0, 10, {e}};
  }
  // Restart: a new pool object over the same bytes, and recovery again.
  pool->reset();
  Result<std::unique_ptr<Pool>> again = Pool::Attach(pool_region.data, pool_region.size, *ops);
  Check(again.ok(), "pool attach after restart");
  Result<std::unique_ptr<Log>> log = Log::Attach(log_region.data, log_region.size, *ops, **again);
  Check(log.ok(), "log attach after restart");
  Result<Recovered> r = (*log)->Recover({});
  Check(r.ok(), "recovery after a clean recovery and one commit failed");
  Check(r->corruption.empty(), "corruption after a clean recovery and one commit");
  CheckLive(*r, **again);
  Check(SameLive(r->live, first.live), "restart lost or changed a live value");
  return 0;
}
