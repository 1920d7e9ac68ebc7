// Unit tests of proto/resp: the RESP2 request parser and the reply writers.
//
// Every segment is placed in its own slot between two PROT_NONE pages, either right against the
// slot's end or right against its start (picohttpparser test.c), so a read outside any segment
// crashes the test. Every parse is checked against the header's contract (pieces inside their
// segments, in stream order, adding up to each argument; views in place or in the scratch area
// exactly as documented; the end cursor `bytes` past the start), and compared as the arguments'
// bytes, so that the same input cut into different segments must give the same answer.
//
// The randomized tests print their seed; PASTEL_RESP_SEED=<n> runs them with another one.

#include "pastel/resp.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace pastel::resp {
namespace {

// `slots` read-write areas of `slot_bytes` (rounded up to pages), each between PROT_NONE pages:
// [guard][slot 0][guard][slot 1]...[guard]. Owned by one test.
class GuardedSlots {
 public:
  GuardedSlots(size_t slots, size_t slot_bytes) : slots_(slots) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    slot_bytes_ = (slot_bytes + page_ - 1) / page_ * page_;
    size_ = slots_ * (slot_bytes_ + page_) + page_;
    void* m = mmap(nullptr, size_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("mmap");
      std::abort();
    }
    base_ = static_cast<char*>(m);
    for (size_t i = 0; i <= slots_; ++i) {
      if (mprotect(base_ + i * (slot_bytes_ + page_), page_, PROT_NONE) != 0) {
        std::perror("mprotect");
        std::abort();
      }
    }
  }
  ~GuardedSlots() { munmap(base_, size_); }
  GuardedSlots(const GuardedSlots&) = delete;
  GuardedSlots& operator=(const GuardedSlots&) = delete;

  size_t slots() const { return slots_; }
  size_t slot_bytes() const { return slot_bytes_; }
  char* SlotBegin(size_t i) const { return base_ + page_ + i * (slot_bytes_ + page_); }
  char* SlotEnd(size_t i) const { return SlotBegin(i) + slot_bytes_; }

  // Copies segment i into slot i, against the slot's end or its start; returns the copies.
  std::vector<std::string_view> Place(const std::vector<std::string>& segments, bool at_end) {
    if (segments.size() > slots_) {
      std::fprintf(stderr, "%zu segments for %zu slots\n", segments.size(), slots_);
      std::abort();
    }
    std::vector<std::string_view> views;
    for (size_t i = 0; i < segments.size(); ++i) {
      const std::string& s = segments[i];
      if (s.size() > slot_bytes_) {
        std::fprintf(stderr, "segment of %zu bytes for slots of %zu\n", s.size(), slot_bytes_);
        std::abort();
      }
      char* p = at_end ? SlotEnd(i) - s.size() : SlotBegin(i);
      if (!s.empty()) {
        std::memcpy(p, s.data(), s.size());
      }
      views.emplace_back(p, s.size());
    }
    return views;
  }

 private:
  size_t slots_ = 0;
  size_t page_ = 0;
  size_t slot_bytes_ = 0;
  size_t size_ = 0;
  char* base_ = nullptr;
};

std::string Escaped(std::string_view s) {
  std::string out;
  for (unsigned char c : s) {
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c < 0x20 || c >= 0x7F || c == '\\') {
      char buf[8];
      std::snprintf(buf, sizeof(buf), "\\x%02x", c);
      out += buf;
    } else {
      out += static_cast<char>(c);
    }
  }
  if (out.size() > 300) {
    out = out.substr(0, 300) + "...(" + std::to_string(s.size()) + " bytes)";
  }
  return out;
}

// Room for one command, in vectors (the parser itself only sees the spans).
struct Room {
  // The scratch area holds an inline line's quoted arguments: max_inline bytes (64 KiB).
  explicit Room(size_t args_capacity = 2048, size_t pieces_capacity = 8192,
                size_t scratch_capacity = 65536)
      : args(args_capacity), pieces(pieces_capacity), scratch(scratch_capacity) {}
  Storage storage() { return {args, pieces, scratch}; }

  std::vector<Arg> args;
  std::vector<Piece> pieces;
  std::vector<char> scratch;
};

// A result as the bytes of its arguments, comparable across segmentations.
struct Parsed {
  Outcome outcome = Outcome::kNeedMore;
  Error error = Error::kNone;
  size_t bytes = 0;
  bool is_inline = false;
  std::vector<std::string> args;

  bool operator==(const Parsed&) const = default;
};

const char* OutcomeName(Outcome o) {
  switch (o) {
    case Outcome::kCommand: return "command";
    case Outcome::kNeedMore: return "need-more";
    case Outcome::kError: return "error";
    case Outcome::kOutOfPieces: return "out-of-pieces";
  }
  return "?";
}

std::string ErrorName(Error e) {
  switch (e) {
    case Error::kNone: return "none";
    case Error::kInvalidMultibulkLength: return "invalid-multibulk-length";
    case Error::kTooManyArgs: return "too-many-args";
    case Error::kExpectedDollar: return "expected-dollar";
    case Error::kInvalidBulkLength: return "invalid-bulk-length";
    case Error::kBulkTooLong: return "bulk-too-long";
    case Error::kMissingBulkCrlf: return "missing-bulk-crlf";
    case Error::kInlineTooBig: return "inline-too-big";
    case Error::kUnbalancedQuotes: return "unbalanced-quotes";
  }
  return "?";
}

std::ostream& operator<<(std::ostream& os, const Parsed& p) {
  os << OutcomeName(p.outcome);
  if (p.outcome == Outcome::kError) {
    os << " " << ErrorName(p.error) << " '" << ErrorMessage(p.error) << "'";
  }
  if (p.outcome == Outcome::kCommand) {
    os << (p.is_inline ? " inline" : " multibulk") << " bytes " << p.bytes << " args [";
    for (size_t i = 0; i < p.args.size(); ++i) {
      os << (i == 0 ? "" : ", ") << '"' << Escaped(p.args[i]) << '"';
    }
    os << "]";
  }
  return os;
}

Parsed Command(std::vector<std::string> args, size_t bytes, bool is_inline) {
  return {Outcome::kCommand, Error::kNone, bytes, is_inline, std::move(args)};
}
Parsed Failure(Error e) {
  return {Outcome::kError, e, 0, false, {}};
}
Parsed NeedMore() {
  return {};
}

// The stream position of every segment's first byte.
std::vector<size_t> SegmentStarts(std::span<const std::string_view> segs) {
  std::vector<size_t> starts;
  size_t at = 0;
  for (std::string_view s : segs) {
    starts.push_back(at);
    at += s.size();
  }
  starts.push_back(at);
  return starts;
}

bool InSpan(const char* p, size_t n, std::span<const char> area) {
  return p >= area.data() && p + n <= area.data() + area.size();
}

// Parses one command and checks everything the header promises about the result.
Parsed CheckedParse(std::span<const std::string_view> segs, Cursor start, const Limits& limits,
                    Room& room) {
  const ParseResult r = ParseCommand(segs, start, limits, room.storage());
  Parsed out;
  out.outcome = r.outcome;
  out.error = r.error;
  if (r.outcome != Outcome::kCommand) {
    EXPECT_EQ(r.bytes, 0u);
    EXPECT_EQ(r.argc, 0u);
    EXPECT_EQ(r.error != Error::kNone, r.outcome == Outcome::kError);
    return out;
  }
  out.bytes = r.bytes;
  out.is_inline = r.is_inline;
  EXPECT_EQ(r.error, Error::kNone);
  EXPECT_GT(r.bytes, 0u);
  const std::vector<size_t> starts = SegmentStarts(segs);
  const size_t begin = starts[start.segment] + start.offset;
  // The end cursor: `bytes` after the start, on a byte that exists (or past the last segment).
  EXPECT_LE(r.end.segment, segs.size());
  if (r.end.segment < segs.size()) {
    EXPECT_LT(r.end.offset, segs[r.end.segment].size());
  } else {
    EXPECT_EQ(r.end.offset, 0u);
  }
  if (r.end.segment <= segs.size()) {
    EXPECT_EQ(starts[r.end.segment] + r.end.offset, begin + r.bytes);
  }
  EXPECT_LE(r.argc, std::min(limits.max_args, room.args.size()));
  size_t scratch_used = 0;
  size_t previous_end = begin;
  for (size_t i = 0; i < r.argc && i < room.args.size(); ++i) {
    const Arg& a = room.args[i];
    if (a.decoded) {
      // A quoted inline argument: decoded into the scratch area, after the arguments before it.
      EXPECT_TRUE(r.is_inline) << "argument " << i;
      EXPECT_TRUE(a.pieces.empty()) << "argument " << i;
      EXPECT_TRUE(a.contiguous) << "argument " << i;
      EXPECT_EQ(a.view.size(), a.length) << "argument " << i;
      EXPECT_EQ(a.view.data(), room.scratch.data() + scratch_used) << "argument " << i;
      scratch_used += a.length;
      out.args.emplace_back(a.view);
      continue;
    }
    std::string bytes;
    size_t expected_pos = 0;
    for (size_t k = 0; k < a.pieces.size(); ++k) {
      const Piece& p = a.pieces[k];
      EXPECT_TRUE(p.segment < segs.size() && p.length > 0 &&
                  p.offset + p.length <= segs[p.segment].size())
          << "piece " << k << " of argument " << i << " outside its segment";
      if (::testing::Test::HasFailure()) {
        return out;
      }
      const size_t pos = starts[p.segment] + p.offset;
      EXPECT_GE(pos, previous_end) << "argument " << i << " piece " << k << " out of order";
      if (k > 0) {
        EXPECT_EQ(pos, expected_pos) << "argument " << i << " has a hole at piece " << k;
        EXPECT_EQ(p.offset, 0u) << "argument " << i << " piece " << k << " is not maximal";
      }
      if (k + 1 < a.pieces.size()) {
        EXPECT_EQ(p.offset + p.length, segs[p.segment].size())
            << "argument " << i << " piece " << k << " is not maximal";
      }
      expected_pos = pos + p.length;
      previous_end = expected_pos;
      bytes.append(segs[p.segment].data() + p.offset, p.length);
    }
    EXPECT_EQ(bytes.size(), a.length) << "argument " << i;
    EXPECT_LE(previous_end, begin + r.bytes) << "argument " << i << " ends after the command";
    // The view: in place for one piece, copied for small multi-piece arguments while the scratch
    // lasts, absent otherwise.
    if (a.pieces.size() <= 1) {
      EXPECT_TRUE(a.contiguous) << "argument " << i;
      if (a.pieces.size() == 1) {
        EXPECT_EQ(a.view.data(), segs[a.pieces[0].segment].data() + a.pieces[0].offset);
      }
    } else if (a.length <= kMaxFlatArg && scratch_used + a.length <= room.scratch.size()) {
      EXPECT_TRUE(a.contiguous) << "argument " << i;
      EXPECT_EQ(a.view.data(), room.scratch.data() + scratch_used) << "argument " << i;
      scratch_used += a.length;
    } else {
      EXPECT_FALSE(a.contiguous) << "argument " << i;
      EXPECT_TRUE(a.view.empty()) << "argument " << i;
    }
    if (a.contiguous) {
      EXPECT_EQ(a.view, bytes) << "argument " << i;
      if (a.pieces.size() > 1) {
        EXPECT_TRUE(InSpan(a.view.data(), a.view.size(), room.scratch));
      }
    }
    out.args.push_back(std::move(bytes));
  }
  return out;
}

