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
  uint16_t port() const override { return port_; }
  const NetStats& stats() const override { return stats_; }
  uint32_t connections() const override { return table_.open_count(); }

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
};

}  // namespace pastel::net
