#include "core/cron.h"

// date's headers trip a false -Wmaybe-uninitialized inside <chrono> at -O2 on g++ 12.
#pragma GCC diagnostic push
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#include <date/tz.h>
#pragma GCC diagnostic pop

#include <algorithm>
#include <array>
#include <cctype>
#include <exception>
#include <vector>

namespace trellis {
namespace {

using std::chrono::seconds;
using LocalSeconds = date::local_seconds;
using SysSeconds = date::sys_seconds;

// 8 rather than 5 years: "0 0 29 2 *" must still find 2104-02-29 after 2096 (2100 is no leap year).
constexpr int kSearchYears = 8;

struct FieldSpec {
  const char* name;
  int min;
  int max;       // largest value accepted in the text (7 for day-of-week)
  int star_max;  // largest value `*` and `a/n` reach (6 for day-of-week)
  bool allows_question;
  const std::array<const char*, 12>* names;  // names[i] has value i + names_base
  int names_base;
  int names_count;
};

constexpr std::array<const char*, 12> kMonthNames = {"JAN", "FEB", "MAR", "APR", "MAY", "JUN",
                                                     "JUL", "AUG", "SEP", "OCT", "NOV", "DEC"};
constexpr std::array<const char*, 12> kDayNames = {"SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"};

constexpr FieldSpec kSecond{"second", 0, 59, 59, false, nullptr, 0, 0};
constexpr FieldSpec kMinute{"minute", 0, 59, 59, false, nullptr, 0, 0};
constexpr FieldSpec kHour{"hour", 0, 23, 23, false, nullptr, 0, 0};
constexpr FieldSpec kDayOfMonth{"day of month", 1, 31, 31, true, nullptr, 0, 0};
constexpr FieldSpec kMonth{"month", 1, 12, 12, false, &kMonthNames, 1, 12};
constexpr FieldSpec kDayOfWeek{"day of week", 0, 7, 6, true, &kDayNames, 0, 7};

class FieldParser {
 public:
  FieldParser(const FieldSpec& spec, std::string_view expr) : spec_(spec), expr_(expr) {}

  Result<uint64_t> Parse(std::string_view field) const {
    if (field.find('?') != std::string_view::npos) {
      if (!spec_.allows_question) return Error("does not allow '?' (only day of month and day of week do)");
      if (field != "?") return Error("'?' cannot be combined with other values or a step");
    }
    uint64_t bits = 0;
    size_t start = 0;
    while (true) {
      size_t comma = field.find(',', start);
      std::string_view item = field.substr(start, comma == std::string_view::npos ? comma : comma - start);
      if (item.empty()) return Error("has an empty list item in '" + std::string(field) + "'");
      Status s = ParseItem(item, &bits);
      if (!s.ok()) return s;
      if (comma == std::string_view::npos) break;
      start = comma + 1;
    }
    return bits;
  }

 private:
  Status Error(const std::string& what) const {
    return InvalidArgument("cron field '" + std::string(spec_.name) + "' " + what + " in \"" +
                           std::string(expr_) + "\"");
  }

