// The registry of pastel-kv's clients and its counters (kv_clients.h).

#include "kv_clients.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <cstdio>

#include "commands.h"

namespace pastel::kv {

size_t ErrorKind(std::string_view message) {
  const std::string_view word = message.substr(0, message.find(' '));
  for (size_t k = 0; k < kErrorKindCount; ++k) {
    if (word == kErrorKinds[k]) {
      return k;
    }
  }
  return 0;  // "ERR"
}

std::string SocketAddress(int fd, bool peer) {
  if (fd < 0) {
    return std::string();
  }
  sockaddr_storage ss{};
  socklen_t len = sizeof(ss);
  sockaddr* sa = reinterpret_cast<sockaddr*>(&ss);
  if ((peer ? ::getpeername(fd, sa, &len) : ::getsockname(fd, sa, &len)) != 0) {
    return std::string();
  }
  char ip[INET6_ADDRSTRLEN] = {};
  char out[INET6_ADDRSTRLEN + 16];
  if (ss.ss_family == AF_INET) {
    const auto* in = reinterpret_cast<const sockaddr_in*>(&ss);
    ::inet_ntop(AF_INET, &in->sin_addr, ip, sizeof(ip));
    std::snprintf(out, sizeof(out), "%s:%u", ip, ntohs(in->sin_port));
  } else if (ss.ss_family == AF_INET6) {
    const auto* in6 = reinterpret_cast<const sockaddr_in6*>(&ss);
    ::inet_ntop(AF_INET6, &in6->sin6_addr, ip, sizeof(ip));
    std::snprintf(out, sizeof(out), "[%s]:%u", ip, ntohs(in6->sin6_port));  // as redis-server
  } else {
    return std::string();
  }
  return out;
}

KvClients::KvClients(uint32_t loops) : pubsub_(loops) {
  for (uint32_t i = 0; i < loops; ++i) {
    Loop& l = loops_.emplace_back();
    l.commands = std::make_unique<CommandCounters[]>(CommandSlotCount());
  }
}

ClientEntry* KvClients::Register(uint32_t loop, ConnId conn, int fd, int64_t now_ms) {
  auto e = std::make_unique<ClientEntry>();
  e->id = next_id_.fetch_add(1, std::memory_order_relaxed);
  e->loop = loop;
  e->conn = conn;
  e->fd = fd;
  e->addr = SocketAddress(fd, true);
  e->laddr = SocketAddress(fd, false);
  e->created_ms = now_ms;
  e->last_ms.store(now_ms, std::memory_order_relaxed);
  connections_received_.fetch_add(1, std::memory_order_relaxed);
  ClientEntry* raw = e.get();
  std::lock_guard lock(mu_);
  entries_.emplace(raw->id, std::move(e));
  return raw;
}

void KvClients::Unregister(ClientEntry* e) {
  std::lock_guard lock(mu_);
  entries_.erase(e->id);
}

void KvClients::Hide(ClientEntry* e) {
  std::lock_guard lock(mu_);
  e->gone = true;
}

void KvClients::SetField(ClientEntry* e, std::string ClientEntry::*field, std::string_view value) {
  std::lock_guard lock(mu_);
  (e->*field).assign(value);
}

void KvClients::AppendLine(const ClientEntry& e, int64_t now_ms, std::string* out) {
  const uint32_t slot = e.last_slot.load(std::memory_order_relaxed);
  const std::string cmd = slot == 0 ? "NULL" : CommandSlotName(slot - 1);
  const long long age = (now_ms - e.created_ms) / 1000;
  const long long idle = (now_ms - e.last_ms.load(std::memory_order_relaxed)) / 1000;
  // redis-server's letters in its order: x in MULTI, d once a watched key changed, else N.
  const int multi = e.multi.load(std::memory_order_relaxed);
  const bool dirty = e.dirty_cas.load(std::memory_order_relaxed);
  // (P: subscribed, before them.)
  std::string flags = e.pubsub() ? "P" : "";
  flags += multi >= 0 ? (dirty ? "xd" : "x") : (dirty ? "d" : "");
  if (flags.empty()) {
    flags = "N";
  }
  // redis-server 7.0's fields, 7.2's lib-name and lib-ver, and 8.0's io-thread (the loop serving
  // the connection); those pastel-kv has no figure for carry redis-server's value for an idle
  // client.
  const auto format = [&](char* dst, size_t cap) {
    return std::snprintf(
        dst, cap,
        "id=%llu addr=%s laddr=%s fd=%d name=%s age=%lld idle=%lld flags=%s db=0 sub=%u psub=%u "
        "ssub=0 multi=%d qbuf=0 qbuf-free=0 argv-mem=0 multi-mem=0 rbs=0 rbp=0 obl=0 oll=0 "
        "omem=0 tot-mem=0 events=r cmd=%s user=default redir=-1 resp=2 lib-name=%s lib-ver=%s "
        "io-thread=%u\n",
        static_cast<unsigned long long>(e.id), e.addr.c_str(), e.laddr.c_str(), e.fd,
        e.name.c_str(), std::max(0ll, age), std::max(0ll, idle), flags.c_str(),
        e.sub.load(std::memory_order_relaxed), e.psub.load(std::memory_order_relaxed), multi,
        cmd.c_str(), e.lib_name.c_str(), e.lib_ver.c_str(), e.loop);
  };
  char buf[512];
  const int n = format(buf, sizeof(buf));
  if (n < 0) {
    return;
  }
  if (static_cast<size_t>(n) < sizeof(buf)) {
    out->append(buf, static_cast<size_t>(n));
    return;
  }
  std::string big(static_cast<size_t>(n) + 1, '\0');  // a long name: formatted at its size
  (void)format(big.data(), big.size());
  out->append(big.data(), static_cast<size_t>(n));
}

std::string KvClients::List(const std::vector<uint64_t>* ids, int64_t now_ms, int type) {
  std::string out;
  std::lock_guard lock(mu_);
  if (ids == nullptr) {
    for (const auto& [id, e] : entries_) {
      if (!e->gone && (type == 0 || (type == 2) == e->pubsub())) {
        AppendLine(*e, now_ms, &out);
      }
    }
    return out;
  }
  for (const uint64_t id : *ids) {
    auto it = entries_.find(id);
    if (it != entries_.end() && !it->second->gone) {
      AppendLine(*it->second, now_ms, &out);
    }
  }
  return out;
}

size_t KvClients::connected() {
  std::lock_guard lock(mu_);
  size_t n = 0;
  for (const auto& [id, e] : entries_) {
    n += e->gone ? 0 : 1;
  }
  return n;
}

size_t KvClients::Kill(const KillFilter& f, const ClientEntry* self, bool* self_killed) {
  size_t killed = 0;
  std::lock_guard lock(mu_);
  for (auto& [id, e] : entries_) {
    if (e->gone || (f.id != 0 && e->id != f.id) || (f.type != 0 && (f.type == 2) != e->pubsub()) ||
        (!f.addr.empty() && e->addr != f.addr) || (!f.laddr.empty() && e->laddr != f.laddr)) {
      continue;
    }
    if (e.get() == self) {
      if (f.skipme) {
        continue;
      }
      *self_killed = true;  // the caller closes it after its answer
    } else {
      e->kill = true;
      loops_[e->loop].kills.store(true, std::memory_order_release);  // partner: TakeKills
    }
    e->gone = true;
    ++killed;
  }
  return killed;
}

bool KvClients::Unblock(uint64_t id, uint8_t how) {
  std::lock_guard lock(mu_);
  auto it = entries_.find(id);
  if (it == entries_.end() || it->second->gone ||
      !it->second->blocked.load(std::memory_order_relaxed)) {
    return false;
  }
  it->second->unblock.store(how, std::memory_order_relaxed);
  return true;
}

void KvClients::TakeKills(uint32_t loop, const std::function<void(ConnId)>& close) {
  if (!loops_[loop].kills.exchange(false, std::memory_order_acquire)) {  // partner: Kill
    return;
  }
  std::lock_guard lock(mu_);
  for (auto& [id, e] : entries_) {
    if (e->kill && e->loop == loop) {
      e->kill = false;
      close(e->conn);
    }
  }
}

KvClients::CommandTotals KvClients::CommandSum(size_t slot) const {
  CommandTotals t;
  for (const Loop& l : loops_) {
    const CommandCounters& c = l.commands[slot];
    t.calls += c.calls.load(std::memory_order_relaxed);
    t.timed_calls += c.timed_calls.load(std::memory_order_relaxed);
    t.nanos += c.nanos.load(std::memory_order_relaxed);
    t.rejected += c.rejected.load(std::memory_order_relaxed);
    t.failed += c.failed.load(std::memory_order_relaxed);
  }
  return t;
}

uint64_t KvClients::ErrorSum(size_t kind) const {
  uint64_t n = 0;
  for (const Loop& l : loops_) {
    n += l.errors[kind].load(std::memory_order_relaxed);
  }
  return n;
}

void KvClients::Sample(int64_t now_ms, uint64_t commands) {
  if (sample_ms_ == 0) {
    sample_ms_ = now_ms;
    sample_commands_ = commands;
    return;
  }
  const int64_t elapsed = now_ms - sample_ms_;
  if (elapsed < 100) {
    return;
  }
  const uint64_t rate = (commands - sample_commands_) * 1000 / static_cast<uint64_t>(elapsed);
  ops_[sample_next_].store(rate, std::memory_order_relaxed);
  sample_next_ = (sample_next_ + 1) % kSamples;
  sample_ms_ = now_ms;
  sample_commands_ = commands;
}

uint64_t KvClients::OpsPerSec() const {
  uint64_t sum = 0;
  for (const auto& o : ops_) {
    sum += o.load(std::memory_order_relaxed);
  }
  return sum / kSamples;
}

}  // namespace pastel::kv
