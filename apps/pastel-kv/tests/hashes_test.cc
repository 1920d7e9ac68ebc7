// The hashes' layout and the directory's field set (kv_hashes.h): field keys parse back to their
// parts, FieldTable agrees with a model set over random inserts and erases, and so does the
// NameList that whole-set reads list names into (kv_util.h).

#include <gtest/gtest.h>

#include <random>
#include <set>
#include <string>
#include <vector>

#include "kv_hashes.h"

namespace pastel::kv {
namespace {

TEST(HashLayoutTest, FieldKeysParseBackToTheirParts) {
  const std::string key("user:\xff\x00\x01", 8);
  for (const std::string& field : {std::string(), std::string("f"), std::string(300, 'x')}) {
    const std::string fk = FieldPrefix(key, 0x0102030405060708) + field;
    ASSERT_EQ(fk.size(), kFieldKeyOverhead + key.size() + field.size());
    EXPECT_TRUE(fk.starts_with(kHashPrefix));
    std::string_view k, f;
    uint64_t version = 0;
    ASSERT_TRUE(ParseFieldKey(fk, &k, &version, &f));
    EXPECT_EQ(k, key);
    EXPECT_EQ(version, 0x0102030405060708u);
    EXPECT_EQ(f, field);
  }
  std::string_view k, f;
  uint64_t version = 0;
  EXPECT_FALSE(ParseFieldKey("plain key", &k, &version, &f));
  const std::string short_key = std::string(kHashPrefix) + std::string("\x00\x09", 2) + "ab";
  EXPECT_FALSE(ParseFieldKey(short_key, &k, &version, &f)) << "a key length beyond the bytes";
}

// Random inserts and erases of names from a small universe (many repeats, long runs of probes,
// erases in the middle of runs): the table answers as a std::set does, and lists the same names.
// Random names pushed with repeats, sorted, searched and filtered, round after round in one list
// (as a loop reuses it): each round the same as a std::set of them.
TEST(NameListTest, AgreesWithAModelSetFromRoundToRound) {
  std::mt19937_64 rng(7);
  NameList list;
  for (int round = 0; round < 200; ++round) {
    list.clear();
    std::set<std::string> model;
    const int n = static_cast<int>(rng() % 64);
    for (int i = 0; i < n; ++i) {
      // Short and long names (beyond std::string's inline bytes), and the empty one.
      const std::string name(rng() % 3 == 0 ? 40 + rng() % 40 : rng() % 4,
                             static_cast<char>('a' + rng() % 3));
      list.push_back(name);
      model.insert(name);
    }
    list.Sort();
    ASSERT_EQ(std::vector<std::string>(list.begin(), list.end()),
              std::vector<std::string>(model.begin(), model.end()))
        << "round " << round;
    for (int i = 0; i < 8; ++i) {
      const std::string probe(rng() % 4, static_cast<char>('a' + rng() % 3));
      EXPECT_EQ(list.contains(probe), model.contains(probe)) << probe;
    }
    list.Filter([](std::string_view s) { return s.size() % 2 == 0; });
    std::erase_if(model, [](const std::string& s) { return s.size() % 2 != 0; });
    ASSERT_EQ(std::vector<std::string>(list.begin(), list.end()),
              std::vector<std::string>(model.begin(), model.end()))
        << "round " << round << ", filtered";
    EXPECT_EQ(list.size(), model.size());
    EXPECT_EQ(list.empty(), model.empty());
  }
}

TEST(FieldTableTest, AgreesWithAModelSet) {
  std::mt19937_64 rng(7);
  FieldTable t;
  std::set<std::string> model;
  for (int step = 0; step < 200000; ++step) {
    const std::string name =
        std::to_string(rng() % 3000) + (rng() % 4 == 0 ? std::string(40, 'l') : std::string());
    switch (rng() % 3) {
      case 0:
      case 1: ASSERT_EQ(t.insert(name), model.insert(name).second) << step; break;
      default: ASSERT_EQ(t.erase(name), model.erase(name) == 1) << step; break;
    }
    ASSERT_EQ(t.size(), model.size());
    if (step % 1000 == 0) {
      for (const std::string& m : model) {
        ASSERT_TRUE(t.contains(m)) << m;
      }
      std::set<std::string> listed;
      t.ForEach([&](std::string_view n) {
        EXPECT_TRUE(listed.emplace(n).second) << "listed twice: " << n;
        return true;
      });
      ASSERT_EQ(listed, model);
      // At most half used, and at least an eighth above 8 slots (a shrunk set's table shrinks).
      ASSERT_LE(t.size() * 2, t.capacity());
      ASSERT_TRUE(t.capacity() <= 8 || t.size() * 8 >= t.capacity())
          << t.size() << " names in " << t.capacity() << " slots";
    }
  }
  EXPECT_FALSE(t.contains("never"));
  EXPECT_FALSE(t.erase("never"));
}

TEST(FieldTableTest, ARandomNameIsFoundWhileAnyIsNotRefused) {
  // SPOP's draw: from a random slot, the first name not refused (the members a pipeline of pops
  // took and has not applied yet). It fails only when every name is refused, however few are
  // left in however large a table.
  std::mt19937_64 rng(11);
  FieldTable t;
  for (int i = 0; i < 4096; ++i) {
    ASSERT_TRUE(t.insert("member:" + std::to_string(i)));
  }
  std::set<std::string, std::less<>> refused;
  const auto apply = [&] {
    for (const std::string& r : refused) {
      ASSERT_TRUE(t.erase(r));
    }
    refused.clear();
  };
  while (t.size() > 0) {
    if (t.size() == refused.size()) {
      apply();  // every name taken: none to draw until they are applied
      continue;
    }
    std::string_view name;
    for (int draw = 0; draw < 4; ++draw) {
      ASSERT_TRUE(t.NameFrom(
          rng(), [&](std::string_view n) { return refused.contains(n); }, &name))
          << t.size() << " names, " << refused.size() << " refused";
      ASSERT_TRUE(t.contains(name));
      ASSERT_FALSE(refused.contains(name));
    }
    refused.emplace(name);  // popped, not applied yet; every 16 pops are applied together
    if (refused.size() == 16) {
      apply();
    }
  }
  EXPECT_EQ(t.size(), 0u);
  std::string_view none;
  EXPECT_FALSE(t.NameFrom(
      rng(), [](std::string_view) { return false; }, &none));
  ASSERT_TRUE(t.insert("only"));
  EXPECT_FALSE(t.NameFrom(
      rng(), [](std::string_view n) { return n == "only"; }, &none))
      << "every name refused";
}

}  // namespace
}  // namespace pastel::kv
