#pragma once
// pastel-kv's command table: one row per command, carrying its handler and flag bits (as valkey's
// commands.def), found with one case-insensitive hash probe. Adding a command is a row here (in
// commands.cc) and a KvProtocol member function in the file of its family:
//   kv_strings.cc   GET SET MGET MSET INCR DECR INCRBY DECRBY STRLEN APPEND GETRANGE SETRANGE
//                   GETSET SETNX MSETNX INCRBYFLOAT
//   kv_bits.cc      SETBIT GETBIT BITCOUNT
//   kv_keyspace.cc  DEL UNLINK EXISTS KEYS SCAN DBSIZE FLUSHALL FLUSHDB TYPE RENAME RENAMENX COPY
//                   RANDOMKEY TOUCH OBJECT
//   kv_expire.cc    SETEX PSETEX GETEX GETDEL EXPIRE PEXPIRE EXPIREAT PEXPIREAT TTL PTTL
//                   EXPIRETIME PEXPIRETIME PERSIST
//   kv_hashes.cc    HSET HSETNX HMSET HGET HMGET HDEL HLEN HEXISTS HSTRLEN HKEYS HVALS HGETALL
//                   HINCRBY HINCRBYFLOAT HRANDFIELD HSCAN
//   kv_multi.cc     MULTI EXEC DISCARD WATCH UNWATCH
//   kv_server.cc    PING ECHO SELECT QUIT INFO COMMAND CONFIG CLIENT TIME AUTH HELLO
// A row cannot lack its handler (KvProtocol::Execute calls it unconditionally, and
// commands_test walks the table).

#include <cstdint>
#include <span>
#include <string>
#include <string_view>

namespace pastel::kv {

class KvProtocol;

// Flag bits of a command, named as Redis' COMMAND reply names them.
enum CommandFlag : uint32_t {
  kCmdWrite = 1u << 0,     // changes keys: its answer goes out after the batch's commit
  kCmdReadOnly = 1u << 1,  // reads keys, changes none
  kCmdDenyOom = 1u << 2,   // may take pool buffers: refused when the pool is full
  kCmdAdmin = 1u << 3,
  kCmdFast = 1u << 4,  // O(1) or O(log n)
  kCmdLoading = 1u << 5,
  kCmdStale = 1u << 6,
  kCmdNoAuth = 1u << 7,  // runs on a connection that has not authenticated (AUTH, HELLO, QUIT)
};
inline constexpr uint32_t kCmdFlagCount = 8;
// The name of flag bit i (0 <= i < kCmdFlagCount), as COMMAND prints it.
std::string_view CommandFlagName(uint32_t bit);

// A subcommand of a container command (CLIENT LIST, CONFIG GET, OBJECT ENCODING, ...), as Redis
// 7's command table has it: its arity counts the container's name, its key positions index the
// whole command. The container's handler runs it; the dispatch checks the name and the arity
// first (`unknown subcommand`, `wrong number of arguments for 'client|list'`), and INFO
// commandstats counts it on its own ("client|list").
struct SubcommandSpec {
  std::string_view name;  // lower case, without the container's
  int arity;
  int first_key, last_key, key_step;

  bool ArityOk(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
};

struct CommandSpec {
  std::string_view name;  // lower case
  int arity;              // Redis' convention: argc exactly, or at least -arity when negative
  uint32_t flags;         // CommandFlag bits
  int first_key, last_key, key_step;  // Redis' key positions (last -1: through the last argument)
  void (KvProtocol::*handler)();
  // A container's subcommands (empty: a plain command).
  std::span<const SubcommandSpec> subcommands = {};

  bool ArityOk(size_t argc) const {
    return arity >= 0 ? argc == static_cast<size_t>(arity) : argc >= static_cast<size_t>(-arity);
  }
};

// Every row, in the table's order.
std::span<const CommandSpec> Commands();
// The row of `name` in any case, or null.
const CommandSpec* FindCommand(std::string_view name);
// The subcommand `name` (any case) of container `row`, or null.
const SubcommandSpec* FindSubcommand(const CommandSpec& row, std::string_view name);

// Command statistics (INFO commandstats, CLIENT LIST's cmd=) are kept per slot: one per row, in
// the table's order, then one per subcommand, container by container.
size_t CommandSlotCount();
// The slot of `row`, or of its subcommand `sub` (null: the row's own).
size_t CommandSlot(const CommandSpec& row, const SubcommandSpec* sub);
// The slot's name as Redis prints it: "get", "client|list".
std::string CommandSlotName(size_t slot);

}  // namespace pastel::kv
