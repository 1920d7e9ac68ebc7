// pastel-kv's sorted-set commands: ZADD ZINCRBY ZREM ZSCORE ZMSCORE ZCARD ZCOUNT ZLEXCOUNT ZRANK
// ZREVRANK, ZRANGE (BYSCORE BYLEX REV LIMIT WITHSCORES) and its older forms, ZREMRANGEBY*, ZPOPMIN
// ZPOPMAX and the blocking BZPOPMIN BZPOPMAX, ZRANGESTORE ZUNIONSTORE ZINTERSTORE, ZSCAN.
//
// How a sorted set lies in the store and where its order is kept: kv_zsets.h. A member's score is
// read with one index lookup of its key (ZSCORE, ZADD's old score); ranges and ranks walk the
// order (ZIndex) as this loop sees it (ZView).

#include "kv_zsets.h"

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <unordered_map>

#include "kv_hashes.h"
#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

namespace {

// redis-server 7.0's zset-max-listpack-entries and zset-max-listpack-value: OBJECT ENCODING says
// "skiplist" once a sorted set held more members, or a longer one (it does not convert back).
inline constexpr size_t kZsetListpackEntries = 128;
inline constexpr size_t kZsetListpackValue = 64;
// A score argument up to this long is kept in place as the member's value; a longer one (a valid
// but long spelling) is written as %.17g into a fresh buffer.
inline constexpr size_t kMaxScoreArg = 64;
// The longest score text read back (a stored score is an argument up to kMaxScoreArg, or %.17g).
inline constexpr size_t kMaxScoreText = 128;

constexpr std::string_view kNotFloat = "ERR value is not a valid float";
constexpr std::string_view kNan = "ERR resulting score is not a number (NaN)";
constexpr std::string_view kRangeNotFloat = "ERR min or max is not a float";
constexpr std::string_view kLexNotRange = "ERR min or max not valid string range item";

// strtod of `s` up to its first NUL byte (as redis-server calls it on an sds): the value, and
// where it stopped (`whole`: at that NUL, or the end).
double StrtodC(std::string_view s, bool* whole) {
  const size_t n = std::min(s.size(), s.find('\0'));
  char small[kMaxScoreText];
  std::string big;
  const char* c = small;
  if (n < sizeof(small)) {
    if (n > 0) {
      std::memcpy(small, s.data(), n);  // (never with a null source: an empty bound's view)
    }
    small[n] = '\0';
  } else {
    big.assign(s.substr(0, n));
    c = big.c_str();
  }
  errno = 0;
  char* end = nullptr;
  const double v = std::strtod(c, &end);
  *whole = *end == '\0';
  return v;
}

// A score range's bound (redis-server's zslParseRange): "(" for exclusive, then strtod of the
// rest (leading spaces and "" allowed, as there), not NaN.
bool ParseScoreBound(std::string_view s, double* v, bool* ex) {
  *ex = !s.empty() && s[0] == '(';
  bool whole = false;
  *v = StrtodC(s.substr(*ex ? 1 : 0), &whole);
  return whole && !std::isnan(*v);
}

// A lex range's bound (zslParseLexRangeItem): "-" and "+" the ends, "(" or "[" then the string.
bool ParseLexBound(std::string_view s, LexBound* b) {
  if (s.empty()) {
    return false;
  }
  *b = LexBound();
  switch (s[0]) {
    case '+':
    case '-':
      // (A C-string check: "+" followed by a NUL byte is "+".)
      if (s.size() > 1 && s[1] != '\0') {
        return false;
      }
      b->inf = s[0] == '+' ? 1 : -1;
      return true;
    case '(':
    case '[':
      b->ex = s[0] == '(';
      b->v = s.substr(1);
      return true;
    default: return false;
  }
}
// sdscmplex: "-" below everything, "+" above.
int CmpLex(const LexBound& a, const LexBound& b) {
  if (a.inf != 0 || b.inf != 0) {
    if (a.inf == b.inf) {
      return 0;
    }
    return a.inf == -1 || b.inf == 1 ? -1 : 1;
  }
  return a.v.compare(b.v) < 0 ? -1 : a.v == b.v ? 0 : 1;
}
bool GteMin(std::string_view m, const LexBound& min) {
  if (min.inf != 0) {
    return min.inf < 0;
  }
  return min.ex ? m > min.v : m >= min.v;
}
bool LteMax(std::string_view m, const LexBound& max) {
  if (max.inf != 0) {
    return max.inf > 0;
  }
  return max.ex ? m < max.v : m <= max.v;
}

// BZPOPMIN's answer up to its member and score: [key, ...
std::string KeyedPopHead(std::string_view key) {
  char head[32];
  std::string out = "*3\r\n";
  out.append(head, resp::WriteBulkHeader(head, sizeof(head), key.size()));
  out += key;
  out += resp::kCrlf;
  return out;
}

}  // namespace

// --- Scores and the order.

bool ParseScore(std::string_view s, double* out) {
  if (s.empty() || std::isspace(static_cast<unsigned char>(s[0])) ||
      s.find('\0') != std::string_view::npos) {
    return false;
  }
  bool whole = false;
  const double v = StrtodC(s, &whole);
  if (!whole || std::isnan(v) ||
      (errno == ERANGE && (v == HUGE_VAL || v == -HUGE_VAL || std::fpclassify(v) == FP_ZERO))) {
    return false;
  }
  *out = v;
  return true;
}

std::string_view FormatScore(double v, char* text) {
  if (std::isinf(v)) {
    return v > 0 ? "inf" : "-inf";
  }
  const int n = std::snprintf(text, kScoreChars, "%.17g", v);
  return {text, static_cast<size_t>(std::clamp(n, 0, static_cast<int>(kScoreChars) - 1))};
}

bool ReadScore(const Pool& pool, const store::Value& v, double* out) {
  if (v.deleted || v.length == 0 || v.length > kMaxScoreText) {
    return false;
  }
  char text[kMaxScoreText];
  size_t at = 0;
  for (const Extent& e : v.extents) {
    std::memcpy(text + at, pool.BufferData(e.buffer) + e.offset, e.length);
    at += e.length;
  }
  return ParseScore({text, at}, out);
}

uint64_t ZIndex::NextStamp() {
  static std::atomic<uint64_t> next{1};  // (0: no stamp, a view's start)
  return next.fetch_add(1, std::memory_order_relaxed);
}

ZIndex& ZIndex::operator=(const ZIndex& other) {
  if (this != &other) {
    stamp_ = other.stamp_;  // (the same members and scores)
    order_.clear();
    members_ = other.members_;
    members_.ForEach([&](std::string_view m, double score) {
      order_.insert(ZKey{score, m});
      return true;
    });
  }
  return *this;
}

