// The io_uring backend: a provided-buffer ring made of pool buffers, multishot accept and
// receive, and every send, re-arm and buffer refill of a batch submitted by the one
// io_uring_enter that also reaps the next batch.
//
// Receive buffers: the ring holds up to `entries_` pool buffers of the loop's partition, lent to
// the kernel (BufferState::kKernel, poisoned under ASan). Buffer ids are the ring's own 16-bit ids;
// bid_to_buf_ maps each to the pool index it currently stands for, and that mapping changes at
// every refill (PASTE's swap: a kept buffer's id comes back carrying another pool buffer).
//
// Shared receive buffers (NetOptions::rx_shared; the ring registered with IOU_PBUF_RING_INC): a
// receive takes only the bytes it needs from the ring's current buffer, and the next receive, of
// any connection, goes on where it stopped; the completion says (IORING_CQE_F_BUF_MORE) whether the
// kernel goes on filling that buffer. bid_off_ is how far each buffer is filled. At its first
// bytes a buffer goes Kernel -> App -> Retained(1): that reference is the ring's share, dropped
// when the kernel is done with the buffer; each slot holds one more. A buffer whose references are
// all gone is free, and a refill takes it again.

#include "net/uring_backend.h"

#include <liburing.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <unistd.h>

#include <bit>
#include <cerrno>
#include <chrono>
#include <cstring>

#include "net/backend_base.h"
#include "net/socket.h"

namespace pastel::net {
namespace {

constexpr uint16_t kBufferGroup = 0;
constexpr uint32_t kMaxRingBuffers = 32768;
// Kernel 6.12's incremental consumption of provided buffers (liburing 2.3's headers predate it).
constexpr uint16_t kPbufRingInc = 2;       // io_uring_buf_reg's flags: IOU_PBUF_RING_INC
constexpr uint32_t kCqeBufMore = 1u << 4;  // cqe->flags: IORING_CQE_F_BUF_MORE

enum class Op : uint64_t { kAccept = 1, kRecv = 2, kSend = 3, kCancel = 4, kSync = 5 };
constexpr uint64_t kTagPayload = (uint64_t{1} << 60) - 1;  // below the op

uint64_t Tag(Op op, const Conn* c) {
  if (c == nullptr) {
    return static_cast<uint64_t>(op) << 60;
  }
  return (static_cast<uint64_t>(op) << 60) | (uint64_t{c->gen & 0x0FFFFFFFu} << 32) | c->index;
}
Op TagOp(uint64_t t) {
  return static_cast<Op>(t >> 60);
}
uint32_t TagGen(uint64_t t) {
  return static_cast<uint32_t>(t >> 32) & 0x0FFFFFFFu;
}
uint32_t TagIndex(uint64_t t) {
  return static_cast<uint32_t>(t);
}

// Ring set-up flags, best first: without DEFER_TASKRUN or COOP_TASKRUN, io_uring was bimodal on
// this kind of machine and sometimes 2x slower than epoll (shared/DESIGN.md).
Status InitRing(io_uring* ring, uint32_t entries, bool sqpoll, unsigned* flags_out) {
  const unsigned base = IORING_SETUP_CQSIZE | IORING_SETUP_SUBMIT_ALL;
  const unsigned tries[] = {
      IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN,
      IORING_SETUP_COOP_TASKRUN | IORING_SETUP_TASKRUN_FLAG,
      0,
  };
  int rc = -EINVAL;
  for (unsigned t : tries) {
    io_uring_params p{};
    p.flags = base | t | (sqpoll ? IORING_SETUP_SQPOLL : 0);
    if (sqpoll && (t & IORING_SETUP_DEFER_TASKRUN) != 0) {
      continue;  // the kernel refuses SQPOLL with DEFER_TASKRUN
    }
    p.cq_entries = entries * 8;
    rc = io_uring_queue_init_params(entries, ring, &p);
    if (rc == 0) {
      *flags_out = p.flags;
      return Status::Ok();
    }
  }
  return Status(StatusCode::kUnsupported, std::string("io_uring_setup: ") + std::strerror(-rc) +
                                              " (errno " + std::to_string(-rc) + ")");
}

class UringBackend final : public BackendBase {
 public:
  UringBackend(Pool& pool, uint32_t partition, const NetOptions& o)
      : BackendBase(pool, partition, o) {}

