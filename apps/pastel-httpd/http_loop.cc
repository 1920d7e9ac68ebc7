#include "http_loop.h"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstring>

namespace pastel::httpd {
namespace {

constexpr std::string_view kOctets = "application/octet-stream";

bool Reserved(std::string_view target) {
  return target == "/" || target == "/health" || target == "/metrics";
}

}  // namespace

HttpLoop::HttpLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log,
                   const uint32_t streams[2], Index& index, std::atomic<uint64_t>& none_sequence,
                   const LoopOptions& options, Metrics& metrics, uint32_t loop_index)
    : backend_(backend),
      pool_(pool),
      partition_(partition),
      log_(log),
      stream_ids_{streams[0], streams[1]},
      // The active stream is the one holding the latest writes (after a crash in the middle of a
      // compaction the other may hold copies too; it is truncated before its next use).
      active_(log->stream(streams[1]).last_sequence() > log->stream(streams[0]).last_sequence()
                  ? 1
                  : 0),
      stream_(&log->stream(streams[active_])),
      index_(index),
      none_seq_(none_sequence),
      options_(options),
      metrics_(metrics),
      counters_(metrics.loop(loop_index)) {
  actions_.reserve(1024);
  extents_.reserve(4096);
  text_.reserve(64 * 1024);
  pending_.reserve(1024);
  dirty_.reserve(1024);
  head_buf_.resize(256);
}

HttpLoop::~HttpLoop() {
  for (auto& [id, c] : conns_) {
    for (size_t i = c.head; i < c.segs.size(); ++i) {
      Dispose(c.segs[i]);
    }
  }
}

Status HttpLoop::Run(const std::atomic<bool>& stop) {
  while (!stop.load(std::memory_order_relaxed)) {
    Result<std::span<const RxSlot>> batch = backend_.Poll(100);
    if (!batch.ok()) {
      return batch.status();
    }
    now_ms_ = std::chrono::duration_cast<std::chrono::milliseconds>(
                  std::chrono::steady_clock::now().time_since_epoch())
                  .count();
    if (!batch->empty()) {
      OnBatch(*batch);
    }
    if (options_.request_timeout_ms != 0 && now_ms_ >= next_sweep_ms_) {
      next_sweep_ms_ = now_ms_ + std::max<int64_t>(100, options_.request_timeout_ms / 8);
      SweepTimeouts();
    }
    if (compacting_) {
      (void)backend_.Submit();  // the turn's answers go out before the slice's work
      CompactSlice();
    }
    counters_.enobufs.store(backend_.stats().rx_starved, std::memory_order_relaxed);
  }
  return Status::Ok();
}

void HttpLoop::OnBatch(std::span<const RxSlot> batch) {
  counters_.Add(counters_.batches);
  counters_.Add(counters_.batch_slots, batch.size());
  for (const RxSlot& s : batch) {
    switch (s.kind) {
      case RxKind::kOpen: {
        Conn& c = conns_[s.conn];
        c.id = s.conn;
        break;
      }
      case RxKind::kClosed: DropConn(s.conn); break;
      case RxKind::kData: {
        counters_.Add(counters_.rx_bytes, s.length);
        auto it = conns_.find(s.conn);
        if (it == conns_.end() || it->second.closing) {
          (void)backend_.Release(s.buffer);  // nobody will read it
          break;
        }
        Conn& c = it->second;
        c.segs.push_back({s.buffer, s.offset, s.length, false});
        c.avail += s.length;
        if (!c.dirty) {
          c.dirty = true;
          dirty_.push_back(s.conn);
        }
        break;
      }
    }
  }
  for (ConnId id : dirty_) {
    auto it = conns_.find(id);
    if (it != conns_.end()) {
      Conn& c = it->second;
      c.dirty = false;
      Parse(c);
      if (c.avail == 0 || c.closing) {
        c.partial_since_ms = 0;
      } else if (c.partial_since_ms == 0) {
        c.partial_since_ms = now_ms_;  // an unfinished request: its clock starts
      }
    }
  }
  dirty_.clear();
  Finish();
}

void HttpLoop::SweepTimeouts() {
  const int64_t limit = options_.request_timeout_ms;
  bool any = false;
  for (auto& [id, c] : conns_) {
    if (c.partial_since_ms != 0 && !c.closing && now_ms_ - c.partial_since_ms > limit) {
      c.partial_since_ms = 0;
      counters_.Add(counters_.request_timeouts);
      Error(c, 408);
      any = true;
    }
  }
  if (any) {
    Finish();  // sends the answers (no write is pending between turns)
  }
}

