#pragma once
// What the loops of one pastel-kv share about its connections and commands: the registry of
// clients (CLIENT LIST, INFO, KILL across loops), and the per-loop command and error counters
// (INFO commandstats, errorstats, stats).
//
// Lifecycle: main makes one KvClients for the server (a KvProtocol made without one owns its
// own); it outlives every loop. A connection's entry is registered by its loop when the
// connection opens (KvProtocol::OnOpen, which may allocate) and freed by the same loop when it
// closes (OnClose); the entry's address is kept in the connection's KvConnState meanwhile.
//
// Threads: the entries' map and their names, kill requests and visibility are under `mu`; the
// owning loop alone writes an entry's name (under `mu`) and its atomics (relaxed: per command,
// no lock, no allocation). A CLIENT KILL of a connection of another loop marks the entry under
// `mu` and raises that loop's `kills` flag; the loop takes the request at its next turn
// (TakeKills, from Protocol::OnTurn: at most ~100 ms later) and closes the connection itself, so
// that only the owning loop ever touches its connections. Counters are written by their loop
// only (Bump: a relaxed load and store) and summed by INFO on any loop.

#include <atomic>
#include <chrono>
#include <cstdint>
#include <deque>
#include <functional>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <vector>

#include "kv_hashes.h"
#include "kv_lists.h"
#include "kv_multi.h"
#include "kv_pubsub.h"
#include "pastel/net.h"

namespace pastel::kv {

// One client (connection) as CLIENT LIST shows it.
struct ClientEntry {
  // Fixed at registration.
  uint64_t id = 0;  // CLIENT ID: unique over the server's life, from 1
  uint32_t loop = 0;
  ConnId conn = 0;
  int fd = -1;
  std::string addr;   // the peer, "ip:port"
  std::string laddr;  // the local address, "ip:port"
  int64_t created_ms = 0;
  // Written by the owning loop at each command (before it runs), read by any.
  std::atomic<int64_t> last_ms{0};
  std::atomic<uint32_t> last_slot{0};  // the last command's stat slot + 1; 0: none yet
  // Transactions (kv_multi.cc): the commands queued since MULTI (-1: not in MULTI), and whether a
  // watched key changed (CLIENT LIST's multi= and flags x, d). The dirty flag is written under
  // KvWatches' lock by any loop.
  std::atomic<int32_t> multi{-1};
  std::atomic<bool> dirty_cas{false};
  // Under KvClients::mu, written by the owning loop (CLIENT SETNAME, SETINFO, HELLO SETNAME).
  std::string name;
  std::string lib_name;
  std::string lib_ver;
  // Under KvClients::mu.
  bool kill = false;  // CLIENT KILL asked its loop to close it (TakeKills)
  // Parked in a blocking pop (written by its loop), and CLIENT UNBLOCK's request (written by any
  // loop, taken by its own at its next turn): 1 as a timeout, 2 as an error.
  std::atomic<bool> blocked{false};
  std::atomic<uint8_t> unblock{0};
  // Its subscriptions to channels and to patterns (written by its loop: CLIENT LIST's sub= and
  // psub=, and its type: pubsub while it has any).
  std::atomic<uint32_t> sub{0};
  std::atomic<uint32_t> psub{0};
  bool pubsub() const {
    return sub.load(std::memory_order_relaxed) + psub.load(std::memory_order_relaxed) > 0;
  }
  bool gone = false;  // killed or closing: no longer listed or killed again
};

// Error replies by kind (their first word), as INFO errorstats shows them.
inline constexpr std::string_view kErrorKinds[] = {
    "ERR",     "WRONGTYPE", "NOAUTH",   "WRONGPASS", "OOM",        "MISCONF",
    "NOPROTO", "EXECABORT", "NOSCRIPT", "BUSY",      "UNKILLABLE", "NOPERM"};
inline constexpr size_t kErrorKindCount = std::size(kErrorKinds);
// The kind of an error message ("ERR ..."): its index in kErrorKinds (unknown: ERR's).
size_t ErrorKind(std::string_view message);

// One command's counters in one loop (INFO commandstats).
struct CommandCounters {
  std::atomic<uint64_t> calls{0};
  std::atomic<uint64_t> timed_calls{0};  // the calls timed: one in kTimedEvery
  std::atomic<uint64_t> nanos{0};        // time in its handler, of the timed calls
  std::atomic<uint64_t> rejected{0};     // refused before running (arity, NOAUTH)
  std::atomic<uint64_t> failed{0};       // ran and answered an error
};

// The steady clock in nanoseconds: what the registry's times (in ms: NowNs() / 1000000) and the
// commands' durations are read from.
inline int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::steady_clock::now().time_since_epoch())
      .count();
}

// Of every command's calls, the one in this many (the first, and so on) is timed.
inline constexpr uint64_t kTimedEvery = 16;

// A counter that only its loop writes: no locked instruction.
inline void Bump(std::atomic<uint64_t>& c, uint64_t n = 1) {
  c.store(c.load(std::memory_order_relaxed) + n, std::memory_order_relaxed);
}

class KvClients {
 public:
  explicit KvClients(uint32_t loops);
  KvClients(const KvClients&) = delete;
  KvClients& operator=(const KvClients&) = delete;