  ~UringBackend() override {
    if (ring_ready_) {
      table_.ForEach([&](Conn& c) { ::close(c.fd); });
      io_uring_queue_exit(&ring_);  // cancels every request
    }
    // Whatever the kernel still held, and whatever it had filled but we never reaped, is free.
    for (uint32_t bid = 0; bid < bid_to_buf_.size(); ++bid) {
      if (bid_to_buf_[bid] == Pool::kNoBuffer) {
        continue;
      }
      if (shared_ && bid_off_[bid] > 0) {
        (void)pool_.Unretain(bid_to_buf_[bid]);  // the ring's share; slots still hold theirs
      } else {
        (void)pool_.Release(bid_to_buf_[bid]);
      }
    }
    if (br_ != nullptr) {
      ::munmap(br_, br_bytes_);
    }
  }

  Status Init() {
    PASTEL_RETURN_IF_ERROR(InitBase());
    PASTEL_RETURN_IF_ERROR(InitRing(&ring_, std::bit_ceil(std::max(options_.ring_entries, 64u)),
                                    options_.sqpoll, &ring_flags_));
    ring_ready_ = true;
    uint32_t want = options_.rx_buffers;
    if (want == 0) {
      // Shared buffers: the kernel fills one buffer at a time, so fewer entries are waiting
      // (what stays lent is not holding values).
      want = std::min<uint32_t>(options_.rx_shared ? 1024 : 4096,
                                pool_.PartitionCount(partition_) / 2);
    }
    want = std::min(want, kMaxRingBuffers);
    if (want < 2) {
      return Status::InvalidArgument("partition too small for a receive ring");
    }
    entries_ = std::bit_floor(want);
    // The ring's own metadata must be anonymous memory (in a file mapping it fails with EFAULT).
    br_bytes_ = (sizeof(io_uring_buf) * entries_ + 4095) / 4096 * 4096;
    void* p =
        ::mmap(nullptr, br_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED) {
      return Status::FromErrno("map buffer ring", errno);
    }
    br_ = static_cast<io_uring_buf_ring*>(p);
    io_uring_buf_ring_init(br_);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(br_);
    reg.ring_entries = entries_;
    reg.bgid = kBufferGroup;
    int rc = -EINVAL;
    if (options_.rx_shared) {
      reg.pad = kPbufRingInc;  // the kernel's `flags` (liburing 2.3 names the field `pad`)
      rc = io_uring_register_buf_ring(&ring_, &reg, 0);
      shared_ = rc == 0;
      reg.pad = 0;
    }
    if (!shared_) {
      rc = io_uring_register_buf_ring(&ring_, &reg, 0);  // a kernel before 6.12: EINVAL above
    }
    if (rc != 0) {
      return Status(StatusCode::kUnsupported,
                    std::string("provided-buffer ring: ") + std::strerror(-rc));
    }
    mask_ = io_uring_buf_ring_mask(entries_);
    bid_to_buf_.assign(entries_, Pool::kNoBuffer);
    bid_off_.assign(entries_, 0);
    free_bids_.reserve(entries_);
    for (uint32_t b = entries_; b-- > 0;) {
      free_bids_.push_back(static_cast<uint16_t>(b));
    }
    TopUp();
    starved_.reserve(1024);
    eof_.reserve(1024);  // (a peer that closes while requests flow allocates nothing)
    if (io_uring_probe* probe = io_uring_get_probe_ring(&ring_)) {
      zc_supported_ = io_uring_opcode_supported(probe, IORING_OP_SENDMSG_ZC) != 0;
      io_uring_free_probe(probe);
    }
    PASTEL_RETURN_IF_ERROR(ArmAccept());
    return Status::Ok();
  }

