// pastel-kv's server and connection commands: PING ECHO SELECT QUIT INFO COMMAND CONFIG CLIENT
// TIME AUTH HELLO.

#include <sys/resource.h>
#include <sys/time.h>
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
  if (const PubSubState* ps = ConnState().pubsub; ps != nullptr && ps->count() > 0) {
    // Subscribed (RESP2): ["pong", argument or ""], as redis-server.
    const std::string_view arg = cmd_.argc == 2 ? ArgView(1, &tmp_) : std::string_view();
    if (cmd_.argc > 2) {
      WrongArity();
      return;
    }
    const size_t begin = Text().size();
    Text() += "*2\r\n$4\r\npong\r\n";
    Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), arg.size()));
    Text() += arg;
    Text() += resp::kCrlf;
    b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
    return;
  }
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

namespace {

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

// INFO's sections, in redis-server's order (the order they are printed in, whatever the order
// asked for).
enum InfoSection : uint32_t {
  kInfoServer = 1u << 0,
  kInfoClients = 1u << 1,
  kInfoMemory = 1u << 2,
  kInfoPersistence = 1u << 3,
  kInfoStats = 1u << 4,
  kInfoReplication = 1u << 5,
  kInfoCpu = 1u << 6,
  kInfoCommandStats = 1u << 7,
  kInfoErrorStats = 1u << 8,
  kInfoKeyspace = 1u << 9,
};
constexpr uint32_t kInfoDefault = kInfoServer | kInfoClients | kInfoMemory | kInfoPersistence |
                                  kInfoStats | kInfoReplication | kInfoCpu | kInfoErrorStats |
                                  kInfoKeyspace;
constexpr uint32_t kInfoAll = kInfoDefault | kInfoCommandStats;

// The sections one INFO argument names (any case): 0 for a name redis-server does not know or
// whose section is empty here (modules, cluster, latencystats).
uint32_t InfoSections(std::string_view arg) {
  static constexpr std::pair<std::string_view, uint32_t> kNames[] = {
      {"default", kInfoDefault},
      {"all", kInfoAll},
      {"everything", kInfoAll},
      {"server", kInfoServer},
      {"clients", kInfoClients},
      {"memory", kInfoMemory},
      {"persistence", kInfoPersistence},
      {"stats", kInfoStats},
      {"replication", kInfoReplication},
      {"cpu", kInfoCpu},
      {"commandstats", kInfoCommandStats},
      {"errorstats", kInfoErrorStats},
      {"keyspace", kInfoKeyspace},
  };
  const std::string want = Lower(arg);
  for (const auto& [name, bits] : kNames) {
    if (want == name) {
      return bits;
    }
  }
  return 0;
}

// redis-server's way of writing a byte count for people (bytesToHuman): 2 decimals and B K M G T.
std::string HumanBytes(uint64_t n) {
  char b[32];
  const auto d = static_cast<double>(n);
  if (n < 1024) {
    std::snprintf(b, sizeof(b), "%lluB", static_cast<unsigned long long>(n));
  } else if (n < (uint64_t{1} << 20)) {
    std::snprintf(b, sizeof(b), "%.2fK", d / 1024);
  } else if (n < (uint64_t{1} << 30)) {
    std::snprintf(b, sizeof(b), "%.2fM", d / (1024.0 * 1024));
  } else if (n < (uint64_t{1} << 40)) {
    std::snprintf(b, sizeof(b), "%.2fG", d / (1024.0 * 1024 * 1024));
  } else {
    std::snprintf(b, sizeof(b), "%.2fT", d / (1024.0 * 1024 * 1024 * 1024));
  }
  return b;
}

// The process's resident bytes (/proc/self/statm's second field), 0 if it cannot be read.
uint64_t ResidentBytes() {
  std::FILE* f = std::fopen("/proc/self/statm", "r");
  if (f == nullptr) {
    return 0;
  }
  unsigned long long size = 0;
  unsigned long long resident = 0;
  const int got = std::fscanf(f, "%llu %llu", &size, &resident);
  std::fclose(f);
  return got == 2 ? resident * static_cast<uint64_t>(::sysconf(_SC_PAGESIZE)) : 0;
}

}  // namespace

