#include "kv_loop.h"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cstdio>
#include <cstring>
#include <limits>
#include <set>

namespace pastel::kv {
namespace {

constexpr std::string_view kFailed =
    "-MISCONF a flush failed: pastel-kv is read-only and this write was not made durable\r\n";
constexpr std::string_view kReadOnly =
    "MISCONF pastel-kv is read-only after a failed flush or checkpoint (reads go on; INFO "
    "persistence says why)";
// Above this many extents an APPEND copies the value into fresh buffers (a log record names a
// bounded number of extents, and each one costs a send).
// A value read from the index file that fails its data checksum (StoreLoop::lookup_damaged).
constexpr std::string_view kDamaged =
    "ERR the stored value of this key fails its checksum (damaged pool file)";
constexpr size_t kMaxAppendExtents = 32;
// A key above the store's limit, refused before anything is written.
constexpr std::string_view kKeyTooLong = "ERR key longer than 1024 bytes";
static_assert(kMaxKeyBytes == 1024, "kKeyTooLong names the store's key limit");
constexpr size_t kMaxValueBytes = size_t{512} << 20;

// Strict decimal int64, as Redis' string2ll: optional '-', no '+', no spaces, no leading zeros.
bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0') ||
      (s.size() > 2 && s[0] == '-' && s[1] == '0') || s == "-") {
    return false;
  }
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end;
}

struct CommandInfo {
  const char* name;
  int arity;  // Redis' convention: negative means "at least"
  const char* flags;
  int first, last, step;
};

constexpr CommandInfo kCommands[] = {
    {"append", 3, "write", 1, 1, 1},     {"client", -2, "admin", 0, 0, 0},
    {"command", -1, "loading", 0, 0, 0}, {"config", -2, "admin", 0, 0, 0},
    {"dbsize", 1, "readonly", 0, 0, 0},  {"decr", 2, "write", 1, 1, 1},
    {"decrby", 3, "write", 1, 1, 1},     {"del", -2, "write", 1, -1, 1},
    {"echo", 2, "fast", 0, 0, 0},        {"exists", -2, "readonly", 1, -1, 1},
    {"flushall", -1, "write", 0, 0, 0},  {"flushdb", -1, "write", 0, 0, 0},
    {"get", 2, "readonly", 1, 1, 1},     {"incr", 2, "write", 1, 1, 1},
    {"incrby", 3, "write", 1, 1, 1},     {"info", -1, "loading", 0, 0, 0},
    {"keys", 2, "readonly", 0, 0, 0},    {"mget", -2, "readonly", 1, -1, 1},
    {"mset", -3, "write", 1, -1, 2},     {"ping", -1, "fast", 0, 0, 0},
    {"pttl", 2, "readonly", 1, 1, 1},    {"quit", -1, "fast", 0, 0, 0},
    {"scan", -2, "readonly", 0, 0, 0},   {"select", 2, "fast", 0, 0, 0},
    {"set", -3, "write", 1, 1, 1},       {"strlen", 2, "readonly", 1, 1, 1},
    {"ttl", 2, "readonly", 1, 1, 1},     {"type", 2, "readonly", 1, 1, 1},
};

const CommandInfo* FindCommand(std::string_view name) {
  for (const CommandInfo& ci : kCommands) {
    if (resp::EqualsIgnoreCase(name, ci.name)) {
      return &ci;
    }
  }
  return nullptr;
}

bool ArityOk(const CommandInfo& ci, size_t argc) {
  return ci.arity >= 0 ? argc == static_cast<size_t>(ci.arity)
                       : argc >= static_cast<size_t>(-ci.arity);
}

// A printable, bounded copy of a client's bytes for an error message (no CR or LF).
std::string Printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) {
    out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  return out;
}

}  // namespace

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

KvLoop::KvLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log,
               const uint32_t streams[2], Index& index, std::atomic<uint64_t>& none_sequence,
               const LoopOptions& options, Shared& shared, uint32_t loop_index)
    : StoreLoop(backend, pool, partition, log, streams, index, none_sequence, options,
                shared.counters[loop_index], "pastel-kv"),
      shared_(shared),
      limits_(options.limits) {
  args_.resize(limits_.max_args);
  // A command spans at most argc + segments - 1 pieces; a 1 MiB value over 512 B buffers is
  // about 2,000 segments.
  pieces_.resize(limits_.max_args + 8192);
  scratch_.resize(4096);
  segments_.reserve(64);
  body_.reserve(64);
}

