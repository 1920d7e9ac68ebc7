// libFuzzer target: the in-place RESP2 command parser (include/pastel/resp.h) on arbitrary bytes.
// The first input byte chooses how the rest is cut into receive segments (as the kernel would cut
// a stream); the rest is parsed command after command, as pastel-kv does, under the default limits
// and under tiny ones. Every answer is checked against the contract of ParseCommand:
//   - a command's pieces lie inside the segments, in order, and add up to each argument's length;
//     a contiguous argument's view is its bytes; a decoded (quoted inline) argument has no pieces
//     and its view, in the scratch area, is its length; at most max_args arguments, bulks <=
//     max_bulk;
//   - the answer does not depend on the cut: the same bytes as one segment give the same outcome,
//     error, length and argument bytes;
//   - prefix consistency: a prefix of a command answers kNeedMore (never an error or a command).
// The reply writers are fed input-derived strings and must stay within their buffers.
// libFuzzer hands over a heap copy of exactly `size` bytes, so ASan catches any over-read.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_poison.h"
#include "pastel/resp.h"

namespace {

namespace resp = pastel::resp;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "resp_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

// Room for one command's description, kept between inputs (value-initializing 1,024 arguments
// and pieces for every Run was most of this target's time). Only the spans handed to the parser
// are addressable, as if they were fresh vectors of exactly that size.
class Room {
 public:
  resp::Storage storage(size_t args, size_t pieces) {
    Expose(a_, args);
    Expose(p_, pieces);
    return {std::span(a_.data(), args), std::span(p_.data(), pieces), s_};
  }
  const resp::Arg& arg(size_t i) const { return a_[i]; }

 private:
  template <typename T>
  static void Expose(std::vector<T>& v, size_t n) {
    pastel::fuzz::ExposeOnly(v.data(), v.size() * sizeof(T), v.size() * sizeof(T));
    if (v.size() < n) {
      v.resize(n);
    }
    pastel::fuzz::ExposeOnly(v.data(), v.size() * sizeof(T), n * sizeof(T));
  }
  std::vector<resp::Arg> a_;
  std::vector<resp::Piece> p_;
  // max_inline bytes: every inline line's quoted arguments fit (resp::Storage).
  std::vector<char> s_ = std::vector<char>(resp::Limits{}.max_inline);
};

// The bytes of argument `arg` as the pieces say.
std::string Bytes(const std::vector<std::string_view>& segs, const resp::Arg& arg) {
  if (arg.decoded) {
    Check(arg.pieces.empty() && arg.contiguous && arg.view.size() == arg.length,
          "a decoded argument with pieces, or its view not its length");
    return std::string(arg.view);
  }
  std::string out;
  for (const resp::Piece& pc : arg.pieces) {
    Check(pc.segment < segs.size() && pc.length > 0 &&
              pc.offset + pc.length <= segs[pc.segment].size(),
          "piece outside its segment");
    out.append(segs[pc.segment].substr(pc.offset, pc.length));
  }
  Check(out.size() == arg.length, "pieces do not add up to the argument's length");
  if (arg.contiguous) {
    Check(arg.view == out, "contiguous view differs from the pieces");
  }
  return out;
}

// The cursor `by` bytes after `c` (a cursor from {0, 0} or from this function). Moving forward
// from the last position, rather than from the start, keeps many small segments cheap.
resp::Cursor Advance(const std::vector<std::string_view>& segs, resp::Cursor c, size_t by) {
  size_t pos = c.offset + by;
  while (c.segment < segs.size() && pos >= segs[c.segment].size() && pos > 0) {
    pos -= segs[c.segment].size();
    ++c.segment;
  }
  c.offset = pos;
  return c;
}

void Run(std::string_view data, uint8_t cut, const resp::Limits& limits) {
  // Segments of 1..16 bytes (by the cut byte), or 1 KiB.
  const size_t step = cut == 0 ? 1024 : (cut % 16) + 1;
  std::vector<std::string_view> segs;
  segs.reserve(data.size() / step + 1);
  for (size_t off = 0; off < data.size(); off += step) {
    segs.push_back(data.substr(off, step));
  }
  const std::vector<std::string_view> whole = {data};
  static Room room;
  static Room room1;
  const resp::Storage split = room.storage(limits.max_args, limits.max_args + segs.size() + 1);
  const resp::Storage one = room1.storage(limits.max_args, limits.max_args + 1);
  size_t pos = 0;
  resp::Cursor at;  // `pos` in `segs`
  for (int n = 0; n < 64 && pos < data.size(); ++n) {
    const resp::ParseResult r = resp::ParseCommand(segs, at, limits, split);
    std::vector<std::string> args;
    if (r.outcome == resp::Outcome::kCommand) {
      Check(r.bytes > 0 && pos + r.bytes <= data.size(), "command beyond the input");
      Check(r.argc <= limits.max_args, "more arguments than max_args");
      for (size_t i = 0; i < r.argc; ++i) {
        Check(room.arg(i).length <= std::max<uint64_t>(limits.max_bulk, limits.max_inline),
              "argument above the limits");
        args.push_back(Bytes(segs, room.arg(i)));
      }
    } else {
      Check(r.bytes == 0 && r.argc == 0, "a non-command carries a length");
    }
    Check((r.outcome == resp::Outcome::kError) == (r.error != resp::Error::kNone),
          "error code without kError, or kError without a code");
    // The same bytes in one segment.
    const resp::ParseResult w = resp::ParseCommand(whole, {0, pos}, limits, one);
    Check(w.outcome != resp::Outcome::kOutOfPieces, "one segment ran out of pieces");
    if (r.outcome != resp::Outcome::kOutOfPieces) {
      Check(w.outcome == r.outcome && w.error == r.error && w.got == r.got && w.bytes == r.bytes &&
                w.argc == r.argc && w.is_inline == r.is_inline,
            "the answer depends on how the bytes are cut");
      for (size_t i = 0; i < w.argc; ++i) {
        Check(Bytes(whole, room1.arg(i)) == args[i], "argument bytes depend on the cut");
      }
    }
    if (w.outcome == resp::Outcome::kCommand && w.bytes > 1) {
      // A strict prefix of the command needs more bytes.
      const std::vector<std::string_view> prefix = {data.substr(0, pos + w.bytes - 1)};
      const resp::ParseResult p = resp::ParseCommand(prefix, {0, pos}, limits, one);
      Check(p.outcome == resp::Outcome::kNeedMore, "a prefix of a command is not kNeedMore");
    }
    if (w.outcome != resp::Outcome::kCommand) {
      break;
    }
    pos += w.bytes;
    at = Advance(segs, at, w.bytes);
  }
  // Reply writers with input-derived content stay in bounds (ASan checks the buffer).
  char out[96];
  const std::string_view s = data.substr(0, std::min<size_t>(data.size(), 120));
  const size_t a = resp::WriteSimpleString(out, sizeof(out), s);
  const size_t b = resp::WriteError(out, sizeof(out), s);
  const size_t c = resp::WriteBulkString(out, sizeof(out), s);
  Check(a <= sizeof(out) && b <= sizeof(out) && c <= sizeof(out), "writer beyond its buffer");
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size == 0) {
    return 0;
  }
  const std::string_view in(reinterpret_cast<const char*>(data) + 1, size - 1);
  Run(in, data[0], resp::Limits{});
  resp::Limits tiny;
  tiny.max_args = 4;
  tiny.max_bulk = 16;
  tiny.max_inline = 32;
  Run(in, data[0], tiny);
  return 0;
}
