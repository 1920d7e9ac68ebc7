#pragma once
// What pastel-kv's command files share: error texts, limits and small parsers (private to the app).

#include <algorithm>
#include <charconv>
#include <cstddef>
#include <cstdint>
#include <iterator>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/store.h"

namespace pastel::kv {

using store::kMaxKeyBytes;

// A value read from the index file that fails its data checksum (Batch::lookup_damaged).
inline constexpr std::string_view kDamaged =
    "ERR the stored value of this key fails its checksum (damaged pool file)";
// A command of one type on a key of another (a string command on a hash, a hash command on a
// string), redis-server's text.
inline constexpr std::string_view kWrongType =
    "WRONGTYPE Operation against a key holding the wrong kind of value";
// Above this many extents an APPEND copies the value into fresh buffers (a log record names a
// bounded number of extents, and each one costs a send).
inline constexpr size_t kMaxAppendExtents = 32;
// A key above the store's limit, refused before anything is written.
inline constexpr std::string_view kKeyTooLong = "ERR key longer than 1024 bytes";
static_assert(kMaxKeyBytes == 1024, "kKeyTooLong names the store's key limit");
// The longest value (APPEND, SETRANGE, SETBIT grow values up to it), as redis-server's default
// proto-max-bulk-len.
inline constexpr size_t kMaxValueBytes = size_t{512} << 20;
inline constexpr std::string_view kTooBig =
    "ERR string exceeds maximum allowed size (proto-max-bulk-len)";
// A write's answer when its batch's commit failed (a whole RESP error).
inline constexpr std::string_view kFailed =
    "-MISCONF a flush failed: pastel-kv is read-only and this write was not made durable\r\n";
// A write refused because the pool has no buffers for its value (redis-server's OOM refusal).
inline constexpr std::string_view kNoBuffers =
    "OOM command not allowed: the pool has no free buffers left for values";
inline constexpr std::string_view kNotInteger = "ERR value is not an integer or out of range";
inline constexpr std::string_view kSyntax = "ERR syntax error";
// The Redis version pastel-kv answers as (INFO, HELLO).
inline constexpr std::string_view kRedisVersion = "7.0.0";

// The record room of a put that names the extents of a value `v` it holds already (PutOwned of a
// stored value's extents, with its expiry time): Batch::RecordRoom counts a copy's extents in
// --persist copy, so the length given covers at least one buffer per extent there.
inline uint64_t OwnedRecordRoom(store::Batch& b, size_t key_len, const store::Value& v,
                                int64_t expire_ms) {
  const uint64_t n = v.extents.size();
  return b.RecordRoom(key_len, n, std::max<uint64_t>(v.length, n * b.pool().buffer_size()),
                      expire_ms != 0);
}
inline uint64_t OwnedRecordRoom(store::Batch& b, size_t key_len, const store::Value& v) {
  return OwnedRecordRoom(b, key_len, v, v.expire_ms);
}

// Strict decimal int64, as Redis' string2ll: optional '-', no '+', no spaces, no leading zeros.
inline bool ParseInt64(std::string_view s, int64_t* out) {
  if (s.empty() || s.size() > 20 || (s.size() > 1 && s[0] == '0') ||
      (s.size() >= 2 && s[0] == '-' && s[1] == '0') || s == "-") {
    return false;
  }
  const char* end = s.data() + s.size();
  auto [p, ec] = std::from_chars(s.data(), end, *out);
  return ec == std::errc() && p == end;
}

// `bytes` bytes of v, most significant first (the hashes' and lists' composite keys: their
// byte order is the numbers' order), and back.
inline void PutBigEndian(std::string* out, uint64_t v, int bytes) {
  for (int i = bytes - 1; i >= 0; --i) {
    out->push_back(static_cast<char>((v >> (8 * i)) & 0xff));
  }
}
inline uint64_t GetBigEndian(std::string_view s, int bytes) {
  uint64_t v = 0;
  for (int i = 0; i < bytes; ++i) {
    v = (v << 8) | static_cast<uint8_t>(s[static_cast<size_t>(i)]);
  }
  return v;
}

// redis-server's string2ld: the whole string is a long double (no leading space, not NaN, no
// overflow or underflow to zero), at most 5 KiB long (kv_strings.cc).
bool ParseLongDouble(std::string_view s, long double* out);
// redis-server's ld2string(LD_STR_HUMAN) of v into `text`; empty when it does not fit (an
// infinity, a value too long).
inline constexpr size_t kLongDoubleChars = 5 * 1024 + 64;
std::string_view FormatLongDouble(long double v, char (&text)[kLongDoubleChars]);

// A printable, bounded copy of a client's bytes for an error message (no CR or LF).
inline std::string Printable(std::string_view s) {
  std::string out;
  for (char ch : s.substr(0, 64)) {
    out += (ch >= 0x20 && ch < 0x7f) ? ch : '?';
  }
  return out;
}

// A list whose elements stay (with their strings' capacity) across clear(): a command's list,
// filled again by the next command, allocates nothing once warm. Next() is the next element, as
// an earlier command left it: the caller assigns every field.
template <typename T>
class KeptList {
 public:
  using iterator = typename std::vector<T>::iterator;
  using const_iterator = typename std::vector<T>::const_iterator;
  void clear() { n_ = 0; }
  T& Next() {
    if (n_ == v_.size()) {
      v_.emplace_back();
    }
    return v_[n_++];
  }
  void resize(size_t n) { n_ = std::min(n, n_); }  // (shorter only)
  size_t size() const { return n_; }
  bool empty() const { return n_ == 0; }
  T& operator[](size_t i) { return v_[i]; }
  const T& operator[](size_t i) const { return v_[i]; }
  iterator begin() { return v_.begin(); }
  iterator end() { return v_.begin() + static_cast<std::ptrdiff_t>(n_); }
  const_iterator begin() const { return v_.begin(); }
  const_iterator end() const { return v_.begin() + static_cast<std::ptrdiff_t>(n_); }
  operator std::span<const T>() const {  // NOLINT(google-explicit-constructor)
    return {v_.data(), n_};
  }

