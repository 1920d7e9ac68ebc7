// pastel-kv's list commands: LPUSH RPUSH LPUSHX RPUSHX LPOP RPOP LRANGE LLEN LINDEX LSET LINSERT
// LREM LTRIM LPOS LMOVE RPOPLPUSH and the blocking BLPOP BRPOP BLMOVE BRPOPLPUSH, the directory
// of the lists (KvLists) and the background delete of the items of lists that are gone. How a
// list lies in the store: kv_lists.h.

#include "kv_lists.h"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

namespace {

constexpr std::string_view kNullArray = "*-1\r\n";
constexpr std::string_view kListBusy =
    "ERR the list is being written by another thread of the server: try the transaction again";

// redis-server's index rules: a negative index counts from the end.
int64_t FromEnd(int64_t i, int64_t len) {
  return i < 0 ? len + i : i;
}

}  // namespace

void ItemPrefix(std::string_view key, uint64_t version, std::string* out) {
  out->assign(kListPrefix);
  PutBigEndian(out, key.size(), 2);
  *out += key;
  PutBigEndian(out, version, 8);
}

void ItemKey(std::string_view prefix, uint64_t position, std::string* out) {
  out->assign(prefix);
  PutBigEndian(out, position, 8);
}

bool ParseItemKey(std::string_view ik, std::string_view* key, uint64_t* version,
                  uint64_t* position) {
  if (ik.size() < kItemKeyOverhead || !ik.starts_with(kListPrefix)) {
    return false;
  }
  const size_t key_len = GetBigEndian(ik.substr(2), 2);
  if (ik.size() != kItemKeyOverhead + key_len) {
    return false;
  }
  *key = ik.substr(4, key_len);
  *version = GetBigEndian(ik.substr(4 + key_len), 8);
  *position = GetBigEndian(ik.substr(12 + key_len), 8);
  return true;
}

// --- KvLists: the directory.

void KvLists::Load(const store::Store& store) {
  std::call_once(loaded_, [&] {
    // Per (key, version), its lowest and highest position. (The keys come in no particular
    // order: the index file's in order, then the log's tail replayed into memory.)
    std::map<std::pair<std::string, uint64_t>, ListRange> seen;
    uint64_t total = 0;
    uint64_t top = 0;
    store.ForEachLive(
        [&](std::string_view ik, const store::Value&) {
          std::string_view key;
          uint64_t version = 0, position = 0;
          if (!ParseItemKey(ik, &key, &version, &position)) {
            return true;
          }
          auto [it, fresh] =
              seen.try_emplace({std::string(key), version}, ListRange{position, position + 1});
          if (!fresh) {
            it->second.head = std::min(it->second.head, position);
            it->second.tail = std::max(it->second.tail, position + 1);
          }
          top = std::max(top, version);
          ++total;
          return true;
        },
        kListPrefix);
    const int64_t now = std::chrono::duration_cast<std::chrono::milliseconds>(
                            std::chrono::system_clock::now().time_since_epoch())
                            .count();
    std::lock_guard lock(mu_);
    for (auto& [id, range] : seen) {
      Entry e;
      e.version = id.second;
      e.applied = e.view = range;
      if (HeaderLive(store, id.first, id.second, now, ValueType::kList)) {
        lists_[id.first] = e;
      } else {
        e.dead = true;
        gone_.emplace_back(id.first, e);
      }
    }
    total_.store(total, std::memory_order_relaxed);
    next_version_.store(top + 1, std::memory_order_relaxed);
    active_.store(total > 0, std::memory_order_relaxed);
  });
}

uint64_t KvLists::NextVersion() {
  active_.store(true, std::memory_order_relaxed);
  return next_version_.fetch_add(1, std::memory_order_relaxed);
}

KvLists::Entry* KvLists::Find(std::string_view key, uint64_t version) {
  if (auto it = lists_.find(key); it != lists_.end() && it->second.version == version) {
    return &it->second;
  }
  for (auto& [k, e] : gone_) {
    if (e.version == version && k == key) {
      return &e;
    }
  }
  return nullptr;
}

ListRange KvLists::Range(std::string_view key, uint64_t version, uint32_t loop) const {
  std::lock_guard lock(mu_);
  const Entry* e = const_cast<KvLists*>(this)->Find(key, version);
  if (e == nullptr) {
    return ListRange();
  }
  return e->owner == static_cast<int64_t>(loop) ? e->view : e->applied;
}

bool KvLists::Claim(std::string_view key, uint64_t version, uint32_t loop, ListRange* out) {
  std::lock_guard lock(mu_);
  auto it = lists_.find(key);
  if (it != lists_.end() && it->second.owner >= 0 &&
      it->second.owner != static_cast<int64_t>(loop)) {
    return false;  // another loop writes the list at this key (this version or another)
  }
  if (it == lists_.end()) {
    it = lists_.emplace(std::string(key), Entry()).first;
    it->second.version = version;
  } else if (it->second.version != version) {
    // The version the directory holds is not the one the header names now (as this loop sees
    // it): it is gone, and its items (once its writes are applied) are CollectDead's.
    Entry old = it->second;
    if (!old.applied.empty() || old.pending > 0) {
      old.dead = true;
      gone_.emplace_back(std::string(key), old);
    }
    it->second = Entry();
    it->second.version = version;
  }
  Entry& e = it->second;
  *out = e.owner == static_cast<int64_t>(loop) ? e.view : e.applied;
  if (e.owner < 0) {
    e.owner = loop;  // (until Wrote: the command's writes, or none)
    e.view = e.applied;
  }
  return true;
}

void KvLists::Wrote(std::string_view key, uint64_t version, uint32_t loop, ListRange range,
                    uint32_t writes) {
  std::lock_guard lock(mu_);
  Entry* e = Find(key, version);
  if (e == nullptr || e->owner != static_cast<int64_t>(loop)) {
    return;
  }
  if (writes > 0) {
    e->view = range;
    e->pending += writes;
  } else if (e->pending == 0) {
    e->owner = -1;  // a claim that wrote nothing
    e->view = e->applied;
  }
}