ZIndex& ZIndex::operator=(ZIndex&& other) noexcept {
  // (The members' bytes stay where they are when the tables are swapped: the order's views hold.)
  members_.swap(other.members_);
  order_.swap(other.order_);
  stamp_ = other.stamp_;
  other.stamp_ = NextStamp();
  return *this;
}

void ZIndex::Put(std::string_view member, double score) {
  stamp_ = NextStamp();
  const ZMembers::Found f = members_.Lookup(member);
  if (f.score != nullptr) {
    order_.erase(ZKey{*f.score, f.member});
    *f.score = score;
    order_.insert(ZKey{score, f.member});
  } else {
    order_.insert(ZKey{score, members_.Insert(member, score)});
  }
}

bool ZIndex::Erase(std::string_view member) {
  const ZMembers::Found f = members_.Lookup(member);
  if (f.score == nullptr) {
    return false;
  }
  stamp_ = NextStamp();
  order_.erase(ZKey{*f.score, f.member});  // (before the bytes it views are freed)
  members_.Erase(member);
  return true;
}

size_t ZIndex::CountBelow(double s, bool inclusive) const {
  if (inclusive) {
    if (s == HUGE_VAL) {
      return size();
    }
    s = std::nextafter(s, HUGE_VAL);  // (scores are doubles: <= s is < the next one)
  }
  return order_.order_of_key(ZKey{s, std::string_view()});  // ("" is below every member)
}

int64_t ZIndex::Rank(std::string_view member) const {
  const double* s = Find(member);
  return s == nullptr ? -1 : static_cast<int64_t>(order_.order_of_key(ZKey{*s, member}));
}

// --- The directory's side (KvHashes keeps a ZIndex per sorted set).

bool KvHashes::ZsetApplied(const Pool& pool, std::string_view fk, size_t prefix_len,
                           const store::Value* v) {
  const std::string_view prefix = fk.substr(0, prefix_len);
  const std::string_view member = fk.substr(prefix_len);
  double score = 0;
  auto it = zsets_.find(prefix);
  if (v != nullptr && ReadScore(pool, *v, &score)) {
    if (it == zsets_.end()) {
      it = zsets_.emplace(DirString(prefix), ZIndex()).first;
    }
    it->second.Put(member, score);
    return true;
  }
  if (it != zsets_.end() && it->second.Erase(member) && it->second.empty()) {
    zsets_.erase(it);
  }
  return false;
}

// --- The protocol's side: a sorted set as this loop sees it.

int KvProtocol::ZsetAt(std::string_view key, bool count, HashHeader* hh, int64_t* expire_ms) {
  return TypedAt(key, ValueType::kZset, hh, count, expire_ms);
}

void KvProtocol::ZView(std::string_view prefix, const std::function<void(const ZIndex&)>& fn) {
  // The directory's order, read under its lock, when this loop has no write of the set that is
  // not applied yet; else a copy with those writes laid over it, in order.
  bool pending = false;
  b_->VisitPending(
      [&](std::string_view k, const Value&) { pending = pending || k.starts_with(prefix); });
  if (!pending) {
    clients_.hashes().WithZset(prefix, fn);
    return;
  }
  clients_.hashes().WithZset(prefix, [&](const ZIndex& z) { zcopy_ = z; });
  b_->VisitPending([&](std::string_view k, const Value& v) {
    if (!k.starts_with(prefix)) {
      return;
    }
    double s = 0;
    if (!v.deleted && ReadScore(b_->pool(), v, &s)) {
      zcopy_.Put(k.substr(prefix.size()), s);
    } else {
      zcopy_.Erase(k.substr(prefix.size()));
    }
  });
  fn(zcopy_);
}

int KvProtocol::MemberScore(std::string_view prefix, std::string_view member, double* out) {
  if (prefix.size() + member.size() > kMaxKeyBytes) {
    return 0;  // (a member that long was never written)
  }
  Value v;
  if (!b_->Lookup(FieldKey(prefix, member), &v)) {
    if (b_->lookup_damaged()) {
      Err(kDamaged);
      return -1;
    }
    return 0;
  }
  const bool ok = ReadScore(b_->pool(), v, out);
  b_->DropRefs(v.extents);
  if (!ok) {
    Err(kDamaged);
    return -1;
  }
  return 1;
}

void KvProtocol::AppendScore(double score, std::string* out) {
  char text[kScoreChars];
  const std::string_view s = FormatScore(score, text);
  out->append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
  *out += s;
  *out += resp::kCrlf;
}

void KvProtocol::AppendItems(std::span<const ZItem> items, bool scores, std::string* out) {
  out->append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), items.size() * (scores ? 2 : 1)));
  for (const ZItem& it : items) {
    out->append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), it.member.size()));
    *out += it.member;
    *out += resp::kCrlf;
    if (scores) {
      AppendScore(it.score, out);
    }
  }
}