void HttpLoop::Parse(Conn& c) {
  while (!c.closing && c.avail > 0) {
    const Seg& s = c.segs[c.head];
    const char* p =
        reinterpret_cast<const char*>(pool_.BufferData(s.buffer)) + s.offset + c.front_off;
    const size_t n = s.length - c.front_off;
    http::ParseResult r = http::ParseHead(p, n, options_.limits);
    if (r.status == 0 && r.head.head_bytes == 0 && c.avail > n) {
      // The head straddles receives: copy just the head's candidate bytes and parse the copy.
      const size_t want =
          static_cast<size_t>(std::min<uint64_t>(c.avail, options_.limits.max_head + 1));
      c.scratch.clear();
      uint32_t off = c.front_off;
      for (size_t i = c.head; i < c.segs.size() && c.scratch.size() < want; ++i) {
        const Seg& g = c.segs[i];
        const size_t take = std::min<size_t>(g.length - off, want - c.scratch.size());
        c.scratch.append(reinterpret_cast<const char*>(pool_.BufferData(g.buffer)) + g.offset + off,
                         take);
        off = 0;
      }
      r = http::ParseHead(c.scratch.data(), c.scratch.size(), options_.limits);
    }
    if (r.status >= 400) {
      Error(c, r.status);
      return;
    }
    if (r.head.head_bytes == 0) {
      return;  // more bytes to come
    }
    const http::RequestHead& h = r.head;
    const uint64_t body = h.has_content_length ? h.content_length : 0;
    if (c.avail < h.head_bytes + body) {
      if (h.expect_continue && !c.continue_sent) {
        c.continue_sent = true;
        actions_.push_back({c.id, ActionKind::kContinue, 100, false, false, 0, 0, 0});
      }
      return;  // the body is still on its way
    }
    c.continue_sent = false;
    counters_.Add(counters_.requests[static_cast<int>(h.method)]);
    last_request_closes_ = !h.keep_alive;
    Handle(c, h, body);
    last_request_closes_ = false;
    Consume(c, h.head_bytes + body);
    if (!h.keep_alive) {
      c.closing = true;  // its answer says "Connection: close" and the connection closes after
    }
  }
}

void HttpLoop::Handle(Conn& c, const http::RequestHead& h, uint64_t body_len) {
  // A HEAD answer is the GET answer's head: same status and Content-Length, no body bytes.
  head_request_ = h.method == http::Method::kHead;
  switch (h.method) {
    case http::Method::kGet:
    case http::Method::kHead: HandleGet(c, h); break;
    case http::Method::kPost:
    case http::Method::kPut: HandleWrite(c, h, body_len); break;
    case http::Method::kDelete: HandleDelete(c, h); break;
    case http::Method::kOther: Text(c, 405, "method not allowed\n", false); break;
  }
  head_request_ = false;
}

void HttpLoop::HandleGet(Conn& c, const http::RequestHead& h) {
  const bool head_only = h.method == http::Method::kHead;
  if (h.target == "/" || h.target == "/health") {
    Text(c, 200, "ok\n", false);
    return;
  }
  if (h.target == "/metrics") {
    const std::string m = metrics_.Render();
    Text(c, 200, m, false, "text/plain; version=0.0.4");
    return;
  }
  Value v;
  bool found = false;
  if (const PendingWrite* pw = Pending(h.target)) {
    found = !pw->value.deleted;
    if (found) {
      v = pw->value;
      for (const Extent& e : v.extents) {
        (void)pool_.Retain(e.buffer);  // the record's reference keeps it until Finish
      }
    }
  } else {
    found = index_.GetAndRetain(h.target, pool_, &v);
  }
  if (!found) {
    Text(c, 404, "not found\n", false);
    return;
  }
  // The action owns one reference per extent until its answer is queued.
  actions_.push_back({c.id, ActionKind::kValue, 200, last_request_closes_, head_only,
                      static_cast<uint32_t>(extents_.size()),
                      static_cast<uint32_t>(v.extents.size()), v.length});
  extents_.insert(extents_.end(), v.extents.begin(), v.extents.end());
}

