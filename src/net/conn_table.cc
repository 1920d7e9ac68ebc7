#include "net/conn_table.h"

#include <sys/mman.h>

#include <cerrno>
#include <cstring>

namespace pastel::net {

ConnTable::ConnTable(Pool& pool, uint32_t max_connections, uint32_t tx_block_size,
                     uint32_t tx_blocks, uint32_t tx_entries)
    : pool_(pool),
      max_(max_connections),
      block_size_(tx_block_size),
      blocks_(tx_blocks),
      entries_count_(tx_entries) {}

ConnTable::~ConnTable() {
  for (auto& c : conns_) {
    if (c && c->open) {
      DropTx(*c);
    }
  }
  if (arena_ != nullptr) {
    ::munmap(arena_, arena_bytes_);
  }
}

Status ConnTable::Init() {
  if (block_size_ < 64 || blocks_ == 0 || max_ == 0 || entries_count_ < 2) {
    return Status::InvalidArgument("TX arena, entry and connection limits must be positive");
  }
  entries_.assign(entries_count_, TxEntry{});
  for (uint32_t i = 0; i < entries_count_; ++i) {
    entries_[i].next = i + 1 < entries_count_ ? i + 1 : kNoEntry;
  }
  free_head_ = 0;
  free_entries_ = entries_count_;
  arena_bytes_ = size_t{block_size_} * blocks_;
  void* p =
      ::mmap(nullptr, arena_bytes_, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
  if (p == MAP_FAILED) {
    return Status::FromErrno("map TX arena", errno);
  }
  arena_ = static_cast<uint8_t*>(p);
  free_blocks_.reserve(blocks_);
  for (uint32_t b = blocks_; b-- > 0;) {
    free_blocks_.push_back(b);
  }
  block_refs_.assign(blocks_, 0);
  return Status::Ok();
}

Conn* ConnTable::Open(int fd) {
  uint32_t idx;
  if (!free_indices_.empty()) {
    idx = free_indices_.back();
    free_indices_.pop_back();
  } else {
    if (conns_.size() >= max_) {
      return nullptr;
    }
    idx = static_cast<uint32_t>(conns_.size());
    conns_.push_back(std::make_unique<Conn>());
    conns_.back()->index = idx;
  }
  Conn& c = *conns_[idx];
  const uint32_t gen = c.gen + 1 == 0 ? 1 : c.gen + 1;
  c = Conn{};
  c.index = idx;
  c.gen = gen;
  c.fd = fd;
  c.open = true;
  ++open_;
  return &c;
}

void ConnTable::Free(Conn* c) {
  DropTx(*c);
  c->open = false;
  c->fd = -1;
  --open_;
  free_indices_.push_back(c->index);
}

Conn* ConnTable::Get(ConnId id) const {
  const uint32_t idx = static_cast<uint32_t>(id);
  const uint32_t gen = static_cast<uint32_t>(id >> 32);
  if (idx >= conns_.size() || !conns_[idx]) {
    return nullptr;
  }
  Conn* c = conns_[idx].get();
  return c->open && c->gen == gen ? c : nullptr;
}

Conn* ConnTable::GetByIndex(uint32_t index, uint32_t gen28) const {
  if (index >= conns_.size() || !conns_[index]) {
    return nullptr;
  }
  Conn* c = conns_[index].get();
  return c->open && (c->gen & 0x0FFFFFFFu) == gen28 ? c : nullptr;
}

Status ConnTable::QueueBytes(Conn& c, std::span<const uint8_t> bytes) {
  if (bytes.empty()) {
    return Status::Ok();
  }
  // The rest of c's open block first; then fresh blocks, each opened in turn.
  const size_t room = c.tx_block == kNoEntry ? 0 : block_size_ - c.tx_block_used;
  const size_t rest = bytes.size() > room ? bytes.size() - room : 0;
  const size_t need_blocks = (rest + block_size_ - 1) / block_size_;
  // The bytes in the open block extend the last entry when it ends where they begin.
  TxEntry* last = c.tx_count > 0 ? &entries_[c.tx_tail] : nullptr;
  const bool extends = room > 0 && last != nullptr && !last->pool && last->owner == c.tx_block &&
                       last->data + last->len == Block(c.tx_block) + c.tx_block_used;
  const size_t need_entries = need_blocks + (room > 0 && !extends ? 1 : 0);
  if (need_blocks > free_blocks_.size() || !Fits(c, need_entries)) {
    return Status::Busy("TX queue full");
  }
  size_t off = 0;
  if (room > 0) {
    const size_t n = std::min(room, bytes.size());
    uint8_t* at = Block(c.tx_block) + c.tx_block_used;
    std::memcpy(at, bytes.data(), n);
    if (extends) {
      last->len += static_cast<uint32_t>(n);
    } else {
      ++block_refs_[c.tx_block];
      Push(c, {at, static_cast<uint32_t>(n), c.tx_block, false});
    }
    c.tx_block_used += static_cast<uint32_t>(n);
    off = n;
  }
  while (off < bytes.size()) {
    CloseBlock(c);
    const uint32_t b = free_blocks_.back();
    free_blocks_.pop_back();
    block_refs_[b] = 2;  // the entry's, and c's while the block is open
    const size_t n = std::min<size_t>(block_size_, bytes.size() - off);
    std::memcpy(Block(b), bytes.data() + off, n);
    Push(c, {Block(b), static_cast<uint32_t>(n), b, false});
    c.tx_block = b;
    c.tx_block_used = static_cast<uint32_t>(n);
    off += n;
  }
  return Status::Ok();
}

void ConnTable::CloseBlock(Conn& c) {
  if (c.tx_block != kNoEntry) {
    Unref(c.tx_block);
    c.tx_block = kNoEntry;
    c.tx_block_used = 0;
  }
}

void ConnTable::Unref(uint32_t b) {
  // Invariant: a block's references are its entries and its open connection's.
  if (--block_refs_[b] == 0) {
    free_blocks_.push_back(b);
  }
}

Status ConnTable::QueueExtents(Conn& c, std::span<const Extent> extents) {
  if (!Fits(c, extents.size())) {
    return Status::Busy("TX queue full");
  }
  for (const Extent& e : extents) {
    if (e.buffer >= pool_.buffer_count() || e.length == 0 ||
        uint64_t{e.offset} + e.length > pool_.buffer_size()) {
      return Status::InvalidArgument("extent outside the pool");
    }
  }
  for (size_t i = 0; i < extents.size(); ++i) {
    const Extent& e = extents[i];
    Status st = pool_.Retain(e.buffer);
    if (!st.ok()) {
      // Undo the references taken so far: all or nothing.
      for (size_t j = 0; j < i; ++j) {
        (void)pool_.Unretain(extents[j].buffer);
      }
      return st;
    }
  }
  for (const Extent& e : extents) {
    Push(c, {pool_.BufferData(e.buffer) + e.offset, e.length, e.buffer, true});
  }
  return Status::Ok();
}

size_t ConnTable::PrepareSend(Conn& c, size_t* pool_bytes) {
  size_t total = 0;
  size_t in_pool = 0;
  uint32_t n = 0;
  for (uint32_t at = c.tx_head; at != kNoEntry && n < kMaxIov; at = entries_[at].next, ++n) {
    const TxEntry& e = entries_[at];
    const uint32_t skip = n == 0 ? c.tx_head_sent : 0;
    c.iov[n].iov_base = const_cast<uint8_t*>(e.data + skip);
    c.iov[n].iov_len = e.len - skip;
    total += e.len - skip;
    in_pool += e.pool ? e.len - skip : 0;
  }
  if (pool_bytes != nullptr) {
    *pool_bytes = in_pool;
  }
  c.msg = msghdr{};
  c.msg.msg_iov = c.iov;
  c.msg.msg_iovlen = n;
  return total;
}

void ConnTable::Consume(Conn& c, size_t n, bool hold) {
  while (n > 0 && c.tx_count > 0) {
    const size_t left = entries_[c.tx_head].len - c.tx_head_sent;
    if (n < left) {
      c.tx_head_sent += static_cast<uint32_t>(n);
      return;
    }
    n -= left;
    const TxEntry e = Pop(c);
    if (hold) {
      // Invariant: one send covers at most kMaxIov entries, so the hold list cannot overflow.
      c.zc_hold[c.zc_hold_n++] = e;
    } else {
      Complete(e);
    }
  }
  if (c.tx_count == 0) {
    CloseBlock(c);  // an idle connection holds no block (held entries keep theirs referenced)
  }
}

void ConnTable::FinishHeld(Conn& c) {
  for (uint32_t i = 0; i < c.zc_hold_n; ++i) {
    Complete(c.zc_hold[i]);
  }
  c.zc_hold_n = 0;
}

void ConnTable::DropTx(Conn& c) {
  FinishHeld(c);
  while (c.tx_count > 0) {
    Complete(Pop(c));
  }
  CloseBlock(c);
}

void ConnTable::Push(Conn& c, const TxEntry& e) {
  const uint32_t at = free_head_;
  free_head_ = entries_[at].next;
  --free_entries_;
  entries_[at] = e;
  entries_[at].next = kNoEntry;
  if (c.tx_tail == kNoEntry) {
    c.tx_head = at;
  } else {
    entries_[c.tx_tail].next = at;
  }
  c.tx_tail = at;
  ++c.tx_count;
}

TxEntry ConnTable::Pop(Conn& c) {
  const uint32_t at = c.tx_head;
  const TxEntry e = entries_[at];
  c.tx_head = e.next;
  if (c.tx_head == kNoEntry) {
    c.tx_tail = kNoEntry;
  }
  --c.tx_count;
  c.tx_head_sent = 0;
  entries_[at].next = free_head_;
  free_head_ = at;
  ++free_entries_;
  return e;
}

void ConnTable::Complete(const TxEntry& e) {
  if (e.pool) {
    // The reference taken in QueueExtents; the buffer's other owners keep theirs.
    (void)pool_.Unretain(e.owner);
  } else {
    Unref(e.owner);
  }
}

}  // namespace pastel::net
