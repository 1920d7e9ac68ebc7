// The command table walked row by row: every row has its handler, a lower-case name found in any
// case by one lookup, a valid arity, consistent flags and key positions.

#include "commands.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

#include "kv_protocol.h"

namespace pastel::kv {
namespace {

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  }
  return out;
}

TEST(CommandTableTest, EveryRowHasItsHandlerAndIsFoundByItsName) {
  std::set<std::string_view> names;
  ASSERT_GE(Commands().size(), 28u);
  for (const CommandSpec& row : Commands()) {
    SCOPED_TRACE(std::string(row.name));
    EXPECT_TRUE(names.insert(row.name).second) << "a second row of the same name";
    ASSERT_FALSE(row.name.empty());
    for (const char c : row.name) {
      EXPECT_FALSE(c >= 'A' && c <= 'Z') << "names are lower case";
    }
    EXPECT_NE(row.handler, nullptr);
    EXPECT_NE(row.arity, 0);
    EXPECT_EQ(FindCommand(row.name), &row);
    EXPECT_EQ(FindCommand(Upper(row.name)), &row);
    std::string mixed(row.name);
    mixed[0] = static_cast<char>(std::toupper(static_cast<unsigned char>(mixed[0])));
    EXPECT_EQ(FindCommand(mixed), &row);
    // A name one byte longer or shorter finds its own row or none, never this one.
    for (const std::string& near : {std::string(row.name) + "x", std::string(row.name).substr(1),
                                    std::string(row.name).substr(0, row.name.size() - 1)}) {
      const CommandSpec* other = FindCommand(near);
      EXPECT_TRUE(other == nullptr || other->name == near) << near;
    }
    // Flags: at most one of write and readonly; denyoom only for writes.
    EXPECT_FALSE((row.flags & kCmdWrite) != 0 && (row.flags & kCmdReadOnly) != 0);
    if ((row.flags & kCmdDenyOom) != 0) {
      EXPECT_NE(row.flags & kCmdWrite, 0u);
    }
    EXPECT_EQ(row.flags >> kCmdFlagCount, 0u) << "a bit without a name";
    // Key positions, as Redis' COMMAND reports them.
    if (row.first_key == 0) {
      EXPECT_EQ(row.last_key, 0);
      EXPECT_EQ(row.key_step, 0);
    } else {
      EXPECT_GE(row.first_key, 1);
      EXPECT_GE(row.key_step, 1);
      // (Negative: counted from the end, as BLPOP's -2: every argument but the timeout.)
      EXPECT_TRUE(row.last_key < 0 || row.last_key >= row.first_key);
      const int min_args = row.arity > 0 ? row.arity : -row.arity;
      EXPECT_LT(row.first_key, min_args) << "the first key is an argument every call has";
      if (row.name != "watch") {  // (its keys are only registered: redis-server's flags too)
        EXPECT_NE(row.flags & (kCmdWrite | kCmdReadOnly), 0u)
            << "a command with keys reads or writes";
      }
    }
    EXPECT_TRUE(row.ArityOk(static_cast<size_t>(row.arity > 0 ? row.arity : -row.arity)));
    EXPECT_FALSE(row.ArityOk(static_cast<size_t>(row.arity > 0 ? row.arity : -row.arity) - 1));
  }
  for (uint32_t bit = 0; bit < kCmdFlagCount; ++bit) {
    EXPECT_FALSE(CommandFlagName(bit).empty()) << bit;
  }
}

TEST(CommandTableTest, UnknownNamesAreNotFound) {
  EXPECT_EQ(FindCommand(""), nullptr);
  EXPECT_EQ(FindCommand("nosuch"), nullptr);
  EXPECT_EQ(FindCommand("ge"), nullptr);
  EXPECT_EQ(FindCommand("gett"), nullptr);
  EXPECT_EQ(FindCommand(std::string(1000, 'g')), nullptr);
  EXPECT_EQ(FindCommand(std::string("get\0", 4)), nullptr);
  EXPECT_EQ(FindCommand("g\xc5t"), nullptr);
}

// Containers' subcommands: lower-case names found in any case, valid arities counting the
// container's name, key positions within every call; each has its own statistics slot, named
// "container|sub".
TEST(CommandTableTest, SubcommandsAreFoundAndHaveTheirOwnSlots) {
  std::set<size_t> slots;
  size_t subs = 0;
  for (const CommandSpec& row : Commands()) {
    SCOPED_TRACE(std::string(row.name));
    EXPECT_TRUE(slots.insert(CommandSlot(row, nullptr)).second);
    EXPECT_EQ(CommandSlotName(CommandSlot(row, nullptr)), row.name);
    std::set<std::string_view> names;
    for (const SubcommandSpec& sub : row.subcommands) {
      SCOPED_TRACE(std::string(sub.name));
      ++subs;
      EXPECT_TRUE(names.insert(sub.name).second) << "a second subcommand of the same name";
      for (const char c : sub.name) {
        EXPECT_FALSE(c >= 'A' && c <= 'Z') << "names are lower case";
      }
      EXPECT_EQ(FindSubcommand(row, sub.name), &sub);
      EXPECT_EQ(FindSubcommand(row, Upper(sub.name)), &sub);
      const int min_args = sub.arity > 0 ? sub.arity : -sub.arity;
      EXPECT_GE(min_args, 2) << "the container's name and the subcommand's";
      EXPECT_TRUE(row.ArityOk(static_cast<size_t>(min_args))) << "the container lets it through";
      if (sub.first_key != 0) {
        EXPECT_GE(sub.first_key, 2);
        EXPECT_LT(sub.first_key, min_args);
        EXPECT_GE(sub.key_step, 1);
      }
      const size_t slot = CommandSlot(row, &sub);
      EXPECT_TRUE(slots.insert(slot).second) << "a slot of its own";
      EXPECT_EQ(CommandSlotName(slot), std::string(row.name) + "|" + std::string(sub.name));
    }
    EXPECT_EQ(FindSubcommand(row, "nosuch"), nullptr);
  }
  EXPECT_GT(subs, 20u);
  EXPECT_EQ(slots.size(), CommandSlotCount());
  EXPECT_EQ(*slots.rbegin(), CommandSlotCount() - 1) << "slots are dense";
  const CommandSpec* client = FindCommand("client");
  ASSERT_NE(client, nullptr);
  for (const char* sub : {"list", "kill", "info", "id", "getname", "setname", "setinfo", "reply"}) {
    EXPECT_NE(FindSubcommand(*client, sub), nullptr) << sub;
  }
  const CommandSpec* object = FindCommand("object");
  ASSERT_NE(object, nullptr);
  const SubcommandSpec* encoding = FindSubcommand(*object, "ENCODING");
  ASSERT_NE(encoding, nullptr);
  EXPECT_EQ(encoding->first_key, 2) << "OBJECT ENCODING key: COMMAND GETKEYS finds the key";
}

}  // namespace
}  // namespace pastel::kv