void KvProtocol::AnswerItems(std::span<const ZItem> items, bool scores) {
  const size_t begin = Text().size();
  AppendItems(items, scores, &Text());
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

bool KvProtocol::ScoreInPlace(size_t score_arg) {
  // (A -0 is written as text: a listpack's is 0, redis-server's d2string of it, PutScore.)
  double s = 0;
  return score_arg != kNoArg && args_[score_arg].length <= kMaxScoreArg &&
         !(ParseScore(ArgView(score_arg, &score_tmp_), &s) && s == 0 && std::signbit(s));
}

void KvProtocol::ScoreRoom(size_t key_len, size_t score_arg, uint64_t* buffers,
                           uint64_t* log_bytes) {
  if (ScoreInPlace(score_arg)) {
    ArgRoom(key_len, score_arg, buffers, log_bytes);
    return;
  }
  *buffers += 2;  // a fresh buffer, counted twice (FreshValue, PutOwned)
  *log_bytes += b_->RecordRoom(key_len, 1, kScoreChars);
}

store::WriteOutcome KvProtocol::PutScore(std::string_view prefix, std::string_view member,
                                         double score, size_t score_arg, bool listpack) {
  // PERSIST: none here. The member's record goes into the open batch (after its set's header
  // when the set is new): durable with the batch's one commit, or not at all (rule 14).
  if (listpack && score == 0) {
    score = 0.0;  // (redis-server 7.0's listpack holds a -0 as 0; its skiplist keeps -0)
  }
  if (ScoreInPlace(score_arg)) {
    // The argument itself, where it was received.
    return PutArg(FieldKey(prefix, member), score_arg, /*admitted=*/true);
  }
  char text[kScoreChars];
  const std::string_view s = FormatScore(score, text);
  Extents fresh;
  if (!b_->FreshValue(s, &fresh).ok()) {
    return store::WriteOutcome::kPoolFull;
  }
  return b_->PutOwned(FieldKey(prefix, member), std::move(fresh), s.size(), /*admitted=*/true);
}

// --- ZADD and ZINCRBY.

void KvProtocol::ZAdd() {
  ZAddCore(/*zincrby=*/false);
}

void KvProtocol::ZIncrBy() {
  ZAddCore(/*zincrby=*/true);
}

void KvProtocol::ZAddCore(bool zincrby) {
  // redis-server 7.0's zaddGenericCommand: the options, the pairs, every score parsed before the
  // key is looked at, then each pair as zsetAdd decides it.
  bool nx = false, xx = false, gt = false, lt = false, ch = false, incr = zincrby;
  size_t first = 2;
  for (; !zincrby && first < cmd_.argc; ++first) {
    if (Is(first, "nx")) {
      nx = true;
    } else if (Is(first, "xx")) {
      xx = true;
    } else if (Is(first, "ch")) {
      ch = true;
    } else if (Is(first, "incr")) {
      incr = true;
    } else if (Is(first, "gt")) {
      gt = true;
    } else if (Is(first, "lt")) {
      lt = true;
    } else {
      break;
    }
  }
  const size_t rest = cmd_.argc - first;
  if (rest == 0 || rest % 2 != 0) {
    Err(kSyntax);
    return;
  }
  if (nx && xx) {
    Err("ERR XX and NX options at the same time are not compatible");
    return;
  }
  if ((gt && nx) || (lt && nx) || (gt && lt)) {
    Err("ERR GT, LT, and/or NX options at the same time are not compatible");
    return;
  }
  if (incr && rest > 2) {
    Err("ERR INCR option supports a single increment-element pair");
    return;
  }
  zscores_.clear();
  for (size_t i = first; i < cmd_.argc; i += 2) {
    double s = 0;
    if (!ParseScore(ArgView(i, &tmp_), &s)) {
      Err(kNotFloat);
      return;
    }
    zscores_.push_back(s);
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  for (size_t i = first + 1; i < cmd_.argc; i += 2) {
    if (!FieldKeyOk(key.size(), args_[i].length)) {
      return;
    }
  }
  HashHeader hh;
  int64_t expire_ms = 0;
  const int had = ZsetAt(key, /*count=*/false, &hh, &expire_ms);
  if (had < 0) {
    return;
  }
  const bool create = had == 0;
  if (create && xx) {
    if (incr) {
      Null();
    } else {
      Int(0);
    }
    return;
  }
  if (create) {
    hh.version = clients_.hashes().NextVersion();
  }
  const std::string& prefix = Prefix(key, hh.version, ValueType::kZset);
  // ZINCRBY (INCR): the new score first, so that a NaN is refused before anything is queued.
  double incr_to = 0;
  bool incr_found = false;
  if (incr) {
    double cur = 0;
    const int found = MemberScore(prefix, ArgView(first + 1, &tmp_), &cur);
    if (found < 0) {
      return;
    }
    incr_found = found == 1;
    incr_to = zscores_[0] + (incr_found ? cur : 0);
    // (As redis-server's zsetAdd: NX of a member there is a no-op before any sum is made, so
    // ZADD NX INCR inf of a member at -inf answers nil, not the NaN error.)
    if (incr_found && !nx && std::isnan(incr_to)) {
      Err(kNan);
      return;
    }
  }
  // A new set takes every member (XX on a missing key did nothing above), so a long one makes it
  // a skiplist at once; an existing set only for a long member this command adds (redis-server
  // converts in zsetAdd, when it inserts: ZADD XX of a long member that is not there leaves a
  // listpack).
  bool big = false;
  uint64_t buffers = 0;
  uint64_t log_bytes = 0;
  for (size_t i = first; i < cmd_.argc; i += 2) {
    big = big || (create && args_[i + 1].length > kZsetListpackValue);
    ScoreRoom(prefix.size() + args_[i + 1].length, incr && incr_found ? kNoArg : i, &buffers,
              &log_bytes);
  }
  if (!AdmitComposite(key, create, big, ValueType::kZset, &hh, buffers, log_bytes)) {
    return;
  }
  int64_t added = 0, updated = 0, processed = 0;
  bool long_member = false;
  double last = 0;
  for (size_t i = first, j = 0; i < cmd_.argc; i += 2, ++j) {
    // (MemberScore sees this command's own earlier writes: a member named twice is added once
    // and then updated, as zsetAdd does.)
    const std::string_view member = ArgView(i + 1, &tmp_);
    double cur = 0;
    const int found = MemberScore(prefix, member, &cur);
    if (found < 0) {
      return;
    }
    double score = zscores_[j];
    size_t arg = i;
    bool write = false;
    if (found == 1) {
      if (nx) {
        continue;
      }
      if (incr) {
        score = incr_to;
        arg = kNoArg;
      }
      if ((lt && score >= cur) || (gt && score <= cur)) {
        continue;
      }
      write = score != cur;
      updated += write ? 1 : 0;
    } else {
      if (xx) {
        continue;
      }
      write = true;
      ++added;
    }
    ++processed;
    last = score;
    if (write) {
      long_member = long_member || member.size() > kZsetListpackValue;
      // (Asked only of a -0: a listpack's is 0. The set is one while it is not big and this
      // command's members so far are short, as redis-server converts it on the way.)
      const bool listpack = score == 0 && std::signbit(score) && (hh.flags & kHashBig) == 0 &&
                            !long_member && HashLen(prefix) < kZsetListpackEntries;
      if (const store::WriteOutcome w = PutScore(prefix, member, score, arg, listpack);
          w != store::WriteOutcome::kQueued) {
        Refused(w);
        return;
      }
    }
  }
  std::string& answer = list_answer_;
  answer.clear();
  if (incr) {
    if (processed > 0) {
      AppendScore(last, &answer);
    } else {
      answer = resp::kNullBulk;
    }
  } else {
    answer.assign(buf_, resp::WriteInteger(buf_, sizeof(buf_), ch ? added + updated : added));
  }
  if (added + updated == 0) {
    b_->AnswerText(cmd_.conn->id, answer, AnswerClass::kOk, cmd_.close);
    return;
  }
  if (!MarkBig(key, prefix, &hh, expire_ms, big || long_member, ValueType::kZset,
               kZsetListpackEntries)) {
    return;
  }
  if (create) {
    KeyReady(key);  // (clients blocked in BZPOPMIN on it)
  }
  WriteOk(answer);
}

// --- ZREM, the pops and the range deletes.

void KvProtocol::ZRem() {
  RemoveArgs(ValueType::kZset);
}

bool KvProtocol::ZPopPast(std::string_view prefix, bool min, uint64_t count, bool* rest) {
  // The pending writes are the deletes of the pops before this one (and of ZREMs): the pop takes
  // the members from its end that none of them took. Those known taken at the end (`done`: the
  // members the pops before walked past or took) are not walked again while the order stays, so
  // a pipeline of pops walks each member once, not once per pop.
  PopView& v = zpop_;
  CatchUp(&v, prefix);
  if (v.added) {
    return false;
  }
  clients_.hashes().WithZset(prefix, [&](const ZIndex& z) {
    if (z.stamp() != v.stamp) {
      v.stamp = z.stamp();
      v.low = 0;
      v.high = 0;
    }
    const size_t n = z.size();
    size_t& done = min ? v.low : v.high;
    size_t i = done;  // the position from this end
    if (i >= n) {
      *rest = false;
      return;
    }
    auto it = z.At(min ? i : n - 1 - i);
    const auto step = [&] {
      if (++i < n) {
        if (min) {
          ++it;
        } else {
          --it;
        }
      }
    };
    while (i < n && v.taken.Contains(it->member)) {
      step();
    }
    done = i;
    while (i < n && zitems_.size() < count) {
      if (!v.taken.Contains(it->member)) {
        zitems_.push_back(*it);
      }
      step();
    }
    while (i < n && v.taken.Contains(it->member)) {
      step();
    }
    *rest = i < n;
  });
  return true;
}

int64_t KvProtocol::ZPopSome(std::string_view key, const HashHeader& hh, bool min, uint64_t count,
                             std::string* out) {
  FieldPrefix(key, hh.version, &pop_prefix_, ValueType::kZset);
  const std::string_view prefix = pop_prefix_;
  zitems_.clear();
  bool rest = false;  // members left after the pop
  if (!ZPopPast(prefix, min, count, &rest)) {
    ZPopMerged(prefix, min, count, &rest);
  }
  members_.clear();
  for (const ZItem& it : zitems_) {
    members_.push_back(it.member);
  }
  const int64_t n = RemoveMembers(key, prefix, members_, rest ? 0 : 1);
  if (n < 0) {
    return -1;
  }
  for (const ZItem& it : zitems_) {
    out->append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), it.member.size()));
    *out += it.member;
    *out += resp::kCrlf;
    AppendScore(it.score, out);
  }
  return n;
}

