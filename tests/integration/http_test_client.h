#pragma once
// A deliberately small HTTP/1.1 client for black-box tests: it sends raw bytes (so that pipelined,
// split or malformed requests can be written exactly) and parses responses strictly (status line,
// headers, a Content-Length body), keeping the bytes that follow one response for the next, so
// pipelined answers and closes are checked byte for byte.
//
// Blocking loopback sockets with a 10 s receive timeout; EINTR is retried. One Client per thread.

#include <chrono>
#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace pastel::integration {

inline constexpr int kReceiveTimeoutS = 10;

struct Response {
  int status = -1;  // -1: no complete response arrived; `error` says why
  std::string error;
  std::string status_line;                                   // without CRLF
  std::vector<std::pair<std::string, std::string>> headers;  // names lower-cased, values trimmed
  std::string body;

  bool ok() const { return status >= 0; }
  // The value of the first header named `name` (case-insensitive).
  std::optional<std::string> Header(std::string_view name) const;
  // True when a `Connection` header lists `close`.
  bool ConnectionClose() const;
  // Status line and headers, for failure messages.
  std::string Describe() const;
};

// A request as bytes: "<method> <target> <version>\r\nHost: 127.0.0.1\r\n[Content-Length: n\r\n]
// <extra_headers>\r\n<body>". `extra_headers` must end each line with CRLF.
std::string Request(std::string_view method, std::string_view target,
                    std::optional<std::string_view> body = std::nullopt,
                    std::string_view extra_headers = "", std::string_view version = "HTTP/1.1");

class Client {
 public:
  // Connects to 127.0.0.1:port (check connected()).
  explicit Client(uint16_t port);
  ~Client();
  Client(const Client&) = delete;
  Client& operator=(const Client&) = delete;

  bool connected() const { return fd_ >= 0; }
  // Why the last failing call failed.
  const std::string& error() const { return error_; }

  bool Send(std::string_view bytes);
  // Sends `bytes` in pieces of at most `piece` bytes with a pause after each.
  bool SendInPieces(std::string_view bytes, size_t piece, std::chrono::microseconds pause);
  // True when a byte from the server (or its close) is waiting or arrives within `wait`.
  bool Readable(std::chrono::milliseconds wait);
  // Reads one response. `head_request`: the answer to HEAD, whose body is not sent.
  Response Read(bool head_request = false);
  Response Call(std::string_view request, bool head_request = false);

  // True when the server has closed the connection after the responses read so far: no further
  // byte arrives and the next read sees end-of-file (or a reset, when the server closed with
  // request bytes unread). Waits up to the receive timeout.
  bool PeerClosed();

  // Closes the socket now (a client going away).
  void Close();

 private:
  // Appends what one recv returns to buffer_. >0 bytes, 0 end-of-file, -1 error (errno kept).
  ssize_t Fill();

  int fd_ = -1;
  std::string buffer_;  // received, not yet consumed
  std::string error_;
};

// Deterministic bytes (xorshift) of length `n` from `seed`: every byte value occurs, CR LF too.
std::string Pattern(size_t n, uint64_t seed);

// "" when equal, else the lengths and the first differing offset (no binary dumps in logs).
std::string Diff(std::string_view got, std::string_view want);

// Printable form of `s` (escapes), cut at `max` bytes.
std::string Escape(std::string_view s, size_t max = 160);

}  // namespace pastel::integration