// Cuts s at the given positions (ascending, each in [0, s.size()]).
std::vector<std::string> Cut(std::string_view s, const std::vector<size_t>& cuts) {
  std::vector<std::string> segments;
  size_t from = 0;
  for (size_t c : cuts) {
    segments.emplace_back(s.substr(from, c - from));
    from = c;
  }
  segments.emplace_back(s.substr(from));
  return segments;
}

std::vector<std::string> Bytewise(std::string_view s) {
  std::vector<std::string> segments;
  for (char c : s) {
    segments.emplace_back(1, c);
  }
  return segments;
}

std::string Describe(const std::vector<std::string>& segments) {
  std::string out;
  for (const std::string& s : segments) {
    out += "[" + Escaped(s) + "]";
  }
  return out;
}

class RespParseTest : public ::testing::Test {
 protected:
  // Parses the first command of `segments`, placed against the slots' ends and then against their
  // starts; both must agree.
  Parsed Parse(const std::vector<std::string>& segments, const Limits& limits = {},
               Cursor start = {}) {
    const std::vector<std::string_view> at_start = slots_.Place(segments, false);
    const Parsed front = CheckedParse(at_start, start, limits, room_);
    const std::vector<std::string_view> at_end = slots_.Place(segments, true);
    const Parsed back = CheckedParse(at_end, start, limits, room_);
    EXPECT_EQ(front, back) << "the answer depends on the address: " << Describe(segments);
    return back;
  }

  Parsed Parse(std::string_view s, const Limits& limits = {}) {
    return Parse(std::vector<std::string>{std::string(s)}, limits);
  }

  // `input` cut every way into 1..3 segments (every way into any number of segments when it is
  // short), into single bytes, with empty segments between the bytes, and after a consumed
  // prefix: always `expected`.
  void ExpectSameForEverySplit(std::string_view input, const Limits& limits,
                               const Parsed& expected) {
    const size_t n = input.size();
    auto check = [&](const std::vector<std::string>& segments, bool both) {
      const Parsed got = both ? Parse(segments, limits)
                              : CheckedParse(slots_.Place(segments, true), {}, limits, room_);
      ASSERT_EQ(got, expected) << "segments " << Describe(segments);
    };
    check({std::string(input)}, true);
    for (size_t i = 0; i <= n && !HasFatalFailure(); ++i) {
      check(Cut(input, {i}), true);
    }
    if (n <= 80) {
      for (size_t i = 0; i <= n && !HasFatalFailure(); ++i) {
        for (size_t j = i; j <= n && !HasFatalFailure(); ++j) {
          check(Cut(input, {i, j}), false);
        }
      }
    }
    if (n > 0 && n <= 14) {
      // Every composition: bit k of `mask` cuts after byte k.
      for (uint32_t mask = 0; mask < (1u << (n - 1)) && !HasFatalFailure(); ++mask) {
        std::vector<size_t> cuts;
        for (size_t k = 0; k + 1 < n; ++k) {
          if ((mask >> k) & 1u) {
            cuts.push_back(k + 1);
          }
        }
        check(Cut(input, cuts), false);
      }
    }
    if (n <= slots_.slots()) {
      check(Bytewise(input), true);
    }
    if (2 * n + 1 <= slots_.slots()) {
      std::vector<std::string> with_empties{""};
      for (char c : input) {
        with_empties.emplace_back(1, c);
        with_empties.emplace_back();
      }
      check(with_empties, false);
    }
    // After bytes a previous command consumed, in the same segment and in an earlier one.
    const std::vector<std::string> consumed = {"+junk", "\r\n*1\r\n" + std::string(input)};
    const Parsed after = CheckedParse(slots_.Place(consumed, true), Cursor{1, 6}, limits, room_);
    EXPECT_EQ(after, expected) << "after a consumed prefix";
  }

  // Every proper prefix of input[0, command_bytes) needs more; every longer prefix gives `whole`.
  void ExpectPrefixesNeedMore(std::string_view input, size_t command_bytes, const Limits& limits,
                              const Parsed& whole) {
    for (size_t k = 0; k <= input.size(); ++k) {
      const Parsed got = Parse(input.substr(0, k), limits);
      if (k < command_bytes) {
        ASSERT_EQ(got, NeedMore()) << k << " bytes of " << Escaped(input);
      } else {
        ASSERT_EQ(got, whole) << k << " bytes of " << Escaped(input);
      }
    }
  }

  // Every prefix answers "need more" or exactly what the whole input answers.
  void ExpectPrefixConsistent(std::string_view input, const Limits& limits) {
    const Parsed whole = Parse(input, limits);
    for (size_t k = 0; k < input.size(); ++k) {
      const Parsed got = Parse(input.substr(0, k), limits);
      if (!(got == NeedMore())) {
        ASSERT_EQ(got, whole) << "prefix of " << k << " bytes of " << Escaped(input);
      }
    }
  }

  GuardedSlots slots_{1024, 16 << 10};
  Room room_;
};

// ---------------------------------------------------------------------------------------------
// Good commands: every argument checked, for every way of cutting the input.

struct GoodCase {
  const char* name;
  std::string input;
  std::vector<std::string> args;
  bool is_inline = false;
  size_t trailing = 0;  // bytes after the command (the next one)
  Limits limits = {};
};

std::string Multibulk(const std::vector<std::string>& args) {
  std::string out = "*" + std::to_string(args.size()) + "\r\n";
  for (const std::string& a : args) {
    out += "$" + std::to_string(a.size()) + "\r\n" + a + "\r\n";
  }
  return out;
}

