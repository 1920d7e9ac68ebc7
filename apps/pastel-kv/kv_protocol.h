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
// Connection state: whether a connection authenticated (AUTH, HELLO ... AUTH) and its CLIENT
// REPLY mode are kept in its Conn::progress (KvConnState), so they live and die with the
// connection, with the address of its entry in the server's registry of clients (KvClients:
// CLIENT LIST, KILL, names), registered when it opens and freed when it closes (OnOpen, OnClose).
//
// Threads: a KvProtocol belongs to its loop's thread; the Server (store, counters), the KvConfig
// and the KvClients are shared. A CLIENT KILL of another loop's connection reaches that loop
// through KvClients and is carried out by it at its next turn (OnTurn).

#include <atomic>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <set>
#include <span>
#include <string>
#include <type_traits>
#include <unordered_map>
#include <vector>

#include "commands.h"
#include "kv_clients.h"
#include "kv_hashes.h"
#include "kv_lists.h"
#include "kv_multi.h"
#include "kv_pubsub.h"
#include "kv_util.h"
#include "kv_zsets.h"
#include "pastel/pool.h"
#include "pastel/resp.h"
#include "pastel/server.h"
#include "pastel/store.h"

namespace pastel::kv {

using store::AnswerClass;
using store::Conn;
using store::Value;

// The settings CONFIG SET changes, shared by every loop's protocol (main owns it). The password
// is read and written under `mu`; `auth_required` says whether it is non-empty without the lock.
struct KvConfig {
  std::mutex mu;
  std::string requirepass;  // "": no authentication (--requirepass, --requirepass-file)
  std::atomic<bool> auth_required{false};
  // Accepted and reported back for the clients that set them; they change nothing: every write
  // is durable before its reply whatever they say (--persist is fixed at start).
  std::string save;
  std::string appendonly = "yes";
  std::string appendfsync = "always";

  void SetPassword(std::string pw) {
    std::lock_guard lock(mu);
    requirepass = std::move(pw);
    auth_required.store(!requirepass.empty(), std::memory_order_relaxed);
  }
};

struct BlockState;

// What pastel-kv keeps of a connection, in its Conn::progress (all zeros: a new connection).
struct KvConnState {
  uint8_t authenticated;  // AUTH (or HELLO AUTH) succeeded on this connection
  // CLIENT (kv_server.cc): the answers' mode, and the registry's entry.
  uint8_t reply_off;    // CLIENT REPLY OFF: no answers until CLIENT REPLY ON
  uint8_t skip_next;    // CLIENT REPLY SKIP: the next command's answers are dropped
  ClientEntry* client;  // its entry in KvClients (null: not registered)
  // Its transaction (kv_multi.cc): made at its first MULTI or WATCH, freed when it closes.
  MultiState* multi;
  // Its wait (kv_lists.cc): made when it first blocks, freed when it closes.
  BlockState* block;
  // Its subscriptions (kv_pubsub.cc): made at its first SUBSCRIBE, freed when it closes. While
  // it has any, only the commands of subscribed mode run (RESP2).
  PubSubState* pubsub;
};
static_assert(sizeof(KvConnState) <= sizeof(Conn::progress));
static_assert(std::is_trivially_copyable_v<KvConnState>);
inline KvConnState& StateOf(Conn& c) {
  return *reinterpret_cast<KvConnState*>(c.progress);
}

// A connection parked (store::Batch::Park) with its command unconsumed (kv_lists.cc): a blocking
// pop (BLPOP BRPOP BLMOVE BRPOPLPUSH) waiting for an item, or a list write waiting for another
// loop's writes of the list to be applied (`owner_wait`).
struct BlockState {
  enum State : uint8_t {
    kIdle,     // not waiting
    kWaiting,  // parked
    kServed,   // a push served it (its answer is queued): its command is consumed unanswered
    kRetry,    // woken to run its command again (an item may be there, or the time is up)
  };
  ConnId conn = 0;
  ClientEntry* client = nullptr;  // its registry entry (CLIENT UNBLOCK), when registered
  State state = kIdle;
  bool owner_wait = false;
  uint8_t forced = 0;       // CLIENT UNBLOCK ended the wait: 1 as a timeout, 2 as an error
  uint64_t seq = 0;         // the order in which the loop's clients blocked
  int64_t deadline_ms = 0;  // the steady clock's ms when it times out (0: never)
  std::vector<std::string> keys;
  // What a push serving it does: pop from the left or right; BLMOVE and BRPOPLPUSH also push
  // to `dest` (`move`), at its left or right.
  bool left = true;
  bool move = false;
  bool to_left = true;
  std::string dest;
  bool zset = false;  // BZPOPMIN (`left`) or BZPOPMAX: a sorted set's member, not a list's item
};

// requests[] of store::LoopCounters, by kind of command.
enum class CommandKind : uint8_t { kRead = 0, kWrite = 1, kOther = 2, kError = 3 };

class KvProtocol final : public store::Protocol {
 public:
  // `config` (CONFIG SET's settings, the password) is shared by the server's loops; null: the
  // protocol's own defaults (no password).
  // `clients` (the registry and counters, kv_clients.h) is shared by the loops too, and this
  // protocol serves loop `loop` of them; null: its own, for one loop.
  KvProtocol(server::Server& shared, const resp::Limits& limits, KvConfig* config = nullptr,
             KvClients* clients = nullptr, uint32_t loop = 0);