void KvProtocol::Info() {
  uint32_t want = cmd_.argc == 1 ? kInfoDefault : 0;
  for (size_t i = 1; i < cmd_.argc; ++i) {
    want |= InfoSections(ArgView(i, &tmp_));
  }
  const server::Totals t = server::Sum(shared_.counters);
  const std::vector<server::Metric> metrics = server::StoreMetrics(shared_, t);
  const store::Store& st = shared_.store;
  const Pool& pool = st.pool();
  const auto uptime = std::chrono::duration_cast<std::chrono::seconds>(
                          std::chrono::steady_clock::now() - shared_.started)
                          .count();
  std::string out;
  char line[256];
  const auto add = [&](const char* fmt, auto... v) {
    const int n = std::snprintf(line, sizeof(line), fmt, v...);
    out.append(line, static_cast<size_t>(std::max(0, n)));
  };
  if ((want & kInfoServer) != 0) {
    add("# Server\r\nredis_version:%.*s\r\npastel_version:0.1.0\r\nredis_mode:standalone\r\n",
        static_cast<int>(kRedisVersion.size()), kRedisVersion.data());
    add("process_id:%d\r\ntcp_port:%u\r\nuptime_in_seconds:%lld\r\n", static_cast<int>(getpid()),
        shared_.port.load(std::memory_order_relaxed), static_cast<long long>(uptime));
    add("pastel_backend:%s\r\npastel_loops:%zu\r\n\r\n", shared_.backend.c_str(),
        shared_.counters.size());
  }
  if ((want & kInfoClients) != 0) {
    add("# Clients\r\nconnected_clients:%zu\r\ncluster_connections:0\r\nmaxclients:%llu\r\n",
        clients_.connected(),
        static_cast<unsigned long long>(uint64_t{NetOptions{}.max_connections} * clients_.loops()));
    add("client_recent_max_input_buffer:0\r\nclient_recent_max_output_buffer:0\r\n"
        "blocked_clients:%lld\r\ntracking_clients:0\r\nclients_in_timeout_table:0\r\n\r\n",
        static_cast<long long>(
            std::max<int64_t>(0, clients_.lists().blocked().load(std::memory_order_relaxed))));
  }
  if ((want & kInfoMemory) != 0) {
    // What redis-server's figures mean here: the memory that fills up is the pool's, so
    // used_memory is the bytes of its buffers not free (values, and what receiving holds) and
    // maxmemory the pool's bytes (a write is refused with -OOM as they meet); used_memory_rss is
    // the process's resident memory. The value bytes, the log's and the index file's are
    // pastel_* lines below.
    const uint64_t pool_bytes = uint64_t{pool.buffer_count()} * pool.buffer_size();
    uint64_t used = 0;  // (the metrics counted the pool's buffers once: pastel_pool_bytes_used)
    for (const server::Metric& m : metrics) {
      if (std::string_view(m.name) == "pool_bytes_used") {
        used = static_cast<uint64_t>(m.value);
      }
    }
    const uint64_t rss = ResidentBytes();
    add("# Memory\r\nused_memory:%llu\r\nused_memory_human:%s\r\n",
        static_cast<unsigned long long>(used), HumanBytes(used).c_str());
    add("used_memory_rss:%llu\r\nused_memory_rss_human:%s\r\n",
        static_cast<unsigned long long>(rss), HumanBytes(rss).c_str());
    add("maxmemory:%llu\r\nmaxmemory_human:%s\r\nmaxmemory_policy:noeviction\r\n",
        static_cast<unsigned long long>(pool_bytes), HumanBytes(pool_bytes).c_str());
    add("pastel_buffer_size:%u\r\npastel_buffers:%u\r\n", pool.buffer_size(), pool.buffer_count());
    server::AppendInfo(metrics, server::Section::kMemory, &out);
    out += "\r\n";
  }
  if ((want & kInfoPersistence) != 0) {
    add("# Persistence\r\nloading:0\r\naof_enabled:0\r\nrdb_changes_since_last_save:0\r\n");
    add("pastel_persist:%s\r\npastel_pool:%s\r\npastel_durability:%s\r\n", shared_.persist.c_str(),
        shared_.pool_path.c_str(), shared_.durability.c_str());
    // 1 while the start's warm-up reads the index file: every command is served meanwhile (so
    // loading stays 0), but no checkpoint runs (docs/store.md).
    add("pastel_index_warming:%d\r\n", st.warming() ? 1 : 0);
    server::AppendInfo(metrics, server::Section::kPersistence, &out);
    if (pool.read_only()) {
      std::string why = pool.read_only_reason().ToString();
      std::replace_if(
          why.begin(), why.end(), [](char c) { return c == '\r' || c == '\n'; }, ' ');
      out += "pastel_read_only_reason:" + why + "\r\n";
    }
    add("pastel_recovery_ms:%.1f\r\n\r\n", st.start().open_ms);
  }
  if ((want & kInfoStats) != 0) {
    uint64_t errors = 0;
    for (size_t k = 0; k < kErrorKindCount; ++k) {
      errors += clients_.ErrorSum(k);
    }
    add("# Stats\r\ntotal_connections_received:%llu\r\ntotal_commands_processed:%llu\r\n",
        static_cast<unsigned long long>(clients_.connections_received()),
        static_cast<unsigned long long>(CommandsProcessed()));
    add("instantaneous_ops_per_sec:%llu\r\ntotal_net_input_bytes:%llu\r\n",
        static_cast<unsigned long long>(clients_.OpsPerSec()),
        static_cast<unsigned long long>(t.rx_bytes));
    add("rejected_connections:0\r\nexpired_keys:%llu\r\nevicted_keys:0\r\nkeyspace_hits:%llu\r\n"
        "keyspace_misses:%llu\r\npubsub_channels:%llu\r\npubsub_patterns:%llu\r\n"
        "pubsubshard_channels:0\r\ntotal_error_replies:%llu\r\n",
        static_cast<unsigned long long>(t.expired_keys),
        static_cast<unsigned long long>(t.keyspace_hits),
        static_cast<unsigned long long>(t.keyspace_misses),
        static_cast<unsigned long long>(clients_.pubsub().Channels(std::nullopt).size()),
        static_cast<unsigned long long>(clients_.pubsub().NumPat()),
        static_cast<unsigned long long>(errors));
    add("pastel_read_commands:%llu\r\npastel_write_commands:%llu\r\npastel_error_replies:%llu\r\n",
        static_cast<unsigned long long>(t.requests[static_cast<int>(CommandKind::kRead)]),
        static_cast<unsigned long long>(t.requests[static_cast<int>(CommandKind::kWrite)]),
        static_cast<unsigned long long>(t.responses_4xx + t.responses_5xx));
    server::AppendInfo(metrics, server::Section::kStats, &out);
    out += "\r\n";
  }
  if ((want & kInfoReplication) != 0) {
    add("# Replication\r\nrole:master\r\nconnected_slaves:0\r\n\r\n");
  }
  if ((want & kInfoCpu) != 0) {
    InfoCpu(&out);
  }
  if ((want & kInfoCommandStats) != 0) {
    InfoCommandStats(&out);
  }
  if ((want & kInfoErrorStats) != 0) {
    InfoErrorStats(&out);
  }
  if ((want & kInfoKeyspace) != 0) {
    add("# Keyspace\r\n");
    // (The hashes' fields are keys of the store, not the user's.)
    const uint64_t keys = UserKeys();
    if (keys > 0) {
      add("db0:keys=%llu,expires=%llu,avg_ttl=0\r\n", static_cast<unsigned long long>(keys),
          static_cast<unsigned long long>(st.expiring_keys()));
    }
  }
  Bulk(out);
}

