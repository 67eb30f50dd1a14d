#include "core/log.h"

#include <atomic>
#include <cstdio>
#include <mutex>

#include "core/clock.h"

namespace trellis {
namespace {

std::atomic<int> g_level{static_cast<int>(LogLevel::kInfo)};
std::atomic<bool> g_json{false};
std::mutex g_sink_mu;  // guards g_sink and serialises writes so lines never interleave
std::function<void(std::string_view)> g_sink;

const char* LevelName(LogLevel l) {
  switch (l) {
    case LogLevel::kTrace: return "trace";
    case LogLevel::kDebug: return "debug";
    case LogLevel::kInfo: return "info";
    case LogLevel::kWarn: return "warn";
    case LogLevel::kError: return "error";
  }
  return "info";
}

}  // namespace

void ConfigureLogging(LogSettings settings) {
  g_level = static_cast<int>(settings.level);
  g_json = settings.json;
}

std::optional<LogLevel> ParseLogLevel(std::string_view name) {
  for (LogLevel l :
       {LogLevel::kTrace, LogLevel::kDebug, LogLevel::kInfo, LogLevel::kWarn, LogLevel::kError}) {
    if (name == LevelName(l)) return l;
  }
  if (name == "warning") return LogLevel::kWarn;
  return std::nullopt;
}

void SetLogSink(std::function<void(std::string_view)> sink) {
  std::lock_guard lock(g_sink_mu);
  g_sink = std::move(sink);
}

bool LogEnabled(LogLevel level) {
  return static_cast<int>(level) >= g_level.load(std::memory_order_relaxed);
}

void Log(LogLevel level, std::string_view message, const Json& fields) {
  if (!LogEnabled(level)) return;
  std::string time = FormatTime(SystemClock::Instance().Now());
  std::string line;
  if (g_json) {
    Json j = fields.is_object() ? fields : Json::object();
    j["time"] = time;
    j["level"] = LevelName(level);
    j["msg"] = std::string(message);
    line = j.dump(-1, ' ', false, Json::error_handler_t::replace);
  } else {
    line = time + " " + LevelName(level) + " " + std::string(message);
    if (fields.is_object()) {
      for (const auto& [k, v] : fields.items()) {
        line += " " + k + "=" + (v.is_string() ? v.get<std::string>() : v.dump());
      }
    }
  }
  std::lock_guard lock(g_sink_mu);
  if (g_sink) {
    g_sink(line);
  } else {
    line.push_back('\n');
    std::fwrite(line.data(), 1, line.size(), stderr);
  }
}

}  // namespace trellis
