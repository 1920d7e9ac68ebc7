// libFuzzer target: the in-place HTTP/1.1 request-head parser (include/pastel/http.h) on
// arbitrary bytes. The input is the bytes as received; they are parsed under the servers' default
// limits and under tiny limits, and every answer is checked against the contract of ParseHead:
//   - views point into the input, and a complete head is within the input and the limits;
//   - status is 0 or one of the documented error codes;
//   - prefix consistency (src/proto/http.cc): any prefix answers "more bytes needed" or exactly
//     what the whole input answers; the head alone parses to the same head.
// A response head built from input-derived arguments must fit its buffer.
// libFuzzer hands over a heap copy of exactly `size` bytes, so ASan catches any over-read.

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string_view>

#include "pastel/http.h"

namespace {

using pastel::http::Limits;
using pastel::http::ParseHead;
using pastel::http::ParseResult;
using pastel::http::RequestHead;

void Check(bool ok, const char* what) {
  if (!ok) {
    std::fprintf(stderr, "http_head_fuzz: invariant broken: %s\n", what);
    std::abort();
  }
}

bool Within(std::string_view v, const char* p, size_t n) {
  return v.data() >= p && v.data() + v.size() <= p + n;
}

bool SameHead(const RequestHead& a, const RequestHead& b) {
  return a.method == b.method && a.method_name == b.method_name && a.target == b.target &&
         a.authority == b.authority && a.chunked == b.chunked &&
         a.version_minor == b.version_minor && a.keep_alive == b.keep_alive &&
         a.has_content_length == b.has_content_length && a.content_length == b.content_length &&
         a.expect_continue == b.expect_continue && a.head_bytes == b.head_bytes;
}

bool SameResult(const ParseResult& a, const ParseResult& b) {
  return a.status == b.status && SameHead(a.head, b.head);
}

bool NeedsMore(const ParseResult& r) {
  return r.status == 0 && r.head.head_bytes == 0;
}

void CheckOne(const char* p, size_t n, const Limits& limits) {
  const ParseResult r = ParseHead(p, n, limits);
  switch (r.status) {
    case 0:
    case 400:
    case 411:
    case 413:
    case 414:
    case 431:
    case 501:
    case 505: break;
    default: Check(false, "undocumented status");
  }
  if (r.status == 0 && r.head.head_bytes > 0) {
    const RequestHead& h = r.head;
    Check(h.head_bytes <= n && h.head_bytes <= limits.max_head, "head beyond input or limit");
    Check(Within(h.method_name, p, h.head_bytes) && !h.method_name.empty(), "method view");
    Check(Within(h.target, p, h.head_bytes) && !h.target.empty() &&
              (h.target[0] == '/' || (h.target == "*" && h.method_name == "OPTIONS")),
          "target view");
    Check(h.authority.empty() || Within(h.authority, p, h.head_bytes), "authority view");
    Check(h.target.size() <= limits.max_target, "target above max_target");
    Check(!(h.chunked && h.has_content_length), "chunked with Content-Length accepted");
    Check(!h.chunked || h.version_minor == 1, "chunked on HTTP/1.0 accepted");
    Check(h.version_minor <= 1, "version");
    Check(!h.has_content_length || h.content_length <= limits.max_body, "body above max_body");
    Check(h.has_content_length || h.chunked ||
              (h.method != pastel::http::Method::kPost && h.method != pastel::http::Method::kPut),
          "POST/PUT without a length accepted");
    // The head alone is the same head.
    Check(SameResult(ParseHead(p, h.head_bytes, limits), r), "head alone parses differently");
  } else if (r.status != 0) {
    Check(r.head.head_bytes == 0, "error result carries a head");
  }
  // Prefix consistency at a few cut points (all of them would be quadratic).
  const size_t cuts[] = {n / 2, n > 0 ? n - 1 : 0, n / 3, n > 0 ? (n * 7) / 8 : 0};
  for (size_t cut : cuts) {
    if (cut >= n) {
      continue;
    }
    const ParseResult pr = ParseHead(p, cut, limits);
    Check(NeedsMore(pr) || SameResult(pr, r), "prefix answers differently from the whole");
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  const char* p = reinterpret_cast<const char*>(data);
  CheckOne(p, size, Limits{});
  Limits tiny;
  tiny.max_head = 64;
  tiny.max_body = 10;
  tiny.max_target = 8;
  CheckOne(p, size, tiny);

  // A response head from input-derived arguments: never beyond cap, and well-formed when written.
  if (size >= 4) {
    const int status = 100 + (data[0] | (data[1] << 8)) % 1000;  // 100..1099: some invalid
    const size_t cap = data[2] + (data[3] & 64);
    const uint64_t length = data[3] * 1000003ull;
    const std::string_view type(p + 4, std::min<size_t>(size - 4, 40));
    const std::string_view allow(p + 4, std::min<size_t>(size - 4, data[1] % 48));
    char out[320];
    std::memset(out, 0x5A, sizeof(out));
    const size_t w = pastel::http::WriteResponseHead(
        out, cap,
        {.status = status,
         .content_length = length,
         .connection = static_cast<pastel::http::Connection>(data[0] % 3),
         .content_type = type,
         .allow = (data[0] & 4) != 0 ? allow : std::string_view()});
    Check(w <= cap, "response head beyond cap");
    for (size_t i = cap; i < sizeof(out); ++i) {
      Check(out[i] == 0x5A, "response head wrote beyond cap");
    }
    if (w > 0) {
      Check(w >= 13 && std::memcmp(out, "HTTP/1.1 ", 9) == 0, "response head start");
      Check(std::memcmp(out + w - 4, "\r\n\r\n", 4) == 0, "response head end");
    }
  }
  return 0;
}
