#pragma once
// pastel-kv's protocol: Redis (RESP2) over the store's loop (pastel/store.h), which owns the
// connections, the group commit, the answers' order and checkpoints. A KvProtocol only parses
// commands and renders answers, through the Batch handle of the Parse call it is in.
//
// A command is found in the command table (commands.h: name, arity, flag bits, handler) and its
// handler, a member function in the file of its family, runs it.
//
// Commands are parsed in place in the receive buffers (resp::ParseCommand); a SET keeps the
// value's buffers and logs them, and its +OK (like every write's answer) goes out only after the
// batch's fence. GET sends the value straight from the pool buffers it lies in. The commands, the
// answers and what differs from redis-server are in docs/kv.md.
//
// Threads: a KvProtocol belongs to its loop's thread; the Server (store, counters) is shared.

#include <cstdint>
#include <set>
#include <span>
#include <string>
#include <vector>

#include "commands.h"
#include "pastel/pool.h"
#include "pastel/resp.h"
#include "pastel/server.h"
#include "pastel/store.h"

namespace pastel::kv {

using store::AnswerClass;
using store::Conn;
using store::Value;

// requests[] of store::LoopCounters, by kind of command.
enum class CommandKind : uint8_t { kRead = 0, kWrite = 1, kOther = 2, kError = 3 };

class KvProtocol final : public store::Protocol {
 public:
  KvProtocol(server::Server& shared, const resp::Limits& limits);

  void Parse(store::Batch& b, Conn& c) override;
  void OnTimeout(store::Batch& b, Conn& c) override;

 private:
  struct Command {
    Conn* conn;
    size_t argc;
    bool close;  // QUIT: close after the answer
  };

  // The unconsumed bytes of c as segments for the parser (the first one from front_off).
  void Segments(const Conn& c);
  // Runs one command through the command table; returns its kind for the counters.
  CommandKind Execute(size_t argc);
  // Argument i as one view (in place, in the parser's scratch, or gathered into `tmp`).
  std::string_view ArgView(size_t i, std::string* tmp) const;
  // The extents of argument i in c's receive buffers.
  void ArgExtents(const Conn& c, size_t i, std::vector<Extent>* out) const;
  bool Is(size_t i, std::string_view name) const {
    return resp::EqualsIgnoreCase(args_[i].view, name);
  }

  // Answers.
  void Simple(std::string_view s);  // "+s"
  void Err(std::string_view message);
  void Int(int64_t v);
  void Bulk(std::string_view s);
  void Null();
  void ArrayHeader(uint64_t n);
  void WrongArity();
  void Refused(store::WriteOutcome w);
  // The answer `ok` to the writes queued for this command, after the batch's fence.
  void WriteOk(std::string_view ok);
  void BulkValue(const Value& v);  // takes over v's references

  // The commands: one member function per row of the command table (commands.h), in the file of
  // its family. Each one answers exactly once (or, for a write, queues its answer with WriteOk).
  friend std::span<const CommandSpec> Commands();
  // kv_strings.cc
  void Get();
  void Set();
  void MGet();
  void MSet();
  void Incr();
  void Decr();
  void IncrBy();
  void DecrBy();
  void Strlen();
  void Append();
  // kv_keyspace.cc
  void Del();
  void Exists();
  void Keys();
  void Scan();
  void DbSize();
  void FlushAll();  // FLUSHALL and FLUSHDB
  void Type();
  void Ttl();  // TTL and PTTL
  // kv_server.cc
  void Ping();
  void Echo();
  void Select();
  void Quit();
  void Info();
  void CommandCmd();
  void Config();
  void Client();

  // INCR, DECR, INCRBY, DECRBY: adds sign * (1, or argument 2 when `from_arg`).
  void AddTo(int64_t sign, bool from_arg);
  // The live keys matching `pattern` as this loop sees them (its batch's writes included).
  void LiveKeys(std::string_view pattern, std::set<std::string>* keys) const;
  // KEYS' answer (or SCAN's, with the cursor 0 before it).
  void AnswerKeys(const std::set<std::string>& keys, bool scan);
  // Reads a whole value (a small one: INCR) into `out`; false when too long.
  bool ReadValue(const Value& v, size_t max, std::string* out) const;
  bool KeyOk(size_t i);

  // The batch of the Parse (or OnTimeout) call running: every command reads, writes and answers
  // through it.
  std::string& Text() { return b_->text(); }
  store::Batch* b_ = nullptr;
  server::Server& shared_;
  resp::Limits limits_;
  Command cmd_{};
  std::vector<std::string_view> segments_;
  std::vector<resp::Arg> args_;
  std::vector<resp::Piece> pieces_;
  std::vector<char> scratch_;
  std::string tmp_key_;
  std::string tmp_;
  std::vector<Extent> body_;
  char buf_[128];
};

// Redis-style glob match (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), as KEYS and SCAN MATCH use it.
bool GlobMatch(std::string_view pattern, std::string_view s);

}  // namespace pastel::kv
