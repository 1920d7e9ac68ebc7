// pastel-kv's keyspace commands: DEL (and UNLINK) EXISTS KEYS SCAN DBSIZE FLUSHALL FLUSHDB TYPE
// RENAME RENAMENX COPY RANDOMKEY TOUCH OBJECT, and the glob matching of KEYS and SCAN. Expired keys
// are not listed (KEYS, SCAN, RANDOMKEY); DBSIZE counts them until removed, as Redis does.

#include <algorithm>
#include <functional>
#include <random>
#include <string>

#include "kv_lists.h"
#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

bool GlobMatch(std::string_view p, std::string_view s) {
  size_t pi = 0, si = 0;
  size_t star_p = std::string_view::npos, star_s = 0;
  while (si < s.size()) {
    bool advanced = false;
    if (pi < p.size()) {
      const char pc = p[pi];
      if (pc == '*') {
        star_p = pi++;
        star_s = si;
        continue;
      }
      if (pc == '?') {
        ++pi;
        ++si;
        advanced = true;
      } else if (pc == '[') {
        size_t j = pi + 1;
        const bool negate = j < p.size() && p[j] == '^';
        if (negate) {
          ++j;
        }
        bool match = false;
        while (j < p.size() && p[j] != ']') {
          if (p[j] == '\\' && j + 1 < p.size()) {
            match |= p[j + 1] == s[si];
            j += 2;
          } else if (j + 2 < p.size() && p[j + 1] == '-') {
            // (As redis-server's stringmatchlen: "[a-]" is the range from ']' to 'a', the
            // bracket left open.)
            char lo = p[j], hi = p[j + 2];
            if (lo > hi) {
              std::swap(lo, hi);
            }
            match |= s[si] >= lo && s[si] <= hi;
            j += 3;
          } else {
            match |= p[j] == s[si];
            ++j;
          }
        }
        if (match != negate) {
          pi = j < p.size() ? j + 1 : j;
          ++si;
          advanced = true;
        }
      } else {
        const size_t lit = (pc == '\\' && pi + 1 < p.size()) ? pi + 1 : pi;
        if (p[lit] == s[si]) {
          pi = lit + 1;
          ++si;
          advanced = true;
        }
      }
    }
    if (!advanced) {
      if (star_p == std::string_view::npos) {
        return false;
      }
      pi = star_p + 1;
      si = ++star_s;
    }
  }
  while (pi < p.size() && p[pi] == '*') {
    ++pi;
  }
  return pi == p.size();
}

void KvProtocol::Del() {
  uint64_t log_bytes = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    if (!KeyOk(i)) {
      return;
    }
    log_bytes += b_->DeleteRoom(args_[i].length);
  }
  // Room for every key's record before the first (a key that does not exist takes none): the
  // deletes go into one batch, or the command is refused whole.
  if (const store::WriteOutcome w = b_->Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  int64_t n = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    const std::string_view key = ArgView(i, &tmp_key_);
    if (!b_->Exists(key)) {
      continue;
    }
    const store::WriteOutcome w = b_->Delete(key);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);  // (deletes queued before this one still happen)
      return;
    }
    ++n;
  }
  if (n == 0) {
    Int(0);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), n)});
}

void KvProtocol::Exists() {
  int64_t n = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    const bool found =
        args_[i].length > 0 && args_[i].length <= kMaxKeyBytes && b_->Exists(ArgView(i, &tmp_key_));
    CountRead(found);
    n += found ? 1 : 0;
  }
  Int(n);
}

