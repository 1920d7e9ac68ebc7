// pastel-kv's string commands: GET SET MGET MSET INCR DECR INCRBY DECRBY STRLEN APPEND GETRANGE
// SETRANGE GETSET SETNX MSETNX INCRBYFLOAT. A SET (GETSET, MSET, SETNX) writes a value without an
// expiry time unless KEEPTTL; the commands that change a value (APPEND, INCR..., SETRANGE,
// INCRBYFLOAT, SETBIT) keep the key's, as Redis does.

#include <cerrno>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <limits>
#include <string>

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

void KvProtocol::Get() {
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  const bool found = LookupString(ArgView(1, &tmp_key_), &v);
  CountRead(found || wrong_type_);
  if (found) {
    BulkValue(v);
  } else if (!LookupError().empty()) {
    Err(LookupError());
  } else {
    Null();
  }
}

void KvProtocol::Set() {
  if (!KeyOk(1)) {
    return;
  }
  // Redis's parseExtendedStringArgumentsOrReply: NX and XX exclude each other, and KEEPTTL, EX,
  // PX, EXAT and PXAT one another (one of them may repeat: the last one counts).
  enum : uint32_t {
    kNx = 1,
    kXx = 2,
    kGet = 4,
    kKeepTtl = 8,
    kEx = 16,
    kPx = 32,
    kExAt = 64,
    kPxAt = 128
  };
  constexpr uint32_t kTimes = kKeepTtl | kEx | kPx | kExAt | kPxAt;
  uint32_t flags = 0;
  size_t time_arg = 0;
  for (size_t i = 3; i < cmd_.argc; ++i) {
    const bool next = i + 1 < cmd_.argc;
    uint32_t time_flag = 0;
    if (Is(i, "nx") && (flags & kXx) == 0) {
      flags |= kNx;
    } else if (Is(i, "xx") && (flags & kNx) == 0) {
      flags |= kXx;
    } else if (Is(i, "get")) {
      flags |= kGet;
    } else if (Is(i, "keepttl") && (flags & (kTimes & ~kKeepTtl)) == 0) {
      flags |= kKeepTtl;
    } else if (Is(i, "ex")) {
      time_flag = kEx;
    } else if (Is(i, "px")) {
      time_flag = kPx;
    } else if (Is(i, "exat")) {
      time_flag = kExAt;
    } else if (Is(i, "pxat")) {
      time_flag = kPxAt;
    } else {
      Err(kSyntax);
      return;
    }
    if (time_flag != 0) {
      if ((flags & (kTimes & ~time_flag)) != 0 || !next) {
        Err(kSyntax);
        return;
      }
      flags |= time_flag;
      time_arg = ++i;
    }
  }
  int64_t expire_ms = 0;
  if (time_arg != 0) {
    const bool seconds = (flags & (kEx | kExAt)) != 0;
    if (!ExpiryArg(time_arg, seconds ? 1000 : 1, (flags & (kEx | kPx)) != 0, "set", &expire_ms)) {
      return;
    }
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  std::string& answer = tmp_;
  answer.assign(resp::kOk);
  int had = -1;  // unknown
  int64_t old_expire = 0;
  if ((flags & kGet) != 0) {
    had = CopyOldValue(key, &answer, &old_expire);
    if (had < 0) {
      return;
    }
  } else if ((flags & kKeepTtl) != 0) {
    Value v;
    had = b_->Lookup(key, &v) ? 1 : 0;  // (any type: SET replaces a hash)
    old_expire = v.expire_ms;
    b_->DropRefs(v.extents);
  } else if ((flags & (kNx | kXx)) != 0) {
    had = b_->Exists(key) ? 1 : 0;
  }
  if (((flags & kNx) != 0 && had == 1) || ((flags & kXx) != 0 && had == 0)) {
    if ((flags & kGet) != 0) {
      b_->AnswerText(cmd_.conn->id, answer, AnswerClass::kOk, cmd_.close);
    } else {
      Null();  // the condition failed: nothing written
    }
    return;
  }
  if ((flags & kKeepTtl) != 0) {
    expire_ms = old_expire;
  }
  (void)SetValue(key, 2, expire_ms, answer);
}

bool KvProtocol::SetValue(std::string_view key, size_t value, int64_t expire_ms,
                          std::string_view ok) {
  if (expire_ms != 0 && expire_ms <= b_->now_ms()) {
    // Expired as it is written: the key holds nothing afterwards (Redis sets it and expires it).
    // With nothing to delete it is still a write, a delete record: a store that takes none
    // (read-only) refuses it as any SET rather than answer OK, and it aborts the transactions
    // that WATCH the key, as redis-server's SET of the key does.
    if (!DeleteKey(key)) {
      return false;
    }
    WriteOk(ok);
    return true;
  }
  const store::WriteOutcome w = PutArg(key, value, /*admitted=*/false, expire_ms);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  WriteOk(ok);
  return true;
}

int KvProtocol::CopyOldValue(std::string_view key, std::string* answer, int64_t* expire_ms) {
  // The old value goes out after the commit that replaced it, or an error if that failed: it is
  // copied into the answer now (its buffers may be reused once the new value is durable).
  Value old;
  *expire_ms = 0;
  const bool found = LookupString(key, &old);
  CountRead(found ||
            wrong_type_);  // (SET ... GET, GETSET, GETDEL: redis-server's getGenericCommand)
  if (found) {
    *expire_ms = old.expire_ms;
    std::string bytes;
    (void)ReadValue(old, kMaxValueBytes, &bytes);
    b_->DropRefs(old.extents);
    answer->assign(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), bytes.size()));
    *answer += bytes;
    *answer += resp::kCrlf;
    return 1;
  }
  if (!LookupError().empty()) {
    Err(LookupError());
    return -1;
  }
  answer->assign(resp::kNullBulk);
  return 0;
}

