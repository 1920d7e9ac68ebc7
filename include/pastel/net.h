#pragma once
// net: the data path. The kernel's TCP/IP stack receives straight into pool buffers, and the
// application sees, per system call, one batch of RX slots across all its connections and works
// on the data in place.
//
// A Backend is one event loop's view of the network: one listener (SO_REUSEPORT, so that several
// loops share a port), its connections, and the receive buffers of one pool partition. Two
// implementations share this interface:
//   uring  io_uring with a provided-buffer ring made of pool buffers, multishot accept and
//          receive, batched sends; one io_uring_enter per Poll submits the previous batch's sends
//          and buffer re-arms and reaps the next batch.
//   epoll  non-blocking sockets and one epoll_wait per Poll, recv() straight into free pool
//          buffers (no copy either); for kernels without io_uring, and for comparison.
//
// Buffer ownership of an RX slot: the buffer is the application's (BufferState::kApp) from Poll
// until it calls Release(buffer) (the buffer goes back to receiving) or Keep(buffer) (PASTE's
// "swap with an extra buffer": the buffer is retained for the log, and a free pool buffer takes
// its place in the receive ring). A kept buffer is never received into again until its last
// reference is dropped with Pool::Unretain. Several slots share no buffer, except with shared
// receive buffers (NetOptions::rx_shared, uring on kernel 6.12 and later): then each receive takes
// only the bytes it needs from the ring's current buffer, so the requests of many connections lie
// densely in one buffer; every slot holds a pool reference of its own on it (Retained, refs >= 1),
// Release drops that reference, Keep keeps it, and the buffer goes back to receiving once the
// kernel has filled it and its last reference is gone.
//
// Threads: a Backend is used by the thread that created it only.

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "pastel/pool.h"
#include "pastel/status.h"

namespace pastel {

enum class BackendKind : uint8_t { kUring, kEpoll };
std::string_view BackendKindName(BackendKind k);
Result<BackendKind> ParseBackendKind(std::string_view s);

// A connection: index in the loop's table and a generation, so a stale id never reaches a reused
// slot. 0 is never a valid id.
using ConnId = uint64_t;

enum class RxKind : uint8_t {
  kData,    // `length` bytes at `offset` of pool buffer `buffer`
  kOpen,    // a new connection (no buffer)
  kClosed,  // the connection is gone (no buffer): peer closed (error 0), reset or failed (-errno),
            // or closed by the application; its id is dead after this batch
  kSynced,  // a sync the application submitted (SubmitSync) completed: `conn` is its token,
            // `error` 0 or -errno (no buffer)
};

struct RxSlot {
  ConnId conn = 0;
  uint32_t buffer = Pool::kNoBuffer;
  uint32_t offset = 0;
  uint32_t length = 0;
  RxKind kind = RxKind::kData;
  int32_t error = 0;
};

struct NetOptions {
  std::string listen = "127.0.0.1:8080";  // IPv4 ADDR:PORT; port 0 picks a free one
  int listen_fd = -1;        // >= 0: use this bound, listening socket instead (not owned)
  bool busy_poll = false;    // Poll spins on the completion queue instead of sleeping
  uint32_t max_batch = 512;  // RX slots per Poll at most
  uint32_t max_connections = 65536;
  // Receive buffers kept ready for the kernel (uring: provided-buffer ring entries, a power of
  // two <= 32768). 0: half the partition, at most 4096.
  uint32_t rx_buffers = 0;
  // uring: receives share buffers (the provided-buffer ring's incremental consumption,
  // IOU_PBUF_RING_INC, kernel 6.12): a small request retains a part of a buffer, not a whole one.
  // Without kernel support the backend falls back to a buffer per receive (SharesBuffers says
  // which). With it, rx_buffers 0 means at most 1024 ring entries.
  bool rx_shared = true;
  uint32_t tx_block_size = 4096;  // the per-loop TX arena is made of blocks of this size
  uint32_t tx_blocks = 4096;
  // TX queue entries of all the loop's connections (a byte range each: an arena block or a stored
  // value's extent); one connection holds at most 16384.
  uint32_t tx_entries = 65536;
  uint32_t ring_entries = 2048;  // uring submission queue entries
  bool sqpoll = false;           // uring: a kernel thread polls the submission queue
  // uring: sends carrying at least this many bytes from pool buffers use SENDMSG_ZC (a NIC reads
  // the pool directly). 0: never.
  uint32_t send_zc_min = 4096;
  // uring: zero-copy sends to peers on loopback too. Off: on loopback the kernel copies such a
  // send's pages into the receiver anyway, after pinning them and before a notification, so a
  // plain send costs less; on (tests) exercises the zero-copy path without a NIC.
  bool send_zc_loopback = false;
};

struct NetStats {
  uint64_t polls = 0;          // Poll calls
  uint64_t wait_syscalls = 0;  // io_uring_enter / epoll_wait calls that waited or reaped
  uint64_t rx_slots = 0;       // data slots delivered
  uint64_t rx_bytes = 0;
  uint64_t accepted = 0;
  uint64_t closed = 0;
  uint64_t kept = 0;        // Keep calls
  uint64_t released = 0;    // Release calls
  uint64_t rx_starved = 0;  // receives stopped for want of buffers (uring: ENOBUFS)
  uint64_t rearmed = 0;     // receives started again once buffers came back
  uint64_t tx_sends = 0;    // send system calls / SQEs
  uint64_t tx_bytes = 0;
  uint64_t tx_partial = 0;          // sends that wrote less than asked (completed later)
  uint64_t tx_zero_copy_bytes = 0;  // bytes sent straight from pool buffers
  uint64_t tx_zc_sends = 0;         // sends made with SENDMSG_ZC
  uint64_t rx_paused = 0;           // receives stopped for backpressure (PauseReceive)
  uint64_t lingering_closes = 0;    // closes that lingered (Close)
  uint64_t lingered_bytes = 0;      // bytes read and discarded while lingering
  uint64_t syncs = 0;               // file syncs submitted (SubmitSync)
};

class Backend {
 public:
  virtual ~Backend() = default;
  Backend() = default;
  Backend(const Backend&) = delete;
  Backend& operator=(const Backend&) = delete;

