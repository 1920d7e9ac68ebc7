#include "server.h"

#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cassert>
#include <cerrno>
#include <chrono>
#include <climits>
#include <cstdio>
#include <cstring>
#include <unordered_map>
#include <utility>

#include "pastel/net.h"
#include "pastel/prometheus.h"

namespace pastel::baseline {
namespace {

constexpr int kEpollTimeoutMs = 100;  // how soon a loop notices Stop
constexpr size_t kInitialInBuffer = 16 << 10;
constexpr size_t kShrinkInBufferAbove = 256 << 10;  // an idle buffer this large shrinks back
// A connection whose unsent answers exceed this stops reading and parsing until they drain.
constexpr size_t kMaxOutPending = 4 << 20;
// After answering with Connection: close, input is read and dropped for at most this long (or
// this many bytes) before the socket closes, so that the client reads the answer instead of a
// reset caused by unread request bytes (a "lingering close").
constexpr auto kLingerTime = std::chrono::seconds(2);
constexpr size_t kLingerBytes = 4 << 20;
constexpr std::string_view kMetricsType = "text/plain; version=0.0.4";

constexpr std::array<const char*, 6> kMethodNames = {"GET", "HEAD",   "POST",
                                                     "PUT", "DELETE", "OTHER"};

using Clock = std::chrono::steady_clock;

// Written by the owning loop only, read by /metrics in any loop: relaxed loads and stores.
struct alignas(64) LoopCounters {
  std::array<std::atomic<uint64_t>, 6> requests{};  // by http::Method
  std::atomic<uint64_t> parse_errors{0};            // 400/411/413/414/431/505 from the parser
  std::atomic<uint64_t> responses_2xx{0};
  std::atomic<uint64_t> responses_4xx{0};
  std::atomic<uint64_t> responses_5xx{0};
  std::atomic<uint64_t> rx_bytes{0};
  std::atomic<uint64_t> tx_bytes{0};
  std::atomic<uint64_t> accepted{0};
  std::atomic<uint64_t> open{0};
  std::atomic<uint64_t> request_timeouts{0};  // 408: a request did not arrive whole in time