void KvLoop::Segments(const Conn& c) {
  segments_.clear();
  for (size_t i = c.head; i < c.segs.size(); ++i) {
    const Seg& s = c.segs[i];
    const uint32_t skip = i == c.head ? c.front_off : 0;
    segments_.emplace_back(SegData(s) + skip, s.length - skip);
  }
}

void KvLoop::Parse(Conn& c) {
  while (!c.closing && c.avail > 0) {
    Segments(c);
    const resp::Storage storage{args_, pieces_, scratch_};
    const resp::ParseResult r = resp::ParseCommand(segments_, {}, limits_, storage);
    if (r.outcome == resp::Outcome::kNeedMore) {
      return;
    }
    cmd_ = {&c, r.argc, false};
    if (r.outcome != resp::Outcome::kCommand) {
      counters_.Add(counters_.requests[static_cast<int>(CommandKind::kError)]);
      const size_t begin = text_.size();
      if (r.outcome == resp::Outcome::kError) {
        const size_t n = resp::WriteProtocolError(buf_, sizeof(buf_), r.error);
        text_.append(buf_, n);
      } else {
        text_.append("-ERR Protocol error: a command spread over too many receive buffers\r\n");
      }
      AnswerTextSince(c.id, begin, AnswerClass::kClientError, true);
      c.closing = true;  // as redis-server: the stream cannot be resynchronized
      return;
    }
    if (r.argc > 0) {  // an empty command has no answer
      Execute(r.argc);
    }
    Consume(c, r.bytes);
    if (cmd_.close) {
      c.closing = true;
    }
  }
}

void KvLoop::OnTimeout(Conn& c) {
  cmd_ = {&c, 0, true};
  Err("ERR request not received whole in time: connection closed");
  c.closing = true;
}

std::string_view KvLoop::ArgView(size_t i, std::string* tmp) const {
  const resp::Arg& a = args_[i];
  if (a.contiguous) {
    return a.view;
  }
  tmp->clear();
  for (const resp::Piece& p : a.pieces) {
    tmp->append(segments_[p.segment].data() + p.offset, p.length);
  }
  return *tmp;
}

void KvLoop::ArgExtents(const Conn& c, size_t i, std::vector<Extent>* out) const {
  out->clear();
  for (const resp::Piece& p : args_[i].pieces) {
    const Seg& s = c.segs[c.head + p.segment];
    const uint32_t skip = p.segment == 0 ? c.front_off : 0;
    out->push_back({s.buffer, static_cast<uint32_t>(s.offset + skip + p.offset),
                    static_cast<uint32_t>(p.length)});
  }
}

void KvLoop::Simple(std::string_view s) {
  const size_t begin = text_.size();
  text_ += '+';
  text_ += s;
  text_ += resp::kCrlf;
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Err(std::string_view message) {
  const size_t begin = text_.size();
  text_ += '-';
  for (char ch : message) {
    text_ += (ch == '\r' || ch == '\n') ? ' ' : ch;
  }
  text_ += resp::kCrlf;
  const bool server = message.starts_with("OOM") || message.starts_with("MISCONF");
  AnswerTextSince(cmd_.conn->id, begin,
                  server ? AnswerClass::kServerError : AnswerClass::kClientError, cmd_.close);
}

void KvLoop::Int(int64_t v) {
  AnswerText(cmd_.conn->id, {buf_, resp::WriteInteger(buf_, sizeof(buf_), v)}, AnswerClass::kOk,
             cmd_.close);
}

void KvLoop::Bulk(std::string_view s) {
  const size_t begin = text_.size();
  text_.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
  text_ += s;
  text_ += resp::kCrlf;
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Null() {
  AnswerText(cmd_.conn->id, resp::kNullBulk, AnswerClass::kOk, cmd_.close);
}

void KvLoop::ArrayHeader(uint64_t n) {
  AnswerText(cmd_.conn->id, {buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), n)}, AnswerClass::kOk,
             cmd_.close);
}