void HttpLoop::HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false);
    return;
  }
  if (pool_.read_only()) {
    Text(c, 503, "store is read-only after a failed flush\n", false);
    return;
  }
  if (options_.persist != PersistMode::kNone && stream_->read_only()) {
    Text(c, 503, "store is read-only after a failed flush\n", false);
    return;
  }
  const uint64_t need = options_.reserve_buffers + body_len / pool_.buffer_size() + 1;
  if (pool_.FreeInPartition(partition_) < need) {
    counters_.Add(counters_.rejected_full);
    Text(c, 507, "pool full\n", false);
    return;
  }
  BodyExtents(c, h.head_bytes, body_len, &body_);
  std::vector<Extent> value;
  if (options_.persist == PersistMode::kCopy) {
    Status st = CopyToFresh(body_, &value);
    if (!st.ok()) {
      counters_.Add(counters_.rejected_full);
      Text(c, 507, "pool full\n", false);
      return;
    }
  } else {
    Status st = KeepInPlace(c, body_);
    if (!st.ok()) {
      Text(c, 500, "internal error\n", false);
      return;
    }
    value = body_;
  }
  uint64_t seq;
  if (options_.persist == PersistMode::kNone) {
    seq = NextNoneSequence();
  } else {
    Result<uint64_t> r = stream_->AppendPut(h.target, value);
    if (!r.ok()) {
      DropRefs(value);
      const StatusCode code = r.status().code();
      if (code == StatusCode::kNoSpace) {
        counters_.Add(counters_.rejected_full);
        Text(c, 507, "log full\n", false);
      } else if (code == StatusCode::kReadOnly) {
        Text(c, 503, "store is read-only after a failed flush\n", false);
      } else {
        Text(c, 413, "value spans too many buffers\n", true);
        c.closing = true;
      }
      return;
    }
    seq = *r;
  }
  const int status = h.method == http::Method::kPost ? 201 : 204;
  actions_.push_back({c.id, ActionKind::kWrite, static_cast<uint16_t>(status), last_request_closes_,
                      false, 0, 0, 0});
  PendingWrite pw;
  pw.key.assign(h.target);
  pw.value.sequence = seq;
  pw.value.length = static_cast<uint32_t>(body_len);
  pw.value.extents = std::move(value);
  pw.action = static_cast<uint32_t>(actions_.size() - 1);
  pending_.push_back(std::move(pw));
}

void HttpLoop::HandleDelete(Conn& c, const http::RequestHead& h) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false);
    return;
  }
  const PendingWrite* pw = Pending(h.target);
  const bool exists = pw != nullptr ? !pw->value.deleted : index_.Contains(h.target);
  if (!exists) {
    Text(c, 404, "not found\n", false);
    return;
  }
  if (pool_.read_only() || (options_.persist != PersistMode::kNone && stream_->read_only())) {
    Text(c, 503, "store is read-only after a failed flush\n", false);
    return;
  }
  uint64_t seq;
  if (options_.persist == PersistMode::kNone) {
    seq = NextNoneSequence();
  } else {
    Result<uint64_t> r = stream_->AppendDelete(h.target);
    if (!r.ok()) {
      const bool full = r.status().code() == StatusCode::kNoSpace;
      if (full) {
        counters_.Add(counters_.rejected_full);
      }
      Text(c, full ? 507 : 503, full ? "log full\n" : "store is read-only\n", false);
      return;
    }
    seq = *r;
  }
  actions_.push_back({c.id, ActionKind::kWrite, 204, last_request_closes_, false, 0, 0, 0});
  PendingWrite d;
  d.key.assign(h.target);
  d.value.sequence = seq;
  d.value.deleted = true;
  d.action = static_cast<uint32_t>(actions_.size() - 1);
  pending_.push_back(std::move(d));
}

const HttpLoop::PendingWrite* HttpLoop::Pending(std::string_view key) const {
  // Few writes per batch: a backwards scan finds the latest without a per-request map insert.
  for (size_t i = pending_.size(); i-- > 0;) {
    if (pending_[i].key == key) {
      return &pending_[i];
    }
  }
  return nullptr;
}

uint64_t HttpLoop::NextNoneSequence() {
  return none_seq_.fetch_add(1, std::memory_order_relaxed);
}

Status HttpLoop::KeepInPlace(Conn& c, const std::vector<Extent>& extents) {
  // Each body buffer: the connection's hold becomes a pool reference (Keep swaps a free buffer into
  // the receive ring), then the record takes a reference of its own.
  size_t si = c.head;
  for (const Extent& e : extents) {
    while (si < c.segs.size() && c.segs[si].buffer != e.buffer) {
      ++si;
    }
    if (si == c.segs.size()) {
      return Status::FailedPrecondition("body extent outside the connection's segments");
    }
    Seg& s = c.segs[si];
    if (!s.kept) {
      PASTEL_RETURN_IF_ERROR(backend_.Keep(s.buffer));
      s.kept = true;
      counters_.Add(counters_.kept);
    }
    PASTEL_RETURN_IF_ERROR(pool_.Retain(e.buffer));
  }
  return Status::Ok();
}

