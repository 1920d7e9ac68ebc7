#include "pastel/status.h"

#include <gtest/gtest.h>

#include <cerrno>
#include <memory>

namespace pastel {
namespace {

TEST(StatusTest, OkHasNoMessage) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.ToString(), "OK");
}

TEST(StatusTest, ErrorsCarryCodeAndMessage) {
  Status s = Status::Corruption("pool header checksum mismatch");
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kCorruption);
  EXPECT_EQ(s.ToString(), "Corruption: pool header checksum mismatch");
  Status e = Status::FromErrno("msync", EIO);
  EXPECT_EQ(e.code(), StatusCode::kIoError);
  EXPECT_NE(e.message().find("msync: "), std::string::npos);
  EXPECT_NE(e.message().find("errno 5"), std::string::npos);
}

Status FailsWhen(bool fail) {
  PASTEL_RETURN_IF_ERROR(fail ? Status::NoSpace("full") : Status::Ok());
  return Status::Busy("reached the end");
}

TEST(StatusTest, ReturnIfErrorReturnsEarly) {
  EXPECT_EQ(FailsWhen(true).code(), StatusCode::kNoSpace);
  EXPECT_EQ(FailsWhen(false).code(), StatusCode::kBusy);
}

TEST(ResultTest, HoldsValueOrStatus) {
  Result<int> v = 42;
  ASSERT_TRUE(v.ok());
  EXPECT_EQ(*v, 42);
  EXPECT_TRUE(v.status().ok());
  Result<int> e = Status::NotFound("no such key");
  ASSERT_FALSE(e.ok());
  EXPECT_EQ(e.status().code(), StatusCode::kNotFound);
}

TEST(ResultTest, MovesOnlyValues) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  EXPECT_EQ(*p, 7);
}

}  // namespace
}  // namespace pastel