  BackendKind kind() const override { return BackendKind::kUring; }

  bool SyncsAsync() const override { return true; }
  bool SharesBuffers() const override { return shared_; }
  Status SubmitSync(int fd, uint64_t offset, uint64_t length, uint64_t token) override {
    Result<io_uring_sqe*> sqe = Sqe();
    if (!sqe.ok()) {
      return sqe.status();
    }
    io_uring_prep_fsync(*sqe, fd, IORING_FSYNC_DATASYNC);
    // The range (vfs_fsync_range); a length the 32-bit field cannot hold syncs the whole file.
    if (length <= UINT32_MAX) {
      (*sqe)->off = offset;
      (*sqe)->len = static_cast<uint32_t>(length);
    }
    io_uring_sqe_set_data64(*sqe, (static_cast<uint64_t>(Op::kSync) << 60) | (token & kTagPayload));
    ++stats_.syncs;
    return Status::Ok();
  }

  Result<std::span<const RxSlot>> Poll(int timeout_ms) override {
    ++stats_.polls;
    BeginBatch();
    PASTEL_RETURN_IF_ERROR(Submit());
    CloseAfterEof();
    if (!accept_armed_) {
      PASTEL_RETURN_IF_ERROR(ArmAccept());
    }
    TopUp();
    Rearm();
    ForEachExpiredLinger([&](Conn& c) { StopLinger(c); });
    Publish();
    const auto deadline =
        std::chrono::steady_clock::now() + std::chrono::milliseconds(std::max(timeout_ms, 0));
    while (true) {
      int rc;
      const bool nowait = !deferred_.empty() || options_.busy_poll || timeout_ms == 0;
      if (nowait) {
        rc = io_uring_submit_and_get_events(&ring_);
      } else if (timeout_ms < 0) {
        rc = io_uring_submit_and_wait(&ring_, 1);
      } else {
        __kernel_timespec ts{};
        ts.tv_sec = timeout_ms / 1000;
        ts.tv_nsec = static_cast<long long>(timeout_ms % 1000) * 1000000;
        io_uring_cqe* cqe = nullptr;
        rc = io_uring_submit_and_wait_timeout(&ring_, &cqe, 1, &ts, nullptr);
        if (rc == -ETIME) {
          rc = 0;
        }
      }
      ++stats_.wait_syscalls;
      if (rc < 0 && rc != -EINTR && rc != -EAGAIN && rc != -EBUSY) {
        return Status::FromErrno("io_uring_enter", -rc);
      }
      Reap();
      if (!slots_.empty() || !deferred_.empty() || !options_.busy_poll ||
          (timeout_ms >= 0 && std::chrono::steady_clock::now() >= deadline)) {
        break;
      }
      // Busy-poll: completions other than RX (sends, accepts re-armed) may need submitting.
      PASTEL_RETURN_IF_ERROR(Submit());
      TopUp();
      Rearm();
      Publish();
    }
    EndBatch();
    return std::span<const RxSlot>(slots_);
  }

  Status Release(uint32_t buffer) override {
    if (shared_) {
      ++stats_.released;
      return pool_.Unretain(buffer);  // the slot's reference (a refill takes the buffer once free)
    }
    if (buffer >= pool_.buffer_count() || pool_.state(buffer) != BufferState::kApp) {
      return Status::FailedPrecondition("release of buffer " + std::to_string(buffer) +
                                        " not held by the application");
    }
    ++stats_.released;
    if (!free_bids_.empty() && pool_.PartitionOf(buffer) == partition_) {
      PASTEL_RETURN_IF_ERROR(pool_.LendToKernel(buffer));
      AddToRing(buffer);
      return Status::Ok();
    }
    return pool_.Release(buffer);
  }