bool KvProtocol::PutPairs() {
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    ArgRoom(args_[i].length, i + 1, &buffers, &log_bytes);
  }
  // One admission for the whole command (every pair's buffers and records), so that it is refused
  // whole rather than in part, and its records go into one batch (a crash keeps all of them or
  // none).
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    const store::WriteOutcome w = PutArg(ArgView(i, &tmp_key_), i + 1, /*admitted=*/true);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);  // (not for room: only an internal failure, after the pairs before it)
      return false;
    }
  }
  return true;
}

void KvProtocol::MSet() {
  if (cmd_.argc % 2 == 0) {
    WrongArity();
    return;
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    if (!KeyOk(i)) {
      return;
    }
  }
  if (PutPairs()) {
    WriteOk(resp::kOk);
  }
}

void KvProtocol::MSetNx() {
  if (cmd_.argc % 2 == 0) {
    WrongArity();
    return;
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    if (!KeyOk(i)) {
      return;
    }
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    if (b_->Exists(ArgView(i, &tmp_key_))) {
      Int(0);  // one key exists: nothing written
      return;
    }
  }
  if (PutPairs()) {  // all of them in one batch, or none
    WriteOk(":1\r\n");
  }
}

void KvProtocol::SetNx() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  if (b_->Exists(key)) {
    Int(0);
    return;
  }
  const store::WriteOutcome w = PutArg(key, 2, /*admitted=*/false);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(":1\r\n");
}

void KvProtocol::GetSet() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  std::string& answer = tmp_;
  int64_t old_expire = 0;
  if (CopyOldValue(key, &answer, &old_expire) < 0) {
    return;
  }
  (void)SetValue(key, 2, 0, answer);  // a SET: the key's expiry time goes
}

int KvProtocol::ReadKey(std::string_view key, size_t max, std::string* out,
                        std::string_view too_long, int64_t* expire_ms) {
  out->clear();
  Value v;
  if (expire_ms != nullptr) {
    *expire_ms = 0;
  }
  if (!LookupString(key, &v)) {
    if (!LookupError().empty()) {
      Err(LookupError());
      return -1;
    }
    return 0;
  }
  if (expire_ms != nullptr) {
    *expire_ms = v.expire_ms;
  }
  const bool ok = ReadValue(v, max, out);
  b_->DropRefs(v.extents);
  if (!ok) {
    Err(too_long);
    return -1;
  }
  return 1;
}

void KvProtocol::GetRange() {
  int64_t start = 0, end = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &start) || !ParseInt64(ArgView(3, &tmp_), &end)) {
    Err(kNotInteger);
    return;
  }
  Value v;
  if (!KeyOk(1)) {
    return;
  }
  const bool found = LookupString(ArgView(1, &tmp_key_), &v);
  CountRead(found || wrong_type_);
  if (!found) {
    if (!LookupError().empty()) {
      Err(LookupError());
    } else {
      Bulk("");
    }
    return;
  }
  const int64_t len = v.length;
  bool empty = start < 0 && end < 0 && start > end;
  if (!empty) {
    start = start < 0 ? std::max<int64_t>(0, len + start) : start;
    end = end < 0 ? std::max<int64_t>(0, len + end) : std::min(end, len - 1);
    empty = start > end || len == 0;
  }
  if (empty) {
    b_->DropRefs(v.extents);
    Bulk("");
    return;
  }
  // The range sent straight from the value's buffers: the extents it touches, trimmed, keep
  // their references; the others give theirs back.
  Value part;
  part.length = static_cast<uint32_t>(end - start + 1);
  int64_t at = 0;
  for (const Extent& e : v.extents) {
    const int64_t from = std::max<int64_t>(start, at);
    const int64_t to = std::min<int64_t>(end + 1, at + e.length);
    if (from < to) {
      part.extents.push_back({e.buffer, static_cast<uint32_t>(e.offset + (from - at)),
                              static_cast<uint32_t>(to - from)});
    } else {
      b_->DropRefs(std::span<const Extent>(&e, 1));
    }
    at += e.length;
  }
  BulkValue(part);
}