void KvProtocol::InfoCpu(std::string* out) const {
  // As redis-server: the process, its children, and the thread answering ("main_thread": this
  // loop's).
  const auto seconds = [](const timeval& tv) {
    return static_cast<double>(tv.tv_sec) + static_cast<double>(tv.tv_usec) / 1e6;
  };
  rusage self{}, children{}, thread{};
  ::getrusage(RUSAGE_SELF, &self);
  ::getrusage(RUSAGE_CHILDREN, &children);
  ::getrusage(RUSAGE_THREAD, &thread);
  char buf[512];
  const int n = std::snprintf(
      buf, sizeof(buf),
      "# CPU\r\nused_cpu_sys:%.6f\r\nused_cpu_user:%.6f\r\nused_cpu_sys_children:%.6f\r\n"
      "used_cpu_user_children:%.6f\r\nused_cpu_sys_main_thread:%.6f\r\n"
      "used_cpu_user_main_thread:%.6f\r\n\r\n",
      seconds(self.ru_stime), seconds(self.ru_utime), seconds(children.ru_stime),
      seconds(children.ru_utime), seconds(thread.ru_stime), seconds(thread.ru_utime));
  out->append(buf, static_cast<size_t>(std::max(0, n)));
}

void KvProtocol::InfoCommandStats(std::string* out) const {
  *out += "# Commandstats\r\n";
  char buf[256];
  for (size_t slot = 0; slot < CommandSlotCount(); ++slot) {
    const KvClients::CommandTotals c = clients_.CommandSum(slot);
    if (c.calls == 0 && c.rejected == 0 && c.failed == 0) {
      continue;  // as redis-server: only the commands called
    }
    // The timed calls' time scaled to every call (one call in kTimedEvery is timed).
    const uint64_t usec = c.timed_calls == 0
                              ? 0
                              : static_cast<uint64_t>(static_cast<double>(c.nanos) / 1000.0 *
                                                      static_cast<double>(c.calls) /
                                                      static_cast<double>(c.timed_calls));
    const int n = std::snprintf(
        buf, sizeof(buf),
        "cmdstat_%s:calls=%llu,usec=%llu,usec_per_call=%.2f,rejected_calls=%llu,failed_calls=%llu"
        "\r\n",
        CommandSlotName(slot).c_str(), static_cast<unsigned long long>(c.calls),
        static_cast<unsigned long long>(usec),
        c.calls == 0 ? 0.0 : static_cast<double>(usec) / static_cast<double>(c.calls),
        static_cast<unsigned long long>(c.rejected), static_cast<unsigned long long>(c.failed));
    out->append(buf, static_cast<size_t>(std::max(0, n)));
  }
  *out += "\r\n";
}

