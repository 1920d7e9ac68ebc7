#pragma once
// pastel-httpd's protocol: HTTP/1.1 over the store's loop (pastel/store.h), which owns the
// connections, the group commit, the answers' order and checkpoints. An HttpProtocol only parses
// requests and renders answers, through the Batch handle of the Parse call it is in.
//
// Requests are parsed in place in the receive buffers (a head that straddles two receives is
// copied; bodies never are). POST/PUT keep the body's buffers and log them, DELETE logs a
// tombstone; their answers are sent only after the batch's fence. GET/HEAD answer from the pool
// buffers the value lies in.
//
// A chunked body (Transfer-Encoding: chunked) is decoded as it arrives, where it lies: the
// decoder's progress is kept in the connection (Conn::progress), so each byte is scanned once
// however many receives bring it. Once the body is whole, the write's extents name each chunk's
// data in the receive buffers and skip the framing. A body in so many small chunks that its
// extents outnumber twice the buffers of its bytes (or that a log record cannot name them) is
// copied into fresh buffers instead: one extent per buffer, like any other value.
//
// Threads: an HttpProtocol belongs to its loop's thread; the Server (store, counters) is shared.

#include <atomic>
#include <cstdint>
#include <string>

#include "pastel/http.h"
#include "pastel/server.h"
#include "pastel/store.h"

namespace pastel::httpd {

using store::AnswerClass;
using store::Conn;
using store::Value;

// The target is the key: above the store's limit a request is refused (414) before its body is
// read.
inline http::Limits DefaultLimits() {
  return http::Limits{.max_target = store::kMaxKeyBytes};
}

// /metrics: the requests by method and the answers by class, then the store's metrics.
std::string RenderMetrics(const server::Server& s);

class HttpProtocol final : public store::Protocol {
 public:
  HttpProtocol(server::Server& shared, const http::Limits& limits);

  void Parse(store::Batch& b, Conn& c) override;
  void OnTimeout(store::Batch& b, Conn& c) override {
    b_ = &b;
    Error(c, 408);
  }

 private:
  // A chunked body's decoding so far.
  struct ChunkedBody {
    int status = 0;  // >= 400: answer with it and close
    bool done = false;
    uint64_t length = 0;  // decoded bytes (when done)
    uint64_t wire = 0;    // bytes after the head that the body took (when done)
  };
  // Decodes c's chunked body, after a head of `head_bytes`, from where the last call stopped.
  ChunkedBody DecodeChunked(Conn& c, uint64_t head_bytes);
  // Runs `d` over c's bytes from byte `*off` of segment `*seg` until the body ends, an error, or
  // the bytes run out, calling on_data(segment, offset in it, length) for each chunk data range;
  // leaves *seg and *off after the last byte taken.
  template <typename OnData>
  http::ChunkedDecoder::Step RunDecoder(const Conn& c, http::ChunkedDecoder& d, uint32_t* seg,
                                        uint32_t* off, OnData&& on_data) const;
  // The segment and offset of the byte `skip` bytes into c's unconsumed data.
  void Locate(const Conn& c, uint64_t skip, uint32_t* seg, uint32_t* off) const;
  // Queues the write of c's whole chunked body (after a head of `head_bytes`): in place, or
  // copied into fresh buffers when its extents would be too many.
  store::WriteOutcome PutChunked(Conn& c, const http::RequestHead& h, uint64_t body_len);

  void Handle(Conn& c, const http::RequestHead& h, uint64_t body_len);
  void HandleGet(Conn& c, const http::RequestHead& h);
  void HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len);
  void HandleDelete(Conn& c, const http::RequestHead& h);
  // The answers to a queued write (`status` once durable, 503 if its commit failed).
  void WriteAnswer(const Conn& c, int status);
  // The answer to a write that was not queued.
  void Refused(Conn& c, store::WriteOutcome w);

  // Renders a response head into head_buf_ and returns it.
  std::string_view Head(int status, uint64_t length, bool close, std::string_view type,
                        std::string_view allow = {});
  void Text(const Conn& c, int status, std::string_view body, bool close,
            std::string_view type = "text/plain", std::string_view allow = {});
  void Error(Conn& c, int status);

  store::Batch* b_ = nullptr;  // the batch of the Parse (or OnTimeout) call running
  http::Limits limits_;
  server::Server& shared_;
  std::vector<Extent> body_;          // scratch
  std::string chunk_copy_;            // scratch: a chunked body gathered for its copy
  Extents owned_;                     // scratch: the fresh buffers of that copy
  char head_buf_[320];                // scratch for response heads
  char fail_buf_[320];                // scratch for a write's answer after a failed commit
  bool last_request_closes_ = false;  // the request being handled asked to close after it
  // What the answers to the request being handled say of the connection when it stays open
  // (kKeepAlive for an HTTP/1.0 client that asked for keep-alive).
  http::Connection keep_ = http::Connection::kDefault;
  bool head_request_ = false;  // the request being handled is a HEAD: answers carry no body
};

}  // namespace pastel::httpd