bool KvLists::Applied(std::string_view ik, bool deleted, uint32_t loop) {
  std::string_view key;
  uint64_t version = 0, position = 0;
  if (!ParseItemKey(ik, &key, &version, &position)) {
    return false;
  }
  std::lock_guard lock(mu_);
  Entry* e = Find(key, version);
  if (e == nullptr) {
    return false;
  }
  const bool background =
      e->dead && e->collected != 0 && position < e->collected && e->pending == 0;
  ListRange& a = e->applied;
  if (!deleted) {
    if (a.empty()) {
      a = {position, position + 1};
      total_.fetch_add(1, std::memory_order_relaxed);
    } else if (position < a.head || position >= a.tail) {
      // (Consecutive: a put outside the range is at its end, one step away.)
      a.head = std::min(a.head, position);
      a.tail = std::max(a.tail, position + 1);
      total_.fetch_add(1, std::memory_order_relaxed);
    }
  } else if (!a.empty() && (position == a.head || position + 1 == a.tail)) {
    if (position == a.head) {
      ++a.head;
    } else {
      --a.tail;
    }
    total_.fetch_sub(1, std::memory_order_relaxed);
    if (a.empty()) {
      a = ListRange();
    }
  }
  if (!background && e->owner == static_cast<int64_t>(loop) && e->pending > 0 &&
      --e->pending == 0) {
    e->owner = -1;
    e->view = a;
  }
  if (a.empty() && e->pending == 0) {
    // Nothing of it is left in the index, and nothing is on its way: forgotten.
    if (auto it = lists_.find(key); it != lists_.end() && &it->second == e) {
      lists_.erase(it);
    } else {
      for (size_t i = 0; i < gone_.size(); ++i) {
        if (&gone_[i].second == e) {
          gone_.erase(gone_.begin() + static_cast<std::ptrdiff_t>(i));
          break;
        }
      }
    }
  }
  return background;
}

void KvLists::Undo(std::string_view key, uint64_t version, uint32_t loop, ListRange before,
                   uint32_t writes) {
  std::lock_guard lock(mu_);
  Entry* e = Find(key, version);
  if (e == nullptr || e->owner != static_cast<int64_t>(loop)) {
    return;
  }
  e->view = before;
  e->pending -= std::min<uint64_t>(e->pending, writes);
  if (e->pending == 0) {
    e->owner = -1;
    e->view = e->applied;
  }
}

bool KvLists::Filled(std::string_view key, uint32_t loop) const {
  std::lock_guard lock(mu_);
  auto it = lists_.find(key);
  return it != lists_.end() && !it->second.applied.empty() &&
         (it->second.owner < 0 || it->second.owner == static_cast<int64_t>(loop));
}

bool KvLists::Busy(std::string_view key, uint32_t loop) const {
  std::lock_guard lock(mu_);
  auto it = lists_.find(key);
  return it != lists_.end() && it->second.owner >= 0 &&
         it->second.owner != static_cast<int64_t>(loop);
}

size_t KvLists::CollectDead(const store::Store& store, int64_t now_ms, size_t max,
                            std::vector<std::string>* out) {
  constexpr size_t kVisits = 256;  // lists looked at per call
  std::lock_guard lock(mu_);
  // Lists whose header is gone (deleted, replaced, expired) with nothing on its way: to gone_.
  auto it = lists_.upper_bound(cursor_);
  for (size_t visited = 0, n = std::min(kVisits, lists_.size()); visited < n; ++visited) {
    if (it == lists_.end()) {
      it = lists_.begin();
    }
    cursor_ = it->first;
    Entry& e = it->second;
    if (e.owner < 0 && e.pending == 0 &&
        !HeaderLive(store, it->first, e.version, now_ms, ValueType::kList)) {
      if (!e.applied.empty()) {
        e.dead = true;
        gone_.emplace_back(it->first, e);
      }
      it = lists_.erase(it);
    } else {
      ++it;
    }
  }
  size_t n = 0;
  for (size_t i = 0; i < gone_.size() && n < max; ++i) {
    auto& [key, e] = gone_[i];
    if (e.pending > 0) {
      continue;  // its last writes are on their way
    }
    if (HeaderLive(store, key, e.version, now_ms, ValueType::kList)) {
      // Taken for gone by a transaction that was dropped: it lives on.
      if (!lists_.contains(key)) {
        e.dead = false;
        lists_.emplace(key, e);
        gone_.erase(gone_.begin() + static_cast<std::ptrdiff_t>(i));
        --i;
      }
      continue;
    }
    std::string ik;
    // (Started once its last writes were applied: from its head on, in order, so that each
    // delete is applied at the head.)
    const uint64_t from = e.collected == 0 ? e.applied.head : std::max(e.collected, e.applied.head);
    for (uint64_t p = from; p < e.applied.tail && n < max; ++p) {
      std::string prefix;
      ItemPrefix(key, e.version, &prefix);
      ItemKey(prefix, p, &ik);
      out->push_back(ik);
      e.collected = p + 1;
      ++n;
    }
  }
  return n;
}

void KvLists::Release(std::string_view ik) {
  std::string_view key;
  uint64_t version = 0, position = 0;
  if (!ParseItemKey(ik, &key, &version, &position)) {
    return;
  }
  std::lock_guard lock(mu_);
  if (Entry* e = Find(key, version); e != nullptr && e->dead) {
    e->collected = e->collected == 0 ? 0 : std::min(e->collected, position);
  }
}

// --- The protocol's side: lists as this loop sees them.

std::string_view KvProtocol::ItemAt(std::string_view prefix, uint64_t position) {
  ItemKey(prefix, position, &item_key_);
  return item_key_;
}

int KvProtocol::ReadList(std::string_view key, bool count, ListRange* range) {
  HashHeader hh;
  const int had = TypedAt(key, ValueType::kList, &hh, count);
  if (had <= 0) {
    return had;
  }
  ItemPrefix(key, hh.version, &prefix_);
  *range = clients_.lists().Range(key, hh.version, loop_);
  return 1;
}

int KvProtocol::OpenArg(std::string_view absent, ListOp* op) {
  if (!KeyOk(1)) {
    return -1;
  }
  const int had = OpenList(ArgView(1, &tmp_key_), false, op);
  if (had == 0) {
    b_->AnswerText(cmd_.conn->id, absent, AnswerClass::kOk, cmd_.close);
  }
  return had;
}

int KvProtocol::OpenList(std::string_view key, bool create, ListOp* op) {
  op->SetKey(key);
  op->writes = 0;
  const int had = TypedAt(key, ValueType::kList, &op->header, /*count=*/false, &op->expire_ms);
  if (had < 0) {
    return -1;
  }
  op->exists = had == 1;
  if (!op->exists) {
    if (!create) {
      return 0;
    }
    op->header = HashHeader{clients_.lists().NextVersion(), 0};
    op->expire_ms = 0;
  }
  if (!clients_.lists().Claim(key, op->header.version, loop_, &op->range)) {
    // Another loop writes this list: the command waits (parked) until its writes are applied.
    if (in_exec_ || serving_) {
      Err(kListBusy);
    } else if (BlockState& bs = BlockOf(); bs.state == BlockState::kIdle) {
      bs.keys.assign(1, std::string(key));
      Block(0, /*owner_wait=*/true);
    } else {
      Block(bs.deadline_ms, bs.owner_wait);  // (a blocked pop run again: it waits on)
    }
    return -1;
  }
  if (!op->exists) {
    op->range = ListRange();
  }
  op->dir = &clients_.lists();  // (the claim ends with op: ~ListOp)
  op->loop = loop_;
  op->before = op->range;
  op->SetPrefix();
  return 1;
}