std::vector<GoodCase> GoodCases() {
  const std::string binary("a\0\r\n\xff$*\n\r", 9);
  const std::string arg64(64, 'x');
  const std::string arg65(65, 'y');
  Limits tiny;
  tiny.max_args = 3;
  tiny.max_bulk = 5;
  tiny.max_inline = 12;
  std::vector<GoodCase> cases = {
      // Multi-bulk.
      {.name = "ping", .input = "*1\r\n$4\r\nPING\r\n", .args = {"PING"}},
      {.name = "set",
       .input = "*3\r\n$3\r\nSET\r\n$3\r\nkey\r\n$5\r\nvalue\r\n",
       .args = {"SET", "key", "value"}},
      {.name = "lower-case name", .input = "*2\r\n$3\r\nget\r\n$1\r\nk\r\n", .args = {"get", "k"}},
      {.name = "empty argument",
       .input = "*3\r\n$3\r\nSET\r\n$0\r\n\r\n$0\r\n\r\n",
       .args = {"SET", "", ""}},
      {.name = "binary argument",
       .input = Multibulk({"SET", "k", binary}),
       .args = {"SET", "k", binary}},
      {.name = "crlf-looking argument",
       .input = "*2\r\n$4\r\n\r\n\r\n\r\n$2\r\n*1\r\n",
       .args = {"\r\n\r\n", "*1"}},
      {.name = "64-byte argument", .input = Multibulk({"ECHO", arg64}), .args = {"ECHO", arg64}},
      {.name = "65-byte argument", .input = Multibulk({"ECHO", arg65}), .args = {"ECHO", arg65}},
      {.name = "two- and three-digit lengths",
       .input = Multibulk({std::string(10, 'a'), std::string(100, 'b')}),
       .args = {std::string(10, 'a'), std::string(100, 'b')}},
      {.name = "empty multibulk", .input = "*0\r\n", .args = {}},
      // A negative count is an empty command, as redis-server skips it.
      {.name = "null array", .input = "*-1\r\n", .args = {}},
      {.name = "negative count", .input = "*-5\r\n", .args = {}},
      {.name = "most negative count", .input = "*-9223372036854775808\r\n", .args = {}},
      {.name = "null array then a command",
       .input = "*-1\r\n*1\r\n$4\r\nPING\r\n",
       .args = {},
       .trailing = 14},
      {.name = "next command follows",
       .input = "*1\r\n$4\r\nPING\r\n*1\r\n$4\r\nPING\r\n",
       .args = {"PING"},
       .trailing = 14},
      {.name = "garbage follows",
       .input = "*1\r\n$4\r\nPING\r\n$-1x",
       .args = {"PING"},
       .trailing = 4},
      {.name = "at the tight limits",
       .input = "*3\r\n$5\r\naaaaa\r\n$0\r\n\r\n$5\r\nbbbbb\r\n",
       .args = {"aaaaa", "", "bbbbb"},
       .limits = tiny},
      // Inline.
      {.name = "inline ping", .input = "PING\r\n", .args = {"PING"}, .is_inline = true},
      {.name = "inline lf only", .input = "PING\n", .args = {"PING"}, .is_inline = true},
      {.name = "inline set", .input = "SET a b\r\n", .args = {"SET", "a", "b"}, .is_inline = true},
      {.name = "inline whitespace runs",
       .input = "  SET \t a\t\tb  \r\n",
       .args = {"SET", "a", "b"},
       .is_inline = true},
      {.name = "inline bare cr separates",
       .input = "SET\ra\r\rb\r\r\n",
       .args = {"SET", "a", "b"},
       .is_inline = true},
      {.name = "inline binary words",
       .input = std::string("GET \x01\xff\0b $3 +x\n", 15),
       .args = {"GET", std::string("\x01\xff\0b", 4), "$3", "+x"},
       .is_inline = true},
      {.name = "inline star inside",
       .input = "KEYS a*\r\n",
       .args = {"KEYS", "a*"},
       .is_inline = true},
      {.name = "inline plus first", .input = "+PING\r\n", .args = {"+PING"}, .is_inline = true},
      {.name = "inline dollar first", .input = "$4\r\n", .args = {"$4"}, .is_inline = true},
      {.name = "blank line", .input = "\r\n", .args = {}, .is_inline = true},
      {.name = "blank lf", .input = "\n", .args = {}, .is_inline = true},
      {.name = "whitespace line", .input = " \t \r\n", .args = {}, .is_inline = true},
      {.name = "inline then multibulk",
       .input = "PING\r\n*1\r\n$4\r\nPING\r\n",
       .args = {"PING"},
       .is_inline = true,
       .trailing = 14},
      {.name = "inline 65-byte word",
       .input = "ECHO " + arg65 + "\r\n",
       .args = {"ECHO", arg65},
       .is_inline = true},
      {.name = "inline at the tight limits",
       .input = "a bb cccc\r\n",  // 11 bytes of 12, 3 words of 3
       .args = {"a", "bb", "cccc"},
       .is_inline = true,
       .limits = tiny},
      // Quotes, as redis-server's sdssplitargs.
      {.name = "double quotes",
       .input = "SET a \"b c\"\r\n",
       .args = {"SET", "a", "b c"},
       .is_inline = true},
      {.name = "single quotes",
       .input = "SET a 'b'\r\n",
       .args = {"SET", "a", "b"},
       .is_inline = true},
      {.name = "quoted command name", .input = "\"PING\"\r\n", .args = {"PING"}, .is_inline = true},
      {.name = "empty quoted arguments",
       .input = "ECHO \"\" ''\n",
       .args = {"ECHO", "", ""},
       .is_inline = true},
      {.name = "double-quote escapes",
       .input = "ECHO \"\\n\\r\\t\\b\\a\\\\\\\"\\z\\x41\\x4a\\x4Z\\xg\\x\"\r\n",
       .args = {"ECHO", "\n\r\t\b\a\\\"zAJx4Zxgx"},
       .is_inline = true},
      {.name = "single-quote escapes",
       .input = "ECHO 'it\\'s a\\\\b \\n'\r\n",
       .args = {"ECHO", "it's a\\\\b \\n"},
       .is_inline = true},
      {.name = "quote in the middle of a word",
       .input = "ECHO ab\"c d\" x'y'\r\n",
       .args = {"ECHO", "abc d", "xy"},
       .is_inline = true},
      {.name = "quoted separators and a cr",
       .input = "SET \"k\r \" '\t\r'\r\n",
       .args = {"SET", "k\r ", "\t\r"},
       .is_inline = true},
      {.name = "closing quote then blanks",
       .input = "ECHO \"a\"\t'b'\v\f\"c\"\r\n",
       .args = {"ECHO", "a", "b", "c"},
       .is_inline = true},
      {.name = "vertical tab and form feed between words",
       .input = "\vECHO \f a\vb\r\n",
       .args = {"ECHO", "a\vb"},
       .is_inline = true},
      {.name = "quoted binary",
       .input = std::string("SET k \"\x01\xff\0\\x00\"\n", 16),
       .args = {"SET", "k", std::string("\x01\xff\0\0", 4)},
       .is_inline = true},
      {.name = "inline line of exactly max_inline",
       .input = "a bb ccccc\r\n",
       .args = {"a", "bb", "ccccc"},
       .is_inline = true,
       .limits = tiny},
  };
  return cases;
}

TEST_F(RespParseTest, GoodCommands) {
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    const Parsed expected = Command(c.args, c.input.size() - c.trailing, c.is_inline);
    ASSERT_EQ(Parse(c.input, c.limits), expected) << Escaped(c.input);
    ExpectSameForEverySplit(c.input, c.limits, expected);
  }
}

TEST_F(RespParseTest, EveryPrefixOfAGoodCommandNeedsMore) {
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    const size_t bytes = c.input.size() - c.trailing;
    ExpectPrefixesNeedMore(c.input, bytes, c.limits, Command(c.args, bytes, c.is_inline));
  }
}

TEST_F(RespParseTest, EmptyInputNeedsMore) {
  EXPECT_EQ(Parse(std::vector<std::string>{}), NeedMore());
  EXPECT_EQ(Parse(std::vector<std::string>{"", "", ""}), NeedMore());
  EXPECT_EQ(ParseCommand({}, {}, Limits{}, room_.storage()).outcome, Outcome::kNeedMore);
  // A cursor at the end of the input, or past it.
  EXPECT_EQ(Parse({"PING\r\n"}, {}, Cursor{0, 6}), NeedMore());
  EXPECT_EQ(Parse({"PING\r\n"}, {}, Cursor{1, 0}), NeedMore());
}

