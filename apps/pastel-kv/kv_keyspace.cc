// pastel-kv's keyspace commands: DEL EXISTS KEYS SCAN DBSIZE FLUSHALL FLUSHDB TYPE TTL PTTL, and
// the glob matching of KEYS and SCAN.

#include <set>
#include <string>

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
          } else if (j + 2 < p.size() && p[j + 1] == '-' && p[j + 2] != ']') {
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
    if (args_[i].length > 0 && args_[i].length <= kMaxKeyBytes &&
        b_->Exists(ArgView(i, &tmp_key_))) {
      ++n;
    }
  }
  Int(n);
}

void KvProtocol::LiveKeys(std::string_view pattern, std::set<std::string>* keys) const {
  // The committed keys, then this batch's own writes over them (read-your-writes).
  shared_.store.ForEachLive([&](std::string_view k, const Value&) {
    if (GlobMatch(pattern, k)) {
      keys->emplace(k);
    }
    return true;
  });
  b_->VisitPending([&](std::string_view k, bool deleted) {
    if (deleted) {
      keys->erase(std::string(k));
    } else if (GlobMatch(pattern, k)) {
      keys->emplace(k);
    }
  });
}

void KvProtocol::AnswerKeys(const std::set<std::string>& keys, bool scan) {
  const size_t begin = Text().size();
  if (scan) {
    // One call visits every key: the cursor that comes back is 0 (a complete iteration).
    Text() += "*2\r\n$1\r\n0\r\n";
  }
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), keys.size()));
  for (const std::string& k : keys) {
    Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), k.size()));
    Text() += k;
    Text() += resp::kCrlf;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Keys() {
  std::set<std::string> keys;
  LiveKeys(ArgView(1, &tmp_), &keys);
  AnswerKeys(keys, false);
}

void KvProtocol::Scan() {
  int64_t cursor = 0;
  if (!ParseInt64(ArgView(1, &tmp_), &cursor) || cursor < 0) {
    Err("ERR invalid cursor");
    return;
  }
  std::string pattern = "*";
  bool type_ok = true;
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    if (i + 1 >= cmd_.argc) {
      Err("ERR syntax error");
      return;
    }
    if (Is(i, "match")) {
      pattern = ArgView(i + 1, &tmp_);
    } else if (Is(i, "count")) {
      int64_t count = 0;
      if (!ParseInt64(ArgView(i + 1, &tmp_), &count) || count < 1) {
        Err(count < 1 ? "ERR syntax error" : "ERR value is not an integer or out of range");
        return;
      }
    } else if (Is(i, "type")) {
      type_ok = resp::EqualsIgnoreCase(ArgView(i + 1, &tmp_), "string");
    } else {
      Err("ERR syntax error");
      return;
    }
  }
  std::set<std::string> keys;
  if (type_ok) {
    LiveKeys(pattern, &keys);
  }
  AnswerKeys(keys, true);
}

void KvProtocol::DbSize() {
  if (b_->pending_writes() == 0) {
    Int(static_cast<int64_t>(shared_.store.live_keys()));
    return;
  }
  std::set<std::string> keys;  // this batch's writes counted too
  LiveKeys("*", &keys);
  Int(static_cast<int64_t>(keys.size()));
}

void KvProtocol::Type() {
  if (KeyOk(1)) {
    Simple(b_->Exists(ArgView(1, &tmp_key_)) ? "string" : "none");
  }
}

void KvProtocol::Ttl() {  // TTL and PTTL
  if (KeyOk(1)) {
    Int(b_->Exists(ArgView(1, &tmp_key_)) ? -1 : -2);  // no expiry: keys never expire
  }
}

void KvProtocol::FlushAll() {
  if (cmd_.argc > 2 || (cmd_.argc == 2 && !Is(1, "sync") && !Is(1, "async"))) {
    Err("ERR syntax error");
    return;
  }
  std::set<std::string> keys;
  LiveKeys("*", &keys);
  if (keys.empty()) {
    Simple("OK");
    return;
  }
  // Every delete in one batch, so that one commit makes them all durable at once (or none), when
  // their records fit in a log stream; more keys than that are deleted in several batches (a
  // whole checkpoint between two, MakeLogRoom), and a crash in the middle leaves a part deleted.
  uint64_t log_bytes = 0;
  for (const std::string& k : keys) {
    log_bytes += b_->DeleteRoom(k.size());
  }
  if (log_bytes <= b_->log_capacity()) {
    if (const store::WriteOutcome w = b_->Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  for (const std::string& k : keys) {
    const store::WriteOutcome w = b_->Delete(k);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  WriteOk(resp::kOk);
}

}  // namespace pastel::kv