  uint32_t loops() const { return static_cast<uint32_t>(loops_.size()); }

  // --- The registry.
  // Registers connection `conn` of `loop` (its socket `fd`, for the addresses; -1: unknown).
  ClientEntry* Register(uint32_t loop, ConnId conn, int fd, int64_t now_ms);
  // Frees e (its loop, once the connection is gone).
  void Unregister(ClientEntry* e);
  // Hides e from LIST and KILL (its connection is closing).
  void Hide(ClientEntry* e);
  // Sets e's name, lib-name or lib-ver (its loop).
  void SetField(ClientEntry* e, std::string ClientEntry::*field, std::string_view value);
  // CLIENT LIST's line of e (with "\n"); `now_ms` for age and idle. Under mu.
  static void AppendLine(const ClientEntry& e, int64_t now_ms, std::string* out);
  // The lines of every listed entry, in id order (`ids` null), or of those of `ids`, in their
  // order (CLIENT LIST ID).
  // `type`: 0 any, 1 normal, 2 pubsub (subscribed).
  std::string List(const std::vector<uint64_t>* ids, int64_t now_ms, int type = 0);
  size_t connected();

  // CLIENT KILL's filters (empty or 0: any).
  struct KillFilter {
    uint64_t id = 0;
    int type = 0;  // 0 any, 1 normal, 2 pubsub
    std::string addr;
    std::string laddr;
    bool skipme = true;
  };
  // Marks every listed entry that matches `f` killed and asks its loop to close it; `self` (the
  // caller's entry) is skipped when f.skipme, else counted and `*self_killed` set (the caller
  // closes it after its answer). Returns how many matched.
  size_t Kill(const KillFilter& f, const ClientEntry* self, bool* self_killed);
  // Whether a KILL asked `loop` to close connections (a relaxed load: once per turn), and
  // closing them (with `close`, on the loop's thread).
  bool KillsPending(uint32_t loop) const {
    return loops_[loop].kills.load(std::memory_order_relaxed);
  }
  void TakeKills(uint32_t loop, const std::function<void(ConnId)>& close);
  // CLIENT UNBLOCK: asks the loop of client `id`, when it is parked in a blocking pop, to end
  // its wait (`how`: 1 as a timeout, 2 as an error). Returns whether it was.
  bool Unblock(uint64_t id, uint8_t how);

  // --- Counters of loop `loop` (written by that loop only).
  CommandCounters& command(uint32_t loop, size_t slot) { return loops_[loop].commands[slot]; }
  std::atomic<uint64_t>& errors(uint32_t loop, size_t kind) { return loops_[loop].errors[kind]; }
  uint64_t connections_received() const {
    return connections_received_.load(std::memory_order_relaxed);
  }
  // A command's counters summed over the loops.
  struct CommandTotals {
    uint64_t calls = 0, timed_calls = 0, nanos = 0, rejected = 0, failed = 0;
  };
  CommandTotals CommandSum(size_t slot) const;
  uint64_t ErrorSum(size_t kind) const;

  // instantaneous_ops_per_sec as redis-server computes it: a sample of the commands processed
  // every 100 ms (taken by loop 0's turns: Sample), the mean rate over the last 16.
  bool SampleDue(int64_t now_ms) const { return sample_ms_ == 0 || now_ms - sample_ms_ >= 100; }
  void Sample(int64_t now_ms, uint64_t commands);
  uint64_t OpsPerSec() const;

  // The keys connections of every loop WATCH (kv_multi.h).
  KvWatches& watches() { return watches_; }
  KvHashes& hashes() { return hashes_; }
  // The directory of the lists (kv_lists.h).
  KvLists& lists() { return lists_; }
  const KvLists& lists() const { return lists_; }
  // The subscriptions (kv_pubsub.h).
  KvPubSub& pubsub() { return pubsub_; }

 private:
  KvWatches watches_;
  KvHashes hashes_;
  KvLists lists_;
  KvPubSub pubsub_;
  struct alignas(64) Loop {
    std::unique_ptr<CommandCounters[]> commands;
    std::atomic<uint64_t> errors[kErrorKindCount] = {};
    // Raised (release) by Kill after it marked an entry of this loop under mu; taken (acquire)
    // by TakeKills on the loop's thread, which then reads the marks under mu.
    std::atomic<bool> kills{false};
  };
  std::deque<Loop> loops_;
  std::mutex mu_;
  std::map<uint64_t, std::unique_ptr<ClientEntry>> entries_;  // under mu_, by id
  std::atomic<uint64_t> next_id_{1};
  std::atomic<uint64_t> connections_received_{0};
  // Sample: written by loop 0 only; ops_[] read by any (relaxed).
  static constexpr size_t kSamples = 16;
  int64_t sample_ms_ = 0;
  uint64_t sample_commands_ = 0;
  size_t sample_next_ = 0;
  std::atomic<uint64_t> ops_[kSamples] = {};
};

// The "ip:port" of a socket's peer (`peer`) or its local address; "" when unknown.
std::string SocketAddress(int fd, bool peer);

}  // namespace pastel::kv
