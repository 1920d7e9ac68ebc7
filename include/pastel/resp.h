#pragma once
// proto/resp: a RESP2 (Redis protocol) request parser that works in place over the receive
// buffers of one connection, and reply writers.
//
// Input is the connection's unconsumed bytes as a sequence of segments (one per receive: a range
// of a pool buffer), read from a cursor. ParseCommand finds one command: multi-bulk
// (`*<n>\r\n$<len>\r\n<bytes>\r\n...`) or inline (`SET a "b c"\r\n`, quoted as redis-server
// quotes). Arguments are never copied: each is described by the pieces (segment, offset, length)
// it occupies, one per segment it touches, so that a value can be logged and served from the
// buffers it was received into. Small arguments that straddle segments are also copied into a
// caller-provided scratch area, so that a command name can be matched without allocation; so are
// the inline arguments with quotes, whose bytes (escapes decoded) are not the input's. The
// grammar, limits and errors are in docs/resp.md.
//
// Every decision depends only on the bytes already passed, so ParseCommand on a prefix of the
// input answers kNeedMore or exactly what it answers on the whole input (same error, same bytes
// and arguments), and the answer does not depend on how the bytes are cut into segments (only the
// piece lists do, and kOutOfPieces).
//
// Pure functions; no allocation, no exceptions, thread-safe (a Storage is written by one call at
// a time).

#include <cstddef>
#include <cstdint>
#include <span>
#include <string_view>

