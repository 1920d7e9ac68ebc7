// pastel-kv's publish/subscribe: SUBSCRIBE PSUBSCRIBE UNSUBSCRIBE PUNSUBSCRIBE PUBLISH PUBSUB, the
// registry the loops share (KvPubSub, kv_pubsub.h) and RESET. Not durable, as in Redis: a
// message goes to the clients subscribed when it is published, and nowhere else.

#include "kv_pubsub.h"

#include "kv_protocol.h"
#include "kv_util.h"

namespace pastel::kv {

// --- KvPubSub: the registry.

namespace {

void AddSub(std::map<std::string, std::set<KvPubSub::Sub>, std::less<>>& m, std::string_view name,
            KvPubSub::Sub s) {
  auto it = m.find(name);
  if (it == m.end()) {
    it = m.emplace(std::string(name), std::set<KvPubSub::Sub>()).first;
  }
  it->second.insert(s);
}

void RemoveSub(std::map<std::string, std::set<KvPubSub::Sub>, std::less<>>& m,
               std::string_view name, KvPubSub::Sub s) {
  if (auto it = m.find(name); it != m.end()) {
    it->second.erase(s);
    if (it->second.empty()) {
      m.erase(it);
    }
  }
}

void PushBulk(std::string* out, std::string_view s) {
  *out += '$';
  *out += std::to_string(s.size());
  *out += resp::kCrlf;
  *out += s;
  *out += resp::kCrlf;
}

}  // namespace

void KvPubSub::Subscribe(std::string_view channel, Sub s) {
  std::lock_guard lock(mu_);
  AddSub(channels_, channel, s);
  any_.store(true, std::memory_order_relaxed);
}

void KvPubSub::Unsubscribe(std::string_view channel, Sub s) {
  std::lock_guard lock(mu_);
  RemoveSub(channels_, channel, s);
}

void KvPubSub::PSubscribe(std::string_view pattern, Sub s) {
  std::lock_guard lock(mu_);
  AddSub(patterns_, pattern, s);
  any_.store(true, std::memory_order_relaxed);
}

void KvPubSub::PUnsubscribe(std::string_view pattern, Sub s) {
  std::lock_guard lock(mu_);
  RemoveSub(patterns_, pattern, s);
}

std::string KvPubSub::Message(const std::string* pattern, std::string_view channel,
                              std::string_view message) {
  std::string out = pattern != nullptr ? "*4\r\n$8\r\npmessage\r\n" : "*3\r\n$7\r\nmessage\r\n";
  if (pattern != nullptr) {
    PushBulk(&out, *pattern);
  }
  PushBulk(&out, channel);
  PushBulk(&out, message);
  return out;
}

void KvPubSub::Take(uint32_t loop, std::vector<std::pair<ConnId, std::string>>* out) {
  std::lock_guard lock(mu_);
  Inbox& in = inboxes_[loop];
  out->swap(in.messages);
  in.messages.clear();
  in.pending.store(false, std::memory_order_relaxed);
}

std::vector<std::string> KvPubSub::Channels(std::optional<std::string_view> pattern) const {
  std::lock_guard lock(mu_);
  std::vector<std::string> out;
  for (const auto& [name, subs] : channels_) {
    if (!pattern || ChannelMatch(*pattern, name)) {
      out.push_back(name);
    }
  }
  return out;
}

uint64_t KvPubSub::NumSub(std::string_view channel) const {
  std::lock_guard lock(mu_);
  auto it = channels_.find(channel);
  return it == channels_.end() ? 0 : it->second.size();
}

uint64_t KvPubSub::NumPat() const {
  std::lock_guard lock(mu_);
  return patterns_.size();
}

// --- The commands.

PubSubState& KvProtocol::PubSubOf() {
  KvConnState& st = ConnState();
  if (st.pubsub == nullptr) {
    st.pubsub = new PubSubState();  // (once per connection that subscribes; freed in OnClose)
  }
  return *st.pubsub;
}

void KvProtocol::SubscribeReply(std::string_view kind, const std::string* name, size_t count) {
  const size_t begin = Text().size();
  Text() += "*3\r\n";
  PushBulk(&Text(), kind);
  if (name != nullptr) {
    PushBulk(&Text(), *name);
  } else {
    Text() += resp::kNullBulk;
  }
  Text().append(buf_, resp::WriteInteger(buf_, sizeof(buf_), static_cast<int64_t>(count)));
  b_->AnswerTextSince(cmd_.conn->id, begin, AnswerClass::kOk, cmd_.close);
}

void KvProtocol::SubscribeCmd(bool pattern) {
  PubSubState& ps = PubSubOf();
  KvPubSub& reg = clients_.pubsub();
  for (size_t i = 1; i < cmd_.argc; ++i) {
    const std::string name(ArgView(i, &tmp_));
    auto& mine = pattern ? ps.patterns : ps.channels;
    if (mine.insert(name).second) {
      if (pattern) {
        reg.PSubscribe(name, {loop_, cmd_.conn->id});
      } else {
        reg.Subscribe(name, {loop_, cmd_.conn->id});
      }
    }
    SubscribeReply(pattern ? "psubscribe" : "subscribe", &name, ps.count());
  }
  Counted(ps);
}

void KvProtocol::Counted(const PubSubState& ps) {
  if (ClientEntry* e = ConnState().client; e != nullptr) {
    e->sub.store(static_cast<uint32_t>(ps.channels.size()), std::memory_order_relaxed);
    e->psub.store(static_cast<uint32_t>(ps.patterns.size()), std::memory_order_relaxed);
  }
}

void KvProtocol::UnsubscribeCmd(bool pattern) {
  PubSubState& ps = PubSubOf();
  KvPubSub& reg = clients_.pubsub();
  auto& mine = pattern ? ps.patterns : ps.channels;
  const std::string_view kind = pattern ? "punsubscribe" : "unsubscribe";
  std::vector<std::string> names;
  if (cmd_.argc == 1) {
    names.assign(mine.begin(), mine.end());  // all of them
    if (names.empty()) {
      SubscribeReply(kind, nullptr, ps.count());
      return;
    }
  } else {
    for (size_t i = 1; i < cmd_.argc; ++i) {
      names.emplace_back(ArgView(i, &tmp_));
    }
  }
  for (const std::string& name : names) {
    if (auto it = mine.find(name); it != mine.end()) {
      mine.erase(it);
      if (pattern) {
        reg.PUnsubscribe(name, {loop_, cmd_.conn->id});
      } else {
        reg.Unsubscribe(name, {loop_, cmd_.conn->id});
      }
    }
    SubscribeReply(kind, &name, ps.count());
  }
  Counted(ps);
}

void KvProtocol::Subscribe() {
  SubscribeCmd(false);
}
void KvProtocol::PSubscribe() {
  SubscribeCmd(true);
}
void KvProtocol::Unsubscribe() {
  UnsubscribeCmd(false);
}
void KvProtocol::PUnsubscribe() {
  UnsubscribeCmd(true);
}

void KvProtocol::Publish() {
  const std::string channel(ArgView(1, &tmp_key_));
  const std::string_view message = ArgView(2, &tmp_);
  const uint64_t n = clients_.pubsub().Publish(
      channel, message, loop_, [this](ConnId conn, std::string_view bytes) {
        b_->AnswerText(conn, bytes, AnswerClass::kOk, false);
      });
  Int(static_cast<int64_t>(n));
}

void KvProtocol::PubSub() {
  const KvPubSub& reg = clients_.pubsub();
  if (Is(1, "channels")) {
    if (cmd_.argc > 3) {
      Err("ERR unknown subcommand or wrong number of arguments for '" + Printable(args_[1].view) +
          "'. Try PUBSUB HELP.");
      return;
    }
    const std::vector<std::string> names = reg.Channels(
        cmd_.argc == 3 ? std::optional<std::string_view>(ArgView(2, &tmp_)) : std::nullopt);
    ArrayHeader(names.size());
    for (const std::string& n : names) {
      Bulk(n);
    }
  } else if (Is(1, "numsub")) {
    ArrayHeader((cmd_.argc - 2) * 2);
    for (size_t i = 2; i < cmd_.argc; ++i) {
      const std::string_view name = ArgView(i, &tmp_);
      Bulk(name);
      Int(static_cast<int64_t>(reg.NumSub(name)));
    }
  } else if (Is(1, "numpat")) {
    Int(static_cast<int64_t>(reg.NumPat()));
  } else if (Is(1, "shardchannels") || Is(1, "shardnumsub")) {
    if (Is(1, "shardchannels") && cmd_.argc > 3) {
      Err("ERR unknown subcommand or wrong number of arguments for '" + Printable(args_[1].view) +
          "'. Try PUBSUB HELP.");
      return;
    }
    // (No cluster, no shard channels: nothing subscribed to any.)
    if (Is(1, "shardchannels")) {
      ArrayHeader(0);
    } else {
      ArrayHeader((cmd_.argc - 2) * 2);
      for (size_t i = 2; i < cmd_.argc; ++i) {
        Bulk(ArgView(i, &tmp_));
        Int(0);
      }
    }
  } else {  // help
    static constexpr std::string_view kHelp[] = {
        "PUBSUB <subcommand> [<arg> [value] [opt] ...]. Subcommands are:",
        "CHANNELS [<pattern>]",
        "    Return the currently active channels matching a <pattern> (default: '*').",
        "NUMPAT",
        "    Return number of subscriptions to patterns.",
        "NUMSUB [<channel> ...]",
        "    Return the number of subscribers for the specified channels, excluding",
        "    pattern subscriptions(default: no channels).",
        "SHARDCHANNELS [<pattern>]",
        "    Return the currently active shard level channels matching a <pattern> (default: "
        "'*').",
        "SHARDNUMSUB [<shardchannel> ...]",
        "    Return the number of subscribers for the specified shard level channel(s)",
        "HELP",
        "    Prints this help.",
    };
    Lines(kHelp);
  }
}

void KvProtocol::UnsubscribeAll(Conn& c) {
  KvConnState& st = StateOf(c);
  if (st.pubsub == nullptr) {
    return;
  }
  KvPubSub& reg = clients_.pubsub();
  for (const std::string& ch : st.pubsub->channels) {
    reg.Unsubscribe(ch, {loop_, c.id});
  }
  for (const std::string& p : st.pubsub->patterns) {
    reg.PUnsubscribe(p, {loop_, c.id});
  }
  st.pubsub->channels.clear();
  st.pubsub->patterns.clear();
  if (st.client != nullptr) {
    st.client->sub.store(0, std::memory_order_relaxed);
    st.client->psub.store(0, std::memory_order_relaxed);
  }
}

void KvProtocol::Reset() {
  // redis-server's resetCommand: the connection as it was when it opened (no transaction, no
  // watches, no subscriptions, replies on, no name), its authentication that of a new one.
  KvConnState& st = ConnState();
  if (st.multi != nullptr) {
    EndMulti(*st.multi);
  }
  UnsubscribeAll(*cmd_.conn);
  st.reply_off = 0;
  st.skip_next = 0;
  st.authenticated = config_.auth_required.load(std::memory_order_relaxed) ? 0 : 1;
  if (st.client != nullptr) {
    clients_.SetField(st.client, &ClientEntry::name, "");
  }
  if (!skipping_) {
    b_->MuteAnswers(0);  // CLIENT REPLY OFF is over: its answer goes out (a SKIP still drops it)
  }
  Simple("RESET");
}

void KvProtocol::DeliverMessages(store::Batch& b) {
  KvPubSub& reg = clients_.pubsub();
  if (!reg.Pending(loop_)) {
    return;
  }
  inbox_.clear();
  reg.Take(loop_, &inbox_);
  for (const auto& [conn, bytes] : inbox_) {
    b.AnswerText(conn, bytes, AnswerClass::kOk, false);  // (a connection gone meanwhile: dropped)
  }
}

}  // namespace pastel::kv
