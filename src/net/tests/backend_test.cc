// The same suite for both backends (uring and epoll): real sockets on loopback, a server loop on
// its own thread, clients in the test thread (or a child process for 10,000 connections).

#include <gtest/gtest.h>
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <cstring>
#include <deque>
#include <map>
#include <mutex>
#include <vector>

#include "pastel/net.h"
#include "src/net/tests/net_test_util.h"
#include "tests/support/temp_dir.h"

namespace pastel {
namespace {

using testing::Connect;
using testing::Diff;
using testing::LoopThread;
using testing::Pattern;
using testing::PeerClosed;
using testing::RecvN;
using testing::SendAll;
using testing::TempDir;

// The backend, and for uring whether receives share buffers (NetOptions::rx_shared: the default;
// off, a buffer per receive as on kernels before 6.12).
template <BackendKind K, bool kShared = true>
struct Kind {
  static constexpr BackendKind value = K;
  static constexpr bool shared = kShared;
};

template <typename T>
class BackendTest : public ::testing::Test {
 protected:
  static constexpr BackendKind kKind = T::value;

  void SetUp() override {
    if (kKind == BackendKind::kUring) {
      std::string why;
      if (Backend::Probe(&why) != BackendKind::kUring) {
        GTEST_SKIP() << "io_uring backend unsupported on this kernel: " << why;
      }
    }
  }

  std::unique_ptr<Pool> MakePool(uint32_t buffers, uint32_t buffer_size = 2048,
                                 uint32_t partitions = 1) {
    PoolParams p;
    p.buffer_size = buffer_size;
    p.buffer_count = buffers;
    p.partitions = partitions;
    Result<std::unique_ptr<Pool>> pool = Pool::Create(dir_.File("pool"), 0, p);
    EXPECT_TRUE(pool.ok()) << pool.status().ToString();
    return pool.ok() ? std::move(pool).value() : nullptr;
  }

  static NetOptions Options() {
    NetOptions o;
    o.listen = "127.0.0.1:0";
    o.rx_shared = T::shared;
    return o;
  }

  // Echo: every data slot is sent back (copied) and its buffer released.
  static void Echo(Backend& be, std::span<const RxSlot> batch, Pool& pool) {
    for (const RxSlot& s : batch) {
      if (s.kind != RxKind::kData) {
        continue;
      }
      Status st = be.Send(s.conn, {pool.BufferData(s.buffer) + s.offset, s.length});
      EXPECT_TRUE(st.ok()) << st.ToString();
      EXPECT_TRUE(be.Release(s.buffer).ok());
    }
  }

