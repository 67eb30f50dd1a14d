#include "core/clock.h"

// date::parse trips a false -Wmaybe-uninitialized inside <chrono> at -O2 on g++ 12.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/date.h>
#pragma GCC diagnostic pop

#include <cctype>
#include <sstream>
#include <string_view>

namespace trellis {
namespace {

Status NotRfc3339(std::string_view text) {
  return InvalidArgument("'" + std::string(text) + "' is not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)");
}

}  // namespace

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

std::string FormatTime(TimePoint t) {
  // By hand for years 0000-9999: date::format goes through an ostringstream, and instance states
  // carry several times each, so it was a fifth of the worker's serialisation time.
  auto ms = std::chrono::floor<Millis>(t);
  auto day = std::chrono::floor<date::days>(ms);
  date::year_month_day ymd{day};
  int year = static_cast<int>(ymd.year());
  if (year < 0 || year > 9999) return date::format("%FT%TZ", ms);
  int64_t in_day = (ms - day).count();  // milliseconds since midnight
  auto put = [](char* at, int64_t value, int digits) {
    for (int i = digits - 1; i >= 0; --i, value /= 10) at[i] = static_cast<char>('0' + value % 10);
  };
  std::string out = "0000-00-00T00:00:00.000Z";
  put(&out[0], year, 4);
  put(&out[5], static_cast<unsigned>(ymd.month()), 2);
  put(&out[8], static_cast<unsigned>(ymd.day()), 2);
  put(&out[11], in_day / 3600000, 2);
  put(&out[14], in_day / 60000 % 60, 2);
  put(&out[17], in_day / 1000 % 60, 2);
  put(&out[20], in_day % 1000, 3);
  return out;
}

Result<TimePoint> ParseTime(std::string_view text) {
  std::string s(text);
  // date::parse's %z wants +hhmm; RFC 3339 allows 'Z' and +hh:mm.
  if (!s.empty() && (s.back() == 'Z' || s.back() == 'z')) {
    s.back() = '+';
    s += "0000";
  } else if (s.size() > 6 && (s[s.size() - 6] == '+' || s[s.size() - 6] == '-') && s[s.size() - 3] == ':') {
    s.erase(s.size() - 3, 1);
  }
  // Take the fraction out and add it afterwards: RFC 3339 allows any number of digits (Go writes
  // nine), date::parse reads only as many as its precision, and parsing at nanosecond precision
  // would silently overflow for years outside TimePoint's range.
  std::chrono::nanoseconds fraction{0};
  if (size_t dot = s.find('.'); dot != std::string::npos) {
    size_t end = dot + 1;
    int64_t scale = 100000000;
    for (; end < s.size() && std::isdigit(static_cast<unsigned char>(s[end])); ++end, scale /= 10) {
      fraction += std::chrono::nanoseconds((s[end] - '0') * scale);
    }
    // Digits must follow the seconds' dot, and the offset must follow the digits.
    if (end == dot + 1 || end == s.size() || (s[end] != '+' && s[end] != '-')) return NotRfc3339(text);
    s.erase(dot, end - dot);
  }
  // Only YYYY-MM-DDTHH:MM:SS+hhmm reaches date::parse: on some other text (a five-digit year with a
  // one-digit month) it converts a NaN to an integer while reading %T, which is undefined behaviour.
  static constexpr std::string_view kShape = "dddd-dd-ddTdd:dd:dd+dddd";
  if (s.size() != kShape.size()) return NotRfc3339(text);
  for (size_t i = 0; i < s.size(); ++i) {
    bool ok = kShape[i] == 'd'   ? std::isdigit(static_cast<unsigned char>(s[i])) != 0
              : kShape[i] == '+' ? s[i] == '+' || s[i] == '-'
                                 : s[i] == kShape[i];
    if (!ok) return NotRfc3339(text);
  }
  std::istringstream in(s);
  date::sys_seconds secs;
  in >> date::parse("%FT%T%z", secs);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) return NotRfc3339(text);
  if (secs <= std::chrono::floor<std::chrono::seconds>(TimePoint::min()) ||
      secs >= std::chrono::floor<std::chrono::seconds>(TimePoint::max())) {
    return InvalidArgument("'" + std::string(text) +
                           "' is outside the supported time range (years 1678-2261)");
  }
  return TimePoint(secs.time_since_epoch()) + std::chrono::duration_cast<TimePoint::duration>(fraction);
}

}  // namespace trellis
