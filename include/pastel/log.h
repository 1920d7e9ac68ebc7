#pragma once
// log: the metadata log (PASTE's "private file" of extents).
//
// A log file holds S independent streams, one per thread, so that threads never contend. A stream
// is an append-only sequence of fixed-layout, cache-line-aligned records; each record names a key
// and the extents (pool buffer, offset, length) where its value already lies. The value is never
// copied: the record's data checksum covers those bytes where they are.
//
// Group commit: Append*() place records in the stream's memory (nothing durable yet); Commit()
// flushes every value range and every record line of the batch, issues ONE fence, and only when it
// returns OK is the whole batch durable. Callers acknowledge requests only after that.
//
// Crash consistency: the last record of each batch carries a batch-end flag and every record its
// offset from the batch start; recovery keeps only whole batches, stops at the first zeroed, torn
// or stale record, tells a torn tail from corruption in the middle, and checks the data checksum of
// every record that is still live. See docs/formats/log.md and docs/invariants.md.
//
// Buffer ownership: the log never changes a buffer's state while appending; extents must name
// buffers the caller holds (kApp) or has retained. Recovery retains, once per live extent, every
// buffer a live record points to, then finishes the pool's recovery (all others become free).
//
// Threads: LogStream i is used by one thread at a time; different streams by different threads.
// Sequence numbers come from one atomic counter shared by all streams.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pastel/status.h"

