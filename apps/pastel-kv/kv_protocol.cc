// The RESP protocol of pastel-kv: parsing commands in place, dispatching them through the command
// table (commands.h), and the answers every command family uses. The commands themselves are in
// kv_strings.cc, kv_keyspace.cc and kv_server.cc.

#include "kv_protocol.h"

#include <algorithm>
#include <cctype>
#include <cstring>
#include <type_traits>

#include "commands.h"
#include "kv_util.h"

namespace pastel::kv {
namespace {

constexpr std::string_view kReadOnly =
    "MISCONF pastel-kv is read-only after a failed flush or checkpoint (reads go on; INFO "
    "persistence says why)";

std::string Upper(std::string_view s) {
  std::string out(s);
  for (char& ch : out) {
    ch = static_cast<char>(std::toupper(static_cast<unsigned char>(ch)));
  }
  return out;
}

}  // namespace

KvProtocol::KvProtocol(server::Server& shared, const resp::Limits& limits, KvConfig* config,
                       KvClients* clients, uint32_t loop)
    : shared_(shared),
      own_config_(config == nullptr ? std::make_unique<KvConfig>() : nullptr),
      config_(config == nullptr ? *own_config_ : *config),
      own_clients_(clients == nullptr ? std::make_unique<KvClients>(loop + 1) : nullptr),
      clients_(clients == nullptr ? *own_clients_ : *clients),
      loop_(loop),
      limits_(limits) {
  clients_.hashes().Load(shared_.store);  // (the first loop's protocol: the directory of fields)
  clients_.lists().Load(shared_.store);   // (and of lists)
  args_.resize(limits_.max_args);
  // A command spans at most argc + segments - 1 pieces; a 1 MiB value over 512 B buffers is
  // about 2,000 segments.
  pieces_.resize(limits_.max_args + 8192);
  // An inline line's quoted arguments, decoded, take at most the line (resp::Storage).
  scratch_.resize(std::max<size_t>(4096, limits_.max_inline));
  segments_.reserve(64);
  body_.reserve(64);
  prefetch_key_.reserve(store::kMaxKeyBytes);
  pick_.reserve(store::kMaxKeyBytes);
}

void KvProtocol::Segments(const Conn& c) {
  segments_.clear();
  for (size_t i = c.head; i < c.segs.size(); ++i) {
    const store::Segment& s = c.segs[i];
    const uint32_t skip = i == c.head ? c.front_off : 0;
    segments_.emplace_back(b_->SegData(s) + skip, s.length - skip);
  }
}

void KvProtocol::Parse(store::Batch& b, Conn& c) {
  b_ = &b;
  while (!c.closing && c.avail > 0 && !b_->Held(c)) {
    Segments(c);
    const resp::Storage storage{args_, pieces_, scratch_};
    const resp::ParseResult r = resp::ParseCommand(segments_, {}, limits_, storage);
    if (r.outcome == resp::Outcome::kNeedMore) {
      return;
    }
    cmd_ = {&c, r.argc, false};
    if (r.outcome != resp::Outcome::kCommand) {
      b_->counters().Add(b_->counters().requests[static_cast<int>(CommandKind::kError)]);
      Bump(clients_.errors(loop_, 0));  // ERR
      const KvConnState& st = ConnState();
      if (st.reply_off != 0 || st.skip_next != 0) {
        b_->MuteAnswers(c.id);  // CLIENT REPLY OFF or SKIP: closed without a word
      }
      const size_t begin = Text().size();
      if (r.outcome == resp::Outcome::kError) {
        const size_t n = resp::WriteProtocolError(buf_, sizeof(buf_), r.error, r.got);
        Text().append(buf_, n);
      } else {
        Text().append("-ERR Protocol error: a command spread over too many receive buffers\r\n");
      }
      b_->AnswerTextSince(c.id, begin, AnswerClass::kClientError, true);
      b_->MuteAnswers(0);
      Closing(c);  // as redis-server: the stream cannot be resynchronized
      return;
    }
    if (r.argc > 0) {  // an empty command has no answer
      if (BlockState* bs = StateOf(c).block;
          bs != nullptr && bs->state != BlockState::kWaiting && bs->state != BlockState::kIdle) {
        if (bs->state == BlockState::kServed) {
          // A push served its blocking pop (kv_lists.cc, Serve): the answer is queued already.
          bs->state = BlockState::kIdle;
          b_->Consume(c, r.bytes);
          continue;
        }
        if (bs->owner_wait) {
          Unblock(*bs);  // the list it waited for is free: the command runs as new
        }
      }
      const CommandKind kind = Execute(r.argc);
      if (park_) {
        // It waits (kv_lists.cc, Block): parsed again, from this command, once woken.
        park_ = false;
        b_->Park(c);
        return;
      }
      if (b_->room_wanted()) {
        return;  // the loop makes room in the log, then parses c again: the command runs again
      }
      b_->counters().Add(b_->counters().requests[static_cast<int>(kind)]);
    }
    b_->Consume(c, r.bytes);
    if (cmd_.close) {
      Closing(c);
    }
  }
}

void KvProtocol::Prefetch(store::Batch& b, const Conn& c) {
  // The commands already whole in c's bytes, parsed once more by Parse: the cost of a parse is a
  // fraction of the misses it spares (a read's index entry, its value's line, its buffer state).
  b_ = &b;
  Segments(c);
  const resp::Storage storage{args_, pieces_, scratch_};
  resp::Cursor at{};
  for (int n = 0; n < kPrefetchCommands; ++n) {
    const resp::ParseResult r = resp::ParseCommand(segments_, at, limits_, storage);
    if (r.outcome != resp::Outcome::kCommand) {
      return;
    }
    at = r.end;
    if (r.argc < 2 || !args_[0].contiguous || !args_[1].contiguous) {
      continue;
    }
    // A command whose first argument is a key it reads. SET overwrites without reading: its
    // entry is brought in when the batch applies it (Index::Prefetch).
    const CommandSpec* spec = FindCommand(args_[0].view);
    if (spec != nullptr && spec->first_key == 1 && spec->handler != &KvProtocol::Set) {
      // (A key whose header this loop read lately is likely still in the cache: only its
      // members are named, so that a turn's 1,024 names go to what is not.)
      if (!PrefetchMembers(b, *spec, r.argc)) {
        b.PrefetchKey(args_[1].view);
      }
    }
  }
}

bool KvProtocol::PrefetchMembers(store::Batch& b, const CommandSpec& spec, size_t argc) {
  // Where the command's members (fields) are: from `first`, every `step`-th, up to `end`.
  using K = KvProtocol;
  const auto h = spec.handler;
  ValueType type = ValueType::kZset;
  size_t first = 2, step = 1, end = argc;
  if (h == &K::ZAdd) {
    while (first < argc && args_[first].contiguous &&
           (Is(first, "nx") || Is(first, "xx") || Is(first, "ch") || Is(first, "incr") ||
            Is(first, "gt") || Is(first, "lt"))) {
      ++first;
    }
    first += 1;  // (score member pairs)
    step = 2;
  } else if (h == &K::ZIncrBy) {
    first = 3;
  } else if (h == &K::ZScore || h == &K::ZRem || h == &K::ZMScore) {
    // (first 2, every one)
  } else if (h == &K::HSet || h == &K::HMSet) {
    type = ValueType::kHash;
    step = 2;
  } else if (h == &K::HSetNx || h == &K::HGet || h == &K::HExists || h == &K::HStrlen ||
             h == &K::HIncrBy || h == &K::HIncrByFloat) {
    type = ValueType::kHash;
    end = std::min<size_t>(argc, 3);
  } else if (h == &K::HMGet || h == &K::HDel) {
    type = ValueType::kHash;
  } else if (h == &K::SAdd || h == &K::SRem || h == &K::SIsMember || h == &K::SMIsMember) {
    type = ValueType::kSet;
  } else {
    return false;
  }
  const std::string_view key = args_[1].view;
  if (key.empty() || key.size() > kHintKeyBytes) {
    return false;
  }
  const HeaderHint& hint = hints_[HintSlot(key)];
  if (hint.len != key.size() || hint.type != type ||
      std::memcmp(hint.key, key.data(), key.size()) != 0) {
    return false;
  }
  FieldPrefix(key, hint.version, &prefetch_key_, type);
  const size_t prefix_len = prefetch_key_.size();
  for (size_t i = first; i < end; i += step) {
    if (args_[i].contiguous && prefix_len + args_[i].length <= store::kMaxKeyBytes) {
      prefetch_key_.resize(prefix_len);
      prefetch_key_ += args_[i].view;
      b.PrefetchKey(prefetch_key_);
    }
  }
  return true;
}

void KvProtocol::NoteHeader(std::string_view key, uint64_t version, ValueType type) {
  if (key.empty() || key.size() > kHintKeyBytes) {
    return;
  }
  HeaderHint& hint = hints_[HintSlot(key)];
  hint.version = version;
  hint.type = type;
  hint.len = static_cast<uint8_t>(key.size());
  std::memcpy(hint.key, key.data(), key.size());
}

void KvProtocol::OnTimeout(store::Batch& b, Conn& c) {
  b_ = &b;
  cmd_ = {&c, 0, true};
  Err("ERR request not received whole in time: connection closed");
  Closing(c);
}

void KvProtocol::Closing(Conn& c) {
  c.closing = true;
  if (ClientEntry* e = StateOf(c).client; e != nullptr) {
    clients_.Hide(e);  // no longer listed (it is gone once its answer is sent)
  }
}

void KvProtocol::OnOpen(store::Batch& b, Conn& c) {
  StateOf(c).client = clients_.Register(loop_, c.id, b.Socket(c.id), NowNs() / 1000000);
}

void KvProtocol::OnClose(Conn& c) {
  KvConnState& st = StateOf(c);
  if (st.pubsub != nullptr) {
    UnsubscribeAll(c);
    delete st.pubsub;
    st.pubsub = nullptr;
  }
  if (st.block != nullptr) {
    Unblock(*st.block);
    delete st.block;
    st.block = nullptr;
  }
  if (st.multi != nullptr) {
    clients_.watches().UnwatchAll(st.multi);  // a closed connection's transaction is discarded
    delete st.multi;
    st.multi = nullptr;
  }
  if (st.client != nullptr) {
    clients_.Unregister(st.client);
    st.client = nullptr;
  }
}

void KvProtocol::OnTurn(store::Batch& b) {
  turn_ms_ = NowNs() / 1000000;  // the commands of this turn ran at this time (CLIENT LIST idle)
  if (clients_.KillsPending(loop_)) {
    clients_.TakeKills(loop_, [&b](ConnId id) { b.Close(id); });
  }
  if (loop_ == 0 && clients_.SampleDue(turn_ms_)) {
    clients_.Sample(turn_ms_, CommandsProcessed());
  }
  if (clients_.pubsub().any()) {
    DeliverMessages(b);  // other loops' PUBLISH to this loop's subscribers
  }
  // Parked connections whose wait may be over run their command again: a blocking pop whose time
  // is up, or (with several loops) whose list another loop filled; a write whose list another
  // loop let go. (A push of this loop serves its blocked clients itself: ServeReady.)
  const KvLists& lists = clients_.lists();
  const bool loops = shared_.store.loops() > 1;
  for (BlockState* bs : blocked_) {
    if (bs->state != BlockState::kWaiting) {
      continue;
    }
    bool wake = false;
    if (!bs->owner_wait && bs->client != nullptr &&
        bs->client->unblock.load(std::memory_order_relaxed) != 0) {
      bs->forced = bs->client->unblock.exchange(0, std::memory_order_relaxed);  // CLIENT UNBLOCK
      wake = bs->forced != 0;
    } else if (bs->owner_wait) {
      wake = !lists.Busy(bs->keys[0], loop_);
    } else {
      wake = bs->deadline_ms != 0 && turn_ms_ >= bs->deadline_ms;
      for (size_t i = 0; loops && !wake && i < bs->keys.size(); ++i) {
        wake = bs->zset ? ZsetFilled(bs->keys[i], b.now_ms()) : lists.Filled(bs->keys[i], loop_);
      }
    }
    if (wake) {
      bs->state = BlockState::kRetry;
      b.Wake(bs->conn);
    }
  }
}

uint64_t KvProtocol::CommandsProcessed() const {
  uint64_t n = 0;
  for (const store::LoopCounters& l : shared_.counters) {
    for (const CommandKind k : {CommandKind::kRead, CommandKind::kWrite, CommandKind::kOther}) {
      n += l.requests[static_cast<int>(k)].load(std::memory_order_relaxed);
    }
  }
  return n;
}

std::string_view KvProtocol::ArgView(size_t i, std::string* tmp) const {
  const resp::Arg& a = args_[i];
  if (a.contiguous) {
    return a.view;
  }
  tmp->clear();
  for (const resp::Piece& p : a.pieces) {
    tmp->append(segments_[p.segment].data() + p.offset, p.length);
  }
  return *tmp;
}

void KvProtocol::ArgExtents(const Conn& c, size_t i, std::vector<Extent>* out) const {
  out->clear();
  for (const resp::Piece& p : args_[i].pieces) {
    const store::Segment& s = c.segs[c.head + p.segment];
    const uint32_t skip = p.segment == 0 ? c.front_off : 0;
    out->push_back({s.buffer, static_cast<uint32_t>(s.offset + skip + p.offset),
                    static_cast<uint32_t>(p.length)});
  }
}

store::WriteOutcome KvProtocol::PutArg(std::string_view key, size_t i, bool admitted,
                                       int64_t expire_ms) {
  if (!args_[i].decoded) {
    ArgExtents(*cmd_.conn, i, &body_);
    return b_->Put(*cmd_.conn, key, body_, args_[i].length, admitted, expire_ms);
  }
  if (!admitted) {
    if (const store::WriteOutcome w = b_->Writable(args_[i].length);
        w != store::WriteOutcome::kQueued) {
      return w;
    }
  }
  Extents fresh;
  if (!b_->FreshValue(args_[i].view, &fresh).ok()) {
    return store::WriteOutcome::kPoolFull;
  }
  return b_->PutOwned(key, std::move(fresh), args_[i].length, /*admitted=*/false, expire_ms);
}

void KvProtocol::ArgRoom(size_t key_len, size_t i, uint64_t* buffers, uint64_t* log_bytes) {
  const uint64_t len = args_[i].length;
  if (args_[i].decoded) {
    // Fresh buffers, and PutOwned asks the pool for them once more after FreshValue took them:
    // counted twice so that no pair of an admitted command is refused.
    const uint64_t n = len / b_->pool().buffer_size() + 1;
    *buffers += 2 * n;
    *log_bytes += b_->RecordRoom(key_len, n, len);
    return;
  }
  ArgExtents(*cmd_.conn, i, &body_);
  *buffers += b_->BuffersFor(body_.size(), len);
  *log_bytes += b_->RecordRoom(key_len, body_.size(), len);
}

store::WriteOutcome KvProtocol::PutFresh(std::string_view key, std::string_view bytes,
                                         int64_t expire_ms) {
  if (const store::WriteOutcome w = b_->Writable(bytes.size()); w != store::WriteOutcome::kQueued) {
    return w;
  }
  Extents fresh;
  if (!b_->FreshValue(bytes, &fresh).ok()) {
    return store::WriteOutcome::kPoolFull;
  }
  return b_->PutOwned(key, std::move(fresh), bytes.size(), /*admitted=*/false, expire_ms);
}

KvConnState& KvProtocol::ConnState() const {
  return StateOf(*cmd_.conn);
}

bool KvProtocol::Authenticated() const {
  return !config_.auth_required.load(std::memory_order_relaxed) || ConnState().authenticated != 0;
}

bool KvProtocol::PasswordOk(std::string_view user, std::string_view password) const {
  std::lock_guard lock(config_.mu);
  if (user != "default") {
    return false;
  }
  const std::string& want = config_.requirepass;
  if (want.empty()) {
    return true;  // no password: the default user takes any (redis-server's nopass)
  }
  // Constant time in the password's bytes: every byte of the longer one is compared, and a length
  // difference counts as a difference.
  unsigned diff = password.size() == want.size() ? 0u : 1u;
  const size_t n = std::max(password.size(), want.size());
  for (size_t i = 0; i < n; ++i) {
    const unsigned char a = i < password.size() ? static_cast<unsigned char>(password[i]) : 0;
    const unsigned char b = i < want.size() ? static_cast<unsigned char>(want[i]) : 0;
    diff |= static_cast<unsigned>(a ^ b);
  }
  return diff == 0;
}

void KvProtocol::Simple(std::string_view s) {
  const size_t begin = Text().size();
  Text() += '+';
  Text() += s;
  Text() += resp::kCrlf;
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::Err(std::string_view message) {
  if (serving_) {
    return;  // (ServeReady: not the running command's answer; the blocked client is woken)
  }
  const size_t begin = Text().size();
  Text() += '-';
  for (char ch : message) {
    Text() += (ch == '\r' || ch == '\n') ? ' ' : ch;
  }
  Text() += resp::kCrlf;
  ++command_errors_;
  Bump(clients_.errors(loop_, ErrorKind(message)));
  const bool server = message.starts_with("OOM") || message.starts_with("MISCONF");
  b_->AnswerTextSince(cmd_.conn->id, begin,
                      server ? AnswerClass::kServerError : AnswerClass::kClientError, cmd_.close);
}

void KvProtocol::Int(int64_t v) {
  b_->AnswerText(cmd_.conn->id, {buf_, resp::WriteInteger(buf_, sizeof(buf_), v)}, AnswerClass::kOk,
                 cmd_.close);
}

void KvProtocol::Bulk(std::string_view s) {
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
  Text() += s;
  Text() += resp::kCrlf;
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::ReplyArray(uint64_t n) {
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), n));
}

