// proto/http: the HTTP/1.1 request-head parser and the response-head builders of
// include/pastel/http.h.
//
// The parser is one forward pass over the first min(n, limits.max_head) bytes: a head that ends
// later is too large (431) whatever it holds, so no byte past max_head is ever looked at, and no
// byte past n either. Every decision depends only on the bytes already passed, which gives two
// properties that the tests check on every input:
//   - early rejection: bytes that no continuation can make valid are answered at once (400, 414,
//     505), without waiting for the rest of the head; the grammar is checked byte by byte, the
//     meaning of a field value (Content-Length) when its line ends;
//   - prefix consistency: ParseHead on any prefix of an input answers either "more bytes needed"
//     (status 0, head_bytes 0) or exactly what it answers on the whole input.
// Checks that need the whole head (Host, Transfer-Encoding, 411, 413) are made once the blank line
// has been seen.
//
// Choices the header leaves open, made here:
//   - Content-Length is 1*DIGIT with a value of at most 2^63 - 1 (it fits an off_t); a repeated
//     Content-Length must have the same value ("5" and "05" are the same value).
//   - 413 applies to every method, since the caller has to read past the body even of a GET.
//   - Connection: "close" wins over "keep-alive" when a request carries both; unknown tokens are
//     ignored.
//   - Expect: 100-continue is ignored on HTTP/1.0 requests (RFC 9110 10.1.1: a 1.0 client does not
//     know 1xx responses); other expectations are ignored.
//   - Empty lines (CRLF or LF) before the request line are skipped (RFC 9112 2.2); they count
//     toward max_head and head_bytes, so a stream of them ends in 431, never in an endless skip.
//   - Targets: origin-form; absolute-form with the scheme http or https, a non-empty authority
//     without userinfo, and a non-empty path (the key is the path, which an empty path would
//     make "/": 400 instead); asterisk-form only for OPTIONS. max_target bounds the path.
//   - Host (RFC 9112 3.2): an HTTP/1.1 request without one, any request with two, and a value
//     with a byte outside uri-host [":" port] are 400. An absolute-form's authority wins over it.
//   - Transfer-Encoding (RFC 9112 6.1, 6.3): with Content-Length, on HTTP/1.0, with a last coding
//     other than chunked, or with chunked twice: 400 (the body's length is unknown: close); a
//     coding other than chunked before the final chunked: 501. The codings of several fields
//     make one list.
//   - A result with a non-zero status, and the "more bytes needed" result, carry a default head.

#include "pastel/http.h"

#include <algorithm>
#include <array>
#include <cassert>
#include <cstring>
#include <limits>

#include "base/decimal.h"