// The exact description of arguments that straddle segments.
TEST_F(RespParseTest, StraddlingPieces) {
  const std::string set = "*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$10\r\n0123456789\r\n";
  ASSERT_EQ(set.find("0123"), 25u);
  const ParseResult whole = ParseCommand(slots_.Place({set}, true), {}, Limits{}, room_.storage());
  ASSERT_EQ(whole.outcome, Outcome::kCommand);
  ASSERT_EQ(whole.argc, 3u);
  EXPECT_EQ(std::vector<Piece>(room_.args[0].pieces.begin(), room_.args[0].pieces.end()),
            (std::vector<Piece>{{0, 8, 3}}));
  EXPECT_EQ(std::vector<Piece>(room_.args[1].pieces.begin(), room_.args[1].pieces.end()),
            (std::vector<Piece>{{0, 17, 1}}));
  EXPECT_EQ(std::vector<Piece>(room_.args[2].pieces.begin(), room_.args[2].pieces.end()),
            (std::vector<Piece>{{0, 25, 10}}));
  EXPECT_EQ(whole.bytes, set.size());
  EXPECT_EQ(whole.end, (Cursor{1, 0}));

  struct Case {
    std::vector<size_t> cuts;
    std::vector<std::vector<Piece>> pieces;  // per argument
    Cursor end;
  };
  const std::vector<Case> cases = {
      // The value across two segments.
      {{28}, {{{0, 8, 3}}, {{0, 17, 1}}, {{0, 25, 3}, {1, 0, 7}}}, {2, 0}},
      // The value across three segments.
      {{27, 32}, {{{0, 8, 3}}, {{0, 17, 1}}, {{0, 25, 2}, {1, 0, 5}, {2, 0, 3}}}, {3, 0}},
      // The value's first byte opens a segment, its last one closes one.
      {{25, 35}, {{{0, 8, 3}}, {{0, 17, 1}}, {{1, 0, 10}}}, {3, 0}},
      // The name across two segments, the value's CRLF in a third.
      {{10, 35}, {{{0, 8, 2}, {1, 0, 1}}, {{1, 7, 1}}, {{1, 15, 10}}}, {3, 0}},
      // The framing cut, every argument in the last segment.
      {{2, 5}, {{{2, 3, 3}}, {{2, 12, 1}}, {{2, 20, 10}}}, {3, 0}},
  };
  for (const Case& c : cases) {
    const std::vector<std::string> segments = Cut(set, c.cuts);
    SCOPED_TRACE(Describe(segments));
    const std::vector<std::string_view> views = slots_.Place(segments, true);
    const ParseResult r = ParseCommand(views, {}, Limits{}, room_.storage());
    ASSERT_EQ(r.outcome, Outcome::kCommand);
    ASSERT_EQ(r.argc, 3u);
    EXPECT_EQ(r.bytes, set.size());
    EXPECT_EQ(r.end, c.end);
    for (size_t i = 0; i < 3; ++i) {
      EXPECT_EQ(std::vector<Piece>(room_.args[i].pieces.begin(), room_.args[i].pieces.end()),
                c.pieces[i])
          << "argument " << i;
    }
  }
  // Followed by another command: the end cursor points at its first byte.
  const std::vector<std::string> two = {set.substr(0, 30), set.substr(30) + "PING\r\n"};
  const ParseResult r = ParseCommand(slots_.Place(two, true), {}, Limits{}, room_.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  EXPECT_EQ(r.end, (Cursor{1, 7}));
  EXPECT_EQ(std::vector<Piece>(room_.args[2].pieces.begin(), room_.args[2].pieces.end()),
            (std::vector<Piece>{{0, 25, 5}, {1, 0, 5}}));
}

TEST_F(RespParseTest, StraddlingPiecesFromACursor) {
  // A consumed command before the cursor; empty segments in the middle.
  const std::vector<std::string> segments = {"PING\r\n*2\r\n$4\r\nEC", "", "HO\r\n$3\r\nab", "", "",
                                             "c\r\nPING\r\n"};
  const std::vector<std::string_view> views = slots_.Place(segments, true);
  const ParseResult r = ParseCommand(views, Cursor{0, 6}, Limits{}, room_.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  ASSERT_EQ(r.argc, 2u);
  EXPECT_FALSE(r.is_inline);
  EXPECT_EQ(r.bytes, 23u);
  EXPECT_EQ(r.end, (Cursor{5, 3}));
  EXPECT_EQ(std::vector<Piece>(room_.args[0].pieces.begin(), room_.args[0].pieces.end()),
            (std::vector<Piece>{{0, 14, 2}, {2, 0, 2}}));
  EXPECT_EQ(std::vector<Piece>(room_.args[1].pieces.begin(), room_.args[1].pieces.end()),
            (std::vector<Piece>{{2, 8, 2}, {5, 0, 1}}));
  EXPECT_EQ(room_.args[0].view, "ECHO");
  EXPECT_EQ(room_.args[0].view.data(), room_.scratch.data());
  EXPECT_EQ(room_.args[1].view, "abc");
  EXPECT_EQ(room_.args[1].view.data(), room_.scratch.data() + 4);
  // The next command, from the end cursor.
  const ParseResult next = ParseCommand(views, r.end, Limits{}, room_.storage());
  ASSERT_EQ(next.outcome, Outcome::kCommand);
  EXPECT_TRUE(next.is_inline);
  EXPECT_EQ(next.bytes, 6u);
  EXPECT_EQ(next.end, (Cursor{6, 0}));
  EXPECT_EQ(room_.args[0].view, "PING");
  EXPECT_EQ(room_.args[0].view.data(), views[5].data() + 3);  // in place
  EXPECT_EQ(ParseCommand(views, next.end, Limits{}, room_.storage()).outcome, Outcome::kNeedMore);
}

TEST_F(RespParseTest, InlineStraddlingPieces) {
  const std::vector<std::string> segments = {"  SE", "T a ", "", "b", "c\r", "\n"};
  const ParseResult r = ParseCommand(slots_.Place(segments, false), {}, Limits{}, room_.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  EXPECT_TRUE(r.is_inline);
  ASSERT_EQ(r.argc, 3u);
  EXPECT_EQ(r.bytes, 12u);
  EXPECT_EQ(r.end, (Cursor{6, 0}));
  EXPECT_EQ(std::vector<Piece>(room_.args[0].pieces.begin(), room_.args[0].pieces.end()),
            (std::vector<Piece>{{0, 2, 2}, {1, 0, 1}}));
  EXPECT_EQ(std::vector<Piece>(room_.args[1].pieces.begin(), room_.args[1].pieces.end()),
            (std::vector<Piece>{{1, 2, 1}}));
  EXPECT_EQ(std::vector<Piece>(room_.args[2].pieces.begin(), room_.args[2].pieces.end()),
            (std::vector<Piece>{{3, 0, 1}, {4, 0, 1}}));
  EXPECT_EQ(room_.args[0].view, "SET");
  EXPECT_EQ(room_.args[1].view, "a");
  EXPECT_EQ(room_.args[2].view, "bc");
}

TEST_F(RespParseTest, ScratchCopies) {
  const std::string arg64(64, 'x');
  const std::string arg65(65, 'y');
  // Arguments of 64 bytes straddling segments are copied, of 65 are not.
  const std::string input = Multibulk({arg64, arg65, "tail"});
  std::vector<size_t> cuts = {input.find('x') + 10, input.find('y') + 10, input.find("tail") + 2};
  std::vector<std::string_view> views = slots_.Place(Cut(input, cuts), true);
  ParseResult r = ParseCommand(views, {}, Limits{}, room_.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  EXPECT_TRUE(room_.args[0].contiguous);
  EXPECT_EQ(room_.args[0].view, arg64);
  EXPECT_FALSE(room_.args[1].contiguous);
  EXPECT_TRUE(room_.args[1].view.empty());
  EXPECT_EQ(room_.args[1].pieces.size(), 2u);
  EXPECT_TRUE(room_.args[2].contiguous);
  EXPECT_EQ(room_.args[2].view, "tail");
  EXPECT_EQ(room_.args[2].view.data(), room_.scratch.data() + 64);

  // A scratch area of 6 bytes: "abcd" fits, "efg" no longer does, "hi" still does.
  Room small(8, 64, 6);
  const std::string three = Multibulk({"abcd", "efg", "hi"});
  views = slots_.Place(Bytewise(three), true);
  r = ParseCommand(views, {}, Limits{}, small.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  EXPECT_TRUE(small.args[0].contiguous);
  EXPECT_EQ(small.args[0].view, "abcd");
  EXPECT_FALSE(small.args[1].contiguous);
  EXPECT_TRUE(small.args[2].contiguous);
  EXPECT_EQ(small.args[2].view, "hi");
  EXPECT_EQ(small.args[2].view.data(), small.scratch.data() + 4);
  // No scratch at all: only single-piece arguments have views.
  Room none(8, 64, 0);
  r = ParseCommand(views, {}, Limits{}, none.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  for (size_t i = 0; i < 3; ++i) {
    EXPECT_FALSE(none.args[i].contiguous) << i;
  }
  views = slots_.Place({three}, true);
  r = ParseCommand(views, {}, Limits{}, none.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  EXPECT_EQ(none.args[1].view, "efg");
  EXPECT_EQ(none.args[1].view.data(), views[0].data() + three.find("efg"));
}

TEST_F(RespParseTest, Pipelined) {
  const std::vector<std::pair<std::string, Parsed>> commands = {
      {Multibulk({"SET", "k", "hello"}), Command({"SET", "k", "hello"}, 31, false)},
      {"PING\r\n", Command({"PING"}, 6, true)},
      {"\r\n", Command({}, 2, true)},
      {"*0\r\n", Command({}, 4, false)},
      {"get k\n", Command({"get", "k"}, 6, true)},
      {"*2\r\n$3\r\nDEL\r\n$1\r\nk\r\n", Command({"DEL", "k"}, 20, false)},
      {"  ECHO  x  \r\n", Command({"ECHO", "x"}, 13, true)},
  };
  std::string all;
  for (const auto& [wire, parsed] : commands) {
    ASSERT_EQ(wire.size(), parsed.bytes) << Escaped(wire);
    all += wire;
  }
  std::mt19937_64 rng(7);
  for (int round = 0; round < 300; ++round) {
    std::vector<size_t> cuts;
    if (round == 1) {
      for (size_t i = 1; i < all.size(); ++i) {
        cuts.push_back(i);
      }
    } else if (round > 1) {
      for (size_t i = 0; i < static_cast<size_t>(round % 12); ++i) {
        cuts.push_back(static_cast<size_t>(rng() % (all.size() + 1)));
      }
      std::sort(cuts.begin(), cuts.end());
    }
    const std::vector<std::string> segments = Cut(all, cuts);
    SCOPED_TRACE(Describe(segments));
    const std::vector<std::string_view> views = slots_.Place(segments, round % 2 == 0);
    Cursor at;
    size_t consumed = 0;
    for (const auto& [wire, parsed] : commands) {
      const ParseResult r = ParseCommand(views, at, Limits{}, room_.storage());
      ASSERT_EQ(CheckedParse(views, at, Limits{}, room_), parsed);
      consumed += r.bytes;
      at = r.end;
    }
    EXPECT_EQ(consumed, all.size());
    EXPECT_EQ(at, (Cursor{segments.size(), 0}));
    EXPECT_EQ(CheckedParse(views, at, Limits{}, room_), NeedMore());
  }
}

// ---------------------------------------------------------------------------------------------
// Errors: the exact error, for every way of cutting the input, and early.

struct BadCase {
  const char* name;
  std::string input;
  Error error;
  Limits limits = {};
};

std::vector<BadCase> BadCases() {
  Limits tiny;
  tiny.max_args = 3;
  tiny.max_bulk = 5;
  tiny.max_inline = 12;
  const std::string nul(1, '\0');
  std::string words1025;
  for (int i = 0; i < 1025; ++i) {
    words1025 += "w ";
  }
  words1025 += "\r\n";
  std::vector<BadCase> cases = {
      // The multi-bulk count (a negative one is an empty command: GoodCases).
      {"minus zero count", "*-0\r\n", Error::kInvalidMultibulkLength},
      {"minus only", "*-\r\n", Error::kInvalidMultibulkLength},
      {"negative leading zero", "*-01\r\n", Error::kInvalidMultibulkLength},
      {"negative count lf only", "*-1\n", Error::kInvalidMultibulkLength},
      {"negative count below int64", "*-9223372036854775809\r\n", Error::kInvalidMultibulkLength},
      {"minus minus", "*--1\r\n", Error::kInvalidMultibulkLength},
      {"plus sign count", "*+1\r\n$4\r\nPING\r\n", Error::kInvalidMultibulkLength},
      {"empty count", "*\r\n", Error::kInvalidMultibulkLength},
      {"letter count", "*x\r\n", Error::kInvalidMultibulkLength},
      {"digits then letter", "*1x\r\n", Error::kInvalidMultibulkLength},
      {"space in count", "*1 \r\n", Error::kInvalidMultibulkLength},
      {"leading zero count", "*01\r\n$4\r\nPING\r\n", Error::kInvalidMultibulkLength},
      {"double zero count", "*00\r\n", Error::kInvalidMultibulkLength},
      {"count lf only", "*1\n$4\r\nPING\r\n", Error::kInvalidMultibulkLength},
      {"count bare cr", "*1\r$4\r\nPING\r\n", Error::kInvalidMultibulkLength},
      {"count nul", "*1" + nul + "\r\n", Error::kInvalidMultibulkLength},
      {"huge count", "*99999999999999999999\r\n", Error::kTooManyArgs},
      {"count above max_args", "*1025\r\n", Error::kTooManyArgs},
      {"count above tight max_args", "*4\r\n", Error::kTooManyArgs, tiny},
      // The argument header.
      {"no dollar", "*1\r\n:4\r\nPING\r\n", Error::kExpectedDollar},
      {"inline inside multibulk", "*1\r\nPING\r\n", Error::kExpectedDollar},
      {"nested array", "*1\r\n*1\r\n$4\r\nPING\r\n", Error::kExpectedDollar},
      {"second argument without dollar", "*2\r\n$3\r\nGET\r\nk\r\n", Error::kExpectedDollar},
      {"count larger than the arguments", "*2\r\n$4\r\nPING\r\n*1\r\n", Error::kExpectedDollar},
      // The bulk length.
      {"null bulk in a request", "*1\r\n$-1\r\n", Error::kInvalidBulkLength},
      {"negative bulk length", "*1\r\n$-5\r\nhello\r\n", Error::kInvalidBulkLength},
      {"plus sign bulk length", "*1\r\n$+4\r\nPING\r\n", Error::kInvalidBulkLength},
      {"empty bulk length", "*1\r\n$\r\n\r\n", Error::kInvalidBulkLength},
      {"hex bulk length", "*1\r\n$0x4\r\nPING\r\n", Error::kInvalidBulkLength},
      {"leading zero bulk length", "*1\r\n$04\r\nPING\r\n", Error::kInvalidBulkLength},
      {"bulk length lf only", "*1\r\n$4\nPING\r\n", Error::kInvalidBulkLength},
      {"bulk length bare cr", "*1\r\n$4\rPING\r\n", Error::kInvalidBulkLength},
      {"bulk length then space", "*1\r\n$4 \r\nPING\r\n", Error::kInvalidBulkLength},
      {"huge bulk length", "*1\r\n$99999999999999999999\r\n", Error::kBulkTooLong},
      {"2^64 bulk length", "*1\r\n$18446744073709551616\r\n", Error::kBulkTooLong},
      {"bulk length above max_bulk", "*1\r\n$1048577\r\n", Error::kBulkTooLong},
      {"bulk length above tight max_bulk", "*1\r\n$6\r\n", Error::kBulkTooLong, tiny},
      // The bulk data's CRLF.
      {"data longer than its length", "*1\r\n$3\r\nPING\r\n", Error::kMissingBulkCrlf},
      {"data shorter than its length", "*1\r\n$5\r\nPING\r\n\r\n", Error::kMissingBulkCrlf},
      {"data then lf only", "*1\r\n$4\r\nPING\n", Error::kMissingBulkCrlf},
      {"data then bare cr", "*1\r\n$4\r\nPING\rX", Error::kMissingBulkCrlf},
      {"data then cr cr", "*1\r\n$4\r\nPING\r\r\n", Error::kMissingBulkCrlf},
      {"empty data without crlf", "*1\r\n$0\r\nX", Error::kMissingBulkCrlf},
      // Inline.
      {"unterminated double quote", "SET \"unterminated\r\n", Error::kUnbalancedQuotes},
      {"unterminated single quote", "GET 'a\r\n", Error::kUnbalancedQuotes},
      {"quote inside a word left open", "SET a do'nt\r\n", Error::kUnbalancedQuotes},
      {"closing quote then a letter", "GET \"a b\"x\r\n", Error::kUnbalancedQuotes},
      {"closing single quote then a letter", "ECHO a'b'c\r\n", Error::kUnbalancedQuotes},
      {"closing quote then a quote", "ECHO \"a\"\"b\"\r\n", Error::kUnbalancedQuotes},
      {"escaped closing quote", "ECHO \"a\\\"\r\n", Error::kUnbalancedQuotes},
      {"backslash before the line end", "ECHO \"a\\\n", Error::kUnbalancedQuotes},
      {"escaped single quote left open", "ECHO 'a\\'\r\n", Error::kUnbalancedQuotes},
      {"hex escape before the line end", "ECHO \"\\x4\r\n", Error::kUnbalancedQuotes},
      {"inline above max_inline", "a bb cccccc\r\n", Error::kInlineTooBig, tiny},
      {"inline without lf at max_inline", "aaaaaaaaaaaa", Error::kInlineTooBig, tiny},
      {"inline lf at max_inline + 1", "aaaaaaaaaaaa\n", Error::kInlineTooBig, tiny},
      {"inline words above max_args", "a b c d\r\n", Error::kTooManyArgs, tiny},
      {"inline 1025 words", words1025, Error::kTooManyArgs},
  };
  return cases;
}

TEST_F(RespParseTest, BadCommands) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    ASSERT_EQ(Parse(c.input, c.limits), Failure(c.error)) << Escaped(c.input);
    ExpectSameForEverySplit(c.input, c.limits, Failure(c.error));
  }
}

TEST_F(RespParseTest, EveryPrefixNeedsMoreOrAnswersTheSame) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    ExpectPrefixConsistent(c.input, c.limits);
  }
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    ExpectPrefixConsistent(c.input, c.limits);
  }
}

TEST_F(RespParseTest, ExpectedDollarNamesTheByteFound) {
  for (const auto& [input, got] : std::vector<std::pair<std::string, char>>{
           {"*1\r\n+PING\r\n", '+'}, {"*2\r\n$1\r\na\r\n\r\n", '\r'}, {"*1\r\nx", 'x'}}) {
    const std::vector<std::string_view> views = slots_.Place({input}, true);
    const ParseResult r = ParseCommand(views, {}, Limits{}, room_.storage());
    EXPECT_EQ(r.error, Error::kExpectedDollar) << Escaped(input);
    EXPECT_EQ(r.got, got) << Escaped(input);
  }
}

TEST_F(RespParseTest, RejectsEarly) {
  Limits tiny;
  tiny.max_inline = 8;
  const std::vector<std::pair<std::string, Parsed>> cases = {
      {"*-", NeedMore()},
      {"*-0", Failure(Error::kInvalidMultibulkLength)},
      {"*-x", Failure(Error::kInvalidMultibulkLength)},
      {"*-1\r", NeedMore()},
      {"*0", NeedMore()},
      {"*01", Failure(Error::kInvalidMultibulkLength)},
      {"*1025", Failure(Error::kTooManyArgs)},
      {"*102", NeedMore()},
      {"*1\r", NeedMore()},
      {"*1\rx", Failure(Error::kInvalidMultibulkLength)},
      {"*1\r\nP", Failure(Error::kExpectedDollar)},
      {"*1\r\n$-", Failure(Error::kInvalidBulkLength)},
      {"*1\r\n$1048577", Failure(Error::kBulkTooLong)},
      {"*1\r\n$1048576\r\n", NeedMore()},
      {"*1\r\n$2\r\nab", NeedMore()},
      {"*1\r\n$2\r\nabc", Failure(Error::kMissingBulkCrlf)},
      {"*1\r\n$2\r\nab\r", NeedMore()},
      {"*2\r\n$2\r\nab\r\n$", NeedMore()},
      {"SET \"", NeedMore()},
      {"SET \"a\"b", Failure(Error::kUnbalancedQuotes)},
      {"SET \"a\\x4", NeedMore()},
      {"SET a", NeedMore()},
      {std::string(65535, 'a'), NeedMore()},
      {std::string(65536, 'a'), Failure(Error::kInlineTooBig)},
  };
  for (const auto& [input, expected] : cases) {
    std::vector<size_t> cuts = {input.size() / 2};
    if (input.size() > slots_.slot_bytes()) {
      cuts.clear();
      for (size_t at = slots_.slot_bytes(); at <= input.size(); at += slots_.slot_bytes()) {
        cuts.push_back(at);
      }
    }
    EXPECT_EQ(Parse(Cut(input, cuts), {}), expected) << Escaped(input);
  }
  EXPECT_EQ(Parse("SET abc", tiny), NeedMore());
  EXPECT_EQ(Parse("SET abcd", tiny), Failure(Error::kInlineTooBig));
}

// ---------------------------------------------------------------------------------------------
// Limits at their exact boundary: the limit is accepted, one more is refused.

TEST_F(RespParseTest, ArgumentLimit) {
  Limits three;
  three.max_args = 3;
  EXPECT_EQ(Parse(Multibulk({"a", "b", "c"}), three), Command({"a", "b", "c"}, 25, false));
  EXPECT_EQ(Parse(Multibulk({"a", "b", "c", "d"}), three), Failure(Error::kTooManyArgs));
  EXPECT_EQ(Parse("a b c\r\n", three), Command({"a", "b", "c"}, 7, true));
  EXPECT_EQ(Parse("a b c d\r\n", three), Failure(Error::kTooManyArgs));
  EXPECT_EQ(Parse("a b c \r\n", three), Command({"a", "b", "c"}, 8, true));  // trailing space

  // Defaults: 1024.
  std::vector<std::string> args(1024, "v");
  std::string inline_line;
  for (size_t i = 0; i < args.size(); ++i) {
    inline_line += "v ";
  }
  const std::string mb = Multibulk(args);
  EXPECT_EQ(Parse(mb), Command(args, mb.size(), false));
  EXPECT_EQ(Parse(inline_line + "\n"), Command(args, inline_line.size() + 1, true));
  args.push_back("v");
  EXPECT_EQ(Parse(Multibulk(args)), Failure(Error::kTooManyArgs));
  EXPECT_EQ(Parse(inline_line + "v\n"), Failure(Error::kTooManyArgs));

  // The capacity of Storage::args applies when it is below max_args.
  Room two(2, 64, 64);
  const std::vector<std::string_view> ok = slots_.Place({Multibulk({"a", "b"})}, true);
  EXPECT_EQ(CheckedParse(ok, {}, Limits{}, two), Command({"a", "b"}, 18, false));
  const std::vector<std::string_view> bad = slots_.Place({Multibulk({"a", "b", "c"})}, true);
  EXPECT_EQ(CheckedParse(bad, {}, Limits{}, two), Failure(Error::kTooManyArgs));
  const std::vector<std::string_view> bad_inline = slots_.Place({"a b c\r\n"}, true);
  EXPECT_EQ(CheckedParse(bad_inline, {}, Limits{}, two), Failure(Error::kTooManyArgs));
  // max_args 0: only empty commands.
  Limits zero;
  zero.max_args = 0;
  EXPECT_EQ(Parse("*0\r\n", zero), Command({}, 4, false));
  EXPECT_EQ(Parse("\r\n", zero), Command({}, 2, true));
  EXPECT_EQ(Parse("*1\r\n", zero), Failure(Error::kTooManyArgs));
  EXPECT_EQ(Parse("a\r\n", zero), Failure(Error::kTooManyArgs));
}

TEST_F(RespParseTest, BulkLimit) {
  Limits ten;
  ten.max_bulk = 10;
  const std::string s10(10, 'z');
  EXPECT_EQ(Parse(Multibulk({"SET", "k", s10}), ten), Command({"SET", "k", s10}, 37, false));
  EXPECT_EQ(Parse(Multibulk({"SET", "k", s10 + "z"}), ten), Failure(Error::kBulkTooLong));
  Limits zero;
  zero.max_bulk = 0;
  EXPECT_EQ(Parse("*1\r\n$0\r\n\r\n", zero), Command({""}, 10, false));
  EXPECT_EQ(Parse("*1\r\n$1\r\nx\r\n", zero), Failure(Error::kBulkTooLong));
  // The largest limit: lengths up to 2^64 - 1 parse without overflow.
  Limits max;
  max.max_bulk = UINT64_MAX;
  EXPECT_EQ(Parse("*1\r\n$18446744073709551615\r\nabc", max), NeedMore());
  EXPECT_EQ(Parse("*1\r\n$18446744073709551616\r\n", max), Failure(Error::kBulkTooLong));
  EXPECT_EQ(Parse("*1\r\n$99999999999999999999\r\n", max), Failure(Error::kBulkTooLong));

  // The default, 1 MiB, in 16 KiB segments (and whole, in a slot of its own).
  const std::string mib(1u << 20, 'm');
  const std::string at_limit = Multibulk({"SET", "k", mib});
  std::vector<size_t> cuts;
  for (size_t at = 16 << 10; at < at_limit.size(); at += 16 << 10) {
    cuts.push_back(at);
  }
  EXPECT_EQ(Parse(Cut(at_limit, cuts)), Command({"SET", "k", mib}, at_limit.size(), false));
  GuardedSlots big(1, 2u << 20);
  const std::vector<std::string_view> whole = big.Place({at_limit}, true);
  EXPECT_EQ(CheckedParse(whole, {}, Limits{}, room_),
            Command({"SET", "k", mib}, at_limit.size(), false));
  EXPECT_EQ(room_.args[2].view.data(), whole[0].data() + at_limit.size() - mib.size() - 2);
  EXPECT_EQ(Parse("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$1048577\r\n"), Failure(Error::kBulkTooLong));
}

TEST_F(RespParseTest, InlineLimit) {
  Limits sixteen;
  sixteen.max_inline = 16;
  const std::string line16 = "SET k " + std::string(8, 'v') + "\r\n";
  ASSERT_EQ(line16.size(), 16u);
  EXPECT_EQ(Parse(line16, sixteen), Command({"SET", "k", std::string(8, 'v')}, 16, true));
  EXPECT_EQ(Parse("SET k " + std::string(9, 'v') + "\r\n", sixteen), Failure(Error::kInlineTooBig));
  EXPECT_EQ(Parse("SET k " + std::string(9, 'v') + "\n", sixteen),
            Command({"SET", "k", std::string(9, 'v')}, 16, true));
  // Without a LF: 15 bytes may still end at 16; 16 cannot.
  EXPECT_EQ(Parse(std::string(15, ' '), sixteen), NeedMore());
  EXPECT_EQ(Parse(std::string(16, ' '), sixteen), Failure(Error::kInlineTooBig));
  // The limit is per command: two lines of 16 bytes each.
  const std::vector<std::string_view> two = slots_.Place({line16 + line16}, true);
  const ParseResult first = ParseCommand(two, {}, sixteen, room_.storage());
  ASSERT_EQ(first.outcome, Outcome::kCommand);
  EXPECT_EQ(CheckedParse(two, first.end, sixteen, room_),
            Command({"SET", "k", std::string(8, 'v')}, 16, true));
  // Multi-bulk commands are not inline lines.
  EXPECT_EQ(Parse(Multibulk({"SET", "k", std::string(100, 'v')}), sixteen).outcome,
            Outcome::kCommand);

  // The default, 64 KiB, in 16 KiB segments.
  const std::string word(65536 - 6, 'w');
  const std::string exact = "ECHO " + word + "\n";
  ASSERT_EQ(exact.size(), 65536u);
  const std::vector<size_t> cuts = {16 << 10, 32 << 10, 48 << 10, 64 << 10};
  EXPECT_EQ(Parse(Cut(exact, cuts)), Command({"ECHO", word}, exact.size(), true));
  EXPECT_EQ(Parse(Cut("ECHO " + word + "\r\n", cuts)), Failure(Error::kInlineTooBig));
  EXPECT_EQ(Parse(Cut("ECHO " + word + "w\n", cuts)), Failure(Error::kInlineTooBig));
}

TEST_F(RespParseTest, OutOfPieces) {
  Room two_pieces(8, 2, 64);
  const std::string ping = Multibulk({"PING", "x"});
  std::vector<std::string_view> views = slots_.Place({ping}, true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces), Command({"PING", "x"}, 21, false));
  views = slots_.Place(Cut(ping, {10}), true);  // "PING" in two pieces: three in all
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces).outcome, Outcome::kOutOfPieces);
  views = slots_.Place(Bytewise("PI NG\r\n"), true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces).outcome, Outcome::kOutOfPieces);
  views = slots_.Place(Cut("PING x\r\n", {4}), true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces), Command({"PING", "x"}, 8, true));
  // A prefix that already needs too many pieces says so; one that does not yet needs more.
  views = slots_.Place(Bytewise("*1\r\n$4\r\nPIN"), true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces).outcome, Outcome::kOutOfPieces);
  views = slots_.Place(Bytewise("*1\r\n$4\r\nPI"), true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, two_pieces), NeedMore());
  // Empty arguments take no piece.
  Room no_pieces(8, 0, 0);
  views = slots_.Place({"*2\r\n$0\r\n\r\n$0\r\n\r\n"}, true);
  EXPECT_EQ(CheckedParse(views, {}, Limits{}, no_pieces), Command({"", ""}, 16, false));
}

