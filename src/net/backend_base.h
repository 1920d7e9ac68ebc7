#pragma once
// What both backends share: the listener, the connection table with its TX queues, the batch of
// RX slots, the list of connections with new TX, and the counters.

#include <unistd.h>

#include <vector>

#include "net/conn_table.h"
#include "pastel/net.h"

namespace pastel::net {

class BackendBase : public Backend {
 public:
  ~BackendBase() override;

  Status Send(ConnId conn, std::span<const uint8_t> bytes) override;
  Status SendExtents(ConnId conn, std::span<const Extent> extents) override;
  uint32_t TxQueued(ConnId conn) const override;
  TxRoom TxFree() const override;
  uint16_t port() const override { return port_; }
  const NetStats& stats() const override { return stats_; }
  uint32_t connections() const override { return table_.open_count(); }
  int Socket(ConnId conn) const override {
    const Conn* c = table_.Get(conn);
    return c == nullptr ? -1 : c->fd;
  }

 protected:
  BackendBase(Pool& pool, uint32_t partition, const NetOptions& options);
  // Opens (or adopts) the listener and the TX arena.
  Status InitBase();
  // The connection `conn` if it may still take TX.
  Result<Conn*> Writable(ConnId conn);
  void MarkTxDirty(Conn& c);
  // Appends the kClosed slot of `c` to the batch being built (or to the next one).
  void EmitClosed(const Conn& c);
  // A Poll's batch starts empty; at its end, the events deferred since the last batch (closes)
  // follow the data slots, so a connection's kClosed comes after its last data.
  void BeginBatch() { slots_.clear(); }
  // Lingering closes (Backend::Close): StartLinger shuts the sending side down and starts the
  // clocks; Lingered counts discarded bytes and says whether the linger is over (volume); the
  // backend calls LingerExpired each Poll for those whose time is up.
  void StartLinger(Conn& c);
  bool Lingered(Conn& c, uint64_t bytes);
  static int64_t NowMs();
  template <typename F>
  void ForEachExpiredLinger(F&& f) {
    if (lingering_ == 0) {
      return;
    }
    const int64_t now = NowMs();
    table_.ForEach([&](Conn& c) {
      if (c.lingering && (now >= c.linger_until_ms || now >= c.linger_idle_ms)) {
        f(c);
      }
    });
  }
  void EndLinger(Conn& c) {
    if (c.lingering) {
      c.lingering = false;
      --lingering_;
    }
  }
  void EndBatch();
  bool BatchFull() const { return slots_.size() >= options_.max_batch; }

  Pool& pool_;
  uint32_t partition_;
  NetOptions options_;
  ConnTable table_;
  int listen_fd_ = -1;
  bool own_listener_ = false;
  uint16_t port_ = 0;
  std::vector<RxSlot> slots_;     // the batch Poll returns
  std::vector<RxSlot> deferred_;  // events that happened between Polls
  std::vector<ConnId> tx_dirty_;  // connections with TX queued since the last submit
  // Connections whose peer closed its side in the last batch: the application saw their last
  // data and may have queued replies; the next Poll closes each once its TX drains.
  std::vector<ConnId> eof_;
  NetStats stats_;
  uint32_t lingering_ = 0;  // connections lingering now
};

}  // namespace pastel::net