void KvProtocol::LiveKeys(std::string_view pattern, NameList* keys, bool internal) {
  // The committed keys, then this loop's writes not applied yet over them (read-your-writes):
  // each key's last one adds it or takes it away. The hashes' fields and the lists' items are
  // keys of the store, not the user's: left out unless `internal`.
  const int64_t now = b_->now_ms();
  const auto wanted = [&](std::string_view k) {
    if (InternalKey(k)) {
      return internal;
    }
    return GlobMatch(pattern, k);
  };
  keys->clear();
  // (By reference: a std::function of the lambda's captures would allocate.)
  auto visit = [&](std::string_view k, const Value& v) {
    if (!v.ExpiredAt(now) && wanted(k)) {
      keys->push_back(k);
    }
    return true;
  };
  shared_.store.ForEachLive(std::ref(visit));
  PendingFields("");  // (each key's last write, in key order)
  bool gone = false;
  for (const auto& [k, deleted] : pending_fields_) {
    if (!deleted && wanted(k)) {
      keys->push_back(k);
    } else {
      gone = true;
    }
  }
  keys->Sort();
  if (gone) {
    keys->Filter([&](std::string_view k) {
      const auto at = std::lower_bound(pending_fields_.begin(), pending_fields_.end(), k,
                                       [](const std::pair<std::string_view, bool>& p,
                                          std::string_view key) { return p.first < key; });
      return at == pending_fields_.end() || at->first != k || (!at->second && wanted(k));
    });
  }
}

void KvProtocol::AnswerKeys(const NameList& keys, bool scan) {
  const size_t begin = Text().size();
  if (scan) {
    // One call visits every key: the cursor that comes back is 0 (a complete iteration).
    Text() += "*2\r\n$1\r\n0\r\n";
  }
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), keys.size()));
  for (const std::string_view k : keys) {
    Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), k.size()));
    Text() += k;
    Text() += resp::kCrlf;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
  ReleaseKeys();
}

void KvProtocol::ReleaseKeys() {
  // A listing of a large key space is not kept for the next one (it is the size of its reply).
  if (keys_.capacity_bytes() > kKeptListingBytes) {
    keys_ = NameList();
  }
}

void KvProtocol::Keys() {
  LiveKeys(ArgView(1, &tmp_), &keys_);
  AnswerKeys(keys_, false);
}

void KvProtocol::Scan() {
  int64_t cursor = 0;
  if (!ParseInt64(ArgView(1, &tmp_), &cursor) || cursor < 0) {
    Err("ERR invalid cursor");
    return;
  }
  std::string_view pattern = "*";
  int type = -1;  // any
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    if (i + 1 >= cmd_.argc) {
      Err("ERR syntax error");
      return;
    }
    if (Is(i, "match")) {
      pattern = ArgView(i + 1, &pattern_tmp_);  // (kept while the other options are read)
    } else if (Is(i, "count")) {
      int64_t count = 0;
      if (!ParseInt64(ArgView(i + 1, &tmp_), &count) || count < 1) {
        Err(count < 1 ? "ERR syntax error" : "ERR value is not an integer or out of range");
        return;
      }
    } else if (Is(i, "type")) {
      const std::string_view t = ArgView(i + 1, &tmp_);
      type = resp::EqualsIgnoreCase(t, "string") ? static_cast<int>(ValueType::kString)
             : resp::EqualsIgnoreCase(t, "hash") ? static_cast<int>(ValueType::kHash)
             : resp::EqualsIgnoreCase(t, "list") ? static_cast<int>(ValueType::kList)
             : resp::EqualsIgnoreCase(t, "set")  ? static_cast<int>(ValueType::kSet)
             : resp::EqualsIgnoreCase(t, "zset") ? static_cast<int>(ValueType::kZset)
                                                 : 255;  // (a type pastel-kv has none of)
    } else {
      Err("ERR syntax error");
      return;
    }
  }
  LiveKeys(pattern, &keys_);
  if (type >= 0) {
    // As redis-server: each key the pattern matched is read for its type (a keyspace hit).
    keys_.Filter([&](std::string_view k) {
      Value v;
      const bool found = b_->Lookup(k, &v);
      CountRead(found);
      b_->DropRefs(v.extents);
      return found && static_cast<int>(v.type) == type;
    });
  }
  AnswerKeys(keys_, true);
}

uint64_t KvProtocol::UserKeys() const {
  // (The index counts both in one step: another loop applying a batch changes neither alone.)
  return shared_.store.live_user_keys();
}

