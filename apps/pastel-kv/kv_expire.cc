// pastel-kv's expiry commands: SETEX PSETEX GETEX GETDEL EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
// EXPIRETIME PEXPIRETIME PERSIST, and the expiry times SET's options give (ExpiryArg).
//
// An expiry time is absolute (Unix ms) and durable with its value: the value's log record (and
// later its index entry) carries it, so a restart or a crash neither extends nor loses it. A change
// of the time alone (EXPIRE, PERSIST, GETEX) rewrites the key's record with the same value extents
// (no byte copied) and the new time. An expired key is never answered; its loop removes it (a
// kExpire record) when a command meets it and, in the background, when a sweep of the index finds
// it (store::Batch::Lookup, docs/kv.md "Expiry").

#include <string>

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

bool KvProtocol::ExpiryArg(size_t i, int64_t unit_ms, bool relative, std::string_view cmd,
                           int64_t* out) {
  // Redis's getExpireMillisecondsOrReply: an integer, positive, and no overflow once converted to
  // milliseconds and (EX, PX) added to now.
  int64_t v = 0;
  if (!ParseInt64(ArgView(i, &tmp_), &v)) {
    Err(kNotInteger);
    return false;
  }
  int64_t ms = 0;
  if (v <= 0 || __builtin_mul_overflow(v, unit_ms, &ms) ||
      (relative && __builtin_add_overflow(ms, b_->now_ms(), &ms)) || ms <= 0) {
    Err("ERR invalid expire time in '" + std::string(cmd) + "' command");
    return false;
  }
  *out = ms;
  return true;
}

bool KvProtocol::DeleteKey(std::string_view key) {
  store::WriteOutcome w = b_->Deletable(b_->DeleteRoom(key.size()));
  if (w == store::WriteOutcome::kQueued) {
    w = b_->Delete(key);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  return true;
}

bool KvProtocol::Reexpire(std::string_view key, Value v, int64_t expire_ms) {
  if (expire_ms != 0 && expire_ms <= b_->now_ms()) {
    b_->DropRefs(v.extents);  // expired as it is set: the key goes (Redis deletes it)
    return DeleteKey(key);
  }
  // The same extents under a new record: the buffers are held already (Lookup's references), so
  // only the log's room is asked.
  if (const store::WriteOutcome w = b_->Admit(0, OwnedRecordRoom(*b_, key.size(), v, expire_ms));
      w != store::WriteOutcome::kQueued) {
    b_->DropRefs(v.extents);
    Refused(w);
    return false;
  }
  const uint32_t length = v.length;
  const store::WriteOutcome w =
      b_->PutOwned(key, std::move(v.extents), length, /*admitted=*/true, expire_ms, v.type);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return false;
  }
  return true;
}

void KvProtocol::SetEx() {  // SETEX key seconds value
  int64_t expire_ms = 0;
  if (!ExpiryArg(2, 1000, /*relative=*/true, "setex", &expire_ms) || !KeyOk(1)) {
    return;
  }
  (void)SetValue(ArgView(1, &tmp_key_), 3, expire_ms, resp::kOk);
}

void KvProtocol::PSetEx() {  // PSETEX key milliseconds value
  int64_t expire_ms = 0;
  if (!ExpiryArg(2, 1, /*relative=*/true, "psetex", &expire_ms) || !KeyOk(1)) {
    return;
  }
  (void)SetValue(ArgView(1, &tmp_key_), 3, expire_ms, resp::kOk);
}

void KvProtocol::GetEx() {  // GETEX key [EX s | PX ms | EXAT ts | PXAT ms-ts | PERSIST]
  if (!KeyOk(1)) {
    return;
  }
  // One of the options at most (repeating the same one is allowed: the last one counts).
  int which = 0;  // 1 EX, 2 PX, 3 EXAT, 4 PXAT, 5 PERSIST
  size_t time_arg = 0;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    const int opt = Is(i, "ex")        ? 1
                    : Is(i, "px")      ? 2
                    : Is(i, "exat")    ? 3
                    : Is(i, "pxat")    ? 4
                    : Is(i, "persist") ? 5
                                       : 0;
    if (opt == 0 || (which != 0 && which != opt) || (opt != 5 && i + 1 >= cmd_.argc)) {
      Err(kSyntax);
      return;
    }
    which = opt;
    if (opt != 5) {
      time_arg = ++i;
    }
  }
  const std::string key(ArgView(1, &tmp_key_));
  Value v;
  const bool found = LookupString(key, &v);
  CountRead(found || wrong_type_);
  if (!found) {
    if (!LookupError().empty()) {
      Err(LookupError());
    } else {
      Null();  // (a missing key is answered before the time is checked, as Redis does)
    }
    return;
  }
  int64_t expire_ms = v.expire_ms;
  if (time_arg != 0 &&
      !ExpiryArg(time_arg, which == 1 || which == 3 ? 1000 : 1, which <= 2, "getex", &expire_ms)) {
    b_->DropRefs(v.extents);
    return;
  }
  if (which == 5) {
    expire_ms = 0;
  }
  if (which == 0 || expire_ms == v.expire_ms) {
    BulkValue(v);  // nothing changes: a read
    return;
  }
  // The value goes out after the commit of its new time (or an error if that failed), copied now.
  std::string& answer = tmp_;
  std::string bytes;
  (void)ReadValue(v, kMaxValueBytes, &bytes);
  answer.assign(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), bytes.size()));
  answer += bytes;
  answer += resp::kCrlf;
  if (Reexpire(key, std::move(v), expire_ms)) {
    WriteOk(answer);
  }
}