void KvProtocol::PushRoom(const ListOp& op, size_t i, uint64_t* buffers, uint64_t* log_bytes) {
  ArgRoom(op.prefix.size() + 8, i, buffers, log_bytes);
}

bool KvProtocol::PushArg(ListOp* op, size_t i, bool left) {
  const uint64_t pos = left ? op->range.head - 1 : op->range.tail;
  // PERSIST: none here. The item's record goes into the open batch (its bytes kept in the
  // receive buffers they arrived in), after the header when the list is new: durable with the
  // batch's one commit, or none (docs/invariants.md, rule 13).
  const store::WriteOutcome w = PutArg(ItemAt(op->prefix, pos), i, /*admitted=*/true);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  (left ? op->range.head : op->range.tail) = left ? pos : pos + 1;
  ++op->writes;
  return true;
}

bool KvProtocol::PushOwned(ListOp* op, Value v, bool left) {
  const uint64_t pos = left ? op->range.head - 1 : op->range.tail;
  const uint32_t length = v.length;
  const store::WriteOutcome w =
      b_->PutOwned(ItemAt(op->prefix, pos), std::move(v.extents), length, /*admitted=*/true);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  (left ? op->range.head : op->range.tail) = left ? pos : pos + 1;
  ++op->writes;
  return true;
}

uint64_t KvProtocol::PopRoom(const ListOp& op, uint64_t n) const {
  return n * b_->DeleteRoom(op.prefix.size() + 8) + b_->DeleteRoom(op.key.size());
}

bool KvProtocol::PopItem(ListOp* op, bool left, Value* v) {
  const uint64_t pos = left ? op->range.head : op->range.tail - 1;
  const std::string_view ik = ItemAt(op->prefix, pos);
  if (!b_->Lookup(ik, v)) {
    Err(b_->lookup_damaged() ? kDamaged : "ERR internal error: a list's item is missing");
    return false;
  }
  // PERSIST: none here. The item's delete goes into the open batch: the pop's answer leaves
  // after the batch's commit, so an item answered is never handed out again after a crash.
  if (const store::WriteOutcome w = b_->Delete(ik); w != store::WriteOutcome::kQueued) {
    b_->DropRefs(v->extents);
    Refused(w);
    return false;
  }
  (left ? op->range.head : op->range.tail) = left ? pos + 1 : pos;
  ++op->writes;
  return true;
}

void KvProtocol::ListOp::SetKey(std::string_view k) {
  std::memcpy(key_bytes, k.data(), k.size());  // (KeyOk: at most kMaxKeyLen)
  key = {key_bytes, k.size()};
}

void KvProtocol::ListOp::SetPrefix() {
  char* p = prefix_bytes;
  std::memcpy(p, kListPrefix.data(), kListPrefix.size());
  p += kListPrefix.size();
  *p++ = static_cast<char>(key.size() >> 8);
  *p++ = static_cast<char>(key.size() & 0xff);
  std::memcpy(p, key.data(), key.size());
  p += key.size();
  for (int i = 7; i >= 0; --i) {
    *p++ = static_cast<char>((header.version >> (8 * i)) & 0xff);
  }
  prefix = {prefix_bytes, static_cast<size_t>(p - prefix_bytes)};
}

KvProtocol::ListOp::~ListOp() {
  if (dir != nullptr) {
    dir->Wrote(key, header.version, loop, range, writes);  // (none: the claim ends)
  }
}

bool KvProtocol::FinishList(ListOp* op) {
  if (op->writes > 0 && in_exec_) {
    list_undo_.push_back({std::string(op->key), op->header.version, op->before, op->writes});
  }
  if (op->range.empty() && op->exists) {
    // A list left without items is gone, as in redis-server: its header goes in the same batch.
    if (const store::WriteOutcome w = b_->Delete(op->key); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return false;
    }
    op->exists = false;
  }
  return true;
}

void KvProtocol::AppendBulk(const Value& v, std::string* out) const {
  char head[32];
  out->append(head, resp::WriteBulkHeader(head, sizeof(head), v.length));
  for (const Extent& e : v.extents) {
    out->append(reinterpret_cast<const char*>(b_->pool().BufferData(e.buffer)) + e.offset,
                e.length);
  }
  *out += resp::kCrlf;
}

bool KvProtocol::ValueIs(const Value& v, std::string_view bytes) const {
  if (v.length != bytes.size()) {
    return false;
  }
  size_t at = 0;
  for (const Extent& e : v.extents) {
    if (std::memcmp(b_->pool().BufferData(e.buffer) + e.offset, bytes.data() + at, e.length) != 0) {
      return false;
    }
    at += e.length;
  }
  return true;
}

// --- Pushes and pops.

void KvProtocol::Push(bool left, bool only_existing) {
  if (!KeyOk(1)) {
    return;
  }
  ListOp op;
  const int had = OpenList(ArgView(1, &tmp_key_), !only_existing, &op);
  if (had <= 0) {
    if (had == 0) {
      Int(0);  // LPUSHX, RPUSHX of no list
    }
    return;
  }
  if (op.prefix.size() + 8 > kMaxKeyBytes) {
    Err("ERR list key longer than " + std::to_string(kMaxKeyBytes - kItemKeyOverhead) + " bytes");
    return;
  }
  // One admission for the header and every item: written whole or refused whole, in one batch.
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  if (!op.exists) {
    log_bytes += HeaderRoom(op.key.size(), &buffers);
  }
  for (size_t i = 2; i < cmd_.argc; ++i) {
    PushRoom(op, i, &buffers, &log_bytes);
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  if (!op.exists) {
    if (const store::WriteOutcome w = PutHeader(op.key, op.header, 0, ValueType::kList);
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    op.exists = true;
  }
  bool ok = true;
  for (size_t i = 2; i < cmd_.argc && ok; ++i) {
    ok = PushArg(&op, i, left);
  }
  if (!FinishList(&op) || !ok) {
    return;
  }
  KeyReady(op.key);
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(op.range.size()))});
}

void KvProtocol::LPush() {
  Push(true, false);
}
void KvProtocol::RPush() {
  Push(false, false);
}
void KvProtocol::LPushX() {
  Push(true, true);
}
void KvProtocol::RPushX() {
  Push(false, true);
}

