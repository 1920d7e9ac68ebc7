#pragma once
// store: the durable request loop that pastel-httpd and pastel-kv share (the public API; the
// implementation's headers are private to src/store: store_loop.h, store_index.h).
//
// A Store is the server's files opened and recovered: the pool, its metadata log and its index
// file, and the key index over them. Each of a server's N loops (RunLoop) owns one Backend (the
// connections and receive buffers of its pool partition) and one log stream, and serves a
// Protocol, which parses requests and renders answers through a Batch handle. Per turn (one Poll:
// a batch of RX slots across connections), along the write path:
//   1. receive: the slots' bytes join their connections (Conn) in the pool buffers they landed in;
//   2. parse: the protocol names the keys the turn's complete requests will read, brought into
//      the cache for all of them at once (Protocol::Prefetch), then parses every complete request
//      in place (Protocol::Parse);
//   3. admit: a write asks for its room first (Batch::Writable, Admit, Deletable); kNeedsRoom
//      stops the command, the loop makes log room (commit, answer, checkpoint) and parses again;
//   4. record: a write keeps its value's buffers (PASTE's swap) and appends a log record that names
//      them (inplace), or copies the value into fresh pool buffers first (copy), or only keeps
//      them (none);
//   4b. expire: keys whose expiry time passed, met by this turn's commands or found by the
//      sweep (Value::expire_ms), get kExpire records in the same batch (docs/kv.md, "Expiry");
//   5. commit: the batch's records and values are made durable by ONE group commit (one fence);
//      the only commit in the middle of a turn is the log-room phase after a kNeedsRoom, and it
//      never splits a group of writes (BeginGroup: a transaction is durable whole or not at all);
//   6. answer: only then are the batch's writes applied to the shared index (old values'
//      buffers released) and then its answers sent, in request order per connection (a client
//      told its write is done finds it from every loop);
//   7. checkpoint: in later turns, a slice per turn, the index's changes go to the index file and
//      the log streams are truncated.
// Reads inside a batch see the batch's own earlier writes on this loop (read-your-writes), and
// never another loop's writes before they are durable. Once a loop is warm, serving a request
// allocates nothing (tests/integration/alloc_test.cc holds it). docs/store.md has the whole story.
//
// Threads: a loop, its Batch and its Protocol belong to the loop's thread; the Store is shared
// (its queries may be called from any thread) and LoopCounters are relaxed atomics.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pastel/extents.h"
#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"
#include "pastel/status.h"

namespace pastel {
class Log;
class BTree;
}  // namespace pastel

namespace pastel::store {

class Index;      // src/store/store_index.h
class BufferMap;  // src/store/buffer_map.h
class StoreLoop;  // src/store/store_loop.h

enum class PersistMode : uint8_t { kNone, kCopy, kInPlace };

// The longest key the store holds: the owner of the limit that every protocol asks (a request with
// a longer key is refused before anything is written). It is the log record's limit, and the
// index file takes every key the log can hold, so a checkpoint never meets a key it cannot write.
inline constexpr size_t kMaxKeyBytes = 1024;
// Keys from these bytes on (every key beginning with FF FD, FF FE or FF FF) are the application's
// own namespace: pastel-kv keeps its hashes' fields, lists' items and sorted sets' members there
// and refuses such keys from clients. The index counts them apart from the others
// (Store::live_user_keys), in the same step as the live keys, so that no reader sees one count
// changed without the other.
inline constexpr std::string_view kInternalKeysFrom{"\xff\xfd", 2};

// A stored value as the store hands it out: its bytes lie in `extents` of pool buffers, `length`
// in all. Whoever holds a Value read with Batch::Lookup holds one pool reference per extent. The
// other fields are the index's bookkeeping.
struct Value {
  uint64_t sequence = 0;
  bool deleted = false;  // tombstone
  bool unsaved = false;  // the index's: changed since the last checkpoint
  // What the bytes are (a string's, or a hash's header: pastel-kv's), durable with the value as
  // its log record and its index entry carry it; the store only keeps it. (Here, in the padding
  // before `length`: a Value, and every index entry, is no larger than without it.)
  ValueType type = ValueType::kString;
  uint32_t length = 0;
  uint32_t data_crc = 0;  // CRC-32C of the value's bytes (as its log record has it)
  // Absolute expiry time, Unix milliseconds (0: none). Durable with the value (its log record, its
  // index entry): a restart neither extends nor loses it. A value is expired once the wall clock
  // reached it: never served, removed by its loop (Batch::Lookup, the expiry cycle).
  int64_t expire_ms = 0;
  Extents extents;

