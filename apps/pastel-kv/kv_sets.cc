// pastel-kv's set commands: SADD SREM SMEMBERS SISMEMBER SMISMEMBER SCARD SPOP SRANDMEMBER SMOVE
// SINTER SUNION SDIFF and their STORE forms, SINTERCARD, SSCAN.
//
// A set is laid over the store as a hash is (kv_hashes.h, docs/formats/kv-set.md): a header at its
// key (ValueType::kSet: the version, and kHashBig once redis-server would say "hashtable"), and one
// field key per member, FF FF | key length | key | version | member, whose value is empty. The
// directory of fields (KvHashes) holds the members, so SCARD is O(1) and SMEMBERS reads no index
// range; a member's write is one record; DEL, RENAME and expiry change the header only, and the
// members of a set that is gone are deleted in the background with the hashes' fields.

#include <algorithm>
#include <random>

#include "kv_hashes.h"
#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

namespace {

// redis-server 7.0's intset: members that are all integers (string2ll: no sign but '-', no
// leading zeros, fits 64 bits), at most set-max-intset-entries of them.
inline constexpr size_t kIntsetEntries = 512;

bool IntsetMember(std::string_view m) {
  int64_t v = 0;
  return ParseInt64(m, &v);
}

}  // namespace

int KvProtocol::SetAt(std::string_view key, bool count, HashHeader* hh, int64_t* expire_ms) {
  return TypedAt(key, ValueType::kSet, hh, count, expire_ms);
}

bool KvProtocol::SetMembers(std::string_view key, bool count, int* had, NameList* out) {
  out->clear();
  HashHeader hh;
  *had = SetAt(key, count, &hh);
  if (*had < 0) {
    return false;
  }
  if (*had == 1) {
    HashFields(Prefix(key, hh.version), out);
  }
  return true;
}

uint64_t KvProtocol::MemberRoom(size_t prefix_len, size_t member_len) const {
  return b_->RecordRoom(prefix_len + member_len, 0, 0);
}

store::WriteOutcome KvProtocol::PutMember(std::string_view prefix, std::string_view member) {
  // PERSIST: none here. The member's record (an empty value) goes into the open batch, after its
  // set's header when the set is new: durable with the batch's one commit, or none (rule 12).
  return b_->PutOwned(FieldKey(prefix, member), Extents(), 0, /*admitted=*/true);
}

// --- Writes.

void KvProtocol::SAdd() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  for (size_t i = 2; i < cmd_.argc; ++i) {
    if (!FieldKeyOk(key.size(), args_[i].length)) {
      return;
    }
  }
  HashHeader hh;
  int64_t expire_ms = 0;
  const int had = SetAt(key, /*count=*/false, &hh, &expire_ms);
  if (had < 0) {
    return;
  }
  const bool create = had == 0;
  if (create) {
    hh.version = clients_.hashes().NextVersion();
  }
  const std::string& prefix = Prefix(key, hh.version);
  bool big = false;  // a member that is not an integer: redis-server's hashtable
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    big = big || !IntsetMember(ArgView(i, &tmp_));
    log_bytes += MemberRoom(prefix.size(), args_[i].length);
  }
  if (!AdmitComposite(key, create, big, ValueType::kSet, &hh, buffers, log_bytes)) {
    return;
  }
  int64_t added = 0;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    // (Exists sees this command's own earlier writes: a member named twice is added once. A
    // member there already is not written: redis-server leaves the set, and its watchers, alone.)
    const std::string_view member = ArgView(i, &tmp_);
    if (b_->Exists(FieldKey(prefix, member))) {
      continue;
    }
    if (const store::WriteOutcome w = PutMember(prefix, member);
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    ++added;
  }
  if (added == 0) {
    Int(0);
    return;
  }
  if (MarkBig(key, prefix, &hh, expire_ms, big, ValueType::kSet)) {
    WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), added)});
  }
}

