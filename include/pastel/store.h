#pragma once
// store: the durable request loop that pastel-httpd and pastel-kv share, and their key index.
//
// A StoreLoop owns one Backend (connections, receive buffers of its pool partition), its log
// stream(s) (LoopStreams) and uses the shared Index. A protocol (HTTP,
// RESP) derives from it and only parses requests and renders answers. Per Poll (one batch of RX
// slots across connections):
//   1. the protocol parses every complete request in place in the receive buffers (Parse);
//   2. a write keeps its value's buffers (Backend::Keep: PASTE's swap) and appends a log record
//      that names them (inplace), or copies the value into fresh pool buffers first (copy), or
//      only keeps them (none);
//   3. the batch's records and values are made durable by ONE group commit (one fence);
//   4. only then are the batch's answers sent, in request order per connection, and the writes
//      applied to the shared index (old values' buffers released).
// Reads inside a batch see the batch's own earlier writes on this loop (read-your-writes), and
// never another loop's writes before they are durable.
// Once a loop is warm (its vectors and the index's arena at their working size), serving a request
// allocates nothing: values' extents are inline (Extents), the batch's write slots and the
// checkpoint's staging slots are reused, and the index's nodes and keys come from its arena.
// tests/integration/alloc_test.cc counts every operator new on a loop's thread to hold this.
//
// Threads: a StoreLoop and everything in it belong to the loop's thread; the Index is shared
// (readers take it shared, a loop applying a committed batch exclusive) and the counters are
// relaxed atomics.

#include <algorithm>
#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <memory_resource>
#include <mutex>
#include <queue>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "pastel/index.h"
#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"
#include "pastel/status.h"

namespace pastel::store {

enum class PersistMode : uint8_t { kNone, kCopy, kInPlace };

// The longest key the store holds: the owner of the limit that every protocol asks (a request with
// a longer key is refused before anything is written). The log's record holds it and the index
// file takes every key the log can hold, so a checkpoint never meets a key it cannot write.
inline constexpr size_t kMaxKeyBytes = kMaxKeyLen;
static_assert(kMaxKeyLen <= kBTreeMaxKey, "the index must take every key the log holds");

// A value's extents. Up to kInline of them are kept inline, so that the request path makes,
// copies and drops the Value of a write or a read without allocating: a value of up to
// (kInline - 1) buffers' bytes received at any offset spans at most kInline buffers. A longer
// list goes to the heap (the value is then several buffers long, and its copies dominate).
class Extents {
 public:
  static constexpr uint32_t kInline = 4;

  Extents() = default;
  Extents(std::span<const Extent> e) { assign(e.data(), e.data() + e.size()); }  // NOLINT
  Extents(const Extents& o) { assign(o.begin(), o.end()); }
  Extents(Extents&& o) noexcept { Take(o); }
  Extents& operator=(const Extents& o) {
    if (this != &o) {
      assign(o.begin(), o.end());
    }
    return *this;
  }
  Extents& operator=(Extents&& o) noexcept {
    if (this != &o) {
      delete[] heap_;
      Take(o);
    }
    return *this;
  }
  Extents& operator=(std::span<const Extent> e) {
    assign(e.data(), e.data() + e.size());
    return *this;
  }
  ~Extents() { delete[] heap_; }

  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  Extent* data() { return heap_ != nullptr ? heap_ : inline_; }
  const Extent* data() const { return heap_ != nullptr ? heap_ : inline_; }
  Extent* begin() { return data(); }
  Extent* end() { return data() + size_; }
  const Extent* begin() const { return data(); }
  const Extent* end() const { return data() + size_; }
  Extent& operator[](size_t i) { return data()[i]; }
  const Extent& operator[](size_t i) const { return data()[i]; }
  Extent& back() { return data()[size_ - 1]; }
  operator std::span<const Extent>() const { return {data(), size_}; }  // NOLINT

  void clear() { size_ = 0; }
  // [first, last) must not lie in this list.
  void assign(const Extent* first, const Extent* last) {
    size_ = 0;
    append(first, last);
  }
  void append(const Extent* first, const Extent* last) {
    const size_t n = static_cast<size_t>(last - first);
    Reserve(size_ + n);
    std::copy(first, last, data() + size_);
    size_ += static_cast<uint32_t>(n);
  }
  void push_back(const Extent& e) { append(&e, &e + 1); }
  void resize(size_t n) {
    Reserve(n);
    std::fill(data() + std::min<size_t>(size_, n), data() + n, Extent{});
    size_ = static_cast<uint32_t>(n);
  }

