#include "engine/engine.h"

#include <algorithm>
#include <cmath>

#include "core/duration.h"
#include "core/uuid.h"
#include "engine/redaction.h"
#include "observability/tracing.h"
#include "script/template.h"

namespace trellis {

Engine::Engine(const ActivityRegistry& registry, EngineServices services)
    : registry_(registry), services_(std::move(services)) {
  rng_.seed(services_.random_seed != 0 ? services_.random_seed : std::random_device{}());
}

Result<InstanceState> Engine::Start(const CompiledWorkflow& wf, StartOptions options) {
  const auto& def = wf.definition();
  if (!options.input.is_object()) {
    return InvalidArgument(std::string("workflow input must be an object, not ") +
                           JsonTypeName(options.input));
  }
  std::string problems;
  for (const auto& decl : def.inputs) {
    auto it = options.input.find(decl.name);
    if (it == options.input.end() || it->is_null()) {
      if (decl.default_value) {
        options.input[decl.name] = *decl.default_value;
      } else if (decl.required) {
        problems += (problems.empty() ? "" : "; ") + std::string("input.") + decl.name + " is required";
      }
    } else if (!JsonMatchesType(*it, decl.type)) {
      problems += (problems.empty() ? "" : "; ") + std::string("input.") + decl.name + " must be " +
                  decl.type + ", not " + JsonTypeName(*it);
    }
  }
  if (!problems.empty()) return InvalidArgument(problems);

  InstanceState s;
  TimePoint now = Now();
  s.id = options.instance_id.empty() ? NewUuidV7(now) : options.instance_id;
  s.workflow_id = def.id;
  s.version = def.version;
  s.status = InstanceStatus::kRunning;
  s.input = std::move(options.input);
  s.variables = def.variables;
  s.correlation_id = std::move(options.correlation_id);
  s.parent_id = std::move(options.parent_id);
  // The start span roots the instance's trace (under the caller's span when there is one); its
  // traceparent is stored so that every later burst joins the same trace.
  TraceContext caller = ParseTraceparent(options.traceparent).value_or(TraceContext{});
  if (services_.tracer != nullptr) {
    Span span = services_.tracer->StartSpan("start", SpanKind::kInternal, caller);
    if (span.recording()) {
      span.SetName("start " + s.workflow_id);
      span.SetAttribute("trellis.instance.id", s.id);
      span.SetAttribute("trellis.workflow.id", s.workflow_id);
      span.SetAttribute("trellis.workflow.version", s.version);
    }
    s.traceparent = span.traceparent();
  } else {
    s.traceparent = FormatTraceparent(caller);
  }
  s.created_at = s.updated_at = now;
  if (def.options.max_execution_time) s.deadline = now + *def.options.max_execution_time;
  for (int a : wf.start()) Push(s, a, 0, -1);
  UpdateStatus(s);
  return s;
}

void Engine::Push(InstanceState& s, int activity, uint64_t scope, int via) {
  Token t;
  t.id = s.next_token_id++;
  t.activity = activity;
  t.scope = scope;
  t.via = via;
  s.ready.push_back(std::move(t));
  ++Live(s, scope);
}

int& Engine::Live(InstanceState& s, uint64_t scope) {
  if (scope == 0) return s.root_live;
  return s.frames.at(scope).live;
}

void Engine::Release(const CompiledWorkflow& wf, InstanceState& s, uint64_t scope) {
  int& live = Live(s, scope);
  --live;
  if (live <= 0 && scope != 0) EndIteration(wf, s, scope);
}

size_t Engine::Emit(InstanceState& s, const CompiledActivity& a, std::string_view outcome, uint64_t scope) {
  size_t n = 0;
  for (const auto& e : a.out) {
    if (e.outcome == outcome) {
      Push(s, e.to, scope, e.connection);
      ++n;
    }
  }
  return n;
}

void Engine::Journal(InstanceState& s, const CompiledActivity& a, const Token& t, std::string status,
                     std::string outcome, TimePoint finished, Json output, std::string error) {
  JournalRecord r;
  r.sequence = ++s.journal_sequence;
  r.activity_id = a.def->id;
  r.activity_type = a.def->type;
  r.attempt = t.attempt;
  r.status = std::move(status);
  r.outcome = std::move(outcome);
  r.started_at = t.started_at.value_or(finished);
  r.finished_at = finished;
  r.output = std::move(output);
  r.error = std::move(error);
  if (services_.secrets != nullptr && !services_.secrets->empty()) {
    RedactSecrets(r.output, *services_.secrets);
    RedactSecrets(r.error, *services_.secrets);
  }
  s.journal.push_back(std::move(r));
}

void Engine::RecordOutput(InstanceState& s, const CompiledActivity& a, uint64_t scope, const Json& output) {
  if (output.is_null() && !s.outputs.contains(a.def->id)) return;
  s.outputs[a.def->id] = output;
  // Every enclosing iteration remembers it, so an outer iteration still reads its own value after
  // an inner loop's iteration frame is gone.
  for (uint64_t f = scope; f != 0;) {
    Frame& fr = s.frames.at(f);
    if (fr.kind == Frame::Kind::kIteration) fr.outputs[a.def->id] = output;
    f = fr.parent;
  }
}

script::Scope Engine::MakeScope(const CompiledWorkflow& wf, const InstanceState& s, uint64_t scope,
                                Json* merged_outputs, Json* workflow) const {
  *workflow = Json{{"id", s.workflow_id},
                   {"version", s.version},
                   {"instanceId", s.id},
                   {"correlationId", s.correlation_id},
                   {"parentId", s.parent_id}};
  script::Scope sc;
  sc.input = &s.input;
  sc.vars = &s.variables;
  sc.outputs = &s.outputs;
  sc.workflow = workflow;
  sc.secrets = services_.secrets;
  sc.now = Now();
  // Loop variables and iteration-local outputs, innermost frame last.
  std::vector<const Frame*> chain;
  for (uint64_t f = scope; f != 0;) {
    const Frame& fr = s.frames.at(f);
    if (fr.kind == Frame::Kind::kIteration) chain.push_back(&fr);
    f = fr.parent;
  }
  for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
    sc.locals.emplace_back((*it)->var_name, &(*it)->item);
    sc.locals.emplace_back("index", &(*it)->index);
  }
  if (!chain.empty()) {
    // Inside an iteration, the outputs of loop-body activities are this iteration's own: another
    // (parallel or earlier) iteration's value is hidden, and what this one produced is laid over.
    *merged_outputs = s.outputs;
    for (const Frame* fr : chain) {
      const auto& body = wf.activity(fr->owner).loop_body;
      for (int i : body) merged_outputs->erase(wf.activity(i).def->id);
    }
    for (auto it = chain.rbegin(); it != chain.rend(); ++it) {
      for (const auto& [k, v] : (*it)->outputs.items()) (*merged_outputs)[k] = v;
    }
    sc.outputs = merged_outputs;
  }
  return sc;
}

