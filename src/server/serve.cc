// The servers' shared set-up (pastel/server.h).

#include <signal.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <cstdio>
#include <cstring>

#include "pastel/net.h"
#include "pastel/server.h"

namespace pastel::server {
namespace {

int Fail(const Config& cfg, const std::string& what, const Status& st) {
  std::fprintf(stderr, "%s: %s: %s\n", cfg.name.c_str(), what.c_str(), st.ToString().c_str());
  return 1;
}

}  // namespace

void AddOptions(CLI::App& app, Config* cfg, std::string_view timeout_answer) {
  app.add_option("--listen", cfg->listen, "ADDR:PORT to listen on (port 0: any)")
      ->capture_default_str();
  app.add_option("--pool", cfg->pool,
                 "pool file (created on first start; its log is POOL.log, its index POOL.index); "
                 "/dev/shm = emulated PM, a DAX mount = real PM, a regular file = page "
                 "granularity")
      ->capture_default_str();
  app.add_option("--pool-size", cfg->pool_size, "pool file size (K/M/G suffixes), when created")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--buffer-size", cfg->buffer_size, "packet buffer size (512..65536, power of 2)")
      ->capture_default_str();
  app.add_option("--log-size", cfg->log_size,
                 "bytes per log stream (one per thread), when created; K/M/G suffixes")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--index-size", cfg->index_size,
                 "index file size, when created (K/M/G suffixes; 0: seven eighths of the pool "
                 "size, at least 16M); it holds every checkpointed key")
      ->transform(CLI::AsSizeValue(false))
      ->capture_default_str();
  app.add_option("--persist", cfg->persist, "none | copy | inplace")
      ->check(CLI::IsMember({"none", "copy", "inplace"}))
      ->capture_default_str();
  app.add_option("--backend", cfg->backend, "uring | epoll")
      ->check(CLI::IsMember({"uring", "epoll"}))
      ->capture_default_str();
  app.add_option("--threads", cfg->threads, "event loops (each with its own pool partition)")
      ->check(CLI::Range(1, 64))
      ->capture_default_str();
  app.add_flag("--busy-poll", cfg->busy_poll, "spin on the completion queue instead of sleeping");
  app.add_option("--request-timeout", cfg->request_timeout_s,
                 "seconds a request may take to arrive whole once begun (" +
                     std::string(timeout_answer) +
                     " and close after; 0: no limit); idle connections are not timed out")
      ->check(CLI::Range(0.0, 86400.0))
      ->capture_default_str();
  app.add_option("--index-cache", cfg->index_cache,
                 "keys whose index entries stay in memory after a checkpoint (about 200 bytes "
                 "each; beyond, reads and overwrites of checkpointed keys look in the index file; "
                 "0: only what changed since the last checkpoint)")
      ->capture_default_str();
}

