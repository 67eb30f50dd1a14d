#include "core/clock.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>
#include <vector>

#include <date/date.h>

namespace trellis {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::nanoseconds;
using std::chrono::seconds;
using ::testing::HasSubstr;

// 2026-01-31T09:00:00Z
const TimePoint kJan31 = TimePoint(seconds(1'769'850'000));

std::string Reformat(std::string_view text) {
  Result<TimePoint> t = ParseTime(text);
  return t.ok() ? FormatTime(*t) : "error: " + t.status().message();
}

TEST(ClockTest, FormatsUtcWithMilliseconds) {
  EXPECT_EQ(FormatTime(TimePoint{}), "1970-01-01T00:00:00.000Z");
  EXPECT_EQ(FormatTime(kJan31), "2026-01-31T09:00:00.000Z");
  EXPECT_EQ(FormatTime(kJan31 + milliseconds(123)), "2026-01-31T09:00:00.123Z");
}

TEST(ClockTest, FormatTruncatesBelowMillisecondsTowardThePast) {
  EXPECT_EQ(FormatTime(kJan31 + nanoseconds(123'999'999)), "2026-01-31T09:00:00.123Z");
  EXPECT_EQ(FormatTime(TimePoint{} - nanoseconds(1)), "1969-12-31T23:59:59.999Z");
}

// FormatTime writes the digits by hand; it must agree with date::format over the whole range a
// TimePoint holds (about 1678 to 2262), leap days and the range's edges included.
TEST(ClockTest, FormatAgreesWithDateFormatAcrossTheRange) {
  std::vector<TimePoint> points = {
      TimePoint{},
      TimePoint{} - nanoseconds(1),
      *ParseTime("2024-02-29T23:59:59.999Z"),
      *ParseTime("2000-03-01T00:00:00.001Z"),
      *ParseTime("2100-02-28T12:00:00Z"),
      TimePoint::min(),
      TimePoint::max(),
  };
  // A walk across the range in uneven steps.
  for (TimePoint t = *ParseTime("1678-01-01T00:00:00Z"); t < *ParseTime("2262-01-01T00:00:00Z");
       t += hours(24 * 61) + minutes(7) + seconds(13) + milliseconds(331)) {
    points.push_back(t);
  }
  size_t round_trips = 0;
  for (TimePoint p : points) {
    std::string expected = date::format("%FT%TZ", std::chrono::floor<milliseconds>(p));
    ASSERT_EQ(FormatTime(p), expected);
    // And back, where ParseTime accepts the year (it refuses the range's outermost months).
    if (Result<TimePoint> parsed = ParseTime(expected); parsed.ok()) {
      ASSERT_EQ(*parsed, std::chrono::floor<milliseconds>(p)) << expected;
      ++round_trips;
    }
  }
  EXPECT_GT(round_trips, 3000u);
}

TEST(ClockTest, ParsesZuluTime) {
  ASSERT_TRUE(ParseTime("2026-01-31T09:00:00Z").ok());
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00Z"), kJan31);
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00z"), kJan31);
}

TEST(ClockTest, ParsesNumericOffsets) {
  EXPECT_EQ(*ParseTime("2026-01-31T11:00:00+02:00"), kJan31);
  EXPECT_EQ(*ParseTime("2026-01-31T03:30:00-05:30"), kJan31);
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00+00:00"), kJan31);
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00-00:00"), kJan31);
  // An offset can move the instant to another day.
  EXPECT_EQ(Reformat("2026-01-01T01:00:00+05:00"), "2025-12-31T20:00:00.000Z");
}

TEST(ClockTest, ParsesFractionsOfAnyLength) {
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00.5Z"), kJan31 + milliseconds(500));
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00.123Z"), kJan31 + milliseconds(123));
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00.123456Z"), kJan31 + nanoseconds(123'456'000));
  // Go's RFC3339Nano writes nine digits; digits beyond nanoseconds are dropped.
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00.123456789Z"), kJan31 + nanoseconds(123'456'789));
  EXPECT_EQ(*ParseTime("2026-01-31T09:00:00.1234567891234Z"), kJan31 + nanoseconds(123'456'789));
  EXPECT_EQ(*ParseTime("2026-01-31T11:00:00.250+02:00"), kJan31 + milliseconds(250));
}

TEST(ClockTest, ParsesTimesBeforeTheEpoch) {
  EXPECT_EQ(*ParseTime("1969-12-31T23:59:59.5Z"), TimePoint{} - milliseconds(500));
  EXPECT_EQ(Reformat("1900-01-01T00:00:00Z"), "1900-01-01T00:00:00.000Z");
}

TEST(ClockTest, FormatThenParseRoundTrips) {
  for (TimePoint t :
       {TimePoint{}, kJan31, kJan31 + milliseconds(1), kJan31 + hours(24 * 366) + milliseconds(999),
        TimePoint{} - hours(24 * 365 * 50) + milliseconds(7)}) {
    Result<TimePoint> back = ParseTime(FormatTime(t));
    ASSERT_TRUE(back.ok()) << FormatTime(t);
    EXPECT_EQ(*back, t);
  }
}

TEST(ClockTest, RejectsTextThatIsNotRfc3339) {
  const char* bad[] = {
      "",
      "garbage",
      "2026-01-31",
      "2026-01-31T09:00:00",  // no offset
      "2026-01-31T09:00Z",    // no seconds
      "2026-01-31 09:00:00Z junk",
      "2026-01-31T09:00:00Zjunk",
      "2026-01-31T09:00:00+2:00",  // one-digit hour offset
      "2026-13-01T00:00:00Z",      // month 13
      "2026-02-30T00:00:00Z",      // no such day
      "2026-01-31T24:00:00Z",
      "2026-01-31T09:60:00Z",
      "2026-01-31T09:00:00.Z",   // dot without digits
      "2026-01-31T09:00.5:00Z",  // fraction in the wrong place
      "2026-01-31T09:00:00.5",
      "21005-2-01T00:00:00Z",  // date::parse read a NaN here (found by fuzz_request)
      "2026-1-31T09:00:00Z",   // RFC 3339 months have two digits
  };
  for (const char* text : bad) {
    Result<TimePoint> t = ParseTime(text);
    EXPECT_FALSE(t.ok()) << text << " parsed as " << (t.ok() ? FormatTime(*t) : "");
    if (!t.ok()) {
      EXPECT_EQ(t.status().code(), StatusCode::kInvalidArgument);
      EXPECT_THAT(t.status().message(), HasSubstr("is not an RFC 3339 time"));
    }
  }
}

TEST(ClockTest, RejectsYearsOutsideTheClockRange) {
  // system_clock counts 64-bit nanoseconds: roughly 1677-09 to 2262-04. Wrapping would be silent.
  EXPECT_THAT(Reformat("9999-12-31T23:59:59Z"), HasSubstr("outside the supported time range"));
  EXPECT_THAT(Reformat("1600-01-01T00:00:00Z"), HasSubstr("outside the supported time range"));
  EXPECT_EQ(Reformat("2261-12-31T23:59:59.999Z"), "2261-12-31T23:59:59.999Z");
}

TEST(ClockTest, ManualClockStartsWhereToldAndMovesOnlyByHand) {
  ManualClock clock(kJan31);
  EXPECT_EQ(clock.Now(), kJan31);
  EXPECT_EQ(clock.Now(), kJan31);
  clock.Advance(seconds(90));
  EXPECT_EQ(clock.Now(), kJan31 + seconds(90));
  clock.Advance(milliseconds(1));
  EXPECT_EQ(clock.Now(), kJan31 + seconds(90) + milliseconds(1));
  clock.Set(TimePoint{});
  EXPECT_EQ(clock.Now(), TimePoint{});
  clock.Advance(-minutes(1));
  EXPECT_EQ(clock.Now(), TimePoint{} - minutes(1));
}

TEST(ClockTest, ManualClockWorksThroughTheClockInterface) {
  ManualClock manual(kJan31);
  const Clock& clock = manual;
  manual.Advance(hours(1));
  EXPECT_EQ(clock.Now(), kJan31 + hours(1));
}

TEST(ClockTest, SystemClockIsASingletonReadingRealTime) {
  EXPECT_EQ(&SystemClock::Instance(), &SystemClock::Instance());
  TimePoint before = std::chrono::system_clock::now();
  TimePoint now = SystemClock::Instance().Now();
  TimePoint after = std::chrono::system_clock::now();
  EXPECT_LE(before, now);
  EXPECT_LE(now, after);
}

}  // namespace
}  // namespace trellis