namespace pastel::http {
namespace {

// One parsing step returns 0 (done), kNeedMore (the bytes ran out first) or an HTTP status.
constexpr int kNeedMore = -1;
constexpr int kBadRequest = 400;
constexpr int kLengthRequired = 411;
constexpr int kContentTooLarge = 413;
constexpr int kUriTooLong = 414;
constexpr int kHeadTooLarge = 431;
constexpr int kNotImplemented = 501;
constexpr int kVersionNotSupported = 505;

constexpr size_t kMaxMethod = 16;
constexpr uint64_t kMaxContentLength = std::numeric_limits<int64_t>::max();

enum CharClass : uint8_t {
  kTchar = 1,       // RFC 9110 5.6.2 token character
  kTargetChar = 2,  // visible ASCII 0x21..0x7E
  kValueChar = 4,   // field-value: VCHAR, obs-text, SP, HTAB
  kHostChar = 8,    // uri-host [":" port] (RFC 3986): unreserved, pct-encoded, sub-delims, ":[]"
};

constexpr std::array<uint8_t, 256> MakeCharClasses() {
  std::array<uint8_t, 256> classes{};
  constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  for (int c = 0; c < 256; ++c) {
    uint8_t bits = 0;
    const bool alnum = (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
    if (alnum || kTokenPunctuation.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kTchar;
    }
    if (c >= 0x21 && c <= 0x7E) {
      bits |= kTargetChar;
    }
    if (c == '\t' || (c >= 0x20 && c != 0x7F)) {
      bits |= kValueChar;
    }
    constexpr std::string_view kHostPunctuation = "-._~%!$&'()*+,;=:[]";
    if (alnum || kHostPunctuation.find(static_cast<char>(c)) != std::string_view::npos) {
      bits |= kHostChar;
    }
    classes[c] = bits;
  }
  return classes;
}

constexpr std::array<uint8_t, 256> kCharClasses = MakeCharClasses();

bool Is(char c, CharClass k) {
  return (kCharClasses[static_cast<unsigned char>(c)] & k) != 0;
}
bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}
bool IsAlpha(char c) {
  return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}
// The value of a hex digit, or -1.
int HexValue(char c) {
  if (IsDigit(c)) {
    return c - '0';
  }
  if (c >= 'a' && c <= 'f') {
    return c - 'a' + 10;
  }
  if (c >= 'A' && c <= 'F') {
    return c - 'A' + 10;
  }
  return -1;
}
bool IsOws(char c) {
  return c == ' ' || c == '\t';
}

char ToLower(char c) {
  return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c;
}

// ASCII case-insensitive comparison with `lower`, which is already lower case.
bool EqualsLower(std::string_view s, std::string_view lower) {
  if (s.size() != lower.size()) {
    return false;
  }
  for (size_t i = 0; i < s.size(); ++i) {
    if (ToLower(s[i]) != lower[i]) {
      return false;
    }
  }
  return true;
}

std::string_view TrimOws(std::string_view s) {
  while (!s.empty() && IsOws(s.front())) {
    s.remove_prefix(1);
  }
  while (!s.empty() && IsOws(s.back())) {
    s.remove_suffix(1);
  }
  return s;
}

Method MethodFromName(std::string_view name) {
  // Method names are case-sensitive (RFC 9110 9.1): "get" is some other method.
  if (name == "GET") {
    return Method::kGet;
  }
  if (name == "HEAD") {
    return Method::kHead;
  }
  if (name == "POST") {
    return Method::kPost;
  }
  if (name == "PUT") {
    return Method::kPut;
  }
  if (name == "DELETE") {
    return Method::kDelete;
  }
  return Method::kOther;
}

// Parses one head from [p, p + end). Lives for one ParseHead call.
class HeadParser {
 public:
  HeadParser(const char* p, size_t end, const Limits& limits) : p_(p), end_(end), limits_(limits) {}

  // 0 when the head is complete (head() is then filled in), kNeedMore, or an HTTP status.
  int Run() {
    int r = SkipEmptyLines();
    if (r == 0) {
      r = ParseMethod();
    }
    if (r == 0) {
      r = ParseTarget();
    }
    if (r == 0) {
      r = ParseVersion();
    }
    if (r == 0) {
      r = ParseFields();
    }
    if (r == 0) {
      r = Finish();
    }
    return r;
  }

  const RequestHead& head() const { return head_; }

 private:
  // A line ends with CRLF or a bare LF; a CR not followed by LF is malformed.
  int ParseLineEnd() {
    if (i_ == end_) {
      return kNeedMore;
    }
    if (p_[i_] == '\n') {
      ++i_;
      return 0;
    }
    if (p_[i_] != '\r') {
      return kBadRequest;
    }
    if (i_ + 1 == end_) {
      return kNeedMore;
    }
    if (p_[i_ + 1] != '\n') {
      return kBadRequest;
    }
    i_ += 2;
    return 0;
  }

  // RFC 9112 2.2: empty lines before the request line are ignored (they are part of the head).
  int SkipEmptyLines() {
    while (i_ < end_ && (p_[i_] == '\r' || p_[i_] == '\n')) {
      if (const int r = ParseLineEnd(); r != 0) {
        return r;
      }
    }
    return 0;
  }

