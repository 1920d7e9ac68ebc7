#pragma once
// One event loop of pastel-httpd: its own Backend (connections, receive buffers of its pool
// partition), its own log stream, and the shared Index.
//
// Per Poll (one batch of RX slots across connections):
//   1. every complete request is parsed in place in the receive buffers (a head that straddles
//      two receives is copied; bodies never are);
//   2. a write keeps its body's buffers (Backend::Keep: PASTE's swap) and appends a log record that
//      names them (inplace), or copies the body into fresh pool buffers first (copy), or only keeps
//      them (none);
//   3. the batch's records and bodies are made durable by ONE group commit (one fence);
//   4. only then are the batch's answers queued, in request order per connection, and the writes
//      applied to the shared index (old values' buffers released).
// Reads inside a batch see the batch's own earlier writes on this loop (read-your-writes), and
// never another loop's writes before they are durable.
//
// Threads: a HttpLoop and everything in it belong to the loop's thread; the Index and the metrics
// are shared (see there).

#include <atomic>
#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

#include "index.h"
#include "metrics.h"
#include "pastel/http.h"
#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"

namespace pastel::httpd {

enum class PersistMode : uint8_t { kNone, kCopy, kInPlace };

struct LoopOptions {
  PersistMode persist = PersistMode::kInPlace;
  http::Limits limits;
  // Writes are refused (507) while the partition has fewer free buffers than this, so receiving
  // (and so deletes, which free space) can always go on.
  uint32_t reserve_buffers = 64;
  // Only when no other loop's streams can hold an older write of a key may compaction drop a
  // delete's record (one loop).
  bool drop_tombstones = true;
  // Records of the active stream a compaction scans per loop turn (tests make it small so that a
  // compaction spans many turns).
  uint32_t compact_slice = 1024;
  // A request (head and body) must arrive whole within this many milliseconds of its first bytes,
  // else 408 and the connection is closed (slowloris). Idle keep-alive connections are not
  // timed out. 0: no limit.
  uint32_t request_timeout_ms = 30000;
};

class HttpLoop {
 public:
  // The loop appends to one of its two log streams (`streams[0]` and `streams[1]`, in `log`); when
  // that one fills, Compact copies its still-needed records into the other and truncates it.
  HttpLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log, const uint32_t streams[2],
           Index& index, std::atomic<uint64_t>& none_sequence, const LoopOptions& options,
           Metrics& metrics, uint32_t loop_index);
  ~HttpLoop();
  HttpLoop(const HttpLoop&) = delete;
  HttpLoop& operator=(const HttpLoop&) = delete;

  // Polls and serves until `stop`; returns the first fatal backend error, if any.
  Status Run(const std::atomic<bool>& stop);

 private:
  struct Seg {
    uint32_t buffer;
    uint32_t offset;
    uint32_t length;
    bool kept;  // the connection's hold was turned into a pool reference (Keep)
  };
  struct Conn {
    ConnId id = 0;
    std::vector<Seg> segs;  // received, not yet consumed: [head, end)
    size_t head = 0;
    uint32_t front_off = 0;  // bytes of segs[head] already consumed
    uint64_t avail = 0;      // unconsumed bytes
    bool closing = false;    // an answer that closes was queued: ignore what follows
    bool continue_sent = false;
    bool dirty = false;            // on this batch's list of connections to parse
    std::string scratch;           // a head that straddles receives, copied
    int64_t partial_since_ms = 0;  // when the unfinished request's bytes began (0: none)
  };
  enum class ActionKind : uint8_t { kText, kValue, kWrite, kContinue };
  struct Action {
    ConnId conn;
    ActionKind kind;
    uint16_t status;
    bool close;      // close the connection after this answer
    bool head_only;  // HEAD: the value's length, not its bytes
    uint32_t begin;  // kText: into text_; kValue: into extents_
    uint32_t count;
    uint64_t length;  // kValue: value length
  };
  struct PendingWrite {
    std::string key;
    Value value;      // holds one reference per extent (the record's)
    uint32_t action;  // index into actions_
  };

  void OnBatch(std::span<const RxSlot> batch);
  // Answers 408 and closes every connection whose unfinished request is older than the timeout.
  void SweepTimeouts();
  void Parse(Conn& c);
  void Handle(Conn& c, const http::RequestHead& h, uint64_t body_len);
  // The extents of `len` bytes starting `skip` bytes into c's unconsumed data.
  void BodyExtents(const Conn& c, uint64_t skip, uint64_t len, std::vector<Extent>* out) const;
  void Consume(Conn& c, uint64_t n);
  void Dispose(const Seg& s);
  void DropConn(ConnId id);

  void HandleGet(Conn& c, const http::RequestHead& h);
  void HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len);
  void HandleDelete(Conn& c, const http::RequestHead& h);
  // Keeps body buffers of c and takes the record's references: the value in place.
  Status KeepInPlace(Conn& c, const std::vector<Extent>& extents);
  Status CopyToFresh(const std::vector<Extent>& body, std::vector<Extent>* out);
  void DropRefs(const std::vector<Extent>& extents);

  void Text(const Conn& c, int status, std::string_view body, bool close,
            std::string_view type = "text/plain");
  void Error(Conn& c, int status);
  // A write of this batch to `key` (latest first), or nullptr.
  const PendingWrite* Pending(std::string_view key) const;
  uint64_t NextNoneSequence();

  // Commits the batch and sends its answers; applies its writes.
  void Finish();
  // Compaction, when the active stream is three quarters full: copies the records the index still
  // needs into the spare stream (with their sequences), a slice of compact_slice records per loop
  // turn (after the turn's answers were submitted, so no answer waits for a whole scan); once the
  // scan has caught up with the tail, commits the copies, truncates the active stream and swaps.
  // PERSIST: before, the active stream holds the state; after the copies' commits both do
  // (recovery merges identical copies); after the truncation, the new active stream alone does.
  void MaybeStartCompaction();
  void CompactSlice();
  void AbortCompaction();

  Backend& backend_;
  Pool& pool_;
  uint32_t partition_;
  Log* log_;
  uint32_t stream_ids_[2];
  int active_ = 0;
  LogStream* stream_;  // the active stream
  bool compacting_ = false;
  uint64_t compact_start_seq_ = 0;   // the active stream's last sequence when the scan began
  uint64_t compact_cursor_ = 0;      // next record of the active stream to scan
  uint64_t compact_copied_ = 0;      // records copied by the compaction in progress
  uint64_t compact_retry_tail_ = 0;  // after a failed compaction: retry once the tail passed this
  Index& index_;
  std::atomic<uint64_t>& none_seq_;
  LoopOptions options_;
  Metrics& metrics_;
  LoopCounters& counters_;
  std::unordered_map<ConnId, Conn> conns_;
  std::vector<ConnId> dirty_;
  std::vector<Action> actions_;
  std::vector<Extent> extents_;  // kValue actions' extents
  std::string text_;             // kText actions' bytes
  std::vector<PendingWrite> pending_;
  std::vector<Extent> body_;          // scratch
  std::vector<Extent> copy_;          // scratch
  std::string head_buf_;              // scratch for response heads
  bool last_request_closes_ = false;  // the request being handled asked to close after it
  bool head_request_ = false;         // the request being handled is a HEAD: answers carry no body
  int64_t now_ms_ = 0;                // steady clock, read once per loop turn
  int64_t next_sweep_ms_ = 0;
};

}  // namespace pastel::httpd