  bool ExpiredAt(int64_t now_ms) const { return expire_ms != 0 && expire_ms <= now_ms; }
};

// A server's pool file, its log (POOL.log) and its index file (POOL.index, created when missing:
// a pool from before the index, or a first start; a new pool replaces an index file left without
// its pool and log).
static_assert(sizeof(Value) == 32 + sizeof(Extents), "type sits in the padding after the flags");

struct StoreFiles {
  std::string pool_path;
  uint32_t loops = 1;  // partitions of a new pool; one log stream per loop
  uint64_t pool_size = 256ull << 20;
  uint32_t buffer_size = 2048;
  uint64_t log_size = 64ull << 20;  // bytes per stream
  // Bytes of a new index file; 0: seven eighths of pool_size (about 2 M keys of 16 bytes for a
  // 256 MiB pool, a checkpoint's copies included: more than its buffers hold of 100-byte values),
  // at least 16 MiB.
  uint64_t index_size = 0;
  bool checkpoints = true;  // attach the index file for checkpoints (RecoverStore)
  // Entries a checkpoint leaves in memory (Index::SetCacheLimit): about 200 bytes each.
  uint64_t index_cache_keys = 1ull << 20;
  // A start with checkpoints reads from the index file only the entries of the keys the log's
  // tail names, and serves; the rest of the file (its verification, its buffer references) is
  // read by a warm-up thread while the loops serve (docs/store.md, "A start that does not grow
  // with the store"). false: the warm-up runs before Open returns.
  bool warm_up_in_background = true;
  std::function<void()> warm_up_hold;  // tests: the warm-up thread calls it before it starts
};

// The store's files opened and recovered, and the key index over them, shared by every loop.
class Store {
 public:
  // Opens and recovers the files, or creates them on first start. Errors name the step that
  // failed ("open log: ...", "recover POOL: ..."); a log with fewer streams than loops is
  // kInvalidArgument (start with fewer loops).
  static Result<std::unique_ptr<Store>> Open(const StoreFiles& files);
  // A store over parts that the caller opened and recovered and that outlive it (the power-cut
  // tests, which record every flush): `index` recovered from `log`, whose streams `loops` loops
  // share (LoopStreams).
  static std::unique_ptr<Store> Over(Pool& pool, Log& log, Index& index, uint32_t loops);
  ~Store();
  Store(const Store&) = delete;
  Store& operator=(const Store&) = delete;

  // What the start found.
  struct Start {
    bool created = false;  // a first start: the files were created
    double open_ms = 0;    // opening and recovery
    uint64_t keys = 0;     // live keys recovered
    uint64_t index_file_keys =
        0;                     // of which read from the index file (no log record replaced them)
    uint64_t log_records = 0;  // log records replayed
    bool warming = false;      // the index file's warm-up runs in the background (warming())
  };
  const Start& start() const { return start_; }

  Pool& pool() const { return *pool_; }
  const Log& log() const { return *log_; }
  uint32_t loops() const { return loops_; }
  // What survives what on the pool's medium (PmFile::DescribeDurability).
  std::string Durability() const;

