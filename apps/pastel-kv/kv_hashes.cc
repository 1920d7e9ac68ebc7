// pastel-kv's hash commands: HSET HMSET HSETNX HGET HMGET HDEL HLEN HEXISTS HSTRLEN HKEYS HVALS
// HGETALL HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN, the directory of the hashes' fields (KvHashes)
// and the background delete of the fields of hashes that are gone. How a hash lies in the store:
// kv_hashes.h.

#include "kv_hashes.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <random>

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

namespace {

// redis-server's parseScanCursorOrReply: strtoul's whole string (a sign allowed, no leading
// space, no overflow).
bool ScanCursorOk(std::string_view s) {
  if (s.empty()) {
    return true;  // (strtoul reads nothing and stops at the end: cursor 0)
  }
  size_t i = 0;
  if (i < s.size() && (s[i] == '+' || s[i] == '-')) {
    ++i;
  }
  if (i == s.size()) {
    return false;
  }
  uint64_t v = 0;
  for (; i < s.size(); ++i) {
    if (s[i] < '0' || s[i] > '9' || __builtin_mul_overflow(v, uint64_t{10}, &v) ||
        __builtin_add_overflow(v, static_cast<uint64_t>(s[i] - '0'), &v)) {
      return false;
    }
  }
  return true;
}

}  // namespace

bool HeaderLive(const store::Store& store, std::string_view key, uint64_t version, int64_t now_ms,
                ValueType type) {
  store::Value v;
  if (!store.Get(key, &v)) {
    return false;
  }
  HashHeader h;
  const bool live =
      !v.ExpiredAt(now_ms) && ReadHeader(store.pool(), v, &h, type) && h.version == version;
  for (const Extent& e : v.extents) {
    (void)store.pool().Unretain(e.buffer);
  }
  return live;
}

void FieldPrefix(std::string_view key, uint64_t version, std::string* out, ValueType type) {
  out->assign(type == ValueType::kZset ? kZsetPrefix : kHashPrefix);
  PutBigEndian(out, key.size(), 2);
  *out += key;
  PutBigEndian(out, version, 8);
}

std::string FieldPrefix(std::string_view key, uint64_t version, ValueType type) {
  std::string p;
  FieldPrefix(key, version, &p, type);
  return p;
}

bool ParseFieldKey(std::string_view fk, std::string_view* key, uint64_t* version,
                   std::string_view* field) {
  if (fk.size() < kFieldKeyOverhead || (!fk.starts_with(kHashPrefix) && !ZsetKey(fk))) {
    return false;
  }
  const size_t key_len = GetBigEndian(fk.substr(2), 2);
  if (fk.size() < kFieldKeyOverhead + key_len) {
    return false;
  }
  *key = fk.substr(4, key_len);
  *version = GetBigEndian(fk.substr(4 + key_len), 8);
  *field = fk.substr(kFieldKeyOverhead + key_len);
  return true;
}

bool ReadHeader(const Pool& pool, const store::Value& v, HashHeader* out, ValueType type) {
  if (v.type != type || v.length != kHashHeaderBytes) {
    return false;
  }
  unsigned char bytes[kHashHeaderBytes];
  size_t at = 0;
  for (const Extent& e : v.extents) {
    std::memcpy(bytes + at, pool.BufferData(e.buffer) + e.offset, e.length);
    at += e.length;
  }
  // (Little endian: the hosts we run on.)
  std::memcpy(&out->version, bytes, 8);
  std::memcpy(&out->flags, bytes + 8, 8);
  // (A list's header has no flags; a set's has kHashBig: "hashtable".)
  return out->version != 0 &&
         (out->flags & ~(type == ValueType::kList ? uint64_t{0} : kHashBig)) == 0;
}

// --- FieldTable.

size_t FieldTable::Find(std::string_view name, uint64_t hash) const {
  if (slots_.empty()) {
    return kNone;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t i = hash & mask;; i = (i + 1) & mask) {
    const Slot& s = slots_[i];
    if (!s.used) {
      return kNone;
    }
    if (s.hash == hash && s.name == name) {
      return i;
    }
  }
}

void FieldTable::Place(Slot&& s) {
  const size_t mask = slots_.size() - 1;
  size_t i = s.hash & mask;
  while (slots_[i].used) {
    i = (i + 1) & mask;
  }
  slots_[i] = std::move(s);
}

bool FieldTable::insert(std::string_view name) {
  const uint64_t hash = Hash(name);
  if (Find(name, hash) != kNone) {
    return false;
  }
  if ((size_ + 1) * 2 > slots_.size()) {
    Rehash(std::max<size_t>(8, slots_.size() * 2));
  }
  Place(Slot{hash, true, DirString(name)});
  ++size_;
  return true;
}

bool FieldTable::NameFrom(uint64_t r, const std::function<bool(std::string_view)>& skip,
                          std::string_view* out) const {
  if (size_ == 0) {
    return false;
  }
  const size_t mask = slots_.size() - 1;
  for (size_t n = 0, i = r & mask; n < slots_.size(); ++n, i = (i + 1) & mask) {
    if (slots_[i].used && !skip(slots_[i].name)) {
      *out = slots_[i].name;
      return true;
    }
  }
  return false;  // every name refused
}

void FieldTable::Rehash(size_t n) {
  Slots old = std::move(slots_);
  slots_ = Slots(n);
  for (Slot& s : old) {
    if (s.used) {
      Place(std::move(s));
    }
  }
}