void KvProtocol::ZPopMerged(std::string_view prefix, bool min, uint64_t count, bool* rest) {
  // The ends of the directory's order merged with this loop's writes not applied yet (ZADDs
  // among them), not a copy of the set: each member's last write (sorted by member, then order:
  // the last of each run), the live ones in the pop's order.
  zpending_.clear();
  b_->VisitPending([&](std::string_view k, const Value& v) {
    if (k.starts_with(prefix)) {
      double s = 0;
      const bool live = !v.deleted && ReadScore(b_->pool(), v, &s);
      zpending_.push_back(ZPending{k.substr(prefix.size()), live, s, zpending_.size()});
    }
  });
  std::sort(zpending_.begin(), zpending_.end(), [](const ZPending& a, const ZPending& b) {
    return a.member < b.member || (a.member == b.member && a.order < b.order);
  });
  size_t kept = 0;
  for (size_t r = 0; r < zpending_.size(); ++r) {
    if (r + 1 == zpending_.size() || zpending_[r + 1].member != zpending_[r].member) {
      zpending_[kept++] = zpending_[r];
    }
  }
  zpending_.resize(kept);
  const auto written = [&](std::string_view m) {
    return std::binary_search(
        zpending_.begin(), zpending_.end(), ZPending{m, false, 0, 0},
        [](const ZPending& a, const ZPending& b) { return a.member < b.member; });
  };
  zputs_.clear();
  for (const ZPending& p : zpending_) {
    if (p.live) {
      zputs_.push_back(p.score, p.member);
    }
  }
  const ZItemLess less;
  std::sort(zputs_.begin(), zputs_.end(),
            [&](const ZItem& a, const ZItem& b) { return min ? less(a, b) : less(b, a); });
  clients_.hashes().WithZset(prefix, [&](const ZIndex& z) {
    auto it = min ? z.begin() : z.end();
    bool more = it != (min ? z.end() : z.begin());
    if (!min && more) {
      --it;
    }
    const auto next = [&] {
      if (min) {
        more = ++it != z.end();
      } else if (it == z.begin()) {
        more = false;
      } else {
        --it;
      }
    };
    const auto skip = [&] {
      while (more && written(it->member)) {
        next();  // (written by this loop: its state is the pending write's)
      }
    };
    size_t p = 0;
    while (zitems_.size() < count) {
      skip();
      if (!more && p == zputs_.size()) {
        break;
      }
      if (p < zputs_.size() && (!more || (min ? less(zputs_[p], *it) : less(*it, zputs_[p])))) {
        zitems_.push_back(zputs_[p++]);
      } else {
        zitems_.push_back(*it);
        next();
      }
    }
    skip();
    *rest = more || p < zputs_.size();
  });
}

void KvProtocol::ZPop(bool min) {
  if (cmd_.argc > 3) {
    Err(kSyntax);
    return;
  }
  uint64_t count = 1;
  if (cmd_.argc == 3) {
    int64_t c = 0;
    if (!ParseInt64(ArgView(2, &tmp_), &c) || c < 0) {
      Err("ERR value is out of range, must be positive");
      return;
    }
    count = static_cast<uint64_t>(c);
  }
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/false, &hh);
  if (had <= 0 || count == 0) {
    if (had >= 0) {
      b_->AnswerText(cmd_.conn->id, "*0\r\n", AnswerClass::kOk, cmd_.close);  // (a count of 0)
    }
    return;
  }
  std::string& tail = pop_tail_;
  tail.clear();
  const int64_t n = ZPopSome(key, hh, min, count, &tail);
  if (n < 0) {
    return;
  }
  std::string& answer = list_answer_;
  answer.assign(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), 2 * static_cast<uint64_t>(n)));
  answer += tail;
  WriteOk(answer);
}

void KvProtocol::ZPopMin() {
  ZPop(true);
}
void KvProtocol::ZPopMax() {
  ZPop(false);
}