Result<Json> Engine::EvaluateInputs(const CompiledWorkflow& wf, const CompiledActivity& a, InstanceState& s,
                                    const Token& t) {
  Json merged, workflow;
  script::Scope scope = MakeScope(wf, s, t.scope, &merged, &workflow);
  auto& engine = script::ScriptEngine::ForThisThread();
  engine.set_limits(services_.script_limits);
  Json out = Json::object();
  for (const auto& [k, v] : a.inputs.items()) {
    if (std::find(a.raw_inputs.begin(), a.raw_inputs.end(), k) != a.raw_inputs.end()) {
      out[k] = v;
      continue;
    }
    auto r = script::EvaluateValue(v, engine, scope);
    if (!r.ok()) return Status(r.status().code(), "input '" + k + "': " + r.status().message());
    out[k] = std::move(r).value();
  }
  return out;
}

void Engine::RefreshSecrets() {
  if (!services_.secrets_source) return;
  services_.secrets_source(secrets_held_);
  services_.secrets = secrets_held_.get();
}

StepResult Engine::Step(const CompiledWorkflow& wf, InstanceState& s) {
  RefreshSecrets();
  return StepGuarded(wf, s);
}

StepResult Engine::StepGuarded(const CompiledWorkflow& wf, InstanceState& s) {
  if (IsTerminal(s.status) || s.ready_count() == 0) return StepResult::kIdle;
  // Activities' own exceptions are caught where they run; anything reaching here means the state
  // itself is inconsistent (e.g. a corrupted stored state). Fault the instance, never the host.
  try {
    return StepUnguarded(wf, s);
  } catch (const std::exception& e) {
    FaultInstance(s, nullptr, nullptr, "InternalError",
                  std::string("the instance state is inconsistent: ") + e.what());
    return StepResult::kCommitPoint;
  }
}