namespace pastel {

struct LogHeader;

// kExpire: a conditional delete, written when a value's expiry time passed: it removes the key
// only while the write in force is the put of its target sequence (a later write of the key,
// by any loop, stays). A put may carry an absolute expiry time.
enum class RecordType : uint8_t { kPut = 1, kDelete = 2, kExpire = 3 };

// What a put's value is (the log record's and the index entry's value_type): the bytes of a string,
// a hash's, a list's, a set's or a sorted set's header (pastel-kv: the composite's version; its
// fields, items or members are keys of their own, docs/kv.md). Opaque to the log and the store,
// which only carry it with the value.
enum class ValueType : uint8_t { kString = 0, kHash = 1, kList = 2, kSet = 3, kZset = 4 };
inline constexpr uint8_t kMaxValueType = 4;

inline constexpr size_t kMaxKeyLen = 1024;

struct LogParams {
  uint32_t streams = 1;
  uint64_t stream_size = 4 << 20;  // bytes per stream, multiple of 4096
};

// Why a scan of a stream stopped.
enum class ScanEnd : uint8_t {
  kEndOfStream,  // the stream is full up to its end
  kZeroed,       // never-written space: the normal end
  kTorn,         // a record or batch that was being written when the power went: discarded
  kStale,        // a record of an older generation (left from before a truncation)
  kCorruption,   // a bad record followed by valid, later batches: real damage, not a torn tail
};
std::string_view ScanEndName(ScanEnd e);

// A valid record as a scan sees it. Views point into the log mapping.
struct RecordView {
  uint32_t stream = 0;
  uint64_t offset = 0;  // within the stream
  uint64_t sequence = 0;
  RecordType type = RecordType::kPut;
  bool batch_end = false;
  uint32_t value_len = 0;
  uint32_t data_crc = 0;
  int64_t expire_ms = 0;                      // kPut: absolute expiry time (Unix ms), 0: none
  uint64_t target = 0;                        // kExpire: the sequence of the put it removes
  ValueType value_type = ValueType::kString;  // kPut
  std::string_view key;
  std::span<const Extent> extents;
};

struct StreamReport {
  uint32_t stream = 0;
  uint32_t generation = 0;
  uint64_t checkpoint_seq = 0;
  uint64_t records = 0;  // records kept (whole batches)
  uint64_t batches = 0;
  uint64_t tail = 0;  // append offset after recovery
  ScanEnd end = ScanEnd::kZeroed;
  uint64_t discarded_records = 0;  // valid records of a torn batch, dropped
  std::string detail;              // what was found where the scan stopped
};

struct LiveValue {
  uint64_t sequence = 0;
  uint32_t stream = 0;
  uint32_t value_len = 0;
  std::vector<Extent> extents;
  uint32_t data_crc = 0;  // the record's checksum of the value's bytes
  int64_t expire_ms = 0;  // absolute expiry time (Unix ms), 0: none
  ValueType value_type = ValueType::kString;
};
using LiveMap = std::unordered_map<std::string, LiveValue>;

struct RecoveryOptions {
  // Zero torn tails and position the streams for appending. Off for read-only inspection.
  bool repair = true;
  // Report corruption and go on (pastelctl verify); by default corruption fails Recover.
  bool tolerate_corruption = false;
  // A checkpoint under the log (the store's index): the sequence of the write of `key` it holds
  // (0: none). A record of that sequence or lower is superseded by the checkpoint: not replayed,
  // its data not checked, its buffers not retained.
  std::function<uint64_t(std::string_view key)> base_sequence;
  // Ends the pool's recovery (Pool::FinishRecovery) once the live buffers are retained. Off when
  // the caller retains more buffers first (those of the checkpoint's entries).
  bool finish_pool = true;
};

struct Recovered {
  LiveMap live;
  // Keys whose last replayed record is a delete, with its sequence (they are not in `live`).
  std::vector<std::pair<std::string, uint64_t>> deleted;
  std::vector<StreamReport> streams;
  uint64_t records = 0;           // records replayed
  uint64_t retained_extents = 0;  // Retain calls made on the pool
  uint64_t next_sequence = 1;
  std::vector<std::string> corruption;  // one line per problem found (empty when clean)
};

struct CommitInfo {
  uint64_t first_sequence = 0;
  uint64_t last_sequence = 0;
  uint32_t records = 0;
  uint64_t value_bytes = 0;
};

// Checks buffer ownership against `live` as recovery leaves it: each buffer named by live extents
// is kRetained with exactly one reference per naming extent, and every other buffer is kFree (no
// buffer both free and referenced, none held by nobody). kCorruption names the first mismatch.
Status VerifyOwnership(const Pool& pool, const LiveMap& live);

class Log;

// One append stream. Lifecycle: owned by its Log; usable after Log::Recover (or on a fresh log).
class LogStream {
 public:
  // Places a put record for `key` -> `extents` in the current batch. Not durable until Commit().
  // Returns its sequence. kNoSpace: the stream is full (commit what is pending, then checkpoint).
  // `expire_ms`: the value's absolute expiry time (Unix ms, >= 1), 0: none. `type`: what the
  // value is (carried, not looked at).
  Result<uint64_t> AppendPut(std::string_view key, std::span<const Extent> extents,
                             int64_t expire_ms = 0, ValueType type = ValueType::kString);
  Result<uint64_t> AppendDelete(std::string_view key);
  // A kExpire record: deletes `key` if the write in force is still the put of sequence `target`.
  Result<uint64_t> AppendExpire(std::string_view key, uint64_t target);
  // Compaction: appends a copy of a record written earlier (in another stream) with its original
  // sequence, which must exceed every sequence already in this stream's generation. Recovery
  // treats a record and its copy (same sequence, same content) as one. `record` must be committed:
  // its value is already durable, so the copy reuses its data checksum and Commit does not flush
  // the value again (a batch of copies only costs the records' own lines).
  Result<uint64_t> AppendCopy(const RecordView& record);
  // PERSIST: before, the batch's records and values may be partly on the media (a crash now
  // discards the whole batch at recovery); after it returns OK, every record of the batch and
  // every byte its extents point to are durable. An error makes the stream and the pool read-only.
  Result<CommitInfo> Commit();
  // Commit in two halves, for a pipelined group commit on page granularity: Seal marks the batch's
  // end and flushes its values and records (PersistOps::Flush, noted for the next sync) without
  // draining; the caller then syncs the pool's and the log's PersistOps itself (BeginSync, run
  // asynchronously, EndSync). Appends after Seal start the next batch; the caller must not append
  // them to this stream until the sealed batch's syncs completed, so that at most one batch is
  // written beyond what is durable (recovery tells that one batch's torn tail from damage).
  // PERSIST: before the syncs' EndSync returned OK, nothing of the sealed batch may be
  // acknowledged; after, it is durable. A failed sync: report it with FailSealed (the stream and
  // the pool turn read-only).
  // `flush` false: no PersistOps::Flush at all (the caller syncs the ranges itself: SealedRange,
  // and the values' range of the pool file).
  Result<CommitInfo> Seal(bool flush = true);
  Status FailSealed(Status why) { return Fail(std::move(why)); }
  // The records of the batch sealed last, as a page-aligned range of the log file (to sync);
  // false when the log's PersistOps has no file to sync (sync_fd() < 0) or that batch was empty.
  bool SealedRange(SyncRange* out) const;

  // Visits, in order, up to `max` committed records of this generation from offset *cursor (0:
  // the first), and advances *cursor past the visited ones. Returns true when *cursor reached the
  // committed end. `fn` returning false stops at that record (*cursor stays on it; returns false).
  // No checksum is verified: these are records this process committed or recovered. For
  // incremental compaction, a slice per batch.
  bool VisitCommitted(uint64_t* cursor, uint32_t max,
                      const std::function<bool(const RecordView&)>& fn) const;

  uint32_t pending_records() const { return pending_records_; }
  // The data checksum of the record appended last (its value's bytes as they were then).
  uint32_t last_data_crc() const { return last_data_crc_; }
  // Offsets are from the start of the stream; records occupy [records_begin(), tail()).
  uint64_t tail() const { return tail_; }
  static uint64_t records_begin();
  // Bytes a record of a `key_len`-byte key naming `n_extents` extents takes in a stream; `word`:
  // with a word (a put with an expiry time, a kExpire).
  static uint64_t record_bytes(size_t key_len, size_t n_extents, bool word = false);
  // Whether a record of a `key_len`-byte key naming `n_extents` extents may be appended at all
  // (Append's size checks; the stream's room aside).
  static bool RecordFits(size_t key_len, size_t n_extents, bool word = false);
  // Bytes for records in all, and still free after the tail.
  uint64_t capacity() const;
  uint64_t free_bytes() const { return size_ - tail_; }
  uint32_t generation() const { return generation_; }
  uint64_t checkpoint_sequence() const { return checkpoint_seq_; }
  // The highest sequence in this generation of the stream (0 when empty).
  uint64_t last_sequence() const { return last_seq_; }
  uint32_t id() const { return id_; }
  bool read_only() const { return !failed_.ok(); }