  void Parse(store::Batch& b, Conn& c) override;
  void OnTimeout(store::Batch& b, Conn& c) override;
  void Prefetch(store::Batch& b, const Conn& c) override;
  bool WantsPrefetch() const override { return true; }
  void OnOpen(store::Batch& b, Conn& c) override;
  void OnClose(Conn& c) override;
  void OnTurn(store::Batch& b) override;
  // The fields of hashes that are gone, deleted a slice at a time (kv_hashes.cc).
  bool Background(store::Batch& b) override;
  // WATCH: a write of another loop entered the index (kv_multi.cc).
  bool WantsApplied() override;
  void OnApplied(std::string_view key, bool deleted) override;

 private:
  struct Command {
    Conn* conn;
    size_t argc;
    bool close;                         // QUIT: close after the answer
    const CommandSpec* spec = nullptr;  // the row being run (its name, lower case)
  };

  // Prefetch looks at most this many commands ahead per connection and turn.
  static constexpr int kPrefetchCommands = 64;
  // Prefetch of the members (fields) that a sorted-set, hash or set command will look up: their
  // own store keys, under the version of the key's header this loop read last (a hint; a stale one
  // costs a useless prefetch, nothing else). False when there is no such hint for the key.
  bool PrefetchMembers(store::Batch& b, const CommandSpec& spec, size_t argc);
  // TypedAt read a header: its version, kept as that hint.
  void NoteHeader(std::string_view key, uint64_t version, ValueType type);
  struct HeaderHint {
    uint64_t version = 0;
    ValueType type = ValueType::kString;
    uint8_t len = 0;  // 0: none (a longer key than kHintKeyBytes is not kept)
    char key[55] = {};
  };
  static constexpr size_t kHintKeyBytes = sizeof(HeaderHint::key);
  static size_t HintSlot(std::string_view key) {
    return (key.size() * 31 + static_cast<unsigned char>(key.back())) % 8;
  }
  std::array<HeaderHint, 8> hints_{};
  std::string prefetch_key_;  // a member's store key, for PrefetchKey
  // The unconsumed bytes of c as segments for the parser (the first one from front_off).
  void Segments(const Conn& c);
  // Runs one command through the command table; returns its kind for the counters. Dispatch
  // finds its row (and subcommand), checks it and runs it, counting it (INFO commandstats);
  // Execute wraps it in the connection's CLIENT REPLY mode.
  CommandKind Execute(size_t argc);
  CommandKind Dispatch(size_t argc);
  // Argument i as one view (in place, in the parser's scratch, or gathered into `tmp`).
  std::string_view ArgView(size_t i, std::string* tmp) const;
  // The extents of argument i in c's receive buffers (none for a decoded inline argument).
  void ArgExtents(const Conn& c, size_t i, std::vector<Extent>* out) const;
  // Queues the write of `key` = argument i: kept in place from the receive buffers, or, for a
  // quoted inline argument (decoded: not the received bytes), copied into fresh buffers.
  // `admitted`: the command's Admit took its room (ArgRoom). `expire_ms`: the value's absolute
  // expiry time (0: none).
  store::WriteOutcome PutArg(std::string_view key, size_t i, bool admitted, int64_t expire_ms = 0);
  // What PutArg of argument i under a key of `key_len` bytes needs: free buffers and log bytes
  // (added to the sums).
  void ArgRoom(size_t key_len, size_t i, uint64_t* buffers, uint64_t* log_bytes);
  // Queues `key` = `bytes` copied into fresh buffers (a computed value: SETRANGE, SETBIT,
  // INCRBYFLOAT), expiring at `expire_ms` (0: never; those commands keep the key's).
  store::WriteOutcome PutFresh(std::string_view key, std::string_view bytes, int64_t expire_ms = 0);
  // MSET and MSETNX: the pairs admitted whole, then queued.
  bool PutPairs();
  // c is closing (QUIT, a protocol error): c.closing, and no longer listed by CLIENT LIST.
  void Closing(Conn& c);
  // The connection's authentication, and whether the command may run without it.
  KvConnState& ConnState() const;
  bool Authenticated() const;
  // Checks `password` for `user` (the default user only) in constant time.
  bool PasswordOk(std::string_view user, std::string_view password) const;
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
  // Takes over v's references: a value of up to kInlineValueBytes is copied into the answer (its
  // references dropped), a larger one sent from its buffers.
  void BulkValue(const Value& v);
  void Lines(std::span<const std::string_view> lines);  // an array of simple strings (HELP)
  // A reply of many elements (HGETALL, MGET, SMEMBERS...) built as one answer in the batch's text,
  // not one answer per element: ReplyBegin, then ReplyArray, ReplyBulk and ReplyValue (a value of
  // up to kInlineValueBytes is copied into the reply, its references dropped; a larger one goes out
  // zero-copy as an answer of its own between the text before and after it), then ReplyEnd. No
  // other answer of the command may come in between.
  static constexpr uint32_t kInlineValueBytes = 256;
  void ReplyBegin() { reply_begin_ = Text().size(); }
  void ReplyArray(uint64_t n);
  void ReplyBulk(std::string_view s);
  void ReplyValue(const Value& v);  // takes over v's references
  void ReplyEnd();
  void ReplyErr(std::string_view message);  // an error element (an answer of its own: Err)
  void ReplyNames();  // names_ as an array of bulk strings (SMEMBERS, SINTER...)

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
  void GetRange();
  void SetRange();
  void GetSet();
  void SetNx();
  void MSetNx();
  void IncrByFloat();
  // kv_bits.cc
  void SetBit();
  void GetBit();
  void BitCount();
  // kv_keyspace.cc
  void Del();
  void Exists();
  void Keys();
  void Scan();
  void DbSize();
  void FlushAll();  // FLUSHALL and FLUSHDB
  void Type();
  void Rename();
  void RenameNx();
  void Copy();
  void RandomKey();
  void Touch();
  void Object();
  // kv_expire.cc
  void SetEx();   // SETEX
  void PSetEx();  // PSETEX
  void GetEx();
  void GetDel();
  void Expire();  // EXPIRE PEXPIRE EXPIREAT PEXPIREAT
  void Ttl();     // TTL PTTL EXPIRETIME PEXPIRETIME
  void Persist();
  // kv_multi.cc
  void Multi();
  void Exec();
  void Discard();
  void Watch();
  void Unwatch();
  // kv_hashes.cc
  void HSet();
  void HMSet();
  void HSetNx();
  void HDel();
  void HIncrBy();
  void HIncrByFloat();
  void HGet();
  void HMGet();
  void HLen();
  void HExists();
  void HStrlen();
  void HKeys();
  void HVals();
  void HGetAll();
  void HRandField();
  void HScan();
  // kv_pubsub.cc
  void Subscribe();
  void PSubscribe();
  void Unsubscribe();
  void PUnsubscribe();
  void Publish();
  void PubSub();
  void Reset();
  // kv_sets.cc
  void SAdd();
  void SRem();
  void SPop();
  void SMove();
  void SCard();
  void SIsMember();
  void SMIsMember();
  void SMembers();
  void SRandMember();
  void SScan();
  void SInter();
  void SUnion();
  void SDiff();
  void SInterStore();
  void SUnionStore();
  void SDiffStore();
  void SInterCard();
  // kv_lists.cc
  void LPush();
  void RPush();
  void LPushX();
  void RPushX();
  void LPop();
  void RPop();
  void LRange();
  void LLen();
  void LIndex();
  void LSet();
  void LInsert();
  void LRem();
  void LTrim();
  void LPos();
  void LMove();
  void RPopLPush();
  void BLPop();
  void BRPop();
  void BLMove();
  void BRPopLPush();
  // kv_zsets.cc
  void ZAdd();
  void ZIncrBy();
  void ZRem();
  void ZScore();
  void ZMScore();
  void ZCard();
  void ZCount();
  void ZLexCount();
  void ZRank();
  void ZRevRank();
  void ZRange();
  void ZRangeStore();
  void ZRevRange();
  void ZRangeByScore();
  void ZRevRangeByScore();
  void ZRangeByLex();
  void ZRevRangeByLex();
  void ZRemRangeByScore();
  void ZRemRangeByRank();
  void ZRemRangeByLex();
  void ZPopMin();
  void ZPopMax();
  void BZPopMin();
  void BZPopMax();
  void ZUnionStore();
  void ZInterStore();
  void ZScan();
  // kv_server.cc
  void Ping();
  void Echo();
  void Select();
  void Quit();
  void Info();
  void CommandCmd();
  void Config();
  void Client();
  void Time();
  void Auth();
  void Hello();

