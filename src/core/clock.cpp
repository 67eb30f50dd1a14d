#include "core/clock.h"

// date::parse trips a false -Wmaybe-uninitialized inside <chrono> at -O2 on g++ 12.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/date.h>
#pragma GCC diagnostic pop

#include <sstream>

namespace trellis {

SystemClock& SystemClock::Instance() {
  static SystemClock clock;
  return clock;
}

std::string FormatTime(TimePoint t) {
  return date::format("%FT%TZ", std::chrono::floor<Millis>(t));
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
  std::istringstream in(s);
  date::sys_time<std::chrono::microseconds> tp;
  in >> date::parse("%FT%T%z", tp);
  if (in.fail() || in.peek() != std::char_traits<char>::eof()) {
    return InvalidArgument("'" + std::string(text) + "' is not an RFC 3339 time (e.g. 2026-01-31T09:00:00Z)");
  }
  return std::chrono::time_point_cast<TimePoint::duration>(tp);
}

}  // namespace trellis
