#include "store_loop.h"

#include <algorithm>
#include <cassert>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace pastel::store {

StoreLoop::StoreLoop(Store& store, uint32_t loop, Backend& backend, Protocol& protocol,
                     const StoreOptions& options, LoopCounters& counters, std::string_view name)
    : store_(store),
      protocol_(protocol),
      backend_(backend),
      pool_(*store.pool_),
      partition_(loop),
      index_(*store.index_),
      options_(options),
      counters_(counters),
      log_(store.log_),
      streams_(LoopStreams(store.log_->stream_count(), store.loops_, loop)),
      none_seq_(store.none_sequence_),
      name_(name) {
  // Appends go to the first stream; a pool from before one stream per loop gives a loop two, and
  // its checkpoints truncate both (recovery replayed both, by sequence).
  stream_ = &log_->stream(streams_.front());
  // Page granularity (a regular file) with a backend that syncs asynchronously: the group commit
  // is pipelined (Launch); else each batch commits synchronously (FinishNow).
  pipelined_ = options_.persist != PersistMode::kNone && backend_.SyncsAsync() &&
               pool_.ops().sync_fd() >= 0 && log_->ops().sync_fd() >= 0 &&
               pool_.ops().granularity() == Granularity::kPage &&
               log_->ops().granularity() == Granularity::kPage;
  if (index_.checkpoints() && StreamsHoldRecords()) {
    // Records a restart replayed (the tail since the last checkpoint): the first batch starts a
    // checkpoint, so that they are not replayed again and again.
    appended_since_checkpoint_ = options_.checkpoint_records;
  }
  open_.actions.reserve(1024);
  open_.extents.reserve(4096);
  open_.text.reserve(64 * 1024);
  open_.pending.reserve(1024);
  batch_hashes_.reserve(1024);
  prefetch_hashes_.reserve(kMaxPrefetchKeys);
  dirty_.reserve(1024);
  expire_notes_.reserve(kMaxExpireNotes);
  wall_ms_ = WallClock();
}

int64_t StoreLoop::WallClock() const {
  if (options_.clock_ms != nullptr) {
    return options_.clock_ms->load(std::memory_order_relaxed);
  }
  return std::chrono::duration_cast<std::chrono::milliseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

StoreLoop::~StoreLoop() {
  for (auto& [id, c] : conns_) {
    protocol_.OnClose(c);
    for (size_t i = c.head; i < c.segs.size(); ++i) {
      Dispose(c.segs[i]);
    }
  }
  if (fill_.buffer != Pool::kNoBuffer) {
    (void)pool_.Unretain(fill_.buffer);  // the loop's share; its values hold theirs
  }
}

// --- The turn (docs/store.md): receive, parse, admit, record, commit, answer, checkpoint.

Status StoreLoop::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    // Held connections are looked at again soon: their answers drain as sends complete.
    // (An expiry backlog: the next sweep runs at once.)
    Result<std::span<const RxSlot>> batch = backend_.Poll(expire_backlog_ || !woken_.empty() ? 0
                                                          : held_.empty()                    ? 100
                                                                                             : 5);
    ++turn_;
    if (!batch.ok()) {
      DrainFlight();  // what flies is synced and answered (as far as the backend still can)
      return batch.status();
    }
    now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
    wall_ms_ = WallClock();
    protocol_.OnTurn(*this);  // what other threads asked of this loop's connections
    if (!batch->empty() || !held_.empty() || !woken_.empty()) {
      OnBatch(*batch);
    } else if ((SweepDue() && ExpireKeys()) | Background() | Pack() | !open_.actions.empty()) {
      // An idle turn: the expired keys the sweep found, and the protocol's garbage, are removed
      // now; answers OnTurn queued (pastel-kv's messages of other loops' PUBLISH) go out.
      Finish();
    }
    if (options_.request_timeout_ms != 0 && now_ms_ >= next_sweep_ms_) {
      next_sweep_ms_ = now_ms_ + std::max<int64_t>(100, options_.request_timeout_ms / 8);
      SweepTimeouts();
    }
    if (index_.checkpoints() && options_.persist != PersistMode::kNone) {
      WhenIdle();
    }
    if (checkpointing_) {
      (void)backend_.Submit();  // the turn's answers go out before the slice's work
      CheckpointSlice();
    }
    counters_.enobufs.store(backend_.stats().rx_starved, std::memory_order_relaxed);
    counters_.lingering_closes.store(backend_.stats().lingering_closes, std::memory_order_relaxed);
  }
  DrainFlight();  // a stop waits for the batch in flight and the one waiting behind it
  if (index_.checkpoints() && options_.persist != PersistMode::kNone && StreamsHoldRecords() &&
      !stream_->read_only() && !pool_.read_only() && index_.WaitWarm()) {
    // A clean stop leaves nothing to replay at the next start: a last, whole checkpoint (after
    // the start's warm-up, when the stop comes before it ended).
    StartCheckpoint();
    while (checkpointing_) {
      CheckpointSlice(/*whole=*/true);
    }
  }
  return Status::Ok();
}

// --- Receive: the batch's slots join their connections; each dirty connection is parsed.

void StoreLoop::OnBatch(std::span<const RxSlot> batch) {
  if (!batch.empty()) {
    counters_.Add(counters_.batches);
    counters_.Add(counters_.batch_slots, batch.size());
  }
  tx_free_ = backend_.TxFree();
  if (!held_.empty()) {
    Unhold();
  }
  // Parked connections woken since the last turn are parsed again (before this turn's bytes).
  for (const ConnId id : woken_) {
    auto it = conns_.find(id);
    if (it == conns_.end() || it->second.parked_ || it->second.held_ || it->second.dirty_) {
      continue;  // gone, parked again, held (parsed once let go) or listed already
    }
    Conn& c = it->second;
    if (c.recv_paused_) {
      c.recv_paused_ = false;
      backend_.ResumeReceive(id);
    }
    c.dirty_ = true;
    dirty_.push_back(id);
  }
  woken_.clear();
  for (const RxSlot& s : batch) {
    switch (s.kind) {
      case RxKind::kOpen: {
        Conn& c = conns_[s.conn];
        c.id = s.conn;
        protocol_.OnOpen(*this, c);
        break;
      }
      case RxKind::kClosed: DropConn(s.conn); break;
      case RxKind::kSynced: OnSynced(s); break;
      case RxKind::kData: {
        counters_.Add(counters_.rx_bytes, s.length);
        auto it = conns_.find(s.conn);
        if (it == conns_.end() || it->second.closing) {
          (void)backend_.Release(s.buffer);  // nobody will read it
          break;
        }
        Conn& c = it->second;
        // (With shared buffers, a receive may continue the last one in the same buffer. It stays a
        // segment of its own: protocols keep positions as a segment's index and offset.)
        c.segs.push_back({s.buffer, s.offset, s.length, false});
        c.avail += s.length;
        if (c.held_ || c.parked_) {
          if (!c.recv_paused_ && c.avail >= kHeldRecvBytes) {
            c.recv_paused_ = true;  // it waits for its answers to drain: no more of its bytes
            backend_.PauseReceive(c.id);
            counters_.Add(counters_.held_paused);
          }
          break;  // parsed once it is let go (Unhold) or woken (Wake)
        }
        if (!c.dirty_) {
          c.dirty_ = true;
          dirty_.push_back(s.conn);
        }
        break;
      }
    }
  }
  // The keys this turn's requests will read, brought in for all of them at once (their index
  // entries, then their values' first lines and buffer states): the parse that follows then waits
  // on few misses instead of one after another.
  if (protocol_.WantsPrefetch()) {
    prefetch_hashes_.clear();
    for (ConnId id : dirty_) {
      if (auto it = conns_.find(id); it != conns_.end() && !it->second.closing) {
        protocol_.Prefetch(*this, it->second);
      }
    }
    if (!prefetch_hashes_.empty()) {
      index_.PrefetchValues(prefetch_hashes_, pool_);
    }
  }
  for (ConnId id : dirty_) {
    auto it = conns_.find(id);
    if (it != conns_.end()) {
      Conn& c = it->second;
      c.dirty_ = false;
      parse_tx_entries_ = 0;
      parsing_ = true;
      saw_pending_ = false;
      protocol_.Parse(*this, c);
      while (room_wanted_) {
        // The log-room phase: a command of c was told kNeedsRoom and left unconsumed. The batch
        // so far is committed and answered and a whole checkpoint empties the log; then c's
        // commands go on from that one.
        room_wanted_ = false;
        MakeLogRoom();
        parse_tx_entries_ = 0;
        protocol_.Parse(*this, c);
      }
      parsing_ = false;
      saw_pending_ = false;
      if (c.avail == 0 || c.closing || c.held_ || c.parked_) {
        // (A held connection's clock starts again when it is let go: the wait is the server's; a
        // parked one's when it is woken.)
        c.partial_since_ms_ = 0;
      } else if (c.partial_since_ms_ == 0) {
        c.partial_since_ms_ = now_ms_;  // an unfinished request: its clock starts
      }
    }
  }
  dirty_.clear();
  (void)ExpireKeys();
  (void)Background();
  (void)Pack();
  if (flight_.active && flight_.syncs_left == 0) {
    Land();  // the flight's answers first; it launches the open batch
  }
  Finish();
}