void KvProtocol::GetDel() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  std::string& answer = tmp_;
  int64_t expire_ms = 0;
  const int had = CopyOldValue(key, &answer, &expire_ms);
  if (had <= 0) {
    if (had == 0) {
      Null();
    }
    return;
  }
  if (DeleteKey(key)) {
    WriteOk(answer);
  }
}

void KvProtocol::Expire() {  // EXPIRE PEXPIRE EXPIREAT PEXPIREAT key time [NX | XX | GT | LT]
  const std::string_view name = cmd_.spec->name;
  const bool ms = name[0] == 'p';
  const bool absolute = name.ends_with("at");
  // Redis's parseExtendedExpireArgumentsOrReply, before the time is read.
  bool nx = false, xx = false, gt = false, lt = false;
  for (size_t i = 3; i < cmd_.argc; ++i) {
    if (Is(i, "nx")) {
      nx = true;
    } else if (Is(i, "xx")) {
      xx = true;
    } else if (Is(i, "gt")) {
      gt = true;
    } else if (Is(i, "lt")) {
      lt = true;
    } else {
      Err("ERR Unsupported option " + Printable(args_[i].view));
      return;
    }
  }
  if (nx && (xx || gt || lt)) {
    Err("ERR NX and XX, GT or LT options at the same time are not compatible");
    return;
  }
  if (gt && lt) {
    Err("ERR GT and LT options at the same time are not compatible");
    return;
  }
  // The time may be zero or negative (the key is deleted), not overflow.
  int64_t when = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &when)) {
    Err(kNotInteger);
    return;
  }
  if ((!ms && __builtin_mul_overflow(when, int64_t{1000}, &when)) ||
      (!absolute && __builtin_add_overflow(when, b_->now_ms(), &when))) {
    Err("ERR invalid expire time in '" + std::string(name) + "' command");
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  Value v;
  if (!LookupOrInt(key, &v, 0)) {
    return;
  }
  const int64_t cur = v.expire_ms;  // 0: none (for GT and LT: infinite)
  if ((nx && cur != 0) || (xx && cur == 0) || (gt && (cur == 0 || when <= cur)) ||
      (lt && cur != 0 && when >= cur)) {
    b_->DropRefs(v.extents);
    Int(0);
    return;
  }
  // A time at or before now deletes the key (a zero or negative one included).
  if (Reexpire(key, std::move(v), when <= b_->now_ms() ? b_->now_ms() : when)) {
    WriteOk(":1\r\n");
  }
}

void KvProtocol::Ttl() {  // TTL PTTL EXPIRETIME PEXPIRETIME
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view name = cmd_.spec->name;
  const bool ms = name[0] == 'p';
  const bool absolute = name.ends_with("time");
  Value v;
  if (!LookupOrInt(ArgView(1, &tmp_key_), &v, -2, /*stats=*/true)) {
    return;
  }
  b_->DropRefs(v.extents);
  if (v.expire_ms == 0) {
    Int(-1);
    return;
  }
  const int64_t t = absolute ? v.expire_ms : v.expire_ms - b_->now_ms();
  // Seconds rounded, as Redis's (t + 500) / 1000, without overflowing near INT64_MAX (t > 0: the
  // value has not expired).
  Int(ms ? t : t / 1000 + (t % 1000 >= 500 ? 1 : 0));
}

void KvProtocol::Persist() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  Value v;
  if (!LookupOrInt(key, &v, 0)) {
    return;
  }
  if (v.expire_ms == 0) {
    b_->DropRefs(v.extents);
    Int(0);
    return;
  }
  if (Reexpire(key, std::move(v), 0)) {
    WriteOk(":1\r\n");
  }
}

}  // namespace pastel::kv