// Deletes `members` of the set (prefix) at `key`, and its header when none is left. Returns
// how many were there, or -1 once answered (refused).
int64_t KvProtocol::RemoveMembers(std::string_view key, std::string_view prefix,
                                  std::span<const std::string> members, int emptied) {
  uint64_t log_bytes = b_->DeleteRoom(key.size());
  for (const std::string& m : members) {
    log_bytes += b_->DeleteRoom(prefix.size() + m.size());
  }
  if (const store::WriteOutcome w = b_->Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return -1;
  }
  int64_t n = 0;
  for (const std::string& m : members) {
    if (prefix.size() + m.size() > kMaxKeyBytes || !b_->Exists(FieldKey(prefix, m))) {
      continue;
    }
    if (const store::WriteOutcome w = b_->Delete(field_key_); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return -1;
    }
    ++n;
  }
  if (n > 0 && (emptied < 0 ? HashLen(prefix) == 0 : emptied == 1)) {
    // A set left without members is gone, as in redis-server: its header goes in the same batch.
    if (const store::WriteOutcome w = b_->Delete(key); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return -1;
    }
  }
  return n;
}

void KvProtocol::SRem() {
  RemoveArgs(ValueType::kSet);
}

void KvProtocol::RemoveArgs(ValueType type) {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = TypedAt(key, type, &hh, /*count=*/false);
  if (had <= 0) {
    if (had == 0) {
      Int(0);
    }
    return;
  }
  members_.clear();
  for (size_t i = 2; i < cmd_.argc; ++i) {
    members_.push_back(ArgView(i, &tmp_));
  }
  RemoveAnswer(key, hh, type);
}

void KvProtocol::RemoveAnswer(std::string_view key, const HashHeader& hh, ValueType type) {
  const int64_t n = RemoveMembers(key, Prefix(key, hh.version, type), members_);
  if (n == 0) {
    Int(0);
  } else if (n > 0) {
    WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), n)});
  }
}

void KvProtocol::SPop() {
  if (cmd_.argc > 3) {
    Err(kSyntax);
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
  // (Copies kept from command to command: tmp_key_ and prefix_ serve the calls below.)
  const std::string& key = pop_key_.assign(ArgView(1, &tmp_key_));
  HashHeader hh;
  int64_t expire_ms = 0;
  const int had = SetAt(key, /*count=*/false, &hh, &expire_ms);
  if (had <= 0) {
    if (had == 0) {
      b_->AnswerText(cmd_.conn->id, with_count ? "*0\r\n" : resp::kNullBulk, AnswerClass::kOk,
                     cmd_.close);
    }
    return;
  }
  if (with_count && count == 0) {
    b_->AnswerText(cmd_.conn->id, "*0\r\n", AnswerClass::kOk, cmd_.close);
    return;
  }
  const std::string& prefix = pop_prefix_.assign(Prefix(key, hh.version));
  thread_local std::minstd_rand rng(std::random_device{}());
  if (count == 1 && SPopOne(key, prefix, with_count)) {
    return;
  }
  NameList& all = names_;
  HashFields(prefix, &all);
  members_.assign(all.begin(), all.end());
  const uint64_t size = members_.size();
  if (static_cast<uint64_t>(count) < size) {
    std::shuffle(members_.begin(), members_.end(), rng);
    members_.resize(static_cast<size_t>(count));
  } else if (with_count) {
    CountRead(true);  // (redis-server answers it through SUNION's read: a keyspace hit)
  }
  // redis-server's spopWithCountCommand, when what stays is small ((size - count) * 5 <= count),
  // builds a new set of it: an intset again when its members are all integers.
  bool rebuilt_small = false;
  if (with_count && static_cast<uint64_t>(count) < size &&
      (size - static_cast<uint64_t>(count)) * 5 <= static_cast<uint64_t>(count) &&
      (hh.flags & kHashBig) != 0) {
    rebuilt_small = true;
    for (const std::string_view m : all) {
      if (std::find(members_.begin(), members_.end(), m) == members_.end() && !IntsetMember(m)) {
        rebuilt_small = false;
        break;
      }
    }
  }
  if (RemoveMembers(key, prefix, members_) < 0) {
    return;
  }
  if (rebuilt_small) {
    hh.flags &= ~kHashBig;
    uint64_t buffers = 0;
    const uint64_t log_bytes = HeaderRoom(key.size(), &buffers);
    store::WriteOutcome w = b_->Admit(buffers, log_bytes);
    if (w == store::WriteOutcome::kQueued) {
      w = PutHeader(key, hh, expire_ms, ValueType::kSet);
    }
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  std::string& answer = list_answer_;
  answer.clear();
  if (with_count) {
    answer.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), members_.size()));
  }
  for (const std::string& m : members_) {
    answer.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), m.size()));
    answer += m;
    answer += resp::kCrlf;
  }
  WriteOk(answer);
}