  Status Keep(uint32_t buffer) override {
    if (shared_) {
      ++stats_.kept;  // the slot's reference is the kept one; the ring never had it whole
      return pool_.state(buffer) == BufferState::kRetained
                 ? Status::Ok()
                 : Status::FailedPrecondition("keep of a buffer no slot holds");
    }
    PASTEL_RETURN_IF_ERROR(pool_.Retain(buffer));
    ++stats_.kept;
    // The swap: a free buffer takes the kept one's place in the ring (published at the next Poll).
    TopUp();
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
    if (c->tx_empty() && !c->send_in_flight) {
      StartClose(*c);
    }
    return Status::Ok();
  }

  void PauseReceive(ConnId conn) override {
    Conn* c = table_.Get(conn);
    if (c == nullptr || c->recv_paused || c->want_close || c->shut || c->gone) {
      return;
    }
    c->recv_paused = true;
    ++stats_.rx_paused;
    if (c->recv_active) {
      // The multishot receive ends with -ECANCELED (what it received before is delivered).
      Result<io_uring_sqe*> sqe = Sqe();
      if (sqe.ok()) {
        io_uring_prep_cancel64(*sqe, Tag(Op::kRecv, c), 0);
        io_uring_sqe_set_data64(*sqe, Tag(Op::kCancel, c));
      }
    }
  }

  void ResumeReceive(ConnId conn) override {
    Conn* c = table_.Get(conn);
    if (c == nullptr || !c->recv_paused) {
      return;
    }
    c->recv_paused = false;
    if (!c->recv_active) {
      KeepReceiving(*c);  // else the receive still runs (its cancel ends it, then it re-arms)
    }
  }

  Status Submit() override {
    for (ConnId id : tx_dirty_) {
      Conn* c = table_.Get(id);
      if (c == nullptr) {
        continue;
      }
      c->tx_listed = false;
      if (!c->send_in_flight && !c->tx_empty()) {
        PASTEL_RETURN_IF_ERROR(StartSend(*c));
      }
    }
    tx_dirty_.clear();
    return Status::Ok();
  }

 private:
  Result<io_uring_sqe*> Sqe() {
    io_uring_sqe* sqe = io_uring_get_sqe(&ring_);
    if (sqe == nullptr) {
      // Submission queue full: hand what is there to the kernel and take a fresh entry.
      const int rc = io_uring_submit(&ring_);
      if (rc < 0 && rc != -EBUSY && rc != -EAGAIN) {
        return Status::FromErrno("io_uring_submit", -rc);
      }
      sqe = io_uring_get_sqe(&ring_);
      if (sqe == nullptr) {
        return Status::Busy("io_uring submission queue full");
      }
    }
    return sqe;
  }

  Status ArmAccept() {
    Result<io_uring_sqe*> sqe = Sqe();
    if (!sqe.ok()) {
      return sqe.status();
    }
    io_uring_prep_multishot_accept(*sqe, listen_fd_, nullptr, nullptr, SOCK_CLOEXEC);
    io_uring_sqe_set_data64(*sqe, Tag(Op::kAccept, nullptr));
    accept_armed_ = true;
    return Status::Ok();
  }

  Status ArmRecv(Conn& c) {
    Result<io_uring_sqe*> sqe = Sqe();
    if (!sqe.ok()) {
      return sqe.status();
    }
    io_uring_prep_recv_multishot(*sqe, c.fd, nullptr, 0, 0);
    (*sqe)->flags |= IOSQE_BUFFER_SELECT;
    (*sqe)->buf_group = kBufferGroup;
    io_uring_sqe_set_data64(*sqe, Tag(Op::kRecv, &c));
    c.recv_active = true;
    return Status::Ok();
  }