  friend bool operator==(const Extents& a, std::span<const Extent> b) {
    return std::equal(a.begin(), a.end(), b.begin(), b.end());
  }
  friend bool operator==(const Extents& a, const Extents& b) {
    return a == std::span<const Extent>(b);
  }

 private:
  void Reserve(size_t n) {
    if (n <= cap_) {
      return;
    }
    const size_t cap = std::max<size_t>(n, 2 * size_t{cap_});
    Extent* grown = new Extent[cap];
    std::copy(begin(), end(), grown);
    delete[] heap_;
    heap_ = grown;
    cap_ = static_cast<uint32_t>(cap);
  }
  void Take(Extents& o) noexcept {
    size_ = o.size_;
    cap_ = o.cap_;
    heap_ = o.heap_;
    if (heap_ == nullptr) {
      std::copy(o.inline_, o.inline_ + size_, inline_);
    }
    o.heap_ = nullptr;
    o.size_ = 0;
    o.cap_ = kInline;
  }

  Extent inline_[kInline];
  Extent* heap_ = nullptr;  // when the list outgrew inline_
  uint32_t size_ = 0;
  uint32_t cap_ = kInline;
};

struct Value {
  uint64_t sequence = 0;
  bool deleted = false;  // tombstone
  bool unsaved = false;  // the index's: changed since the last checkpoint
  uint32_t length = 0;
  uint32_t data_crc = 0;  // CRC-32C of the value's bytes (as its log record has it)
  Extents extents;
};

// The index's in-memory map: key bytes -> Value, open addressing with linear probing. A slot holds
// a key's full hash and its entry; an entry holds its Value and, right after it, its key's bytes,
// so a lookup reads the slot and the entry (std::unordered_map also reads a bucket, the node
// before the entry's, and a key stored apart). Entries stay where they are until erased (a Value*
// outlives rehashing); they and the slot array come from `arena`. Not thread safe.
class KeyMap {
 public:
  class Entry {
   public:
    Value value;
    std::string_view key() const { return {reinterpret_cast<const char*>(this + 1), key_len_}; }

   private:
    friend class KeyMap;
    Entry(Value v, uint32_t key_len) : value(std::move(v)), key_len_(key_len) {}
    uint32_t key_len_;
  };

  explicit KeyMap(std::pmr::memory_resource* arena) : arena_(arena), slots_(arena) {}
  ~KeyMap() { clear(); }
  KeyMap(const KeyMap&) = delete;
  KeyMap& operator=(const KeyMap&) = delete;

  static uint64_t HashOf(std::string_view key) { return std::hash<std::string_view>{}(key); }

  Entry* Find(std::string_view key) const { return Find(key, HashOf(key)); }
  Entry* Find(std::string_view key, uint64_t hash) const;
  // Asks the CPU to bring in what Finds of these hashes will read: every hash's home slot, then
  // the entries those slots hold, so that the Finds that follow wait on no memory.
  void Prefetch(std::span<const uint64_t> hashes) const;
  // Adds `key`, which the map must not hold (`hash`: HashOf(key)).
  Entry* InsertNew(std::string_view key, uint64_t hash, Value v);
  Entry* InsertOrAssign(std::string_view key, Value v);
  bool Erase(std::string_view key);  // false when absent
  void Erase(const Entry* e);        // an entry of this map

  // Visits every entry, in no particular order, until `fn` returns false; `fn` must not change
  // the map.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.entry != nullptr && !fn(static_cast<const Entry&>(*s.entry))) {
        return;
      }
    }
  }

  size_t size() const { return size_; }
  void clear();
  void reserve(size_t n);  // room for n entries without rehashing

 private:
  struct Slot {
    uint64_t hash = 0;
    Entry* entry = nullptr;  // null: empty
  };
  static size_t EntryBytes(size_t key_len) { return sizeof(Entry) + key_len; }
  void Rehash(size_t slots);  // a power of two above size_ / kMaxLoad
  void Place(uint64_t hash, Entry* e);
  void EraseSlot(size_t i);

  std::pmr::memory_resource* arena_;
  std::pmr::vector<Slot> slots_;  // a power of two, or empty
  size_t size_ = 0;
};