bool FieldTable::erase(std::string_view name) {
  size_t i = Find(name, Hash(name));
  if (i == kNone) {
    return false;
  }
  // Backward-shift deletion: the names after it in its run move up when their home slot allows,
  // so that every name stays reachable from its home without tombstones.
  const size_t mask = slots_.size() - 1;
  for (size_t j = (i + 1) & mask; slots_[j].used; j = (j + 1) & mask) {
    const size_t home = slots_[j].hash & mask;
    const bool stays = i <= j ? (i < home && home <= j) : (i < home || home <= j);
    if (!stays) {
      slots_[i] = std::move(slots_[j]);
      i = j;
    }
  }
  slots_[i] = Slot();
  --size_;
  if (slots_.size() > 8 && size_ * 8 < slots_.size()) {
    Rehash(slots_.size() / 2);  // (a quarter used then: halving again takes as many erases)
  }
  return true;
}

// --- KvHashes: the directory.

void KvHashes::Load(const store::Store& store) {
  std::call_once(loaded_, [&] {
    DirMap<FieldTable> dirs;
    DirMap<ZIndex> zsets;
    uint64_t total = 0;
    uint64_t top = 0;
    for (const std::string_view ns : {kHashPrefix, kZsetPrefix}) {
      store.ForEachLive(
          [&](std::string_view fk, const store::Value& v) {
            std::string_view key, field;
            uint64_t version = 0;
            if (!ParseFieldKey(fk, &key, &version, &field)) {
              return true;
            }
            const std::string_view prefix = fk.substr(0, fk.size() - field.size());
            double score = 0;
            if (ZsetKey(fk)) {
              if (!ReadScore(store.pool(), v, &score)) {
                return true;  // (a damaged score: the member is left out, as a damaged value)
              }
              zsets[DirString(prefix)].Put(field, score);
            } else {
              dirs[DirString(prefix)].insert(field);
            }
            top = std::max(top, version);
            ++total;
            return true;
          },
          ns);
    }
    std::lock_guard lock(mu_);
    dirs_ = std::move(dirs);
    zsets_ = std::move(zsets);
    next_version_.store(top + 1, std::memory_order_relaxed);
    active_.store(total > 0, std::memory_order_relaxed);
  });
}

uint64_t KvHashes::NextVersion() {
  active_.store(true, std::memory_order_relaxed);
  return next_version_.fetch_add(1, std::memory_order_relaxed);
}

bool KvHashes::Applied(const store::Store& store, std::string_view fk, int state) {
  std::string_view key, field;
  uint64_t version = 0;
  if (!ParseFieldKey(fk, &key, &version, &field)) {
    return false;
  }
  const std::string_view prefix = fk.substr(0, fk.size() - field.size());
  std::lock_guard lock(mu_);
  bool background = false;
  if (auto c = collected_.find(fk); c != collected_.end()) {
    collected_.erase(c);
    background = true;
  }
  if (ZsetKey(fk)) {
    // A member's score is its value: read it from the index (whichever loop wrote it last).
    // (A score that does not parse leaves the member out, as Load does.) A sorted set's members
    // are in its ZIndex only, not in dirs_ too.
    store::Value v;
    ZsetApplied(store.pool(), fk, prefix.size(), store.Get(fk, &v) ? &v : nullptr);
    for (const Extent& e : v.extents) {
      (void)store.pool().Unretain(e.buffer);
    }
    return background;
  }
  const bool live = state < 0 ? store.Contains(fk) : state == 1;
  auto it = dirs_.find(prefix);
  if (live) {
    if (it == dirs_.end()) {
      it = dirs_.emplace(DirString(prefix), FieldTable()).first;
    }
    it->second.insert(field);  // (a field written again allocates nothing)
    return background;
  }
  if (it == dirs_.end()) {
    return background;
  }
  if (it->second.erase(field) && it->second.empty()) {
    dirs_.erase(it);
  }
  return background;
}

void KvHashes::Fields(std::string_view prefix, NameList* out) const {
  std::lock_guard lock(mu_);
  if (ZsetKey(prefix)) {
    if (auto it = zsets_.find(prefix); it != zsets_.end()) {
      it->second.ForEachMember([&](std::string_view m) {
        out->push_back(m);
        return true;
      });
    }
    return;
  }
  if (auto it = dirs_.find(prefix); it != dirs_.end()) {
    it->second.ForEach([&](std::string_view f) {
      out->push_back(f);
      return true;
    });
  }
}

bool KvHashes::Has(std::string_view prefix, std::string_view field) const {
  std::lock_guard lock(mu_);
  if (ZsetKey(prefix)) {
    auto it = zsets_.find(prefix);
    return it != zsets_.end() && it->second.Find(field) != nullptr;
  }
  auto it = dirs_.find(prefix);
  return it != dirs_.end() && it->second.contains(field);
}

bool KvHashes::RandomField(std::string_view prefix, uint64_t seed,
                           const std::function<bool(std::string_view)>& skip,
                           std::string* out) const {
  std::lock_guard lock(mu_);
  auto it = dirs_.find(prefix);
  if (it == dirs_.end()) {
    return false;
  }
  // (A name refused, one this loop deleted and has not applied yet, passes the draw on to the
  // next name in the table, as an empty slot does: the draw fails only when every name is
  // refused. Before, a draw that met a refused name was dropped, and a pipeline of pops on a set
  // that had shrunk in a large table met the same few names again and again: SPOP fell back to
  // copying the whole set.)
  std::minstd_rand rng(static_cast<std::minstd_rand::result_type>(seed | 1));
  const uint64_t r = (static_cast<uint64_t>(rng()) << 31) ^ rng();
  std::string_view name;
  if (!it->second.NameFrom(r, skip, &name)) {
    return false;
  }
  out->assign(name);
  return true;
}