void KvProtocol::InfoErrorStats(std::string* out) const {
  *out += "# Errorstats\r\n";
  for (size_t k = 0; k < kErrorKindCount; ++k) {
    if (const uint64_t n = clients_.ErrorSum(k); n > 0) {
      *out += "errorstat_" + std::string(kErrorKinds[k]) + ":count=" + std::to_string(n) + "\r\n";
    }
  }
  *out += "\r\n";
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
  } else if (Is(1, "info") && cmd_.argc == 2) {
    Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), Commands().size()));
    for (const CommandSpec& ci : Commands()) {
      entry(ci);  // no names: every command
    }
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
    CommandList();
    return;
  } else if (Is(1, "getkeys")) {
    CommandGetKeys();
    return;
  } else if (Is(1, "help")) {
    static constexpr std::string_view kHelp[] = {
        "COMMAND <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "(no subcommand)",
        "    Return details about all Redis commands.",
        "COUNT",
        "    Return the total number of commands in this Redis server.",
        "LIST",
        "    Return a list of all commands in this Redis server.",
        "INFO [<command-name> ...]",
        "    Return details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "DOCS [<command-name> ...]",
        "    Return documentation details about multiple Redis commands.",
        "    If no command names are given, documentation details for all",
        "    commands are returned.",
        "GETKEYS <full-command>",
        "    Return the keys from a full Redis command.",
        "GETKEYSANDFLAGS <full-command>",
        "    Return the keys and the access flags from a full Redis command.",
        "HELP",
        "    Prints this help.",
    };
    Lines(kHelp);
    return;
  } else {
    Text().resize(begin);
    Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try COMMAND HELP.");
    return;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::CommandList() {
  // COMMAND LIST [FILTERBY MODULE name | ACLCAT category | PATTERN pattern]: the commands and
  // their subcommands ("client|list"). No module is loaded and no ACL category kept here: those
  // filters match nothing.
  bool none = false;
  std::string pattern;  // "": no filter
  for (size_t i = 2; i < cmd_.argc; ++i) {
    if (!Is(i, "filterby") || cmd_.argc - 1 - i != 2) {
      Err(kSyntax);
      return;
    }
    if (Is(i + 1, "module") || Is(i + 1, "aclcat")) {
      none = true;
    } else if (Is(i + 1, "pattern")) {
      pattern = Lower(ArgView(i + 2, &tmp_));  // (redis-server matches without case)
    } else {
      Err(kSyntax);
      return;
    }
    i += 2;
  }
  std::vector<std::string> names;
  for (const CommandSpec& row : Commands()) {
    names.emplace_back(row.name);
    for (const SubcommandSpec& sub : row.subcommands) {
      names.push_back(std::string(row.name) + "|" + std::string(sub.name));
    }
  }
  std::erase_if(names, [&](const std::string& n) {
    return none || (!pattern.empty() && !GlobMatch(pattern, n));
  });
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), names.size()));
  for (const std::string& n : names) {
    Text().append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), n));
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::CommandGetKeys() {
  // COMMAND GETKEYS name arg...: the keys of that command from the table's key positions (of its
  // subcommand for a container), with redis-server's errors.
  const size_t argc = cmd_.argc - 2;  // the command's own
  const CommandSpec* row = FindCommand(ArgView(2, &tmp_));
  const SubcommandSpec* sub = nullptr;
  if (row != nullptr && !row->subcommands.empty() && argc >= 2) {
    sub = FindSubcommand(*row, ArgView(3, &tmp_));
    if (sub == nullptr) {
      row = nullptr;
    }
  }
  if (row == nullptr) {
    Err("ERR Invalid command specified");
    return;
  }
  const int arity = sub != nullptr ? sub->arity : row->arity;
  const int first = sub != nullptr ? sub->first_key : row->first_key;
  const int last_key = sub != nullptr ? sub->last_key : row->last_key;
  const int step = sub != nullptr ? sub->key_step : row->key_step;
  if (first == 0) {
    Err("ERR The command has no key arguments");
    return;
  }
  if ((arity > 0 && static_cast<size_t>(arity) != argc) ||
      (arity < 0 && argc < static_cast<size_t>(-arity))) {
    Err("ERR Invalid number of arguments specified for command");
    return;
  }
  const size_t last =
      last_key >= 0 ? static_cast<size_t>(last_key) : argc - static_cast<size_t>(-last_key);
  std::vector<size_t> keys;
  for (size_t i = static_cast<size_t>(first); i <= last && i < argc;
       i += static_cast<size_t>(step)) {
    keys.push_back(i + 2);
  }
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), keys.size()));
  for (const size_t i : keys) {
    const std::string_view k = ArgView(i, &tmp_);
    Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), k.size()));
    Text() += k;
    Text() += resp::kCrlf;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Config() {
  if (Is(1, "get")) {
    ConfigGet();
  } else if (Is(1, "set")) {
    ConfigSet();
  } else if (Is(1, "rewrite") && cmd_.argc == 2) {
    Err("ERR The server is running without a config file");
  } else if (Is(1, "help") && cmd_.argc == 2) {
    static constexpr std::string_view kHelp[] = {
        "CONFIG <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "GET <pattern>",
        "    Return parameters matching the glob-like <pattern> and their values.",
        "SET <directive> <value>",
        "    Set the configuration <directive> to <value>.",
        "REWRITE",
        "    Rewrite the configuration file.",
        "HELP",
        "    Prints this help.",
    };
    Lines(kHelp);
  } else {
    Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try CONFIG HELP.");
  }
}