void KvProtocol::DbSize() {
  // The durable count (the hashes' fields are keys of the store, not the user's), and this loop's
  // writes not applied yet: each user key's last one decides whether it counts, against whether
  // the index has it. O(writes not applied), never a listing of every key: a DBSIZE in a turn
  // with writes (a monitor's, beside a client's SETs) costs what they do.
  int64_t n = static_cast<int64_t>(UserKeys());
  PendingFields("");
  for (const auto& [k, deleted] : pending_fields_) {
    if (!InternalKey(k)) {
      n += (deleted ? 0 : 1) - (shared_.store.Contains(k) ? 1 : 0);
    }
  }
  Int(std::max<int64_t>(n, 0));
}

void KvProtocol::Type() {
  if (KeyOk(1)) {
    Value v;
    const bool found = b_->Lookup(ArgView(1, &tmp_key_), &v);
    CountRead(found);
    b_->DropRefs(v.extents);
    Simple(!found                       ? "none"
           : v.type == ValueType::kHash ? "hash"
           : v.type == ValueType::kList ? "list"
           : v.type == ValueType::kSet  ? "set"
           : v.type == ValueType::kZset ? "zset"
                                        : "string");
  }
}

void KvProtocol::FlushAll() {
  if (cmd_.argc > 2 || (cmd_.argc == 2 && !Is(1, "sync") && !Is(1, "async"))) {
    Err("ERR syntax error");
    return;
  }
  NameList& keys = keys_;
  LiveKeys("*", &keys, /*internal=*/true);  // the hashes' fields go too
  if (keys.empty()) {
    Simple("OK");
    return;
  }
  // Every delete in one batch, so that one commit makes them all durable at once (or none), when
  // their records fit in a log stream; more keys than that are deleted in several batches (a
  // whole checkpoint between two, MakeLogRoom), and a crash in the middle leaves a part deleted.
  uint64_t log_bytes = 0;
  for (const std::string_view k : keys) {
    log_bytes += b_->DeleteRoom(k.size());
  }
  if (log_bytes <= b_->log_capacity()) {
    if (const store::WriteOutcome w = b_->Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
      Refused(w);
      ReleaseKeys();
      return;
    }
  }
  for (const std::string_view k : keys) {
    const store::WriteOutcome w = b_->Delete(k);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);
      ReleaseKeys();
      return;
    }
  }
  ReleaseKeys();
  WriteOk(resp::kOk);
}

}  // namespace pastel::kv

namespace pastel::kv {

void KvProtocol::RenameKey(bool nx) {
  if (!KeyOk(1) || !KeyOk(2)) {
    return;
  }
  const std::string from(ArgView(1, &tmp_key_));
  const std::string_view to = ArgView(2, &tmp_);
  Value v;
  if (!b_->Lookup(from, &v)) {
    Err(b_->lookup_damaged() ? kDamaged : "ERR no such key");
    return;
  }
  if (from == to) {
    b_->DropRefs(v.extents);
    if (nx) {
      Int(0);
    } else {
      Simple("OK");
    }
    return;
  }
  if (nx && b_->Exists(to)) {
    b_->DropRefs(v.extents);
    Int(0);
    return;
  }
  if (v.type == ValueType::kHash || v.type == ValueType::kSet || v.type == ValueType::kZset) {
    // A hash's fields (a set's members) are keyed by its key: the new key gets a copy of them
    // (sharing their buffers), the old header goes, and its fields with it (Background).
    const ValueType type = v.type;
    if (CopyHash(from, std::move(v), to, /*delete_from=*/true)) {
      if (type == ValueType::kZset) {
        KeyReady(to);  // (clients blocked in BZPOPMIN on it: redis-server's dbAdd signals them)
      }
      WriteOk(nx ? ":1\r\n" : resp::kOk);
    }
    return;
  }
  if (v.type == ValueType::kList) {
    // So are a list's items: the same, at the same positions.
    if (CopyList(from, std::move(v), to, /*delete_from=*/true)) {
      WriteOk(nx ? ":1\r\n" : resp::kOk);
    }
    return;
  }
  // The new key takes the value's buffers over (the references Lookup took), no byte copied; the
  // put and the delete are admitted together and go into one batch, so that a crash keeps both
  // or neither.
  // The value's buffers are held already (no free buffer taken): only the log's room.
  const uint64_t log_bytes = OwnedRecordRoom(*b_, to.size(), v) + b_->DeleteRoom(from.size());
  if (const store::WriteOutcome w = b_->Admit(0, log_bytes); w != store::WriteOutcome::kQueued) {
    b_->DropRefs(v.extents);
    Refused(w);
    return;
  }
  const uint32_t length = v.length;
  // The new key takes the old one's expiry time over.
  store::WriteOutcome w =
      b_->PutOwned(to, std::move(v.extents), length, /*admitted=*/true, v.expire_ms);
  if (w == store::WriteOutcome::kQueued) {
    w = b_->Delete(from);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);  // (not for room: only an internal failure)
    return;
  }
  WriteOk(nx ? ":1\r\n" : resp::kOk);
}