  // CLIENT's subcommands, and INFO's sections (kv_server.cc).
  void ClientList();
  void ClientKill();
  void ClientReply();
  void ClientSetName(std::string_view name, std::string ClientEntry::*field);
  void CommandGetKeys();
  void CommandList();
  void InfoCpu(std::string* out) const;
  void InfoCommandStats(std::string* out) const;
  void InfoErrorStats(std::string* out) const;
  // The commands the loops ran (their handlers), summed.
  uint64_t CommandsProcessed() const;

  // Transactions (kv_multi.cc). The connection's MultiState, made on first use.
  MultiState& MultiOf();
  // Whether `cmd` runs at once inside MULTI instead of being queued (EXEC DISCARD MULTI WATCH
  // QUIT RESET, as redis-server).
  static bool RunsInMulti(const CommandSpec& cmd);
  // Queues the command in args_ (its row `cmd`, stat slot `slot`) and answers +QUEUED, or refuses
  // it (too much queued) and marks the transaction aborted.
  void Queue(const CommandSpec& cmd, size_t slot);
  // A command was refused before running (unknown, arity, NOAUTH): inside MULTI the transaction
  // is aborted (EXEC answers EXECABORT), as redis-server's flagTransaction.
  void FlagTransaction();
  // EXEC refused (before running, or its group dropped): "-EXECABORT Transaction discarded
  // because of: <why>", and the transaction (if any) is over (`locked`: KvWatches' lock is held).
  void ExecAbort(std::string_view why, bool locked = false);
  // Ends the connection's transaction: queue emptied, watches forgotten (`locked`: KvWatches' lock
  // is held).
  void EndMulti(MultiState& m, bool locked = false);
  // Runs queued command q (its arguments from the arena) inside EXEC.
  void RunQueued(MultiState& m, const MultiState::Queued& q);
  // Marks the watchers of the keys the open batch's writes [first, now) name (queued writes).
  void TouchWritten(size_t first, bool locked);