void KvProtocol::CatchUp(PopView* view, std::string_view prefix) {
  PopView& v = *view;
  if (v.prefix != prefix || v.epoch != b_->pending_epoch() || v.seen > b_->pending_all()) {
    v.prefix.assign(prefix);
    v.epoch = b_->pending_epoch();
    v.seen = 0;
    v.fields = 0;
    v.added = false;
    v.taken.Clear();
    v.stamp = 0;
    v.low = 0;
    v.high = 0;
  }
  b_->VisitPendingFrom(v.seen, [&](std::string_view k, const Value& w) {
    if (k.starts_with(prefix)) {
      ++v.fields;
      if (w.deleted) {
        v.taken.Insert(k.substr(prefix.size()));
      } else {
        v.added = true;
      }
    }
  });
  v.seen = b_->pending_all();
}

bool KvProtocol::SPopOne(std::string_view key, std::string_view prefix, bool with_count) {
  // One random member without copying the set: a random slot of the directory's table, skipping
  // the members this loop deleted and has not applied yet (a pipeline of pops: those the pops
  // before it took). Not taken (false, nothing answered) when this loop wrote members of the set
  // that are not applied yet (they must be candidates too), or when fewer than two are left
  // (SPOP's whole-set path answers that). With deletes only, each of a member the directory
  // holds, the set's size is the directory's count less them.
  // The writes of the set not applied yet, as the last pop left them plus those queued since (a
  // pipeline of pops visits each pending write once, not once per pop).
  PopView& sv = spop_;
  CatchUp(&sv, prefix);
  if (sv.added || clients_.hashes().Count(prefix) < sv.fields + 2) {
    return false;
  }
  thread_local std::minstd_rand seeds(std::random_device{}());
  std::string pick;
  const bool found = clients_.hashes().RandomField(
      prefix, seeds(), [&](std::string_view m) { return sv.taken.Contains(m); }, &pick);
  if (!found) {
    return false;
  }
  members_.clear();
  members_.push_back(pick);
  if (RemoveMembers(key, prefix, members_, /*emptied=*/0) < 0) {
    return true;
  }
  std::string& answer = list_answer_;
  answer.assign(with_count ? "*1\r\n" : "");
  answer.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), pick.size()));
  answer += pick;
  answer += resp::kCrlf;
  WriteOk(answer);
  return true;
}