size_t KvHashes::Count(std::string_view prefix) const {
  std::lock_guard lock(mu_);
  if (ZsetKey(prefix)) {
    auto it = zsets_.find(prefix);
    return it == zsets_.end() ? 0 : it->second.size();
  }
  auto it = dirs_.find(prefix);
  return it == dirs_.end() ? 0 : it->second.size();
}

namespace {

// The names of a hash's (set's) table or a sorted set's members, until `fn` returns false.
template <typename Fn>
void ForEachName(const FieldTable& t, Fn&& fn) {
  t.ForEach(fn);
}
template <typename Fn>
void ForEachName(const ZIndex& z, Fn&& fn) {
  z.ForEachMember(fn);
}

}  // namespace

template <typename Dirs>
size_t KvHashes::CollectDeadIn(const Dirs& dirs, std::string* cursor, const store::Store& store,
                               int64_t now_ms, size_t max, std::vector<std::string>* out) {
  constexpr size_t kVisits = 256;  // hashes (sets, sorted sets) looked at per call
  size_t n = 0;
  auto it = dirs.upper_bound(std::string_view{*cursor});
  for (size_t visited = 0; visited < std::min(kVisits, dirs.size()) && n < max; ++visited) {
    if (it == dirs.end()) {
      it = dirs.begin();
    }
    std::string_view key, field;
    uint64_t version = 0;
    // (A prefix parses as a field key with an empty field.)
    const bool zset = ZsetKey(it->first);
    if (ParseFieldKey(it->first, &key, &version, &field) &&
        (zset ? !HeaderLive(store, key, version, now_ms, ValueType::kZset)
              : !HeaderLive(store, key, version, now_ms, ValueType::kHash) &&
                    !HeaderLive(store, key, version, now_ms, ValueType::kSet))) {
      ForEachName(it->second, [&](std::string_view f) {
        std::string fk(it->first);
        fk += f;
        if (!collected_.contains(fk)) {
          collected_.insert(fk);
          out->push_back(std::move(fk));
          ++n;
        }
        return n < max;
      });
      if (n == max) {
        return n;  // (the cursor stays before this one: the next call goes on with it)
      }
    }
    cursor->assign(it->first);
    ++it;
  }
  return n;
}

size_t KvHashes::CollectDead(const store::Store& store, int64_t now_ms, size_t max,
                             std::vector<std::string>* out) {
  std::lock_guard lock(mu_);
  const size_t n = CollectDeadIn(dirs_, &cursor_, store, now_ms, max, out);
  return n + CollectDeadIn(zsets_, &zcursor_, store, now_ms, max - n, out);
}

void KvHashes::Release(std::string_view fk) {
  std::lock_guard lock(mu_);
  if (auto c = collected_.find(fk); c != collected_.end()) {
    collected_.erase(c);
  }
}

// --- The protocol's side: a hash as this loop sees it.

int KvProtocol::HashAt(std::string_view key, HashHeader* h, bool count, int64_t* expire_ms) {
  return TypedAt(key, ValueType::kHash, h, count, expire_ms);
}

int KvProtocol::TypedAt(std::string_view key, ValueType type, HashHeader* h, bool count,
                        int64_t* expire_ms) {
  Value v;
  const bool found = b_->Lookup(key, &v);
  if (count) {
    CountRead(found);
  }
  if (!found) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
      return -1;
    }
    return 0;
  }
  const bool typed = v.type == type;
  const bool ok = typed && ReadHeader(b_->pool(), v, h, type);
  b_->DropRefs(v.extents);
  if (!typed) {
    Err(kWrongType);
    return -1;
  }
  if (!ok) {
    Err(kDamaged);
    return -1;
  }
  if (expire_ms != nullptr) {
    *expire_ms = v.expire_ms;
  }
  NoteHeader(key, h->version, type);
  return 1;
}

int KvProtocol::HashArg(bool count, std::string_view absent, std::string_view* key,
                        HashHeader* hh) {
  if (!KeyOk(1)) {
    return -1;
  }
  *key = ArgView(1, &tmp_key_);
  const int had = HashAt(*key, hh, count);
  if (had == 0 && !absent.empty()) {
    b_->AnswerText(cmd_.conn->id, absent, AnswerClass::kOk, cmd_.close);
  }
  return had;
}

void KvProtocol::HashFields(std::string_view prefix, NameList* out) {
  out->clear();
  clients_.hashes().Fields(prefix, out);
  out->Sort();
  PendingFields(prefix);
  if (pending_fields_.empty()) {
    return;
  }
  // This loop's last write of each field not applied yet decides over the durable fields: both
  // lists are in name order, merged into the scratch list, which then takes *out's place.
  NameList& merged = names_merge_;
  merged.clear();
  size_t i = 0;
  for (const auto& [field, deleted] : pending_fields_) {
    for (; i < out->size() && (*out)[i] < field; ++i) {
      merged.push_back((*out)[i]);
    }
    i += i < out->size() && (*out)[i] == field ? 1 : 0;
    if (!deleted) {
      merged.push_back(field);
    }
  }
  for (; i < out->size(); ++i) {
    merged.push_back((*out)[i]);
  }
  std::swap(*out, merged);
}

