#pragma once
// The connection table and TX queues shared by both backends.
//
// Each connection has a bounded queue of TX entries: byte ranges in the loop's TX arena (blocks
// from one anonymous mapping, one connection's bytes per block) or in pool buffers (stored values
// sent without a copy; the table holds a pool reference on each until it is sent). At most one
// send per connection is in flight: entries are sent in order, and a partial send leaves the rest
// at the head of the queue.
//
// Memory: Conn objects are created on first use of a table index and reused after a close, so a
// steady state allocates nothing. Single-threaded (the loop's thread).

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::net {

inline constexpr uint32_t kTxQueueEntries = 64;
inline constexpr uint32_t kMaxIov = 32;

struct TxEntry {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t owner = 0;  // arena block or pool buffer index
  bool pool = false;   // owner is a pool buffer (else an arena block)
};

struct Conn {
  int fd = -1;
  uint32_t index = 0;
  uint32_t gen = 0;
  bool open = false;
  bool recv_active = false;  // a receive is armed (uring) / EPOLLIN registered (epoll)
  bool starved = false;      // receive stopped for want of buffers
  bool want_close = false;   // close once TX drains (asked by the application, or peer EOF
                             // seen by the application's last batch)
  bool peer_eof = false;     // the peer closed its side; replies may still be queued
  bool shut = false;         // shutdown() was called; waiting for the receive to end
  bool gone = false;         // peer closed or failed; nothing more to receive or send
  bool send_in_flight = false;
  bool epollout = false;   // epoll: EPOLLOUT registered
  bool tx_listed = false;  // on the backend's list of connections with new TX
  int32_t error = 0;       // first error, reported in the kClosed slot
  uint32_t tx_head = 0;    // queue ring index of the first entry
  uint32_t tx_count = 0;
  uint32_t tx_head_sent = 0;  // bytes of the head entry already sent
  TxEntry tx[kTxQueueEntries];
  // The in-flight send's message (its memory must stay put until the completion).
  msghdr msg{};
  iovec iov[kMaxIov];
  // A zero-copy send's entries, sent but still referenced by the kernel until its notification.
  bool zc_in_flight = false;
  uint32_t zc_hold_n = 0;
  TxEntry zc_hold[kMaxIov];

  ConnId id() const { return (uint64_t{gen} << 32) | index; }
  bool tx_empty() const { return tx_count == 0; }
};

class ConnTable {
 public:
  ConnTable(Pool& pool, uint32_t max_connections, uint32_t tx_block_size, uint32_t tx_blocks);
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  Status Init();  // maps the TX arena

  // A new connection for `fd`, or nullptr when the table is full.
  Conn* Open(int fd);
  // Frees the connection (its TX entries are dropped) and makes its id stale. Does not close fd.
  void Free(Conn* c);
  // The live connection with this id, or nullptr.
  Conn* Get(ConnId id) const;
  // The live connection at `index` whose generation's low 28 bits are `gen28`, or nullptr.
  Conn* GetByIndex(uint32_t index, uint32_t gen28) const;
  uint32_t open_count() const { return open_; }
  // Visits every open connection.
  template <typename F>
  void ForEach(F&& f) {
    for (auto& c : conns_) {
      if (c && c->open) {
        f(*c);
      }
    }
  }

  // Queues bytes (copied) or extents (referenced) on c. kBusy when they do not fit; then nothing
  // was queued.
  Status QueueBytes(Conn& c, std::span<const uint8_t> bytes);
  Status QueueExtents(Conn& c, std::span<const Extent> extents);
  // Fills c.msg/c.iov with up to kMaxIov entries from the head of the queue; returns the bytes.
  // `pool_bytes` (optional) gets how many of them lie in pool buffers.
  size_t PrepareSend(Conn& c, size_t* pool_bytes = nullptr);
  // `n` bytes of the prepared send were written: completes the entries they cover. With `hold`,
  // the covered entries go to c.zc_hold instead (the kernel still reads them: zero-copy send)
  // until FinishHeld.
  void Consume(Conn& c, size_t n, bool hold = false);
  void FinishHeld(Conn& c);
  // Drops every queued entry (connection closing).
  void DropTx(Conn& c);
  uint32_t free_tx_blocks() const { return static_cast<uint32_t>(free_blocks_.size()); }

 private:
  void Complete(const TxEntry& e);
  uint8_t* Block(uint32_t b) const { return arena_ + size_t{b} * block_size_; }

  Pool& pool_;
  uint32_t max_;
  uint32_t block_size_;
  uint32_t blocks_;
  uint8_t* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  std::vector<uint32_t> free_blocks_;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<uint32_t> free_indices_;
  uint32_t open_ = 0;
};

}  // namespace pastel::net
