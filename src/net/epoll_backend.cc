// The epoll backend: non-blocking sockets, one epoll_wait per Poll, recv() straight into pool
// buffers of the loop's partition (no user-space copy either), sendmsg() from the TX queues.

#include "net/epoll_backend.h"

#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include <cerrno>
#include <chrono>

#include "base/asan.h"
#include "net/backend_base.h"
#include "net/socket.h"

namespace pastel::net {
namespace {

constexpr uint64_t kListenerTag = UINT64_MAX;
// Receives per connection per Poll before the others get a turn (level-triggered: the rest is
// reported again by the next epoll_wait).
constexpr int kReadsPerConn = 16;
constexpr size_t kSpareBuffers = 64;

class EpollBackend final : public BackendBase {
 public:
  EpollBackend(Pool& pool, uint32_t partition, const NetOptions& o)
      : BackendBase(pool, partition, o) {}

  ~EpollBackend() override {
    table_.ForEach([&](Conn& c) { ::close(c.fd); });
    for (uint32_t b : spares_) {
      AsanUnpoison(pool_.BufferData(b), pool_.buffer_size());
      (void)pool_.Release(b);
    }
    if (epfd_ >= 0) {
      ::close(epfd_);
    }
  }

  Status Init() {
    PASTEL_RETURN_IF_ERROR(InitBase());
    PASTEL_RETURN_IF_ERROR(SetNonBlocking(listen_fd_));
    epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
    if (epfd_ < 0) {
      return Status::FromErrno("epoll_create1", errno);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = kListenerTag;
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, listen_fd_, &ev) != 0) {
      return Status::FromErrno("epoll_ctl listener", errno);
    }
    events_.resize(std::max<uint32_t>(64, options_.max_batch));
    starved_.reserve(1024);
    eof_.reserve(1024);  // (a peer that closes while requests flow allocates nothing)
    linger_buf_.resize(64 * 1024);
    spares_.reserve(kSpareBuffers);
    return Status::Ok();
  }

  BackendKind kind() const override { return BackendKind::kEpoll; }

