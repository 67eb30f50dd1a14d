// LocalRunner: runs workflow instances to completion in memory, in one thread. It is the host
// behind `trellis run` and the engine tests: it drains the engine's outbox (child workflows,
// published events, cancellations), delivers events and webhooks to bookmarks, and fires timers —
// at their real due time, or at once in due order with fast timers (virtual time).
#pragma once

#include <deque>
#include <functional>
#include <map>
#include <memory>

#include "engine/engine.h"

namespace trellis {

// Finds a definition by id (and version, when given) for RunWorkflow.
using WorkflowResolver = std::function<Result<std::shared_ptr<const CompiledWorkflow>>(
    const std::string& id, std::optional<int> version)>;

struct PendingEvent {
  std::string name;
  std::string correlation;  // empty: any bookmark of that name
  Json payload;
};

struct LocalInstance {
  std::shared_ptr<const CompiledWorkflow> workflow;
  InstanceState state;
  std::vector<JournalRecord> journal;
  std::vector<Json> http_responses;
};

class LocalRunner {
 public:
  LocalRunner(const ActivityRegistry& registry, EngineServices services, WorkflowResolver resolver = {},
              bool fast_timers = false);

  Result<std::string> Start(std::shared_ptr<const CompiledWorkflow> wf, StartOptions options);
  // Queues an event; it is delivered once a matching bookmark exists (see Run).
  void QueueEvent(PendingEvent event);
  void QueueWebhook(std::string path, std::string method, Json request);
  // Runs until nothing can progress: ready work first, then queued events and webhooks that match
  // a bookmark, then timers. Stops early when `deadline` passes (real time).
  void Run(std::optional<TimePoint> deadline = std::nullopt);

  const LocalInstance* Find(const std::string& id) const;
  const std::vector<PendingEvent>& undelivered_events() const { return events_; }
  Engine& engine() { return engine_; }
  void Cancel(const std::string& id, std::string_view reason);

 private:
  void Burst(LocalInstance& inst);
  void DrainOutbox(LocalInstance& inst);
  void OnEnded(LocalInstance& inst);
  bool DeliverOne();
  bool FireNextTimer(std::optional<TimePoint> deadline);
  void Publish(const std::string& event, const std::string& correlation, const Json& payload);

  // With fast timers the engine reads this clock, which jumps to each timer's due time (virtual
  // time), so timers created after one fired are measured from when it fired.
  class VirtualClock final : public Clock {
   public:
    explicit VirtualClock(const Clock* base) : base_(base) {}
    TimePoint Now() const override { return base_->Now() + offset_; }
    void AdvanceTo(TimePoint t) {
      TimePoint now = Now();
      if (t > now) offset_ += t - now;
    }

   private:
    const Clock* base_;
    TimePoint::duration offset_{0};
  };
  static EngineServices WithClock(EngineServices services, VirtualClock* clock, bool fast);

  VirtualClock virtual_clock_;
  Engine engine_;
  WorkflowResolver resolver_;
  bool fast_timers_;
  std::map<std::string, LocalInstance> instances_;
  std::deque<std::string> runnable_;
  std::vector<PendingEvent> events_;
  struct Webhook {
    std::string path, method;
    Json request;
  };
  std::vector<Webhook> webhooks_;
  struct Waiter {
    std::string parent, bookmark;
  };
  std::map<std::string, Waiter> child_waiters_;  // child id -> parent bookmark
};

}  // namespace trellis
