#include "core/cron.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

// date's headers trip a false -Wmaybe-uninitialized inside <chrono> at -O2 on g++ 12.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/tz.h>
#pragma GCC diagnostic pop

#include <array>
#include <optional>
#include <random>
#include <string>
#include <vector>

namespace trellis {
namespace {

using ::testing::HasSubstr;
using Times = std::vector<std::string>;

TimePoint At(std::string_view text) {
  Result<TimePoint> t = ParseTime(text);
  EXPECT_TRUE(t.ok()) << t.status().ToString();
  return t.ok() ? *t : TimePoint{};
}

// FormatTime without the ".000" every cron fire time carries.
std::string Show(std::optional<TimePoint> t) {
  if (!t) return "never";
  std::string s = FormatTime(*t);
  if (size_t p = s.find(".000Z"); p != std::string::npos) s.replace(p, 5, "Z");
  return s;
}

// The first `count` fire times after `after`, stopping at "never".
Times Fires(std::string_view expr, std::string_view after, int count, std::string_view tz = "UTC") {
  Result<CronSchedule> s = CronSchedule::Parse(expr, tz);
  if (!s.ok()) return {"parse error: " + s.status().message()};
  Times out;
  std::optional<TimePoint> t = At(after);
  for (int i = 0; i < count; ++i) {
    t = s->Next(*t);
    out.push_back(Show(t));
    if (!t) break;
  }
  return out;
}

std::string NextAfter(std::string_view expr, std::string_view after, std::string_view tz = "UTC") {
  return Fires(expr, after, 1, tz)[0];
}

std::string ParseError(std::string_view expr, std::string_view tz = "UTC") {
  Result<CronSchedule> s = CronSchedule::Parse(expr, tz);
  if (s.ok()) return "ok";
  EXPECT_EQ(s.status().code(), StatusCode::kInvalidArgument);
  return s.status().message();
}

// --- syntax -------------------------------------------------------------------------------------

TEST(CronTest, EveryMinuteFiresAtTheNextWholeMinute) {
  EXPECT_EQ(NextAfter("* * * * *", "2026-01-01T10:00:30.500Z"), "2026-01-01T10:01:00Z");
  EXPECT_EQ(NextAfter("* * * * *", "2026-01-01T10:00:59.999Z"), "2026-01-01T10:01:00Z");
}

TEST(CronTest, NextIsStrictlyAfterAnExactFireTime) {
  EXPECT_EQ(NextAfter("* * * * *", "2026-01-01T10:01:00Z"), "2026-01-01T10:02:00Z");
  EXPECT_EQ(NextAfter("* * * * *", "2026-01-01T10:01:00.001Z"), "2026-01-01T10:02:00Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-01-01T10:01:00Z"), "2026-01-01T10:01:01Z");
}

TEST(CronTest, SingleValuesFireOncePerDay) {
  EXPECT_EQ(NextAfter("30 9 * * *", "2026-01-01T09:29:59Z"), "2026-01-01T09:30:00Z");
  EXPECT_EQ(Fires("30 9 * * *", "2026-01-01T09:30:00Z", 2),
            (Times{"2026-01-02T09:30:00Z", "2026-01-03T09:30:00Z"}));
}

TEST(CronTest, ListsFireAtEachValue) {
  EXPECT_EQ(Fires("0,15,45 * * * *", "2026-01-01T10:00:00Z", 4),
            (Times{"2026-01-01T10:15:00Z", "2026-01-01T10:45:00Z", "2026-01-01T11:00:00Z",
                   "2026-01-01T11:15:00Z"}));
}

TEST(CronTest, RangesIncludeBothEnds) {
  EXPECT_EQ(Fires("0 9-11 * * *", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-01T09:00:00Z", "2026-01-01T10:00:00Z", "2026-01-01T11:00:00Z",
                   "2026-01-02T09:00:00Z"}));
}

TEST(CronTest, StarStepStartsAtTheFieldMinimum) {
  EXPECT_EQ(Fires("*/20 * * * *", "2026-01-01T10:05:00Z", 3),
            (Times{"2026-01-01T10:20:00Z", "2026-01-01T10:40:00Z", "2026-01-01T11:00:00Z"}));
  EXPECT_EQ(Fires("0 */6 * * *", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-01T06:00:00Z", "2026-01-01T12:00:00Z", "2026-01-01T18:00:00Z",
                   "2026-01-02T00:00:00Z"}));
  // Day of month starts at 1: 1, 11, 21, 31.
  EXPECT_EQ(Fires("0 0 */10 * *", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-11T00:00:00Z", "2026-01-21T00:00:00Z", "2026-01-31T00:00:00Z",
                   "2026-02-01T00:00:00Z"}));
  // Month starts at 1: Jan, Apr, Jul, Oct.
  EXPECT_EQ(Fires("0 0 1 */3 *", "2026-01-01T00:00:00Z", 3),
            (Times{"2026-04-01T00:00:00Z", "2026-07-01T00:00:00Z", "2026-10-01T00:00:00Z"}));
}

TEST(CronTest, RangeStepFiresWithinTheRange) {
  EXPECT_EQ(Fires("10-30/10 * * * *", "2026-01-01T10:00:00Z", 4),
            (Times{"2026-01-01T10:10:00Z", "2026-01-01T10:20:00Z", "2026-01-01T10:30:00Z",
                   "2026-01-01T11:10:00Z"}));
}

