#pragma once
// A deliberately small RESP2 client for black-box tests of pastel-kv: it sends raw bytes (so that
// pipelines, splits and malformed commands are written exactly) and parses replies strictly,
// keeping the bytes after one reply for the next, so pipelined answers and closes are checked in
// order.
//
// Blocking loopback sockets with a 10 s receive and send timeout (kReceiveTimeoutS); EINTR is
// retried. One client per thread, with one exception: a pipelining test may call Send on one
// thread while another thread calls Read (and nothing else) on the same client; the two touch
// disjoint state (Send only the socket, Read the receive buffer).

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#include <cerrno>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "tests/integration/http_test_client.h"
#include "tests/support/resp_command.h"

namespace pastel::integration {

// One RESP2 reply.
struct Reply {
  char type = 0;    // '+' '-' ':' '$' '*'; 0: no complete reply arrived (`error` says why)
  std::string str;  // simple string, error message or bulk bytes
  int64_t integer = 0;
  bool null = false;  // $-1 or *-1
  std::vector<Reply> elems;
  std::string error;

  bool Is(std::string_view simple) const { return type == '+' && str == simple; }
  bool IsErr(std::string_view prefix) const {
    return type == '-' && std::string_view(str).starts_with(prefix);
  }
  bool IsInt(int64_t v) const { return type == ':' && integer == v; }
  bool IsBulk(std::string_view v) const { return type == '$' && !null && str == v; }
  bool IsNull() const { return type == '$' && null; }
  std::string Describe() const {
    if (type == 0) {
      return "no reply (" + error + ")";
    }
    if (type == '*') {
      std::string s = "array of " + std::to_string(elems.size()) + ": [";
      for (size_t i = 0; i < elems.size() && i < 8; ++i) {
        s += elems[i].Describe() + (i + 1 < elems.size() ? ", " : "");
      }
      return s + (elems.size() > 8 ? "...]" : "]");
    }
    if (type == ':') {
      return ":" + std::to_string(integer);
    }
    if (null) {
      return "(nil)";
    }
    return std::string(1, type) + Escape(str);
  }
};

// A blocking loopback RESP client (see the file comment for its threading).
class RespClient {
 public:
  explicit RespClient(uint16_t port) {
    fd_ = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd_ < 0) {
      return;
    }
    sockaddr_in a{};
    a.sin_family = AF_INET;
    a.sin_port = htons(port);
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    timeval tv{kReceiveTimeoutS, 0};
    ::setsockopt(fd_, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
    ::setsockopt(fd_, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    int rc;
    do {
      rc = ::connect(fd_, reinterpret_cast<sockaddr*>(&a), sizeof(a));
    } while (rc != 0 && errno == EINTR);
    if (rc != 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  ~RespClient() { Close(); }
  RespClient(const RespClient&) = delete;
  RespClient& operator=(const RespClient&) = delete;

  bool connected() const { return fd_ >= 0; }
  // The client's own port (as the server sees it: CLIENT LIST's addr), 0 when unknown.
  uint16_t LocalPort() const {
    sockaddr_in a{};
    socklen_t len = sizeof(a);
    if (fd_ < 0 || ::getsockname(fd_, reinterpret_cast<sockaddr*>(&a), &len) != 0) {
      return 0;
    }
    return ntohs(a.sin_port);
  }
  void Close() {
    if (fd_ >= 0) {
      ::close(fd_);
      fd_ = -1;
    }
  }
  // Sends all of `bytes`; false when the connection failed (closed, reset, or the send timeout).
  bool Send(std::string_view bytes) {
    if (fd_ < 0) {
      return false;
    }
    while (!bytes.empty()) {
      const ssize_t n = ::send(fd_, bytes.data(), bytes.size(), MSG_NOSIGNAL);
      if (n <= 0) {
        if (n < 0 && errno == EINTR) {
          continue;
        }
        return false;
      }
      bytes.remove_prefix(static_cast<size_t>(n));
    }
    return true;
  }
  // Reads one reply (type 0 with `error` when none arrived whole).
  Reply Read() {
    Reply r;
    if (!ReadInto(&r)) {
      r.type = 0;
      if (r.error.empty()) {
        r.error = "connection closed or timed out";
      }
    }
    return r;
  }
  Reply Call(const std::vector<std::string_view>& args) {
    if (!Send(pastel::testing::RespCommand(args))) {
      Reply r;
      r.error = "send failed";
      return r;
    }
    return Read();
  }
  // True when the server closed the connection (end-of-file or reset) with nothing more to read.
  bool PeerClosed() {
    if (Buffered() > 0) {
      return false;
    }
    char c;
    ssize_t n;
    do {
      n = ::recv(fd_, &c, 1, 0);
    } while (n < 0 && errno == EINTR);
    return n == 0 || (n < 0 && errno == ECONNRESET);
  }

 private:
  size_t Buffered() const { return buffer_.size() - start_; }
  bool Fill() {
    if (fd_ < 0) {
      return false;
    }
    // Drop what was consumed before growing the buffer (pipelines of thousands of replies).
    if (start_ > 0 && start_ * 2 >= buffer_.size()) {
      buffer_.erase(0, start_);
      start_ = 0;
    }
    char buf[65536];
    for (;;) {
      const ssize_t n = ::recv(fd_, buf, sizeof(buf), 0);
      if (n > 0) {
        buffer_.append(buf, static_cast<size_t>(n));
        return true;
      }
      if (n < 0 && errno == EINTR) {
        continue;
      }
      return false;
    }
  }
  bool Line(std::string* out) {
    size_t pos;
    while ((pos = buffer_.find("\r\n", start_)) == std::string::npos) {
      if (!Fill()) {
        return false;
      }
    }
    *out = buffer_.substr(start_, pos - start_);
    start_ = pos + 2;
    return true;
  }
  bool ReadInto(Reply* r) {
    std::string line;
    if (!Line(&line) || line.empty()) {
      return false;
    }
    r->type = line[0];
    const std::string rest = line.substr(1);
    switch (r->type) {
      case '+':
      case '-': r->str = rest; return true;
      case ':': r->integer = std::strtoll(rest.c_str(), nullptr, 10); return true;
      case '$': {
        const long long n = std::strtoll(rest.c_str(), nullptr, 10);
        if (n < 0) {
          r->null = true;
          return true;
        }
        while (Buffered() < static_cast<size_t>(n) + 2) {
          if (!Fill()) {
            return false;
          }
        }
        if (buffer_.compare(start_ + static_cast<size_t>(n), 2, "\r\n") != 0) {
          r->error = "bulk not followed by CRLF";
          return false;
        }
        r->str = buffer_.substr(start_, static_cast<size_t>(n));
        start_ += static_cast<size_t>(n) + 2;
        return true;
      }
      case '*': {
        const long long n = std::strtoll(rest.c_str(), nullptr, 10);
        if (n < 0) {
          r->null = true;
          return true;
        }
        for (long long i = 0; i < n; ++i) {
          Reply e;
          if (!ReadInto(&e)) {
            return false;
          }
          r->elems.push_back(std::move(e));
        }
        return true;
      }
      default: r->error = "unknown reply type: " + Escape(line); return false;
    }
  }

  int fd_ = -1;
  std::string buffer_;  // received; bytes before start_ are consumed
  size_t start_ = 0;
};

}  // namespace pastel::integration
