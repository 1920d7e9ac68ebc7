// pastel-httpd: an HTTP ingest and key-value server that persists every POST/PUT body in place,
// in the packet buffers it was received into, and answers only after the group commit that made
// it durable (docs/http.md).

#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <atomic>
#include <cstdio>
#include <cstring>
#include <memory>
#include <string>

#include "http_loop.h"
#include "metrics.h"
#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::httpd {
namespace {

struct Config {
  std::string listen = "127.0.0.1:8080";
  std::string pool = "/dev/shm/pastel-httpd.pool";
  uint64_t pool_size = 256ull << 20;
  uint32_t buffer_size = 2048;
  uint64_t log_size = 64ull << 20;
  std::string persist = "inplace";
  std::string backend = "uring";
  uint32_t threads = 1;
  bool busy_poll = false;
  uint64_t max_body = 1 << 20;
  double request_timeout_s = 30;
  uint64_t index_cache = store::StoreFiles{}.index_cache_keys;
};

int Fail(const std::string& what, const Status& st) {
  std::fprintf(stderr, "pastel-httpd: %s: %s\n", what.c_str(), st.ToString().c_str());
  return 1;
}

int Serve(const Config& cfg) {
  PersistMode mode;
  if (cfg.persist == "inplace") {
    mode = PersistMode::kInPlace;
  } else if (cfg.persist == "copy") {
    mode = PersistMode::kCopy;
  } else if (cfg.persist == "none") {
    mode = PersistMode::kNone;
  } else {
    return Fail("--persist", Status::InvalidArgument("must be none, copy or inplace"));
  }
  Result<BackendKind> kind = ParseBackendKind(cfg.backend);
  if (!kind.ok()) {
    return Fail("--backend", kind.status());
  }
  if (*kind == BackendKind::kUring) {
    std::string why;
    if (Backend::Probe(&why) != BackendKind::kUring) {
      std::fprintf(stderr, "pastel-httpd: io_uring backend unavailable (%s); using epoll\n",
                   why.c_str());
      kind = BackendKind::kEpoll;
    }
  }
  if (cfg.threads == 0 || cfg.threads > 64) {
    return Fail("--threads", Status::InvalidArgument("must be 1..64"));
  }

  // The pool and its log: opened and recovered, or created on first start.
  store::StoreFiles files;
  files.pool_path = cfg.pool;
  files.loops = cfg.threads;
  files.pool_size = cfg.pool_size;
  files.buffer_size = cfg.buffer_size;
  files.log_size = cfg.log_size;
  files.checkpoints = mode != PersistMode::kNone;
  files.index_cache_keys = cfg.index_cache;
  Result<store::OpenedStore> opened = store::OpenOrCreate(files);
  if (!opened.ok()) {
    return Fail("start", opened.status());
  }
  std::unique_ptr<Pool> pool = std::move(opened->pool);
  std::unique_ptr<Log> log = std::move(opened->log);
  const store::StoreRecovery& rec = opened->recovered;
  const uint64_t recoveries = opened->created ? 0 : 1;
  const double recover_ms = opened->open_ms;

  Index& index = *opened->index;
  Metrics metrics(*pool, index, cfg.threads, recoveries);
  std::atomic<uint64_t> none_seq{log->next_sequence() + (uint64_t{1} << 62)};

  std::printf("pool %s: %u buffers of %u B, %u partition(s); durability: %s\n", cfg.pool.c_str(),
              pool->buffer_count(), pool->buffer_size(), pool->partitions(),
              pool->file()->DescribeDurability().c_str());
  std::printf(
      "recovered %llu key(s) (%llu from the index file, %llu log record(s) replayed) in %.1f ms; "
      "persist %s, backend %s, %u thread(s)\n",
      static_cast<unsigned long long>(index.live_keys()),
      static_cast<unsigned long long>(rec.tree_live),
      static_cast<unsigned long long>(rec.log.records), recover_ms, cfg.persist.c_str(),
      std::string(BackendKindName(*kind)).c_str(), cfg.threads);
  if (mode == PersistMode::kNone) {
    std::printf("WARNING: --persist none: nothing is made durable; writes are lost on restart\n");
  }

  LoopOptions lo;
  lo.persist = mode;
  lo.limits.max_body = cfg.max_body;
  lo.request_timeout_ms = static_cast<uint32_t>(cfg.request_timeout_s * 1000);
  lo.reserve_buffers = std::min<uint32_t>(1024, pool->PartitionCount(0) / 8);
  NetOptions no;
  no.listen = cfg.listen;
  no.busy_poll = cfg.busy_poll;
  std::atomic<int> failed{0};
  Pool& p = *pool;
  Log& lg = *log;
  Result<std::unique_ptr<LoopGroup>> group = LoopGroup::Start(
      *kind, p, cfg.threads, no, [&](Backend& be, uint32_t i, const std::atomic<bool>& stop) {
        const std::vector<uint32_t> streams = store::LoopStreams(lg.stream_count(), cfg.threads, i);
        HttpLoop loop(be, p, i, &lg, streams, index, none_seq, lo, metrics, i);
        Status st = loop.Run(stop);
        if (!st.ok()) {
          std::fprintf(stderr, "pastel-httpd: loop %u: %s\n", i, st.ToString().c_str());
          failed.store(1);
        }
      });
  if (!group.ok()) {
    return Fail("listen " + cfg.listen, group.status());
  }
  const std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
  std::printf("listening on %s:%u\n", host.c_str(), (*group)->port());
  std::fflush(stdout);

  // The main thread takes SIGINT/SIGTERM (blocked in every thread by main).
  const int sig = WaitForStopSignal([&] { return failed.load() != 0; });
  (*group)->Stop();
  std::printf("stopped (%s)\n", sig > 0 ? strsignal(sig) : "loop failure");
  return failed.load() != 0 ? 1 : 0;
}

}  // namespace
}  // namespace pastel::httpd