TEST(CronTest, ValueStepRunsToTheFieldMaximum) {
  EXPECT_EQ(Fires("5/15 * * * *", "2026-01-01T10:00:00Z", 5),
            (Times{"2026-01-01T10:05:00Z", "2026-01-01T10:20:00Z", "2026-01-01T10:35:00Z",
                   "2026-01-01T10:50:00Z", "2026-01-01T11:05:00Z"}));
  EXPECT_EQ(Fires("0 20/2 * * *", "2026-01-01T00:00:00Z", 3),
            (Times{"2026-01-01T20:00:00Z", "2026-01-01T22:00:00Z", "2026-01-02T20:00:00Z"}));
}

TEST(CronTest, ListsMixValuesRangesAndSteps) {
  EXPECT_EQ(Fires("1,10-12,*/30 * * * *", "2026-01-01T10:00:00Z", 6),
            (Times{"2026-01-01T10:01:00Z", "2026-01-01T10:10:00Z", "2026-01-01T10:11:00Z",
                   "2026-01-01T10:12:00Z", "2026-01-01T10:30:00Z", "2026-01-01T11:00:00Z"}));
}

TEST(CronTest, StepLargerThanTheValuesLeftFiresOnlyAtTheStart) {
  EXPECT_EQ(Fires("*/60 * * * *", "2026-01-01T10:00:00Z", 2),
            (Times{"2026-01-01T11:00:00Z", "2026-01-01T12:00:00Z"}));
}

TEST(CronTest, MonthNamesAreCaseInsensitive) {
  EXPECT_EQ(Fires("0 0 1 jan,Jul *", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-07-01T00:00:00Z", "2027-01-01T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 1 Feb-APR *", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z", "2026-04-01T00:00:00Z",
                   "2027-02-01T00:00:00Z"}));
}

TEST(CronTest, DayNamesAreCaseInsensitive) {
  // 2026-01-01 is a Thursday.
  EXPECT_EQ(Fires("0 0 * * mon-FRI", "2026-01-01T00:00:00Z", 3),
            (Times{"2026-01-02T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-06T00:00:00Z"}));
  EXPECT_EQ(NextAfter("0 0 * * sun", "2026-01-01T00:00:00Z"), "2026-01-04T00:00:00Z");
  EXPECT_EQ(NextAfter("0 0 * * Sat", "2026-01-01T00:00:00Z"), "2026-01-03T00:00:00Z");
}

TEST(CronTest, SundayMatchesBothZeroAndSeven) {
  Times sundays{"2026-01-04T00:00:00Z", "2026-01-11T00:00:00Z"};
  EXPECT_EQ(Fires("0 0 * * 0", "2026-01-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(Fires("0 0 * * 7", "2026-01-01T00:00:00Z", 2), sundays);
  EXPECT_EQ(Fires("0 0 * * 5-7", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z",
                   "2026-01-09T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 * * 0-7", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-02T00:00:00Z", "2026-01-03T00:00:00Z"}));
}

TEST(CronTest, DayOfWeekStarStepCoversSundayToSaturday) {
  // Sunday, Tuesday, Thursday, Saturday.
  EXPECT_EQ(Fires("0 0 * * */2", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-03T00:00:00Z", "2026-01-04T00:00:00Z", "2026-01-06T00:00:00Z",
                   "2026-01-08T00:00:00Z"}));
}

TEST(CronTest, QuestionMarkMeansAnyDay) {
  EXPECT_EQ(Fires("0 0 ? * MON", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-05T00:00:00Z", "2026-01-12T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 1 * ?", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-02-01T00:00:00Z", "2026-03-01T00:00:00Z"}));
}

TEST(CronTest, WhitespaceBetweenFieldsIsFlexible) {
  EXPECT_EQ(NextAfter("  0\t12   * *  * ", "2026-01-01T00:00:00Z"), "2026-01-01T12:00:00Z");
}

// --- Vixie day-of-month / day-of-week ------------------------------------------------------------

TEST(CronTest, EitherDayFieldMatchesWhenBothAreRestricted) {
  // The 13th (a Tuesday in January 2026) and every Friday.
  EXPECT_EQ(Fires("0 0 13 * FRI", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z", "2026-01-13T00:00:00Z",
                   "2026-01-16T00:00:00Z"}));
  // February has no 30th, but its Mondays still fire.
  EXPECT_EQ(NextAfter("0 0 30 2 MON", "2026-01-01T00:00:00Z"), "2026-02-02T00:00:00Z");
}

TEST(CronTest, DayOfMonthAloneRestrictsWhenDayOfWeekIsStar) {
  EXPECT_EQ(Fires("0 0 13 * *", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 13 * ?", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-13T00:00:00Z", "2026-02-13T00:00:00Z"}));
}

TEST(CronTest, DayOfWeekAloneRestrictsWhenDayOfMonthIsStar) {
  EXPECT_EQ(Fires("0 0 * * FRI", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-02T00:00:00Z", "2026-01-09T00:00:00Z"}));
}

TEST(CronTest, StarStepDayOfMonthCountsAsUnrestrictedLikeVixie) {
  // Vixie looks at the first character: "*/2" is a star, so both fields must match (odd-dated Mondays).
  EXPECT_EQ(Fires("0 0 */2 * MON", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-05T00:00:00Z", "2026-01-19T00:00:00Z", "2026-02-09T00:00:00Z",
                   "2026-02-23T00:00:00Z"}));
  // "1-31/2" is restricted: odd days OR Mondays.
  EXPECT_EQ(Fires("0 0 1-31/2 * MON", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-01-03T00:00:00Z", "2026-01-05T00:00:00Z", "2026-01-07T00:00:00Z",
                   "2026-01-09T00:00:00Z"}));
}

