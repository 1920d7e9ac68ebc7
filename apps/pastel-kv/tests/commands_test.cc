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
      EXPECT_TRUE(row.last_key == -1 || row.last_key >= row.first_key);
      const int min_args = row.arity > 0 ? row.arity : -row.arity;
      EXPECT_LT(row.first_key, min_args) << "the first key is an argument every call has";
      EXPECT_NE(row.flags & (kCmdWrite | kCmdReadOnly), 0u)
          << "a command with keys reads or writes";
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

}  // namespace
}  // namespace pastel::kv