void KvProtocol::ReplyBulk(std::string_view s) {
  Text().append(buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), s.size()));
  Text() += s;
  Text() += resp::kCrlf;
}

void KvProtocol::ReplyValue(const Value& v) {
  if (v.length > kInlineValueBytes) {
    ReplyEnd();  // the text so far, then the value as its own answer (its prefix: the text after)
    BulkValue(v);
    ReplyBegin();
    return;
  }
  // A small value costs less copied than sent from its buffer (an entry of the send, a reference
  // taken and dropped): its bytes are stable while its references are held.
  AppendBulk(v, &Text());
  b_->DropRefs(v.extents);
}

void KvProtocol::ReplyErr(std::string_view message) {
  ReplyEnd();
  Err(message);
  ReplyBegin();
}

void KvProtocol::ReplyEnd() {
  if (Text().size() > reply_begin_) {
    b_->AnswerTextSince(cmd_.conn->id, reply_begin_, AnswerClass::kOk, cmd_.close);
  }
}

void KvProtocol::Null() {
  b_->AnswerText(cmd_.conn->id, resp::kNullBulk, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::ArrayHeader(uint64_t n) {
  b_->AnswerText(cmd_.conn->id, {buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), n)},
                 AnswerClass::kOk, cmd_.close);
}