// --- macros ---------------------------------------------------------------------------------------

TEST(CronTest, MacrosExpandToTheirStandardSchedules) {
  const char* after = "2026-05-05T12:34:00Z";  // a Tuesday
  EXPECT_EQ(NextAfter("@yearly", after), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextAfter("@annually", after), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextAfter("@monthly", after), "2026-06-01T00:00:00Z");
  EXPECT_EQ(NextAfter("@weekly", after), "2026-05-10T00:00:00Z");
  EXPECT_EQ(NextAfter("@daily", after), "2026-05-06T00:00:00Z");
  EXPECT_EQ(NextAfter("@midnight", after), "2026-05-06T00:00:00Z");
  EXPECT_EQ(NextAfter("@hourly", after), "2026-05-05T13:00:00Z");
}

TEST(CronTest, MacrosAreCaseInsensitiveAndKeepTheirText) {
  EXPECT_EQ(NextAfter("@DAILY", "2026-05-05T12:34:00Z"), "2026-05-06T00:00:00Z");
  Result<CronSchedule> s = CronSchedule::Parse(" @Hourly ");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->expression(), " @Hourly ");
}

TEST(CronTest, MacrosFollowTheTimeZone) {
  EXPECT_EQ(NextAfter("@daily", "2026-01-15T12:00:00Z", "Europe/Amsterdam"), "2026-01-15T23:00:00Z");
  EXPECT_EQ(NextAfter("@daily", "2026-07-15T12:00:00Z", "Europe/Amsterdam"), "2026-07-15T22:00:00Z");
}

// --- seconds --------------------------------------------------------------------------------------

TEST(CronTest, SixFieldsAddALeadingSecondsField) {
  EXPECT_EQ(Fires("*/10 * * * * *", "2026-01-01T10:00:05Z", 3),
            (Times{"2026-01-01T10:00:10Z", "2026-01-01T10:00:20Z", "2026-01-01T10:00:30Z"}));
  EXPECT_EQ(Fires("30 0 12 * * *", "2026-01-01T00:00:00Z", 2),
            (Times{"2026-01-01T12:00:30Z", "2026-01-02T12:00:30Z"}));
  EXPECT_EQ(Fires("15,45 * * * * *", "2026-01-01T10:00:50Z", 3),
            (Times{"2026-01-01T10:01:15Z", "2026-01-01T10:01:45Z", "2026-01-01T10:02:15Z"}));
}

TEST(CronTest, EverySecondFiresAtTheNextWholeSecond) {
  EXPECT_EQ(NextAfter("* * * * * *", "2026-01-01T10:00:00.500Z"), "2026-01-01T10:00:01Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-01-01T10:59:59Z"), "2026-01-01T11:00:00Z");
}

TEST(CronTest, FiveFieldsFireAtSecondZero) {
  EXPECT_EQ(NextAfter("5 * * * *", "2026-01-01T10:05:00.001Z"), "2026-01-01T11:05:00Z");
  EXPECT_EQ(NextAfter("5 * * * *", "2026-01-01T10:04:59.999Z"), "2026-01-01T10:05:00Z");
}

// --- calendar -------------------------------------------------------------------------------------

TEST(CronTest, LeapDayFiresOnlyInLeapYears) {
  EXPECT_EQ(Fires("0 0 29 2 *", "2026-03-01T00:00:00Z", 2),
            (Times{"2028-02-29T00:00:00Z", "2032-02-29T00:00:00Z"}));
  EXPECT_EQ(NextAfter("0 0 29 2 *", "2028-02-28T23:59:59Z"), "2028-02-29T00:00:00Z");
}

TEST(CronTest, LeapDaySkipsTheCenturyThatIsNotALeapYear) {
  // 2100 is divisible by 100 but not 400: eight years between leap days.
  EXPECT_EQ(NextAfter("0 0 29 2 *", "2096-03-01T00:00:00Z"), "2104-02-29T00:00:00Z");
  EXPECT_EQ(NextAfter("0 0 29 2 *", "2000-01-01T00:00:00Z"), "2000-02-29T00:00:00Z");
}

TEST(CronTest, LastDaysOfFebruaryDependOnTheYear) {
  EXPECT_EQ(Fires("0 0 28-31 2 *", "2026-01-01T00:00:00Z", 4),
            (Times{"2026-02-28T00:00:00Z", "2027-02-28T00:00:00Z", "2028-02-28T00:00:00Z",
                   "2028-02-29T00:00:00Z"}));
}

TEST(CronTest, ThirtyFirstSkipsShortMonths) {
  EXPECT_EQ(Fires("0 0 31 * *", "2026-01-31T00:00:00Z", 4),
            (Times{"2026-03-31T00:00:00Z", "2026-05-31T00:00:00Z", "2026-07-31T00:00:00Z",
                   "2026-08-31T00:00:00Z"}));
  EXPECT_EQ(Fires("0 0 30 * *", "2026-01-30T00:00:00Z", 2),
            (Times{"2026-03-30T00:00:00Z", "2026-04-30T00:00:00Z"}));
}