// ---------------------------------------------------------------------------------------------
// Randomized: commands generated, serialized, cut at random and parsed back.

uint64_t Seed() {
  uint64_t seed = 20261124;
  if (const char* env = std::getenv("PASTEL_RESP_SEED"); env != nullptr && *env != '\0') {
    seed = std::strtoull(env, nullptr, 10);
  }
  return seed;
}

class Generator {
 public:
  explicit Generator(uint64_t seed) : rng_(seed) {}

  size_t Below(size_t bound) { return static_cast<size_t>(rng_() % bound); }

  // A pipeline of 1..8 commands: its bytes and what each command parses to.
  std::string Pipeline(std::vector<Parsed>* commands) {
    std::string wire;
    const size_t n = 1 + Below(8);
    for (size_t i = 0; i < n; ++i) {
      const std::string one = Below(3) == 0 ? Inline(commands) : Multibulk(commands);
      wire += one;
    }
    return wire;
  }

  // Cuts `total` bytes into at most `max_segments` segments of at most `max_bytes` each, some
  // of them empty.
  std::vector<size_t> Cuts(size_t total, size_t max_segments, size_t max_bytes) {
    for (size_t longest = std::array<size_t, 4>{3, 64, 1024, max_bytes}[Below(4)];;
         longest = std::min(longest * 4, max_bytes)) {
      std::vector<size_t> cuts;
      size_t at = 0;
      while (cuts.size() + 1 < max_segments) {
        const size_t len = Below(16) == 0 ? 0 : 1 + Below(std::min(longest, max_bytes));
        if (at + len >= total) {
          break;
        }
        at += len;
        cuts.push_back(at);
      }
      if (total - at <= max_bytes) {
        return cuts;
      }
    }
  }