  TempDir dir_;
};

using Kinds = ::testing::Types<Kind<BackendKind::kUring>, Kind<BackendKind::kUring, false>,
                               Kind<BackendKind::kEpoll>>;
class KindNames {
 public:
  template <typename T>
  static std::string GetName(int) {
    return std::string(BackendKindName(T::value)) +
           (T::value == BackendKind::kUring && !T::shared ? "_whole_buffers" : "");
  }
};
TYPED_TEST_SUITE(BackendTest, Kinds, KindNames);

TYPED_TEST(BackendTest, EchoManyConnectionsInterleavedAndStraddlingBuffers) {
  auto pool = this->MakePool(2048, 512);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  LoopThread loop(this->kKind, p, this->Options(),
                  [&](Backend& be, std::span<const RxSlot> b) { TestFixture::Echo(be, b, p); });
  ASSERT_TRUE(loop.status().ok()) << loop.status().ToString();
  constexpr int kConns = 64;
  constexpr int kRounds = 12;
  std::vector<int> fds;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(Connect(loop.port()));
    ASSERT_GE(fds.back(), 0);
  }
  uint64_t bytes = 0;
  uint64_t messages = 0;
  for (int r = 0; r < kRounds; ++r) {
    std::vector<std::string> sent(kConns);
    for (int i = 0; i < kConns; ++i) {
      // 1 B .. 5 KiB: many straddle two to eleven 512-byte buffers.
      sent[i] = Pattern(1 + (static_cast<size_t>(i) * 7919 + r * 104729) % 5000, r * 1000 + i);
      ASSERT_TRUE(SendAll(fds[i], sent[i]));
      bytes += sent[i].size();
      ++messages;
    }
    for (int i = kConns; i-- > 0;) {
      ASSERT_EQ(Diff(RecvN(fds[i], sent[i].size()), sent[i]), "") << "conn " << i << " round " << r;
    }
  }
  for (int fd : fds) {
    ::close(fd);
  }
  for (int i = 0; i < 2000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loop.connections(), 0u);
  NetStats st = loop.Stop();
  EXPECT_EQ(st.accepted, static_cast<uint64_t>(kConns));
  EXPECT_EQ(st.closed, static_cast<uint64_t>(kConns));
  EXPECT_EQ(st.rx_bytes, bytes);
  EXPECT_EQ(st.tx_bytes, bytes);
  EXPECT_GT(st.rx_slots, messages) << "large messages straddle buffers";
  EXPECT_LT(st.wait_syscalls, st.rx_slots) << "one wait reaps many slots";
  PoolCounts c = p.Counts();
  EXPECT_EQ(c.app, 0u) << "every received buffer was given back";
  EXPECT_EQ(c.retained, 0u);
}

TYPED_TEST(BackendTest, RingRunsDryUnderLoadAndNoByteIsLostOrReordered) {
  // 96 buffers of 512 B; the server keeps (retains) every buffer it receives, so the receive
  // side runs out; only when the partition has no free buffer left and a Poll brings no data (the
  // receive side has run dry) does it drop its references, and receiving resumes. Every kept
  // buffer must still hold what was received into it. (A rule that also released at a count of
  // kept buffers left epoll, which has no ring of lent buffers, short of running dry whenever the
  // server was slower than its clients, as under TSan.)
  auto pool = this->MakePool(96, 512);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  NetOptions o = this->Options();
  o.rx_buffers = 16;
  struct KeptBuf {
    uint32_t buffer;
    uint32_t offset;
    std::string content;
  };
  std::deque<KeptBuf> kept;
  uint64_t verified = 0;
  LoopThread loop(this->kKind, p, o, [&](Backend& be, std::span<const RxSlot> batch) {
    bool data = false;
    for (const RxSlot& s : batch) {
      if (s.kind != RxKind::kData) {
        continue;
      }
      data = true;
      const uint8_t* d = p.BufferData(s.buffer) + s.offset;
      EXPECT_TRUE(be.Send(s.conn, {d, s.length}).ok());
      EXPECT_TRUE(be.Keep(s.buffer).ok());
      kept.push_back({s.buffer, s.offset, std::string(reinterpret_cast<const char*>(d), s.length)});
    }
    if (!data && p.FreeInPartition(0) == 0) {
      for (const KeptBuf& k : kept) {
        EXPECT_EQ(
            std::memcmp(p.BufferData(k.buffer) + k.offset, k.content.data(), k.content.size()), 0)
            << "kept bytes were received into again";
        ++verified;
        EXPECT_TRUE(p.Unretain(k.buffer).ok());
      }
      kept.clear();
    }
  });
  ASSERT_TRUE(loop.status().ok()) << loop.status().ToString();
  constexpr int kConns = 8;
  constexpr size_t kBytes = 96 * 1024;
  std::vector<int> fds;
  std::vector<std::string> msgs;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(Connect(loop.port()));
    ASSERT_GE(fds.back(), 0);
    msgs.push_back(Pattern(kBytes, 77 + i));
  }
  std::vector<std::thread> writers;
  for (int i = 0; i < kConns; ++i) {
    writers.emplace_back([&, i] { EXPECT_TRUE(SendAll(fds[i], msgs[i])); });
  }
  for (int i = 0; i < kConns; ++i) {
    ASSERT_EQ(Diff(RecvN(fds[i], kBytes), msgs[i]), "") << "conn " << i;
  }
  for (auto& w : writers) {
    w.join();
  }
  for (int fd : fds) {
    ::close(fd);
  }
  NetStats st = loop.Stop();
  EXPECT_EQ(st.rx_bytes, kConns * kBytes);
  EXPECT_GT(st.rx_starved, 0u) << "the receive side should have run dry";
  EXPECT_GT(st.rearmed, 0u);
  EXPECT_GT(verified, 100u);
  EXPECT_EQ(st.kept, st.rx_slots);
}