StepResult Engine::StepUnguarded(const CompiledWorkflow& wf, InstanceState& s) {
  TimePoint now = Now();
  if (s.deadline && now >= *s.deadline) {
    FaultInstance(s, nullptr, nullptr, "MaxExecutionTime",
                  "the workflow exceeded its maxExecutionTime of " +
                      FormatDuration(*wf.definition().options.max_execution_time));
    return StepResult::kCommitPoint;
  }
  Token t = std::move(s.ready[s.ready_head]);
  ++s.ready_head;
  if (s.ready_head > 64 && s.ready_head * 2 > s.ready.size()) {
    s.ready.erase(s.ready.begin(), s.ready.begin() + static_cast<std::ptrdiff_t>(s.ready_head));
    s.ready_head = 0;
  }
  const CompiledActivity& a = wf.activity(t.activity);
  if (!t.started_at) t.started_at = now;

  Json evaluated;
  const Json* inputs = &a.inputs;
  if (a.templated) {
    auto r = EvaluateInputs(wf, a, s, t);
    if (!r.ok()) {
      HandleFailure(wf, s, t, r.status().message(), false, "ActivityFaulted");
      UpdateStatus(s);
      return StepResult::kStepped;
    }
    evaluated = std::move(r).value();
    inputs = &evaluated;
  }

  if (a.impl == nullptr) {
    RunControl(wf, s, a, t, *inputs);
    UpdateStatus(s);
    return IsTerminal(s.status) ? StepResult::kCommitPoint : StepResult::kStepped;
  }

  // A span per activity execution (control flow has none), a child of the host's burst span.
  Span span;
  if (services_.tracer != nullptr) span = StartActivitySpan(s, a, t);
  ActivityContext ctx(*this, s, a, t, *inputs, now);
  ctx.set_trace(&span.context());
  ActivityResult result;
  try {
    result = t.resume ? a.impl->OnResume(ctx, *t.resume) : a.impl->Execute(ctx);
  } catch (const std::exception& e) {
    result = ActivityResult::Fail(std::string("internal error in ") + a.def->type + ": " + e.what());
  }
  TimePoint finished = a.timed ? Now() : now;
  if (result.kind != ActivityResult::Kind::kSuspend && finished - now > ctx.time_budget()) {
    result = ActivityResult::Fail("activity '" + a.def->id + "' exceeded its timeout of " +
                                  FormatDuration(ctx.time_budget()));
  }
  StepResult step = a.external ? StepResult::kCommitPoint : StepResult::kStepped;
  switch (result.kind) {
    case ActivityResult::Kind::kOutcomes: {
      RecordOutput(s, a, t.scope, result.output);
      std::string outcome;
      for (const auto& o : result.outcomes) outcome += (outcome.empty() ? "" : ",") + o;
      Journal(s, a, t, "Completed", std::move(outcome), finished, std::move(result.output), "");
      for (const auto& o : result.outcomes) Emit(s, a, o, t.scope);
      // A branch that ended, or turned away from a pending join, may let that join fire.
      if (!s.joins.empty()) RecheckJoins(wf, s, t.scope);
      Release(wf, s, t.scope);
      break;
    }
    case ActivityResult::Kind::kFailed:
      HandleFailure(wf, s, t, result.error, result.retryable, "ActivityFaulted");
      break;
    case ActivityResult::Kind::kSuspend: {
      Bookmark b = std::move(result.bookmark);
      if (b.id.empty()) b.id = NewUuidV7(now);
      b.activity_id = a.def->id;
      b.created_at = now;
      if (a.timeout) b.deadline = *t.started_at + *a.timeout;
      b.token = std::move(t);
      b.token.resume.reset();
      s.bookmarks.push_back(std::move(b));
      step = StepResult::kCommitPoint;
      break;
    }
  }
  if (span.recording()) {
    span.SetAttribute("trellis.activity.status", result.kind == ActivityResult::Kind::kOutcomes ? "Completed"
                                                 : result.kind == ActivityResult::Kind::kFailed
                                                     ? "Faulted"
                                                     : "Suspended");
    // The journal record HandleFailure just wrote has the error with secrets redacted.
    if (result.kind == ActivityResult::Kind::kFailed)
      span.SetError(!s.journal.empty() ? std::string_view(s.journal.back().error)
                                       : std::string_view("failed"));
    span.End();
  }
  UpdateStatus(s);
  if (IsTerminal(s.status) || s.status == InstanceStatus::kSuspended) step = StepResult::kCommitPoint;
  return step;
}

