// pastel-kv's string commands: GET SET MGET MSET INCR DECR INCRBY DECRBY STRLEN APPEND GETRANGE
// SETRANGE GETSET SETNX MSETNX INCRBYFLOAT.

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
  if (b_->Lookup(ArgView(1, &tmp_key_), &v)) {
    BulkValue(v);
  } else if (b_->lookup_damaged()) {
    Err(kDamaged);
  } else {
    Null();
  }
}

void KvProtocol::Set() {
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
  if ((nx || xx) && b_->Exists(key) != xx) {
    Null();  // the condition failed: nothing written
    return;
  }
  const store::WriteOutcome w = PutArg(key, 2, /*admitted=*/false);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(resp::kOk);
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
  // The old value goes out after the commit that replaced it, or an error if that failed: it is
  // copied into the answer now (its buffers may be reused once the new value is durable).
  Value old;
  std::string& answer = tmp_;
  if (b_->Lookup(key, &old)) {
    std::string bytes;
    (void)ReadValue(old, kMaxValueBytes, &bytes);
    b_->DropRefs(old.extents);
    answer.assign(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), bytes.size()));
    answer += bytes;
    answer += resp::kCrlf;
  } else if (b_->lookup_damaged()) {
    Err(kDamaged);
    return;
  } else {
    answer.assign(resp::kNullBulk);
  }
  const store::WriteOutcome w = PutArg(key, 2, /*admitted=*/false);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(answer);
}

int KvProtocol::ReadKey(std::string_view key, size_t max, std::string* out,
                        std::string_view too_long) {
  out->clear();
  Value v;
  if (!b_->Lookup(key, &v)) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
      return -1;
    }
    return 0;
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
  if (!b_->Lookup(ArgView(1, &tmp_key_), &v)) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
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
  const bool had = b_->Lookup(key, &old);
  if (!had && b_->lookup_damaged()) {
    Err(kDamaged);
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
  if (ReadKey(key, kMaxValueBytes, &value, kTooBig) < 0) {
    return;
  }
  value.resize(len, '\0');
  const std::string_view patch = ArgView(3, &tmp_);
  value.replace(static_cast<size_t>(offset), patch.size(), patch);
  const store::WriteOutcome w = PutFresh(key, value);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len))});
}

namespace {

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

}  // namespace

void KvProtocol::IncrByFloat() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  long double cur = 0;
  std::string value;
  const int found = ReadKey(key, 5 * 1024, &value, "ERR value is not a valid float");
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
  // redis-server's ld2string(LD_STR_HUMAN): 17 decimals, trailing zeros (and a bare point)
  // removed, "-0" written "0".
  char text[5 * 1024 + 64];
  int n = std::snprintf(text, sizeof(text), "%.17Lf", next);
  if (n <= 0 || static_cast<size_t>(n) >= sizeof(text)) {
    Err("ERR increment would produce NaN or Infinity");
    return;
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
  const std::string_view out(text, static_cast<size_t>(n));
  const store::WriteOutcome w = PutFresh(key, out);
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
  ArrayHeader(cmd_.argc - 1);
  for (size_t i = 1; i < cmd_.argc; ++i) {
    Value v;
    if (args_[i].length > 0 && args_[i].length <= kMaxKeyBytes &&
        b_->Lookup(ArgView(i, &tmp_key_), &v)) {
      BulkValue(v);
    } else if (b_->lookup_damaged()) {
      Err(kDamaged);  // an error
                      // element of
                      // the array
    } else {
      Null();
    }
  }
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
  const bool found = b_->Lookup(key, &v);
  if (!found && b_->lookup_damaged()) {
    Err(kDamaged);
    return;
  }
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
  const store::WriteOutcome w = b_->PutOwned(key, std::move(fresh), len);
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
  if (!LookupOrInt(ArgView(1, &tmp_key_), &v, 0)) {
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
  const bool had = b_->Lookup(key, &old);
  if (!had && b_->lookup_damaged()) {
    Err(kDamaged);
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
    w = b_->PutOwned(key, std::move(fresh), len);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(len))});
}

}  // namespace pastel::kv