void KvLoop::WrongArity() {
  std::string name(Printable(args_[0].view));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  Err("ERR wrong number of arguments for '" + name + "' command");
}

void KvLoop::Refused(store::WriteOutcome w) {
  switch (w) {
    case store::WriteOutcome::kQueued: break;
    case store::WriteOutcome::kReadOnly: Err(kReadOnly); break;
    case store::WriteOutcome::kPoolFull:
      Err("OOM command not allowed: the pool has no free buffers left for values");
      break;
    case store::WriteOutcome::kLogFull:
      Err("OOM command not allowed: the log is full (start with a larger --log-size)");
      break;
    case store::WriteOutcome::kTooLarge: Err("ERR value spans too many buffers"); break;
    case store::WriteOutcome::kInternal: Err("ERR internal error"); break;
  }
}

void KvLoop::WriteOk(std::string_view ok) {
  AnswerWrite(cmd_.conn->id, ok, kFailed, cmd_.close);
}

void KvLoop::BulkValue(const Value& v) {
  AnswerValue(cmd_.conn->id, {buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), v.length)}, v,
              resp::kCrlf, cmd_.close);
}

bool KvLoop::KeyOk(size_t i) {
  if (args_[i].length == 0 || args_[i].length > kMaxKeyBytes) {
    Err(args_[i].length == 0 ? "ERR empty keys are not supported by pastel-kv" : kKeyTooLong);
    return false;
  }
  return true;
}

bool KvLoop::ReadValue(const Value& v, size_t max, std::string* out) const {
  out->clear();
  if (v.length > max) {
    return false;
  }
  for (const Extent& e : v.extents) {
    out->append(reinterpret_cast<const char*>(pool_.BufferData(e.buffer)) + e.offset, e.length);
  }
  return true;
}

void KvLoop::Execute(size_t argc) {
  const std::string_view name = args_[0].contiguous ? args_[0].view : std::string_view();
  const CommandInfo* ci = FindCommand(name);
  if (ci == nullptr) {
    counters_.Add(counters_.requests[static_cast<int>(CommandKind::kError)]);
    std::string msg =
        "ERR unknown command '" + Printable(args_[0].view) + "', with args beginning with: ";
    for (size_t i = 1; i < argc && i < 4; ++i) {
      msg += "'" + Printable(args_[i].view) + "' ";
    }
    Err(msg);
    return;
  }
  if (!ArityOk(*ci, argc)) {
    counters_.Add(counters_.requests[static_cast<int>(CommandKind::kError)]);
    WrongArity();
    return;
  }
  const std::string_view flags = ci->flags;
  counters_.Add(counters_.requests[static_cast<int>(flags == "write"      ? CommandKind::kWrite
                                                    : flags == "readonly" ? CommandKind::kRead
                                                                          : CommandKind::kOther)]);
  if (Is(0, "get")) {
    Get();
  } else if (Is(0, "set")) {
    Set();
  } else if (Is(0, "del")) {
    Del();
  } else if (Is(0, "exists")) {
    Exists();
  } else if (Is(0, "mset")) {
    MSet();
  } else if (Is(0, "mget")) {
    MGet();
  } else if (Is(0, "incr")) {
    IncrBy(1, false);
  } else if (Is(0, "decr")) {
    IncrBy(-1, false);
  } else if (Is(0, "incrby")) {
    IncrBy(1, true);
  } else if (Is(0, "decrby")) {
    IncrBy(-1, true);
  } else if (Is(0, "strlen")) {
    Strlen();
  } else if (Is(0, "append")) {
    Append();
  } else if (Is(0, "keys")) {
    Keys(false);
  } else if (Is(0, "scan")) {
    Keys(true);
  } else if (Is(0, "dbsize")) {
    if (pending_writes() == 0) {
      Int(static_cast<int64_t>(index_.live_keys()));
    } else {
      Keys(false);  // counts this batch's writes too
    }
  } else if (Is(0, "flushall") || Is(0, "flushdb")) {
    FlushAll();
  } else if (Is(0, "ping")) {
    if (argc == 1) {
      Simple("PONG");
    } else if (argc == 2) {
      Bulk(ArgView(1, &tmp_));
    } else {
      WrongArity();
    }
  } else if (Is(0, "echo")) {
    Bulk(ArgView(1, &tmp_));
  } else if (Is(0, "select")) {
    if (ArgView(1, &tmp_) == "0") {
      Simple("OK");
    } else {
      Err("ERR DB index is out of range (pastel-kv has one database, 0)");
    }
  } else if (Is(0, "quit")) {
    cmd_.close = true;
    Simple("OK");
  } else if (Is(0, "type") || Is(0, "ttl") || Is(0, "pttl")) {
    if (!KeyOk(1)) {
      return;
    }
    const bool exists = StoreLoop::Exists(ArgView(1, &tmp_key_));
    if (Is(0, "type")) {
      Simple(exists ? "string" : "none");
    } else {
      Int(exists ? -1 : -2);  // no expiry: present keys never expire
    }
  } else if (Is(0, "info")) {
    Info();
  } else if (Is(0, "command")) {
    CommandCmd();
  } else if (Is(0, "config")) {
    Config();
  } else if (Is(0, "client")) {
    Client();
  }
}

