#pragma once
// Test helpers for the data path: a server loop on its own thread (a Backend must live on the
// thread that created it), and blocking loopback clients with timeouts.

#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cerrno>
#include <functional>
#include <future>
#include <memory>
#include <string>
#include <thread>

#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::testing {

// Runs `on_batch` for every Poll of a backend created on the loop thread.
class LoopThread {
 public:
  using OnBatch = std::function<void(Backend&, std::span<const RxSlot>)>;

  LoopThread(BackendKind kind, Pool& pool, NetOptions options, OnBatch on_batch,
             uint32_t partition = 0) {
    std::promise<Status> ready;
    std::future<Status> f = ready.get_future();
    thread_ = std::thread([this, kind, &pool, options, on_batch, partition, &ready] {
      Result<std::unique_ptr<Backend>> b = Backend::Create(kind, pool, partition, options);
      if (!b.ok()) {
        ready.set_value(b.status());
        return;
      }
      Backend& be = **b;
      port_ = be.port();
      ready.set_value(Status::Ok());
      while (!stop_.load()) {
        Result<std::span<const RxSlot>> batch = be.Poll(5);
        if (!batch.ok()) {
          ADD_FAILURE() << batch.status().ToString();
          break;
        }
        on_batch(be, *batch);
        connections_.store(be.connections());
        stats_ = be.stats();
        polls_.fetch_add(1);
      }
      final_stats_ = be.stats();
    });
    status_ = f.get();
  }
  ~LoopThread() { Stop(); }

  const Status& status() const { return status_; }
  uint16_t port() const { return port_; }
  uint32_t connections() const { return connections_.load(); }
  uint64_t polls() const { return polls_.load(); }
  // Stops the loop; the backend is destroyed on its thread. Returns its final counters.
  NetStats Stop() {
    stop_.store(true);
    if (thread_.joinable()) {
      thread_.join();
    }
    return final_stats_;
  }

 private:
  std::thread thread_;
  Status status_;
  uint16_t port_ = 0;
  std::atomic<bool> stop_{false};
  std::atomic<uint32_t> connections_{0};
  std::atomic<uint64_t> polls_{0};
  NetStats stats_;
  NetStats final_stats_;
};

inline int Connect(uint16_t port, int timeout_s = 20) {
  const int fd = ::socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  timeval tv{timeout_s, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
  ::setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
  const int one = 1;
  ::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
  if (::connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) != 0) {
    // With SO_SNDTIMEO set, a signal (or io_uring task work) interrupts connect with EINTR
    // while the handshake goes on: wait for it to finish.
    int err = errno;
    if (err == EINTR || err == EINPROGRESS) {
      pollfd p{fd, POLLOUT, 0};
      while (::poll(&p, 1, timeout_s * 1000) < 0 && errno == EINTR) {
      }
      socklen_t len = sizeof(err);
      ::getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len);
    }
    if (err != 0 && err != EINTR) {
      ::close(fd);
      return -1;
    }
  }
  return fd;
}

inline bool SendAll(int fd, std::string_view s) {
  size_t off = 0;
  while (off < s.size()) {
    const ssize_t n = ::send(fd, s.data() + off, s.size() - off, MSG_NOSIGNAL);
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n <= 0) {
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

// Reads exactly n bytes (or fewer on EOF, error or timeout).
inline std::string RecvN(int fd, size_t n) {
  std::string out(n, '\0');
  size_t off = 0;
  while (off < n) {
    const ssize_t r = ::recv(fd, out.data() + off, n - off, 0);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      break;
    }
    off += static_cast<size_t>(r);
  }
  out.resize(off);
  return out;
}

// True when the peer closed: recv returns 0 within the timeout.
inline bool PeerClosed(int fd) {
  char c;
  ssize_t r;
  do {
    r = ::recv(fd, &c, 1, 0);
  } while (r < 0 && errno == EINTR);
  return r == 0;
}

// "" when equal, else where and how `got` differs from `want` (no binary dumps in test logs).
inline std::string Diff(const std::string& got, const std::string& want) {
  if (got == want) {
    return "";
  }
  size_t i = 0;
  while (i < got.size() && i < want.size() && got[i] == want[i]) {
    ++i;
  }
  return "got " + std::to_string(got.size()) + " bytes, want " + std::to_string(want.size()) +
         "; first difference at byte " + std::to_string(i);
}

inline std::string Pattern(size_t n, uint64_t seed) {
  std::string s(n, '\0');
  uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;
  for (size_t i = 0; i < n; ++i) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    s[i] = static_cast<char>(x);
  }
  return s;
}

}  // namespace pastel::testing
