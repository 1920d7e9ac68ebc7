#include "pastel/pool.h"

#include <sys/random.h>
#include <unistd.h>

#include <bit>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "base/asan.h"
#include "pastel/crc32c.h"
#include "pool/pool_format.h"

namespace pastel {

std::string_view BufferStateName(BufferState s) {
  switch (s) {
    case BufferState::kFree: return "free";
    case BufferState::kKernel: return "kernel";
    case BufferState::kApp: return "app";
    case BufferState::kRetained: return "retained";
  }
  return "?";
}

namespace {

constexpr uint32_t kStateMask = 0xFFu;
constexpr uint32_t kRefShift = 8;
constexpr uint32_t kMaxRefs = (1u << 24) - 1;

constexpr uint32_t Word(BufferState s, uint32_t refs) {
  return static_cast<uint32_t>(s) | (refs << kRefShift);
}
BufferState StateOf(uint32_t w) {
  return static_cast<BufferState>(w & kStateMask);
}
uint32_t RefsOf(uint32_t w) {
  return w >> kRefShift;
}

uint64_t DataOffset() {
  return kPoolDataAlign;
}

Status ValidateParams(uint32_t buffer_size, uint32_t partitions) {
  if (!std::has_single_bit(buffer_size) || buffer_size < kMinBufferSize ||
      buffer_size > kMaxBufferSize) {
    return Status::InvalidArgument("buffer size " + std::to_string(buffer_size) +
                                   " is not a power of two in [512, 65536]");
  }
  if (partitions == 0 || partitions > kMaxPartitions) {
    return Status::InvalidArgument("partitions " + std::to_string(partitions) + " not in [1, 256]");
  }
  return Status::Ok();
}

}  // namespace

uint64_t Pool::RegionSize(uint32_t buffer_size, uint32_t buffer_count) {
  return DataOffset() + uint64_t{buffer_size} * buffer_count;
}

Status Pool::Format(uint8_t* region, uint64_t len, const PoolParams& params, uint64_t generation,
                    PersistOps& ops) {
  PASTEL_RETURN_IF_ERROR(ValidateParams(params.buffer_size, params.partitions));
  if (generation == 0) {
    return Status::InvalidArgument("generation must be >= 1");
  }
  uint64_t count = params.buffer_count;
  if (len < DataOffset() + params.buffer_size) {
    return Status::InvalidArgument("region of " + std::to_string(len) +
                                   " bytes is too small for one buffer");
  }
  const uint64_t fit = (len - DataOffset()) / params.buffer_size;
  if (count == 0) {
    count = std::min<uint64_t>(fit, UINT32_MAX - 1);
  }
  if (count > fit) {
    return Status::InvalidArgument(std::to_string(count) + " buffers of " +
                                   std::to_string(params.buffer_size) + " B do not fit in " +
                                   std::to_string(len) + " bytes");
  }
  if (count < params.partitions) {
    return Status::InvalidArgument("fewer buffers than partitions");
  }
  PoolHeader h{};
  std::memcpy(h.magic, kPoolMagic, sizeof(h.magic));
  h.version = kPoolVersion;
  h.header_size = sizeof(PoolHeader);
  h.generation = generation;
  if (getrandom(h.uuid, sizeof(h.uuid), 0) != static_cast<ssize_t>(sizeof(h.uuid))) {
    return Status::FromErrno("getrandom", errno);
  }
  h.buffer_size = params.buffer_size;
  h.buffer_count = static_cast<uint32_t>(count);
  h.data_offset = DataOffset();
  h.file_size = RegionSize(params.buffer_size, h.buffer_count);
  h.created_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  h.partitions = params.partitions;
  h.checksum = Crc32c(&h, kPoolHeaderChecksummedBytes);
  // PERSIST: before, the region holds no valid header (a torn write here leaves a checksum
  // mismatch, reported as corruption, never a half-valid pool); after, the header is durable.
  return ops.MemcpyPersist(region, &h, sizeof(h));
}

Result<PoolHeader> Pool::ReadHeader(const uint8_t* region, uint64_t len) {
  if (len < sizeof(PoolHeader)) {
    return Status::Corruption("pool too short for its header: " + std::to_string(len) + " bytes");
  }
  PoolHeader h;
  std::memcpy(&h, region, sizeof(h));
  if (std::memcmp(h.magic, kPoolMagic, sizeof(h.magic)) != 0) {
    bool zero = true;
    for (size_t i = 0; i < sizeof(PoolHeader); ++i) {
      zero = zero && region[i] == 0;
    }
    return Status::Corruption(zero ? "pool header is all zeros (never formatted)"
                                   : "not a pastel pool (bad magic)");
  }
  if (h.checksum != Crc32c(&h, kPoolHeaderChecksummedBytes)) {
    return Status::Corruption("pool header checksum mismatch");
  }
  if (h.version != kPoolVersion) {
    return Status::Corruption("unsupported pool version " + std::to_string(h.version) +
                              " (this build reads version " + std::to_string(kPoolVersion) + ")");
  }
  if (h.header_size != sizeof(PoolHeader)) {
    return Status::Corruption("pool header size " + std::to_string(h.header_size));
  }
  Status p = ValidateParams(h.buffer_size, h.partitions);
  if (!p.ok()) {
    return Status::Corruption("pool header: " + p.message());
  }
  if (h.flags != 0) {
    return Status::Corruption("pool header flags must be 0");
  }
  for (uint8_t b : h.reserved) {
    if (b != 0) {
      return Status::Corruption("pool header reserved bytes must be 0");
    }
  }
  if (h.generation == 0 || h.buffer_count == 0 || h.buffer_count < h.partitions) {
    return Status::Corruption("pool header has a zero generation or too few buffers");
  }
  if (h.data_offset < kPoolDataAlign || h.data_offset % kPoolDataAlign != 0) {
    return Status::Corruption("pool data offset " + std::to_string(h.data_offset));
  }
  // No overflow: buffer_size <= 2^16 and buffer_count < 2^32, so their product is < 2^48.
  const uint64_t data_bytes = uint64_t{h.buffer_size} * h.buffer_count;
  if (h.data_offset > (uint64_t{1} << 48)) {
    return Status::Corruption("pool data offset " + std::to_string(h.data_offset));
  }
  const uint64_t need = h.data_offset + data_bytes;
  if (h.file_size != need) {
    return Status::Corruption("pool header size fields disagree");
  }
  if (len < need) {
    return Status::Corruption("pool truncated: " + std::to_string(len) + " bytes, header says " +
                              std::to_string(need));
  }
  return h;
}

Result<std::unique_ptr<Pool>> Pool::Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                           uint32_t partitions) {
  Result<PoolHeader> h = ReadHeader(region, len);
  if (!h.ok()) {
    return h.status();
  }
  if (partitions == 0) {
    partitions = h->partitions;
  }
  if (partitions > kMaxPartitions || partitions > h->buffer_count) {
    return Status::InvalidArgument("cannot split " + std::to_string(h->buffer_count) +
                                   " buffers into " + std::to_string(partitions) + " partitions");
  }
  std::unique_ptr<Pool> pool(new Pool());
  pool->region_ = region;
  pool->region_len_ = len;
  pool->ops_ = &ops;
  pool->data_offset_ = h->data_offset;
  pool->buffer_size_ = h->buffer_size;
  pool->buffer_count_ = h->buffer_count;
  pool->meta_ = std::make_unique<std::atomic<uint32_t>[]>(h->buffer_count);
  pool->next_ = std::make_unique<uint32_t[]>(h->buffer_count);
  pool->parts_ = std::vector<Partition>(partitions);
  pool->buffers_per_partition_ = (h->buffer_count + partitions - 1) / partitions;
  for (uint32_t p = 0; p < partitions; ++p) {
    Partition& part = pool->parts_[p];
    part.first = std::min(h->buffer_count, p * pool->buffers_per_partition_);
    part.count = std::min(h->buffer_count - part.first, pool->buffers_per_partition_);
  }
  for (uint32_t i = 0; i < h->buffer_count; ++i) {
    pool->meta_[i].store(Word(BufferState::kFree, 0), std::memory_order_relaxed);
  }
  return pool;
}