// How the index file stores a Value (docs/formats/index.md, "store entries"): sequence u64,
// length u32, data checksum u32, flags u8 (bit 0: tombstone), 7 bytes 0, then per extent buffer,
// offset, length (u32 each).
void EncodeIndexValue(const Value& v, std::string* out);
// False when `bytes` are not an encoded Value (wrong size, unknown flags, lengths that do not
// add up, a tombstone with extents).
bool DecodeIndexValue(std::string_view bytes, Value* out);
// CRC-32C of the bytes `extents` name in `pool` (what Value::data_crc must be).
uint32_t ValueCrc(const Pool& pool, std::span<const Extent> extents);

// The key index: key -> where the durable value lies (extents in pool buffers), rebuilt from the
// log at start.
//
// Only durable state enters the index (a loop applies its batch after the batch's fence), so no
// loop ever serves a value that a crash could take back. Entries carry the log sequence of the
// write that made them, and a write only replaces an entry of a lower sequence: loops committing
// writes of the same key in another order than their sequences still end where recovery (which
// replays by sequence) would. A delete leaves a tombstone with its sequence for the same reason.
//
// Buffer references: every live entry holds one pool reference per extent (taken by the writer,
// or by recovery); the loser of a replacement has its references dropped by the caller.
//
// The index file: with a tree attached (pastel/index.h), the map holds only the entries changed
// since they were last written to the tree (and, without checkpoints, every entry written since
// start); every other entry is read from the tree. Readers look in the map first, then in the
// tree. Checkpoint writes the changed entries to the tree, a slice per call, takes them out of
// the map, and commits the tree once none is left. Every write applied before that commit is then
// in the committed tree, so a loop may truncate its log stream after a Checkpoint that committed
// (the tree is the base recovery replays the log over: RecoverStore). A start loads nothing but
// the log's tail into the map.
class Index {
 public:
  // Copies the live value of `key` into `out` and takes one pool reference on each of its
  // buffers while the entry cannot change, so the bytes stay put until the caller drops them
  // (Pool::Unretain). False when absent or deleted, and when a value read from the index file
  // fails its data checksum (damage of the pool file since it was written: *damaged is set, no
  // reference is taken; such a value is never served).
  bool GetAndRetain(std::string_view key, Pool& pool, Value* out, bool* damaged = nullptr) const;
  bool Contains(std::string_view key) const;

  // Installs `v` for `key` unless the present entry has a higher sequence. Returns the value that
  // lost (the old one, or `v` itself when it was older), whose references the caller drops.
  Value Apply(std::string_view key, Value v);
  // Before a batch of Applies: prefetches the map's slots and entries of these key hashes
  // (KeyMap::HashOf).
  void Prefetch(std::span<const uint64_t> hashes) const;

