// The standard process_* metrics (as the official Prometheus clients export them on Linux), read
// from /proc at scrape time: process_cpu_seconds_total, process_resident_memory_bytes,
// process_virtual_memory_bytes, process_start_time_seconds, process_open_fds, process_max_fds.
#pragma once

#include <optional>
#include <string>

#include "observability/metrics.h"

namespace trellis::metrics {

struct ProcessStats {
  std::optional<double> cpu_seconds;  // user + system
  std::optional<double> resident_bytes;
  std::optional<double> virtual_bytes;
  std::optional<double> start_time_seconds;  // Unix time
  std::optional<double> open_fds;
  std::optional<double> max_fds;  // the soft limit
};

// Reads <proc>/self/stat, <proc>/stat (boot time), <proc>/self/fd and <proc>/self/limits. A field
// that cannot be read is nullopt (and its metric is left out of the scrape).
ProcessStats ReadProcessStats(const std::string& proc = "/proc");

// Adds a collector for the six metrics to `registry` (once per registry). `proc` is for tests.
void RegisterProcessMetrics(Registry& registry, const std::string& proc = "/proc");

}  // namespace trellis::metrics
