// Unit tests of proto/http: the request-head parser and the response-head builders.
//
// Every parser input is parsed twice: once placed so that its last byte is right before a
// PROT_NONE page, and once so that its first byte is right after one (picohttpparser test.c). A
// read outside [p, p + n) in either direction crashes the test; both answers must agree. Response
// heads are written against the same guard, so a write past `cap` crashes too.

#include "pastel/http.h"

#include <gtest/gtest.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <map>
#include <random>
#include <string>
#include <string_view>
#include <vector>

namespace pastel::http {
namespace {

// Read-write pages between two PROT_NONE pages: [guard][usable ...][guard]. Owned by one test.
class GuardedArena {
 public:
  explicit GuardedArena(size_t capacity) {
    page_ = static_cast<size_t>(sysconf(_SC_PAGESIZE));
    usable_ = (capacity + page_ - 1) / page_ * page_;
    void* m = mmap(nullptr, usable_ + 2 * page_, PROT_READ | PROT_WRITE,
                   MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
      std::perror("mmap");
      std::abort();
    }
    base_ = static_cast<char*>(m);
    if (mprotect(base_, page_, PROT_NONE) != 0 ||
        mprotect(base_ + page_ + usable_, page_, PROT_NONE) != 0) {
      std::perror("mprotect");
      std::abort();
    }
  }
  ~GuardedArena() { munmap(base_, usable_ + 2 * page_); }
  GuardedArena(const GuardedArena&) = delete;
  GuardedArena& operator=(const GuardedArena&) = delete;

  size_t capacity() const { return usable_; }
  char* begin() const { return base_ + page_; }
  char* end() const { return base_ + page_ + usable_; }

  // Copies s so that its last byte is the last readable one; returns the copy.
  const char* AtEnd(std::string_view s) {
    Check(s);
    char* p = end() - s.size();
    std::memcpy(p, s.data(), s.size());
    return p;
  }

  // Copies s so that its first byte is the first readable one; returns the copy.
  const char* AtStart(std::string_view s) {
    Check(s);
    std::memcpy(begin(), s.data(), s.size());
    return begin();
  }

 private:
  void Check(std::string_view s) const {
    if (s.size() > usable_) {
      std::fprintf(stderr, "input of %zu bytes does not fit the arena\n", s.size());
      std::abort();
    }
  }

  size_t page_ = 0;
  size_t usable_ = 0;
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

bool Inside(std::string_view v, const char* p, size_t n) {
  const auto b = reinterpret_cast<uintptr_t>(p);
  const auto d = reinterpret_cast<uintptr_t>(v.data());
  return d >= b && d + v.size() <= b + n;
}

// The views of a result as offsets from the input, so that two parses of the same bytes at two
// addresses can be compared without reading either copy.
struct Shape {
  int status;
  Method method;
  ptrdiff_t method_off;
  size_t method_size;
  ptrdiff_t target_off;
  size_t target_size;
  ptrdiff_t authority_off;
  size_t authority_size;
  uint8_t version_minor;
  bool keep_alive;
  bool has_content_length;
  uint64_t content_length;
  bool chunked;
  bool expect_continue;
  size_t head_bytes;

  bool operator==(const Shape&) const = default;
};

ptrdiff_t OffsetOf(std::string_view v, const char* p) {
  return v.data() == nullptr ? -1 : v.data() - p;
}

Shape ShapeOf(const ParseResult& r, const char* p) {
  const RequestHead& h = r.head;
  return {r.status,
          h.method,
          OffsetOf(h.method_name, p),
          h.method_name.size(),
          OffsetOf(h.target, p),
          h.target.size(),
          OffsetOf(h.authority, p),
          h.authority.size(),
          h.version_minor,
          h.keep_alive,
          h.has_content_length,
          h.content_length,
          h.chunked,
          h.expect_continue,
          h.head_bytes};
}

bool IsNeedMore(const ParseResult& r) {
  return r.status == 0 && r.head.head_bytes == 0;
}

// Parses s against the back guard and against the front guard and checks both agree and that a
// complete head stays inside the input. The views of the result point into the back-guarded
// copy, valid until the next use of `arena`.
ParseResult GuardedParse(GuardedArena& arena, std::string_view s, const Limits& limits) {
  const char* front = arena.AtStart(s);
  const Shape front_shape = ShapeOf(ParseHead(front, s.size(), limits), front);
  const char* back = arena.AtEnd(s);
  const ParseResult r = ParseHead(back, s.size(), limits);
  EXPECT_TRUE(front_shape == ShapeOf(r, back))
      << "the answer depends on the address: " << Escaped(s);
  if (r.status == 0 && r.head.head_bytes > 0) {
    EXPECT_LE(r.head.head_bytes, s.size()) << Escaped(s);
    EXPECT_LE(r.head.head_bytes, limits.max_head) << Escaped(s);
    EXPECT_TRUE(Inside(r.head.method_name, back, s.size())) << Escaped(s);
    EXPECT_TRUE(Inside(r.head.target, back, s.size())) << Escaped(s);
    EXPECT_TRUE(r.head.authority.empty() || Inside(r.head.authority, back, s.size())) << Escaped(s);
  }
  return r;
}

// Early rejection and streaming: every prefix of s answers "more bytes needed" or exactly what s
// answers.
void ExpectPrefixConsistent(GuardedArena& arena, std::string_view s, const Limits& limits) {
  const char* back = arena.AtEnd(s);
  const Shape whole = ShapeOf(ParseHead(back, s.size(), limits), back);
  for (size_t k = 0; k < s.size(); ++k) {
    const char* p = arena.AtEnd(s.substr(0, k));
    const ParseResult r = ParseHead(p, k, limits);
    if (!IsNeedMore(r)) {
      ASSERT_TRUE(ShapeOf(r, p) == whole)
          << "prefix of " << k << " bytes answers " << r.status << " (head_bytes "
          << r.head.head_bytes << ") but the whole input answers " << whole.status
          << " (head_bytes " << whole.head_bytes << "): " << Escaped(s);
    }
  }
}

Limits TightLimits() {
  Limits l;
  l.max_head = 96;
  l.max_body = 16;
  l.max_target = 12;
  return l;
}

class HttpParseTest : public ::testing::Test {
 protected:
  ParseResult Parse(std::string_view s, const Limits& limits = {}) {
    return GuardedParse(arena_, s, limits);
  }

