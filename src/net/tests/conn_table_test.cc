#include "net/conn_table.h"

#include <gtest/gtest.h>

#include <cstring>
#include <string>
#include <vector>

#include "tests/support/temp_dir.h"

namespace pastel::net {
namespace {

using pastel::testing::TempDir;

std::string Gather(const Conn& c) {
  std::string s;
  for (size_t i = 0; i < c.msg.msg_iovlen; ++i) {
    s.append(static_cast<const char*>(c.iov[i].iov_base), c.iov[i].iov_len);
  }
  return s;
}

class ConnTableTest : public ::testing::Test {
 protected:
  void SetUp() override {
    PoolParams p;
    p.buffer_size = 512;
    p.buffer_count = 16;
    auto pool = Pool::Create(dir_.File("pool"), 0, p);
    ASSERT_TRUE(pool.ok());
    pool_ = std::move(pool).value();
  }
  TempDir dir_;
  std::unique_ptr<Pool> pool_;
};

TEST_F(ConnTableTest, IdsGoStaleWhenASlotIsReused) {
  ConnTable t(*pool_, 2, 128, 4);
  ASSERT_TRUE(t.Init().ok());
  Conn* a = t.Open(10);
  ASSERT_NE(a, nullptr);
  const ConnId ida = a->id();
  EXPECT_NE(ida, 0u);
  ASSERT_NE(t.Open(11), nullptr);
  EXPECT_EQ(t.Open(12), nullptr) << "table full";
  t.Free(a);
  EXPECT_EQ(t.Get(ida), nullptr);
  Conn* b = t.Open(13);
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->index, a->index);
  EXPECT_NE(b->id(), ida);
  EXPECT_EQ(t.Get(b->id()), b);
  EXPECT_EQ(t.open_count(), 2u);
}

TEST_F(ConnTableTest, BytesPackIntoBlocksAndPartialSendsResume) {
  ConnTable t(*pool_, 4, 128, 8);
  ASSERT_TRUE(t.Init().ok());
  Conn* c = t.Open(3);
  std::string all;
  for (int i = 0; i < 10; ++i) {
    std::string s(30, static_cast<char>('a' + i));
    all += s;
    ASSERT_TRUE(t.QueueBytes(*c, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
  }
  EXPECT_EQ(c->tx_count, 3u) << "300 bytes in 128-byte blocks";
  EXPECT_EQ(t.free_tx_blocks(), 5u);
  ASSERT_EQ(t.PrepareSend(*c), 300u);
  EXPECT_EQ(Gather(*c), all);
  t.Consume(*c, 100);  // partial
  ASSERT_EQ(t.PrepareSend(*c), 200u);
  EXPECT_EQ(Gather(*c), all.substr(100));
  t.Consume(*c, 200);
  EXPECT_TRUE(c->tx_empty());
  EXPECT_EQ(t.free_tx_blocks(), 8u);
}

TEST_F(ConnTableTest, FullArenaIsBusyAndQueuesNothing) {
  ConnTable t(*pool_, 4, 64, 2);
  ASSERT_TRUE(t.Init().ok());
  Conn* c = t.Open(3);
  std::string big(200, 'x');
  EXPECT_EQ(t.QueueBytes(*c, {reinterpret_cast<const uint8_t*>(big.data()), big.size()}).code(),
            StatusCode::kBusy);
  EXPECT_TRUE(c->tx_empty());
  EXPECT_EQ(t.free_tx_blocks(), 2u);
}

TEST_F(ConnTableTest, ExtentsHoldAPoolReferenceUntilSent) {
  ConnTable t(*pool_, 4, 64, 4);
  ASSERT_TRUE(t.Init().ok());
  Conn* c = t.Open(3);
  uint32_t b = *pool_->Allocate(0);
  std::memcpy(pool_->BufferData(b), "stored value", 12);
  ASSERT_TRUE(pool_->Retain(b).ok());
  const Extent e[] = {{b, 0, 6}, {b, 6, 6}};
  ASSERT_TRUE(t.QueueExtents(*c, e).ok());
  EXPECT_EQ(pool_->refs(b), 3u);
  ASSERT_EQ(t.PrepareSend(*c), 12u);
  EXPECT_EQ(Gather(*c), "stored value");
  t.Consume(*c, 7);
  EXPECT_EQ(pool_->refs(b), 2u);
  t.DropTx(*c);  // connection reset before the rest went out
  EXPECT_EQ(pool_->refs(b), 1u);
  const Extent bad[] = {{b, 500, 100}};
  EXPECT_EQ(t.QueueExtents(*c, bad).code(), StatusCode::kInvalidArgument);
  uint32_t free_buf = b + 1;
  const Extent unowned[] = {{b, 0, 1}, {free_buf, 0, 1}};
  EXPECT_EQ(t.QueueExtents(*c, unowned).code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(pool_->refs(b), 1u) << "all or nothing";
  EXPECT_TRUE(c->tx_empty());
}

// Text answers around values sent from pool buffers (a GET answer: head, value, CRLF) share the
// connection's open block instead of taking a block each; a block is free once no entry points
// into it and the queue drained. (Each such text once took a block: 4,096 pipelined GET answers
// used up a loop's arena and the connection was closed.)
TEST_F(ConnTableTest, TextAroundExtentsSharesTheOpenBlock) {
  ConnTable t(*pool_, 2, 128, 4, 4096);
  ASSERT_TRUE(t.Init().ok());
  Conn* c = t.Open(3);
  uint32_t b = *pool_->Allocate(0);
  std::memcpy(pool_->BufferData(b), "value", 5);
  ASSERT_TRUE(pool_->Retain(b).ok());  // the stored value's own reference
  std::string want;
  const auto text = [&](std::string_view s) {
    ASSERT_TRUE(t.QueueBytes(*c, {reinterpret_cast<const uint8_t*>(s.data()), s.size()}).ok());
    want += s;
  };
  for (int i = 0; i < 40; ++i) {  // 40 answers, 240 bytes of text: two 128-byte blocks
    text("$5\r\n");
    const Extent e[] = {{b, 0, 5}};
    ASSERT_TRUE(t.QueueExtents(*c, e).ok());
    want += "value";
    text("\r\n");
  }
  EXPECT_EQ(t.free_tx_blocks(), 2u);
  // A CRLF and the next answer's head are one entry: the first head, 40 values, 40 text runs,
  // and one run cut in two where the first block ends.
  EXPECT_EQ(c->tx_count, 82u);
  std::string sent;
  while (!c->tx_empty()) {
    const size_t n = t.PrepareSend(*c);
    sent += Gather(*c);
    t.Consume(*c, n);
  }
  EXPECT_EQ(sent, want);
  EXPECT_EQ(t.free_tx_blocks(), 4u) << "every block back once the queue drained";
  EXPECT_EQ(pool_->refs(b), 1u);
  // A partly sent queue dropped (reset) gives its blocks back too.
  text("abc");
  EXPECT_EQ(t.free_tx_blocks(), 3u);
  t.DropTx(*c);
  EXPECT_EQ(t.free_tx_blocks(), 4u);
}

TEST_F(ConnTableTest, QueuesLongerThanAnIovecBatchDrainInOrder) {
  // A stored value of many small extents (a slow client's pieces) is sent as many batches of
  // kMaxIov entries, in order, and the slab gets every entry back.
  ConnTable t(*pool_, 2, 64, 4, 512);
  ASSERT_TRUE(t.Init().ok());
  Conn* c = t.Open(3);
  uint32_t b = *pool_->Allocate(0);
  ASSERT_TRUE(pool_->Retain(b).ok());  // the stored value's own reference
  std::string want;
  std::vector<Extent> ext;
  for (uint32_t i = 0; i < 300; ++i) {
    pool_->BufferData(b)[i] = static_cast<uint8_t>('A' + i % 26);
    want.push_back(static_cast<char>('A' + i % 26));
    ext.push_back({b, i, 1});
  }
  ASSERT_TRUE(t.QueueExtents(*c, ext).ok());
  EXPECT_EQ(t.free_tx_entries(), 212u);
  EXPECT_EQ(pool_->refs(b), 301u);
  std::string got;
  while (!c->tx_empty()) {
    const size_t n = t.PrepareSend(*c);
    ASSERT_LE(c->msg.msg_iovlen, kMaxIov);
    got += Gather(*c);
    t.Consume(*c, n);
  }
  EXPECT_EQ(got, want);
  EXPECT_EQ(t.free_tx_entries(), 512u);
  EXPECT_EQ(pool_->refs(b), 1u);
}

TEST_F(ConnTableTest, FullSlabIsBusyAndQueuesNothing) {
  ConnTable t(*pool_, 2, 64, 4, 8);
  ASSERT_TRUE(t.Init().ok());
  Conn* a = t.Open(3);
  Conn* d = t.Open(4);
  uint32_t b = *pool_->Allocate(0);
  ASSERT_TRUE(pool_->Retain(b).ok());
  const std::vector<Extent> six(6, Extent{b, 0, 1});
  ASSERT_TRUE(t.QueueExtents(*a, six).ok());
  EXPECT_EQ(t.QueueExtents(*d, six).code(), StatusCode::kBusy);
  EXPECT_TRUE(d->tx_empty());
  EXPECT_EQ(pool_->refs(b), 7u) << "the refused queue took no reference";
  t.Free(a);
  EXPECT_EQ(pool_->refs(b), 1u);
  EXPECT_TRUE(t.QueueExtents(*d, six).ok()) << "a closed connection's entries come back";
}

}  // namespace
}  // namespace pastel::net
