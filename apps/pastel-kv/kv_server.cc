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
#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

void KvProtocol::Ping() {
  if (cmd_.argc == 1) {
    Simple("PONG");
  } else if (cmd_.argc == 2) {
    Bulk(ArgView(1, &tmp_));
  } else {
    WrongArity();
  }
}

void KvProtocol::Echo() {
  Bulk(ArgView(1, &tmp_));
}

void KvProtocol::Select() {
  if (ArgView(1, &tmp_) == "0") {
    Simple("OK");
  } else {
    Err("ERR DB index is out of range (pastel-kv has one database, 0)");
  }
}

void KvProtocol::Quit() {
  cmd_.close = true;
  Simple("OK");
}

void KvProtocol::Info() {
  std::string want = cmd_.argc > 1 ? std::string(ArgView(1, &tmp_)) : "default";
  std::transform(want.begin(), want.end(), want.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  const bool all = want == "default" || want == "all" || want == "everything";
  const server::Totals t = server::Sum(shared_.counters);
  const std::vector<server::Metric> metrics = server::StoreMetrics(shared_, t);
  const store::Store& st = shared_.store;
  const Pool& pool = st.pool();
  uint64_t reqs = 0;
  for (const uint64_t r : t.requests) {
    reqs += r;
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
    server::AppendInfo(metrics, server::Section::kPersistence, &out);
    if (pool.read_only()) {
      std::string why = pool.read_only_reason().ToString();
      std::replace_if(
          why.begin(), why.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      out += "pastel_read_only_reason:" + why + "\r\n";
    }
    add("pastel_recovery_ms:%.1f\r\n\r\n", st.start().open_ms);
  }
  if (all || want == "stats") {
    add("# Stats\r\ntotal_commands_processed:%llu\r\ntotal_net_input_bytes:%llu\r\n",
        static_cast<unsigned long long>(reqs), static_cast<unsigned long long>(t.rx_bytes));
    add("pastel_read_commands:%llu\r\npastel_write_commands:%llu\r\npastel_error_replies:%llu\r\n",
        static_cast<unsigned long long>(t.requests[static_cast<int>(CommandKind::kRead)]),
        static_cast<unsigned long long>(t.requests[static_cast<int>(CommandKind::kWrite)]),
        static_cast<unsigned long long>(t.responses_4xx + t.responses_5xx));
    server::AppendInfo(metrics, server::Section::kStats, &out);
    out += "\r\n";
  }
  if (all || want == "memory") {
    add("# Memory\r\nused_memory:%llu\r\nmaxmemory:%llu\r\n",
        static_cast<unsigned long long>(st.live_bytes()),
        static_cast<unsigned long long>(uint64_t{pool.buffer_count()} * pool.buffer_size()));
    add("pastel_buffer_size:%u\r\npastel_buffers:%u\r\n", pool.buffer_size(), pool.buffer_count());
    server::AppendInfo(metrics, server::Section::kMemory, &out);
    out += "\r\n";
  }
  if (all || want == "keyspace") {
    add("# Keyspace\r\n");
    if (st.live_keys() > 0) {
      add("db0:keys=%llu,expires=0,avg_ttl=0\r\n", static_cast<unsigned long long>(st.live_keys()));
    }
  }
  Bulk(out);
}

void KvProtocol::CommandCmd() {
  const auto entry = [&](const CommandSpec& ci) {
    Text() += "*6\r\n";
    Text().append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.arity));
    Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), std::popcount(ci.flags)));
    for (uint32_t bit = 0; bit < kCmdFlagCount; ++bit) {
      if ((ci.flags & (1u << bit)) != 0) {
        Text().append(buf_, resp::WriteSimpleString(buf_, sizeof(buf_), CommandFlagName(bit)));
      }
    }
    Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.first_key));
    Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.last_key));
    Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), ci.key_step));
  };
  const size_t begin = Text().size();
  if (cmd_.argc == 1) {
    Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), Commands().size()));
    for (const CommandSpec& ci : Commands()) {
      entry(ci);
    }
  } else if (Is(1, "count")) {
    Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), Commands().size()));
  } else if (Is(1, "docs")) {
    Text() += "*0\r\n";  // no documentation: redis-cli then shows no hints
  } else if (Is(1, "info")) {
    Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), cmd_.argc - 2));
    for (size_t i = 2; i < cmd_.argc; ++i) {
      const CommandSpec* ci = FindCommand(ArgView(i, &tmp_));
      if (ci != nullptr) {
        entry(*ci);
      } else {
        Text() += resp::kNullBulk;
      }
    }
  } else if (Is(1, "list")) {
    Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), Commands().size()));
    for (const CommandSpec& ci : Commands()) {
      Text().append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), ci.name));
    }
  } else {
    Text().resize(begin);
    Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try COMMAND HELP.");
    return;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Config() {
  if (!Is(1, "get")) {
    Err("ERR CONFIG " + Printable(args_[1].view) + " is not supported by pastel-kv");
    return;
  }
  if (cmd_.argc < 3) {
    WrongArity();
    return;
  }
  const std::string port = std::to_string(shared_.port.load(std::memory_order_relaxed));
  const std::string maxmem =
      std::to_string(uint64_t{b_->pool().buffer_count()} * b_->pool().buffer_size());
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
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), 2 * hits.size()));
  for (const auto& [k, v] : hits) {
    for (std::string_view s : {k, v}) {
      Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
      Text() += s;
      Text() += resp::kCrlf;
    }
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Client() {
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
