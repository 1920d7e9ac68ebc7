// pastel-kv's server and connection commands: PING ECHO SELECT QUIT INFO COMMAND CONFIG CLIENT.

#include <unistd.h>

#include <algorithm>
#include <bit>
#include <cctype>
#include <chrono>
#include <cstdio>
#include <string>
#include <vector>

#include "commands.h"
#include "kv_loop.h"
#include "kv_util.h"

namespace pastel::kv {

void KvLoop::Ping() {
  if (cmd_.argc == 1) {
    Simple("PONG");
  } else if (cmd_.argc == 2) {
    Bulk(ArgView(1, &tmp_));
  } else {
    WrongArity();
  }
}

void KvLoop::Echo() {
  Bulk(ArgView(1, &tmp_));
}

void KvLoop::Select() {
  if (ArgView(1, &tmp_) == "0") {
    Simple("OK");
  } else {
    Err("ERR DB index is out of range (pastel-kv has one database, 0)");
  }
}

void KvLoop::Quit() {
  cmd_.close = true;
  Simple("OK");
}

void KvLoop::Info() {
  std::string want = cmd_.argc > 1 ? std::string(ArgView(1, &tmp_)) : "default";
  std::transform(want.begin(), want.end(), want.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool all = want == "default" || want == "all" || want == "everything";
  uint64_t reqs = 0, reads = 0, writes = 0, errors = 0, fences = 0, committed = 0, rx = 0,
           batches = 0, slots = 0, full = 0, kept = 0, checkpoints = 0, starved = 0,
           full_checkpoints = 0, checkpoint_failures = 0, held = 0, held_paused = 0,
           error_closes = 0, tx_full_closes = 0;
  for (const store::LoopCounters& l : shared_.counters) {
    for (const auto& r : l.requests) {
      reqs += r.load(std::memory_order_relaxed);
    }
    reads += l.requests[static_cast<int>(CommandKind::kRead)].load(std::memory_order_relaxed);
    writes += l.requests[static_cast<int>(CommandKind::kWrite)].load(std::memory_order_relaxed);
    errors += l.responses_4xx.load(std::memory_order_relaxed) +
              l.responses_5xx.load(std::memory_order_relaxed);
    fences += l.commits.load(std::memory_order_relaxed);
    committed += l.committed_writes.load(std::memory_order_relaxed);
    rx += l.rx_bytes.load(std::memory_order_relaxed);
    batches += l.batches.load(std::memory_order_relaxed);
    slots += l.batch_slots.load(std::memory_order_relaxed);
    full += l.rejected_full.load(std::memory_order_relaxed);
    kept += l.kept.load(std::memory_order_relaxed);
    checkpoints += l.checkpoints.load(std::memory_order_relaxed);
    full_checkpoints += l.log_full_checkpoints.load(std::memory_order_relaxed);
    checkpoint_failures += l.checkpoint_failures.load(std::memory_order_relaxed);
    held += l.held.load(std::memory_order_relaxed);
    held_paused += l.held_paused.load(std::memory_order_relaxed);
    error_closes += l.error_closes.load(std::memory_order_relaxed);
    tx_full_closes += l.tx_full_closes.load(std::memory_order_relaxed);
    starved += l.enobufs.load(std::memory_order_relaxed);
  }
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - shared_.started)
                          .count();
  std::string out;
  char line[256];
  const auto add = [&](const char* fmt, auto... v) {
    const int n = std::snprintf(line, sizeof(line), fmt, v...);
    out.append(line, static_cast<size_t>(std::max(0, n)));
  };
  if (all || want == "server") {
    add("# Server\r\nredis_version:7.0.0\r\npastel_version:0.1.0\r\nredis_mode:standalone\r\n");
    add("process_id:%d\r\ntcp_port:%u\r\nuptime_in_seconds:%lld\r\n", static_cast<int>(getpid()),
        shared_.port.load(std::memory_order_relaxed), static_cast<long long>(uptime));
    add("pastel_backend:%s\r\npastel_loops:%zu\r\n\r\n", shared_.backend.c_str(),
        shared_.counters.size());
  }
  if (all || want == "persistence") {
    add("# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\n");
    add("pastel_persist:%s\r\npastel_pool:%s\r\npastel_durability:%s\r\n", shared_.persist.c_str(),
        shared_.pool_path.c_str(), shared_.durability.c_str());
    add("pastel_read_only:%d\r\npastel_fences:%llu\r\npastel_committed_writes:%llu\r\n",
        pool_.read_only() ? 1 : 0, static_cast<unsigned long long>(fences),
        static_cast<unsigned long long>(committed));
    add("pastel_writes_per_fence:%.2f\r\npastel_log_compactions:%llu\r\n",
        fences == 0 ? 0.0 : static_cast<double>(committed) / static_cast<double>(fences),
        static_cast<unsigned long long>(checkpoints));
    add("pastel_log_full_checkpoints:%llu\r\npastel_checkpoint_failures:%llu\r\n",
        static_cast<unsigned long long>(full_checkpoints),
        static_cast<unsigned long long>(checkpoint_failures));
    if (pool_.read_only()) {
      std::string why = pool_.read_only_reason().ToString();
      std::replace_if(
          why.begin(), why.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      out += "pastel_read_only_reason:" + why + "\r\n";
    }
    add("pastel_index_tombstones:%llu\r\npastel_index_memory_keys:%llu\r\n",
        static_cast<unsigned long long>(index_.tree_tombstones()),
        static_cast<unsigned long long>(index_.map_keys()));
    add("pastel_recovered_keys:%llu\r\npastel_recovered_records:%llu\r\n",
        static_cast<unsigned long long>(shared_.recovered_keys),
        static_cast<unsigned long long>(shared_.recovered_records));
    add("pastel_recovery_ms:%.1f\r\n\r\n", shared_.recovery_ms);
  }
  if (all || want == "stats") {
    add("# Stats\r\ntotal_commands_processed:%llu\r\ntotal_net_input_bytes:%llu\r\n",
        static_cast<unsigned long long>(reqs), static_cast<unsigned long long>(rx));
    add("pastel_read_commands:%llu\r\npastel_write_commands:%llu\r\npastel_error_replies:%llu\r\n",
        static_cast<unsigned long long>(reads), static_cast<unsigned long long>(writes),
        static_cast<unsigned long long>(errors));
    add("pastel_batches:%llu\r\npastel_mean_batch_slots:%.2f\r\npastel_rejected_full:%llu\r\n",
        static_cast<unsigned long long>(batches),
        batches == 0 ? 0.0 : static_cast<double>(slots) / static_cast<double>(batches),
        static_cast<unsigned long long>(full));
    add("pastel_kept_buffers:%llu\r\npastel_rx_starved:%llu\r\n",
        static_cast<unsigned long long>(kept), static_cast<unsigned long long>(starved));
    add("pastel_held_connections:%llu\r\npastel_held_paused:%llu\r\n",
        static_cast<unsigned long long>(held), static_cast<unsigned long long>(held_paused));
    add("pastel_error_closes:%llu\r\npastel_tx_full_closes:%llu\r\n\r\n",
        static_cast<unsigned long long>(error_closes),
        static_cast<unsigned long long>(tx_full_closes));
  }
  if (all || want == "memory") {
    const PoolCounts pc = pool_.Counts();
    add("# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n",
        static_cast<unsigned long long>(index_.live_bytes()),
        static_cast<unsigned long long>(uint64_t{pool_.buffer_count()} * pool_.buffer_size()));
    add("pastel_buffer_size:%u\r\npastel_buffers:%u\r\npastel_buffers_free:%llu\r\n",
        pool_.buffer_size(), pool_.buffer_count(), static_cast<unsigned long long>(pc.free));
    add("pastel_buffers_kernel:%llu\r\npastel_buffers_app:%llu\r\npastel_buffers_retained:%"
        "llu\r\n\r\n",
        static_cast<unsigned long long>(pc.kernel), static_cast<unsigned long long>(pc.app),
        static_cast<unsigned long long>(pc.retained));
  }
  if (all || want == "keyspace") {
    add("# Keyspace\r\n");
    if (index_.live_keys() > 0) {
      add("db0:keys=%llu,expires=0,avg_ttl=0\r\n",
          static_cast<unsigned long long>(index_.live_keys()));
    }
  }
  Bulk(out);
}

void KvLoop::CommandCmd() {
  const auto entry = [&](const CommandSpec& ci) {
    text_ += "*6\r\n";
    text_.append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.arity));
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), std::popcount(ci.flags)));
    for (uint32_t bit = 0; bit < kCmdFlagCount; ++bit) {
      if ((ci.flags & (1u << bit)) != 0) {
        text_.append(buf_, resp::WriteSimpleString(buf_, sizeof(buf_), CommandFlagName(bit)));
      }
    }
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.first_key));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.last_key));
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.key_step));
  };
  const size_t begin = text_.size();
  if (cmd_.argc == 1) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), Commands().size()));
    for (const CommandSpec& ci : Commands()) {
      entry(ci);
    }
  } else if (Is(1, "count")) {
    text_.append(buf_, resp::WriteInteger(buf_, sizeof(buf_), Commands().size()));
  } else if (Is(1, "docs")) {
    text_ += "*0\r\n";  // no documentation: redis-cli then shows no hints
  } else if (Is(1, "info")) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), cmd_.argc - 2));
    for (size_t i = 2; i < cmd_.argc; ++i) {
      const CommandSpec* ci = FindCommand(ArgView(i, &tmp_));
      if (ci != nullptr) {
        entry(*ci);
      } else {
        text_ += resp::kNullBulk;
      }
    }
  } else if (Is(1, "list")) {
    text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), Commands().size()));
    for (const CommandSpec& ci : Commands()) {
      text_.append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    }
  } else {
    text_.resize(begin);
    Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try COMMAND HELP.");
    return;
  }
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Config() {
  if (!Is(1, "get")) {
    Err("ERR CONFIG " + Printable(args_[1].view) + " is not supported by pastel-kv");
    return;
  }
  if (cmd_.argc < 3) {
    WrongArity();
    return;
  }
  const std::string port = std::to_string(shared_.port.load(std::memory_order_relaxed));
  const std::string maxmem = std::to_string(uint64_t{pool_.buffer_count()} * pool_.buffer_size());
  // What a client may ask; "appendonly yes" because every write is durable before its reply.
  const std::pair<const char*, std::string> params[] = {
      {"save", ""},
      {"appendonly", "yes"},
      {"appendfsync", "always"},
      {"databases", "1"},
      {"maxmemory", maxmem},
      {"maxmemory-policy", "noeviction"},
      {"port", port},
      {"bind", "127.0.0.1"},
      {"proto-max-bulk-len", std::to_string(limits_.max_bulk)},
  };
  std::vector<std::pair<std::string_view, std::string_view>> hits;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    std::string pat(ArgView(i, &tmp_));
    std::transform(pat.begin(), pat.end(), pat.begin(),
                   [](char ch) { return static_cast<char>(std::tolower(ch)); });
    for (const auto& [k, v] : params) {
      if (GlobMatch(pat, k) && std::find_if(hits.begin(), hits.end(), [&](const auto& h) {
                                 return h.first == k;
                               }) == hits.end()) {
        hits.emplace_back(k, v);
      }
    }
  }
  const size_t begin = text_.size();
  text_.append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), 2 * hits.size()));
  for (const auto& [k, v] : hits) {
    for (std::string_view s : {k, v}) {
      text_.append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
      text_ += s;
      text_ += resp::kCrlf;
    }
  }
  AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvLoop::Client() {
  if (Is(1, "setname") && cmd_.argc == 3) {
    const std::string_view name = ArgView(2, &tmp_);
    if (name.find_first_of(" \r\n") != std::string_view::npos) {
      Err("ERR Client names cannot contain spaces, newlines or special characters.");
      return;
    }
    Simple("OK");
  } else if (Is(1, "setinfo") && cmd_.argc == 4) {
    Simple("OK");
  } else if (Is(1, "getname") && cmd_.argc == 2) {
    Null();
  } else if (Is(1, "id") && cmd_.argc == 2) {
    Int(static_cast<int64_t>(cmd_.conn->id));
  } else {
    Err("ERR CLIENT " + Printable(args_[1].view) + " is not supported by pastel-kv");
  }
}

}  // namespace pastel::kv
