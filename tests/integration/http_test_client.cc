#include "tests/integration/http_test_client.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cstring>
#include <thread>

namespace pastel::integration {
namespace {

constexpr size_t kMaxResponseHead = 64 * 1024;
constexpr uint64_t kMaxResponseBody = 16 * 1024 * 1024;

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) {
    c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

bool IsDigit(char c) {
  return c >= '0' && c <= '9';
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) {
    s.remove_prefix(1);
  }
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) {
    s.remove_suffix(1);
  }
  return s;
}

std::string RecvError(ssize_t n, int err) {
  if (n == 0) {
    return "connection closed by the server";
  }
  if (err == EAGAIN || err == EWOULDBLOCK) {
    return "no answer within " + std::to_string(kReceiveTimeoutS) + " s";
  }
  return std::string("recv: ") + std::strerror(err);
}

}  // namespace

std::optional<std::string> Response::Header(std::string_view name) const {
  const std::string lower = Lower(name);
  for (const auto& [k, v] : headers) {
    if (k == lower) {
      return v;
    }
  }
  return std::nullopt;
}

bool Response::ConnectionClose() const {
  for (const auto& [k, v] : headers) {
    if (k == "connection" && Lower(v).find("close") != std::string::npos) {
      return true;
    }
  }
  return false;
}

std::string Response::Describe() const {
  if (status_line.empty()) {
    return "no response: " + error;
  }
  std::string out = "'" + Escape(status_line) + "'";
  for (const auto& [k, v] : headers) {
    out += " [" + k + ": " + Escape(v) + "]";
  }
  if (!ok()) {
    return out + " (" + error + ")";
  }
  out += " body " + std::to_string(body.size()) + " B";
  if (!body.empty() && body.size() <= 64) {
    out += " '" + Escape(body) + "'";
  }
  return out;
}

std::string Request(std::string_view method, std::string_view target,
                    std::optional<std::string_view> body, std::string_view extra_headers,
                    std::string_view version) {
  std::string r;
  r.reserve(64 + target.size() + extra_headers.size() + (body ? body->size() : 0));
  r.append(method).append(" ").append(target).append(" ").append(version).append("\r\n");
  r.append("Host: 127.0.0.1\r\n");
  if (body) {
    r.append("Content-Length: ").append(std::to_string(body->size())).append("\r\n");
  }
  r.append(extra_headers).append("\r\n");
  if (body) {
    r.append(*body);
  }
  return r;
}

Client::Client(uint16_t port) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    error_ = std::string("socket: ") + std::strerror(errno);
    return;
  }
  timeval tv{kReceiveTimeoutS, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    int err = errno;
    // A signal interrupts a blocking connect while the handshake goes on: wait for its end.
    if (err == EINTR || err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      int rc;
      do {
        rc = ::poll(&p, 1, kReceiveTimeoutS * 1000);
      } while (rc < 0 && errno == EINTR);
      socklen_t len = sizeof(err);
      err = rc == 1 ? 0 : ETIMEDOUT;
      if (rc == 1) {
        ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
      }
    }
    if (err != 0) {
      error_ = "connect 127.0.0.1:" + std::to_string(port) + ": " + std::strerror(err);
      ::close(fd);
      return;
    }
  }
  fd_ = fd;
}

Client::~Client() {
  Close();
}

void Client::Close() {
  if (fd_ >= 0) {
    ::close(fd_);
    fd_ = -1;
  }
}