void KvLoop::Get() {
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  if (Lookup(ArgView(1, &tmp_key_), &v)) {
    BulkValue(v);
  } else if (lookup_damaged()) {
    Err(kDamaged);
  } else {
    Null();
  }
}

void KvLoop::Set() {
  if (!KeyOk(1)) {
    return;
  }
  bool nx = false, xx = false;
  for (size_t i = 3; i < cmd_.argc; ++i) {
    if (Is(i, "nx")) {
      nx = true;
    } else if (Is(i, "xx")) {
      xx = true;
    } else if (Is(i, "ex") || Is(i, "px") || Is(i, "exat") || Is(i, "pxat") || Is(i, "keepttl")) {
      Err("ERR expiry (EX, PX, EXAT, PXAT, KEEPTTL) is not supported by pastel-kv");
      return;
    } else {
      Err("ERR syntax error");
      return;
    }
  }
  if (nx && xx) {
    Err("ERR syntax error");
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  if ((nx || xx) && StoreLoop::Exists(key) != xx) {
    Null();  // the condition failed: nothing written
    return;
  }
  ArgExtents(*cmd_.conn, 2, &body_);
  const store::WriteOutcome w = Put(*cmd_.conn, key, body_, args_[2].length);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(resp::kOk);
}

void KvLoop::Del() {
  uint64_t log_bytes = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    if (!KeyOk(i)) {
      return;
    }
    log_bytes += DeleteRoom(args_[i].length);
  }
  // Room for every key's record before the first (a key that does not exist takes none): the
  // deletes go into one batch, or the command is refused whole.
  if (const store::WriteOutcome w = Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  int64_t n = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    const std::string_view key = ArgView(i, &tmp_key_);
    if (!StoreLoop::Exists(key)) {
      continue;
    }
    const store::WriteOutcome w = Delete(key);
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

void KvLoop::Exists() {
  int64_t n = 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    if (args_[i].length > 0 && args_[i].length <= kMaxKeyBytes &&
        StoreLoop::Exists(ArgView(i, &tmp_key_))) {
      ++n;
    }
  }
  Int(n);
}

void KvLoop::MSet() {
  if (cmd_.argc % 2 == 0) {
    WrongArity();
    return;
  }
  uint64_t total = 0;
  uint64_t log_bytes = 0;
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    if (!KeyOk(i)) {
      return;
    }
    total += args_[i + 1].length;
    ArgExtents(*cmd_.conn, i + 1, &body_);
    log_bytes += RecordRoom(args_[i].length, body_.size(), args_[i + 1].length);
  }
  // One check for the whole command (buffers and log room), so that it is refused whole rather
  // than in part, and its records go into one batch (a crash keeps all of them or none).
  if (const store::WriteOutcome w = Writable(total, log_bytes); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    ArgExtents(*cmd_.conn, i + 1, &body_);
    const store::WriteOutcome w =
        Put(*cmd_.conn, ArgView(i, &tmp_key_), body_, args_[i + 1].length);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  WriteOk(resp::kOk);
}

void KvLoop::MGet() {
  ArrayHeader(cmd_.argc - 1);
  for (size_t i = 1; i < cmd_.argc; ++i) {
    Value v;
    if (args_[i].length > 0 && args_[i].length <= kMaxKeyBytes &&
        Lookup(ArgView(i, &tmp_key_), &v)) {
      BulkValue(v);
    } else if (lookup_damaged()) {
      Err(kDamaged);  // an error
                      // element of
                      // the array
    } else {
      Null();
    }
  }
}

void KvLoop::IncrBy(int64_t sign, bool from_arg) {
  if (!KeyOk(1)) {
    return;
  }
  int64_t delta = 1;
  if (from_arg && !ParseInt64(ArgView(2, &tmp_), &delta)) {
    Err("ERR value is not an integer or out of range");
    return;
  }
  if (sign < 0) {
    if (delta == std::numeric_limits<int64_t>::min()) {
      Err("ERR decrement would overflow");
      return;
    }
    delta = -delta;
  }
  const std::string key(ArgView(1, &tmp_key_));
  int64_t cur = 0;
  Value v;
  const bool found = Lookup(key, &v);
  if (!found && lookup_damaged()) {
    Err(kDamaged);
    return;
  }
  if (found) {
    const bool ok = ReadValue(v, 20, &tmp_) && ParseInt64(tmp_, &cur);
    DropRefs(v.extents);
    if (!ok) {
      Err("ERR value is not an integer or out of range");
      return;
    }
  }
  int64_t next;
  if (__builtin_add_overflow(cur, delta, &next)) {
    Err("ERR increment or decrement would overflow");
    return;
  }
  if (const store::WriteOutcome w = Writable(20); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  const auto [end, ec] = std::to_chars(buf_, buf_ + sizeof(buf_), next);
  (void)ec;
  store::Extents fresh;
  if (!FreshValue({buf_, static_cast<size_t>(end - buf_)}, &fresh).ok()) {
    Refused(store::WriteOutcome::kPoolFull);
    return;
  }
  const uint64_t len = static_cast<uint64_t>(end - buf_);
  const store::WriteOutcome w = PutOwned(key, std::move(fresh), len);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), next)});
}

