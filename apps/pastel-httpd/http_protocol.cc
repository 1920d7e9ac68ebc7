#include "http_protocol.h"

#include <algorithm>
#include <cstdio>
#include <cstring>
#include <type_traits>

namespace pastel::httpd {
namespace {

constexpr std::string_view kOctets = "application/octet-stream";
constexpr std::string_view kReadOnly = "store is read-only after a failed flush or checkpoint\n";

bool Reserved(std::string_view target) {
  return target == "/" || target == "/health" || target == "/metrics";
}

// Where a chunked body's decoding stands between Parse calls (kept in Conn::progress; all zeros:
// nothing decoded yet).
struct ChunkProgress {
  uint64_t head_bytes = 0;  // of the request it belongs to (0: none)
  uint32_t seg = 0;         // index in Conn::segs of the next byte to decode
  uint32_t off = 0;         // its offset in that segment's received bytes
  http::ChunkedDecoder decoder;
};
static_assert(std::is_trivially_copyable_v<ChunkProgress>);

}  // namespace

HttpProtocol::HttpProtocol(server::Server& shared, const http::Limits& limits)
    : limits_(limits), shared_(shared) {}

void HttpProtocol::Parse(store::Batch& b, Conn& c) {
  b_ = &b;
  while (!c.closing && c.avail > 0 && !b_->Held(c)) {
    const store::Segment& s = c.segs[c.head];
    const size_t n = s.length - c.front_off;
    http::ParseResult r = http::ParseHead(b_->SegData(s) + c.front_off, n, limits_);
    if (r.status == 0 && r.head.head_bytes == 0 && c.avail > n) {
      // The head straddles receives: copy just the head's candidate bytes and parse the copy.
      b_->GatherFront(c, static_cast<size_t>(std::min<uint64_t>(c.avail, limits_.max_head + 1)));
      r = http::ParseHead(c.scratch.data(), c.scratch.size(), limits_);
    }
    if (r.status >= 400) {
      head_request_ = r.head.method == http::Method::kHead;  // its answer has no body
      Error(c, r.status);
      head_request_ = false;
      return;
    }
    if (r.head.head_bytes == 0) {
      return;  // more bytes to come
    }
    const http::RequestHead& h = r.head;
    uint64_t body = h.has_content_length ? h.content_length : 0;
    uint64_t wire = body;  // the body's bytes on the wire
    bool whole = c.avail >= h.head_bytes + body;
    if (h.chunked) {
      const ChunkedBody chunked = DecodeChunked(c, h.head_bytes);
      if (chunked.status >= 400) {
        Error(c, chunked.status);
        return;
      }
      whole = chunked.done;
      body = chunked.length;
      wire = chunked.wire;
    }
    if (!whole) {
      if (h.expect_continue && !c.interim_sent) {
        c.interim_sent = true;
        b_->AnswerText(c.id, http::kContinue, AnswerClass::kOk, false);
      }
      return;  // the body is still on its way
    }
    last_request_closes_ = !h.keep_alive;
    keep_ = http::ConnectionFor(h, false);
    Handle(c, h, body);
    last_request_closes_ = false;
    keep_ = http::Connection::kDefault;
    if (b_->room_wanted()) {
      return;  // the loop makes room in the log, then parses c again: the request runs again
    }
    c.interim_sent = false;
    b_->counters().Add(b_->counters().requests[static_cast<int>(h.method)]);
    b_->Consume(c, h.head_bytes + wire);
    std::memset(c.progress, 0, sizeof(c.progress));  // the next request starts afresh
    if (!h.keep_alive) {
      c.closing = true;  // its answer says "Connection: close" and the connection closes after
    }
  }
}

void HttpProtocol::Locate(const Conn& c, uint64_t skip, uint32_t* seg, uint32_t* off) const {
  uint64_t pos = skip + c.front_off;
  size_t i = c.head;
  while (i < c.segs.size() && pos >= c.segs[i].length) {
    pos -= c.segs[i].length;
    ++i;
  }
  // Invariant: skip <= c.avail, so past the last segment nothing is left over.
  *seg = static_cast<uint32_t>(i);
  *off = static_cast<uint32_t>(pos);
}

template <typename OnData>
http::ChunkedDecoder::Step HttpProtocol::RunDecoder(const Conn& c, http::ChunkedDecoder& d,
                                                    uint32_t* seg, uint32_t* off,
                                                    OnData&& on_data) const {
  http::ChunkedDecoder::Step step;
  while (*seg < c.segs.size()) {
    const store::Segment& s = c.segs[*seg];
    if (*off == s.length) {
      ++*seg;
      *off = 0;
      continue;
    }
    step = d.Next(b_->SegData(s) + *off, s.length - *off, limits_);
    if (step.data_len > 0) {
      on_data(s, *off + step.data_offset, step.data_len);
    }
    *off += static_cast<uint32_t>(step.consumed);
    if (step.status != 0 || step.done) {
      return step;
    }
  }
  return step;
}

HttpProtocol::ChunkedBody HttpProtocol::DecodeChunked(Conn& c, uint64_t head_bytes) {
  static_assert(sizeof(ChunkProgress) <= sizeof(c.progress));
  ChunkProgress p;
  std::memcpy(&p, c.progress, sizeof(p));
  if (p.head_bytes != head_bytes) {  // the first look at this body
    p = ChunkProgress{};
    p.head_bytes = head_bytes;
    Locate(c, head_bytes, &p.seg, &p.off);
  }
  const http::ChunkedDecoder::Step step =
      RunDecoder(c, p.decoder, &p.seg, &p.off, [](const store::Segment&, uint32_t, size_t) {});
  std::memcpy(c.progress, &p, sizeof(p));
  return {.status = step.status,
          .done = p.decoder.done(),
          .length = p.decoder.body_bytes(),
          .wire = p.decoder.wire_bytes()};
}

store::WriteOutcome HttpProtocol::PutChunked(Conn& c, const http::RequestHead& h,
                                             uint64_t body_len) {
  // In place: one extent per chunk piece per receive buffer, in a second pass over the framing
  // (the first one, DecodeChunked, kept nothing). At most twice the buffers its bytes fill, so
  // that a body in tiny chunks neither pins a buffer per few bytes nor makes a huge record.
  const size_t max_extents = 2 * static_cast<size_t>(body_len / b_->pool().buffer_size() + 1);
  body_.clear();
  http::ChunkedDecoder d;
  uint32_t seg = 0;
  uint32_t off = 0;
  Locate(c, h.head_bytes, &seg, &off);
  bool fits = true;
  (void)RunDecoder(c, d, &seg, &off, [&](const store::Segment& s, uint32_t at, size_t len) {
    if (body_.size() == max_extents) {
      fits = false;
    } else if (fits) {
      body_.push_back({s.buffer, s.offset + at, static_cast<uint32_t>(len)});
    }
  });
  if (fits) {
    const store::WriteOutcome w = b_->Put(c, h.target, body_, body_len);
    if (w != store::WriteOutcome::kTooLarge) {
      return w;
    }
    // More extents than a log record names: the copy below takes one per buffer.
  }
  // Copied: the decoded bytes gathered, then written into fresh buffers (flushed by the batch's
  // commit, like every value).
  if (const store::WriteOutcome w = b_->Writable(body_len); w != store::WriteOutcome::kQueued) {
    return w;
  }
  chunk_copy_.clear();
  d = http::ChunkedDecoder();
  Locate(c, h.head_bytes, &seg, &off);
  (void)RunDecoder(c, d, &seg, &off, [&](const store::Segment& s, uint32_t at, size_t len) {
    chunk_copy_.append(b_->SegData(s) + at, len);
  });
  if (!b_->FreshValue(chunk_copy_, &owned_).ok()) {
    b_->counters().Add(b_->counters().rejected_full);
    return store::WriteOutcome::kPoolFull;
  }
  return b_->PutOwned(h.target, std::move(owned_), body_len);
}

void HttpProtocol::Handle(Conn& c, const http::RequestHead& h, uint64_t body_len) {
  // A HEAD answer is the GET answer's head: same status and Content-Length, no body bytes.
  head_request_ = h.method == http::Method::kHead;
  switch (h.method) {
    case http::Method::kGet:
    case http::Method::kHead: HandleGet(c, h); break;
    case http::Method::kPost:
    case http::Method::kPut: HandleWrite(c, h, body_len); break;
    case http::Method::kDelete: HandleDelete(c, h); break;
    // RFC 9110 9.1: a method the server does not know is 501 (the connection stays: the body,
    // if any, is skipped with the request).
    case http::Method::kOther: Text(c, 501, "not implemented\n", false); break;
  }
  head_request_ = false;
}

void HttpProtocol::HandleGet(Conn& c, const http::RequestHead& h) {
  if (h.target == "/" || h.target == "/health") {
    Text(c, 200, "ok\n", false);
    return;
  }
  if (h.target == "/metrics") {
    const std::string m = RenderMetrics(shared_);
    Text(c, 200, m, false, "text/plain; version=0.0.4");
    return;
  }
  Value v;
  if (!b_->Lookup(h.target, &v)) {
    if (b_->lookup_damaged()) {
      Text(c, 500, "the stored value fails its checksum (damaged pool file)\n", false);
    } else {
      Text(c, 404, "not found\n", false);
    }
    return;
  }
  // The answer owns one reference per extent until it is queued.
  const bool close = last_request_closes_;
  b_->AnswerValue(c.id, Head(200, v.length, close, kOctets), v, {}, close,
                  /*with_bytes=*/!head_request_);
}

void HttpProtocol::HandleWrite(Conn& c, const http::RequestHead& h, uint64_t body_len) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false, "text/plain", http::kAllowFixed);
    return;
  }
  store::WriteOutcome w;
  if (h.chunked) {
    w = PutChunked(c, h, body_len);
  } else {
    b_->BodyExtents(c, h.head_bytes, body_len, &body_);
    w = b_->Put(c, h.target, body_, body_len);
  }
  if (w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  WriteAnswer(c, h.method == http::Method::kPost ? 201 : 204);
}