void KvProtocol::WrongArity() {
  std::string name(Printable(args_[0].view));
  std::transform(name.begin(), name.end(), name.begin(),
                 [](char ch) { return static_cast<char>(std::tolower(ch)); });
  Err("ERR wrong number of arguments for '" + name + "' command");
}

void KvProtocol::Refused(store::WriteOutcome w) {
  switch (w) {
    case store::WriteOutcome::kQueued: break;
    case store::WriteOutcome::kReadOnly: Err(kReadOnly); break;
    case store::WriteOutcome::kPoolFull:
      if (in_exec_) {
        // A transaction is refused whole (EXEC's own check at its start could not see every
        // buffer its commands take: SETRANGE's new value, or buffers another loop borrowed
        // meanwhile): nothing of it stays, and EXEC answers EXECABORT.
        b_->FailGroup(w);
      }
      Err(kNoBuffers);
      break;
    case store::WriteOutcome::kLogFull:
      if (b_->index_full()) {
        Err("OOM command not allowed: the index file is full (a new pool with a larger "
            "--index-size holds more keys)");
      } else {
        Err("OOM command not allowed: the log is full (start with a larger --log-size)");
      }
      break;
    case store::WriteOutcome::kTooLarge: Err("ERR value spans too many buffers"); break;
    case store::WriteOutcome::kInternal: Err("ERR internal error"); break;
    case store::WriteOutcome::kNeedsRoom: break;  // not an answer: the command runs again
  }
}

