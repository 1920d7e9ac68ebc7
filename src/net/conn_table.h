#pragma once
// The connection table and TX queues shared by both backends.
//
// Each connection has a queue of TX entries: byte ranges in the loop's TX arena (blocks from one
// anonymous mapping, one connection's bytes per block) or in pool buffers (stored values sent
// without a copy; the table holds a pool reference on each until it is sent). A connection writes
// its bytes into its open block until it is full, also across entries of pool buffers in between
// (a GET answer's head and CRLF around its value take a few bytes of a block, not two blocks): a
// block is free again once no entry points into it and its connection moved on or closed. At most
// one send per connection is in flight: entries are sent in order, and a partial send leaves the
// rest at the head of the queue.
//
// Entries come from one per-loop slab (`tx_entries`, linked by index), so a connection answering
// a value of thousands of extents and 10,000 idle connections both fit; one connection may hold
// at most kMaxTxEntriesPerConn of them.
//
// Memory: Conn objects are created on first use of a table index and reused after a close, and
// the slab is allocated once at Init, so a steady state allocates nothing. Single-threaded (the
// loop's thread).

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::net {

inline constexpr uint32_t kMaxTxEntriesPerConn = 16384;
inline constexpr uint32_t kMaxIov = 32;
inline constexpr uint32_t kNoEntry = UINT32_MAX;

struct TxEntry {
  const uint8_t* data = nullptr;
  uint32_t len = 0;
  uint32_t owner = 0;        // arena block or pool buffer index
  bool pool = false;         // owner is a pool buffer (else an arena block)
  uint32_t next = kNoEntry;  // the next entry of the same queue (or of the free list)
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
  bool epollout = false;        // epoll: EPOLLOUT registered
  bool tx_listed = false;       // on the backend's list of connections with new TX
  bool loopback = false;        // the peer is on this host (uring: no zero-copy sends)
  bool recv_paused = false;     // the application paused receiving (backpressure)
  bool linger = false;          // an application's close: linger once TX drains (Backend::Close)
  bool lingering = false;       // sending side shut down; reading and discarding until the end
  int64_t linger_until_ms = 0;  // lingering: the end (total), and the idle end below
  int64_t linger_idle_ms = 0;
  uint64_t lingered = 0;        // bytes discarded while lingering
  int32_t error = 0;            // first error, reported in the kClosed slot
  uint32_t tx_head = kNoEntry;  // slab index of the first queued entry
  uint32_t tx_tail = kNoEntry;  // slab index of the last queued entry
  uint32_t tx_count = 0;
  uint32_t tx_head_sent = 0;     // bytes of the head entry already sent
  uint32_t tx_block = kNoEntry;  // the open arena block its next bytes go to (kNoEntry: none)
  uint32_t tx_block_used = 0;    // bytes of it written
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
  ConnTable(Pool& pool, uint32_t max_connections, uint32_t tx_block_size, uint32_t tx_blocks,
            uint32_t tx_entries = 65536);
  ~ConnTable();
  ConnTable(const ConnTable&) = delete;
  ConnTable& operator=(const ConnTable&) = delete;

  Status Init();  // maps the TX arena and allocates the entry slab

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

  // Queues bytes (copied) or extents (referenced) on c. kBusy when they do not fit (arena, slab or
  // the per-connection limit); then nothing was queued.
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
  uint32_t free_tx_entries() const { return free_entries_; }

 private:
  void Complete(const TxEntry& e);
  // Drops one reference of arena block b (an entry's, or its connection's open-block one).
  void Unref(uint32_t b);
  // c's open block goes (full, or c closes).
  void CloseBlock(Conn& c);
  // Appends e at c's tail (a slab entry must be free: checked by the caller).
  void Push(Conn& c, const TxEntry& e);
  // Unlinks c's head entry, returns it to the slab, and returns a copy.
  TxEntry Pop(Conn& c);
  bool Fits(const Conn& c, size_t n) const {
    return n <= free_entries_ && c.tx_count + n <= kMaxTxEntriesPerConn;
  }
  uint8_t* Block(uint32_t b) const { return arena_ + size_t{b} * block_size_; }

  Pool& pool_;
  uint32_t max_;
  uint32_t block_size_;
  uint32_t blocks_;
  uint8_t* arena_ = nullptr;
  size_t arena_bytes_ = 0;
  std::vector<uint32_t> free_blocks_;
  std::vector<uint32_t> block_refs_;  // entries pointing into each block, + 1 while a conn's open
  uint32_t entries_count_;
  std::vector<TxEntry> entries_;
  uint32_t free_head_ = kNoEntry;
  uint32_t free_entries_ = 0;
  std::vector<std::unique_ptr<Conn>> conns_;
  std::vector<uint32_t> free_indices_;
  uint32_t open_ = 0;
};

}  // namespace pastel::net