void KvProtocol::SMove() {
  if (!KeyOk(1) || !KeyOk(2)) {
    return;
  }
  const std::string from(ArgView(1, &tmp_key_));
  const std::string to(ArgView(2, &tmp_key_));
  const std::string member(ArgView(3, &tmp_));
  // redis-server's smoveCommand: both keys looked up, the source's absence first, then both
  // types.
  HashHeader src, dst;
  Value v;
  const bool src_found = b_->Lookup(from, &v);
  b_->DropRefs(v.extents);
  if (!src_found) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
    } else {
      Int(0);
    }
    return;
  }
  if (SetAt(from, false, &src) < 0) {
    return;
  }
  int64_t dst_expire = 0;
  const int dst_had = SetAt(to, false, &dst, &dst_expire);
  if (dst_had < 0) {
    return;
  }
  if (!FieldKeyOk(to.size(), member.size())) {
    return;
  }
  const std::string src_prefix = Prefix(from, src.version);
  if (from == to) {
    Int(src_prefix.size() + member.size() <= kMaxKeyBytes &&
                b_->Exists(FieldKey(src_prefix, member))
            ? 1
            : 0);
    return;
  }
  if (src_prefix.size() + member.size() > kMaxKeyBytes ||
      !b_->Exists(FieldKey(src_prefix, member))) {
    Int(0);
    return;
  }
  const bool create = dst_had == 0;
  if (create) {
    dst.version = clients_.hashes().NextVersion();
  }
  const std::string dst_prefix = Prefix(to, dst.version);
  uint64_t buffers = 0;
  uint64_t log_bytes = b_->DeleteRoom(src_prefix.size() + member.size()) +
                       b_->DeleteRoom(from.size()) + MemberRoom(dst_prefix.size(), member.size());
  if (create) {
    log_bytes += HeaderRoom(to.size(), &buffers);
  }
  if ((dst.flags & kHashBig) == 0) {
    log_bytes += HeaderRoom(to.size(), &buffers);
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  members_.clear();
  members_.push_back(member);
  if (RemoveMembers(from, src_prefix, members_) < 0) {
    return;
  }
  const bool big = !IntsetMember(member);
  if (create) {
    dst.flags |= big ? kHashBig : 0;
    if (const store::WriteOutcome w = PutHeader(to, dst, 0, ValueType::kSet);
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  if (!b_->Exists(FieldKey(dst_prefix, member))) {
    if (const store::WriteOutcome w = PutMember(dst_prefix, member);
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  if (MarkBig(to, dst_prefix, &dst, dst_expire, big, ValueType::kSet)) {
    WriteOk(":1\r\n");
  }
}

// --- Reads.

void KvProtocol::SCard() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = SetAt(key, /*count=*/true, &hh);
  if (had >= 0) {
    Int(had == 0 ? 0 : static_cast<int64_t>(HashLen(Prefix(key, hh.version))));
  }
}

void KvProtocol::SIsMember() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = SetAt(key, /*count=*/true, &hh);
  if (had < 0) {
    return;
  }
  Int(had == 1 && key.size() + args_[2].length + kFieldKeyOverhead <= kMaxKeyBytes &&
              b_->Exists(FieldKey(Prefix(key, hh.version), ArgView(2, &tmp_)))
          ? 1
          : 0);
}

void KvProtocol::SMIsMember() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = SetAt(key, /*count=*/true, &hh);
  if (had < 0) {
    return;
  }
  const std::string_view prefix = had == 1 ? Prefix(key, hh.version) : std::string_view();
  ArrayHeader(cmd_.argc - 2);
  for (size_t i = 2; i < cmd_.argc; ++i) {
    Int(had == 1 && prefix.size() + args_[i].length <= kMaxKeyBytes &&
                b_->Exists(FieldKey(prefix, ArgView(i, &tmp_)))
            ? 1
            : 0);
  }
}

void KvProtocol::ReplyNames() {
  ReplyBegin();
  ReplyArray(names_.size());
  for (const std::string_view m : names_) {
    ReplyBulk(m);
  }
  ReplyEnd();
}

void KvProtocol::SMembers() {
  if (!KeyOk(1)) {
    return;
  }
  int had = 0;
  if (!SetMembers(ArgView(1, &tmp_key_), /*count=*/true, &had, &names_)) {
    return;
  }
  ReplyNames();
}

void KvProtocol::SRandMember() {
  int64_t count = 1;
  const bool with_count = cmd_.argc >= 3;
  if (cmd_.argc > 3) {
    Err(kSyntax);
    return;
  }
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
  }
  if (!KeyOk(1)) {
    return;
  }
  int had = 0;
  if (!SetMembers(ArgView(1, &tmp_key_), /*count=*/true, &had, &names_)) {
    return;
  }
  if (had == 0) {
    b_->AnswerText(cmd_.conn->id, with_count ? "*0\r\n" : resp::kNullBulk, AnswerClass::kOk,
                   cmd_.close);
    return;
  }
  if (!PickRandom(with_count, count)) {
    return;
  }
  if (!with_count) {
    Bulk(names_[picks_[0]]);
    return;
  }
  ArrayHeader(picks_.size());
  for (const uint32_t p : picks_) {
    Bulk(names_[p]);
  }
}

void KvProtocol::SScan() {
  HScanLike(ValueType::kSet);
}

// --- SINTER SUNION SDIFF, their STORE forms, SINTERCARD.

bool KvProtocol::SetOperation(SetOp op, size_t first, size_t last, NameList* out) {
  // redis-server's sinterGenericCommand and sunionDiffGenericCommand: every key is read (a
  // keyspace hit or miss) and type-checked before the result is computed; a missing key is an
  // empty set. Each set is read sorted into its list of name_sets_ (kept from command to command).
  const size_t n = last - first;
  if (name_sets_.size() < n) {
    name_sets_.resize(n);
  }
  bool all_present = true;
  for (size_t i = first; i < last; ++i) {
    if (!KeyOk(i)) {
      return false;
    }
    int had = 0;
    if (!SetMembers(ArgView(i, &tmp_key_), /*count=*/true, &had, &name_sets_[i - first])) {
      return false;
    }
    all_present = all_present && had == 1;
  }
  out->clear();
  if (n == 0) {
    return true;
  }
  const std::span<const NameList> sets(name_sets_.data(), n);
  switch (op) {
    case SetOp::kInter:
      if (!all_present) {
        return true;
      }
      for (const std::string_view m : sets[0]) {
        if (std::all_of(sets.begin() + 1, sets.end(),
                        [&](const NameList& s) { return s.contains(m); })) {
          out->push_back(m);
        }
      }
      return true;
    case SetOp::kUnion:
      for (const NameList& s : sets) {
        for (const std::string_view m : s) {
          out->push_back(m);
        }
      }
      out->Sort();
      return true;
    case SetOp::kDiff:
      for (const std::string_view m : sets[0]) {
        if (std::none_of(sets.begin() + 1, sets.end(),
                         [&](const NameList& s) { return s.contains(m); })) {
          out->push_back(m);
        }
      }
      return true;
  }
  return true;
}

