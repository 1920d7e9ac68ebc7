// pastel-kv's server and connection commands: PING ECHO SELECT QUIT INFO COMMAND CONFIG CLIENT
// TIME AUTH HELLO.

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
    add("# Server\r\nredis_version:%.*s\r\npastel_version:0.1.0\r\nredis_mode:standalone\r\n",
        static_cast<int>(kRedisVersion.size()), kRedisVersion.data());
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
    add("expired_keys:%llu\r\n", static_cast<unsigned long long>(t.expired_keys));
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
      add("db0:keys=%llu,expires=%llu,avg_ttl=0\r\n",
          static_cast<unsigned long long>(st.live_keys()),
          static_cast<unsigned long long>(st.expiring_keys()));
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

std::string Lower(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  }
  return out;
}

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
  size_t auth = 0;  // the argument index of AUTH's user, or 0
  for (size_t j = 2; j < cmd_.argc; ++j) {
    const size_t more = cmd_.argc - 1 - j;
    if (Is(j, "auth") && more >= 2) {
      auth = j + 1;
      j += 2;
    } else if (Is(j, "setname") && more >= 1) {
      for (const char ch : ArgView(j + 1, &tmp_)) {
        if (ch < '!' || ch > '~') {
          Err("ERR Client names cannot contain spaces, newlines or special characters.");
          return;
        }
      }
      ++j;
    } else {
      Err("ERR Syntax error in HELLO option '" + Printable(args_[j].view) + "'");
      return;
    }
  }
  if (auth != 0) {
    if (!PasswordOk(std::string(ArgView(auth, &tmp_)), ArgView(auth + 1, &tmp_key_))) {
      Err("WRONGPASS invalid username-password pair or user is disabled.");
      return;
    }
    ConnState().authenticated = 1;
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
  Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(cmd_.conn->id)));
  bulk("mode");
  bulk("standalone");
  bulk("role");
  bulk("master");
  bulk("modules");
  Text() += "*0\r\n";
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

}  // namespace pastel::kv
