#include "net/backend_base.h"

#include <sys/socket.h>

#include <chrono>

#include "net/socket.h"

namespace pastel::net {

BackendBase::BackendBase(Pool& pool, uint32_t partition, const NetOptions& options)
    : pool_(pool),
      partition_(partition),
      options_(options),
      table_(pool, options.max_connections, options.tx_block_size, options.tx_blocks,
             options.tx_entries) {}

BackendBase::~BackendBase() {
  if (own_listener_ && listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
}

Status BackendBase::InitBase() {
  if (partition_ >= pool_.partitions()) {
    return Status::InvalidArgument("no pool partition " + std::to_string(partition_));
  }
  if (pool_.recovering()) {
    return Status::FailedPrecondition("the pool is still recovering");
  }
  if (options_.max_batch == 0) {
    return Status::InvalidArgument("max_batch must be positive");
  }
  PASTEL_RETURN_IF_ERROR(table_.Init());
  if (options_.listen_fd >= 0) {
    listen_fd_ = options_.listen_fd;
  } else {
    Result<int> fd = ListenTcp(options_.listen);
    if (!fd.ok()) {
      return fd.status();
    }
    listen_fd_ = *fd;
    own_listener_ = true;
  }
  Result<uint16_t> port = LocalPort(listen_fd_);
  if (!port.ok()) {
    return port.status();
  }
  port_ = *port;
  slots_.reserve(options_.max_batch + 64);
  deferred_.reserve(64);
  tx_dirty_.reserve(1024);
  return Status::Ok();
}

Result<Conn*> BackendBase::Writable(ConnId conn) {
  Conn* c = table_.Get(conn);
  if (c == nullptr) {
    return Status::NotFound("connection is closed");
  }
  if (c->want_close || c->gone || c->shut) {
    return Status::FailedPrecondition("connection is closing");
  }
  return c;
}

Status BackendBase::Send(ConnId conn, std::span<const uint8_t> bytes) {
  Result<Conn*> c = Writable(conn);
  if (!c.ok()) {
    return c.status();
  }
  PASTEL_RETURN_IF_ERROR(table_.QueueBytes(**c, bytes));
  MarkTxDirty(**c);
  return Status::Ok();
}

Status BackendBase::SendExtents(ConnId conn, std::span<const Extent> extents) {
  Result<Conn*> c = Writable(conn);
  if (!c.ok()) {
    return c.status();
  }
  PASTEL_RETURN_IF_ERROR(table_.QueueExtents(**c, extents));
  for (const Extent& e : extents) {
    stats_.tx_zero_copy_bytes += e.length;
  }
  MarkTxDirty(**c);
  return Status::Ok();
}

uint32_t BackendBase::TxQueued(ConnId conn) const {
  const Conn* c = table_.Get(conn);
  return c == nullptr ? 0 : c->tx_count;
}

Backend::TxRoom BackendBase::TxFree() const {
  return {table_.free_tx_entries(), table_.free_tx_blocks(), options_.tx_entries,
          options_.tx_blocks, options_.tx_block_size};
}

int64_t BackendBase::NowMs() {
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

void BackendBase::StartLinger(Conn& c) {
  // The last answer is out: FIN after it, and read what the peer still sends (discarded) so that
  // it reads the answer rather than a reset (a peer still sending when the socket is closed with
  // unread data gets an RST, which may destroy the answer in its receive queue).
  ::shutdown(c.fd, SHUT_WR);
  c.lingering = true;
  ++lingering_;
  const int64_t now = NowMs();
  c.linger_until_ms = now + kLingerMs;
  c.linger_idle_ms = now + kLingerIdleMs;
  ++stats_.lingering_closes;
}

bool BackendBase::Lingered(Conn& c, uint64_t bytes) {
  c.lingered += bytes;
  stats_.lingered_bytes += bytes;
  c.linger_idle_ms = NowMs() + kLingerIdleMs;
  return c.lingered >= kLingerBytes;
}

void BackendBase::MarkTxDirty(Conn& c) {
  if (!c.tx_listed) {
    c.tx_listed = true;
    tx_dirty_.push_back(c.id());
  }
}

void BackendBase::EmitClosed(const Conn& c) {
  RxSlot s;
  s.conn = c.id();
  s.kind = RxKind::kClosed;
  s.error = c.error;
  deferred_.push_back(s);
  ++stats_.closed;
}

void BackendBase::EndBatch() {
  slots_.insert(slots_.end(), deferred_.begin(), deferred_.end());
  deferred_.clear();
}

}  // namespace pastel::net