void KvProtocol::Rename() {
  RenameKey(false);
}

void KvProtocol::RenameNx() {
  RenameKey(true);
}

void KvProtocol::Copy() {
  bool replace = false;
  for (size_t i = 3; i < cmd_.argc; ++i) {
    if (Is(i, "replace")) {
      replace = true;
    } else if (Is(i, "db") && i + 1 < cmd_.argc) {
      int64_t db = 0;
      if (!ParseInt64(ArgView(i + 1, &tmp_), &db) || db < INT32_MIN || db > INT32_MAX) {
        Err(kNotInteger);
        return;
      }
      if (db != 0) {
        Err("ERR DB index is out of range");  // one database
        return;
      }
      ++i;
    } else {
      Err(kSyntax);
      return;
    }
  }
  if (!KeyOk(1) || !KeyOk(2)) {
    return;
  }
  const std::string from(ArgView(1, &tmp_key_));
  const std::string_view to = ArgView(2, &tmp_);
  if (from == to) {
    Err("ERR source and destination objects are the same");
    return;
  }
  Value v;
  if (!LookupOrInt(from, &v, 0, /*stats=*/true)) {
    return;
  }
  if (!replace && b_->Exists(to)) {
    b_->DropRefs(v.extents);
    Int(0);
    return;
  }
  if (v.type == ValueType::kHash || v.type == ValueType::kSet || v.type == ValueType::kZset) {
    const ValueType type = v.type;
    if (CopyHash(from, std::move(v), to, /*delete_from=*/false)) {
      if (type == ValueType::kZset) {
        KeyReady(to);
      }
      WriteOk(":1\r\n");
    }
    return;
  }
  if (v.type == ValueType::kList) {
    if (CopyList(from, std::move(v), to, /*delete_from=*/false)) {
      WriteOk(":1\r\n");
    }
    return;
  }
  // The copy shares the value's buffers (a buffer named by n live values holds n references).
  const uint32_t length = v.length;
  if (const store::WriteOutcome w = b_->Admit(0, OwnedRecordRoom(*b_, to.size(), v));
      w != store::WriteOutcome::kQueued) {
    b_->DropRefs(v.extents);
    Refused(w);
    return;
  }
  // The copy has the source's expiry time too.
  const store::WriteOutcome w =
      b_->PutOwned(to, std::move(v.extents), length, /*admitted=*/true, v.expire_ms);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(":1\r\n");
}

