#include "pastel/log.h"

#include <unistd.h>

#include <algorithm>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "log/log_format.h"
#include "pastel/crc32c.h"
#include "pool/pool_format.h"

namespace pastel {

std::string_view ScanEndName(ScanEnd e) {
  switch (e) {
    case ScanEnd::kEndOfStream: return "end-of-stream";
    case ScanEnd::kZeroed: return "zeroed";
    case ScanEnd::kTorn: return "torn";
    case ScanEnd::kStale: return "stale";
    case ScanEnd::kCorruption: return "corruption";
  }
  return "?";
}

namespace {

// The range [*begin, *end) of the next bytes at or after *begin, before `end_limit`, that the file
// may hold other than zeros, as offsets from `base` (a stream's start inside `region`, the mapping
// of `fd`). Holes (never written) are skipped without being touched: on tmpfs, reading a hole
// through a shared mapping allocates and clears a page. False when only holes are left. Without a
// file, or when the file system cannot tell (SEEK_DATA unsupported), the whole rest.
bool NextDataRange(int fd, const uint8_t* region, const uint8_t* base, uint64_t* begin,
                   uint64_t* end, uint64_t end_limit) {
  *end = end_limit;
  if (fd < 0) {
    return *begin < end_limit;
  }
  const off_t at = static_cast<off_t>((base - region) + *begin);
  const off_t data = ::lseek(fd, at, SEEK_DATA);
  if (data < 0) {
    if (errno == ENXIO) {
      return false;  // only holes from here to the end of the file
    }
    return *begin < end_limit;
  }
  const off_t hole = ::lseek(fd, data, SEEK_HOLE);
  const uint64_t from = static_cast<uint64_t>(data - (base - region));
  *begin = std::max(*begin, from / kRecordAlign * kRecordAlign);
  if (hole >= 0) {
    *end = std::min<uint64_t>(end_limit, static_cast<uint64_t>(hole - (base - region)));
  }
  return *begin < end_limit;
}

bool LineIsZero(const uint8_t* p) {
  uint64_t acc = 0;
  for (size_t i = 0; i < kRecordAlign; i += 8) {
    uint64_t w;
    std::memcpy(&w, p + i, 8);
    acc |= w;
  }
  return acc == 0;
}

uint32_t RecordCrc(const uint8_t* rec, size_t bytes) {
  const uint32_t zero = 0;
  uint32_t crc = Crc32cExtend(0, &zero, sizeof(zero));
  return Crc32cExtend(crc, rec + sizeof(uint32_t), bytes - sizeof(uint32_t));
}

uint32_t DataCrc(const Pool& pool, std::span<const Extent> extents) {
  uint32_t crc = 0;
  for (const Extent& e : extents) {
    crc = Crc32cExtend(crc, pool.BufferData(e.buffer) + e.offset, e.length);
  }
  return crc;
}

std::string At(uint32_t stream, uint64_t off) {
  return "stream " + std::to_string(stream) + " offset " + std::to_string(off);
}

// Why a record position does not hold a usable record.
enum class Parse : uint8_t { kOk, kZero, kBad, kForeign };

// Parses the record at `off` of a stream of `size` bytes. kBad: not a whole, checksummed record
// (torn or damaged). kForeign: checksummed, but of another generation or not following `last_seq`.
struct Parsed {
  Parse result = Parse::kBad;
  RecordHeader h{};
  std::string why;
};

Parsed ParseAt(const uint8_t* stream, uint64_t size, uint64_t off, uint32_t generation,
               uint64_t last_seq, const Pool& pool) {
  Parsed p;
  const uint8_t* rec = stream + off;
  if (LineIsZero(rec)) {
    p.result = Parse::kZero;
    return p;
  }
  std::memcpy(&p.h, rec, sizeof(p.h));
  const RecordHeader& h = p.h;
  const uint64_t bytes = uint64_t{h.n_lines} * kRecordAlign;
  if (h.n_lines == 0 || bytes > kMaxRecordBytes || off + bytes > size) {
    p.why = "record length out of bounds";
    return p;
  }
  if (h.header_crc != RecordCrc(rec, bytes)) {
    p.why = "record checksum mismatch";
    return p;
  }
  // From here the bytes are exactly what some writer wrote: a bad field is not a torn write.
  if (h.generation != generation) {
    p.result = Parse::kForeign;
    p.why = "record of generation " + std::to_string(h.generation) + ", stream is at " +
            std::to_string(generation);
    return p;
  }
  if (h.sequence <= last_seq) {
    p.result = Parse::kForeign;
    p.why =
        "sequence " + std::to_string(h.sequence) + " does not follow " + std::to_string(last_seq);
    return p;
  }
  const bool has_word = (h.flags & kRecordFlagWord) != 0;
  uint64_t word = 0;
  if (has_word) {
    std::memcpy(&word, rec + sizeof(RecordHeader), sizeof(word));
  }
  const bool empty = h.n_extents == 0 && h.value_len == 0;
  // A put's word is its expiry time; a kExpire's, the sequence of the put it removes.
  const bool type_ok =
      (h.type == static_cast<uint8_t>(RecordType::kPut) &&
       (!has_word || (word >= 1 && word <= static_cast<uint64_t>(INT64_MAX)))) ||
      (h.type == static_cast<uint8_t>(RecordType::kDelete) && empty && !has_word) ||
      (h.type == static_cast<uint8_t>(RecordType::kExpire) && empty && has_word && word >= 1 &&
       word < h.sequence);
  const bool value_type_ok =
      h.value_type == 0 ||
      (h.type == static_cast<uint8_t>(RecordType::kPut) && h.value_type <= kMaxValueType);
  if (!type_ok || !value_type_ok || (h.flags & ~(kRecordFlagBatchEnd | kRecordFlagWord)) != 0 ||
      h.reserved[0] != 0 || h.reserved[1] != 0 || h.reserved[2] != 0 || h.key_len == 0 ||
      h.sequence > kMaxSequence || h.key_len > kMaxKeyLen ||
      RecordBytes(h.key_len, h.n_extents, has_word) != bytes ||
      uint64_t{h.batch_offset} * kRecordAlign > off - kStreamRecordsOffset) {
    p.why = "record fields inconsistent";
    return p;
  }
  uint64_t sum = 0;
  const auto* ext = reinterpret_cast<const Extent*>(rec + sizeof(RecordHeader) +
                                                    (has_word ? kRecordWordBytes : 0));
  for (uint16_t i = 0; i < h.n_extents; ++i) {
    Extent e;
    std::memcpy(&e, &ext[i], sizeof(e));
    if (e.buffer >= pool.buffer_count() || e.length == 0 ||
        uint64_t{e.offset} + e.length > pool.buffer_size()) {
      p.why = "extent " + std::to_string(i) + " outside the pool";
      return p;
    }
    sum += e.length;
  }
  if (sum != h.value_len) {
    p.why = "value length does not match the extents";
    return p;
  }
  p.result = Parse::kOk;
  return p;
}

RecordView ViewAt(uint32_t s, const uint8_t* stream, uint64_t off) {
  RecordHeader h;
  std::memcpy(&h, stream + off, sizeof(h));
  RecordView v;
  v.stream = s;
  v.offset = off;
  v.sequence = h.sequence;
  v.type = static_cast<RecordType>(h.type);
  v.batch_end = (h.flags & kRecordFlagBatchEnd) != 0;
  v.value_len = h.value_len;
  v.data_crc = h.data_crc;
  v.value_type = static_cast<ValueType>(h.value_type);
  size_t words = 0;
  if ((h.flags & kRecordFlagWord) != 0) {
    uint64_t word = 0;
    std::memcpy(&word, stream + off + sizeof(RecordHeader), sizeof(word));
    if (v.type == RecordType::kExpire) {
      v.target = word;
    } else {
      v.expire_ms = static_cast<int64_t>(word);
    }
    words = kRecordWordBytes;
  }
  const auto* ext = reinterpret_cast<const Extent*>(stream + off + sizeof(RecordHeader) + words);
  v.extents = {ext, h.n_extents};
  v.key = {reinterpret_cast<const char*>(ext + h.n_extents), h.key_len};
  return v;
}

struct ScannedRecord {
  uint64_t offset;
  uint64_t sequence;
  uint64_t batch_start;
};

// The result of scanning one stream: the records of whole batches, and why the scan stopped.
struct StreamScan {
  std::vector<ScannedRecord> kept;
  uint64_t committed_end = kStreamRecordsOffset;  // just past the last whole batch
  uint64_t last_batch_start = kStreamRecordsOffset;
  uint64_t batches = 0;
  uint64_t discarded = 0;
  uint64_t max_sequence = 0;  // over every checksummed record seen, discarded ones too
  ScanEnd end = ScanEnd::kZeroed;
  std::string detail;
};

StreamScan ScanStream(uint32_t s, const uint8_t* stream, uint64_t size, uint32_t generation,
                      const Pool& pool) {
  StreamScan sc;
  uint64_t off = kStreamRecordsOffset;
  uint64_t last_seq = 0;
  uint64_t batch_start = kStreamRecordsOffset;
  std::vector<ScannedRecord> open_batch;
  while (true) {
    if (off + kRecordAlign > size) {
      sc.end = ScanEnd::kEndOfStream;
      break;
    }
    Parsed p = ParseAt(stream, size, off, generation, last_seq, pool);
    if (p.result == Parse::kOk && uint64_t{p.h.batch_offset} * kRecordAlign != off - batch_start) {
      p.result = Parse::kBad;
      p.why = "record does not belong to the open batch";
    }
    if (p.result == Parse::kZero) {
      sc.end = ScanEnd::kZeroed;
      break;
    }
    if (p.result == Parse::kForeign) {
      sc.end = ScanEnd::kStale;
      sc.detail = p.why + " at " + At(s, off);
      break;
    }
    if (p.result == Parse::kBad) {
      // Torn tail or corruption? A torn batch can leave any of its records bad and others whole,
      // but nothing of a later batch: any whole record further on that starts a later batch means
      // this spot was once part of a fenced batch, i.e. real damage.
      sc.end = ScanEnd::kTorn;
      sc.detail = p.why + " at " + At(s, off);
      uint64_t same_batch = 0;
      for (uint64_t q = off + kRecordAlign; q + kRecordAlign <= size; q += kRecordAlign) {
        Parsed r = ParseAt(stream, size, q, generation, last_seq, pool);
        if (r.result != Parse::kOk) {
          continue;
        }
        sc.max_sequence = std::max(sc.max_sequence, r.h.sequence);
        const uint64_t r_batch = q - uint64_t{r.h.batch_offset} * kRecordAlign;
        if (r_batch > batch_start) {
          sc.end = ScanEnd::kCorruption;
          sc.detail += "; whole later batch at " + At(s, r_batch);
          break;
        }
        ++same_batch;
      }
      if (sc.end == ScanEnd::kTorn && same_batch > 0) {
        sc.detail +=
            "; " + std::to_string(same_batch) + " whole record(s) of the same batch after it";
      }
      break;
    }
    sc.max_sequence = std::max(sc.max_sequence, p.h.sequence);
    last_seq = p.h.sequence;
    open_batch.push_back({off, p.h.sequence, batch_start});
    off += uint64_t{p.h.n_lines} * kRecordAlign;
    if ((p.h.flags & kRecordFlagBatchEnd) != 0) {
      sc.kept.insert(sc.kept.end(), open_batch.begin(), open_batch.end());
      open_batch.clear();
      sc.last_batch_start = batch_start;
      sc.committed_end = off;
      ++sc.batches;
      batch_start = off;
    }
  }
  sc.discarded = open_batch.size();
  if (sc.discarded > 0 && sc.end != ScanEnd::kCorruption) {
    sc.end = ScanEnd::kTorn;
    if (!sc.detail.empty()) {
      sc.detail += "; ";
    }
    sc.detail += std::to_string(sc.discarded) + " record(s) of a batch that never completed";
  }
  return sc;
}

// Reads the stream header slot in force, or fails when neither slot is valid.
Result<std::pair<StreamHeader, uint32_t>> ReadStreamHeader(const uint8_t* stream, uint32_t id) {
  std::optional<std::pair<StreamHeader, uint32_t>> best;
  for (uint32_t slot = 0; slot < 2; ++slot) {
    StreamHeader h;
    std::memcpy(&h, stream + slot * sizeof(StreamHeader), sizeof(h));
    bool reserved_zero = h.reserved0 == 0;
    for (uint8_t b : h.reserved) {
      reserved_zero = reserved_zero && b == 0;
    }
    if (h.magic != kStreamHeaderMagic || h.checksum != Crc32c(&h, kStreamHeaderChecksummedBytes) ||
        h.stream_id != id || h.generation == 0 || h.checkpoint_seq > kMaxSequence ||
        !reserved_zero) {
      continue;
    }
    if (!best || h.generation > best->first.generation) {
      best = std::make_pair(h, slot);
    }
  }
  if (!best) {
    return Status::Corruption("stream " + std::to_string(id) + " has no valid header");
  }
  return *best;
}

StreamHeader MakeStreamHeader(uint32_t id, uint32_t generation, uint64_t checkpoint_seq) {
  StreamHeader h{};
  h.magic = kStreamHeaderMagic;
  h.stream_id = id;
  h.generation = generation;
  h.checkpoint_seq = checkpoint_seq;
  h.checksum = Crc32c(&h, kStreamHeaderChecksummedBytes);
  return h;
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// LogStream

uint64_t LogStream::record_bytes(size_t key_len, size_t n_extents, bool word) {
  return RecordBytes(key_len, n_extents, word);
}

bool LogStream::RecordFits(size_t key_len, size_t n_extents, bool word) {
  return key_len >= 1 && key_len <= kMaxKeyLen && n_extents <= UINT16_MAX &&
         RecordBytes(key_len, n_extents, word) <= kMaxRecordBytes;
}

uint64_t LogStream::records_begin() {
  return kStreamRecordsOffset;
}

uint64_t LogStream::capacity() const {
  return size_ - kStreamRecordsOffset;
}

Result<uint64_t> LogStream::AppendPut(std::string_view key, std::span<const Extent> extents,
                                      int64_t expire_ms, ValueType type) {
  if (expire_ms < 0) {
    return Status::InvalidArgument("expiry time " + std::to_string(expire_ms) + " out of range");
  }
  if (static_cast<uint8_t>(type) > kMaxValueType) {
    return Status::InvalidArgument("value type " + std::to_string(static_cast<int>(type)) +
                                   " unknown");
  }
  return Append(RecordType::kPut, key, extents, static_cast<uint64_t>(expire_ms), 0, nullptr, type);
}

Result<uint64_t> LogStream::AppendDelete(std::string_view key) {
  return Append(RecordType::kDelete, key, {});
}

Result<uint64_t> LogStream::AppendExpire(std::string_view key, uint64_t target) {
  // The target is a put written before: below every sequence handed out from now on (recovery
  // refuses a kExpire whose target does not precede it).
  if (target == 0 || target >= log_->next_seq_.load(std::memory_order_relaxed)) {
    return Status::InvalidArgument("kExpire of sequence " + std::to_string(target) +
                                   ", not one written before");
  }
  return Append(RecordType::kExpire, key, {}, target);
}

Result<uint64_t> LogStream::AppendCopy(const RecordView& record) {
  if (record.sequence <= last_seq_) {
    return Status::InvalidArgument("copied record's sequence " + std::to_string(record.sequence) +
                                   " does not follow " + std::to_string(last_seq_));
  }
  const uint64_t word =
      record.type == RecordType::kExpire ? record.target : static_cast<uint64_t>(record.expire_ms);
  return Append(record.type, record.key, record.extents, word, record.sequence, &record.data_crc,
                record.value_type);
}

Result<uint64_t> LogStream::Append(RecordType type, std::string_view key,
                                   std::span<const Extent> extents, uint64_t word,
                                   uint64_t sequence, const uint32_t* data_crc,
                                   ValueType value_type) {
  if (!failed_.ok()) {
    return Status::ReadOnly("log stream " + std::to_string(id_) +
                            " is read-only after: " + failed_.ToString());
  }
  if (!log_->recovered_) {
    return Status::FailedPrecondition("log not recovered yet");
  }
  const bool has_word = word != 0;
  if (!RecordFits(key.size(), extents.size(), has_word)) {
    if (key.empty() || key.size() > kMaxKeyLen) {
      return Status::InvalidArgument("key length " + std::to_string(key.size()) +
                                     " not in [1, 1024]");
    }
    return Status::InvalidArgument("value spans too many buffers (" +
                                   std::to_string(extents.size()) + ")");
  }
  const size_t bytes = RecordBytes(key.size(), extents.size(), has_word);
  const Pool& pool = *log_->pool_;
  uint64_t value_len = 0;
  for (const Extent& e : extents) {
    if (e.buffer >= pool.buffer_count() || e.length == 0 ||
        uint64_t{e.offset} + e.length > pool.buffer_size()) {
      return Status::InvalidArgument("extent outside the pool");
    }
    const BufferState st = pool.state(e.buffer);
    if (st != BufferState::kApp && st != BufferState::kRetained) {
      return Status::FailedPrecondition("extent names buffer " + std::to_string(e.buffer) +
                                        " in state " + std::string(BufferStateName(st)));
    }
    value_len += e.length;
  }
  if (value_len > UINT32_MAX) {
    return Status::InvalidArgument("value too long");
  }
  if (tail_ + bytes > size_) {
    return Status::NoSpace("log stream " + std::to_string(id_) + " is full");
  }
  uint64_t seq = sequence;
  if (seq == 0) {
    // Recovery takes a sequence above kMaxSequence for damage and drops the record, so none is
    // ever handed out: a log whose recovered checkpoint or records reached kMaxSequence takes no
    // more writes (and none is acknowledged only to be lost at the next start).
    seq = log_->next_seq_.load(std::memory_order_relaxed);
    do {
      if (seq > kMaxSequence) {
        return Status::ReadOnly("log sequence numbers are exhausted (the next one, " +
                                std::to_string(seq) + ", is above 2^63): no more writes");
      }
    } while (!log_->next_seq_.compare_exchange_weak(seq, seq + 1, std::memory_order_relaxed));
  }
  last_seq_ = std::max(last_seq_, seq);
  uint8_t* rec = base_ + tail_;
  RecordHeader h{};
  h.data_crc = data_crc != nullptr ? *data_crc : DataCrc(pool, extents);
  last_data_crc_ = h.data_crc;
  batch_fresh_values_ = batch_fresh_values_ || (data_crc == nullptr && !extents.empty());
  h.sequence = seq;
  h.generation = generation_;
  h.batch_offset = static_cast<uint32_t>((tail_ - batch_start_) / kRecordAlign);
  h.n_lines = static_cast<uint16_t>(bytes / kRecordAlign);
  h.type = static_cast<uint8_t>(type);
  h.flags = has_word ? kRecordFlagWord : 0;
  h.key_len = static_cast<uint16_t>(key.size());
  h.n_extents = static_cast<uint16_t>(extents.size());
  h.value_len = static_cast<uint32_t>(value_len);
  h.value_type = static_cast<uint8_t>(value_type);
  // PERSIST: none here. The record is written in place; until Commit's fence a crash may keep any
  // subset of its lines, which recovery discards (checksum, batch-end flag).
  std::memcpy(rec, &h, sizeof(h));
  size_t pos = sizeof(h);
  if (has_word) {
    std::memcpy(rec + pos, &word, sizeof(word));
    pos += sizeof(word);
  }
  if (!extents.empty()) {
    std::memcpy(rec + pos, extents.data(), extents.size_bytes());
    pos += extents.size_bytes();
  }
  std::memcpy(rec + pos, key.data(), key.size());
  pos += key.size();
  std::memset(rec + pos, 0, bytes - pos);
  const uint32_t crc = RecordCrc(rec, bytes);
  std::memcpy(rec, &crc, sizeof(crc));
  last_record_ = tail_;
  tail_ += bytes;
  ++pending_records_;
  return seq;
}

bool LogStream::VisitCommitted(uint64_t* cursor, uint32_t max,
                               const std::function<bool(const RecordView&)>& fn) const {
  uint64_t off = std::max(*cursor, kStreamRecordsOffset);
  for (uint32_t n = 0; off < batch_start_ && n < max; ++n) {
    RecordHeader h;
    std::memcpy(&h, base_ + off, sizeof(h));
    if (!fn(ViewAt(id_, base_, off))) {
      *cursor = off;
      return false;
    }
    off += uint64_t{h.n_lines} * kRecordAlign;
  }
  *cursor = off;
  return off >= batch_start_;
}

Status LogStream::Fail(Status st) {
  failed_ = st;
  log_->pool_->SetReadOnly(st);
  return st;
}

Result<CommitInfo> LogStream::Commit() {
  Result<CommitInfo> info = Seal();
  if (!info.ok() || info->records == 0) {
    return info;
  }
  PersistOps& ops = *log_->ops_;
  PersistOps& data_ops = log_->pool_->ops();
  // PERSIST: the fence(s) of the sealed batch (one per medium when pool and log have different
  // PersistOps). Before, nothing of the batch may be acknowledged; after, it is durable.
  Status st = Status::Ok();
  if (&data_ops != &ops && !(data_ops.DrainIsCpuFence() && ops.DrainIsCpuFence())) {
    st = data_ops.Drain();
  }
  if (st.ok()) {
    st = ops.Drain();
  }
  if (!st.ok()) {
    return Fail(st);
  }
  return info;
}

bool LogStream::SealedRange(SyncRange* out) const {
  PersistOps& ops = log_->ops();
  if (ops.sync_fd() < 0 || sealed_end_ <= sealed_begin_) {
    return false;
  }
  // (The log's region is its file's mapping, from the file's first byte.)
  constexpr uint64_t kPage = 4096;
  const uint8_t* file = log_->region();
  const uint64_t lo = static_cast<uint64_t>(base_ + sealed_begin_ - file) & ~(kPage - 1);
  const uint64_t hi =
      (static_cast<uint64_t>(base_ + sealed_end_ - file) + kPage - 1) & ~(kPage - 1);
  *out = {lo, hi - lo, &ops};
  return true;
}

Result<CommitInfo> LogStream::Seal(bool flush) {
  if (!failed_.ok()) {
    return Status::ReadOnly("log stream " + std::to_string(id_) +
                            " is read-only after: " + failed_.ToString());
  }
  CommitInfo info;
  if (pending_records_ == 0) {
    return info;
  }
  // Mark the batch's last record; its checksum covers the flag.
  uint8_t* last = base_ + last_record_;
  RecordHeader lh;
  std::memcpy(&lh, last, sizeof(lh));
  lh.flags |= kRecordFlagBatchEnd;
  std::memcpy(last, &lh, sizeof(lh));
  const uint32_t crc = RecordCrc(last, uint64_t{lh.n_lines} * kRecordAlign);
  std::memcpy(last, &crc, sizeof(crc));

  PersistOps& ops = *log_->ops_;
  PersistOps& data_ops = log_->pool_->ops();
  const Pool& pool = *log_->pool_;
  // PERSIST: flush every value range of the batch, then every record line; the fence (Commit) or
  // the syncs (a pipelined commit) follow. Before them, nothing of the batch may be acknowledged.
  for (uint64_t off = batch_start_; off < tail_;) {
    const RecordView v = ViewAt(id_, base_, off);
    if (info.records == 0) {
      info.first_sequence = v.sequence;
    }
    info.last_sequence = v.sequence;
    ++info.records;
    info.value_bytes += v.value_len;
    // A batch of compaction copies only: every value is durable since its original's commit.
    for (const Extent& e : flush&& batch_fresh_values_ ? v.extents : std::span<const Extent>()) {
      Status st = data_ops.Flush(pool.BufferData(e.buffer) + e.offset, e.length);
      if (!st.ok()) {
        return Fail(st);
      }
    }
    RecordHeader h;
    std::memcpy(&h, base_ + off, sizeof(h));
    off += uint64_t{h.n_lines} * kRecordAlign;
  }
  // The data checksum in each record makes the order of the two media irrelevant: a record whose
  // value did not become durable is detected and its batch dropped. Both must be durable before
  // the caller acknowledges anything.
  if (flush) {
    Status st = ops.Flush(base_ + batch_start_, tail_ - batch_start_);
    if (!st.ok()) {
      return Fail(st);
    }
  }
  sealed_begin_ = batch_start_;
  sealed_end_ = tail_;
  batch_start_ = tail_;
  pending_records_ = 0;
  batch_fresh_values_ = false;
  return info;
}

Status LogStream::Truncate(uint64_t checkpoint_seq) {
  if (!failed_.ok()) {
    return Status::ReadOnly("log stream is read-only after: " + failed_.ToString());
  }
  if (pending_records_ != 0) {
    return Status::FailedPrecondition("truncate with an open batch");
  }
  const uint32_t slot = 1 - header_slot_;
  const StreamHeader h = MakeStreamHeader(id_, generation_ + 1, checkpoint_seq);
  // PERSIST: before, the slot in force names the old generation and its records are the stream's
  // content; after, the other slot names the new generation and every older record is stale. A
  // torn write of this slot fails its checksum and the old slot stays in force.
  Status st = log_->ops_->MemcpyPersist(base_ + slot * sizeof(StreamHeader), &h, sizeof(h));
  if (!st.ok()) {
    return Fail(st);
  }
  header_slot_ = slot;
  generation_ = h.generation;
  checkpoint_seq_ = checkpoint_seq;
  tail_ = batch_start_ = last_record_ = kStreamRecordsOffset;
  last_seq_ = 0;
  return Status::Ok();
}

// ---------------------------------------------------------------------------------------------
// Log

uint64_t Log::RegionSize(const LogParams& p) {
  return kLogHeaderRegion + uint64_t{p.streams} * p.stream_size;
}

namespace {

// Largest log the format allows: 256 streams of up to 1 TiB each, far from any overflow.
constexpr uint64_t kMaxStreamSize = uint64_t{1} << 40;

Status ValidateLogParams(const LogParams& params) {
  if (params.streams == 0 || params.streams > kMaxStreams) {
    return Status::InvalidArgument("log streams " + std::to_string(params.streams) +
                                   " not in [1, 256]");
  }
  if (params.stream_size < kMinStreamSize || params.stream_size > kMaxStreamSize ||
      params.stream_size % kStreamAlign != 0) {
    return Status::InvalidArgument("log stream size " + std::to_string(params.stream_size) +
                                   " is not a multiple of 4096 in [8 KiB, 1 TiB]");
  }
  return Status::Ok();
}

}  // namespace

Status Log::Format(uint8_t* region, uint64_t len, const LogParams& params, const Pool& pool,
                   PersistOps& ops) {
  PASTEL_RETURN_IF_ERROR(ValidateLogParams(params));
  if (len < RegionSize(params)) {
    return Status::InvalidArgument("log region too small");
  }
  for (uint32_t s = 0; s < params.streams; ++s) {
    uint8_t* stream = region + kLogHeaderRegion + s * params.stream_size;
    const StreamHeader sh = MakeStreamHeader(s, 1, 0);
    std::memcpy(stream, &sh, sizeof(sh));
    std::memset(stream + sizeof(sh), 0, kStreamRecordsOffset - sizeof(sh));
    PASTEL_RETURN_IF_ERROR(ops.Flush(stream, kStreamRecordsOffset));
  }
  LogHeader h{};
  std::memcpy(h.magic, kLogMagic, sizeof(h.magic));
  h.version = kLogVersion;
  h.header_size = sizeof(LogHeader);
  h.stream_count = params.streams;
  h.stream_size = params.stream_size;
  std::memcpy(h.pool_uuid, pool.header().uuid, sizeof(h.pool_uuid));
  h.pool_generation = pool.generation();
  h.created_unix_ns = static_cast<uint64_t>(std::chrono::duration_cast<std::chrono::nanoseconds>(
                                                std::chrono::system_clock::now().time_since_epoch())
                                                .count());
  h.checksum = Crc32c(&h, kLogHeaderChecksummedBytes);
  // PERSIST: stream headers are flushed above; the log header goes last and one fence covers all.
  // Before, the log does not open (no valid header); after it returns OK, it opens, empty.
  std::memcpy(region, &h, sizeof(h));
  PASTEL_RETURN_IF_ERROR(ops.Flush(region, sizeof(h)));
  return ops.Drain();
}

Result<LogHeader> Log::ReadHeader(const uint8_t* region, uint64_t len) {
  if (len < kLogHeaderRegion) {
    return Status::Corruption("log too short for its header: " + std::to_string(len) + " bytes");
  }
  LogHeader h;
  std::memcpy(&h, region, sizeof(h));
  if (std::memcmp(h.magic, kLogMagic, sizeof(h.magic)) != 0) {
    return Status::Corruption("not a pastel log (bad magic)");
  }
  if (h.checksum != Crc32c(&h, kLogHeaderChecksummedBytes)) {
    return Status::Corruption("log header checksum mismatch");
  }
  if ((h.version != kLogVersion && h.version != kLogVersionNoWords &&
       h.version != kLogVersionNoTypes && h.version != kLogVersionNoLists &&
       h.version != kLogVersionNoZsets) ||
      h.header_size != sizeof(LogHeader)) {
    return Status::Corruption("unsupported log version " + std::to_string(h.version));
  }
  bool reserved_zero = h.flags == 0;
  for (uint8_t b : h.reserved) {
    reserved_zero = reserved_zero && b == 0;
  }
  if (!reserved_zero || !ValidateLogParams({h.stream_count, h.stream_size}).ok()) {
    return Status::Corruption("log header fields out of range");
  }
  const uint64_t need = kLogHeaderRegion + uint64_t{h.stream_count} * h.stream_size;
  if (len < need) {
    return Status::Corruption("log truncated: " + std::to_string(len) + " bytes, header says " +
                              std::to_string(need));
  }
  return h;
}

Result<std::unique_ptr<Log>> Log::Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                         Pool& pool) {
  Result<LogHeader> h = ReadHeader(region, len);
  if (!h.ok()) {
    return h.status();
  }
  if (std::memcmp(h->pool_uuid, pool.header().uuid, sizeof(h->pool_uuid)) != 0 ||
      h->pool_generation != pool.generation()) {
    return Status::Corruption("log belongs to another pool (uuid or generation differs)");
  }
  std::unique_ptr<Log> log(new Log());
  log->region_ = region;
  log->region_len_ = len;
  log->ops_ = &ops;
  log->pool_ = &pool;
  log->streams_.resize(h->stream_count);
  uint64_t max_checkpoint = 0;
  for (uint32_t s = 0; s < h->stream_count; ++s) {
    LogStream& st = log->streams_[s];
    st.log_ = log.get();
    st.id_ = s;
    st.base_ = region + kLogHeaderRegion + s * h->stream_size;
    st.size_ = h->stream_size;
    Result<std::pair<StreamHeader, uint32_t>> sh = ReadStreamHeader(st.base_, s);
    if (!sh.ok()) {
      return sh.status();
    }
    st.generation_ = sh->first.generation;
    st.checkpoint_seq_ = sh->first.checkpoint_seq;
    st.header_slot_ = sh->second;
    st.tail_ = st.batch_start_ = st.last_record_ = kStreamRecordsOffset;
    max_checkpoint = std::max(max_checkpoint, st.checkpoint_seq_);
  }
  log->next_seq_.store(max_checkpoint + 1, std::memory_order_relaxed);
  return log;
}

Result<std::unique_ptr<Log>> Log::Create(const std::string& path, const LogParams& params,
                                         Pool& pool, const PmOpenOptions& o) {
  PASTEL_RETURN_IF_ERROR(ValidateLogParams(params));
  Result<PmFile> f = PmFile::Create(path, RegionSize(params), o);
  if (!f.ok()) {
    return f.status();
  }
  Status st = Format(f->data(), f->size(), params, pool, f->ops());
  if (!st.ok()) {
    ::unlink(path.c_str());
    return st;
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<Log>> log = Attach(file.data(), file.size(), file.ops(), pool);
  if (!log.ok()) {
    ::unlink(path.c_str());
    return log;
  }
  (*log)->file_.emplace(std::move(file));
  // A fresh log references nothing: every buffer of the pool is free.
  if (pool.recovering()) {
    PASTEL_RETURN_IF_ERROR(pool.FinishRecovery());
  }
  (*log)->recovered_ = true;
  return log;
}

Result<std::unique_ptr<Log>> Log::Open(const std::string& path, Pool& pool,
                                       const PmOpenOptions& o) {
  Result<PmFile> f = PmFile::Open(path, o);
  if (!f.ok()) {
    return f.status();
  }
  PmFile& file = f.value();
  Result<std::unique_ptr<Log>> log = Attach(file.data(), file.size(), file.ops(), pool);
  if (!log.ok()) {
    return Status(log.status().code(), path + ": " + log.status().message());
  }
  (*log)->file_.emplace(std::move(file));
  return log;
}

Log::~Log() = default;

const LogHeader& Log::header() const {
  return *reinterpret_cast<const LogHeader*>(region_);
}

ScanEnd Log::ForEachRecord(uint32_t s, const std::function<bool(const RecordView&)>& fn,
                           std::string* detail) const {
  if (s >= streams_.size()) {
    if (detail != nullptr) {
      *detail = "no stream " + std::to_string(s);
    }
    return ScanEnd::kEndOfStream;
  }
  const LogStream& st = streams_[s];
  StreamScan sc = ScanStream(s, st.base_, st.size_, st.generation_, *pool_);
  if (detail != nullptr) {
    *detail = sc.detail;
  }
  for (const ScannedRecord& r : sc.kept) {
    if (!fn(ViewAt(s, st.base_, r.offset))) {
      return ScanEnd::kEndOfStream;
    }
  }
  return sc.end;
}

Result<Recovered> Log::Recover(const RecoveryOptions& options) {
  if (recovered_) {
    return Status::FailedPrecondition("log already recovered");
  }
  if (!pool_->recovering()) {
    return Status::FailedPrecondition("recover needs a pool that is still recovering");
  }
  if (options.repair && file_ && file_->read_only()) {
    return Status::FailedPrecondition(
        "a log opened read-only can only be recovered without repair");
  }
  Recovered out;
  std::vector<StreamScan> scans;
  scans.reserve(streams_.size());
  uint64_t max_seq = 0;
  for (LogStream& st : streams_) {
    scans.push_back(ScanStream(st.id_, st.base_, st.size_, st.generation_, *pool_));
    StreamScan& sc = scans.back();
    max_seq = std::max({max_seq, sc.max_sequence, st.checkpoint_seq_});
    if (sc.end == ScanEnd::kCorruption) {
      out.corruption.push_back(sc.detail);
    }
  }
  if (!out.corruption.empty() && !options.tolerate_corruption) {
    return Status::Corruption(out.corruption.front());
  }

  // Replay whole batches in sequence order; a live record whose value no longer matches its data
  // checksum is a torn last batch of its stream (dropped, then replay again) or corruption.
  std::vector<bool> dropped_last(streams_.size(), false);
  struct Loc {
    uint64_t seq;
    uint32_t stream;
    uint64_t offset;
  };
  std::vector<Loc> order;
  while (true) {
    order.clear();
    for (uint32_t s = 0; s < scans.size(); ++s) {
      for (const ScannedRecord& r : scans[s].kept) {
        order.push_back({r.sequence, s, r.offset});
      }
    }
    std::sort(order.begin(), order.end(), [](const Loc& a, const Loc& b) { return a.seq < b.seq; });
    out.live.clear();
    out.live.reserve(order.size());
    // Keys as views into the mapped records (they stay mapped): no copy per record.
    std::unordered_map<std::string_view, Loc> where;
    where.reserve(order.size());
    std::unordered_map<std::string_view, uint64_t> deleted;  // key -> the delete's sequence
    for (size_t i = 0; i < order.size(); ++i) {
      const RecordView v =
          ViewAt(order[i].stream, streams_[order[i].stream].base_, order[i].offset);
      if (options.base_sequence && v.sequence <= options.base_sequence(v.key)) {
        continue;  // the checkpoint holds this write or a later one of its key
      }
      if (i > 0 && order[i].seq == order[i - 1].seq) {
        // A compaction copy (AppendCopy) and its original, both still there after a crash in
        // the middle of a compaction: one record. Anything else with one sequence is damage.
        const RecordView prev =
            ViewAt(order[i - 1].stream, streams_[order[i - 1].stream].base_, order[i - 1].offset);
        const bool same = prev.type == v.type && prev.key == v.key &&
                          prev.expire_ms == v.expire_ms && prev.target == v.target &&
                          prev.value_type == v.value_type && prev.value_len == v.value_len &&
                          prev.data_crc == v.data_crc &&
                          std::equal(prev.extents.begin(), prev.extents.end(), v.extents.begin(),
                                     v.extents.end());
        if (!same) {
          return Status::Corruption("sequence " + std::to_string(order[i].seq) +
                                    " appears in two streams with different records");
        }
        continue;
      }
      if (v.type == RecordType::kExpire) {
        // Removes the key only while the put of its target sequence is in force: in the log's
        // live set, or in the checkpoint under it (the key has no later record in the log).
        auto it = out.live.find(std::string(v.key));
        const bool in_force = it != out.live.end()
                                  ? it->second.sequence == v.target
                                  : deleted.count(v.key) == 0 && options.base_sequence &&
                                        options.base_sequence(v.key) == v.target;
        if (!in_force) {
          continue;
        }
        if (it != out.live.end()) {
          out.live.erase(it);
        }
        where.erase(v.key);
        deleted[v.key] = v.sequence;
        continue;
      }
      if (v.type == RecordType::kDelete) {
        out.live.erase(std::string(v.key));
        where.erase(v.key);
        deleted[v.key] = v.sequence;
        continue;
      }
      deleted.erase(v.key);
      std::string key(v.key);
      LiveValue lv;
      lv.sequence = v.sequence;
      lv.stream = v.stream;
      lv.value_len = v.value_len;
      lv.data_crc = v.data_crc;
      lv.expire_ms = v.expire_ms;
      lv.value_type = v.value_type;
      lv.extents.assign(v.extents.begin(), v.extents.end());
      where[v.key] = order[i];
      out.live[std::move(key)] = std::move(lv);
    }
    out.deleted.clear();
    for (const auto& [key, seq] : deleted) {
      out.deleted.emplace_back(std::string(key), seq);
    }
    bool replay = false;
    for (auto it = out.live.begin(); it != out.live.end();) {
      const Loc& loc = where[it->first];
      const RecordView v = ViewAt(loc.stream, streams_[loc.stream].base_, loc.offset);
      if (DataCrc(*pool_, v.extents) == v.data_crc) {
        ++it;
        continue;
      }
      StreamScan& sc = scans[loc.stream];
      if (loc.offset >= sc.last_batch_start && !dropped_last[loc.stream]) {
        // The values of this batch were not all durable when the power went: it never completed.
        dropped_last[loc.stream] = true;
        size_t keep = 0;
        while (keep < sc.kept.size() && sc.kept[keep].offset < sc.last_batch_start) {
          ++keep;
        }
        sc.discarded += sc.kept.size() - keep;
        sc.kept.resize(keep);
        sc.committed_end = sc.last_batch_start;
        sc.last_batch_start = keep == 0 ? kStreamRecordsOffset : sc.kept.back().batch_start;
        sc.batches = sc.batches == 0 ? 0 : sc.batches - 1;
        sc.end = ScanEnd::kTorn;
        if (!sc.detail.empty()) {
          sc.detail += "; ";
        }
        sc.detail += "last batch dropped: value of '" + it->first + "' (sequence " +
                     std::to_string(v.sequence) + ") never became durable";
        replay = true;
        break;
      }
      out.corruption.push_back("value of '" + it->first + "' (sequence " +
                               std::to_string(v.sequence) + ", " + At(loc.stream, loc.offset) +
                               ") fails its data checksum");
      if (!options.tolerate_corruption) {
        return Status::Corruption(out.corruption.back());
      }
      it = out.live.erase(it);
    }
    if (!replay) {
      break;
    }
  }
  out.records = order.size();

  for (const auto& [key, lv] : out.live) {
    for (const Extent& e : lv.extents) {
      Status st = pool_->Retain(e.buffer);
      if (!st.ok()) {
        return st;
      }
      ++out.retained_extents;
    }
  }

  if (options.repair && out.corruption.empty() && header().version != kLogVersion) {
    // PERSIST: before, the header says version 1 to 4 (no record has a word, a value type, a
    // list's or a sorted set's value type); after, version 5, so a binary that cannot read
    // records with words (expiry) or value types (hashes, lists, sorted sets) refuses the log
    // rather than taking its records for torn ones. The 128-byte header lies in one 512-byte
    // sector: a torn write leaves the old header or the new one, each valid.
    LogHeader h = header();
    h.version = kLogVersion;
    h.checksum = Crc32c(&h, kLogHeaderChecksummedBytes);
    std::memcpy(region_, &h, sizeof(h));
    PASTEL_RETURN_IF_ERROR(ops_->Flush(region_, sizeof(h)));
    PASTEL_RETURN_IF_ERROR(ops_->Drain());
  }

  for (uint32_t s = 0; s < streams_.size(); ++s) {
    LogStream& st = streams_[s];
    StreamScan& sc = scans[s];
    if (options.repair && sc.end != ScanEnd::kCorruption) {
      // PERSIST: before, bytes of torn or stale records may follow the last whole batch; after,
      // everything from there to the end of the stream is durable zeros, so new appends never
      // sit next to leftovers that could pass for records.
      bool dirty = false;
      const int fd = file_ ? file_->fd() : -1;
      const uint8_t* region = file_ ? file_->data() : nullptr;
      uint64_t off = sc.committed_end;
      uint64_t data_end = 0;
      while (NextDataRange(fd, region, st.base_, &off, &data_end, st.size_)) {
        for (; off + kRecordAlign <= data_end; off += kRecordAlign) {
          if (!LineIsZero(st.base_ + off)) {
            std::memset(st.base_ + off, 0, kRecordAlign);
            PASTEL_RETURN_IF_ERROR(ops_->Flush(st.base_ + off, kRecordAlign));
            dirty = true;
          }
        }
        if (data_end >= st.size_) {
          break;
        }
        off = std::max(off, data_end);  // the hole that follows: asked for next
      }
      if (dirty) {
        PASTEL_RETURN_IF_ERROR(ops_->Drain());
      }
    }
    st.tail_ = st.batch_start_ = st.last_record_ = sc.committed_end;
    st.last_seq_ = sc.kept.empty() ? 0 : sc.kept.back().sequence;
    StreamReport rep;
    rep.stream = s;
    rep.generation = st.generation_;
    rep.checkpoint_seq = st.checkpoint_seq_;
    rep.records = sc.kept.size();
    rep.batches = sc.batches;
    rep.tail = sc.committed_end;
    rep.end = sc.end;
    rep.discarded_records = sc.discarded;
    rep.detail = sc.detail;
    out.streams.push_back(std::move(rep));
  }
  out.next_sequence = max_seq + 1;
  next_seq_.store(out.next_sequence, std::memory_order_relaxed);
  if (options.finish_pool) {
    PASTEL_RETURN_IF_ERROR(pool_->FinishRecovery());
  }
  // Appending after corruption would bury it: only a clean recovery opens the streams.
  recovered_ = options.repair && out.corruption.empty();
  return out;
}

Status VerifyOwnership(const Pool& pool, const LiveMap& live) {
  std::vector<uint32_t> want(pool.buffer_count(), 0);
  for (const auto& [key, v] : live) {
    for (const Extent& e : v.extents) {
      if (e.buffer >= want.size()) {
        return Status::Corruption("live value of '" + key + "' names buffer " +
                                  std::to_string(e.buffer) + " outside the pool");
      }
      ++want[e.buffer];
    }
  }
  uint64_t bad = 0;
  std::string first;
  for (uint32_t i = 0; i < pool.buffer_count(); ++i) {
    const BufferState st = pool.state(i);
    const bool ok = want[i] == 0 ? st == BufferState::kFree
                                 : st == BufferState::kRetained && pool.refs(i) == want[i];
    if (!ok) {
      if (bad++ == 0) {
        first = "buffer " + std::to_string(i) + " is " + std::string(BufferStateName(st)) +
                " with " + std::to_string(pool.refs(i)) + " reference(s), live extents name it " +
                std::to_string(want[i]) + " time(s)";
      }
    }
  }
  if (bad > 0) {
    return Status::Corruption(std::to_string(bad) +
                              " buffer(s) with wrong ownership; first: " + first);
  }
  return Status::Ok();
}

}  // namespace pastel