void KvProtocol::BlockingZPop(bool min) {
  int64_t deadline = 0;
  BlockState* waiting = nullptr;
  if (!StartWait(cmd_.argc - 1, &deadline, &waiting)) {
    return;
  }
  for (size_t i = 1; i + 1 < cmd_.argc; ++i) {
    if (!KeyOk(i)) {
      return;
    }
    const std::string key(ArgView(i, &tmp_key_));
    HashHeader hh;
    const int had = ZsetAt(key, /*count=*/false, &hh);
    if (had < 0) {
      if (waiting != nullptr) {
        Unblock(*waiting);  // answered (WRONGTYPE...)
      }
      return;
    }
    if (had == 0) {
      continue;
    }
    std::string answer = KeyedPopHead(key);
    const int64_t n = ZPopSome(key, hh, min, 1, &answer);
    if (n < 0) {
      return;
    }
    if (waiting != nullptr) {
      Unblock(*waiting);
    }
    WriteOk(answer);
    return;
  }
  WaitForKeys(waiting, deadline, min, /*zset=*/true);
}

void KvProtocol::BZPopMin() {
  BlockingZPop(true);
}
void KvProtocol::BZPopMax() {
  BlockingZPop(false);
}

bool KvProtocol::ServeZset(BlockState& bs, std::string_view key) {
  // As Serve (kv_lists.cc) for a client blocked in BZPOPMIN or BZPOPMAX: its pop run here and
  // answered to its connection, or, when it cannot be run here, its connection woken to run it.
  serving_ = true;
  HashHeader hh;
  const bool ok =
      ZsetAt(key, /*count=*/false, &hh) == 1 && b_->LogHasRoom(2 * b_->DeleteRoom(kMaxKeyBytes));
  std::string answer = KeyedPopHead(key);
  const bool popped = ok && ZPopSome(key, hh, bs.left, 1, &answer) == 1;
  serving_ = false;
  if (!popped) {
    bs.state = BlockState::kRetry;
    b_->Wake(bs.conn);
    return false;
  }
  b_->AnswerWrite(bs.conn, answer, kFailed, false);
  Unblock(bs);
  bs.state = BlockState::kServed;
  b_->Wake(bs.conn);
  return true;
}

bool KvProtocol::ZsetFilled(std::string_view key, int64_t now_ms) const {
  Value v;
  if (!shared_.store.Get(key, &v)) {
    return false;
  }
  HashHeader hh;
  const bool live =
      !v.ExpiredAt(now_ms) && ReadHeader(shared_.store.pool(), v, &hh, ValueType::kZset);
  for (const Extent& e : v.extents) {
    (void)shared_.store.pool().Unretain(e.buffer);
  }
  return live && clients_.hashes().Count(FieldPrefix(key, hh.version, ValueType::kZset)) > 0;
}

// --- Reads.

void KvProtocol::ZCard() {
  HashHeader hh;
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had == 0) {
    Int(0);
  } else if (had == 1) {
    Int(static_cast<int64_t>(HashLen(Prefix(key, hh.version, ValueType::kZset))));
  }
}

void KvProtocol::ZScore() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had <= 0) {
    if (had == 0) {
      Null();
    }
    return;
  }
  double s = 0;
  const int found = MemberScore(Prefix(key, hh.version, ValueType::kZset), ArgView(2, &tmp_), &s);
  if (found == 0) {
    Null();
  } else if (found == 1) {
    const size_t begin = Text().size();
    AppendScore(s, &Text());
    b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
  }
}