  Status StartSend(Conn& c) {
    Result<io_uring_sqe*> sqe = Sqe();
    if (!sqe.ok()) {
      return sqe.status();
    }
    size_t pool_bytes = 0;
    table_.PrepareSend(c, &pool_bytes);
    // On loopback the receiving side copies a zero-copy send's pages anyway, and the send pays
    // for pinning them and for the notification besides (docs/net.md: pipelined GETs of 1 KiB
    // values took twice the server CPU with zero-copy sends): plain sends there unless asked
    // (send_zc_loopback).
    c.zc_in_flight = zc_supported_ && options_.send_zc_min > 0 &&
                     pool_bytes >= options_.send_zc_min &&
                     (!c.loopback || options_.send_zc_loopback);
    if (c.zc_in_flight) {
      io_uring_prep_sendmsg_zc(*sqe, c.fd, &c.msg, MSG_NOSIGNAL);
      ++stats_.tx_zc_sends;
    } else {
      io_uring_prep_sendmsg(*sqe, c.fd, &c.msg, MSG_NOSIGNAL);
    }
    io_uring_sqe_set_data64(*sqe, Tag(Op::kSend, &c));
    c.send_in_flight = true;
    ++stats_.tx_sends;
    return Status::Ok();
  }

  void AddToRing(uint32_t buffer) {
    const uint16_t bid = free_bids_.back();
    free_bids_.pop_back();
    bid_to_buf_[bid] = buffer;
    bid_off_[bid] = 0;
    io_uring_buf_ring_add(br_, pool_.BufferData(buffer), pool_.buffer_size(), bid, mask_,
                          static_cast<int>(pending_adds_));
    ++pending_adds_;
  }

  // Publishes the buffers added since the last batch with one store-release of the ring tail
  // (io_uring_buf_ring_advance); pairs with the kernel's load-acquire of the tail.
  void Publish() {
    if (pending_adds_ > 0) {
      io_uring_buf_ring_advance(br_, static_cast<int>(pending_adds_));
      pending_adds_ = 0;
    }
  }

  // Fills the ring's empty places with free buffers of the partition (those freed anywhere since,
  // kept buffers' last references dropped included).
  void TopUp() {
    while (!free_bids_.empty()) {
      Result<uint32_t> b = pool_.Allocate(partition_, BufferState::kKernel);
      if (!b.ok()) {
        return;
      }
      AddToRing(*b);
    }
  }

  // Arms the receive of a connection that should receive and has none armed (or waits for
  // buffers): not paused, not closing, or lingering.
  void KeepReceiving(Conn& c) {
    if (c.recv_active || c.recv_paused || c.shut || c.gone || c.peer_eof ||
        (c.want_close && !c.lingering)) {
      return;
    }
    if (free_bids_.size() == entries_ || !ArmRecv(c).ok()) {
      if (!c.starved) {
        c.starved = true;  // a receive armed on an empty ring fails at once: wait for buffers
        starved_.push_back(c.id());
      }
    }
  }

  // Receives stopped by ENOBUFS start again once the ring has buffers; the data waited in the
  // socket meanwhile.
  void Rearm() {
    if (starved_.empty() || free_bids_.size() == entries_) {
      return;
    }
    for (ConnId id : starved_) {
      Conn* c = table_.Get(id);
      if (c == nullptr || c->recv_active || c->recv_paused || c->shut || c->gone ||
          (c->want_close && !c->lingering) || c->peer_eof) {
        if (c != nullptr) {
          c->starved = false;  // ResumeReceive or the linger arms it when it must receive
        }
        continue;
      }
      c->starved = false;
      if (ArmRecv(*c).ok()) {
        ++stats_.rearmed;
      }
    }
    starved_.clear();
  }

  void Reap() {
    io_uring_cqe* cqe = nullptr;
    while (!BatchFull() && io_uring_peek_cqe(&ring_, &cqe) == 0) {
      const uint64_t tag = io_uring_cqe_get_data64(cqe);
      const int res = cqe->res;
      const uint32_t flags = cqe->flags;
      io_uring_cqe_seen(&ring_, cqe);
      switch (TagOp(tag)) {
        case Op::kAccept: OnAccept(res, flags); break;
        case Op::kRecv: OnRecv(tag, res, flags); break;
        case Op::kSend: OnSend(tag, res, flags); break;
        case Op::kCancel: break;  // the receive it ended reports -ECANCELED
        case Op::kSync: {
          RxSlot sl;
          sl.kind = RxKind::kSynced;
          sl.conn = tag & kTagPayload;
          sl.error = res;
          slots_.push_back(sl);
          break;
        }
      }
    }
  }

