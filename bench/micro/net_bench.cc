// BM_Net_Echo/<server>/<request bytes>/<connections>: request/response over loopback, the server
// pinned to one core and the client to another, closed loop (each connection has one request in
// flight). Servers, each in its own process:
//   uring  pastel's io_uring backend: receives land in pool buffers, one io_uring_enter per batch
//   epoll  pastel's epoll backend: recv() straight into pool buffers, one epoll_wait per batch
//   plain  what a Linux programmer writes today: epoll, read() into a private buffer, write()
// The response echoes the request. items_per_second = round trips per second; compare the three
// at the same size and connection count, in the same run.
//
// PASTEL_BENCH_SERVER_CPU (default 0) and PASTEL_BENCH_CLIENT_CPU (default 1) choose the cores.

#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sched.h>
#include <signal.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <string>
#include <vector>

#include "bench/micro/bench_util.h"
#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::bench {
namespace {

enum class Server : int { kUring, kEpoll, kPlain };
const char* ServerName(Server s) {
  return s == Server::kUring ? "uring" : s == Server::kEpoll ? "epoll" : "plain";
}

int EnvInt(const char* name, int dflt) {
  const char* v = std::getenv(name);
  return v != nullptr ? std::atoi(v) : dflt;
}

void Pin(int cpu) {
  cpu_set_t set;
  CPU_ZERO(&set);
  CPU_SET(cpu, &set);
  (void)sched_setaffinity(0, sizeof(set), &set);
}

// The plain server: level-triggered epoll, read() into a private buffer, write() it back.
[[noreturn]] void RunPlain(int listen_fd) {
  const int ep = epoll_create1(0);
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.fd = listen_fd;
  epoll_ctl(ep, EPOLL_CTL_ADD, listen_fd, &ev);
  std::vector<epoll_event> events(512);
  std::vector<char> buf(64 * 1024);
  while (true) {
    const int n = epoll_wait(ep, events.data(), static_cast<int>(events.size()), -1);
    for (int i = 0; i < n; ++i) {
      const int fd = events[i].data.fd;
      if (fd == listen_fd) {
        const int c = accept4(listen_fd, nullptr, nullptr, SOCK_NONBLOCK);
        if (c >= 0) {
          const int one = 1;
          setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
          epoll_event cev{};
          cev.events = EPOLLIN;
          cev.data.fd = c;
          epoll_ctl(ep, EPOLL_CTL_ADD, c, &cev);
        }
        continue;
      }
      const ssize_t r = read(fd, buf.data(), buf.size());
      if (r <= 0) {
        if (r == 0 || (errno != EAGAIN && errno != EINTR)) {
          close(fd);
        }
        continue;
      }
      ssize_t off = 0;
      while (off < r) {
        const ssize_t w = write(fd, buf.data() + off, static_cast<size_t>(r - off));
        if (w <= 0) {
          break;
        }
        off += w;
      }
    }
  }
}

// pastel's backends: echo every data slot (copied into the TX arena), give the buffer back.
[[noreturn]] void RunBackend(BackendKind kind, int listen_fd, const std::string& pool_path) {
  PoolParams pp;
  pp.buffer_size = 2048;
  pp.buffer_count = 8192;
  auto pool = Pool::Create(pool_path, 0, pp);
  if (!pool.ok()) {
    _exit(2);
  }
  NetOptions o;
  o.listen_fd = listen_fd;
  auto be = Backend::Create(kind, **pool, 0, o);
  if (!be.ok()) {
    _exit(3);
  }
  Pool& p = **pool;
  while (true) {
    auto batch = (*be)->Poll(-1);
    if (!batch.ok()) {
      _exit(4);
    }
    for (const RxSlot& s : *batch) {
      if (s.kind == RxKind::kData) {
        (void)(*be)->Send(s.conn, {p.BufferData(s.buffer) + s.offset, s.length});
        (void)(*be)->Release(s.buffer);
      }
    }
  }
}

// Nanoseconds the process has run on a CPU (first field of /proc/<pid>/schedstat).
uint64_t CpuNs(pid_t pid) {
  const std::string path = "/proc/" + std::to_string(pid) + "/schedstat";
  FILE* f = std::fopen(path.c_str(), "r");
  unsigned long long ns = 0;
  if (f != nullptr) {
    if (std::fscanf(f, "%llu", &ns) != 1) {
      ns = 0;
    }
    std::fclose(f);
  }
  return ns;
}

struct ServerProcess {
  pid_t pid = -1;
  uint16_t port = 0;
  ~ServerProcess() {
    if (pid > 0) {
      kill(pid, SIGKILL);
      waitpid(pid, nullptr, 0);
    }
  }
};

bool StartServer(Server s, const std::string& pool_path, ServerProcess* out) {
  Result<int> fd = ListenTcp("127.0.0.1:0");
  if (!fd.ok()) {
    return false;
  }
  out->port = *LocalPort(*fd);
  out->pid = fork();
  if (out->pid == 0) {
    Pin(EnvInt("PASTEL_BENCH_SERVER_CPU", 0));
    if (s == Server::kPlain) {
      RunPlain(*fd);
    }
    RunBackend(s == Server::kUring ? BackendKind::kUring : BackendKind::kEpoll, *fd, pool_path);
  }
  close(*fd);
  return out->pid > 0;
}

void BM_Net_Echo(benchmark::State& state) {
  const auto server = static_cast<Server>(state.range(0));
  const auto size = static_cast<size_t>(state.range(1));
  const auto conns = static_cast<int>(state.range(2));
  state.SetLabel(ServerName(server));
  TempDir dir = TempDir::Make("/dev/shm");
  ServerProcess sp;
  if (!dir.ok() || !StartServer(server, dir.path() + "/pool", &sp)) {
    state.SkipWithError("server did not start");
    return;
  }
  Pin(EnvInt("PASTEL_BENCH_CLIENT_CPU", 1));
  const int ep = epoll_create1(0);
  std::vector<int> fds;
  std::vector<size_t> got(static_cast<size_t>(conns), 0);
  const std::string req(size, 'q');
  std::vector<char> buf(64 * 1024);
  sockaddr_in sa{};
  sa.sin_family = AF_INET;
  sa.sin_port = htons(sp.port);
  sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  for (int i = 0; i < conns; ++i) {
    const int fd = socket(AF_INET, SOCK_STREAM, 0);
    const int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    bool connected = false;
    for (int t = 0; t < 200 && !connected; ++t) {
      connected = connect(fd, reinterpret_cast<sockaddr*>(&sa), sizeof(sa)) == 0;
      if (!connected) {
        usleep(5000);
      }
    }
    if (!connected) {
      state.SkipWithError("connect failed");
      return;
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u32 = static_cast<uint32_t>(i);
    epoll_ctl(ep, EPOLL_CTL_ADD, fd, &ev);
    fds.push_back(fd);
  }
  for (int fd : fds) {
    (void)!write(fd, req.data(), req.size());
  }
  std::vector<epoll_event> events(static_cast<size_t>(conns));
  uint64_t done = 0;
  uint64_t eintr = 0;
  uint64_t cpu0 = 0;
  bool first = true;
  for (auto _ : state) {
    if (first) {
      cpu0 = CpuNs(sp.pid);
      first = false;
    }
    // One iteration: `conns` round trips complete (any connections).
    uint64_t target = done + static_cast<uint64_t>(conns);
    while (done < target) {
      const int n = epoll_wait(ep, events.data(), conns, 5000);
      if (n < 0 && errno == EINTR) {
        // Seen with the uring server on this kernel: the client's waits are interrupted now and
        // then although no signal is delivered. Counted, and retried.
        ++eintr;
        continue;
      }
      if (n <= 0) {
        state.SkipWithError("no response within 5 s");
        break;
      }
      for (int k = 0; k < n; ++k) {
        const uint32_t i = events[static_cast<size_t>(k)].data.u32;
        const ssize_t r = read(fds[i], buf.data(), buf.size());
        if (r <= 0) {
          continue;
        }
        got[i] += static_cast<size_t>(r);
        if (got[i] >= size) {
          got[i] -= size;
          ++done;
          (void)!write(fds[i], req.data(), req.size());
        }
      }
    }
  }
  state.SetItemsProcessed(static_cast<int64_t>(done));
  // Server CPU per round trip: the client core saturates first on a 2-core machine, so this is
  // where the servers differ.
  const uint64_t cpu = CpuNs(sp.pid) - cpu0;
  state.counters["srv_ns_per_req"] = done > 0 ? static_cast<double>(cpu) / done : 0;
  state.counters["srv_cpu_util"] =
      benchmark::Counter(static_cast<double>(cpu) / 1e9, benchmark::Counter::kIsRate);
  state.counters["conns"] = conns;
  state.counters["eintr"] = static_cast<double>(eintr);
  for (int fd : fds) {
    close(fd);
  }
  close(ep);
}

void Args(benchmark::internal::Benchmark* b) {
  for (int s : {0, 1, 2}) {
    for (int size : {64, 1024}) {
      for (int conns : {1, 16, 64, 256}) {
        b->Args({s, size, conns});
      }
    }
  }
  b->ArgNames({"server", "bytes", "conns"});
  b->UseRealTime();
}

BENCHMARK(BM_Net_Echo)->Apply(Args);

}  // namespace
}  // namespace pastel::bench

int main(int argc, char** argv) {
  if (pastel::Backend::Probe() != pastel::BackendKind::kUring) {
    std::fprintf(stderr, "note: io_uring unsupported here; the uring rows will fail to start\n");
  }
  return pastel::bench::RunBenchmarks(argc, argv);
}
