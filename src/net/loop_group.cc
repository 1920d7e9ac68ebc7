#include <signal.h>

#include <ctime>
#include <future>
#include <string>

#include "pastel/net.h"

namespace pastel {

Result<std::unique_ptr<LoopGroup>> LoopGroup::Start(BackendKind kind, Pool& pool, uint32_t loops,
                                                    const NetOptions& options, Body body) {
  if (loops == 0 || loops > pool.partitions()) {
    return Status::InvalidArgument(std::to_string(loops) + " loops need as many pool partitions (" +
                                   std::to_string(pool.partitions()) + ")");
  }
  std::unique_ptr<LoopGroup> g(new LoopGroup());
  NetOptions o = options;
  for (uint32_t i = 0; i < loops; ++i) {
    std::promise<Result<uint16_t>> started;
    std::future<Result<uint16_t>> f = started.get_future();
    // A Backend lives on the thread that created it (io_uring SINGLE_ISSUER).
    g->threads_.emplace_back(
        [&pool, kind, o, i, body, &started, stop = &g->stop_, shares = &g->shares_buffers_] {
          Result<std::unique_ptr<Backend>> b = Backend::Create(kind, pool, i, o);
          if (!b.ok()) {
            started.set_value(b.status());
            return;
          }
          if (i == 0) {
            *shares = (*b)->SharesBuffers();  // (read after the future: set_value orders it)
          }
          started.set_value((*b)->port());
          body(**b, i, *stop);
        });
    Result<uint16_t> port = f.get();
    if (!port.ok()) {
      g->Stop();
      return Status(port.status().code(),
                    "loop " + std::to_string(i) + ": " + port.status().message());
    }
    if (i == 0) {
      g->port_ = *port;
      const size_t colon = o.listen.rfind(':');
      o.listen = o.listen.substr(0, colon) + ":" + std::to_string(g->port_);
    }
  }
  return g;
}

LoopGroup::~LoopGroup() {
  Stop();
}

void LoopGroup::Stop() {
  stop_.store(true);
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
}

namespace {

sigset_t StopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  return set;
}

}  // namespace

void BlockStopSignals() {
  const sigset_t set = StopSignals();
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
  signal(SIGPIPE, SIG_IGN);
}

int WaitForStopSignal(const std::function<bool()>& failed) {
  const sigset_t set = StopSignals();
  while (!failed()) {
    const timespec ts{0, 100'000'000L};
    const int sig = sigtimedwait(&set, nullptr, &ts);
    if (sig == SIGINT || sig == SIGTERM) {
      return sig;
    }
  }
  return 0;
}

}  // namespace pastel