TEST(CronTest, YearRollsOver) {
  EXPECT_EQ(NextAfter("* * * * *", "2026-12-31T23:59:30Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-12-31T23:59:59Z"), "2027-01-01T00:00:00Z");
  EXPECT_EQ(NextAfter("59 23 31 12 *", "2026-12-31T23:59:00Z"), "2027-12-31T23:59:00Z");
  EXPECT_EQ(NextAfter("0 0 1 1 *", "2026-01-01T00:00:00Z"), "2027-01-01T00:00:00Z");
}

TEST(CronTest, ImpossibleDatesNeverFire) {
  EXPECT_EQ(NextAfter("0 0 30 2 *", "2026-01-01T00:00:00Z"), "never");
  EXPECT_EQ(NextAfter("0 0 31 2,4,6,9,11 *", "2026-01-01T00:00:00Z"), "never");
  EXPECT_EQ(NextAfter("0 0 0 30 2 ?", "2026-01-01T00:00:00Z"), "never");
  EXPECT_EQ(NextAfter("* * * 31 4 *", "2026-01-01T00:00:00Z"), "never");
}

TEST(CronTest, SearchStopsAboutEightYearsAhead) {
  // "*/14" counts as a star (Vixie), so this is Wednesday the 1st, 15th or 29th of March: after
  // 2036 the next one is 2045-03-01, beyond the horizon from mid-2036 but within it from 2037.
  EXPECT_EQ(NextAfter("0 0 */14 3 WED", "2036-06-27T00:00:00Z"), "never");
  EXPECT_EQ(NextAfter("0 0 */14 3 WED", "2037-01-01T00:00:00Z"), "2045-03-01T00:00:00Z");
}

TEST(CronTest, InstantsBeforeTheUnixEpochWork) {
  EXPECT_EQ(NextAfter("0 0 1 1 *", "1969-06-01T00:00:00Z"), "1970-01-01T00:00:00Z");
  EXPECT_EQ(NextAfter("*/15 * * * *", "1969-12-31T23:50:00.500Z"), "1970-01-01T00:00:00Z");
}

TEST(CronTest, FireTimesBeyondTheClockRangeAreNever) {
  // system_clock counts nanoseconds in 64 bits and ends in April 2262.
  EXPECT_EQ(NextAfter("0 0 1 1 *", "2262-01-01T00:00:00Z"), "never");
  Result<CronSchedule> s = CronSchedule::Parse("* * * * * *");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->Next(TimePoint::max()), std::nullopt);
  EXPECT_EQ(Show(s->Next(TimePoint::min())),
            Show(std::chrono::floor<std::chrono::seconds>(TimePoint::min()) + std::chrono::seconds(1)));
}

// --- accessors ------------------------------------------------------------------------------------

TEST(CronTest, KeepsExpressionAndTimeZone) {
  Result<CronSchedule> s = CronSchedule::Parse("0 9 * * MON-FRI", "Europe/Amsterdam");
  ASSERT_TRUE(s.ok());
  EXPECT_EQ(s->expression(), "0 9 * * MON-FRI");
  EXPECT_EQ(s->timezone(), "Europe/Amsterdam");
  Result<CronSchedule> utc = CronSchedule::Parse("0 9 * * *");
  ASSERT_TRUE(utc.ok());
  EXPECT_EQ(utc->timezone(), "UTC");
}

TEST(CronTest, CopiesFireAtTheSameTimes) {
  Result<CronSchedule> s = CronSchedule::Parse("*/7 3 * * *", "America/New_York");
  ASSERT_TRUE(s.ok());
  CronSchedule copy = *s;
  TimePoint t = At("2026-06-01T00:00:00Z");
  EXPECT_EQ(copy.Next(t), s->Next(t));
  EXPECT_EQ(copy.timezone(), "America/New_York");
}

// --- errors ---------------------------------------------------------------------------------------

TEST(CronTest, EmptyExpressionIsRejected) {
  EXPECT_EQ(ParseError(""), "cron expression is empty");
  EXPECT_EQ(ParseError(" \t "), "cron expression is empty");
}

TEST(CronTest, WrongFieldCountIsRejected) {
  EXPECT_EQ(ParseError("* * *"), "cron expression needs 5 or 6 fields, got 3 in \"* * *\"");
  EXPECT_THAT(ParseError("* * * *"), HasSubstr("needs 5 or 6 fields, got 4"));
  EXPECT_THAT(ParseError("0 0 0 1 1 * 2026"), HasSubstr("needs 5 or 6 fields, got 7"));
}

TEST(CronTest, OutOfRangeValuesNameTheFieldAndRange) {
  EXPECT_EQ(ParseError("0 24 * * *"), "cron field 'hour' value 24 is out of range 0-23 in \"0 24 * * *\"");
  EXPECT_THAT(ParseError("60 * * * *"), HasSubstr("cron field 'minute' value 60 is out of range 0-59"));
  EXPECT_THAT(ParseError("60 * * * * *"), HasSubstr("cron field 'second' value 60 is out of range 0-59"));
  EXPECT_THAT(ParseError("* * 0 * *"), HasSubstr("cron field 'day of month' value 0 is out of range 1-31"));
  EXPECT_THAT(ParseError("* * 32 * *"), HasSubstr("cron field 'day of month' value 32 is out of range 1-31"));
  EXPECT_THAT(ParseError("* * * 0 *"), HasSubstr("cron field 'month' value 0 is out of range 1-12"));
  EXPECT_THAT(ParseError("* * * 13 *"), HasSubstr("cron field 'month' value 13 is out of range 1-12"));
  EXPECT_THAT(ParseError("* * * * 8"), HasSubstr("cron field 'day of week' value 8 is out of range 0-7"));
  EXPECT_THAT(ParseError("0 1-24 * * *"), HasSubstr("cron field 'hour' value 24 is out of range 0-23"));
  EXPECT_THAT(ParseError("0 0 * * 99999"), HasSubstr("cron field 'day of week' has invalid value '99999'"));
}