namespace {

// The settings CONFIG knows: those CONFIG SET changes (KvConfig) and those fixed at start.
constexpr std::string_view kSettable[] = {"requirepass", "save", "appendonly", "appendfsync"};
constexpr std::string_view kFixed[] = {"databases", "maxmemory", "maxmemory-policy",
                                       "port",      "bind",      "proto-max-bulk-len"};

// redis-server's check of a `save` value: pairs of <seconds >= 1> <changes >= 0>, or nothing.
// The value as CONFIG GET reports it (the numbers separated by one space), or false.
bool NormalizeSave(std::string_view v, std::string* out) {
  std::vector<std::string> words;
  std::string w;
  for (const char ch : v) {
    if (ch == ' ' || ch == '\t') {
      if (!w.empty()) {
        words.push_back(std::move(w));
        w.clear();
      }
    } else {
      w += ch;
    }
  }
  if (!w.empty()) {
    words.push_back(std::move(w));
  }
  if (words.size() % 2 != 0) {
    return false;
  }
  out->clear();
  for (size_t i = 0; i < words.size(); ++i) {
    char* end = nullptr;
    const long long n = std::strtoll(words[i].c_str(), &end, 10);
    if (*end != '\0' || (i % 2 == 0 && n < 1) || (i % 2 == 1 && n < 0)) {
      return false;
    }
    *out += (i == 0 ? "" : " ") + std::to_string(n);
  }
  return true;
}

}  // namespace

void KvProtocol::ConfigGet() {
  if (cmd_.argc < 3) {
    Err("ERR wrong number of arguments for 'config|get' command");
    return;
  }
  const std::string port = std::to_string(shared_.port.load(std::memory_order_relaxed));
  const std::string maxmem =
      std::to_string(uint64_t{b_->pool().buffer_count()} * b_->pool().buffer_size());
  std::vector<std::pair<std::string_view, std::string>> params;
  {
    std::lock_guard lock(config_.mu);
    // "appendonly yes" by default because every write is durable before its reply.
    params = {
        {"requirepass", config_.requirepass},
        {"save", config_.save},
        {"appendonly", config_.appendonly},
        {"appendfsync", config_.appendfsync},
        {"databases", "1"},
        {"maxmemory", maxmem},
        {"maxmemory-policy", "noeviction"},
        {"port", port},
        {"bind", "127.0.0.1"},
        {"proto-max-bulk-len", std::to_string(limits_.max_bulk)},
    };
  }
  std::vector<bool> hit(params.size(), false);
  size_t hits = 0;
  for (size_t i = 2; i < cmd_.argc; ++i) {
    const std::string pat = Lower(ArgView(i, &tmp_));
    for (size_t k = 0; k < params.size(); ++k) {
      if (!hit[k] && GlobMatch(pat, params[k].first)) {
        hit[k] = true;
        ++hits;
      }
    }
  }
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), 2 * hits));
  for (size_t k = 0; k < params.size(); ++k) {
    if (!hit[k]) {
      continue;
    }
    for (std::string_view s : {params[k].first, std::string_view(params[k].second)}) {
      Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
      Text() += s;
      Text() += resp::kCrlf;
    }
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::ConfigSet() {
  if (cmd_.argc < 4) {
    Err("ERR wrong number of arguments for 'config|set' command");
    return;
  }
  if (cmd_.argc % 2 != 0) {
    Err(kSyntax);
    return;
  }
  // As redis-server: every name checked first (an unknown one reported before anything else),
  // then every value; all of them set, or none.
  const auto failed = [&](size_t i, std::string_view why) {
    Err("ERR CONFIG SET failed (possibly related to argument '" + Printable(args_[i].view) +
        "') - " + std::string(why));
  };
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    const std::string name = Lower(ArgView(i, &tmp_));
    if (std::find(std::begin(kSettable), std::end(kSettable), name) == std::end(kSettable) &&
        std::find(std::begin(kFixed), std::end(kFixed), name) == std::end(kFixed)) {
      Err("ERR Unknown option or number of arguments for CONFIG SET - '" +
          Printable(args_[i].view) + "'");
      return;
    }
  }
  std::vector<std::string> names;
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    std::string name = Lower(ArgView(i, &tmp_));
    if (std::find(std::begin(kFixed), std::end(kFixed), name) != std::end(kFixed)) {
      failed(i, "can't set immutable config");
      return;
    }
    if (std::find(names.begin(), names.end(), name) != names.end()) {
      failed(i, "duplicate parameter");
      return;
    }
    names.push_back(std::move(name));
  }
  std::vector<std::string> values;
  for (size_t i = 2; i < cmd_.argc; i += 2) {
    const std::string& name = names[(i - 2) / 2];
    std::string value(ArgView(i + 1, &tmp_));
    if (name == "save") {
      std::string normal;
      if (!NormalizeSave(value, &normal)) {
        failed(i, "Invalid save parameters");
        return;
      }
      value = std::move(normal);
    } else if (name == "appendonly") {
      value = Lower(value);
      if (value != "yes" && value != "no") {
        failed(i, "argument must be 'yes' or 'no'");
        return;
      }
    } else if (name == "appendfsync") {
      value = Lower(value);
      if (value != "everysec" && value != "always" && value != "no") {
        failed(i, "argument(s) must be one of the following: everysec, always, no");
        return;
      }
    }
    values.push_back(std::move(value));
  }
  for (size_t k = 0; k < names.size(); ++k) {
    if (names[k] == "requirepass") {
      config_.SetPassword(values[k]);
      ConnState().authenticated = 1;  // the connection that set it stays in
      continue;
    }
    std::lock_guard lock(config_.mu);
    (names[k] == "save"         ? config_.save
     : names[k] == "appendonly" ? config_.appendonly
                                : config_.appendfsync) = values[k];
  }
  Simple("OK");
}