void KvProtocol::Pop(bool left) {
  if (cmd_.argc > 3) {
    WrongArity();
    return;
  }
  const bool with_count = cmd_.argc == 3;
  int64_t count = 1;
  if (with_count && (!ParseInt64(ArgView(2, &tmp_), &count) || count < 0)) {
    Err("ERR value is out of range, must be positive");
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  ListOp op;
  const int had = OpenList(ArgView(1, &tmp_key_), false, &op);
  if (had <= 0) {
    if (had == 0) {
      b_->AnswerText(cmd_.conn->id, with_count ? kNullArray : resp::kNullBulk, AnswerClass::kOk,
                     cmd_.close);
    }
    return;
  }
  if (with_count && count == 0) {
    b_->AnswerText(cmd_.conn->id, "*0\r\n", AnswerClass::kOk, cmd_.close);
    return;
  }
  const uint64_t n = std::min<uint64_t>(static_cast<uint64_t>(count), op.range.size());
  if (const store::WriteOutcome w = b_->Deletable(PopRoom(op, n));
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  list_answer_.clear();
  if (with_count) {
    list_answer_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), n));
  }
  bool ok = true;
  for (uint64_t i = 0; i < n && ok; ++i) {
    Value v;
    ok = PopItem(&op, left, &v);
    if (ok) {
      AppendBulk(v, &list_answer_);
      b_->DropRefs(v.extents);
    }
  }
  if (FinishList(&op) && ok) {
    WriteOk(list_answer_);
  }
}

void KvProtocol::LPop() {
  Pop(true);
}
void KvProtocol::RPop() {
  Pop(false);
}

// --- Reads.

void KvProtocol::LLen() {
  if (!KeyOk(1)) {
    return;
  }
  ListRange r;
  if (ReadList(ArgView(1, &tmp_key_), /*count=*/true, &r) >= 0) {
    Int(static_cast<int64_t>(r.size()));
  }
}

void KvProtocol::LRange() {
  int64_t start = 0, stop = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &start) || !ParseInt64(ArgView(3, &tmp_), &stop)) {
    Err(kNotInteger);
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  ListRange r;
  const int had = ReadList(ArgView(1, &tmp_key_), /*count=*/true, &r);
  if (had <= 0) {
    if (had == 0) {
      ArrayHeader(0);
    }
    return;
  }
  const int64_t len = static_cast<int64_t>(r.size());
  start = std::max<int64_t>(FromEnd(start, len), 0);
  stop = std::min<int64_t>(FromEnd(stop, len), len - 1);
  values_.clear();
  for (int64_t i = start; i <= stop; ++i) {
    Value v;
    if (b_->Lookup(ItemAt(prefix_, r.head + static_cast<uint64_t>(i)), &v)) {
      values_.push_back(std::move(v));
    } else if (b_->lookup_damaged()) {
      for (Value& d : values_) {
        b_->DropRefs(d.extents);
      }
      Err(kDamaged);
      return;
    }
    // (Else another loop's pop is being applied: the item is gone already.)
  }
  ArrayHeader(values_.size());
  for (const Value& v : values_) {
    BulkValue(v);  // (takes over its references)
  }
}

void KvProtocol::LIndex() {
  if (!KeyOk(1)) {
    return;
  }
  ListRange r;
  const int had = ReadList(ArgView(1, &tmp_key_), /*count=*/true, &r);
  if (had <= 0) {
    if (had == 0) {
      Null();
    }
    return;
  }
  int64_t index = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &index)) {
    Err(kNotInteger);
    return;
  }
  const int64_t len = static_cast<int64_t>(r.size());
  index = FromEnd(index, len);
  Value v;
  if (index >= 0 && index < len &&
      b_->Lookup(ItemAt(prefix_, r.head + static_cast<uint64_t>(index)), &v)) {
    BulkValue(v);
  } else if (b_->lookup_damaged()) {
    Err(kDamaged);
  } else {
    Null();
  }
}

void KvProtocol::LPos() {
  // redis-server's lposCommand: the options first, then the key.
  int64_t rank = 1, count = -1, maxlen = 0;
  for (size_t i = 3; i < cmd_.argc; ++i) {
    const bool more = i + 1 < cmd_.argc;
    if (Is(i, "rank") && more) {
      if (!ParseInt64(ArgView(++i, &tmp_), &rank)) {
        Err(kNotInteger);
        return;
      }
      if (rank == 0) {
        Err("ERR RANK can't be zero: use 1 to start from the first match, 2 from the second ... "
            "or use negative to start from the end of the list");
        return;
      }
    } else if (Is(i, "count") && more) {
      if (!ParseInt64(ArgView(++i, &tmp_), &count) || count < 0) {
        Err("ERR COUNT can't be negative");
        return;
      }
    } else if (Is(i, "maxlen") && more) {
      if (!ParseInt64(ArgView(++i, &tmp_), &maxlen) || maxlen < 0) {
        Err("ERR MAXLEN can't be negative");
        return;
      }
    } else {
      Err(kSyntax);
      return;
    }
  }
  if (rank == INT64_MIN) {
    Err(kNotInteger);
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  ListRange r;
  const int had = ReadList(ArgView(1, &tmp_key_), /*count=*/true, &r);
  if (had <= 0) {
    if (had == 0) {
      if (count >= 0) {
        ArrayHeader(0);
      } else {
        Null();
      }
    }
    return;
  }
  const std::string element(ArgView(2, &tmp_));
  const bool from_tail = rank < 0;
  rank = std::abs(rank);
  const int64_t len = static_cast<int64_t>(r.size());
  positions_.clear();
  int64_t matches = 0;
  for (int64_t index = 0; index < len && (maxlen == 0 || index < maxlen); ++index) {
    const int64_t at = from_tail ? len - 1 - index : index;
    Value v;
    if (!b_->Lookup(ItemAt(prefix_, r.head + static_cast<uint64_t>(at)), &v)) {
      continue;
    }
    const bool match = ValueIs(v, element);
    b_->DropRefs(v.extents);
    if (match && ++matches >= rank) {
      positions_.push_back(static_cast<uint64_t>(at));
      if (count < 0 || (count > 0 && static_cast<int64_t>(positions_.size()) >= count)) {
        break;
      }
    }
  }
  if (count < 0) {
    if (positions_.empty()) {
      Null();
    } else {
      Int(static_cast<int64_t>(positions_[0]));
    }
    return;
  }
  ArrayHeader(positions_.size());
  for (const uint64_t p : positions_) {
    Int(static_cast<int64_t>(p));
  }
}

// --- Writes in the middle: LSET LINSERT LREM LTRIM.

void KvProtocol::LSet() {
  // redis-server's lsetCommand: the key first, then the index.
  if (!KeyOk(1)) {
    return;
  }
  ListOp op;
  const int had = OpenList(ArgView(1, &tmp_key_), false, &op);
  if (had <= 0) {
    if (had == 0) {
      Err("ERR no such key");
    }
    return;
  }
  int64_t index = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &index)) {
    Err(kNotInteger);
    return;
  }
  const int64_t len = static_cast<int64_t>(op.range.size());
  index = FromEnd(index, len);
  if (index < 0 || index >= len) {
    Err("ERR index out of range");
    return;
  }
  uint64_t buffers = 0, log_bytes = 0;
  PushRoom(op, 3, &buffers, &log_bytes);
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  const store::WriteOutcome w =
      PutArg(ItemAt(op.prefix, op.range.head + static_cast<uint64_t>(index)), 3, /*admitted=*/true);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  ++op.writes;
  if (FinishList(&op)) {
    WriteOk(resp::kOk);
  }
}