  // method = 1*16tchar, then one SP.
  int ParseMethod() {
    const size_t start = i_;
    while (i_ < end_ && Is(p_[i_], kTchar)) {
      if (i_ - start == kMaxMethod) {
        return kBadRequest;
      }
      ++i_;
    }
    if (i_ == end_) {
      return kNeedMore;
    }
    if (i_ == start || p_[i_] != ' ') {
      return kBadRequest;
    }
    head_.method_name = std::string_view(p_ + start, i_ - start);
    head_.method = MethodFromName(head_.method_name);
    ++i_;
    return 0;
  }

  // origin-form, absolute-form ("http://" authority path) or, for OPTIONS, asterisk-form; then
  // one SP.
  int ParseTarget() {
    if (i_ == end_) {
      return kNeedMore;
    }
    if (p_[i_] == '*' && head_.method_name == "OPTIONS") {
      head_.target = std::string_view(p_ + i_, 1);
      ++i_;
      return ParseTargetEnd();
    }
    if (p_[i_] != '/') {
      if (const int r = ParseSchemeAndAuthority(); r != 0) {
        return r;
      }
    }
    // The path: '/' then visible ASCII, at most max_target bytes in all.
    const size_t start = i_;
    while (i_ < end_ && Is(p_[i_], kTargetChar)) {
      if (i_ - start == limits_.max_target) {
        return kUriTooLong;
      }
      ++i_;
    }
    head_.target = std::string_view(p_ + start, i_ - start);
    return ParseTargetEnd();
  }

  // absolute-form up to its path: scheme "://" authority, where the scheme is http or https (case
  // insensitive) and the authority is 1* host characters (no userinfo) followed by '/'.
  int ParseSchemeAndAuthority() {
    const size_t start = i_;
    while (i_ < end_ && IsAlpha(p_[i_])) {
      if (i_ - start == 5) {
        return kBadRequest;  // longer than "https"
      }
      ++i_;
    }
    if (i_ == end_) {
      return kNeedMore;
    }
    const std::string_view scheme(p_ + start, i_ - start);
    if (p_[i_] != ':' || !(EqualsLower(scheme, "http") || EqualsLower(scheme, "https"))) {
      return kBadRequest;
    }
    ++i_;
    for (int slash = 0; slash < 2; ++slash) {
      if (i_ == end_) {
        return kNeedMore;
      }
      if (p_[i_] != '/') {
        return kBadRequest;
      }
      ++i_;
    }
    const size_t authority = i_;
    while (i_ < end_ && Is(p_[i_], kHostChar)) {
      ++i_;
    }
    if (i_ == end_) {
      return kNeedMore;
    }
    if (i_ == authority || p_[i_] != '/') {
      return kBadRequest;  // no host, userinfo ('@'), or no path
    }
    head_.authority = std::string_view(p_ + authority, i_ - authority);
    return 0;
  }

  int ParseTargetEnd() {
    if (i_ == end_) {
      return kNeedMore;
    }
    if (p_[i_] != ' ') {
      return kBadRequest;
    }
    ++i_;
    return 0;
  }

  // "HTTP/" DIGIT "." DIGIT, then the line end; 505 for a well-formed version other than 1.0/1.1.
  int ParseVersion() {
    constexpr std::string_view kPattern = "HTTP/#.#";  // '#' stands for a digit
    for (char expected : kPattern) {
      if (i_ == end_) {
        return kNeedMore;
      }
      const char c = p_[i_];
      if (expected == '#' ? !IsDigit(c) : c != expected) {
        return kBadRequest;
      }
      ++i_;
    }
    const char major = p_[i_ - 3];
    const char minor = p_[i_ - 1];
    if (const int r = ParseLineEnd(); r != 0) {
      return r;
    }
    if (major != '1' || (minor != '0' && minor != '1')) {
      return kVersionNotSupported;
    }
    head_.version_minor = static_cast<uint8_t>(minor - '0');
    return 0;
  }

