#include "core/status.h"

#include <gtest/gtest.h>

#include <memory>
#include <string>
#include <utility>
#include <vector>

namespace trellis {
namespace {

TEST(StatusTest, DefaultIsOk) {
  Status s;
  EXPECT_TRUE(s.ok());
  EXPECT_EQ(s.code(), StatusCode::kOk);
  EXPECT_EQ(s.message(), "");
  EXPECT_EQ(s.ToString(), "OK");
  EXPECT_TRUE(Status::Ok().ok());
}

TEST(StatusTest, HelpersSetCodeAndMessage) {
  const std::vector<std::pair<Status, StatusCode>> cases = {
      {InvalidArgument("m"), StatusCode::kInvalidArgument},
      {NotFound("m"), StatusCode::kNotFound},
      {Conflict("m"), StatusCode::kConflict},
      {FailedPrecondition("m"), StatusCode::kFailedPrecondition},
      {Unavailable("m"), StatusCode::kUnavailable},
      {DeadlineExceeded("m"), StatusCode::kDeadlineExceeded},
      {ResourceExhausted("m"), StatusCode::kResourceExhausted},
      {Internal("m"), StatusCode::kInternal},
  };
  for (const auto& [status, code] : cases) {
    EXPECT_FALSE(status.ok());
    EXPECT_EQ(status.code(), code);
    EXPECT_EQ(status.message(), "m");
  }
}

TEST(StatusTest, ToStringNamesTheCode) {
  EXPECT_EQ(NotFound("workflow 'x' not found").ToString(), "NotFound: workflow 'x' not found");
  EXPECT_EQ(Status(StatusCode::kCancelled, "stopped").ToString(), "Cancelled: stopped");
}

TEST(StatusTest, EveryCodeHasAName) {
  EXPECT_STREQ(StatusCodeName(StatusCode::kOk), "OK");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInvalidArgument), "InvalidArgument");
  EXPECT_STREQ(StatusCodeName(StatusCode::kNotFound), "NotFound");
  EXPECT_STREQ(StatusCodeName(StatusCode::kConflict), "Conflict");
  EXPECT_STREQ(StatusCodeName(StatusCode::kFailedPrecondition), "FailedPrecondition");
  EXPECT_STREQ(StatusCodeName(StatusCode::kUnavailable), "Unavailable");
  EXPECT_STREQ(StatusCodeName(StatusCode::kDeadlineExceeded), "DeadlineExceeded");
  EXPECT_STREQ(StatusCodeName(StatusCode::kResourceExhausted), "ResourceExhausted");
  EXPECT_STREQ(StatusCodeName(StatusCode::kCancelled), "Cancelled");
  EXPECT_STREQ(StatusCodeName(StatusCode::kInternal), "Internal");
}

Result<int> Half(int n) {
  if (n % 2 != 0) return InvalidArgument(std::to_string(n) + " is odd");
  return n / 2;
}

TEST(ResultTest, HoldsAValue) {
  // Through a helper: g++ 12 -O2 warns falsely (-Wmaybe-uninitialized) about the variant's Status
  // when a Result<int> local is built from a literal and its status() is read in the same function.
  const Result<int> r = Half(84);
  EXPECT_TRUE(r.ok());
  EXPECT_TRUE(static_cast<bool>(r));
  EXPECT_EQ(r.value(), 42);
  EXPECT_EQ(*r, 42);
  EXPECT_TRUE(r.status().ok());
}

TEST(ResultTest, HoldsAnError) {
  Result<int> r = NotFound("no such run");
  EXPECT_FALSE(r.ok());
  EXPECT_FALSE(static_cast<bool>(r));
  EXPECT_EQ(r.status().code(), StatusCode::kNotFound);
  EXPECT_EQ(r.status().message(), "no such run");
}

TEST(ResultTest, ValueCanBeModifiedAndAccessedThroughArrow) {
  Result<std::string> r = std::string("abc");
  EXPECT_EQ(r->size(), 3u);
  r->append("d");
  *r += "e";
  EXPECT_EQ(r.value(), "abcde");
  const Result<std::string>& cr = r;
  EXPECT_EQ(cr->front(), 'a');
  EXPECT_EQ(*cr, "abcde");
}

TEST(ResultTest, MovesMoveOnlyValuesOut) {
  Result<std::unique_ptr<int>> r = std::make_unique<int>(7);
  ASSERT_TRUE(r.ok());
  std::unique_ptr<int> p = std::move(r).value();
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(*p, 7);
}

TEST(ResultTest, FunctionsReturnEitherAValueOrAStatus) {
  EXPECT_EQ(*Half(10), 5);
  EXPECT_EQ(Half(3).status().ToString(), "InvalidArgument: 3 is odd");
}

}  // namespace
}  // namespace trellis