 private:
  std::string Bytes(size_t n) {
    constexpr char kSpecial[] = {'\r', '\n', '*', '$', '0', ' ', '\0', '-'};
    std::string s(n, '\0');
    for (char& c : s) {
      c = Below(4) == 0 ? kSpecial[Below(sizeof(kSpecial))] : static_cast<char>(Below(256));
    }
    return s;
  }

  std::string Multibulk(std::vector<Parsed>* commands) {
    const size_t argc = Below(20) == 0 ? 0 : 1 + Below(8);
    Parsed p = Command({}, 0, false);
    std::string wire = "*" + std::to_string(argc) + "\r\n";
    for (size_t i = 0; i < argc; ++i) {
      const size_t r = Below(10);
      const size_t len = r < 6 ? Below(20) : r < 9 ? 50 + Below(30) : Below(5000);
      std::string arg = Bytes(len);
      wire += "$" + std::to_string(len) + "\r\n" + arg + "\r\n";
      p.args.push_back(std::move(arg));
    }
    p.bytes = wire.size();
    commands->push_back(std::move(p));
    return wire;
  }

  std::string Separators(size_t min) {
    constexpr char kSeparators[] = {' ', ' ', ' ', '\t', '\r'};
    std::string s;
    const size_t n = min + Below(3);
    for (size_t i = 0; i < n; ++i) {
      s += kSeparators[Below(sizeof(kSeparators))];
    }
    return s;
  }