void HttpProtocol::HandleDelete(Conn& c, const http::RequestHead& h) {
  if (Reserved(h.target)) {
    Text(c, 405, "not a key\n", false, "text/plain", http::kAllowFixed);
    return;
  }
  // A store that takes no writes refuses every DELETE (503), of a key it holds or not, as it
  // refuses every other write; otherwise the log has room for the record from here on.
  if (const store::WriteOutcome w = b_->Deletable(b_->DeleteRoom(h.target.size()));
      w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  if (!b_->Exists(h.target)) {
    Text(c, 404, "not found\n", false);
    return;
  }
  const store::WriteOutcome w = b_->Delete(h.target);
  if (w != store::WriteOutcome::kQueued) {
    Refused(c, w);
    return;
  }
  WriteAnswer(c, 204);
}

void HttpProtocol::WriteAnswer(const Conn& c, int status) {
  // Both answers are rendered now; the one that goes out depends on the batch's commit.
  const bool close = last_request_closes_;
  const size_t fn = http::WriteResponseHead(fail_buf_, sizeof(fail_buf_) - kReadOnly.size(),
                                            {.status = 503,
                                             .content_length = kReadOnly.size(),
                                             .connection = close ? http::Connection::kClose : keep_,
                                             .content_type = "text/plain",
                                             .allow = {}});
  std::memcpy(fail_buf_ + fn, kReadOnly.data(), kReadOnly.size());
  b_->AnswerWrite(c.id, Head(status, 0, close, "text/plain"),
                  std::string_view(fail_buf_, fn + kReadOnly.size()), close);
}

void HttpProtocol::Refused(Conn& c, store::WriteOutcome w) {
  switch (w) {
    case store::WriteOutcome::kQueued: break;
    case store::WriteOutcome::kReadOnly: Text(c, 503, kReadOnly, false); break;
    case store::WriteOutcome::kPoolFull: Text(c, 507, "pool full\n", false); break;
    case store::WriteOutcome::kLogFull:
      Text(c, 507, b_->index_full() ? "index file full\n" : "log full\n", false);
      break;
    case store::WriteOutcome::kTooLarge:
      Text(c, 413, "value spans too many buffers\n", true);
      c.closing = true;
      break;
    case store::WriteOutcome::kInternal: Text(c, 500, "internal error\n", false); break;
    case store::WriteOutcome::kNeedsRoom: break;  // not an answer: the request runs again
  }
}

std::string_view HttpProtocol::Head(int status, uint64_t length, bool close, std::string_view type,
                                    std::string_view allow) {
  const size_t n = http::WriteResponseHead(head_buf_, sizeof(head_buf_),
                                           {.status = status,
                                            .content_length = length,
                                            .connection = close ? http::Connection::kClose : keep_,
                                            .content_type = type,
                                            .allow = allow});
  return {head_buf_, n};
}

void HttpProtocol::Text(const Conn& c, int status, std::string_view body, bool close,
                        std::string_view type, std::string_view allow) {
  close = close || last_request_closes_;
  const size_t begin = b_->text().size();
  b_->text().append(Head(status, body.size(), close, type, allow));
  if (!head_request_) {
    b_->text().append(body);
  }
  b_->AnswerTextSince(c.id, begin,
                      status < 400   ? AnswerClass::kOk
                      : status < 500 ? AnswerClass::kClientError
                                     : AnswerClass::kServerError,
                      close);
}

void HttpProtocol::Error(Conn& c, int status) {
  std::string body(http::ReasonPhrase(status));
  body += '\n';
  Text(c, status, body, true);
  c.closing = true;
}

}  // namespace pastel::httpd