Span Engine::StartActivitySpan(const InstanceState& s, const CompiledActivity& a, const Token& t) {
  TraceContext parent = s.trace;
  if (!parent.valid()) parent = ParseTraceparent(s.traceparent).value_or(TraceContext{});
  Span span = services_.tracer->StartSpan("activity", SpanKind::kInternal, parent);
  if (span.recording()) {
    span.SetName("activity " + a.def->type);
    span.SetAttribute("trellis.instance.id", s.id);
    span.SetAttribute("trellis.activity.id", a.def->id);
    span.SetAttribute("trellis.activity.type", a.def->type);
    span.SetAttribute("trellis.activity.attempt", t.attempt);
  }
  return span;
}

void Engine::RunBurst(const CompiledWorkflow& wf, InstanceState& s, const std::function<void()>& on_commit,
                      size_t max_steps) {
  RefreshSecrets();  // one snapshot for the whole burst
  for (size_t i = 0; i < max_steps; ++i) {
    StepResult r = StepGuarded(wf, s);
    if (r == StepResult::kIdle) break;
    if (r == StepResult::kCommitPoint && on_commit) on_commit();
  }
  s.updated_at = Now();
}

std::chrono::milliseconds Engine::Backoff(const RetryPolicy& p, int attempt) {
  double base = static_cast<double>(p.initial.count());
  if (p.backoff == RetryPolicy::Backoff::kExponential) base *= std::pow(2.0, attempt - 1);
  base = std::min(base, static_cast<double>(p.max.count()));
  if (p.jitter > 0) {
    std::uniform_real_distribution<double> dist(-p.jitter, p.jitter);
    base *= 1.0 + dist(rng_);
  }
  return std::chrono::milliseconds(static_cast<int64_t>(std::max(0.0, base)));
}

void Engine::HandleFailure(const CompiledWorkflow& wf, InstanceState& s, const Token& t,
                           const std::string& error, bool retryable, const std::string& kind) {
  const CompiledActivity& a = wf.activity(t.activity);
  TimePoint now = Now();
  Journal(s, a, t, "Faulted", "", now, nullptr, error);
  if (retryable && a.def->retry && t.attempt < a.def->retry->max_attempts) {
    Bookmark b;
    b.id = NewUuidV7(now);
    b.kind = BookmarkKind::kRetry;
    b.activity_id = a.def->id;
    b.created_at = now;
    b.due_at = now + Backoff(*a.def->retry, t.attempt);
    b.token = t;
    b.token.attempt = t.attempt + 1;
    b.token.started_at.reset();
    b.token.resume.reset();
    b.data = {{"error", error}};
    s.bookmarks.push_back(std::move(b));
    return;
  }
  if (a.has_error_edge) {
    Json output = {{"error", error}, {"attempt", t.attempt}};
    RecordOutput(s, a, t.scope, output);
    Emit(s, a, "Error", t.scope);
    if (!s.joins.empty()) RecheckJoins(wf, s, t.scope);
    Release(wf, s, t.scope);
    return;
  }
  FaultInstance(s, &a, &t, kind, error);
}

