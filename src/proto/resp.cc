// proto/resp: the RESP2 request parser and the reply writers of include/pastel/resp.h.
//
// The parser is one forward pass from the cursor, byte by byte over the framing (counts, lengths,
// inline lines) and by whole pieces over bulk data, so bulk bytes are never looked at. Every
// decision is taken on the byte at hand, which gives the header's two properties (prefix
// consistency, independence from the segment cuts) and early rejection: a count or length is
// refused at the first digit that takes it above its limit, an inline line at its first quote or
// once max_inline bytes have passed without a LF.
//
// Choices the header leaves open, made here (docs/resp.md has the whole grammar):
//   - Counts and lengths are 1*DIGIT without sign or leading zero (Redis's string2ll), then CR LF
//     exactly; a bare CR or LF is invalid. `*0` is an empty command; `*-1`, `$-1` are errors.
//   - Inline: the line ends at LF; SP, HT and CR separate words (a CR before the LF is one of
//     them, as redis-server strips it); every other byte but the quotes belongs to a word.

#include "pastel/resp.h"

#include <algorithm>
#include <cassert>
#include <cstring>

#include "base/decimal.h"

namespace pastel::resp {
namespace {

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

bool IsInlineSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// Parses one command from a cursor. Lives for one ParseCommand call.
class CommandParser {
 public:
  CommandParser(std::span<const std::string_view> segs, Cursor start, const Limits& limits,
                const Storage& storage)
      : segs_(segs),
        seg_(start.segment),
        off_(start.offset),
        limits_(limits),
        storage_(storage),
        max_args_(std::min(limits.max_args, storage.args.size())) {}

  // kCommand when a whole command was parsed (argc(), bytes(), end() tell it), else why not.
  Outcome Run() {
    char c = 0;
    if (!Peek(&c)) {
      return Outcome::kNeedMore;
    }
    is_inline_ = c != '*';
    const Outcome r = is_inline_ ? ParseInline() : ParseMultibulk();
    if (r == Outcome::kCommand) {
      SkipExhausted();
    }
    return r;
  }

  Error error() const { return error_; }
  size_t argc() const { return argc_; }
  size_t bytes() const { return pos_; }
  Cursor end() const { return {seg_, off_}; }
  bool is_inline() const { return is_inline_; }

 private:
  // Moves past segments that have no byte left at the cursor.
  void SkipExhausted() {
    while (seg_ < segs_.size() && off_ >= segs_[seg_].size()) {
      ++seg_;
      off_ = 0;
    }
  }

  // The byte at the cursor, if there is one.
  bool Peek(char* c) {
    SkipExhausted();
    if (seg_ >= segs_.size()) {
      return false;
    }
    *c = segs_[seg_][off_];
    return true;
  }

  // Passes the byte a successful Peek returned.
  void Skip() {
    ++off_;
    ++pos_;
  }

  Outcome Fail(Error e) {
    error_ = e;
    return Outcome::kError;
  }

  // Expects the byte `want` at the cursor and passes it; `e` when another byte is there.
  Outcome Expect(char want, Error e) {
    char c = 0;
    if (!Peek(&c)) {
      return Outcome::kNeedMore;
    }
    if (c != want) {
      return Fail(e);
    }
    Skip();
    return Outcome::kCommand;
  }

  // 1*DIGIT CR LF, no leading zero, the value at most `limit`: `invalid` for a malformed number,
  // `too_big` at the first digit that takes the value above `limit`.
  Outcome ParseNumber(uint64_t limit, Error invalid, Error too_big, uint64_t* value) {
    uint64_t v = 0;
    size_t digits = 0;
    char c = 0;
    while (true) {
      if (!Peek(&c)) {
        return Outcome::kNeedMore;
      }
      if (!IsDigit(c)) {
        break;
      }
      if (digits == 1 && v == 0) {
        return Fail(invalid);  // a leading zero
      }
      const auto d = static_cast<uint64_t>(c - '0');
      if (v > limit / 10 || v * 10 > limit || d > limit - v * 10) {
        return Fail(too_big);
      }
      v = v * 10 + d;
      ++digits;
      Skip();
    }
    if (digits == 0 || c != '\r') {
      return Fail(invalid);
    }
    Skip();
    if (const Outcome r = Expect('\n', invalid); r != Outcome::kCommand) {
      return r;
    }
    *value = v;
    return Outcome::kCommand;
  }

  bool AddPiece(size_t length) {
    if (npieces_ == storage_.pieces.size()) {
      return false;
    }
    storage_.pieces[npieces_++] = Piece{seg_, off_, length};
    return true;
  }