namespace {

// redis-server's check of a client name (and of lib-name, lib-ver): printable ASCII, no spaces.
bool ValidClientName(std::string_view name) {
  for (const char ch : name) {
    if (ch < '!' || ch > '~') {
      return false;
    }
  }
  return true;
}

// A client type of CLIENT LIST TYPE and CLIENT KILL TYPE: 1 normal, 2 pubsub (subscribed), 0
// another redis-server knows (no client is of it here), -1 unknown.
int ClientType(std::string_view name) {
  const std::string t = Lower(name);
  if (t == "normal") {
    return 1;
  }
  if (t == "pubsub") {
    return 2;
  }
  return t == "slave" || t == "replica" || t == "master" ? 0 : -1;
}

}  // namespace

void KvProtocol::Client() {
  // Dispatch checked the subcommand's name and arity (commands.cc: kClientSubcommands).
  ClientEntry* self = ConnState().client;
  if (Is(1, "id")) {
    Int(static_cast<int64_t>(self != nullptr ? self->id : cmd_.conn->id));
  } else if (Is(1, "getname")) {
    if (self == nullptr || self->name.empty()) {  // (only this loop writes it)
      Null();
    } else {
      Bulk(self->name);
    }
  } else if (Is(1, "setname")) {
    ClientSetName(ArgView(2, &tmp_), &ClientEntry::name);
  } else if (Is(1, "setinfo")) {
    if (Is(2, "lib-name")) {
      ClientSetName(ArgView(3, &tmp_), &ClientEntry::lib_name);
    } else if (Is(2, "lib-ver")) {
      ClientSetName(ArgView(3, &tmp_), &ClientEntry::lib_ver);
    } else {
      Err("ERR Unrecognized option '" + Printable(args_[2].view) + "'");
    }
  } else if (Is(1, "info")) {
    std::string line;
    if (self != nullptr) {
      KvClients::AppendLine(*self, NowNs() / 1000000, &line);
    }
    Bulk(line);
  } else if (Is(1, "list")) {
    ClientList();
  } else if (Is(1, "kill")) {
    ClientKill();
  } else if (Is(1, "reply")) {
    ClientReply();
  } else if (Is(1, "help")) {
    static constexpr std::string_view kHelp[] = {
        "CLIENT <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CACHING (YES|NO)",
        "    Enable/disable tracking of the keys for next command in OPTIN/OPTOUT modes.",
        "GETREDIR",
        "    Return the client ID we are redirecting to when tracking is enabled.",
        "GETNAME",
        "    Return the name of the current connection.",
        "ID",
        "    Return the ID of the current connection.",
        "INFO",
        "    Return information about the current client connection.",
        "KILL <ip:port>",
        "    Kill connection made from <ip:port>.",
        "KILL <option> <value> [<option> <value> [...]]",
        "    Kill connections. Options are:",
        "    * ADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made from the specified address",
        "    * LADDR (<ip:port>|<unixsocket>:0)",
        "      Kill connections made to specified local address",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Kill connections by type.",
        "    * USER <username>",
        "      Kill connections authenticated by <username>.",
        "    * SKIPME (YES|NO)",
        "      Skip killing current connection (default: yes).",
        "LIST [options ...]",
        "    Return information about client connections. Options:",
        "    * TYPE (NORMAL|MASTER|REPLICA|PUBSUB)",
        "      Return clients of specified type.",
        "UNPAUSE",
        "    Stop the current client pause, resuming traffic.",
        "PAUSE <timeout> [WRITE|ALL]",
        "    Suspend all, or just write, clients for <timeout> milliseconds.",
        "REPLY (ON|OFF|SKIP)",
        "    Control the replies sent to the current connection.",
        "SETNAME <name>",
        "    Assign the name <name> to the current connection.",
        "UNBLOCK <clientid> [TIMEOUT|ERROR]",
        "    Unblock the specified blocked client.",
        "TRACKING (ON|OFF) [REDIRECT <id>] [BCAST] [PREFIX <prefix> [...]]",
        "         [OPTIN] [OPTOUT] [NOLOOP]",
        "    Control server assisted client side caching.",
        "TRACKINGINFO",
        "    Report tracking status for the current connection.",
        "NO-EVICT (ON|OFF)",
        "    Protect current client connection from eviction.",
        "HELP",
        "    Prints this help.",
    };
    Lines(kHelp);
  } else if (Is(1, "no-evict")) {
    // Nothing is evicted here: the setting is accepted and changes nothing.
    if (Is(2, "on") || Is(2, "off")) {
      Simple("OK");
    } else {
      Err(kSyntax);
    }
  } else if (Is(1, "tracking")) {
    if (cmd_.argc == 3 && Is(2, "off")) {
      Simple("OK");  // never on
    } else if (Is(2, "on")) {
      Err("ERR pastel-kv does not support client side caching (CLIENT TRACKING ON)");
    } else {
      Err(kSyntax);
    }
  } else if (Is(1, "trackinginfo")) {
    static constexpr std::string_view kOff =
        "*6\r\n$5\r\nflags\r\n*1\r\n$3\r\noff\r\n$8\r\nredirect\r\n:-1\r\n$8\r\nprefixes\r\n*0\r\n";
    b_->AnswerText(cmd_.conn->id, kOff, AnswerClass::kOk, cmd_.close);
  } else if (Is(1, "getredir")) {
    Int(-1);
  } else if (Is(1, "caching")) {
    Err("ERR CLIENT CACHING can be called only when the client is in tracking mode with OPTIN or "
        "OPTOUT mode enabled");
  } else if (Is(1, "unblock")) {
    // A client parked in a blocking pop (kv_lists.cc) is woken by its loop at its next turn and
    // answered as if its time were up (TIMEOUT, the default) or with -UNBLOCKED (ERROR).
    int64_t id = 0;
    if (cmd_.argc > 4) {
      Err("ERR unknown subcommand or wrong number of arguments for '" + Printable(args_[1].view) +
          "'. Try CLIENT HELP.");
    } else if (cmd_.argc == 4 && !Is(3, "timeout") && !Is(3, "error")) {
      Err("ERR CLIENT UNBLOCK reason should be TIMEOUT or ERROR");
    } else if (!ParseInt64(ArgView(2, &tmp_), &id)) {
      Err(kNotInteger);
    } else {
      const uint8_t how = cmd_.argc == 4 && Is(3, "error") ? 2 : 1;
      Int(id > 0 && clients_.Unblock(static_cast<uint64_t>(id), how) ? 1 : 0);
    }
  } else if (Is(1, "unpause")) {
    Simple("OK");  // nothing is ever paused
  } else {
    Err("ERR CLIENT " + Printable(args_[1].view) + " is not supported by pastel-kv");  // PAUSE
  }
}

