#pragma once
// StoreLoop: one loop of a store (private to src/store). It owns its Backend's connections, its
// log stream(s) and its batch's writes and answers, and runs a Protocol over them; the Protocol
// sees it only as a Batch (pastel/store.h), whose calls land here. docs/store.md walks its turn.

#include <array>
#include <atomic>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pastel/status.h"
#include "pastel/store.h"
#include "store_index.h"

namespace pastel::store {

class StoreLoop final : public Batch {
 public:
  // Loop `loop` of `store`: pool partition `loop`, the log streams LoopStreams gives it (it
  // appends to the first; its checkpoints truncate all of them). `name` prefixes its reports on
  // stderr.
  StoreLoop(Store& store, uint32_t loop, Backend& backend, Protocol& protocol,
            const StoreOptions& options, LoopCounters& counters, std::string_view name);
  ~StoreLoop();
  StoreLoop(const StoreLoop&) = delete;
  StoreLoop& operator=(const StoreLoop&) = delete;

  // Polls and serves until `stop`; returns the first fatal backend error, if any.
  Status Run(const std::atomic<bool>& stop);

  static constexpr uint32_t kConnTxHigh = 4096;  // TX entries (net: kMaxTxEntriesPerConn 16384)
  static constexpr uint32_t kConnTxLow = 1024;   // a held connection goes on below this
  static constexpr uint64_t kHeldRecvBytes = 256 * 1024;

 private:
  friend class Batch;  // its calls are these (documented there)

  // --- What Batch's calls run.
  const char* SegData(const Segment& s) const {
    return reinterpret_cast<const char*>(pool_.BufferData(s.buffer)) + s.offset;
  }
  void BodyExtents(const Conn& c, uint64_t skip, uint64_t len, std::vector<Extent>* out) const;
  void GatherFront(Conn& c, size_t want) const;
  void Consume(Conn& c, uint64_t n);
  bool Held(Conn& c);
  void Park(Conn& c);
  void Wake(ConnId conn);
  WriteOutcome Writable(uint64_t length, uint64_t log_bytes);
  WriteOutcome Admit(uint64_t buffers, uint64_t log_bytes);
  uint64_t BuffersFor(size_t body_extents, uint64_t length) const;
  uint64_t RecordRoom(size_t key_len, size_t body_extents, uint64_t length, bool expires) const;
  WriteOutcome Deletable(uint64_t log_bytes);
  static uint64_t DeleteRoom(size_t key_len);
  WriteOutcome Put(Conn& c, std::string_view key, std::span<const Extent> body, uint64_t length,
                   bool admitted, int64_t expire_ms);
  WriteOutcome PutOwned(std::string_view key, Extents extents, uint64_t length, bool admitted,
                        int64_t expire_ms, ValueType type = ValueType::kString);
  WriteOutcome PutAppend(Conn& c, std::string_view key, Value old, std::span<const Extent> body,
                         uint64_t body_length);
  WriteOutcome Delete(std::string_view key);
  void BeginGroup();
  WriteOutcome EndGroup();
  Status FreshValue(std::string_view bytes, Extents* out);
  void DropRefs(std::span<const Extent> extents);
  void VisitPending(const std::function<void(std::string_view key, const Value& v)>& fn) const;
  void VisitPendingFrom(size_t first,
                        const std::function<void(std::string_view key, const Value& v)>& fn) const;
  size_t PendingAll() const {
    return (flight_.active ? flight_.data.pending_n : 0) + open_.pending_n;
  }
  void PrefetchKey(std::string_view key) {
    if (prefetch_hashes_.size() < kMaxPrefetchKeys) {
      prefetch_hashes_.push_back(KeyMap::HashOf(key));
    }
  }
  bool Lookup(std::string_view key, Value* out);
  bool Exists(std::string_view key);
  void AnswerText(ConnId conn, std::string_view bytes, AnswerClass cls, bool close);
  void AnswerTextSince(ConnId conn, size_t begin, AnswerClass cls, bool close);
  void AnswerWrite(ConnId conn, std::string_view ok, std::string_view failed, bool close);
  void AnswerValue(ConnId conn, std::string_view prefix, const Value& v, std::string_view suffix,
                   bool close, bool with_bytes);
  void Close(ConnId conn);
  // MuteAnswers: true when an answer for `conn` is to be dropped (an empty answer that closes
  // queued in its place when `close`).
  bool DropMuted(ConnId conn, bool close);