void StoreLoop::SweepTimeouts() {
  const int64_t limit = options_.request_timeout_ms;
  bool any = false;
  for (auto& [id, c] : conns_) {
    if (c.partial_since_ms_ != 0 && !c.closing && now_ms_ - c.partial_since_ms_ > limit) {
      c.partial_since_ms_ = 0;
      counters_.Add(counters_.request_timeouts);
      protocol_.OnTimeout(*this, c);
      any = true;
    }
  }
  if (any) {
    Finish();  // sends the answers (no write is pending between turns)
  }
}

// --- Parse: the protocol's view of a connection's unconsumed bytes.

void StoreLoop::BodyExtents(const Conn& c, uint64_t skip, uint64_t len,
                            std::vector<Extent>* out) const {
  out->clear();
  uint64_t pos = skip + c.front_off;
  for (size_t i = c.head; i < c.segs.size() && len > 0; ++i) {
    const Segment& s = c.segs[i];
    if (pos >= s.length) {
      pos -= s.length;
      continue;
    }
    const uint32_t n = static_cast<uint32_t>(std::min<uint64_t>(s.length - pos, len));
    out->push_back({s.buffer, static_cast<uint32_t>(s.offset + pos), n});
    len -= n;
    pos = 0;
  }
}

void StoreLoop::GatherFront(Conn& c, size_t want) const {
  c.scratch.clear();
  uint32_t off = c.front_off;
  for (size_t i = c.head; i < c.segs.size() && c.scratch.size() < want; ++i) {
    const Segment& g = c.segs[i];
    const size_t take = std::min<size_t>(g.length - off, want - c.scratch.size());
    c.scratch.append(SegData(g) + off, take);
    off = 0;
  }
}

void StoreLoop::Consume(Conn& c, uint64_t n) {
  c.partial_since_ms_ = 0;  // a request was taken whole; what follows starts its own clock
  c.avail -= n;
  while (n > 0) {
    Segment& s = c.segs[c.head];
    const uint64_t left = s.length - c.front_off;
    if (n < left) {
      c.front_off += static_cast<uint32_t>(n);
      return;
    }
    n -= left;
    Dispose(s);
    ++c.head;
    c.front_off = 0;
  }
  if (c.head == c.segs.size()) {
    c.segs.clear();
    c.head = 0;
  }
}

void StoreLoop::Dispose(const Segment& s) {
  if (s.kept) {
    (void)pool_.Unretain(s.buffer);  // the connection's share; records keep theirs
  } else {
    (void)backend_.Release(s.buffer);
  }
}

void StoreLoop::DropConn(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    return;
  }
  Conn& c = it->second;
  protocol_.OnClose(c);
  for (size_t i = c.head; i < c.segs.size(); ++i) {
    Dispose(c.segs[i]);
  }
  conns_.erase(it);
}

// --- Admit: room in the pool and the log, asked before a command queues anything; the log-room
// phase.

WriteOutcome StoreLoop::Writable(uint64_t length, uint64_t log_bytes) {
  return Admit(length / pool_.buffer_size() + 1, log_bytes);
}

uint64_t StoreLoop::BuffersFor(size_t body_extents, uint64_t length) const {
  return options_.persist == PersistMode::kCopy ? length / pool_.buffer_size() + 1 : body_extents;
}

WriteOutcome StoreLoop::Admit(uint64_t buffers, uint64_t log_bytes) {
  if (pool_.read_only() || (options_.persist != PersistMode::kNone && stream_->read_only())) {
    return WriteOutcome::kReadOnly;
  }
  const uint64_t need = options_.reserve_buffers + buffers;
  // (The loop's own partition first: FreeFor reads every other partition's count.)
  if (pool_.FreeInPartition(partition_) < need && pool_.FreeFor(partition_) < need) {
    counters_.Add(counters_.rejected_full);
    return WriteOutcome::kPoolFull;
  }
  return LogRoom(log_bytes);
}

WriteOutcome StoreLoop::Deletable(uint64_t log_bytes) {
  if (pool_.read_only() || (options_.persist != PersistMode::kNone && stream_->read_only())) {
    return WriteOutcome::kReadOnly;
  }
  return LogRoom(log_bytes);
}

uint64_t StoreLoop::DeleteRoom(size_t key_len) {
  return LogStream::record_bytes(key_len, 0);
}

WriteOutcome StoreLoop::LogRoom(uint64_t log_bytes) {
  if (group_.failed != WriteOutcome::kQueued) {
    return group_.failed;  // (the protocol queues nothing more of a failed group)
  }
  if (options_.persist == PersistMode::kNone || log_bytes == 0 ||
      stream_->free_bytes() >= open_.deferred_log_bytes + log_bytes) {
    return WriteOutcome::kQueued;
  }
  if (group_.open) {
    return GroupRoom(log_bytes);
  }
  // A whole checkpoint empties the stream: it can make the room unless the records exceed a whole
  // stream, or it already failed to in this turn.
  if (index_.checkpoints() && log_bytes <= stream_->capacity() && room_failed_turn_ != turn_) {
    room_wanted_ = true;
    return WriteOutcome::kNeedsRoom;
  }
  counters_.Add(counters_.rejected_full);
  return WriteOutcome::kLogFull;  // the whole command, none of its records
}

WriteOutcome StoreLoop::GroupRoom(uint64_t log_bytes) {
  // The group's records go into one batch: after the log-room phase (the batch before the group
  // committed, a whole checkpoint) the stream is empty, and the group runs again from its start.
  const uint64_t group = open_.deferred_log_bytes - group_.deferred_log_bytes + log_bytes;
  if (index_.checkpoints() && group <= stream_->capacity() && room_failed_turn_ != turn_) {
    room_wanted_ = true;
    group_.failed = WriteOutcome::kNeedsRoom;
  } else {
    counters_.Add(counters_.rejected_full);
    group_.failed = WriteOutcome::kLogFull;  // the whole group, none of its records
  }
  return group_.failed;
}

void StoreLoop::BeginGroup() {
  assert(!group_.open);
  group_ = {true,
            WriteOutcome::kQueued,
            open_.pending_n,
            open_.actions.size(),
            open_.extents.size(),
            open_.text.size(),
            open_.deferred_log_bytes,
            appended_since_slice_,
            appended_since_checkpoint_};
}

WriteOutcome StoreLoop::EndGroup() {
  assert(group_.open);
  group_.open = false;
  const WriteOutcome out = group_.failed;
  group_.failed = WriteOutcome::kQueued;
  if (out != WriteOutcome::kQueued) {
    DropGroup();
    return out;
  }
  if (!pipelined_ && open_.deferred_log_bytes > 0) {
    // PERSIST: none yet. The group's records are appended now, together and in order, to the
    // open batch (nothing else was appended meanwhile: the loop's sequences stay in its order);
    // they are durable with the batch's one commit (FinishNow), all or none. A failed append
    // turns the stream read-only, and the batch's commit then answers every write as failed.
    Status why;
    (void)AppendDeferred(open_, &why, group_.pending);
  }
  return WriteOutcome::kQueued;
}

void StoreLoop::DropGroup() {
  for (size_t i = group_.pending; i < open_.pending_n; ++i) {
    DropRefs(open_.pending[i].value.extents);
    open_.pending[i].value.extents.clear();
  }
  open_.pending_n = group_.pending;  // (the filter keeps their bits: a read then scans, finds none)
  ++pending_epoch_;                  // (writes left the pending ones)
  open_.deferred_log_bytes = group_.deferred_log_bytes;
  appended_since_slice_ = group_.appended_since_slice;
  appended_since_checkpoint_ = group_.appended_since_checkpoint;
  for (size_t i = group_.actions; i < open_.actions.size(); ++i) {
    const Action& a = open_.actions[i];
    if (a.kind == ActionKind::kValue) {
      DropRefs({open_.extents.data() + a.ext_begin, a.ext_count});  // the answer's references
    }
  }
  open_.actions.resize(group_.actions);
  open_.extents.resize(group_.extents);
  open_.text.resize(group_.text);
}

size_t StoreLoop::LoggedExtents(size_t body_extents, uint64_t length) const {
  // A copy fills fresh buffers (CopyToFresh): one extent per buffer.
  return options_.persist == PersistMode::kCopy ? length / pool_.buffer_size() + 1 : body_extents;
}

uint64_t StoreLoop::RecordRoom(size_t key_len, size_t body_extents, uint64_t length,
                               bool expires) const {
  return LogStream::record_bytes(key_len, LoggedExtents(body_extents, length), expires);
}

void StoreLoop::MakeLogRoom() {
  if (stream_->read_only() || pool_.read_only()) {
    return;  // the command, run again, is refused as read-only
  }
  // The batch so far goes first: its records are in the stream and not yet in the index, which a
  // checkpoint must hold before the stream is truncated. Its answers leave before the checkpoint.
  Finish();
  (void)backend_.Submit();
  if (stream_->read_only() || pool_.read_only()) {
    return;  // the batch's commit failed: nothing more is written (the caller refuses)
  }
  if (!index_.WaitWarm()) {
    // A stream that fills during a start's warm-up waits for it (no checkpoint runs before);
    // after a failed warm-up the store is read-only.
    room_failed_turn_ = turn_;
    return;
  }
  if (!checkpointing_) {
    StartCheckpoint();
  }
  // PERSIST: as CheckpointSlice: before, this loop's streams hold its writes since the last
  // checkpoint; after the tree's commit and the truncations, the tree alone does, and the streams
  // are empty (a failed checkpoint leaves them as they were, and the pool read-only on a failed
  // flush).
  while (checkpointing_) {
    CheckpointSlice(/*whole=*/true);
  }
  counters_.Add(counters_.log_full_checkpoints);
  if (stream_->tail() != LogStream::records_begin()) {
    room_failed_turn_ = turn_;  // the checkpoint failed: no second one this turn (kLogFull)
  }
}