Status HttpLoop::CopyToFresh(const std::vector<Extent>& body, std::vector<Extent>* out) {
  out->clear();
  const uint32_t bs = pool_.buffer_size();
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

void HttpLoop::DropRefs(const std::vector<Extent>& extents) {
  for (const Extent& e : extents) {
    (void)pool_.Unretain(e.buffer);
  }
}

void HttpLoop::BodyExtents(const Conn& c, uint64_t skip, uint64_t len,
                           std::vector<Extent>* out) const {
  out->clear();
  uint64_t pos = skip + c.front_off;
  for (size_t i = c.head; i < c.segs.size() && len > 0; ++i) {
    const Seg& s = c.segs[i];
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

void HttpLoop::Consume(Conn& c, uint64_t n) {
  c.partial_since_ms = 0;  // a request was taken whole; what follows starts its own clock
  c.avail -= n;
  while (n > 0) {
    Seg& s = c.segs[c.head];
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

void HttpLoop::Dispose(const Seg& s) {
  if (s.kept) {
    (void)pool_.Unretain(s.buffer);  // the connection's share; records keep theirs
  } else {
    (void)backend_.Release(s.buffer);
  }
}

void HttpLoop::DropConn(ConnId id) {
  auto it = conns_.find(id);
  if (it == conns_.end()) {
    return;
  }
  Conn& c = it->second;
  for (size_t i = c.head; i < c.segs.size(); ++i) {
    Dispose(c.segs[i]);
  }
  conns_.erase(it);
}

void HttpLoop::Text(const Conn& c, int status, std::string_view body, bool close,
                    std::string_view type) {
  close = close || last_request_closes_;
  const size_t begin = text_.size();
  const size_t cap = 256;
  text_.resize(begin + cap);
  const size_t hn =
      http::WriteResponseHead(text_.data() + begin, cap, status, body.size(), !close, type);
  text_.resize(begin + hn);
  if (!head_request_) {
    text_.append(body);
  }
  actions_.push_back({c.id, ActionKind::kText, static_cast<uint16_t>(status), close, false,
                      static_cast<uint32_t>(begin), static_cast<uint32_t>(text_.size() - begin),
                      0});
}

void HttpLoop::Error(Conn& c, int status) {
  std::string body(http::ReasonPhrase(status));
  body += '\n';
  Text(c, status, body, true);
  c.closing = true;
}

void HttpLoop::Finish() {
  bool durable = true;
  Status failure;
  if (!pending_.empty() && options_.persist != PersistMode::kNone) {
    Result<CommitInfo> ci = stream_->Commit();
    counters_.Add(counters_.commits);
    if (!ci.ok()) {
      durable = false;
      failure = ci.status();
    } else {
      counters_.Add(counters_.committed_writes, ci->records);
    }
  }
  for (const Action& a : actions_) {
    Status st;
    switch (a.kind) {
      case ActionKind::kContinue:
        st = backend_.Send(a.conn, {reinterpret_cast<const uint8_t*>(http::kContinue.data()),
                                    http::kContinue.size()});
        break;
      case ActionKind::kText:
        st = backend_.Send(a.conn,
                           {reinterpret_cast<const uint8_t*>(text_.data()) + a.begin, a.count});
        break;
      case ActionKind::kWrite: {
        const int status = durable ? a.status : 503;
        const std::string_view body = durable ? "" : "store is read-only after a failed flush\n";
        const size_t hn = http::WriteResponseHead(head_buf_.data(), head_buf_.size(), status,
                                                  body.size(), !a.close, "text/plain");
        st = backend_.Send(a.conn, {reinterpret_cast<const uint8_t*>(head_buf_.data()), hn});
        if (st.ok() && !body.empty()) {
          st = backend_.Send(a.conn, {reinterpret_cast<const uint8_t*>(body.data()), body.size()});
        }
        break;
      }
      case ActionKind::kValue: {
        const std::span<const Extent> ext(extents_.data() + a.begin, a.count);
        const size_t hn = http::WriteResponseHead(head_buf_.data(), head_buf_.size(), 200, a.length,
                                                  !a.close, kOctets);
        st = backend_.Send(a.conn, {reinterpret_cast<const uint8_t*>(head_buf_.data()), hn});
        if (st.ok() && !a.head_only && !ext.empty()) {
          st = backend_.SendExtents(a.conn, ext);
        }
        for (const Extent& e : ext) {
          (void)pool_.Unretain(e.buffer);  // the action's reference; the send holds its own
        }
        break;
      }
    }
    const int cls = a.kind == ActionKind::kWrite && !durable ? 5 : a.status / 100;
    counters_.Add(cls == 2   ? counters_.responses_2xx
                  : cls == 5 ? counters_.responses_5xx
                             : counters_.responses_4xx);
    if (a.close || st.code() == StatusCode::kBusy) {
      (void)backend_.Close(a.conn);  // a client that reads nothing cannot pile up answers
    }
  }
  // Now the writes enter the shared index, in order; the values they replace are released.
  for (PendingWrite& pw : pending_) {
    if (!durable) {
      DropRefs(pw.value.extents);
      continue;
    }
    Value loser = index_.Apply(pw.key, std::move(pw.value));
    DropRefs(loser.extents);
  }
  if (!durable) {
    static std::atomic<bool> reported{false};
    if (!reported.exchange(true)) {
      std::fprintf(stderr, "pastel-httpd: writes refused from now on: %s\n",
                   failure.ToString().c_str());
    }
  }
  actions_.clear();
  extents_.clear();
  text_.clear();
  pending_.clear();
  if (options_.persist != PersistMode::kNone) {
    MaybeStartCompaction();
  }
}

void HttpLoop::MaybeStartCompaction() {
  if (compacting_ || stream_->read_only() || stream_->free_bytes() > stream_->capacity() / 4 ||
      stream_->tail() < compact_retry_tail_) {
    return;
  }
  LogStream& spare = log_->stream(stream_ids_[1 - active_]);
  if (!spare.Truncate(spare.checkpoint_sequence()).ok()) {  // leftover copies, if any
    return;
  }
  compacting_ = true;
  compact_start_seq_ = stream_->last_sequence();
  compact_cursor_ = 0;
  compact_copied_ = 0;
}

void HttpLoop::CompactSlice() {
  LogStream& spare = log_->stream(stream_ids_[1 - active_]);
  bool fits = !stream_->read_only() && !spare.read_only();
  // Every write of the active stream is committed here (Finish commits its batch).
  const bool scanned =
      fits &&
      stream_->VisitCommitted(&compact_cursor_, options_.compact_slice, [&](const RecordView& r) {
        if (!index_.IsCurrent(r.key, r.sequence)) {
          return true;  // superseded: its buffers were given back
        }
        if (r.type == RecordType::kDelete && options_.drop_tombstones &&
            r.sequence <= compact_start_seq_) {
          // No older put of the key survives anywhere: none was current since the scan began,
          // so none was copied. (A delete written during the scan may follow a put already
          // copied: it is copied too.)
          index_.EraseTombstone(r.key, r.sequence);
          return true;
        }
        if (!spare.AppendCopy(r).ok()) {
          fits = false;  // the live set does not fit in one stream
          return false;
        }
        ++compact_copied_;
        return true;
      });
  if (fits && spare.pending_records() > 0 && !spare.Commit().ok()) {
    fits = false;
  }
  if (!fits) {
    AbortCompaction();
    return;
  }
  if (!scanned) {
    return;  // more next turn
  }
  if (!stream_->Truncate(stream_->last_sequence()).ok()) {
    AbortCompaction();
    return;
  }
  active_ = 1 - active_;
  stream_ = &spare;
  compacting_ = false;
  // A live set that fills three quarters of the new stream would start the next compaction at
  // once: wait until the stream has grown by a sixteenth.
  compact_retry_tail_ = stream_->tail() + stream_->capacity() / 16;
  counters_.Add(counters_.compactions);
  counters_.Add(counters_.compacted_records, compact_copied_);
}

void HttpLoop::AbortCompaction() {
  // Go on with the active stream until it is full (then writes get 507); try again once it has
  // grown by a sixteenth, since only new writes (overwrites, deletes) can shrink the live set.
  // (A full stream with a live set that does not fit in one stream stays full: --log-size.)
  compacting_ = false;
  compact_retry_tail_ = stream_->tail() + stream_->capacity() / 16;
  LogStream& spare = log_->stream(stream_ids_[1 - active_]);
  if (!spare.read_only() && spare.pending_records() == 0) {
    (void)spare.Truncate(spare.checkpoint_sequence());
  }
}

}  // namespace pastel::httpd
