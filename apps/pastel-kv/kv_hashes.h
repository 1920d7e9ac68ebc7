#pragma once
// How pastel-kv lays a hash over the store's keys, and the directory of the hashes' fields that the
// loops share (private to the app; the commands are in kv_hashes.cc).
//
// A hash is a header and its fields, each a key of the store (as Kvrocks lays hashes over
// RocksDB), so that a write touches one field's record and no blob is rewritten:
// - the header at the hash's own key: a value of type ValueType::kHash whose 16 bytes are the
//   hash's version and flags (HashHeader), with the hash's expiry time;
// - each field at FieldKey(key, version, field) = FF FF | key length (u16, big endian) | key |
//   version (u64, big endian) | field, whose value is the field's value, kept in the receive
//   buffers it arrived in, as a string's is.
// HSET writes the field's record (and the header when it creates the hash). DEL, a SET over the
// key and expiry replace or remove the header only: the fields of a version that no live header
// names are invisible from then on, and the loops delete them in the background (CollectDead,
// store::Protocol::Background), as Kvrocks' compaction filter drops them. Versions are unique per
// key: a start takes the next one above every version its fields hold. User keys beginning with
// FF FF are refused (kReservedKey).
//
// The directory: per (key, version), the fields the index holds (durable ones: a write joins it
// once applied, Protocol::OnApplied), so HLEN, HKEYS and HGETALL need no scan of the index; a loop
// lays its own writes not yet applied over it (read-your-writes). Built at start from the index's
// keys with the prefix (one ordered run of the index file).
//
// Threads: shared by the loops; every member takes the directory's lock (before the index's).

#include <atomic>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "kv_util.h"
#include "kv_zsets.h"
#include "pastel/store.h"

namespace pastel::kv {

inline constexpr std::string_view kHashPrefix{"\xff\xff", 2};
// The sorted sets' members (kv_zsets.h): field keys of their own namespace, so that the directory
// tells them from a hash's fields by their bytes.
inline constexpr std::string_view kZsetPrefix{"\xff\xfd", 2};
inline constexpr std::string_view kReservedKey =
    "ERR keys beginning with the bytes 0xff 0xff, 0xff 0xfe or 0xff 0xfd are reserved by "
    "pastel-kv (its hashes' fields, lists' items and sorted sets' members)";
// The bytes a field key adds to its hash's key and field name.
inline constexpr size_t kFieldKeyOverhead = 2 + 2 + 8;
// A hash's header: its value's 16 bytes (little endian; docs/formats/kv-hash.md).
struct HashHeader {
  uint64_t version = 0;  // its fields' keys name it
  uint64_t flags = 0;    // kHashBig
};
inline constexpr size_t kHashHeaderBytes = 16;
static_assert(sizeof(HashHeader) == kHashHeaderBytes && offsetof(HashHeader, flags) == 8);
static_assert(std::is_trivially_copyable_v<HashHeader>);
// OBJECT ENCODING says "hashtable": the hash once held more than kListpackEntries fields, or a
// name or value above kListpackValue bytes (redis-server 7.0's listpack limits; it does not
// convert back, and neither does this flag).
inline constexpr uint64_t kHashBig = 1;
inline constexpr size_t kListpackEntries = 512;
inline constexpr size_t kListpackValue = 64;

// FF FF | key length | key | version: every field key of the hash begins with it (FF FD for a
// sorted set's, `type` kZset).
void FieldPrefix(std::string_view key, uint64_t version, std::string* out,
                 ValueType type = ValueType::kHash);
std::string FieldPrefix(std::string_view key, uint64_t version, ValueType type = ValueType::kHash);
// A field key's parts (a hash's or set's, or a sorted set's member); false when `fk` is not one.
bool ParseFieldKey(std::string_view fk, std::string_view* key, uint64_t* version,
                   std::string_view* field);
// The header a hash's (or, with `type` kList, a list's: kv_lists.h) header value holds; false
// when its bytes are not such a header's.
bool ReadHeader(const Pool& pool, const store::Value& v, HashHeader* out,
                ValueType type = ValueType::kHash);
// Whether the header at `key` is a live header of `type` and `version` at `now_ms` (the index's
// view: CollectDead's question).
bool HeaderLive(const store::Store& store, std::string_view key, uint64_t version, int64_t now_ms,
                ValueType type);
// The namespaces of the keys pastel-kv lays its hashes' fields, its lists' items and its sorted
// sets' members in (kHashPrefix, kv_lists.h's kListPrefix, kZsetPrefix): no user key begins with
// any of them.
inline bool InternalKey(std::string_view k) {
  return k.size() >= 2 && static_cast<unsigned char>(k[0]) == 0xff &&
         static_cast<unsigned char>(k[1]) >= 0xfd;
}
inline bool ZsetKey(std::string_view k) {
  return k.starts_with(kZsetPrefix);
}

// A hash's field names: an open-addressed set (linear probing; a slot holds a name's hash and the
// name, inline up to std::string's short size), so that a write's lookup reads one slot where
// std::unordered_set reads a bucket and a node (bench/RESULTS.md, "Hashes"). Not thread safe.
class FieldTable {
 public:
  bool contains(std::string_view name) const { return Find(name, Hash(name)) != kNone; }
  // False when `name` is there already (nothing allocated then).
  bool insert(std::string_view name);
  bool erase(std::string_view name);  // false when absent
  size_t size() const { return size_; }
  bool empty() const { return size_ == 0; }
  // The name in the first used slot from slot `r` on (modulo the slots) that `skip` does not
  // refuse: a random name for a random r (SPOP), or false when there is none.
  bool NameFrom(uint64_t r, const std::function<bool(std::string_view)>& skip,
                std::string_view* out) const;
  size_t capacity() const { return slots_.size(); }
  // Visits every name, in no particular order, until `fn` returns false.
  template <typename Fn>
  void ForEach(Fn&& fn) const {
    for (const Slot& s : slots_) {
      if (s.used && !fn(std::string_view(s.name))) {
        return;
      }
    }
  }

