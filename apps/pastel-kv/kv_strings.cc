// pastel-kv's string commands: GET SET MGET MSET INCR DECR INCRBY DECRBY STRLEN APPEND.

#include <charconv>
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
  ArgExtents(*cmd_.conn, 2, &body_);
  const store::WriteOutcome w = b_->Put(*cmd_.conn, key, body_, args_[2].length);
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(resp::kOk);
}

void KvProtocol::MSet() {
  if (cmd_.argc % 2 == 0) {
    WrongArity();
    return;
  }
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    if (!KeyOk(i)) {
      return;
    }
    ArgExtents(*cmd_.conn, i + 1, &body_);
    buffers += b_->BuffersFor(body_.size(), args_[i + 1].length);
    log_bytes += b_->RecordRoom(args_[i].length, body_.size(), args_[i + 1].length);
  }
  // One admission for the whole command (every pair's buffers and records), so that it is refused
  // whole rather than in part, and its records go into one batch (a crash keeps all of them or
  // none).
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  for (size_t i = 1; i < cmd_.argc; i += 2) {
    ArgExtents(*cmd_.conn, i + 1, &body_);
    const store::WriteOutcome w =
        b_->Put(*cmd_.conn, ArgView(i, &tmp_key_), body_, args_[i + 1].length, /*admitted=*/true);
    if (w != store::WriteOutcome::kQueued) {
      Refused(w);  // (not for room: only an internal failure, after the pairs before it)
      return;
    }
  }
  WriteOk(resp::kOk);
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
  if (!b_->Lookup(ArgView(1, &tmp_key_), &v)) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
    } else {
      Int(0);
    }
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
    w = b_->Put(*cmd_.conn, key, body_, add);
  } else if (old.extents.size() + body_.size() <= kMaxAppendExtents) {
    len = old.length + add;
    w = b_->PutAppend(*cmd_.conn, key, std::move(old), body_, add);  // neither part copied
  } else {
    // Too many pieces: the value is copied whole into fresh buffers once.
    len = old.length + add;
    std::string whole;
    (void)ReadValue(old, kMaxValueBytes, &whole);
    b_->DropRefs(old.extents);
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