  // Ends the open batch: commits it (one group commit) and sends its answers, applies its writes.
  // Pipelined: launches it when no batch is in flight (else it stays open and waits), or answers
  // it at once when it wrote nothing.
  void Finish();
  // Commits the open batch synchronously (after the flight, if any) and answers it.
  void FinishNow();

  Store& store_;
  Protocol& protocol_;
  Backend& backend_;
  Pool& pool_;
  const uint32_t partition_;
  Index& index_;
  const StoreOptions options_;
  LoopCounters& counters_;
  LogStream* stream_;         // the active stream
  int64_t now_ms_ = 0;        // steady clock, read once per loop turn
  int64_t wall_ms_ = 0;       // wall clock (Unix ms), read once per loop turn: expiry times
  int64_t WallClock() const;  // options_.clock_ms, or the system's
  // The hashes of the keys the turn's requests will read (Protocol::Prefetch), reserved once.
  std::vector<uint64_t> prefetch_hashes_;

  enum class ActionKind : uint8_t { kText, kValue, kWrite };
  struct Action {
    ConnId conn;
    ActionKind kind;
    AnswerClass cls;
    bool close;  // close the connection after this answer
    // kText: the answer; kValue: its prefix; kWrite: the answer after a successful commit.
    uint32_t text_begin;
    uint32_t text_len;
    // kValue: the suffix; kWrite: the answer after a failed commit.
    uint32_t alt_begin;
    uint32_t alt_len;
    uint32_t ext_begin;  // kValue: into extents_
    uint32_t ext_count;
    // kText, kValue: its connection read a write of the batch (or of the flight) not yet durable
    // before it, in this parse: if the commit fails, the answer is withheld (Answer).
    bool read_pending;
  };
  static constexpr size_t kPendingKeyBytes = 128;
  struct PendingWrite {
    std::string key;  // (kPendingKeyBytes reserved)
    size_t hash;      // of key
    Value value;      // holds one reference per extent (the record's)
    // A kExpire record (value.deleted): the sequence of the expired value it removes (only while
    // that value is in force, Index::Apply); 0: an ordinary write.
    uint64_t only_if = 0;
    bool move = false;  // the packer's: the same value at a new place (no OnApplied)
  };

  void OnBatch(std::span<const RxSlot> batch);
  void SweepTimeouts();
  // Appends the record of `key` = v (or a delete; with `only_if`, a kExpire of that sequence) and
  // adds it to the batch; v's references pass to the pending write (dropped when the append
  // fails).
  WriteOutcome Record(std::string_view key, Value v, uint64_t only_if = 0);
  // The bytes of v's record (a put, a delete, or with `only_if` a kExpire).
  static uint64_t RecordBytesOf(std::string_view key, const Value& v, uint64_t only_if);
  // Appends the record of `key` = v (as Record's arguments) to the active stream.
  Result<uint64_t> AppendRecord(std::string_view key, const Value& v, uint64_t only_if);

