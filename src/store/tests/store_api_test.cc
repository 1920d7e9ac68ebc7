// The store's public API alone (pastel/store.h) is enough to write a durable protocol: a line
// protocol of a few dozen lines, run by RunLoop on a real backend over loopback, puts values in
// place, answers after the group commit, reads them back, and a reopened Store recovers them.
// It includes no header of src/store: a protocol sees the store only through Batch.

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "pastel/net.h"
#include "pastel/store.h"
#include "src/net/tests/net_test_util.h"
#include "tests/support/temp_dir.h"

namespace pastel::store {
namespace {

// "PUT key value\n" (the value kept where it was received), "GET key\n", "DEL key\n".
class LineProtocol final : public Protocol {
 public:
  void Parse(Batch& b, Conn& c) override {
    while (!c.closing && c.avail > 0 && !b.Held(c)) {
      b.GatherFront(c, static_cast<size_t>(std::min<uint64_t>(c.avail, 4096)));
      const size_t eol = c.scratch.find('\n');
      if (eol == std::string::npos) {
        return;  // more bytes to come
      }
      const std::string line = c.scratch.substr(0, eol);
      const size_t sp = line.find(' ');
      const std::string verb = line.substr(0, sp);
      const std::string rest = sp == std::string::npos ? "" : line.substr(sp + 1);
      if (verb == "PUT") {
        const size_t sp2 = rest.find(' ');
        const std::string key = rest.substr(0, sp2);
        const uint64_t at = sp + 1 + sp2 + 1;  // the value's first byte in the line
        const uint64_t len = eol - at;
        const WriteOutcome w = b.Writable(len, b.RecordRoom(key.size(), 2, len));
        if (w == WriteOutcome::kNeedsRoom) {
          return;  // the loop makes room, then parses c again
        }
        std::vector<Extent> body;
        b.BodyExtents(c, at, len, &body);
        if (w != WriteOutcome::kQueued ||
            b.Put(c, key, body, len, /*admitted=*/false) != WriteOutcome::kQueued) {
          b.AnswerText(c.id, "REFUSED\n", AnswerClass::kServerError, false);
        } else {
          b.AnswerWrite(c.id, "OK\n", "FAILED\n", false);
        }
      } else if (verb == "GET") {
        Value v;
        if (b.Lookup(rest, &v)) {
          b.AnswerValue(c.id, "VALUE ", v, "\n", false);
        } else {
          b.AnswerText(c.id, "NONE\n", AnswerClass::kOk, false);
        }
      } else if (verb == "DEL") {
        const bool had = b.Exists(rest);
        if (had && b.Delete(rest) == WriteOutcome::kQueued) {
          b.AnswerWrite(c.id, "DELETED\n", "FAILED\n", false);
        } else {
          b.AnswerText(c.id, "NONE\n", AnswerClass::kOk, false);
        }
      } else {
        b.AnswerText(c.id, "ERROR\n", AnswerClass::kClientError, true);
        c.closing = true;
      }
      b.Consume(c, eol + 1);
    }
  }
  void OnTimeout(Batch& b, Conn& c) override {
    b.AnswerText(c.id, "TIMEOUT\n", AnswerClass::kClientError, true);
    c.closing = true;
  }
};

StoreFiles Files(const testing::TempDir& dir) {
  StoreFiles f;
  f.pool_path = dir.path() + "/api.pool";
  f.pool_size = 8ull << 20;
  f.log_size = 1ull << 20;
  return f;
}

TEST(StoreApiTest, ALineProtocolServesDurableWritesThroughTheBatchAlone) {
  testing::TempDir dir;
  ASSERT_TRUE(dir.ok());
  {
    Result<std::unique_ptr<Store>> opened = Store::Open(Files(dir));
    ASSERT_TRUE(opened.ok()) << opened.status().ToString();
    Store& store = **opened;
    EXPECT_TRUE(store.start().created);
    LineProtocol protocol;
    LoopCounters counters;
    StoreOptions options;
    NetOptions no;
    no.listen = "127.0.0.1:0";
    std::atomic<int> failed{0};
    Result<std::unique_ptr<LoopGroup>> group = LoopGroup::Start(
        BackendKind::kEpoll, store.pool(), 1, no,
        [&](Backend& be, uint32_t i, const std::atomic<bool>& stop) {
          if (!RunLoop(store, i, be, protocol, options, counters, "api-test", stop).ok()) {
            failed.store(1);
          }
        });
    ASSERT_TRUE(group.ok()) << group.status().ToString();
    const int fd = testing::Connect((*group)->port());
    ASSERT_GE(fd, 0);
    const std::string want =
        "OK\nOK\nVALUE hello, durable world\nNONE\nDELETED\nNONE\nOK\nVALUE 2\n";
    ASSERT_TRUE(testing::SendAll(fd,
                                 "PUT greeting hello, durable world\nPUT gone 1\nGET greeting\n"
                                 "GET missing\nDEL gone\nGET gone\nPUT n 2\nGET n\n"));
    EXPECT_EQ(testing::RecvN(fd, want.size()), want);
    ::close(fd);
    (*group)->Stop();
    EXPECT_EQ(failed.load(), 0);
    EXPECT_EQ(counters.committed_writes.load(), 4u);  // three puts and a delete
    EXPECT_GE(counters.commits.load(), 1u);
    EXPECT_EQ(store.live_keys(), 2u);
  }
  // A new start finds what was acknowledged (the clean stop checkpointed it into the index file).
  Result<std::unique_ptr<Store>> again = Store::Open(Files(dir));
  ASSERT_TRUE(again.ok()) << again.status().ToString();
  EXPECT_FALSE((*again)->start().created);
  EXPECT_EQ((*again)->start().keys, 2u);
  std::vector<std::string> seen;
  (*again)->ForEachLive([&](std::string_view key, const Value& v) {
    std::string bytes;
    for (const Extent& e : v.extents) {
      bytes.append(reinterpret_cast<const char*>((*again)->pool().BufferData(e.buffer)) + e.offset,
                   e.length);
    }
    seen.push_back(std::string(key) + "=" + bytes);
    return true;
  });
  std::sort(seen.begin(), seen.end());
  EXPECT_EQ(seen, (std::vector<std::string>{"greeting=hello, durable world", "n=2"}));
}

}  // namespace
}  // namespace pastel::store