TEST(CronTest, UnknownWordsAreRejected) {
  EXPECT_EQ(ParseError("abc * * * *"), "cron field 'minute' has invalid value 'abc' in \"abc * * * *\"");
  EXPECT_THAT(ParseError("0 0 1 MON *"),
              HasSubstr("cron field 'month' has invalid value 'MON' (use 1-12 or JAN-DEC)"));
  EXPECT_THAT(ParseError("0 0 * * JAN"),
              HasSubstr("cron field 'day of week' has invalid value 'JAN' (use 0-7 or SUN-SAT)"));
  EXPECT_THAT(ParseError("0 0 * * MONDAY"), HasSubstr("invalid value 'MONDAY'"));
  EXPECT_THAT(ParseError("0 JAN * * *"), HasSubstr("cron field 'hour' has invalid value 'JAN'"));
  EXPECT_THAT(ParseError("1.5 * * * *"), HasSubstr("cron field 'minute' has invalid value '1.5'"));
  EXPECT_THAT(ParseError("L * * * *"), HasSubstr("invalid value 'L'"));
}

TEST(CronTest, MalformedRangesAreRejected) {
  EXPECT_EQ(ParseError("0 5-2 * * *"),
            "cron field 'hour' range 5-2 is reversed (start is after end) in \"0 5-2 * * *\"");
  EXPECT_THAT(ParseError("0 0 * * FRI-MON"), HasSubstr("range FRI-MON is reversed"));
  EXPECT_THAT(ParseError("-5 * * * *"), HasSubstr("cron field 'minute' has invalid range '-5'"));
  EXPECT_THAT(ParseError("5- * * * *"), HasSubstr("cron field 'minute' has invalid range '5-'"));
  EXPECT_THAT(ParseError("1-2-3 * * * *"), HasSubstr("invalid value '2-3'"));
}

TEST(CronTest, MalformedStepsAreRejected) {
  EXPECT_EQ(ParseError("*/0 * * * *"), "cron field 'minute' step 0 is out of range 1-60 in \"*/0 * * * *\"");
  EXPECT_THAT(ParseError("*/61 * * * *"), HasSubstr("step 61 is out of range 1-60"));
  EXPECT_THAT(ParseError("0 */25 * * *"), HasSubstr("cron field 'hour' step 25 is out of range 1-24"));
  EXPECT_THAT(ParseError("*/ * * * *"), HasSubstr("cron field 'minute' has invalid step '' in '*/'"));
  EXPECT_THAT(ParseError("*/x * * * *"), HasSubstr("has invalid step 'x'"));
  EXPECT_THAT(ParseError("*/2/3 * * * *"), HasSubstr("has invalid step '2/3'"));
  EXPECT_THAT(ParseError("/5 * * * *"), HasSubstr("has invalid value ''"));
}

TEST(CronTest, EmptyListItemsAreRejected) {
  EXPECT_THAT(ParseError("1,,2 * * * *"), HasSubstr("cron field 'minute' has an empty list item in '1,,2'"));
  EXPECT_THAT(ParseError("0 1, * * *"), HasSubstr("cron field 'hour' has an empty list item"));
  EXPECT_THAT(ParseError("0 ,1 * * *"), HasSubstr("cron field 'hour' has an empty list item"));
}

TEST(CronTest, QuestionMarkIsOnlyAllowedAloneInDayFields) {
  EXPECT_THAT(ParseError("? * * * *"), HasSubstr("cron field 'minute' does not allow '?'"));
  EXPECT_THAT(ParseError("0 0 * ? *"), HasSubstr("cron field 'month' does not allow '?'"));
  EXPECT_THAT(ParseError("0 0 ?/2 * *"), HasSubstr("cron field 'day of month' '?' cannot be combined"));
  EXPECT_THAT(ParseError("0 0 * * 1,?"), HasSubstr("cron field 'day of week' '?' cannot be combined"));
}

TEST(CronTest, UnknownMacrosAreRejected) {
  EXPECT_THAT(ParseError("@reboot"), HasSubstr("unknown cron macro '@reboot'"));
  EXPECT_THAT(ParseError("@every"), HasSubstr("unknown cron macro '@every'"));
  EXPECT_THAT(ParseError("@daily 5"), HasSubstr("cron macro @daily takes no other fields"));
}

TEST(CronTest, UnknownTimeZonesAreRejected) {
  EXPECT_EQ(ParseError("* * * * *", "Mars/Base"), "unknown time zone 'Mars/Base'");
  EXPECT_EQ(ParseError("* * * * *", ""), "unknown time zone ''");
  EXPECT_EQ(ParseError("* * * * *", "Europe/Amsterdam"), "ok");
  EXPECT_EQ(ParseError("* * * * *", "Etc/UTC"), "ok");
}

TEST(CronTest, SyntaxErrorsAreReportedBeforeTimeZoneErrors) {
  EXPECT_THAT(ParseError("0 24 * * *", "Mars/Base"), HasSubstr("'hour' value 24"));
}