  // Visits every live key (not tombstones) under the shared locks, in no particular order, until
  // `fn` returns false. `fn` must not call back into the index.
  void ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn) const;

  // Start-up: the recovered live set (references already taken by recovery).
  void Load(const LiveMap& live);
  // Start-up, before any loop runs: one entry of the map, live or a tombstone (references already
  // taken); `v.unsaved` when the tree does not hold it yet.
  void LoadEntry(std::string_view key, Value v);

  // Start-up, before any loop runs: entries not in the map are read from `tree` (which outlives
  // the index), whose live keys and bytes are `tree_live_keys` and `tree_live_bytes` (those the
  // map does not shadow). `checkpoints`: changes are noted for Checkpoint (else the map keeps
  // them: nothing will be logged). `keep_tombstones`: a delete is written to the tree as a
  // tombstone (several loops: another loop's stream may still hold an older write of the key);
  // else it erases the key.
  void AttachTree(BTree* tree, bool checkpoints, bool keep_tombstones, uint64_t tree_live_keys,
                  uint64_t tree_live_bytes);
  bool checkpoints() const { return tree_ != nullptr && checkpoints_; }

  // Tombstones in the tree (several loops) are erased by a later checkpoint, once no log stream
  // can hold an older write of their key: every stream's horizon has reached their sequence.
  // Start-up, before any loop runs: the log has `streams` streams, each with horizon 0.
  void TrackStreams(uint32_t streams);
  // Stream `stream` holds, and will hold, no record of a sequence at or below `sequence` (its
  // owner truncated it at `sequence`, or it is empty and `sequence` was handed out already).
  // Horizons only grow; any thread may call it.
  void SetStreamHorizon(uint32_t stream, uint64_t sequence);
  // Start-up, before any loop runs: a tombstone of `key` with `sequence` in the tree.
  void NoteTreeTombstone(std::string key, uint64_t sequence);
  uint64_t tree_tombstones() const;  // in the tree, not erased yet
  // True when a checkpoint would erase a tombstone (every horizon has passed the lowest one).
  bool TombstonesErasable() const;

  struct CheckpointStep {
    uint64_t written = 0;            // entries written to the tree by this call
    uint64_t tombstones_erased = 0;  // tombstones this call erased from the tree
    bool committed = false;          // no change was left: the tree was committed
  };
  // Writes up to `max` changed entries to the tree, then erases up to the rest of `max` tombstones
  // that no stream's horizon holds back any more; when no change is left, commits it, recording
  // `sequence` (every write up to it that was applied is in the commit). Any number of loops may
  // call it; calls are serialized. On an error the entries not written stay noted; a failed
  // flush or fence of the tree is kReadOnly (the caller turns the store read-only).
  // PERSIST: before a committing call, the log holds the writes since the last commit; after it
  // returns with `committed`, the tree holds them too.
  Result<CheckpointStep> Checkpoint(size_t max, uint64_t sequence);
  uint64_t unsaved_keys() const;
  // Changes noted for checkpoints since the start, by every loop (grows by one each time an entry
  // becomes unsaved); any thread may read it.
  uint64_t notes() const { return notes_.load(std::memory_order_relaxed); }

  // A checkpoint leaves the live entries it wrote in the map (marked saved) while the map holds at
  // most `keys` entries, so a later write or read of a key written since the start finds it in
  // memory rather than in the tree (a write needs the value it replaces); beyond `keys`, and for
  // deletes, the entries written leave the map and the tree answers for them. 0: the map keeps
  // only what changed since the last checkpoint. Start-up, before any loop runs.
  void SetCacheLimit(uint64_t keys) { cache_keys_ = keys; }
  uint64_t map_keys() const;  // entries in memory: changed since the last checkpoint, or kept

  uint64_t live_keys() const;
  uint64_t live_bytes() const;

 private:
  // The entry of `key` (map first, then tree), or null; *scratch holds a tree entry's decoding.
  // Needs mu_ and (with a tree) tree_mu_, shared at least.
  const Value* Find(std::string_view key, Value* scratch) const;
  const Value* FindInTree(std::string_view key, Value* scratch) const;  // the tree's entry only

  // Lock order: tree_mu_, then mu_. Readers take both shared; Apply takes tree_mu_ shared and
  // mu_ exclusive; a checkpoint slice takes tree_mu_ exclusive (it changes the tree), and mu_
  // exclusive only to take its entries and to drop them from the map.
  mutable std::shared_mutex mu_;
  // The map's entries and slots and unsaved_ come from arena_ (under mu_ exclusive, as every
  // change of them is), which keeps what they free for the next: a key that leaves the map at a
  // checkpoint and comes back with its next write allocates nothing.
  std::pmr::unsynchronized_pool_resource arena_;
  KeyMap map_{&arena_};
  uint64_t live_keys_ = 0;
  uint64_t live_bytes_ = 0;
  uint64_t cache_keys_ = 0;  // SetCacheLimit
  // The entries changed since their last checkpoint: an entry is here exactly once while its
  // value is unsaved, and an unsaved entry never leaves the map (only Checkpoint erases entries
  // when checkpoints are on, and only those it wrote), so the pointers stay valid.
  std::pmr::vector<KeyMap::Entry*> unsaved_{&arena_};
  std::atomic<uint64_t> notes_{0};  // notes(): pushes onto unsaved_ (under mu_ exclusive)
  void Note(KeyMap::Entry* e) {
    unsaved_.push_back(e);
    notes_.store(notes_.load(std::memory_order_relaxed) + 1, std::memory_order_relaxed);
  }

  mutable std::shared_mutex tree_mu_;
  std::mutex checkpoint_mu_;  // one Checkpoint at a time
  BTree* tree_ = nullptr;
  bool checkpoints_ = false;
  bool keep_tombstones_ = false;
  // A slice's entries, encoded under mu_ and written under tree_mu_. From taking them to its
  // last look at them a slice holds checkpoint_mu_ and tree_mu_ exclusive: Apply and readers
  // wait, so the entries stay where they are, unchanged.
  struct Staged {
    KeyMap::Entry* entry;  // its key, and its value as encoded below
    std::string bytes;     // encoded Value; empty: erase the key
    // The key's first 16 bytes as two big-endian words (zeros past its end): a slice is sorted
    // by key (so that the tree takes each leaf's keys at once, BTree::PutSorted) mostly without
    // reaching the keys themselves.
    uint64_t prefix[2];
  };
  std::vector<Staged> staged_;
  std::vector<BTree::KeyValue> run_;  // a sorted run of the slice's puts
  // The first slice of a checkpoint sorts unsaved_ (descending: slices take from its back), so
  // that each slice's keys are a narrow range of the tree and share leaves; notes taken during
  // the checkpoint are pushed after it, unsorted. (Under checkpoint_mu_.)
  bool unsaved_sorted_ = false;
  struct SortKey {
    uint64_t prefix[2];
    KeyMap::Entry* entry;
  };
  std::vector<SortKey> sort_keys_;
  void SortUnsaved();  // under checkpoint_mu_, no other lock held
  // Erases up to `max` tombstones at or below every horizon; needs checkpoint_mu_ and tree_mu_.
  Status EraseTombstones(size_t max, uint64_t* erased);

  // The tree's tombstones, lowest sequence first (under checkpoint_mu_), and each stream's
  // horizon (SetStreamHorizon).
  using TreeTombstone = std::pair<uint64_t, std::string>;
  std::priority_queue<TreeTombstone, std::vector<TreeTombstone>, std::greater<>> tombstones_;
  std::atomic<uint64_t> tombstone_count_{0};
  std::atomic<uint64_t> lowest_tombstone_{UINT64_MAX};  // tombstones_.top()'s sequence
  void TombstonesChanged();  // under checkpoint_mu_: updates the two above
  uint64_t Horizon() const;  // the lowest of the streams' horizons
  std::unique_ptr<std::atomic<uint64_t>[]> horizons_;
  uint32_t horizon_count_ = 0;
};

