#include "runtime/run_ahead.h"

namespace trellis {

namespace {

// What an insert can carry: a running instance with work left and nothing for anyone else.
bool Insertable(const InstanceState& s) {
  return s.status == InstanceStatus::kRunning && s.ready_count() > 0 && s.bookmarks.empty() &&
         s.outbox.empty() && s.incidents.empty();
}

// An instance that completed with nothing to hand on: the insert writes it finished. A child's end
// resumes its parent in the committing transaction, which an insert does not do.
bool FinishedInsertable(const InstanceState& s) {
  return s.status == InstanceStatus::kCompleted && s.bookmarks.empty() && s.outbox.empty() &&
         s.incidents.empty() && s.parent_id.empty();
}

}  // namespace

RunAhead::RunAhead(const ActivityRegistry& registry, EngineServices services)
    : registry_(registry), services_(std::move(services)) {}

std::unique_ptr<RunAhead::Pooled> RunAhead::Take() {
  {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      auto p = std::move(spare_.back());
      spare_.pop_back();
      return p;
    }
  }
  auto p = std::make_unique<Pooled>();
  EngineServices services = services_;
  std::vector<Pooled::Line>* held = &p->held;  // the Pooled is on the heap: its address is stable
  if (services.write_line)
    services.write_line = [held](std::string_view text) { held->push_back({false, "", std::string(text)}); };
  if (services.log) {
    services.log = [held](std::string_view level, std::string_view text) {
      held->push_back({true, std::string(level), std::string(text)});
    };
  }
  p->engine = std::make_unique<Engine>(registry_, std::move(services));
  return p;
}

void RunAhead::GiveBack(std::unique_ptr<Pooled> pooled) {
  pooled->held.clear();
  std::lock_guard lock(mu_);
  spare_.push_back(std::move(pooled));
}

void RunAhead::Flush(Pooled& pooled) const {
  for (const auto& line : pooled.held) {
    if (line.log)
      services_.log(line.level, line.text);
    else
      services_.write_line(line.text);
  }
  pooled.held.clear();
}

size_t RunAhead::Run(const CompiledWorkflow& wf, InstanceState& s) {
  if (services_.tracer != nullptr || !Insertable(s)) return 0;
  auto pooled = Take();
  auto until = std::chrono::steady_clock::now() + kBudget;
  size_t kept = 0;
  while (kept < kMaxSteps && Insertable(s)) {
    const CompiledActivity& next = wf.activity(s.ready[s.ready_head].activity);
    if (next.descriptor->effect == ActivityEffect::kExternal) break;  // its effect waits for the row
    InstanceState before = s;
    StepResult r = pooled->engine->Step(wf, s);
    if (!Insertable(s)) {
      if (FinishedInsertable(s)) {
        ++kept;
        Flush(*pooled);
      } else {
        s = std::move(before);  // the worker runs this step again, after the insert
      }
      break;
    }
    ++kept;
    Flush(*pooled);
    if (r == StepResult::kCommitPoint || std::chrono::steady_clock::now() >= until) break;
  }
  GiveBack(std::move(pooled));
  return kept;
}

}  // namespace trellis