  // Header lines up to and including the blank line.
  int ParseFields() {
    while (true) {
      if (i_ == end_) {
        return kNeedMore;
      }
      const char c = p_[i_];
      if (c == '\r' || c == '\n') {
        return ParseLineEnd();  // the blank line: the head ends here
      }
      if (IsOws(c)) {
        return kBadRequest;  // obsolete line folding, or whitespace before the first field
      }
      if (const int r = ParseField(); r != 0) {
        return r;
      }
    }
  }

  // field-name ":" OWS field-value OWS line-end.
  int ParseField() {
    const size_t name_start = i_;
    while (i_ < end_ && Is(p_[i_], kTchar)) {
      ++i_;
    }
    if (i_ == end_) {
      return kNeedMore;
    }
    if (i_ == name_start || p_[i_] != ':') {
      return kBadRequest;  // empty name, whitespace before ':', or a byte that is not a tchar
    }
    const std::string_view name(p_ + name_start, i_ - name_start);
    ++i_;
    while (i_ < end_ && IsOws(p_[i_])) {
      ++i_;
    }
    const size_t value_start = i_;
    size_t value_end = i_;  // one past the last byte that is not whitespace
    while (i_ < end_ && Is(p_[i_], kValueChar)) {
      if (!IsOws(p_[i_])) {
        value_end = i_ + 1;
      }
      ++i_;
    }
    // A CTL, DEL or NUL stops the value; ParseLineEnd accepts only CR LF or LF there.
    if (const int r = ParseLineEnd(); r != 0) {
      return r;
    }
    return OnField(name, std::string_view(p_ + value_start, value_end - value_start));
  }

  int OnField(std::string_view name, std::string_view value) {
    if (EqualsLower(name, "content-length")) {
      return OnContentLength(value);
    }
    if (EqualsLower(name, "host")) {
      return OnHost(value);
    }
    if (EqualsLower(name, "transfer-encoding")) {
      OnTransferEncoding(value);
    } else if (EqualsLower(name, "connection")) {
      OnConnection(value);
    } else if (EqualsLower(name, "expect")) {
      expect_continue_ = expect_continue_ || EqualsLower(value, "100-continue");
    }
    return 0;
  }

  // Content-Length = 1*DIGIT; no sign, no inner space, no list; at most kMaxContentLength.
  int OnContentLength(std::string_view value) {
    if (value.empty()) {
      return kBadRequest;
    }
    uint64_t v = 0;
    for (char c : value) {
      if (!IsDigit(c)) {
        return kBadRequest;
      }
      const uint64_t digit = static_cast<uint64_t>(c - '0');
      if (v > (kMaxContentLength - digit) / 10) {
        return kBadRequest;
      }
      v = v * 10 + digit;
    }
    if (head_.has_content_length && head_.content_length != v) {
      return kBadRequest;
    }
    head_.has_content_length = true;
    head_.content_length = v;
    return 0;
  }

  // Host = uri-host [ ":" port ]; at most one (RFC 9112 3.2). The value may be empty.
  int OnHost(std::string_view value) {
    if (saw_host_) {
      return kBadRequest;
    }
    saw_host_ = true;
    for (char c : value) {
      if (!Is(c, kHostChar)) {
        return kBadRequest;
      }
    }
    return 0;
  }

  // Transfer-Encoding = #transfer-coding; the fields of a head make one list. Empty elements are
  // skipped (RFC 9110 5.6.1).
  void OnTransferEncoding(std::string_view value) {
    has_transfer_encoding_ = true;
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) {
        comma = value.size();
      }
      const std::string_view coding = TrimOws(value.substr(pos, comma - pos));
      if (!coding.empty()) {
        last_coding_chunked_ = EqualsLower(coding, "chunked");
        if (last_coding_chunked_) {
          ++chunked_codings_;
        } else {
          saw_other_coding_ = true;
        }
      }
      pos = comma + 1;
    }
  }