  Status ParseItem(std::string_view item, uint64_t* bits) const {
    std::string_view range = item;
    std::optional<int> step;
    if (size_t slash = item.find('/'); slash != std::string_view::npos) {
      range = item.substr(0, slash);
      std::string_view step_text = item.substr(slash + 1);
      std::optional<int> n = ParseNumber(step_text);
      if (!n)
        return Error("has invalid step '" + std::string(step_text) + "' in '" + std::string(item) + "'");
      int max_step = spec_.star_max - spec_.min + 1;
      if (*n < 1 || *n > max_step) {
        return Error("step " + std::to_string(*n) + " is out of range 1-" + std::to_string(max_step));
      }
      step = n;
    }
    int lo = 0;
    int hi = 0;
    if (range == "*" || range == "?") {
      lo = spec_.min;
      hi = spec_.star_max;
    } else if (size_t dash = range.find('-'); dash != std::string_view::npos) {
      if (dash == 0 || dash + 1 == range.size())
        return Error("has invalid range '" + std::string(range) + "'");
      Result<int> a = ParseValue(range.substr(0, dash));
      if (!a.ok()) return a.status();
      Result<int> b = ParseValue(range.substr(dash + 1));
      if (!b.ok()) return b.status();
      lo = *a;
      hi = *b;
      if (lo > hi) {
        return Error("range " + std::string(range) + " is reversed (start is after end)");
      }
    } else {
      Result<int> a = ParseValue(range);
      if (!a.ok()) return a.status();
      lo = *a;
      // "a/n" runs from a to the field's maximum.
      hi = step ? std::max(lo, spec_.star_max) : lo;
    }
    for (int v = lo; v <= hi; v += step.value_or(1)) {
      // Day of week 7 is Sunday.
      int bit = (spec_.names == &kDayNames && v == 7) ? 0 : v;
      *bits |= uint64_t{1} << bit;
    }
    return Status::Ok();
  }

  static std::optional<int> ParseNumber(std::string_view text) {
    if (text.empty() || text.size() > 4) return std::nullopt;
    int n = 0;
    for (char c : text) {
      if (!std::isdigit(static_cast<unsigned char>(c))) return std::nullopt;
      n = n * 10 + (c - '0');
    }
    return n;
  }

  Result<int> ParseValue(std::string_view text) const {
    if (std::optional<int> n = ParseNumber(text)) {
      if (*n < spec_.min || *n > spec_.max) {
        return Error("value " + std::to_string(*n) + " is out of range " + std::to_string(spec_.min) + "-" +
                     std::to_string(spec_.max));
      }
      return *n;
    }
    if (spec_.names != nullptr && text.size() == 3) {
      std::string upper;
      for (char c : text) upper += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
      for (int i = 0; i < spec_.names_count; ++i) {
        if (upper == (*spec_.names)[i]) return spec_.names_base + i;
      }
    }
    if (spec_.names == &kMonthNames)
      return Error("has invalid value '" + std::string(text) + "' (use 1-12 or JAN-DEC)");
    if (spec_.names == &kDayNames)
      return Error("has invalid value '" + std::string(text) + "' (use 0-7 or SUN-SAT)");
    return Error("has invalid value '" + std::string(text) + "'");
  }

