#include <algorithm>
#include <cstring>
#include <functional>
#include <mutex>

#include "buffer_map.h"
#include "pastel/crc32c.h"
#include "store_index.h"

namespace pastel::store {

namespace {

constexpr size_t kIndexValueHeader = 24;
constexpr size_t kIndexExtentBytes = 12;
constexpr uint8_t kIndexTombstone = 1;
constexpr uint8_t kIndexExpires = 2;  // an 8-byte expiry time follows the header
constexpr size_t kIndexExpiryBytes = 8;

}  // namespace

void EncodeIndexValue(const Value& v, std::string* out) {
  const bool expires = !v.deleted && v.expire_ms != 0;
  const size_t header = kIndexValueHeader + (expires ? kIndexExpiryBytes : 0);
  out->resize(header + kIndexExtentBytes * v.extents.size());
  char* p = out->data();
  std::memset(p, 0, kIndexValueHeader);
  std::memcpy(p, &v.sequence, 8);
  std::memcpy(p + 8, &v.length, 4);
  std::memcpy(p + 12, &v.data_crc, 4);
  p[16] = static_cast<char>((v.deleted ? kIndexTombstone : 0) | (expires ? kIndexExpires : 0));
  p[17] = static_cast<char>(v.deleted ? 0 : static_cast<uint8_t>(v.type));
  if (expires) {
    std::memcpy(p + kIndexValueHeader, &v.expire_ms, 8);
  }
  p += header;
  for (const Extent& e : v.extents) {
    std::memcpy(p, &e.buffer, 4);
    std::memcpy(p + 4, &e.offset, 4);
    std::memcpy(p + 8, &e.length, 4);
    p += kIndexExtentBytes;
  }
}

bool DecodeIndexValue(std::string_view bytes, Value* out) {
  if (bytes.size() < kIndexValueHeader) {
    return false;
  }
  const char* p = bytes.data();
  std::memcpy(&out->sequence, p, 8);
  std::memcpy(&out->length, p + 8, 4);
  std::memcpy(&out->data_crc, p + 12, 4);
  const uint8_t flags = static_cast<uint8_t>(p[16]);
  if ((flags & ~(kIndexTombstone | kIndexExpires)) != 0 ||
      flags == (kIndexTombstone | kIndexExpires) || out->sequence == 0) {
    return false;
  }
  const uint8_t type = static_cast<uint8_t>(p[17]);
  if (type > kMaxValueType || (type != 0 && (flags & kIndexTombstone) != 0)) {
    return false;
  }
  out->type = static_cast<ValueType>(type);
  for (size_t i = 18; i < kIndexValueHeader; ++i) {
    if (p[i] != 0) {
      return false;
    }
  }
  const size_t header = kIndexValueHeader + ((flags & kIndexExpires) != 0 ? kIndexExpiryBytes : 0);
  if (bytes.size() < header || (bytes.size() - header) % kIndexExtentBytes != 0) {
    return false;
  }
  out->expire_ms = 0;
  if ((flags & kIndexExpires) != 0) {
    std::memcpy(&out->expire_ms, p + kIndexValueHeader, 8);
    if (out->expire_ms < 1) {
      return false;
    }
  }
  out->deleted = (flags & kIndexTombstone) != 0;
  out->unsaved = false;
  const size_t n = (bytes.size() - header) / kIndexExtentBytes;
  out->extents.resize(n);
  uint64_t sum = 0;
  p += header;
  for (size_t i = 0; i < n; ++i, p += kIndexExtentBytes) {
    std::memcpy(&out->extents[i].buffer, p, 4);
    std::memcpy(&out->extents[i].offset, p + 4, 4);
    std::memcpy(&out->extents[i].length, p + 8, 4);
    sum += out->extents[i].length;
  }
  return out->deleted ? n == 0 && out->length == 0 : sum == out->length;
}

uint32_t ValueCrc(const Pool& pool, std::span<const Extent> extents) {
  uint32_t crc = 0;
  for (const Extent& e : extents) {
    crc = Crc32cExtend(crc, pool.BufferData(e.buffer) + e.offset, e.length);
  }
  return crc;
}

const Value* Index::Find(std::string_view key, Value* scratch) const {
  if (KeyMap::Entry* e = map_.Find(key)) {
    return &e->value;
  }
  return FindInTree(key, scratch);
}

const Value* Index::FindInTree(std::string_view key, Value* scratch) const {
  if (tree_ == nullptr) {
    return nullptr;
  }
  thread_local std::string bytes;
  // An entry that does not decode was refused at start (RecoverStore); the tree changes only
  // through Checkpoint, which writes encoded Values.
  if (!tree_->Get(key, &bytes) || !DecodeIndexValue(bytes, scratch)) {
    return nullptr;
  }
  return scratch;
}

bool Index::GetAndRetain(std::string_view key, Pool& pool, Value* out, bool* damaged) const {
  std::shared_lock tl(tree_mu_);
  std::shared_lock lock(mu_);
  const Value* v = Find(key, out);
  if (v == nullptr || v->deleted) {
    return false;
  }
  if (v == out && ValueCrc(pool, v->extents) != v->data_crc) {
    // Read from the index file: its bytes were checked when their record was replayed, not since
    // (a start does not read every value); a value that fails here was damaged in the pool file.
    if (damaged != nullptr) {
      *damaged = true;
    }
    return false;
  }
  for (const Extent& e : v->extents) {
    // Invariant: a live entry holds a reference on each of its buffers, so this cannot fail.
    Status st = pool.Retain(e.buffer);
    (void)st;
  }
  if (v != out) {
    out->sequence = v->sequence;
    out->length = v->length;
    out->data_crc = v->data_crc;
    out->expire_ms = v->expire_ms;
    out->type = v->type;
    out->extents.assign(v->extents.begin(), v->extents.end());
  }
  out->deleted = false;
  out->unsaved = false;
  return true;
}

bool Index::Contains(std::string_view key, int64_t now_ms, uint64_t* expired) const {
  std::shared_lock tl(tree_mu_);
  std::shared_lock lock(mu_);
  thread_local Value scratch;
  const Value* v = Find(key, &scratch);
  if (v == nullptr || v->deleted) {
    return false;
  }
  if (v->ExpiredAt(now_ms)) {
    if (expired != nullptr) {
      *expired = v->sequence;
    }
    return false;
  }
  return true;
}

void Index::Prefetch(std::span<const uint64_t> hashes) const {
  std::shared_lock lock(mu_);
  map_.Prefetch(hashes);
}

void Index::PrefetchValues(std::span<const uint64_t> hashes, const Pool& pool) const {
  std::shared_lock lock(mu_);
  map_.Prefetch(hashes, &pool);
}

Value Index::Apply(std::string_view key, Value v, uint64_t only_if) {
  std::shared_lock tl(tree_mu_);
  std::unique_lock lock(mu_);
  v.unsaved = checkpoints();
  const uint64_t hash = KeyMap::HashOf(key);
  KeyMap::Entry* e = map_.Find(key, hash);
  Value from_tree;
  const bool in_map = e != nullptr;
  const Value* found = in_map ? &e->value : FindInTree(key, &from_tree);
  if (only_if != 0) {
    if (found == nullptr || found->deleted || found->sequence != only_if) {
      v.unsaved = false;
      return v;  // the write it was to remove is no longer in force: nothing changes
    }
    // The tombstone stands where the expired write stood in sequence order: a write of the key
    // with a sequence between the two, applied later (another loop's group commit was slower),
    // replaces it, as it outlives the kExpire at a restart (the log's recovery finds it in
    // force at the kExpire's sequence, which then removes nothing). Written to the index file
    // (several loops), the tombstone hides only the writes that the kExpire removed: a stream's
    // records up to that sequence.
    v.sequence = only_if;
  }
  const bool internal = IsInternalKey(key);
  if (found == nullptr) {
    if (!v.deleted) {
      ++live_keys_;
      internal_keys_ += internal ? 1 : 0;
      live_bytes_ += v.length;
      expiring_ += v.expire_ms != 0 ? 1 : 0;
    }
    const bool note = v.unsaved;
    KeyMap::Entry* added = map_.InsertNew(key, hash, std::move(v));
    if (note) {
      Note(added);
    }
    return Value{};
  }
  Value& cur = in_map ? e->value : from_tree;
  if (cur.sequence > v.sequence) {
    v.unsaved = false;
    return v;  // a later write of this key is already in place
  }
  live_keys_ += (v.deleted ? 0 : 1) - (cur.deleted ? 0 : 1);
  if (internal) {
    internal_keys_ += (v.deleted ? 0 : 1) - (cur.deleted ? 0 : 1);
  }
  live_bytes_ += (v.deleted ? 0 : v.length);
  live_bytes_ -= (cur.deleted ? 0 : cur.length);
  expiring_ +=
      (v.deleted || v.expire_ms == 0 ? 0 : 1) - (cur.deleted || cur.expire_ms == 0 ? 0 : 1);
  const bool note = v.unsaved && !cur.unsaved;
  if (!in_map) {
    // The tree's entry loses; it stays there, shadowed by the map's, until a checkpoint.
    e = map_.InsertNew(key, hash, std::move(v));
    v = std::move(from_tree);
  } else {
    std::swap(cur, v);
  }
  if (note) {
    Note(e);
  }
  return v;
}

void Index::ForEachLive(const std::function<bool(std::string_view key, const Value& v)>& fn,
                        std::string_view prefix) const {
  std::shared_lock tl(tree_mu_);
  std::shared_lock lock(mu_);
  bool stopped = false;
  map_.ForEach([&](const KeyMap::Entry& e) {
    stopped = !e.value.deleted && e.key().starts_with(prefix) && !fn(e.key(), e.value);
    return !stopped;
  });
  if (stopped || tree_ == nullptr) {
    return;
  }
  Value v;
  // The tree is in key order: the keys with the prefix are one run from the prefix on. (Passed
  // by reference: a std::function of this lambda's captures would allocate, a visit per call.)
  auto visit = [&](std::string_view k, std::string_view bytes) {
    if (!k.starts_with(prefix)) {
      return false;
    }
    if (map_.Find(k) != nullptr || !DecodeIndexValue(bytes, &v) || v.deleted) {
      return true;  // shadowed by the map's entry (visited above), or not live
    }
    return fn(k, v);
  };
  tree_->Scan(prefix, std::ref(visit));
}

void Index::Load(const LiveMap& live) {
  std::unique_lock lock(mu_);
  unsaved_.clear();
  map_.clear();
  map_.reserve(live.size());
  live_keys_ = 0;
  internal_keys_ = 0;
  live_bytes_ = 0;
  expiring_ = 0;
  for (const auto& [k, lv] : live) {
    Value v;
    v.sequence = lv.sequence;
    v.length = lv.value_len;
    v.data_crc = lv.data_crc;
    v.expire_ms = lv.expire_ms;
    v.type = lv.value_type;
    v.extents = lv.extents;
    map_.InsertOrAssign(k, std::move(v));
    ++live_keys_;
    internal_keys_ += IsInternalKey(k) ? 1 : 0;
    live_bytes_ += lv.value_len;
    expiring_ += lv.expire_ms != 0 ? 1 : 0;
  }
}

void Index::Reserve(size_t n) {
  std::unique_lock lock(mu_);
  map_.reserve(map_.size() + n);
}

void Index::LoadEntry(std::string_view key, Value v) {
  std::unique_lock lock(mu_);
  if (!v.deleted) {
    ++live_keys_;
    internal_keys_ += IsInternalKey(key) ? 1 : 0;
    live_bytes_ += v.length;
    expiring_ += v.expire_ms != 0 ? 1 : 0;
  }
  // An entry is in unsaved_ exactly when it is unsaved (a second load of a key stays noted).
  const KeyMap::Entry* old = map_.Find(key);
  const bool noted = old != nullptr && old->value.unsaved;
  v.unsaved = v.unsaved || noted;
  const bool note = v.unsaved && !noted;
  KeyMap::Entry* e = map_.InsertOrAssign(key, std::move(v));
  if (note) {
    Note(e);
  }
}

void Index::AttachTree(BTree* tree, bool checkpoints, bool keep_tombstones, uint64_t tree_live_keys,
                       uint64_t tree_internal_keys, uint64_t tree_live_bytes) {
  std::unique_lock tl(tree_mu_);
  std::unique_lock lock(mu_);
  tree_ = tree;
  checkpoints_ = checkpoints;
  keep_tombstones_ = keep_tombstones;
  live_keys_ += tree_live_keys;
  internal_keys_ += tree_internal_keys;
  live_bytes_ += tree_live_bytes;
  NoteTreeSpace();
}

void Index::NoteTreeSpace() {
  if (tree_ != nullptr) {
    const BTreeStats st = tree_->Stats();  // just attached or committed: no dirty pages to count
    tree_pages_.store(st.pages, std::memory_order_relaxed);
    tree_pages_in_use_.store(st.pages_in_use, std::memory_order_relaxed);
  }
}

void Index::TrackStreams(uint32_t streams) {
  horizons_ = std::make_unique<std::atomic<uint64_t>[]>(streams);
  horizon_count_ = streams;
}

void Index::SetStreamHorizon(uint32_t stream, uint64_t sequence) {
  if (stream >= horizon_count_) {
    return;
  }
  uint64_t cur = horizons_[stream].load(std::memory_order_relaxed);
  // Release: pairs with the acquire load in EraseTombstones (the truncation is durable first).
  while (cur < sequence &&
         !horizons_[stream].compare_exchange_weak(cur, sequence, std::memory_order_release,
                                                  std::memory_order_relaxed)) {
  }
}

void Index::NoteTreeTombstone(std::string key, uint64_t sequence) {
  std::lock_guard cl(checkpoint_mu_);
  tombstones_.emplace(sequence, std::move(key));
  TombstonesChanged();
}

void Index::AttachBufferMap(BufferMap* map, const Pool* pool) {
  std::lock_guard cl(checkpoint_mu_);
  buffer_map_ = map;
  map_pool_ = pool;
}

void Index::BeginWarmUp(uint64_t keys, uint64_t internal, uint64_t bytes, uint64_t expiring) {
  std::unique_lock tl(tree_mu_);
  std::unique_lock lock(mu_);
  warm_keys_ = keys;
  warm_internal_ = internal;
  internal_keys_ += internal;
  warm_bytes_ = bytes;
  warm_expiring_ = expiring;
  live_keys_ += keys;
  live_bytes_ += bytes;
  expiring_ += expiring;
  warm_.store(kWarming, std::memory_order_release);
}

void Index::FinishWarmUp(WarmUp w) {
  std::lock_guard cl(checkpoint_mu_);
  {
    std::unique_lock tl(tree_mu_);
    std::unique_lock lock(mu_);
    // Writes since the start counted the tree's values they replaced against the counts taken
    // from the last commit; the scan's are the same entries counted one by one (equal unless
    // the commit's words were wrong), so only the difference is added.
    live_keys_ += w.keys - warm_keys_;
    internal_keys_ += w.internal - warm_internal_;
    live_bytes_ += w.bytes - warm_bytes_;
    expiring_ += w.expiring.size() - warm_expiring_;
    for (auto& [key, v] : w.expiring) {
      if (map_.Find(key) == nullptr) {
        v.unsaved = false;  // the tree holds it
        map_.InsertOrAssign(key, std::move(v));
      }
    }
    NoteTreeSpace();  // the pages in use are known now (BTree::FinishVerify)
  }
  for (auto& [key, seq] : w.tombstones) {
    tombstones_.emplace(seq, std::move(key));
  }
  TombstonesChanged();
  warm_.store(kWarmDone, std::memory_order_release);
  warm_.notify_all();
}

void Index::FailWarmUp() {
  warm_.store(kWarmFailed, std::memory_order_release);
  warm_.notify_all();
}

bool Index::WaitWarm() const {
  warm_.wait(kWarming, std::memory_order_acquire);
  return warm();
}

void Index::TombstonesChanged() {
  tombstone_count_.store(tombstones_.size(), std::memory_order_relaxed);
  lowest_tombstone_.store(tombstones_.empty() ? UINT64_MAX : tombstones_.top().first,
                          std::memory_order_relaxed);
}

uint64_t Index::tree_tombstones() const {
  return tombstone_count_.load(std::memory_order_relaxed);
}

uint64_t Index::Horizon() const {
  uint64_t horizon = horizon_count_ == 0 ? 0 : UINT64_MAX;
  for (uint32_t i = 0; i < horizon_count_; ++i) {
    horizon = std::min(horizon, horizons_[i].load(std::memory_order_acquire));
  }
  return horizon;
}

bool Index::TombstonesErasable() const {
  const uint64_t lowest = lowest_tombstone_.load(std::memory_order_relaxed);
  return lowest != UINT64_MAX && lowest <= Horizon();
}

Status Index::EraseTombstones(size_t max, uint64_t* erased) {
  *erased = 0;
  if (tombstones_.empty() || horizon_count_ == 0) {
    return Status::Ok();
  }
  const uint64_t horizon = Horizon();
  std::string bytes;
  Value v;
  for (size_t n = 0; n < max && !tombstones_.empty() && tombstones_.top().first <= horizon; ++n) {
    const TreeTombstone& t = tombstones_.top();
    bool in_map = false;
    {
      std::shared_lock lock(mu_);
      in_map = map_.Find(t.second) != nullptr;
    }
    // A key the map holds has a later change, which its checkpoint writes over the tombstone
    // (and notes again if it is one), or a saved live entry, which the tree holds instead of it.
    // A tree entry of another sequence is a later tombstone, noted with its own sequence.
    if (!in_map && tree_->Get(t.second, &bytes) && DecodeIndexValue(bytes, &v) && v.deleted &&
        v.sequence == t.first) {
      bool gone = false;
      const Status st = tree_->Erase(t.second, &gone);
      if (st.code() == StatusCode::kNoSpace) {
        break;  // a full index file: the tombstone stays, and is tried again by a later call
      }
      PASTEL_RETURN_IF_ERROR(st);
      *erased += gone ? 1 : 0;
    }
    tombstones_.pop();
  }
  TombstonesChanged();
  return Status::Ok();
}

uint64_t Index::unsaved_keys() const {
  std::shared_lock lock(mu_);
  return unsaved_.size();
}

namespace {

// The first 16 bytes of `key` as two big-endian words, zeros past its end: comparing the words
// orders keys as memcmp does, up to ties (which compare the keys: KeyLess).
void SetKeyPrefix(std::string_view key, uint64_t out[2]) {
  uint8_t b[16] = {};
  std::memcpy(b, key.data(), std::min<size_t>(key.size(), sizeof b));
  for (int w = 0; w < 2; ++w) {
    uint64_t v = 0;
    for (int i = 0; i < 8; ++i) {
      v = (v << 8) | b[w * 8 + i];
    }
    out[w] = v;
  }
}

// How many bytes every one of n keys (key(i)) begins with. Keys sorted together often share their
// first bytes ("counter:0000000", a hash's field keys): their sort prefixes are taken after those
// (SetKeyPrefix of key.substr(common)), so that the words tell the keys apart and the sort seldom
// reaches the keys themselves (a cache miss each). Ties still compare the whole keys (KeyLess):
// the order is the keys' order either way.
template <typename KeyOf>
size_t CommonPrefix(size_t n, KeyOf key) {
  if (n == 0) {
    return 0;
  }
  const std::string_view first = key(0);
  size_t common = first.size();
  for (size_t i = 1; i < n && common > 0; ++i) {
    const std::string_view k = key(i);
    const size_t m = std::min(common, k.size());
    common = static_cast<size_t>(std::mismatch(first.begin(), first.begin() + m, k.begin()).first -
                                 first.begin());
  }
  return common;
}

// Key order of two keys with their prefixes (SetKeyPrefix).
bool KeyLess(const uint64_t a[2], const KeyMap::Entry* ae, const uint64_t b[2],
             const KeyMap::Entry* be) {
  if (a[0] != b[0]) {
    return a[0] < b[0];
  }
  if (a[1] != b[1]) {
    return a[1] < b[1];
  }
  return ae->key() < be->key();
}

}  // namespace

void Index::SortUnsaved() {
  {
    std::shared_lock lock(mu_);
    // Sized as unsaved_ is, so that it grows only when unsaved_ did (no allocation once warm).
    sort_keys_.reserve(unsaved_.capacity());
    sort_keys_.resize(unsaved_.size());
    for (size_t i = 0; i < unsaved_.size(); ++i) {
      sort_keys_[i].entry = unsaved_[i];
    }
  }
  // Without mu_, so that the loops go on meanwhile: an entry's key never changes, and an unsaved
  // entry stays in the map until a checkpoint wrote it (invariant 9), which only this caller,
  // under checkpoint_mu_, does. The loops only push notes after these.
  const size_t common =
      CommonPrefix(sort_keys_.size(), [&](size_t i) { return sort_keys_[i].entry->key(); });
  for (SortKey& k : sort_keys_) {
    SetKeyPrefix(k.entry->key().substr(common), k.prefix);
  }
  std::sort(sort_keys_.begin(), sort_keys_.end(), [](const SortKey& a, const SortKey& b) {
    return KeyLess(b.prefix, b.entry, a.prefix, a.entry);  // descending: slices take the back
  });
  std::unique_lock lock(mu_);
  for (size_t i = 0; i < sort_keys_.size(); ++i) {
    unsaved_[i] = sort_keys_[i].entry;
  }
  unsaved_sorted_ = true;
}

Result<Index::CheckpointStep> Index::Checkpoint(size_t max, uint64_t sequence) {
  std::lock_guard cl(checkpoint_mu_);
  if (!checkpoints()) {
    return Status::FailedPrecondition("no index file to checkpoint into");
  }
  if (!warm()) {
    return Status::FailedPrecondition("the index file is still being read (warm-up)");
  }
  if (!unsaved_sorted_) {
    SortUnsaved();
  }
  // The slice changes the tree: readers and Apply wait for it (a slice is bounded by `max`).
  std::unique_lock tl(tree_mu_);
  size_t n = 0;
  bool drained = false;
  BTree::User user{sequence, 0, 0, 0};
  {
    std::unique_lock lock(mu_);
    while (n < max && !unsaved_.empty()) {
      KeyMap::Entry* e = unsaved_.back();
      unsaved_.pop_back();
      Value& v = e->value;
      v.unsaved = false;
      if (n == staged_.size()) {
        // A slot is reused by later slices: sized once for a value of kInline extents, so a
        // slot that held erases (no bytes) does not grow later.
        staged_.emplace_back();
        staged_.back().bytes.reserve(kIndexValueHeader + kIndexExtentBytes * Extents::kInline);
      }
      Staged& st = staged_[n++];
      st.entry = e;
      if (v.deleted && !keep_tombstones_) {
        st.bytes.clear();
      } else {
        EncodeIndexValue(v, &st.bytes);
      }
    }
    drained = unsaved_.empty();
  }
  // (The entries stay as the slice took them while tree_mu_ is held: see below.)
  const size_t common = CommonPrefix(n, [&](size_t i) { return staged_[i].entry->key(); });
  for (size_t i = 0; i < n; ++i) {
    SetKeyPrefix(staged_[i].entry->key().substr(common), staged_[i].prefix);
  }
  // In key order: consecutive puts that land in one leaf are written with one copy, decode and
  // encode of it. The slice's keys are distinct (an entry is noted once), so the order of their
  // writes does not matter.
  std::sort(staged_.begin(), staged_.begin() + static_cast<std::ptrdiff_t>(n),
            [](const Staged& a, const Staged& b) {
              return KeyLess(a.prefix, a.entry, b.prefix, b.entry);
            });
  size_t done = 0;  // staged_[0, done) are in the tree
  Status st;
  while (done < n && st.ok()) {
    if (staged_[done].bytes.empty()) {
      st = tree_->Erase(staged_[done].entry->key());
      done += st.ok() ? 1 : 0;
      continue;
    }
    run_.clear();
    run_.reserve(staged_.size());  // grows only with staged_ (no allocation once warm)
    for (size_t i = done; i < n && !staged_[i].bytes.empty(); ++i) {
      run_.push_back({staged_[i].entry->key(), staged_[i].bytes});
    }
    size_t put = 0;
    st = tree_->PutSorted(run_, &put);
    done += put;
  }
  {
    std::unique_lock lock(mu_);
    // The entries written stay in the map, saved (the tree holds the same value), while it is
    // within cache_keys_; else, and for deletes, they leave it and the tree answers for them.
    // Those not written are noted again. (The entries are as the slice took them: Apply waits
    // for tree_mu_, and no other change of the map runs once loops do.)
    for (size_t i = 0; i < n; ++i) {
      const Staged& s = staged_[i];
      Value& v = s.entry->value;
      if (i >= done) {
        v.unsaved = true;  // not written: noted again
        Note(s.entry);
        continue;
      }
      if (v.deleted && keep_tombstones_) {
        tombstones_.emplace(v.sequence, std::string(s.entry->key()));  // written as a tombstone
      }
      // A value with an expiry time stays: the expiry cycle finds expired keys in the map alone.
      if (v.deleted || (map_.size() > cache_keys_ && v.expire_ms == 0)) {
        map_.Erase(s.entry);
      }
    }
    if (drained && st.ok()) {
      // The tree now holds every entry of the index, and holds it until the commit below (only
      // checkpoints change the tree): its counts are the index's.
      user = {sequence, live_keys_, live_bytes_, expiring_ | kUserCountsSaved};
    }
  }
  TombstonesChanged();
  if (!st.ok()) {
    return st;
  }
  CheckpointStep step;
  step.written = n;
  // The rest of the slice's budget erases tombstones; those not erased wait for a later call.
  PASTEL_RETURN_IF_ERROR(EraseTombstones(max - n, &step.tombstones_erased));
  if (drained && buffer_map_ != nullptr) {
    // While no write can change the index (tree_mu_ is held): every buffer an entry of the tree
    // names is retained by that entry now, so the retained set covers what the commit names.
    map_pool_->RetainedBits(&map_bits_);
  }
  tl.unlock();
  if (!drained) {
    return step;
  }
  if (buffer_map_ != nullptr) {
    // PERSIST: see BufferMap::Save; the map of the epoch about to be committed is durable before
    // the commit, so a start never finds a committed tree without its map (it may find a map
    // without its tree: a crash before the commit, a slot the next save overwrites).
    PASTEL_RETURN_IF_ERROR(buffer_map_->Save(tree_->epoch() + 1, map_bits_));
  }
  // Only checkpoints change the tree, and checkpoint_mu_ is held: readers (under tree_mu_ shared)
  // may go on during the commit, which writes page headers' epoch and checksum fields and the
  // superblock, none of which a lookup reads.
  std::shared_lock commit_lock(tree_mu_);
  PASTEL_RETURN_IF_ERROR(tree_->Commit(user));
  NoteTreeSpace();
  step.committed = true;
  unsaved_sorted_ = false;  // the next checkpoint sorts what was noted since
  return step;
}

size_t Index::VisitLive(size_t* cursor, size_t slots,
                        const std::function<bool(std::string_view key, const Value& v)>& fn) const {
  std::shared_lock lock(mu_);
  size_t visited = 0;
  map_.Visit(cursor, slots, [&](const KeyMap::Entry& e) {
    ++visited;
    return e.value.deleted || fn(e.key(), e.value);
  });
  return visited;
}

size_t Index::CollectExpired(
    int64_t now_ms, size_t* cursor, size_t slots,
    const std::function<bool(std::string_view key, uint64_t sequence)>& fn) const {
  std::shared_lock lock(mu_);
  if (expiring_ == 0) {
    return 0;
  }
  size_t visited = 0;
  map_.Visit(cursor, slots, [&](const KeyMap::Entry& e) {
    ++visited;
    const Value& v = e.value;
    return v.deleted || !v.ExpiredAt(now_ms) || fn(e.key(), v.sequence);
  });
  return visited;
}

uint64_t Index::expiring_keys() const {
  std::shared_lock lock(mu_);
  return expiring_;
}

uint64_t Index::map_keys() const {
  std::shared_lock lock(mu_);
  return map_.size();
}

uint64_t Index::live_keys() const {
  std::shared_lock lock(mu_);
  return live_keys_;
}

uint64_t Index::live_user_keys() const {
  std::shared_lock lock(mu_);
  return live_keys_ - internal_keys_;
}

uint64_t Index::live_bytes() const {
  std::shared_lock lock(mu_);
  return live_bytes_;
}

}  // namespace pastel::store