int Serve(const Config& cfg, const MakeProtocol& make) {
  const store::PersistMode mode = cfg.persist == "none"   ? store::PersistMode::kNone
                                  : cfg.persist == "copy" ? store::PersistMode::kCopy
                                                          : store::PersistMode::kInPlace;
  if (cfg.persist != "none" && cfg.persist != "copy" && cfg.persist != "inplace") {
    return Fail(cfg, "--persist", Status::InvalidArgument("must be none, copy or inplace"));
  }
  if (cfg.threads == 0 || cfg.threads > 64) {
    return Fail(cfg, "--threads", Status::InvalidArgument("must be 1..64"));
  }
  Result<BackendKind> kind = ParseBackendKind(cfg.backend);
  if (!kind.ok()) {
    return Fail(cfg, "--backend", kind.status());
  }
  if (*kind == BackendKind::kUring) {
    std::string why;
    if (Backend::Probe(&why) != BackendKind::kUring) {
      std::fprintf(stderr, "%s: io_uring backend unavailable (%s); using epoll\n", cfg.name.c_str(),
                   why.c_str());
      kind = BackendKind::kEpoll;
    }
  }

  // The pool, its log and its index file: opened and recovered, or created on first start.
  store::StoreFiles files;
  files.pool_path = cfg.pool;
  files.loops = cfg.threads;
  files.pool_size = cfg.pool_size;
  files.buffer_size = cfg.buffer_size;
  files.log_size = cfg.log_size;
  files.index_size = cfg.index_size;
  files.checkpoints = mode != store::PersistMode::kNone;
  files.index_cache_keys = cfg.index_cache;
  Result<std::unique_ptr<store::Store>> opened = store::Store::Open(files);
  if (!opened.ok()) {
    return Fail(cfg, "start", opened.status());
  }
  store::Store& st = **opened;
  Pool& pool = st.pool();
  Server server(st, cfg.threads);
  server.persist = cfg.persist;
  server.backend = std::string(BackendKindName(*kind));
  server.pool_path = cfg.pool;
  server.durability = st.Durability();
  const store::Store::Start& start = st.start();

  std::printf("pool %s: %u buffers of %u B, %u partition(s); durability: %s\n", cfg.pool.c_str(),
              pool.buffer_count(), pool.buffer_size(), pool.partitions(),
              server.durability.c_str());
  std::printf(
      "recovered %llu key(s) (%llu from the index file, %llu log record(s) replayed) in %.1f ms; "
      "persist %s, backend %s, %u thread(s)\n",
      static_cast<unsigned long long>(start.keys),
      static_cast<unsigned long long>(start.index_file_keys),
      static_cast<unsigned long long>(start.log_records), start.open_ms, cfg.persist.c_str(),
      server.backend.c_str(), cfg.threads);
  if (start.warming) {
    std::printf(
        "index file: serving at once; the file is verified and its buffer references counted "
        "in the background (no checkpoint until then)\n");
  }
  if (mode != store::PersistMode::kNone) {
    // What a write's acknowledgement waits for, on this medium with this backend.
    const bool page = pool.ops().granularity() == Granularity::kPage;
    std::printf("group commit: %s\n",
                !page ? "one fence per batch (cache-line flushes, sfence)"
                : *kind == BackendKind::kUring
                    ? "pipelined: each batch's syncs (fdatasync of its pool and log ranges) run "
                      "on io_uring while the next batch is received and parsed; its answers "
                      "follow their completion"
                    : "one synchronous sync per batch (the epoll backend cannot sync "
                      "asynchronously: use --backend uring on a regular file)");
  }
  if (mode == store::PersistMode::kNone) {
    std::printf("WARNING: --persist none: nothing is made durable; writes are lost on restart\n");
  }

  store::StoreOptions so;
  so.persist = mode;
  so.request_timeout_ms = static_cast<uint32_t>(cfg.request_timeout_s * 1000);
  so.reserve_buffers = std::min<uint32_t>(1024, pool.PartitionCount(0) / 8);
  NetOptions no;
  no.listen = cfg.listen;
  no.busy_poll = cfg.busy_poll;
  std::atomic<int> failed{0};
  Result<std::unique_ptr<LoopGroup>> group = LoopGroup::Start(
      *kind, pool, cfg.threads, no, [&](Backend& be, uint32_t i, const std::atomic<bool>& stop) {
        std::unique_ptr<store::Protocol> protocol = make(server, i);
        const Status s =
            store::RunLoop(st, i, be, *protocol, so, server.counters[i], cfg.name, stop);
        if (!s.ok()) {
          std::fprintf(stderr, "%s: loop %u: %s\n", cfg.name.c_str(), i, s.ToString().c_str());
          failed.store(1);
        }
      });
  if (!group.ok()) {
    return Fail(cfg, "listen " + cfg.listen, group.status());
  }
  server.port.store((*group)->port(), std::memory_order_relaxed);
  server.rx_shared.store((*group)->shares_buffers(), std::memory_order_relaxed);
  std::printf("receive buffers: %s\n",
              server.rx_shared.load(std::memory_order_relaxed)
                  ? "shared (io_uring incremental consumption: small requests of many "
                    "connections lie densely in one pool buffer)"
                  : "one per receive (a value kept in place holds a whole buffer; shared "
                    "buffers need the io_uring backend on Linux 6.12 or later)");
  const std::string host = cfg.listen.substr(0, cfg.listen.rfind(':'));
  std::printf("listening on %s:%u\n", host.c_str(), (*group)->port());
  std::fflush(stdout);

  // The main thread takes SIGINT/SIGTERM (blocked in every thread by main).
  const int sig = WaitForStopSignal([&] { return failed.load() != 0; });
  (*group)->Stop();
  std::printf("stopped (%s)\n", sig > 0 ? strsignal(sig) : "loop failure");
  return failed.load() != 0 ? 1 : 0;
}

}  // namespace pastel::server