void KvProtocol::LInsert() {
  bool after = false;
  if (Is(2, "after")) {
    after = true;
  } else if (!Is(2, "before")) {
    Err(kSyntax);
    return;
  }
  ListOp op;
  if (OpenArg(":0\r\n", &op) <= 0) {
    return;
  }
  // The pivot's index.
  const std::string pivot(ArgView(3, &tmp_));
  const uint64_t len = op.range.size();
  uint64_t found = len;
  for (uint64_t i = 0; i < len && found == len; ++i) {
    Value v;
    if (!b_->Lookup(ItemAt(op.prefix, op.range.head + i), &v)) {
      Err(b_->lookup_damaged() ? kDamaged : "ERR internal error: a list's item is missing");
      return;
    }
    if (ValueIs(v, pivot)) {
      found = i;
    }
    b_->DropRefs(v.extents);
  }
  if (found == len) {
    Int(-1);
    return;
  }
  // The new item goes at index `at`; the items on the shorter side of it move one position out
  // (their records written again, their bytes shared), all in this batch.
  const uint64_t at = found + (after ? 1 : 0);
  const bool shift_left = at < len - at;
  const uint64_t first = shift_left ? 0 : at;  // the items that move: [first, last)
  const uint64_t last = shift_left ? at : len;
  values_.clear();
  uint64_t buffers = 0, log_bytes = 0;
  for (uint64_t i = first; i < last; ++i) {
    Value v;
    if (!b_->Lookup(ItemAt(op.prefix, op.range.head + i), &v)) {
      for (Value& d : values_) {
        b_->DropRefs(d.extents);
      }
      Err(kDamaged);
      return;
    }
    log_bytes += OwnedRecordRoom(*b_, op.prefix.size() + 8, v);
    values_.push_back(std::move(v));
  }
  PushRoom(op, 4, &buffers, &log_bytes);
  const auto drop = [&](size_t from) {
    for (size_t j = from; j < values_.size(); ++j) {
      b_->DropRefs(values_[j].extents);
    }
  };
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return;
  }
  // Moved outward from the end that grows, so that the applied range stays consecutive.
  const uint64_t base = op.range.head;
  for (size_t j = 0; j < values_.size(); ++j) {
    const size_t k = shift_left ? j : values_.size() - 1 - j;
    const uint64_t from = base + first + k;
    const uint64_t to = shift_left ? from - 1 : from + 1;
    const uint32_t length = values_[k].length;
    const store::WriteOutcome w =
        b_->PutOwned(ItemAt(op.prefix, to), std::move(values_[k].extents), length,
                     /*admitted=*/true);
    values_[k].extents.clear();
    if (w != store::WriteOutcome::kQueued) {
      drop(0);
      Refused(w);
      return;
    }
    ++op.writes;
  }
  if (shift_left) {
    --op.range.head;
  } else {
    ++op.range.tail;
  }
  const uint64_t target = shift_left ? base + at - 1 : base + at;
  const store::WriteOutcome w = PutArg(ItemAt(op.prefix, target), 4, /*admitted=*/true);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  ++op.writes;
  if (FinishList(&op)) {
    KeyReady(op.key);
    WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len + 1))});
  }
}

void KvProtocol::LRem() {
  int64_t count = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &count)) {
    Err(kNotInteger);
    return;
  }
  ListOp op;
  if (OpenArg(":0\r\n", &op) <= 0) {
    return;
  }
  const std::string element(ArgView(3, &tmp_));
  const uint64_t len = op.range.size();
  // The indexes removed (count > 0: the first ones, < 0: the last ones, 0: all).
  std::vector<bool> removed(len, false);
  uint64_t n = 0;
  const uint64_t limit = count == 0  ? len
                         : count < 0 ? uint64_t{0} - static_cast<uint64_t>(count)
                                     : static_cast<uint64_t>(count);
  for (uint64_t j = 0; j < len && n < limit; ++j) {
    const uint64_t i = count < 0 ? len - 1 - j : j;
    Value v;
    if (!b_->Lookup(ItemAt(op.prefix, op.range.head + i), &v)) {
      Err(b_->lookup_damaged() ? kDamaged : "ERR internal error: a list's item is missing");
      return;
    }
    if (ValueIs(v, element)) {
      removed[i] = true;
      ++n;
    }
    b_->DropRefs(v.extents);
  }
  if (n == 0) {
    Int(0);
    return;
  }
  // The items after the first removed one move toward the head over the gaps (their records
  // written again, their bytes shared); then the positions left over at the tail are deleted,
  // from the tail inward: one batch.
  const uint64_t first =
      static_cast<uint64_t>(std::find(removed.begin(), removed.end(), true) - removed.begin());
  values_.clear();
  uint64_t log_bytes = 0;
  for (uint64_t i = first; i < len; ++i) {
    if (removed[i]) {
      continue;
    }
    Value v;
    if (!b_->Lookup(ItemAt(op.prefix, op.range.head + i), &v)) {
      for (Value& d : values_) {
        b_->DropRefs(d.extents);
      }
      Err(kDamaged);
      return;
    }
    log_bytes += OwnedRecordRoom(*b_, op.prefix.size() + 8, v);
    values_.push_back(std::move(v));
  }
  log_bytes += PopRoom(op, n);
  const auto drop = [&](size_t from) {
    for (size_t j = from; j < values_.size(); ++j) {
      b_->DropRefs(values_[j].extents);
    }
  };
  if (const store::WriteOutcome w = b_->Admit(0, log_bytes); w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return;
  }
  for (size_t j = 0; j < values_.size(); ++j) {
    const uint32_t length = values_[j].length;
    const store::WriteOutcome w =
        b_->PutOwned(ItemAt(op.prefix, op.range.head + first + j), std::move(values_[j].extents),
                     length, /*admitted=*/true);
    values_[j].extents.clear();
    if (w != store::WriteOutcome::kQueued) {
      drop(j + 1);
      Refused(w);
      return;
    }
    ++op.writes;
  }
  for (uint64_t k = 0; k < n; ++k) {
    if (const store::WriteOutcome w = b_->Delete(ItemAt(op.prefix, op.range.tail - 1));
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    --op.range.tail;
    ++op.writes;
  }
  if (FinishList(&op)) {
    WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(n))});
  }
}