  // Hashes (kv_hashes.cc; their layout: kv_hashes.h). The hash at `key` as this loop sees it:
  // 1 found (*version), 0 absent, -1 answered (WRONGTYPE, a damaged header). `count`: a read
  // redis-server counts in keyspace_hits or keyspace_misses.
  int HashAt(std::string_view key, HashHeader* h, bool count, int64_t* expire_ms = nullptr);
  // The same for a header of `type` (a list's: TypedAt(key, ValueType::kList, ...)).
  int TypedAt(std::string_view key, ValueType type, HashHeader* h, bool count,
              int64_t* expire_ms = nullptr);
  // HashAt of argument 1 (checked: KeyOk) into *key; an absent hash is answered `absent` (a
  // whole RESP reply; empty: not answered).
  int HashArg(bool count, std::string_view absent, std::string_view* key, HashHeader* hh);
  // The hash's fields (FieldPrefix `prefix`): the durable ones (KvHashes) with this loop's writes
  // not yet applied over them, sorted into *out (not names_merge_); their count.
  void HashFields(std::string_view prefix, NameList* out);
  size_t HashLen(std::string_view prefix);
  // This loop's last write of each field of `prefix` not applied yet, by name, into
  // pending_fields_ (HashFields', HashLen's; with "", every key's: DBSIZE's).
  void PendingFields(std::string_view prefix);
  // HRANDFIELD's and SRANDMEMBER's pick of positions in names_ (not empty) into picks_: one
  // without a count; with a count >= 0, distinct ones (all of them when it reaches the size); with
  // a negative one, exactly -count, repeats allowed. False once answered (a count too large).
  bool PickRandom(bool with_count, int64_t count);
  // Whether a field of `field_len` bytes of a `key_len`-byte key fits a store key (else answered).
  bool FieldKeyOk(size_t key_len, size_t field_len);
  // prefix + field, in field_key_.
  std::string_view FieldKey(std::string_view prefix, std::string_view field);
  // FieldPrefix(key, version, type), in prefix_ (a command's one prefix: no allocation once warm).
  const std::string& Prefix(std::string_view key, uint64_t version,
                            ValueType type = ValueType::kHash);
  // The room of a new header under a `key_len`-byte key (buffers added to *buffers; log bytes
  // returned), and its write (admitted), expiring at `expire_ms`.
  uint64_t HeaderRoom(size_t key_len, uint64_t* buffers) const;
  store::WriteOutcome PutHeader(std::string_view key, const HashHeader& h, int64_t expire_ms,
                                ValueType type = ValueType::kHash);
  // Admits a write of the hash, set or sorted set (`type`) at `key` whose fields take `buffers`
  // and `log_bytes`, with its header's room (a new one when `create`, and MarkBig's while not
  // big), then queues the new header (kHashBig when `big`). False once answered (refused).
  bool AdmitComposite(std::string_view key, bool create, bool big, ValueType type, HashHeader* hh,
                      uint64_t buffers, uint64_t log_bytes);
  // After a write of the hash (`prefix`): when it made the hash big (`big`: a name or value
  // above the listpack's limit; or more fields than it takes), its header is written again with
  // kHashBig (its room was admitted with the write). False once answered (refused).
  // `entries`: the most the listpack takes (a sorted set's is smaller).
  bool MarkBig(std::string_view key, std::string_view prefix, HashHeader* hh, int64_t expire_ms,
               bool big, ValueType type = ValueType::kHash, size_t entries = kListpackEntries);
  // HSET, HMSET (`mset`: +OK), HSETNX's write.
  void HSetPairs(bool mset);
  // HINCRBY and HINCRBYFLOAT: the hash and its field's old value (HNumberField), the new value's
  // write (HPutNumber).
  struct HashField {
    std::string_view key;     // (in the argument, or tmp_key_)
    std::string_view prefix;  // (prefix_)
    HashHeader header;
    int64_t expire_ms = 0;
    bool create = false;  // the hash is new
    bool found = false;   // the field was there
  };
  bool HNumberField(size_t max, std::string_view not_number, HashField* hf);
  void HPutNumber(const HashField& hf, std::string_view field, std::string_view bytes,
                  std::string_view answer);
  void HList(bool keys, bool values);
  // HSCAN (a hash's: each field's value follows it), SSCAN and ZSCAN (each member's score
  // follows it), by the type of the key.
  void HScanLike(ValueType type);
  // Publish/subscribe (kv_pubsub.cc). The connection's subscriptions, made on first use.
  PubSubState& PubSubOf();
  // SUBSCRIBE and PSUBSCRIBE (`pattern`), UNSUBSCRIBE and PUNSUBSCRIBE.
  void SubscribeCmd(bool pattern);
  void UnsubscribeCmd(bool pattern);
  // ["kind", name (nil: none), count of subscriptions].
  void SubscribeReply(std::string_view kind, const std::string* name, size_t count);
  // c's subscriptions leave the registry (it closes, RESET).
  void UnsubscribeAll(Conn& c);
  // The messages other loops published to this loop's subscribers, queued as answers (OnTurn).
  void DeliverMessages(store::Batch& b);
  // Whether `cmd` may run on a connection in subscribed mode.
  static bool RunsSubscribed(const CommandSpec& cmd);
  std::vector<std::pair<ConnId, std::string>> inbox_;
  // CLIENT LIST's sub= and psub= of this connection.
  void Counted(const PubSubState& ps);
  bool skipping_ = false;  // the running command's answers are dropped: CLIENT REPLY SKIP
  // Sets (kv_sets.cc; laid over the store as hashes are). The set at `key`: as TypedAt.
  int SetAt(std::string_view key, bool count, HashHeader* hh, int64_t* expire_ms = nullptr);
  // Its members (this loop's writes included) into *out; *had as SetAt's. False once answered.
  bool SetMembers(std::string_view key, bool count, int* had, NameList* out);
  // SPOP of one member of a set of several, by a random slot of the directory (no copy of the
  // set): false when it does not apply (nothing answered then).
  bool SPopOne(std::string_view key, std::string_view prefix, bool with_count);
  // The log room of a member's record, and its write (admitted).
  uint64_t MemberRoom(size_t prefix_len, size_t member_len) const;
  store::WriteOutcome PutMember(std::string_view prefix, std::string_view member);
  // Deletes the members of the set at `key` (prefix) that are there, and its header when none is
  // left: how many were there, or -1 once answered (refused).
  // SREM and ZREM (`type`): the members named by arguments 2.. leave the set at argument 1.
  void RemoveArgs(ValueType type);
  // Deletes members_ of the set or sorted set (`type`) at `key` and answers how many were there.
  void RemoveAnswer(std::string_view key, const HashHeader& hh, ValueType type);
  // `emptied`: whether the set is empty after (1, 0), when the caller knows; -1: asked (HashLen).
  int64_t RemoveMembers(std::string_view key, std::string_view prefix,
                        std::span<const std::string> members, int emptied = -1);
  enum class SetOp : uint8_t { kInter, kUnion, kDiff };
  // The result of `op` over the sets named by arguments [first, last) (every one read and type
  // checked, a missing one empty). False once answered (WRONGTYPE...).
  // (The sets are read into name_sets_; *out is none of them.)
  bool SetOperation(SetOp op, size_t first, size_t last, NameList* out);
  void SetRead(SetOp op);   // SINTER SUNION SDIFF
  void SetStore(SetOp op);  // their STORE forms: argument 1 is the destination
  StringList members_;
  // RENAME and COPY of the hash at `from` (its header's value, whose references it takes over):
  // a new hash at `to` whose fields share the source's buffers, with the source's expiry time;
  // `delete_from`: the source's header goes in the same batch. False once answered (refused).
  bool CopyHash(std::string_view from, Value header_value, std::string_view to, bool delete_from);
  // OBJECT ENCODING of the hash whose header is `header`.
  std::string_view HashEncoding(const Value& header) const;
  // A key argument beginning with kHashPrefix (the hashes' fields' namespace).
  bool ReservedKey(const CommandSpec& cmd, size_t argc);
  static constexpr size_t kCleanBatch = 512;  // field keys Background deletes per turn at most
  static constexpr uint64_t kMaxRandFields = 65536;  // HRANDFIELD with a negative count