  // Argument `index` is complete: its pieces are [first, npieces_).
  void FinishArg(size_t index, size_t first, size_t length) {
    Arg& a = storage_.args[index];
    a.length = length;
    a.pieces = std::span<const Piece>(storage_.pieces.data() + first, npieces_ - first);
    a.contiguous = false;
    a.view = {};
    if (a.pieces.empty()) {
      a.contiguous = true;
    } else if (a.pieces.size() == 1) {
      const Piece& p = a.pieces.front();
      a.contiguous = true;
      a.view = std::string_view(segs_[p.segment].data() + p.offset, p.length);
    } else if (length <= kMaxFlatArg && length <= storage_.scratch.size() - scratch_used_) {
      char* const copy = storage_.scratch.data() + scratch_used_;
      size_t at = 0;
      for (const Piece& p : a.pieces) {
        std::memcpy(copy + at, segs_[p.segment].data() + p.offset, p.length);
        at += p.length;
      }
      // Invariant: the pieces add up to the argument.
      assert(at == length);
      scratch_used_ += length;
      a.contiguous = true;
      a.view = std::string_view(copy, length);
    }
  }

  // '*' count CRLF, then `count` times '$' length CRLF data CRLF.
  Outcome ParseMultibulk() {
    Skip();  // '*'
    uint64_t count = 0;
    Outcome r = ParseNumber(max_args_, Error::kInvalidMultibulkLength, Error::kTooManyArgs, &count);
    if (r != Outcome::kCommand) {
      return r;
    }
    // Invariant: count <= max_args_ <= storage_.args.size(), so every index below is in range.
    argc_ = static_cast<size_t>(count);
    for (size_t i = 0; i < argc_; ++i) {
      if (r = Expect('$', Error::kExpectedDollar); r != Outcome::kCommand) {
        return r;
      }
      uint64_t length = 0;
      r = ParseNumber(limits_.max_bulk, Error::kInvalidBulkLength, Error::kBulkTooLong, &length);
      if (r != Outcome::kCommand) {
        return r;
      }
      if (r = ParseBulkData(i, static_cast<size_t>(length)); r != Outcome::kCommand) {
        return r;
      }
    }
    return Outcome::kCommand;
  }

  // `length` bytes of argument `index`, by whole pieces, then CR LF.
  Outcome ParseBulkData(size_t index, size_t length) {
    const size_t first = npieces_;
    size_t left = length;
    while (left > 0) {
      SkipExhausted();
      if (seg_ >= segs_.size()) {
        return Outcome::kNeedMore;
      }
      const size_t take = std::min(left, segs_[seg_].size() - off_);
      if (!AddPiece(take)) {
        return Outcome::kOutOfPieces;
      }
      off_ += take;
      pos_ += take;
      left -= take;
    }
    for (const char want : {'\r', '\n'}) {
      if (const Outcome r = Expect(want, Error::kMissingBulkCrlf); r != Outcome::kCommand) {
        return r;
      }
    }
    FinishArg(index, first, length);
    return Outcome::kCommand;
  }

  // Words up to and including the LF, at most max_inline bytes in all.
  Outcome ParseInline() {
    size_t line = 0;   // bytes of the line passed
    size_t first = 0;  // the current word's first piece
    size_t word = 0;   // the current word's bytes so far
    bool in_word = false;
    char c = 0;
    while (true) {
      if (line == limits_.max_inline) {
        return Fail(Error::kInlineTooBig);
      }
      if (!Peek(&c)) {
        return Outcome::kNeedMore;
      }
      if (c == '\n' || IsInlineSeparator(c)) {
        if (in_word) {
          FinishArg(argc_ - 1, first, word);
          in_word = false;
        }
        Skip();
        ++line;
        if (c == '\n') {
          return Outcome::kCommand;
        }
        continue;
      }
      if (c == '"' || c == '\'') {
        return Fail(Error::kInlineQuotes);
      }
      if (!in_word) {
        if (argc_ == max_args_) {
          return Fail(Error::kTooManyArgs);
        }
        ++argc_;
        in_word = true;
        first = npieces_;
        word = 0;
      }
      Piece* const last = npieces_ > first ? &storage_.pieces[npieces_ - 1] : nullptr;
      if (last != nullptr && last->segment == seg_ && last->offset + last->length == off_) {
        ++last->length;
      } else if (!AddPiece(1)) {
        return Outcome::kOutOfPieces;
      }
      Skip();
      ++line;
      ++word;
    }
  }