  // The index's figures.
  uint64_t live_keys() const;
  // The live keys below kInternalKeysFrom (live_keys less the internal ones, read together).
  uint64_t live_user_keys() const;
  uint64_t expiring_keys() const;  // live keys with an expiry time
  uint64_t live_bytes() const;
  uint64_t memory_keys() const;       // index entries in memory (Index::map_keys)
  uint64_t index_tombstones() const;  // deletes kept in the index file (several loops)
  // Space on the media besides the pool: the log's streams' record bytes (all, and in use: each
  // loop's as of its last turn, LoopCounters::log_bytes), and the index file's bytes (all, and in
  // use as of its last commit; 0 and 0 without one).
  uint64_t log_bytes() const;
  uint64_t index_file_bytes() const;
  uint64_t index_file_bytes_in_use() const;
  // Visits every live key beginning with `prefix`, in no particular order, until `fn` returns
  // false. `fn` must not call back into the store.
  void ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn,
                   std::string_view prefix = {}) const;
  // Visits the live keys that the index holds in memory (its map: the keys changed since the last
  // checkpoint and the cached ones) from the slot `start` picks on, wrapping around, until `fn`
  // returns false or every slot was looked at: a random key in O(1) expected from a random start
  // (RANDOMKEY). Keys only in the index file are not visited. `fn` must not call back into the
  // store.
  void VisitLiveFrom(uint64_t start,
                     const std::function<bool(std::string_view key, const Value& v)>& fn) const;
  // The durable value of `key` (one pool reference per extent taken for the caller, who drops
  // them: Pool::Unretain), as every loop sees it; false when absent or damaged. An expired value
  // is returned as any other.
  bool Get(std::string_view key, Value* out) const;
  // Whether `key` holds a durable live value (expiry times not looked at).
  bool Contains(std::string_view key) const;

  Index& index() const { return *index_; }  // src/store/store_index.h

  // While the start's warm-up reads the index file (StoreFiles::warm_up_in_background): no
  // checkpoint runs, and the keys with an expiry time that only the index file holds are not yet
  // swept (a read still finds them expired). False once it ended, or failed (the store is then
  // read-only, and says why).
  bool warming() const;
  // Blocks until the warm-up has ended; true when it succeeded (or none ran).
  bool WaitWarm() const;

 private:
  friend class StoreLoop;
  Store();

  std::unique_ptr<Pool> own_pool_;
  std::unique_ptr<Log> own_log_;
  std::unique_ptr<BTree> own_tree_;
  std::unique_ptr<Index> own_index_;
  std::unique_ptr<BufferMap> own_map_;
  std::thread warm_thread_;  // the start's warm-up (Open), joined by the destructor
  std::atomic<bool> stop_warm_{false};
  Pool* pool_ = nullptr;
  Log* log_ = nullptr;
  Index* index_ = nullptr;
  uint32_t loops_ = 1;
  // Sequences of writes that are never logged (--persist none), above any the log hands out.
  std::atomic<uint64_t> none_sequence_{0};
  Start start_;
};

// Counters of one loop (written by that loop with relaxed atomics; a metrics page sums them).
struct LoopCounters {
  std::atomic<uint64_t> requests[8] = {};  // by the protocol's request kind
  std::atomic<uint64_t> responses_2xx{0};  // answers that succeeded
  std::atomic<uint64_t> responses_4xx{0};  // the client's error
  std::atomic<uint64_t> responses_5xx{0};  // the server's (full, read-only)
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> batches{0};      // Polls that brought slots
  std::atomic<uint64_t> batch_slots{0};  // RX slots in them
  std::atomic<uint64_t> commits{0};      // group commits (fences)
  // Of which pipelined: their syncs ran asynchronously while the loop went on (page granularity
  // with the io_uring backend).
  std::atomic<uint64_t> pipelined_commits{0};
  std::atomic<uint64_t> committed_writes{0};
  std::atomic<uint64_t> rejected_full{0};  // writes refused for want of space
  std::atomic<uint64_t> enobufs{0};        // receives stopped for want of buffers
  std::atomic<uint64_t> kept{0};
  std::atomic<uint64_t> checkpoints{0};           // completed: the index file committed, the log
                                                  // streams truncated
  std::atomic<uint64_t> checkpointed_entries{0};  // index entries those checkpoints wrote
  // Whole checkpoints run in the middle of a turn because the active stream could not take the
  // next command's records (the log-room phase).
  std::atomic<uint64_t> log_full_checkpoints{0};
  // Checkpoints that failed: out of index space (retried later), or for any other reason (the store
  // then turns read-only).
  std::atomic<uint64_t> checkpoint_failures{0};
  std::atomic<uint64_t> request_timeouts{0};  // a request did not arrive whole in time
  // Backpressure: connections held until their answers drained (Batch::Held), of which with
  // receiving paused; connections closed after an error answer (the answer says why), and
  // closed because an answer did not fit the loop's TX room at all (should stay 0).
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> held_paused{0};
  std::atomic<uint64_t> error_closes{0};
  std::atomic<uint64_t> tx_full_closes{0};
  std::atomic<uint64_t> lingering_closes{0};  // closes that lingered (the backend's count)
  // Keys whose expiry time passed, removed (a kExpire record committed and applied).
  std::atomic<uint64_t> expired_keys{0};
  // Reads of a key that found it, and that did not (counted by the protocol: pastel-kv's INFO
  // keyspace_hits and keyspace_misses, for the commands redis-server counts).
  std::atomic<uint64_t> keyspace_hits{0};
  std::atomic<uint64_t> keyspace_misses{0};
  // Small values the packer wrote again, out of sparsely used buffers (StoreLoop::Pack).
  std::atomic<uint64_t> packed_values{0};
  // A gauge: the record bytes in the loop's log streams as of its last turn (Store::log_bytes is
  // their room).
  std::atomic<uint64_t> log_bytes{0};