  // --- Expiry: an expired value is never served (Lookup, Exists); its removal is a kExpire record
  // in a batch of its loop, committed as any write, after which its buffers come back.
  // Notes an expired value a read met (its key and sequence), removed by the turn's expiry phase.
  void NoteExpired(std::string_view key, uint64_t sequence);
  // The expiry phase of a turn: queues kExpire records for the noted keys (lazily, on access) and,
  // every expire_sweep_ms, for expired keys the sweep of the index finds (actively, the keys whose
  // hash falls to this loop). Returns whether it queued any.
  bool ExpireKeys();
  bool SweepDue() const;  // a sweep's time came (expire_sweep_ms of the wall clock)
  struct ExpireNote {
    std::string key;  // keeps its capacity from turn to turn
    uint64_t sequence;
  };
  std::vector<ExpireNote> expire_notes_;  // [0, expire_n_)
  size_t expire_n_ = 0;
  static constexpr size_t kMaxExpireNotes = 1024;  // per turn; more wait for a later turn
  size_t expire_cursor_ = 0;                       // the sweep's place in the index's map
  int64_t next_expire_sweep_ms_ = 0;
  bool expire_backlog_ = false;  // the last sweep found a turn's worth: sweep again at once
  // --- The packer (docs/store.md, "Where a value lives"): when the loop's partition runs short of
  // free buffers, a turn looks at a slice of the index's map and writes small values that lie in
  // sparsely used buffers (a buffer whose other values were overwritten or deleted) again, copied
  // one after another into the fill buffer: each move is an ordinary put of the same value (its
  // bytes, type and expiry time) in the turn's batch, so it is durable, recovered and checked as
  // any write, and the old place's reference goes when the batch is applied, freeing the buffer
  // once its last value moved. Only with one loop (two loops' writes of a key could interleave
  // with a move; a move never overwrites a newer value because the loop's own pending writes are
  // skipped and no other loop writes). Returns whether it queued any.
  bool Pack();
  // Whether v is small and each of its buffers sparsely used; `held`: references the caller
  // holds on each of v's extents (Lookup's), not counted against the buffer.
  bool Packable(const Value& v, uint32_t held) const;
  static constexpr size_t kPackSlots = 4096;    // map slots a turn looks at
  static constexpr size_t kMaxPackNotes = 256;  // moves a turn queues at most
  static constexpr uint32_t kPackMaxRefs = 2;   // a buffer this sparsely used is emptied
  std::vector<std::string> pack_keys_;          // [0, pack_n_): keys found by the scan
  size_t pack_n_ = 0;
  size_t pack_cursor_ = 0;
  // Protocol::Background: once per expire_sweep_ms, and every turn after a call that queued.
  bool Background();
  int64_t next_background_ms_ = 0;
  bool background_more_ = false;
  Status KeepInPlace(Conn& c, std::span<const Extent> extents);
  Status CopyToFresh(std::span<const Extent> body, Extents* out);
  // Values the loop writes itself (FreshValue: a computed value, a hash's header; CopyToFresh: a
  // copy) of up to a quarter of a buffer are packed one after another into the loop's fill
  // buffer, so that a counter or a header does not hold a whole buffer; longer ones take fresh
  // buffers of their own. The loop holds a reference on the fill buffer while it fills it.
  static constexpr uint32_t kDenseFraction = 4;
  struct Fill {
    uint32_t buffer = Pool::kNoBuffer;
    uint32_t used = 0;
  };
  Fill fill_;
  // `n` bytes (at most a buffer) of room in the fill buffer, a new one when it has less left: its
  // extent, with one reference taken for the caller.
  Result<Extent> FillRoom(uint32_t n);
  const PendingWrite* Pending(std::string_view key) const;
  uint32_t AppendText(std::string_view bytes);
  void Dispose(const Segment& s);
  void DropConn(ConnId id);

