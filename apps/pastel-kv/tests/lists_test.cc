// The lists' layout and directory (kv_lists.h): item keys parse back to their parts and sort in
// position order; the directory lets one loop at a time write a list, shows the other loops what
// the index holds, follows the applied writes, and forgets a transaction's dropped writes.

#include <gtest/gtest.h>

#include <string>

#include "kv_lists.h"

namespace pastel::kv {
namespace {

std::string Item(std::string_view key, uint64_t version, uint64_t position) {
  std::string prefix, ik;
  ItemPrefix(key, version, &prefix);
  ItemKey(prefix, position, &ik);
  return ik;
}

TEST(ListLayoutTest, ItemKeysParseBackAndSortInPositionOrder) {
  const std::string key("q:\xff\x00", 4);
  const std::string ik = Item(key, 7, kListMiddle - 1);
  ASSERT_EQ(ik.size(), kItemKeyOverhead + key.size());
  EXPECT_TRUE(ik.starts_with(kListPrefix));
  std::string_view k;
  uint64_t version = 0, position = 0;
  ASSERT_TRUE(ParseItemKey(ik, &k, &version, &position));
  EXPECT_EQ(k, key);
  EXPECT_EQ(version, 7u);
  EXPECT_EQ(position, kListMiddle - 1);
  // Big-endian positions: the index's key order is the list's order, across the middle too.
  EXPECT_LT(Item(key, 7, kListMiddle - 1), Item(key, 7, kListMiddle));
  EXPECT_LT(Item(key, 7, kListMiddle), Item(key, 7, kListMiddle + 256));
  // Not item keys: another namespace, a length that does not add up.
  EXPECT_FALSE(ParseItemKey("plain key", &k, &version, &position));
  EXPECT_FALSE(ParseItemKey(ik.substr(0, ik.size() - 1), &k, &version, &position));
  EXPECT_FALSE(ParseItemKey(ik + "x", &k, &version, &position));
}

TEST(ListDirectoryTest, OneLoopWritesAListTheOthersSeeWhatIsApplied) {
  KvLists d;
  const uint64_t v = d.NextVersion();
  ListRange r;
  ASSERT_TRUE(d.Claim("q", v, 0, &r));
  EXPECT_TRUE(r.empty());
  EXPECT_TRUE(d.Busy("q", 1)) << "claimed by loop 0 for its command";
  EXPECT_FALSE(d.Busy("q", 0));
  // Loop 0 pushes two items (RPUSH), not applied yet.
  d.Wrote("q", v, 0, {kListMiddle, kListMiddle + 2}, 2);
  EXPECT_EQ(d.Range("q", v, 0).size(), 2u) << "its own writes, not applied yet";
  EXPECT_TRUE(d.Range("q", v, 1).empty()) << "another loop sees what the index holds";
  ListRange other;
  EXPECT_FALSE(d.Claim("q", v, 1, &other)) << "another loop's write waits";
  EXPECT_FALSE(d.Filled("q", 1));
  EXPECT_FALSE(d.Applied(Item("q", v, kListMiddle), false, 0));
  EXPECT_EQ(d.Range("q", v, 1).size(), 1u);
  EXPECT_TRUE(d.Busy("q", 1)) << "one write of loop 0 is still on its way";
  EXPECT_FALSE(d.Applied(Item("q", v, kListMiddle + 1), false, 0));
  EXPECT_FALSE(d.Busy("q", 1)) << "let go once its writes are applied";
  EXPECT_TRUE(d.Filled("q", 1));
  EXPECT_EQ(d.total_items(), 2u);
  // Loop 1 pops the head (LPOP); applied, the list keeps one item.
  ASSERT_TRUE(d.Claim("q", v, 1, &other));
  EXPECT_EQ(other, (ListRange{kListMiddle, kListMiddle + 2}));
  d.Wrote("q", v, 1, {kListMiddle + 1, kListMiddle + 2}, 1);
  EXPECT_TRUE(d.Busy("q", 0));
  d.Applied(Item("q", v, kListMiddle), true, 1);
  EXPECT_EQ(d.Range("q", v, 0), (ListRange{kListMiddle + 1, kListMiddle + 2}));
  EXPECT_EQ(d.total_items(), 1u);
  // A claim that writes nothing lets go at once.
  ASSERT_TRUE(d.Claim("q", v, 0, &r));
  d.Wrote("q", v, 0, r, 0);
  EXPECT_FALSE(d.Busy("q", 1));
}

TEST(ListDirectoryTest, ADroppedTransactionsWritesAreForgotten) {
  KvLists d;
  const uint64_t v = d.NextVersion();
  ListRange r;
  ASSERT_TRUE(d.Claim("q", v, 0, &r));
  d.Wrote("q", v, 0, {kListMiddle, kListMiddle + 1}, 1);
  d.Applied(Item("q", v, kListMiddle), false, 0);
  // An EXEC pushes three more, then its group is dropped (the log needs room first).
  ASSERT_TRUE(d.Claim("q", v, 0, &r));
  const ListRange before = r;
  d.Wrote("q", v, 0, {kListMiddle, kListMiddle + 4}, 3);
  EXPECT_EQ(d.Range("q", v, 0).size(), 4u);
  d.Undo("q", v, 0, before, 3);
  EXPECT_EQ(d.Range("q", v, 0), before);
  EXPECT_FALSE(d.Busy("q", 1)) << "nothing of it will be applied: the list is free";
}

TEST(ListDirectoryTest, ANewVersionLeavesTheOldItemsToTheBackgroundDelete) {
  KvLists d;
  const uint64_t v1 = d.NextVersion();
  ListRange r;
  ASSERT_TRUE(d.Claim("q", v1, 0, &r));
  d.Wrote("q", v1, 0, {kListMiddle, kListMiddle + 1}, 1);
  d.Applied(Item("q", v1, kListMiddle), false, 0);
  // DEL q, then RPUSH q: a new version; the old one's item is still in the index.
  const uint64_t v2 = d.NextVersion();
  ASSERT_TRUE(d.Claim("q", v2, 0, &r));
  EXPECT_TRUE(r.empty());
  d.Wrote("q", v2, 0, {kListMiddle, kListMiddle + 1}, 1);
  d.Applied(Item("q", v2, kListMiddle), false, 0);
  EXPECT_EQ(d.Range("q", v1, 1).size(), 1u) << "the old version's item, until deleted";
  EXPECT_EQ(d.Range("q", v2, 1).size(), 1u);
  EXPECT_EQ(d.total_items(), 2u);
  d.Applied(Item("q", v1, kListMiddle), true, 0);
  EXPECT_TRUE(d.Range("q", v1, 1).empty());
  EXPECT_EQ(d.total_items(), 1u);
}

}  // namespace
}  // namespace pastel::kv