void KvProtocol::SetRange() {
  int64_t offset = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &offset)) {
    Err(kNotInteger);
    return;
  }
  if (offset < 0) {
    Err("ERR offset is out of range");
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  const size_t add = args_[3].length;
  Value old;
  const bool had = LookupString(key, &old);
  if (!had && !LookupError().empty()) {
    Err(LookupError());
    return;
  }
  const uint64_t old_len = had ? old.length : 0;
  if (had) {
    b_->DropRefs(old.extents);
  }
  if (add == 0) {
    Int(static_cast<int64_t>(old_len));  // nothing to write
    return;
  }
  if (static_cast<uint64_t>(offset) + add > kMaxValueBytes) {
    Err(kTooBig);
    return;
  }
  const uint64_t len = std::max<uint64_t>(old_len, static_cast<uint64_t>(offset) + add);
  // Room first: the new value is built in memory only when the pool can take it.
  if (const store::WriteOutcome w = b_->Writable(len); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  std::string value;
  int64_t expire_ms = 0;
  if (ReadKey(key, kMaxValueBytes, &value, kTooBig, &expire_ms) < 0) {
    return;
  }
  value.resize(len, '\0');
  const std::string_view patch = ArgView(3, &tmp_);
  value.replace(static_cast<size_t>(offset), patch.size(), patch);
  const store::WriteOutcome w = PutFresh(key, value, expire_ms);  // the key keeps its expiry
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len))});
}

// redis-server's string2ld: the whole string is a long double (no leading space, not NaN, no
// overflow or underflow to zero), at most 5 KiB long.
bool ParseLongDouble(std::string_view s, long double* out) {
  constexpr size_t kMaxChars = 5 * 1024;
  if (s.empty() || s.size() >= kMaxChars) {
    return false;
  }
  char buf[kMaxChars];
  std::memcpy(buf, s.data(), s.size());
  buf[s.size()] = '\0';
  errno = 0;
  char* end = nullptr;
  const long double v = std::strtold(buf, &end);
  if (std::isspace(static_cast<unsigned char>(buf[0])) != 0 ||
      static_cast<size_t>(end - buf) != s.size() ||
      (errno == ERANGE && (v == HUGE_VALL || v == -HUGE_VALL || v == 0)) || errno == EINVAL ||
      std::isnan(v)) {
    return false;
  }
  *out = v;
  return true;
}

std::string_view FormatLongDouble(long double v, char (&text)[kLongDoubleChars]) {
  // redis-server's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros (and a bare point)
  // removed, "-0" written "0".
  int n = std::snprintf(text, kLongDoubleChars, "%.17Lf", v);
  if (n <= 0 || static_cast<size_t>(n) >= kLongDoubleChars) {
    return {};
  }
  if (std::memchr(text, '.', static_cast<size_t>(n)) != nullptr) {
    while (text[n - 1] == '0') {
      --n;
    }
    if (text[n - 1] == '.') {
      --n;
    }
  }
  if (n == 2 && text[0] == '-' && text[1] == '0') {
    text[0] = '0';
    n = 1;
  }
  return {text, static_cast<size_t>(n)};
}

void KvProtocol::IncrByFloat() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  long double cur = 0;
  std::string value;
  int64_t expire_ms = 0;
  const int found = ReadKey(key, 5 * 1024, &value, "ERR value is not a valid float", &expire_ms);
  if (found < 0) {
    return;
  }
  long double incr = 0;
  if ((found == 1 && !ParseLongDouble(value, &cur)) || !ParseLongDouble(ArgView(2, &tmp_), &incr)) {
    Err("ERR value is not a valid float");
    return;
  }
  const long double next = cur + incr;
  if (std::isnan(next) || std::isinf(next)) {
    Err("ERR increment would produce NaN or Infinity");
    return;
  }
  char text[kLongDoubleChars];
  const std::string_view out = FormatLongDouble(next, text);
  if (out.empty()) {
    Err("ERR increment would produce NaN or Infinity");
    return;
  }
  const store::WriteOutcome w = PutFresh(key, out, expire_ms);  // the key keeps its expiry
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  std::string& answer = tmp_;
  answer.assign(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), out.size()));
  answer += out;
  answer += resp::kCrlf;
  WriteOk(answer);
}

