// Structured logs: one line per event, JSON (for containers) or text (for a terminal), with a
// level filter. Thread-safe; writes to stderr unless a sink is installed (tests capture it).
#pragma once

#include <functional>
#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"

namespace trellis {

enum class LogLevel { kTrace, kDebug, kInfo, kWarn, kError };

struct LogSettings {
  LogLevel level = LogLevel::kInfo;
  bool json = false;
};
void ConfigureLogging(LogSettings settings);
// "info" -> kInfo; nullopt for an unknown name.
std::optional<LogLevel> ParseLogLevel(std::string_view name);
// Replaces stderr (null restores it). The sink receives whole lines without the newline.
void SetLogSink(std::function<void(std::string_view line)> sink);

bool LogEnabled(LogLevel level);
// `fields` (an object) is merged into the JSON line, or appended as key=value in text.
void Log(LogLevel level, std::string_view message, const Json& fields = Json::object());

inline void LogInfo(std::string_view m, const Json& f = Json::object()) {
  Log(LogLevel::kInfo, m, f);
}
inline void LogWarn(std::string_view m, const Json& f = Json::object()) {
  Log(LogLevel::kWarn, m, f);
}
inline void LogError(std::string_view m, const Json& f = Json::object()) {
  Log(LogLevel::kError, m, f);
}
inline void LogDebug(std::string_view m, const Json& f = Json::object()) {
  Log(LogLevel::kDebug, m, f);
}

}  // namespace trellis
