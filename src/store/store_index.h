#pragma once
// The store's key index and start-up (private to src/store; its tests, the crash and allocation
// tests, pastelctl and the index benchmark include it by path): the in-memory KeyMap, the Index
// over it and the index file, the index file's encoding of a Value, start-up recovery of a store
// (RecoverStore), opening a server's files (OpenOrCreate, which Store::Open wraps) and the log
// streams of each loop (LoopStreams).
//
// Threads: the Index is shared by every loop (readers take it shared, a loop applying a committed
// batch exclusive); a KeyMap is not thread safe (the Index's locks guard its map).

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
#include <vector>

#include "pastel/index.h"
#include "pastel/log.h"
#include "pastel/pool.h"
#include "pastel/status.h"
#include "pastel/store.h"
#include "store/buffer_map.h"

namespace pastel::store {

// The index file's user words (BTree::Commit): [0] the sequence of the last write the commit
// holds, [1] live keys, [2] live bytes, [3] live keys with an expiry time | kUserCountsSaved (the
// counts as of the commit; files of builds before them have 0 there).
inline constexpr uint64_t kUserCountsSaved = uint64_t{1} << 63;

// Whether `key` is of the application's namespace (kInternalKeysFrom; compared as unsigned bytes).
inline bool IsInternalKey(std::string_view key) {
  return key >= kInternalKeysFrom;
}

static_assert(kMaxKeyBytes == kMaxKeyLen, "the store's key limit is the log record's");
static_assert(kMaxKeyLen <= kBTreeMaxKey, "the index must take every key the log holds");

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
  // With `pool`: then the values of the entries found there (their first extent's line and
  // buffer state, Pool::Prefetch).
  void Prefetch(std::span<const uint64_t> hashes, const Pool* pool = nullptr) const;
  // Adds `key`, which the map must not hold (`hash`: HashOf(key)).
  Entry* InsertNew(std::string_view key, uint64_t hash, Value v);
  Entry* InsertOrAssign(std::string_view key, Value v);
  bool Erase(std::string_view key);  // false when absent
  void Erase(const Entry* e);        // an entry of this map

  // Visits the entries of up to `slots` slots from slot *cursor on (wrapping around at the end),
  // until `fn` returns false, and moves *cursor past the slots looked at: a sweep of the whole map
  // in slices. `fn` must not change the map.
  template <typename Fn>
  void Visit(size_t* cursor, size_t slots, Fn&& fn) const {
    if (slots_.empty()) {
      return;
    }
    size_t i = *cursor & (slots_.size() - 1);
    for (size_t n = 0; n < std::min(slots, slots_.size()); ++n, i = (i + 1) & (slots_.size() - 1)) {
      if (slots_[i].entry != nullptr && !fn(static_cast<const Entry&>(*slots_[i].entry))) {
        i = (i + 1) & (slots_.size() - 1);
        break;
      }
    }
    *cursor = i;
  }
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
  // An expired value is returned as any other (with its expire_ms): the caller compares.
  bool GetAndRetain(std::string_view key, Pool& pool, Value* out, bool* damaged = nullptr) const;
  // Whether `key` holds a live value not expired at `now_ms` (0: expiry times not looked at); an
  // expired one sets *expired to its sequence (when not null).
  bool Contains(std::string_view key, int64_t now_ms = 0, uint64_t* expired = nullptr) const;

  // Installs `v` for `key` unless the present entry has a higher sequence. Returns the value that
  // lost (the old one, or `v` itself when it was older), whose references the caller drops.
  // `only_if` (a kExpire's target): installs `v` only while the entry in force is the live value
  // of that sequence (else `v` loses), and then as a tombstone of sequence `only_if`, not of its
  // own: in sequence order, which recovery follows, a kExpire removes nothing once another write
  // of the key comes between its target and it, and such a write (another loop's, still being
  // committed) may be applied after the kExpire. It then wins here too.
  Value Apply(std::string_view key, Value v, uint64_t only_if = 0);
  // Before a batch of Applies: prefetches the map's slots and entries of these key hashes
  // (KeyMap::HashOf).
  void Prefetch(std::span<const uint64_t> hashes) const;
  // As Prefetch, and then, for the keys found in memory, the first line of their values' first
  // extents and those buffers' state words (Pool::Prefetch): what a read that retains them touches.
  void PrefetchValues(std::span<const uint64_t> hashes, const Pool& pool) const;

