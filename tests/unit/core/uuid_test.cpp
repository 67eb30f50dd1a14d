#include "core/uuid.h"

#include <gtest/gtest.h>

#include <set>
#include <string>
#include <vector>

namespace trellis {
namespace {

using std::chrono::milliseconds;

// 2026-01-01T00:00:00Z is 1767225600000 ms = 0x019b76daa800.
const TimePoint kNewYear = TimePoint(milliseconds(1'767'225'600'000));

TEST(UuidTest, HasTheCanonicalShape) {
  std::string id = NewUuidV7(kNewYear);
  ASSERT_EQ(id.size(), 36u);
  EXPECT_EQ(id[8], '-');
  EXPECT_EQ(id[13], '-');
  EXPECT_EQ(id[18], '-');
  EXPECT_EQ(id[23], '-');
  for (char c : id) EXPECT_TRUE(c == '-' || (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f')) << id;
  EXPECT_TRUE(IsUuid(id));
}

TEST(UuidTest, CarriesVersionSevenAndTheRfcVariant) {
  for (int i = 0; i < 200; ++i) {
    std::string id = NewUuidV7();
    EXPECT_EQ(id[14], '7') << id;
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id;
  }
}

TEST(UuidTest, StartsWithTheUnixMilliseconds) {
  EXPECT_EQ(NewUuidV7(kNewYear).substr(0, 13), "019b76da-a800");
  EXPECT_EQ(NewUuidV7(kNewYear + milliseconds(0x7b)).substr(0, 13), "019b76da-a87b");
  EXPECT_EQ(NewUuidV7(TimePoint{}).substr(0, 13), "00000000-0000");
  // Sub-millisecond parts are dropped.
  EXPECT_EQ(NewUuidV7(kNewYear + std::chrono::microseconds(999)).substr(0, 13), "019b76da-a800");
}

TEST(UuidTest, SortsByTimeAcrossMilliseconds) {
  std::vector<std::string> ids;
  for (int i = 0; i < 1000; ++i) ids.push_back(NewUuidV7(kNewYear + milliseconds(i * 7)));
  for (size_t i = 1; i < ids.size(); ++i) EXPECT_LT(ids[i - 1], ids[i]) << i;
  // Also across a carry into the upper timestamp bytes.
  EXPECT_LT(NewUuidV7(TimePoint(milliseconds(0xFFFFFFFF))), NewUuidV7(TimePoint(milliseconds(0x100000000))));
}

TEST(UuidTest, IdsInTheSameMillisecondDiffer) {
  std::set<std::string> ids;
  for (int i = 0; i < 10000; ++i) ids.insert(NewUuidV7(kNewYear));
  EXPECT_EQ(ids.size(), 10000u);
}

TEST(UuidTest, IsUuidAcceptsAnyVersionAndCase) {
  EXPECT_TRUE(IsUuid("123e4567-e89b-12d3-a456-426614174000"));
  EXPECT_TRUE(IsUuid("123E4567-E89B-12D3-A456-426614174000"));
  EXPECT_TRUE(IsUuid("00000000-0000-0000-0000-000000000000"));
}

TEST(UuidTest, IsUuidRejectsMalformedText) {
  EXPECT_FALSE(IsUuid(""));
  EXPECT_FALSE(IsUuid("123e4567e89b12d3a456426614174000"));       // no dashes
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-42661417400"));    // short
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456-4266141740000"));  // long
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a456_426614174000"));   // wrong separator
  EXPECT_FALSE(IsUuid("123e4567-e89b-12d3-a4566-42661417400"));   // dash in the wrong place
  EXPECT_FALSE(IsUuid("g23e4567-e89b-12d3-a456-426614174000"));   // not hex
  EXPECT_FALSE(IsUuid("{23e4567-e89b-12d3-a456-426614174000}"));
}

}  // namespace
}  // namespace trellis