void KvProtocol::LTrim() {
  int64_t start = 0, stop = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &start) || !ParseInt64(ArgView(3, &tmp_), &stop)) {
    Err(kNotInteger);
    return;
  }
  ListOp op;
  if (OpenArg("+OK\r\n", &op) <= 0) {
    return;
  }
  const int64_t len = static_cast<int64_t>(op.range.size());
  start = std::max<int64_t>(FromEnd(start, len), 0);
  stop = FromEnd(stop, len);
  uint64_t ltrim = 0, rtrim = 0;
  if (start > stop || start >= len) {
    ltrim = static_cast<uint64_t>(len);  // everything goes
  } else {
    stop = std::min(stop, len - 1);
    ltrim = static_cast<uint64_t>(start);
    rtrim = static_cast<uint64_t>(len - stop - 1);
  }
  if (ltrim + rtrim == 0) {
    // Nothing trimmed is still a write of the list for its watchers (redis-server's LTRIM
    // signals the key whatever it removed).
    if (exec_locked_) {
      clients_.watches().TouchLocked(op.key, loop_, /*applied=*/false);  // (EXEC holds its lock)
    } else if (clients_.watches().any()) {
      clients_.watches().Touch(op.key, loop_, /*applied=*/false);
    }
    Simple("OK");
    return;
  }
  if (const store::WriteOutcome w = b_->Deletable(PopRoom(op, ltrim + rtrim));
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  // From each end inward.
  for (uint64_t k = 0; k < ltrim + rtrim; ++k) {
    const bool left = k < ltrim;
    const uint64_t pos = left ? op.range.head : op.range.tail - 1;
    if (const store::WriteOutcome w = b_->Delete(ItemAt(op.prefix, pos));
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    (left ? op.range.head : op.range.tail) = left ? pos + 1 : pos;
    ++op.writes;
  }
  if (FinishList(&op)) {
    WriteOk(resp::kOk);
  }
}

// --- LMOVE RPOPLPUSH.

int KvProtocol::Move(bool from_left, bool to_left, bool answer_empty) {
  if (!KeyOk(1) || !KeyOk(2)) {
    return -1;
  }
  const std::string from(ArgView(1, &tmp_key_));
  const std::string to(ArgView(2, &tmp_));
  ListOp src;
  const int had = OpenList(from, false, &src);
  if (had < 0) {
    return -1;
  }
  if (had == 0 || src.range.empty()) {
    if (answer_empty) {
      Null();
    }
    return 0;
  }
  const bool same = from == to;
  ListOp dst_op;
  ListOp& dst = same ? src : dst_op;
  if (!same) {
    const int dst_had = OpenList(to, true, &dst);
    if (dst_had < 0) {
      return -1;
    }
    if (dst.prefix.size() + 8 > kMaxKeyBytes) {
      Err("ERR list key longer than " + std::to_string(kMaxKeyBytes - kItemKeyOverhead) + " bytes");
      return -1;
    }
  }
  // Room: the pop (and the source's header when it empties), the push (its value's buffers are
  // shared: none new) and the destination's header when it is new.
  Value peek;
  if (!b_->Lookup(ItemAt(src.prefix, from_left ? src.range.head : src.range.tail - 1), &peek)) {
    Err(b_->lookup_damaged() ? kDamaged : "ERR internal error: a list's item is missing");
    return -1;
  }
  uint64_t buffers = 0;
  uint64_t log_bytes = PopRoom(src, 1) + OwnedRecordRoom(*b_, dst.prefix.size() + 8, peek);
  b_->DropRefs(peek.extents);
  if (!dst.exists) {
    log_bytes += HeaderRoom(to.size(), &buffers);
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return -1;
  }
  Value v;
  if (!PopItem(&src, from_left, &v)) {
    return -1;
  }
  list_answer_.clear();
  AppendBulk(v, &list_answer_);
  if (!dst.exists) {
    if (const store::WriteOutcome w = PutHeader(to, dst.header, 0, ValueType::kList);
        w != store::WriteOutcome::kQueued) {
      b_->DropRefs(v.extents);
      Refused(w);
      return -1;
    }
    dst.exists = true;
  }
  const bool pushed = PushOwned(&dst, std::move(v), to_left);
  if (!FinishList(&src) || (!same && !FinishList(&dst)) || !pushed) {
    return -1;
  }
  KeyReady(to);
  return 1;
}

namespace {
// LMOVE's LEFT or RIGHT: 1 left, 0 right, -1 neither.
int Direction(std::string_view s) {
  return resp::EqualsIgnoreCase(s, "left") ? 1 : resp::EqualsIgnoreCase(s, "right") ? 0 : -1;
}
}  // namespace

void KvProtocol::LMove() {
  const int from = Direction(ArgView(3, &tmp_));
  const int to = from < 0 ? -1 : Direction(ArgView(4, &tmp_));
  if (from < 0 || to < 0) {
    Err(kSyntax);
    return;
  }
  if (Move(from == 1, to == 1, true) == 1) {
    WriteOk(list_answer_);
  }
}

void KvProtocol::RPopLPush() {
  if (Move(false, true, true) == 1) {
    WriteOk(list_answer_);
  }
}

// --- RENAME and COPY of a list.

bool KvProtocol::CopyList(std::string_view from, Value header_value, std::string_view to,
                          bool delete_from) {
  HashHeader header;
  const bool ok = ReadHeader(b_->pool(), header_value, &header, ValueType::kList);
  const int64_t expire_ms = header_value.expire_ms;
  b_->DropRefs(header_value.extents);
  if (!ok) {
    Err(kDamaged);
    return false;
  }
  ListOp dst;
  dst.SetKey(to);
  dst.header = HashHeader{clients_.lists().NextVersion(), 0};
  if (!clients_.lists().Claim(to, dst.header.version, loop_, &dst.range)) {
    Err(kListBusy);
    return false;
  }
  dst.dir = &clients_.lists();
  dst.loop = loop_;
  dst.SetPrefix();
  if (dst.prefix.size() + 8 > kMaxKeyBytes) {
    Err("ERR list key longer than " + std::to_string(kMaxKeyBytes - kItemKeyOverhead) + " bytes");
    return false;
  }
  std::string from_prefix;
  ItemPrefix(from, header.version, &from_prefix);
  const ListRange r = clients_.lists().Range(from, header.version, loop_);
  // The copy is a new list (a new version) whose items share the source's buffers, at the same
  // positions.
  values_.clear();
  uint64_t buffers = 0;
  uint64_t log_bytes =
      HeaderRoom(to.size(), &buffers) + (delete_from ? b_->DeleteRoom(from.size()) : 0);
  for (uint64_t p = r.head; p < r.tail; ++p) {
    Value v;
    if (!b_->Lookup(ItemAt(from_prefix, p), &v)) {
      for (Value& d : values_) {
        b_->DropRefs(d.extents);
      }
      Err(b_->lookup_damaged() ? kDamaged : "ERR internal error: a list's item is missing");
      return false;
    }
    log_bytes += OwnedRecordRoom(*b_, dst.prefix.size() + 8, v);
    values_.push_back(std::move(v));
  }
  const auto drop = [&](size_t from_i) {
    for (size_t j = from_i; j < values_.size(); ++j) {
      b_->DropRefs(values_[j].extents);
    }
  };
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return false;
  }
  if (const store::WriteOutcome w = PutHeader(to, dst.header, expire_ms, ValueType::kList);
      w != store::WriteOutcome::kQueued) {
    drop(0);
    Refused(w);
    return false;
  }
  dst.exists = true;
  dst.range = {r.head, r.head};
  dst.before = ListRange();
  for (size_t j = 0; j < values_.size(); ++j) {
    const uint32_t length = values_[j].length;
    const store::WriteOutcome w =
        b_->PutOwned(ItemAt(dst.prefix, dst.range.tail), std::move(values_[j].extents), length,
                     /*admitted=*/true);
    values_[j].extents.clear();
    if (w != store::WriteOutcome::kQueued) {
      drop(j + 1);
      Refused(w);
      return false;
    }
    ++dst.range.tail;
    ++dst.writes;
  }
  if (!FinishList(&dst)) {
    return false;
  }
  if (delete_from) {
    if (const store::WriteOutcome w = b_->Delete(from); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return false;
    }
  }
  KeyReady(to);
  return true;
}