  // Checkpoint: declares every record up to `checkpoint_seq` reflected elsewhere (the index), and
  // starts the stream over in a new generation. Requires an empty batch.
  // PERSIST: before, the old records are the stream's content; after it returns OK, the new
  // header is durable and every older record is stale.
  Status Truncate(uint64_t checkpoint_seq);

 private:
  friend class Log;
  // `data_crc`: the value's checksum when known (a copy of a committed record), else computed.
  // `word`: the record's word (kRecordFlagWord) when non-zero.
  Result<uint64_t> Append(RecordType type, std::string_view key, std::span<const Extent> extents,
                          uint64_t word = 0, uint64_t sequence = 0,
                          const uint32_t* data_crc = nullptr,
                          ValueType value_type = ValueType::kString);
  Status Fail(Status st);

  Log* log_ = nullptr;
  uint8_t* base_ = nullptr;  // stream start
  uint64_t size_ = 0;
  uint32_t id_ = 0;
  uint32_t generation_ = 1;
  uint32_t header_slot_ = 0;  // slot in force
  uint64_t checkpoint_seq_ = 0;
  uint64_t last_seq_ = 0;     // highest sequence appended in this generation
  uint64_t tail_ = 0;         // next append offset
  uint64_t batch_start_ = 0;  // offset of the first record of the open batch
  uint64_t last_record_ = 0;  // offset of the last appended record
  uint32_t pending_records_ = 0;
  uint64_t sealed_begin_ = 0;  // the batch sealed last: [sealed_begin_, sealed_end_)
  uint64_t sealed_end_ = 0;
  bool batch_fresh_values_ = false;  // the open batch has a value that Commit must flush
  uint32_t last_data_crc_ = 0;
  Status failed_;
};

class Log {
 public:
  static uint64_t RegionSize(const LogParams& p);
  // PERSIST: before, nothing of the log is valid; after it returns OK, the header and every
  // stream header are durable and every stream is empty (the region must be zeroed).
  static Status Format(uint8_t* region, uint64_t len, const LogParams& params, const Pool& pool,
                       PersistOps& ops);
  static Result<LogHeader> ReadHeader(const uint8_t* region, uint64_t len);
  // Validates the header against `pool`. Call Recover() before appending.
  static Result<std::unique_ptr<Log>> Attach(uint8_t* region, uint64_t len, PersistOps& ops,
                                             Pool& pool);
  static Result<std::unique_ptr<Log>> Create(const std::string& path, const LogParams& params,
                                             Pool& pool, const PmOpenOptions& o = {});
  static Result<std::unique_ptr<Log>> Open(const std::string& path, Pool& pool,
                                           const PmOpenOptions& o = {});
  // The log file that goes with a pool file.
  static std::string PathForPool(const std::string& pool_path) { return pool_path + ".log"; }

  ~Log();
  Log(const Log&) = delete;
  Log& operator=(const Log&) = delete;

  // Scans every stream, keeps whole batches, replays them in sequence order, checks the data of
  // every live record, retains live buffers and finishes the pool's recovery (when the pool is
  // recovering). With repair, zeroes torn tails and positions the streams for appending.
  Result<Recovered> Recover(const RecoveryOptions& options = {});

  // Visits the valid records of stream `s` in order (no data checks); returns why it stopped.
  // `fn` returns false to stop early (reported as kEndOfStream).
  ScanEnd ForEachRecord(uint32_t s, const std::function<bool(const RecordView&)>& fn,
                        std::string* detail = nullptr) const;

  uint32_t stream_count() const { return static_cast<uint32_t>(streams_.size()); }
  LogStream& stream(uint32_t i) { return streams_[i]; }
  Pool& pool() const { return *pool_; }
  PersistOps& ops() const { return *ops_; }
  uint8_t* region() const { return region_; }
  const LogHeader& header() const;
  uint64_t next_sequence() const { return next_seq_.load(std::memory_order_relaxed); }
  // The backing file, when the log was created or opened from one.
  const PmFile* file() const { return file_ ? &*file_ : nullptr; }
  bool recovered() const { return recovered_; }

 private:
  friend class LogStream;
  Log() = default;

  std::optional<PmFile> file_;
  uint8_t* region_ = nullptr;
  uint64_t region_len_ = 0;
  PersistOps* ops_ = nullptr;
  Pool* pool_ = nullptr;
  std::vector<LogStream> streams_;
  std::atomic<uint64_t> next_seq_{1};
  bool recovered_ = false;
};

}  // namespace pastel