  void OnAccept(int res, uint32_t flags) {
    if ((flags & IORING_CQE_F_MORE) == 0) {
      accept_armed_ = false;  // re-armed at the next Poll
    }
    if (res < 0) {
      return;  // EMFILE and friends: the connection waits in the backlog
    }
    Conn* c = table_.Open(res);
    if (c == nullptr) {
      ::close(res);
      return;
    }
    SetNoDelay(res);
    c->loopback = PeerIsLoopback(res);
    ++stats_.accepted;
    RxSlot s;
    s.conn = c->id();
    s.kind = RxKind::kOpen;
    slots_.push_back(s);
    if (free_bids_.size() == entries_) {
      c->starved = true;  // a receive armed on an empty ring fails at once: wait for buffers
      starved_.push_back(c->id());
    } else if (!ArmRecv(*c).ok()) {
      c->starved = true;
      starved_.push_back(c->id());
    }
  }

  // Shared buffers: the completion's `res` bytes are the next of buffer `bid`'s (at *offset); the
  // slot gets a reference of its own, and the ring's share goes once the kernel is done with the
  // buffer. A completion that took no bytes leaves the buffer where it is (the kernel recycles a
  // buffer a receive did not fill): kNoBuffer.
  uint32_t TakeShared(uint16_t bid, int res, uint32_t flags, uint32_t* offset) {
    const uint32_t buffer = bid_to_buf_[bid];
    if (res <= 0 || buffer == Pool::kNoBuffer) {
      return Pool::kNoBuffer;
    }
    if (bid_off_[bid] == 0) {
      (void)pool_.ReturnFromKernel(buffer);  // Kernel -> App: its first bytes are ours to read
      (void)pool_.Retain(buffer);            // -> Retained(1): the ring's share
    }
    *offset = bid_off_[bid];
    bid_off_[bid] += static_cast<uint32_t>(res);
    (void)pool_.Retain(buffer);  // the slot's
    if ((flags & kCqeBufMore) == 0) {
      bid_to_buf_[bid] = Pool::kNoBuffer;
      bid_off_[bid] = 0;
      free_bids_.push_back(bid);
      (void)pool_.Unretain(buffer);  // the kernel is done with it: the ring's share goes
    }
    return buffer;
  }

  void OnRecv(uint64_t tag, int res, uint32_t flags) {
    uint32_t buffer = Pool::kNoBuffer;
    uint32_t offset = 0;
    if ((flags & IORING_CQE_F_BUFFER) != 0 && shared_) {
      buffer =
          TakeShared(static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT), res, flags, &offset);
    } else if ((flags & IORING_CQE_F_BUFFER) != 0) {
      const uint16_t bid = static_cast<uint16_t>(flags >> IORING_CQE_BUFFER_SHIFT);
      buffer = bid_to_buf_[bid];
      bid_to_buf_[bid] = Pool::kNoBuffer;
      free_bids_.push_back(bid);
      (void)pool_.ReturnFromKernel(buffer);
    }
    Conn* c = table_.GetByIndex(TagIndex(tag), TagGen(tag));
    const bool more = (flags & IORING_CQE_F_MORE) != 0;
    if (c == nullptr) {
      if (buffer != Pool::kNoBuffer) {
        (void)Release(buffer);
      }
      return;
    }
    if (!more) {
      c->recv_active = false;
    }
    if (c->lingering) {
      OnLingerRecv(*c, res, buffer, more);
      return;
    }
    if (res > 0 && buffer != Pool::kNoBuffer) {
      if (c->shut || c->gone) {
        (void)Release(buffer);  // closing: nobody reads this any more
      } else {
        RxSlot s;
        s.conn = c->id();
        s.buffer = buffer;
        s.offset = offset;
        s.length = static_cast<uint32_t>(res);
        slots_.push_back(s);
        ++stats_.rx_slots;
        stats_.rx_bytes += static_cast<uint64_t>(res);
      }
      if (!more) {
        KeepReceiving(*c);  // the multishot ended for its own reasons: go on
      }
      MaybeFinish(*c);
      return;
    }
    if (buffer != Pool::kNoBuffer) {
      (void)Release(buffer);
    }
    if (res == -ENOBUFS) {
      ++stats_.rx_starved;
      if (!c->shut && !c->gone && !c->want_close && !c->peer_eof && !c->starved) {
        c->starved = true;
        starved_.push_back(c->id());
      }
      MaybeFinish(*c);
      return;
    }
    if (res == -ECANCELED) {
      KeepReceiving(*c);  // paused (nothing to do), or resumed before the cancel took effect
      MaybeFinish(*c);
      return;
    }
    if (res == 0) {
      if (c->shut) {
        MaybeFinish(*c);  // our shutdown took effect
        return;
      }
      // Peer closed its side: the application still answers what it got (next Poll).
      c->peer_eof = true;
      eof_.push_back(c->id());
      return;
    }
    if (res < 0 && res != -ECANCELED) {
      if (c->error == 0 && !c->shut) {
        c->error = res;
      }
      c->gone = true;
      if (!c->send_in_flight) {
        table_.DropTx(*c);  // else when the send in flight completes (AfterSend)
      }
      StartClose(*c);
    }
    MaybeFinish(*c);
  }

