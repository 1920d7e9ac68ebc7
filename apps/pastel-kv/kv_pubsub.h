#pragma once
// pastel-kv's publish/subscribe (not durable, as in Redis): the registry of subscriptions that the
// loops share, and the messages one loop's PUBLISH hands to another loop's subscribers (private
// to the app; the commands are in kv_pubsub.cc).
//
// A PUBLISH on loop L queues each message for its subscribers of loop L at once (answers of L's
// open batch, sent with its PUBLISH's answer) and puts those of other loops in their inboxes; each
// loop takes its inbox at its next turn (Protocol::OnTurn: within ~100 ms) and queues them as its
// own answers. A subscriber's messages keep the order of the PUBLISHes of one loop.
//
// Threads: shared by the loops; every member takes the registry's lock.

#include <atomic>
#include <cstdint>
#include <deque>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/net.h"

namespace pastel::kv {

// A connection's subscriptions (in its KvConnState, made on its first SUBSCRIBE).
struct PubSubState {
  std::set<std::string, std::less<>> channels;
  std::set<std::string, std::less<>> patterns;
  size_t count() const { return channels.size() + patterns.size(); }
};

class KvPubSub {
 public:
  explicit KvPubSub(uint32_t loops) : inboxes_(loops) {}

  // A subscriber: its loop and connection.
  struct Sub {
    uint32_t loop;
    ConnId conn;
    bool operator<(const Sub& o) const { return loop != o.loop ? loop < o.loop : conn < o.conn; }
  };
  void Subscribe(std::string_view channel, Sub s);
  void Unsubscribe(std::string_view channel, Sub s);
  void PSubscribe(std::string_view pattern, Sub s);
  void PUnsubscribe(std::string_view pattern, Sub s);
  bool any() const { return any_.load(std::memory_order_relaxed); }

  // PUBLISH of `message` to `channel` from loop `loop`: calls `local(conn, bytes)` for each
  // message to a subscriber of that loop, and queues the others' in their loops' inboxes. Returns
  // how many messages were sent (a subscriber of the channel and of matching patterns gets one
  // for each).
  template <typename Local>
  uint64_t Publish(std::string_view channel, std::string_view message, uint32_t loop,
                   Local&& local);
  // The messages other loops published to subscribers of `loop`, taken (each: its connection,
  // its bytes). A relaxed check first: whether there are any.
  bool Pending(uint32_t loop) const {
    return inboxes_[loop].pending.load(std::memory_order_relaxed);
  }
  void Take(uint32_t loop, std::vector<std::pair<ConnId, std::string>>* out);

  // PUBSUB CHANNELS (the channels with subscribers matching `pattern`; none: all), NUMSUB, and
  // NUMPAT (distinct patterns).
  std::vector<std::string> Channels(std::optional<std::string_view> pattern) const;
  uint64_t NumSub(std::string_view channel) const;
  uint64_t NumPat() const;

 private:
  // The RESP push of `message` on `channel`: a "message", or with `pattern` (non-null) a
  // "pmessage".
  static std::string Message(const std::string* pattern, std::string_view channel,
                             std::string_view message);
  struct Inbox {
    std::vector<std::pair<ConnId, std::string>> messages;
    std::atomic<bool> pending{false};
  };
  mutable std::mutex mu_;
  std::map<std::string, std::set<Sub>, std::less<>> channels_;
  std::map<std::string, std::set<Sub>, std::less<>> patterns_;
  std::deque<Inbox> inboxes_;  // per loop
  std::atomic<bool> any_{false};
};

bool GlobMatch(std::string_view pattern, std::string_view s);
// Whether `channel` matches `pattern` as redis-server's stringmatchlen decides: as GlobMatch, but
// the empty channel matches only the empty pattern.
inline bool ChannelMatch(std::string_view pattern, std::string_view channel) {
  return channel.empty() ? pattern.empty() : GlobMatch(pattern, channel);
}

template <typename Local>
uint64_t KvPubSub::Publish(std::string_view channel, std::string_view message, uint32_t loop,
                           Local&& local) {
  std::lock_guard lock(mu_);
  uint64_t n = 0;
  const auto deliver = [&](const std::set<Sub>& subs, const std::string* pattern) {
    const std::string bytes = Message(pattern, channel, message);
    for (const Sub& s : subs) {
      if (s.loop == loop) {
        local(s.conn, bytes);
      } else {
        Inbox& in = inboxes_[s.loop];
        in.messages.emplace_back(s.conn, bytes);
        in.pending.store(true, std::memory_order_relaxed);
      }
      ++n;
    }
  };
  if (auto it = channels_.find(channel); it != channels_.end()) {
    deliver(it->second, nullptr);
  }
  for (const auto& [pattern, subs] : patterns_) {
    if (ChannelMatch(pattern, channel)) {
      deliver(subs, &pattern);
    }
  }
  return n;
}

}  // namespace pastel::kv
