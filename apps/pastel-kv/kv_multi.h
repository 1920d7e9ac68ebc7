#pragma once
// pastel-kv's transactions (kv_multi.cc): a connection's queued commands (MultiState) and the
// registry of watched keys that every loop shares (KvWatches).
//
// MULTI starts queuing: the commands that follow are checked (name, arity, authentication) and
// their arguments copied into the connection's MultiState, answered +QUEUED. EXEC runs them in
// one store group (store::Batch::BeginGroup): their writes go into one batch and one group commit,
// so a crash keeps all of them or none, and the EXEC's array is answered after that commit.
//
// WATCH is exact, by registration rather than by comparing hashes or sequences: a watched key is
// registered (key -> watchers) before the connection reads it, and every write marks the watchers
// of its key: when it is queued (KvProtocol::Dispatch, for a watcher of any loop: the writer's own
// loop sees the write from then on) and again when it enters the shared index after its commit
// (Protocol::OnApplied, for watchers of the other loops, who see it only from then on). A key
// that was live when watched and is no longer live at EXEC expired or was deleted: EXEC aborts
// too (redis-server's isWatchedKeyExpired); the removal of a key that had expired before WATCH
// changes nothing (redis-server's watchedKey.expired). docs/kv.md, "Transactions", has the
// limits of the guarantee with several loops.
//
// Threads: a MultiState belongs to its connection's loop, except its `dirty` flag, which any loop
// sets under KvWatches' lock. Nobody watching costs a writer one relaxed load per write command
// (KvWatches::any).

#include <atomic>
#include <cstdint>
#include <mutex>
#include <string>
#include <string_view>
#include <unordered_map>
#include <utility>
#include <vector>

namespace pastel::kv {

struct ClientEntry;
struct CommandSpec;

// What one connection may queue between MULTI and EXEC (a transaction's queue lives in memory
// until EXEC): beyond it, the command is refused and EXEC answers EXECABORT. Every argument is
// counted (the EXEC answer of a queued MGET has one piece per key: this keeps it within what one
// connection may have queued for sending).
inline constexpr size_t kMaxQueuedArgs = 4096;
inline constexpr size_t kMaxQueuedBytes = 16u << 20;

// A connection's transaction, made at its first MULTI or WATCH and kept (its vectors' capacity
// reused by the next transaction) until the connection closes.
struct MultiState {
  struct Arg {
    uint64_t offset;  // into arena
    uint32_t length;
  };
  struct Queued {
    const CommandSpec* spec;
    uint32_t slot;  // INFO commandstats' slot (a container's subcommand: its own)
    uint32_t first_arg;
    uint32_t argc;
  };
  struct Watched {
    std::string key;
    bool live;  // live when watched: EXEC aborts when it no longer is
  };

  uint32_t loop = 0;
  ClientEntry* client = nullptr;   // CLIENT LIST's multi= and flags (null: unregistered)
  bool active = false;             // between MULTI and EXEC or DISCARD
  bool aborted = false;            // a command was refused while queued: EXEC answers EXECABORT
  std::atomic<bool> dirty{false};  // a watched key changed (set under KvWatches' lock)
  std::string arena;               // the queued commands' arguments, back to back
  std::vector<Arg> args;
  std::vector<Queued> queued;
  std::vector<Watched> watched;
  // EXEC: the slot of each command run and whether it failed, counted once the group stays.
  std::vector<std::pair<uint32_t, bool>> ran;
};

// The watched keys of every loop's connections: key -> the MultiStates watching it.
class KvWatches {
 public:
  // Whether anyone watches anything. Its partner is the seq_cst increment in Watch: a writer that
  // reads 0 here after its write entered the index (OnApplied) is ordered before the watcher's
  // registration, so the watcher's reads see the write.
  bool any() const { return watchers_.load(std::memory_order_seq_cst) != 0; }
  // EXEC's lock: held while it checks its watches, runs and marks the watchers of what it wrote,
  // so that two EXECs of different loops never both pass their checks on a key both write.
  std::mutex& mu() { return mu_; }

  // Registers m as a watcher of `key` (under mu; a key it watches already is not added twice).
  // Returns false when m watched it already.
  bool WatchLocked(MultiState* m, std::string_view key);
  // Forgets every key m watches (and clears its dirty flag and CLIENT LIST's 'd').
  void UnwatchAll(MultiState* m);
  void UnwatchAllLocked(MultiState* m);
  // A write of `key` by loop `loop`: `applied` false when it was queued (every watcher is marked),
  // true when it entered the shared index (the watchers of the other loops are).
  void Touch(std::string_view key, uint32_t loop, bool applied);
  void TouchLocked(std::string_view key, uint32_t loop, bool applied);

 private:
  std::mutex mu_;
  std::atomic<uint64_t> watchers_{0};  // (connection, key) pairs registered
  std::unordered_map<std::string, std::vector<MultiState*>> keys_;  // under mu_
};

}  // namespace pastel::kv
