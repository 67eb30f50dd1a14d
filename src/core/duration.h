// Durations as users write them: 500ms, 10s, 5m, 1h30m, 2d, or ISO 8601 (PT5M, P1DT2H).
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace trellis {

Result<std::chrono::milliseconds> ParseDuration(std::string_view text);
// The shortest form ParseDuration reads back: 90000ms -> "1m30s".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace trellis