  // A word in double or single quotes (after an unquoted start, sometimes) with escapes; its
  // decoded bytes in `decoded`.
  std::string Quoted(std::string* decoded) {
    std::string wire;
    if (Below(4) == 0) {
      wire = decoded->assign(1 + Below(3), 'p');  // unquoted start: "pp\"...\""
    }
    const bool dq = Below(2) == 0;
    wire += dq ? '"' : '\'';
    const size_t n = Below(12);
    for (size_t k = 0; k < n; ++k) {
      const char c = static_cast<char>(Below(256));
      if (dq && Below(3) == 0) {
        constexpr std::pair<const char*, char> kEscapes[] = {
            {"\\n", '\n'},  {"\\r", '\r'},  {"\\t", '\t'},     {"\\\"", '"'},
            {"\\\\", '\\'}, {"\\x7e", '~'}, {"\\xA0", '\xa0'}, {"\\q", 'q'}};
        const auto& [e, d] = kEscapes[Below(std::size(kEscapes))];
        wire += e;
        *decoded += d;
      } else if (!dq && Below(6) == 0) {
        wire += "\\'";
        *decoded += '\'';
      } else if (c != '\n' && c != '\\' && c != (dq ? '"' : '\'')) {
        wire += c;
        *decoded += c;
      }
    }
    wire += dq ? '"' : '\'';
    return wire;
  }

  std::string Inline(std::vector<Parsed>* commands) {
    const size_t words = Below(7);
    Parsed p = Command({}, 0, true);
    std::string wire = Separators(0);
    for (size_t i = 0; i < words; ++i) {
      if (Below(4) == 0) {  // a quoted word: its wire form and what it decodes to
        std::string decoded;
        const std::string quoted = Quoted(&decoded);
        wire += (i == 0 ? "" : Separators(1)) + quoted;
        p.args.push_back(std::move(decoded));
        continue;
      }
      const size_t len = 1 + (Below(8) == 0 ? Below(100) : Below(12));
      std::string word;
      while (word.size() < len) {
        const char c = static_cast<char>(Below(256));
        // (VT and FF are blanks before a word, bytes of it after its first.)
        if (c != ' ' && c != '\t' && c != '\r' && c != '\n' && c != '"' && c != '\'' &&
            !(word.empty() && (c == '\v' || c == '\f'))) {
          word += c;
        }
      }
      if (wire.empty() && word[0] == '*') {
        word[0] = '+';  // a line that starts with '*' is a multi-bulk command
      }
      wire += (i == 0 ? "" : Separators(1)) + word;
      p.args.push_back(std::move(word));
    }
    wire += Separators(0) + (Below(2) == 0 ? "\r\n" : "\n");
    p.bytes = wire.size();
    commands->push_back(std::move(p));
    return wire;
  }

  std::mt19937_64 rng_;
};

// Parses commands from the start of `views` until one is not complete; returns them all, the last
// one being the first that is not a command.
std::vector<Parsed> ParseAll(std::span<const std::string_view> views, const Limits& limits,
                             Room& room) {
  std::vector<Parsed> out;
  Cursor at;
  while (true) {
    const ParseResult r = ParseCommand(views, at, limits, room.storage());
    out.push_back(CheckedParse(views, at, limits, room));
    if (r.outcome != Outcome::kCommand || ::testing::Test::HasFailure()) {
      return out;
    }
    at = r.end;
  }
}

