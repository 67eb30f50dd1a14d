#include "runtime/local_runner.h"

#include <thread>

namespace trellis {

EngineServices LocalRunner::WithClock(EngineServices services, VirtualClock* clock, bool fast) {
  if (fast) services.clock = clock;
  return services;
}

LocalRunner::LocalRunner(const ActivityRegistry& registry, EngineServices services, WorkflowResolver resolver,
                         bool fast_timers)
    : virtual_clock_(services.clock),
      engine_(registry, WithClock(services, &virtual_clock_, fast_timers)),
      resolver_(std::move(resolver)),
      fast_timers_(fast_timers) {}

Result<std::string> LocalRunner::Start(std::shared_ptr<const CompiledWorkflow> wf, StartOptions options) {
  auto state = engine_.Start(*wf, std::move(options));
  if (!state.ok()) return state.status();
  std::string id = state->id;
  LocalInstance& inst = instances_[id];
  inst.workflow = std::move(wf);
  inst.state = std::move(state).value();
  runnable_.push_back(id);
  return id;
}

void LocalRunner::QueueEvent(PendingEvent event) {
  events_.push_back(std::move(event));
}

void LocalRunner::QueueWebhook(std::string path, std::string method, Json request) {
  while (!path.empty() && path.front() == '/') path.erase(0, 1);
  webhooks_.push_back({std::move(path), std::move(method), std::move(request)});
}

const LocalInstance* LocalRunner::Find(const std::string& id) const {
  auto it = instances_.find(id);
  return it == instances_.end() ? nullptr : &it->second;
}

void LocalRunner::Cancel(const std::string& id, std::string_view reason) {
  auto it = instances_.find(id);
  if (it == instances_.end()) return;
  engine_.Cancel(*it->second.workflow, it->second.state, reason);
  DrainOutbox(it->second);
  OnEnded(it->second);
}

void LocalRunner::Burst(LocalInstance& inst) {
  engine_.RunBurst(*inst.workflow, inst.state);
  DrainOutbox(inst);
  if (IsTerminal(inst.state.status)) OnEnded(inst);
}

void LocalRunner::DrainOutbox(LocalInstance& inst) {
  for (auto& r : inst.state.journal) inst.journal.push_back(std::move(r));
  inst.state.journal.clear();
  std::vector<OutboxItem> items = std::move(inst.state.outbox);
  inst.state.outbox.clear();
  std::string parent_id = inst.state.id;
  for (auto& item : items) {
    const Json& p = item.payload;
    if (item.kind == "startChild") {
      std::string child_id = p.value("instanceId", "");
      bool wait = p.value("wait", true);
      std::optional<int> version;
      if (p.contains("version") && p["version"].is_number_integer()) version = p["version"].get<int>();
      Result<std::string> started = Status(StatusCode::kNotFound, "no workflow resolver is configured");
      if (resolver_) {
        auto wf = resolver_(p.value("workflow", ""), version);
        if (wf.ok()) {
          StartOptions opts;
          opts.input = p.value("input", Json::object());
          opts.instance_id = child_id;
          opts.parent_id = parent_id;
          opts.correlation_id = p.value("correlationId", "");
          started = Start(*wf, std::move(opts));
        } else {
          started = wf.status();
        }
      }
      if (wait) {
        if (started.ok()) {
          child_waiters_[child_id] = {parent_id, p.value("bookmarkId", "")};
        } else {
          LocalInstance& parent = instances_.at(parent_id);
          (void)engine_.ResumeBookmark(
              *parent.workflow, parent.state, p.value("bookmarkId", ""), ResumeReason::kChild,
              {{"status", "Faulted"}, {"instanceId", child_id}, {"error", started.status().message()}});
          runnable_.push_back(parent_id);
        }
      }
    } else if (item.kind == "cancelChild") {
      std::string child = p.value("instanceId", "");
      child_waiters_.erase(child);
      Cancel(child, "parent " + parent_id + " cancelled it");
    } else if (item.kind == "publishEvent") {
      Publish(p.value("event", ""), p.value("correlation", ""), p.value("payload", Json()));
    } else if (item.kind == "httpResponse") {
      instances_.at(parent_id).http_responses.push_back(p);
    }
  }
}

void LocalRunner::OnEnded(LocalInstance& inst) {
  auto it = child_waiters_.find(inst.state.id);
  if (it == child_waiters_.end()) return;
  Waiter w = it->second;
  child_waiters_.erase(it);
  auto parent = instances_.find(w.parent);
  if (parent == instances_.end()) return;
  Json payload = {{"status", InstanceStatusName(inst.state.status)},
                  {"instanceId", inst.state.id},
                  {"output", inst.state.output}};
  if (!inst.state.fault_message.empty()) payload["error"] = inst.state.fault_message;
  if (engine_
          .ResumeBookmark(*parent->second.workflow, parent->second.state, w.bookmark, ResumeReason::kChild,
                          std::move(payload))
          .ok()) {
    runnable_.push_back(w.parent);
  }
}

void LocalRunner::Publish(const std::string& event, const std::string& correlation, const Json& payload) {
  bool delivered = false;
  for (auto& [id, inst] : instances_) {
    if (IsTerminal(inst.state.status)) continue;
    for (const auto& b : Engine::MatchEvent(inst.state, event, correlation)) {
      if (engine_.ResumeBookmark(*inst.workflow, inst.state, b, ResumeReason::kEvent, payload).ok()) {
        runnable_.push_back(id);
        delivered = true;
      }
    }
  }
  // Nobody waits yet (e.g. a child started in the same step has not suspended): keep it for the
  // first matching bookmark, like an event from the command line.
  if (!delivered) events_.push_back({event, correlation, payload});
}

bool LocalRunner::DeliverOne() {
  for (size_t i = 0; i < events_.size(); ++i) {
    const PendingEvent& e = events_[i];
    for (auto& [id, inst] : instances_) {
      if (IsTerminal(inst.state.status)) continue;  // a Faulted instance keeps bookmarks for Retry
      for (const auto& b : inst.state.bookmarks) {
        bool match = b.kind == BookmarkKind::kEvent && b.event == e.name &&
                     (e.correlation.empty() || b.correlation.empty() || b.correlation == e.correlation);
        if (!match) continue;
        std::string bid = b.id;
        if (!engine_.ResumeBookmark(*inst.workflow, inst.state, bid, ResumeReason::kEvent, e.payload).ok())
          continue;
        events_.erase(events_.begin() + static_cast<std::ptrdiff_t>(i));
        runnable_.push_back(id);
        return true;
      }
    }
  }
  for (size_t i = 0; i < webhooks_.size(); ++i) {
    for (auto& [id, inst] : instances_) {
      if (IsTerminal(inst.state.status)) continue;
      auto matches = Engine::MatchWebhook(inst.state, webhooks_[i].path, webhooks_[i].method);
      if (matches.empty()) continue;
      if (!engine_
               .ResumeBookmark(*inst.workflow, inst.state, matches.front(), ResumeReason::kWebhook,
                               webhooks_[i].request)
               .ok()) {
        continue;
      }
      webhooks_.erase(webhooks_.begin() + static_cast<std::ptrdiff_t>(i));
      runnable_.push_back(id);
      return true;
    }
  }
  return false;
}

bool LocalRunner::FireNextTimer(std::optional<TimePoint> deadline) {
  std::optional<TimePoint> next;
  LocalInstance* target = nullptr;
  for (auto& [id, inst] : instances_) {
    auto due = Engine::NextDue(inst.state);
    if (due && (!next || *due < *next)) {
      next = due;
      target = &inst;
    }
  }
  if (!next) return false;
  if (fast_timers_) {
    virtual_clock_.AdvanceTo(*next);
  } else {
    if (deadline && *next > *deadline) return false;
    auto now = engine_.services().clock->Now();
    if (*next > now) std::this_thread::sleep_until(*next);
  }
  engine_.FireDueTimers(*target->workflow, target->state, *next);
  DrainOutbox(*target);
  if (IsTerminal(target->state.status)) OnEnded(*target);
  runnable_.push_back(target->state.id);
  return true;
}

void LocalRunner::Run(std::optional<TimePoint> deadline) {
  while (true) {
    while (!runnable_.empty()) {
      std::string id = std::move(runnable_.front());
      runnable_.pop_front();
      auto it = instances_.find(id);
      if (it == instances_.end() || IsTerminal(it->second.state.status)) continue;
      Burst(it->second);
    }
    if (DeliverOne()) continue;
    if (deadline && engine_.services().clock->Now() >= *deadline) return;
    if (!FireNextTimer(deadline)) return;
  }
}

}  // namespace trellis
