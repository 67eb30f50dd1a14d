#include "core/duration.h"

#include <cctype>
#include <cmath>
#include <cstdlib>
#include <limits>

namespace trellis {
namespace {

using std::chrono::milliseconds;
constexpr int64_t kMaxMs = std::numeric_limits<int64_t>::max() / 4;

Status Bad(std::string_view text, std::string_view why) {
  return InvalidArgument("'" + std::string(text) + "' is not a duration (" + std::string(why) +
                         "); use e.g. 500ms, 10s, 5m, 1h30m, 2d or PT5M");
}

// Reads a decimal number (digits with an optional fraction) at text[*pos].
bool ReadNumber(std::string_view text, size_t* pos, double* out) {
  size_t start = *pos;
  while (*pos < text.size() && (std::isdigit(static_cast<unsigned char>(text[*pos])) || text[*pos] == '.'))
    ++*pos;
  if (*pos == start) return false;
  std::string num(text.substr(start, *pos - start));
  if (num.find('.') != num.rfind('.') || num == ".") return false;
  // strtod, not stod: an absurdly long number must be "too large", not an exception.
  *out = std::strtod(num.c_str(), nullptr);
  return true;
}

Result<milliseconds> ParseIso(std::string_view text) {
  // P[nD]T[nH][nM][nS]; weeks 'W' also accepted. Months and years are not fixed lengths: refused.
  size_t pos = 1;
  bool in_time = false;
  bool any = false;
  double total = 0;
  while (pos < text.size()) {
    if (text[pos] == 'T' || text[pos] == 't') {  // lower case, like 'p' and the units
      if (in_time) return Bad(text, "two 'T' separators");
      in_time = true;
      ++pos;
      continue;
    }
    double n = 0;
    if (!ReadNumber(text, &pos, &n)) return Bad(text, "expected a number");
    if (pos >= text.size()) return Bad(text, "a number without a unit");
    char unit = static_cast<char>(std::toupper(static_cast<unsigned char>(text[pos++])));
    double ms = 0;
    if (!in_time && unit == 'D')
      ms = 86400000.0;
    else if (!in_time && unit == 'W')
      ms = 7 * 86400000.0;
    else if (in_time && unit == 'H')
      ms = 3600000.0;
    else if (in_time && unit == 'M')
      ms = 60000.0;
    else if (in_time && unit == 'S')
      ms = 1000.0;
    else if (!in_time && (unit == 'Y' || unit == 'M'))
      return Bad(text, "years and months have no fixed length");
    else
      return Bad(text, std::string("unknown unit '") + unit + "'");
    total += n * ms;
    any = true;
  }
  if (!any) return Bad(text, "no components");
  if (total > static_cast<double>(kMaxMs)) return Bad(text, "too large");
  return milliseconds(static_cast<int64_t>(std::llround(total)));
}

}  // namespace

Result<milliseconds> ParseDuration(std::string_view text) {
  if (text.empty()) return Bad(text, "empty");
  if (text[0] == 'P' || text[0] == 'p') return ParseIso(text);
  size_t pos = 0;
  double total = 0;
  while (pos < text.size()) {
    double n = 0;
    if (!ReadNumber(text, &pos, &n)) return Bad(text, "expected a number");
    size_t unit_start = pos;
    while (pos < text.size() && std::isalpha(static_cast<unsigned char>(text[pos]))) ++pos;
    std::string_view unit = text.substr(unit_start, pos - unit_start);
    double ms = 0;
    if (unit == "ms")
      ms = 1;
    else if (unit == "s")
      ms = 1000;
    else if (unit == "m")
      ms = 60000;
    else if (unit == "h")
      ms = 3600000;
    else if (unit == "d")
      ms = 86400000;
    else if (unit.empty())
      return Bad(text, "a number needs a unit");
    else
      return Bad(text, "unknown unit '" + std::string(unit) + "'");
    total += n * ms;
  }
  if (total > static_cast<double>(kMaxMs)) return Bad(text, "too large");
  return milliseconds(static_cast<int64_t>(std::llround(total)));
}

std::string FormatDuration(milliseconds d) {
  int64_t ms = d.count();
  if (ms == 0) return "0s";
  std::string out;
  if (ms < 0) {
    out = "-";
    ms = -ms;
  }
  const std::pair<int64_t, const char*> units[] = {
      {86400000, "d"}, {3600000, "h"}, {60000, "m"}, {1000, "s"}, {1, "ms"}};
  for (const auto& [size, name] : units) {
    if (ms >= size) {
      out += std::to_string(ms / size) + name;
      ms %= size;
    }
  }
  return out;
}

}  // namespace trellis