// --- Record: a write keeps (or copies) its value and appends its record to the batch.

WriteOutcome StoreLoop::Put(Conn& c, std::string_view key, std::span<const Extent> body,
                            uint64_t length, bool admitted, int64_t expire_ms) {
  if (expire_ms < 0) {
    return WriteOutcome::kInternal;  // the protocol checks the times it accepts
  }
  if (!admitted) {
    if (WriteOutcome w =
            Writable(length, RecordRoom(key.size(), body.size(), length, expire_ms != 0));
        w != WriteOutcome::kQueued) {
      return w;
    }
  }
  Value v;
  v.length = static_cast<uint32_t>(length);
  v.expire_ms = expire_ms;
  if (options_.persist == PersistMode::kCopy) {
    if (!CopyToFresh(body, &v.extents).ok()) {
      counters_.Add(counters_.rejected_full);
      return WriteOutcome::kPoolFull;
    }
  } else {
    if (!KeepInPlace(c, body).ok()) {
      return WriteOutcome::kInternal;
    }
    v.extents = body;
  }
  return Record(key, std::move(v));
}

WriteOutcome StoreLoop::PutOwned(std::string_view key, Extents extents, uint64_t length,
                                 bool admitted, int64_t expire_ms, ValueType type) {
  if (expire_ms < 0) {
    DropRefs(extents);
    return WriteOutcome::kInternal;
  }
  if (!admitted) {
    if (WriteOutcome w =
            Writable(length, LogStream::record_bytes(key.size(), extents.size(), expire_ms != 0));
        w != WriteOutcome::kQueued) {
      DropRefs(extents);
      return w;
    }
  }
  Value v;
  v.length = static_cast<uint32_t>(length);
  v.expire_ms = expire_ms;
  v.type = type;
  v.extents = std::move(extents);
  return Record(key, std::move(v));
}

WriteOutcome StoreLoop::PutAppend(Conn& c, std::string_view key, Value old,
                                  std::span<const Extent> body, uint64_t body_length) {
  const uint64_t log_bytes = LogStream::record_bytes(
      key.size(), old.extents.size() + LoggedExtents(body.size(), body_length), old.expire_ms != 0);
  if (WriteOutcome w = Writable(body_length, log_bytes); w != WriteOutcome::kQueued) {
    DropRefs(old.extents);
    return w;
  }
  if (options_.persist == PersistMode::kCopy) {
    if (!CopyToFresh(body, &copy_).ok()) {
      DropRefs(old.extents);
      counters_.Add(counters_.rejected_full);
      return WriteOutcome::kPoolFull;
    }
  } else {
    if (!KeepInPlace(c, body).ok()) {
      DropRefs(old.extents);
      return WriteOutcome::kInternal;
    }
    copy_ = body;
  }
  old.extents.append(copy_.begin(), copy_.end());
  old.length = static_cast<uint32_t>(old.length + body_length);
  old.deleted = false;
  return Record(key, std::move(old));
}

void StoreLoop::VisitPending(
    const std::function<void(std::string_view key, const Value& v)>& fn) const {
  VisitPendingFrom(0, fn);
}

void StoreLoop::VisitPendingFrom(
    size_t first, const std::function<void(std::string_view key, const Value& v)>& fn) const {
  // The flight's writes are older than the open batch's.
  const size_t flying = flight_.active ? flight_.data.pending_n : 0;
  for (size_t i = first; i < flying; ++i) {
    const PendingWrite& pw = flight_.data.pending[i];
    fn(pw.key, pw.value);
  }
  for (size_t i = first > flying ? first - flying : 0; i < open_.pending_n; ++i) {
    const PendingWrite& pw = open_.pending[i];
    fn(pw.key, pw.value);
  }
  // (Whether the visitor used any of them is its own business: the answers that follow are taken
  // to rest on them.)
  saw_pending_ = saw_pending_ || (parsing_ && (flight_.active || open_.pending_n > 0));
}

WriteOutcome StoreLoop::Delete(std::string_view key) {
  if (WriteOutcome w = Deletable(DeleteRoom(key.size())); w != WriteOutcome::kQueued) {
    return w;
  }
  Value v;
  v.deleted = true;
  return Record(key, std::move(v));
}

uint64_t StoreLoop::RecordBytesOf(std::string_view key, const Value& v, uint64_t only_if) {
  return LogStream::record_bytes(key.size(), v.extents.size(), only_if != 0 || v.expire_ms != 0);
}

Result<uint64_t> StoreLoop::AppendRecord(std::string_view key, const Value& v, uint64_t only_if) {
  if (only_if != 0) {
    return stream_->AppendExpire(key, only_if);
  }
  return v.deleted ? stream_->AppendDelete(key)
                   : stream_->AppendPut(key, v.extents, v.expire_ms, v.type);
}

WriteOutcome StoreLoop::Record(std::string_view key, Value v, uint64_t only_if) {
  // The batch's slots are kept between batches, so the key's copy reuses a slot's capacity.
  if (options_.persist == PersistMode::kNone) {
    v.sequence = none_seq_.fetch_add(1, std::memory_order_relaxed);
  } else if (pipelined_ || group_.open) {
    // The record is appended when the batch is launched (AppendDeferred), after the flight before
    // it landed, or, in a group, when the group ends (EndGroup: it is never appended alone); its
    // size and the stream's room are checked now, as an append would.
    const uint64_t bytes = RecordBytesOf(key, v, only_if);
    if (!LogStream::RecordFits(key.size(), v.extents.size(), only_if != 0 || v.expire_ms != 0)) {
      DropRefs(v.extents);
      return WriteOutcome::kTooLarge;
    }
    if (stream_->read_only()) {
      DropRefs(v.extents);
      return WriteOutcome::kReadOnly;
    }
    if (stream_->free_bytes() < open_.deferred_log_bytes + bytes) {
      DropRefs(v.extents);
      if (group_.open) {
        return GroupRoom(bytes);
      }
      counters_.Add(counters_.rejected_full);
      return WriteOutcome::kLogFull;
    }
    open_.deferred_log_bytes += bytes;
    ++appended_since_slice_;
    ++appended_since_checkpoint_;
  } else {
    Result<uint64_t> r = AppendRecord(key, v, only_if);
    if (!r.ok()) {
      DropRefs(v.extents);
      switch (r.status().code()) {
        case StatusCode::kNoSpace:
          counters_.Add(counters_.rejected_full);
          return WriteOutcome::kLogFull;
        case StatusCode::kReadOnly: return WriteOutcome::kReadOnly;
        default: return WriteOutcome::kTooLarge;
      }
    }
    v.sequence = *r;
    v.data_crc = stream_->last_data_crc();
    ++appended_since_slice_;
    ++appended_since_checkpoint_;
  }
  if (open_.pending_n == open_.pending.size()) {
    // A new slot's key has room for the keys most writes have (a hash's field key included):
    // slots are reused by writes of other keys, and one whose key grew only when a longer key
    // happened to land in it would allocate long after the loop warmed up.
    open_.pending.emplace_back().key.reserve(kPendingKeyBytes);
  }
  PendingWrite& pw = open_.pending[open_.pending_n++];
  pw.key.assign(key);
  pw.hash = KeyMap::HashOf(key);  // the filter below, and Index::Prefetch
  open_.filter[FilterWord(pw.hash)] |= uint64_t{1} << (pw.hash & 63);
  pw.value = std::move(v);
  pw.only_if = only_if;
  pw.move = false;
  return WriteOutcome::kQueued;
}

Result<Extent> StoreLoop::FillRoom(uint32_t n) {
  const uint32_t bs = pool_.buffer_size();
  if (fill_.buffer == Pool::kNoBuffer || bs - fill_.used < n) {
    Result<uint32_t> b = pool_.Allocate(partition_);
    if (!b.ok()) {
      return b.status();
    }
    (void)pool_.Retain(*b);  // App -> Retained(1): the loop's share while it fills the buffer
    if (fill_.buffer != Pool::kNoBuffer) {
      (void)pool_.Unretain(fill_.buffer);  // full: the values in it hold it now (or nothing)
    }
    fill_ = {*b, 0};
  }
  const Extent e{fill_.buffer, fill_.used, n};
  fill_.used += n;
  (void)pool_.Retain(e.buffer);  // the caller's
  return e;
}

