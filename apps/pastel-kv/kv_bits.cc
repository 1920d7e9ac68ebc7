// pastel-kv's bit commands: SETBIT GETBIT BITCOUNT, over string values as redis-server has them
// (bit 0 is the most significant bit of the first byte).

#include <bit>
#include <cstdint>
#include <string>

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {
namespace {

constexpr std::string_view kBadOffset = "ERR bit offset is not an integer or out of range";

// redis-server's getBitOffsetFromArgument: a decimal int64 in [0, 8 * proto-max-bulk-len).
bool ParseBitOffset(std::string_view s, uint64_t* out) {
  int64_t v = 0;
  if (!ParseInt64(s, &v) || v < 0 || (static_cast<uint64_t>(v) >> 3) >= kMaxValueBytes) {
    return false;
  }
  *out = static_cast<uint64_t>(v);
  return true;
}

}  // namespace

void KvProtocol::SetBit() {
  uint64_t offset = 0;
  if (!ParseBitOffset(ArgView(2, &tmp_), &offset)) {
    Err(kBadOffset);
    return;
  }
  const std::string_view bit = ArgView(3, &tmp_);
  if (bit != "0" && bit != "1") {
    Err("ERR bit is not an integer or out of range");
    return;
  }
  const bool on = bit == "1";
  if (!KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  const uint64_t byte = offset >> 3;
  Value v;
  const bool had = LookupString(key, &v);
  if (!had && !LookupError().empty()) {
    Err(LookupError());
    return;
  }
  const uint64_t old_len = had ? v.length : 0;
  if (had) {
    b_->DropRefs(v.extents);
  }
  const uint64_t len = std::max(old_len, byte + 1);
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
  const auto mask = static_cast<unsigned char>(1u << (7 - (offset & 7)));
  auto& b = reinterpret_cast<unsigned char&>(value[byte]);
  const int was = (b & mask) != 0 ? 1 : 0;
  if (had && len == old_len && was == (on ? 1 : 0)) {
    // The bit is already so and the value does not grow: nothing is written (no record, no WATCH
    // marked), as redis-server 7.0's SETBIT leaves such a key unmodified.
    Int(was);
    return;
  }
  b = static_cast<unsigned char>(on ? (b | mask) : (b & ~mask));
  const store::WriteOutcome w = PutFresh(key, value, expire_ms);  // the key keeps its expiry
  if (w != store::WriteOutcome::kQueued) {
    Refused(w);
    return;
  }
  WriteOk(was != 0 ? ":1\r\n" : ":0\r\n");
}

void KvProtocol::GetBit() {
  uint64_t offset = 0;
  if (!ParseBitOffset(ArgView(2, &tmp_), &offset)) {
    Err(kBadOffset);
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  if (!LookupOrInt(ArgView(1, &tmp_key_), &v, 0, /*stats=*/true, /*string=*/true)) {
    return;
  }
  // The one byte, read where it lies.
  uint64_t at = offset >> 3;
  int bit = 0;
  for (const Extent& e : v.extents) {
    if (at < e.length) {
      const unsigned char byte = b_->pool().BufferData(e.buffer)[e.offset + at];
      bit = (byte >> (7 - (offset & 7))) & 1;
      break;
    }
    at -= e.length;
  }
  b_->DropRefs(v.extents);
  Int(bit);
}

void KvProtocol::BitCount() {
  // As redis-server: the key first (a missing one counts 0 whatever the arguments), then the
  // range.
  if (!KeyOk(1)) {
    return;
  }
  Value v;
  if (!LookupOrInt(ArgView(1, &tmp_key_), &v, 0, /*stats=*/true, /*string=*/true)) {
    return;
  }
  int64_t start = 0;
  int64_t end = static_cast<int64_t>(v.length) - 1;
  unsigned first_mask = 0, last_mask = 0;  // bits of the edge bytes outside a BIT range
  bool empty = false;
  if (cmd_.argc == 4 || cmd_.argc == 5) {
    int64_t total = v.length;
    if (!ParseInt64(ArgView(2, &tmp_), &start) || !ParseInt64(ArgView(3, &tmp_), &end)) {
      b_->DropRefs(v.extents);
      Err(kNotInteger);
      return;
    }
    if (start < 0 && end < 0 && start > end) {
      b_->DropRefs(v.extents);
      Int(0);
      return;
    }
    bool bits = false;
    if (cmd_.argc == 5) {
      if (Is(4, "bit")) {
        bits = true;
      } else if (!Is(4, "byte")) {
        b_->DropRefs(v.extents);
        Err(kSyntax);
        return;
      }
    }
    if (bits) {
      total <<= 3;
    }
    start = start < 0 ? std::max<int64_t>(0, total + start) : start;
    end = end < 0 ? std::max<int64_t>(0, total + end) : std::min(end, total - 1);
    if (bits && start <= end) {
      first_mask = ~((1u << (8 - (start & 7))) - 1) & 0xff;
      last_mask = (1u << (7 - (end & 7))) - 1;
      start >>= 3;
      end >>= 3;
    }
  } else if (cmd_.argc != 2) {
    b_->DropRefs(v.extents);
    Err(kSyntax);
    return;
  }
  empty = start > end;
  int64_t count = 0;
  if (!empty) {
    // Counted where the bytes lie, extent by extent.
    int64_t at = 0;
    for (const Extent& e : v.extents) {
      const int64_t from = std::max<int64_t>(start, at);
      const int64_t to = std::min<int64_t>(end + 1, at + e.length);
      const unsigned char* data = b_->pool().BufferData(e.buffer) + e.offset;
      for (int64_t i = from; i < to; ++i) {
        unsigned byte = data[i - at];
        if (i == start) {
          byte &= ~first_mask & 0xff;
        }
        if (i == end) {
          byte &= ~last_mask & 0xff;
        }
        count += std::popcount(byte);
      }
      at += e.length;
    }
  }
  b_->DropRefs(v.extents);
  Int(count);
}

}  // namespace pastel::kv
