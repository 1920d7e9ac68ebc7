// The sorted sets' pieces (kv_zsets.h): scores parse as redis-server's string2d and format as its
// replies, member keys live in their own namespace, and ZIndex agrees with a model (a sorted
// vector of (score, member)) over random puts and erases: sizes, scores, ranks, the walk in
// order and the counts below a score; its stamp changes with every change; MemberSet (a pipeline
// of pops' members taken) agrees with a model set; ZOrder (the B+tree under ZIndex) agrees with a
// model through its nodes' splits, merges and moves, and ZMembers (its member -> score table)
// agrees with a map.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <memory>
#include <random>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "kv_hashes.h"
#include "kv_zsets.h"

namespace pastel::kv {
namespace {

TEST(ZsetScoreTest, ParsesAsRedisServersString2d) {
  double v = 0;
  ASSERT_TRUE(ParseScore("1.5", &v));
  EXPECT_EQ(v, 1.5);
  ASSERT_TRUE(ParseScore("-0", &v));
  EXPECT_TRUE(v == 0 && std::signbit(v));
  ASSERT_TRUE(ParseScore("0x10", &v));  // (strtod reads hexadecimal)
  EXPECT_EQ(v, 16);
  ASSERT_TRUE(ParseScore("+inf", &v));
  EXPECT_TRUE(std::isinf(v) && v > 0);
  ASSERT_TRUE(ParseScore("-inf", &v));
  EXPECT_TRUE(std::isinf(v) && v < 0);
  ASSERT_TRUE(ParseScore("1e-310", &v)) << "a subnormal is not an underflow to zero";
  for (const std::string_view bad :
       std::initializer_list<std::string_view>{"", " 1", "1 ", "nan", "abc", "1e400", "-1e400",
                                               "1e-400", "1x", std::string_view("1\0", 2)}) {
    EXPECT_FALSE(ParseScore(bad, &v)) << bad;
  }
}

TEST(ZsetScoreTest, FormatsAsRedisServersReplies) {
  char text[kScoreChars];
  EXPECT_EQ(FormatScore(1, text), "1");
  EXPECT_EQ(FormatScore(-0.0, text), "-0");
  EXPECT_EQ(FormatScore(1.1, text), "1.1000000000000001");
  EXPECT_EQ(FormatScore(1e20, text), "1e+20");
  EXPECT_EQ(FormatScore(std::numeric_limits<double>::infinity(), text), "inf");
  EXPECT_EQ(FormatScore(-std::numeric_limits<double>::infinity(), text), "-inf");
  // Every formatted score parses back to the same double (a computed score is stored so).
  std::mt19937_64 rng(3);
  for (int i = 0; i < 10000; ++i) {
    double d = 0;
    const uint64_t bits = rng();
    std::memcpy(&d, &bits, sizeof(d));
    if (std::isnan(d)) {
      continue;
    }
    double back = 0;
    ASSERT_TRUE(ParseScore(FormatScore(d, text), &back)) << FormatScore(d, text);
    ASSERT_EQ(std::memcmp(&back, &d, sizeof(d)), 0) << FormatScore(d, text);
  }
}

TEST(ZsetLayoutTest, MemberKeysAreTheirOwnNamespace) {
  const std::string key("board", 5);
  const std::string mk = FieldPrefix(key, 42, ValueType::kZset) + "alice";
  EXPECT_TRUE(mk.starts_with(kZsetPrefix));
  EXPECT_TRUE(ZsetKey(mk));
  EXPECT_TRUE(InternalKey(mk));
  EXPECT_FALSE(ZsetKey(FieldPrefix(key, 42) + "alice")) << "a hash's field is not a member";
  std::string_view k, m;
  uint64_t version = 0;
  ASSERT_TRUE(ParseFieldKey(mk, &k, &version, &m));
  EXPECT_EQ(k, key);
  EXPECT_EQ(version, 42u);
  EXPECT_EQ(m, "alice");
  EXPECT_FALSE(InternalKey(std::string("\xff\xfc", 2) + "x")) << "FF FC is a user's key";
}

// The model: (score, member) sorted as redis-server sorts them.
using Item = std::pair<double, std::string>;
bool Less(const Item& a, const Item& b) {
  return a.first != b.first ? a.first < b.first : a.second < b.second;
}

TEST(ZIndexTest, AgreesWithASortedModel) {
  std::mt19937_64 rng(11);
  const std::vector<double> scores = {
      -std::numeric_limits<double>::infinity(), -2.5, -0.0, 0.0, 1, 1, 3.25, 1e300,
      std::numeric_limits<double>::infinity()};
  ZIndex z;
  std::map<std::string, double> model;
  for (int step = 0; step < 20000; ++step) {
    std::string member = std::to_string(rng() % 300);
    if (rng() % 8 == 0) {
      member += std::string("\xff\x00", 2);  // (bytes above 0x7f sort after ASCII, as memcmp)
    }
    if (rng() % 3 != 0) {
      const double s = scores[rng() % scores.size()];
      z.Put(member, s);
      model[member] = s;
    } else {
      ASSERT_EQ(z.Erase(member), model.erase(member) == 1) << step;
    }
    ASSERT_EQ(z.size(), model.size());
    if (step % 500 != 0) {
      continue;
    }
    std::vector<Item> sorted;
    for (const auto& [m, s] : model) {
      sorted.emplace_back(s, m);
    }
    std::sort(sorted.begin(), sorted.end(), Less);
    size_t r = 0;
    for (auto it = z.begin(); it != z.end(); ++it, ++r) {
      ASSERT_LT(r, sorted.size());
      ASSERT_EQ(it->member, sorted[r].second) << "rank " << r;
      ASSERT_EQ(it->score, sorted[r].first);
      ASSERT_EQ(z.Rank(it->member), static_cast<int64_t>(r));
      ASSERT_EQ(z.At(r)->member, sorted[r].second);
      ASSERT_NE(z.Find(it->member), nullptr);
      ASSERT_EQ(*z.Find(it->member), sorted[r].first);
    }
    ASSERT_EQ(r, sorted.size());
    EXPECT_EQ(z.Rank("absent member"), -1);
    for (const double s : scores) {
      const auto below =
          std::count_if(sorted.begin(), sorted.end(), [&](const Item& i) { return i.first < s; });
      const auto at_most =
          std::count_if(sorted.begin(), sorted.end(), [&](const Item& i) { return i.first <= s; });
      ASSERT_EQ(z.CountBelow(s, false), static_cast<size_t>(below)) << s;
      ASSERT_EQ(z.CountBelow(s, true), static_cast<size_t>(at_most)) << s;
    }
  }
}

// ZOrder's model: its entries, each viewing member bytes of its own that live exactly as long as
// the entry is in the order (as ZIndex's map keeps them). An erased entry's bytes are scribbled
// over before they are freed, so an order that still compared against them (a node's key left
// behind) would go astray here, not only under ASan.
using OrderModel = std::map<ZKey, std::unique_ptr<std::string>, ZItemLess>;

// ZOrder against the model: sizes, the walk both ways, every rank, and the count below present
// and absent entries.
void ExpectOrderIs(const ZOrder& order, const OrderModel& model, int step) {
  ASSERT_EQ(order.size(), model.size()) << step;
  ASSERT_EQ(order.begin() == order.end(), model.empty()) << step;
  size_t r = 0;
  auto it = order.begin();
  for (const auto& [k, bytes] : model) {
    ASSERT_NE(it, order.end()) << step;
    ASSERT_EQ(it->score, k.score) << step << " rank " << r;
    ASSERT_EQ(it->member, k.member) << step << " rank " << r;
    ASSERT_EQ(order.find_by_order(r), it) << step << " rank " << r;
    ASSERT_EQ(order.order_of_key(k), r) << step;
    // (just above `k`: an absent entry, one more member bytes)
    const std::string above = std::string(k.member) + std::string(1, '\0');
    ASSERT_EQ(order.order_of_key(ZKey{k.score, above}), r + 1) << step;
    ++it;
    ++r;
  }
  ASSERT_EQ(it, order.end()) << step;
  ASSERT_EQ(order.find_by_order(model.size()), order.end());
  for (auto m = model.rbegin(); m != model.rend(); ++m) {
    --it;
    ASSERT_EQ(it->member, m->first.member) << step;
  }
  ASSERT_EQ(it, order.begin()) << step;
}

TEST(ZOrderTest, AgreesWithAModelThroughSplitsMergesAndMoves) {
  std::mt19937_64 rng(29);
  // The members' bytes live here for the whole test (the order views them).
  std::vector<std::string> names;
  names.reserve(30002);
  for (int i = 0; i < 30000; ++i) {
    names.push_back("m:" + std::to_string(i));
  }
  names.emplace_back("");                          // (below every other member)
  names.emplace_back(std::string("\xff\x00", 2));  // (above, as memcmp)
  const std::vector<double> few = {-std::numeric_limits<double>::infinity(), -0.0, 0.0, 1, 2.5,
                                   std::numeric_limits<double>::infinity()};
  ZOrder order;
  OrderModel model;
  int step = 0;
  const auto put = [&](const ZKey& k) {
    if (model.contains(k)) {
      ASSERT_FALSE(order.insert(k)) << step;
      return;
    }
    auto bytes = std::make_unique<std::string>(k.member);
    const ZKey owned{k.score, *bytes};
    ASSERT_TRUE(order.insert(owned)) << step;
    model.emplace(owned, std::move(bytes));
  };
  const auto erase = [&](const ZKey& k) {
    auto at = model.find(k);
    if (at == model.end()) {
      ASSERT_FALSE(order.erase(k)) << step;
      return;
    }
    ASSERT_TRUE(order.erase(k)) << step;
    std::unique_ptr<std::string> bytes = std::move(at->second);
    model.erase(at);
    std::fill(bytes->begin(), bytes->end(), '\xee');
  };
  for (int round = 0; round < 3; ++round) {
    // Grow: random entries, many on a few scores (ties ordered by member), a share of them
    // inserted twice and erased when absent.
    const int grow = round == 1 ? 25000 : 9000;
    for (int i = 0; i < grow; ++i, ++step) {
      const std::string& m = names[rng() % names.size()];
      const double s =
          rng() % 3 == 0 ? few[rng() % few.size()] : static_cast<double>(rng() % 1000) / 8;
      if (rng() % 5 == 0) {
        erase(ZKey{s, m});
      } else {
        put(ZKey{s, m});
      }
      if (i % 3000 == 0) {
        ExpectOrderIs(order, model, step);
      }
    }
    ExpectOrderIs(order, model, step);
    // Thin out at random (leaves merge and move entries), then drain from both ends (the pops).
    std::vector<std::pair<double, std::string>> doomed;
    for (const auto& [k, bytes] : model) {
      doomed.emplace_back(k.score, k.member);
    }
    std::shuffle(doomed.begin(), doomed.end(), rng);
    doomed.resize(doomed.size() * 3 / 4);
    for (size_t i = 0; i < doomed.size(); ++i, ++step) {
      const ZKey k{doomed[i].first, doomed[i].second};
      erase(k);
      ASSERT_FALSE(order.erase(k));
      if (i % 2000 == 0) {
        ExpectOrderIs(order, model, step);
      }
    }
    ExpectOrderIs(order, model, step);
    while (model.size() > (round == 2 ? 0u : 50u)) {
      const ZKey end = step % 2 == 0 ? model.begin()->first : model.rbegin()->first;
      ASSERT_EQ(order.find_by_order(step % 2 == 0 ? 0 : model.size() - 1)->member, end.member);
      const std::string member(end.member);  // (erase scribbles over the entry's own bytes)
      erase(ZKey{end.score, member});
      ++step;
    }
    ExpectOrderIs(order, model, step);
  }
  EXPECT_TRUE(order.empty());
  EXPECT_EQ(order.order_of_key(ZKey{1, "x"}), 0u);
  // Moved whole: the other order has every entry, this one none.
  for (int i = 0; i < 500; ++i) {
    put(ZKey{static_cast<double>(i % 7), names[static_cast<size_t>(i)]});
  }
  ZOrder moved(std::move(order));
  ExpectOrderIs(moved, model, step);
  EXPECT_TRUE(order.empty());  // NOLINT(bugprone-use-after-move): a moved-from order is empty
  moved.clear();
  EXPECT_TRUE(moved.empty());
  EXPECT_EQ(moved.begin(), moved.end());
}

// ZMembers (ZIndex's member -> score table) agrees with a map through growth, shrinking and the
// shifts of its erases, and a member's bytes stay where Insert put them until it is erased (the
// order's entries view them) while the slots move.
TEST(ZMembersTest, AgreesWithAMapAndKeepsEachMembersBytesInPlace) {
  std::mt19937_64 rng(31);
  ZMembers members;
  std::map<std::string, std::pair<double, std::string_view>> model;  // -> score, its bytes
  for (int step = 0; step < 60000; ++step) {
    // (30,000 steps of growth to ~8,000 members, then 30,000 of mostly erases)
    const bool grow = step < 30000 ? rng() % 4 != 0 : rng() % 5 == 0;
    std::string m = "member:" + std::to_string(rng() % 12000);
    if (rng() % 50 == 0) {
      m = rng() % 2 == 0 ? std::string() : std::string("\0\xff", 2);
    }
    const ZMembers::Found f = members.Lookup(m);
    auto at = model.find(m);
    ASSERT_EQ(f.score != nullptr, at != model.end()) << step;
    if (at != model.end()) {
      ASSERT_EQ(*f.score, at->second.first);
      ASSERT_EQ(f.member.data(), at->second.second.data()) << "moved: " << m;
      ASSERT_EQ(f.member, m);
    }
    if (grow) {
      const double score = static_cast<double>(rng() % 100);
      if (at != model.end()) {
        *f.score = score;
        at->second.first = score;
      } else {
        const std::string_view bytes = members.Insert(m, score);
        ASSERT_EQ(bytes, m);
        model.emplace(m, std::make_pair(score, bytes));
      }
    } else {
      ASSERT_EQ(members.Erase(m), at != model.end()) << step;
      if (at != model.end()) {
        model.erase(at);
      }
    }
    ASSERT_EQ(members.size(), model.size());
    if (step % 5000 == 0 || step == 59999) {
      size_t seen = 0;
      members.ForEach([&](std::string_view m2, double score) {
        auto it = model.find(std::string(m2));
        EXPECT_NE(it, model.end()) << "not a member: " << m2;
        if (it != model.end()) {
          EXPECT_EQ(it->second.first, score);
          EXPECT_EQ(it->second.second.data(), m2.data());
        }
        ++seen;
        return true;
      });
      ASSERT_EQ(seen, model.size()) << step;
      for (const auto& [m2, v] : model) {
        ASSERT_EQ(v.second, m2) << "the bytes changed while the member was in the set";
      }
    }
  }
  // A copy has the same members and scores in bytes of its own.
  ZMembers copy(members);
  ASSERT_EQ(copy.size(), members.size());
  size_t visited = 0;
  members.ForEach([&](std::string_view m, double score) {
    const ZMembers::Found f = copy.Lookup(m);
    EXPECT_NE(f.score, nullptr) << m;
    if (f.score != nullptr) {
      EXPECT_EQ(*f.score, score);
      EXPECT_NE(f.member.data(), m.data());
    }
    ++visited;
    return true;
  });
  EXPECT_EQ(visited, copy.size());
  visited = 0;
  members.ForEach([&](std::string_view, double) { return ++visited < 10; });
  EXPECT_EQ(visited, 10u) << "a visit stops when told";
  members.clear();
  EXPECT_TRUE(members.empty());
  EXPECT_EQ(members.Lookup("member:1").score, nullptr);
}

// A pipeline of pops keeps positions in an order while its stamp stays: every change draws a new
// one, a refused erase does not, and no two ZIndexes share one (a set deleted and made again is
// another order).
TEST(ZIndexTest, TheStampChangesWithEveryChangeOfTheOrder) {
  ZIndex z;
  std::set<uint64_t> seen = {z.stamp()};
  z.Put("a", 1);
  EXPECT_TRUE(seen.insert(z.stamp()).second);
  z.Put("a", 2);  // (a move)
  EXPECT_TRUE(seen.insert(z.stamp()).second);
  const uint64_t before = z.stamp();
  EXPECT_FALSE(z.Erase("b"));
  EXPECT_EQ(z.stamp(), before) << "nothing changed";
  EXPECT_TRUE(z.Erase("a"));
  EXPECT_TRUE(seen.insert(z.stamp()).second);
  ZIndex other;
  EXPECT_TRUE(seen.insert(other.stamp()).second);
  other.Put("a", 2);
  EXPECT_TRUE(seen.insert(other.stamp()).second);
  EXPECT_NE(other.stamp(), 0u);
}

// MemberSet (the members a pipeline of pops took) is exact: it agrees with a model set over
// random inserts (empty members, NUL and high bytes, members that are prefixes of others), through
// growth and after Clear.
TEST(MemberSetTest, AgreesWithAModelSet) {
  std::mt19937_64 rng(5);
  MemberSet s;
  for (int round = 0; round < 3; ++round) {
    std::set<std::string> model;
    for (int step = 0; step < 3000; ++step) {
      std::string m = std::to_string(rng() % 2000);
      switch (rng() % 6) {
        case 0: m = m.substr(0, 1); break;
        case 1: m += std::string("\0\xff", 2); break;
        case 2: m.clear(); break;
        default: break;
      }
      if (rng() % 2 == 0) {
        s.Insert(m);
        model.insert(m);
      }
      const std::string probe = std::to_string(rng() % 2000);
      ASSERT_EQ(s.Contains(probe), model.count(probe) == 1) << probe;
      ASSERT_EQ(s.Contains(m), model.count(m) == 1);
      ASSERT_EQ(s.size(), model.size());
    }
    for (const std::string& m : model) {
      ASSERT_TRUE(s.Contains(m));
    }
    s.Clear();
    EXPECT_EQ(s.size(), 0u);
    for (const std::string& m : model) {
      ASSERT_FALSE(s.Contains(m)) << "after Clear";
    }
  }
}

}  // namespace
}  // namespace pastel::kv
