#pragma once
// proto/http: an HTTP/1.1 request-head parser that works in place (it never copies: every
// string_view points into the bytes given), a decoder of chunked request bodies that works in
// place too (it names the chunk data where it lies), and response-head builders. Bodies of known
// length are not parsed: the caller finds them after the head (Content-Length bytes), possibly
// across several receive buffers, and keeps them where they are.
//
// Pure functions and plain values; no allocation, no exceptions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pastel::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };

struct Limits {
  size_t max_head = 8192;        // request line + headers + blank line; beyond: 431
  uint64_t max_body = 1u << 20;  // Content-Length, or a chunked body's decoded bytes; beyond: 413
  size_t max_target = 1024;      // the target's path beyond: 414 (servers: the store's key limit)
};

struct RequestHead {
  Method method = Method::kOther;
  std::string_view method_name;  // as sent
  // The path (and query) of the target, starting with '/': origin-form as sent, or the part of an
  // absolute-form target after its authority ("http://h:1/k" -> "/k"). "*" for OPTIONS *.
  std::string_view target;
  std::string_view authority;  // an absolute-form target's host[:port]; empty otherwise
  uint8_t version_minor = 1;   // HTTP/1.0 or HTTP/1.1
  bool keep_alive = true;      // 1.1: unless "Connection: close"; 1.0: only "keep-alive"
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool chunked = false;          // "Transfer-Encoding: chunked": the body is ChunkedDecoder's
  bool expect_continue = false;  // "Expect: 100-continue"
  size_t head_bytes = 0;         // empty lines before the request line + request line + headers
                                 // + the blank line
};

struct ParseResult {
  // 0: `head` is complete (head.head_bytes > 0) or more bytes are needed (head_bytes == 0).
  // >= 400: the request is bad; answer with this status and close the connection:
  //   400 malformed; an HTTP/1.1 request without Host; two Host fields; Transfer-Encoding with
  //       Content-Length, on HTTP/1.0, or whose last coding is not chunked (RFC 9112 6.1, 6.3),
  //   411 POST/PUT without Content-Length or chunked body, 413 Content-Length above max_body,
  //   414 target path above max_target, 431 head above max_head,
  //   501 a transfer coding other than chunked before the final chunked ("gzip, chunked"),
  //   505 an HTTP version other than 1.0 and 1.1.
  int status = 0;
  // Complete when status is 0 and head_bytes > 0; with an error status, only `method` (kOther
  // when the error came before it was read): the answer to a HEAD carries no body.
  RequestHead head;
};

// Parses one request head from [p, p + n). Reads no byte outside that range.
ParseResult ParseHead(const char* p, size_t n, const Limits& limits);

// Decodes a chunked body (RFC 9112 7.1) in place as its bytes arrive: fed the bytes after the head
// in consecutive pieces (one receive buffer each, or all at once), it names the chunk data as
// ranges of those pieces, and never copies nor allocates. Chunk extensions and trailer fields are
// checked for their syntax and otherwise ignored. Framing lines end with CRLF (no bare LF).
//
// A plain value (trivially copyable): save it to resume where a piece ended; a decoder that met an
// error or the body's end stays there. The limits must be the same on every call.
class ChunkedDecoder {
 public:
  struct Step {
    // 0, or the status to answer (and close the connection) with:
    //   400 malformed framing,
    //   413 the decoded body above max_body, or the framing (chunk-size lines, extensions, CRLFs,
    //       trailers) above max_body + max_head bytes,
    //   431 the trailer section above max_head bytes.
    int status = 0;
    size_t consumed = 0;     // bytes of the piece taken by this step (framing and data)
    size_t data_offset = 0;  // chunk data within the piece: [data_offset, data_offset + data_len)
    size_t data_len = 0;
    bool done = false;  // the body (with its trailers) ended `consumed` bytes into the piece
  };

  // Decodes from p[0] and stops after the first chunk data found (data_len > 0), at the body's
  // end, at an error, or at the end of the piece (consumed == n: more bytes are needed). Reads no
  // byte outside [p, p + n).
  Step Next(const char* p, size_t n, const Limits& limits);

  bool done() const { return state_ == State::kDone; }
  uint64_t body_bytes() const { return body_; }  // decoded so far
  uint64_t wire_bytes() const { return wire_; }  // taken so far (data and framing)

 private:
  enum class State : uint8_t {
    kSizeStart,  // the first hex digit of a chunk size
    kSize,       // more hex digits
    kSizeSpace,  // whitespace after the size: an extension must follow
    kExtension,  // after ';' up to the line's CR
    kSizeLf,     // the LF after the size line's CR
    kData,       // `size_` data bytes left
    kDataCr,     // the CRLF after the data
    kDataLf,
    kTrailerStart,  // a trailer line, or the CRLF that ends the body
    kTrailerName,
    kTrailerValue,
    kTrailerLf,  // the LF after a trailer line's CR
    kEndLf,      // the LF of the final CRLF
    kDone,
    kFailed,
  };

  Step Fail(int status);

  uint64_t size_ = 0;     // the chunk size being read, then its data bytes left
  uint64_t body_ = 0;     // data bytes so far
  uint64_t wire_ = 0;     // bytes taken so far
  uint64_t framing_ = 0;  // wire_ - body_
  uint32_t trailer_ = 0;  // bytes of the trailer section so far
  int16_t status_ = 0;    // kFailed: the status
  State state_ = State::kSizeStart;
};

// The values of the Allow header of a 405 (RFC 9110 15.5.6): what a key takes, and what the
// fixed paths (/, /health, /metrics) take.
inline constexpr std::string_view kAllowKey = "GET, HEAD, POST, PUT, DELETE";
inline constexpr std::string_view kAllowFixed = "GET, HEAD";

// What a response says about its connection.
enum class Connection : uint8_t {
  kDefault,    // nothing: HTTP/1.1 connections persist by default
  kKeepAlive,  // "Connection: keep-alive": an HTTP/1.0 client that asked to keep the connection
  kClose,      // "Connection: close": the server closes after this answer
};

// The Connection header of an answer to `h` after which the server closes when `close` (or when
// the client did not ask to keep the connection).
Connection ConnectionFor(const RequestHead& h, bool close);

struct ResponseHead {
  int status = 200;
  uint64_t content_length = 0;  // left out for 1xx, 204 and 304 (RFC 9110 8.6)
  Connection connection = Connection::kDefault;
  std::string_view content_type;  // "Content-Type: ..." when not empty
  std::string_view allow;         // "Allow: ..." when not empty (a 405)
};

// The reason phrase of a status ("Created" for 201); "Unknown" for codes it does not know.
std::string_view ReasonPhrase(int status);

// Writes "HTTP/1.1 <status> <reason>\r\n[Content-Length: <n>\r\n][Content-Type: <t>\r\n]
// [Allow: <a>\r\n][Connection: close|keep-alive\r\n]\r\n" into [out, out + cap). Returns the bytes
// written, or 0 (writing nothing) when it does not fit, when the status is not three digits, or
// when the content type or allow value holds a control character.
size_t WriteResponseHead(char* out, size_t cap, const ResponseHead& h);

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace pastel::http