void KvProtocol::ZMScore() {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had < 0) {
    return;
  }
  std::string& answer = list_answer_;
  answer.assign(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), cmd_.argc - 2));
  const std::string prefix =
      had == 1 ? FieldPrefix(key, hh.version, ValueType::kZset) : std::string();
  for (size_t i = 2; i < cmd_.argc; ++i) {
    double s = 0;
    const int found = had == 1 ? MemberScore(prefix, ArgView(i, &tmp_), &s) : 0;
    if (found < 0) {
      return;
    }
    if (found == 1) {
      AppendScore(s, &answer);
    } else {
      answer += resp::kNullBulk;
    }
  }
  b_->AnswerText(cmd_.conn->id, answer, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::ZRankCmd(bool rev) {
  if (!KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had <= 0) {
    if (had == 0) {
      Null();
    }
    return;
  }
  const std::string_view member = ArgView(2, &tmp_);
  int64_t rank = -1;
  ZView(Prefix(key, hh.version, ValueType::kZset), [&](const ZIndex& z) {
    rank = z.Rank(member);
    if (rank >= 0 && rev) {
      rank = static_cast<int64_t>(z.size()) - 1 - rank;
    }
  });
  if (rank < 0) {
    Null();
  } else {
    Int(rank);
  }
}

void KvProtocol::ZRank() {
  ZRankCmd(false);
}
void KvProtocol::ZRevRank() {
  ZRankCmd(true);
}

// --- Ranges.

// What a range command selects: ranks, scores or members' bytes, forward or reversed, with LIMIT.
struct KvProtocol::ZRangeSpec {
  enum Kind : uint8_t { kAuto, kRank, kScore, kLex };
  Kind kind = kAuto;
  int dir = 0;  // 1 forward, -1 reversed, 0 not said yet
  int64_t start = 0, end = 0;
  double min = 0, max = 0;
  bool minex = false, maxex = false;
  LexBound lmin, lmax;
  int64_t offset = 0, limit = -1;
  bool withscores = false;
};

bool KvProtocol::ParseRange(ZRangeSpec* r, size_t min_arg, size_t max_arg) {
  switch (r->kind) {
    case ZRangeSpec::kAuto:
    case ZRangeSpec::kRank:
      if (!ParseInt64(ArgView(min_arg, &tmp_), &r->start) ||
          !ParseInt64(ArgView(max_arg, &tmp_), &r->end)) {
        Err(kNotInteger);
        return false;
      }
      return true;
    case ZRangeSpec::kScore:
      if (!ParseScoreBound(ArgView(min_arg, &tmp_), &r->min, &r->minex) ||
          !ParseScoreBound(ArgView(max_arg, &tmp_), &r->max, &r->maxex)) {
        Err(kRangeNotFloat);
        return false;
      }
      return true;
    case ZRangeSpec::kLex:
      zmin_.assign(ArgView(min_arg, &tmp_));
      zmax_.assign(ArgView(max_arg, &tmp_));
      if (!ParseLexBound(zmin_, &r->lmin) || !ParseLexBound(zmax_, &r->lmax)) {
        Err(kLexNotRange);
        return false;
      }
      return true;
  }
  return false;
}

void KvProtocol::SelectRange(const ZIndex& z, const ZRangeSpec& r, ItemList* out) {
  out->clear();
  const int64_t size = static_cast<int64_t>(z.size());
  if (size == 0) {
    return;
  }
  const bool rev = r.dir < 0;
  // [lo, hi): the ranks in range, in the set's order; then LIMIT's offset and count from the end
  // the walk starts at.
  int64_t lo = 0, hi = 0;
  int64_t offset = 0, limit = -1;
  if (r.kind == ZRangeSpec::kRank || r.kind == ZRangeSpec::kAuto) {
    int64_t start = r.start < 0 ? size + r.start : r.start;
    int64_t end = r.end < 0 ? size + r.end : r.end;
    start = std::max<int64_t>(start, 0);
    if (start > end || start >= size) {
      return;
    }
    end = std::min(end, size - 1);
    lo = rev ? size - 1 - end : start;
    hi = rev ? size - start : end + 1;
  } else {
    offset = r.offset;
    limit = r.limit;
    if (offset < 0) {
      return;  // (redis-server's walk skips "offset--" members: every one)
    }
    if (r.kind == ZRangeSpec::kScore) {
      lo = static_cast<int64_t>(z.CountBelow(r.min, r.minex));
      hi = static_cast<int64_t>(z.CountBelow(r.max, !r.maxex));
    } else {
      // As redis-server walks a listpack: the first member (from the walk's end) inside the
      // bound it starts from, then members while inside the other; an empty or disjoint range
      // selects nothing.
      const int c = CmpLex(r.lmin, r.lmax);
      if (c > 0 || (c == 0 && (r.lmin.ex || r.lmax.ex))) {
        return;
      }
      const ZKey& first = *z.begin();
      const ZKey& last = *z.At(static_cast<size_t>(size - 1));
      if (!GteMin(last.member, r.lmin) || !LteMax(first.member, r.lmax)) {
        return;
      }
      if (!rev) {
        int64_t i = 0;
        auto it = z.begin();
        while (it != z.end() && !GteMin(it->member, r.lmin)) {
          ++it;
          ++i;
        }
        lo = i;
        while (it != z.end() && LteMax(it->member, r.lmax)) {
          ++it;
          ++i;
        }
        hi = i;
      } else {
        int64_t i = size - 1;
        while (i >= 0 && !LteMax(z.At(static_cast<size_t>(i))->member, r.lmax)) {
          --i;
        }
        hi = i + 1;
        while (i >= 0 && GteMin(z.At(static_cast<size_t>(i))->member, r.lmin)) {
          --i;
        }
        lo = i + 1;
      }
    }
    if (lo >= hi || offset >= hi - lo) {
      return;
    }
    const int64_t n = hi - lo - offset;
    const int64_t take = limit < 0 ? n : std::min(n, limit);
    if (rev) {
      hi -= offset;
      lo = hi - take;
    } else {
      lo += offset;
      hi = lo + take;
    }
  }
  if (lo >= hi) {
    return;
  }
  auto it = z.At(static_cast<size_t>(lo));
  for (int64_t i = lo; i < hi; ++i, ++it) {
    out->push_back(*it);
  }
  if (rev) {
    std::reverse(out->begin(), out->end());
  }
}

void KvProtocol::ZRangeGeneric(size_t key_arg, bool store, uint8_t kind, int dir) {
  // redis-server 7.0's zrangeGenericCommand: the options after the range, their conflicts, the
  // range (its bounds swapped when reversed by score or lex), then the key.
  ZRangeSpec r;
  r.kind = static_cast<ZRangeSpec::Kind>(kind);
  r.dir = dir;
  size_t min_arg = key_arg + 1;
  size_t max_arg = key_arg + 2;
  for (size_t j = key_arg + 3; j < cmd_.argc; ++j) {
    const size_t left = cmd_.argc - j - 1;
    if (!store && Is(j, "withscores")) {
      r.withscores = true;
    } else if (Is(j, "limit") && left >= 2) {
      if (!ParseInt64(ArgView(j + 1, &tmp_), &r.offset) ||
          !ParseInt64(ArgView(j + 2, &tmp_), &r.limit)) {
        Err(kNotInteger);
        return;
      }
      j += 2;
    } else if (r.dir == 0 && Is(j, "rev")) {
      r.dir = -1;
    } else if (r.kind == ZRangeSpec::kAuto && Is(j, "bylex")) {
      r.kind = ZRangeSpec::kLex;
    } else if (r.kind == ZRangeSpec::kAuto && Is(j, "byscore")) {
      r.kind = ZRangeSpec::kScore;
    } else {
      Err(kSyntax);
      return;
    }
  }
  r.dir = r.dir == 0 ? 1 : r.dir;
  r.kind = r.kind == ZRangeSpec::kAuto ? ZRangeSpec::kRank : r.kind;
  if (r.limit != -1 && r.kind == ZRangeSpec::kRank) {
    Err("ERR syntax error, LIMIT is only supported in combination with either BYSCORE or BYLEX");
    return;
  }
  if (r.withscores && r.kind == ZRangeSpec::kLex) {
    Err("ERR syntax error, WITHSCORES not supported in combination with BYLEX");
    return;
  }
  if (r.dir < 0 && r.kind != ZRangeSpec::kRank) {
    std::swap(min_arg, max_arg);
  }
  if (!ParseRange(&r, min_arg, max_arg) || !KeyOk(key_arg) || (store && !KeyOk(1))) {
    return;
  }
  const std::string_view key = ArgView(key_arg, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had < 0) {
    return;
  }
  zitems_.clear();
  if (had == 1) {
    FieldPrefix(key, hh.version, &range_prefix_, ValueType::kZset);
    ZView(range_prefix_, [&](const ZIndex& z) { SelectRange(z, r, &zitems_); });
  }
  if (store) {
    zsources_.assign(1, FieldPrefix(key, hh.version, ValueType::kZset));
    zorigin_.assign(zitems_.size(), 0);
    ZStore(ArgView(1, &tmp_));
    return;
  }
  AnswerItems(zitems_, r.withscores);
}

void KvProtocol::ZRange() {
  ZRangeGeneric(1, false, ZRangeSpec::kAuto, 0);
}
void KvProtocol::ZRangeStore() {
  ZRangeGeneric(2, true, ZRangeSpec::kAuto, 0);
}
void KvProtocol::ZRevRange() {
  ZRangeGeneric(1, false, ZRangeSpec::kRank, -1);
}
void KvProtocol::ZRangeByScore() {
  ZRangeGeneric(1, false, ZRangeSpec::kScore, 1);
}
void KvProtocol::ZRevRangeByScore() {
  ZRangeGeneric(1, false, ZRangeSpec::kScore, -1);
}
void KvProtocol::ZRangeByLex() {
  ZRangeGeneric(1, false, ZRangeSpec::kLex, 1);
}
void KvProtocol::ZRevRangeByLex() {
  ZRangeGeneric(1, false, ZRangeSpec::kLex, -1);
}

void KvProtocol::ZCountCmd(bool lex) {
  // zcountCommand, zlexcountCommand: the range first, then the key.
  ZRangeSpec r;
  r.kind = lex ? ZRangeSpec::kLex : ZRangeSpec::kScore;
  r.dir = 1;
  if (!ParseRange(&r, 2, 3) || !KeyOk(1)) {
    return;
  }
  const std::string_view key = ArgView(1, &tmp_key_);
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/true, &hh);
  if (had <= 0) {
    if (had == 0) {
      Int(0);
    }
    return;
  }
  int64_t n = 0;
  ZView(Prefix(key, hh.version, ValueType::kZset), [&](const ZIndex& z) {
    if (!lex) {
      const size_t lo = z.CountBelow(r.min, r.minex);
      const size_t hi = z.CountBelow(r.max, !r.maxex);
      n = hi > lo ? static_cast<int64_t>(hi - lo) : 0;
    } else {
      SelectRange(z, r, &zitems_);
      n = static_cast<int64_t>(zitems_.size());
    }
  });
  Int(n);
}