bool Client::Send(std::string_view bytes) {
  if (fd_ < 0) {
    error_ = "not connected";
    return false;
  }
  size_t off = 0;
  while (off < bytes.size()) {
    const ssize_t n = ::send(fd_, bytes.data() + off, bytes.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      error_ = "send after " + std::to_string(off) + " of " + std::to_string(bytes.size()) +
               " B: " + (n < 0 ? std::strerror(errno) : "sent nothing");
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

bool Client::SendInPieces(std::string_view bytes, size_t piece, std::chrono::microseconds pause) {
  for (size_t off = 0; off < bytes.size(); off += piece) {
    if (!Send(bytes.substr(off, piece))) {
      return false;
    }
    std::this_thread::sleep_for(pause);
  }
  return true;
}

ssize_t Client::Fill() {
  char chunk[64 * 1024];
  ssize_t n;
  do {
    n = ::recv(fd_, chunk, sizeof(chunk), 0);
  } while (n < 0 && errno == EINTR);
  if (n > 0) {
    buffer_.append(chunk, static_cast<size_t>(n));
  }
  return n;
}

Response Client::Read(bool head_request) {
  Response r;
  if (fd_ < 0) {
    r.error = "not connected";
    return r;
  }
  size_t head_end;
  while ((head_end = buffer_.find("\r\n\r\n")) == std::string::npos) {
    if (buffer_.size() > kMaxResponseHead) {
      r.error = "response head longer than 64 KiB";
      return r;
    }
    const ssize_t n = Fill();
    if (n <= 0) {
      r.error = RecvError(n, errno) + " before a complete response head";
      if (!buffer_.empty()) {
        r.error +=
            " (received " + std::to_string(buffer_.size()) + " B: '" + Escape(buffer_) + "')";
      }
      return r;
    }
  }
  const std::string_view head(buffer_.data(), head_end + 2);  // each line ends with CRLF
  size_t line_end = head.find("\r\n");
  r.status_line = std::string(head.substr(0, line_end));
  // status-line = HTTP-version SP 3DIGIT SP [reason-phrase]
  const std::string_view sl = r.status_line;
  if (sl.size() < 12 || sl.substr(0, 7) != "HTTP/1." || !IsDigit(sl[7]) || sl[8] != ' ' ||
      !IsDigit(sl[9]) || !IsDigit(sl[10]) || !IsDigit(sl[11]) ||
      (sl.size() > 12 && sl[12] != ' ')) {
    r.error = "malformed status line '" + Escape(sl) + "'";
    return r;
  }
  const int status = (sl[9] - '0') * 100 + (sl[10] - '0') * 10 + (sl[11] - '0');
  for (size_t pos = line_end + 2; pos < head.size();) {
    const size_t end = head.find("\r\n", pos);
    const std::string_view line = head.substr(pos, end - pos);
    const size_t colon = line.find(':');
    if (colon == std::string_view::npos || colon == 0) {
      r.error = "malformed header line '" + Escape(line) + "'";
      return r;
    }
    r.headers.emplace_back(Lower(line.substr(0, colon)), std::string(Trim(line.substr(colon + 1))));
    pos = end + 2;
  }
  buffer_.erase(0, head_end + 4);
  if (status >= 100 && status < 200) {
    r.status = status;  // an interim answer: no body
    return r;
  }
  const std::optional<std::string> cl = r.Header("content-length");
  if (status == 204 && (!cl || *cl == "0")) {
    // RFC 9110 section 8.6: a 204 has no body and a server MUST NOT send Content-Length in it
    // (docs/http.md says every response carries one: "Content-Length: 0" is accepted too).
    r.status = status;
    return r;
  }
  if (!cl || cl->empty() || cl->size() > 12 || !std::all_of(cl->begin(), cl->end(), IsDigit)) {
    r.error = "a response without a valid Content-Length";
    return r;
  }
  const uint64_t length = std::stoull(*cl);
  if (length > kMaxResponseBody) {
    r.error = "Content-Length " + *cl + " above the test's limit";
    return r;
  }
  if (!head_request) {
    while (buffer_.size() < length) {
      const ssize_t n = Fill();
      if (n <= 0) {
        r.error = RecvError(n, errno) + " after " + std::to_string(buffer_.size()) + " of " +
                  std::to_string(length) + " body bytes";
        return r;
      }
    }
    r.body = buffer_.substr(0, length);
    buffer_.erase(0, length);
  }
  r.status = status;
  return r;
}

Response Client::Call(std::string_view request, bool head_request) {
  if (!Send(request)) {
    Response r;
    r.error = error_;
    return r;
  }
  return Read(head_request);
}

bool Client::Readable(std::chrono::milliseconds wait) {
  if (!buffer_.empty()) {
    return true;
  }
  pollfd p{fd_, POLLIN, 0};
  int n;
  do {
    n = ::poll(&p, 1, static_cast<int>(wait.count()));
  } while (n < 0 && errno == EINTR);
  return n > 0;
}

bool Client::PeerClosed() {
  if (fd_ < 0) {
    error_ = "not connected";
    return false;
  }
  if (!buffer_.empty()) {
    error_ = "connection still open: " + std::to_string(buffer_.size()) +
             " B more after the response: '" + Escape(buffer_) + "'";
    return false;
  }
  const ssize_t n = Fill();
  if (n == 0 || (n < 0 && (errno == ECONNRESET || errno == EPIPE))) {
    return true;
  }
  if (n > 0) {
    error_ = "connection still open: " + std::to_string(buffer_.size()) +
             " B more after the response: '" + Escape(buffer_) + "'";
  } else if (errno == EAGAIN || errno == EWOULDBLOCK) {
    error_ = "connection still open " + std::to_string(kReceiveTimeoutS) +
             " s after the response (expected a close)";
  } else {
    error_ = std::string("recv: ") + std::strerror(errno);
  }
  return false;
}

std::string Pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x >> 24);
  }
  return s;
}

std::string Diff(std::string_view got, std::string_view want) {
  if (got == want) {
    return "";
  }
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) {
    ++i;
  }
  return "got " + std::to_string(got.size()) + " B, want " + std::to_string(want.size()) +
         " B; first difference at byte " + std::to_string(i);
}

std::string Escape(std::string_view s, size_t max) {
  std::string out;
  for (size_t i = 0; i < s.size() && i < max; ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if (c == '\r') {
      out += "\\r";
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\\') {
      out += "\\\\";
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char kHex[] = "0123456789abcdef";
      out += "\\x";
      out += kHex[c >> 4];
      out += kHex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  if (s.size() > max) {
    out += "...(" + std::to_string(s.size()) + " B)";
  }
  return out;
}

}  // namespace pastel::integration