// --- time zones and DST ---------------------------------------------------------------------------

TEST(CronTest, FixedOffsetZonesShiftFireTimes) {
  EXPECT_EQ(NextAfter("0 9 * * *", "2026-01-01T00:00:00Z", "Asia/Kolkata"), "2026-01-01T03:30:00Z");
  // 09:00 on Monday in Auckland is still Sunday in UTC.
  EXPECT_EQ(NextAfter("0 9 * * MON", "2026-01-01T00:00:00Z", "Pacific/Auckland"), "2026-01-04T20:00:00Z");
}

TEST(CronTest, WallClockScheduleFollowsDaylightSavingTime) {
  // 12:00 in Amsterdam is 11:00Z in winter and 10:00Z in summer.
  EXPECT_EQ(Fires("0 12 * * *", "2026-03-28T00:00:00Z", 2, "Europe/Amsterdam"),
            (Times{"2026-03-28T11:00:00Z", "2026-03-29T10:00:00Z"}));
  EXPECT_EQ(Fires("0 12 * * *", "2026-10-24T00:00:00Z", 2, "Europe/Amsterdam"),
            (Times{"2026-10-24T10:00:00Z", "2026-10-25T11:00:00Z"}));
}

TEST(CronTest, AmsterdamSpringForwardSkipsTheMissingHour) {
  // 2026-03-29 02:00 CET jumps to 03:00 CEST: 02:30 does not exist that day.
  EXPECT_EQ(Fires("30 2 * * *", "2026-03-28T00:00:00Z", 2, "Europe/Amsterdam"),
            (Times{"2026-03-28T01:30:00Z", "2026-03-30T00:30:00Z"}));
  // Hourly: 01:00 CET (00:00Z), then 03:00 CEST (01:00Z); no gap in real time.
  EXPECT_EQ(Fires("0 * * * *", "2026-03-28T23:30:00Z", 3, "Europe/Amsterdam"),
            (Times{"2026-03-29T00:00:00Z", "2026-03-29T01:00:00Z", "2026-03-29T02:00:00Z"}));
  EXPECT_EQ(Fires("* * * * * *", "2026-03-29T00:59:58Z", 2, "Europe/Amsterdam"),
            (Times{"2026-03-29T00:59:59Z", "2026-03-29T01:00:00Z"}));
}

TEST(CronTest, AmsterdamSpringForwardSkipsOnlyTheMissingTimes) {
  // 01:59 CET exists, 02:00-02:59 do not, 03:00 CEST exists.
  EXPECT_EQ(Fires("59 1,2 * * *", "2026-03-29T00:00:00Z", 2, "Europe/Amsterdam"),
            (Times{"2026-03-29T00:59:00Z", "2026-03-29T23:59:00Z"}));
}

TEST(CronTest, AmsterdamFallBackFiresOnceAtTheEarlierInstant) {
  // 2026-10-25 03:00 CEST falls back to 02:00 CET: 02:30 happens at 00:30Z and again at 01:30Z.
  EXPECT_EQ(Fires("30 2 * * *", "2026-10-24T12:00:00Z", 2, "Europe/Amsterdam"),
            (Times{"2026-10-25T00:30:00Z", "2026-10-26T01:30:00Z"}));
  // Hourly: 02:00 CEST (00:00Z) fires; the repeated 02:00 CET (01:00Z) does not; 03:00 CET is 02:00Z.
  EXPECT_EQ(Fires("0 * * * *", "2026-10-24T23:30:00Z", 3, "Europe/Amsterdam"),
            (Times{"2026-10-25T00:00:00Z", "2026-10-25T02:00:00Z", "2026-10-25T03:00:00Z"}));
}

TEST(CronTest, AmsterdamFallBackFromInsideTheRepeatedHour) {
  // 01:10Z is 02:10 CET, the second pass; 02:15-02:45 already fired during the first pass.
  EXPECT_EQ(NextAfter("*/15 * * * *", "2026-10-25T01:10:00Z", "Europe/Amsterdam"), "2026-10-25T02:00:00Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-10-25T01:00:00Z", "Europe/Amsterdam"), "2026-10-25T02:00:00Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-10-25T00:59:59Z", "Europe/Amsterdam"), "2026-10-25T02:00:00Z");
  // From inside the first pass, the rest of the first pass still fires.
  EXPECT_EQ(NextAfter("*/15 * * * *", "2026-10-25T00:10:00Z", "Europe/Amsterdam"), "2026-10-25T00:15:00Z");
  EXPECT_EQ(NextAfter("* * * * * *", "2026-10-25T00:59:58Z", "Europe/Amsterdam"), "2026-10-25T00:59:59Z");
}

TEST(CronTest, NewYorkSpringForwardSkipsTheMissingHour) {
  // 2026-03-08 02:00 EST jumps to 03:00 EDT (07:00Z).
  EXPECT_EQ(Fires("30 2 * * *", "2026-03-07T12:00:00Z", 1, "America/New_York"),
            (Times{"2026-03-09T06:30:00Z"}));
  EXPECT_EQ(Fires("0 * * * *", "2026-03-08T05:30:00Z", 3, "America/New_York"),
            (Times{"2026-03-08T06:00:00Z", "2026-03-08T07:00:00Z", "2026-03-08T08:00:00Z"}));
}