void KvProtocol::ClientSetName(std::string_view name, std::string ClientEntry::*field) {
  if (!ValidClientName(name)) {
    Err(field == &ClientEntry::name
            ? std::string("ERR Client names cannot contain spaces, newlines or special characters.")
            : "ERR " + Printable(args_[2].view) +
                  " cannot contain spaces, newlines or special characters.");
    return;
  }
  if (ClientEntry* self = ConnState().client; self != nullptr) {
    clients_.SetField(self, field, name);
  }
  Simple("OK");
}

void KvProtocol::ClientList() {
  std::vector<uint64_t> ids;
  bool by_id = false;
  int type = 0;
  if (cmd_.argc == 4 && Is(2, "type")) {
    type = ClientType(ArgView(3, &tmp_));
    if (type < 0) {
      Err("ERR Unknown client type '" + Printable(args_[3].view) + "'");
      return;
    }
    by_id = type == 0;  // and no ids: none of them
  } else if (cmd_.argc > 3 && Is(2, "id")) {
    by_id = true;
    for (size_t i = 3; i < cmd_.argc; ++i) {
      int64_t id = 0;
      if (!ParseInt64(ArgView(i, &tmp_), &id)) {
        Err("ERR Invalid client ID");
        return;
      }
      if (id > 0) {
        ids.push_back(static_cast<uint64_t>(id));
      }
    }
  } else if (cmd_.argc != 2) {
    Err(kSyntax);
    return;
  }
  Bulk(clients_.List(by_id ? &ids : nullptr, NowNs() / 1000000, type));
}

void KvProtocol::ClientKill() {
  KvClients::KillFilter f;
  bool none = false;  // a filter no client here matches (a TYPE other than normal)
  if (cmd_.argc == 3) {
    f.addr = ArgView(2, &tmp_);  // the old form: CLIENT KILL ip:port, itself included
    f.skipme = false;
  } else {
    for (size_t i = 2; i < cmd_.argc; i += 2) {
      const bool more = cmd_.argc > i + 1;
      if (Is(i, "id") && more) {
        int64_t id = 0;
        if (!ParseInt64(ArgView(i + 1, &tmp_), &id) || id < 1) {
          Err("ERR client-id should be greater than 0");
          return;
        }
        f.id = static_cast<uint64_t>(id);
      } else if (Is(i, "type") && more) {
        const int type = ClientType(ArgView(i + 1, &tmp_));
        if (type < 0) {
          Err("ERR Unknown client type '" + Printable(args_[i + 1].view) + "'");
          return;
        }
        none = none || type == 0;
        f.type = type;
      } else if (Is(i, "addr") && more) {
        f.addr = ArgView(i + 1, &tmp_);
      } else if (Is(i, "laddr") && more) {
        f.laddr = ArgView(i + 1, &tmp_);
      } else if (Is(i, "user") && more) {
        if (ArgView(i + 1, &tmp_) != "default") {  // the only user
          Err("ERR No such user '" + Printable(args_[i + 1].view) + "'");
          return;
        }
      } else if (Is(i, "skipme") && more) {
        if (Is(i + 1, "yes")) {
          f.skipme = true;
        } else if (Is(i + 1, "no")) {
          f.skipme = false;
        } else {
          Err(kSyntax);
          return;
        }
      } else {
        Err(kSyntax);
        return;
      }
    }
  }
  bool self_killed = false;
  const size_t killed = none ? 0 : clients_.Kill(f, ConnState().client, &self_killed);
  if (self_killed) {
    cmd_.close = true;  // after this answer, as redis-server
  }
  // This loop's own victims are closed now; other loops close theirs at their next turn.
  if (clients_.KillsPending(loop_)) {
    clients_.TakeKills(loop_, [this](ConnId id) { b_->Close(id); });
  }
  if (cmd_.argc == 3) {
    if (killed == 0) {
      Err("ERR No such client");
    } else {
      Simple("OK");
    }
  } else {
    Int(static_cast<int64_t>(killed));
  }
}

