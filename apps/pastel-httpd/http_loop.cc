#include "http_loop.h"

#include <algorithm>
#include <cstdio>
#include <cstring>

namespace pastel::httpd {
namespace {

constexpr std::string_view kOctets = "application/octet-stream";
constexpr std::string_view kReadOnly = "store is read-only after a failed flush or checkpoint\n";

bool Reserved(std::string_view target) {
  return target == "/" || target == "/health" || target == "/metrics";
}

}  // namespace

HttpLoop::HttpLoop(Backend& backend, Pool& pool, uint32_t partition, Log* log,
                   std::span<const uint32_t> streams, Index& index,
                   std::atomic<uint64_t>& none_sequence, const LoopOptions& options,
                   Metrics& metrics, uint32_t loop_index)
    : StoreLoop(backend, pool, partition, log, streams, index, none_sequence, options,
                metrics.loop(loop_index), "pastel-httpd"),
      limits_(options.limits),
      metrics_(metrics) {}

void HttpLoop::Parse(Conn& c) {
  while (!c.closing && c.avail > 0) {
    const Seg& s = c.segs[c.head];
    const size_t n = s.length - c.front_off;
    http::ParseResult r = http::ParseHead(SegData(s) + c.front_off, n, limits_);
    if (r.status == 0 && r.head.head_bytes == 0 && c.avail > n) {
      // The head straddles receives: copy just the head's candidate bytes and parse the copy.
      GatherFront(c, static_cast<size_t>(std::min<uint64_t>(c.avail, limits_.max_head + 1)));
      r = http::ParseHead(c.scratch.data(), c.scratch.size(), limits_);
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
      if (h.expect_continue && !c.interim_sent) {
        c.interim_sent = true;
        AnswerText(c.id, http::kContinue, AnswerClass::kOk, false);
      }
      return;  // the body is still on its way
    }
    last_request_closes_ = !h.keep_alive;
    Handle(c, h, body);
    last_request_closes_ = false;
    if (room_wanted()) {
      return;  // the loop makes room in the log, then parses c again: the request runs again
    }
    c.interim_sent = false;
    counters_.Add(counters_.requests[static_cast<int>(h.method)]);
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
  if (!Lookup(h.target, &v)) {
    if (lookup_damaged()) {
      Text(c, 500, "the stored value fails its checksum (damaged pool file)\n", false);
    } else {
      Text(c, 404, "not found\n", false);
    }
    return;
  }
  // The answer owns one reference per extent until it is queued.
  const bool close = last_request_closes_;
  AnswerValue(c.id, Head(200, v.length, close, kOctets), v, {}, close,
              /*with_bytes=*/!head_request_);
}

void HttpLoop::HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false);
    return;
  }
  BodyExtents(c, h.head_bytes, body_len, &body_);
  const store::WriteOutcome w = Put(c, h.target, body_, body_len);
  if (w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  WriteAnswer(c, h.method == http::Method::kPost ? 201 : 204);
}

void HttpLoop::HandleDelete(Conn& c, const http::RequestHead& h) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false);
    return;
  }
  // A store that takes no writes refuses every DELETE (503), of a key it holds or not, as it
  // refuses every other write; otherwise the log has room for the record from here on.
  if (const store::WriteOutcome w = Deletable(DeleteRoom(h.target.size()));
      w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  if (!Exists(h.target)) {
    Text(c, 404, "not found\n", false);
    return;
  }
  const store::WriteOutcome w = Delete(h.target);
  if (w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  WriteAnswer(c, 204);
}

void HttpLoop::WriteAnswer(const Conn& c, int status) {
  // Both answers are rendered now; the one that goes out depends on the batch's commit.
  const bool close = last_request_closes_;
  const size_t fn = http::WriteResponseHead(fail_buf_, sizeof(fail_buf_) - kReadOnly.size(), 503,
                                            kReadOnly.size(), !close, "text/plain");
  std::memcpy(fail_buf_ + fn, kReadOnly.data(), kReadOnly.size());
  AnswerWrite(c.id, Head(status, 0, close, "text/plain"),
              std::string_view(fail_buf_, fn + kReadOnly.size()), close);
}

void HttpLoop::Refused(Conn& c, store::WriteOutcome w) {
  switch (w) {
    case store::WriteOutcome::kQueued: break;
    case store::WriteOutcome::kReadOnly: Text(c, 503, kReadOnly, false); break;
    case store::WriteOutcome::kPoolFull: Text(c, 507, "pool full\n", false); break;
    case store::WriteOutcome::kLogFull: Text(c, 507, "log full\n", false); break;
    case store::WriteOutcome::kTooLarge:
      Text(c, 413, "value spans too many buffers\n", true);
      c.closing = true;
      break;
    case store::WriteOutcome::kInternal: Text(c, 500, "internal error\n", false); break;
    case store::WriteOutcome::kNeedsRoom: break;  // not an answer: the request runs again
  }
}

std::string_view HttpLoop::Head(int status, uint64_t length, bool close, std::string_view type) {
  const size_t n =
      http::WriteResponseHead(head_buf_, sizeof(head_buf_), status, length, !close, type);
  return {head_buf_, n};
}

void HttpLoop::Text(const Conn& c, int status, std::string_view body, bool close,
                    std::string_view type) {
  close = close || last_request_closes_;
  const size_t begin = text_.size();
  text_.append(Head(status, body.size(), close, type));
  if (!head_request_) {
    text_.append(body);
  }
  AnswerTextSince(c.id, begin,
                  status < 400   ? AnswerClass::kOk
                  : status < 500 ? AnswerClass::kClientError
                                 : AnswerClass::kServerError,
                  close);
}

void HttpLoop::Error(Conn& c, int status) {
  std::string body(http::ReasonPhrase(status));
  body += '\n';
  Text(c, status, body, true);
  c.closing = true;
}

}  // namespace pastel::httpd