int main(int argc, char** argv) {
  pastel::BlockStopSignals();  // before any thread starts

  pastel::httpd::Config cfg;
  CLI::App app{"pastel-httpd: durable HTTP ingest and key-value server (docs/http.md)"};
  app.add_option("--listen", cfg.listen, "ADDR:PORT to listen on (port 0: any)")
      ->capture_default_str();
  app.add_option("--pool", cfg.pool,
                 "pool file (created on first start; its log is POOL.log); /dev/shm = emulated "
                 "PM, a DAX mount = real PM, a regular file = page granularity")
      ->capture_default_str();
  app.add_option("--pool-size", cfg.pool_size, "pool file size (K/M/G suffixes), when created")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--buffer-size", cfg.buffer_size, "packet buffer size (512..65536, power of 2)")
      ->capture_default_str();
  app.add_option("--log-size", cfg.log_size,
                 "bytes per log stream (one per thread), when created; K/M/G suffixes")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--persist", cfg.persist, "none | copy | inplace")
      ->check(CLI::IsMember({"none", "copy", "inplace"}))
      ->capture_default_str();
  app.add_option("--backend", cfg.backend, "uring | epoll")
      ->check(CLI::IsMember({"uring", "epoll"}))
      ->capture_default_str();
  app.add_option("--threads", cfg.threads, "event loops (each with its own pool partition)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--busy-poll", cfg.busy_poll, "spin on the completion queue instead of sleeping");
  app.add_option("--max-body", cfg.max_body, "largest accepted body (413 beyond); K/M suffixes")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--request-timeout", cfg.request_timeout_s,
                 "seconds a request may take to arrive whole once begun (408 and close after; "
                 "0: no limit); idle keep-alive connections are not timed out")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--index-cache", cfg.index_cache,
                 "keys whose index entries stay in memory after a checkpoint (about 200 bytes "
                 "each; beyond, reads and overwrites of checkpointed keys look in the index file; "
                 "0: only what changed since the last checkpoint)")
      ->capture_default_str();
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e) == 0 ? 0 : 2;
  }
  return pastel::httpd::Serve(cfg);
}
