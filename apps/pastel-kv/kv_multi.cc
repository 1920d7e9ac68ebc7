// Transactions: MULTI EXEC DISCARD WATCH UNWATCH (kv_multi.h), and the registry of watched keys.

#include "kv_multi.h"

#include <algorithm>
#include <mutex>

#include "commands.h"
#include "kv_clients.h"
#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

// --- The registry of watched keys (KvWatches).

bool KvWatches::WatchLocked(MultiState* m, std::string_view key) {
  std::vector<MultiState*>& w = keys_[std::string(key)];
  if (std::find(w.begin(), w.end(), m) != w.end()) {
    return false;
  }
  w.push_back(m);
  // seq_cst: the partner of any()'s load (kv_multi.h). The watcher reads the key only after this.
  watchers_.fetch_add(1, std::memory_order_seq_cst);
  return true;
}

void KvWatches::UnwatchAll(MultiState* m) {
  if (m->watched.empty()) {
    m->dirty.store(false, std::memory_order_relaxed);
    return;
  }
  std::lock_guard lock(mu_);
  UnwatchAllLocked(m);
}

void KvWatches::UnwatchAllLocked(MultiState* m) {
  for (const MultiState::Watched& k : m->watched) {
    auto it = keys_.find(k.key);
    if (it == keys_.end()) {
      continue;
    }
    std::vector<MultiState*>& w = it->second;
    w.erase(std::remove(w.begin(), w.end(), m), w.end());
    if (w.empty()) {
      keys_.erase(it);
    }
    watchers_.fetch_sub(1, std::memory_order_relaxed);
  }
  m->watched.clear();
  m->dirty.store(false, std::memory_order_relaxed);
  if (m->client != nullptr) {
    m->client->dirty_cas.store(false, std::memory_order_relaxed);
  }
}

void KvWatches::Touch(std::string_view key, uint32_t loop, bool applied) {
  std::lock_guard lock(mu_);
  TouchLocked(key, loop, applied);
}

void KvWatches::TouchLocked(std::string_view key, uint32_t loop, bool applied) {
  // (A lookup by a view would need a transparent hash; a key is at most 1 KiB and this runs only
  // while someone watches.)
  auto it = keys_.find(std::string(key));
  if (it == keys_.end()) {
    return;
  }
  for (MultiState* m : it->second) {
    // Queued: every loop's watchers (the writer's loop sees it now, the others must not miss it);
    // applied: only the other loops' (the writer's own loop was marked when it was queued, and
    // a watch it registered since saw the write).
    if (applied && m->loop == loop) {
      continue;
    }
    m->dirty.store(true, std::memory_order_relaxed);
    if (m->client != nullptr) {
      m->client->dirty_cas.store(true, std::memory_order_relaxed);
    }
  }
}

// --- The protocol's side.

MultiState& KvProtocol::MultiOf() {
  KvConnState& st = ConnState();
  if (st.multi == nullptr) {
    st.multi = new MultiState();  // once per connection that uses transactions (freed: OnClose)
    st.multi->loop = loop_;
    st.multi->client = st.client;
  }
  return *st.multi;
}

bool KvProtocol::RunsSubscribed(const CommandSpec& cmd) {
  return cmd.handler == &KvProtocol::Subscribe || cmd.handler == &KvProtocol::PSubscribe ||
         cmd.handler == &KvProtocol::Unsubscribe || cmd.handler == &KvProtocol::PUnsubscribe ||
         cmd.handler == &KvProtocol::Ping || cmd.handler == &KvProtocol::Quit ||
         cmd.handler == &KvProtocol::Reset;
}

bool KvProtocol::RunsInMulti(const CommandSpec& cmd) {
  return cmd.handler == &KvProtocol::Exec || cmd.handler == &KvProtocol::Discard ||
         cmd.handler == &KvProtocol::Multi || cmd.handler == &KvProtocol::Watch ||
         cmd.handler == &KvProtocol::Quit || cmd.handler == &KvProtocol::Reset;
}