  // Connection = #token; only "close" and "keep-alive" mean something here.
  void OnConnection(std::string_view value) {
    size_t pos = 0;
    while (pos <= value.size()) {
      size_t comma = value.find(',', pos);
      if (comma == std::string_view::npos) {
        comma = value.size();
      }
      const std::string_view token = TrimOws(value.substr(pos, comma - pos));
      if (EqualsLower(token, "close")) {
        saw_close_ = true;
      } else if (EqualsLower(token, "keep-alive")) {
        saw_keep_alive_ = true;
      }
      pos = comma + 1;
    }
  }

  // The whole head has been seen (i_ is just past the blank line).
  int Finish() {
    const bool is_11 = head_.version_minor == 1;
    if (has_transfer_encoding_) {
      // RFC 9112 6.1 and 6.3: a 1.0 message's Transfer-Encoding is faulty framing; with
      // Content-Length it is a smuggling attempt; without chunked last the length is unknown.
      if (!is_11 || head_.has_content_length || !last_coding_chunked_ || chunked_codings_ != 1) {
        return kBadRequest;
      }
      if (saw_other_coding_) {
        return kNotImplemented;  // a coding this server does not know
      }
      head_.chunked = true;
    }
    const bool needs_length = head_.method == Method::kPost || head_.method == Method::kPut;
    if (needs_length && !head_.has_content_length && !head_.chunked) {
      return kLengthRequired;
    }
    if (head_.has_content_length && head_.content_length > limits_.max_body) {
      return kContentTooLarge;
    }
    if (is_11 && !saw_host_) {
      return kBadRequest;  // RFC 9112 3.2
    }
    head_.keep_alive = !saw_close_ && (is_11 || saw_keep_alive_);
    head_.expect_continue = expect_continue_ && is_11;
    head_.head_bytes = i_;
    return 0;
  }

  const char* const p_;
  const size_t end_;
  const Limits& limits_;
  size_t i_ = 0;  // Invariant: i_ <= end_; bytes before i_ have been accepted.
  RequestHead head_;
  bool has_transfer_encoding_ = false;
  bool last_coding_chunked_ = false;  // the last transfer coding so far is chunked
  bool saw_other_coding_ = false;     // a transfer coding other than chunked
  int chunked_codings_ = 0;
  bool saw_host_ = false;
  bool saw_close_ = false;
  bool saw_keep_alive_ = false;
  bool expect_continue_ = false;
};

char* Put(char* out, std::string_view s) {
  std::memcpy(out, s.data(), s.size());
  return out + s.size();
}

}  // namespace

ParseResult ParseHead(const char* p, size_t n, const Limits& limits) {
  HeadParser parser(p, std::min(n, limits.max_head), limits);
  const int r = parser.Run();
  ParseResult result;
  if (r == 0) {
    result.head = parser.head();
  } else if (r == kNeedMore) {
    // The head does not end within the first max_head bytes: once that many are here, it never
    // will.
    result.status = n >= limits.max_head ? kHeadTooLarge : 0;
  } else {
    result.status = r;
  }
  if (result.status != 0) {
    // The method, when it was read before the error: the answer to a HEAD has no body.
    result.head.method = parser.head().method;
  }
  return result;
}

std::string_view ReasonPhrase(int status) {
  switch (status) {
    case 100: return "Continue";
    case 101: return "Switching Protocols";
    case 200: return "OK";
    case 201: return "Created";
    case 202: return "Accepted";
    case 204: return "No Content";
    case 206: return "Partial Content";
    case 301: return "Moved Permanently";
    case 302: return "Found";
    case 304: return "Not Modified";
    case 400: return "Bad Request";
    case 401: return "Unauthorized";
    case 403: return "Forbidden";
    case 404: return "Not Found";
    case 405: return "Method Not Allowed";
    case 408: return "Request Timeout";
    case 409: return "Conflict";
    case 411: return "Length Required";
    case 413: return "Content Too Large";
    case 414: return "URI Too Long";
    case 415: return "Unsupported Media Type";
    case 417: return "Expectation Failed";
    case 429: return "Too Many Requests";
    case 431: return "Request Header Fields Too Large";
    case 500: return "Internal Server Error";
    case 501: return "Not Implemented";
    case 502: return "Bad Gateway";
    case 503: return "Service Unavailable";
    case 504: return "Gateway Timeout";
    case 505: return "HTTP Version Not Supported";
    case 507: return "Insufficient Storage";
    default: return "Unknown";
  }
}

