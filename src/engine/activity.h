// The contract between the engine and an activity type. An activity reads its evaluated inputs
// from an ActivityContext and returns what happened: outcomes with an output, a failure, or a
// suspension on a bookmark. Activities never touch the clock, the network or the store directly:
// the engine's services (clock, HTTP client, output sinks) are injected through the context.
#pragma once

#include <atomic>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "engine/instance_state.h"
#include "model/activity_descriptor.h"
#include "model/definition.h"
#include "script/script_engine.h"

namespace trellis {

class HttpClient;  // activities/http_client.h
class Tracer;      // observability/tracing.h
struct TraceContext;

// What the engine is given from outside: every source of time, I/O and side output.
struct EngineServices {
  const Clock* clock = &SystemClock::Instance();
  HttpClient* http = nullptr;
  std::function<void(std::string_view text)> write_line;  // WriteLine's sink (stdout for `trellis run`)
  std::function<void(std::string_view level, std::string_view message)> log;
  const Json* secrets = nullptr;  // name -> value; values are redacted from journals
  // Secrets that change while the process runs (runtime/secrets.h). When set it replaces
  // `secrets`: at the start of every Step, RunBurst, FireDueTimers and Cancel the engine
  // passes the snapshot it holds, the source replaces it when the secrets changed (and must be
  // cheap when they did not), and the engine keeps it alive while it uses it. Called on the
  // engine's thread; a source shared by several engines must be thread-safe.
  std::function<void(std::shared_ptr<const Json>& held)> secrets_source;
  script::Limits script_limits;
  std::chrono::milliseconds step_timeout{std::chrono::minutes(5)};
  const std::atomic<bool>* cancel = nullptr;  // aborts in-flight I/O when set
  uint64_t random_seed = 0;                   // retry jitter; 0 means seeded from the OS
  Tracer* tracer = nullptr;                   // spans per activity execution; null: tracing off
};

struct ActivityResult {
  enum class Kind { kOutcomes, kFailed, kSuspend };
  Kind kind = Kind::kOutcomes;
  std::vector<std::string> outcomes;
  Json output;
  std::string error;
  bool retryable = true;
  Bookmark bookmark;  // kSuspend: kind, due_at, event/correlation, path/method, child_id, data

  static ActivityResult Done(Json output = nullptr) { return Outcome("Done", std::move(output)); }
  static ActivityResult Outcome(std::string outcome, Json output = nullptr) {
    ActivityResult r;
    r.outcomes.push_back(std::move(outcome));
    r.output = std::move(output);
    return r;
  }
  static ActivityResult Fail(std::string error, bool retryable = true) {
    ActivityResult r;
    r.kind = Kind::kFailed;
    r.error = std::move(error);
    r.retryable = retryable;
    return r;
  }
  static ActivityResult Suspend(Bookmark b) {
    ActivityResult r;
    r.kind = Kind::kSuspend;
    r.bookmark = std::move(b);
    return r;
  }
};

class Engine;
struct CompiledActivity;

// An activity's view of the running instance during one execution.
class ActivityContext {
 public:
  ActivityContext(Engine& engine, InstanceState& state, const CompiledActivity& activity, const Token& token,
                  const Json& inputs, TimePoint now);

  const ActivityDefinition& definition() const;
  const std::string& activity_id() const;
  const std::string& instance_id() const { return state_.id; }
  const InstanceState& state() const { return state_; }
  int attempt() const { return token_.attempt; }
  TimePoint now() const { return now_; }
  const EngineServices& services() const;

  // Evaluated inputs; a missing input reads as its descriptor default (or null).
  const Json& inputs() const { return inputs_; }
  const Json& input(std::string_view name) const;
  std::string InputString(std::string_view name, std::string_view fallback = "") const;
  // Evaluates an `expression` input: a boolean or number as is, a `{{ }}` template, or bare Lua.
  Result<Json> EvaluateExpression(const Json& raw) const;
  // A duration input: "10s", "PT5M", or a number of milliseconds.
  Result<std::chrono::milliseconds> InputDuration(std::string_view name) const;

  script::ScriptEngine& script() const;
  script::Scope scope() const;

  // "<instance>:<activity>:<token>:<attempt>", stable across re-runs of the same attempt and
  // distinct for each loop iteration.
  std::string IdempotencyKey() const;
  bool HasConnection(std::string_view outcome) const;
  // How long a synchronous activity may take: the smaller of its `timeout` and the step timeout.
  std::chrono::milliseconds time_budget() const;
  std::string NewId() const;

  void SetVariable(const std::string& name, Json value);
  void SetWorkflowOutput(const std::string& name, Json value);
  void AddOutbox(std::string kind, Json payload);
  void WriteLine(std::string_view text) const;
  void Log(std::string_view level, std::string_view message) const;

  // The W3C traceparent of this execution's span, for outgoing requests; "" when tracing is off.
  std::string traceparent() const;
  void set_trace(const TraceContext* trace) { trace_ = trace; }

 private:
  Engine& engine_;
  InstanceState& state_;
  const CompiledActivity& activity_;
  const Token& token_;
  const Json& inputs_;
  TimePoint now_;
  const TraceContext* trace_ = nullptr;
};

class Activity {
 public:
  virtual ~Activity() = default;
  virtual const ActivityDescriptor& descriptor() const = 0;
  virtual ActivityResult Execute(ActivityContext& ctx) const = 0;
  // Continues after a bookmark this activity created fires. By default: Done with the payload.
  virtual ActivityResult OnResume(ActivityContext& ctx, const Resume& resume) const;
};

}  // namespace trellis
