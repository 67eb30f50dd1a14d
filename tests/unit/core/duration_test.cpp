#include "core/duration.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <string>

namespace trellis {
namespace {

using std::chrono::milliseconds;
using ::testing::HasSubstr;

int64_t Ms(std::string_view text) {
  Result<milliseconds> d = ParseDuration(text);
  EXPECT_TRUE(d.ok()) << text << ": " << d.status().ToString();
  return d.ok() ? d->count() : -1;
}

std::string Error(std::string_view text) {
  Result<milliseconds> d = ParseDuration(text);
  if (d.ok()) return "ok";
  EXPECT_EQ(d.status().code(), StatusCode::kInvalidArgument);
  return d.status().message();
}

TEST(DurationTest, ParsesEachShortUnit) {
  EXPECT_EQ(Ms("500ms"), 500);
  EXPECT_EQ(Ms("10s"), 10'000);
  EXPECT_EQ(Ms("5m"), 300'000);
  EXPECT_EQ(Ms("2h"), 7'200'000);
  EXPECT_EQ(Ms("2d"), 172'800'000);
  EXPECT_EQ(Ms("0s"), 0);
}

TEST(DurationTest, AddsCombinedUnits) {
  EXPECT_EQ(Ms("1h30m"), 5'400'000);
  EXPECT_EQ(Ms("1d2h3m4s5ms"), 93'784'005);
  EXPECT_EQ(Ms("1s500ms"), 1'500);
}

TEST(DurationTest, AcceptsFractions) {
  EXPECT_EQ(Ms("1.5s"), 1'500);
  EXPECT_EQ(Ms("0.25m"), 15'000);
  EXPECT_EQ(Ms(".5s"), 500);
  EXPECT_EQ(Ms("1.5h"), 5'400'000);
}

TEST(DurationTest, ParsesIso8601) {
  EXPECT_EQ(Ms("PT5M"), 300'000);
  EXPECT_EQ(Ms("P1DT2H"), 93'600'000);
  EXPECT_EQ(Ms("PT0.5S"), 500);
  EXPECT_EQ(Ms("PT1H30M"), 5'400'000);
  EXPECT_EQ(Ms("P2D"), 172'800'000);
  EXPECT_EQ(Ms("P1W"), 604'800'000);
  EXPECT_EQ(Ms("pt10s"), 10'000);
  EXPECT_EQ(Ms("p1dt2h"), 93'600'000);
}

TEST(DurationTest, IsoMinutesNeedTheTimeSeparator) {
  // "M" before "T" is months, after "T" minutes.
  EXPECT_EQ(Ms("PT1M"), 60'000);
  EXPECT_THAT(Error("P1M"), HasSubstr("years and months have no fixed length"));
  EXPECT_THAT(Error("P1Y"), HasSubstr("years and months have no fixed length"));
}

TEST(DurationTest, RejectsEmptyText) {
  EXPECT_EQ(Error(""), "'' is not a duration (empty); use e.g. 500ms, 10s, 5m, 1h30m, 2d or PT5M");
}

TEST(DurationTest, RejectsANumberWithoutUnit) {
  EXPECT_THAT(Error("10"), HasSubstr("'10' is not a duration (a number needs a unit)"));
  EXPECT_THAT(Error("1h30"), HasSubstr("a number needs a unit"));
}

TEST(DurationTest, RejectsUnknownUnits) {
  EXPECT_THAT(Error("5x"), HasSubstr("'5x' is not a duration (unknown unit 'x')"));
  EXPECT_THAT(Error("5M"), HasSubstr("unknown unit 'M'"));
  EXPECT_THAT(Error("5sec"), HasSubstr("unknown unit 'sec'"));
  EXPECT_THAT(Error("1e3s"), HasSubstr("unknown unit 'e'"));
}

TEST(DurationTest, RejectsMalformedNumbers) {
  EXPECT_THAT(Error("s"), HasSubstr("expected a number"));
  EXPECT_THAT(Error("1.2.3s"), HasSubstr("expected a number"));
  EXPECT_THAT(Error(".s"), HasSubstr("expected a number"));
  EXPECT_THAT(Error("-5s"), HasSubstr("expected a number"));
  EXPECT_THAT(Error("5 s"), HasSubstr("a number needs a unit"));
}

TEST(DurationTest, RejectsMalformedIso8601) {
  EXPECT_THAT(Error("P"), HasSubstr("no components"));
  EXPECT_THAT(Error("PT"), HasSubstr("no components"));
  EXPECT_THAT(Error("PTT1S"), HasSubstr("two 'T' separators"));
  EXPECT_THAT(Error("PT5"), HasSubstr("a number without a unit"));
  EXPECT_THAT(Error("P5H"), HasSubstr("unknown unit 'H'"));
  EXPECT_THAT(Error("PT1D"), HasSubstr("unknown unit 'D'"));
  EXPECT_THAT(Error("PT-1S"), HasSubstr("expected a number"));
}

TEST(DurationTest, RejectsHugeValuesInsteadOfOverflowing) {
  EXPECT_THAT(Error("99999999999999d"), HasSubstr("too large"));
  EXPECT_THAT(Error("P99999999999999D"), HasSubstr("too large"));
  // Longer than a double's range: still an error value, not an exception.
  EXPECT_THAT(Error(std::string(400, '9') + "s"), HasSubstr("too large"));
}

TEST(DurationTest, FormatsTheShortestForm) {
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(FormatDuration(milliseconds(500)), "500ms");
  EXPECT_EQ(FormatDuration(milliseconds(90'000)), "1m30s");
  EXPECT_EQ(FormatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(93'784'005)), "1d2h3m4s5ms");
  EXPECT_EQ(FormatDuration(milliseconds(172'800'000)), "2d");
  EXPECT_EQ(FormatDuration(milliseconds(1'500)), "1s500ms");
}

TEST(DurationTest, FormatsNegativeDurationsWithASign) {
  EXPECT_EQ(FormatDuration(milliseconds(-90'000)), "-1m30s");
}

TEST(DurationTest, FormatThenParseRoundTrips) {
  for (int64_t ms :
       {int64_t{1}, int64_t{999}, int64_t{1'000}, int64_t{61'001}, int64_t{3'599'999}, int64_t{86'400'000},
        int64_t{90'061'001}, int64_t{31'536'000'000}, int64_t{123'456'789'012}}) {
    std::string text = FormatDuration(milliseconds(ms));
    EXPECT_EQ(Ms(text), ms) << text;
  }
}

TEST(DurationTest, ParseThenFormatNormalises) {
  EXPECT_EQ(FormatDuration(*ParseDuration("90s")), "1m30s");
  EXPECT_EQ(FormatDuration(*ParseDuration("PT0.5S")), "500ms");
  EXPECT_EQ(FormatDuration(*ParseDuration("P1DT2H")), "1d2h");
  EXPECT_EQ(FormatDuration(*ParseDuration("1.5s")), "1s500ms");
}

}  // namespace
}  // namespace trellis