  GuardedArena arena_{64 << 10};
};

// ---------------------------------------------------------------------------------------------
// Good requests: every field checked.

struct GoodCase {
  const char* name;
  std::string input;
  Method method;
  std::string method_name;
  std::string target;
  uint8_t version_minor = 1;
  bool keep_alive = true;
  bool has_content_length = false;
  uint64_t content_length = 0;
  bool expect_continue = false;
  size_t trailing = 0;  // bytes after the head (body, next request)
  Limits limits = {};
  bool chunked = false;
  std::string authority = "";
  size_t leading = 0;  // empty-line bytes before the request line
};

// `request` with "Host: h" after its request line (HTTP/1.1 requires one), with the request
// line's own line end.
std::string WithHost(std::string request) {
  const size_t lf = request.find('\n');
  const bool crlf = lf > 0 && request[lf - 1] == '\r';
  request.insert(lf + 1, crlf ? "Host: h\r\n" : "Host: h\n");
  return request;
}

std::vector<GoodCase> GoodCases() {
  const std::string key1024 = "/" + std::string(1023, 'k');
  const std::string big_value(8000, 'v');
  Limits huge_body;
  huge_body.max_body = UINT64_MAX;
  Limits head64;
  head64.max_head = 64;
  std::vector<GoodCase> cases = {
      {.name = "get with headers",
       .input = "GET /key HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t/1\r\nAccept: */*\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/key"},
      {.name = "no headers",
       .input = "GET / HTTP/1.1\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/"},
      {.name = "post with body",
       .input = "POST /k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\n\r\nhello",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/k",
       .has_content_length = true,
       .content_length = 5,
       .trailing = 5},
      {.name = "put empty body",
       .input = "PUT /k HTTP/1.1\r\nContent-Length: 0\r\n\r\n",
       .method = Method::kPut,
       .method_name = "PUT",
       .target = "/k",
       .has_content_length = true},
      {.name = "delete",
       .input = "DELETE /a/b HTTP/1.1\r\nHost: x\r\n\r\n",
       .method = Method::kDelete,
       .method_name = "DELETE",
       .target = "/a/b"},
      {.name = "head",
       .input = "HEAD /h HTTP/1.1\r\n\r\n",
       .method = Method::kHead,
       .method_name = "HEAD",
       .target = "/h"},
      {.name = "1.0 closes by default",
       .input = "GET / HTTP/1.0\r\nHost: a\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .version_minor = 0,
       .keep_alive = false},
      {.name = "1.0 keep-alive",
       .input = "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .version_minor = 0,
       .keep_alive = true},
      {.name = "1.0 keep-alive in a list",
       .input = "GET / HTTP/1.0\r\nConnection: Upgrade ,\tkeep-alive , x\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .version_minor = 0,
       .keep_alive = true},
      {.name = "1.1 close",
       .input = "GET / HTTP/1.1\r\nConnection: close\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .keep_alive = false},
      {.name = "1.1 close in a list, upper case",
       .input = "GET / HTTP/1.1\r\nConnection: Upgrade,CLOSE\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .keep_alive = false},
      {.name = "close wins over keep-alive",
       .input = "GET / HTTP/1.0\r\nConnection: keep-alive\r\nConnection: close\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .version_minor = 0,
       .keep_alive = false},
      {.name = "closed is not close",
       .input = "GET / HTTP/1.1\r\nConnection: closed, close-ish\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/"},
      {.name = "lf only",
       .input = "GET /lf HTTP/1.1\nHost: a\nContent-Length: 2\n\nok",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/lf",
       .has_content_length = true,
       .content_length = 2,
       .trailing = 2},
      {.name = "mixed line ends",
       .input = "GET /m HTTP/1.1\nHost: a\r\nX: y\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/m"},
      {.name = "expect 100-continue",
       .input = "POST /e HTTP/1.1\r\nExpect: 100-Continue\r\nContent-Length: 3\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/e",
       .has_content_length = true,
       .content_length = 3,
       .expect_continue = true},
      {.name = "other expectation ignored",
       .input = "POST /e HTTP/1.1\r\nExpect: 200-ok\r\nContent-Length: 3\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/e",
       .has_content_length = true,
       .content_length = 3},
      {.name = "expect ignored on 1.0",
       .input = "POST /e HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 3\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/e",
       .version_minor = 0,
       .keep_alive = false,
       .has_content_length = true,
       .content_length = 3},
      {.name = "case-insensitive names",
       .input = "PUT /c HTTP/1.1\r\ncontent-LENGTH: 7\r\nCONNECTION: close\r\nEXPECT: "
                "100-continue\r\n\r\n",
       .method = Method::kPut,
       .method_name = "PUT",
       .target = "/c",
       .keep_alive = false,
       .has_content_length = true,
       .content_length = 7,
       .expect_continue = true},
      {.name = "whitespace around values",
       .input = "POST /w HTTP/1.1\r\nContent-Length: \t 7 \t\r\nConnection:close  \r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/w",
       .keep_alive = false,
       .has_content_length = true,
       .content_length = 7},
      {.name = "empty and obs-text values",
       .input = "GET /o HTTP/1.1\r\nX-Empty:\r\nX-Blank:   \r\nX-Text: caf\xc3\xa9 \xff\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/o"},
      {.name = "repeated content-length, same value",
       .input = "POST /r HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 05\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/r",
       .has_content_length = true,
       .content_length = 5},
      {.name = "other method is not a parse error",
       .input = "PATCH /x HTTP/1.1\r\n\r\n",
       .method = Method::kOther,
       .method_name = "PATCH",
       .target = "/x"},
      {.name = "methods are case-sensitive",
       .input = "get /x HTTP/1.1\r\n\r\n",
       .method = Method::kOther,
       .method_name = "get",
       .target = "/x"},
      {.name = "16-char method",
       .input = "ABCDEFGHIJKLMN-~ /x HTTP/1.1\r\n\r\n",
       .method = Method::kOther,
       .method_name = "ABCDEFGHIJKLMN-~",
       .target = "/x"},
      {.name = "query and escapes in the target",
       .input = "GET /a?b=c&d=%20#f HTTP/1.1\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/a?b=c&d=%20#f"},
      {.name = "max-size key",
       .input = "GET " + key1024 + " HTTP/1.1\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = key1024},
      {.name = "get with content-length",
       .input = "GET /g HTTP/1.1\r\nContent-Length: 10\r\n\r\n0123456789",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/g",
       .has_content_length = true,
       .content_length = 10,
       .trailing = 10},
      {.name = "content-length at max_body",
       .input = "POST /b HTTP/1.1\r\nContent-Length: 1048576\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/b",
       .has_content_length = true,
       .content_length = 1048576},
      {.name = "content-length 2^63-1",
       .input = "POST /b HTTP/1.1\r\nContent-Length: 9223372036854775807\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/b",
       .has_content_length = true,
       .content_length = 9223372036854775807ull,
       .limits = huge_body},
      {.name = "leading zeros",
       .input = "POST /b HTTP/1.1\r\nContent-Length: 000000000000000000000000000042\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/b",
       .has_content_length = true,
       .content_length = 42},
      {.name = "big header value",
       .input = "GET /big HTTP/1.1\r\nX-Big: " + big_value + "\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/big"},
      {.name = "pipelined: the next request follows",
       .input = "GET /1 HTTP/1.1\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/1",
       .trailing = std::string_view("GET /2 HTTP/1.1\r\n\r\n").size()},
      {.name = "head of exactly max_head bytes",
       .input = "GET / HTTP/1.1\r\nHost: " + std::string(64 - 26, 'a') + "\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .limits = head64},
      {.name = "head of exactly max_head bytes, more bytes after",
       .input = "GET / HTTP/1.1\r\nHost: " + std::string(64 - 26, 'a') + "\r\n\r\nGET",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .trailing = 3,
       .limits = head64},
      // RFC 9112 3.2.2: absolute-form; the key is the path.
      {.name = "absolute-form",
       .input = "POST http://127.0.0.1:8080/k/1?x=y HTTP/1.1\r\nContent-Length: 2\r\n\r\nok",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/k/1?x=y",
       .has_content_length = true,
       .content_length = 2,
       .trailing = 2,
       .authority = "127.0.0.1:8080"},
      {.name = "absolute-form, https, upper case, ipv6",
       .input = "GET HTTPS://[::1]:9/ HTTP/1.1\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/",
       .authority = "[::1]:9"},
      {.name = "asterisk-form for OPTIONS",
       .input = "OPTIONS * HTTP/1.1\r\n\r\n",
       .method = Method::kOther,
       .method_name = "OPTIONS",
       .target = "*"},
      // RFC 9112 2.2: empty lines before the request line are skipped.
      {.name = "leading empty lines",
       .input = "\r\n\n\r\nGET /e HTTP/1.1\r\nHost: h\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/e",
       .leading = 5},
      {.name = "http/1.0 needs no host",
       .input = "GET /h10 HTTP/1.0\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/h10",
       .version_minor = 0,
       .keep_alive = false},
      {.name = "empty host",
       .input = "GET /eh HTTP/1.1\r\nHost:\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/eh"},
      // Chunked bodies (the body is ChunkedDecoder's).
      {.name = "chunked post",
       .input = "POST /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
       .method = Method::kPost,
       .method_name = "POST",
       .target = "/c",
       .trailing = 13,
       .chunked = true},
      {.name = "chunked in a list of fields, any case, empty elements",
       .input = "PUT /c HTTP/1.1\r\nTransfer-Encoding: ,\r\ntransfer-encoding:  CHUNKED ,\r\n\r\n",
       .method = Method::kPut,
       .method_name = "PUT",
       .target = "/c",
       .chunked = true},
      {.name = "chunked on get",
       .input = "GET /c HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n",
       .method = Method::kGet,
       .method_name = "GET",
       .target = "/c",
       .chunked = true},
  };
  for (GoodCase& c : cases) {
    // Every HTTP/1.1 case carries a Host, after its request line (the views keep their offsets).
    const bool is_11 = c.input.find("HTTP/1.1") != std::string::npos;
    if (is_11 && c.input.find("Host:") == std::string::npos &&
        c.input.find("host:") == std::string::npos) {
      c.input = WithHost(c.input);
    }
  }
  return cases;
}

TEST_F(HttpParseTest, GoodRequests) {
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    const ParseResult r = Parse(c.input, c.limits);
    ASSERT_EQ(r.status, 0) << Escaped(c.input);
    const RequestHead& h = r.head;
    EXPECT_EQ(h.head_bytes, c.input.size() - c.trailing);
    EXPECT_EQ(h.method, c.method);
    EXPECT_EQ(h.method_name, c.method_name);
    EXPECT_EQ(h.target, c.target);
    EXPECT_EQ(h.version_minor, c.version_minor);
    EXPECT_EQ(h.keep_alive, c.keep_alive);
    EXPECT_EQ(h.has_content_length, c.has_content_length);
    EXPECT_EQ(h.content_length, c.content_length);
    EXPECT_EQ(h.expect_continue, c.expect_continue);
    EXPECT_EQ(h.chunked, c.chunked);
    EXPECT_EQ(h.authority, c.authority);
    // Views point into the input, right where the request line has them.
    const char* p = arena_.end() - c.input.size() + c.leading;
    EXPECT_EQ(h.method_name.data(), p);
    if (c.authority.empty()) {
      EXPECT_EQ(h.target.data(), p + c.method_name.size() + 1);
    } else {
      EXPECT_EQ(h.authority.data(), arena_.end() - c.input.size() + c.input.find("://") + 3);
      EXPECT_EQ(h.target.data(), h.authority.data() + h.authority.size());
    }
  }
}

TEST_F(HttpParseTest, EveryPrefixOfAGoodRequestNeedsMore) {
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    const size_t head_bytes = c.input.size() - c.trailing;
    for (size_t k = 0; k < head_bytes; ++k) {
      const ParseResult r = Parse(std::string_view(c.input).substr(0, k), c.limits);
      ASSERT_TRUE(IsNeedMore(r)) << k << " bytes: status " << r.status << " head_bytes "
                                 << r.head.head_bytes;
    }
    for (size_t k = head_bytes; k <= c.input.size(); ++k) {
      const ParseResult r = Parse(std::string_view(c.input).substr(0, k), c.limits);
      ASSERT_EQ(r.status, 0);
      ASSERT_EQ(r.head.head_bytes, head_bytes) << k << " bytes";
    }
  }
}

TEST_F(HttpParseTest, Pipelined) {
  const std::string first = "POST /1 HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\nabc";
  const std::string second = "GET /2 HTTP/1.0\nConnection: keep-alive\n\n";
  const std::string third = "DELETE /3 HTTP/1.1\r\nHost: a\r\nConnection: close\r\n\r\n";
  const std::string all = first + second + third;
  const char* p = arena_.AtEnd(all);
  const char* const end = p + all.size();

  ParseResult r = ParseHead(p, static_cast<size_t>(end - p), Limits{});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.head.method, Method::kPost);
  ASSERT_EQ(r.head.head_bytes, first.size() - 3);
  EXPECT_EQ(std::string_view(p + r.head.head_bytes, r.head.content_length), "abc");
  p += r.head.head_bytes + r.head.content_length;

  r = ParseHead(p, static_cast<size_t>(end - p), Limits{});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.head.method, Method::kGet);
  EXPECT_EQ(r.head.target, "/2");
  EXPECT_EQ(r.head.version_minor, 0);
  EXPECT_TRUE(r.head.keep_alive);
  ASSERT_EQ(r.head.head_bytes, second.size());
  p += r.head.head_bytes;

  r = ParseHead(p, static_cast<size_t>(end - p), Limits{});
  ASSERT_EQ(r.status, 0);
  EXPECT_EQ(r.head.method, Method::kDelete);
  EXPECT_FALSE(r.head.keep_alive);
  ASSERT_EQ(r.head.head_bytes, third.size());
  EXPECT_EQ(p + r.head.head_bytes, end);
}

// ---------------------------------------------------------------------------------------------
// Bad requests: the exact status.

struct BadCase {
  const char* name;
  std::string input;
  int status;
  Limits limits = {};
};

std::vector<BadCase> BadCases() {
  const std::string key1025 = "/" + std::string(1024, 'k');
  Limits head64;
  head64.max_head = 64;
  Limits target8;
  target8.max_target = 8;
  const std::string nul(1, '\0');
  std::vector<BadCase> cases = {
      // Request line.
      {"bad method char", "G@T / HTTP/1.1\r\n\r\n", 400},
      {"non-ascii method", "G\xc3\x89T / HTTP/1.1\r\n\r\n", 400},
      {"17-char method", "ABCDEFGHIJKLMNOPQ / HTTP/1.1\r\n\r\n", 400},
      {"empty method", " / HTTP/1.1\r\n\r\n", 400},
      {"bare cr in a leading empty line", "\rGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"space in a leading empty line", "\r\n \r\nGET / HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"empty lines up to max_head", std::string(64, '\n') + "GET / HTTP/1.1\r\n\r\n", 431, head64},
      {"empty lines forever", std::string(8192, '\n'), 431},
      {"tab after method", "GET\t/ HTTP/1.1\r\n\r\n", 400},
      {"two spaces after method", "GET  / HTTP/1.1\r\n\r\n", 400},
      {"two spaces after target", "GET /  HTTP/1.1\r\n\r\n", 400},
      {"absolute-form without a path", "GET http://a HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form with a query and no path", "GET http://a?b HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form without a host", "GET http:///k HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form with userinfo", "GET http://u@a/k HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form of another scheme", "GET ftp://a/k HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form, a long scheme", "GET httpss://a/k HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form, one slash", "GET http:/a/k HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form, path above max_target", "GET http://a/123456789 HTTP/1.1\r\nHost: a\r\n\r\n",
       414, target8},
      {"authority-form (CONNECT)", "CONNECT a:443 HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"asterisk-form for GET", "GET * HTTP/1.1\r\nHost: a\r\n\r\n", 400},
      {"absolute-form without Host", "GET http://a/k HTTP/1.1\r\n\r\n", 400},
      {"tab in target", "GET /a\tb HTTP/1.1\r\n\r\n", 400},
      {"ctl in target", "GET /a\x01 HTTP/1.1\r\n\r\n", 400},
      {"del in target", "GET /a\x7f HTTP/1.1\r\n\r\n", 400},
      {"non-ascii target", "GET /caf\xc3\xa9 HTTP/1.1\r\n\r\n", 400},
      {"nul in target", "GET /a" + nul + " HTTP/1.1\r\n\r\n", 400},
      {"target 1025", "GET " + key1025 + " HTTP/1.1\r\n\r\n", 414},
      {"target above a small max_target", "GET /123456789 HTTP/1.1\r\n\r\n", 414, target8},
      {"no version", "GET /\r\n\r\n", 400},
      {"http/0.9 style", "GET / \r\n\r\n", 400},
      {"lower-case version", "GET / http/1.1\r\n\r\n", 400},
      {"short version", "GET / HTTP/1\r\n\r\n", 400},
      {"two-digit major", "GET / HTTP/11.1\r\n\r\n", 400},
      {"letter minor", "GET / HTTP/1.x\r\n\r\n", 400},
      {"space after version", "GET / HTTP/1.1 \r\n\r\n", 400},
      {"text after version", "GET / HTTP/1.10\r\n\r\n", 400},
      {"bad version with text after it", "GET / HTTP/2.0 x\r\n\r\n", 400},
      {"version 2.0", "GET / HTTP/2.0\r\n\r\n", 505},
      {"version 1.2", "GET / HTTP/1.2\r\n\r\n", 505},
      {"version 0.9", "GET / HTTP/0.9\r\n\r\n", 505},
      {"version 3.0, lf", "GET / HTTP/3.0\n\n", 505},
      {"bare cr after request line", "GET / HTTP/1.1\rHost: a\r\n\r\n", 400},
      {"nul after version", "GET / HTTP/1.1" + nul + "\r\n\r\n", 400},
      // Header lines.
      {"obs-fold", "GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", 400},
      {"obs-fold with tab", "GET / HTTP/1.1\r\nX: a\r\n\tb\r\n\r\n", 400},
      {"space before the first field", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
      {"empty field name", "GET / HTTP/1.1\r\n: a\r\n\r\n", 400},
      {"space before colon", "GET / HTTP/1.1\r\nHost : a\r\n\r\n", 400},
      {"tab before colon", "GET / HTTP/1.1\r\nHost\t: a\r\n\r\n", 400},
      {"space in name", "GET / HTTP/1.1\r\nHo st: a\r\n\r\n", 400},
      {"separator in name", "GET / HTTP/1.1\r\nHo(st): a\r\n\r\n", 400},
      {"no colon", "GET / HTTP/1.1\r\nHost\r\n\r\n", 400},
      {"nul in name", "GET / HTTP/1.1\r\nHo" + nul + "st: a\r\n\r\n", 400},
      {"nul in value", "GET / HTTP/1.1\r\nHost: a" + nul + "b\r\n\r\n", 400},
      {"ctl in value", "GET / HTTP/1.1\r\nHost: a\x01\r\n\r\n", 400},
      {"escape in value", "GET / HTTP/1.1\r\nHost: a\x1b[0m\r\n\r\n", 400},
      {"del in value", "GET / HTTP/1.1\r\nHost: a\x7f\r\n\r\n", 400},
      {"bare cr in value", "GET / HTTP/1.1\r\nHost: a\rb\r\n\r\n", 400},
      {"bare cr at the end", "GET / HTTP/1.1\r\nHost: a\r\n\rX", 400},
      {"cr cr lf", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400},
      // Content-Length.
      {"plus sign", "POST / HTTP/1.1\r\nContent-Length: +5\r\n\r\n", 400},
      {"minus sign", "POST / HTTP/1.1\r\nContent-Length: -5\r\n\r\n", 400},
      {"space inside", "POST / HTTP/1.1\r\nContent-Length: 1 2\r\n\r\n", 400},
      {"comma list", "POST / HTTP/1.1\r\nContent-Length: 5, 5\r\n\r\n", 400},
      {"comma list no space", "POST / HTTP/1.1\r\nContent-Length: 5,5\r\n\r\n", 400},
      {"empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", 400},
      {"hex", "POST / HTTP/1.1\r\nContent-Length: 0x10\r\n\r\n", 400},
      {"2^63", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", 400},
      {"2^64", "POST / HTTP/1.1\r\nContent-Length: 18446744073709551616\r\n\r\n", 400},
      {"huge", "POST / HTTP/1.1\r\nContent-Length: 99999999999999999999999999\r\n\r\n", 400},
      {"different repeat", "POST / HTTP/1.1\r\nContent-Length: 5\r\ncontent-length: 6\r\n\r\n",
       400},
      {"bad cl on get", "GET / HTTP/1.1\r\nContent-Length: x\r\n\r\n", 400},
      // Host (RFC 9112 3.2).
      {"1.1 without host", "GET / HTTP/1.1\r\n\r\n", 400},
      {"two hosts", "GET / HTTP/1.1\r\nHost: a\r\nhost: a\r\n\r\n", 400},
      {"two hosts on 1.0", "GET / HTTP/1.0\r\nHost: a\r\nHost: b\r\n\r\n", 400},
      {"host list", "GET / HTTP/1.1\r\nHost: a, b\r\n\r\n", 400},
      {"host with a path", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
      {"host with userinfo", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
      // Transfer-Encoding (RFC 9112 6.1, 6.3) and missing lengths.
      {"chunked with content-length",
       "POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n",
       400},
      {"content-length after chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nContent-Length: 0\r\n\r\n",
       400},
      {"chunked on 1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
      {"chunked not last", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, gzip\r\n\r\n",
       400},
      {"chunked twice", "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked, chunked\r\n\r\n",
       400},
      {"chunked twice in two fields",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       400},
      {"identity", "GET / HTTP/1.1\r\nHost: a\r\ntransfer-encoding: identity\r\n\r\n", 400},
      {"empty transfer-encoding", "GET / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding:\r\n\r\n", 400},
      {"chunked with a parameter",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked;x=1\r\n\r\n", 400},
      {"gzip then chunked",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n", 501},
      {"gzip then chunked in two fields",
       "POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: "
       "chunked\r\n\r\n",
       501},
      {"post without length", "POST /k HTTP/1.1\r\nHost: a\r\n\r\n", 411},
      {"put without length", "PUT /k HTTP/1.1\r\n\r\n", 411},
      {"1.0 post without length", "POST /k HTTP/1.0\r\n\r\n", 411},
      // Body limit.
      {"content-length above max_body", "POST / HTTP/1.1\r\nContent-Length: 1048577\r\n\r\n", 413},
      {"get above max_body", "GET / HTTP/1.1\r\nContent-Length: 2000000\r\n\r\n", 413},
      // Head limit.
      {"complete head above max_head",
       "GET / HTTP/1.1\r\nX: " + std::string(64 - 23 + 1, 'a') + "\r\n\r\n", 431, head64},
      {"incomplete head at max_head", "GET / HTTP/1.1\r\nX: " + std::string(64 - 19, 'a'), 431,
       head64},
      {"one header line above max_head",
       "GET / HTTP/1.1\r\nX: " + std::string(9000, 'a') + "\r\n\r\n", 431},
      {"request line above max_head", "GET /" + std::string(100, 'a') + " HTTP/1.1\r\n\r\n", 431,
       Limits{.max_head = 64, .max_body = 1, .max_target = 1000}},
      {"lf lf head one byte above max_head",
       "GET / HTTP/1.1\nX: " + std::string(64 - 20 + 1, 'a') + "\n\n", 431, head64},
  };
  return cases;
}

TEST_F(HttpParseTest, BadRequests) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    const ParseResult r = Parse(c.input, c.limits);
    EXPECT_EQ(r.status, c.status) << Escaped(c.input);
    EXPECT_EQ(r.head.head_bytes, 0u);
  }
}

TEST_F(HttpParseTest, EveryPrefixNeedsMoreOrAnswersTheSame) {
  for (const BadCase& c : BadCases()) {
    SCOPED_TRACE(c.name);
    ExpectPrefixConsistent(arena_, c.input, c.limits);
  }
  for (const GoodCase& c : GoodCases()) {
    SCOPED_TRACE(c.name);
    ExpectPrefixConsistent(arena_, c.input, c.limits);
  }
}

TEST_F(HttpParseTest, RejectsEarly) {
  struct Early {
    std::string prefix;
    int status;
  };
  const std::string nul(1, '\0');
  const std::vector<Early> cases = {
      {"G@", 400},
      {" ", 400},
      {"\r", 0},  // an empty line's CR
      {"\rx", 400},
      {"\r\n\n ", 400},
      {"ABCDEFGHIJKLMNOPQ", 400},
      {"GET x", 0},  // an absolute-form's scheme, maybe
      {"GET x ", 400},
      {"GET httpsx", 400},
      {"GET ftp:", 400},
      {"GET http:/a", 400},
      {"GET http://a@", 400},
      {"GET http://a ", 400},
      {"GET http://a/" + std::string(1024, 'a'), 414},
      {"GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n", 400},
      {"GET / HTTP/1.1\r\nHost: a b\r\n", 400},
      {"GET /a\x01", 400},
      {"GET /" + std::string(1024, 'a'), 414},
      {"GET / HTTPS", 400},
      {"GET / HTTP/1.1x", 400},
      {"GET / HTTP/1.1\rx", 400},
      {"GET / HTTP/2.0\r\n", 505},
      {"GET / HTTP/1.1\r\n ", 400},
      {"GET / HTTP/1.1\r\nHost: a" + nul, 400},
      {"GET / HTTP/1.1\r\nHost : ", 400},
      // Field values are judged when their line ends.
      {"POST / HTTP/1.1\r\nContent-Length: 1,", 0},
      {"POST / HTTP/1.1\r\nContent-Length: 1,\n", 400},
      {"POST / HTTP/1.1\r\nContent-Length: 12\r\nContent-Length: 13\r\n", 400},
  };
  for (const Early& c : cases) {
    EXPECT_EQ(Parse(c.prefix).status, c.status) << Escaped(c.prefix);
  }
}

TEST_F(HttpParseTest, HeadLimitBoundary) {
  Limits limits;
  limits.max_head = 64;
  const std::string exact = "GET / HTTP/1.0\r\nX: " + std::string(64 - 23, 'a') + "\r\n\r\n";
  ASSERT_EQ(exact.size(), 64u);
  EXPECT_EQ(Parse(exact, limits).head.head_bytes, 64u);
  // Incomplete: 63 bytes may still end at 64; 64 bytes without the end cannot.
  const std::string open = "GET / HTTP/1.0\r\nX: " + std::string(64, 'a');
  EXPECT_TRUE(IsNeedMore(Parse(std::string_view(open).substr(0, 63), limits)));
  EXPECT_EQ(Parse(std::string_view(open).substr(0, 64), limits).status, 431);
  EXPECT_EQ(Parse(open, limits).status, 431);
  // The blank line's CR is byte 64: the head would be 65 bytes.
  const std::string cr_at_limit = "GET / HTTP/1.0\r\nX: " + std::string(64 - 22, 'a') + "\r\n\r\n";
  EXPECT_EQ(Parse(std::string_view(cr_at_limit).substr(0, 63), limits).status, 0);
  EXPECT_EQ(Parse(cr_at_limit, limits).status, 431);
  // Defaults: 8 KiB.
  const std::string big = "GET / HTTP/1.0\r\nX: " + std::string(8192 - 23, 'a') + "\r\n\r\n";
  ASSERT_EQ(big.size(), 8192u);
  EXPECT_EQ(Parse(big).head.head_bytes, 8192u);
  EXPECT_EQ(Parse("GET / HTTP/1.0\r\nX: a" + big.substr(19)).status, 431);  // 8193 bytes
}

TEST_F(HttpParseTest, EmptyInputNeedsMore) {
  EXPECT_TRUE(IsNeedMore(Parse("")));
  EXPECT_TRUE(IsNeedMore(ParseHead(nullptr, 0, Limits{})));
}

// ---------------------------------------------------------------------------------------------
// Mutations of good requests: never a crash or an out-of-bounds read (the guards), never a
// view outside the input, only the documented statuses, and prefix consistency on a sample.

TEST_F(HttpParseTest, MutatedRequests) {
  const std::vector<std::string> seeds = {
      "GET /key HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: t/1\r\n\r\n",
      "POST /k HTTP/1.1\r\nHost: a\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\nhello",
      "PUT /some/key HTTP/1.0\r\nConnection: keep-alive, close\r\nContent-Length: 12\r\n\r\n",
      "DELETE /d HTTP/1.1\nConnection: close\n\n",
      "HEAD /h HTTP/1.1\r\nHost: a\r\nX-Text: caf\xc3\xa9\r\nTransfer-Encoding: chunked\r\n\r\n",
      "GET /1 HTTP/1.1\r\nHost: a\r\n\r\nGET /2 HTTP/1.1\r\n\r\n",
      "\r\nPOST http://a:1/k HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: gzip, chunked\r\n\r\n",
  };
  constexpr char kInteresting[] = {'\r', '\n', ' ', '\t', ':',    ',',    '\0',   '/',    '0',
                                   '9',  'H',  '.', '1',  '\x7f', '\x80', '\xff', '\x01', 'a'};
  constexpr int kIterations = 200000;
  constexpr size_t kMaxSize = 4096;
  std::mt19937_64 rng(20240601);
  auto below = [&rng](size_t bound) { return static_cast<size_t>(rng() % bound); };

  std::map<int, int> outcomes;  // status, with -1 for a complete head and 0 for "need more"
  for (int iter = 0; iter < kIterations; ++iter) {
    std::string s = seeds[below(seeds.size())];
    const size_t mutations = 1 + below(4);
    for (size_t m = 0; m < mutations && !s.empty(); ++m) {
      const size_t pos = below(s.size());
      switch (below(6)) {
        case 0: s[pos] = static_cast<char>(s[pos] ^ (1u << below(8))); break;
        case 1: s[pos] = kInteresting[below(sizeof(kInteresting))]; break;
        case 2: s.insert(pos, 1, kInteresting[below(sizeof(kInteresting))]); break;
        case 3: s.erase(pos, 1); break;
        case 4: s.resize(pos); break;
        default: {
          const size_t from = below(s.size());
          const size_t len = std::min<size_t>(1 + below(64), s.size() - from);
          const std::string chunk = s.substr(from, len);
          if (s.size() + len * 200 <= kMaxSize) {
            for (int rep = 0; rep < 200; ++rep) {  // grow lines past the tight limits
              s.insert(pos, chunk);
            }
          } else {
            s.insert(pos, chunk);
          }
          break;
        }
      }
    }
    if (s.size() > kMaxSize) {
      s.resize(kMaxSize);
    }
    const Limits limits = (iter % 2 == 0) ? Limits{} : TightLimits();
    const ParseResult r = GuardedParse(arena_, s, limits);
    if (::testing::Test::HasFailure()) {
      FAIL() << "iteration " << iter;
    }
    switch (r.status) {
      case 0:
      case 400:
      case 411:
      case 413:
      case 414:
      case 431:
      case 501:
      case 505: break;
      default: FAIL() << "status " << r.status << " for " << Escaped(s);
    }
    if (r.status != 0) {
      ASSERT_EQ(r.head.head_bytes, 0u);
    }
    if (r.status == 0 && r.head.head_bytes > 0) {
      // The same head is found in exactly its own bytes.
      const size_t hb = r.head.head_bytes;
      const char* p = arena_.AtEnd(std::string_view(s).substr(0, hb));
      const ParseResult again = ParseHead(p, hb, limits);
      ASSERT_EQ(again.status, 0) << Escaped(s);
      ASSERT_EQ(again.head.head_bytes, hb) << Escaped(s);
    }
    outcomes[r.status == 0 && r.head.head_bytes > 0 ? -1 : r.status]++;
    if (iter % 512 == 0) {
      ExpectPrefixConsistent(arena_, s, limits);
      if (::testing::Test::HasFailure()) {
        FAIL() << "iteration " << iter;
      }
    }
  }
  std::string summary;
  for (const auto& [status, count] : outcomes) {
    summary += " " + std::to_string(status) + ":" + std::to_string(count);
  }
  std::printf("outcomes (-1 complete, 0 need more):%s\n", summary.c_str());
  // The mutations reach every outcome, so the loop exercises what it claims to.
  for (int status : {-1, 0, 400, 411, 413, 414, 431, 501, 505}) {
    EXPECT_GT(outcomes[status], 0) << "no mutation gave " << status;
  }
}

// ---------------------------------------------------------------------------------------------
// Chunked bodies: ChunkedDecoder fed in pieces, each piece placed against a PROT_NONE page.

struct Decoded {
  int status = 0;
  bool done = false;
  std::string data;   // the chunk data, in order
  uint64_t wire = 0;  // bytes taken when done
};

// Feeds `body` to a fresh decoder in the pieces that `cuts` (increasing offsets) make, each piece
// copied right before a guard page (after one when `at_start`), and checks each step's ranges.
Decoded DecodePieces(GuardedArena& arena, std::string_view body, const std::vector<size_t>& cuts,
                     const Limits& limits, bool at_start = false) {
  ChunkedDecoder d;
  Decoded out;
  size_t begin = 0;
  for (size_t k = 0; k <= cuts.size(); ++k) {
    const size_t end = k < cuts.size() ? cuts[k] : body.size();
    const std::string_view piece = body.substr(begin, end - begin);
    const char* p = at_start ? arena.AtStart(piece) : arena.AtEnd(piece);
    size_t off = 0;
    while (off < piece.size()) {
      const ChunkedDecoder::Step st = d.Next(p + off, piece.size() - off, limits);
      EXPECT_LE(st.consumed, piece.size() - off);
      if (st.data_len > 0) {
        EXPECT_LE(st.data_offset + st.data_len, st.consumed);
        EXPECT_EQ(st.data_offset + st.data_len, st.consumed) << "data ends its step";
        out.data.append(p + off + st.data_offset, st.data_len);
      }
      off += st.consumed;
      if (st.status != 0) {
        EXPECT_FALSE(st.done);
        out.status = st.status;
        EXPECT_EQ(d.Next(p, piece.size(), limits).status, st.status) << "an error stays";
        return out;
      }
      if (st.done) {
        out.done = true;
        out.wire = begin + off;
        EXPECT_TRUE(d.done());
        EXPECT_EQ(d.wire_bytes(), out.wire);
        const ChunkedDecoder::Step again = d.Next(p, piece.size(), limits);
        EXPECT_TRUE(again.done && again.consumed == 0) << "the end stays";
        EXPECT_EQ(d.body_bytes(), out.data.size());
        return out;
      }
      EXPECT_GT(st.consumed, 0u) << "a step that is not the end takes bytes";
      if (st.consumed == 0) {
        return out;
      }
    }
    begin = end;
  }
  EXPECT_EQ(d.wire_bytes(), body.size()) << "a decoder that needs more took every byte";
  return out;
}

struct ChunkedCase {
  const char* name;
  std::string input;
  std::string data = "";  // decoded
  size_t trailing = 0;    // bytes after the body (the next request)
  int status = 0;         // for bad cases
  Limits limits = {};
};

std::vector<ChunkedCase> GoodChunked() {
  const std::string big(70000, 'z');
  std::vector<ChunkedCase> cases = {
      {.name = "one chunk", .input = "3\r\nabc\r\n0\r\n\r\n", .data = "abc"},
      {.name = "empty body", .input = "0\r\n\r\n", .data = ""},
      {.name = "several, hex of both cases",
       .input = "A\r\n0123456789\r\na\r\nabcdefghij\r\n1\r\n!\r\n0\r\n\r\n",
       .data = "0123456789abcdefghij!"},
      {.name = "leading zeros", .input = "0003\r\nabc\r\n000\r\n\r\n", .data = "abc"},
      {.name = "extensions",
       .input = "3;name=value;q=\"x; y\"\r\nabc\r\n2 ; a\r\nde\r\n0;last\r\n\r\n",
       .data = "abcde"},
      {.name = "trailers",
       .input = "3\r\nabc\r\n0\r\nX-Checksum: 1234\r\nY:\r\nZ: a b\t\r\n\r\n",
       .data = "abc"},
      {.name = "framing bytes in the data",
       .input = "9\r\n0\r\n\r\n\r\n\nX\r\n0\r\n\r\n",
       .data = "0\r\n\r\n\r\n\nX"},
      {.name = "the next request follows",
       .input = "2\r\nok\r\n0\r\n\r\nGET / HTTP/1.1\r\n\r\n",
       .data = "ok",
       .trailing = 18},
      {.name = "a big chunk", .input = "11170\r\n" + big + "\r\n0\r\n\r\n", .data = big},
      {.name = "exactly max_body",
       .input = "8\r\n01234567\r\n8\r\n89abcdef\r\n0\r\n\r\n",
       .data = "0123456789abcdef",
       .limits = {.max_head = 96, .max_body = 16, .max_target = 12}},
  };
  return cases;
}

std::vector<ChunkedCase> BadChunked() {
  const Limits tight{.max_head = 96, .max_body = 16, .max_target = 12};
  const std::string nul(1, '\0');
  std::vector<ChunkedCase> cases = {
      {.name = "no digit", .input = "\r\n", .status = 400},
      {.name = "not hex", .input = "x\r\n", .status = 400},
      {.name = "sign", .input = "-3\r\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "0x prefix", .input = "0x3\r\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "bare lf after the size", .input = "3\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "bare cr after the size", .input = "3\rabc", .status = 400},
      {.name = "space without an extension", .input = "3 \r\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "space inside the size", .input = "1 2\r\n", .status = 400},
      {.name = "bare lf in an extension", .input = "3;a\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "ctl in an extension", .input = "3;a\x01\r\nabc\r\n0\r\n\r\n", .status = 400},
      {.name = "nul in an extension", .input = "3;a" + nul + "\r\n", .status = 400},
      {.name = "no crlf after the data", .input = "3\r\nabcX\r\n0\r\n\r\n", .status = 400},
      {.name = "data longer than its size", .input = "3\r\nabcd\r\n0\r\n\r\n", .status = 400},
      {.name = "bare lf after the data", .input = "3\r\nabc\n0\r\n\r\n", .status = 400},
      {.name = "cr without lf after the data", .input = "3\r\nabc\rx", .status = 400},
      {.name = "obs-fold in a trailer", .input = "0\r\nX: a\r\n b\r\n\r\n", .status = 400},
      {.name = "trailer without a name", .input = "0\r\n: a\r\n\r\n", .status = 400},
      {.name = "trailer without a colon", .input = "0\r\nX\r\n\r\n", .status = 400},
      {.name = "bare lf after a trailer", .input = "0\r\nX: a\n\r\n", .status = 400},
      {.name = "bare lf at the end", .input = "0\r\n\n", .status = 400},
      {.name = "cr cr at the end", .input = "0\r\n\r\r", .status = 400},
      {.name = "ctl in a trailer", .input = "0\r\nX: \x7f\r\n\r\n", .status = 400},
      // Limits.
      {.name = "a chunk above max_body", .input = "100001\r\n", .status = 413},
      {.name = "a size that overflows 64 bits",
       .input = "fffffffffffffffffffff\r\n",
       .status = 413,
       .limits = {.max_head = 8192, .max_body = UINT64_MAX, .max_target = 1024}},
      {.name = "chunks adding up above max_body",
       .input = "10\r\n0123456789abcdef\r\n1\r\n",
       .status = 413,
       .limits = tight},
      {.name = "framing above max_body + max_head",
       .input = "1;" + std::string(200, 'e') + "\r\na\r\n0\r\n\r\n",
       .status = 413,
       .limits = tight},
      {.name = "tiny chunks: framing above the budget",
       .input =
           [] {
             std::string b;
             for (int i = 0; i < 30; ++i) {
               b += "0001\r\nx\r\n";  // 9 bytes of framing per byte of data
             }
             return b;
           }(),
       .status = 413,
       .limits = {.max_head = 64, .max_body = 64, .max_target = 12}},
      {.name = "trailers above max_head",
       .input = "0\r\nX: " + std::string(100, 't') + "\r\n\r\n",
       .status = 431,
       .limits = tight},
  };
  return cases;
}

class ChunkedTest : public ::testing::Test {
 protected:
  GuardedArena arena_{256 << 10};
};

TEST_F(ChunkedTest, GoodBodiesDecodeInPlace) {
  for (const ChunkedCase& c : GoodChunked()) {
    SCOPED_TRACE(c.name);
    for (bool at_start : {false, true}) {
      const Decoded d = DecodePieces(arena_, c.input, {}, c.limits, at_start);
      EXPECT_EQ(d.status, 0) << Escaped(c.input);
      EXPECT_TRUE(d.done);
      EXPECT_EQ(d.data, c.data);
      EXPECT_EQ(d.wire, c.input.size() - c.trailing);
    }
  }
}

TEST_F(ChunkedTest, BadBodiesGetTheirStatus) {
  for (const ChunkedCase& c : BadChunked()) {
    SCOPED_TRACE(c.name);
    for (bool at_start : {false, true}) {
      const Decoded d = DecodePieces(arena_, c.input, {}, c.limits, at_start);
      EXPECT_EQ(d.status, c.status) << Escaped(c.input);
      EXPECT_FALSE(d.done);
    }
  }
}

// The same answer however the bytes are cut: at every byte into two pieces, and one byte per
// piece (each piece against the guard page).
TEST_F(ChunkedTest, SplitAtEveryByteDecodesTheSame) {
  std::vector<ChunkedCase> cases = GoodChunked();
  for (ChunkedCase& c : BadChunked()) {
    cases.push_back(std::move(c));
  }
  for (const ChunkedCase& c : cases) {
    if (c.input.size() > 1000) {
      continue;  // the big chunk: cut below
    }
    SCOPED_TRACE(c.name);
    const Decoded whole = DecodePieces(arena_, c.input, {}, c.limits);
    for (size_t k = 0; k <= c.input.size(); ++k) {
      const Decoded d = DecodePieces(arena_, c.input, {k}, c.limits);
      ASSERT_EQ(d.status, whole.status) << "cut at " << k;
      ASSERT_EQ(d.done, whole.done) << "cut at " << k;
      ASSERT_EQ(d.data, whole.data) << "cut at " << k;
      ASSERT_EQ(d.wire, whole.wire) << "cut at " << k;
    }
    std::vector<size_t> every;
    for (size_t k = 1; k < c.input.size(); ++k) {
      every.push_back(k);
    }
    const Decoded bytewise = DecodePieces(arena_, c.input, every, c.limits);
    EXPECT_EQ(bytewise.status, whole.status);
    EXPECT_EQ(bytewise.data, whole.data);
    EXPECT_EQ(bytewise.wire, whole.wire);
  }
  // The big chunk cut like receive buffers of 2048 and 1 bytes.
  const std::vector<ChunkedCase> good = GoodChunked();
  const ChunkedCase& big = good[8];
  ASSERT_STREQ(big.name, "a big chunk");
  std::vector<size_t> cuts;
  for (size_t k = 2048; k < big.input.size(); k += 2048) {
    cuts.push_back(k);
    cuts.push_back(k + 1);
  }
  const Decoded d = DecodePieces(arena_, big.input, cuts, big.limits);
  EXPECT_TRUE(d.done);
  EXPECT_EQ(d.data, big.data);
}

// A strict prefix of a good body needs more: no end, no error, every byte taken.
TEST_F(ChunkedTest, EveryPrefixNeedsMore) {
  for (const ChunkedCase& c : GoodChunked()) {
    if (c.input.size() > 1000) {
      continue;
    }
    SCOPED_TRACE(c.name);
    const size_t body = c.input.size() - c.trailing;
    for (size_t k = 0; k < body; ++k) {
      const Decoded d = DecodePieces(arena_, std::string_view(c.input).substr(0, k), {}, c.limits);
      ASSERT_EQ(d.status, 0) << k << " bytes";
      ASSERT_FALSE(d.done) << k << " bytes";
      ASSERT_EQ(d.data, c.data.substr(0, d.data.size())) << k << " bytes";
    }
  }
}

// Oversized chunks and bodies are refused when the size line says so, before any data.
TEST_F(ChunkedTest, RejectsEarly) {
  const Limits tight{.max_head = 96, .max_body = 16, .max_target = 12};
  EXPECT_EQ(DecodePieces(arena_, "11", {}, tight).status, 413);  // 17 > 16, no CRLF yet
  EXPECT_EQ(DecodePieces(arena_, "10", {}, tight).status, 0);    // 16: fine so far
  EXPECT_EQ(DecodePieces(arena_, "8\r\n01234567\r\n9", {}, tight).status, 413);
  EXPECT_EQ(DecodePieces(arena_, "x", {}, tight).status, 400);
  EXPECT_EQ(DecodePieces(arena_, "3\r\nabcd", {}, tight).status, 400);
}

// Random bodies: chunk sizes, extensions and trailers, cut at random, decode to their data.
TEST_F(ChunkedTest, RandomBodiesAndCuts) {
  std::mt19937_64 rng(20250118);
  auto below = [&rng](size_t bound) { return static_cast<size_t>(rng() % bound); };
  for (int iter = 0; iter < 3000; ++iter) {
    std::string body;
    std::string data;
    const size_t chunks = below(8);
    for (size_t i = 0; i < chunks; ++i) {
      const size_t n = 1 + below(i % 3 == 0 ? 5000 : 40);
      char size[32];
      std::snprintf(size, sizeof(size), below(2) == 0 ? "%zx" : "%zX", n);
      body += std::string(below(3), '0') + size;
      if (below(4) == 0) {
        body += " ;ext=" + std::to_string(below(1000));
      }
      body += "\r\n";
      for (size_t b = 0; b < n; ++b) {
        data += static_cast<char>(rng());
      }
      body += data.substr(data.size() - n) + "\r\n";
    }
    body += "0\r\n";
    if (below(3) == 0) {
      body += "X-T" + std::to_string(below(9)) + ": v\r\n";
    }
    body += "\r\n";
    std::vector<size_t> cuts;
    for (size_t k = below(body.size()); k < body.size(); k += 1 + below(3000)) {
      cuts.push_back(k);
    }
    const Decoded d = DecodePieces(arena_, body, cuts, Limits{});
    ASSERT_EQ(d.status, 0) << "iteration " << iter;
    ASSERT_TRUE(d.done) << "iteration " << iter;
    ASSERT_EQ(d.data, data) << "iteration " << iter;
    ASSERT_EQ(d.wire, body.size()) << "iteration " << iter;
  }
}

TEST_F(ChunkedTest, EmptyPieceNeedsMore) {
  ChunkedDecoder d;
  const ChunkedDecoder::Step st = d.Next(nullptr, 0, Limits{});
  EXPECT_EQ(st.status, 0);
  EXPECT_FALSE(st.done);
  EXPECT_EQ(st.consumed, 0u);
  EXPECT_EQ(d.wire_bytes(), 0u);
}

// ---------------------------------------------------------------------------------------------
// Response heads.

class HttpResponseTest : public ::testing::Test {
 protected:
  // Writes into the last `cap` bytes before the guard page, so a write past cap crashes.
  std::string Write(size_t cap, int status, uint64_t content_length, bool keep_alive,
                    std::string_view content_type = {}) {
    return Write(cap, {.status = status,
                       .content_length = content_length,
                       .connection = keep_alive ? Connection::kDefault : Connection::kClose,
                       .content_type = content_type,
                       .allow = {}});
  }
  std::string Write(size_t cap, const ResponseHead& h) {
    char* out = arena_.end() - cap;
    std::memset(out, '#', cap);
    const size_t n = WriteResponseHead(out, cap, h);
    EXPECT_LE(n, cap);
    if (n == 0) {
      EXPECT_EQ(std::string(out, cap), std::string(cap, '#')) << "wrote while failing";
    }
    return std::string(out, n);
  }

  GuardedArena arena_{4096};
};

TEST_F(HttpResponseTest, Heads) {
  EXPECT_EQ(Write(256, 200, 3, true), "HTTP/1.1 200 OK\r\nContent-Length: 3\r\n\r\n");
  EXPECT_EQ(Write(256, 201, 0, true), "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
  EXPECT_EQ(Write(256, 404, 10, false, "text/plain"),
            "HTTP/1.1 404 Not Found\r\nContent-Length: 10\r\nContent-Type: text/plain\r\n"
            "Connection: close\r\n\r\n");
  EXPECT_EQ(Write(256, 200, 5, true, "application/octet-stream"),
            "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Type: application/octet-stream\r\n"
            "\r\n");
  EXPECT_EQ(Write(256, 503, 0, false),
            "HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
  EXPECT_EQ(Write(256, 200, UINT64_MAX, true),
            "HTTP/1.1 200 OK\r\nContent-Length: 18446744073709551615\r\n\r\n");
  EXPECT_EQ(Write(256, 200, 1234567890, true, "text/plain; version=0.0.4"),
            "HTTP/1.1 200 OK\r\nContent-Length: 1234567890\r\nContent-Type: text/plain; "
            "version=0.0.4\r\n\r\n");
  EXPECT_EQ(Write(256, 599, 0, true), "HTTP/1.1 599 Unknown\r\nContent-Length: 0\r\n\r\n");
}

TEST_F(HttpResponseTest, TooSmall) {
  const std::string full = Write(256, 404, 10, false, "text/plain");
  ASSERT_FALSE(full.empty());
  EXPECT_EQ(Write(full.size(), 404, 10, false, "text/plain"), full);
  for (size_t cap = 0; cap < full.size(); ++cap) {
    EXPECT_EQ(Write(cap, 404, 10, false, "text/plain"), "") << "cap " << cap;
  }
  EXPECT_EQ(WriteResponseHead(nullptr, 0, ResponseHead{}), 0u);
}

TEST_F(HttpResponseTest, KeepAliveForHttp10AndAllow) {
  // An HTTP/1.0 client that asked for keep-alive is told the connection stays (ab -k waits for
  // it); 1.1 needs nothing.
  EXPECT_EQ(Write(256, {.status = 200,
                        .content_length = 3,
                        .connection = Connection::kKeepAlive,
                        .content_type = {},
                        .allow = {}}),
            "HTTP/1.1 200 OK\r\nContent-Length: 3\r\nConnection: keep-alive\r\n\r\n");
  EXPECT_EQ(Write(256, {.status = 405,
                        .content_length = 4,
                        .connection = Connection::kDefault,
                        .content_type = "text/plain",
                        .allow = kAllowFixed}),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 4\r\nContent-Type: "
            "text/plain\r\nAllow: GET, HEAD\r\n\r\n");
  EXPECT_EQ(Write(256, {.status = 405,
                        .content_length = 0,
                        .connection = Connection::kClose,
                        .content_type = {},
                        .allow = kAllowKey}),
            "HTTP/1.1 405 Method Not Allowed\r\nContent-Length: 0\r\nAllow: GET, HEAD, POST, "
            "PUT, DELETE\r\nConnection: close\r\n\r\n");
  // The exact size fits; one byte less writes nothing.
  const ResponseHead h{.status = 204,
                       .content_length = 0,
                       .connection = Connection::kKeepAlive,
                       .content_type = {},
                       .allow = kAllowKey};
  const std::string full = Write(256, h);
  EXPECT_EQ(full,
            "HTTP/1.1 204 No Content\r\nAllow: GET, HEAD, POST, PUT, DELETE\r\nConnection: "
            "keep-alive\r\n\r\n");
  EXPECT_EQ(Write(full.size(), h), full);
  EXPECT_EQ(Write(full.size() - 1, h), "");
  // An allow value cannot inject header lines either.
  EXPECT_EQ(Write(256, {.status = 405,
                        .content_length = 0,
                        .connection = Connection::kDefault,
                        .content_type = {},
                        .allow = "GET\r\nX: y"}),
            "");
}

TEST(HttpConnectionTest, ConnectionFor) {
  RequestHead h11;
  RequestHead h10;
  h10.version_minor = 0;
  EXPECT_EQ(ConnectionFor(h11, false), Connection::kDefault);
  EXPECT_EQ(ConnectionFor(h11, true), Connection::kClose);
  EXPECT_EQ(ConnectionFor(h10, false), Connection::kKeepAlive);
  EXPECT_EQ(ConnectionFor(h10, true), Connection::kClose);
  h10.keep_alive = false;
  h11.keep_alive = false;
  EXPECT_EQ(ConnectionFor(h10, false), Connection::kClose);
  EXPECT_EQ(ConnectionFor(h11, false), Connection::kClose);
}

TEST_F(HttpResponseTest, RejectsWhatWouldBreakTheHead) {
  EXPECT_EQ(Write(256, 99, 0, true), "");
  EXPECT_EQ(Write(256, 1000, 0, true), "");
  EXPECT_EQ(Write(256, -200, 0, true), "");
  EXPECT_EQ(Write(256, 200, 0, true, "text/plain\r\nSet-Cookie: x"), "");
  EXPECT_EQ(Write(256, 200, 0, true, std::string_view("a\0b", 3)), "");
}

TEST(HttpReasonPhraseTest, Known) {
  const std::vector<std::pair<int, std::string_view>> cases = {
      {100, "Continue"},
      {200, "OK"},
      {201, "Created"},
      {204, "No Content"},
      {400, "Bad Request"},
      {404, "Not Found"},
      {405, "Method Not Allowed"},
      {411, "Length Required"},
      {413, "Content Too Large"},
      {414, "URI Too Long"},
      {417, "Expectation Failed"},
      {431, "Request Header Fields Too Large"},
      {500, "Internal Server Error"},
      {501, "Not Implemented"},
      {503, "Service Unavailable"},
      {505, "HTTP Version Not Supported"},
      {507, "Insufficient Storage"},
  };
  for (const auto& [status, phrase] : cases) {
    EXPECT_EQ(ReasonPhrase(status), phrase) << status;
  }
  EXPECT_EQ(ReasonPhrase(299), "Unknown");
  EXPECT_EQ(ReasonPhrase(0), "Unknown");
  EXPECT_EQ(ReasonPhrase(-1), "Unknown");
}

TEST(HttpReasonPhraseTest, Continue) {
  EXPECT_EQ(kContinue, "HTTP/1.1 100 Continue\r\n\r\n");
  EXPECT_EQ(kContinue, std::string("HTTP/1.1 100 ") + std::string(ReasonPhrase(100)) + "\r\n\r\n");
}

}  // namespace
}  // namespace pastel::http
