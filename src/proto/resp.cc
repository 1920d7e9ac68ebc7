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
//     exactly; a bare CR or LF is invalid. `*0` and a negative count (`*-1`) are empty commands,
//     as redis-server skips them; `$-1` is an error.
//   - Inline: the line ends at LF; SP, HT and CR end a word (a CR before the LF is one of them, as
//     redis-server strips it), VT and FF are skipped between words; quotes as redis-server's
//     sdssplitargs takes them: "..." with \n \r \t \b \a \xHH and \<any> escapes, '...' with \'
//     only, a quote may start in the middle of a word and the closing one must be followed by a
//     space or the line's end. A quoted argument is decoded into the scratch area.

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

// Ends an unquoted inline word (with LF, which also ends the line).
bool IsInlineSeparator(char c) {
  return c == ' ' || c == '\t' || c == '\r';
}

// isspace() in the C locale: what may follow a closing quote, and what is skipped between words.
bool IsSpace(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\v' || c == '\f' || c == '\r';
}

bool IsHex(char c) {
  return IsDigit(c) || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

int HexValue(char c) {
  return IsDigit(c) ? c - '0' : (c >= 'a' && c <= 'f') ? c - 'a' + 10 : c - 'A' + 10;
}

// The byte a backslash escape inside double quotes stands for (sdssplitargs).
char Unescape(char c) {
  switch (c) {
    case 'n': return '\n';
    case 'r': return '\r';
    case 't': return '\t';
    case 'b': return '\b';
    case 'a': return '\a';
    default: return c;
  }
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
  char got() const { return got_; }
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
    a.decoded = false;
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
    char c = 0;
    if (!Peek(&c)) {
      return Outcome::kNeedMore;
    }
    uint64_t count = 0;
    if (c == '-') {
      // A negative count (string2ll's: no "-0", down to INT64_MIN) is an empty command.
      Skip();
      if (!Peek(&c)) {
        return Outcome::kNeedMore;
      }
      if (c == '0') {
        return Fail(Error::kInvalidMultibulkLength);
      }
      return ParseNumber(uint64_t{1} << 63, Error::kInvalidMultibulkLength,
                         Error::kInvalidMultibulkLength, &count);
    }
    Outcome r = ParseNumber(max_args_, Error::kInvalidMultibulkLength, Error::kTooManyArgs, &count);
    if (r != Outcome::kCommand) {
      return r;
    }
    // Invariant: count <= max_args_ <= storage_.args.size(), so every index below is in range.
    argc_ = static_cast<size_t>(count);
    for (size_t i = 0; i < argc_; ++i) {
      if (!Peek(&c)) {
        return Outcome::kNeedMore;
      }
      if (c != '$') {
        got_ = c;
        return Fail(Error::kExpectedDollar);
      }
      Skip();
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
    size_t line = 0;  // bytes of the line passed
    char c = 0;
    while (true) {
      if (line == limits_.max_inline) {
        return Fail(Error::kInlineTooBig);
      }
      if (!Peek(&c)) {
        return Outcome::kNeedMore;
      }
      // Each step answers kNeedMore when it took the byte and the line goes on.
      const Outcome r = quote_ != 0 ? QuotedByte(c) : closed_ ? ClosedByte(c) : PlainByte(c);
      if (r != Outcome::kNeedMore) {
        return r;  // the line's end (kCommand), an error or out of room
      }
      Skip();
      ++line;
    }
  }

  // The byte after a closing quote: a space (or the line's end) ends the word, anything else is
  // an error (sdssplitargs).
  Outcome ClosedByte(char c) {
    if (!IsSpace(c)) {
      return Fail(Error::kUnbalancedQuotes);
    }
    closed_ = false;
    FinishDecoded();
    return PlainByte(c);
  }

  // A byte outside quotes. kNeedMore: taken, go on; kCommand: the line's LF (passed).
  Outcome PlainByte(char c) {
    if (c == '\n' || IsInlineSeparator(c)) {
      if (in_word_) {
        FinishArg(argc_ - 1, first_, word_);
        in_word_ = false;
      }
      if (c == '\n') {
        Skip();
        return Outcome::kCommand;
      }
      return Outcome::kNeedMore;
    }
    if (!in_word_ && (c == '\v' || c == '\f')) {
      return Outcome::kNeedMore;  // blanks between words
    }
    if (!in_word_) {
      if (argc_ == max_args_) {
        return Fail(Error::kTooManyArgs);
      }
      ++argc_;
      in_word_ = true;
      first_ = npieces_;
      word_ = 0;
    }
    if (c == '"' || c == '\'') {
      quote_ = c;
      return Decode();  // the word so far joins its quoted part in the scratch area
    }
    ++word_;
    Piece* const last = npieces_ > first_ ? &storage_.pieces[npieces_ - 1] : nullptr;
    if (last != nullptr && last->segment == seg_ && last->offset + last->length == off_) {
      ++last->length;
    } else if (!AddPiece(1)) {
      return Outcome::kOutOfPieces;
    }
    return Outcome::kNeedMore;
  }

  // A byte inside quotes (the line's LF there: an unterminated quote).
  Outcome QuotedByte(char c) {
    if (c == '\n') {
      return Fail(Error::kUnbalancedQuotes);
    }
    if (quote_ == '\'') {
      if (escape_ == 1) {  // after a backslash: only \' is an escape
        escape_ = 0;
        if (c == '\'') {
          return Emit('\'');
        }
        if (const Outcome r = Emit('\\'); r != Outcome::kNeedMore) {
          return r;
        }
      }
      if (c == '\\') {
        escape_ = 1;
        return Outcome::kNeedMore;
      }
      if (c == '\'') {
        quote_ = 0;
        closed_ = true;
        return Outcome::kNeedMore;
      }
      return Emit(c);
    }
    switch (escape_) {
      case 1:  // after a backslash
        escape_ = 0;
        if (c == 'x') {
          escape_ = 2;
          return Outcome::kNeedMore;
        }
        return Emit(Unescape(c));
      case 2:  // after \x: a hex digit, or the x stands for itself
        if (IsHex(c)) {
          hex_ = c;
          escape_ = 3;
          return Outcome::kNeedMore;
        }
        escape_ = 0;
        if (const Outcome r = Emit('x'); r != Outcome::kNeedMore) {
          return r;
        }
        break;
      case 3:  // after \xH
        escape_ = 0;
        if (IsHex(c)) {
          return Emit(static_cast<char>(HexValue(hex_) * 16 + HexValue(c)));
        }
        for (const char e : {'x', hex_}) {
          if (const Outcome r = Emit(e); r != Outcome::kNeedMore) {
            return r;
          }
        }
        break;
      default: break;
    }
    if (c == '\\') {
      escape_ = 1;
      return Outcome::kNeedMore;
    }
    if (c == '"') {
      quote_ = 0;
      closed_ = true;
      return Outcome::kNeedMore;
    }
    return Emit(c);
  }

  // The current word becomes decoded: its bytes so far are copied into the scratch area, where
  // the rest of it is decoded, and its pieces are given back.
  Outcome Decode() {
    decoded_at_ = scratch_used_;
    if (storage_.scratch.size() - scratch_used_ < word_) {
      return Outcome::kOutOfPieces;
    }
    for (size_t p = first_; p < npieces_; ++p) {
      const Piece& pc = storage_.pieces[p];
      std::memcpy(storage_.scratch.data() + scratch_used_, segs_[pc.segment].data() + pc.offset,
                  pc.length);
      scratch_used_ += pc.length;
    }
    npieces_ = first_;
    return Outcome::kNeedMore;
  }

  // One decoded byte of the current word.
  Outcome Emit(char b) {
    if (scratch_used_ == storage_.scratch.size()) {
      return Outcome::kOutOfPieces;
    }
    storage_.scratch[scratch_used_++] = b;
    ++word_;
    return Outcome::kNeedMore;
  }

  void FinishDecoded() {
    Arg& a = storage_.args[argc_ - 1];
    a.length = word_;
    a.pieces = std::span<const Piece>(storage_.pieces.data() + first_, 0);
    a.contiguous = true;
    a.decoded = true;
    a.view = std::string_view(storage_.scratch.data() + decoded_at_, word_);
    in_word_ = false;
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
  char got_ = 0;  // kExpectedDollar: the byte found
  // The inline word being parsed: its first piece, its bytes so far, where its decoded bytes
  // begin in the scratch area, the open quote ('"', '\'' or 0), the escape state inside quotes
  // (0 none, 1 after a backslash, 2 after \x, 3 after \xH with H in hex_), and whether its closing
  // quote was just passed.
  bool in_word_ = false;
  size_t first_ = 0;
  size_t word_ = 0;
  size_t decoded_at_ = 0;
  char quote_ = 0;
  int escape_ = 0;
  char hex_ = 0;
  bool closed_ = false;
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
    case Outcome::kError:
      result.error = parser.error();
      result.got = parser.got();
      break;
    case Outcome::kNeedMore:
    case Outcome::kOutOfPieces: break;
  }
  return result;
}

std::string_view ErrorMessage(Error e) {
  switch (e) {
    case Error::kNone: return "";
    case Error::kInvalidMultibulkLength: return "invalid multibulk length";
    // redis-server's text for a count or length above its own limit.
    case Error::kTooManyArgs: return "invalid multibulk length";
    case Error::kExpectedDollar: return "expected '$'";
    case Error::kInvalidBulkLength: return "invalid bulk length";
    case Error::kBulkTooLong: return "invalid bulk length";
    case Error::kMissingBulkCrlf: return "missing CRLF after bulk data";  // (redis-server: none)
    case Error::kInlineTooBig: return "too big inline request";
    case Error::kUnbalancedQuotes: return "unbalanced quotes in request";
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

size_t WriteProtocolError(char* out, size_t cap, Error e, char got) {
  constexpr std::string_view kPrefix = "-ERR Protocol error: ";
  const std::string_view message = ErrorMessage(e);
  // ", got 'c'" (redis-server writes the byte as it is, a CR or LF as a space).
  const char shown = (got == '\r' || got == '\n') ? ' ' : got;
  const char got_text[] = {',', ' ', 'g', 'o', 't', ' ', '\'', shown, '\''};
  const std::string_view suffix =
      e == Error::kExpectedDollar ? std::string_view(got_text, sizeof(got_text)) : "";
  const size_t size = kPrefix.size() + message.size() + suffix.size() + kCrlf.size();
  if (e == Error::kNone || size > cap) {
    return 0;
  }
  Put(Put(Put(Put(out, kPrefix), message), suffix), kCrlf);
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