void KvLoop::Strlen() {
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  if (!Lookup(ArgView(1, &tmp_key_), &v)) {
    if (lookup_damaged()) {
      Err(kDamaged);
    } else {
      Int(0);
    }
    return;
  }
  DropRefs(v.extents);
  Int(v.length);
}

void KvLoop::Append() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  Value old;
  const bool had = Lookup(key, &old);
  if (!had && lookup_damaged()) {
    Err(kDamaged);
    return;
  }
  const uint64_t add = args_[2].length;
  if (had && old.length + add > kMaxValueBytes) {
    DropRefs(old.extents);
    Err("ERR string exceeds maximum allowed size (512MB)");
    return;
  }
  ArgExtents(*cmd_.conn, 2, &body_);
  store::WriteOutcome w;
  uint64_t len = add;
  if (!had) {
    w = Put(*cmd_.conn, key, body_, add);
  } else if (old.extents.size() + body_.size() <= kMaxAppendExtents) {
    len = old.length + add;
    w = PutAppend(*cmd_.conn, key, std::move(old), body_, add);  // neither part copied
  } else {
    // Too many pieces: the value is copied whole into fresh buffers once.
    len = old.length + add;
    std::string whole;
    (void)ReadValue(old, kMaxValueBytes, &whole);
    DropRefs(old.extents);
    for (const Extent& e : body_) {
      whole.append(reinterpret_cast<const char*>(pool_.BufferData(e.buffer)) + e.offset, e.length);
    }
    store::Extents fresh;
    if (const store::WriteOutcome ww = Writable(len); ww != store::WriteOutcome::kQueued) {
      Refused(ww);
      return;
    }
    if (!FreshValue(whole, &fresh).ok()) {
      Refused(store::WriteOutcome::kPoolFull);
      return;
    }
    w = PutOwned(key, std::move(fresh), len);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len))});
}

