#pragma once
// How pastel-kv keeps a sorted set's order (private to the app; the commands are in kv_zsets.cc,
// the layout's spec in docs/formats/kv-zset.md).
//
// A sorted set is laid over the store as a hash is (kv_hashes.h): a header at its key (a value of
// type ValueType::kZset: the version and kHashBig), and one store key per member,
// FF FD | key length | key | version | member, whose value is the member's score as text: the
// ZADD argument itself, kept in the receive buffers it arrived in (no copy on the way to
// durability), or a computed score (ZINCRBY, ZUNIONSTORE...) in %.17g, in a fresh buffer. So a
// ZADD of a member writes one record, whatever the set's size.
//
// The order by score is kept in memory, as redis-server keeps its skiplist: the directory of
// fields (KvHashes) holds, per sorted set, a ZIndex (an order-statistics B+tree of (score,
// member) and an open-addressed table of member -> score, kv_zorder.h) that follows the index as
// each batch is applied, built at start from the index file's member keys (their scores read
// once). Ranks, score and lex ranges are O(log n) walks of it; a loop's own writes not applied yet
// are laid over a copy (kv_zsets.cc).

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <functional>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "kv_dir_memory.h"
#include "kv_util.h"
#include "kv_zorder.h"
#include "pastel/store.h"

namespace pastel::kv {

// One member and its score, ordered as redis-server orders them: by score, then by the member's
// bytes (memcmp).
struct ZItem {
  double score = 0;
  std::string member;
};
inline ZItem ToItem(const ZKey& k) {
  return ZItem{k.score, std::string(k.member)};
}

// A command's items (answered, or merged into a pop) in a KeptList (kv_util.h).
class ItemList : public KeptList<ZItem> {
 public:
  void push_back(double score, std::string_view member) {
    ZItem& it = Next();
    it.score = score;
    it.member.assign(member);
  }
  void push_back(const ZItem& it) { push_back(it.score, it.member); }
  void push_back(const ZKey& k) { push_back(k.score, k.member); }
};

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// A sorted set's members in score order, with ranks, and each member's score. Its memory is the
// directory's (kv_dir_memory.h); the order's entries view the members' bytes in the map.
class ZIndex {
 public:
  ZIndex() = default;
  ZIndex(const ZIndex& other) { *this = other; }
  ZIndex& operator=(const ZIndex& other);  // (the order rebuilt over the copied members)
  ZIndex(ZIndex&& other) noexcept { *this = std::move(other); }
  ZIndex& operator=(ZIndex&& other) noexcept;
  ~ZIndex() = default;
  size_t size() const { return members_.size(); }
  bool empty() const { return members_.empty(); }
  // The member's score, or null.
  const double* Find(std::string_view member) const { return members_.Lookup(member).score; }
  // Adds the member, or moves it to `score`.
  void Put(std::string_view member, double score);
  bool Erase(std::string_view member);  // false when absent
  // How many members score below `s` (or, `inclusive`, at most `s`).
  size_t CountBelow(double s, bool inclusive) const;
  // The member's rank (0: the lowest), or -1.
  int64_t Rank(std::string_view member) const;
  // The item at rank `r` (< size()), and the walk from it.
  ZOrder::const_iterator At(size_t r) const { return order_.find_by_order(r); }
  ZOrder::const_iterator begin() const { return order_.begin(); }
  ZOrder::const_iterator end() const { return order_.end(); }
  // Visits every member, in no particular order, until `fn(member)` returns false.
  template <typename Fn>
  void ForEachMember(Fn&& fn) const {
    members_.ForEach([&](std::string_view m, double /*score*/) { return fn(m); });
  }
  // Changes with every change of the order, drawn from a count of the whole process (no two
  // states of any two ZIndexes share one): positions a pipeline of pops found in it hold while it
  // stays (ZPopPast, kv_zsets.cc).
  uint64_t stamp() const { return stamp_; }

 private:
  static uint64_t NextStamp();
  uint64_t stamp_ = NextStamp();
  ZOrder order_;
  ZMembers members_;  // (the order's entries view the members' bytes here)
};

// A lex range's bound (ZRANGEBYLEX): "-" below every member, "+" above, or a member's bytes,
// inclusive or exclusive.
struct LexBound {
  int inf = 0;  // -1: "-", 1: "+", 0: `v`
  bool ex = false;
  std::string_view v;
};

// A set of members, exact, holding copies of their bytes; open-addressed over vectors that are
// reused (no allocation once warm): a pipeline of pops' members taken by this loop and not applied
// yet (KvProtocol::PopView), kept from pop to pop.
class MemberSet {
 public:
  // Empty, the capacity kept.
  void Clear() {
    std::fill(slots_.begin(), slots_.end(), Slot{});
    bytes_.clear();
    n_ = 0;
  }
  void Insert(std::string_view m) {
    if ((n_ + 1) * 2 > slots_.size()) {
      Grow();
    }
    const uint64_t h = Hash(m);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      Slot& s = slots_[i];
      if (s.hash == 0) {
        s = Slot{h, bytes_.size(), m.size()};
        bytes_.append(m);
        ++n_;
        return;
      }
      if (s.hash == h && View(s) == m) {
        return;
      }
    }
  }
  bool Contains(std::string_view m) const {
    if (n_ == 0) {
      return false;
    }
    const uint64_t h = Hash(m);
    const size_t mask = slots_.size() - 1;
    for (size_t i = h & mask;; i = (i + 1) & mask) {
      const Slot& s = slots_[i];
      if (s.hash == 0) {
        return false;
      }
      if (s.hash == h && View(s) == m) {
        return true;
      }
    }
  }
  size_t size() const { return n_; }

 private:
  struct Slot {
    uint64_t hash = 0;  // 0: free
    size_t at = 0;      // the member's bytes: bytes_[at, at + len)
    size_t len = 0;
  };
  static uint64_t Hash(std::string_view m) {
    const uint64_t h = std::hash<std::string_view>{}(m);
    return h == 0 ? 1 : h;
  }
  std::string_view View(const Slot& s) const {
    return std::string_view(bytes_).substr(s.at, s.len);
  }
  void Grow() {
    std::vector<Slot> old = std::move(slots_);
    slots_.assign(std::max<size_t>(64, old.size() * 2), Slot{});
    const size_t mask = slots_.size() - 1;
    for (const Slot& s : old) {
      if (s.hash != 0) {
        size_t i = s.hash & mask;
        while (slots_[i].hash != 0) {
          i = (i + 1) & mask;
        }
        slots_[i] = s;
      }
    }
  }
  std::vector<Slot> slots_;  // a power of two (or empty), at most half used
  std::string bytes_;
  size_t n_ = 0;
};

// redis-server's string2d: the whole string is a double (strtod: decimal, hex, inf; no leading
// space, not NaN, no overflow, no underflow to zero).
bool ParseScore(std::string_view s, double* out);
// redis-server 7.0's addReplyDouble and d2string for a score: "inf", "-inf", else %.17g.
// `text` must hold kScoreChars.
inline constexpr size_t kScoreChars = 32;
std::string_view FormatScore(double v, char* text);
// A member's stored score (its value's text, kv_zsets.h); false when it is not one.
bool ReadScore(const Pool& pool, const store::Value& v, double* out);

}  // namespace pastel::kv