TEST(CronTest, NewYorkFallBackFiresOnceAtTheEarlierInstant) {
  // 2026-11-01 02:00 EDT falls back to 01:00 EST (06:00Z): 01:30 happens at 05:30Z and 06:30Z.
  EXPECT_EQ(Fires("30 1 * * *", "2026-10-31T12:00:00Z", 2, "America/New_York"),
            (Times{"2026-11-01T05:30:00Z", "2026-11-02T06:30:00Z"}));
  EXPECT_EQ(Fires("@daily", "2026-10-31T12:00:00Z", 2, "America/New_York"),
            (Times{"2026-11-01T04:00:00Z", "2026-11-02T05:00:00Z"}));
}

// --- property tests -------------------------------------------------------------------------------

// A field generated together with the set it means, so the reference does not share the parser.
struct GeneratedField {
  std::string text;
  std::array<bool, 61> allowed{};
};

struct FieldRange {
  int min;
  int max;                                // largest value in text (7 for day of week)
  int star_max;                           // what * covers (6 for day of week)
  const std::vector<std::string>* names;  // names[v - min]
};

const std::vector<std::string> kMonths = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                          "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
const std::vector<std::string> kDays = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

class ExpressionGenerator {
 public:
  explicit ExpressionGenerator(uint32_t seed) : rng_(seed) {}

  int Uniform(int lo, int hi) { return std::uniform_int_distribution<int>(lo, hi)(rng_); }
  bool Chance(int percent) { return Uniform(1, 100) <= percent; }

  GeneratedField Field(const FieldRange& r, int star_percent, bool day_field) {
    GeneratedField f;
    if (day_field && Chance(10)) {
      f.text = "?";
      Allow(&f, r, r.min, r.star_max, 1);
      return f;
    }
    if (Chance(star_percent)) {
      f.text = "*";
      Allow(&f, r, r.min, r.star_max, 1);
      return f;
    }
    int items = Uniform(1, 3);
    for (int i = 0; i < items; ++i) {
      if (i > 0) f.text += ",";
      int kind = Uniform(0, 4);
      int span = r.star_max - r.min + 1;
      if (kind == 0) {  // */n
        int step = Uniform(1, span);
        f.text += "*/" + std::to_string(step);
        Allow(&f, r, r.min, r.star_max, step);
      } else if (kind == 1) {  // a
        int a = Uniform(r.min, r.max);
        f.text += Value(r, a);
        Allow(&f, r, a, a, 1);
      } else if (kind == 2 || kind == 3) {  // a-b, a-b/n
        int a = Uniform(r.min, r.max);
        int b = Uniform(a, r.max);
        f.text += Value(r, a) + "-" + Value(r, b);
        int step = 1;
        if (kind == 3) {
          step = Uniform(1, span);
          f.text += "/" + std::to_string(step);
        }
        Allow(&f, r, a, b, step);
      } else {  // a/n
        int a = Uniform(r.min, r.star_max);
        int step = Uniform(1, span);
        f.text += Value(r, a) + "/" + std::to_string(step);
        Allow(&f, r, a, r.star_max, step);
      }
    }
    return f;
  }

 private:
  std::string Value(const FieldRange& r, int v) {
    if (r.names != nullptr && v - r.min < static_cast<int>(r.names->size()) && Chance(30)) {
      std::string name = (*r.names)[v - r.min];
      if (Chance(50)) name[1] = static_cast<char>(std::tolower(name[1]));  // mixed case
      return name;
    }
    return std::to_string(v);
  }

  static void Allow(GeneratedField* f, const FieldRange& r, int lo, int hi, int step) {
    for (int v = lo; v <= hi; v += step) f->allowed[(r.names == &kDays && v == 7) ? 0 : v] = true;
  }

  std::mt19937 rng_;
};

struct GeneratedExpression {
  std::string text;
  GeneratedField minute, hour, dom, month, dow;
};

GeneratedExpression Generate(ExpressionGenerator& gen) {
  GeneratedExpression e;
  e.minute = gen.Field({0, 59, 59, nullptr}, 30, false);
  e.hour = gen.Field({0, 23, 23, nullptr}, 40, false);
  e.dom = gen.Field({1, 31, 31, nullptr}, 50, true);
  e.month = gen.Field({1, 12, 12, &kMonths}, 60, false);
  e.dow = gen.Field({0, 7, 6, &kDays}, 50, true);
  e.text = e.minute.text + " " + e.hour.text + " " + e.dom.text + " " + e.month.text + " " + e.dow.text;
  return e;
}

// Vixie day rule, written independently of cron.cpp.
bool ReferenceDayMatches(const GeneratedExpression& e, date::year_month_day ymd) {
  if (!e.month.allowed[static_cast<unsigned>(ymd.month())]) return false;
  bool dom = e.dom.allowed[static_cast<unsigned>(ymd.day())];
  bool dow = e.dow.allowed[date::weekday(date::sys_days(ymd)).c_encoding()];
  bool dom_star = e.dom.text[0] == '*' || e.dom.text[0] == '?';
  bool dow_star = e.dow.text[0] == '*' || e.dow.text[0] == '?';
  return (dom_star || dow_star) ? (dom && dow) : (dom || dow);
}