Status StoreLoop::FreshValue(std::string_view bytes, Extents* out) {
  out->clear();
  const uint32_t bs = pool_.buffer_size();
  if (!bytes.empty() && bytes.size() <= bs / kDenseFraction) {
    Result<Extent> e = FillRoom(static_cast<uint32_t>(bytes.size()));
    if (!e.ok()) {
      return e.status();
    }
    // PERSIST: none here. The bytes before e->offset are other values' (durable, or in this
    // batch) and stay as they are; nothing names these bytes yet: they become durable with the
    // commit of the record that names them (LogStream::Commit flushes every value range of its
    // batch before its one fence). On a block device a torn write of their sector leaves the
    // earlier bytes as they were: the sector holds the same bytes there either way.
    std::memcpy(pool_.BufferData(e->buffer) + e->offset, bytes.data(), bytes.size());
    out->push_back(*e);
    return Status::Ok();
  }
  size_t done = 0;
  while (done < bytes.size()) {
    Result<uint32_t> b = pool_.Allocate(partition_);
    if (!b.ok()) {
      for (const Extent& x : *out) {
        (void)pool_.Release(x.buffer);
      }
      out->clear();
      return b.status();
    }
    const uint32_t n = static_cast<uint32_t>(std::min<size_t>(bs, bytes.size() - done));
    // PERSIST: none here. The buffer is fresh (no record names it), so a crash may keep any part
    // of these bytes harmlessly; they become durable with the commit of the record that names
    // them (LogStream::Commit flushes every value range of its batch before its one fence).
    std::memcpy(pool_.BufferData(*b), bytes.data() + done, n);
    out->push_back({*b, 0, n});
    done += n;
  }
  for (const Extent& x : *out) {
    (void)pool_.Retain(x.buffer);  // the app's hold becomes the caller's reference
  }
  return Status::Ok();
}

Status StoreLoop::KeepInPlace(Conn& c, std::span<const Extent> extents) {
  // Each body buffer: the connection's hold becomes a pool reference (Keep swaps a free buffer into
  // the receive ring), then the record takes a reference of its own.
  size_t si = c.head;
  for (const Extent& e : extents) {
    // (With shared buffers one buffer may hold several of the connection's segments.)
    while (si < c.segs.size() && (c.segs[si].buffer != e.buffer || e.offset < c.segs[si].offset ||
                                  e.offset >= c.segs[si].offset + c.segs[si].length)) {
      ++si;
    }
    if (si == c.segs.size()) {
      return Status::FailedPrecondition("body extent outside the connection's segments");
    }
    Segment& s = c.segs[si];
    if (!s.kept) {
      PASTEL_RETURN_IF_ERROR(backend_.Keep(s.buffer));
      s.kept = true;
      counters_.Add(counters_.kept);
    }
    PASTEL_RETURN_IF_ERROR(pool_.Retain(e.buffer));
  }
  return Status::Ok();
}

Status StoreLoop::CopyToFresh(std::span<const Extent> body, Extents* out) {
  out->clear();
  const uint32_t bs = pool_.buffer_size();
  uint64_t length = 0;
  for (const Extent& e : body) {
    length += e.length;
  }
  if (length > 0 && length <= bs / kDenseFraction) {
    Result<Extent> x = FillRoom(static_cast<uint32_t>(length));
    if (!x.ok()) {
      return x.status();
    }
    uint32_t at = x->offset;
    for (const Extent& e : body) {
      // PERSIST: none here, as in FreshValue's dense case.
      std::memcpy(pool_.BufferData(x->buffer) + at, pool_.BufferData(e.buffer) + e.offset,
                  e.length);
      at += e.length;
    }
    out->push_back(*x);
    return Status::Ok();
  }
  uint32_t cur = Pool::kNoBuffer;
  uint32_t used = bs;
  for (const Extent& e : body) {
    uint32_t done = 0;
    while (done < e.length) {
      if (used == bs) {
        Result<uint32_t> b = pool_.Allocate(partition_);
        if (!b.ok()) {
          for (const Extent& x : *out) {
            (void)pool_.Release(x.buffer);
          }
          out->clear();
          return b.status();
        }
        cur = *b;
        used = 0;
        out->push_back({cur, 0, 0});
      }
      const uint32_t n = std::min(bs - used, e.length - done);
      // PERSIST: none here, as in FreshValue: made durable by the commit of the record that
      // names the fresh buffer, which is not yet written.
      std::memcpy(pool_.BufferData(cur) + used, pool_.BufferData(e.buffer) + e.offset + done, n);
      used += n;
      done += n;
      out->back().length += n;
    }
  }
  // The fresh buffers become the record's: held by the app now, retained once durable below.
  for (const Extent& x : *out) {
    (void)pool_.Retain(x.buffer);
  }
  return Status::Ok();
}

void StoreLoop::DropRefs(std::span<const Extent> extents) {
  for (const Extent& e : extents) {
    (void)pool_.Unretain(e.buffer);
  }
}

// --- Read: this loop's batch first (read-your-writes), then the index.

const StoreLoop::PendingWrite* StoreLoop::BatchData::Find(std::string_view key, size_t hash) const {
  if (pending_n == 0 || (filter[FilterWord(hash)] & (uint64_t{1} << (hash & 63))) == 0) {
    return nullptr;
  }
  // A backwards scan finds the latest write of the key without a per-request map insert; the
  // filter spares it for keys the batch did not write.
  for (size_t i = pending_n; i-- > 0;) {
    if (pending[i].hash == hash && pending[i].key == key) {
      return &pending[i];
    }
  }
  return nullptr;
}

const StoreLoop::PendingWrite* StoreLoop::Pending(std::string_view key) const {
  if (open_.pending_n == 0 && !flight_.active) {
    return nullptr;
  }
  const size_t h = std::hash<std::string_view>{}(key);
  // The open batch's writes are later than the flight's.
  const PendingWrite* pw = open_.Find(key, h);
  return pw != nullptr || !flight_.active ? pw : flight_.data.Find(key, h);
}

bool StoreLoop::Lookup(std::string_view key, Value* out) {
  lookup_damaged_ = false;
  if (const PendingWrite* pw = Pending(key)) {
    saw_pending_ = saw_pending_ || parsing_;
    // (A pending write that expired meanwhile is removed by the sweep once it is applied.)
    if (pw->value.deleted || pw->value.ExpiredAt(wall_ms_)) {
      return false;
    }
    *out = pw->value;
    for (const Extent& e : out->extents) {
      (void)pool_.Retain(e.buffer);  // the record's reference keeps it until Finish
    }
    return true;
  }
  if (index_.GetAndRetain(key, pool_, out, &lookup_damaged_)) {
    if (!out->ExpiredAt(wall_ms_)) {
      return true;
    }
    DropRefs(out->extents);
    NoteExpired(key, out->sequence);
    return false;
  }
  if (lookup_damaged_) {
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
      std::fprintf(stderr,
                   "%s: Corruption: a stored value fails its data checksum (the pool file was "
                   "damaged); it is refused, never served (pastelctl verify lists them all)\n",
                   name_.c_str());
    }
  }
  return false;
}

bool StoreLoop::Exists(std::string_view key) {
  if (const PendingWrite* pw = Pending(key)) {
    saw_pending_ = saw_pending_ || parsing_;
    return !pw->value.deleted && !pw->value.ExpiredAt(wall_ms_);
  }
  uint64_t expired = 0;
  if (index_.Contains(key, wall_ms_, &expired)) {
    return true;
  }
  if (expired != 0) {
    NoteExpired(key, expired);
  }
  return false;
}

// --- Expiry: removed lazily (a read met the key) and actively (a sweep of the index), by kExpire
// records committed as writes.

void StoreLoop::NoteExpired(std::string_view key, uint64_t sequence) {
  if (expire_n_ == kMaxExpireNotes) {
    return;  // the sweep finds it later
  }
  if (expire_n_ == expire_notes_.size()) {
    expire_notes_.emplace_back();
  }
  ExpireNote& n = expire_notes_[expire_n_++];
  n.key.assign(key);
  n.sequence = sequence;
}

bool StoreLoop::SweepDue() const {
  // (A wall clock set back by more than an interval starts the sweeps over from it.)
  return wall_ms_ >= next_expire_sweep_ms_ ||
         wall_ms_ + static_cast<int64_t>(options_.expire_sweep_ms) < next_expire_sweep_ms_;
}

bool StoreLoop::Background() {
  // (A wall clock set back by more than an interval starts the intervals over from it.)
  if (!background_more_ && wall_ms_ < next_background_ms_ &&
      wall_ms_ + static_cast<int64_t>(options_.expire_sweep_ms) >= next_background_ms_) {
    return false;
  }
  next_background_ms_ = wall_ms_ + options_.expire_sweep_ms;
  background_more_ = protocol_.Background(*this);
  return background_more_;
}