  // Lists (kv_lists.cc; their layout: kv_lists.h). A list a command writes: its key, header,
  // item prefix, and the range it leaves (claimed from the directory: OpenList).
  struct ListOp {
    ListOp() = default;
    ListOp(const ListOp&) = delete;
    ListOp& operator=(const ListOp&) = delete;
    ~ListOp();               // ends the claim (KvLists::Wrote)
    KvLists* dir = nullptr;  // claimed from it (OpenList)
    uint32_t loop = 0;
    // The key and the items' prefix, in the op's own bytes (no allocation per command).
    std::string_view key;
    std::string_view prefix;
    void SetKey(std::string_view k);
    void SetPrefix();  // from key and header.version
    char key_bytes[kMaxKeyLen];
    char prefix_bytes[kMaxKeyLen + kItemKeyOverhead];
    HashHeader header;
    ListRange range;
    ListRange before;  // the range claimed
    int64_t expire_ms = 0;
    bool exists = false;  // the header is there (else written by the first push)
    uint32_t writes = 0;  // item writes queued
  };
  // The list at `key` for a write: 1 open (claimed), 0 absent (`create`: a new version, claimed
  // and open, exists false), -1 answered (WRONGTYPE, damaged) or parked (another loop writes it:
  // park_ set; inside EXEC, answered).
  int OpenList(std::string_view key, bool create, ListOp* op);
  // OpenList of argument 1 (checked: KeyOk), an absent list answered `absent` (a whole RESP
  // reply).
  int OpenArg(std::string_view absent, ListOp* op);
  // The list at `key` for a read: 1 found (*range, prefix_), 0 absent, -1 answered.
  int ReadList(std::string_view key, bool count, ListRange* range);
  // An item's key (in item_key_).
  std::string_view ItemAt(std::string_view prefix, uint64_t position);
  // The room of a push of argument i (or of `moved`'s extents) onto op, added to the sums.
  void PushRoom(const ListOp& op, size_t i, uint64_t* buffers, uint64_t* log_bytes);
  // Queues the header when the list is new (its room admitted), then the push of argument i at
  // the left or right (admitted). False once answered (refused).
  bool PushArg(ListOp* op, size_t i, bool left);
  // The same with a value whose references it takes over (LMOVE's).
  bool PushOwned(ListOp* op, Value v, bool left);
  // Pops one item from op's left or right end: its value (references taken) into *v and its
  // delete queued (admitted). False once answered.
  bool PopItem(ListOp* op, bool left, Value* v);
  // The room of n pops from op (and of the header's delete).
  uint64_t PopRoom(const ListOp& op, uint64_t n) const;
  // After op's writes were queued: the directory learns them; an emptied list's header delete is
  // queued (its room admitted). False once answered.
  bool FinishList(ListOp* op);
  // LPUSH RPUSH LPUSHX RPUSHX.
  void Push(bool left, bool only_existing);
  // LPOP RPOP.
  void Pop(bool left);
  // LMOVE and RPOPLPUSH (and the blocking forms once an item is there): moves one item from
  // argument 1's list to argument 2's; `answer_empty`: nil answered when the source is empty.
  // Returns 1 moved, 0 the source empty (nothing answered), -1 answered (or parked).
  int Move(bool from_left, bool to_left, bool answer_empty);
  // A value's bytes appended to *out as a bulk string.
  void AppendBulk(const Value& v, std::string* out) const;
  // Whether v's bytes are `bytes`.
  bool ValueIs(const Value& v, std::string_view bytes) const;
  // RENAME and COPY of the list at `from` (its header's value, whose references it takes over),
  // as CopyHash.
  bool CopyList(std::string_view from, Value header_value, std::string_view to, bool delete_from);
  // Blocking pops. Parses argument i as a timeout in seconds (redis-server's checks): the
  // absolute deadline on the steady clock (0: none), or false once answered.
  bool TimeoutArg(size_t i, int64_t* deadline_ms);
  // A re-run blocked command whose wait CLIENT UNBLOCK ended: answered (as a timeout, or
  // -UNBLOCKED) and its wait over.
  bool EndedByUnblock(BlockState* waiting);
  // A blocking command's start: its timeout (argument timeout_arg) and, when it runs again
  // after waiting, its wait (*waiting; null: a new one). False once answered (a bad timeout, or
  // a wait CLIENT UNBLOCK ended).
  bool StartWait(size_t timeout_arg, int64_t* deadline, BlockState** waiting);
  // Nothing to pop at its keys (arguments 1 .. argc-2): nil inside MULTI or once its time is up,
  // else its connection parked waiting for them (a list's pop from the left or right, or a sorted
  // set's of the lowest or highest member: `zset`).
  void WaitForKeys(BlockState* waiting, int64_t deadline, bool left, bool zset);
  // BLPOP and BRPOP.
  void BlockingPop(bool left);
  // BLMOVE and BRPOPLPUSH: the directions, then the timeout at argument i.
  void BlockingMove(bool from_left, bool to_left, size_t timeout_arg);
  // The connection's BlockState, made on first use.
  BlockState& BlockOf();
  // Parks the command's connection (Parse returns at once, the command unconsumed) waiting for
  // an item at its keys until deadline_ms, or (`owner_wait`) for another loop's writes of `key`.
  void Block(int64_t deadline_ms, bool owner_wait);
  // The connection's wait is over (served, answered, or its connection closed).
  void Unblock(BlockState& bs);
  // Pushes reached `key`: the clients blocked on it (in the order they blocked) are served
  // after the command (or EXEC) that pushed, as redis-server serves them.
  void KeyReady(std::string_view key);
  void ServeReady();
  // Serves bs from the list at `key` (not empty): its pop (and push) queued and answered, and
  // its connection woken. False when it cannot be served now (woken to run its command itself).
  bool Serve(BlockState& bs, std::string_view key);
  // The list writes of an EXEC's group (undone when the group is dropped).
  struct ListUndo {
    std::string key;
    uint64_t version;
    ListRange before;
    uint32_t writes;
  };
  std::vector<ListUndo> list_undo_;
  std::vector<BlockState*> blocked_;  // this loop's parked connections, in the order they parked
  std::vector<std::string> ready_;    // keys pushed by the running command (KeyReady)
  uint64_t block_seq_ = 0;
  bool park_ = false;     // the running command parked its connection (Block)
  bool serving_ = false;  // ServeReady is serving another connection: no answers to cmd_
  std::string item_key_;
  std::string list_answer_;
  std::vector<Value> values_;
  std::vector<uint64_t> positions_;