void KvLoop::Keys(bool scan) {
  // DBSIZE comes here when this batch has writes: it counts them too.
  const bool dbsize = Is(0, "dbsize");
  std::string pattern = dbsize ? std::string("*") : std::string();
  bool type_ok = true;
  if (!dbsize && !scan) {
    pattern = ArgView(1, &tmp_);
  } else if (scan) {
    int64_t cursor = 0;
    if (!ParseInt64(ArgView(1, &tmp_), &cursor) || cursor < 0) {
      Err("ERR invalid cursor");
      return;
    }
    pattern = "*";
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
  }
  // The committed keys, then this batch's own writes over them (read-your-writes).
  std::set<std::string> keys;
  if (type_ok) {
    index_.ForEachLive([&](std::string_view k, const Value&) {
      if (GlobMatch(pattern, k)) {
        keys.emplace(k);
      }
      return true;
    });
    VisitPending([&](std::string_view k, bool deleted) {
      if (deleted) {
        keys.erase(std::string(k));
      } else if (GlobMatch(pattern, k)) {
        keys.emplace(k);
      }
    });
  }
  if (dbsize) {
    Int(static_cast<int64_t>(keys.size()));
    return;
  }
  const size_t begin = text_.size();
  if (scan) {
    // One call visits every key: the cursor that comes back is 0 (a complete iteration).
    text_ += "*2\r\n$1\r\n0\r\n";
  }
  text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), keys.size()));
  for (const std::string& k : keys) {
    text_.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), k.size()));
    text_ += k;
    text_ += resp::kCrlf;
  }
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::FlushAll() {
  if (cmd_.argc > 2 || (cmd_.argc == 2 && !Is(1, "sync") && !Is(1, "async"))) {
    Err("ERR syntax error");
    return;
  }
  std::set<std::string> keys;
  index_.ForEachLive([&](std::string_view k, const Value&) {
    keys.emplace(k);
    return true;
  });
  VisitPending([&](std::string_view k, bool deleted) {
    if (deleted) {
      keys.erase(std::string(k));
    } else {
      keys.emplace(k);
    }
  });
  if (keys.empty()) {
    Simple("OK");
    return;
  }
  // Every delete in one batch, so that one commit makes them all durable at once (or none), when
  // their records fit in a log stream; more keys than that are deleted in several batches (a
  // whole checkpoint between two, MakeLogRoom), and a crash in the middle leaves a part deleted.
  uint64_t log_bytes = 0;
  for (const std::string& k : keys) {
    log_bytes += DeleteRoom(k.size());
  }
  if (log_bytes <= log_capacity()) {
    if (const store::WriteOutcome w = Deletable(log_bytes); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  for (const std::string& k : keys) {
    const store::WriteOutcome w = Delete(k);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
  }
  WriteOk(resp::kOk);
}

void KvLoop::Info() {
  std::string want = cmd_.argc > 1 ? std::string(ArgView(1, &tmp_)) : "default";
  std::transform(want.begin(), want.end(), want.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool all = want == "default" || want == "all" || want == "everything";
  uint64_t reqs = 0, reads = 0, writes = 0, errors = 0, fences = 0, committed = 0, rx = 0,
           batches = 0, slots = 0, full = 0, kept = 0, compactions = 0, starved = 0,
           full_checkpoints = 0, checkpoint_failures = 0;
  for (const store::LoopCounters& l : shared_.counters) {
    for (const auto& r : l.requests) {
      reqs += r.load(std::memory_order_relaxed);
    }
    reads += l.requests[static_cast<int>(CommandKind::kRead)].load(std::memory_order_relaxed);
    writes += l.requests[static_cast<int>(CommandKind::kWrite)].load(std::memory_order_relaxed);
    errors += l.responses_4xx.load(std::memory_order_relaxed) +
              l.responses_5xx.load(std::memory_order_relaxed);
    fences += l.commits.load(std::memory_order_relaxed);
    committed += l.committed_writes.load(std::memory_order_relaxed);
    rx += l.rx_bytes.load(std::memory_order_relaxed);
    batches += l.batches.load(std::memory_order_relaxed);
    slots += l.batch_slots.load(std::memory_order_relaxed);
    full += l.rejected_full.load(std::memory_order_relaxed);
    kept += l.kept.load(std::memory_order_relaxed);
    compactions += l.compactions.load(std::memory_order_relaxed);
    full_checkpoints += l.log_full_checkpoints.load(std::memory_order_relaxed);
    checkpoint_failures += l.checkpoint_failures.load(std::memory_order_relaxed);
    starved += l.enobufs.load(std::memory_order_relaxed);
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - shared_.started)
                          .count();
  std::string out;
  char line[256];
  const auto add = [&](const char* fmt, auto... v) {
    const int n = std::snprintf(line, sizeof(line), fmt, v...);
    out.append(line, static_cast<size_t>(std::max(0, n)));
  };
  if (all || want == "server") {
    add("# Server\r\nredis_version:7.0.0\r\npastel_version:0.1.0\r\nredis_mode:standalone\r\n");
    add("process_id:%d\r\ntcp_port:%u\r\nuptime_in_seconds:%lld\r\n", static_cast<int>(getpid()),
        shared_.port.load(std::memory_order_relaxed), static_cast<long long>(uptime));
    add("pastel_backend:%s\r\npastel_loops:%zu\r\n\r\n", shared_.backend.c_str(),
        shared_.counters.size());
  }
  if (all || want == "persistence") {
    add("# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\n");
    add("pastel_persist:%s\r\npastel_pool:%s\r\npastel_durability:%s\r\n", shared_.persist.c_str(),
        shared_.pool_path.c_str(), shared_.durability.c_str());
    add("pastel_read_only:%d\r\npastel_fences:%llu\r\npastel_committed_writes:%llu\r\n",
        pool_.read_only() ? 1 : 0, static_cast<unsigned long long>(fences),
        static_cast<unsigned long long>(committed));
    add("pastel_writes_per_fence:%.2f\r\npastel_log_compactions:%llu\r\n",
        fences == 0 ? 0.0 : static_cast<double>(committed) / static_cast<double>(fences),
        static_cast<unsigned long long>(compactions));
    add("pastel_log_full_checkpoints:%llu\r\npastel_checkpoint_failures:%llu\r\n",
        static_cast<unsigned long long>(full_checkpoints),
        static_cast<unsigned long long>(checkpoint_failures));
    if (pool_.read_only()) {
      std::string why = pool_.read_only_reason().ToString();
      std::replace_if(
          why.begin(), why.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      out += "pastel_read_only_reason:" + why + "\r\n";
    }
    add("pastel_index_tombstones:%llu\r\npastel_index_memory_keys:%llu\r\n",
        static_cast<unsigned long long>(index_.tree_tombstones()),
        static_cast<unsigned long long>(index_.map_keys()));
    add("pastel_recovered_keys:%llu\r\npastel_recovered_records:%llu\r\n",
        static_cast<unsigned long long>(shared_.recovered_keys),
        static_cast<unsigned long long>(shared_.recovered_records));
    add("pastel_recovery_ms:%.1f\r\n\r\n", shared_.recovery_ms);
  }
  if (all || want == "stats") {
    add("# Stats\r\ntotal_commands_processed:%llu\r\ntotal_net_input_bytes:%llu\r\n",
        static_cast<unsigned long long>(reqs), static_cast<unsigned long long>(rx));
    add("pastel_read_commands:%llu\r\npastel_write_commands:%llu\r\npastel_error_replies:%llu\r\n",
        static_cast<unsigned long long>(reads), static_cast<unsigned long long>(writes),
        static_cast<unsigned long long>(errors));
    add("pastel_batches:%llu\r\npastel_mean_batch_slots:%.2f\r\npastel_rejected_full:%llu\r\n",
        static_cast<unsigned long long>(batches),
        batches == 0 ? 0.0 : static_cast<double>(slots) / static_cast<double>(batches),
        static_cast<unsigned long long>(full));
    add("pastel_kept_buffers:%llu\r\npastel_rx_starved:%llu\r\n\r\n",
        static_cast<unsigned long long>(kept), static_cast<unsigned long long>(starved));
  }
  if (all || want == "memory") {
    const PoolCounts pc = pool_.Counts();
    add("# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n",
        static_cast<unsigned long long>(index_.live_bytes()),
        static_cast<unsigned long long>(uint64_t{pool_.buffer_count()} * pool_.buffer_size()));
    add("pastel_buffer_size:%u\r\npastel_buffers:%u\r\npastel_buffers_free:%llu\r\n",
        pool_.buffer_size(), pool_.buffer_count(), static_cast<unsigned long long>(pc.free));
    add("pastel_buffers_kernel:%llu\r\npastel_buffers_app:%llu\r\npastel_buffers_retained:%"
        "llu\r\n\r\n",
        static_cast<unsigned long long>(pc.kernel), static_cast<unsigned long long>(pc.app),
        static_cast<unsigned long long>(pc.retained));
  }
  if (all || want == "keyspace") {
    add("# Keyspace\r\n");
    if (index_.live_keys() > 0) {
      add("db0:keys=%llu,expires=0,avg_ttl=0\r\n",
          static_cast<unsigned long long>(index_.live_keys()));
    }
  }
  Bulk(out);
}

void KvLoop::CommandCmd() {
  const auto entry = [&](const CommandInfo& ci) {
    text_ += "*6\r\n";
    text_.append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.arity));
    text_ += "*1\r\n";
    text_.append(buf_, resp::WriteSimpleString(buf_, sizeof(buf_), ci.flags));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.first));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.last));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.step));
  };
  const size_t begin = text_.size();
  if (cmd_.argc == 1) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), std::size(kCommands)));
    for (const CommandInfo& ci : kCommands) {
      entry(ci);
    }
  } else if (Is(1, "count")) {
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), std::size(kCommands)));
  } else if (Is(1, "docs")) {
    text_ += "*0\r\n";  // no documentation: redis-cli then shows no hints
  } else if (Is(1, "info")) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), cmd_.argc - 2));
    for (size_t i = 2; i < cmd_.argc; ++i) {
      const CommandInfo* ci = FindCommand(ArgView(i, &tmp_));
      if (ci != nullptr) {
        entry(*ci);
      } else {
        text_ += resp::kNullBulk;
      }
    }
  } else if (Is(1, "list")) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), std::size(kCommands)));
    for (const CommandInfo& ci : kCommands) {
      text_.append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    }
  } else {
    text_.resize(begin);
    Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try COMMAND HELP.");
    return;
  }
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Config() {
  if (!Is(1, "get")) {
    Err("ERR CONFIG " + Printable(args_[1].view) + " is not supported by pastel-kv");
    return;
  }
  if (cmd_.argc < 3) {
    WrongArity();
    return;
  }
  const std::string port = std::to_string(shared_.port.load(std::memory_order_relaxed));
  const std::string maxmem = std::to_string(uint64_t{pool_.buffer_count()} * pool_.buffer_size());
  // What a client may ask; "appendonly yes" because every write is durable before its reply.
  const std::pair<const char*, std::string> params[] = {
      {"save", ""},
      {"appendonly", "yes"},
      {"appendfsync", "always"},
      {"databases", "1"},
      {"maxmemory", maxmem},
      {"maxmemory-policy", "noeviction"},
      {"port", port},
      {"bind", "127.0.0.1"},
      {"proto-max-bulk-len", std::to_string(limits_.max_bulk)},
  };
  std::vector<std::pair<std::string_view, std::string_view>> hits;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    std::string pat(ArgView(i, &tmp_));
    std::transform(pat.begin(), pat.end(), pat.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    for (const auto& [k, v] : params) {
      if (GlobMatch(pat, k) && std::find_if(hits.begin(), hits.end(), [&](const auto& h) {
                                 return h.first == k;
                               }) == hits.end()) {
        hits.emplace_back(k, v);
      }
    }
  }
  const size_t begin = text_.size();
  text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), 2 * hits.size()));
  for (const auto& [k, v] : hits) {
    for (std::string_view s : {k, v}) {
      text_.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
      text_ += s;
      text_ += resp::kCrlf;
    }
  }
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Client() {
  if (Is(1, "setname") && cmd_.argc == 3) {
    const std::string_view name = ArgView(2, &tmp_);
    if (name.find_first_of(" \r\n") != std::string_view::npos) {
      Err("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    Simple("OK");
  } else if (Is(1, "setinfo") && cmd_.argc == 4) {
    Simple("OK");
  } else if (Is(1, "getname") && cmd_.argc == 2) {
    Null();
  } else if (Is(1, "id") && cmd_.argc == 2) {
    Int(static_cast<int64_t>(cmd_.conn->id));
  } else {
    Err("ERR CLIENT " + Printable(args_[1].view) + " is not supported by pastel-kv");
  }
}

}  // namespace pastel::kv
