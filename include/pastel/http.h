#pragma once
// proto/http: an HTTP/1.1 request-head parser that works in place (it never copies: every
// string_view points into the bytes given), and response-head builders. Bodies are not parsed:
// the caller finds them after the head (Content-Length bytes), possibly across several receive
// buffers, and keeps them where they are.
//
// Pure functions; no allocation, no exceptions, thread-safe.

#include <cstddef>
#include <cstdint>
#include <string_view>

namespace pastel::http {

enum class Method : uint8_t { kGet, kHead, kPost, kPut, kDelete, kOther };

struct Limits {
  size_t max_head = 8192;        // request line + headers + blank line; beyond: 431
  uint64_t max_body = 1u << 20;  // Content-Length beyond: 413
  size_t max_target = 1024;      // request target beyond: 414 (servers: the store's key limit)
};

struct RequestHead {
  Method method = Method::kOther;
  std::string_view method_name;  // as sent
  std::string_view target;       // origin-form, starts with '/'
  uint8_t version_minor = 1;     // HTTP/1.0 or HTTP/1.1
  bool keep_alive = true;        // 1.1: unless "Connection: close"; 1.0: only "keep-alive"
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool expect_continue = false;  // "Expect: 100-continue"
  size_t head_bytes = 0;         // request line + headers + the blank line
};

struct ParseResult {
  // 0: `head` is complete (head.head_bytes > 0) or more bytes are needed (head_bytes == 0).
  // >= 400: the request is bad; answer with this status and close the connection:
  //   400 malformed, 411 POST/PUT without Content-Length (or with Transfer-Encoding),
  //   413 Content-Length above max_body, 414 target above max_target,
  //   431 head above max_head, 505 an HTTP version other than 1.0 and 1.1.
  int status = 0;
  RequestHead head;
};

// Parses one request head from [p, p + n). Reads no byte outside that range.
ParseResult ParseHead(const char* p, size_t n, const Limits& limits);

// The reason phrase of a status ("Created" for 201); "Unknown" for codes it does not know.
std::string_view ReasonPhrase(int status);

// Writes "HTTP/1.1 <status> <reason>\r\n[Content-Length: <n>\r\n][Content-Type: <t>\r\n]
// [Connection: close\r\n]\r\n" into [out, out + cap); Content-Length is left out for 1xx, 204
// and 304 (RFC 9110 8.6). Returns the bytes written, or 0 (writing nothing) when it does not fit,
// when the status is not three digits, or when the content type holds a control character.
size_t WriteResponseHead(char* out, size_t cap, int status, uint64_t content_length,
                         bool keep_alive, std::string_view content_type = {});

// "HTTP/1.1 100 Continue\r\n\r\n"
inline constexpr std::string_view kContinue = "HTTP/1.1 100 Continue\r\n\r\n";

}  // namespace pastel::http