bool KvProtocol::WantsApplied() {
  return clients_.watches().any() || clients_.hashes().active() || clients_.lists().active();
}

namespace {
// The key a WATCH names for a write of `written`: a hash's field stands for its hash, a list's
// item for its list.
std::string_view WatchedKeyOf(std::string_view written) {
  std::string_view key, field;
  uint64_t version = 0, position = 0;
  if (ParseFieldKey(written, &key, &version, &field) ||
      ParseItemKey(written, &key, &version, &position)) {
    return key;
  }
  return written;
}
}  // namespace

void KvProtocol::OnApplied(std::string_view key, bool deleted) {
  // The directory of fields follows the index: with one loop the write's own state is the
  // index's; with several, the index is asked. A background delete of a gone hash's field
  // changes nothing a client sees: it marks no watcher.
  if ((key.starts_with(kHashPrefix) || ZsetKey(key)) &&
      clients_.hashes().Applied(shared_.store, key,
                                shared_.store.loops() == 1 ? (deleted ? 0 : 1) : -1)) {
    return;
  }
  // The directory of lists follows the index too (a write of this loop: it is the list's
  // writer, kv_lists.h).
  if (key.starts_with(kListPrefix) && clients_.lists().Applied(key, deleted, loop_)) {
    return;
  }
  if (clients_.watches().any()) {
    clients_.watches().Touch(WatchedKeyOf(key), loop_, /*applied=*/true);
  }
}

void KvProtocol::TouchWritten(size_t first, bool locked) {
  KvWatches& w = clients_.watches();
  for (size_t i = first; i < b_->pending_writes(); ++i) {
    if (locked) {
      w.TouchLocked(WatchedKeyOf(b_->PendingKey(i)), loop_, /*applied=*/false);
    } else {
      w.Touch(WatchedKeyOf(b_->PendingKey(i)), loop_, /*applied=*/false);
    }
  }
}

void KvProtocol::FlagTransaction() {
  if (MultiState* m = ConnState().multi; m != nullptr && m->active) {
    m->aborted = true;
  }
}

void KvProtocol::ExecAbort(std::string_view why, bool locked) {
  if (MultiState* m = ConnState().multi; m != nullptr) {
    EndMulti(*m, locked);
  }
  Err("EXECABORT Transaction discarded because of: " + std::string(why));
}

void KvProtocol::EndMulti(MultiState& m, bool locked) {
  m.active = false;
  m.aborted = false;
  m.queued.clear();
  m.args.clear();
  m.arena.clear();
  if (m.arena.capacity() > (1u << 20)) {
    m.arena.shrink_to_fit();  // a large transaction's room is not kept for the connection's life
  }
  if (locked) {
    clients_.watches().UnwatchAllLocked(&m);
  } else {
    clients_.watches().UnwatchAll(&m);
  }
  if (m.client != nullptr) {
    m.client->multi.store(-1, std::memory_order_relaxed);
  }
}

void KvProtocol::Queue(const CommandSpec& cmd, size_t slot) {
  MultiState& m = MultiOf();
  uint64_t bytes = 0;
  for (size_t i = 0; i < cmd_.argc; ++i) {
    bytes += args_[i].length;
  }
  if (m.args.size() + cmd_.argc > kMaxQueuedArgs || m.arena.size() + bytes > kMaxQueuedBytes) {
    m.aborted = true;
    Err("ERR transaction too large: pastel-kv queues at most " + std::to_string(kMaxQueuedArgs) +
        " arguments and " + std::to_string(kMaxQueuedBytes >> 20) + " MiB between MULTI and EXEC");
    return;
  }
  // The arguments are copied: the receive buffers they lie in go back once the command is
  // consumed. At EXEC they are decoded arguments, whose values writes copy into fresh buffers.
  m.queued.push_back({&cmd, static_cast<uint32_t>(slot), static_cast<uint32_t>(m.args.size()),
                      static_cast<uint32_t>(cmd_.argc)});
  for (size_t i = 0; i < cmd_.argc; ++i) {
    const resp::Arg& a = args_[i];
    m.args.push_back({m.arena.size(), static_cast<uint32_t>(a.length)});
    if (a.contiguous) {
      m.arena.append(a.view);
    } else {
      for (const resp::Piece& p : a.pieces) {
        m.arena.append(segments_[p.segment].data() + p.offset, p.length);
      }
    }
  }
  if (m.client != nullptr) {
    m.client->multi.store(static_cast<int32_t>(m.queued.size()), std::memory_order_relaxed);
  }
  Simple("QUEUED");
}