  void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

struct StoreOptions {
  PersistMode persist = PersistMode::kInPlace;
  // Writes are refused while the partition has fewer free buffers than this, so receiving (and
  // so deletes, which free space) can always go on.
  uint32_t reserve_buffers = 64;
  // Index entries a checkpoint writes per loop turn at least (tests make it small so that a
  // checkpoint spans many turns); more when the turns bring more writes.
  uint32_t checkpoint_slice = 1024;
  // A loop checkpoints into the index file when its stream is three quarters full, or after this
  // many writes of the loop (which bounds what a restart replays).
  uint64_t checkpoint_records = 65536;
  // A loop whose streams hold records but that appended none for this many milliseconds
  // checkpoints them (a restart then replays nothing of it, and tombstones in the index file are
  // not held back by its stream). 0: never.
  uint32_t idle_checkpoint_ms = 1000;
  // A request must arrive whole within this many milliseconds of its first bytes, else the
  // protocol's OnTimeout answers and closes (slowloris). Idle connections are not timed out.
  // 0: no limit.
  uint32_t request_timeout_ms = 30000;
  // The expiry sweep runs at most once per this many milliseconds of the wall clock (a bounded
  // slice of the index each time); expired keys a command meets are removed in its turn anyway.
  uint32_t expire_sweep_ms = 100;
  // The packer (StoreLoop::Pack) runs while the loop's partition has fewer free buffers than
  // this. 0: a quarter of the partition; UINT32_MAX: always (the crash tests: moves at every turn).
  uint32_t pack_below_free = 0;
  // Tests: the wall clock the loops read (Unix ms), which the test moves; null: the system's.
  const std::atomic<int64_t>* clock_ms = nullptr;
};

// Why a write was not queued (kQueued: it was; its answer follows the batch's commit).
enum class WriteOutcome : uint8_t {
  kQueued,
  kReadOnly,  // a flush or sync failed earlier: the store takes no more writes
  kPoolFull,  // not enough free buffers (or an allocation failed)
  kLogFull,   // the log stream is full (and a checkpoint could not make room)
  kTooLarge,  // the value spans more buffers than a record can name
  kInternal,
  // Not now: the active log stream cannot take the command's records, and a whole checkpoint can
  // empty it. The command must stop at once, answer nothing and leave its request unconsumed
  // (return from Parse); the loop then commits and answers the batch so far, runs the checkpoint
  // (its log-room phase) and parses the connection again, so the command runs again
  // from its start. Writes it queued before asking (FLUSHALL of more deletes than a stream holds)
  // are committed by that phase.
  kNeedsRoom,
};

// A received segment of a connection: `length` bytes at `offset` in pool buffer `buffer`.
struct Segment {
  uint32_t buffer;
  uint32_t offset;
  uint32_t length;
  bool kept;  // the connection's hold was turned into a pool reference (Batch::Put kept it)
};

// A connection as its protocol sees it: the received bytes it has not consumed yet, where they
// landed, and the protocol's progress through them.
class Conn {
 public:
  ConnId id = 0;
  std::vector<Segment> segs;  // received, not yet consumed: [head, end)
  size_t head = 0;
  uint32_t front_off = 0;     // bytes of segs[head] already consumed
  uint64_t avail = 0;         // unconsumed bytes
  bool closing = false;       // an answer that closes was queued: ignore what follows
  bool interim_sent = false;  // the protocol's interim answer (HTTP 100) for this request
  std::string scratch;        // a request head that straddles receives, copied (GatherFront)
  // The protocol's own per-connection state, kept between Parse calls: progress through the
  // unfinished request (HTTP: a chunked body scanned once, however many receives it arrives in),
  // or what the connection established (RESP: AUTH). Opaque to the store: the protocol stores a
  // trivially copyable value here.
  alignas(8) unsigned char progress[64] = {};