void KvProtocol::WriteOk(std::string_view ok) {
  b_->AnswerWrite(cmd_.conn->id, ok, kFailed, cmd_.close);
}

void KvProtocol::Lines(std::span<const std::string_view> lines) {
  const size_t begin = Text().size();
  Text().append(buf_, resp::WriteArrayHeader(buf_, sizeof(buf_), lines.size()));
  for (const std::string_view l : lines) {
    Text() += '+';
    Text() += l;
    Text() += resp::kCrlf;
  }
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::BulkValue(const Value& v) {
  if (v.length <= kInlineValueBytes) {
    ReplyBegin();
    ReplyValue(v);
    ReplyEnd();
    return;
  }
  b_->AnswerValue(cmd_.conn->id, {buf_, resp::WriteBulkHeader(buf_, sizeof(buf_), v.length)}, v,
                  resp::kCrlf, cmd_.close);
}

bool KvProtocol::LookupString(std::string_view key, Value* v) {
  wrong_type_ = false;
  if (!b_->Lookup(key, v)) {
    return false;
  }
  if (v->type == ValueType::kString) {
    return true;
  }
  b_->DropRefs(v->extents);
  v->extents.clear();
  wrong_type_ = true;
  return false;
}

std::string_view KvProtocol::LookupError() const {
  return wrong_type_ ? kWrongType : b_->lookup_damaged() ? kDamaged : std::string_view();
}

bool KvProtocol::LookupOrInt(std::string_view key, Value* v, int64_t absent, bool stats,
                             bool string) {
  wrong_type_ = false;
  const bool found = string ? LookupString(key, v) : b_->Lookup(key, v);
  if (stats) {
    CountRead(found || wrong_type_);
  }
  if (found) {
    return true;
  }
  if (!LookupError().empty()) {
    Err(LookupError());
  } else {
    Int(absent);
  }
  return false;
}

bool KvProtocol::KeyOk(size_t i) {
  if (args_[i].length == 0 || args_[i].length > kMaxKeyBytes) {
    Err(args_[i].length == 0 ? "ERR empty keys are not supported by pastel-kv" : kKeyTooLong);
    return false;
  }
  return true;
}

bool KvProtocol::ReadValue(const Value& v, size_t max, std::string* out) const {
  out->clear();
  if (v.length > max) {
    return false;
  }
  for (const Extent& e : v.extents) {
    out->append(reinterpret_cast<const char*>(b_->pool().BufferData(e.buffer)) + e.offset,
                e.length);
  }
  return true;
}

CommandKind KvProtocol::Execute(size_t argc) {
  // CLIENT REPLY OFF, or SKIP before this command: its answers (errors too) are dropped.
  KvConnState& st = ConnState();
  const uint8_t skip = st.skip_next;
  const bool mute = st.reply_off != 0 || skip != 0;
  st.skip_next = 0;
  skipping_ = skip != 0;
  if (mute) {
    b_->MuteAnswers(cmd_.conn->id);
  }
  const CommandKind kind = Dispatch(argc);
  if (mute) {
    b_->MuteAnswers(0);
  }
  if (b_->room_wanted() || park_) {
    st.skip_next = skip;  // it runs again from its start
  }
  return kind;
}

bool KvProtocol::ReservedKey(const CommandSpec& cmd, size_t argc) {
  int first = cmd.first_key, last_key = cmd.last_key, step = cmd.key_step;
  if (!cmd.subcommands.empty()) {
    const SubcommandSpec* sub = argc >= 2 ? FindSubcommand(cmd, ArgView(1, &tmp_)) : nullptr;
    if (sub == nullptr) {
      return false;
    }
    first = sub->first_key;
    last_key = sub->last_key;
    step = sub->key_step;
  }
  if (first <= 0 || step <= 0) {
    return false;
  }
  const size_t last =
      last_key >= 0 ? static_cast<size_t>(last_key) : argc - static_cast<size_t>(-last_key);
  for (size_t i = static_cast<size_t>(first); i <= last && i < argc;
       i += static_cast<size_t>(step)) {
    if (args_[i].length >= kHashPrefix.size() && InternalKey(ArgView(i, &tmp_))) {
      return true;
    }
  }
  return false;
}

CommandKind KvProtocol::Dispatch(size_t argc) {
  const std::string_view name = args_[0].contiguous ? args_[0].view : std::string_view();
  const CommandSpec* cmd = FindCommand(name);
  if (cmd == nullptr) {
    std::string msg =
        "ERR unknown command '" + Printable(args_[0].view) + "', with args beginning with: ";
    for (size_t i = 1; i < argc && i < 4; ++i) {
      msg += "'" + Printable(args_[i].view) + "' ";
    }
    Err(msg);
    FlagTransaction();
    return CommandKind::kError;
  }
  size_t slot = CommandSlot(*cmd, nullptr);
  const bool exec = cmd->handler == &KvProtocol::Exec;
  if (!cmd->ArityOk(argc)) {
    if (exec) {
      ExecAbort("wrong number of arguments for 'exec' command");  // (redis-server's form)
    } else {
      WrongArity();
      FlagTransaction();
    }
    Bump(clients_.command(loop_, slot).rejected);
    return CommandKind::kError;
  }
  if (!cmd->subcommands.empty() && argc >= 2) {
    const SubcommandSpec* sub = FindSubcommand(*cmd, ArgView(1, &tmp_));
    if (sub == nullptr) {
      Err("ERR unknown subcommand '" + Printable(args_[1].view) + "'. Try " + Upper(cmd->name) +
          " HELP.");
      FlagTransaction();
      return CommandKind::kError;
    }
    slot = CommandSlot(*cmd, sub);
    if (!sub->ArityOk(argc)) {
      Err("ERR wrong number of arguments for '" + std::string(cmd->name) + "|" +
          std::string(sub->name) + "' command");
      FlagTransaction();
      Bump(clients_.command(loop_, slot).rejected);
      return CommandKind::kError;
    }
  }
  if (!config_.auth_required.load(std::memory_order_relaxed)) {
    // Without a password every connection is authenticated, and stays so when one is set later
    // (as redis-server's default user).
    ConnState().authenticated = 1;
  } else if ((cmd->flags & kCmdNoAuth) == 0 && ConnState().authenticated == 0) {
    if (exec) {
      ExecAbort("NOAUTH Authentication required.");
    } else {
      Err("NOAUTH Authentication required.");  // (after the name and arity, as redis-server)
      FlagTransaction();
    }
    Bump(clients_.command(loop_, slot).rejected);
    return CommandKind::kError;
  }
  if (ReservedKey(*cmd, argc)) {
    Err(kReservedKey);
    FlagTransaction();
    return CommandKind::kError;
  }
  if (const PubSubState* ps = ConnState().pubsub;
      ps != nullptr && ps->count() > 0 && !RunsSubscribed(*cmd)) {
    // redis-server's processCommand: a RESP2 connection with subscriptions runs only these.
    std::string full(cmd->name);  // (its full name: "client|list")
    if (const SubcommandSpec* sub = !cmd->subcommands.empty() && argc >= 2
                                        ? FindSubcommand(*cmd, ArgView(1, &tmp_))
                                        : nullptr;
        sub != nullptr) {
      full += '|';
      full += sub->name;
    }
    const std::string why = "Can't execute '" + full +
                            "': only (P|S)SUBSCRIBE / (P|S)UNSUBSCRIBE / PING / QUIT / RESET are "
                            "allowed in this context";
    if (exec) {
      ExecAbort(why);
    } else {
      Err("ERR " + why);
      FlagTransaction();
    }
    Bump(clients_.command(loop_, slot).rejected);
    return CommandKind::kError;
  }
  const CommandKind kind = (cmd->flags & kCmdWrite) != 0      ? CommandKind::kWrite
                           : (cmd->flags & kCmdReadOnly) != 0 ? CommandKind::kRead
                                                              : CommandKind::kOther;
  cmd_.spec = cmd;
  if (ClientEntry* e = ConnState().client; e != nullptr) {
    e->last_ms.store(turn_ms_, std::memory_order_relaxed);
    e->last_slot.store(static_cast<uint32_t>(slot + 1), std::memory_order_relaxed);
  }
  if (const MultiState* m = ConnState().multi; m != nullptr && m->active && !RunsInMulti(*cmd)) {
    Queue(*cmd, slot);  // run by EXEC (and counted then)
    return CommandKind::kOther;
  }
  // One call in kTimedEvery of each command is timed (two clock reads cost a few percent of a
  // SET), and INFO commandstats scales the time of those up to every call.
  CommandCounters& stat = clients_.command(loop_, slot);
  const bool timed = stat.calls.load(std::memory_order_relaxed) % kTimedEvery == 0;
  const int64_t start = timed ? NowNs() : 0;
  const uint64_t errors = command_errors_;
  const size_t written = b_->pending_writes();
  (this->*cmd->handler)();
  if ((cmd->flags & kCmdWrite) != 0 && clients_.watches().any()) {
    TouchWritten(written, /*locked=*/false);  // WATCH: the keys it wrote changed (kv_multi.cc)
  }
  if (b_->room_wanted() || park_) {
    ready_.clear();
    return kind;  // not run: it runs again once the loop made room, and is counted then
  }
  if (!ready_.empty() && !in_exec_) {
    ServeReady();  // the clients blocked on the lists it pushed to (kv_lists.cc)
  }
  Bump(stat.calls);
  if (timed) {
    Bump(stat.timed_calls);
    Bump(stat.nanos, static_cast<uint64_t>(NowNs() - start));
  }
  if (command_errors_ != errors) {
    Bump(stat.failed);
  }
  return kind;
}

}  // namespace pastel::kv