TYPED_TEST(BackendTest, PeerResetIsReportedAndCleanedUp) {
  auto pool = this->MakePool(256);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  std::mutex mu;
  std::vector<RxSlot> closed;
  LoopThread loop(this->kKind, p, this->Options(), [&](Backend& be, std::span<const RxSlot> b) {
    for (const RxSlot& s : b) {
      if (s.kind == RxKind::kData) {
        EXPECT_TRUE(be.Release(s.buffer).ok());  // read, never answered
      } else if (s.kind == RxKind::kClosed) {
        std::lock_guard<std::mutex> g(mu);
        closed.push_back(s);
      }
    }
  });
  ASSERT_TRUE(loop.status().ok());
  const int fd = Connect(loop.port());
  ASSERT_TRUE(SendAll(fd, "half a request"));
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  linger lg{1, 0};
  ::setsockopt(fd, SOL_SOCKET, SO_LINGER, &lg, sizeof(lg));
  ::close(fd);  // RST
  for (int i = 0; i < 2000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  loop.Stop();
  ASSERT_EQ(closed.size(), 1u);
  EXPECT_EQ(closed[0].error, -ECONNRESET);
  EXPECT_EQ(p.Counts().app, 0u);
}

TYPED_TEST(BackendTest, HalfClosedPeerStillGetsItsReplyThenEof) {
  auto pool = this->MakePool(256);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  LoopThread loop(this->kKind, p, this->Options(),
                  [&](Backend& be, std::span<const RxSlot> b) { TestFixture::Echo(be, b, p); });
  ASSERT_TRUE(loop.status().ok());
  const int fd = Connect(loop.port());
  const std::string msg = Pattern(10000, 5);
  ASSERT_TRUE(SendAll(fd, msg));
  ::shutdown(fd, SHUT_WR);
  EXPECT_EQ(Diff(RecvN(fd, msg.size()), msg), "");
  EXPECT_TRUE(PeerClosed(fd));
  ::close(fd);
}

TYPED_TEST(BackendTest, CloseByTheApplicationAfterItsReply) {
  auto pool = this->MakePool(256);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  const std::string reply = Pattern(30000, 9);  // several TX blocks
  LoopThread loop(this->kKind, p, this->Options(), [&](Backend& be, std::span<const RxSlot> b) {
    for (const RxSlot& s : b) {
      if (s.kind == RxKind::kData) {
        EXPECT_TRUE(be.Release(s.buffer).ok());
        EXPECT_TRUE(
            be.Send(s.conn, {reinterpret_cast<const uint8_t*>(reply.data()), reply.size()}).ok());
        EXPECT_TRUE(be.Close(s.conn).ok());
        EXPECT_EQ(be.Send(s.conn, {reinterpret_cast<const uint8_t*>("x"), 1}).code(),
                  StatusCode::kFailedPrecondition)
            << "nothing more after Close";
      }
    }
  });
  ASSERT_TRUE(loop.status().ok());
  const int fd = Connect(loop.port());
  ASSERT_TRUE(SendAll(fd, "bye"));
  EXPECT_EQ(Diff(RecvN(fd, reply.size()), reply), "");
  EXPECT_TRUE(PeerClosed(fd));
  ::close(fd);
  for (int i = 0; i < 2000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loop.connections(), 0u);
}

TYPED_TEST(BackendTest, StoredValueIsSentStraightFromItsPoolBuffers) {
  auto pool = this->MakePool(256, 512);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  // The first message on a connection is "stored" (kept, as a durable PUT would be); every later
  // message asks for it and gets it back through SendExtents, without a copy.
  std::map<ConnId, std::vector<Extent>> stored;
  std::vector<uint32_t> refs_during_send;
  LoopThread loop(this->kKind, p, this->Options(), [&](Backend& be, std::span<const RxSlot> b) {
    for (const RxSlot& s : b) {
      if (s.kind != RxKind::kData) {
        continue;
      }
      auto& ext = stored[s.conn];
      if (ext.size() < 2) {
        EXPECT_TRUE(be.Keep(s.buffer).ok());
        ext.push_back({s.buffer, s.offset, s.length});
        if (ext.size() == 2) {
          EXPECT_TRUE(be.Send(s.conn, {reinterpret_cast<const uint8_t*>("stored"), 6}).ok());
        }
        continue;
      }
      EXPECT_TRUE(be.Release(s.buffer).ok());
      EXPECT_TRUE(be.SendExtents(s.conn, ext).ok());
      refs_during_send.push_back(p.refs(ext[0].buffer));
    }
  });
  ASSERT_TRUE(loop.status().ok());
  const int fd = Connect(loop.port());
  // Two receives of 512 bytes each become the value (the second one sent after the first
  // arrived, so they land in two buffers).
  const std::string a = Pattern(512, 1), bpart = Pattern(300, 2);
  ASSERT_TRUE(SendAll(fd, a));
  std::this_thread::sleep_for(std::chrono::milliseconds(100));
  ASSERT_TRUE(SendAll(fd, bpart));
  ASSERT_EQ(RecvN(fd, 6), "stored");
  for (int i = 0; i < 5; ++i) {
    ASSERT_TRUE(SendAll(fd, "get"));
    ASSERT_EQ(Diff(RecvN(fd, a.size() + bpart.size()), a + bpart), "") << i;
  }
  ::close(fd);
  NetStats st = loop.Stop();
  EXPECT_EQ(st.tx_zero_copy_bytes, 5u * (a.size() + bpart.size()));
  ASSERT_FALSE(refs_during_send.empty());
  EXPECT_EQ(refs_during_send[0], 2u) << "the send holds its own reference while in flight";
  for (auto& [conn, ext] : stored) {
    for (const Extent& e : ext) {
      EXPECT_EQ(p.refs(e.buffer), 1u) << "the send's reference was dropped";
      EXPECT_TRUE(p.Unretain(e.buffer).ok());
    }
  }
  EXPECT_EQ(p.Counts().retained, 0u);
}

// Shared receive buffers (uring, kernel 6.12): small requests of many connections lie densely in
// few buffers; each slot's bytes stay as received while the kernel fills the rest of its buffer;
// kept slots hold their buffer, released ones do not, and every buffer is free at the end.
TYPED_TEST(BackendTest, SmallRequestsOfManyConnectionsShareBuffers) {
  if (this->kKind != BackendKind::kUring || !TypeParam::shared) {
    GTEST_SKIP() << "shared receive buffers are the uring backend's (rx_shared)";
  }
  auto pool = this->MakePool(256, 2048);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  {
    Result<std::unique_ptr<Backend>> probe = Backend::Create(this->kKind, p, 0, this->Options());
    ASSERT_TRUE(probe.ok()) << probe.status().ToString();
    if (!(*probe)->SharesBuffers()) {
      GTEST_SKIP() << "this kernel refused IOU_PBUF_RING_INC (before 6.12)";
    }
  }
  struct Got {
    ConnId conn;
    uint32_t buffer, offset;
    std::string bytes;
    bool kept;
  };
  std::vector<Got> got;
  std::map<ConnId, size_t> received;  // bytes per connection
  std::mutex mu;
  constexpr size_t kMsg = 100;
  LoopThread loop(this->kKind, p, this->Options(), [&](Backend& be, std::span<const RxSlot> b) {
    for (const RxSlot& s : b) {
      if (s.kind != RxKind::kData) {
        continue;
      }
      const auto* d = reinterpret_cast<const char*>(p.BufferData(s.buffer) + s.offset);
      std::lock_guard lock(mu);
      // Every other slot is kept (as a durable write's value), the rest released at once.
      const bool keep = (got.size() % 2) == 0;
      EXPECT_TRUE((keep ? be.Keep(s.buffer) : be.Release(s.buffer)).ok());
      got.push_back({s.conn, s.buffer, s.offset, std::string(d, s.length), keep});
      // A message is answered once whole (one may straddle two buffers: a buffer's last bytes).
      size_t& n = received[s.conn];
      const size_t before = n / kMsg;
      n += s.length;
      for (size_t m = before; m < n / kMsg; ++m) {
        EXPECT_TRUE(be.Send(s.conn, {reinterpret_cast<const uint8_t*>("+"), 1}).ok());
      }
    }
  });
  ASSERT_TRUE(loop.status().ok());
  constexpr int kConns = 16;
  constexpr int kRounds = 20;
  std::vector<int> fds;
  for (int i = 0; i < kConns; ++i) {
    fds.push_back(Connect(loop.port()));
    ASSERT_GE(fds.back(), 0);
  }
  std::vector<std::string> sent(kConns);
  for (int r = 0; r < kRounds; ++r) {
    for (int i = 0; i < kConns; ++i) {
      // One message at a time over all connections: the next is sent once this one arrived.
      const std::string m = Pattern(kMsg, r * kConns + i);
      ASSERT_TRUE(SendAll(fds[i], m));
      ASSERT_EQ(RecvN(fds[i], 1), "+");
      sent[i] += m;
    }
  }
  std::lock_guard lock(mu);
  std::map<ConnId, std::string> joined;
  std::map<uint32_t, int> per_buffer;
  size_t kept_slots = 0;
  for (const Got& g : got) {
    ++per_buffer[g.buffer];
    joined[g.conn] += g.bytes;
    if (g.kept) {
      ++kept_slots;
      // Received into again? The kernel went on filling the buffer after these bytes.
      EXPECT_EQ(std::string(reinterpret_cast<const char*>(p.BufferData(g.buffer) + g.offset),
                            g.bytes.size()),
                g.bytes);
      EXPECT_EQ(p.state(g.buffer), BufferState::kRetained);
    }
  }
  std::vector<std::string> got_streams;
  for (auto& [conn, bytes] : joined) {
    got_streams.push_back(bytes);
  }
  std::sort(got_streams.begin(), got_streams.end());
  std::sort(sent.begin(), sent.end());
  EXPECT_EQ(got_streams, sent) << "each connection's bytes, whole and in order";
  // 320 messages of 100 bytes fill 16 buffers of 2 KiB (a buffer per receive: 320).
  EXPECT_LE(per_buffer.size(), 20u);
  EXPECT_GE(got.size(), static_cast<size_t>(kConns * kRounds));
  for (int fd : fds) {
    ::close(fd);
  }
  for (int i = 0; i < 2000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  NetStats st = loop.Stop();
  EXPECT_EQ(st.kept, kept_slots);
  for (const Got& g : got) {
    if (g.kept) {
      EXPECT_TRUE(p.Unretain(g.buffer).ok());
    }
  }
  const PoolCounts c = p.Counts();
  EXPECT_EQ(c.retained, 0u) << "no reference leaked";
  EXPECT_EQ(c.app, 0u);
  EXPECT_EQ(c.free, p.buffer_count());
}

TYPED_TEST(BackendTest, MisuseIsRefused) {
  auto pool = this->MakePool(256);
  ASSERT_NE(pool, nullptr);
  Result<std::unique_ptr<Backend>> b = Backend::Create(this->kKind, *pool, 0, this->Options());
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  Backend& be = **b;
  EXPECT_EQ(be.kind(), this->kKind);
  EXPECT_EQ(be.Send(12345, {reinterpret_cast<const uint8_t*>("x"), 1}).code(),
            StatusCode::kNotFound);
  EXPECT_EQ(be.Close(999).code(), StatusCode::kNotFound);
  EXPECT_EQ(be.Release(3).code(), StatusCode::kFailedPrecondition) << "not held by the app";
  EXPECT_EQ(Backend::Create(this->kKind, *pool, 5, this->Options()).status().code(),
            StatusCode::kInvalidArgument);
  NetOptions bad = this->Options();
  bad.listen = "127.0.0.1:notaport";
  EXPECT_EQ(Backend::Create(this->kKind, *pool, 0, bad).status().code(),
            StatusCode::kInvalidArgument);
  Result<std::span<const RxSlot>> none = be.Poll(0);
  ASSERT_TRUE(none.ok());
  EXPECT_TRUE(none->empty());
}

#ifdef __SANITIZE_ADDRESS__
TYPED_TEST(BackendTest, UseAfterReleaseIsCaught) {
  auto pool = this->MakePool(256);
  ASSERT_NE(pool, nullptr);
  Result<std::unique_ptr<Backend>> b = Backend::Create(this->kKind, *pool, 0, this->Options());
  ASSERT_TRUE(b.ok());
  Backend& be = **b;
  const int fd = Connect(be.port());
  // Two buffers' worth: the first buffer is filled whole (with shared buffers, the kernel is done
  // with it only then), and it is free once its slots are released.
  const std::string msg = "poisoned after release" + std::string(2 * 2048, 'x');
  ASSERT_TRUE(SendAll(fd, msg));
  std::vector<uint32_t> held;
  size_t got = 0;
  for (int i = 0; i < 400 && got < msg.size(); ++i) {
    Result<std::span<const RxSlot>> batch = be.Poll(5);
    ASSERT_TRUE(batch.ok());
    for (const RxSlot& s : *batch) {
      if (s.kind == RxKind::kData) {
        held.push_back(s.buffer);
        got += s.length;
      }
    }
  }
  ASSERT_EQ(got, msg.size());
  const uint32_t buffer = held.front();
  volatile uint8_t* data = pool->BufferData(buffer);
  EXPECT_EQ(data[0], 'p');  // held: readable
  for (uint32_t h : held) {
    ASSERT_TRUE(be.Release(h).ok());
  }
  // Free, lent to the kernel again, or (epoll) a spare: poisoned either way.
  ASSERT_NE(pool->state(buffer), BufferState::kRetained);
  EXPECT_DEATH((void)data[0], "use-after-poison");
  ::close(fd);
}
#endif

TYPED_TEST(BackendTest, TenThousandIdleConnectionsThenTraffic) {
  constexpr int kConns = 10000;
  rlimit rl{};
  ::getrlimit(RLIMIT_NOFILE, &rl);
  if (rl.rlim_cur < kConns + 200) {
    rl.rlim_cur = std::min<rlim_t>(rl.rlim_max, kConns + 1000);
    ::setrlimit(RLIMIT_NOFILE, &rl);
  }
  ASSERT_GE(rl.rlim_cur, static_cast<rlim_t>(kConns + 200))
      << "this test needs " << kConns + 200 << " file descriptors (ulimit -n)";
  auto pool = this->MakePool(4096, 512);
  ASSERT_NE(pool, nullptr);
  Pool& p = *pool;
  LoopThread loop(this->kKind, p, this->Options(),
                  [&](Backend& be, std::span<const RxSlot> b) { TestFixture::Echo(be, b, p); });
  ASSERT_TRUE(loop.status().ok());
  // The clients live in a child process (their own file descriptor table).
  int ready[2], go[2];
  ASSERT_EQ(::pipe(ready), 0);
  ASSERT_EQ(::pipe(go), 0);
  const pid_t pid = ::fork();
  ASSERT_GE(pid, 0);
  if (pid == 0) {
    std::vector<int> fds;
    for (int i = 0; i < kConns; ++i) {
      const int fd = Connect(loop.port(), 60);
      if (fd < 0) {
        ::_exit(2);
      }
      fds.push_back(fd);
    }
    char c = 'r';
    (void)!::write(ready[1], &c, 1);
    (void)!::read(go[0], &c, 1);
    for (int i = 0; i < kConns; ++i) {
      if (!SendAll(fds[i], "ping " + std::to_string(i))) {
        ::_exit(3);
      }
    }
    for (int i = 0; i < kConns; ++i) {
      const std::string want = "ping " + std::to_string(i);
      if (RecvN(fds[i], want.size()) != want) {
        ::_exit(4);
      }
    }
    ::_exit(0);
  }
  char c = 0;
  ASSERT_EQ(::read(ready[0], &c, 1), 1) << "the child could not open its connections";
  for (int i = 0; i < 4000 && loop.connections() < kConns; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loop.connections(), static_cast<uint32_t>(kConns)) << "all idle and open";
  ASSERT_EQ(::write(go[1], &c, 1), 1);
  int status = 0;
  ASSERT_EQ(::waitpid(pid, &status, 0), pid);
  EXPECT_TRUE(WIFEXITED(status));
  EXPECT_EQ(WEXITSTATUS(status), 0) << "2: connect failed, 3: send failed, 4: wrong echo";
  for (int fd : {ready[0], ready[1], go[0], go[1]}) {
    ::close(fd);
  }
  for (int i = 0; i < 4000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_EQ(loop.connections(), 0u);
  NetStats st = loop.Stop();
  EXPECT_EQ(st.accepted, static_cast<uint64_t>(kConns));
}

}  // namespace
}  // namespace pastel

namespace pastel {
namespace {

TEST(LoopGroupTest, LoopsShareAPortAndSplitTheConnections) {
  const BackendKind kind = Backend::Probe();
  TempDir dir;
  PoolParams pp;
  pp.buffer_count = 1024;
  pp.partitions = 2;
  auto pool = Pool::Create(dir.File("pool"), 0, pp);
  ASSERT_TRUE(pool.ok());
  Pool& p = **pool;
  std::atomic<uint32_t> accepted[2] = {0, 0};
  NetOptions o;
  o.listen = "127.0.0.1:0";
  auto group = LoopGroup::Start(
      kind, p, 2, o, [&](Backend& be, uint32_t loop, const std::atomic<bool>& stop) {
        while (!stop.load()) {
          auto batch = be.Poll(5);
          ASSERT_TRUE(batch.ok());
          for (const RxSlot& s : *batch) {
            if (s.kind == RxKind::kOpen) {
              accepted[loop].fetch_add(1);
            } else if (s.kind == RxKind::kData) {
              // Buffers come from this loop's own partition.
              EXPECT_EQ(p.PartitionOf(s.buffer), loop);
              EXPECT_TRUE(be.Send(s.conn, {p.BufferData(s.buffer) + s.offset, s.length}).ok());
              EXPECT_TRUE(be.Release(s.buffer).ok());
            }
          }
        }
      });
  ASSERT_TRUE(group.ok()) << group.status().ToString();
  EXPECT_EQ((*group)->loops(), 2u);
  std::vector<int> fds;
  for (int i = 0; i < 64; ++i) {
    fds.push_back(Connect((*group)->port()));
    ASSERT_GE(fds.back(), 0);
    const std::string msg = "hello " + std::to_string(i);
    ASSERT_TRUE(SendAll(fds.back(), msg));
    ASSERT_EQ(RecvN(fds.back(), msg.size()), msg);
  }
  for (int fd : fds) {
    ::close(fd);
  }
  (*group)->Stop();
  EXPECT_EQ(accepted[0].load() + accepted[1].load(), 64u);
  EXPECT_GT(accepted[0].load(), 0u) << "SO_REUSEPORT spreads connections over both loops";
  EXPECT_GT(accepted[1].load(), 0u);
  EXPECT_EQ(LoopGroup::Start(kind, p, 3, o, nullptr).status().code(), StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace pastel

namespace pastel {
namespace {

// A server on `p` that stores three full buffers (6 KiB: the first three receives) and answers
// each later receive ("get") with them, sent by SendExtents; a client that stores them, then gets
// them `gets` times and checks every byte. Returns the loop's stats once every connection closed;
// the value's buffers are left with the server's one reference each (checked, then dropped).
NetStats ServeStoredValue(BackendKind kind, Pool& p, const NetOptions& opts, int gets) {
  std::vector<Extent> value;
  LoopThread loop(kind, p, opts, [&](Backend& be, std::span<const RxSlot> b) {
    for (const RxSlot& s : b) {
      if (s.kind != RxKind::kData) {
        continue;
      }
      if (value.size() < 3 && s.length == 2048) {
        EXPECT_TRUE(be.Keep(s.buffer).ok());
        value.push_back({s.buffer, 0, 2048});
        if (value.size() == 3) {
          EXPECT_TRUE(be.Send(s.conn, {reinterpret_cast<const uint8_t*>("ok"), 2}).ok());
        }
        continue;
      }
      EXPECT_TRUE(be.Release(s.buffer).ok());
      EXPECT_TRUE(be.SendExtents(s.conn, value).ok());
    }
  });
  EXPECT_TRUE(loop.status().ok());
  const int fd = Connect(loop.port());
  std::string stored;
  for (int i = 0; i < 3; ++i) {
    const std::string part = Pattern(2048, 10 + i);
    stored += part;
    EXPECT_TRUE(SendAll(fd, part));
    std::this_thread::sleep_for(std::chrono::milliseconds(50));  // one receive per buffer
  }
  EXPECT_EQ(RecvN(fd, 2), "ok");
  for (int i = 0; i < gets; ++i) {
    EXPECT_TRUE(SendAll(fd, "get"));
    EXPECT_EQ(Diff(RecvN(fd, stored.size()), stored), "") << i;
  }
  ::close(fd);
  for (int i = 0; i < 2000 && loop.connections() != 0; ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  NetStats st = loop.Stop();
  EXPECT_EQ(st.tx_zero_copy_bytes, static_cast<uint64_t>(gets) * stored.size());
  for (const Extent& e : value) {
    EXPECT_EQ(p.refs(e.buffer), 1u)
        << "every send's reference was dropped (after its notification)";
    EXPECT_TRUE(p.Unretain(e.buffer).ok());
  }
  return st;
}

// Sends of >= 4 KiB from pool buffers go out as SENDMSG_ZC (uring), on loopback only when asked;
// each holds its buffers until the kernel's notification.
TYPED_TEST(BackendTest, LargeStoredValueGoesOutZeroCopyAndIsHeldUntilTheKernelLetsGo) {
  auto pool = this->MakePool(256, 2048);
  ASSERT_NE(pool, nullptr);
  NetOptions opts = this->Options();
  opts.send_zc_loopback = true;
  const NetStats st = ServeStoredValue(this->kKind, *pool, opts, 20);
  EXPECT_EQ(st.tx_zc_sends, this->kKind == BackendKind::kUring ? 20u : 0u);
}

// By default a peer on loopback gets plain sends even for large stored values (the kernel would
// copy a zero-copy send's pages into the receiver anyway); the bytes still come from the pool.
TYPED_TEST(BackendTest, LoopbackPeersGetPlainSendsOfLargeStoredValues) {
  auto pool = this->MakePool(256, 2048);
  ASSERT_NE(pool, nullptr);
  const NetStats st = ServeStoredValue(this->kKind, *pool, this->Options(), 10);
  EXPECT_EQ(st.tx_zc_sends, 0u);
}

}  // namespace
}  // namespace pastel