 private:
  friend class StoreLoop;
  bool dirty_ = false;            // on this turn's list of connections to parse
  int64_t partial_since_ms_ = 0;  // when the unfinished request's bytes began (0: none)
  bool held_ = false;             // backpressure: parsing stopped until its answers drain (Held)
  bool parked_ = false;           // its first request waits for an event (Park) until Wake
  bool recv_paused_ = false;      // held or parked with much unparsed data: receiving paused too
};

enum class AnswerClass : uint8_t { kOk = 2, kClientError = 4, kServerError = 5 };

// What a protocol reads, writes and answers through, during one Parse (or OnTimeout) of one loop.
// The handle is the loop itself; a protocol keeps no reference to it beyond the call.
class Batch {
 public:
  // --- Input: the connection's unconsumed bytes, in place.
  // The bytes of segment s (its received range).
  const char* SegData(const Segment& s) const;
  // The extents of `len` bytes starting `skip` bytes into c's unconsumed data.
  void BodyExtents(const Conn& c, uint64_t skip, uint64_t len, std::vector<Extent>* out) const;
  // Copies up to `want` unconsumed bytes of c (from its front) into c.scratch.
  void GatherFront(Conn& c, size_t want) const;
  // The protocol took the first `n` unconsumed bytes of c (a whole request).
  void Consume(Conn& c, uint64_t n);
  // Backpressure, asked before taking each request of c: true when c's answers not sent yet
  // reached their bound, or the loop's TX room runs low and c holds a share of it. The protocol
  // then returns with the request unconsumed; the loop parses c again once its answers drained
  // (and stops receiving from it meanwhile if it holds much unparsed data). No answer is dropped
  // and no connection closed for load.
  bool Held(Conn& c);
  // c's first unconsumed request waits for an event the protocol tracks (pastel-kv's BLPOP on an
  // empty list, or a write of a list another loop is writing): the protocol returns from Parse
  // with it unconsumed, having answered nothing for it, and c is not parsed again, nor timed out
  // (the wait is the client's or the server's, not a slow request), until Wake(c.id). Its bytes
  // still arrive (receiving pauses once it holds much unparsed data).
  void Park(Conn& c);
  // Parked connection `conn` of this loop is parsed again at the loop's next turn (which then
  // does not wait for the network). Nothing when it is not parked or gone.
  void Wake(ConnId conn);