  Result<std::span<const RxSlot>> Poll(int timeout_ms) override {
    ++stats_.polls;
    BeginBatch();
    PASTEL_RETURN_IF_ERROR(Submit());
    CloseAfterEof();
    Rearm();
    ForEachExpiredLinger([&](Conn& c) { Teardown(c); });
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    int n = 0;
    while (true) {
      const bool spin = options_.busy_poll;
      // Deferred events (closes) must not wait for the network.
      const int wait = !deferred_.empty() ? 0 : spin ? 0 : timeout_ms;
      n = ::epoll_wait(epfd_, events_.data(), static_cast<int>(events_.size()), wait);
      ++stats_.wait_syscalls;
      if (n < 0 && errno != EINTR) {
        return Status::FromErrno("epoll_wait", errno);
      }
      if (n > 0 || !spin || !deferred_.empty() ||
          (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)) {
        break;
      }
    }
    for (int i = 0; i < n; ++i) {
      const epoll_event& ev = events_[static_cast<size_t>(i)];
      if (ev.data.u64 == kListenerTag) {
        Accept();
        continue;
      }
      Conn* c = table_.Get(ev.data.u64);
      if (c == nullptr) {
        continue;
      }
      if ((ev.events & EPOLLOUT) != 0) {
        Flush(*c);
        if (!c->open) {
          continue;
        }
      }
      if ((ev.events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0 && c->recv_active) {
        Read(*c);
      }
    }
    EndBatch();
    return std::span<const RxSlot>(slots_);
  }

  Status Release(uint32_t buffer) override {
    if (pool_.state(buffer) != BufferState::kApp) {
      return Status::FailedPrecondition("release of buffer " + std::to_string(buffer) +
                                        " not held by the application");
    }
    ++stats_.released;
    if (spares_.size() < kSpareBuffers && pool_.PartitionOf(buffer) == partition_) {
      // Stays kApp for the next receive to land in, but poisoned: the application gave it up.
      AsanPoison(pool_.BufferData(buffer), pool_.buffer_size());
      spares_.push_back(buffer);
      return Status::Ok();
    }
    return pool_.Release(buffer);
  }

  Status Keep(uint32_t buffer) override {
    PASTEL_RETURN_IF_ERROR(pool_.Retain(buffer));
    ++stats_.kept;
    return Status::Ok();
  }

  Status Close(ConnId conn) override {
    Conn* c = table_.Get(conn);
    if (c == nullptr) {
      return Status::NotFound("connection is closed");
    }
    if (c->want_close) {
      return Status::Ok();  // closing already (lingering, or waiting for its TX)
    }
    c->want_close = true;
    c->linger = true;
    if (c->tx_empty()) {
      Drained(*c);
    } else {
      MarkTxDirty(*c);
    }
    return Status::Ok();
  }

  void PauseReceive(ConnId conn) override {
    Conn* c = table_.Get(conn);
    if (c == nullptr || c->recv_paused || c->lingering) {
      return;
    }
    c->recv_paused = true;
    ++stats_.rx_paused;
    if (c->recv_active) {
      c->recv_active = false;
      (void)UpdateEvents(*c, EPOLL_CTL_MOD);
    }
  }

  void ResumeReceive(ConnId conn) override {
    Conn* c = table_.Get(conn);
    if (c == nullptr || !c->recv_paused) {
      return;
    }
    c->recv_paused = false;
    if (!c->recv_active && !c->starved && !c->peer_eof && !c->gone && !c->want_close) {
      c->recv_active = true;
      (void)UpdateEvents(*c, EPOLL_CTL_MOD);
    }
  }

  Status Submit() override {
    for (ConnId id : tx_dirty_) {
      Conn* c = table_.Get(id);
      if (c == nullptr) {
        continue;
      }
      c->tx_listed = false;
      if (!c->epollout) {
        Flush(*c);
      }
    }
    tx_dirty_.clear();
    return Status::Ok();
  }

 private:
  void Accept() {
    while (!BatchFull()) {
      const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
      if (fd < 0) {
        return;  // EAGAIN, or EMFILE and friends: the listener reports again
      }
      Conn* c = table_.Open(fd);
      if (c == nullptr) {
        ::close(fd);  // table full: refuse
        continue;
      }
      SetNoDelay(fd);
      c->recv_active = true;
      if (!UpdateEvents(*c, EPOLL_CTL_ADD)) {
        table_.Free(c);
        ::close(fd);
        continue;
      }
      ++stats_.accepted;
      RxSlot s;
      s.conn = c->id();
      s.kind = RxKind::kOpen;
      slots_.push_back(s);
    }
  }

  bool UpdateEvents(Conn& c, int op) {
    epoll_event ev{};
    ev.events = (c.recv_active ? uint32_t{EPOLLIN | EPOLLRDHUP} : 0u) |
                (c.epollout ? uint32_t{EPOLLOUT} : 0u);
    ev.data.u64 = c.id();
    return ::epoll_ctl(epfd_, op, c.fd, &ev) == 0;
  }

  Result<uint32_t> TakeBuffer() {
    if (!spares_.empty()) {
      const uint32_t b = spares_.back();
      spares_.pop_back();
      AsanUnpoison(pool_.BufferData(b), pool_.buffer_size());
      return b;
    }
    return pool_.Allocate(partition_, BufferState::kApp);
  }

  // Every answer is out and the connection closes: linger (an application's close while the
  // peer may still send), or close now.
  void Drained(Conn& c) {
    if (c.lingering) {
      return;
    }
    if (!c.linger || c.peer_eof || c.gone) {
      Teardown(c);
      return;
    }
    StartLinger(c);
    c.recv_active = true;  // lingering reads need no pool buffer
    c.epollout = false;
    if (!UpdateEvents(c, EPOLL_CTL_MOD)) {
      Teardown(c);
    }
  }

  // Lingering: read and discard what the peer still sends, until it closes, fails, or the linger
  // is over (volume here, time in Poll).
  void LingerRead(Conn& c) {
    for (int i = 0; i < kReadsPerConn; ++i) {
      const ssize_t n = ::recv(c.fd, linger_buf_.data(), linger_buf_.size(), 0);
      if (n > 0) {
        if (Lingered(c, static_cast<uint64_t>(n))) {
          Teardown(c);
          return;
        }
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
      }
      Teardown(c);  // the peer closed too (or failed): done
      return;
    }
  }

  void Read(Conn& c) {
    if (c.lingering) {
      LingerRead(c);
      return;
    }
    for (int i = 0; i < kReadsPerConn && !BatchFull(); ++i) {
      Result<uint32_t> b = TakeBuffer();
      if (!b.ok()) {
        // No buffer to receive into: stop reading this connection until some come back. The
        // data waits in the socket; nothing is lost.
        c.recv_active = false;
        c.starved = true;
        (void)UpdateEvents(c, EPOLL_CTL_MOD);
        starved_.push_back(c.id());
        ++stats_.rx_starved;
        return;
      }
      const ssize_t n = ::recv(c.fd, pool_.BufferData(*b), pool_.buffer_size(), 0);
      if (n > 0) {
        RxSlot s;
        s.conn = c.id();
        s.buffer = *b;
        s.length = static_cast<uint32_t>(n);
        slots_.push_back(s);
        ++stats_.rx_slots;
        stats_.rx_bytes += static_cast<uint64_t>(n);
        if (static_cast<uint32_t>(n) < pool_.buffer_size()) {
          return;  // most likely drained; level-triggered epoll says so otherwise
        }
        continue;
      }
      AsanPoison(pool_.BufferData(*b), pool_.buffer_size());
      spares_.push_back(*b);
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        return;
      }
      if (n == 0) {
        // Peer closed its side: the application still answers what it got (next Poll).
        c.recv_active = false;
        c.peer_eof = true;
        (void)UpdateEvents(c, EPOLL_CTL_MOD);
        eof_.push_back(c.id());
        return;
      }
      c.error = -errno;
      c.gone = true;
      Teardown(c);
      return;
    }
  }