void Engine::FaultInstance(InstanceState& s, const CompiledActivity* a, const Token* t,
                           const std::string& kind, const std::string& message) {
  Incident inc;
  inc.kind = kind;
  inc.message = message;
  inc.at = Now();
  if (a != nullptr) {
    inc.activity_id = a->def->id;
    inc.activity_type = a->def->type;
  }
  if (t != nullptr) {
    inc.attempt = t->attempt;
    Token retry = *t;
    retry.attempt = t->attempt + 1;
    retry.started_at.reset();
    s.faulted_token = std::move(retry);
  }
  if (services_.secrets != nullptr && !services_.secrets->empty())
    RedactSecrets(inc.message, *services_.secrets);
  s.fault_message = inc.message;
  s.incidents.push_back(std::move(inc));
  EndInstance(s, InstanceStatus::kFaulted);
}

void Engine::EndInstance(InstanceState& s, InstanceStatus status) {
  s.status = status;
  s.finished_at = Now();
  s.updated_at = *s.finished_at;
}

void Engine::ClearWork(const CompiledWorkflow& wf, InstanceState& s, const std::string& why) {
  TimePoint now = Now();
  for (const auto& b : s.bookmarks) {
    if (b.kind == BookmarkKind::kChild && !b.child_id.empty()) {
      s.outbox.push_back({"cancelChild", {{"instanceId", b.child_id}}});
    }
    // A suspended activity had started: its attempt ends here, and the journal says so.
    Journal(s, wf.activity(b.token.activity), b.token, "Cancelled", "", now, nullptr, why);
  }
  s.ready.clear();
  s.ready_head = 0;
  s.bookmarks.clear();
  s.frames.clear();
  s.joins.clear();
  s.root_live = 0;
}

void Engine::UpdateStatus(InstanceState& s) {
  if (IsTerminal(s.status)) return;
  if (s.ready_count() > 0) {
    s.status = InstanceStatus::kRunning;
  } else if (s.root_live <= 0 && s.bookmarks.empty()) {
    EndInstance(s, InstanceStatus::kCompleted);
  } else {
    s.status = InstanceStatus::kSuspended;
  }
}

Status Engine::ResumeBookmark(const CompiledWorkflow& wf, InstanceState& s, std::string_view bookmark_id,
                              ResumeReason reason, Json payload) {
  (void)wf;
  if (IsTerminal(s.status)) {
    return FailedPrecondition("instance " + s.id + " is " + InstanceStatusName(s.status));
  }
  auto it = std::find_if(s.bookmarks.begin(), s.bookmarks.end(),
                         [&](const Bookmark& b) { return b.id == bookmark_id; });
  if (it == s.bookmarks.end())
    return NotFound("no bookmark " + std::string(bookmark_id) + " on instance " + s.id);
  Token t = std::move(it->token);
  if (it->kind != BookmarkKind::kRetry) {
    t.resume = Resume{reason, std::move(payload), std::move(it->data), it->id};
  }
  s.bookmarks.erase(it);
  s.ready.push_back(std::move(t));
  s.status = InstanceStatus::kRunning;
  return Status::Ok();
}

void Engine::FireDueTimers(const CompiledWorkflow& wf, InstanceState& s, TimePoint now) {
  RefreshSecrets();
  try {
    FireDueTimersUnguarded(wf, s, now);
  } catch (const std::exception& e) {
    FaultInstance(s, nullptr, nullptr, "InternalError",
                  std::string("the instance state is inconsistent: ") + e.what());
  }
}