  // --- Admission: asked before a command answers or queues anything.
  // Whether a write of a `length`-byte value may be queued now (read-only store, pool reserve).
  // `log_bytes`: the records the command will append (RecordRoom, summed over them). kNeedsRoom:
  // the active log stream cannot take them but a whole checkpoint can make the room: the command
  // stops, answers nothing and leaves its request unconsumed; the loop makes the room and parses
  // again, so a command is never refused for a full log that a checkpoint can empty, nor logged
  // in part.
  WriteOutcome Writable(uint64_t length, uint64_t log_bytes = 0);
  // As Writable, for a command of several writes admitted at once: `buffers` free buffers of the
  // partition it takes (BuffersFor, summed over its writes) above the reserve, and `log_bytes`.
  // Its Puts then pass `admitted`: none of them is refused for buffers or log room, so the command
  // is written whole or refused whole.
  WriteOutcome Admit(uint64_t buffers, uint64_t log_bytes);
  // The free buffers of the partition a write of `length` bytes received in `body_extents`
  // extents takes: the copy's buffers (persist copy), or at most one per extent kept in place.
  uint64_t BuffersFor(size_t body_extents, uint64_t length) const;
  // The bytes of the record of a put of `key_len` bytes whose `length`-byte value arrived in
  // `body_extents` extents (kept in place) or will be copied (persist copy); `expires`: with an
  // expiry time.
  uint64_t RecordRoom(size_t key_len, size_t body_extents, uint64_t length,
                      bool expires = false) const;
  // Whether deletes whose records take `log_bytes` in all (DeleteRoom, summed) may be queued now
  // (kNeedsRoom as Writable). Deletes take no buffers: they go on when the pool is full.
  WriteOutcome Deletable(uint64_t log_bytes);
  static uint64_t DeleteRoom(size_t key_len);
  // Bytes for records in the active log stream, all of them (an empty stream).
  uint64_t log_capacity() const;
  // Whether records of `log_bytes` fit the active stream now, without a checkpoint (never asks
  // for room: Protocol::Background's deletes).
  bool LogHasRoom(uint64_t log_bytes) const;
  // A command was told kNeedsRoom in this Parse: the protocol returns without consuming it.
  bool room_wanted() const;
  // The loop's last checkpoint failed for want of space in the index file (a kLogFull then means
  // that the index file is full: the message for the client says so).
  bool index_full() const;

  // --- Groups: writes that are durable together or not at all (pastel-kv's EXEC).
  // Between BeginGroup and EndGroup (within one Parse call; groups do not nest) the loop commits
  // nothing: the group's records are held back and appended together at EndGroup (or when a
  // pipelined batch is launched), so they go into the batch's ONE group commit and recovery,
  // which keeps whole batches only, keeps all of them or none. A read-only store's refusals stay
  // per write, as outside a group (they split nothing). A refusal for buffers fails the group
  // when the protocol says so (FailGroup: pastel-kv's EXEC, whose transaction is refused whole;
  // another loop may borrow the buffers its check at EXEC counted, Pool::FreeFor). Log room is the
  // group's: a write of it that does not fit the active stream is told kNeedsRoom when the whole
  // group so far and this write fit an empty stream (the log-room phase can make the room), else
  // kLogFull; either way the group has failed (group_failed): the protocol queues nothing more
  // of it and calls EndGroup, which drops everything the group queued (its writes and their
  // buffers, its answers) and returns that outcome. kNeedsRoom: return from Parse with the
  // request unconsumed, as for any command told so; the loop commits the batch before the group,
  // empties the log and parses again, so the group runs again from its start. kLogFull: the
  // group can never fit a stream; refuse it whole. kQueued: the group's writes and answers stay
  // in the batch, answered after its commit like every write.
  void BeginGroup();
  WriteOutcome EndGroup();
  bool group_failed() const;
  // Fails the open group with `why` (kPoolFull: a write of it was refused for buffers): the
  // protocol queues nothing more of it, and EndGroup drops it and returns `why`. No group open,
  // or one failed already: nothing.
  void FailGroup(WriteOutcome why);