  void OnSend(uint64_t tag, int res, uint32_t flags) {
    Conn* c = table_.GetByIndex(TagIndex(tag), TagGen(tag));
    if (c == nullptr) {
      return;
    }
    if ((flags & IORING_CQE_F_NOTIF) != 0) {
      // The kernel no longer reads the zero-copy send's memory: its entries complete now, and the
      // connection may send again.
      table_.FinishHeld(*c);
      c->zc_in_flight = false;
      c->send_in_flight = false;
      AfterSend(*c);
      return;
    }
    // A zero-copy send with a notification to come keeps its memory, and the connection's one
    // send slot, until then.
    const bool notif_follows = c->zc_in_flight && (flags & IORING_CQE_F_MORE) != 0;
    if (!notif_follows) {
      c->zc_in_flight = false;
      c->send_in_flight = false;
    }
    if (res > 0) {
      stats_.tx_bytes += static_cast<uint64_t>(res);
      const size_t asked = [&] {
        size_t n = 0;
        for (size_t i = 0; i < c->msg.msg_iovlen; ++i) {
          n += c->iov[i].iov_len;
        }
        return n;
      }();
      if (static_cast<size_t>(res) < asked) {
        ++stats_.tx_partial;
      }
      table_.Consume(*c, static_cast<size_t>(res), notif_follows);
    } else if (!c->gone) {
      c->error = res < 0 ? res : -EPIPE;
      c->gone = true;
      StartClose(*c);
    }
    if (!notif_follows) {
      AfterSend(*c);
    }
  }

  // The connection's send slot is free again: send the rest, or close what asked to be closed.
  void AfterSend(Conn& c) {
    if (c.gone) {
      table_.DropTx(c);
    }
    if (!c.tx_empty() && !c.gone) {
      MarkTxDirty(c);
    } else if (c.want_close && c.tx_empty()) {
      StartClose(c);
    }
    MaybeFinish(c);
  }

  void CloseAfterEof() {
    for (ConnId id : eof_) {
      Conn* c = table_.Get(id);
      if (c == nullptr) {
        continue;
      }
      c->want_close = true;
      if (c->tx_empty() && !c->send_in_flight) {
        StartClose(*c);
      }
    }
    eof_.clear();
  }

  // Lingering (Backend::Close): what the peer still sends is discarded; its close, an error, the
  // volume limit or (in Poll) the time limit ends the linger.
  void OnLingerRecv(Conn& c, int res, uint32_t buffer, bool more) {
    if (buffer != Pool::kNoBuffer) {
      (void)Release(buffer);
    }
    if (res > 0) {
      if (Lingered(c, static_cast<uint64_t>(res))) {
        StopLinger(c);
        return;
      }
      if (!more) {
        KeepReceiving(c);
      }
      return;
    }
    if (res == -ENOBUFS) {
      if (!c.starved) {
        c.starved = true;
        starved_.push_back(c.id());
      }
      return;
    }
    StopLinger(c);  // the peer closed (0) or failed: done
  }