  // Sorted sets (kv_zsets.cc; laid over the store as hashes are: kv_zsets.h). The sorted set at
  // `key`: as TypedAt.
  int ZsetAt(std::string_view key, bool count, HashHeader* hh, int64_t* expire_ms = nullptr);
  // The sorted set of member prefix `prefix` as this loop sees it, to `fn` (which must not call
  // the directory: it may run under its lock).
  void ZView(std::string_view prefix, const std::function<void(const ZIndex&)>& fn);
  // A member's score (this loop's writes included): 1 found, 0 absent, -1 answered (damaged).
  int MemberScore(std::string_view prefix, std::string_view member, double* out);
  // A score as a bulk string; members (and their scores) as an array.
  void AppendScore(double score, std::string* out);
  void AppendItems(std::span<const ZItem> items, bool scores, std::string* out);
  void AnswerItems(std::span<const ZItem> items, bool scores);
  // No argument: a computed score (written as text into a fresh buffer).
  static constexpr size_t kNoArg = ~size_t{0};
  // The room of a member's write whose score is argument `score_arg` (kept in place) or
  // computed (kNoArg), and the write (admitted).
  // `listpack`: the set is small (a -0 is written 0, as redis-server 7.0's listpack holds it).
  bool ScoreInPlace(size_t score_arg);
  void ScoreRoom(size_t key_len, size_t score_arg, uint64_t* buffers, uint64_t* log_bytes);
  store::WriteOutcome PutScore(std::string_view prefix, std::string_view member, double score,
                               size_t score_arg, bool listpack);
  void ZAddCore(bool zincrby);
  // Pops up to `count` members from the low (`min`) or high end of the sorted set at `key`:
  // their deletes queued (and the header's once it is empty), each member and score appended
  // to *out. Returns how many, or -1 once answered (refused).
  int64_t ZPopSome(std::string_view key, const HashHeader& hh, bool min, uint64_t count,
                   std::string* out);
  void ZPop(bool min);
  void BlockingZPop(bool min);
  // A client blocked in BZPOPMIN or BZPOPMAX served from `key` (as Serve, kv_lists.cc).
  bool ServeZset(BlockState& bs, std::string_view key);
  // Whether the index holds a live sorted set at `key` with members (another loop's ZADD).
  bool ZsetFilled(std::string_view key, int64_t now_ms) const;
  void ZRankCmd(bool rev);
  struct ZRangeSpec;
  // A range's bounds (arguments min_arg and max_arg) as r->kind reads them; false once answered.
  bool ParseRange(ZRangeSpec* r, size_t min_arg, size_t max_arg);
  static void SelectRange(const ZIndex& z, const ZRangeSpec& r, ItemList* out);
  // ZRANGE and its forms: the source at argument key_arg (ZRANGESTORE: `store` into argument
  // 1); `kind` and `dir` preset by the older forms (ZRANGEBYSCORE...).
  void ZRangeGeneric(size_t key_arg, bool store, uint8_t kind, int dir);
  void ZCountCmd(bool lex);
  void ZRemRange(uint8_t kind);
  // Writes zitems_ as the sorted set at `dst` (replacing it; deleting it when empty), sharing
  // the scores' buffers of the sources where zorigin_ names one; answers the count.
  void ZStore(std::string_view dst);
  void ZSetOperation(bool inter);  // ZINTERSTORE, ZUNIONSTORE
  ZIndex zcopy_;
  // ZPopSome's merge of this loop's writes of the set not applied yet (ZADDs among them): each
  // member's last, by member; and the live ones in the pop's order.
  struct ZPending {
    std::string_view member;  // (in the pending write's key)
    bool live;
    double score;
    size_t order;
  };
  std::vector<ZPending> zpending_;
  // A pipeline of pops' view of this loop's writes of one set not applied yet, kept from pop to
  // pop while the pending writes only grow (Batch::pending_epoch): a pop visits only the writes
  // queued since the last one, not all of them again.
  struct PopView {
    std::string prefix;  // the set's (its version included)
    uint64_t epoch = ~uint64_t{0};
    size_t seen = 0;     // pending writes visited (Batch::pending_all)
    size_t fields = 0;   // of them, writes of the set's members
    bool added = false;  // one of them adds a member (or gives it a score)
    MemberSet taken;     // the members deleted
    // A sorted set's: how many members at the low and at the high end of its order are known
    // taken, while the order's stamp (ZIndex::stamp) stays.
    uint64_t stamp = 0;
    size_t low = 0;
    size_t high = 0;
  };
  // Brings `view` up to this loop's pending writes of the set at `prefix`, starting over when
  // the set or the epoch is another.
  void CatchUp(PopView* view, std::string_view prefix);
  PopView spop_;
  PopView zpop_;
  std::string pop_prefix_;    // ZPopSome's and SPOP's (reused)
  std::string pop_tail_;      // ZPop's answer after its header (reused)
  std::string range_prefix_;  // ZRangeGeneric's (reused)
  // A pipeline of pops from a sorted set whose pending writes are deletes only: the first `count`
  // members from the `min` end that none of them took, into zitems_, and whether any member is
  // left after them (*rest). False (nothing done) when a pending write adds a member.
  bool ZPopPast(std::string_view prefix, bool min, uint64_t count, bool* rest);
  // The other pops: the ends of the order merged with every pending write of the set.
  void ZPopMerged(std::string_view prefix, bool min, uint64_t count, bool* rest);
  ItemList zputs_;
  ItemList zitems_;
  std::vector<size_t> zorigin_;
  std::vector<std::string> zsources_;
  std::vector<double> zscores_;
  std::string zmin_;
  std::string zmax_;
  std::string score_tmp_;  // ScoreInPlace's (a member's view may lie in tmp_)