  // After a batch: starts a checkpoint when the stream is three quarters full or after
  // checkpoint_records writes (with an index file; without one, as in tests on a bare Index, the
  // log is never truncated and fills).
  void MaybeStartCheckpoint();
  // checkpointing_ means a checkpoint is in progress: each turn writes a slice of the index's
  // changed entries to the tree (Index::Checkpoint), and once one committed, the loop truncates its
  // streams.
  // `whole`: every change at once (a clean stop, MakeLogRoom).
  void CheckpointSlice(bool whole = false);
  // The log-room phase (OnBatch, after a command was told kNeedsRoom): commits and answers the
  // batch so far (Finish: this loop's writes are then all in the index), submits the answers, and
  // runs a whole checkpoint now, which truncates this loop's streams. A long turn rather than a
  // refused write; when it cannot make the room, no command asks again in this turn (they are
  // refused with kLogFull).
  void MakeLogRoom();
  // Writable's and Deletable's log part: kQueued when the stream has the room, kNeedsRoom when a
  // whole checkpoint can make it, else kLogFull.
  WriteOutcome LogRoom(uint64_t log_bytes);
  // LogRoom within a group whose next `log_bytes` do not fit the stream: the group fails, with
  // kNeedsRoom when all of it would fit an empty stream (after the log-room phase), else kLogFull.
  WriteOutcome GroupRoom(uint64_t log_bytes);
  // Drops what the failed group queued: its writes (their buffers' references), its answers.
  void DropGroup();
  // A group (Batch::BeginGroup .. EndGroup): its records are deferred, and where it began in the
  // open batch, to append them together or drop them whole.
  struct Group {
    bool open = false;
    WriteOutcome failed = WriteOutcome::kQueued;  // kNeedsRoom or kLogFull once a write failed
    size_t pending = 0;                           // open_.pending_n at BeginGroup
    size_t actions = 0;
    size_t extents = 0;
    size_t text = 0;
    uint64_t deferred_log_bytes = 0;
    uint64_t appended_since_slice = 0;
    uint64_t appended_since_checkpoint = 0;
  };
  Group group_;
  // The extents a record names for a body that arrived in `body_extents` extents.
  size_t LoggedExtents(size_t body_extents, uint64_t length) const;
  void FailCheckpoint(const Status& why);
  bool StreamsHoldRecords() const;
  // Checkpoint mode, once per turn: a loop that appended nothing for idle_checkpoint_ms starts a
  // checkpoint if its streams hold records, and otherwise moves its streams' tombstone horizons
  // (Index::SetStreamHorizon) up to the sequences handed out so far.
  void WhenIdle();
  void StartCheckpoint();  // checkpoint mode: the next turns write slices (CheckpointSlice)

  Log* log_;
  std::vector<uint32_t> streams_;  // this loop's streams; stream_ is the first
  bool checkpointing_ = false;
  uint64_t checkpoint_written_ = 0;  // entries written by the checkpoint in progress
  uint64_t checkpoint_retry_tail_ =
      0;                               // after a failed checkpoint: retry once the tail passed this
  uint64_t appended_since_slice_ = 0;  // records appended to the stream since the last slice
  uint64_t notes_at_slice_ = 0;        // Index::notes() at the last checkpoint slice
  uint64_t appended_since_checkpoint_ = 0;
  uint64_t turn_ = 0;                       // loop turns (Run)
  uint64_t room_failed_turn_ = UINT64_MAX;  // the turn in which MakeLogRoom last failed
  bool room_wanted_ = false;                // a command of this Parse was told kNeedsRoom
  // While a connection is parsed: whether it read a write not yet durable (Lookup, Exists or
  // VisitPending met one of the open batch or of the flight). Its answers from then on rest on
  // that write: a failed commit withholds them and closes the connection (Answer), so that no
  // client is ever shown a write that did not become durable.
  bool parsing_ = false;
  mutable bool saw_pending_ = false;  // (set by const reads)
  // Changes whenever writes leave the pending ones (Answer, a dropped group): Batch::pending_epoch.
  uint64_t pending_epoch_ = 0;
  // Connections a failed commit closed without their answers (Answer; cleared by FinishNow and
  // Land, kept across the flight's and the open batch's answers).
  std::vector<ConnId> withheld_;
  // Backpressure (Held): the held connections; the backend's free TX room when this batch began
  // (or since its last Finish), and what this batch's answers will take of it (estimated high),
  // in all and of the connection being parsed.
  std::vector<ConnId> held_;
  // Parked connections woken (Wake) since the last turn's parse: parsed at the next turn.
  std::vector<ConnId> woken_;
  Backend::TxRoom tx_free_;
  uint64_t batch_tx_entries_ = 0;
  uint64_t batch_tx_blocks_ = 0;
  uint64_t parse_tx_entries_ = 0;
  // Counts what an answer of `text_bytes` in `texts` pieces and `extents` pool extents will take.
  void CountTx(size_t texts, uint64_t text_bytes, size_t extents);
  // Held connections whose answers drained go back on dirty_ (receiving resumed).
  void Unhold();
  std::atomic<uint64_t>& none_seq_;
  std::string name_;
  std::unordered_map<ConnId, Conn> conns_;
  std::vector<ConnId> dirty_;
  static constexpr size_t kPendingFilterWords = 64;
  static size_t FilterWord(size_t hash) { return (hash >> 6) % kPendingFilterWords; }
  // The writes and answers of a batch: the open one (being parsed), or the sealed one whose syncs
  // are in flight (pipelined commit). Its vectors keep their capacity from batch to batch.
  struct BatchData {
    std::vector<Action> actions;
    std::vector<Extent> extents;        // kValue actions' extents
    std::string text;                   // text answers' bytes
    std::vector<PendingWrite> pending;  // the batch's writes: [0, pending_n); slots kept
    size_t pending_n = 0;
    // One bit per hash of the batch's keys, so that a read of a key the batch did not write (most
    // of them) finds that out without scanning the batch's writes.
    std::array<uint64_t, kPendingFilterWords> filter{};
    // Pipelined commit: the bytes of the records not appended yet (Record defers them to Launch).
    uint64_t deferred_log_bytes = 0;
    std::span<PendingWrite> writes() { return {pending.data(), pending_n}; }
    std::span<const PendingWrite> writes() const { return {pending.data(), pending_n}; }
    const PendingWrite* Find(std::string_view key, size_t hash) const;
  };
  BatchData open_;
  std::vector<uint64_t> batch_hashes_;  // a batch's key hashes, for Index::Prefetch