// Walks minute by minute in `zone` from `after` (jumping over whole days whose date cannot match, to
// stay fast) and returns the first minute whose wall-clock time matches and that is the first instant
// showing that wall-clock time (so a repeated fall-back minute fires once).
std::optional<TimePoint> ReferenceNext(const GeneratedExpression& e, const date::time_zone* zone,
                                       TimePoint after, int horizon_days) {
  using std::chrono::minutes;
  date::sys_time<minutes> t = std::chrono::floor<minutes>(after) + minutes(1);
  date::sys_time<minutes> end = t + date::days(horizon_days);
  while (t < end) {
    date::sys_info info = zone->get_info(t);
    date::local_time<minutes> local{t.time_since_epoch() + std::chrono::duration_cast<minutes>(info.offset)};
    date::local_days day = date::floor<date::days>(local);
    if (!ReferenceDayMatches(e, date::year_month_day{day})) {
      t += (day + date::days(1) - local);  // the next local midnight
      continue;
    }
    date::hh_mm_ss<minutes> tod{local - day};
    if (e.hour.allowed[tod.hours().count()] && e.minute.allowed[tod.minutes().count()]) {
      date::local_info li = zone->get_info(local);
      bool first_instant = li.result != date::local_info::ambiguous ||
                           t.time_since_epoch() == local.time_since_epoch() - li.first.offset;
      if (first_instant) return std::chrono::time_point_cast<TimePoint::duration>(t);
    }
    t += minutes(1);
  }
  return std::nullopt;
}

// Next() gives up after about 8 years; a fire time further away may be reported as never.
void ExpectSameAsReference(const CronSchedule& s, const GeneratedExpression& e, TimePoint after,
                           std::optional<TimePoint>* actual) {
  static const date::time_zone* utc = date::locate_zone("UTC");
  std::optional<TimePoint> expected = ReferenceNext(e, utc, after, 9 * 366);
  *actual = s.Next(after);
  if (!*actual && expected && *expected - after > date::days(8 * 365)) return;
  ASSERT_EQ(Show(*actual), Show(expected)) << e.text << " after " << FormatTime(after);
}

TEST(CronPropertyTest, NextAgreesWithMinuteByMinuteReferenceInUtc) {
  ExpressionGenerator gen(20260101);
  const int64_t from = date::sys_seconds(date::sys_days(date::year{1995} / 1 / 1)).time_since_epoch().count();
  const int64_t to = date::sys_seconds(date::sys_days(date::year{2055} / 1 / 1)).time_since_epoch().count();
  int checked = 0;
  int never = 0;
  for (int expr_index = 0; expr_index < 400; ++expr_index) {
    GeneratedExpression e = Generate(gen);
    Result<CronSchedule> s = CronSchedule::Parse(e.text);
    ASSERT_TRUE(s.ok()) << e.text << ": " << s.status().ToString();
    for (int i = 0; i < 8; ++i) {
      TimePoint after = TimePoint(
          std::chrono::seconds(gen.Uniform(0, static_cast<int>((to - from) / 60)) * int64_t{60} + from));
      if (i % 2 == 1) after += std::chrono::milliseconds(gen.Uniform(0, 59999));  // mid-minute
      std::optional<TimePoint> actual;
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(*s, e, after, &actual));
      ++checked;
      if (!actual) {
        ++never;
        continue;
      }
      // Chain from an exact fire time, which must be excluded.
      ASSERT_NO_FATAL_FAILURE(ExpectSameAsReference(*s, e, *actual, &actual));
      ++checked;
    }
  }
  EXPECT_GT(checked, 3000);
  EXPECT_LT(never, checked / 10);  // the generator mostly produces schedules that fire
}

TEST(CronPropertyTest, NextAgreesWithReferenceAroundDstTransitions) {
  ExpressionGenerator gen(4242);
  struct Zone {
    const char* name;
    std::vector<const char*> transitions;
  };
  const std::vector<Zone> zones = {
      {"Europe/Amsterdam", {"2026-03-29T01:00:00Z", "2026-10-25T01:00:00Z", "2030-03-31T01:00:00Z"}},
      {"America/New_York", {"2026-03-08T07:00:00Z", "2026-11-01T06:00:00Z", "2031-11-02T06:00:00Z"}},
      {"Australia/Lord_Howe", {"2026-04-04T15:00:00Z", "2026-10-03T15:30:00Z"}},  // 30-minute shifts
  };
  int checked = 0;
  for (const Zone& zone : zones) {
    const date::time_zone* tz = date::locate_zone(zone.name);
    for (int expr_index = 0; expr_index < 60; ++expr_index) {
      GeneratedExpression e = Generate(gen);
      // Keep the dates dense so every run crosses the transition.
      e.dom = gen.Field({1, 31, 31, nullptr}, 100, true);
      e.month = gen.Field({1, 12, 12, &kMonths}, 100, false);
      e.dow = gen.Field({0, 7, 6, &kDays}, 100, true);
      e.text = e.minute.text + " " + e.hour.text + " * * *";
      Result<CronSchedule> s = CronSchedule::Parse(e.text, zone.name);
      ASSERT_TRUE(s.ok()) << e.text;
      for (const char* transition : zone.transitions) {
        for (int i = 0; i < 6; ++i) {
          TimePoint after = At(transition) + std::chrono::minutes(gen.Uniform(-180, 60));
          std::optional<TimePoint> actual = s->Next(after);
          std::optional<TimePoint> expected = ReferenceNext(e, tz, after, 3);
          ASSERT_EQ(Show(actual), Show(expected))
              << e.text << " in " << zone.name << " after " << FormatTime(after);
          ++checked;
        }
      }
    }
  }
  EXPECT_GT(checked, 1000);
}

}  // namespace
}  // namespace trellis
