// The workflow interpreter. Pure: it reads time only from the injected clock and does I/O only
// through the injected services, and all it changes is the InstanceState it is handed. A host
// (the in-memory runner, or the durable runtime) decides when to run, persist and resume.
//
// Tokens flow along connections: each ready token runs one activity, whose outcomes put new tokens
// on the connections leaving it. Loops run their Iterate branch in an iteration scope; a scope ends
// when nothing is left running in it. See ARCHITECTURE.md for the full semantics.
#pragma once

#include <functional>
#include <limits>
#include <random>

#include "engine/activity.h"
#include "engine/compiled_workflow.h"
#include "engine/instance_state.h"
#include "observability/tracing.h"

namespace trellis {

struct StartOptions {
  Json input = Json::object();
  std::string instance_id;  // generated (UUIDv7) when empty
  std::string correlation_id;
  std::string parent_id;
  // The W3C traceparent of the caller's span (the HTTP request that starts the instance, or the
  // parent instance's burst); the instance's trace continues it. "" or invalid: a new trace.
  std::string traceparent;
};

enum class StepResult {
  kIdle,         // nothing was ready
  kStepped,      // one activity ran (pure)
  kCommitPoint,  // one activity with an external effect ran, or the instance suspended or ended
};

class Engine {
 public:
  Engine(const ActivityRegistry& registry, EngineServices services);

  // Checks the input against the declarations (applying defaults) and creates a Running instance
  // with its start tokens queued. Fails with InvalidArgument naming every bad input.
  Result<InstanceState> Start(const CompiledWorkflow& wf, StartOptions options);

  // Runs the next ready token.
  StepResult Step(const CompiledWorkflow& wf, InstanceState& s);
  // Steps until nothing is ready or the instance ends. `on_commit` runs after every commit point.
  void RunBurst(const CompiledWorkflow& wf, InstanceState& s, const std::function<void()>& on_commit = {},
                size_t max_steps = std::numeric_limits<size_t>::max());

  // Queues the token a bookmark holds, with the payload; run a burst to continue.
  Status ResumeBookmark(const CompiledWorkflow& wf, InstanceState& s, std::string_view bookmark_id,
                        ResumeReason reason, Json payload);
  // Fires every timer due at or before `now`: bookmarks' timers, retry backoffs, activity timeouts,
  // and the instance's maxExecutionTime.
  void FireDueTimers(const CompiledWorkflow& wf, InstanceState& s, TimePoint now);
  // The earliest time FireDueTimers would do something.
  static std::optional<TimePoint> NextDue(const InstanceState& s);

  static std::vector<std::string> MatchEvent(const InstanceState& s, std::string_view event,
                                             std::string_view correlation);
  static std::vector<std::string> MatchWebhook(const InstanceState& s, std::string_view path,
                                               std::string_view method);

  // Ends the instance as Cancelled; child instances are cancelled through the outbox.
  void Cancel(const CompiledWorkflow& wf, InstanceState& s, std::string_view reason);
  // Continues a Faulted instance from the activity that failed, variables as they were.
  Status Retry(const CompiledWorkflow& wf, InstanceState& s);

  const EngineServices& services() const { return services_; }
  const ActivityRegistry& registry() const { return registry_; }

 private:
  friend class ActivityContext;

  TimePoint Now() const { return services_.clock->Now(); }
  // Takes the current secrets from services_.secrets_source, if any (see EngineServices).
  void RefreshSecrets();
  StepResult StepGuarded(const CompiledWorkflow& wf, InstanceState& s);
  StepResult StepUnguarded(const CompiledWorkflow& wf, InstanceState& s);
  Span StartActivitySpan(const InstanceState& s, const CompiledActivity& a, const Token& t);
  void FireDueTimersUnguarded(const CompiledWorkflow& wf, InstanceState& s, TimePoint now);
  void Push(InstanceState& s, int activity, uint64_t scope, int via);
  int& Live(InstanceState& s, uint64_t scope);
  void Release(const CompiledWorkflow& wf, InstanceState& s, uint64_t scope);
  size_t Emit(InstanceState& s, const CompiledActivity& a, std::string_view outcome, uint64_t scope);
  void Journal(InstanceState& s, const CompiledActivity& a, const Token& t, std::string status,
               std::string outcome, TimePoint finished, Json output, std::string error);
  void RecordOutput(InstanceState& s, const CompiledActivity& a, uint64_t scope, const Json& output);
  void HandleFailure(const CompiledWorkflow& wf, InstanceState& s, const Token& t, const std::string& error,
                     bool retryable, const std::string& kind);
  void FaultInstance(InstanceState& s, const CompiledActivity* a, const Token* t, const std::string& kind,
                     const std::string& message);
  void EndInstance(InstanceState& s, InstanceStatus status);
  void UpdateStatus(InstanceState& s);

  // Control flow (control_flow.cpp).
  void RunControl(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a, const Token& t,
                  const Json& inputs);
  void StartLoop(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a, const Token& t,
                 const Json& inputs);
  void AdvanceLoop(const CompiledWorkflow& wf, InstanceState& s, uint64_t loop_id);
  void EndIteration(const CompiledWorkflow& wf, InstanceState& s, uint64_t iteration_id);
  void ArriveAtJoin(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& a, const Token& t,
                    const Json& inputs);
  void FireJoin(const CompiledWorkflow& wf, InstanceState& s, size_t join_index);
  void RecheckJoins(const CompiledWorkflow& wf, InstanceState& s, uint64_t scope);
  bool CanStillReach(const InstanceState& s, const CompiledActivity& join, uint64_t scope) const;
  void CancelReaching(const CompiledWorkflow& wf, InstanceState& s, const CompiledActivity& join,
                      uint64_t scope);
  void DropScope(InstanceState& s, uint64_t frame_id);
  void ClearWork(const CompiledWorkflow& wf, InstanceState& s, const std::string& why);

  Result<Json> EvaluateInputs(const CompiledWorkflow& wf, const CompiledActivity& a, InstanceState& s,
                              const Token& t);
  script::Scope MakeScope(const CompiledWorkflow& wf, const InstanceState& s, uint64_t scope,
                          Json* merged_outputs, Json* workflow) const;
  std::chrono::milliseconds Backoff(const RetryPolicy& p, int attempt);

  const ActivityRegistry& registry_;
  EngineServices services_;
  // The snapshot services_.secrets points into when secrets_source is set; kept alive here so
  // that a concurrent refresh elsewhere never frees what this engine is using.
  std::shared_ptr<const Json> secrets_held_;
  std::mt19937_64 rng_;
};

}  // namespace trellis