  // RENAME and RENAMENX.
  void RenameKey(bool nx);
  void ConfigGet();
  void ConfigSet();
  // The value of `key` read whole into `out` (at most `max` bytes): 1 read, 0 absent, -1 answered
  // (damaged, or longer than max: `too_long` answered). `expire_ms`: set to the value's expiry
  // time (0: none, or absent).
  int ReadKey(std::string_view key, size_t max, std::string* out, std::string_view too_long,
              int64_t* expire_ms = nullptr);
  // Expiry times (kv_expire.cc). Argument i as a time of `unit_ms` milliseconds, relative to the
  // turn's clock when `relative` (EX, PX) or absolute (EXAT, PXAT), as Redis checks it: not an
  // integer, not positive, or overflowing is answered (the invalid-time error names `cmd`) and
  // false returned. *out: absolute Unix ms.
  bool ExpiryArg(size_t i, int64_t unit_ms, bool relative, std::string_view cmd, int64_t* out);
  // The value of `key` copied into `answer` as a bulk string (nil when absent), for an answer that
  // goes out after a write replaced it (SET GET, GETSET, GETDEL): 1 found, 0 absent, -1 answered
  // (damaged). *expire_ms: its expiry time.
  int CopyOldValue(std::string_view key, std::string* answer, int64_t* expire_ms);
  // SET and SETEX's write of `key` = argument `value` expiring at `expire_ms` (0: none; at or
  // before now: the key is deleted, as an expired write leaves nothing), answered `ok` after the
  // commit; false once refused (answered).
  bool SetValue(std::string_view key, size_t value, int64_t expire_ms, std::string_view ok);
  // Admits and queues the delete of `key` (its answer is the caller's); false once refused
  // (answered).
  bool DeleteKey(std::string_view key);
  // Rewrites `key`'s record with the same value (v, whose references it takes over) expiring at
  // `expire_ms` (0: never; at or before now: deletes the key). False once refused (answered).
  bool Reexpire(std::string_view key, Value v, int64_t expire_ms);