Result<std::unique_ptr<Pool>> Pool::Create(const std::string& path, uint64_t file_size,
                                           const PoolParams& params, const PmOpenOptions& o) {
  PASTEL_RETURN_IF_ERROR(ValidateParams(params.buffer_size, params.partitions));
  if (file_size == 0) {
    if (params.buffer_count == 0) {
      return Status::InvalidArgument("give a pool size or a buffer count");
    }
    file_size = RegionSize(params.buffer_size, params.buffer_count);
  }
  Result<PmFile> f = PmFile::Create(path, file_size, o);
  if (!f.ok()) {
    return f.status();
  }
  Status st = Format(f->data(), f->size(), params, /*generation=*/1, f->ops());
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<Pool>> pool = Attach(file.data(), file.size(), file.ops());
  if (pool.ok()) {
    (*pool)->file_.emplace(std::move(file));
    st = (*pool)->FinishRecovery();
  } else {
    st = pool.status();
  }
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  return pool;
}

Result<std::unique_ptr<Pool>> Pool::Open(const std::string& path, const PmOpenOptions& o,
                                         uint32_t partitions) {
  Result<PmFile> f = PmFile::Open(path, o);
  if (!f.ok()) {
    return f.status();
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<Pool>> pool = Attach(file.data(), file.size(), file.ops(), partitions);
  if (!pool.ok()) {
    return Status(pool.status().code(), path + ": " + pool.status().message());
  }
  // The mapping's address does not change when the PmFile object moves.
  (*pool)->file_.emplace(std::move(file));
  return pool;
}

Pool::~Pool() {
  // Leave no poisoned shadow behind over memory that will be unmapped and reused.
  AsanUnpoison(region_ + data_offset_, uint64_t{buffer_size_} * buffer_count_);
}

const PoolHeader& Pool::header() const {
  return *reinterpret_cast<const PoolHeader*>(region_);
}
uint64_t Pool::generation() const {
  return header().generation;
}

uint32_t Pool::IndexOf(const void* p) const {
  const auto* b = static_cast<const uint8_t*>(p);
  const uint8_t* lo = region_ + data_offset_;
  if (b < lo || b >= lo + uint64_t{buffer_size_} * buffer_count_) {
    return kNoBuffer;
  }
  return static_cast<uint32_t>(static_cast<uint64_t>(b - lo) / buffer_size_);
}

uint32_t Pool::PartitionOf(uint32_t index) const {
  return index / buffers_per_partition_;
}

void Pool::Poison(uint32_t index, bool poison) const {
  if (poison) {
    AsanPoison(BufferData(index), buffer_size_);
  } else {
    AsanUnpoison(BufferData(index), buffer_size_);
  }
}

void Pool::PushFree(uint32_t index) {
  Poison(index, true);
  Partition& part = parts_[PartitionOf(index)];
  uint32_t head = part.return_head.load(std::memory_order_relaxed);
  do {
    next_[index] = head;
  } while (!part.return_head.compare_exchange_weak(head, index, std::memory_order_acq_rel,
                                                   std::memory_order_relaxed));
  part.return_len.fetch_add(1, std::memory_order_relaxed);
}

Result<uint32_t> Pool::Allocate(uint32_t partition, BufferState to) {
  if (partition >= parts_.size()) {
    return Status::InvalidArgument("no partition " + std::to_string(partition));
  }
  if (to != BufferState::kApp && to != BufferState::kKernel) {
    return Status::InvalidArgument("a new buffer goes to the application or the kernel");
  }
  if (recovering()) {
    return Status::FailedPrecondition("pool is recovering: no allocation before FinishRecovery");
  }
  uint32_t idx = kNoBuffer;
  {
    Partition& part = parts_[partition];
    std::lock_guard lock(part.mu);
    idx = Take(part, 0);
  }
  // Sharing: none of its own left, so one of another partition's above that one's floor (the
  // count read first is a hint; Take checks it again under the lock).
  const uint32_t n = partitions();
  for (uint32_t i = 1; idx == kNoBuffer && i < n; ++i) {
    const uint32_t q = (partition + i) % n;
    if (FreeInPartition(q) > Floor(q)) {
      std::lock_guard lock(parts_[q].mu);
      idx = Take(parts_[q], Floor(q));
    }
  }
  if (idx == kNoBuffer) {
    // No free buffer in p, and none to spare elsewhere. A short message, kept within the string's
    // own bytes: a backend at an empty pool meets this at every receive it cannot arm, and the
    // data path allocates nothing (tests/integration/alloc_test.cc).
    return Status::NoSpace("pool is full");
  }
  uint32_t expect = Word(BufferState::kFree, 0);
  // Invariant: a buffer on a free list is free; anything else is a broken ownership protocol.
  const bool was_free =
      meta_[idx].compare_exchange_strong(expect, Word(to, 0), std::memory_order_acq_rel);
  assert(was_free);
  if (!was_free) {
    return Status::FailedPrecondition("buffer " + std::to_string(idx) +
                                      " on a free list is not free");
  }
  if (to == BufferState::kApp) {
    Poison(idx, false);
  }
  return idx;
}

uint32_t Pool::Take(Partition& part, uint32_t floor) {
  if (part.listed.load(std::memory_order_relaxed) +
          part.return_len.load(std::memory_order_relaxed) <=
      floor) {
    return kNoBuffer;
  }
  uint32_t idx = kNoBuffer;
  if (file_order_) {
    idx = TakeInFileOrder(part);
  } else {
    if (part.local_head == kNoBuffer &&
        part.return_head.load(std::memory_order_relaxed) != kNoBuffer) {
      // Pairs with the acq_rel CAS of PushFree: the links of every taken buffer are visible.
      const uint32_t head = part.return_head.exchange(kNoBuffer, std::memory_order_acquire);
      uint32_t n = 0;
      for (uint32_t i = head; i != kNoBuffer; i = next_[i]) {
        ++n;
      }
      part.return_len.fetch_sub(n, std::memory_order_relaxed);
      part.local_head = head;
      part.local_len = n;
    }
    if (part.local_head != kNoBuffer) {
      idx = part.local_head;
      part.local_head = next_[idx];
      --part.local_len;
    } else if (part.fresh_head != kNoBuffer) {
      idx = part.fresh_head;
      part.fresh_head = next_[idx];
      --part.fresh_len;
    }
  }
  part.listed.store(part.local_len + part.fresh_len + part.bits_free, std::memory_order_relaxed);
  return idx;
}

uint32_t Pool::TakeInFileOrder(Partition& part) {
  if (part.return_head.load(std::memory_order_relaxed) != kNoBuffer) {
    // Pairs with the acq_rel CAS of PushFree: the links of every taken buffer are visible.
    uint32_t n = 0;
    for (uint32_t i = part.return_head.exchange(kNoBuffer, std::memory_order_acquire);
         i != kNoBuffer; i = next_[i]) {
      const uint32_t bit = i - part.first;
      part.free_bits[bit / 64] |= uint64_t{1} << (bit % 64);
      ++n;
    }
    part.return_len.fetch_sub(n, std::memory_order_relaxed);
    part.bits_free += n;
  }
  if (part.bits_free == 0) {
    return kNoBuffer;
  }
  const size_t words = part.free_bits.size();
  size_t w = part.cursor / 64;
  // The cursor's word without the bits below it, then the words after it, wrapping once.
  uint64_t bits = part.free_bits[w] & (~uint64_t{0} << (part.cursor % 64));
  for (size_t n = 0; bits == 0 && n < words; ++n) {
    w = w + 1 == words ? 0 : w + 1;
    bits = part.free_bits[w];
  }
  if (bits == 0) {
    return kNoBuffer;  // (only the bits below the cursor in its word were left: taken below)
  }
  const uint32_t bit =
      static_cast<uint32_t>(w * 64) + static_cast<uint32_t>(std::countr_zero(bits));
  part.free_bits[w] &= ~(uint64_t{1} << (bit % 64));
  --part.bits_free;
  part.cursor = bit + 1 == part.count ? 0 : bit + 1;
  return part.first + bit;
}

Status Pool::LendToKernel(uint32_t index) {
  return Transition(index, Op::kLend);
}
Status Pool::ReturnFromKernel(uint32_t index) {
  return Transition(index, Op::kReturn);
}
Status Pool::Release(uint32_t index) {
  return Transition(index, Op::kRelease);
}
Status Pool::Retain(uint32_t index, uint32_t n) {
  return Transition(index, Op::kRetain, n);
}
Status Pool::Unretain(uint32_t index, uint32_t n) {
  return Transition(index, Op::kUnretain, n);
}

void Pool::RetainedBits(std::vector<uint64_t>* bits) const {
  bits->assign((buffer_count_ + 63) / 64, 0);
  for (uint32_t i = 0; i < buffer_count_; ++i) {
    if (StateOf(meta_[i].load(std::memory_order_acquire)) == BufferState::kRetained) {
      (*bits)[i / 64] |= uint64_t{1} << (i % 64);
    }
  }
}

Status Pool::Transition(uint32_t index, Op op, uint32_t n) {
  if (index >= buffer_count_) {
    return Status::InvalidArgument("buffer index " + std::to_string(index) + " out of range");
  }
  const bool recovering = recovering_.load(std::memory_order_acquire);
  uint32_t w = meta_[index].load(std::memory_order_acquire);
  while (true) {
    const BufferState s = StateOf(w);
    const uint32_t refs = RefsOf(w);
    uint32_t next = 0;
    bool ok = false;
    switch (op) {
      case Op::kLend:
        ok = s == BufferState::kApp;
        next = Word(BufferState::kKernel, 0);
        break;
      case Op::kReturn:
        ok = s == BufferState::kKernel;
        next = Word(BufferState::kApp, 0);
        break;
      case Op::kRelease:
        ok = s == BufferState::kApp || s == BufferState::kKernel;
        next = Word(BufferState::kFree, 0);
        break;
      case Op::kRetain:
        ok = n >= 1 && n <= kMaxRefs &&
             (s == BufferState::kApp || (s == BufferState::kFree && recovering) ||
              (s == BufferState::kRetained && refs <= kMaxRefs - n));
        next = Word(BufferState::kRetained, s == BufferState::kRetained ? refs + n : n);
        break;
      case Op::kUnretain:
        ok = n >= 1 && s == BufferState::kRetained && refs >= n;
        next = refs > n ? Word(BufferState::kRetained, refs - n) : Word(BufferState::kFree, 0);
        break;
    }
    if (!ok) {
      static constexpr const char* kNames[] = {"lend", "return", "release", "retain", "unretain"};
      return Status::FailedPrecondition(std::string("cannot ") + kNames[static_cast<int>(op)] +
                                        " buffer " + std::to_string(index) + " in state " +
                                        std::string(BufferStateName(s)));
    }
    if (!meta_[index].compare_exchange_weak(w, next, std::memory_order_acq_rel,
                                            std::memory_order_acquire)) {
      continue;
    }
    if (StateOf(next) == BufferState::kFree) {
      // While recovering, free buffers are not on lists yet: FinishRecovery collects them.
      if (!recovering) {
        PushFree(index);
      }
    } else if (op == Op::kLend) {
      Poison(index, true);
    } else if (op == Op::kReturn) {
      Poison(index, false);
    }
    return Status::Ok();
  }
}

Status Pool::FinishRecovery() {
  if (!recovering_.load(std::memory_order_acquire)) {
    return Status::FailedPrecondition("pool recovery already finished");
  }
  file_order_ = ops_ != nullptr && ops_->granularity() == Granularity::kPage;
  for (Partition& part : parts_) {
    part.local_head = kNoBuffer;
    part.local_len = 0;
    part.fresh_head = kNoBuffer;
    part.fresh_len = 0;
    part.free_bits.assign(file_order_ ? (part.count + 63) / 64 : 0, 0);
    part.cursor = 0;
    part.bits_free = 0;
    for (uint32_t i = part.count; i-- > 0;) {
      const uint32_t idx = part.first + i;
      if (StateOf(meta_[idx].load(std::memory_order_acquire)) == BufferState::kFree) {
        if (file_order_) {
          part.free_bits[i / 64] |= uint64_t{1} << (i % 64);
          ++part.bits_free;
        } else {
          next_[idx] = part.fresh_head;
          part.fresh_head = idx;
          ++part.fresh_len;
        }
        Poison(idx, true);
      }
    }
    part.listed.store(part.fresh_len + part.bits_free, std::memory_order_relaxed);
  }
  recovering_.store(false, std::memory_order_release);
  return Status::Ok();
}

BufferState Pool::state(uint32_t index) const {
  return StateOf(meta_[index].load(std::memory_order_acquire));
}

uint32_t Pool::refs(uint32_t index) const {
  return RefsOf(meta_[index].load(std::memory_order_acquire));
}

PoolCounts Pool::Counts() const {
  PoolCounts c;
  for (uint32_t i = 0; i < buffer_count_; ++i) {
    switch (state(i)) {
      case BufferState::kFree: ++c.free; break;
      case BufferState::kKernel: ++c.kernel; break;
      case BufferState::kApp: ++c.app; break;
      case BufferState::kRetained: ++c.retained; break;
    }
  }
  return c;
}

uint32_t Pool::FreeInPartition(uint32_t p) const {
  return parts_[p].listed.load(std::memory_order_relaxed) +
         parts_[p].return_len.load(std::memory_order_relaxed);
}

uint64_t Pool::FreeFor(uint32_t p) const {
  uint64_t n = 0;
  for (uint32_t q = 0; q < partitions(); ++q) {
    const uint32_t free = FreeInPartition(q);
    n += q == p ? free : free > Floor(q) ? free - Floor(q) : 0;  // (own: all; others: above floor)
  }
  return n;
}

void Pool::SetReadOnly(const Status& why) {
  if (!reason_set_.test_and_set(std::memory_order_acq_rel)) {
    read_only_reason_ = std::make_unique<Status>(why);
    // Pairs with the acquire in read_only()/read_only_reason(): the reason is visible first.
    read_only_.store(true, std::memory_order_release);
  }
}

Status Pool::read_only_reason() const {
  if (!read_only()) {
    return Status::Ok();
  }
  return *read_only_reason_;
}

}  // namespace pastel