  // Visits every live key (not tombstones) beginning with `prefix` under the shared locks, in no
  // particular order, until `fn` returns false. `fn` must not call back into the index. With a
  // prefix, the index file is read from the prefix on only (its keys are in order).
  void ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn,
                   std::string_view prefix = {}) const;

  // Start-up: the recovered live set (references already taken by recovery).
  void Load(const LiveMap& live);
  // Start-up, before any loop runs: one entry of the map, live or a tombstone (references already
  // taken); `v.unsaved` when the tree does not hold it yet.
  void LoadEntry(std::string_view key, Value v);
  // Start-up: room in the map for `n` more entries (LoadEntry then never rehashes).
  void Reserve(size_t n);

  // Start-up, before any loop runs: entries not in the map are read from `tree` (which outlives
  // the index), whose live keys and bytes are `tree_live_keys` and `tree_live_bytes` (those the
  // map does not shadow). `checkpoints`: changes are noted for Checkpoint (else the map keeps
  // them: nothing will be logged). `keep_tombstones`: a delete is written to the tree as a
  // tombstone (several loops: another loop's stream may still hold an older write of the key);
  // else it erases the key.
  // (`tree_internal_keys`: of `tree_live_keys`, those from kInternalKeysFrom on.)
  void AttachTree(BTree* tree, bool checkpoints, bool keep_tombstones, uint64_t tree_live_keys,
                  uint64_t tree_internal_keys, uint64_t tree_live_bytes);
  bool checkpoints() const { return tree_ != nullptr && checkpoints_; }
  // The index file's pages (superblock included) and those in use, as of its last commit; 0 and
  // 0 without an index file.
  uint64_t tree_pages() const { return tree_pages_.load(std::memory_order_relaxed); }
  uint64_t tree_pages_in_use() const { return tree_pages_in_use_.load(std::memory_order_relaxed); }

  // Tombstones in the tree (several loops) are erased by a later checkpoint, once no log stream
  // can hold an older write of their key: every stream's horizon has reached their sequence.
  // Start-up, before any loop runs: the log has `streams` streams, each with horizon 0.
  void TrackStreams(uint32_t streams);
  // Stream `stream` holds, and will hold, no record of a sequence at or below `sequence` (its
  // owner truncated it at `sequence`, or it is empty and `sequence` was handed out already).
  // Horizons only grow; any thread may call it.
  void SetStreamHorizon(uint32_t stream, uint64_t sequence);
  // Start-up: a tombstone of `key` with `sequence` in the tree (before any loop runs, or by
  // the warm-up before it ends).
  void NoteTreeTombstone(std::string key, uint64_t sequence);

  // Start-up, before any loop runs: each commit of a checkpoint also saves which of `pool`'s
  // buffers the committed tree may name (into `map`, first) and the index's live counts (into
  // the tree's user words: kUserWords), for a start that serves before it has read the tree.
  void AttachBufferMap(BufferMap* map, const Pool* pool);

  // The warm-up of a start that serves before it has read the tree (RecoverStoreFast): the
  // tree's live keys, bytes and keys with an expiry time that no log record replaced are taken
  // as the last commit counted them (`keys`, `bytes`, `expiring`), and no checkpoint runs until
  // FinishWarmUp. Start-up, before any loop runs (after AttachTree).
  // (`internal`: of `keys`, those from kInternalKeysFrom on, counted in the tree at the start.)
  void BeginWarmUp(uint64_t keys, uint64_t internal, uint64_t bytes, uint64_t expiring);
  // What the warm-up's scan of the tree found (the entries no log record replaced).
  struct WarmUp {
    uint64_t keys = 0;      // live values
    uint64_t internal = 0;  // of those, keys from kInternalKeysFrom on
    uint64_t bytes = 0;
    // Live values with an expiry time: into the map (saved) unless a write since the start
    // already put the key there; counted in `keys` too.
    std::vector<std::pair<std::string, Value>> expiring;
    std::vector<std::pair<std::string, uint64_t>> tombstones;
  };
  // Any thread: the counts are corrected to what the scan found, the expiring values loaded,
  // the tombstones noted, and checkpoints allowed again.
  void FinishWarmUp(WarmUp w);
  // Any thread: the warm-up found the tree damaged; checkpoints never run again (the store is
  // read-only: the caller says why).
  void FailWarmUp();
  // Whether checkpoints may run (no warm-up in progress, and none failed).
  bool warm() const { return warm_.load(std::memory_order_acquire) == kWarmDone; }
  // Blocks while a warm-up runs; then warm().
  bool WaitWarm() const;
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
  uint64_t live_user_keys() const;  // live_keys less those from kInternalKeysFrom on
  uint64_t live_bytes() const;

  // Live values with an expiry time (all of them are in the map: a checkpoint keeps them there,
  // and a start loads them from the tree).
  uint64_t expiring_keys() const;
  // Looks at up to `slots` slots of the map from *cursor on (moved past them) and calls `fn` with
  // the key and value of each live entry, until it returns false. Returns the entries looked at.
  // `fn` must not call back into the index. (The packer's scan: StoreLoop::Pack.)
  size_t VisitLive(size_t* cursor, size_t slots,
                   const std::function<bool(std::string_view key, const Value& v)>& fn) const;
  // The expiry cycle's sweep: looks at up to `slots` slots of the map from *cursor on (moved past
  // them) and calls `fn` with the key and sequence of each live value expired at `now_ms`, until
  // it returns false. Returns the entries looked at (0 at once when no value has an expiry time).
  // `fn` must not call back into the index.
  size_t CollectExpired(
      int64_t now_ms, size_t* cursor, size_t slots,
      const std::function<bool(std::string_view key, uint64_t sequence)>& fn) const;

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
  uint64_t internal_keys_ = 0;  // of live_keys_, those from kInternalKeysFrom on
  uint64_t live_bytes_ = 0;
  uint64_t expiring_ = 0;    // live values with an expiry time
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
  // BeginWarmUp .. FinishWarmUp: kWarming; waiters use warm_.wait.
  static constexpr uint8_t kWarmDone = 0, kWarming = 1, kWarmFailed = 2;
  std::atomic<uint8_t> warm_{kWarmDone};
  uint64_t warm_keys_ = 0;  // BeginWarmUp's counts, corrected by FinishWarmUp
  uint64_t warm_internal_ = 0;
  uint64_t warm_bytes_ = 0;
  uint64_t warm_expiring_ = 0;
  BufferMap* buffer_map_ = nullptr;  // AttachBufferMap
  const Pool* map_pool_ = nullptr;
  std::vector<uint64_t> map_bits_;  // a commit's Pool::RetainedBits (under checkpoint_mu_)
  // The index file's pages and those in use at its last commit (tree_pages, for INFO).
  std::atomic<uint64_t> tree_pages_{0};
  std::atomic<uint64_t> tree_pages_in_use_{0};
  void NoteTreeSpace();  // at attach and after each commit (its writer holds the tree)
  BTree* tree_ = nullptr;
  bool checkpoints_ = false;
  bool keep_tombstones_ = false;
  // A slice's entries, encoded under mu_ and written under tree_mu_. From taking them to its
  // last look at them a slice holds checkpoint_mu_ and tree_mu_ exclusive: Apply and readers
  // wait, so the entries stay where they are, unchanged.
  struct Staged {
    KeyMap::Entry* entry;  // its key, and its value as encoded below
    std::string bytes;     // encoded Value; empty: erase the key
    // 16 bytes of the key as two big-endian words (zeros past its end), from the first byte in
    // which the slice's keys differ (index.cc, CommonPrefix): a slice is sorted by key (so that
    // the tree takes each leaf's keys at once, BTree::PutSorted) mostly without reaching the keys
    // themselves.
    uint64_t prefix[2];
  };
  std::vector<Staged> staged_;
  std::vector<BTree::KeyValue> run_;  // a sorted run of the slice's puts
  // The first slice of a checkpoint sorts unsaved_ (descending: slices take from its back), so
  // that each slice's keys are a narrow range of the tree and share leaves; notes taken during
  // the checkpoint are pushed after it, unsorted. (Under checkpoint_mu_.)
  bool unsaved_sorted_ = false;
  struct SortKey {
    uint64_t prefix[2];  // (as Staged's, from the first byte in which unsaved_'s keys differ)
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

// One pass over the tree's leaves (RecoverStore's, and the warm-up's): every entry that no log
// record replaced (`replaced` false; asked once for each entry, in key order) has the buffers of
// its extents retained, and is counted in *out. `must_hold` (the warm-up's): each of those buffers
// must be marked there (else kCorruption: the buffer map did not cover it, and a buffer may have
// been handed out). `stop`: the scan gives up (kBusy) once it is set.
struct TreeScan {
  uint64_t entries = 0;        // entries the tree holds
  uint64_t live = 0;           // live values not replaced (expiring ones included)
  uint64_t live_internal = 0;  // of those, keys from kInternalKeysFrom on
  uint64_t live_bytes = 0;     // their bytes
  std::vector<std::pair<std::string, Value>> expiring;       // of those, with an expiry
  std::vector<std::pair<std::string, uint64_t>> tombstones;  // not replaced
};
Status ScanTree(Pool& pool, const BTree& tree,
                const std::function<bool(std::string_view key)>& replaced,
                std::span<const uint64_t> must_hold, const std::atomic<bool>* stop, TreeScan* out);

// A start that serves before it has read the whole index file (docs/store.md, "A start that does
// not grow with the store"): RecoverStoreFast replays the log's tail over the tree as
// RecoverStore does, but reads from the tree only the entries of the keys the tail names. The
// rest (verifying the tree, counting its buffer references, loading its values with an expiry
// time and its tombstones) is RunWarmUp's, on another thread, while the loops serve: until it
// ends, every buffer the last commit's buffer map names is held kWarmHold times over (never
// handed out, never freed by a write that replaces a tree value), and no checkpoint runs.
inline constexpr uint32_t kWarmHold = 1u << 20;  // more than a buffer's extents can ever be
struct WarmStart {
  std::vector<uint64_t> bits;  // the buffer map of the tree's epoch (held)
  // Keys the log's tail wrote or deleted, sorted: the warm-up's scan, in the tree's key order,
  // walks them alongside (one comparison per entry, not a hash lookup).
  std::vector<std::string> replaced;
};
// `bits`: BufferMap::Bits of the tree's epoch (not empty); the tree attached with
// BTree::Check::kLater and its counts saved (kUserCountsSaved). Fills *warm for RunWarmUp.
Result<StoreRecovery> RecoverStoreFast(Pool& pool, Log& log, BTree& tree, Index& index,
                                       std::span<const uint64_t> bits, WarmStart* warm);
// Verifies the tree, counts its references and ends the index's warm-up (Index::FinishWarmUp).
// An error leaves the holds in place and the warm-up unfinished (the caller fails it).
// `entries`, when given: the entries the index file held, counted before the index is warm (after
// that the loops' checkpoints change the tree, and only they may read it).
Status RunWarmUp(Pool& pool, BTree& tree, Index& index, const WarmStart& warm,
                 const std::atomic<bool>* stop, uint64_t* entries = nullptr);

// A server's files opened and recovered (or created), as Store::Open assembles them.
struct OpenedStore {
  std::unique_ptr<Pool> pool;
  std::unique_ptr<Log> log;
  std::unique_ptr<BTree> tree;
  std::unique_ptr<BufferMap> buffer_map;  // with checkpoints
  std::unique_ptr<WarmStart> warm;        // RecoverStoreFast's: the warm-up is still to run
  std::unique_ptr<Index> index;           // recovered
  StoreRecovery recovered;                // empty when created
  bool created = false;
  double open_ms = 0;  // opening and recovery
};
// Errors name the step that failed ("open log: ...", "recover POOL: ..."); a log with fewer
// streams than loops is kInvalidArgument (start with fewer loops).
// A start with a buffer map of the tree's commit takes RecoverStoreFast; its warm-up runs before
// OpenOrCreate returns, or, with `keep_warm_up`, is left in `warm` for the caller (Store::Open
// runs it on a thread).
Result<OpenedStore> OpenOrCreate(const StoreFiles& files, bool keep_warm_up = false);

// The log streams of loop `loop` of `loops` over a log of `stream_count` (>= loops) streams: every
// loops-th stream from `loop` on. A new pool has one stream per loop; a pool from before that has
// two per loop, and a pool may be opened with fewer loops than it was created for: every stream
// has one owner, which truncates it at its checkpoints.
std::vector<uint32_t> LoopStreams(uint32_t stream_count, uint32_t loops, uint32_t loop);
}  // namespace pastel::store
