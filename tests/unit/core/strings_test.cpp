#include "core/strings.h"

#include <gtest/gtest.h>

namespace trellis {
namespace {

TEST(PercentEncodeTest, KeepsUnreservedAndEncodesEverythingElse) {
  EXPECT_EQ(PercentEncode("AZaz09-._~"), "AZaz09-._~");
  EXPECT_EQ(PercentEncode("a b/c?d=e&f#g"), "a%20b%2Fc%3Fd%3De%26f%23g");
  // A CR or LF must never survive into a Location header.
  EXPECT_EQ(PercentEncode("x\r\nSet-Cookie: y"), "x%0D%0ASet-Cookie%3A%20y");
  EXPECT_EQ(PercentEncode("é"), "%C3%A9");  // UTF-8 bytes, upper-case hex
  EXPECT_EQ(PercentEncode(std::string_view("\0\xff", 2)), "%00%FF");
  EXPECT_EQ(PercentEncode(""), "");
}

TEST(DidYouMeanTest, SuggestsOnlyPlausibleTypos) {
  EXPECT_EQ(EditDistance("kitten", "sitting"), 3u);
  EXPECT_EQ(ClosestMatch("databse", {"database", "worker", "server"}), "database");
  EXPECT_EQ(ClosestMatch("zzzzzz", {"database", "worker"}), "");
  EXPECT_EQ(DidYouMean("workr", {"worker"}), ", did you mean 'worker'?");
  EXPECT_EQ(DidYouMean("qqqqqq", {"worker"}), "");
}

}  // namespace
}  // namespace trellis