  // --- Writes: queued, made durable by the batch's group commit, answered after it.
  // Queues the write of `key` = `body` (extents within c's unconsumed bytes): kept in place or
  // copied per the persist mode, and logged. Its answer must be queued with AnswerWrite.
  // `admitted`: the command's Admit already took its room (no second check). `expire_ms`: the
  // value's absolute expiry time (Unix ms, >= 1), 0: none; a write with one takes
  // RecordRoom(..., /*expires=*/true) of the log.
  WriteOutcome Put(Conn& c, std::string_view key, std::span<const Extent> body, uint64_t length,
                   bool admitted = false, int64_t expire_ms = 0);
  // Queues the write of `key` = `extents`, on whose buffers the caller holds one reference per
  // extent (FreshValue, or a stored value's extents retained); the record takes the references
  // over, also on failure (they are dropped). `admitted`: the command's Admit took its room (the
  // value's buffers are held already: it asks for none). `expire_ms` as Put's; `type`: what the
  // value is (a hash's header), kept with it.
  WriteOutcome PutOwned(std::string_view key, Extents extents, uint64_t length,
                        bool admitted = false, int64_t expire_ms = 0,
                        ValueType type = ValueType::kString);
  // Queues the write of `key` = old's extents followed by `body` (extents within c's unconsumed
  // bytes, kept in place or copied per the persist mode): APPEND without copying either part.
  // The caller holds one reference per extent of `old`; the record takes them over. The value
  // keeps old's expiry time.
  WriteOutcome PutAppend(Conn& c, std::string_view key, Value old, std::span<const Extent> body,
                         uint64_t body_length);
  WriteOutcome Delete(std::string_view key);
  // Copies `bytes` into fresh buffers of the loop's partition (one reference per extent held by
  // the caller; flushed by the batch's commit when logged).
  Status FreshValue(std::string_view bytes, Extents* out);
  void DropRefs(std::span<const Extent> extents);
  // Writes this loop queued and has not applied to the index yet (this batch's so far, and those
  // of the batch in flight of a pipelined commit), and a visit of them in order (key, value: its
  // `deleted` and `type`).
  size_t pending_writes() const;
  void VisitPending(const std::function<void(std::string_view key, const Value& v)>& fn) const;
  // For a protocol's cache of what VisitPending showed: a number that changes whenever writes
  // leave the pending ones (a batch answered, a group dropped), and how many there are (the
  // flight's and the open batch's). While the epoch stays, the pending writes are the ones a visit
  // saw, in the same order, followed by those queued since: VisitPendingFrom(n) visits them from
  // the n-th on. (A visit, from any n, marks the connection's answers as resting on pending
  // writes, as VisitPending does.)
  uint64_t pending_epoch() const;
  size_t pending_all() const;
  void VisitPendingFrom(size_t first,
                        const std::function<void(std::string_view key, const Value& v)>& fn) const;
  // The key of the open batch's write `i` (i < pending_writes(), in the order queued): the keys a
  // command wrote are those from pending_writes() before it on.
  std::string_view PendingKey(size_t i) const;

  // --- Reads.
  // Protocol::Prefetch: the turn's requests will read `key` (up to kMaxPrefetchKeys per turn are
  // kept; the rest are ignored).
  void PrefetchKey(std::string_view key);
  static constexpr size_t kMaxPrefetchKeys = 1024;
  // The value of `key` as this loop sees it (its batch's own writes first), with one reference
  // per extent taken for the caller. False when absent, when expired (its removal is then queued:
  // a kExpire record goes with this batch), or when its bytes fail their checksum
  // (lookup_damaged() then says so: the protocol answers an error, never the bytes).
  bool Lookup(std::string_view key, Value* out);
  bool lookup_damaged() const;
  bool Exists(std::string_view key);
  // The wall clock (Unix ms) the loop read at the start of this turn: what expiry times are
  // compared with, and what relative times (EX, TTL) are counted from.
  int64_t now_ms() const;
  // The pool a Value's extents lie in (to read its bytes), and the store.
  const Pool& pool() const;
  const Store& store() const;

  // --- Answers, sent in order per connection after the batch's commit.
  // The batch's text answers: a protocol appends an answer's bytes here and then queues them
  // with AnswerTextSince(conn, size before).
  std::string& text();
  void AnswerText(ConnId conn, std::string_view bytes, AnswerClass cls, bool close);
  void AnswerTextSince(ConnId conn, size_t begin, AnswerClass cls, bool close);
  // The answer of the write queued last: `ok` once the batch's commit succeeded, `failed` (a
  // server error) when it failed.
  void AnswerWrite(ConnId conn, std::string_view ok, std::string_view failed, bool close);
  // `prefix`, then v's bytes sent straight from the pool buffers (the answer takes over the
  // references of v, as Lookup took them; `with_bytes` false drops them at once), then `suffix`.
  void AnswerValue(ConnId conn, std::string_view prefix, const Value& v, std::string_view suffix,
                   bool close, bool with_bytes = true);
  // The loop's counters (the protocol counts its requests by kind).
  LoopCounters& counters();

