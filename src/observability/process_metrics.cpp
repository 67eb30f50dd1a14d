#include "observability/process_metrics.h"

#include <dirent.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <vector>

namespace trellis::metrics {

namespace {

std::optional<std::string> ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) return std::nullopt;
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

std::optional<double> ParseNumber(const std::string& s) {
  if (s.empty()) return std::nullopt;
  char* end = nullptr;
  double v = std::strtod(s.c_str(), &end);
  if (end == s.c_str()) return std::nullopt;
  return v;
}

// Boot time (Unix seconds): the "btime" line of /proc/stat.
std::optional<double> BootTime(const std::string& proc) {
  std::ifstream in(proc + "/stat");
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("btime ", 0) == 0) return ParseNumber(line.substr(6));
  }
  return std::nullopt;
}

void ReadStat(const std::string& proc, ProcessStats& out) {
  auto text = ReadFile(proc + "/self/stat");
  if (!text) return;
  // "pid (comm) state ppid ...": comm may hold spaces and parentheses, so fields start after the
  // last ')'. Field 3 (state) is the first one there.
  size_t close = text->rfind(')');
  if (close == std::string::npos) return;
  std::istringstream in(text->substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3
  std::string w;
  while (in >> w) f.push_back(w);
  auto field = [&](size_t n) -> std::optional<double> {  // 1-based field number as in proc(5)
    if (n < 3 || n - 3 >= f.size()) return std::nullopt;
    return ParseNumber(f[n - 3]);
  };
  double ticks = static_cast<double>(sysconf(_SC_CLK_TCK));
  double page = static_cast<double>(sysconf(_SC_PAGESIZE));
  auto utime = field(14);
  auto stime = field(15);
  if (utime && stime && ticks > 0) out.cpu_seconds = (*utime + *stime) / ticks;
  if (auto vsize = field(23)) out.virtual_bytes = *vsize;
  if (auto rss = field(24)) out.resident_bytes = *rss * page;
  auto start = field(22);
  auto boot = BootTime(proc);
  if (start && boot && ticks > 0) out.start_time_seconds = *boot + *start / ticks;
}

void ReadFds(const std::string& proc, ProcessStats& out) {
  DIR* dir = opendir((proc + "/self/fd").c_str());
  if (dir == nullptr) return;
  double n = 0;
  while (dirent* e = readdir(dir)) {
    std::string_view name = e->d_name;
    if (name != "." && name != "..") ++n;
  }
  closedir(dir);
  out.open_fds = n;
}

void ReadLimits(const std::string& proc, ProcessStats& out) {
  std::ifstream in(proc + "/self/limits");
  std::string line;
  // "Max open files            1024                 1048576              files"
  while (std::getline(in, line)) {
    if (line.rfind("Max open files", 0) != 0) continue;
    std::istringstream fields(line.substr(14));
    std::string soft;
    fields >> soft;
    if (soft == "unlimited") {
      out.max_fds = 18446744073709551615.0;
    } else {
      out.max_fds = ParseNumber(soft);
    }
    return;
  }
}

}  // namespace

ProcessStats ReadProcessStats(const std::string& proc) {
  ProcessStats out;
  ReadStat(proc, out);
  ReadFds(proc, out);
  ReadLimits(proc, out);
  return out;
}

void RegisterProcessMetrics(Registry& registry, const std::string& proc) {
  struct Def {
    const char* name;
    const char* help;
    MetricType type;
    std::optional<double> ProcessStats::*field;
  };
  static const Def kDefs[] = {
      {"process_cpu_seconds_total", "Total user and system CPU time spent in seconds.", MetricType::kCounter,
       &ProcessStats::cpu_seconds},
      {"process_resident_memory_bytes", "Resident memory size in bytes.", MetricType::kGauge,
       &ProcessStats::resident_bytes},
      {"process_virtual_memory_bytes", "Virtual memory size in bytes.", MetricType::kGauge,
       &ProcessStats::virtual_bytes},
      {"process_start_time_seconds", "Start time of the process since unix epoch in seconds.",
       MetricType::kGauge, &ProcessStats::start_time_seconds},
      {"process_open_fds", "Number of open file descriptors.", MetricType::kGauge, &ProcessStats::open_fds},
      {"process_max_fds", "Maximum number of open file descriptors.", MetricType::kGauge,
       &ProcessStats::max_fds},
  };
  std::vector<std::string> names;
  for (const Def& d : kDefs) names.emplace_back(d.name);
  registry.AddCollector(std::move(names), [proc](std::vector<FamilySnapshot>& out) {
    ProcessStats stats = ReadProcessStats(proc);
    for (const Def& d : kDefs) {
      const std::optional<double>& v = stats.*d.field;
      if (!v) continue;
      out.push_back({d.name, d.help, d.type, {}, {}, {Sample{{}, *v, {}}}});
    }
  });
}

}  // namespace trellis::metrics
