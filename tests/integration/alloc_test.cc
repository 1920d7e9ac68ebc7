// The data path never allocates per request: pastel-kv's and pastel-httpd's loops, in process,
// over a real backend on loopback, serve rounds of pipelined writes and reads (and, with a small
// checkpoint interval, checkpoints into the index file) while every operator new made on the
// loop's thread is counted. After a warm-up (connections, vectors and pools at their working
// size), the measured rounds must count none. The same at a full pool, where writes are refused.
//
// Counted: operator new in every form, on the loop thread only (this binary replaces the global
// operators; the test's own thread builds its requests before it measures). Not counted: malloc
// called directly (the project does not).

#include <gtest/gtest.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <memory>
#include <new>
#include <ostream>
#include <string>
#include <string_view>
#include <vector>

#include "apps/pastel-httpd/http_protocol.h"
#include "apps/pastel-kv/kv_protocol.h"
#include "pastel/net.h"
#include "pastel/pm.h"
#include "pastel/pool.h"
#include "pastel/server.h"
#include "pastel/store.h"
#include "src/net/tests/net_test_util.h"
#include "tests/support/resp_command.h"
#include "tests/support/temp_dir.h"

namespace {

std::atomic<uint64_t> g_allocations{0};
thread_local bool t_counted = false;  // set on the loop's thread

void* Allocate(std::size_t n) {
  if (t_counted) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  return std::malloc(n == 0 ? 1 : n);
}

void* AllocateAligned(std::size_t n, std::align_val_t al) {
  if (t_counted) {
    g_allocations.fetch_add(1, std::memory_order_relaxed);
  }
  const std::size_t a = static_cast<std::size_t>(al);
  return std::aligned_alloc(a, (n + a - 1) / a * a + (n == 0 ? a : 0));
}

// Not inlined into the replaced operator delete: GCC would otherwise see free() on what operator
// new returned and warn of a mismatch (it is this file's own pair).
[[gnu::noinline]] void Deallocate(void* p) noexcept {
  std::free(p);
}

}  // namespace