// Start-up recovery of a store: replays `log` over the checkpoint in `tree` (null: none) into
// `index` (empty, not yet used): the log's live writes and deletes go into its map (unsaved),
// the tree's entries stay where they are (the index reads them there). Retains the buffers of
// every live value (the log's, and the tree's that no later record replaced: one scan of the
// tree's leaves) and finishes the pool's recovery. `checkpoints`: note changes for checkpoints
// (off when nothing will be logged, --persist none). Tombstones are kept in the tree when the log
// has more than one loop's streams.
struct StoreRecovery {
  Recovered log;              // what the log replay found (`live`: the log's writes only)
  uint64_t tree_entries = 0;  // entries the tree held
  uint64_t tree_live = 0;     // of which live values no log record replaced
};
Result<StoreRecovery> RecoverStore(Pool& pool, Log& log, BTree* tree, Index& index,
                                   bool checkpoints, const RecoveryOptions& options = {});

// A server's pool file and its log (POOL.log): opened and recovered, or created on first start.
// A server's pool file, its log (POOL.log) and its index file (POOL.index, created when missing:
// a pool from before the index, or a first start; a new pool replaces an index file left without
// its pool and log).
struct StoreFiles {
  std::string pool_path;
  uint32_t loops = 1;  // partitions of a new pool; one log stream per loop
  uint64_t pool_size = 256ull << 20;
  uint32_t buffer_size = 2048;
  uint64_t log_size = 64ull << 20;  // bytes per stream
  uint64_t index_size = 0;          // bytes of a new index file; 0: pool_size / 8, >= 16 MiB
  bool checkpoints = true;          // attach the index file for checkpoints (RecoverStore)
  // Entries a checkpoint leaves in memory (Index::SetCacheLimit): about 200 bytes each.
  uint64_t index_cache_keys = 1ull << 20;
};
struct OpenedStore {
  std::unique_ptr<Pool> pool;
  std::unique_ptr<Log> log;
  std::unique_ptr<BTree> tree;
  std::unique_ptr<Index> index;  // recovered
  StoreRecovery recovered;       // empty when created
  bool created = false;
  double open_ms = 0;  // opening and recovery
};
// Errors name the step that failed ("open log: ...", "recover POOL: ..."); a log with fewer
// streams than loops is kInvalidArgument (start with fewer loops).
Result<OpenedStore> OpenOrCreate(const StoreFiles& files);

