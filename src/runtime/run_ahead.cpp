#include "runtime/run_ahead.h"

namespace trellis {

namespace {

// What an insert can carry: a running instance with work left and nothing for anyone else.
bool Insertable(const InstanceState& s) {
  return s.status == InstanceStatus::kRunning && s.ready_count() > 0 && s.bookmarks.empty() &&
         s.outbox.empty() && s.incidents.empty();
}

}  // namespace

RunAhead::RunAhead(const ActivityRegistry& registry, EngineServices services)
    : registry_(registry), services_(std::move(services)) {}

std::unique_ptr<Engine> RunAhead::TakeEngine() {
  {
    std::lock_guard lock(mu_);
    if (!spare_.empty()) {
      auto e = std::move(spare_.back());
      spare_.pop_back();
      return e;
    }
  }
  return std::make_unique<Engine>(registry_, services_);
}

void RunAhead::GiveBack(std::unique_ptr<Engine> engine) {
  std::lock_guard lock(mu_);
  spare_.push_back(std::move(engine));
}

size_t RunAhead::Run(const CompiledWorkflow& wf, InstanceState& s) {
  if (services_.tracer != nullptr || !Insertable(s)) return 0;
  auto engine = TakeEngine();
  auto until = std::chrono::steady_clock::now() + kBudget;
  size_t kept = 0;
  while (kept < kMaxSteps && Insertable(s)) {
    const CompiledActivity& next = wf.activity(s.ready[s.ready_head].activity);
    if (next.descriptor->effect == ActivityEffect::kExternal) break;  // its effect waits for the row
    InstanceState before = s;
    StepResult r = engine->Step(wf, s);
    if (!Insertable(s)) {
      s = std::move(before);  // the worker runs this step again, after the insert
      break;
    }
    ++kept;
    if (r == StepResult::kCommitPoint || std::chrono::steady_clock::now() >= until) break;
  }
  GiveBack(std::move(engine));
  return kept;
}

}  // namespace trellis