ChunkedDecoder::Step ChunkedDecoder::Fail(int status) {
  state_ = State::kFailed;
  status_ = static_cast<int16_t>(status);
  return {.status = status};
}

// One byte of framing per loop turn; data is handed out as one range per call. Every decision
// depends only on the bytes already taken, so a body cut into pieces anywhere decodes the same.
ChunkedDecoder::Step ChunkedDecoder::Next(const char* p, size_t n, const Limits& limits) {
  if (state_ == State::kFailed) {
    return {.status = status_};
  }
  if (state_ == State::kDone) {
    return {.done = true};
  }
  const uint64_t max_framing = limits.max_body > UINT64_MAX - limits.max_head
                                   ? UINT64_MAX
                                   : limits.max_body + limits.max_head;
  size_t i = 0;
  while (i < n) {
    if (state_ == State::kData) {
      const size_t take = static_cast<size_t>(std::min<uint64_t>(size_, n - i));
      size_ -= take;
      body_ += take;
      wire_ += take;
      if (size_ == 0) {
        state_ = State::kDataCr;
      }
      return {.consumed = i + take, .data_offset = i, .data_len = take};
    }
    const char c = p[i++];
    ++wire_;
    if (++framing_ > max_framing) {
      return Fail(kContentTooLarge);
    }
    if (state_ >= State::kTrailerStart && ++trailer_ > limits.max_head) {
      return Fail(kHeadTooLarge);
    }
    switch (state_) {
      case State::kSizeStart:
      case State::kSize: {
        const int d = HexValue(c);
        if (d >= 0) {
          // Invariant: body_ <= max_body (a size beyond what is left is refused at once).
          assert(body_ <= limits.max_body);
          const uint64_t left = limits.max_body - body_;
          if (state_ == State::kSize && size_ > (left >> 4)) {
            return Fail(kContentTooLarge);
          }
          size_ = (state_ == State::kSize ? size_ << 4 : 0) + static_cast<uint64_t>(d);
          if (size_ > left) {
            return Fail(kContentTooLarge);
          }
          state_ = State::kSize;
        } else if (state_ == State::kSizeStart) {
          return Fail(kBadRequest);  // no digit
        } else if (c == ';') {
          state_ = State::kExtension;
        } else if (IsOws(c)) {
          state_ = State::kSizeSpace;
        } else if (c == '\r') {
          state_ = State::kSizeLf;
        } else {
          return Fail(kBadRequest);
        }
        break;
      }
      case State::kSizeSpace:
        // chunk-ext = *( BWS ";" ... ): whitespace after the size only before an extension.
        if (c == ';') {
          state_ = State::kExtension;
        } else if (!IsOws(c)) {
          return Fail(kBadRequest);
        }
        break;
      case State::kExtension:
        if (c == '\r') {
          state_ = State::kSizeLf;
        } else if (!Is(c, kValueChar)) {
          return Fail(kBadRequest);
        }
        break;
      case State::kSizeLf:
        if (c != '\n') {
          return Fail(kBadRequest);
        }
        state_ = size_ == 0 ? State::kTrailerStart : State::kData;
        break;
      case State::kDataCr:
        if (c != '\r') {
          return Fail(kBadRequest);
        }
        state_ = State::kDataLf;
        break;
      case State::kDataLf:
        if (c != '\n') {
          return Fail(kBadRequest);
        }
        state_ = State::kSizeStart;
        break;
      case State::kTrailerStart:
        if (c == '\r') {
          state_ = State::kEndLf;
        } else if (Is(c, kTchar)) {
          state_ = State::kTrailerName;
        } else {
          return Fail(kBadRequest);
        }
        break;
      case State::kTrailerName:
        if (c == ':') {
          state_ = State::kTrailerValue;
        } else if (!Is(c, kTchar)) {
          return Fail(kBadRequest);
        }
        break;
      case State::kTrailerValue:
        if (c == '\r') {
          state_ = State::kTrailerLf;
        } else if (!Is(c, kValueChar)) {
          return Fail(kBadRequest);
        }
        break;
      case State::kTrailerLf:
        if (c != '\n') {
          return Fail(kBadRequest);
        }
        state_ = State::kTrailerStart;
        break;
      case State::kEndLf:
        if (c != '\n') {
          return Fail(kBadRequest);
        }
        state_ = State::kDone;
        return {.consumed = i, .done = true};
      case State::kData:
      case State::kDone:
      case State::kFailed: break;  // handled above
    }
  }
  return {.consumed = n};
}