 private:
  struct Slot {
    uint64_t hash = 0;
    bool used = false;
    DirString name;
  };
  using Slots = std::vector<Slot, DirAllocator<Slot>>;  // (the directory's memory)
  static constexpr size_t kNone = ~size_t{0};
  static uint64_t Hash(std::string_view name) { return std::hash<std::string_view>{}(name); }
  size_t Find(std::string_view name, uint64_t hash) const;  // the slot holding it, or kNone
  void Place(Slot&& s);                                     // into a free slot (no check)
  // Into `n` slots (a power of two), every name placed again.
  void Rehash(size_t n);
  // A power of two, or empty; at most half used, and at least an eighth while above 8 slots (an
  // erase halves it below that: a random slot of a set that shrank still finds a name soon).
  Slots slots_;
  size_t size_ = 0;
};

class KvHashes {
 public:
  // (CollectDead's cursor holds any prefix without allocating: it runs on a loop's thread.)
  KvHashes() {
    cursor_.reserve(store::kMaxKeyBytes + kFieldKeyOverhead);
    zcursor_.reserve(store::kMaxKeyBytes + kFieldKeyOverhead);
  }
  // Start: the fields of every hash (the index's live keys with kHashPrefix), and the next version
  // above all of theirs. Once: later calls do nothing.
  void Load(const store::Store& store);
  // Whether there are, or have been since the start, any hashes (a store without them pays no
  // directory work per write).
  bool active() const { return active_.load(std::memory_order_relaxed); }
  // A version for a new hash.
  uint64_t NextVersion();

  // A write of field key `fk` entered the index: its field joins or leaves the directory as
  // `live` says (1 live, 0 gone: the write's own state, exact with one loop), or, with -1, as the
  // index says now (asked under the directory's lock, so that of two loops applying writes of one
  // field, the last to ask leaves the directory as the index is).
  // Returns whether the write was a background delete (CollectDead handed `fk` out).
  bool Applied(const store::Store& store, std::string_view fk, int live);

  // The durable fields of the hash (set, sorted set) whose field keys begin with `prefix`
  // (FieldPrefix), pushed onto *out in no order (each once); their count; whether it has `field`.
  // (A sorted set's members are in its ZIndex, a hash's or set's fields in their FieldTable.)
  void Fields(std::string_view prefix, NameList* out) const;
  size_t Count(std::string_view prefix) const;
  // A random field of the hash (set; not a sorted set) at `prefix` that `skip` does not refuse
  // (the first one from a random slot of its table on); false when there is none.
  bool RandomField(std::string_view prefix, uint64_t seed,
                   const std::function<bool(std::string_view)>& skip, std::string* out) const;
  bool Has(std::string_view prefix, std::string_view field) const;
  // A sorted set's members in score order (prefix: FieldPrefix with kZset), as the index holds
  // them: `fn(const ZIndex&)` runs under the directory's lock (it must not call the directory).
  template <typename Fn>
  void WithZset(std::string_view prefix, Fn&& fn) const {
    static const ZIndex kEmpty;
    std::lock_guard lock(mu_);
    auto it = zsets_.find(prefix);
    fn(it == zsets_.end() ? kEmpty : it->second);
  }

  // The background delete of the fields of hashes that are gone: up to `max` field keys whose
  // version no live header at their key names (deleted, replaced, expired at `now_ms`), not
  // handed out before. A key handed out stays out until its delete is applied, or Release.
  size_t CollectDead(const store::Store& store, int64_t now_ms, size_t max,
                     std::vector<std::string>* out);
  // A key CollectDead handed out whose delete was not queued (no log room): it may be handed out
  // again.
  void Release(std::string_view fk);

 private:
  mutable std::mutex mu_;
  DirMap<FieldTable> dirs_;  // a hash's or set's FieldPrefix -> its fields
  DirMap<ZIndex> zsets_;     // a sorted set's prefix -> its members and their order
  // A sorted set's member key `fk` is in the index with `v`, or not (null): zsets_ follows.
  // Returns whether the member is in the set's order now.
  bool ZsetApplied(const Pool& pool, std::string_view fk, size_t prefix_len, const store::Value* v);
  std::set<std::string, std::less<>> collected_;  // field keys handed out by CollectDead
  std::string cursor_;                            // CollectDead's place in dirs_
  std::string zcursor_;                           // and in zsets_
  // CollectDead over one of the two maps, from *cursor on.
  template <typename Dirs>
  size_t CollectDeadIn(const Dirs& dirs, std::string* cursor, const store::Store& store,
                       int64_t now_ms, size_t max, std::vector<std::string>* out);
  std::atomic<uint64_t> next_version_{1};
  std::atomic<bool> active_{false};
  std::once_flag loaded_;
};

}  // namespace pastel::kv