void KvProtocol::RunQueued(MultiState& m, const MultiState::Queued& q) {
  for (size_t i = 0; i < q.argc; ++i) {
    const MultiState::Arg& a = m.args[q.first_arg + i];
    resp::Arg& arg = args_[i];
    arg.length = a.length;
    arg.pieces = {};
    arg.contiguous = true;
    arg.view = std::string_view(m.arena).substr(a.offset, a.length);
    arg.decoded = true;  // not in the receive buffers: a write copies it (PutArg)
  }
  cmd_.argc = q.argc;
  cmd_.spec = q.spec;
  const uint64_t errors = command_errors_;
  (this->*q.spec->handler)();
  m.ran.emplace_back(q.slot, command_errors_ != errors);
}

void KvProtocol::Multi() {
  MultiState& m = MultiOf();
  if (m.active) {
    Err("ERR MULTI calls can not be nested");
    return;
  }
  m.active = true;
  m.aborted = false;
  if (m.client != nullptr) {
    m.client->multi.store(0, std::memory_order_relaxed);
  }
  Simple("OK");
}

void KvProtocol::Discard() {
  MultiState* m = ConnState().multi;
  if (m == nullptr || !m->active) {
    Err("ERR DISCARD without MULTI");
    return;
  }
  EndMulti(*m);
  Simple("OK");
}

void KvProtocol::Watch() {
  MultiState& m = MultiOf();
  if (m.active) {
    Err("ERR WATCH inside MULTI is not allowed");
    return;
  }
  KvWatches& w = clients_.watches();
  for (size_t i = 1; i < cmd_.argc; ++i) {
    const std::string_view key = ArgView(i, &tmp_key_);
    {
      std::lock_guard lock(w.mu());
      if (!w.WatchLocked(&m, key)) {
        continue;  // watched already
      }
    }
    // Registered first, read second: a write this read misses marks m (kv_multi.h).
    const bool live = key.size() >= 1 && key.size() <= kMaxKeyBytes && b_->Exists(key);
    m.watched.push_back({std::string(key), live});
  }
  Simple("OK");
}

void KvProtocol::Unwatch() {
  if (!in_exec_) {  // (inside EXEC the watches are gone already: redis-server's no-op)
    clients_.watches().UnwatchAll(&MultiOf());
  }
  Simple("OK");
}