// The log streams of loop `loop` of `loops` over a log of `stream_count` (>= loops) streams: every
// loops-th stream from `loop` on. A new pool has one stream per loop; a pool from before that has
// two per loop, and a pool may be opened with fewer loops than it was created for: every stream
// has one owner, which truncates it at its checkpoints.
std::vector<uint32_t> LoopStreams(uint32_t stream_count, uint32_t loops, uint32_t loop);

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
  std::atomic<uint64_t> committed_writes{0};
  std::atomic<uint64_t> rejected_full{0};  // writes refused for want of space
  std::atomic<uint64_t> enobufs{0};        // receives stopped for want of buffers
  std::atomic<uint64_t> kept{0};
  std::atomic<uint64_t> checkpoints{0};           // completed: the index file committed, the log
                                                  // streams truncated
  std::atomic<uint64_t> checkpointed_entries{0};  // index entries those checkpoints wrote
  // Whole checkpoints run in the middle of a turn because the active stream could not take the
  // next command's records (MakeLogRoom).
  std::atomic<uint64_t> log_full_checkpoints{0};
  // Checkpoints that failed: out of index space (retried later), or for any other reason (the store
  // then turns read-only).
  std::atomic<uint64_t> checkpoint_failures{0};
  std::atomic<uint64_t> request_timeouts{0};  // a request did not arrive whole in time
  // Backpressure: connections held until their answers drained (StoreLoop::Held), of which with
  // receiving paused; connections closed after an error answer (the answer says why), and
  // closed because an answer did not fit the loop's TX room at all (should stay 0).
  std::atomic<uint64_t> held{0};
  std::atomic<uint64_t> held_paused{0};
  std::atomic<uint64_t> error_closes{0};
  std::atomic<uint64_t> tx_full_closes{0};
  std::atomic<uint64_t> lingering_closes{0};  // closes that lingered (the backend's count)

  void Add(std::atomic<uint64_t>& c, uint64_t n = 1) { c.fetch_add(n, std::memory_order_relaxed); }
};

struct StoreOptions {
  PersistMode persist = PersistMode::kInPlace;
  // Writes are refused while the partition has fewer free buffers than this, so receiving (and
  // so deletes, which free space) can always go on.
  uint32_t reserve_buffers = 64;
  // Index entries a checkpoint writes per loop turn at least (tests make it small so that a
  // checkpoint spans many turns); more when the turns bring more writes (CheckpointSlice).
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
  // (its log-room phase, MakeLogRoom) and parses the connection again, so the command runs again
  // from its start. Writes it queued before asking (FLUSHALL of more deletes than a stream holds)
  // are committed by that phase.
  kNeedsRoom,
};