void KvProtocol::PendingFields(std::string_view prefix) {
  pending_fields_.clear();
  b_->VisitPending([&](std::string_view k, const Value& v) {
    if (k.starts_with(prefix)) {
      pending_fields_.emplace_back(k.substr(prefix.size()), v.deleted);
    }
  });
  // Each field's last write, in the fields' order: their positions sorted by (name, position),
  // the last of each run kept (a pipeline of pops leaves hundreds here: no quadratic search; the
  // vectors are the protocol's, reused).
  const size_t writes = pending_fields_.size();
  pending_order_.resize(writes);
  for (size_t i = 0; i < writes; ++i) {
    pending_order_[i] = static_cast<uint32_t>(i);
  }
  std::sort(pending_order_.begin(), pending_order_.end(), [&](uint32_t a, uint32_t b) {
    const std::string_view x = pending_fields_[a].first, y = pending_fields_[b].first;
    return x < y || (x == y && a < b);
  });
  pending_last_.clear();
  for (size_t r = 0; r < writes; ++r) {
    const uint32_t i = pending_order_[r];
    if (r + 1 == writes ||
        pending_fields_[pending_order_[r + 1]].first != pending_fields_[i].first) {
      pending_last_.push_back(pending_fields_[i]);
    }
  }
  pending_fields_.swap(pending_last_);
}

size_t KvProtocol::HashLen(std::string_view prefix) {
  // The durable count, and this loop's writes not applied yet: each field's last one decides
  // whether it counts, against whether the directory has it (no copy of the directory).
  PendingFields(prefix);
  const KvHashes& h = clients_.hashes();
  int64_t n = static_cast<int64_t>(h.Count(prefix));
  for (const auto& [field, deleted] : pending_fields_) {
    n += (deleted ? 0 : 1) - (h.Has(prefix, field) ? 1 : 0);
  }
  return static_cast<size_t>(std::max<int64_t>(n, 0));
}

bool KvProtocol::PickRandom(bool with_count, int64_t count) {
  thread_local std::minstd_rand rng(std::random_device{}());
  const size_t size = names_.size();
  picks_.clear();
  if (!with_count) {
    picks_.push_back(static_cast<uint32_t>(rng() % size));
    return true;
  }
  if (count >= 0) {
    // Distinct names: all of them when the count reaches the size.
    for (size_t i = 0; i < size; ++i) {
      picks_.push_back(static_cast<uint32_t>(i));
    }
    if (static_cast<uint64_t>(count) < size) {
      std::shuffle(picks_.begin(), picks_.end(), rng);
      picks_.resize(static_cast<size_t>(count));
    }
    return true;
  }
  // A negative count: exactly -count names, repeats allowed. (The answer is bounded by the
  // connection's room like any other; a huge count closes the connection.)
  const uint64_t n = uint64_t{0} - static_cast<uint64_t>(count);
  if (n > kMaxRandFields) {
    Err("ERR count above " + std::to_string(kMaxRandFields) + " is not supported by pastel-kv");
    return false;
  }
  for (uint64_t i = 0; i < n; ++i) {
    picks_.push_back(static_cast<uint32_t>(rng() % size));
  }
  return true;
}

const std::string& KvProtocol::Prefix(std::string_view key, uint64_t version, ValueType type) {
  FieldPrefix(key, version, &prefix_, type);
  return prefix_;
}

bool KvProtocol::MarkBig(std::string_view key, std::string_view prefix, HashHeader* hh,
                         int64_t expire_ms, bool big, ValueType type, size_t entries) {
  if ((hh->flags & kHashBig) != 0 || (!big && HashLen(prefix) <= entries)) {
    return true;
  }
  hh->flags |= kHashBig;
  if (const store::WriteOutcome w = PutHeader(key, *hh, expire_ms, type);
      w != store::WriteOutcome::kQueued) {
    Refused(w);  // (not for room: the command's admission counted it)
    return false;
  }
  return true;
}

bool KvProtocol::FieldKeyOk(size_t key_len, size_t field_len) {
  if (key_len + field_len + kFieldKeyOverhead > kMaxKeyBytes) {
    Err("ERR hash key and field name together longer than " +
        std::to_string(kMaxKeyBytes - kFieldKeyOverhead) + " bytes");
    return false;
  }
  return true;
}

std::string_view KvProtocol::FieldKey(std::string_view prefix, std::string_view field) {
  field_key_.assign(prefix);
  field_key_ += field;
  return field_key_;
}

uint64_t KvProtocol::HeaderRoom(size_t key_len, uint64_t* buffers) const {
  *buffers += 2;  // FreshValue's buffer, counted twice as ArgRoom does
  return b_->RecordRoom(key_len, 1, kHashHeaderBytes, /*expires=*/true);
}