void Engine::FireDueTimersUnguarded(const CompiledWorkflow& wf, InstanceState& s, TimePoint now) {
  if (IsTerminal(s.status)) return;
  if (s.deadline && now >= *s.deadline) {
    FaultInstance(s, nullptr, nullptr, "MaxExecutionTime",
                  "the workflow exceeded its maxExecutionTime of " +
                      FormatDuration(*wf.definition().options.max_execution_time));
    return;
  }
  // Collect first: resuming and failing both change the bookmark list.
  std::vector<std::string> due, expired;
  for (const auto& b : s.bookmarks) {
    if (b.deadline && now >= *b.deadline)
      expired.push_back(b.id);
    else if (b.due_at && now >= *b.due_at)
      due.push_back(b.id);
  }
  for (const auto& id : due) (void)ResumeBookmark(wf, s, id, ResumeReason::kTimer, nullptr);
  for (const auto& id : expired) {
    auto it =
        std::find_if(s.bookmarks.begin(), s.bookmarks.end(), [&](const Bookmark& b) { return b.id == id; });
    if (it == s.bookmarks.end()) continue;
    Token t = std::move(it->token);
    std::string child = it->kind == BookmarkKind::kChild ? it->child_id : "";
    s.bookmarks.erase(it);
    if (!child.empty()) s.outbox.push_back({"cancelChild", {{"instanceId", child}}});
    const CompiledActivity& a = wf.activity(t.activity);
    HandleFailure(wf, s, t, "activity '" + a.def->id + "' timed out after " + FormatDuration(*a.timeout),
                  true, "Timeout");
    if (IsTerminal(s.status)) return;
  }
  UpdateStatus(s);
}

std::optional<TimePoint> Engine::NextDue(const InstanceState& s) {
  if (IsTerminal(s.status)) return std::nullopt;
  std::optional<TimePoint> next = s.deadline;
  auto consider = [&](const std::optional<TimePoint>& t) {
    if (t && (!next || *t < *next)) next = t;
  };
  for (const auto& b : s.bookmarks) {
    consider(b.due_at);
    consider(b.deadline);
  }
  return next;
}

std::vector<std::string> Engine::MatchEvent(const InstanceState& s, std::string_view event,
                                            std::string_view correlation) {
  std::vector<std::string> out;
  for (const auto& b : s.bookmarks) {
    if (b.kind != BookmarkKind::kEvent || b.event != event) continue;
    if (!b.correlation.empty() && b.correlation != correlation) continue;
    out.push_back(b.id);
  }
  return out;
}

std::vector<std::string> Engine::MatchWebhook(const InstanceState& s, std::string_view path,
                                              std::string_view method) {
  std::vector<std::string> out;
  for (const auto& b : s.bookmarks) {
    while (!path.empty() && path.front() == '/') path.remove_prefix(1);
    if (b.kind != BookmarkKind::kWebhook || b.path != path) continue;
    if (!b.method.empty() && b.method != "ANY" && b.method != method) continue;
    out.push_back(b.id);
  }
  return out;
}

void Engine::Cancel(const CompiledWorkflow& wf, InstanceState& s, std::string_view reason) {
  // A Faulted instance keeps its work for Retry (child bookmarks included); cancelling it ends that.
  if (s.status == InstanceStatus::kCompleted || s.status == InstanceStatus::kCancelled) return;
  RefreshSecrets();
  ClearWork(wf, s, "cancelled: " + std::string(reason));
  s.faulted_token.reset();
  s.fault_message = std::string(reason);
  EndInstance(s, InstanceStatus::kCancelled);
}

Status Engine::Retry(const CompiledWorkflow& wf, InstanceState& s) {
  if (s.status != InstanceStatus::kFaulted) {
    return FailedPrecondition(std::string("only a Faulted instance can be retried; this one is ") +
                              InstanceStatusName(s.status));
  }
  TimePoint now = Now();
  if (wf.definition().options.max_execution_time)
    s.deadline = now + *wf.definition().options.max_execution_time;
  s.finished_at.reset();
  s.fault_message.clear();
  s.status = InstanceStatus::kRunning;
  if (s.faulted_token) {
    s.ready.push_back(std::move(*s.faulted_token));
    s.faulted_token.reset();
  }
  UpdateStatus(s);
  return Status::Ok();
}

}  // namespace trellis
