// CronSchedule: a parsed cron expression bound to an IANA time zone, answering "when does it fire
// next?". Used by the scheduler to start workflows on a timetable.
//
// Syntax: 5 fields (minute hour day-of-month month day-of-week), 6 fields (a leading second field),
// or a macro (@yearly @annually @monthly @weekly @daily @midnight @hourly). Each field is a list of
// items: `*`, `?` (day fields only), `n`, `a-b`, with an optional step (`*/n`, `a-b/n`, `a/n` meaning
// a through the field's maximum). Months accept JAN-DEC, weekdays SUN-SAT (case-insensitive); in the
// day-of-week field both 0 and 7 are Sunday.
//
// Day matching follows Vixie cron: if the day-of-month or day-of-week field starts with `*` or `?`
// (including `*/2`), a day must match both fields; otherwise a day matches if EITHER field matches
// ("0 0 1 * MON" fires on the 1st and on every Monday).
//
// Fields are matched against wall-clock time in the schedule's zone. A local time that does not exist
// (the spring-forward gap) is skipped; a local time that occurs twice (fall-back) fires once, at the
// earlier instant.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "core/clock.h"
#include "core/status.h"

namespace date {
class time_zone;
}  // namespace date

namespace trellis {

class CronSchedule {
 public:
  // timezone is an IANA name ("UTC", "Europe/Amsterdam"), looked up once here.
  static Result<CronSchedule> Parse(std::string_view expr, std::string_view timezone = "UTC");

  // The first fire time strictly after `after` (whole seconds), or std::nullopt when the schedule
  // cannot fire within the search horizon (about 8 years, so Feb 29 survives the non-leap 2100),
  // e.g. "0 0 30 2 *".
  std::optional<TimePoint> Next(TimePoint after) const;

  const std::string& expression() const { return expression_; }
  const std::string& timezone() const { return timezone_; }

 private:
  CronSchedule() = default;

  bool DayMatches(int year, unsigned month, unsigned day) const;
  // The first matching wall-clock time at or after `from` (seconds since the local epoch), not later
  // than the end of `max_year`.
  std::optional<int64_t> NextLocal(int64_t from, int max_year) const;

  std::string expression_;
  std::string timezone_;
  const date::time_zone* zone_ = nullptr;  // owned by date's tz database, lives for the process
  // Bit i set: value i allowed.
  uint64_t seconds_ = 0;
  uint64_t minutes_ = 0;
  uint32_t hours_ = 0;
  uint32_t days_of_month_ = 0;  // bits 1-31
  uint32_t months_ = 0;         // bits 1-12
  uint32_t days_of_week_ = 0;   // bits 0-6, Sunday = 0
  bool dom_star_ = false;       // the day-of-month field starts with '*' or '?'
  bool dow_star_ = false;       // the day-of-week field starts with '*' or '?'
};

}  // namespace trellis