bool KvProtocol::AdmitComposite(std::string_view key, bool create, bool big, ValueType type,
                                HashHeader* hh, uint64_t buffers, uint64_t log_bytes) {
  if (create) {
    log_bytes += HeaderRoom(key.size(), &buffers);
  }
  if ((hh->flags & kHashBig) == 0) {
    log_bytes += HeaderRoom(key.size(), &buffers);  // (MarkBig's, when the write makes it big)
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  if (create) {
    hh->flags |= big ? kHashBig : 0;
    if (const store::WriteOutcome w = PutHeader(key, *hh, 0, type);
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return false;
    }
  }
  return true;
}

store::WriteOutcome KvProtocol::PutHeader(std::string_view key, const HashHeader& h,
                                          int64_t expire_ms, ValueType type) {
  // PERSIST: none here. The header's bytes go into a fresh buffer (FreshValue) and its record
  // into the open batch, before the fields the command writes: all durable with the batch's one
  // commit, or none (docs/invariants.md, rule 12).
  char bytes[kHashHeaderBytes];
  std::memcpy(bytes, &h.version, 8);  // (little endian: the hosts we run on)
  std::memcpy(bytes + 8, &h.flags, 8);
  Extents fresh;
  if (!b_->FreshValue({bytes, sizeof(bytes)}, &fresh).ok()) {
    return store::WriteOutcome::kPoolFull;
  }
  return b_->PutOwned(key, std::move(fresh), kHashHeaderBytes, /*admitted=*/true, expire_ms, type);
}

// --- Writes.

void KvProtocol::HSetPairs(bool mset) {
  if (cmd_.argc % 2 != 0) {
    WrongArity();
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    if (!FieldKeyOk(key.size(), args_[i].length)) {
      return;
    }
  }
  HashHeader hh;
  int64_t expire_ms = 0;
  const int had = HashAt(key, &hh, /*count=*/false, &expire_ms);
  if (had < 0) {
    return;
  }
  const bool create = had == 0;
  if (create) {
    hh.version = clients_.hashes().NextVersion();
  }
  const std::string& prefix = Prefix(key, hh.version);
  bool big = false;  // a name or value above the listpack's limit (redis-server converts)
  for (size_t i = 2; i < cmd_.argc; ++i) {
    big = big || args_[i].length > kListpackValue;
  }
  // One admission for the header and every field: the command is written whole or refused whole,
  // in one batch. A header is written when the hash is created, and again when this write makes
  // it big (kHashBig): room for both.
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    ArgRoom(prefix.size() + args_[i].length, i + 1, &buffers, &log_bytes);
  }
  // The header first: a field is applied after the header that names its version.
  if (!AdmitComposite(key, create, big, ValueType::kHash, &hh, buffers, log_bytes)) {
    return;
  }
  int64_t added = 0;
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    // (Exists sees this command's own earlier writes: a field named twice counts once.)
    const std::string_view fk = FieldKey(prefix, ArgView(i, &tmp_));
    added += b_->Exists(fk) ? 0 : 1;
    if (const store::WriteOutcome w = PutArg(fk, i + 1, /*admitted=*/true);
        w != store::WriteOutcome::kQueued) {
      Refused(w);  // (not for room: only an internal failure, after the fields before it)
      return;
    }
  }
  if (!MarkBig(key, prefix, &hh, expire_ms, big)) {
    return;
  }
  if (mset) {
    WriteOk(resp::kOk);
  } else {
    WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), added)});
  }
}

void KvProtocol::HSet() {
  HSetPairs(false);
}

void KvProtocol::HMSet() {
  HSetPairs(true);
}

void KvProtocol::HSetNx() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  if (!FieldKeyOk(key.size(), args_[2].length)) {
    return;
  }
  HashHeader hh;
  const int had = HashAt(key, &hh, /*count=*/false);
  if (had < 0) {
    return;
  }
  if (had == 1 && b_->Exists(FieldKey(Prefix(key, hh.version), ArgView(2, &tmp_)))) {
    Int(0);
    return;
  }
  HSetPairs(false);  // (one pair: answers :1)
}

void KvProtocol::HDel() {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/false, ":0\r\n", &key, &hh) <= 0) {
    return;
  }
  const std::string& prefix = Prefix(key, hh.version);
  uint64_t log_bytes = b_->DeleteRoom(key.size());
  for (size_t i = 2; i < cmd_.argc; ++i) {
    log_bytes += b_->DeleteRoom(prefix.size() + args_[i].length);
  }
  if (const store::WriteOutcome w = b_->Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  int64_t n = 0;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    if (prefix.size() + args_[i].length > kMaxKeyBytes) {
      continue;  // (a field that long was never written)
    }
    const std::string_view fk = FieldKey(prefix, ArgView(i, &tmp_));
    if (!b_->Exists(fk)) {
      continue;
    }
    if (const store::WriteOutcome w = b_->Delete(fk); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    ++n;
  }
  if (n == 0) {
    Int(0);
    return;
  }
  // A hash left without fields is gone, as in redis-server: its header goes in the same batch.
  if (HashLen(prefix) == 0) {
    if (const store::WriteOutcome w = b_->Delete(key); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), n)});
}