  void Flush(Conn& c) {
    while (!c.tx_empty()) {
      const size_t want = table_.PrepareSend(c);
      const ssize_t n = ::sendmsg(c.fd, &c.msg, MSG_NOSIGNAL | MSG_DONTWAIT);
      ++stats_.tx_sends;
      if (n > 0) {
        stats_.tx_bytes += static_cast<uint64_t>(n);
        if (static_cast<size_t>(n) < want) {
          ++stats_.tx_partial;
        }
        table_.Consume(c, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)) {
        if (!c.epollout) {
          c.epollout = true;
          (void)UpdateEvents(c, EPOLL_CTL_MOD);
        }
        return;
      }
      c.error = n < 0 ? -errno : -EPIPE;
      c.gone = true;
      Teardown(c);
      return;
    }
    if (c.epollout) {
      c.epollout = false;
      (void)UpdateEvents(c, EPOLL_CTL_MOD);
    }
    if (c.want_close) {
      Drained(c);
    }
  }

  void CloseAfterEof() {
    for (ConnId id : eof_) {
      Conn* c = table_.Get(id);
      if (c == nullptr) {
        continue;
      }
      c->want_close = true;
      if (c->tx_empty()) {
        Teardown(*c);
      }
    }
    eof_.clear();
  }

  // Receives start again on starved connections once the partition has buffers.
  void Rearm() {
    size_t keep = 0;
    for (size_t i = 0; i < starved_.size(); ++i) {
      Conn* c = table_.Get(starved_[i]);
      if (c == nullptr) {
        continue;
      }
      if (spares_.empty() && pool_.FreeFor(partition_) == 0) {
        starved_[keep++] = starved_[i];
        continue;
      }
      c->starved = false;
      if (c->recv_paused || c->recv_active) {
        continue;  // ResumeReceive starts it
      }
      c->recv_active = true;
      (void)UpdateEvents(*c, EPOLL_CTL_MOD);
      ++stats_.rearmed;
    }
    starved_.resize(keep);
  }

  void Teardown(Conn& c) {
    EndLinger(c);
    (void)::epoll_ctl(epfd_, EPOLL_CTL_DEL, c.fd, nullptr);
    ::close(c.fd);
    EmitClosed(c);
    table_.Free(&c);
  }

  int epfd_ = -1;
  std::vector<epoll_event> events_;
  std::vector<ConnId> starved_;
  std::vector<uint32_t> spares_;
  std::vector<char> linger_buf_;  // what a lingering connection still sends lands here, unread
};

}  // namespace

Result<std::unique_ptr<Backend>> MakeEpollBackend(Pool& pool, uint32_t partition,
                                                  const NetOptions& o) {
  auto b = std::make_unique<EpollBackend>(pool, partition, o);
  PASTEL_RETURN_IF_ERROR(b->Init());
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace pastel::net