bool StoreLoop::ExpireKeys() {
  if (SweepDue()) {
    // One sweep per expire_sweep_ms (ten a second by default), each a bounded slice of the
    // index's map; a loop takes the keys whose hash falls to it, so that loops do not remove one
    // key twice.
    next_expire_sweep_ms_ = wall_ms_ + options_.expire_sweep_ms;
    const uint32_t loops = store_.loops();
    (void)index_.CollectExpired(wall_ms_, &expire_cursor_, 16384,
                                [&](std::string_view key, uint64_t sequence) {
                                  if (KeyMap::HashOf(key) % loops == partition_) {
                                    NoteExpired(key, sequence);
                                  }
                                  return expire_n_ < kMaxExpireNotes;
                                });
    // A sweep that found as many as a turn takes goes on in the next turn, at once: many keys
    // that expire together are removed at a turn's pace, not ten slices a second.
    expire_backlog_ = expire_n_ == kMaxExpireNotes;
    if (expire_backlog_) {
      next_expire_sweep_ms_ = wall_ms_;
    }
  }
  if (expire_n_ == 0) {
    expire_backlog_ = false;
    return false;
  }
  size_t queued = 0;
  const bool writable =
      !pool_.read_only() && (options_.persist == PersistMode::kNone || !stream_->read_only());
  for (size_t i = 0; i < expire_n_ && writable; ++i) {
    const ExpireNote& n = expire_notes_[i];
    if (Pending(n.key) != nullptr) {
      continue;  // this loop writes the key (or removes it) already
    }
    const uint64_t bytes = LogStream::record_bytes(n.key.size(), 0, /*word=*/true);
    if (options_.persist != PersistMode::kNone &&
        stream_->free_bytes() < open_.deferred_log_bytes + bytes) {
      break;  // no log room now: a later sweep finds the rest (a checkpoint makes room)
    }
    Value v;
    v.deleted = true;
    if (Record(n.key, std::move(v), n.sequence) == WriteOutcome::kQueued) {
      ++queued;
    }
  }
  expire_n_ = 0;
  // (No backlog while nothing can be removed: a read-only store, a full log. Those wait for the
  // next sweep on its interval.)
  expire_backlog_ = expire_backlog_ && queued > 0;
  return queued > 0;
}

bool StoreLoop::Packable(const Value& v, uint32_t held) const {
  if (v.deleted || v.length == 0 || v.length > pool_.buffer_size() / kDenseFraction ||
      v.extents.empty()) {
    return false;
  }
  for (const Extent& e : v.extents) {
    if (e.buffer == fill_.buffer || pool_.refs(e.buffer) > kPackMaxRefs + held) {
      return false;
    }
  }
  return true;
}

bool StoreLoop::Pack() {
  const uint32_t below = options_.pack_below_free != 0 ? options_.pack_below_free
                                                       : pool_.PartitionCount(partition_) / 4;
  if (store_.loops() != 1 || pool_.read_only() || group_.open || !index_.warm() ||
      (options_.persist != PersistMode::kNone && stream_->read_only()) ||
      pool_.FreeInPartition(partition_) >= below) {
    return false;  // several loops, a store that takes no writes, or no shortage of buffers
  }
  pack_n_ = 0;
  if (pack_keys_.size() < kMaxPackNotes) {
    pack_keys_.resize(kMaxPackNotes);  // once: the keys keep their capacity from turn to turn
  }
  (void)index_.VisitLive(&pack_cursor_, kPackSlots, [&](std::string_view key, const Value& v) {
    if (Packable(v, 0)) {
      pack_keys_[pack_n_++].assign(key);
    }
    return pack_n_ < kMaxPackNotes;
  });
  size_t moved = 0;
  for (size_t i = 0; i < pack_n_; ++i) {
    const std::string& key = pack_keys_[i];
    if (Pending(key) != nullptr) {
      continue;  // this loop writes the key already: that write moves it
    }
    Value cur;
    if (!Lookup(key, &cur)) {
      continue;  // gone, expired (its removal is queued) or damaged (never copied)
    }
    // Looked at again with the value's bytes checked (Lookup): still small and sparse (each
    // extent's count holds the reference just taken)?
    const bool sparse = Packable(cur, 1);
    // Room as ExpireKeys asks it (no log-room phase, no refusal counted): a buffer above the
    // reserve, and the record's bytes in the active stream.
    const uint64_t log_bytes = LogStream::record_bytes(key.size(), 1, cur.expire_ms != 0);
    const bool room = pool_.FreeInPartition(partition_) > options_.reserve_buffers &&
                      (options_.persist == PersistMode::kNone ||
                       stream_->free_bytes() >= open_.deferred_log_bytes + log_bytes);
    if (!sparse || !room) {
      DropRefs(cur.extents);
      if (!sparse) {
        continue;
      }
      break;  // no room: a later turn goes on (a checkpoint makes log room)
    }
    Value moved_value;
    moved_value.length = cur.length;
    moved_value.expire_ms = cur.expire_ms;
    moved_value.type = cur.type;
    // PERSIST: none here: the copy goes into the fill buffer (CopyToFresh) and its record into the
    // turn's batch; the value stays where it was until the batch is durable and applied, so a
    // crash at any point recovers one place or the other, never neither.
    const Status copied = CopyToFresh(cur.extents, &moved_value.extents);
    DropRefs(cur.extents);
    if (!copied.ok()) {
      break;
    }
    if (Record(key, std::move(moved_value)) == WriteOutcome::kQueued) {
      open_.pending[open_.pending_n - 1].move = true;
      ++moved;
    }
  }
  if (moved > 0) {
    counters_.Add(counters_.packed_values, moved);
  }
  return moved > 0;
}

// --- Answer: queued in order, sent after the commit; backpressure.

uint32_t StoreLoop::AppendText(std::string_view bytes) {
  const size_t begin = open_.text.size();
  open_.text.append(bytes);
  return static_cast<uint32_t>(begin);
}

void StoreLoop::AnswerText(ConnId conn, std::string_view bytes, AnswerClass cls, bool close) {
  AnswerTextSince(conn, AppendText(bytes), cls, close);
}

bool StoreLoop::DropMuted(ConnId conn, bool close) {
  if (muted_ == 0 || conn != muted_) {
    return false;
  }
  if (close) {
    open_.actions.push_back(
        {conn, ActionKind::kText, AnswerClass::kOk, true, 0, 0, 0, 0, 0, 0, false});
  }
  return true;
}

void StoreLoop::AnswerTextSince(ConnId conn, size_t begin, AnswerClass cls, bool close) {
  if (DropMuted(conn, close)) {
    open_.text.resize(begin);  // the answer's bytes
    return;
  }
  open_.actions.push_back({conn, ActionKind::kText, cls, close, static_cast<uint32_t>(begin),
                           static_cast<uint32_t>(open_.text.size() - begin), 0, 0, 0, 0,
                           saw_pending_});
  CountTx(1, open_.text.size() - begin, 0);
}

void StoreLoop::AnswerWrite(ConnId conn, std::string_view ok, std::string_view failed, bool close) {
  if (DropMuted(conn, close)) {
    return;
  }
  const uint32_t ob = AppendText(ok);
  const uint32_t fb = AppendText(failed);
  open_.actions.push_back({conn, ActionKind::kWrite, AnswerClass::kOk, close, ob,
                           static_cast<uint32_t>(ok.size()), fb,
                           static_cast<uint32_t>(failed.size()), 0, 0, false});
  CountTx(1, std::max(ok.size(), failed.size()), 0);
}

void StoreLoop::AnswerValue(ConnId conn, std::string_view prefix, const Value& v,
                            std::string_view suffix, bool close, bool with_bytes) {
  if (DropMuted(conn, close)) {
    DropRefs(v.extents);
    return;
  }
  const uint32_t pb = AppendText(prefix);
  const uint32_t sb = AppendText(with_bytes ? suffix : std::string_view());
  const uint32_t eb = static_cast<uint32_t>(open_.extents.size());
  if (with_bytes) {
    open_.extents.insert(open_.extents.end(), v.extents.begin(), v.extents.end());
  } else {
    DropRefs(v.extents);
  }
  open_.actions.push_back({conn, ActionKind::kValue, AnswerClass::kOk, close, pb,
                           static_cast<uint32_t>(prefix.size()), sb,
                           static_cast<uint32_t>(with_bytes ? suffix.size() : 0), eb,
                           static_cast<uint32_t>(open_.extents.size() - eb), saw_pending_});
  CountTx(2, prefix.size() + suffix.size(), open_.extents.size() - eb);
}

void StoreLoop::Close(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end()) {
    return;
  }
  it->second.closing = true;  // nothing more of it is parsed; what it sends is released
  (void)backend_.Close(conn);
}

void StoreLoop::CountTx(size_t texts, uint64_t text_bytes, size_t extents) {
  // High estimates: every text piece may start a block and take an entry of its own, and a piece
  // of n blocks' bytes takes n entries more.
  const uint64_t bs = std::max<uint32_t>(tx_free_.block_size, 1);
  const uint64_t blocks = texts + text_bytes / bs;
  batch_tx_blocks_ += blocks;
  batch_tx_entries_ += blocks + extents;
  parse_tx_entries_ += blocks + extents;
}

bool StoreLoop::Held(Conn& c) {
  if (c.held_) {
    return true;
  }
  // What the connection's answers take of the backend's TX queues, and what is left of the
  // loop's, with this batch's answers counted. A connection holding a share of the TX room is
  // held once the room runs low, and any connection once it is nearly gone (one command's answer
  // may take thousands of entries: MGET of 1,024 keys).
  const uint64_t queued = backend_.TxQueued(c.id) + parse_tx_entries_;
  const uint64_t free_entries =
      tx_free_.entries > batch_tx_entries_ ? tx_free_.entries - batch_tx_entries_ : 0;
  const uint64_t free_blocks =
      tx_free_.blocks > batch_tx_blocks_ ? tx_free_.blocks - batch_tx_blocks_ : 0;
  const bool low =
      free_entries < tx_free_.total_entries / 8 || free_blocks < tx_free_.total_blocks / 8;
  const bool gone = free_entries < std::min<uint64_t>(4096, tx_free_.total_entries / 16) ||
                    free_blocks < tx_free_.total_blocks / 16;
  if (queued < kConnTxHigh && !(low && queued >= 64) && !gone) {
    return false;
  }
  c.held_ = true;
  held_.push_back(c.id);
  counters_.Add(counters_.held);
  if (!c.recv_paused_ && c.avail >= kHeldRecvBytes) {
    c.recv_paused_ = true;
    backend_.PauseReceive(c.id);
    counters_.Add(counters_.held_paused);
  }
  return true;
}

