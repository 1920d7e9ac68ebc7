#pragma once
// One event loop of pastel-httpd: the HTTP/1.1 protocol over a store::StoreLoop (which owns the
// connections, the group commit, the answers' order and log compaction; see pastel/store.h).
//
// Requests are parsed in place in the receive buffers (a head that straddles two receives is
// copied; bodies never are). POST/PUT keep the body's buffers and log them, DELETE logs a
// tombstone; their answers are sent only after the batch's fence. GET/HEAD answer from the pool
// buffers the value lies in.
//
// Threads: a HttpLoop and everything in it belong to the loop's thread; the Index and the metrics
// are shared (see there).

#include <atomic>
#include <cstdint>
#include <string>

#include "metrics.h"
#include "pastel/http.h"
#include "pastel/log.h"
#include "pastel/net.h"
#include "pastel/pool.h"
#include "pastel/store.h"

namespace pastel::httpd {

using store::Index;
using store::PersistMode;
using store::Value;

struct LoopOptions : store::StoreOptions {
  // The target is the key: above the store's limit a request is refused (414) before its body is
  // read.
  http::Limits limits{.max_target = store::kMaxKeyBytes};
};

class HttpLoop : public store::StoreLoop {
 public:
  // The loop appends to one of its two log streams (`streams[0]` and `streams[1]`, in `log`); when
  // that one fills, compaction copies its still-needed records into the other and truncates it.
  HttpLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log,
           std::span<const uint32_t> streams, Index& index, std::atomic<uint64_t>& none_sequence,
           const LoopOptions& options, Metrics& metrics, uint32_t loop_index);

 private:
  void Parse(Conn& c) override;
  void OnTimeout(Conn& c) override { Error(c, 408); }

  void Handle(Conn& c, const http::RequestHead& h, uint64_t body_len);
  void HandleGet(Conn& c, const http::RequestHead& h);
  void HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len);
  void HandleDelete(Conn& c, const http::RequestHead& h);
  // The answers to a queued write (`status` once durable, 503 if its commit failed).
  void WriteAnswer(const Conn& c, int status);
  // The answer to a write that was not queued.
  void Refused(Conn& c, store::WriteOutcome w);

  // Renders a response head into head_buf_ and returns it.
  std::string_view Head(int status, uint64_t length, bool close, std::string_view type);
  void Text(const Conn& c, int status, std::string_view body, bool close,
            std::string_view type = "text/plain");
  void Error(Conn& c, int status);

  http::Limits limits_;
  Metrics& metrics_;
  std::vector<Extent> body_;          // scratch
  char head_buf_[256];                // scratch for response heads
  char fail_buf_[320];                // scratch for a write's answer after a failed commit
  bool last_request_closes_ = false;  // the request being handled asked to close after it
  bool head_request_ = false;         // the request being handled is a HEAD: answers carry no body
};

}  // namespace pastel::httpd
