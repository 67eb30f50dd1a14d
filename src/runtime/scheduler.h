// Cron schedules, exactly once per tick across any number of nodes: the store hands each due
// schedule to one node (SKIP LOCKED), which creates the tick's instance and advances next_run_at in
// the same transaction; the instance's start key ("cron:<schedule>:<tick>") makes a duplicate
// impossible even if two nodes raced. Misfires (ticks missed while no node ran): `skip` fires once
// for the missed ticks, `catch-up` fires one instance per missed tick, up to max_catch_up.
#pragma once

#include <atomic>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "engine/engine.h"
#include "runtime/workflow_cache.h"
#include "store/store.h"

namespace trellis {

struct SchedulerOptions {
  std::chrono::milliseconds poll_interval{1000};  // longest sleep; it wakes for the next due schedule
  size_t max_catch_up = 100;
  size_t batch = 100;
};

class Scheduler {
 public:
  Scheduler(Store& store, WorkflowCache& workflows, const ActivityRegistry& registry, EngineServices services,
            SchedulerOptions options);
  ~Scheduler();

  void Start();
  void Stop();
  // One pass: fires what is due at `now`. Returns the instances created.
  Result<int64_t> FireDue(TimePoint now);

  // Called after instances were created (to wake local workers).
  void OnFired(std::function<void()> f) { on_fired_ = std::move(f); }

 private:
  void Loop();
  using CompiledMap = std::map<std::pair<std::string, int>, std::shared_ptr<const CompiledWorkflow>>;
  Store::ScheduleFiring Fire(const ScheduleRow& row, TimePoint now, const CompiledMap& compiled);

  Store& store_;
  WorkflowCache& workflows_;
  Engine engine_;  // used only on the scheduler thread (or by FireDue's caller)
  SchedulerOptions options_;
  std::function<void()> on_fired_;
  std::optional<TimePoint> next_due_;  // the earliest next_run_at the last FireDue saw
  std::mutex mu_;                      // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread thread_;
};

}  // namespace trellis