void KvProtocol::Exec() {
  MultiState* m = ConnState().multi;
  if (m == nullptr || !m->active) {
    Err("ERR EXEC without MULTI");
    return;
  }
  if (m->aborted) {
    EndMulti(*m);
    Err("EXECABORT Transaction discarded because of previous errors.");
    return;
  }
  // As redis-server refuses an EXEC whose transaction holds a command that may take memory
  // (denyoom) while it is out of memory: the transaction is refused whole when the pool cannot
  // take the fresh buffers its values may need (every argument counted as a value: an upper
  // bound), rather than run with its writes refused one by one.
  uint64_t buffers = 0;
  for (const MultiState::Queued& q : m->queued) {
    if ((q.spec->flags & kCmdDenyOom) != 0) {
      for (uint32_t a = 1; a < q.argc; ++a) {
        buffers += m->args[q.first_arg + a].length / b_->pool().buffer_size() + 1;
      }
    }
  }
  if (buffers > 0 && b_->Admit(buffers + 1, 0) == store::WriteOutcome::kPoolFull) {
    ExecAbort(kNoBuffers);
    return;
  }
  // With watchers anywhere, EXEC runs under the registry's lock: its check and the marks of what
  // it writes are one step for the other loops' EXECs.
  KvWatches& w = clients_.watches();
  std::unique_lock lock(w.mu(), std::defer_lock);
  if (w.any()) {
    lock.lock();
  }
  bool changed = m->dirty.load(std::memory_order_relaxed);
  for (size_t i = 0; i < m->watched.size() && !changed; ++i) {
    // A key live when watched that is no longer: it expired (or was deleted, which marked it).
    changed = m->watched[i].live && !b_->Exists(m->watched[i].key);
  }
  if (changed) {
    EndMulti(*m, lock.owns_lock());
    b_->AnswerText(cmd_.conn->id, "*-1\r\n", AnswerClass::kOk, cmd_.close);
    return;
  }
  // The queued commands run in one store group: their writes go into this batch and its one
  // commit (durable together or not at all), and the array below leaves after that commit.
  const uint64_t errors = command_errors_;
  const size_t first = b_->pending_writes();
  b_->BeginGroup();
  ArrayHeader(m->queued.size());
  m->ran.clear();
  in_exec_ = true;
  exec_locked_ = lock.owns_lock();
  for (const MultiState::Queued& q : m->queued) {
    RunQueued(*m, q);
    if (b_->group_failed()) {
      break;
    }
  }
  in_exec_ = false;
  exec_locked_ = false;
  command_errors_ = errors;  // (the commands' errors are theirs, not EXEC's)
  const store::WriteOutcome out = b_->EndGroup();
  if (out != store::WriteOutcome::kQueued) {
    // The group's writes are dropped: the directory of lists forgets those of its lists, and no
    // blocked client is served by them.
    for (auto it = list_undo_.rbegin(); it != list_undo_.rend(); ++it) {
      clients_.lists().Undo(it->key, it->version, loop_, it->before, it->writes);
    }
    ready_.clear();
  }
  list_undo_.clear();
  if (out == store::WriteOutcome::kNeedsRoom) {
    // Nothing of the group remains: the loop commits the batch before it, empties the log and
    // parses the connection again, so this EXEC runs again from its start.
    return;
  }
  if (out == store::WriteOutcome::kPoolFull) {
    ExecAbort(kNoBuffers, lock.owns_lock());
    return;
  }
  if (out != store::WriteOutcome::kQueued) {
    ExecAbort(
        "OOM command not allowed: the log cannot take the transaction's writes in one batch "
        "(start with a larger --log-size)",
        lock.owns_lock());
    return;
  }
  // The group stays: its commands are counted, and the watchers of the keys it wrote marked
  // (after this connection's own watches are gone: EXEC does not abort itself).
  for (const auto& [slot, failed] : m->ran) {
    CommandCounters& c = clients_.command(loop_, slot);
    Bump(c.calls);
    if (failed) {
      Bump(c.failed);
    }
    const uint32_t flags = Commands().size() > slot ? Commands()[slot].flags : 0;
    const CommandKind kind = (flags & kCmdWrite) != 0      ? CommandKind::kWrite
                             : (flags & kCmdReadOnly) != 0 ? CommandKind::kRead
                                                           : CommandKind::kOther;
    b_->counters().Add(b_->counters().requests[static_cast<int>(kind)]);
  }
  EndMulti(*m, lock.owns_lock());
  if (lock.owns_lock() || w.any()) {
    if (!lock.owns_lock()) {
      lock.lock();
    }
    TouchWritten(first, /*locked=*/true);
  }
  if (lock.owns_lock()) {
    lock.unlock();
  }
  ServeReady();  // the clients blocked on the lists it pushed to, after the whole transaction
}

}  // namespace pastel::kv