namespace pastel::resp {

struct Limits {
  // Arguments per command (the multi-bulk count, or the words of an inline line). Redis allows
  // 1024 * 1024 (older) or INT_MAX; a fixed-capacity parser takes a smaller default. The
  // capacity of Storage::args applies when it is smaller.
  size_t max_args = 1024;
  // Bytes of one bulk string (Redis: proto-max-bulk-len, 512 MiB). The default matches
  // pastel-httpd's body limit (http::Limits::max_body): a 1 MiB value is accepted.
  uint64_t max_bulk = 1u << 20;
  // Bytes of an inline line, its LF included (Redis: PROTO_INLINE_MAX_SIZE).
  size_t max_inline = 64 << 10;
};

// Arguments of at most this many bytes that straddle segments are copied into the scratch area.
inline constexpr size_t kMaxFlatArg = 64;

// A position in the segments: byte `offset` of segment `segment`.
struct Cursor {
  size_t segment = 0;
  size_t offset = 0;
  bool operator==(const Cursor&) const = default;
};

// `length` bytes (> 0) at `offset` of segment `segment`.
struct Piece {
  size_t segment = 0;
  size_t offset = 0;
  size_t length = 0;
  bool operator==(const Piece&) const = default;
};

struct Arg {
  size_t length = 0;
  // In input order, one per segment the argument touches; their lengths add up to `length` (an
  // empty argument has none). Points into Storage::pieces.
  std::span<const Piece> pieces;
  // The whole argument as one view: in place when it lies in one segment (or is empty), else a
  // copy in Storage::scratch when it is at most kMaxFlatArg bytes and the scratch has room left
  // (arguments are copied in order). Otherwise `contiguous` is false and `view` is empty.
  bool contiguous = false;
  std::string_view view;
  // An inline argument with quotes: its bytes, escapes decoded, are `view` (in Storage::scratch,
  // `contiguous` true) and are not the input's; `pieces` is empty.
  bool decoded = false;
};

// Caller-provided room for one command's description. Reused by every call; what a call leaves
// in it is meaningful only when it returns kCommand, until the next call. A scratch area of at
// least Limits::max_inline bytes holds every inline command's quoted arguments (a smaller one
// answers kOutOfPieces for an inline command whose quoted arguments do not fit).
struct Storage {
  std::span<Arg> args;
  std::span<Piece> pieces;
  std::span<char> scratch;
};

enum class Outcome : uint8_t {
  kCommand,     // a complete command: `argc` arguments in Storage::args, `bytes` bytes long
  kNeedMore,    // the input is a prefix of a command (or empty): parse again when more arrived
  kError,       // a protocol error: answer WriteProtocolError(error) and close the connection
  kOutOfPieces  // the command needs more pieces than Storage::pieces holds (not a protocol error:
                // the input is cut into too many segments; coalesce them or give more room), or
                // more scratch than Storage::scratch holds for its quoted inline arguments
};

enum class Error : uint8_t {
  kNone,
  kInvalidMultibulkLength,  // "*" not followed by ["-"] 1*DIGIT CRLF (no "+", no leading zero)
  kTooManyArgs,             // a count (or inline words) above max_args
  kExpectedDollar,          // an argument of a multi-bulk command that does not start with '$'
  kInvalidBulkLength,       // "$" not followed by 1*DIGIT CRLF ($-1 included)
  kBulkTooLong,             // a bulk length above max_bulk
  kMissingBulkCrlf,         // bulk data not followed by CRLF
  kInlineTooBig,            // max_inline bytes without a LF
  kUnbalancedQuotes,        // an inline line with an unterminated quote, or a closing quote
                            // followed by something else than a space
};

struct ParseResult {
  Outcome outcome = Outcome::kNeedMore;
  Error error = Error::kNone;  // kError only
  // kCommand only (0 otherwise):
  size_t bytes = 0;  // the command's bytes from `start`, its final CRLF or LF included
  Cursor end;        // the first byte after the command; segments before end.segment are consumed
  size_t argc = 0;   // 0: an empty command (`*0\r\n`, `*-1\r\n`, a blank inline line): skip it,
                     // no reply
  bool is_inline = false;
  char got = 0;  // kExpectedDollar: the byte found instead of '$'
};

// Parses one command from `segments`, starting at `start` (start.offset <= the size of
// start.segment; start.segment <= segments.size()). Reads no byte outside the segments and
// writes nothing outside `storage`. Empty segments are allowed.
ParseResult ParseCommand(std::span<const std::string_view> segments, Cursor start,
                         const Limits& limits, const Storage& storage);

// redis-server's message of an error ("invalid bulk length"); "" for kNone. (kExpectedDollar's
// full message names the byte found: WriteProtocolError.)
std::string_view ErrorMessage(Error e);

// ASCII case-insensitive equality (command names: "set" == "SET").
bool EqualsIgnoreCase(std::string_view a, std::string_view b);

// Reply writers. Each writes into [out, out + cap) and returns the bytes written, or 0 (writing
// nothing) when the reply does not fit or is not allowed (a CR or LF in a simple string or an
// error message would end the line early).
size_t WriteSimpleString(char* out, size_t cap, std::string_view s);  // "+<s>\r\n"
size_t WriteError(char* out, size_t cap, std::string_view message);   // "-<message>\r\n"
// "-ERR Protocol error: <msg>\r\n"; kExpectedDollar: "<msg>, got '<got>'" (CR and LF as spaces),
// as redis-server writes it.
size_t WriteProtocolError(char* out, size_t cap, Error e, char got = 0);
size_t WriteInteger(char* out, size_t cap, int64_t v);  // ":<v>\r\n"
// "$<length>\r\n": the bulk reply's head; its body (sent from the pool buffers) and kCrlf follow.
size_t WriteBulkHeader(char* out, size_t cap, uint64_t length);
size_t WriteBulkString(char* out, size_t cap, std::string_view s);  // "$<n>\r\n<s>\r\n"
size_t WriteNullBulk(char* out, size_t cap);                        // "$-1\r\n"
size_t WriteArrayHeader(char* out, size_t cap, uint64_t count);     // "*<count>\r\n"

inline constexpr std::string_view kCrlf = "\r\n";
inline constexpr std::string_view kOk = "+OK\r\n";
inline constexpr std::string_view kNullBulk = "$-1\r\n";

}  // namespace pastel::resp