void KvProtocol::SetRead(SetOp op) {
  if (!SetOperation(op, 1, cmd_.argc, &names_)) {
    return;
  }
  ReplyNames();
}

void KvProtocol::SetStore(SetOp op) {
  if (!KeyOk(1)) {
    return;
  }
  NameList& result = names_;
  if (!SetOperation(op, 2, cmd_.argc, &result)) {
    return;
  }
  const std::string dst(ArgView(1, &tmp_key_));
  for (const std::string_view m : result) {
    if (!FieldKeyOk(dst.size(), m.size())) {
      return;
    }
  }
  if (result.empty()) {
    // An empty result deletes the destination, whatever it held (redis-server answers :0).
    if (b_->Exists(dst) && !DeleteKey(dst)) {
      return;
    }
    if (b_->pending_writes() > 0) {
      WriteOk(":0\r\n");
    } else {
      Int(0);
    }
    return;
  }
  // The destination is a new set (a new version): its old value, of any type, is replaced.
  HashHeader hh{clients_.hashes().NextVersion(), 0};
  bool big = result.size() > kIntsetEntries;
  for (const std::string_view m : result) {
    big = big || !IntsetMember(m);
  }
  hh.flags = big ? kHashBig : 0;
  const std::string prefix = Prefix(dst, hh.version);
  uint64_t buffers = 0;
  uint64_t log_bytes = HeaderRoom(dst.size(), &buffers);
  for (const std::string_view m : result) {
    log_bytes += MemberRoom(prefix.size(), m.size());
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  if (const store::WriteOutcome w = PutHeader(dst, hh, 0, ValueType::kSet);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  for (const std::string_view m : result) {
    if (const store::WriteOutcome w = PutMember(prefix, m); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(result.size()))});
}

void KvProtocol::SInter() {
  SetRead(SetOp::kInter);
}
void KvProtocol::SUnion() {
  SetRead(SetOp::kUnion);
}
void KvProtocol::SDiff() {
  SetRead(SetOp::kDiff);
}
void KvProtocol::SInterStore() {
  SetStore(SetOp::kInter);
}
void KvProtocol::SUnionStore() {
  SetStore(SetOp::kUnion);
}
void KvProtocol::SDiffStore() {
  SetStore(SetOp::kDiff);
}

void KvProtocol::SInterCard() {
  // redis-server's sinterCardCommand: numkeys, then LIMIT, then the keys.
  int64_t numkeys = 0;
  if (!ParseInt64(ArgView(1, &tmp_), &numkeys) || numkeys <= 0) {
    Err("ERR numkeys should be greater than 0");
    return;
  }
  if (static_cast<uint64_t>(numkeys) > cmd_.argc - 2) {
    Err("ERR Number of keys can't be greater than number of args");
    return;
  }
  int64_t limit = 0;
  for (size_t i = 2 + static_cast<size_t>(numkeys); i < cmd_.argc; i += 2) {
    if (Is(i, "limit") && i + 1 < cmd_.argc) {
      if (!ParseInt64(ArgView(i + 1, &tmp_), &limit) || limit < 0) {
        Err("ERR LIMIT can't be negative");
        return;
      }
    } else {
      Err(kSyntax);
      return;
    }
  }
  if (!SetOperation(SetOp::kInter, 2, 2 + static_cast<size_t>(numkeys), &names_)) {
    return;
  }
  const uint64_t n = names_.size();
  Int(static_cast<int64_t>(limit > 0 ? std::min<uint64_t>(n, static_cast<uint64_t>(limit)) : n));
}

}  // namespace pastel::kv