// HINCRBY and HINCRBYFLOAT: the field's new value `bytes` (a number computed from the old one)
// into fresh buffers, with the header when `create`; answered `answer` after the commit.
void KvProtocol::HPutNumber(const HashField& hf, std::string_view field, std::string_view bytes,
                            std::string_view answer) {
  HashHeader hh = hf.header;
  const bool big = field.size() > kListpackValue || bytes.size() > kListpackValue;
  uint64_t buffers = 2;  // the number's fresh buffer, counted twice (FreshValue, PutOwned)
  const uint64_t log_bytes = b_->RecordRoom(hf.prefix.size() + field.size(), 1, bytes.size());
  if (!AdmitComposite(hf.key, hf.create, big, ValueType::kHash, &hh, buffers, log_bytes)) {
    return;
  }
  Extents fresh;
  store::WriteOutcome w = store::WriteOutcome::kPoolFull;
  if (b_->FreshValue(bytes, &fresh).ok()) {
    w = b_->PutOwned(FieldKey(hf.prefix, field), std::move(fresh), bytes.size(),
                     /*admitted=*/true);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  if (MarkBig(hf.key, hf.prefix, &hh, hf.expire_ms, big)) {
    WriteOk(answer);
  }
}

// The hash of argument 1 and its field argument 2 for HINCRBY and HINCRBYFLOAT: the old value
// read into tmp_ (at most `max` bytes; longer: `not_number` answered). False once answered.
bool KvProtocol::HNumberField(size_t max, std::string_view not_number, HashField* hf) {
  if (!KeyOk(1)) {
    return false;
  }
  hf->key = ArgView(1, &tmp_key_);
  if (!FieldKeyOk(hf->key.size(), args_[2].length)) {
    return false;
  }
  const int had = HashAt(hf->key, &hf->header, /*count=*/false, &hf->expire_ms);
  if (had < 0) {
    return false;
  }
  hf->create = had == 0;
  if (hf->create) {
    hf->header.version = clients_.hashes().NextVersion();
  }
  hf->prefix = Prefix(hf->key, hf->header.version);
  hf->found = false;
  tmp_.clear();
  if (hf->create) {
    return true;
  }
  Value v;
  if (!b_->Lookup(FieldKey(hf->prefix, ArgView(2, &tmp_)), &v)) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
      return false;
    }
    return true;
  }
  hf->found = true;
  const bool fits = ReadValue(v, max, &tmp_);
  b_->DropRefs(v.extents);
  if (!fits) {
    Err(not_number);
    return false;
  }
  return true;
}

void KvProtocol::HIncrBy() {
  int64_t incr = 0;
  if (!ParseInt64(ArgView(3, &tmp_), &incr)) {
    Err(kNotInteger);
    return;
  }
  HashField hf;
  constexpr std::string_view kNotHashInteger = "ERR hash value is not an integer";
  if (!HNumberField(20, kNotHashInteger, &hf)) {
    return;
  }
  int64_t cur = 0;
  if (hf.found && !ParseInt64(tmp_, &cur)) {
    Err(kNotHashInteger);
    return;
  }
  int64_t next = 0;
  if (__builtin_add_overflow(cur, incr, &next)) {
    Err("ERR increment or decrement would overflow");
    return;
  }
  char text[24];
  const size_t n = static_cast<size_t>(std::to_chars(text, text + sizeof(text), next).ptr - text);
  const std::string_view answer{buf_, resp::WriteInteger(buf_, sizeof(buf_), next)};
  const std::string field(ArgView(2, &tmp_));
  HPutNumber(hf, field, {text, n}, std::string(answer));
}

void KvProtocol::HIncrByFloat() {
  long double incr = 0;
  if (!ParseLongDouble(ArgView(3, &tmp_), &incr)) {
    Err("ERR value is not a valid float");
    return;
  }
  if (std::isnan(incr) || std::isinf(incr)) {
    Err("ERR value is NaN or Infinity");
    return;
  }
  HashField hf;
  constexpr std::string_view kNotHashFloat = "ERR hash value is not a float";
  if (!HNumberField(5 * 1024, kNotHashFloat, &hf)) {
    return;
  }
  long double cur = 0;
  if (hf.found && !ParseLongDouble(tmp_, &cur)) {
    Err(kNotHashFloat);
    return;
  }
  const long double next = cur + incr;
  char text[kLongDoubleChars];
  const std::string_view out =
      std::isnan(next) || std::isinf(next) ? std::string_view() : FormatLongDouble(next, text);
  if (out.empty()) {
    Err("ERR increment would produce NaN or Infinity");
    return;
  }
  std::string answer(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), out.size()));
  answer += out;
  answer += resp::kCrlf;
  const std::string field(ArgView(2, &tmp_));
  HPutNumber(hf, field, out, answer);
}

// --- Reads.

void KvProtocol::HGet() {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, resp::kNullBulk, &key, &hh) <= 0) {
    return;
  }
  Value v;
  if (key.size() + args_[2].length + kFieldKeyOverhead <= kMaxKeyBytes &&
      b_->Lookup(FieldKey(Prefix(key, hh.version), ArgView(2, &tmp_)), &v)) {
    BulkValue(v);
  } else if (b_->lookup_damaged()) {
    Err(kDamaged);
  } else {
    Null();
  }
}

void KvProtocol::HMGet() {
  std::string_view key;
  HashHeader hh;
  const int had = HashArg(/*count=*/true, {}, &key, &hh);
  if (had < 0) {
    return;
  }
  const std::string_view prefix = had == 1 ? Prefix(key, hh.version) : std::string_view();
  ReplyBegin();  // (one answer: small values copied into it)
  ReplyArray(cmd_.argc - 2);
  for (size_t i = 2; i < cmd_.argc; ++i) {
    Value v;
    if (had == 1 && prefix.size() + args_[i].length <= kMaxKeyBytes &&
        b_->Lookup(FieldKey(prefix, ArgView(i, &tmp_)), &v)) {
      ReplyValue(v);
    } else if (had == 1 && b_->lookup_damaged()) {
      ReplyErr(kDamaged);  // an error element of the array
    } else {
      Text() += resp::kNullBulk;
    }
  }
  ReplyEnd();
}

void KvProtocol::HLen() {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, ":0\r\n", &key, &hh) > 0) {
    Int(static_cast<int64_t>(HashLen(Prefix(key, hh.version))));
  }
}

void KvProtocol::HExists() {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, ":0\r\n", &key, &hh) > 0) {
    Int(key.size() + args_[2].length + kFieldKeyOverhead <= kMaxKeyBytes &&
                b_->Exists(FieldKey(Prefix(key, hh.version), ArgView(2, &tmp_)))
            ? 1
            : 0);
  }
}