  // --- Pipelined group commit (page granularity, a backend that syncs asynchronously): the loop
  // seals a batch (appends its records, marks its end), submits the syncs of its values' range of
  // the pool file and its records' range of the log file, and goes on receiving and parsing the
  // next batch, whose records wait (deferred) until the flight landed: at most one batch is ever
  // written beyond what is durable. When both syncs completed, the flight's answers are sent and
  // its writes applied; then the open batch is launched in turn. Reads see the flight's writes
  // (read-your-writes); their answers go out after the flight's, so nothing is exposed before it
  // is durable.
  bool pipelined_ = false;
  bool index_full_ = false;  // the last checkpoint failed for want of index file space
  struct Flight {
    bool active = false;
    uint64_t token = 0;   // the backend's kSynced slots carry it
    int syncs_left = 0;   // submitted and not completed
    SyncRange ranges[2];  // the pool's and the log's
    int ranges_n = 0;
    Status failure;           // the first failed sync
    uint64_t records = 0;     // committed_writes once it lands
    uint64_t tx_entries = 0;  // what its answers take of the TX room (as batch_tx_*)
    uint64_t tx_blocks = 0;
    BatchData data;
  };
  Flight flight_;
  uint64_t next_token_ = 1;
  // Seals the open batch and submits its syncs (the open batch becomes the flight).
  void Launch();
  // A kSynced slot of the backend.
  void OnSynced(const RxSlot& s);
  // Completes the flight once its syncs landed: answers, writes applied.
  void Land();
  // Completes the flight now, syncing synchronously (a checkpoint's truncation, the log-room
  // phase, a stop).
  void DrainFlight();
  // Appends the records of `b`'s writes from its write `first` on (deferred by Record): false
  // when an append failed (the stream is then read-only and `why` says why).
  bool AppendDeferred(BatchData& b, Status* why, size_t first = 0);
  // The range of the pool file `b`'s values lie in, and whether it has any.
  bool ValueRange(const BatchData& b, SyncRange* out) const;
  // Sends `b`'s answers (writes answered as failed unless `durable`), applies its writes to the
  // index (or drops them), and clears it.
  void Answer(BatchData& b, bool durable, const Status& failure);
  Extents copy_;  // scratch
  int64_t next_sweep_ms_ = 0;
  int64_t last_write_ms_ = 0;    // the turn of the last append (checkpoint mode)
  int64_t next_idle_ms_ = 0;     // WhenIdle looks again from then on
  bool lookup_damaged_ = false;  // the last Lookup found a value that fails its checksum
  ConnId muted_ = 0;             // MuteAnswers: this connection's answers are dropped (0: none)
};

}  // namespace pastel::store