// The replaceable global allocation functions (all of them, so that no form reaches another
// allocator and its delete).
void* operator new(std::size_t n) {
  if (void* p = Allocate(n)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n) {
  return ::operator new(n);
}
void* operator new(std::size_t n, const std::nothrow_t&) noexcept {
  return Allocate(n);
}
void* operator new[](std::size_t n, const std::nothrow_t&) noexcept {
  return Allocate(n);
}
void* operator new(std::size_t n, std::align_val_t al) {
  if (void* p = AllocateAligned(n, al)) {
    return p;
  }
  throw std::bad_alloc();
}
void* operator new[](std::size_t n, std::align_val_t al) {
  return ::operator new(n, al);
}
void* operator new(std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return AllocateAligned(n, al);
}
void* operator new[](std::size_t n, std::align_val_t al, const std::nothrow_t&) noexcept {
  return AllocateAligned(n, al);
}
void operator delete(void* p) noexcept {
  Deallocate(p);
}
void operator delete[](void* p) noexcept {
  Deallocate(p);
}
void operator delete(void* p, std::size_t) noexcept {
  Deallocate(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  Deallocate(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  Deallocate(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  Deallocate(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  Deallocate(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  Deallocate(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  Deallocate(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  Deallocate(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  Deallocate(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  Deallocate(p);
}

namespace pastel {
namespace {

using store::PersistMode;

constexpr int kKeys = 48;  // per round: a write and a read of each, and deletes
constexpr int kDeleteEvery = 4;
constexpr int kAnswers = 2 * kKeys + (kKeys + kDeleteEvery - 1) / kDeleteEvery;  // per round
constexpr size_t kValueBytes = 100;
// pastel-kv's rounds add an HSET (a field written again: kept in place, its record logged) and an
// HGET of kKeys fields over kHashes hashes, and an LSET, an LINDEX and an LRANGE of each of kLists
// lists of two items (pushed before the rounds). (A queue's pushes and pops make a new store key
// per item: the index's list of keys changed since its last checkpoint grows with them, an
// amortized allocation of the store's between checkpoints, not of the commands'.)
constexpr int kHashes = 8;
constexpr int kLists = 4;
// And of each of kSets sets and kSets sorted sets: a member added (SADD, ZADD) and another
// removed (SREM, ZREM) of kMembers that come back round after round (the directory of fields and
// the sorted sets' order reuse their memory), a membership test and a count of each; and of the
// sorted set (two members from the first round on), a ZRANGE WITHSCORES, then a ZADD of a member
// above them that a ZPOPMAX takes again (merged with that ZADD, not applied yet). Then, of each set
// (three members from the first round on: two that come round, and one of its own), the reads of
// whole sets, with this round's writes not applied yet laid over them: SMEMBERS, SINTER, SUNION,
// SDIFF and SINTERCARD with the next set, SRANDMEMBER with a count, SSCAN; and an SADD of the
// two members of three that a set of its own lacks, which an SPOP with a count of two takes again
// (the set is never emptied: its members' keys are the same round after round, no new store key).
constexpr int kSets = 4;
constexpr int kMembers = 4;
constexpr int kSetAnswers = 4 + 4 + 5 + 1 + 3 +          // ZRANGE: *4 and four; ZPOPMAX: *2 and two
                            4 + 3 + 5 + 2 + 1 + 3 + 6 +  // SMEMBERS ... SSCAN (arrays and items)
                            1 + 3;                       // SADD, SPOP 2
// And of one hash (kKeys / kHashes fields): HGETALL, HKEYS, HSCAN and HRANDFIELD with a count;
// then a DBSIZE, a KEYS, two SCANs and a RANDOMKEY.
constexpr int kHashFields = kKeys / kHashes;
constexpr int kHashReadAnswers =
    (1 + 2 * kHashFields) + (1 + kHashFields) + (3 + 2 * kHashFields) + (1 + 2);
// The keys left after a round's deletes, which KEYS and the first SCAN list.
constexpr int kKeysListed = kKeys - (kKeys + kDeleteEvery - 1) / kDeleteEvery;
constexpr int kListingAnswers = (1 + kKeysListed) + (3 + kKeysListed) + (3 + kSets) + 1;
constexpr int kKvAnswers = kAnswers + 2 * kKeys + 3 * kLists + kSetAnswers * kSets +
                           kHashReadAnswers + 1 /* DBSIZE */ + kListingAnswers;
constexpr int kWarmupRounds = 60;
constexpr int kMeasuredRounds = 150;

enum class Protocol { kKv, kHttp };

struct Case {
  Protocol protocol;
  BackendKind backend;
  PersistMode persist;
  uint64_t checkpoint_records;  // small: checkpoints run between the rounds
};

std::string CaseName(const ::testing::TestParamInfo<Case>& info) {
  const Case& c = info.param;
  std::string n = c.protocol == Protocol::kKv ? "Kv" : "Http";
  n += c.backend == BackendKind::kUring ? "Uring" : "Epoll";
  n += c.persist == PersistMode::kInPlace ? "InPlace"
       : c.persist == PersistMode::kCopy  ? "Copy"
                                          : "None";
  if (c.checkpoint_records < 1000) {
    n += "Checkpoints";
  }
  return n;
}

void PrintTo(const Case& c, std::ostream* os) {
  *os << CaseName(::testing::TestParamInfo<Case>(c, 0));
}

// Keys longer than a std::string keeps inline, so a key copied per request would show.
std::string Key(int i) {
  char k[64];
  (void)std::snprintf(k, sizeof k, "alloc-test-key-%06d", i);
  return k;
}

std::string ListKey(int i) {
  return "alloc-test-list-" + std::to_string(i);
}

std::string SetKey(int i) {
  return "alloc-test-set-" + std::to_string(i);
}

// A member of set i alone.
std::string OwnMember(int i) {
  return "alloc-test-own-member-" + std::to_string(i);
}

// A set that an SPOP with a count takes down to one member of three in every round.
std::string PoppedKey(int i) {
  return "alloc-test-popped-" + std::to_string(i);
}

// One round: a write of every key (its value tagged with the round, so each write replaces the
// value, or creates it again after the last round's delete), a read of every key, then deletes of
// every kDeleteEvery-th key, pipelined.
std::string KvRound(int round) {
  std::string r;
  for (int i = 0; i < kKeys; ++i) {
    const std::string v(kValueBytes, static_cast<char>('a' + (round + i) % 26));
    r += testing::RespCommand({"SET", Key(i), v});
  }
  for (int i = 0; i < kKeys; ++i) {
    r += testing::RespCommand({"GET", Key(i)});
  }
  for (int i = 0; i < kKeys; i += kDeleteEvery) {
    r += testing::RespCommand({"DEL", Key(i)});
  }
  for (int i = 0; i < kKeys; ++i) {
    const std::string h = "alloc-test-hash-" + std::to_string(i % kHashes);
    const std::string v(kValueBytes, static_cast<char>('A' + (round + i) % 26));
    r += testing::RespCommand({"HSET", h, Key(i), v});
    r += testing::RespCommand({"HGET", h, Key(i)});
  }
  for (int i = 0; i < kLists; ++i) {
    const std::string v(kValueBytes, static_cast<char>('0' + (round + i) % 10));
    r += testing::RespCommand({"LSET", ListKey(i), std::to_string(round % 2), v});
    r += testing::RespCommand({"LINDEX", ListKey(i), "-1"});
    r += testing::RespCommand({"LRANGE", ListKey(i), "0", "-1"});
  }
  for (int i = 0; i < kSets; ++i) {
    const std::string set = SetKey(i);
    const std::string zset = "alloc-test-zset-" + std::to_string(i);
    const std::string in = Key(round % kMembers), out = Key((round + kMembers / 2) % kMembers);
    r += testing::RespCommand({"SADD", set, in});
    r += testing::RespCommand({"SREM", set, out});
    r += testing::RespCommand({"SISMEMBER", set, in});
    r += testing::RespCommand({"SCARD", set});
    r += testing::RespCommand({"ZADD", zset, std::to_string(round % 7), in});
    r += testing::RespCommand({"ZREM", zset, out});
    r += testing::RespCommand({"ZSCORE", zset, in});
    r += testing::RespCommand({"ZCARD", zset});
    r += testing::RespCommand({"ZRANGE", zset, "0", "-1", "WITHSCORES"});
    r += testing::RespCommand({"ZADD", zset, "100", Key(kMembers)});
    r += testing::RespCommand({"ZPOPMAX", zset});
  }
  for (int i = 0; i < kSets; ++i) {  // (every set written in this round already: equal counts)
    const std::string set = SetKey(i), next = SetKey((i + 1) % kSets);
    r += testing::RespCommand({"SMEMBERS", set});
    r += testing::RespCommand({"SINTER", set, next});
    r += testing::RespCommand({"SUNION", set, next});
    r += testing::RespCommand({"SDIFF", set, next});
    r += testing::RespCommand({"SINTERCARD", "2", set, next});
    r += testing::RespCommand({"SRANDMEMBER", set, "2"});
    r += testing::RespCommand({"SSCAN", set, "0"});
    r += testing::RespCommand({"SADD", PoppedKey(i), Key(0), Key(1), Key(2)});
    r += testing::RespCommand({"SPOP", PoppedKey(i), "2"});
  }
  const std::string hash = "alloc-test-hash-0";
  r += testing::RespCommand({"HGETALL", hash});
  r += testing::RespCommand({"HKEYS", hash});
  r += testing::RespCommand({"HSCAN", hash, "0"});
  r += testing::RespCommand({"HRANDFIELD", hash, "2"});
  // A DBSIZE after the round's writes, not applied yet: counted from them, not by a list of keys.
  r += testing::RespCommand({"DBSIZE"});
  // Listings of keys with those writes laid over the durable ones (the round's deletes among
  // them): KEYS, SCAN with MATCH, SCAN with TYPE.
  r += testing::RespCommand({"KEYS", "alloc-test-key-*"});
  r += testing::RespCommand({"SCAN", "0", "MATCH", "alloc-test-key-*", "COUNT", "100"});
  r += testing::RespCommand({"SCAN", "0", "MATCH", "alloc-test-set-*", "TYPE", "set"});
  r += testing::RespCommand({"RANDOMKEY"});
  return r;
}

std::string HttpRound(int round) {
  std::string r;
  for (int i = 0; i < kKeys; ++i) {
    std::string v(kValueBytes, static_cast<char>('a' + (round + i) % 26));
    r += "POST /" + Key(i) + " HTTP/1.1\r\nHost: t\r\nContent-Length: " + std::to_string(v.size()) +
         "\r\n\r\n" + v;
  }
  for (int i = 0; i < kKeys; ++i) {
    r += "GET /" + Key(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  }
  for (int i = 0; i < kKeys; i += kDeleteEvery) {
    r += "DELETE /" + Key(i) + " HTTP/1.1\r\nHost: t\r\n\r\n";
  }
  return r;
}

// Counts the complete answers at the front of buf[0, len): RESP simple strings and bulk strings,
// or HTTP responses (head, then Content-Length bytes). *used: the bytes they take.
int CompleteAnswers(Protocol p, const char* buf, size_t len, size_t* used) {
  const std::string_view s(buf, len);
  size_t pos = 0;
  int n = 0;
  while (pos < s.size()) {
    if (p == Protocol::kKv) {
      const size_t eol = s.find("\r\n", pos);
      if (eol == std::string_view::npos) {
        break;
      }
      size_t end = eol + 2;
      if (s[pos] == '$') {
        const int64_t bulk = std::strtoll(buf + pos + 1, nullptr, 10);
        end += bulk < 0 ? 0 : static_cast<size_t>(bulk) + 2;
      }
      if (end > s.size()) {
        break;
      }
      pos = end;
    } else {
      const size_t head_end = s.find("\r\n\r\n", pos);
      if (head_end == std::string_view::npos) {
        break;
      }
      const size_t cl = s.find("Content-Length: ", pos);
      size_t body = 0;
      if (cl != std::string_view::npos && cl < head_end) {
        body = std::strtoul(buf + cl + 16, nullptr, 10);
      }
      if (head_end + 4 + body > s.size()) {
        break;
      }
      pos = head_end + 4 + body;
    }
    ++n;
  }
  *used = pos;
  return n;
}

// Sends `req` and reads until `answers` answers came (into a fixed buffer). Without `errors` the
// answers must not be errors: false on an error answer; with it, *errors counts them. False on a
// closed connection or the socket's receive timeout. EINTR is retried (the uring server runs in
// this process: docs/net.md).
bool Exchange(int fd, Protocol p, const std::string& req, int answers, std::string* error,
              int* errors = nullptr) {
  if (!testing::SendAll(fd, req)) {
    *error = "send failed";
    return false;
  }
  static char buf[1 << 20];
  size_t have = 0;
  int got = 0;
  while (got < answers) {
    const ssize_t r = ::recv(fd, buf + have, sizeof buf - have, 0);
    if (r < 0 && errno == EINTR) {
      continue;
    }
    if (r <= 0) {
      *error = r == 0 ? "connection closed" : "no answer within the receive timeout";
      return false;
    }
    have += static_cast<size_t>(r);
    size_t used = 0;
    const int n = CompleteAnswers(p, buf, have, &used);
    for (size_t i = 0; i < used; ++i) {
      // A RESP error answer starts a line with '-'; an HTTP error is a 4xx or 5xx status.
      const bool line_start = i == 0 || buf[i - 1] == '\n';
      if (line_start && ((p == Protocol::kKv && buf[i] == '-') ||
                         (p == Protocol::kHttp && std::strncmp(buf + i, "HTTP/1.1 4", 10) == 0) ||
                         (p == Protocol::kHttp && std::strncmp(buf + i, "HTTP/1.1 5", 10) == 0))) {
        error->assign(buf + i, std::min<size_t>(200, used - i));
        if (errors != nullptr) {
          ++*errors;  // (*error: the last one)
          continue;
        }
        return false;
      }
    }
    got += n;
    std::memmove(buf, buf + used, have - used);
    have -= used;
  }
  return true;
}

// A store and one loop of `c`'s protocol in this process, its thread's allocations counted, and a
// client connected to it.
struct InProcessServer {
  testing::TempDir dir;
  std::unique_ptr<store::Store> st;
  std::unique_ptr<server::Server> shared;
  std::unique_ptr<LoopGroup> group;
  std::atomic<int> failed{0};
  int fd = -1;

  ::testing::AssertionResult Start(const Case& c, uint64_t pool_size) {
    if (!dir.ok()) {
      return ::testing::AssertionFailure() << "no temporary directory";
    }
    store::StoreFiles files;
    files.pool_path = dir.File("pool");
    files.pool_size = pool_size;
    files.log_size =
        8ull << 20;  // (room for every round: the cases without small checkpoints make none)
    files.checkpoints = c.persist != PersistMode::kNone;
    Result<std::unique_ptr<store::Store>> opened = store::Store::Open(files);
    if (!opened.ok()) {
      return ::testing::AssertionFailure() << opened.status().ToString();
    }
    st = std::move(opened).value();
    shared = std::make_unique<server::Server>(*st, 1);
    store::StoreOptions so;
    so.persist = c.persist;
    so.checkpoint_records = c.checkpoint_records;
    so.idle_checkpoint_ms = 0;  // a stall of this machine must not start one mid-round
    so.reserve_buffers = 64;
    NetOptions no;
    no.listen = "127.0.0.1:0";
    Result<std::unique_ptr<LoopGroup>> g = LoopGroup::Start(
        c.backend, st->pool(), 1, no,
        [this, c, so](Backend& be, uint32_t i, const std::atomic<bool>& stop) {
          t_counted = true;
          std::unique_ptr<store::Protocol> protocol;
          if (c.protocol == Protocol::kKv) {
            protocol = std::make_unique<kv::KvProtocol>(*shared, resp::Limits{});
          } else {
            protocol = std::make_unique<httpd::HttpProtocol>(*shared, httpd::DefaultLimits());
          }
          const Status run =
              store::RunLoop(*st, i, be, *protocol, so, shared->counters[i], "test", stop);
          t_counted = false;
          if (!run.ok()) {
            failed.store(1);
          }
        });
    if (!g.ok()) {
      return ::testing::AssertionFailure() << g.status().ToString();
    }
    group = std::move(g).value();
    fd = testing::Connect(group->port());
    if (fd < 0) {
      return ::testing::AssertionFailure() << "connect";
    }
    return ::testing::AssertionSuccess();
  }
  // Closes the client and stops the loop: whether it ran without an error.
  bool Stop() {
    if (fd >= 0) {
      ::close(fd);
      fd = -1;
    }
    if (group != nullptr) {
      group->Stop();
    }
    return failed.load() == 0;
  }
  ~InProcessServer() { Stop(); }
};

class AllocTest : public ::testing::TestWithParam<Case> {};

TEST_P(AllocTest, SteadyStateRequestsAllocateNothing) {
  const Case& c = GetParam();
  if (c.backend == BackendKind::kUring && Backend::Probe() != BackendKind::kUring) {
    GTEST_SKIP() << "io_uring backend unsupported by this kernel";
  }
  InProcessServer server;
  ASSERT_TRUE(server.Start(c, 32ull << 20));
  const int fd = server.fd;
  server::Server& shared = *server.shared;

  // Every round's bytes are built before anything is measured.
  std::vector<std::string> rounds;
  rounds.reserve(kWarmupRounds + kMeasuredRounds + 1);
  for (int r = 0; r < kWarmupRounds + kMeasuredRounds + 1; ++r) {
    rounds.push_back(c.protocol == Protocol::kKv ? KvRound(r) : HttpRound(r));
  }
  std::string error;
  error.reserve(256);
  const int answers = c.protocol == Protocol::kKv ? kKvAnswers : kAnswers;
  if (c.protocol == Protocol::kKv) {
    std::string base;  // each list's two items, set again through the rounds
    for (int i = 0; i < kLists; ++i) {
      base += testing::RespCommand({"RPUSH", ListKey(i), "first", "second"});
    }
    for (int i = 0; i < kSets; ++i) {  // (two members from the first round on: see KvRound)
      base += testing::RespCommand(
          {"ZADD", "alloc-test-zset-" + std::to_string(i), "0", Key(kMembers - 1)});
      base += testing::RespCommand({"SADD", SetKey(i), Key(kMembers - 1), OwnMember(i)});
      base += testing::RespCommand({"SADD", PoppedKey(i), Key(0)});
    }
    ASSERT_TRUE(Exchange(fd, c.protocol, base, kLists + 3 * kSets, &error))
        << "the lists, sets and sorted sets: " << error;
  }
  for (int r = 0; r < kWarmupRounds; ++r) {
    ASSERT_TRUE(Exchange(fd, c.protocol, rounds[r], answers, &error))
        << "warm-up round " << r << ": " << error;
  }
  const uint64_t before = g_allocations.load();
  int r = kWarmupRounds;
  bool ok = true;
  for (; ok && r < kWarmupRounds + kMeasuredRounds; ++r) {
    ok = Exchange(fd, c.protocol, rounds[r], answers, &error);
  }
  // One more round: its answers come after the loop finished applying the last measured one.
  ok = ok && Exchange(fd, c.protocol, rounds[r], answers, &error);
  const uint64_t allocations = g_allocations.load() - before;
  ASSERT_TRUE(ok) << "round " << r << ": " << error;
  const uint64_t requests = static_cast<uint64_t>(answers) * kMeasuredRounds;
  EXPECT_EQ(allocations, 0u) << allocations << " allocation(s) on the loop thread in " << requests
                             << " requests (" << static_cast<double>(allocations) / requests
                             << " per request)";
  const uint64_t checkpoints_in_rounds = shared.counters[0].checkpoints.load();
  EXPECT_TRUE(server.Stop());
  if (c.checkpoint_records < 1000) {
    // The warm-up's writes make at most 6 checkpoints (commits of the index file): the measured
    // rounds made some (each writes the keys' entries to the tree and takes them out of the map).
    const uint64_t writes = uint64_t{kKeys} * (kWarmupRounds + kMeasuredRounds + 1);
    EXPECT_GE(shared.counters[0].checkpoints.load(), writes / c.checkpoint_records / 2)
        << "too few checkpoints ran";
  } else {
    // (A store's first checkpoint sizes its working vectors: not a request's allocation, and not
    // in these cases' rounds; the clean stop makes one.)
    EXPECT_EQ(checkpoints_in_rounds, 0u) << "a checkpoint ran in the rounds";
  }
}

// At a full pool every write is refused (-OOM, 507) while reads and deletes go on: the refusals
// allocate nothing either (a client writing into a full store must not make the server allocate
// per request). The pool is filled with values of 1,500 bytes until writes are refused; then each
// round writes new keys (all refused), reads stored ones and deletes absent ones.
TEST_P(AllocTest, AtAFullPoolRefusalsAllocateNothing) {
  const Case& c = GetParam();
  if (c.backend == BackendKind::kUring && Backend::Probe() != BackendKind::kUring) {
    GTEST_SKIP() << "io_uring backend unsupported by this kernel";
  }
  InProcessServer server;
  ASSERT_TRUE(server.Start(c, 8ull << 20));
  const bool kv = c.protocol == Protocol::kKv;
  const auto write = [&](const std::string& key, int n) {
    const std::string v(1500, static_cast<char>('a' + n % 26));
    return kv ? testing::RespCommand({"SET", key, v})
              : "POST /" + key + " HTTP/1.1\r\nHost: t\r\nContent-Length: 1500\r\n\r\n" + v;
  };
  const auto read = [&](const std::string& key) {
    return kv ? testing::RespCommand({"GET", key}) : "GET /" + key + " HTTP/1.1\r\nHost: t\r\n\r\n";
  };
  const auto del = [&](const std::string& key) { return testing::RespCommand({"DEL", key}); };
  std::string error;
  error.reserve(256);
  int stored = 0;
  for (int refused = 0; refused == 0;) {
    std::string req;
    for (int i = 0; i < 32; ++i) {
      req += write("fill" + std::to_string(stored + i), i);
    }
    ASSERT_TRUE(Exchange(server.fd, c.protocol, req, 32, &error, &refused)) << error;
    stored += refused == 0 ? 32 : 0;  // (the rounds read only keys of batches stored whole)
    ASSERT_LT(stored, 8192) << "an 8 MiB pool holds no 8,192 values of 1,500 bytes";
  }
  // Rounds of 32 writes of new keys, 32 reads and (RESP) 16 deletes of absent keys: the reads'
  // receive buffers, given back, let a write fit now and then, so writes are refused and taken
  // by turns at the pool's edge. (HTTP answers a DELETE of an absent key 404: none are sent, so
  // that every error answer counted is a refusal.)
  constexpr int kRounds = 40, kWarmup = 10;
  std::vector<std::string> rounds;
  for (int r = 0; r < kRounds + 1; ++r) {
    std::string req;
    for (int i = 0; i < 16; ++i) {
      req += write("new" + std::to_string(r * 32 + 2 * i), i);
      req += write("new" + std::to_string(r * 32 + 2 * i + 1), i);
      req += read("fill" + std::to_string((r * 16 + i) % (stored / 2)));
      req += read("fill" + std::to_string(stored - 1 - (r * 16 + i) % (stored / 2)));
      req += kv ? del("absent" + std::to_string(r * 16 + i)) : "";
    }
    rounds.push_back(std::move(req));
  }
  const int answers = kv ? 80 : 64;
  int refused = 0;
  for (int r = 0; r < kWarmup; ++r) {
    ASSERT_TRUE(Exchange(server.fd, c.protocol, rounds[r], answers, &error, &refused)) << error;
  }
  refused = 0;
  const uint64_t before = g_allocations.load();
  bool ok = true;
  int r = kWarmup;
  for (; ok && r < kRounds; ++r) {
    ok = Exchange(server.fd, c.protocol, rounds[r], answers, &error, &refused);
  }
  ok = ok && Exchange(server.fd, c.protocol, rounds[r], answers, &error, &refused);
  const uint64_t allocations = g_allocations.load() - before;
  ASSERT_TRUE(ok) << "round " << r << ": " << error;
  EXPECT_GT(refused, 0) << "no write refused: the pool was not full";
  const char* const want = kv ? "-OOM" : "HTTP/1.1 507";
  EXPECT_TRUE(refused == 0 || error.starts_with(want))
      << "an error answer that is no refusal: " << error;
  EXPECT_EQ(allocations, 0u) << allocations << " allocation(s) on the loop thread in "
                             << answers * (kRounds - kWarmup + 1) << " requests at a full pool ("
                             << refused << " writes refused)";
  EXPECT_TRUE(server.Stop());
}

// A pool with no free buffer refuses an allocation (kNoSpace) without allocating memory: the
// backends meet that refusal at every receive they cannot arm while the pool is empty (the
// io_uring backend's ring refill at each Poll, the epoll backend's buffer per receive).
TEST(PoolRefusalTest, AnEmptyPoolRefusesWithoutAllocating) {
  constexpr uint32_t kBuffers = 8;
  std::vector<uint8_t> mem(pastel::Pool::RegionSize(512, kBuffers) + 4096);
  uint8_t* region = reinterpret_cast<uint8_t*>((reinterpret_cast<uintptr_t>(mem.data()) + 4095) &
                                               ~uintptr_t{4095});
  const std::unique_ptr<pastel::PersistOps> ops = pastel::MakeFenceOnlyOps();
  pastel::PoolParams pp;
  pp.buffer_size = 512;
  pp.buffer_count = kBuffers;
  pp.partitions = 2;
  const uint64_t len = pastel::Pool::RegionSize(512, kBuffers);
  ASSERT_TRUE(pastel::Pool::Format(region, len, pp, 1, *ops).ok());
  pastel::Result<std::unique_ptr<pastel::Pool>> pool = pastel::Pool::Attach(region, len, *ops);
  ASSERT_TRUE(pool.ok()) << pool.status().ToString();
  ASSERT_TRUE((*pool)->FinishRecovery().ok());
  // Partition 0 takes its own buffers, then borrows what partition 1 has above its floor; then
  // partition 1 takes the rest.
  for (uint32_t p : {0u, 1u}) {
    while ((*pool)->Allocate(p).ok()) {
    }
  }
  ASSERT_EQ((*pool)->FreeFor(0), 0u);
  ASSERT_EQ((*pool)->FreeFor(1), 0u);
  uint64_t refused = 0;
  t_counted = true;
  const uint64_t before = g_allocations.load();
  for (int i = 0; i < 1000; ++i) {
    for (uint32_t p : {0u, 1u}) {
      pastel::Result<uint32_t> b = (*pool)->Allocate(
          p, i % 2 == 0 ? pastel::BufferState::kApp : pastel::BufferState::kKernel);
      refused += !b.ok() && b.status().code() == pastel::StatusCode::kNoSpace ? 1 : 0;
    }
  }
  const uint64_t allocations = g_allocations.load() - before;
  t_counted = false;
  EXPECT_EQ(refused, 2000u);
  EXPECT_EQ(allocations, 0u) << allocations << " allocation(s) in 2,000 refused allocations";
}

INSTANTIATE_TEST_SUITE_P(
    Loops, AllocTest,
    ::testing::Values(Case{Protocol::kKv, BackendKind::kEpoll, PersistMode::kInPlace, 65536},
                      Case{Protocol::kKv, BackendKind::kUring, PersistMode::kInPlace, 65536},
                      Case{Protocol::kKv, BackendKind::kUring, PersistMode::kInPlace, 500},
                      Case{Protocol::kKv, BackendKind::kEpoll, PersistMode::kCopy, 65536},
                      Case{Protocol::kKv, BackendKind::kEpoll, PersistMode::kNone, 65536},
                      Case{Protocol::kHttp, BackendKind::kEpoll, PersistMode::kInPlace, 65536},
                      Case{Protocol::kHttp, BackendKind::kUring, PersistMode::kInPlace, 65536},
                      Case{Protocol::kHttp, BackendKind::kUring, PersistMode::kInPlace, 500}),
    CaseName);

}  // namespace
}  // namespace pastel