class StoreLoop {
 public:
  // The loop appends to the first of its log `streams` (LoopStreams) in `log`; its checkpoints
  // into the index file truncate all of them. `name` prefixes the one report of a failed commit
  // on stderr.
  StoreLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log,
            std::span<const uint32_t> streams, Index& index, std::atomic<uint64_t>& none_sequence,
            const StoreOptions& options, LoopCounters& counters, std::string_view name);
  virtual ~StoreLoop();
  StoreLoop(const StoreLoop&) = delete;
  StoreLoop& operator=(const StoreLoop&) = delete;

  // Polls and serves until `stop`; returns the first fatal backend error, if any.
  Status Run(const std::atomic<bool>& stop);

 protected:
  struct Seg {
    uint32_t buffer;
    uint32_t offset;
    uint32_t length;
    bool kept;  // the connection's hold was turned into a pool reference (Keep)
  };
  struct Conn {
    ConnId id = 0;
    std::vector<Seg> segs;  // received, not yet consumed: [head, end)
    size_t head = 0;
    uint32_t front_off = 0;        // bytes of segs[head] already consumed
    uint64_t avail = 0;            // unconsumed bytes
    bool closing = false;          // an answer that closes was queued: ignore what follows
    bool interim_sent = false;     // the protocol's interim answer (HTTP 100) for this request
    bool dirty = false;            // on this batch's list of connections to parse
    std::string scratch;           // a request head that straddles receives, copied
    int64_t partial_since_ms = 0;  // when the unfinished request's bytes began (0: none)
    bool held = false;             // backpressure: parsing stopped until its answers drain (Held)
    bool recv_paused = false;      // held with much unparsed data: receiving paused too
    // The protocol's own progress through the unfinished request, kept between Parse calls so that
    // a body whose framing it decodes (HTTP chunked) is scanned once, however many receives it
    // arrives in. Opaque to the store: the protocol stores a trivially copyable value here.
    alignas(8) unsigned char progress[64] = {};
  };
  enum class AnswerClass : uint8_t { kOk = 2, kClientError = 4, kServerError = 5 };

  // The protocol: parses and handles every complete request of c's unconsumed bytes (Consume
  // what it took), stopping at an incomplete one or once c.closing.
  virtual void Parse(Conn& c) = 0;
  // c's unfinished request is older than request_timeout_ms: answer and set c.closing.
  virtual void OnTimeout(Conn& c) = 0;

  // The bytes of segment s (its received range).
  const char* SegData(const Seg& s) const {
    return reinterpret_cast<const char*>(pool_.BufferData(s.buffer)) + s.offset;
  }
  // The extents of `len` bytes starting `skip` bytes into c's unconsumed data.
  void BodyExtents(const Conn& c, uint64_t skip, uint64_t len, std::vector<Extent>* out) const;
  // Copies up to `want` unconsumed bytes of c (from its front) into c.scratch.
  void GatherFront(Conn& c, size_t want) const;
  void Consume(Conn& c, uint64_t n);

  // Whether a write of a `length`-byte value may be queued now (read-only store, pool reserve).
  // `log_bytes`: the records the command will append (RecordRoom, summed over them). With an index
  // file, when the active stream cannot take them but a whole checkpoint can make the room, the
  // answer is kNeedsRoom: the loop's log-room phase runs, then the command again, so that a
  // command is never refused for a full log that a checkpoint can empty, nor logged in part.
  // Commands ask before they answer or queue anything else.
  WriteOutcome Writable(uint64_t length, uint64_t log_bytes = 0);
  // As Writable, for a command of several writes admitted at once: `buffers` free buffers of the
  // partition it takes (BuffersFor, summed over its writes) above the reserve, and `log_bytes`.
  // Its Puts then pass `admitted`: none of them is refused for buffers or log room, so the command
  // is written whole or refused whole.
  WriteOutcome Admit(uint64_t buffers, uint64_t log_bytes);
  // The free buffers of the partition a write of `length` bytes received in `body_extents`
  // extents takes: the copy's buffers (persist copy), or at most one per extent kept in place
  // (each Keep swaps a free buffer into the receive ring).
  uint64_t BuffersFor(size_t body_extents, uint64_t length) const;
  // The bytes of the record of a put of `key_len` bytes whose `length`-byte value arrived in
  // `body_extents` extents (kept in place) or will be copied (persist copy).
  uint64_t RecordRoom(size_t key_len, size_t body_extents, uint64_t length) const;
  // Queues the write of `key` = `body` (extents within c's unconsumed bytes): kept in place or
  // copied per the persist mode, and logged. Its answer must be queued with AnswerWrite.
  // `admitted`: the command's Admit already took its room (no second check).
  WriteOutcome Put(Conn& c, std::string_view key, std::span<const Extent> body, uint64_t length,
                   bool admitted = false);
  // Queues the write of `key` = `extents`, on whose buffers the caller holds one reference per
  // extent (values this loop built: FreshValue, or a stored value's extents retained); the record
  // takes the references over, also on failure (they are dropped).
  WriteOutcome PutOwned(std::string_view key, Extents extents, uint64_t length);
  // Queues the write of `key` = old's extents followed by `body` (extents within c's unconsumed
  // bytes, kept in place or copied per the persist mode): APPEND without copying either part.
  // The caller holds one reference per extent of `old`; the record takes them over.
  WriteOutcome PutAppend(Conn& c, std::string_view key, Value old, std::span<const Extent> body,
                         uint64_t body_length);
  WriteOutcome Delete(std::string_view key);
  // Whether deletes whose records take `log_bytes` in all (DeleteRoom, summed) may be queued now:
  // the store is writable and the log has the room (kNeedsRoom as Writable). Deletes take no
  // buffers: they go on when the pool is full.
  WriteOutcome Deletable(uint64_t log_bytes);
  static uint64_t DeleteRoom(size_t key_len);
  // Bytes for records in the active log stream, all of them (an empty stream).
  uint64_t log_capacity() const { return stream_->capacity(); }
  // Writes queued in this batch so far, and a visit of them in order (key, deleted).
  size_t pending_writes() const { return pending_n_; }
  void VisitPending(const std::function<void(std::string_view key, bool deleted)>& fn) const;
  // Copies `bytes` into fresh buffers of the loop's partition (one reference per extent held by
  // the caller; flushed by the batch's commit when logged).
  Status FreshValue(std::string_view bytes, Extents* out);
  // The value of `key` as this loop sees it (its batch's own writes first), with one reference
  // per extent taken for the caller. False when absent, or when its bytes fail their checksum
  // (lookup_damaged() then says so: the protocol answers an error, never the bytes).
  bool Lookup(std::string_view key, Value* out);
  bool lookup_damaged() const { return lookup_damaged_; }
  bool Exists(std::string_view key) const;
  void DropRefs(std::span<const Extent> extents);

  // Answers, sent in order after the batch's commit. Text answers are bytes appended to text_
  // since `begin` (AnswerTextSince) or given (AnswerText).
  void AnswerText(ConnId conn, std::string_view bytes, AnswerClass cls, bool close);
  void AnswerTextSince(ConnId conn, size_t begin, AnswerClass cls, bool close);
  // The answer of the write queued last: `ok` once the batch's commit succeeded, `failed` (a
  // server error) when it failed.
  void AnswerWrite(ConnId conn, std::string_view ok, std::string_view failed, bool close);
  // `prefix`, then v's bytes sent straight from the pool buffers (the answer takes over the
  // references of v, as Lookup took them; `with_bytes` false drops them at once), then `suffix`.
  void AnswerValue(ConnId conn, std::string_view prefix, const Value& v, std::string_view suffix,
                   bool close, bool with_bytes = true);

  // Commits the batch and sends its answers; applies its writes.
  void Finish();
  // A command was told kNeedsRoom in this Parse: the protocol returns without consuming it.
  bool room_wanted() const { return room_wanted_; }
  // Backpressure, asked by the protocol before it takes each request of c: true when c's answers
  // not sent yet (queued in the backend, and those of this Parse) reached their bound
  // (kConnTxHigh), or the loop's TX room runs low and c holds a share of it. The protocol then
  // returns with the request unconsumed; the loop parses c again once its answers drained, and
  // stops receiving from it while it waits with kHeldRecvBytes or more unparsed. No answer is
  // dropped and no connection closed for load.
  bool Held(Conn& c);
  static constexpr uint32_t kConnTxHigh = 4096;  // TX entries (net: kMaxTxEntriesPerConn 16384)
  static constexpr uint32_t kConnTxLow = 1024;   // a held connection goes on below this
  static constexpr uint64_t kHeldRecvBytes = 256 * 1024;

  Backend& backend_;
  Pool& pool_;
  const uint32_t partition_;
  Index& index_;
  const StoreOptions options_;
  LoopCounters& counters_;
  LogStream* stream_;   // the active stream
  std::string text_;    // text answers' bytes of this batch
  int64_t now_ms_ = 0;  // steady clock, read once per loop turn

 private:
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
  };
  struct PendingWrite {
    std::string key;
    size_t hash;  // of key
    Value value;  // holds one reference per extent (the record's)
  };

  void OnBatch(std::span<const RxSlot> batch);
  void SweepTimeouts();
  // Appends the record of `key` = v (or a delete) and adds it to the batch; v's references pass
  // to the pending write (dropped when the append fails).
  WriteOutcome Record(std::string_view key, Value v);
  Status KeepInPlace(Conn& c, std::span<const Extent> extents);
  Status CopyToFresh(std::span<const Extent> body, Extents* out);
  const PendingWrite* Pending(std::string_view key) const;
  uint32_t AppendText(std::string_view bytes);
  void Dispose(const Seg& s);
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
  // Backpressure (Held): the held connections; the backend's free TX room when this batch began
  // (or since its last Finish), and what this batch's answers will take of it (estimated high),
  // in all and of the connection being parsed.
  std::vector<ConnId> held_;
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
  std::vector<Action> actions_;
  std::vector<Extent> extents_;        // kValue actions' extents
  std::vector<PendingWrite> pending_;  // this batch's writes: [0, pending_n_); slots kept
  size_t pending_n_ = 0;
  // One bit per hash of this batch's keys, so that a read of a key the batch did not write (most
  // of them) finds that out without scanning the batch's writes.
  static constexpr size_t kPendingFilterWords = 64;
  uint64_t pending_filter_[kPendingFilterWords] = {};
  static size_t FilterWord(size_t hash) { return (hash >> 6) % kPendingFilterWords; }
  std::vector<uint64_t> batch_hashes_;  // the batch's key hashes, for Index::Prefetch
  std::span<PendingWrite> Batch() { return {pending_.data(), pending_n_}; }
  std::span<const PendingWrite> Batch() const { return {pending_.data(), pending_n_}; }
  Extents copy_;  // scratch
  int64_t next_sweep_ms_ = 0;
  int64_t last_write_ms_ = 0;    // the turn of the last append (checkpoint mode)
  int64_t next_idle_ms_ = 0;     // WhenIdle looks again from then on
  bool lookup_damaged_ = false;  // the last Lookup found a value that fails its checksum
};

}  // namespace pastel::store