void StoreLoop::Park(Conn& c) {
  c.parked_ = true;
  if (!c.recv_paused_ && c.avail >= kHeldRecvBytes) {
    c.recv_paused_ = true;
    backend_.PauseReceive(c.id);
  }
}

void StoreLoop::Wake(ConnId conn) {
  auto it = conns_.find(conn);
  if (it == conns_.end() || !it->second.parked_) {
    return;
  }
  it->second.parked_ = false;
  woken_.push_back(conn);
}

void StoreLoop::Unhold() {
  tx_free_ = backend_.TxFree();
  size_t keep = 0;
  for (const ConnId id : held_) {
    auto it = conns_.find(id);
    if (it == conns_.end()) {
      continue;  // closed meanwhile
    }
    Conn& c = it->second;
    const bool room = tx_free_.entries >= tx_free_.total_entries / 8 &&
                      tx_free_.blocks >= tx_free_.total_blocks / 8;
    if (backend_.TxQueued(id) > kConnTxLow || !room) {
      held_[keep++] = id;
      continue;
    }
    c.held_ = false;
    if (c.parked_) {
      continue;  // parked meanwhile: parsed once woken
    }
    if (c.recv_paused_) {
      c.recv_paused_ = false;
      backend_.ResumeReceive(id);
    }
    if (!c.dirty_) {
      c.dirty_ = true;
      dirty_.push_back(id);
    }
  }
  held_.resize(keep);
}

// --- Commit: one group commit for the batch, then its answers and its writes applied.

void StoreLoop::Finish() {
  assert(!group_.open);  // a group is never split by a commit
  if (!pipelined_) {
    FinishNow();
  } else if (flight_.active) {
    // The open batch waits for the flight: its answers go out after the flight's, and its records
    // are appended once the flight is durable (Land launches it).
  } else if (open_.pending_n == 0) {
    Answer(open_, /*durable=*/true, Status::Ok());  // nothing to commit
  } else {
    Launch();
  }
  uint64_t log_bytes = 0;  // (a gauge for INFO and /metrics: a relaxed store per turn)
  for (uint32_t i : streams_) {
    log_bytes += log_->stream(i).tail() - LogStream::records_begin();
  }
  counters_.log_bytes.store(log_bytes, std::memory_order_relaxed);
}

void StoreLoop::FinishNow() {
  if (flight_.active) {
    DrainFlight();  // its answers and writes come first
  }
  withheld_.clear();
  bool durable = true;
  Status failure;
  if (open_.pending_n > 0 && options_.persist != PersistMode::kNone) {
    // PERSIST: before, the batch's records and the values they name may be partly on the media
    // (recovery drops a batch that is not whole); after an OK, all of them are durable, and only
    // then are the batch's write answers sent (Answer). A failed commit turns the stream read-only
    // and every write of the batch is answered with a server error.
    if (open_.deferred_log_bytes > 0 && !AppendDeferred(open_, &failure)) {
      durable = false;
    } else {
      Result<CommitInfo> ci = stream_->Commit();
      counters_.Add(counters_.commits);
      if (!ci.ok()) {
        durable = false;
        failure = ci.status();
      } else {
        counters_.Add(counters_.committed_writes, ci->records);
      }
    }
  }
  Answer(open_, durable, failure);
}

bool StoreLoop::AppendDeferred(BatchData& b, Status* why, size_t first) {
  b.deferred_log_bytes = 0;
  for (PendingWrite& pw : b.writes().subspan(first)) {
    Result<uint64_t> r = AppendRecord(pw.key, pw.value, pw.only_if);
    if (!r.ok()) {
      // Record checked the record's size and the log's room: only a failed stream (or damage)
      // gets here. The records appended so far must never be sealed: the stream turns read-only.
      *why = r.status();
      (void)stream_->FailSealed(r.status());
      return false;
    }
    pw.value.sequence = *r;
    pw.value.data_crc = stream_->last_data_crc();
  }
  return true;
}

bool StoreLoop::ValueRange(const BatchData& b, SyncRange* out) const {
  PersistOps& ops = pool_.ops();
  if (ops.sync_fd() < 0) {
    return false;
  }
  uint64_t lo = UINT64_MAX;
  uint64_t hi = 0;
  for (const PendingWrite& pw : b.writes()) {
    for (const Extent& e : pw.value.extents) {
      // (The pool's region is its file's mapping, from the file's first byte.)
      const uint64_t at =
          static_cast<uint64_t>(pool_.BufferData(e.buffer) - pool_.region()) + e.offset;
      lo = std::min(lo, at);
      hi = std::max(hi, at + e.length);
    }
  }
  if (lo >= hi) {
    return false;  // deletes only
  }
  constexpr uint64_t kPage = 4096;
  lo &= ~(kPage - 1);
  hi = (hi + kPage - 1) & ~(kPage - 1);
  *out = {lo, hi - lo, &ops};
  return true;
}

void StoreLoop::Launch() {
  Flight& fl = flight_;
  std::swap(fl.data, open_);  // the open batch flies; the flight's old (empty) vectors are open
  fl.failure = Status::Ok();
  fl.ranges_n = 0;
  fl.syncs_left = 0;
  fl.records = 0;
  fl.active = true;
  fl.token = next_token_++;
  // What its answers take of the TX room goes with them; the open batch counts from 0.
  fl.tx_entries = batch_tx_entries_;
  fl.tx_blocks = batch_tx_blocks_;
  batch_tx_entries_ = 0;
  batch_tx_blocks_ = 0;
  // PERSIST: the batch's records go into the log's mapping with its end marked; nothing of it is
  // durable until both syncs below completed (Land), and nothing of it is answered before. The
  // next batch's records are not appended before then either, so a crash finds at most this one
  // batch beyond what is durable, torn or not (recovery drops it whole).
  if (AppendDeferred(fl.data, &fl.failure)) {
    Result<CommitInfo> ci = stream_->Seal(/*flush=*/false);
    counters_.Add(counters_.commits);
    counters_.Add(counters_.pipelined_commits);
    if (!ci.ok()) {
      fl.failure = ci.status();
    } else {
      fl.records = ci->records;
      if (ValueRange(fl.data, &fl.ranges[fl.ranges_n])) {
        ++fl.ranges_n;
      }
      if (stream_->SealedRange(&fl.ranges[fl.ranges_n])) {
        ++fl.ranges_n;
      }
    }
  }
  // (A failed append or seal submits nothing: the flight lands at once, answered as failed.)
  for (int i = 0; fl.failure.ok() && i < fl.ranges_n; ++i) {
    const SyncRange& r = fl.ranges[i];
    Status st = backend_.SubmitSync(r.ops->sync_fd(), r.offset, r.length, fl.token);
    if (!st.ok()) {
      // Not submitted: sync it here and now (what DrainFlight does), as a synchronous commit would.
      if (Status sync = r.ops->SyncRange(r.offset, r.length); !sync.ok() && fl.failure.ok()) {
        fl.failure = sync;
      }
      continue;
    }
    ++fl.syncs_left;
  }
  (void)backend_.Submit();  // the syncs start now, not at the next Poll
  if (fl.syncs_left == 0) {
    Land();
  }
}

void StoreLoop::OnSynced(const RxSlot& s) {
  Flight& fl = flight_;
  if (!fl.active || s.conn != fl.token || fl.syncs_left == 0) {
    return;  // a flight that DrainFlight completed already
  }
  if (s.error != 0 && fl.failure.ok()) {
    fl.failure = Status::FromErrno("fdatasync", -s.error);
  }
  --fl.syncs_left;
}

void StoreLoop::Land() {
  Flight& fl = flight_;
  const bool durable = fl.failure.ok();
  withheld_.clear();  // (kept across both batches' answers below)
  if (!durable) {
    // PERSIST: a sync failed (or the seal did): the batch may or may not be on the media; it is
    // answered as failed and the store takes no more writes.
    (void)stream_->FailSealed(fl.failure);
  } else {
    counters_.Add(counters_.committed_writes, fl.records);
  }
  fl.active = false;
  fl.syncs_left = 0;
  // Its answers go to the backend now (TxFree counts them from then on); the open batch's count
  // stays as it is.
  const uint64_t open_entries = batch_tx_entries_;
  const uint64_t open_blocks = batch_tx_blocks_;
  Answer(fl.data, durable, fl.failure);
  batch_tx_entries_ = open_entries;
  batch_tx_blocks_ = open_blocks;
  if (!durable) {
    // The open batch was parsed while this one flew: its reads may have seen the flight's writes
    // (read-your-writes), which never become durable now. It is answered as failed too: its
    // writes refused (none of its records was appended), its answers that read a write of
    // either batch withheld.
    Answer(open_, /*durable=*/false, fl.failure);
  } else if (open_.pending_n > 0 || !open_.actions.empty()) {
    Finish();  // the open batch goes next
  }
}