// --- Blocking pops.

bool KvProtocol::TimeoutArg(size_t i, int64_t* deadline_ms) {
  // redis-server's getTimeoutFromObjectOrReply, in seconds.
  long double seconds = 0;
  if (!ParseLongDouble(ArgView(i, &tmp_), &seconds) || std::isnan(seconds)) {
    Err("ERR timeout is not a float or out of range");
    return false;
  }
  const long double ms = seconds * 1000.0L;
  if (ms >= static_cast<long double>(INT64_MAX)) {
    // (redis-server 7.0 converts it to a long long, which turns it negative.)
    Err("ERR timeout is negative");
    return false;
  }
  const int64_t t = static_cast<int64_t>(std::ceil(ms));
  if (t < 0) {
    Err("ERR timeout is negative");
    return false;
  }
  if (t > 0 && t > INT64_MAX - turn_ms_) {
    Err("ERR timeout is out of range");
    return false;
  }
  *deadline_ms = t == 0 ? 0 : turn_ms_ + t;
  return true;
}

BlockState& KvProtocol::BlockOf() {
  KvConnState& st = ConnState();
  if (st.block == nullptr) {
    st.block = new BlockState();  // (once per connection that blocks; freed in OnClose)
    st.block->conn = cmd_.conn->id;
    st.block->client = st.client;
  }
  return *st.block;
}

void KvProtocol::Block(int64_t deadline_ms, bool owner_wait) {
  BlockState& bs = BlockOf();
  park_ = true;
  if (bs.state == BlockState::kIdle) {
    bs.seq = ++block_seq_;
    bs.deadline_ms = deadline_ms;
    bs.owner_wait = owner_wait;
    blocked_.push_back(&bs);
    if (!owner_wait) {
      clients_.lists().blocked().fetch_add(1, std::memory_order_relaxed);
      if (bs.client != nullptr) {
        bs.client->blocked.store(true, std::memory_order_relaxed);
      }
    }
  }
  bs.state = BlockState::kWaiting;
}

void KvProtocol::Unblock(BlockState& bs) {
  if (bs.state == BlockState::kIdle) {
    return;
  }
  if (auto it = std::find(blocked_.begin(), blocked_.end(), &bs); it != blocked_.end()) {
    blocked_.erase(it);
    if (!bs.owner_wait) {
      clients_.lists().blocked().fetch_sub(1, std::memory_order_relaxed);
    }
  }
  if (bs.client != nullptr) {
    bs.client->blocked.store(false, std::memory_order_relaxed);
    bs.client->unblock.store(0, std::memory_order_relaxed);
  }
  bs.state = BlockState::kIdle;
  bs.owner_wait = false;
  bs.forced = 0;
}

bool KvProtocol::EndedByUnblock(BlockState* waiting) {
  if (waiting == nullptr || waiting->forced == 0) {
    return false;
  }
  const uint8_t how = waiting->forced;
  Unblock(*waiting);
  if (how == 2) {
    Err("UNBLOCKED client unblocked via CLIENT UNBLOCK");
  } else {
    b_->AnswerText(cmd_.conn->id, kNullArray, AnswerClass::kOk, cmd_.close);
  }
  return true;
}

void KvProtocol::BlockingPop(bool left) {
  int64_t deadline = 0;
  BlockState* waiting = nullptr;
  if (!StartWait(cmd_.argc - 1, &deadline, &waiting)) {
    return;
  }
  for (size_t i = 1; i + 1 < cmd_.argc; ++i) {
    if (!KeyOk(i)) {
      return;
    }
    ListOp op;
    const int had = OpenList(ArgView(i, &tmp_key_), false, &op);
    if (had < 0) {
      if (waiting != nullptr && !park_) {
        Unblock(*waiting);  // answered (WRONGTYPE...)
      }
      return;
    }
    if (had == 0 || op.range.empty()) {
      continue;
    }
    if (const store::WriteOutcome w = b_->Deletable(PopRoom(op, 1));
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    Value v;
    if (!PopItem(&op, left, &v)) {
      return;
    }
    list_answer_.assign("*2\r\n");
    list_answer_.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), op.key.size()));
    list_answer_ += op.key;
    list_answer_ += resp::kCrlf;
    AppendBulk(v, &list_answer_);
    b_->DropRefs(v.extents);
    if (!FinishList(&op)) {
      return;
    }
    if (waiting != nullptr) {
      Unblock(*waiting);
    }
    WriteOk(list_answer_);
    return;
  }
  WaitForKeys(waiting, deadline, left, /*zset=*/false);
}

bool KvProtocol::StartWait(size_t timeout_arg, int64_t* deadline, BlockState** waiting) {
  if (!TimeoutArg(timeout_arg, deadline)) {
    return false;
  }
  *waiting = ConnState().block;
  if (*waiting != nullptr && (*waiting)->state == BlockState::kIdle) {
    *waiting = nullptr;  // a new wait, not this one run again
  }
  return !EndedByUnblock(*waiting);
}

void KvProtocol::WaitForKeys(BlockState* waiting, int64_t deadline, bool left, bool zset) {
  const MultiState* m = ConnState().multi;
  if (in_exec_ || (m != nullptr && m->active)) {
    b_->AnswerText(cmd_.conn->id, kNullArray, AnswerClass::kOk, cmd_.close);
    return;
  }
  if (waiting != nullptr && waiting->deadline_ms != 0 && turn_ms_ >= waiting->deadline_ms) {
    Unblock(*waiting);
    b_->AnswerText(cmd_.conn->id, kNullArray, AnswerClass::kOk, cmd_.close);
    return;
  }
  BlockState& bs = BlockOf();
  if (waiting == nullptr) {
    bs.keys.clear();
    for (size_t i = 1; i + 1 < cmd_.argc; ++i) {
      bs.keys.emplace_back(ArgView(i, &tmp_));
    }
    bs.left = left;
    bs.move = false;
    bs.zset = zset;
  }
  Block(waiting != nullptr ? waiting->deadline_ms : deadline, /*owner_wait=*/false);
}

void KvProtocol::BLPop() {
  BlockingPop(true);
}
void KvProtocol::BRPop() {
  BlockingPop(false);
}

