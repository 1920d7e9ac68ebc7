// pastel-baseline: the HTTP protocol and durability promise of pastel-httpd (docs/http.md), written
// the way a Linux programmer would today: epoll, read() into private memory, copy each body into
// a persistent pool file, flush + fence (or fdatasync) per request, then answer. It is the
// baseline of the seed benchmark.

#include <signal.h>

#include <CLI/CLI.hpp>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <memory>
#include <string>

#include "pastel/log.h"
#include "pastel/net.h"
#include "server.h"
#include "store.h"

namespace pastel::baseline {
namespace {

struct Config {
  std::string listen = "127.0.0.1:8081";
  StoreOptions store;
  std::string sync = "flush";
  uint64_t max_body = 1 << 20;
  double request_timeout_s = 30;
};

// Exit codes: 0 stopped by a signal, 1 a failure at run time, 2 a bad command line.
int Fail(const std::string& what, const Status& st) {
  std::fprintf(stderr, "pastel-baseline: %s: %s\n", what.c_str(), st.ToString().c_str());
  return st.code() == StatusCode::kInvalidArgument ? 2 : 1;
}

int Serve(Config cfg) {
  cfg.store.sync = cfg.sync == "fdatasync" ? SyncMode::kFdatasync : SyncMode::kFlush;
  // The sockets first: a bad or busy address fails before any file is created.
  Result<Listeners> listeners = Listeners::Open(cfg.listen, cfg.store.threads);
  if (!listeners.ok()) {
    return Fail("listen " + cfg.listen, listeners.status());
  }
  Result<std::unique_ptr<Store>> store = Store::Open(cfg.store);
  if (!store.ok()) {
    return Fail("open the store", store.status());
  }
  std::printf("pool %s: %s; sync %s; durability: %s\n", cfg.store.pool_path.c_str(),
              (*store)->DescribeContents().c_str(), cfg.sync.c_str(),
              (*store)->DescribeDurability().c_str());

  ServerOptions so;
  so.limits.max_body = cfg.max_body;
  so.request_timeout_ms = static_cast<uint32_t>(cfg.request_timeout_s * 1000);
  const std::string host = listeners->host();
  Result<std::unique_ptr<Server>> server = Server::Start(**store, std::move(listeners).value(), so);
  if (!server.ok()) {
    return Fail("start", server.status());
  }
  std::printf("listening on %s:%u\n", host.c_str(), (*server)->port());
  std::fflush(stdout);

  // SIGINT/SIGTERM are blocked in every thread (see main) and taken here.
  const int sig = WaitForStopSignal([&] { return (*server)->failed(); });
  const bool failed = (*server)->failed();
  (*server)->Stop();
  std::fprintf(stderr, "pastel-baseline: stopped (%s)\n",
               failed ? "a loop failed" : (sig == SIGINT ? "SIGINT" : "SIGTERM"));
  return failed ? 1 : 0;
}

}  // namespace
}  // namespace pastel::baseline

namespace {

int Main(int argc, char** argv) {
  pastel::BlockStopSignals();  // before any thread starts

  pastel::baseline::Config cfg;
  CLI::App app{
      "pastel-baseline: the Linux-style baseline of pastel-httpd (docs/http.md): epoll, read() "
      "into private buffers, copy into the pool, one flush + fence (or fdatasync) per write"};
  app.add_option("--listen", cfg.listen, "ADDR:PORT to listen on (port 0: any free port)")
      ->capture_default_str();
  app.add_option("--pool", cfg.store.pool_path,
                 "pool file (created on first start, its log is POOL.log); /dev/shm = emulated "
                 "PM, a regular file = page granularity")
      ->capture_default_str();
  app.add_option("--pool-size", cfg.store.pool_size,
                 "pool file size when created (bytes; suffixes KiB, MiB, GiB accepted)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{1} << 20, uint64_t{1} << 42))
      ->capture_default_str();
  app.add_option("--buffer-size", cfg.store.buffer_size,
                 "pool buffer size when created (a power of two, 512 .. 65536)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Validator(
          [](std::string& s) -> std::string {
            const uint64_t v = std::strtoull(s.c_str(), nullptr, 10);
            if (v < 512 || v > 65536 || (v & (v - 1)) != 0) {
              return "must be a power of two in 512 .. 65536, not " + s;
            }
            return {};
          },
          "POWER_OF_TWO"))
      ->capture_default_str();
  app.add_option("--log-size", cfg.store.log_size,
                 "log bytes per thread when created (rounded up to 4 KiB; each write takes one "
                 "64 B record for a short key)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{8} << 10, uint64_t{1} << 40))
      ->capture_default_str();
  app.add_option("--threads", cfg.store.threads,
                 "event loops; each has its own listener, pool partition and log stream")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_option("--max-body", cfg.max_body, "largest accepted body in bytes (413 beyond)")
      ->transform(CLI::AsSizeValue(false))
      ->check(CLI::Range(uint64_t{0}, uint64_t{1} << 30))
      ->capture_default_str();
  app.add_option("--request-timeout", cfg.request_timeout_s,
                 "seconds a request may take to arrive whole once begun (408 and close after; "
                 "0: no limit); idle keep-alive connections are not timed out")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--sync", cfg.sync,
                 "flush: the pool's own persist ops (clwb + sfence on /dev/shm, msync on a "
                 "file); fdatasync: page granularity, fdatasync of pool and log per write")
      ->check(CLI::IsMember({"flush", "fdatasync"}))
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  cfg.store.log_size = (cfg.store.log_size + 4095) / 4096 * 4096;
  return pastel::baseline::Serve(std::move(cfg));
}

}  // namespace

int main(int argc, char** argv) {
  // Nothing below throws on purpose; this only keeps an unexpected exception (bad_alloc, a
  // thread that cannot start) from escaping main.
  try {
    return Main(argc, argv);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "pastel-baseline: %s\n", e.what());
    return 1;
  }
}