Connection ConnectionFor(const RequestHead& h, bool close) {
  if (close || !h.keep_alive) {
    return Connection::kClose;
  }
  return h.version_minor == 0 ? Connection::kKeepAlive : Connection::kDefault;
}

// Beyond the header's contract, it also returns 0 (and writes nothing) for a status that is not
// three digits and for a content type or allow value holding a CTL (CR or LF would inject header
// lines).
size_t WriteResponseHead(char* out, size_t cap, const ResponseHead& h) {
  constexpr std::string_view kVersion = "HTTP/1.1 ";
  constexpr std::string_view kLength = "\r\nContent-Length: ";
  constexpr std::string_view kType = "\r\nContent-Type: ";
  constexpr std::string_view kAllow = "\r\nAllow: ";
  constexpr std::string_view kClose = "\r\nConnection: close";
  constexpr std::string_view kKeepAlive = "\r\nConnection: keep-alive";
  constexpr std::string_view kEnd = "\r\n\r\n";
  if (h.status < 100 || h.status > 999) {
    return 0;
  }
  for (std::string_view v : {h.content_type, h.allow}) {
    for (char c : v) {
      if (!Is(c, kValueChar)) {
        return 0;
      }
    }
  }
  const std::string_view reason = ReasonPhrase(h.status);
  // RFC 9110 8.6: no Content-Length on 1xx, 204 and 304 answers (they never have a body).
  const bool with_length = h.status >= 200 && h.status != 204 && h.status != 304;
  const std::string_view connection = h.connection == Connection::kClose       ? kClose
                                      : h.connection == Connection::kKeepAlive ? kKeepAlive
                                                                               : std::string_view();
  size_t size = kVersion.size() + 3 + 1 + reason.size() + connection.size() + kEnd.size();
  if (with_length) {
    size += kLength.size() + DecimalDigits(h.content_length);
  }
  if (!h.content_type.empty()) {
    size += kType.size() + h.content_type.size();
  }
  if (!h.allow.empty()) {
    size += kAllow.size() + h.allow.size();
  }
  if (size > cap) {
    return 0;
  }
  char* w = Put(out, kVersion);
  w = PutDecimal(w, static_cast<uint64_t>(h.status));
  w = Put(w, " ");
  w = Put(w, reason);
  if (with_length) {
    w = Put(w, kLength);
    w = PutDecimal(w, h.content_length);
  }
  if (!h.content_type.empty()) {
    w = Put(w, kType);
    w = Put(w, h.content_type);
  }
  if (!h.allow.empty()) {
    w = Put(w, kAllow);
    w = Put(w, h.allow);
  }
  if (!connection.empty()) {
    w = Put(w, connection);
  }
  w = Put(w, kEnd);
  // Invariant: the size computed above is exactly what was written.
  assert(static_cast<size_t>(w - out) == size);
  return size;
}

}  // namespace pastel::http