 private:
  std::vector<T> v_;
  size_t n_ = 0;
};

// A command's strings (members to remove, ...).
class StringList : public KeptList<std::string> {
 public:
  void push_back(std::string_view s) { Next().assign(s); }
  template <typename It>
  void assign(It first, It last) {
    clear();
    for (; first != last; ++first) {
      push_back(*first);
    }
  }
};

// Names (a hash's fields, a set's members) whose bytes share one buffer, in the order pushed, or
// sorted and distinct after Sort(); the buffer and the list keep their capacity across clear(): a
// whole-collection read (SMEMBERS, SINTER, HGETALL...) lists its names without allocating once
// warm, where a std::set<std::string> allocated a node and a string per name.
class NameList {
 public:
  class Iterator {
   public:
    using iterator_category = std::forward_iterator_tag;
    using value_type = std::string_view;
    using difference_type = std::ptrdiff_t;
    using pointer = void;
    using reference = std::string_view;
    Iterator() = default;
    Iterator(const NameList* list, size_t i) : list_(list), i_(i) {}
    std::string_view operator*() const { return (*list_)[i_]; }
    Iterator& operator++() {
      ++i_;
      return *this;
    }
    Iterator operator++(int) {
      Iterator old = *this;
      ++i_;
      return old;
    }
    bool operator==(const Iterator& o) const { return i_ == o.i_; }

   private:
    const NameList* list_ = nullptr;
    size_t i_ = 0;
  };

  void clear() {
    bytes_.clear();
    spans_.clear();
  }
  void push_back(std::string_view name) {
    spans_.push_back({bytes_.size(), name.size()});
    bytes_.append(name);
  }
  size_t size() const { return spans_.size(); }
  bool empty() const { return spans_.empty(); }
  // The memory it keeps (its buffer's and its list's).
  size_t capacity_bytes() const { return bytes_.capacity() + spans_.capacity() * sizeof(Span); }
  std::string_view operator[](size_t i) const {
    return {bytes_.data() + spans_[i].offset, spans_[i].length};
  }
  Iterator begin() const { return {this, 0}; }
  Iterator end() const { return {this, spans_.size()}; }
  // Orders the names and drops repeats (no allocation: the spans move, not the bytes).
  void Sort() {
    std::sort(spans_.begin(), spans_.end(),
              [&](const Span& a, const Span& b) { return View(a) < View(b); });
    spans_.erase(std::unique(spans_.begin(), spans_.end(),
                             [&](const Span& a, const Span& b) { return View(a) == View(b); }),
                 spans_.end());
  }
  // Sorted: whether `name` is one of them (a binary search).
  bool contains(std::string_view name) const {
    const auto it =
        std::lower_bound(spans_.begin(), spans_.end(), name,
                         [&](const Span& a, std::string_view n) { return View(a) < n; });
    return it != spans_.end() && View(*it) == name;
  }
  // Keeps the names for which keep(name) is true, in their order.
  template <typename Keep>
  void Filter(Keep&& keep) {
    std::erase_if(spans_, [&](const Span& s) { return !keep(View(s)); });
  }

 private:
  struct Span {
    size_t offset = 0;  // (no limit of its own on the bytes listed)
    size_t length = 0;
  };
  std::string_view View(const Span& s) const { return {bytes_.data() + s.offset, s.length}; }
  std::string bytes_;
  std::vector<Span> spans_;
};

}  // namespace pastel::kv