void KvProtocol::HStrlen() {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, ":0\r\n", &key, &hh) <= 0) {
    return;
  }
  Value v;
  if (key.size() + args_[2].length + kFieldKeyOverhead <= kMaxKeyBytes &&
      b_->Lookup(FieldKey(Prefix(key, hh.version), ArgView(2, &tmp_)), &v)) {
    b_->DropRefs(v.extents);
    Int(v.length);
  } else if (b_->lookup_damaged()) {
    Err(kDamaged);
  } else {
    Int(0);
  }
}

// HKEYS HVALS HGETALL: the fields (`keys`) and their values (`values`), in field order.
void KvProtocol::HList(bool keys, bool values) {
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, "*0\r\n", &key, &hh) <= 0) {
    return;
  }
  const std::string& prefix = Prefix(key, hh.version);
  HashFields(prefix, &names_);
  ReplyBegin();  // (one answer: small values copied into it)
  ReplyArray(names_.size() * ((keys ? 1 : 0) + (values ? 1 : 0)));
  for (const std::string_view f : names_) {
    if (keys) {
      ReplyBulk(f);
    }
    if (values) {
      Value v;
      if (b_->Lookup(FieldKey(prefix, f), &v)) {
        ReplyValue(v);
      } else if (b_->lookup_damaged()) {
        ReplyErr(kDamaged);
      } else {
        Text() += resp::kNullBulk;  // (cannot be: the field was listed in this turn)
      }
    }
  }
  ReplyEnd();
}

void KvProtocol::HKeys() {
  HList(true, false);
}

void KvProtocol::HVals() {
  HList(false, true);
}

void KvProtocol::HGetAll() {
  HList(true, true);
}

void KvProtocol::HRandField() {
  // redis-server's hrandfieldCommand: the count and WITHVALUES are checked before the key.
  int64_t count = 1;
  const bool with_count = cmd_.argc >= 3;
  bool with_values = false;
  if (with_count) {
    if (!ParseInt64(ArgView(2, &tmp_), &count)) {
      Err(kNotInteger);
      return;
    }
    if (count == INT64_MIN) {
      Err("ERR value is out of range, value must between -9223372036854775807 and "
          "9223372036854775807");
      return;
    }
    if (cmd_.argc > 4 || (cmd_.argc == 4 && !Is(3, "withvalues"))) {
      Err(kSyntax);
      return;
    }
    with_values = cmd_.argc == 4;
    if (with_values && (count < -INT64_MAX / 2 || count > INT64_MAX / 2)) {
      Err("ERR value is out of range");
      return;
    }
  }
  std::string_view key;
  HashHeader hh;
  if (HashArg(/*count=*/true, with_count ? "*0\r\n" : resp::kNullBulk, &key, &hh) <= 0) {
    return;
  }
  const std::string& prefix = Prefix(key, hh.version);
  HashFields(prefix, &names_);
  if (!PickRandom(with_count, count)) {
    return;
  }
  if (!with_count) {
    Bulk(names_[picks_[0]]);
    return;
  }
  ArrayHeader(picks_.size() * (with_values ? 2 : 1));
  for (const uint32_t p : picks_) {
    const std::string_view f = names_[p];
    Bulk(f);
    if (with_values) {
      Value v;
      if (b_->Lookup(FieldKey(prefix, f), &v)) {
        BulkValue(v);
      } else {
        Null();
      }
    }
  }
}

void KvProtocol::HScan() {
  HScanLike(ValueType::kHash);
}