  static void Add(std::atomic<uint64_t>& a, uint64_t n = 1) {
    a.store(a.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
  }
};

Status SetNonBlocking(int fd) {
  const int fl = ::fcntl(fd, F_GETFL);
  if (fl < 0 || ::fcntl(fd, F_SETFL, fl | O_NONBLOCK) != 0) {
    return Status::FromErrno("fcntl O_NONBLOCK", errno);
  }
  return Status::Ok();
}

bool IsSpecialPath(std::string_view target) {
  return target == "/" || target == "/health" || target == "/metrics";
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Loop: one thread's event loop.

class Loop {
 public:
  // Takes `listen_fd` (non-blocking from here on).
  static Result<std::unique_ptr<Loop>> Create(Server& server, Store& store, uint32_t index,
                                              int listen_fd, const ServerOptions& options);
  ~Loop();
  Loop(const Loop&) = delete;
  Loop& operator=(const Loop&) = delete;

  // Serves until `stop`; returns an error only when epoll itself fails.
  Status Run(const std::atomic<bool>& stop);
  const LoopCounters& counters() const { return counters_; }

 private:
  // One client connection. [in_begin, in_end) of `in` is received and not yet consumed;
  // [out_off, out.size()) of `out` is answered and not yet sent.
  struct Conn {
    int fd = -1;
    std::vector<char> in;
    size_t in_begin = 0;
    size_t in_end = 0;
    std::string out;
    size_t out_off = 0;
    uint32_t interest = 0;       // events registered with epoll
    bool continue_sent = false;  // 100 Continue sent for the request at in_begin
    bool peer_eof = false;       // the client shut down its side: answer what is complete, close
    bool closing = false;        // an answer with Connection: close is queued: parse no more
    bool dead = false;           // a socket error: close at once
    bool lingering = false;      // our side shut down after the last answer; dropping input
    size_t lingered_bytes = 0;
    Clock::time_point linger_deadline{};
    bool partial = false;               // bytes of an unfinished request are buffered
    Clock::time_point partial_since{};  // ... since then
    // A chunked body being decoded in place: its data is moved down over its framing as it
    // arrives, so [in_begin, in_begin + chunk_end) holds the head and the data decoded so far and
    // what follows is not decoded yet.
    bool chunking = false;
    size_t chunk_end = 0;
    http::ChunkedDecoder decoder;

    size_t InLen() const { return in_end - in_begin; }
    size_t OutPending() const { return out.size() - out_off; }
  };

  Loop(Server& server, Store& store, uint32_t index, const ServerOptions& options)
      : server_(server), store_(store), index_(index), options_(options) {}

  void Accept();
  void PauseAccept();
  void OnEvent(Conn* c, uint32_t events);
  // Reads until the socket is empty, the buffer is at its limit, or the peer shut down.
  void ReadInput(Conn& c);
  // Makes room at in_end: compacts, or grows the buffer up to the limit. False when it is full.
  bool MakeRoom(Conn& c);
  // Parses and answers every complete request buffered. Returns true when it stopped with whole
  // requests possibly left because too many answers are waiting to be sent (backpressure).
  bool Process(Conn& c);
  // Decodes what arrived of the chunked body of the request at in_begin (a head of `head_bytes`)
  // into place. Returns 0 with *done when the body is whole (c.chunk_end: head and body), or the
  // status to answer and close with.
  int DecodeChunked(Conn& c, size_t head_bytes, bool* done);
  void Handle(Conn& c, const http::RequestHead& h, std::string_view body);
  void HandleWrite(Conn& c, const http::RequestHead& h, std::string_view body, bool send_body);
  void HandleDelete(Conn& c, const http::RequestHead& h, bool send_body);
  // Answers a store failure: 507 full, 413 value too large for one record, else 503.
  void RespondStoreError(Conn& c, const Status& st, bool keep_alive, bool send_body);
  // `keep_alive`: the connection stays open (the answer then says what keep_ says).
  void Respond(Conn& c, int status, std::string_view body, bool keep_alive, bool send_body,
               std::string_view type = "text/plain", std::string_view allow = {});
  // 200 with the value: head and value written straight from the pool mapping when nothing else
  // is queued (writev), else copied into `out`.
  void RespondValue(Conn& c, const ValueRef& v, bool keep_alive, bool send_body);
  void CountStatus(int status);
  void Queue(Conn& c, std::string_view bytes) { c.out.append(bytes.data(), bytes.size()); }
  // Sends what is queued; marks the connection dead on a socket error.
  void Flush(Conn& c);
  // After an event: process, send, and close or re-arm as the connection's state says.
  void Service(Conn* c);
  void SetInterest(Conn& c, uint32_t interest);
  void StartLinger(Conn& c);
  void DropLingerInput(Conn& c);
  void CloseConn(Conn* c);
  void Sweep();

  Server& server_;
  Store& store_;
  uint32_t index_;
  ServerOptions options_;
  // A whole request at most: max head + max body, and a head's worth more so that a chunked body
  // being decoded always has room for its next bytes.
  size_t in_limit_ = 0;
  // What answers to the request being handled say of the connection when it stays open
  // (kKeepAlive for an HTTP/1.0 client that asked for keep-alive).
  http::Connection keep_ = http::Connection::kDefault;
  int epfd_ = -1;
  int listen_fd_ = -1;
  bool accept_paused_ = false;
  Clock::time_point accept_resume_{};
  Clock::time_point next_timeout_sweep_{};
  uint32_t lingering_ = 0;
  std::unordered_map<Conn*, std::unique_ptr<Conn>> conns_;
  std::vector<iovec> iov_;  // scratch for RespondValue
  LoopCounters counters_;
};

Result<std::unique_ptr<Loop>> Loop::Create(Server& server, Store& store, uint32_t index,
                                           int listen_fd, const ServerOptions& options) {
  std::unique_ptr<Loop> loop(new Loop(server, store, index, options));
  loop->listen_fd_ = listen_fd;  // owned from here on, also on the error paths below
  loop->in_limit_ = 2 * options.limits.max_head + options.limits.max_body;
  PASTEL_RETURN_IF_ERROR(SetNonBlocking(listen_fd));
  loop->epfd_ = ::epoll_create1(EPOLL_CLOEXEC);
  if (loop->epfd_ < 0) {
    return Status::FromErrno("epoll_create1", errno);
  }
  epoll_event ev{};
  ev.events = EPOLLIN;
  ev.data.ptr = nullptr;  // the listener
  if (::epoll_ctl(loop->epfd_, EPOLL_CTL_ADD, listen_fd, &ev) != 0) {
    return Status::FromErrno("epoll_ctl add listener", errno);
  }
  return loop;
}

Loop::~Loop() {
  for (auto& [ptr, conn] : conns_) {
    ::close(conn->fd);
  }
  conns_.clear();
  if (listen_fd_ >= 0) {
    ::close(listen_fd_);
  }
  if (epfd_ >= 0) {
    ::close(epfd_);
  }
}

Status Loop::Run(const std::atomic<bool>& stop) {
  std::array<epoll_event, 256> events;
  while (!stop.load(std::memory_order_relaxed)) {
    const int n =
        ::epoll_wait(epfd_, events.data(), static_cast<int>(events.size()), kEpollTimeoutMs);
    if (n < 0) {
      if (errno == EINTR) {
        continue;
      }
      return Status::FromErrno("epoll_wait", errno);
    }
    // Each descriptor appears at most once per wait, so closing a connection here never leaves a
    // later event pointing at it.
    for (int i = 0; i < n; ++i) {
      auto* c = static_cast<Conn*>(events[i].data.ptr);
      if (c == nullptr) {
        Accept();
      } else {
        OnEvent(c, events[i].events);
      }
    }
    if (lingering_ > 0 || accept_paused_ || options_.request_timeout_ms != 0) {
      Sweep();
    }
  }
  return Status::Ok();
}

void Loop::Accept() {
  for (int i = 0; i < 64; ++i) {
    const int fd = ::accept4(listen_fd_, nullptr, nullptr, SOCK_NONBLOCK | SOCK_CLOEXEC);
    if (fd < 0) {
      if (errno == EINTR || errno == ECONNABORTED) {
        continue;
      }
      if (errno == EMFILE || errno == ENFILE || errno == ENOBUFS || errno == ENOMEM) {
        PauseAccept();  // level-triggered: retrying at once would spin
      }
      return;  // EAGAIN: nothing left to accept
    }
    const int one = 1;
    (void)::setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
    auto conn = std::make_unique<Conn>();
    conn->fd = fd;
    conn->interest = EPOLLIN;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = conn.get();
    if (::epoll_ctl(epfd_, EPOLL_CTL_ADD, fd, &ev) != 0) {
      ::close(fd);
      continue;
    }
    LoopCounters::Add(counters_.accepted);
    LoopCounters::Add(counters_.open);
    Conn* key = conn.get();
    conns_.emplace(key, std::move(conn));
  }
}

void Loop::PauseAccept() {
  static std::atomic<bool> reported{false};
  if (!reported.exchange(true)) {
    std::fprintf(stderr, "pastel-baseline: %s; pausing accepts for 100 ms at a time\n",
                 Status::FromErrno("accept", errno).ToString().c_str());
  }
  epoll_event ev{};
  ev.events = 0;
  ev.data.ptr = nullptr;
  (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
  accept_paused_ = true;
  accept_resume_ = Clock::now() + std::chrono::milliseconds(100);
}

void Loop::Sweep() {
  const Clock::time_point now = Clock::now();
  if (accept_paused_ && now >= accept_resume_) {
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.ptr = nullptr;
    (void)::epoll_ctl(epfd_, EPOLL_CTL_MOD, listen_fd_, &ev);
    accept_paused_ = false;
  }
  if (options_.request_timeout_ms != 0 && now >= next_timeout_sweep_) {
    next_timeout_sweep_ =
        now + std::chrono::milliseconds(std::max<uint32_t>(100, options_.request_timeout_ms / 8));
    const auto limit = std::chrono::milliseconds(options_.request_timeout_ms);
    std::vector<Conn*> late;
    for (auto& [ptr, conn] : conns_) {
      if (conn->partial && !conn->closing && !conn->lingering &&
          now - conn->partial_since > limit) {
        late.push_back(ptr);
      }
    }
    for (Conn* c : late) {
      c->partial = false;
      LoopCounters::Add(counters_.request_timeouts);
      Respond(*c, 408, "Request Timeout\n", /*keep_alive=*/false, /*send_body=*/true);
      Service(c);  // sends it, then lingers and closes
    }
  }
  if (lingering_ == 0) {
    return;
  }
  std::vector<Conn*> expired;
  for (auto& [ptr, conn] : conns_) {
    if (conn->lingering && now >= conn->linger_deadline) {
      expired.push_back(ptr);
    }
  }
  for (Conn* c : expired) {
    CloseConn(c);
  }
}

void Loop::OnEvent(Conn* c, uint32_t events) {
  if (c->lingering) {
    DropLingerInput(*c);
    return;
  }
  if ((events & EPOLLERR) != 0) {
    CloseConn(c);
    return;
  }
  if ((events & (EPOLLIN | EPOLLHUP)) != 0 && !c->peer_eof) {
    ReadInput(*c);
  }
  Service(c);
}

bool Loop::MakeRoom(Conn& c) {
  if (c.in_end < c.in.size()) {
    return true;
  }
  if (c.in_begin > 0) {
    std::memmove(c.in.data(), c.in.data() + c.in_begin, c.InLen());
    c.in_end -= c.in_begin;
    c.in_begin = 0;
    return true;
  }
  if (c.in.size() < in_limit_) {
    const size_t grown = std::max(kInitialInBuffer, c.in.size() * 2);
    c.in.resize(std::min(in_limit_, grown));
    return true;
  }
  return false;
}

void Loop::ReadInput(Conn& c) {
  while (true) {
    if (!MakeRoom(c)) {
      return;  // a whole request is buffered (or the limit is reached): Process decides
    }
    const size_t room = c.in.size() - c.in_end;
    const ssize_t n = ::read(c.fd, c.in.data() + c.in_end, room);
    if (n > 0) {
      c.in_end += static_cast<size_t>(n);
      LoopCounters::Add(counters_.rx_bytes, static_cast<uint64_t>(n));
      if (static_cast<size_t>(n) < room) {
        return;  // the socket is (very likely) empty; level-triggered epoll tells us otherwise
      }
      continue;
    }
    if (n == 0) {
      c.peer_eof = true;
      return;
    }
    if (errno == EINTR) {
      continue;
    }
    if (errno != EAGAIN && errno != EWOULDBLOCK) {
      c.dead = true;
    }
    return;
  }
}

bool Loop::Process(Conn& c) {
  bool backpressure = false;
  while (!c.closing && !c.dead && c.InLen() > 0) {
    if (c.OutPending() >= kMaxOutPending) {
      backpressure = true;
      break;
    }
    const char* p = c.in.data() + c.in_begin;
    const size_t avail = c.InLen();
    const http::ParseResult r = http::ParseHead(p, avail, options_.limits);
    if (r.status != 0) {
      LoopCounters::Add(counters_.parse_errors);
      const std::string body = std::string(http::ReasonPhrase(r.status)) + "\n";
      Respond(c, r.status, body, /*keep_alive=*/false,
              /*send_body=*/r.head.method != http::Method::kHead);
      break;
    }
    const http::RequestHead& h = r.head;
    if (h.head_bytes == 0) {
      break;  // the head is not complete yet
    }
    uint64_t body_len = h.has_content_length ? h.content_length : 0;
    uint64_t total = h.head_bytes + body_len;
    bool whole = avail >= total;
    if (h.chunked) {
      const int status = DecodeChunked(c, h.head_bytes, &whole);
      if (status != 0) {
        LoopCounters::Add(counters_.parse_errors);
        Respond(c, status, std::string(http::ReasonPhrase(status)) + "\n", /*keep_alive=*/false,
                /*send_body=*/true);
        break;
      }
      total = c.chunk_end;
      body_len = total - h.head_bytes;
    }
    if (!whole) {
      if (h.expect_continue && !c.continue_sent) {
        Queue(c, http::kContinue);
        c.continue_sent = true;
      }
      break;  // the body is not all here yet
    }
    c.continue_sent = false;
    c.chunking = false;
    keep_ = http::ConnectionFor(h, false);
    Handle(c, h, std::string_view(p + h.head_bytes, body_len));
    keep_ = http::Connection::kDefault;
    c.in_begin += total;
    c.partial = false;  // a request was taken whole; what follows starts its own clock
  }
  if (c.InLen() > 0 && !c.closing && !c.partial && !backpressure) {
    c.partial = true;
    c.partial_since = Clock::now();
  } else if (c.InLen() == 0) {
    c.partial = false;
  }
  if (c.in_begin == c.in_end) {
    c.in_begin = c.in_end = 0;
    if (c.in.size() > kShrinkInBufferAbove) {
      c.in.resize(kInitialInBuffer);  // a large body is gone: give its memory back
      c.in.shrink_to_fit();
    }
  }
  // Defensive: a buffer at its limit that holds no whole request can never make progress (the
  // parser answers 431/413 before this can happen).
  if (!c.closing && !c.dead && c.OutPending() < kMaxOutPending && c.InLen() >= in_limit_) {
    Respond(c, 413, "Payload Too Large\n", /*keep_alive=*/false, /*send_body=*/true);
  }
  return backpressure;
}

int Loop::DecodeChunked(Conn& c, size_t head_bytes, bool* done) {
  if (!c.chunking) {
    c.chunking = true;
    c.chunk_end = head_bytes;
    c.decoder = http::ChunkedDecoder();
  }
  char* const p = c.in.data() + c.in_begin;
  size_t scan = c.chunk_end;  // the next byte to decode
  http::ChunkedDecoder::Step step;
  while (scan < c.InLen() && !c.decoder.done()) {
    step = c.decoder.Next(p + scan, c.InLen() - scan, options_.limits);
    if (step.status != 0) {
      return step.status;
    }
    if (step.data_len > 0) {
      std::memmove(p + c.chunk_end, p + scan + step.data_offset, step.data_len);
      c.chunk_end += step.data_len;
    }
    scan += step.consumed;
  }
  // The framing decoded so far is gone: what follows it moves down to the decoded data's end.
  std::memmove(p + c.chunk_end, p + scan, c.InLen() - scan);
  c.in_end -= scan - c.chunk_end;
  *done = c.decoder.done();
  return 0;
}

void Loop::Handle(Conn& c, const http::RequestHead& h, std::string_view body) {
  const auto m = static_cast<size_t>(h.method);
  LoopCounters::Add(counters_.requests[m < counters_.requests.size() ? m : 5]);
  const bool keep = h.keep_alive;
  const bool send_body = h.method != http::Method::kHead;
  const std::string_view target = h.target;
  switch (h.method) {
    case http::Method::kGet:
    case http::Method::kHead: {
      if (target == "/" || target == "/health") {
        Respond(c, 200, "ok\n", keep, send_body);
        return;
      }
      if (target == "/metrics") {
        Respond(c, 200, server_.RenderMetrics(), keep, send_body, kMetricsType);
        return;
      }
      Result<ValueRef> v = store_.Get(target);
      if (!v.ok()) {
        if (v.status().code() == StatusCode::kNotFound) {
          Respond(c, 404, "Not Found\n", keep, send_body);
        } else {
          Respond(c, 503, "Service Unavailable\n", keep, send_body);
        }
        return;
      }
      RespondValue(c, *v, keep, send_body);
      return;
    }
    case http::Method::kPost:
    case http::Method::kPut: HandleWrite(c, h, body, send_body); return;
    case http::Method::kDelete: HandleDelete(c, h, send_body); return;
    case http::Method::kOther: break;
  }
  // RFC 9110 9.1: a method this server does not know. The body (if any) is skipped with the
  // request.
  Respond(c, 501, "Not Implemented\n", keep, send_body);
}

void Loop::HandleWrite(Conn& c, const http::RequestHead& h, std::string_view body, bool send_body) {
  if (IsSpecialPath(h.target)) {
    Respond(c, 405, "Method Not Allowed\n", h.keep_alive, send_body, "text/plain",
            http::kAllowFixed);
    return;
  }
  // Durable when Put returns OK: only then is the answer queued.
  Status st = store_.Put(index_, h.target, body);
  if (!st.ok()) {
    RespondStoreError(c, st, h.keep_alive, send_body);
    return;
  }
  Respond(c, h.method == http::Method::kPost ? 201 : 204, {}, h.keep_alive, send_body);
}

void Loop::HandleDelete(Conn& c, const http::RequestHead& h, bool send_body) {
  if (IsSpecialPath(h.target)) {
    Respond(c, 405, "Method Not Allowed\n", h.keep_alive, send_body, "text/plain",
            http::kAllowFixed);
    return;
  }
  Status st = store_.Delete(index_, h.target);
  if (st.code() == StatusCode::kNotFound) {
    Respond(c, 404, "Not Found\n", h.keep_alive, send_body);
    return;
  }
  if (!st.ok()) {
    RespondStoreError(c, st, h.keep_alive, send_body);
    return;
  }
  Respond(c, 204, {}, h.keep_alive, send_body);
}

void Loop::RespondStoreError(Conn& c, const Status& st, bool keep_alive, bool send_body) {
  switch (st.code()) {
    case StatusCode::kNoSpace:
      Respond(c, 507, "Insufficient Storage: " + st.message() + "\n", keep_alive, send_body);
      return;
    case StatusCode::kInvalidArgument:
      // More buffers than one log record can name: too large for this --buffer-size.
      Respond(c, 413, "Payload Too Large: " + st.message() + "\n", /*keep_alive=*/false, send_body);
      return;
    default:
      Respond(c, 503, "Service Unavailable: store is read-only\n", keep_alive, send_body);
      return;
  }
}

void Loop::CountStatus(int status) {
  if (status < 400) {
    LoopCounters::Add(counters_.responses_2xx);
  } else if (status < 500) {
    LoopCounters::Add(counters_.responses_4xx);
  } else {
    LoopCounters::Add(counters_.responses_5xx);
  }
}

void Loop::Respond(Conn& c, int status, std::string_view body, bool keep_alive, bool send_body,
                   std::string_view type, std::string_view allow) {
  CountStatus(status);
  char head[512];
  const size_t n =
      http::WriteResponseHead(head, sizeof(head),
                              {.status = status,
                               .content_length = body.size(),
                               .connection = keep_alive ? keep_ : http::Connection::kClose,
                               .content_type = body.empty() ? std::string_view() : type,
                               .allow = allow});
  // Invariant: a head with a short content type always fits in 512 bytes.
  assert(n > 0);
  Queue(c, std::string_view(head, n));
  if (send_body) {
    Queue(c, body);
  }
  if (!keep_alive) {
    c.closing = true;
  }
}

void Loop::RespondValue(Conn& c, const ValueRef& v, bool keep_alive, bool send_body) {
  CountStatus(200);
  char head[512];
  const size_t n =
      http::WriteResponseHead(head, sizeof(head),
                              {.status = 200,
                               .content_length = v.length(),
                               .connection = keep_alive ? keep_ : http::Connection::kClose,
                               .content_type = "application/octet-stream",
                               .allow = {}});
  assert(n > 0);
  if (!keep_alive) {
    c.closing = true;
  }
  if (!send_body || v.length() == 0 || c.OutPending() > 0) {
    Queue(c, std::string_view(head, n));
    if (send_body) {
      for (const Extent& e : v.extents()) {
        Queue(c, std::string_view(reinterpret_cast<const char*>(v.Data(e)), e.length));
      }
    }
    return;
  }
  // Nothing queued before: send the head and the value straight from the pool mapping.
  iov_.clear();
  iov_.push_back({head, n});
  for (const Extent& e : v.extents()) {
    iov_.push_back({const_cast<uint8_t*>(v.Data(e)), e.length});
  }
  size_t done = 0;  // iovecs fully sent
  while (done < iov_.size()) {
    msghdr msg{};
    msg.msg_iov = iov_.data() + done;
    msg.msg_iovlen = std::min<size_t>(iov_.size() - done, IOV_MAX);
    const ssize_t sent = ::sendmsg(c.fd, &msg, MSG_NOSIGNAL);
    if (sent < 0) {
      if (errno == EINTR) {
        continue;
      }
      if (errno != EAGAIN && errno != EWOULDBLOCK) {
        c.dead = true;
        return;
      }
      break;
    }
    LoopCounters::Add(counters_.tx_bytes, static_cast<uint64_t>(sent));
    size_t left = static_cast<size_t>(sent);
    while (done < iov_.size() && left >= iov_[done].iov_len) {
      left -= iov_[done].iov_len;
      ++done;
    }
    if (done < iov_.size() && left > 0) {
      iov_[done].iov_base = static_cast<char*>(iov_[done].iov_base) + left;
      iov_[done].iov_len -= left;
      break;  // a short send: the socket buffer is full
    }
  }
  // What the socket did not take is copied out before the pin is dropped.
  for (size_t i = done; i < iov_.size(); ++i) {
    Queue(c, std::string_view(static_cast<const char*>(iov_[i].iov_base), iov_[i].iov_len));
  }
}

void Loop::Flush(Conn& c) {
  while (c.OutPending() > 0 && !c.dead) {
    const ssize_t n = ::send(c.fd, c.out.data() + c.out_off, c.OutPending(), MSG_NOSIGNAL);
    if (n > 0) {
      c.out_off += static_cast<size_t>(n);
      LoopCounters::Add(counters_.tx_bytes, static_cast<uint64_t>(n));
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      break;
    }
    c.dead = true;
  }
  if (c.OutPending() == 0) {
    c.out.clear();
    c.out_off = 0;
  } else if (c.out_off > (1 << 20) && c.out_off > c.out.size() / 2) {
    c.out.erase(0, c.out_off);
    c.out_off = 0;
  }
}

void Loop::Service(Conn* c) {
  while (true) {
    const bool backpressure = Process(*c);
    Flush(*c);
    if (c->dead) {
      CloseConn(c);
      return;
    }
    // Parsing stopped for backpressure and the socket took enough: go on with what is buffered.
    if (backpressure && c->OutPending() < kMaxOutPending) {
      continue;
    }
    break;
  }
  if (c->OutPending() == 0) {
    if (c->closing) {
      if (c->peer_eof) {
        CloseConn(c);
      } else {
        StartLinger(*c);
      }
      return;
    }
    if (c->peer_eof) {
      CloseConn(c);  // everything complete was answered; a partial request is dropped
      return;
    }
  }
  uint32_t want = 0;
  if (!c->peer_eof && !c->closing && c->OutPending() < kMaxOutPending) {
    want |= EPOLLIN;
  }
  if (c->OutPending() > 0) {
    want |= EPOLLOUT;
  }
  SetInterest(*c, want);
}

void Loop::SetInterest(Conn& c, uint32_t interest) {
  if (interest == c.interest) {
    return;
  }
  epoll_event ev{};
  ev.events = interest;
  ev.data.ptr = &c;
  if (::epoll_ctl(epfd_, EPOLL_CTL_MOD, c.fd, &ev) != 0) {
    c.dead = true;
    return;
  }
  c.interest = interest;
}

void Loop::StartLinger(Conn& c) {
  // Our answer is all sent: end our side, then drop what the client still sends until it
  // closes too (or the deadline), so that closing does not reset the answer away.
  (void)::shutdown(c.fd, SHUT_WR);
  c.lingering = true;
  c.linger_deadline = Clock::now() + kLingerTime;
  c.in.clear();
  c.in.shrink_to_fit();
  c.in_begin = c.in_end = 0;
  ++lingering_;
  SetInterest(c, EPOLLIN);
  if (c.dead) {
    CloseConn(&c);
  }
}

void Loop::DropLingerInput(Conn& c) {
  char sink[16 << 10];
  while (true) {
    const ssize_t n = ::read(c.fd, sink, sizeof(sink));
    if (n > 0) {
      c.lingered_bytes += static_cast<size_t>(n);
      if (c.lingered_bytes > kLingerBytes) {
        CloseConn(&c);
        return;
      }
      continue;
    }
    if (n < 0 && errno == EINTR) {
      continue;
    }
    if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
      return;
    }
    CloseConn(&c);  // EOF or an error
    return;
  }
}

void Loop::CloseConn(Conn* c) {
  if (c->lingering) {
    --lingering_;
  }
  ::close(c->fd);  // also removes it from the epoll set
  LoopCounters::Add(counters_.open, static_cast<uint64_t>(-1));
  conns_.erase(c);
}

// ---------------------------------------------------------------------------------------------
// Listeners

Result<Listeners> Listeners::Open(const std::string& addr, uint32_t count) {
  Listeners l;
  const size_t colon = addr.rfind(':');
  if (colon == std::string::npos) {
    return Status::InvalidArgument("address '" + addr + "' is not ADDR:PORT");
  }
  l.host_ = addr.substr(0, colon);
  for (uint32_t i = 0; i < count; ++i) {
    const std::string a = i == 0 ? addr : l.host_ + ":" + std::to_string(l.port_);
    Result<int> fd = ListenTcp(a);
    if (!fd.ok()) {
      return fd.status();
    }
    l.fds_.push_back(*fd);
    if (i == 0) {
      Result<uint16_t> port = LocalPort(*fd);
      if (!port.ok()) {
        return port.status();
      }
      l.port_ = *port;
    }
  }
  return l;
}

Listeners::Listeners(Listeners&& other) noexcept
    : fds_(std::move(other.fds_)), port_(other.port_), host_(std::move(other.host_)) {
  other.fds_.clear();
}

Listeners& Listeners::operator=(Listeners&& other) noexcept {
  if (this != &other) {
    Close();
    fds_ = std::move(other.fds_);
    other.fds_.clear();
    port_ = other.port_;
    host_ = std::move(other.host_);
  }
  return *this;
}

Listeners::~Listeners() {
  Close();
}

void Listeners::Close() {
  for (int fd : fds_) {
    ::close(fd);
  }
  fds_.clear();
}

// ---------------------------------------------------------------------------------------------
// Server

Result<std::unique_ptr<Server>> Server::Start(Store& store, Listeners listeners,
                                              const ServerOptions& options) {
  std::unique_ptr<Server> server(new Server(store));
  server->port_ = listeners.port();
  std::vector<int> fds = std::move(listeners.fds_);
  listeners.fds_.clear();
  for (size_t i = 0; i < fds.size(); ++i) {
    Result<std::unique_ptr<Loop>> loop =
        Loop::Create(*server, store, static_cast<uint32_t>(i), fds[i], options);
    if (!loop.ok()) {
      // Loops made so far, and the failed one, close their own listeners.
      for (size_t j = i + 1; j < fds.size(); ++j) {
        ::close(fds[j]);
      }
      return loop.status();
    }
    server->loops_.push_back(std::move(loop).value());
  }
  for (size_t i = 0; i < server->loops_.size(); ++i) {
    Loop* loop = server->loops_[i].get();
    Server* s = server.get();
    server->threads_.emplace_back([s, loop, i] {
      Status st = loop->Run(s->stop_);
      if (!st.ok()) {
        std::fprintf(stderr, "pastel-baseline: loop %zu: %s\n", i, st.ToString().c_str());
        s->failed_.store(true, std::memory_order_release);
      }
    });
  }
  return server;
}

Server::Server(Store& store) : store_(store) {}

Server::~Server() {
  Stop();
}

void Server::Stop() {
  stop_.store(true, std::memory_order_relaxed);
  for (std::thread& t : threads_) {
    if (t.joinable()) {
      t.join();
    }
  }
  threads_.clear();
  loops_.clear();
}

std::string Server::RenderMetrics() const {
  std::array<uint64_t, 6> req{};
  uint64_t parse_errors = 0, r2 = 0, r4 = 0, r5 = 0, rx = 0, tx = 0, accepted = 0, open = 0,
           timeouts = 0;
  for (const auto& loop : loops_) {
    const LoopCounters& c = loop->counters();
    for (size_t m = 0; m < req.size(); ++m) {
      req[m] += c.requests[m].load(std::memory_order_relaxed);
    }
    parse_errors += c.parse_errors.load(std::memory_order_relaxed);
    timeouts += c.request_timeouts.load(std::memory_order_relaxed);
    r2 += c.responses_2xx.load(std::memory_order_relaxed);
    r4 += c.responses_4xx.load(std::memory_order_relaxed);
    r5 += c.responses_5xx.load(std::memory_order_relaxed);
    rx += c.rx_bytes.load(std::memory_order_relaxed);
    tx += c.tx_bytes.load(std::memory_order_relaxed);
    accepted += c.accepted.load(std::memory_order_relaxed);
    open += c.open.load(std::memory_order_relaxed);
  }
  const StoreStats s = store_.Stats();
  std::string out;
  out.reserve(4096);
  AppendPrometheusHelp(&out, "pastel_requests_total", "counter", "Requests parsed, by method.");
  for (size_t m = 0; m < req.size(); ++m) {
    AppendPrometheusSample(&out, "pastel_requests_total",
                           std::string("{method=\"") + kMethodNames[m] + "\"}", req[m]);
  }
  AppendPrometheusHelp(&out, "pastel_parse_errors_total", "counter",
                       "Requests refused by the parser (400, 411, 413, 414, 431, 505).");
  AppendPrometheusSample(&out, "pastel_parse_errors_total", "", parse_errors);
  AppendPrometheusHelp(
      &out, "pastel_request_timeouts_total", "counter",
      "Requests not received whole within --request-timeout (408, connection closed).");
  AppendPrometheusSample(&out, "pastel_request_timeouts_total", "", timeouts);
  AppendPrometheusHelp(&out, "pastel_responses_total", "counter", "Responses, by status class.");
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"2xx\"}", r2);
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"4xx\"}", r4);
  AppendPrometheusSample(&out, "pastel_responses_total", "{class=\"5xx\"}", r5);
  AppendPrometheusHelp(&out, "pastel_received_bytes_total", "counter",
                       "Bytes read from client sockets.");
  AppendPrometheusSample(&out, "pastel_received_bytes_total", "", rx);
  AppendPrometheusHelp(&out, "pastel_sent_bytes_total", "counter",
                       "Bytes written to client sockets.");
  AppendPrometheusSample(&out, "pastel_sent_bytes_total", "", tx);
  AppendPrometheusHelp(&out, "pastel_connections_accepted_total", "counter",
                       "Connections accepted.");
  AppendPrometheusSample(&out, "pastel_connections_accepted_total", "", accepted);
  AppendPrometheusHelp(&out, "pastel_connections", "gauge", "Connections open.");
  AppendPrometheusSample(&out, "pastel_connections", "", open);
  AppendPrometheusHelp(
      &out, "pastel_fences_total", "counter",
      "Commits: one flush + fence (or fdatasync of pool and log) per write request.");
  AppendPrometheusSample(&out, "pastel_fences_total", "", s.fences);
  AppendPrometheusHelp(&out, "pastel_committed_writes_total", "counter",
                       "Writes and deletes made durable.");
  AppendPrometheusSample(&out, "pastel_committed_writes_total", "", s.committed_writes);
  AppendPrometheusHelp(&out, "pastel_rejected_full_total", "counter", "Writes refused with 507.");
  AppendPrometheusSample(&out, "pastel_rejected_full_total", "", s.rejected_full);
  AppendPrometheusHelp(&out, "pastel_pool_buffers", "gauge", "Pool buffers by owner.");
  AppendPrometheusSample(&out, "pastel_pool_buffers", "{state=\"free\"}", s.buffers.free);
  AppendPrometheusSample(&out, "pastel_pool_buffers", "{state=\"app\"}", s.buffers.app);
  AppendPrometheusSample(&out, "pastel_pool_buffers", "{state=\"retained\"}", s.buffers.retained);
  AppendPrometheusHelp(&out, "pastel_keys", "gauge", "Live keys.");
  AppendPrometheusSample(&out, "pastel_keys", "", s.keys);
  AppendPrometheusHelp(&out, "pastel_value_bytes", "gauge", "Bytes of live values.");
  AppendPrometheusSample(&out, "pastel_value_bytes", "", s.value_bytes);
  AppendPrometheusHelp(&out, "pastel_read_only", "gauge", "1 after a failed flush or sync.");
  AppendPrometheusSample(&out, "pastel_read_only", "", s.read_only ? 1 : 0);
  return out;
}

}  // namespace pastel::baseline
