#pragma once
// How pastel-kv lays a list over the store's keys, and the directory of the lists that the loops
// share (private to the app; the commands are in kv_lists.cc, the layout's spec in
// docs/formats/kv-list.md).
//
// A list is a header and its items, each a key of the store (as hashes, kv_hashes.h), so that a
// push writes one record and a pop one delete, and no blob is rewritten:
// - the header at the list's own key: a value of type ValueType::kList whose 16 bytes are the
//   list's version and flags (0), with the list's expiry time;
// - each item at ItemKey(key, version, position) = FF FE | key length (u16, big endian) | key |
//   version (u64, big endian) | position (u64, big endian), whose value is the item, kept in the
//   receive buffers it arrived in. The positions of a list's items are consecutive: [head, tail)
//   in list order. A new list starts at kListMiddle; LPUSH takes head - 1, RPUSH tail, a pop
//   deletes the item at an end, and LINSERT, LREM and LTRIM move items (their records, not their
//   bytes) so that the positions stay consecutive, in one batch.
// A push that creates the list writes its header in the same batch; the pop that empties it
// deletes the header. DEL, a SET over the key and expiry replace or remove the header only: the
// items of a version that no live header names are invisible from then on, and the loops delete
// them in the background (CollectDead), as they do a hash's fields. User keys beginning with
// FF FE are refused (kReservedKey).
//
// The directory: per list key, its version, the range of positions the index holds (`applied`,
// following each batch as it is applied) and the range as the loop writing it sees it (`view`:
// its writes not applied yet included). One loop at a time writes a list: the first write takes
// it (`owner`) and it is let go when that loop's writes of it are all applied; a write of another
// loop meanwhile waits (its connection is parked, store::Batch::Park, and woken at a later turn).
// So pops of one list are never run by two loops on the same item, and every loop reads either
// what it wrote or what is durable.
//
// Threads: shared by the loops; every member takes the directory's lock (before the index's).

#include <atomic>
#include <cstdint>
#include <map>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/store.h"

namespace pastel::kv {

inline constexpr std::string_view kListPrefix{"\xff\xfe", 2};
// The bytes an item key adds to its list's key.
inline constexpr size_t kItemKeyOverhead = 2 + 2 + 8 + 8;
inline constexpr uint64_t kListMiddle = uint64_t{1} << 63;
// redis-server 7.0's list-max-listpack-size: OBJECT ENCODING says "quicklist" for every list.
inline constexpr std::string_view kListEncoding = "quicklist";

// Positions [head, tail) of a list's items; empty when equal.
struct ListRange {
  uint64_t head = kListMiddle;
  uint64_t tail = kListMiddle;
  uint64_t size() const { return tail - head; }
  bool empty() const { return head == tail; }
  bool operator==(const ListRange&) const = default;
};

// FF FE | key length | key | version: every item key of the list begins with it.
void ItemPrefix(std::string_view key, uint64_t version, std::string* out);
// prefix + position, in *out.
void ItemKey(std::string_view prefix, uint64_t position, std::string* out);
// An item key's parts; false when `ik` is not one.
bool ParseItemKey(std::string_view ik, std::string_view* key, uint64_t* version,
                  uint64_t* position);

class KvLists {
 public:
  // (CollectDead's cursor holds any list's key without allocating: it runs on a loop's thread.)
  KvLists() { cursor_.reserve(store::kMaxKeyBytes); }
  // Start: the items of every list (the index's live keys with kListPrefix), their ranges, and
  // the next version above all of theirs. Once: later calls do nothing.
  void Load(const store::Store& store);
  // Whether there are, or have been since the start, any lists.
  bool active() const { return active_.load(std::memory_order_relaxed); }
  uint64_t NextVersion();

  // The range of the list `key` of `version` as loop `loop` sees it: its own view when it is the
  // list's writer, else the applied range (empty when the directory has no such list).
  ListRange Range(std::string_view key, uint64_t version, uint32_t loop) const;
  // For a write by `loop`: its range (as Range), or false when another loop is writing the list
  // (the caller waits). From then `loop` is the list's writer, until Wrote. Taking a list that
  // the directory holds at another version (one that is gone) leaves that version's items to
  // CollectDead.
  bool Claim(std::string_view key, uint64_t version, uint32_t loop, ListRange* out);
  // After every Claim: `loop` queued `writes` item writes of the list, which leave it at `range`
  // (it stays the list's writer until they are applied); with none, the claim ends.
  void Wrote(std::string_view key, uint64_t version, uint32_t loop, ListRange range,
             uint32_t writes);
  // A write of item key `ik` by `loop` entered the index (`deleted`: a delete). Returns whether
  // it was a background delete (CollectDead handed it out).
  bool Applied(std::string_view ik, bool deleted, uint32_t loop);
  // An EXEC's group was dropped: its writes of the list (`writes`, which had left `before`) will
  // never be applied.
  void Undo(std::string_view key, uint64_t version, uint32_t loop, ListRange before,
            uint32_t writes);
  // Whether another loop than `loop` is writing the list at `key` now.
  bool Busy(std::string_view key, uint32_t loop) const;
  // Whether the list at `key` has items in the index and no other loop than `loop` writes it
  // (a blocked client of `loop` may pop).
  bool Filled(std::string_view key, uint32_t loop) const;
  // Item keys in the index, of lists alive or gone (the directory's count; DBSIZE asks the
  // store: Store::live_user_keys).
  uint64_t total_items() const { return total_.load(std::memory_order_relaxed); }

  // The background delete of the items of lists that are gone: up to `max` item keys whose
  // version no live header at their key names (deleted, replaced, expired at `now_ms`), not
  // handed out before. A key handed out stays out until its delete is applied, or Release.
  size_t CollectDead(const store::Store& store, int64_t now_ms, size_t max,
                     std::vector<std::string>* out);
  void Release(std::string_view ik);

  // Clients blocked in BLPOP and the like, over every loop (INFO's blocked_clients).
  std::atomic<int64_t>& blocked() { return blocked_; }

 private:
  struct Entry {
    uint64_t version = 0;
    ListRange applied;     // what the index holds
    ListRange view;        // with the writer's writes not applied yet
    int64_t owner = -1;    // the loop writing it (-1: none)
    uint64_t pending = 0;  // the writer's item writes not applied yet
    // CollectDead handed out the items [applied.head, collected) of a gone list (0: none yet;
    // it starts once the list's last writes were applied).
    uint64_t collected = 0;
    bool dead = false;
  };
  Entry* Find(std::string_view key, uint64_t version);  // live or gone
  mutable std::mutex mu_;
  std::map<std::string, Entry, std::less<>> lists_;  // by key: its newest version
  std::vector<std::pair<std::string, Entry>> gone_;  // older versions with items left
  std::string cursor_;                               // CollectDead's place in lists_
  std::atomic<uint64_t> total_{0};
  std::atomic<uint64_t> next_version_{1};
  std::atomic<bool> active_{false};
  std::atomic<int64_t> blocked_{0};
  std::once_flag loaded_;
};

}  // namespace pastel::kv