void KvProtocol::HScanLike(ValueType type) {
  const bool values = type != ValueType::kSet;
  // redis-server's hscanCommand (sscanCommand): the cursor first, then the key, then the options.
  if (!ScanCursorOk(ArgView(2, &tmp_))) {
    Err("ERR invalid cursor");
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = TypedAt(key, type, &hh, /*count=*/true);
  if (had <= 0) {
    if (had == 0) {
      b_->AnswerText(cmd_.conn->id, "*2\r\n$1\r\n0\r\n*0\r\n", AnswerClass::kOk, cmd_.close);
    }
    return;
  }
  std::string pattern = "*";
  for (size_t i = 3; i < cmd_.argc; i += 2) {
    if (Is(i, "count") && i + 1 < cmd_.argc) {
      int64_t count = 0;
      if (!ParseInt64(ArgView(i + 1, &tmp_), &count)) {
        Err(kNotInteger);
        return;
      }
      if (count < 1) {
        Err(kSyntax);
        return;
      }
    } else if (Is(i, "match") && i + 1 < cmd_.argc) {
      pattern = ArgView(i + 1, &tmp_);
    } else {
      Err(kSyntax);
      return;
    }
  }
  // Every field in one answer, the cursor 0 (a complete iteration), as redis-server answers a
  // small hash.
  const std::string& prefix = Prefix(key, hh.version, type);
  HashFields(prefix, &names_);
  if (pattern != "*") {
    names_.Filter([&](std::string_view f) { return GlobMatch(pattern, f); });
  }
  const NameList& match = names_;
  {
    const size_t begin = Text().size();
    Text() += "*2\r\n$1\r\n0\r\n";
    Text().append(buf_,
                  resp::WriteArrayHeader(buf_, sizeof(buf_), match.size() * (values ? 2 : 1)));
    b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
  }
  for (const std::string_view f : match) {
    Bulk(f);
    if (!values) {
      continue;  // (a set's member)
    }
    Value v;
    if (!b_->Lookup(FieldKey(prefix, f), &v)) {
      Null();
    } else if (type == ValueType::kZset) {
      // A member's score as redis-server 7.0's ZSCAN writes it: as its listpack holds it while
      // small (d2string), as its replies write a double (%.17g) once a skiplist.
      double score = 0;
      const bool ok = ReadScore(b_->pool(), v, &score);
      b_->DropRefs(v.extents);
      char text[kLongDoubleChars];
      std::string_view s;
      constexpr double kHalf = static_cast<double>(std::numeric_limits<int64_t>::max() / 2);
      if ((hh.flags & kHashBig) == 0 && score >= -kHalf && score <= kHalf &&
          static_cast<double>(static_cast<int64_t>(score)) == score) {
        // (d2string: a whole number that fits double2ll's range is written as an integer.)
        s = {text, resp::WriteInteger(text, sizeof(text), static_cast<int64_t>(score))};
        s = s.substr(1, s.size() - 3);  // ":n\r\n" -> "n"
      } else {
        s = FormatScore(score, text);
      }
      Bulk(ok ? s : std::string_view("0"));
    } else {
      BulkValue(v);
    }
  }
}

// --- RENAME and COPY of a hash, TYPE, OBJECT ENCODING.

bool KvProtocol::CopyHash(std::string_view from, Value header_value, std::string_view to,
                          bool delete_from) {
  HashHeader header;
  const ValueType type = header_value.type;  // a hash, or a set
  const bool ok = ReadHeader(b_->pool(), header_value, &header, type);
  const int64_t expire_ms = header_value.expire_ms;
  b_->DropRefs(header_value.extents);
  if (!ok) {
    Err(kDamaged);
    return false;
  }
  const std::string from_prefix = FieldPrefix(from, header.version, type);
  NameList& fields = names_;
  HashFields(from_prefix, &fields);
  for (const std::string_view f : fields) {
    if (!FieldKeyOk(to.size(), f.size())) {
      return false;
    }
  }
  // The copy is a new hash (a new version) whose fields share the source's buffers: no byte is
  // copied, each field's buffers hold one more reference.
  HashHeader to_header = header;  // (its encoding goes with it, as redis-server's object)
  to_header.version = clients_.hashes().NextVersion();
  const std::string to_prefix = FieldPrefix(to, to_header.version, type);
  std::vector<Value> values(fields.size());
  uint64_t buffers = 0;
  uint64_t log_bytes =
      HeaderRoom(to.size(), &buffers) + (delete_from ? b_->DeleteRoom(from.size()) : 0);
  size_t i = 0;
  for (const std::string_view f : fields) {
    if (!b_->Lookup(FieldKey(from_prefix, f), &values[i])) {
      for (size_t j = 0; j < i; ++j) {
        b_->DropRefs(values[j].extents);
      }
      Err(b_->lookup_damaged() ? kDamaged : "ERR internal error");
      return false;
    }
    log_bytes += OwnedRecordRoom(*b_, to_prefix.size() + f.size(), values[i], 0);
    ++i;
  }
  const auto drop = [&](size_t from_i) {
    for (size_t j = from_i; j < values.size(); ++j) {
      b_->DropRefs(values[j].extents);
    }
  };
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return false;
  }
  if (const store::WriteOutcome w = PutHeader(to, to_header, expire_ms, type);
      w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return false;
  }
  i = 0;
  for (const std::string_view f : fields) {
    const uint32_t length = values[i].length;
    const store::WriteOutcome w =
        b_->PutOwned(FieldKey(to_prefix, f), std::move(values[i].extents), length,
                     /*admitted=*/true);
    ++i;
    if (w != store::WriteOutcome::kQueued) {
      drop(i);
      Refused(w);
      return false;
    }
  }
  if (delete_from) {
    if (const store::WriteOutcome w = b_->Delete(from); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return false;
    }
  }
  return true;
}

std::string_view KvProtocol::HashEncoding(const Value& header) const {
  // (A set's header: intset until kHashBig, as redis-server 7.0's sets.)
  HashHeader hh;
  const bool small = ReadHeader(b_->pool(), header, &hh, header.type) && (hh.flags & kHashBig) == 0;
  if (header.type == ValueType::kZset) {
    return small ? "listpack" : "skiplist";
  }
  return !small ? "hashtable" : header.type == ValueType::kSet ? "intset" : "listpack";
}

// --- Background: the fields of hashes that are gone.

bool KvProtocol::Background(store::Batch& b) {
  KvHashes& h = clients_.hashes();
  KvLists& l = clients_.lists();
  if (!h.active() && !l.active()) {
    return false;
  }
  // PERSIST: none here. A delete record per field of a hash (or item of a list) that is gone,
  // durable with the turn's batch; before it, the fields are live keys no command reads
  // (rules 12 and 13).
  size_t queued = 0;
  const auto drop = [&](auto& directory) {
    for (const std::string& k : dead_) {
      if (!b.LogHasRoom(b.DeleteRoom(k.size())) || b.Delete(k) != store::WriteOutcome::kQueued) {
        directory.Release(k);  // a later turn (a checkpoint makes the log's room)
        continue;
      }
      ++queued;
    }
  };
  if (h.active()) {
    dead_.clear();
    h.CollectDead(shared_.store, b.now_ms(), kCleanBatch, &dead_);
    drop(h);
  }
  if (l.active()) {
    dead_.clear();
    l.CollectDead(shared_.store, b.now_ms(), kCleanBatch, &dead_);
    drop(l);
  }
  return queued > 0;  // (then called again next turn: more may be waiting)
}

}  // namespace pastel::kv