  // A backend of `kind` over partition `partition` of `pool` (a finished-recovery pool). For
  // kUring, kUnsupported means this kernel lacks something it needs: use kEpoll.
  static Result<std::unique_ptr<Backend>> Create(BackendKind kind, Pool& pool, uint32_t partition,
                                                 const NetOptions& options);
  // kUring if this kernel supports it, else kEpoll; `why` says why uring was refused.
  static BackendKind Probe(std::string* why = nullptr);

  // Submits what is pending (sends, buffer re-arms) and waits up to `timeout_ms` (-1: forever;
  // busy-poll spins instead) for events, then returns them: per connection in arrival order.
  // The span is valid until the next Poll.
  virtual Result<std::span<const RxSlot>> Poll(int timeout_ms) = 0;

  // Gives `buffer` (held by the application) back to receiving.
  virtual Status Release(uint32_t buffer) = 0;
  // Retains `buffer` for the log (App -> Retained, or one more reference) and gives the receive
  // side a free pool buffer in its place. Drop the reference later with Pool::Unretain.
  virtual Status Keep(uint32_t buffer) = 0;

  // Queues `bytes` (copied into the TX arena) to be sent on `conn`, after what is queued already.
  // Sent at the next Poll or Submit; partial sends are completed, never truncated. kBusy: the
  // arena or the connection's queue is full (the caller may retry after a Poll or close).
  virtual Status Send(ConnId conn, std::span<const uint8_t> bytes) = 0;
  // Queues the bytes `extents` name, sent straight from the pool buffers (no copy). Each buffer
  // must be held or retained by the caller; the backend holds a reference until the send is done.
  virtual Status SendExtents(ConnId conn, std::span<const Extent> extents) = 0;
  // Closes `conn` once what is queued for it has been sent; a kClosed slot follows. The close
  // lingers (as nginx's lingering_close): the server shuts down its sending side after the last
  // answer and reads and discards what the peer still sends, for at most kLingerMs (kLingerIdleMs
  // without data) and kLingerBytes, before it closes; a peer still sending a request the answer
  // refused (413) then reads that answer instead of a reset.
  virtual Status Close(ConnId conn) = 0;
  static constexpr int64_t kLingerMs = 10000;
  static constexpr int64_t kLingerIdleMs = 2000;
  static constexpr uint64_t kLingerBytes = uint64_t{64} << 20;