void KvProtocol::ZCount() {
  ZCountCmd(false);
}
void KvProtocol::ZLexCount() {
  ZCountCmd(true);
}

void KvProtocol::ZRemRange(uint8_t kind) {
  // zremrangeGenericCommand: the range first, then the key; an emptied set is deleted.
  ZRangeSpec r;
  r.kind = static_cast<ZRangeSpec::Kind>(kind);
  r.dir = 1;
  if (!ParseRange(&r, 2, 3) || !KeyOk(1)) {
    return;
  }
  const std::string key(ArgView(1, &tmp_key_));
  HashHeader hh;
  const int had = ZsetAt(key, /*count=*/false, &hh);
  if (had <= 0) {
    if (had == 0) {
      Int(0);
    }
    return;
  }
  ZView(FieldPrefix(key, hh.version, ValueType::kZset),
        [&](const ZIndex& z) { SelectRange(z, r, &zitems_); });
  members_.clear();
  for (const ZItem& it : zitems_) {
    members_.push_back(it.member);
  }
  RemoveAnswer(key, hh, ValueType::kZset);
}

void KvProtocol::ZRemRangeByScore() {
  ZRemRange(ZRangeSpec::kScore);
}
void KvProtocol::ZRemRangeByRank() {
  ZRemRange(ZRangeSpec::kRank);
}
void KvProtocol::ZRemRangeByLex() {
  ZRemRange(ZRangeSpec::kLex);
}

void KvProtocol::ZScan() {
  HScanLike(ValueType::kZset);
}

// --- ZRANGESTORE's, ZUNIONSTORE's and ZINTERSTORE's result.

void KvProtocol::ZStore(std::string_view dst) {
  // zitems_ is the result; zorigin_[i] names the source (zsources_) whose member holds the same
  // score, whose value the new member then shares (no copy), or kNoArg: a computed score, written
  // fresh. The destination is replaced whatever it held: a new version, or deleted when the
  // result is empty (as redis-server's dbDelete of it).
  const std::string to(dst);
  if (zitems_.empty()) {
    if (!b_->Exists(to)) {
      Int(0);
      return;
    }
    if (const store::WriteOutcome w = b_->Deletable(b_->DeleteRoom(to.size()));
        w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    if (const store::WriteOutcome w = b_->Delete(to); w != store::WriteOutcome::kQueued) {
      Refused(w);
      return;
    }
    WriteOk(":0\r\n");
    return;
  }
  for (const ZItem& it : zitems_) {
    if (!FieldKeyOk(to.size(), it.member.size())) {
      return;
    }
  }
  const bool created = !b_->Exists(to);  // (then clients blocked on it are served: dbAdd)
  HashHeader hh{clients_.hashes().NextVersion(), 0};
  bool big = zitems_.size() > kZsetListpackEntries;
  const std::string prefix = FieldPrefix(to, hh.version, ValueType::kZset);
  uint64_t buffers = 0;
  uint64_t log_bytes = HeaderRoom(to.size(), &buffers);
  values_.assign(zitems_.size(), Value());
  const auto drop = [&] {
    for (Value& v : values_) {
      b_->DropRefs(v.extents);
      v.extents.clear();
    }
  };
  for (size_t i = 0; i < zitems_.size(); ++i) {
    const ZItem& it = zitems_[i];
    big = big || it.member.size() > kZsetListpackValue;
    double s = 0;
    if (zorigin_[i] != kNoArg &&
        b_->Lookup(FieldKey(zsources_[zorigin_[i]], it.member), &values_[i]) &&
        ReadScore(b_->pool(), values_[i], &s) && s == it.score &&
        std::signbit(s) == std::signbit(it.score)) {
      log_bytes += OwnedRecordRoom(*b_, prefix.size() + it.member.size(), values_[i], 0);
      continue;
    }
    b_->DropRefs(values_[i].extents);
    values_[i] = Value();
    ScoreRoom(prefix.size() + it.member.size(), kNoArg, &buffers, &log_bytes);
  }
  if (const store::WriteOutcome w = b_->Admit(buffers, log_bytes);
      w != store::WriteOutcome::kQueued) {
    drop();
    Refused(w);
    return;
  }
  hh.flags = big ? kHashBig : 0;
  if (const store::WriteOutcome w = PutHeader(to, hh, 0, ValueType::kZset);
      w != store::WriteOutcome::kQueued) {
    drop();
    Refused(w);
    return;
  }
  for (size_t i = 0; i < zitems_.size(); ++i) {
    store::WriteOutcome w;
    if (!values_[i].extents.empty()) {
      const uint32_t length = values_[i].length;
      // PERSIST: none here. The member shares the source member's buffers (one more reference
      // each); its record goes into the open batch with the header's (rule 14).
      w = b_->PutOwned(FieldKey(prefix, zitems_[i].member), std::move(values_[i].extents), length,
                       /*admitted=*/true);
      values_[i].extents.clear();
    } else {
      w = PutScore(prefix, zitems_[i].member, zitems_[i].score, kNoArg, !big);
    }
    if (w != store::WriteOutcome::kQueued) {
      drop();
      Refused(w);
      return;
    }
  }
  if (created) {
    KeyReady(to);
  }
  WriteOk({buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(zitems_.size()))});
}