  void StopLinger(Conn& c) {
    EndLinger(c);
    c.linger = false;
    StartClose(c);
  }

  // Stops the connection: shutdown wakes its receive, which then ends; MaybeFinish closes it. An
  // application's close lingers first (Backend::Close), unless the peer is gone or done sending.
  void StartClose(Conn& c) {
    if (c.lingering) {
      return;
    }
    if (c.linger && !c.shut && !c.gone && !c.peer_eof) {
      StartLinger(c);
      c.recv_paused = false;
      KeepReceiving(c);
      return;
    }
    if (!c.shut) {
      c.shut = true;
      ::shutdown(c.fd, SHUT_RDWR);
    }
    MaybeFinish(c);
  }

  void MaybeFinish(Conn& c) {
    if (!c.open || !c.shut || c.recv_active || c.send_in_flight) {
      return;
    }
    EndLinger(c);
    ::close(c.fd);
    EmitClosed(c);
    table_.Free(&c);
  }

  io_uring ring_{};
  bool ring_ready_ = false;
  unsigned ring_flags_ = 0;
  io_uring_buf_ring* br_ = nullptr;
  size_t br_bytes_ = 0;
  uint32_t entries_ = 0;
  int mask_ = 0;
  uint32_t pending_adds_ = 0;
  std::vector<uint32_t> bid_to_buf_;
  std::vector<uint32_t> bid_off_;  // shared buffers: bytes of each buffer filled so far
  std::vector<uint16_t> free_bids_;
  std::vector<ConnId> starved_;
  bool accept_armed_ = false;
  bool zc_supported_ = false;
  bool shared_ = false;  // receives share buffers (IOU_PBUF_RING_INC granted)
};

}  // namespace

Status ProbeUring() {
  io_uring ring{};
  unsigned flags = 0;
  PASTEL_RETURN_IF_ERROR(InitRing(&ring, 8, false, &flags));
  io_uring_probe* probe = io_uring_get_probe_ring(&ring);
  Status st;
  if (probe == nullptr) {
    st = Status::Unsupported("io_uring probe failed");
  } else {
    for (int op :
         {IORING_OP_ACCEPT, IORING_OP_RECV, IORING_OP_SENDMSG, IORING_OP_PROVIDE_BUFFERS}) {
      if (io_uring_opcode_supported(probe, op) == 0) {
        st = Status::Unsupported("io_uring lacks opcode " + std::to_string(op));
        break;
      }
    }
    io_uring_free_probe(probe);
  }
  if (st.ok()) {
    // Provided-buffer rings (5.19) are what multishot receive needs.
    void* mem = ::mmap(nullptr, 4096, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    io_uring_buf_reg reg{};
    reg.ring_addr = reinterpret_cast<uint64_t>(mem);
    reg.ring_entries = 8;
    reg.bgid = 1;
    const int rc = mem == MAP_FAILED ? -ENOMEM : io_uring_register_buf_ring(&ring, &reg, 0);
    if (rc != 0) {
      st = Status::Unsupported(std::string("provided-buffer rings: ") + std::strerror(-rc));
    }
    if (mem != MAP_FAILED) {
      (void)io_uring_unregister_buf_ring(&ring, 1);
      ::munmap(mem, 4096);
    }
  }
  io_uring_queue_exit(&ring);
  return st;
}

Result<std::unique_ptr<Backend>> MakeUringBackend(Pool& pool, uint32_t partition,
                                                  const NetOptions& o) {
  auto b = std::make_unique<UringBackend>(pool, partition, o);
  PASTEL_RETURN_IF_ERROR(b->Init());
  return std::unique_ptr<Backend>(std::move(b));
}

}  // namespace pastel::net
