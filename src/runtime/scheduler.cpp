#include "runtime/scheduler.h"

#include "core/cron.h"
#include "core/log.h"
#include "runtime/new_instance.h"
#include "store/store_util.h"

namespace trellis {

Scheduler::Scheduler(Store& store, WorkflowCache& workflows, const ActivityRegistry& registry,
                     EngineServices services, SchedulerOptions options)
    : store_(store), workflows_(workflows), engine_(registry, std::move(services)), options_(options) {}

Scheduler::~Scheduler() {
  Stop();
}

void Scheduler::Start() {
  if (thread_.joinable()) return;
  stop_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void Scheduler::Stop() {
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (thread_.joinable()) thread_.join();
}

Store::ScheduleFiring Scheduler::Fire(const ScheduleRow& row, TimePoint now, const CompiledMap& compiled) {
  Store::ScheduleFiring firing;
  auto wf = compiled.find({row.workflow_id, row.version});
  if (wf == compiled.end()) {
    // Published after this pass listed the schedules: leave the row due for the next pass.
    firing.next_run_at = row.next_run_at;
    firing.last_run_at = row.last_run_at;
    return firing;
  }
  auto cron = CronSchedule::Parse(row.cron, row.timezone);
  if (!cron.ok()) {
    LogError("schedule has an invalid cron expression; disabled until republished",
             {{"schedule", row.id}, {"error", cron.status().message()}});
    firing.next_run_at = now + std::chrono::hours(24 * 365 * 100);
    return firing;
  }
  std::vector<TimePoint> ticks;
  std::optional<TimePoint> tick = row.next_run_at;
  if (row.misfire == "catch-up") {
    while (tick && *tick <= now && ticks.size() < options_.max_catch_up) {
      ticks.push_back(*tick);
      tick = cron->Next(*tick);
    }
    if (tick && *tick <= now) {
      LogWarn("schedule missed more ticks than schedules.max_catch_up; skipping the rest",
              {{"schedule", row.id}, {"maxCatchUp", options_.max_catch_up}});
      tick = cron->Next(now);
    }
  } else {
    ticks.push_back(row.next_run_at);  // once for everything missed
    tick = cron->Next(now);
  }
  firing.next_run_at = tick.value_or(now + std::chrono::hours(24 * 365 * 100));
  firing.last_run_at = ticks.back();

  if (!wf->second) return firing;  // could not be loaded: logged when the pass began
  for (TimePoint t : ticks) {
    StartOptions opts;
    opts.input = row.input.is_object() ? row.input : Json::object();
    auto state = engine_.Start(*wf->second, std::move(opts));
    if (!state.ok()) {
      LogError("scheduled workflow refused its input; tick skipped",
               {{"schedule", row.id}, {"error", state.status().message()}});
      continue;
    }
    NewInstance n = NewInstanceFrom(*state, *wf->second);
    n.created_at = now;
    n.start_key = "cron:" + row.id + ":" + std::to_string(ToMillis(t));
    firing.instances.push_back(std::move(n));
  }
  return firing;
}

Result<int64_t> Scheduler::FireDue(TimePoint now) {
  // `fire` runs inside the store's transaction and must not call the store: load the workflows of
  // the due schedules first.
  auto schedules = store_.ListSchedules();
  if (!schedules.ok()) return schedules.status();
  CompiledMap compiled;
  bool any_due = false;
  next_due_.reset();
  auto note_due = [this](TimePoint t) {
    if (!next_due_ || t < *next_due_) next_due_ = t;
  };
  for (const auto& row : *schedules) {
    if (row.next_run_at > now) {
      note_due(row.next_run_at);
      continue;
    }
    any_due = true;
    auto key = std::make_pair(row.workflow_id, row.version);
    if (compiled.count(key)) continue;
    auto wf = workflows_.Get(row.workflow_id, row.version);
    if (!wf.ok()) {
      LogError("scheduled workflow cannot be loaded; its ticks are skipped",
               {{"schedule", row.id}, {"error", wf.status().message()}});
      compiled[key] = nullptr;
    } else {
      compiled[key] = *wf;
    }
  }
  if (!any_due) return int64_t{0};
  auto created = store_.FireDueSchedules(now, options_.batch, [&](const ScheduleRow& row) {
    Store::ScheduleFiring firing = Fire(row, now, compiled);
    note_due(firing.next_run_at);
    return firing;
  });
  if (created.ok() && *created > 0 && on_fired_) on_fired_();
  return created;
}

void Scheduler::Loop() {
  auto backoff = std::chrono::milliseconds(100);
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    TimePoint now = engine_.services().clock->Now();
    auto fired = FireDue(now);
    auto wait = options_.poll_interval;
    if (!fired.ok()) {
      LogWarn("schedules could not be fired; retrying", {{"error", fired.status().message()}});
      wait = backoff;
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
    } else {
      backoff = std::chrono::milliseconds(100);
      // Sleep until the next due schedule (within the poll interval), so ticks fire on time.
      if (next_due_) {
        auto until = std::chrono::duration_cast<std::chrono::milliseconds>(*next_due_ -
                                                                           engine_.services().clock->Now());
        if (until < wait) wait = std::max(until, std::chrono::milliseconds(0));
      }
    }
    lock.lock();
    cv_.wait_for(lock, wait + std::chrono::milliseconds(1), [this] { return stop_; });
  }
}

}  // namespace trellis