TEST_F(RespParseTest, RandomDifferential) {
  const uint64_t seed = Seed();
  std::printf("seed %llu (PASTEL_RESP_SEED=<n> to change it)\n",
              static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  Generator gen(seed);
  constexpr int kIterations = 1500;
  size_t commands_seen = 0;
  for (int iter = 0; iter < kIterations; ++iter) {
    std::vector<Parsed> expected;
    const std::string wire = gen.Pipeline(&expected);
    const std::vector<std::string> segments =
        Cut(wire, gen.Cuts(wire.size(), slots_.slots(), slots_.slot_bytes()));
    const std::vector<std::string_view> views = slots_.Place(segments, iter % 2 == 0);
    std::vector<Parsed> got = ParseAll(views, Limits{}, room_);
    ASSERT_FALSE(got.empty());
    ASSERT_EQ(got.back(), NeedMore()) << "iteration " << iter << ": " << Escaped(wire);
    got.pop_back();
    ASSERT_EQ(got, expected) << "iteration " << iter << ": " << Escaped(wire);
    commands_seen += got.size();

    // A random prefix of the stream: the commands inside it, then "need more".
    const size_t keep = gen.Below(wire.size() + 1);
    const std::string prefix = wire.substr(0, keep);
    const std::vector<std::string_view> cut_views = slots_.Place(
        Cut(prefix, gen.Cuts(prefix.size(), slots_.slots(), slots_.slot_bytes())), iter % 2 == 1);
    got = ParseAll(cut_views, Limits{}, room_);
    ASSERT_EQ(got.back(), NeedMore()) << "iteration " << iter << " prefix " << keep;
    got.pop_back();
    size_t complete = 0;
    for (size_t end = 0; complete < expected.size() && end + expected[complete].bytes <= keep;
         ++complete) {
      end += expected[complete].bytes;
    }
    ASSERT_EQ(got, std::vector<Parsed>(expected.begin(), expected.begin() + complete))
        << "iteration " << iter << " prefix " << keep;
  }
  std::printf("%zu commands parsed back\n", commands_seen);
}

// Mutated pipelines: never a crash or a read outside the segments (the guards), only documented
// answers, the same answers however the bytes are cut, and every error reached.
TEST_F(RespParseTest, MutatedPipelines) {
  const uint64_t seed = Seed();
  std::printf("seed %llu (PASTEL_RESP_SEED=<n> to change it)\n",
              static_cast<unsigned long long>(seed));
  SCOPED_TRACE("seed " + std::to_string(seed));
  Generator gen(seed ^ 0x9e3779b97f4a7c15ull);
  constexpr char kInteresting[] = {'\r', '\n', ' ', '*',  '$',  '-', '+',  '0',
                                   '1',  '9',  '"', '\'', '\0', 'a', '\t', ':'};
  Limits tight;
  tight.max_args = 6;
  tight.max_bulk = 3000;
  tight.max_inline = 48;
  std::map<std::string, int> outcomes;
  GuardedSlots one_slot(1, 64 << 10);
  constexpr int kIterations = 4000;
  for (int iter = 0; iter < kIterations; ++iter) {
    std::vector<Parsed> ignored;
    std::string s = gen.Pipeline(&ignored);
    const size_t mutations = 1 + gen.Below(3);
    for (size_t m = 0; m < mutations && !s.empty(); ++m) {
      const size_t pos = gen.Below(s.size());
      switch (gen.Below(5)) {
        case 0: s[pos] = static_cast<char>(s[pos] ^ (1u << gen.Below(8))); break;
        case 1: s[pos] = kInteresting[gen.Below(sizeof(kInteresting))]; break;
        case 2: s.insert(pos, 1, kInteresting[gen.Below(sizeof(kInteresting))]); break;
        case 3: s.erase(pos, 1); break;
        default: s.insert(pos, std::string(1 + gen.Below(80), 'a')); break;
      }
    }
    if (s.size() > 64 << 10) {
      s.resize(64 << 10);
    }
    const Limits limits = iter % 2 == 0 ? Limits{} : tight;
    const std::vector<Parsed> whole = ParseAll(one_slot.Place({s}, true), limits, room_);
    const std::vector<std::string> segments =
        Cut(s, gen.Cuts(s.size(), slots_.slots(), slots_.slot_bytes()));
    const std::vector<Parsed> split = ParseAll(slots_.Place(segments, false), limits, room_);
    ASSERT_EQ(whole, split) << "iteration " << iter << ": " << Escaped(s);
    const Parsed& last = whole.back();
    ASSERT_NE(last.outcome, Outcome::kOutOfPieces);
    ASSERT_NE(last.outcome, Outcome::kCommand);
    outcomes[last.outcome == Outcome::kError ? ErrorName(last.error) : "need more"]++;
    if (iter % 64 == 0) {
      ExpectPrefixConsistent(s.substr(0, std::min<size_t>(s.size(), 600)), limits);
      if (HasFailure()) {
        FAIL() << "iteration " << iter << ": " << Escaped(s);
      }
    }
  }
  std::string summary;
  for (const auto& [what, count] : outcomes) {
    summary += " [" + what + "] " + std::to_string(count);
  }
  std::printf("last outcomes:%s\n", summary.c_str());
  for (Error e : {Error::kInvalidMultibulkLength, Error::kTooManyArgs, Error::kExpectedDollar,
                  Error::kInvalidBulkLength, Error::kBulkTooLong, Error::kMissingBulkCrlf,
                  Error::kInlineTooBig, Error::kUnbalancedQuotes}) {
    EXPECT_GT(outcomes[ErrorName(e)], 0) << "no mutation gave " << ErrorName(e);
  }
}

// ---------------------------------------------------------------------------------------------
// Helpers and reply writers.

TEST(RespErrorTest, Messages) {
  const std::vector<std::pair<Error, std::string_view>> cases = {
      {Error::kInvalidMultibulkLength, "invalid multibulk length"},
      // redis-server's texts (a count or length above the limit is "invalid" there too).
      {Error::kTooManyArgs, "invalid multibulk length"},
      {Error::kExpectedDollar, "expected '$'"},
      {Error::kInvalidBulkLength, "invalid bulk length"},
      {Error::kBulkTooLong, "invalid bulk length"},
      {Error::kMissingBulkCrlf, "missing CRLF after bulk data"},
      {Error::kInlineTooBig, "too big inline request"},
      {Error::kUnbalancedQuotes, "unbalanced quotes in request"},
  };
  for (const auto& [e, message] : cases) {
    EXPECT_EQ(ErrorMessage(e), message);
  }
  EXPECT_EQ(ErrorMessage(Error::kNone), "");
}

TEST(RespEqualsIgnoreCaseTest, Ascii) {
  EXPECT_TRUE(EqualsIgnoreCase("set", "SET"));
  EXPECT_TRUE(EqualsIgnoreCase("SeT", "sEt"));
  EXPECT_TRUE(EqualsIgnoreCase("", ""));
  EXPECT_FALSE(EqualsIgnoreCase("SET", "SETX"));
  EXPECT_FALSE(EqualsIgnoreCase("GET", "SET"));
  EXPECT_FALSE(EqualsIgnoreCase("[", "{"));  // 0x5B vs 0x7B: only letters fold
  EXPECT_FALSE(EqualsIgnoreCase("\xc9", "\xe9"));
}

class RespWriteTest : public ::testing::Test {
 protected:
  // Writes into the last `cap` bytes before a guard page, so a write past cap crashes; a refused
  // write must leave the buffer untouched.
  std::string Write(size_t cap, const std::function<size_t(char*, size_t)>& writer) {
    char* out = slots_.SlotEnd(0) - cap;
    std::memset(out, '#', cap);
    const size_t n = writer(out, cap);
    EXPECT_LE(n, cap);
    if (n == 0) {
      EXPECT_EQ(std::string(out, cap), std::string(cap, '#')) << "wrote while failing";
    }
    return std::string(out, n);
  }

  // The writer's full output, and 0 for every smaller capacity.
  std::string WriteExact(const std::function<size_t(char*, size_t)>& writer) {
    const std::string full = Write(512, writer);
    EXPECT_EQ(Write(full.size(), writer), full);
    for (size_t cap = 0; cap < full.size(); ++cap) {
      EXPECT_EQ(Write(cap, writer), "") << "cap " << cap;
    }
    return full;
  }

  GuardedSlots slots_{1, 4096};
};

TEST_F(RespWriteTest, Replies) {
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteSimpleString(o, c, "OK"); }), kOk);
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteSimpleString(o, c, "PONG"); }),
            "+PONG\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteSimpleString(o, c, ""); }), "+\r\n");
  EXPECT_EQ(
      WriteExact([](char* o, size_t c) { return WriteError(o, c, "ERR unknown command 'FOO'"); }),
      "-ERR unknown command 'FOO'\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) {
              return WriteProtocolError(o, c, Error::kInvalidBulkLength);
            }),
            "-ERR Protocol error: invalid bulk length\r\n");
  EXPECT_EQ(
      WriteExact([](char* o, size_t c) { return WriteProtocolError(o, c, Error::kInlineTooBig); }),
      "-ERR Protocol error: too big inline request\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteInteger(o, c, 0); }), ":0\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteInteger(o, c, 42); }), ":42\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteInteger(o, c, -7); }), ":-7\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteInteger(o, c, INT64_MAX); }),
            ":9223372036854775807\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteInteger(o, c, INT64_MIN); }),
            ":-9223372036854775808\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteBulkHeader(o, c, 0); }), "$0\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteBulkHeader(o, c, 1048576); }),
            "$1048576\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteBulkHeader(o, c, UINT64_MAX); }),
            "$18446744073709551615\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteBulkString(o, c, "hello"); }),
            "$5\r\nhello\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteBulkString(o, c, ""); }), "$0\r\n\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) {
              return WriteBulkString(o, c, std::string_view("a\r\n\0b", 5));
            }),
            std::string("$5\r\na\r\n\0b\r\n", 11));
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteNullBulk(o, c); }), kNullBulk);
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteArrayHeader(o, c, 3); }), "*3\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) { return WriteArrayHeader(o, c, 0); }), "*0\r\n");
  EXPECT_EQ(kCrlf, "\r\n");
}

TEST_F(RespWriteTest, ParsesBack) {
  // A request written with the writers' headers parses back to its arguments.
  std::string wire(64, '\0');
  size_t n = WriteArrayHeader(wire.data(), wire.size(), 2);
  n += WriteBulkString(wire.data() + n, wire.size() - n, "GET");
  n += WriteBulkHeader(wire.data() + n, wire.size() - n, 3);
  wire.resize(n);
  wire += "key";
  wire += kCrlf;
  Room room;
  const std::string_view seg = wire;
  const ParseResult r = ParseCommand({&seg, 1}, {}, Limits{}, room.storage());
  ASSERT_EQ(r.outcome, Outcome::kCommand);
  ASSERT_EQ(r.argc, 2u);
  EXPECT_EQ(room.args[0].view, "GET");
  EXPECT_EQ(room.args[1].view, "key");
  EXPECT_EQ(r.bytes, wire.size());
}

TEST_F(RespWriteTest, RefusesLineBreaks) {
  EXPECT_EQ(Write(64, [](char* o, size_t c) { return WriteSimpleString(o, c, "O\rK"); }), "");
  EXPECT_EQ(Write(64, [](char* o, size_t c) { return WriteSimpleString(o, c, "OK\n"); }), "");
  EXPECT_EQ(Write(64, [](char* o, size_t c) { return WriteError(o, c, "ERR a\r\n+OK"); }), "");
  // redis-server names the byte found instead of '$' (a CR or LF as a space).
  EXPECT_EQ(WriteExact([](char* o, size_t c) {
              return WriteProtocolError(o, c, Error::kExpectedDollar, '+');
            }),
            "-ERR Protocol error: expected '$', got '+'\r\n");
  EXPECT_EQ(WriteExact([](char* o, size_t c) {
              return WriteProtocolError(o, c, Error::kExpectedDollar, '\n');
            }),
            "-ERR Protocol error: expected '$', got ' '\r\n");
  EXPECT_EQ(Write(64, [](char* o, size_t c) { return WriteProtocolError(o, c, Error::kNone); }),
            "");
  EXPECT_EQ(WriteNullBulk(nullptr, 0), 0u);
  EXPECT_EQ(WriteInteger(nullptr, 0, 1), 0u);
}

}  // namespace
}  // namespace pastel::resp