void KvProtocol::MGet() {
  ReplyBegin();  // (one answer: small values copied into it)
  ReplyArray(cmd_.argc - 1);
  for (size_t i = 1; i < cmd_.argc; ++i) {
    Value v;
    const bool found = args_[i].length > 0 && args_[i].length <= kMaxKeyBytes &&
                       b_->Lookup(ArgView(i, &tmp_key_), &v);
    CountRead(found);
    if (found && v.type != ValueType::kString) {
      b_->DropRefs(v.extents);
      Text() += resp::kNullBulk;  // (a key of another type: nil, as redis-server's MGET)
    } else if (found) {
      ReplyValue(v);
    } else if (b_->lookup_damaged()) {
      ReplyErr(kDamaged);  // an error element of the array
    } else {
      Text() += resp::kNullBulk;
    }
  }
  ReplyEnd();
}

void KvProtocol::AddTo(int64_t sign, bool from_arg) {
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
  const bool found = LookupString(key, &v);
  if (!found && !LookupError().empty()) {
    Err(LookupError());
    return;
  }
  const int64_t expire_ms = found ? v.expire_ms : 0;  // the key keeps its expiry
  if (found) {
    const bool ok = ReadValue(v, 20, &tmp_) && ParseInt64(tmp_, &cur);
    b_->DropRefs(v.extents);
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
  if (const store::WriteOutcome w = b_->Writable(20); w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  const auto [end, ec] = std::to_chars(buf_, buf_ + sizeof(buf_), next);
  (void)ec;
  Extents fresh;
  if (!b_->FreshValue({buf_, static_cast<size_t>(end - buf_)}, &fresh).ok()) {
    Refused(store::WriteOutcome::kPoolFull);
    return;
  }
  const uint64_t len = static_cast<uint64_t>(end - buf_);
  const store::WriteOutcome w =
      b_->PutOwned(key, std::move(fresh), len, /*admitted=*/false, expire_ms);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), next)});
}

void KvProtocol::Incr() {
  AddTo(1, false);
}

void KvProtocol::Decr() {
  AddTo(-1, false);
}

void KvProtocol::IncrBy() {
  AddTo(1, true);
}

void KvProtocol::DecrBy() {
  AddTo(-1, true);
}

void KvProtocol::Strlen() {
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  if (!LookupOrInt(ArgView(1, &tmp_key_), &v, 0, /*stats=*/true, /*string=*/true)) {
    return;
  }
  b_->DropRefs(v.extents);
  Int(v.length);
}

void KvProtocol::Append() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  Value old;
  const bool had = LookupString(key, &old);
  if (!had && !LookupError().empty()) {
    Err(LookupError());
    return;
  }
  const uint64_t add = args_[2].length;
  if (had && old.length + add > kMaxValueBytes) {
    b_->DropRefs(old.extents);
    Err("ERR string exceeds maximum allowed size (512MB)");
    return;
  }
  ArgExtents(*cmd_.conn, 2, &body_);
  store::WriteOutcome w;
  uint64_t len = add;
  if (!had) {
    w = PutArg(key, 2, /*admitted=*/false);
  } else if (!args_[2].decoded && old.extents.size() + body_.size() <= kMaxAppendExtents) {
    len = old.length + add;
    w = b_->PutAppend(*cmd_.conn, key, std::move(old), body_, add);  // neither part copied
  } else {
    // Too many pieces: the value is copied whole into fresh buffers once.
    len = old.length + add;
    const int64_t expire_ms = old.expire_ms;  // the key keeps its expiry
    std::string whole;
    (void)ReadValue(old, kMaxValueBytes, &whole);
    b_->DropRefs(old.extents);
    if (args_[2].decoded) {
      whole += args_[2].view;  // a quoted inline argument: not in the receive buffers
    }
    for (const Extent& e : body_) {
      whole.append(reinterpret_cast<const char*>(b_->pool().BufferData(e.buffer)) + e.offset,
                   e.length);
    }
    Extents fresh;
    if (const store::WriteOutcome ww = b_->Writable(len); ww != store::WriteOutcome::kQueued) {
      Refused(ww);
      return;
    }
    if (!b_->FreshValue(whole, &fresh).ok()) {
      Refused(store::WriteOutcome::kPoolFull);
      return;
    }
    w = b_->PutOwned(key, std::move(fresh), len, /*admitted=*/false, expire_ms);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len))});
}

}  // namespace pastel::kv