  // --- Connections of this loop, for the protocol's own commands (pastel-kv's CLIENT).
  // The socket of `conn`, for getpeername and getsockname only (-1 when gone or unknown).
  int Socket(ConnId conn) const;
  // Closes `conn` (CLIENT KILL): nothing more of it is parsed, and the backend closes it once
  // what was already sent to it drained; its answers still queued are dropped. A kClosed follows
  // (Protocol::OnClose). Writes it queued are committed as any other.
  void Close(ConnId conn);
  // Answers queued for `conn` from now on are dropped instead of sent, until MuteAnswers(0)
  // (pastel-kv's CLIENT REPLY OFF and SKIP): its writes are still committed, a value's references
  // released, and an answer that closes still closes the connection, silently.
  void MuteAnswers(ConnId conn);

 protected:
  Batch() = default;
  ~Batch() = default;
  Batch(const Batch&) = delete;
  Batch& operator=(const Batch&) = delete;

 private:
  StoreLoop& Self();
  const StoreLoop& Self() const;
};

// A protocol (HTTP, RESP): parses requests and renders answers, nothing else.
class Protocol {
 public:
  virtual ~Protocol() = default;
  // Parses and handles every complete request of c's unconsumed bytes (Consume what it took),
  // stopping at an incomplete one, once c.closing, when b.Held(c), or when a command was told
  // kNeedsRoom (returning with it unconsumed).
  virtual void Parse(Batch& b, Conn& c) = 0;
  // Before a turn's Parse calls, once per connection with new bytes: names (Batch::PrefetchKey)
  // the keys that c's complete requests will read, without taking or answering anything, so
  // that the loop brings their index entries and values into the cache for all of the turn's
  // connections at once instead of one miss after another. A hint: default nothing.
  virtual void Prefetch(Batch& /*b*/, const Conn& /*c*/) {}
  // Whether Prefetch names any keys (asked once per turn: a protocol that names none costs the
  // loop no pass over its connections).
  virtual bool WantsPrefetch() const { return false; }
  // c's unfinished request is older than the request timeout: answer and set c.closing.
  virtual void OnTimeout(Batch& b, Conn& c) = 0;
  // Connection c opened (its id is set, nothing received yet), and c is gone (called once,
  // before its state is dropped; also for the connections left when the loop ends). Default:
  // nothing. Both run on the loop's thread; OnOpen may allocate (it is not per request).
  virtual void OnOpen(Batch& /*b*/, Conn& /*c*/) {}
  virtual void OnClose(Conn& /*c*/) {}
  // Once per loop turn, after its Poll and before its events are handled: a protocol picks up
  // what other threads asked of this loop's connections (pastel-kv's CLIENT KILL across loops;
  // a loop turns at least every 100 ms). It may Close connections, Wake parked ones and queue
  // answers that write nothing (pastel-kv's messages of another loop's PUBLISH: sent with the
  // turn's batch); it writes nothing.
  virtual void OnTurn(Batch& /*b*/) {}
  // After a turn's requests were parsed (or in an idle turn), once per expiry sweep interval
  // (StoreOptions::expire_sweep_ms) and in every turn after a call that queued something, the
  // protocol may remove its own garbage (pastel-kv: the fields of hashes that are gone): deletes
  // only, each queued when Batch::LogHasRoom says its record fits (else left for a later call),
  // committed with the turn's batch. Returns whether it queued any. Default: nothing.
  virtual bool Background(Batch& /*b*/) { return false; }
  // A batch's writes entered the shared index: every loop sees them from now on (pastel-kv's
  // WATCH, for connections of other loops). Asked once per batch after its writes were applied;
  // when it returns true, OnApplied follows for the key of each write of the batch, in order
  // (kExpire removals aside), `deleted` telling a delete from a put. With one loop the key's
  // entry is that write's (one loop's writes apply in their sequences' order); with several, a
  // later write of another loop may be in force already. Default: nothing is wanted.
  virtual bool WantsApplied() { return false; }
  virtual void OnApplied(std::string_view /*key*/, bool /*deleted*/) {}
};

// Serves loop `loop` (of store.loops()) over `backend`, whose pool partition is `loop`, with
// `protocol`, until `stop`; a clean stop ends with a whole checkpoint. Returns the first fatal
// backend error, if any. `name` prefixes the loop's reports on stderr.
Status RunLoop(Store& store, uint32_t loop, Backend& backend, Protocol& protocol,
               const StoreOptions& options, LoopCounters& counters, std::string_view name,
               const std::atomic<bool>& stop);

}  // namespace pastel::store
