#include "engine/activity.h"

#include "core/duration.h"
#include "core/uuid.h"
#include "engine/compiled_workflow.h"
#include "engine/engine.h"
#include "observability/tracing.h"
#include "script/template.h"

namespace trellis {

ActivityContext::ActivityContext(Engine& engine, InstanceState& state, const CompiledActivity& activity,
                                 const Token& token, const Json& inputs, TimePoint now)
    : engine_(engine), state_(state), activity_(activity), token_(token), inputs_(inputs), now_(now) {}

const ActivityDefinition& ActivityContext::definition() const {
  return *activity_.def;
}
std::string ActivityContext::traceparent() const {
  return trace_ != nullptr ? FormatTraceparent(*trace_) : std::string();
}
const std::string& ActivityContext::activity_id() const {
  return activity_.def->id;
}
const EngineServices& ActivityContext::services() const {
  return engine_.services_;
}

const Json& ActivityContext::input(std::string_view name) const {
  static const Json kNull;
  auto it = inputs_.find(name);
  return it == inputs_.end() ? kNull : *it;
}

std::string ActivityContext::InputString(std::string_view name, std::string_view fallback) const {
  const Json& v = input(name);
  if (v.is_null()) return std::string(fallback);
  return v.is_string() ? v.get<std::string>() : v.dump();
}

Result<Json> ActivityContext::EvaluateExpression(const Json& raw) const {
  if (!raw.is_string()) return raw;
  Json merged, workflow;
  script::Scope sc = engine_.MakeScope(*activity_.workflow, state_, token_.scope, &merged, &workflow);
  auto& lua = script();
  const auto& text = raw.get_ref<const std::string&>();
  if (script::HasTemplate(text)) {
    if (!script::IsWholeTemplate(text)) {
      return InvalidArgument("a condition must be bare Lua or one whole {{ }} template, not '" + text + "'");
    }
    return script::EvaluateValue(Json(std::string(text)), lua, sc);
  }
  return lua.EvaluateExpression(text, sc);
}

Result<std::chrono::milliseconds> ActivityContext::InputDuration(std::string_view name) const {
  const Json& v = input(name);
  if (v.is_number_integer()) return std::chrono::milliseconds(v.get<int64_t>());
  if (v.is_string()) {
    auto d = ParseDuration(v.get<std::string>());
    if (!d.ok())
      return Status(d.status().code(), "input '" + std::string(name) + "': " + d.status().message());
    return d;
  }
  return InvalidArgument("input '" + std::string(name) + "' must be a duration such as 10s, not " +
                         JsonTypeName(v));
}

script::ScriptEngine& ActivityContext::script() const {
  auto& lua = script::ScriptEngine::ForThisThread();
  script::Limits limits = engine_.services_.script_limits;
  limits.time = std::min(limits.time, time_budget());
  lua.set_limits(limits);
  return lua;
}

script::Scope ActivityContext::scope() const {
  // The merged outputs and workflow objects must outlive the scope: keep them per thread.
  thread_local Json merged, workflow;
  return engine_.MakeScope(*activity_.workflow, state_, token_.scope, &merged, &workflow);
}

std::string ActivityContext::IdempotencyKey() const {
  // The token id tells loop iterations apart; it is persisted with the state, so a re-run after a
  // crash sends the same key.
  return state_.id + ":" + activity_.def->id + ":" + std::to_string(token_.id) + ":" +
         std::to_string(token_.attempt);
}

bool ActivityContext::HasConnection(std::string_view outcome) const {
  for (const auto& e : activity_.out) {
    if (e.outcome == outcome) return true;
  }
  return false;
}

std::chrono::milliseconds ActivityContext::time_budget() const {
  auto budget = engine_.services_.step_timeout;
  if (activity_.timeout) budget = std::min(budget, *activity_.timeout);
  return budget;
}

std::string ActivityContext::NewId() const {
  return NewUuidV7(now_);
}

void ActivityContext::SetVariable(const std::string& name, Json value) {
  state_.variables[name] = std::move(value);
}

void ActivityContext::SetWorkflowOutput(const std::string& name, Json value) {
  if (!state_.output.is_object()) state_.output = Json::object();
  state_.output[name] = std::move(value);
}

void ActivityContext::AddOutbox(std::string kind, Json payload) {
  state_.outbox.push_back({std::move(kind), std::move(payload)});
}

void ActivityContext::WriteLine(std::string_view text) const {
  if (engine_.services_.write_line) engine_.services_.write_line(text);
}

void ActivityContext::Log(std::string_view level, std::string_view message) const {
  if (engine_.services_.log) engine_.services_.log(level, message);
}

ActivityResult Activity::OnResume(ActivityContext& ctx, const Resume& resume) const {
  (void)ctx;
  return ActivityResult::Done(resume.payload);
}

}  // namespace trellis