void KvProtocol::ZSetOperation(bool inter) {
  // zunionInterDiffGenericCommand (7.0): numkeys, the sources (sorted sets, or sets: each member
  // scores 1) type-checked before the options, WEIGHTS and AGGREGATE, then the sources from the
  // smallest, each weighted score a NaN taken as 0, the sum's NaN as 0.
  int64_t numkeys = 0;
  if (!ParseInt64(ArgView(2, &tmp_), &numkeys)) {
    Err(kNotInteger);
    return;
  }
  if (numkeys < 1) {
    Err(std::string("ERR at least 1 input key is needed for '") +
        (inter ? "zinterstore" : "zunionstore") + "' command");
    return;
  }
  if (static_cast<uint64_t>(numkeys) > cmd_.argc - 3) {
    Err(kSyntax);
    return;
  }
  if (!KeyOk(1)) {
    return;
  }
  const size_t n = static_cast<size_t>(numkeys);
  struct Source {
    std::vector<ZItem> items;
    double weight = 1;
    size_t origin = kNoArg;  // its index in zsources_ (a sorted set's), or kNoArg (a set's)
  };
  std::vector<Source> src(n);
  zsources_.clear();
  for (size_t i = 0; i < n; ++i) {
    const size_t a = 3 + i;
    if (!KeyOk(a)) {
      return;
    }
    const std::string key(ArgView(a, &tmp_key_));
    Value v;
    const bool found = b_->Lookup(key, &v);
    CountRead(found);  // (as redis-server counts each source it reads, a wrong type's too)
    if (!found) {
      if (b_->lookup_damaged()) {
        Err(kDamaged);
        return;
      }
      continue;
    }
    const ValueType type = v.type;
    HashHeader hh;
    const bool ok = ReadHeader(b_->pool(), v, &hh, type);
    b_->DropRefs(v.extents);
    if (type != ValueType::kZset && type != ValueType::kSet) {
      Err(kWrongType);
      return;
    }
    if (!ok) {
      Err(kDamaged);
      return;
    }
    if (type == ValueType::kSet) {
      HashFields(FieldPrefix(key, hh.version), &names_);
      for (const std::string_view m : names_) {
        src[i].items.push_back(ZItem{1.0, std::string(m)});
      }
      continue;
    }
    zsources_.push_back(FieldPrefix(key, hh.version, ValueType::kZset));
    src[i].origin = zsources_.size() - 1;
    ZView(zsources_.back(), [&](const ZIndex& z) {
      for (const ZKey& k : z) {
        src[i].items.push_back(ToItem(k));
      }
    });
  }
  enum { kSum, kMin, kMax } aggregate = kSum;
  for (size_t j = 3 + n; j < cmd_.argc;) {
    const size_t remaining = cmd_.argc - j;
    if (remaining >= n + 1 && Is(j, "weights")) {
      ++j;
      for (size_t i = 0; i < n; ++i, ++j) {
        if (!ParseScore(ArgView(j, &tmp_), &src[i].weight)) {
          Err("ERR weight value is not a float");
          return;
        }
      }
    } else if (remaining >= 2 && Is(j, "aggregate")) {
      if (Is(j + 1, "sum")) {
        aggregate = kSum;
      } else if (Is(j + 1, "min")) {
        aggregate = kMin;
      } else if (Is(j + 1, "max")) {
        aggregate = kMax;
      } else {
        Err(kSyntax);
        return;
      }
      j += 2;
    } else {
      Err(kSyntax);
      return;
    }
  }
  std::stable_sort(src.begin(), src.end(), [](const Source& a, const Source& b) {
    return a.items.size() < b.items.size();
  });
  // As redis-server 7.0's zunionInterGenericCommand: a weighted score that is NaN (a weight of
  // inf times a score of 0) counts as 0 where it starts a member's score (every source of a union,
  // the first of an intersection), and as NaN where it joins one (an intersection's other
  // sources: a sum then becomes NaN, which counts as 0; MIN and MAX keep the score they had).
  const auto weighted = [](const Source& s, double score) {
    const double v = s.weight * score;
    return std::isnan(v) ? 0.0 : v;
  };
  const auto combine = [&](double* t, double v) {
    if (aggregate == kSum) {
      *t += v;
      if (std::isnan(*t)) {
        *t = 0;
      }
    } else if (aggregate == kMin) {
      *t = std::min(*t, v);
    } else {
      *t = std::max(*t, v);
    }
  };
  // The result, with the source each score may be shared from (its first contributor, while
  // the score is still that member's own).
  std::unordered_map<std::string, size_t, StringHash, std::equal_to<>> at;
  zitems_.clear();
  zorigin_.clear();
  const auto own = [](const Source& s, double w, double raw) {
    return s.origin != kNoArg && w == raw && std::signbit(w) == std::signbit(raw);
  };
  if (inter) {
    std::vector<std::unordered_map<std::string_view, double>> maps(n);
    for (size_t j = 1; j < n; ++j) {
      for (const ZItem& it : src[j].items) {
        maps[j].emplace(it.member, it.score);
      }
    }
    for (const ZItem& it : src[0].items) {
      double score = weighted(src[0], it.score);
      size_t origin = own(src[0], score, it.score) ? src[0].origin : kNoArg;
      bool all = true;
      for (size_t j = 1; j < n && all; ++j) {
        auto hit = maps[j].find(it.member);
        if (hit == maps[j].end()) {
          all = false;
          break;
        }
        const double before = score;
        combine(&score, src[j].weight * hit->second);
        if (score != before || std::signbit(score) != std::signbit(before)) {
          origin = own(src[j], score, hit->second) ? src[j].origin : kNoArg;
        }
      }
      if (all) {
        zitems_.push_back(score, it.member);
        zorigin_.push_back(origin);
      }
    }
  } else {
    for (const Source& s : src) {
      for (const ZItem& it : s.items) {
        const double v = weighted(s, it.score);
        auto f = at.find(it.member);
        if (f == at.end()) {
          at.emplace(it.member, zitems_.size());
          zitems_.push_back(v, it.member);
          zorigin_.push_back(own(s, v, it.score) ? s.origin : kNoArg);
          continue;
        }
        double& t = zitems_[f->second].score;
        const double before = t;
        combine(&t, v);
        if (t != before || std::signbit(t) != std::signbit(before)) {
          zorigin_[f->second] = own(s, t, it.score) ? s.origin : kNoArg;
        }
      }
    }
  }
  ZStore(ArgView(1, &tmp_));
}

void KvProtocol::ZUnionStore() {
  ZSetOperation(false);
}
void KvProtocol::ZInterStore() {
  ZSetOperation(true);
}

}  // namespace pastel::kv