void KvProtocol::RandomKey() {
  // The first live user key from a random slot of the index's map of keys in memory on: O(1)
  // expected, as redis-server's (neither is uniform over the keys), checked against this loop's
  // writes not applied yet (a few draws). Only when the map holds none of them (every key only
  // in the index file, or this loop deleted the ones drawn): one visit of the committed keys up
  // to a random one, and at last a listing of the live keys, this loop's writes included.
  thread_local std::minstd_rand rng(std::random_device{}());
  const int64_t now = b_->now_ms();
  auto first_live = [&](std::string_view k, const Value& v) {
    if (InternalKey(k) || v.ExpiredAt(now)) {
      return true;  // a hash's field or a list's item (not a key of the user's), or expired
    }
    pick_.assign(k);
    return false;
  };
  for (int draw = 0; draw < kRandomKeyDraws; ++draw) {
    pick_.clear();
    shared_.store.VisitLiveFrom((static_cast<uint64_t>(rng()) << 31) ^ rng(), std::ref(first_live));
    if (pick_.empty()) {
      break;  // (none in memory)
    }
    if (b_->Exists(pick_)) {
      Bulk(pick_);
      return;
    }
  }
  pick_.clear();
  if (const uint64_t n = UserKeys(); n > 0) {
    uint64_t skip = rng() % n;
    auto skip_to = [&](std::string_view k, const Value&) {
      if (InternalKey(k)) {
        return true;
      }
      if (skip-- == 0) {  // (an expired pick is checked below: Exists)
        pick_.assign(k);
        return false;
      }
      return true;
    };
    shared_.store.ForEachLive(std::ref(skip_to));
  }
  if (pick_.empty() || !b_->Exists(pick_)) {
    // Deleted in this batch, or only this batch's keys: every live key, one of them.
    LiveKeys("*", &keys_);
    if (keys_.empty()) {
      Null();
      return;
    }
    pick_.assign(keys_[rng() % keys_.size()]);
    ReleaseKeys();
  }
  Bulk(pick_);
}

void KvProtocol::Touch() {
  Exists();  // no access times are kept: TOUCH counts the keys that exist, as EXISTS
}

namespace {
constexpr std::string_view kNoLfu =
    "ERR An LFU maxmemory policy is not selected, access frequency not tracked. Please note that "
    "when switching between policies at runtime LRU and LFU data will take some time to adjust.";
}  // namespace

void KvProtocol::Object() {
  static constexpr std::string_view kHelp[] = {
      "OBJECT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
      "ENCODING <key>",
      "    Return the kind of internal representation used in order to store the value",
      "    associated with a <key>.",
      "FREQ <key>",
      "    Return the access frequency index of the <key>. The returned integer is",
      "    proportional to the logarithm of the recent access frequency of the key.",
      "IDLETIME <key>",
      "    Return the idle time of the <key>, that is the approximated number of",
      "    seconds elapsed since the last access to the key.",
      "REFCOUNT <key>",
      "    Return the number of references of the value associated with the specified",
      "    <key>.",
      "HELP",
      "    Prints this help.",
  };
  // The subcommand and its arity were checked against the table's rows (Dispatch).
  if (Is(1, "help")) {
    Lines(kHelp);
    return;
  }
  // The value's first bytes: redis-server's encoding of a string is decided by them.
  std::string head;
  Value v;
  const bool found = args_[2].length > 0 && args_[2].length <= kMaxKeyBytes &&
                     b_->Lookup(ArgView(2, &tmp_key_), &v);
  CountRead(found);
  if (!found) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
    } else {
      Null();
    }
    return;
  }
  if (v.type != ValueType::kString) {
    const std::string_view encoding =
        v.type == ValueType::kList ? std::string_view(kListEncoding) : HashEncoding(v);
    b_->DropRefs(v.extents);
    if (Is(1, "encoding")) {
      Bulk(encoding);
    } else if (Is(1, "refcount")) {
      Int(1);
    } else if (Is(1, "idletime")) {
      Int(0);
    } else {
      Err(kNoLfu);
    }
    return;
  }
  const uint32_t length = v.length;
  (void)ReadValue(v, 20, &head);
  b_->DropRefs(v.extents);
  int64_t as_int = 0;
  const bool is_int = length <= 20 && ParseInt64(head, &as_int);
  if (Is(1, "encoding")) {
    Bulk(is_int ? "int" : length <= 44 ? "embstr" : "raw");
  } else if (Is(1, "refcount")) {
    // redis-server shares the objects of the integers 0..9999.
    Int(is_int && as_int >= 0 && as_int < 10000 ? 2147483647 : 1);
  } else if (Is(1, "idletime")) {
    Int(0);  // no access times are kept
  } else {
    Err(kNoLfu);
  }
}

}  // namespace pastel::kv
