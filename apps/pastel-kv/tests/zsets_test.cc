// The sorted sets' pieces (kv_zsets.h): scores parse as redis-server's string2d and format as its
// replies, member keys live in their own namespace, and ZIndex agrees with a model (a sorted
// vector of (score, member)) over random puts and erases: sizes, scores, ranks, the walk in
// order and the counts below a score; its stamp changes with every change; MemberSet (a pipeline
// of pops' members taken) agrees with a model set.

#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
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
