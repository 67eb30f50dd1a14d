// Running a new instance's first pure steps before its row exists, so that the insert is also its
// first commit point (ARCHITECTURE.md, "Run-ahead"). A node runs ahead what it will run itself: sync
// executes (Worker::RunNow) and the starts its worker adopts. Without this, a new instance was
// written, then its first activity ran and the same row was written again.
//
// Only steps with no effect outside the instance run ahead: if the process dies before the insert,
// nothing happened anywhere and the caller got no answer. The run-ahead stops before an activity
// with an external effect, at the first commit point, after kMaxSteps steps or past kBudget. An
// instance that completes with nothing to hand on (no bookmark, outbox item, incident or parent to
// resume) is kept completed: the insert writes it finished, the only write it ever gets. A step that
// leaves something else the insert cannot carry (a bookmark, an outbox item, a fault, a child's end)
// is undone: the state goes back to what it was before that step, and the worker runs it again
// after the insert, as it always did. What a step writes (WriteLine, Log) is held until the step is
// kept, so an undone step prints nothing.
#pragma once

#include <chrono>
#include <memory>
#include <mutex>
#include <string>
#include <vector>

#include "engine/engine.h"

namespace trellis {

class RunAhead {
 public:
  static constexpr size_t kMaxSteps = 16;
  static constexpr std::chrono::milliseconds kBudget{2};

  // `services` as the worker's executors have them. With a tracer configured nothing runs ahead: a
  // step that is undone would leave an activity span for an execution that never counted.
  RunAhead(const ActivityRegistry& registry, EngineServices services);

  // Steps `state` (as Engine::Start made it, or as a previous call left it). Returns the number of
  // steps kept; their records are in state.journal, to be written with the row (NewInstance::journal).
  // state.status is Completed when the last kept step ended the instance.
  size_t Run(const CompiledWorkflow& wf, InstanceState& state);

 private:
  // An engine whose WriteLine and Log output goes to `held` until the step that wrote it is kept.
  struct Pooled {
    struct Line {
      bool log = false;  // else WriteLine
      std::string level, text;
    };
    std::vector<Line> held;
    std::unique_ptr<Engine> engine;
  };
  std::unique_ptr<Pooled> Take();
  void GiveBack(std::unique_ptr<Pooled> pooled);
  void Flush(Pooled& pooled) const;  // to the real write_line and log

  const ActivityRegistry& registry_;
  EngineServices services_;
  std::mutex mu_;                               // guards spare_
  std::vector<std::unique_ptr<Pooled>> spare_;  // engines of callers that finished (one per thread at most)
};

}  // namespace trellis