  const FieldSpec& spec_;
  std::string_view expr_;
};

std::vector<std::string_view> SplitFields(std::string_view text) {
  std::vector<std::string_view> out;
  size_t i = 0;
  while (i < text.size()) {
    while (i < text.size() && std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    size_t start = i;
    while (i < text.size() && !std::isspace(static_cast<unsigned char>(text[i]))) ++i;
    if (i > start) out.push_back(text.substr(start, i - start));
  }
  return out;
}

std::optional<std::string_view> ExpandMacro(std::string_view macro) {
  std::string lower;
  for (char c : macro) lower += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  if (lower == "@yearly" || lower == "@annually") return "0 0 1 1 *";
  if (lower == "@monthly") return "0 0 1 * *";
  if (lower == "@weekly") return "0 0 * * 0";
  if (lower == "@daily" || lower == "@midnight") return "0 0 * * *";
  if (lower == "@hourly") return "0 * * * *";
  return std::nullopt;
}

// The lowest set bit of `bits` in [from, max], or -1.
int NextBit(uint64_t bits, int from, int max) {
  for (int i = from; i <= max; ++i) {
    if ((bits >> i) & 1) return i;
  }
  return -1;
}

unsigned DaysInMonth(int year, unsigned month) {
  return static_cast<unsigned>((date::year{year} / date::month{month} / date::last).day());
}

}  // namespace

Result<CronSchedule> CronSchedule::Parse(std::string_view expr, std::string_view timezone) {
  CronSchedule s;
  s.expression_ = std::string(expr);
  s.timezone_ = std::string(timezone);

  std::vector<std::string_view> fields = SplitFields(expr);
  if (fields.empty()) return InvalidArgument("cron expression is empty");
  if (fields[0].front() == '@') {
    if (fields.size() != 1)
      return InvalidArgument("cron macro " + std::string(fields[0]) + " takes no other fields in \"" +
                             std::string(expr) + "\"");
    std::optional<std::string_view> expanded = ExpandMacro(fields[0]);
    if (!expanded) {
      return InvalidArgument("unknown cron macro '" + std::string(fields[0]) +
                             "' (use @yearly, @annually, @monthly, @weekly, @daily, @midnight or @hourly)");
    }
    fields = SplitFields(*expanded);
  }
  if (fields.size() != 5 && fields.size() != 6) {
    return InvalidArgument("cron expression needs 5 or 6 fields, got " + std::to_string(fields.size()) +
                           " in \"" + std::string(expr) + "\"");
  }
  size_t i = 0;
  if (fields.size() == 6) {
    Result<uint64_t> sec = FieldParser(kSecond, expr).Parse(fields[i++]);
    if (!sec.ok()) return sec.status();
    s.seconds_ = *sec;
  } else {
    s.seconds_ = 1;  // second 0
  }
  Result<uint64_t> min = FieldParser(kMinute, expr).Parse(fields[i++]);
  if (!min.ok()) return min.status();
  Result<uint64_t> hour = FieldParser(kHour, expr).Parse(fields[i++]);
  if (!hour.ok()) return hour.status();
  std::string_view dom_text = fields[i];
  Result<uint64_t> dom = FieldParser(kDayOfMonth, expr).Parse(fields[i++]);
  if (!dom.ok()) return dom.status();
  Result<uint64_t> month = FieldParser(kMonth, expr).Parse(fields[i++]);
  if (!month.ok()) return month.status();
  std::string_view dow_text = fields[i];
  Result<uint64_t> dow = FieldParser(kDayOfWeek, expr).Parse(fields[i++]);
  if (!dow.ok()) return dow.status();
  s.minutes_ = *min;
  s.hours_ = static_cast<uint32_t>(*hour);
  s.days_of_month_ = static_cast<uint32_t>(*dom);
  s.months_ = static_cast<uint32_t>(*month);
  s.days_of_week_ = static_cast<uint32_t>(*dow);
  // Vixie cron decides "unrestricted" by the first character, so "*/2" counts as a star.
  s.dom_star_ = dom_text.front() == '*' || dom_text.front() == '?';
  s.dow_star_ = dow_text.front() == '*' || dow_text.front() == '?';

  try {
    s.zone_ = date::locate_zone(s.timezone_);
  } catch (const std::exception&) {
    s.zone_ = nullptr;
  }
  if (s.zone_ == nullptr) return InvalidArgument("unknown time zone '" + s.timezone_ + "'");
  return s;
}

bool CronSchedule::DayMatches(int year, unsigned month, unsigned day) const {
  bool dom_ok = (days_of_month_ >> day) & 1;
  unsigned wd =
      date::weekday(date::local_days(date::year{year} / date::month{month} / date::day{day})).c_encoding();
  bool dow_ok = (days_of_week_ >> wd) & 1;
  if (dom_star_ || dow_star_) return dom_ok && dow_ok;
  return dom_ok || dow_ok;
}

std::optional<int64_t> CronSchedule::NextLocal(int64_t from, int max_year) const {
  LocalSeconds from_tp{seconds(from)};
  date::local_days from_day = date::floor<date::days>(from_tp);
  date::year_month_day ymd{from_day};
  date::hh_mm_ss<seconds> tod{from_tp - from_day};
  int y = static_cast<int>(ymd.year());
  int m = static_cast<int>(static_cast<unsigned>(ymd.month()));
  int d = static_cast<int>(static_cast<unsigned>(ymd.day()));
  int h = static_cast<int>(tod.hours().count());
  int mi = static_cast<int>(tod.minutes().count());
  int s = static_cast<int>(tod.seconds().count());

  // Each step moves strictly forward, resetting the smaller units, and jumps straight to the next
  // allowed month / hour / minute / second; only days are stepped one at a time (at most 31 a month).
  while (y <= max_year) {
    if (m > 12) {
      ++y;
      m = 1;
      continue;
    }
    if (!((months_ >> m) & 1)) {
      int next = NextBit(months_, m + 1, 12);
      if (next < 0) {
        ++y;
        next = NextBit(months_, 1, 12);
      }
      m = next;
      d = 1;
      h = mi = s = 0;
      continue;
    }
    if (d > static_cast<int>(DaysInMonth(y, static_cast<unsigned>(m)))) {
      ++m;
      d = 1;
      h = mi = s = 0;
      continue;
    }
    if (!DayMatches(y, static_cast<unsigned>(m), static_cast<unsigned>(d))) {
      if (dow_star_) {
        int next = NextBit(days_of_month_, d + 1, 31);
        d = next < 0 ? 32 : next;
      } else {
        ++d;
      }
      h = mi = s = 0;
      continue;
    }
    int next_h = NextBit(hours_, h, 23);
    if (next_h < 0) {
      ++d;
      h = mi = s = 0;
      continue;
    }
    if (next_h != h) {
      h = next_h;
      mi = s = 0;
    }
    int next_mi = NextBit(minutes_, mi, 59);
    if (next_mi < 0) {
      ++h;
      mi = s = 0;
      continue;
    }
    if (next_mi != mi) {
      mi = next_mi;
      s = 0;
    }
    int next_s = NextBit(seconds_, s, 59);
    if (next_s < 0) {
      ++mi;
      s = 0;
      continue;
    }
    s = next_s;
    LocalSeconds t = date::local_days(date::year{y} / date::month{static_cast<unsigned>(m)} /
                                      date::day{static_cast<unsigned>(d)}) +
                     std::chrono::hours(h) + std::chrono::minutes(mi) + seconds(s);
    return t.time_since_epoch().count();
  }
  return std::nullopt;
}

std::optional<TimePoint> CronSchedule::Next(TimePoint after) const {
  // Fire times are whole seconds, so "strictly after `after`" means "at or after floor(after) + 1s".
  const SysSeconds after_s = std::chrono::floor<seconds>(after);
  const SysSeconds latest = std::chrono::floor<seconds>(TimePoint::max());
  if (after_s >= latest) return std::nullopt;
  const SysSeconds start = after_s + seconds(1);

  date::sys_info start_info = zone_->get_info(start);
  LocalSeconds cursor{(start + start_info.offset).time_since_epoch()};
  const int max_year =
      static_cast<int>(date::year_month_day{date::floor<date::days>(cursor)}.year()) + kSearchYears;

  while (true) {
    std::optional<int64_t> found = NextLocal(cursor.time_since_epoch().count(), max_year);
    if (!found) return std::nullopt;
    LocalSeconds local{seconds(*found)};
    date::local_info info = zone_->get_info(local);
    SysSeconds fire;
    if (info.result == date::local_info::nonexistent) {
      // Skipped by the spring-forward gap: resume at the first wall-clock time after it.
      cursor = LocalSeconds{(info.second.begin + info.second.offset).time_since_epoch()};
      continue;
    }
    // Unique, or ambiguous and fired at the earlier of its two instants.
    fire = SysSeconds{(local - info.first.offset).time_since_epoch()};
    if (fire <= after_s) {
      // Only when `after` lies in the repeated hour after a fall-back: every wall-clock time that
      // repeats and whose first instant is not after `after` has fired already.
      cursor = local + seconds(1);
      if (info.result == date::local_info::ambiguous) {
        LocalSeconds past_after{(after_s + info.first.offset).time_since_epoch() + seconds(1)};
        LocalSeconds repeat_end{(info.second.begin + info.first.offset).time_since_epoch()};
        cursor = std::max(cursor, std::min(past_after, repeat_end));
      }
      continue;
    }
    if (fire > latest) return std::nullopt;
    return std::chrono::time_point_cast<TimePoint::duration>(fire);
  }
}

}  // namespace trellis