void StoreLoop::DrainFlight() {
  // Land launches the open batch when it has anything: drain that one too, until nothing flies.
  while (flight_.active) {
    Flight& fl = flight_;
    if (fl.syncs_left > 0) {
      // PERSIST: the same syncs, run here (the asynchronous ones still land later and are
      // ignored): after them the flight is durable.
      for (int i = 0; i < fl.ranges_n; ++i) {
        const SyncRange& r = fl.ranges[i];
        if (Status sync = r.ops->SyncRange(r.offset, r.length); !sync.ok() && fl.failure.ok()) {
          fl.failure = sync;
        }
      }
      fl.syncs_left = 0;
    }
    Land();
  }
}

void StoreLoop::Answer(BatchData& b, bool durable, const Status& failure) {
  // First the writes enter the shared index, in order (the values they replace are released):
  // before any answer leaves, so that a client told its write is done finds it on every loop
  // (another connection's read, sent once the answer arrived, may run on another loop at once).
  // A value an answer below sends keeps the reference its read took.
  if (durable && b.pending_n > 1) {
    batch_hashes_.clear();
    for (const PendingWrite& pw : b.writes()) {
      batch_hashes_.push_back(pw.hash);  // KeyMap::HashOf(pw.key)
    }
    index_.Prefetch(batch_hashes_);
  }
  for (PendingWrite& pw : b.writes()) {
    if (!durable) {
      DropRefs(pw.value.extents);
      pw.value.extents.clear();
      continue;
    }
    Value loser = index_.Apply(pw.key, std::move(pw.value), pw.only_if);
    if (pw.only_if != 0 && !loser.deleted) {
      counters_.Add(counters_.expired_keys);  // the expired value lost: its buffers come back
    }
    DropRefs(loser.extents);
  }
  // Asked after the applies: a protocol that registers a key before reading it either finds the
  // write in the index or is told of it here (pastel-kv's WATCH).
  if (durable && b.pending_n > 0 && protocol_.WantsApplied()) {
    for (const PendingWrite& pw : b.writes()) {
      if (pw.only_if == 0 && !pw.move) {  // (a packer's move changes nothing a client sees)
        protocol_.OnApplied(pw.key, pw.value.deleted);  // (a bool: kept by Apply's move)
      }
    }
  }
  const auto bytes = [&](uint32_t begin, uint32_t len) {
    return std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(b.text.data()) + begin, len);
  };
  for (const Action& a : b.actions) {
    if (!durable) {
      const bool gone = std::find(withheld_.begin(), withheld_.end(), a.conn) != withheld_.end();
      if (a.read_pending || gone) {
        // An answer that may show a write of this batch (or of the flight it read), which failed
        // and never becomes durable: withheld, with every later answer of its connection, which
        // is closed (as by a crash: the client knows nothing of what it sent since its last
        // answer). Its earlier answers went out.
        if (a.kind == ActionKind::kValue) {
          for (uint32_t i = 0; i < a.ext_count; ++i) {
            (void)pool_.Unretain(b.extents[a.ext_begin + i].buffer);  // the action's reference
          }
        }
        if (!gone) {
          withheld_.push_back(a.conn);
          counters_.Add(counters_.responses_5xx);
          Close(a.conn);
        }
        continue;
      }
    }
    Status st;
    AnswerClass cls = a.cls;
    switch (a.kind) {
      case ActionKind::kText: st = backend_.Send(a.conn, bytes(a.text_begin, a.text_len)); break;
      case ActionKind::kWrite:
        if (durable) {
          st = backend_.Send(a.conn, bytes(a.text_begin, a.text_len));
        } else {
          cls = AnswerClass::kServerError;
          st = backend_.Send(a.conn, bytes(a.alt_begin, a.alt_len));
        }
        break;
      case ActionKind::kValue: {
        const std::span<const Extent> ext(b.extents.data() + a.ext_begin, a.ext_count);
        if (a.text_len > 0) {
          st = backend_.Send(a.conn, bytes(a.text_begin, a.text_len));
        }
        if (st.ok() && !ext.empty()) {
          st = backend_.SendExtents(a.conn, ext);
        }
        if (st.ok() && a.alt_len > 0) {
          st = backend_.Send(a.conn, bytes(a.alt_begin, a.alt_len));
        }
        for (const Extent& e : ext) {
          (void)pool_.Unretain(e.buffer);  // the action's reference; the send holds its own
        }
        break;
      }
    }
    counters_.Add(cls == AnswerClass::kOk            ? counters_.responses_2xx
                  : cls == AnswerClass::kServerError ? counters_.responses_5xx
                                                     : counters_.responses_4xx);
    if (st.code() == StatusCode::kBusy) {
      // An answer that does not fit the loop's TX room at all (backpressure keeps the rest within
      // it): the connection cannot be answered in order any more.
      counters_.Add(counters_.tx_full_closes);
      static std::atomic<bool> reported{false};
      if (!reported.exchange(true)) {
        std::fprintf(stderr, "%s: an answer did not fit the TX queue; its connection is closed\n",
                     name_.c_str());
      }
      (void)backend_.Close(a.conn);
    } else if (a.close) {
      if (cls != AnswerClass::kOk) {
        counters_.Add(counters_.error_closes);  // the answer said why
      }
      (void)backend_.Close(a.conn);
    }
  }
  if (!durable) {
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
      std::fprintf(stderr, "%s: writes refused from now on: %s\n", name_.c_str(),
                   failure.ToString().c_str());
    }
  }
  if (b.pending_n > 0) {
    last_write_ms_ = now_ms_;
    b.filter.fill(0);
  }
  b.actions.clear();
  b.extents.clear();
  b.text.clear();
  if (b.pending_n > 0) {
    ++pending_epoch_;  // (writes left the pending ones)
  }
  b.pending_n = 0;  // the slots' values were moved out (Apply) or dropped
  b.deferred_log_bytes = 0;
  // The answers are the backend's now: its room says what is left.
  tx_free_ = backend_.TxFree();
  batch_tx_entries_ = 0;
  batch_tx_blocks_ = 0;
  parse_tx_entries_ = 0;
  if (options_.persist != PersistMode::kNone) {
    MaybeStartCheckpoint();
  }
}

// --- Checkpoint: the index's changes into the index file, a slice per turn; log truncation.

void StoreLoop::MaybeStartCheckpoint() {
  if (checkpointing_ || stream_->read_only() || !index_.checkpoints() || !index_.warm() ||
      stream_->tail() < checkpoint_retry_tail_) {
    return;
  }
  if (stream_->free_bytes() <= stream_->capacity() / 4 ||
      appended_since_checkpoint_ >= options_.checkpoint_records) {
    StartCheckpoint();
  }
}

void StoreLoop::CheckpointSlice(bool whole) {
  // The slice may commit the index file and then truncate the streams: every record in them must
  // be applied by then (a flight's are not until it lands).
  DrainFlight();
  // A slice must gain on the writes, or the stream fills before the checkpoint ends: all at once
  // when the stream is nearly full. The checkpoint drains every loop's changes (one index), so the
  // writes to gain on are every loop's: this loop's appends, or the changes the index noted since
  // the last slice, whichever is more (with several loops a slice sized on this loop's alone may
  // never drain them, and its stream fills).
  const uint64_t notes = index_.notes();
  const uint64_t noted = notes - notes_at_slice_;
  notes_at_slice_ = notes;
  uint64_t slice = std::max<uint64_t>(options_.checkpoint_slice,
                                      4 * std::max<uint64_t>(appended_since_slice_, noted));
  if (whole || stream_->free_bytes() < stream_->capacity() / 16) {
    slice = UINT64_MAX;
  }
  appended_since_slice_ = 0;
  Result<Index::CheckpointStep> step = index_.Checkpoint(slice, log_->next_sequence() - 1);
  if (!step.ok()) {
    FailCheckpoint(step.status());
    return;
  }
  checkpoint_written_ += step->written;
  if (!step->committed) {
    return;  // more next turn
  }
  // PERSIST: before, this loop's streams hold its writes since the last checkpoint; the tree's
  // commit now holds every one of them (this loop applied all its batches before the call), so
  // after the truncations the tree is their only copy, and a crash between two truncations
  // replays records the tree supersedes (skipped).
  const uint64_t upto = log_->next_sequence() - 1;
  for (const uint32_t id : streams_) {
    LogStream& st = log_->stream(id);
    if (st.tail() != LogStream::records_begin()) {
      Status t = st.Truncate(upto);
      if (!t.ok()) {
        FailCheckpoint(t);
        return;
      }
    }
    // The stream now holds no record at or below `upto` (the loop's next ones come after it):
    // tombstones up to there no longer hide anything in it.
    index_.SetStreamHorizon(id, upto);
  }
  checkpointing_ = false;
  appended_since_checkpoint_ = 0;
  checkpoint_retry_tail_ = 0;
  index_full_ = false;
  counters_.Add(counters_.checkpoints);
  counters_.Add(counters_.checkpointed_entries, checkpoint_written_);
}