  // INCR, DECR, INCRBY, DECRBY: adds sign * (1, or argument 2 when `from_arg`).
  void AddTo(int64_t sign, bool from_arg);
  // The live keys matching `pattern` as this loop sees them (its batch's writes included).
  // The store's live keys that are the user's (the hashes' fields left out): DBSIZE, INFO.
  uint64_t UserKeys() const;
  // `internal`: the hashes' fields too.
  void LiveKeys(std::string_view pattern, NameList* keys, bool internal = false);
  // KEYS' answer (or SCAN's, with the cursor 0 before it).
  void AnswerKeys(const NameList& keys, bool scan);
  // After a listing of keys: keys_ given back when it grew past kKeptListingBytes.
  void ReleaseKeys();
  static constexpr size_t kKeptListingBytes = size_t{4} << 20;
  NameList keys_;            // KEYS', SCAN's, FLUSHALL's, RANDOMKEY's listing of keys
  std::string pattern_tmp_;  // SCAN's MATCH pattern, when not contiguous
  std::string pick_;         // RANDOMKEY's key (room for any key: reserved)
  static constexpr int kRandomKeyDraws = 8;
  // Reads a whole value (a small one: INCR) into `out`; false when too long.
  bool ReadValue(const Value& v, size_t max, std::string* out) const;
  bool KeyOk(size_t i);
  // The value of `key` (one reference per extent taken), or false once answered: the damaged
  // value's error, or the integer `absent` for a missing key. `string`: a string command's read
  // (LookupString: a hash is answered WRONGTYPE).
  bool LookupOrInt(std::string_view key, Value* v, int64_t absent, bool stats = false,
                   bool string = false);
  // A string command's read (GET, APPEND, INCR...): as Batch::Lookup, but a key holding another
  // type (a hash) is not returned: wrong_type_ is then set (redis-server counts the read a
  // keyspace hit). After a false return, LookupError() is the error to answer (WRONGTYPE, a
  // damaged value's), empty when the key is absent.
  bool LookupString(std::string_view key, Value* v);
  std::string_view LookupError() const;
  bool wrong_type_ = false;
  // A read of a key that redis-server counts in keyspace_hits or keyspace_misses (its
  // lookupKeyRead: GET, MGET, GETRANGE, STRLEN, GETBIT, BITCOUNT, EXISTS, TOUCH, TYPE, TTL...,
  // OBJECT, GETEX, GETDEL, GETSET, SET ... GET, COPY's source), found or not.
  void CountRead(bool found) {
    b_->counters().Add(found ? b_->counters().keyspace_hits : b_->counters().keyspace_misses);
  }

  // The batch of the Parse (or OnTimeout) call running: every command reads, writes and answers
  // through it.
  std::string& Text() { return b_->text(); }
  store::Batch* b_ = nullptr;
  server::Server& shared_;
  std::unique_ptr<KvConfig> own_config_;  // when the constructor was given none
  KvConfig& config_;
  std::unique_ptr<KvClients> own_clients_;  // when the constructor was given none
  KvClients& clients_;
  uint32_t loop_;
  int64_t turn_ms_ = 0;          // the steady clock (ms) at the start of this loop turn (OnTurn)
  uint64_t command_errors_ = 0;  // error answers so far (a command that raised it failed)
  bool in_exec_ = false;         // EXEC is running queued commands
  bool exec_locked_ = false;     // ... holding KvWatches' lock (a command marks with TouchLocked)
  resp::Limits limits_;
  Command cmd_{};
  std::vector<std::string_view> segments_;
  std::vector<resp::Arg> args_;
  std::vector<resp::Piece> pieces_;
  std::vector<char> scratch_;
  std::string tmp_key_;
  std::string tmp_;
  std::vector<Extent> body_;
  std::string field_key_;  // FieldKey's
  std::string prefix_;     // Prefix's
  // HashLen's: this loop's last write of each field, by name (deleted or not).
  std::vector<std::pair<std::string_view, bool>> pending_fields_;
  std::vector<std::pair<std::string_view, bool>> pending_last_;
  std::vector<uint32_t> pending_order_;
  // A whole-collection read's names (SMEMBERS, HGETALL, SINTER's result...), HashFields' merge,
  // the sets of SINTER and its kin, a random pick of positions in names_ (SRANDMEMBER...): reused
  // from command to command (no allocation once warm).
  NameList names_;
  NameList names_merge_;
  std::vector<NameList> name_sets_;
  std::vector<uint32_t> picks_;
  std::string pop_key_;            // SPOP's key (reused)
  size_t reply_begin_ = 0;         // ReplyBegin's place in the batch's text
  std::vector<std::string> dead_;  // Background's
  char buf_[128];
};

// Redis-style glob match (`*`, `?`, `[abc]`, `[^a-z]`, `\x`), as KEYS and SCAN MATCH use it.
bool GlobMatch(std::string_view pattern, std::string_view s);

}  // namespace pastel::kv