void KvProtocol::ClientReply() {
  KvConnState& st = ConnState();
  if (Is(2, "on")) {
    st.reply_off = 0;
    st.skip_next = 0;
    b_->MuteAnswers(0);  // this answer is sent
    Simple("OK");
  } else if (Is(2, "off")) {
    st.reply_off = 1;  // (no answer)
  } else if (Is(2, "skip")) {
    if (st.reply_off == 0) {
      st.skip_next = 1;  // the next command's answers are dropped (Execute)
    }
  } else {
    Err(kSyntax);
  }
}

}  // namespace pastel::kv

namespace pastel::kv {

void KvProtocol::Time() {
  timeval tv{};
  ::gettimeofday(&tv, nullptr);
  const std::string sec = std::to_string(tv.tv_sec), usec = std::to_string(tv.tv_usec);
  const size_t begin = Text().size();
  Text() += "*2\r\n";
  for (const std::string& s : {sec, usec}) {
    Text().append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), s));
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Auth() {
  if (cmd_.argc > 3) {
    Err(kSyntax);
    return;
  }
  if (cmd_.argc == 2 && !config_.auth_required.load(std::memory_order_relaxed)) {
    Err("ERR AUTH <password> called without any password configured for the default user. Are "
        "you sure your configuration is correct?");
    return;
  }
  std::string user = cmd_.argc == 3 ? std::string(ArgView(1, &tmp_)) : "default";
  if (!PasswordOk(user, ArgView(cmd_.argc - 1, &tmp_))) {
    Err("WRONGPASS invalid username-password pair or user is disabled.");
    return;
  }
  ConnState().authenticated = 1;
  Simple("OK");
}

void KvProtocol::Hello() {
  if (cmd_.argc >= 2) {
    int64_t version = 0;
    if (!ParseInt64(ArgView(1, &tmp_), &version)) {
      Err("ERR Protocol version is not an integer or out of range");
      return;
    }
    if (version != 2) {  // RESP3 (HELLO 3) is not spoken here
      Err("NOPROTO unsupported protocol version");
      return;
    }
  }
  // The options take effect in their order, as redis-server's: an AUTH or a SETNAME before a
  // bad option stays done.
  ClientEntry* self = ConnState().client;
  for (size_t j = 2; j < cmd_.argc; ++j) {
    const size_t more = cmd_.argc - 1 - j;
    if (Is(j, "auth") && more >= 2) {
      if (!PasswordOk(std::string(ArgView(j + 1, &tmp_)), ArgView(j + 2, &tmp_key_))) {
        Err("WRONGPASS invalid username-password pair or user is disabled.");
        return;
      }
      ConnState().authenticated = 1;
      j += 2;
    } else if (Is(j, "setname") && more >= 1) {
      const std::string_view name = ArgView(j + 1, &tmp_);
      if (!ValidClientName(name)) {
        Err("ERR Client names cannot contain spaces, newlines or special characters.");
        return;
      }
      if (self != nullptr) {
        clients_.SetField(self, &ClientEntry::name, name);
      }
      ++j;
    } else {
      Err("ERR Syntax error in HELLO option '" + Printable(args_[j].view) + "'");
      return;
    }
  }
  if (!Authenticated()) {
    Err("NOAUTH HELLO must be called with the client already authenticated, otherwise the HELLO "
        "AUTH <user> <pass> option can be used to authenticate the client and select the RESP "
        "protocol version at the same time");
    return;
  }
  const size_t begin = Text().size();
  Text() += "*14\r\n";
  const auto bulk = [&](std::string_view s) {
    Text().append(buf_, resp::WriteBulkString(buf_, sizeof(buf_), s));
  };
  bulk("server");
  bulk("redis");
  bulk("version");
  bulk(kRedisVersion);
  bulk("proto");
  Text() += ":2\r\n";
  bulk("id");
  Text().append(
      buf_, resp::WriteInteger(buf_, sizeof(buf_),
                               static_cast<int64_t>(self != nullptr ? self->id : cmd_.conn->id)));
  bulk("mode");
  bulk("standalone");
  bulk("role");
  bulk("master");
  bulk("modules");
  Text() += "*0\r\n";
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

}  // namespace pastel::kv