  const std::span<const std::string_view> segs_;
  size_t seg_;
  size_t off_;      // Invariant: segs_[seg_][off_] is the next byte, once SkipExhausted ran.
  size_t pos_ = 0;  // bytes passed since the start cursor
  const Limits& limits_;
  const Storage& storage_;
  const size_t max_args_;
  size_t npieces_ = 0;  // Storage::pieces used
  size_t scratch_used_ = 0;
  size_t argc_ = 0;
  bool is_inline_ = false;
  Error error_ = Error::kNone;
};

char* Put(char* out, std::string_view s) {
  if (!s.empty()) {
    std::memcpy(out, s.data(), s.size());
  }
  return out + s.size();
}

bool HasLineEnd(std::string_view s) {
  return s.find_first_of("\r\n") != std::string_view::npos;
}

// "<type><text>\r\n"
size_t WriteLine(char* out, size_t cap, char type, std::string_view text) {
  const size_t size = 1 + text.size() + kCrlf.size();
  if (size > cap) {
    return 0;
  }
  out[0] = type;
  Put(Put(out + 1, text), kCrlf);
  return size;
}

// "<type>[-]<magnitude>\r\n"
size_t WriteNumberLine(char* out, size_t cap, char type, bool negative, uint64_t magnitude) {
  const size_t size = 1 + (negative ? 1 : 0) + DecimalDigits(magnitude) + kCrlf.size();
  if (size > cap) {
    return 0;
  }
  char* w = out;
  *w++ = type;
  if (negative) {
    *w++ = '-';
  }
  w = Put(PutDecimal(w, magnitude), kCrlf);
  // Invariant: the size computed above is exactly what was written.
  assert(static_cast<size_t>(w - out) == size);
  return size;
}

}  // namespace

ParseResult ParseCommand(std::span<const std::string_view> segments, Cursor start,
                         const Limits& limits, const Storage& storage) {
  CommandParser parser(segments, start, limits, storage);
  ParseResult result;
  result.outcome = parser.Run();
  switch (result.outcome) {
    case Outcome::kCommand:
      result.bytes = parser.bytes();
      result.end = parser.end();
      result.argc = parser.argc();
      result.is_inline = parser.is_inline();
      break;
    case Outcome::kError: result.error = parser.error(); break;
    case Outcome::kNeedMore:
    case Outcome::kOutOfPieces: break;
  }
  return result;
}

std::string_view ErrorMessage(Error e) {
  switch (e) {
    case Error::kNone: return "";
    case Error::kInvalidMultibulkLength: return "invalid multibulk length";
    case Error::kTooManyArgs: return "too many arguments";
    case Error::kExpectedDollar: return "expected '$'";
    case Error::kInvalidBulkLength: return "invalid bulk length";
    case Error::kBulkTooLong: return "bulk length above the limit";
    case Error::kMissingBulkCrlf: return "missing CRLF after bulk data";
    case Error::kInlineTooBig: return "too big inline request";
    case Error::kInlineQuotes: return "quotes in inline requests are not supported";
  }
  return "unknown error";
}

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) {
    return false;
  }
  for (size_t i = 0; i < a.size(); ++i) {
    if (ToLower(a[i]) != ToLower(b[i])) {
      return false;
    }
  }
  return true;
}

size_t WriteSimpleString(char* out, size_t cap, std::string_view s) {
  return HasLineEnd(s) ? 0 : WriteLine(out, cap, '+', s);
}

size_t WriteError(char* out, size_t cap, std::string_view message) {
  return HasLineEnd(message) ? 0 : WriteLine(out, cap, '-', message);
}

size_t WriteProtocolError(char* out, size_t cap, Error e) {
  constexpr std::string_view kPrefix = "-ERR Protocol error: ";
  const std::string_view message = ErrorMessage(e);
  const size_t size = kPrefix.size() + message.size() + kCrlf.size();
  if (e == Error::kNone || size > cap) {
    return 0;
  }
  Put(Put(Put(out, kPrefix), message), kCrlf);
  return size;
}

size_t WriteInteger(char* out, size_t cap, int64_t v) {
  // The magnitude in unsigned arithmetic, so that INT64_MIN does not overflow.
  const bool negative = v < 0;
  const uint64_t magnitude = negative ? 0 - static_cast<uint64_t>(v) : static_cast<uint64_t>(v);
  return WriteNumberLine(out, cap, ':', negative, magnitude);
}

size_t WriteBulkHeader(char* out, size_t cap, uint64_t length) {
  return WriteNumberLine(out, cap, '$', false, length);
}

size_t WriteBulkString(char* out, size_t cap, std::string_view s) {
  const size_t head = 1 + DecimalDigits(s.size()) + kCrlf.size();
  if (head + s.size() + kCrlf.size() > cap) {
    return 0;
  }
  const size_t written = WriteBulkHeader(out, cap, s.size());
  // Invariant: the head fits, since the whole reply does.
  assert(written == head);
  Put(Put(out + written, s), kCrlf);
  return head + s.size() + kCrlf.size();
}

size_t WriteNullBulk(char* out, size_t cap) {
  if (kNullBulk.size() > cap) {
    return 0;
  }
  Put(out, kNullBulk);
  return kNullBulk.size();
}

size_t WriteArrayHeader(char* out, size_t cap, uint64_t count) {
  return WriteNumberLine(out, cap, '*', false, count);
}

}  // namespace pastel::resp
