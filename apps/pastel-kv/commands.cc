// The command table (commands.h): the rows, and the lookup by name.

#include "commands.h"

#include <array>
#include <cstddef>
#include <iterator>
#include <string>
#include <vector>

#include "kv_protocol.h"

namespace pastel::kv {
namespace {

constexpr uint32_t kW = kCmdWrite;
constexpr uint32_t kR = kCmdReadOnly;
constexpr uint32_t kM = kCmdDenyOom;
constexpr uint32_t kF = kCmdFast;
constexpr uint32_t kA = kCmdAdmin;
constexpr uint32_t kL = kCmdLoading | kCmdStale;
constexpr uint32_t kN = kCmdNoAuth;

// Slots of the lookup table: a power of two, at least twice the rows (short probes), and a row
// index + 1 fits its byte.
constexpr size_t kSlots = 512;

constexpr char Lower(char c) {
  return c >= 'A' && c <= 'Z' ? static_cast<char>(c - 'A' + 'a') : c;
}

// FNV-1a of the name's bytes in lower case.
constexpr uint64_t NameHash(std::string_view name) {
  uint64_t h = 1469598103934665603ull;
  for (const char c : name) {
    h = (h ^ static_cast<unsigned char>(Lower(c))) * 1099511628211ull;
  }
  return h;
}

bool SameName(std::string_view row, std::string_view name) {
  if (row.size() != name.size()) {
    return false;
  }
  for (size_t i = 0; i < row.size(); ++i) {
    if (row[i] != Lower(name[i])) {
      return false;
    }
  }
  return true;
}

// Subcommands of the containers (SubcommandSpec), as redis-server 7.0's table has them; CLIENT
// SETINFO is 7.2's.
constexpr SubcommandSpec kPubSubSubcommands[] = {
    {"channels", -2, 0, 0, 0}, {"help", 2, 0, 0, 0},           {"numpat", 2, 0, 0, 0},
    {"numsub", -2, 0, 0, 0},   {"shardchannels", -2, 0, 0, 0}, {"shardnumsub", -2, 0, 0, 0},
};

constexpr SubcommandSpec kClientSubcommands[] = {
    {"caching", 3, 0, 0, 0},  {"getname", 2, 0, 0, 0},   {"getredir", 2, 0, 0, 0},
    {"help", 2, 0, 0, 0},     {"id", 2, 0, 0, 0},        {"info", 2, 0, 0, 0},
    {"kill", -3, 0, 0, 0},    {"list", -2, 0, 0, 0},     {"no-evict", 3, 0, 0, 0},
    {"pause", -3, 0, 0, 0},   {"reply", 3, 0, 0, 0},     {"setinfo", 4, 0, 0, 0},
    {"setname", 3, 0, 0, 0},  {"tracking", -3, 0, 0, 0}, {"trackinginfo", 2, 0, 0, 0},
    {"unblock", -3, 0, 0, 0}, {"unpause", 2, 0, 0, 0},
};
constexpr SubcommandSpec kCommandSubcommands[] = {
    {"count", 2, 0, 0, 0}, {"docs", -2, 0, 0, 0}, {"getkeys", -4, 0, 0, 0},
    {"help", 2, 0, 0, 0},  {"info", -2, 0, 0, 0}, {"list", -2, 0, 0, 0},
};
constexpr SubcommandSpec kConfigSubcommands[] = {
    {"get", -3, 0, 0, 0},
    {"help", 2, 0, 0, 0},
    {"rewrite", 2, 0, 0, 0},
    {"set", -4, 0, 0, 0},
};
constexpr SubcommandSpec kObjectSubcommands[] = {
    {"encoding", 3, 2, 2, 1}, {"freq", 3, 2, 2, 1},     {"help", 2, 0, 0, 0},
    {"idletime", 3, 2, 2, 1}, {"refcount", 3, 2, 2, 1},
};

}  // namespace

std::string_view CommandFlagName(uint32_t bit) {
  static constexpr std::string_view kNames[kCmdFlagCount] = {
      "write", "readonly", "denyoom", "admin", "fast", "loading", "stale", "no_auth"};
  return bit < kCmdFlagCount ? kNames[bit] : std::string_view();
}

// A friend of KvProtocol: the rows name its private handlers.
std::span<const CommandSpec> Commands() {
  static constexpr CommandSpec kTable[] = {
      // Strings (kv_strings.cc).
      {"get", 2, kR | kF, 1, 1, 1, &KvProtocol::Get},
      {"set", -3, kW | kM, 1, 1, 1, &KvProtocol::Set},
      {"mget", -2, kR | kF, 1, -1, 1, &KvProtocol::MGet},
      {"mset", -3, kW | kM, 1, -1, 2, &KvProtocol::MSet},
      {"incr", 2, kW | kM | kF, 1, 1, 1, &KvProtocol::Incr},
      {"decr", 2, kW | kM | kF, 1, 1, 1, &KvProtocol::Decr},
      {"incrby", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::IncrBy},
      {"decrby", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::DecrBy},
      {"strlen", 2, kR | kF, 1, 1, 1, &KvProtocol::Strlen},
      {"append", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::Append},
      {"getrange", 4, kR, 1, 1, 1, &KvProtocol::GetRange},
      {"setrange", 4, kW | kM, 1, 1, 1, &KvProtocol::SetRange},
      {"getset", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::GetSet},
      {"setnx", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::SetNx},
      {"msetnx", -3, kW | kM, 1, -1, 2, &KvProtocol::MSetNx},
      {"incrbyfloat", 3, kW | kM | kF, 1, 1, 1, &KvProtocol::IncrByFloat},
      // Bits (kv_bits.cc).
      {"setbit", 4, kW | kM, 1, 1, 1, &KvProtocol::SetBit},
      {"getbit", 3, kR | kF, 1, 1, 1, &KvProtocol::GetBit},
      {"bitcount", -2, kR, 1, 1, 1, &KvProtocol::BitCount},
      // Keyspace (kv_keyspace.cc).
      {"del", -2, kW, 1, -1, 1, &KvProtocol::Del},
      {"unlink", -2, kW | kF, 1, -1, 1, &KvProtocol::Del},
      {"exists", -2, kR | kF, 1, -1, 1, &KvProtocol::Exists},
      {"keys", 2, kR, 0, 0, 0, &KvProtocol::Keys},
      {"scan", -2, kR, 0, 0, 0, &KvProtocol::Scan},
      {"dbsize", 1, kR | kF, 0, 0, 0, &KvProtocol::DbSize},
      {"flushall", -1, kW, 0, 0, 0, &KvProtocol::FlushAll},
      {"flushdb", -1, kW, 0, 0, 0, &KvProtocol::FlushAll},
      {"type", 2, kR | kF, 1, 1, 1, &KvProtocol::Type},
      {"rename", 3, kW, 1, 2, 1, &KvProtocol::Rename},
      {"renamenx", 3, kW | kF, 1, 2, 1, &KvProtocol::RenameNx},
      {"copy", -3, kW | kM, 1, 2, 1, &KvProtocol::Copy},
      {"randomkey", 1, kR, 0, 0, 0, &KvProtocol::RandomKey},
      {"touch", -2, kR | kF, 1, -1, 1, &KvProtocol::Touch},
      {"object", -2, kR, 0, 0, 0, &KvProtocol::Object, kObjectSubcommands},
      // Expiry (kv_expire.cc).
      {"setex", 4, kW | kM, 1, 1, 1, &KvProtocol::SetEx},
      {"psetex", 4, kW | kM, 1, 1, 1, &KvProtocol::PSetEx},
      {"getex", -2, kW | kF, 1, 1, 1, &KvProtocol::GetEx},
      {"getdel", 2, kW | kF, 1, 1, 1, &KvProtocol::GetDel},
      {"expire", -3, kW | kF, 1, 1, 1, &KvProtocol::Expire},
      {"pexpire", -3, kW | kF, 1, 1, 1, &KvProtocol::Expire},
      {"expireat", -3, kW | kF, 1, 1, 1, &KvProtocol::Expire},
      {"pexpireat", -3, kW | kF, 1, 1, 1, &KvProtocol::Expire},
      {"ttl", 2, kR | kF, 1, 1, 1, &KvProtocol::Ttl},
      {"pttl", 2, kR | kF, 1, 1, 1, &KvProtocol::Ttl},
      {"expiretime", 2, kR | kF, 1, 1, 1, &KvProtocol::Ttl},
      {"pexpiretime", 2, kR | kF, 1, 1, 1, &KvProtocol::Ttl},
      {"persist", 2, kW | kF, 1, 1, 1, &KvProtocol::Persist},
      // Hashes (kv_hashes.cc).
      {"hset", -4, kW | kM | kF, 1, 1, 1, &KvProtocol::HSet},
      {"hsetnx", 4, kW | kM | kF, 1, 1, 1, &KvProtocol::HSetNx},
      {"hmset", -4, kW | kM | kF, 1, 1, 1, &KvProtocol::HMSet},
      {"hget", 3, kR | kF, 1, 1, 1, &KvProtocol::HGet},
      {"hmget", -3, kR | kF, 1, 1, 1, &KvProtocol::HMGet},
      {"hdel", -3, kW | kF, 1, 1, 1, &KvProtocol::HDel},
      {"hlen", 2, kR | kF, 1, 1, 1, &KvProtocol::HLen},
      {"hexists", 3, kR | kF, 1, 1, 1, &KvProtocol::HExists},
      {"hstrlen", 3, kR | kF, 1, 1, 1, &KvProtocol::HStrlen},
      {"hkeys", 2, kR, 1, 1, 1, &KvProtocol::HKeys},
      {"hvals", 2, kR, 1, 1, 1, &KvProtocol::HVals},
      {"hgetall", 2, kR, 1, 1, 1, &KvProtocol::HGetAll},
      {"hincrby", 4, kW | kM | kF, 1, 1, 1, &KvProtocol::HIncrBy},
      {"hincrbyfloat", 4, kW | kM | kF, 1, 1, 1, &KvProtocol::HIncrByFloat},
      {"hrandfield", -2, kR, 1, 1, 1, &KvProtocol::HRandField},
      {"hscan", -3, kR, 1, 1, 1, &KvProtocol::HScan},
      // Publish/subscribe (kv_pubsub.cc).
      {"subscribe", -2, kL, 0, 0, 0, &KvProtocol::Subscribe},
      {"psubscribe", -2, kL, 0, 0, 0, &KvProtocol::PSubscribe},
      {"unsubscribe", -1, kL, 0, 0, 0, &KvProtocol::Unsubscribe},
      {"punsubscribe", -1, kL, 0, 0, 0, &KvProtocol::PUnsubscribe},
      {"publish", 3, kL | kF, 0, 0, 0, &KvProtocol::Publish},
      {"pubsub", -2, kL, 0, 0, 0, &KvProtocol::PubSub, kPubSubSubcommands},
      {"reset", 1, kL | kF | kN, 0, 0, 0, &KvProtocol::Reset},
      // Sets (kv_sets.cc).
      {"sadd", -3, kW | kM | kF, 1, 1, 1, &KvProtocol::SAdd},
      {"srem", -3, kW | kF, 1, 1, 1, &KvProtocol::SRem},
      {"spop", -2, kW | kF, 1, 1, 1, &KvProtocol::SPop},
      {"smove", 4, kW | kF, 1, 2, 1, &KvProtocol::SMove},
      {"scard", 2, kR | kF, 1, 1, 1, &KvProtocol::SCard},
      {"sismember", 3, kR | kF, 1, 1, 1, &KvProtocol::SIsMember},
      {"smismember", -3, kR | kF, 1, 1, 1, &KvProtocol::SMIsMember},
      {"smembers", 2, kR, 1, 1, 1, &KvProtocol::SMembers},
      {"srandmember", -2, kR, 1, 1, 1, &KvProtocol::SRandMember},
      {"sscan", -3, kR, 1, 1, 1, &KvProtocol::SScan},
      {"sinter", -2, kR, 1, -1, 1, &KvProtocol::SInter},
      {"sunion", -2, kR, 1, -1, 1, &KvProtocol::SUnion},
      {"sdiff", -2, kR, 1, -1, 1, &KvProtocol::SDiff},
      {"sinterstore", -3, kW | kM, 1, -1, 1, &KvProtocol::SInterStore},
      {"sunionstore", -3, kW | kM, 1, -1, 1, &KvProtocol::SUnionStore},
      {"sdiffstore", -3, kW | kM, 1, -1, 1, &KvProtocol::SDiffStore},
      {"sintercard", -3, kR, 0, 0, 0, &KvProtocol::SInterCard},
      // Lists (kv_lists.cc).
      {"lpush", -3, kW | kM | kF, 1, 1, 1, &KvProtocol::LPush},
      {"rpush", -3, kW | kM | kF, 1, 1, 1, &KvProtocol::RPush},
      {"lpushx", -3, kW | kM | kF, 1, 1, 1, &KvProtocol::LPushX},
      {"rpushx", -3, kW | kM | kF, 1, 1, 1, &KvProtocol::RPushX},
      {"lpop", -2, kW | kF, 1, 1, 1, &KvProtocol::LPop},
      {"rpop", -2, kW | kF, 1, 1, 1, &KvProtocol::RPop},
      {"lrange", 4, kR, 1, 1, 1, &KvProtocol::LRange},
      {"llen", 2, kR | kF, 1, 1, 1, &KvProtocol::LLen},
      {"lindex", 3, kR, 1, 1, 1, &KvProtocol::LIndex},
      {"lset", 4, kW | kM, 1, 1, 1, &KvProtocol::LSet},
      {"linsert", 5, kW | kM, 1, 1, 1, &KvProtocol::LInsert},
      {"lrem", 4, kW, 1, 1, 1, &KvProtocol::LRem},
      {"ltrim", 4, kW, 1, 1, 1, &KvProtocol::LTrim},
      {"lpos", -3, kR, 1, 1, 1, &KvProtocol::LPos},
      {"lmove", 5, kW | kM, 1, 2, 1, &KvProtocol::LMove},
      {"rpoplpush", 3, kW | kM, 1, 2, 1, &KvProtocol::RPopLPush},
      {"blpop", -3, kW, 1, -2, 1, &KvProtocol::BLPop},
      {"brpop", -3, kW, 1, -2, 1, &KvProtocol::BRPop},
      {"blmove", 6, kW | kM, 1, 2, 1, &KvProtocol::BLMove},
      {"brpoplpush", 4, kW | kM, 1, 2, 1, &KvProtocol::BRPopLPush},
      // Sorted sets (kv_zsets.cc).
      {"zadd", -4, kW | kM | kF, 1, 1, 1, &KvProtocol::ZAdd},
      {"zincrby", 4, kW | kM | kF, 1, 1, 1, &KvProtocol::ZIncrBy},
      {"zrem", -3, kW | kF, 1, 1, 1, &KvProtocol::ZRem},
      {"zremrangebyscore", 4, kW, 1, 1, 1, &KvProtocol::ZRemRangeByScore},
      {"zremrangebyrank", 4, kW, 1, 1, 1, &KvProtocol::ZRemRangeByRank},
      {"zremrangebylex", 4, kW, 1, 1, 1, &KvProtocol::ZRemRangeByLex},
      {"zunionstore", -4, kW | kM, 1, 1, 1, &KvProtocol::ZUnionStore},
      {"zinterstore", -4, kW | kM, 1, 1, 1, &KvProtocol::ZInterStore},
      {"zrange", -4, kR, 1, 1, 1, &KvProtocol::ZRange},
      {"zrangestore", -5, kW | kM, 1, 2, 1, &KvProtocol::ZRangeStore},
      {"zrangebyscore", -4, kR, 1, 1, 1, &KvProtocol::ZRangeByScore},
      {"zrevrangebyscore", -4, kR, 1, 1, 1, &KvProtocol::ZRevRangeByScore},
      {"zrangebylex", -4, kR, 1, 1, 1, &KvProtocol::ZRangeByLex},
      {"zrevrangebylex", -4, kR, 1, 1, 1, &KvProtocol::ZRevRangeByLex},
      {"zcount", 4, kR | kF, 1, 1, 1, &KvProtocol::ZCount},
      {"zlexcount", 4, kR | kF, 1, 1, 1, &KvProtocol::ZLexCount},
      {"zrevrange", -4, kR, 1, 1, 1, &KvProtocol::ZRevRange},
      {"zcard", 2, kR | kF, 1, 1, 1, &KvProtocol::ZCard},
      {"zscore", 3, kR | kF, 1, 1, 1, &KvProtocol::ZScore},
      {"zmscore", -3, kR | kF, 1, 1, 1, &KvProtocol::ZMScore},
      {"zrank", 3, kR | kF, 1, 1, 1, &KvProtocol::ZRank},
      {"zrevrank", 3, kR | kF, 1, 1, 1, &KvProtocol::ZRevRank},
      {"zscan", -3, kR, 1, 1, 1, &KvProtocol::ZScan},
      {"zpopmin", -2, kW | kF, 1, 1, 1, &KvProtocol::ZPopMin},
      {"zpopmax", -2, kW | kF, 1, 1, 1, &KvProtocol::ZPopMax},
      {"bzpopmin", -3, kW | kF, 1, -2, 1, &KvProtocol::BZPopMin},
      {"bzpopmax", -3, kW | kF, 1, -2, 1, &KvProtocol::BZPopMax},
      // Transactions (kv_multi.cc).
      {"multi", 1, kL | kF, 0, 0, 0, &KvProtocol::Multi},
      {"exec", 1, kL, 0, 0, 0, &KvProtocol::Exec},
      {"discard", 1, kL | kF, 0, 0, 0, &KvProtocol::Discard},
      {"watch", -2, kL | kF, 1, -1, 1, &KvProtocol::Watch},
      {"unwatch", 1, kL | kF, 0, 0, 0, &KvProtocol::Unwatch},
      // Server and connection (kv_server.cc).
      {"ping", -1, kF, 0, 0, 0, &KvProtocol::Ping},
      {"echo", 2, kF, 0, 0, 0, &KvProtocol::Echo},
      {"select", 2, kL | kF, 0, 0, 0, &KvProtocol::Select},
      {"quit", -1, kF | kN, 0, 0, 0, &KvProtocol::Quit},
      {"info", -1, kL, 0, 0, 0, &KvProtocol::Info},
      {"command", -1, kL, 0, 0, 0, &KvProtocol::CommandCmd, kCommandSubcommands},
      {"config", -2, kA | kL, 0, 0, 0, &KvProtocol::Config, kConfigSubcommands},
      {"client", -2, kA | kL, 0, 0, 0, &KvProtocol::Client, kClientSubcommands},
      {"time", 1, kL | kF, 0, 0, 0, &KvProtocol::Time},
      {"auth", -2, kF | kL | kN, 0, 0, 0, &KvProtocol::Auth},
      {"hello", -1, kF | kL | kN, 0, 0, 0, &KvProtocol::Hello},
  };
  static_assert(std::size(kTable) * 2 <= kSlots && std::size(kTable) < 255);
  return kTable;
}

const SubcommandSpec* FindSubcommand(const CommandSpec& row, std::string_view name) {
  for (const SubcommandSpec& sub : row.subcommands) {
    if (SameName(sub.name, name)) {
      return &sub;
    }
  }
  return nullptr;
}

namespace {

// The first slot of each row's subcommands (CommandSlot), built once.
const std::vector<size_t>& SubcommandBase() {
  static const std::vector<size_t> base = [] {
    const std::span<const CommandSpec> rows = Commands();
    std::vector<size_t> b(rows.size() + 1);
    size_t next = rows.size();
    for (size_t r = 0; r < rows.size(); ++r) {
      b[r] = next;
      next += rows[r].subcommands.size();
    }
    b[rows.size()] = next;  // the count of slots
    return b;
  }();
  return base;
}

}  // namespace

size_t CommandSlotCount() {
  return SubcommandBase().back();
}

size_t CommandSlot(const CommandSpec& row, const SubcommandSpec* sub) {
  const size_t r = static_cast<size_t>(&row - Commands().data());
  return sub == nullptr ? r
                        : SubcommandBase()[r] + static_cast<size_t>(sub - row.subcommands.data());
}

std::string CommandSlotName(size_t slot) {
  const std::span<const CommandSpec> rows = Commands();
  if (slot < rows.size()) {
    return std::string(rows[slot].name);
  }
  const std::vector<size_t>& base = SubcommandBase();
  for (size_t r = 0; r < rows.size(); ++r) {
    if (slot >= base[r] && slot < base[r] + rows[r].subcommands.size()) {
      return std::string(rows[r].name) + "|" +
             std::string(rows[r].subcommands[slot - base[r]].name);
    }
  }
  return std::string();
}

const CommandSpec* FindCommand(std::string_view name) {
  // Open addressing over the rows' name hashes, built once: a lookup hashes the name and compares
  // it with the one row (or, on a collision, the few rows) it probes.
  static const std::array<uint8_t, kSlots> slots = [] {
    std::array<uint8_t, kSlots> s{};  // row index + 1; 0: empty
    const std::span<const CommandSpec> rows = Commands();
    for (size_t r = 0; r < rows.size(); ++r) {
      size_t i = NameHash(rows[r].name) & (kSlots - 1);
      while (s[i] != 0) {
        i = (i + 1) & (kSlots - 1);
      }
      s[i] = static_cast<uint8_t>(r + 1);
    }
    return s;
  }();
  const std::span<const CommandSpec> rows = Commands();
  for (size_t i = NameHash(name) & (kSlots - 1); slots[i] != 0; i = (i + 1) & (kSlots - 1)) {
    const CommandSpec& row = rows[slots[i] - 1];
    if (SameName(row.name, name)) {
      return &row;
    }
  }
  return nullptr;
}

}  // namespace pastel::kv