  // Backpressure. The TX queue entries `conn` holds, not yet sent (0 when it is gone), and the
  // loop's free TX room: queue entries and arena blocks (NetOptions::tx_entries, tx_blocks).
  struct TxRoom {
    uint32_t entries = 0;  // free
    uint32_t blocks = 0;   // free
    uint32_t total_entries = 0;
    uint32_t total_blocks = 0;
    uint32_t block_size = 0;
  };
  virtual uint32_t TxQueued(ConnId conn) const = 0;
  virtual TxRoom TxFree() const = 0;
  // Stops receiving from `conn` (what was received already is still delivered) until
  // ResumeReceive: the data waits in the socket, and TCP's flow control stops the peer.
  virtual void PauseReceive(ConnId conn) = 0;
  virtual void ResumeReceive(ConnId conn) = 0;
  // Submits pending sends now, without waiting.
  virtual Status Submit() = 0;

  // File syncs run by the backend without blocking the loop (a pipelined group commit): a data
  // sync (fdatasync) of `length` bytes at `offset` of file `fd`, started at the next Submit or
  // Poll; a later Poll reports its outcome as a kSynced slot carrying `token`. Only where
  // SyncsAsync() (io_uring's fsync); elsewhere kUnsupported: sync synchronously.
  virtual bool SyncsAsync() const { return false; }
  virtual Status SubmitSync(int /*fd*/, uint64_t /*offset*/, uint64_t /*length*/,
                            uint64_t /*token*/) {
    return Status::Unsupported("this backend has no asynchronous sync");
  }

  virtual uint16_t port() const = 0;
  virtual BackendKind kind() const = 0;
  // Whether receives share buffers (NetOptions::rx_shared, granted by this kernel).
  virtual bool SharesBuffers() const { return false; }
  virtual const NetStats& stats() const = 0;
  virtual uint32_t connections() const = 0;
  // The socket of `conn` (-1 when it is gone or the backend has none), for introspection only
  // (getpeername, getsockname: pastel-kv's CLIENT LIST): never read, write or close it.
  virtual int Socket(ConnId /*conn*/) const { return -1; }
};

// Opens a listening TCP socket on `addr` ("127.0.0.1:8080"; port 0 picks one), with SO_REUSEPORT.
Result<int> ListenTcp(std::string_view addr, int backlog = 4096);
// The local port of a bound socket.
Result<uint16_t> LocalPort(int fd);

}  // namespace pastel

namespace pastel {

// N independent event loops (shared-nothing): loop i runs on its own thread with its own Backend
// over pool partition i, all listening on the same address through SO_REUSEPORT, so the kernel
// spreads connections across them. Each loop also owns log stream i when the caller gives it one.
class LoopGroup {
 public:
  // Runs on loop i's thread until `stop` becomes true; typically Poll in a loop.
  using Body = std::function<void(Backend& backend, uint32_t loop, const std::atomic<bool>& stop)>;

  // Starts `loops` loops (the pool needs at least that many partitions). With port 0 in
  // options.listen, the first loop picks a port and the others join it.
  static Result<std::unique_ptr<LoopGroup>> Start(BackendKind kind, Pool& pool, uint32_t loops,
                                                  const NetOptions& options, Body body);
  ~LoopGroup();
  LoopGroup(const LoopGroup&) = delete;
  LoopGroup& operator=(const LoopGroup&) = delete;

  uint16_t port() const { return port_; }
  uint32_t loops() const { return static_cast<uint32_t>(threads_.size()); }
  // Whether the loops' receives share buffers (Backend::SharesBuffers of the first loop's).
  bool shares_buffers() const { return shares_buffers_; }
  // Asks every loop to stop and joins them.
  void Stop();

 private:
  LoopGroup() = default;
  std::vector<std::thread> threads_;
  std::atomic<bool> stop_{false};
  uint16_t port_ = 0;
  bool shares_buffers_ = false;
};

// The servers' stop signals. BlockStopSignals blocks SIGINT and SIGTERM in the calling thread and
// so in every thread it starts afterwards (call it first in main), and ignores SIGPIPE (a peer's
// close is an error code, not a signal). WaitForStopSignal then takes them on the calling thread:
// it returns the signal, or 0 once `failed()` is true (checked every 100 ms).
void BlockStopSignals();
int WaitForStopSignal(const std::function<bool()>& failed);

}  // namespace pastel