void KvProtocol::BlockingMove(bool from_left, bool to_left, size_t timeout_arg) {
  int64_t deadline = 0;
  BlockState* waiting = nullptr;
  if (!StartWait(timeout_arg, &deadline, &waiting)) {
    return;
  }
  const int moved = Move(from_left, to_left, /*answer_empty=*/false);
  if (moved != 0) {
    if (waiting != nullptr && !park_) {
      Unblock(*waiting);
    }
    if (moved == 1) {
      WriteOk(list_answer_);
    }
    return;
  }
  const MultiState* m = ConnState().multi;
  if (in_exec_ || (m != nullptr && m->active)) {
    Null();  // (redis-server: a nil bulk inside a transaction)
    return;
  }
  if (waiting != nullptr && waiting->deadline_ms != 0 && turn_ms_ >= waiting->deadline_ms) {
    Unblock(*waiting);
    b_->AnswerText(cmd_.conn->id, kNullArray, AnswerClass::kOk, cmd_.close);
    return;
  }
  BlockState& bs = BlockOf();
  if (waiting == nullptr) {
    bs.keys.assign(1, std::string(ArgView(1, &tmp_)));
    bs.left = from_left;
    bs.move = true;
    bs.zset = false;
    bs.to_left = to_left;
    bs.dest.assign(ArgView(2, &tmp_));
  }
  Block(waiting != nullptr ? waiting->deadline_ms : deadline, /*owner_wait=*/false);
}

void KvProtocol::BLMove() {
  const int from = Direction(ArgView(3, &tmp_));
  const int to = from < 0 ? -1 : Direction(ArgView(4, &tmp_));
  if (from < 0 || to < 0) {
    Err(kSyntax);
    return;
  }
  BlockingMove(from == 1, to == 1, 5);
}

void KvProtocol::BRPopLPush() {
  BlockingMove(false, true, 3);
}

// --- Serving blocked clients.

void KvProtocol::KeyReady(std::string_view key) {
  if (!blocked_.empty()) {
    ready_.emplace_back(key);  // (a key twice is looked at twice: nothing more)
  }
}

void KvProtocol::ServeReady() {
  // As redis-server's handleClientsBlockedOnKeys: each key pushed, in order, serves the clients
  // blocked on it in the order they blocked while it has items; a served BLMOVE's push makes its
  // destination ready in turn. What the pops and pushes write changes their keys for WATCH.
  const size_t written = b_->pending_writes();
  for (size_t r = 0; r < ready_.size() && !blocked_.empty(); ++r) {
    const std::string key = ready_[r];
    for (size_t i = 0; i < blocked_.size();) {
      BlockState& bs = *blocked_[i];
      if (bs.owner_wait || bs.state != BlockState::kWaiting ||
          std::find(bs.keys.begin(), bs.keys.end(), key) == bs.keys.end()) {
        ++i;
        continue;
      }
      if (bs.zset) {
        // (A sorted set's waiter, served only when the key holds a sorted set; one that cannot
        // be served here is woken to run its command itself.)
        serving_ = true;
        HashHeader hh;
        const int had = ZsetAt(key, /*count=*/false, &hh);
        serving_ = false;
        if (had <= 0) {
          ++i;
          continue;
        }
        if (!ServeZset(bs, key)) {
          ++i;
        }
        continue;
      }
      ListRange range;
      serving_ = true;  // (nothing answered to the running command: Err)
      const int had = ReadList(key, /*count=*/false, &range);
      serving_ = false;
      if (had <= 0 || range.empty()) {
        ++i;  // (a sorted set's waiter after it may be served)
        continue;
      }
      if (!Serve(bs, key)) {
        ++i;  // woken to run its command itself
      }
      // (Served: it left blocked_, and blocked_[i] is the next one.)
    }
  }
  ready_.clear();
  if (b_->pending_writes() != written && clients_.watches().any()) {
    TouchWritten(written, /*locked=*/false);
  }
}

bool KvProtocol::Serve(BlockState& bs, std::string_view key) {
  // The pop as the blocked client's command would run it, answered to its connection. A pop
  // that cannot be run here (the log needs room first, a refusal to answer) is left to the
  // client's own command: its connection is woken to run it again.
  const auto retry = [&] {
    bs.state = BlockState::kRetry;
    b_->Wake(bs.conn);
    return false;
  };
  serving_ = true;  // (errors on the way are not answered: Err; the client is woken instead)
  ListOp src;
  bool ok = OpenList(key, false, &src) == 1 && !src.range.empty();
  ListOp dst;
  const bool same = bs.move && bs.dest == key;
  if (ok && bs.move && !same) {
    ok = OpenList(bs.dest, true, &dst) == 1;
  }
  Value peek;
  ok = ok && b_->Lookup(ItemAt(src.prefix, bs.left ? src.range.head : src.range.tail - 1), &peek);
  uint64_t log_bytes = PopRoom(src, 1);
  if (ok) {
    if (bs.move) {
      uint64_t unused = 0;
      log_bytes += OwnedRecordRoom(*b_, (same ? src : dst).prefix.size() + 8, peek) +
                   (same || dst.exists ? 0 : HeaderRoom(bs.dest.size(), &unused));
    }
    b_->DropRefs(peek.extents);
  }
  const uint64_t buffers = bs.move && !same && !dst.exists ? 2 : 0;
  if (!ok || !b_->LogHasRoom(log_bytes) ||
      b_->Admit(buffers, log_bytes) != store::WriteOutcome::kQueued) {
    serving_ = false;
    return retry();
  }
  Value v;
  ok = PopItem(&src, bs.left, &v);
  std::string answer;
  if (ok) {
    if (!bs.move) {
      answer.assign("*2\r\n");
      answer.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), key.size()));
      answer += key;
      answer += resp::kCrlf;
    }
    AppendBulk(v, &answer);
    if (bs.move) {
      ListOp& d = same ? src : dst;
      if (!d.exists) {
        ok = PutHeader(bs.dest, d.header, 0, ValueType::kList) == store::WriteOutcome::kQueued;
        d.exists = ok;
      }
      ok = ok && PushOwned(&d, std::move(v), bs.to_left);
    } else {
      b_->DropRefs(v.extents);
    }
  }
  ok = FinishList(&src) && ok;
  if (bs.move && !same) {
    ok = FinishList(&dst) && ok;
  }
  serving_ = false;
  if (!ok) {
    // (Only an internal failure after the room was checked: the client's answer says so.)
    b_->AnswerWrite(bs.conn, "-ERR internal error\r\n", kFailed, false);
  } else {
    b_->AnswerWrite(bs.conn, answer, kFailed, false);
    if (bs.move) {
      KeyReady(bs.dest);
    }
  }
  Unblock(bs);
  bs.state = BlockState::kServed;
  b_->Wake(bs.conn);
  return true;
}

}  // namespace pastel::kv