void StoreLoop::WhenIdle() {
  if (checkpointing_ || options_.idle_checkpoint_ms == 0 || !index_.warm() ||
      now_ms_ - last_write_ms_ < static_cast<int64_t>(options_.idle_checkpoint_ms) ||
      now_ms_ < next_idle_ms_) {
    return;
  }
  next_idle_ms_ = now_ms_ + 100;  // a loop serving only reads turns often: look 10 times a second
  if (StreamsHoldRecords()) {
    if (!stream_->read_only() && !pool_.read_only() && stream_->tail() >= checkpoint_retry_tail_) {
      StartCheckpoint();
    }
    return;
  }
  // Nothing of this loop is in the log, and what it appends later gets a sequence above every
  // one handed out so far (one counter for all streams).
  const uint64_t upto = log_->next_sequence() - 1;
  for (const uint32_t id : streams_) {
    index_.SetStreamHorizon(id, upto);
  }
  // Tombstones no stream holds back any more: a checkpoint with nothing else to write erases
  // them (a checkpoint only notes what it writes, and an idle loop writes nothing).
  if (index_.TombstonesErasable() && !pool_.read_only()) {
    StartCheckpoint();
  }
}

void StoreLoop::StartCheckpoint() {
  checkpointing_ = true;
  appended_since_slice_ = 0;
  notes_at_slice_ = index_.notes();
  checkpoint_written_ = 0;
}

bool StoreLoop::StreamsHoldRecords() const {
  for (const uint32_t id : streams_) {
    if (log_->stream(id).tail() != LogStream::records_begin()) {
      return true;
    }
  }
  return false;
}

void StoreLoop::FailCheckpoint(const Status& why) {
  checkpointing_ = false;
  counters_.Add(counters_.checkpoint_failures);
  // Out of space (the index file is full): writes go on until the stream is full, then are refused
  // (507, -OOM) while deletes and overwrites can still shrink what the next checkpoint writes; try
  // again once the stream has grown by a sixteenth.
  checkpoint_retry_tail_ = stream_->tail() + stream_->capacity() / 16;
  index_full_ = why.code() == StatusCode::kNoSpace;
  if (why.code() != StatusCode::kNoSpace) {
    // Anything else (a failed flush or fence, an entry the tree refused, damage) would fail again
    // at every retry and stop truncation for good, and the writes would end in a 507 loop: the
    // store turns read-only at once, saying why (reads go on).
    pool_.SetReadOnly(why.code() == StatusCode::kReadOnly || why.code() == StatusCode::kIoError
                          ? why
                          : Status::ReadOnly("checkpoint failed: " + why.ToString()));
  }
  static std::atomic<bool> reported{false};
  if (!reported.exchange(true)) {
    std::fprintf(stderr, "%s: checkpoint failed: %s%s\n", name_.c_str(), why.ToString().c_str(),
                 why.code() == StatusCode::kNoSpace ? "" : " (the store is read-only)");
  }
}

// --- Batch: the protocol's calls, which are the loop's.

StoreLoop& Batch::Self() {
  return static_cast<StoreLoop&>(*this);
}
const StoreLoop& Batch::Self() const {
  return static_cast<const StoreLoop&>(*this);
}

const char* Batch::SegData(const Segment& s) const {
  return Self().SegData(s);
}
void Batch::BodyExtents(const Conn& c, uint64_t skip, uint64_t len,
                        std::vector<Extent>* out) const {
  Self().BodyExtents(c, skip, len, out);
}
void Batch::GatherFront(Conn& c, size_t want) const {
  Self().GatherFront(c, want);
}
void Batch::Consume(Conn& c, uint64_t n) {
  Self().Consume(c, n);
}
void Batch::Park(Conn& c) {
  Self().Park(c);
}
void Batch::Wake(ConnId conn) {
  Self().Wake(conn);
}
bool Batch::Held(Conn& c) {
  return Self().Held(c);
}
WriteOutcome Batch::Writable(uint64_t length, uint64_t log_bytes) {
  return Self().Writable(length, log_bytes);
}
WriteOutcome Batch::Admit(uint64_t buffers, uint64_t log_bytes) {
  return Self().Admit(buffers, log_bytes);
}
uint64_t Batch::BuffersFor(size_t body_extents, uint64_t length) const {
  return Self().BuffersFor(body_extents, length);
}
uint64_t Batch::RecordRoom(size_t key_len, size_t body_extents, uint64_t length,
                           bool expires) const {
  return Self().RecordRoom(key_len, body_extents, length, expires);
}
WriteOutcome Batch::Deletable(uint64_t log_bytes) {
  return Self().Deletable(log_bytes);
}
uint64_t Batch::DeleteRoom(size_t key_len) {
  return StoreLoop::DeleteRoom(key_len);
}
uint64_t Batch::log_capacity() const {
  return Self().stream_->capacity();
}
bool Batch::LogHasRoom(uint64_t log_bytes) const {
  const StoreLoop& l = Self();
  return l.options_.persist == PersistMode::kNone ||
         l.stream_->free_bytes() >= l.open_.deferred_log_bytes + log_bytes;
}
bool Batch::room_wanted() const {
  return Self().room_wanted_;
}
WriteOutcome Batch::Put(Conn& c, std::string_view key, std::span<const Extent> body,
                        uint64_t length, bool admitted, int64_t expire_ms) {
  return Self().Put(c, key, body, length, admitted, expire_ms);
}
WriteOutcome Batch::PutOwned(std::string_view key, Extents extents, uint64_t length, bool admitted,
                             int64_t expire_ms, ValueType type) {
  return Self().PutOwned(key, std::move(extents), length, admitted, expire_ms, type);
}
WriteOutcome Batch::PutAppend(Conn& c, std::string_view key, Value old,
                              std::span<const Extent> body, uint64_t body_length) {
  return Self().PutAppend(c, key, std::move(old), body, body_length);
}
WriteOutcome Batch::Delete(std::string_view key) {
  return Self().Delete(key);
}
Status Batch::FreshValue(std::string_view bytes, Extents* out) {
  return Self().FreshValue(bytes, out);
}
void Batch::DropRefs(std::span<const Extent> extents) {
  Self().DropRefs(extents);
}
size_t Batch::pending_writes() const {
  return Self().open_.pending_n;
}
void Batch::VisitPending(
    const std::function<void(std::string_view key, const Value& v)>& fn) const {
  Self().VisitPending(fn);
}
uint64_t Batch::pending_epoch() const {
  return Self().pending_epoch_;
}
size_t Batch::pending_all() const {
  return Self().PendingAll();
}
void Batch::VisitPendingFrom(
    size_t first, const std::function<void(std::string_view key, const Value& v)>& fn) const {
  Self().VisitPendingFrom(first, fn);
}
void Batch::PrefetchKey(std::string_view key) {
  Self().PrefetchKey(key);
}
std::string_view Batch::PendingKey(size_t i) const {
  return Self().open_.pending[i].key;
}
void Batch::BeginGroup() {
  Self().BeginGroup();
}
WriteOutcome Batch::EndGroup() {
  return Self().EndGroup();
}
bool Batch::group_failed() const {
  return Self().group_.failed != WriteOutcome::kQueued;
}
void Batch::FailGroup(WriteOutcome why) {
  StoreLoop& l = Self();
  if (l.group_.open && l.group_.failed == WriteOutcome::kQueued) {
    l.group_.failed = why;
  }
}
bool Batch::index_full() const {
  return Self().index_full_;
}
bool Batch::Lookup(std::string_view key, Value* out) {
  return Self().Lookup(key, out);
}
bool Batch::lookup_damaged() const {
  return Self().lookup_damaged_;
}
bool Batch::Exists(std::string_view key) {
  return Self().Exists(key);
}
int64_t Batch::now_ms() const {
  return Self().wall_ms_;
}
const Pool& Batch::pool() const {
  return Self().pool_;
}
const Store& Batch::store() const {
  return Self().store_;
}
std::string& Batch::text() {
  return Self().open_.text;
}
void Batch::AnswerText(ConnId conn, std::string_view bytes, AnswerClass cls, bool close) {
  Self().AnswerText(conn, bytes, cls, close);
}
void Batch::AnswerTextSince(ConnId conn, size_t begin, AnswerClass cls, bool close) {
  Self().AnswerTextSince(conn, begin, cls, close);
}
void Batch::AnswerWrite(ConnId conn, std::string_view ok, std::string_view failed, bool close) {
  Self().AnswerWrite(conn, ok, failed, close);
}
void Batch::AnswerValue(ConnId conn, std::string_view prefix, const Value& v,
                        std::string_view suffix, bool close, bool with_bytes) {
  Self().AnswerValue(conn, prefix, v, suffix, close, with_bytes);
}
int Batch::Socket(ConnId conn) const {
  return Self().backend_.Socket(conn);
}
void Batch::Close(ConnId conn) {
  Self().Close(conn);
}
void Batch::MuteAnswers(ConnId conn) {
  Self().muted_ = conn;
}
LoopCounters& Batch::counters() {
  return Self().counters_;
}

Status RunLoop(Store& store, uint32_t loop, Backend& backend, Protocol& protocol,
               const StoreOptions& options, LoopCounters& counters, std::string_view name,
               const std::atomic<bool>& stop) {
  StoreLoop l(store, loop, backend, protocol, options, counters, name);
  return l.Run(stop);
}

}  // namespace pastel::store
