#pragma once
// The network side of pastel-baseline: N event loops, each a thread with its own listening socket
// (SO_REUSEPORT on one port, so the kernel spreads connections across them), a level-triggered
// epoll instance, non-blocking sockets, and per connection a private receive buffer that read()
// fills. Requests are parsed in that buffer (pipelining, keep-alive, Expect: 100-continue) and
// served from the Store, which persists each write before the loop answers it (docs/http.md).
//
// Threads: the Server object belongs to the thread that started it (Start, Stop, the destructor).
// Loop i and its connections belong to loop i's thread; loop i writes with Store thread index i.
// The only state shared between loops is the Store (see there) and the per-loop counters, which
// their loop writes and /metrics (any loop) reads with relaxed atomics.

#include <atomic>
#include <cstdint>
#include <memory>
#include <string>
#include <thread>
#include <vector>

#include "pastel/http.h"
#include "pastel/status.h"
#include "store.h"

namespace pastel::baseline {

// The listening sockets of all loops: one per loop, bound to the same address and port. Made
// before the store is opened, so that a bad or busy address fails before any file is created.
// Owns the descriptors until a Server takes them.
class Listeners {
 public:
  // With port 0 in `addr`, the first socket picks a free port and the others join it.
  static Result<Listeners> Open(const std::string& addr, uint32_t count);
  Listeners(Listeners&& other) noexcept;
  Listeners& operator=(Listeners&& other) noexcept;
  Listeners(const Listeners&) = delete;
  Listeners& operator=(const Listeners&) = delete;
  ~Listeners();

  uint16_t port() const { return port_; }
  // The host part of the address ("127.0.0.1").
  const std::string& host() const { return host_; }

 private:
  friend class Server;
  Listeners() = default;
  void Close();

  std::vector<int> fds_;
  uint16_t port_ = 0;
  std::string host_;
};

struct ServerOptions {
  // The target is the key: above the log's limit a request is refused (414), as pastel-httpd does.
  http::Limits limits{.max_target = kMaxKeyLen};
  // A request (head and body) must arrive whole within this many milliseconds of its first bytes,
  // else 408 and the connection is closed (slowloris). Idle connections are not timed out. 0: none.
  uint32_t request_timeout_ms = 30000;
};

class Loop;

class Server {
 public:
  // Starts one loop thread per listener; loop i writes through Store thread index i.
  static Result<std::unique_ptr<Server>> Start(Store& store, Listeners listeners,
                                               const ServerOptions& options);
  ~Server();
  Server(const Server&) = delete;
  Server& operator=(const Server&) = delete;

  // Asks every loop to stop (each notices within 100 ms), joins them and closes every socket.
  void Stop();
  // True once a loop stopped on an error it could not handle (printed on stderr).
  bool failed() const { return failed_.load(std::memory_order_acquire); }
  uint16_t port() const { return port_; }

  // The Prometheus text of /metrics: every loop's counters and the store's.
  std::string RenderMetrics() const;

 private:
  explicit Server(Store& store);

  Store& store_;
  std::vector<std::unique_ptr<Loop>> loops_;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  std::atomic<bool> failed_{false};  // release by a failing loop, acquire by failed()
  uint16_t port_ = 0;
};

}  // namespace pastel::baseline
