// Clock: the only source of "now" in the engine and runtime, injected so that tests control time
// (LevelDB's Env pattern). SystemClock is the real one; ManualClock is advanced by hand.
#pragma once

#include <atomic>
#include <chrono>
#include <string>

#include "core/status.h"

namespace trellis {

using TimePoint = std::chrono::system_clock::time_point;
using Millis = std::chrono::milliseconds;

class Clock {
 public:
  virtual ~Clock() = default;
  virtual TimePoint Now() const = 0;
};

class SystemClock final : public Clock {
 public:
  TimePoint Now() const override { return std::chrono::system_clock::now(); }
  static SystemClock& Instance();
};

class ManualClock final : public Clock {
 public:
  explicit ManualClock(TimePoint start) : now_(start.time_since_epoch().count()) {}
  TimePoint Now() const override { return TimePoint(TimePoint::duration(now_.load())); }
  void Advance(TimePoint::duration d) { now_ += d.count(); }
  void Set(TimePoint t) { now_ = t.time_since_epoch().count(); }

 private:
  std::atomic<TimePoint::duration::rep> now_;
};

// RFC 3339 in UTC with millisecond precision: 2026-11-22T10:00:00.123Z.
std::string FormatTime(TimePoint t);
// Parses RFC 3339 (Z or a numeric offset, optional fraction).
Result<TimePoint> ParseTime(std::string_view text);

}  // namespace trellis
