// RunAhead: which of a new instance's first steps run before its row is written, and that a step
// the insert cannot carry is undone exactly.
#include "runtime/run_ahead.h"

#include <gtest/gtest.h>

#include "observability/tracing.h"
#include "unit/engine/engine_test_util.h"

namespace trellis {
namespace {

using engine_test::CompileYaml;
using engine_test::FakeHttpClient;

class RunAheadTest : public ::testing::Test {
 protected:
  RunAheadTest() {
    services_.http = &http_;
    services_.write_line = [](std::string_view) {};
  }

  // A fresh instance of `yaml`, as Node::PrepareInstance makes it.
  InstanceState Start(const std::string& yaml) {
    wf_ = CompileYaml(yaml);
    Engine engine(BuiltinActivities(), services_);
    auto s = engine.Start(*wf_, {.input = Json{{"n", 2}}});
    EXPECT_TRUE(s.ok()) << s.status().message();
    return s.ok() ? std::move(s).value() : InstanceState{};
  }

  static std::vector<std::string> Ids(const InstanceState& s) {
    std::vector<std::string> ids;
    for (const auto& r : s.journal) ids.push_back(r.activity_id);
    return ids;
  }

  FakeHttpClient http_;
  EngineServices services_;
  std::shared_ptr<const CompiledWorkflow> wf_;
};

TEST_F(RunAheadTest, StopsAtTheFirstCommitPoint) {
  InstanceState s = Start(R"(
id: three
options: {commit: activity}
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: 2}
  - {id: c, type: SetOutput, name: done, value: true}
)");
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 1u);
  EXPECT_EQ(Ids(s), std::vector<std::string>{"a"});
  EXPECT_EQ(s.status, InstanceStatus::kRunning);
  EXPECT_EQ(s.variables["x"], 1);
  ASSERT_EQ(s.ready_count(), 1u);
  EXPECT_EQ(wf_->activity(s.ready[s.ready_head].activity).def->id, "b");
}

// Two pure steps; the second ends the instance.
constexpr const char* kPure = R"(
id: pure
activities:
  - {id: a, type: SetVariable, name: x, value: "{{ input.n * 10 }}"}
  - {id: b, type: SetOutput, name: x, value: "{{ vars.x }}"}
)";

TEST_F(RunAheadTest, AnInstanceThatCompletesIsKeptCompleted) {
  InstanceState s = Start(kPure);
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 2u);
  // Nothing is left to hand on: the insert writes it finished.
  EXPECT_EQ(s.status, InstanceStatus::kCompleted);
  EXPECT_EQ(s.output["x"], 20);
  EXPECT_TRUE(s.finished_at.has_value());
  EXPECT_EQ(Ids(s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.ready_count(), 0u);
}

TEST_F(RunAheadTest, UndoesTheStepThatEndsAChildOrFaults) {
  // A child's end resumes its parent in the committing transaction: the worker runs it.
  InstanceState s = Start(kPure);
  s.parent_id = "parent";
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 1u);
  // b would have completed the instance: it is not run ahead, and nothing of it is left.
  EXPECT_EQ(Ids(s), std::vector<std::string>{"a"});
  EXPECT_EQ(s.status, InstanceStatus::kRunning);
  EXPECT_FALSE(s.output.contains("x"));
  EXPECT_FALSE(s.finished_at.has_value());
  EXPECT_EQ(s.journal_sequence, 1u);
  // The worker then runs b as usual, from exactly this state.
  Engine engine(BuiltinActivities(), services_);
  engine.RunBurst(*wf_, s);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted);
  EXPECT_EQ(s.output["x"], 20);
  EXPECT_EQ(Ids(s), (std::vector<std::string>{"a", "b"}));
  EXPECT_EQ(s.journal[1].sequence, 2u);

  // A fault leaves an incident: undone too.
  InstanceState faults = Start(R"~(
id: faults
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: bad, type: Script, code: "error('no')"}
)~");
  EXPECT_EQ(ahead.Run(*wf_, faults), 1u);
  EXPECT_EQ(faults.status, InstanceStatus::kRunning);
  EXPECT_TRUE(faults.incidents.empty());
  EXPECT_EQ(Ids(faults), std::vector<std::string>{"a"});
}

constexpr const char* kSays = R"(
id: says
activities:
  - {id: one, type: WriteLine, text: "first"}
  - {id: two, type: WriteLine, text: "second"}
)";

TEST_F(RunAheadTest, AnUndoneStepWritesNothing) {
  std::vector<std::string> lines;
  services_.write_line = [&lines](std::string_view text) { lines.emplace_back(text); };
  InstanceState s = Start(kSays);
  s.parent_id = "parent";
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 1u);
  // `two` ended the child and was undone: only the kept step's line reached the sink.
  EXPECT_EQ(lines, std::vector<std::string>{"first"});
  EXPECT_EQ(Ids(s), std::vector<std::string>{"one"});
  // Without a parent both are kept, and both lines are written once.
  lines.clear();
  InstanceState top = Start(kSays);
  EXPECT_EQ(ahead.Run(*wf_, top), 2u);
  EXPECT_EQ(lines, (std::vector<std::string>{"first", "second"}));
}

TEST_F(RunAheadTest, UndoesASuspensionAndARetry) {
  InstanceState waits = Start(R"(
id: waits
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: wait, type: WaitForEvent, event: go}
)");
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, waits), 1u);
  EXPECT_TRUE(waits.bookmarks.empty());
  EXPECT_EQ(Ids(waits), std::vector<std::string>{"a"});

  InstanceState retries = Start(R"~(
id: retries
activities:
  - {id: bad, type: Script, code: "error('no')", retry: {maxAttempts: 3, backoff: fixed, initial: 1s}}
)~");
  EXPECT_EQ(ahead.Run(*wf_, retries), 0u);
  EXPECT_TRUE(retries.bookmarks.empty());
  EXPECT_TRUE(retries.journal.empty());
  EXPECT_EQ(retries.ready_count(), 1u);
}

TEST_F(RunAheadTest, NeverRunsAnActivityWithAnExternalEffect) {
  InstanceState s = Start(R"(
id: calls
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: call, type: HttpRequest, url: "https://api.test/x"}
)");
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 1u);
  EXPECT_TRUE(http_.sent.empty());
  EXPECT_EQ(Ids(s), std::vector<std::string>{"a"});
  // A second call (the state as the first left it) still stops in front of the call.
  EXPECT_EQ(ahead.Run(*wf_, s), 0u);
  EXPECT_TRUE(http_.sent.empty());
}

TEST_F(RunAheadTest, StopsAfterAFixedNumberOfSteps) {
  InstanceState s = Start(R"(
id: loop
variables: {n: 0}
activities:
  - {id: loop, type: While, condition: "vars.n < 100"}
  - {id: bump, type: SetVariable, name: n, value: "{{ vars.n + 1 }}"}
connections:
  - {from: loop, outcome: Iterate, to: bump}
)");
  RunAhead ahead(BuiltinActivities(), services_);
  size_t kept = ahead.Run(*wf_, s);
  EXPECT_GE(kept, 1u);
  EXPECT_LE(kept, RunAhead::kMaxSteps);
  // Cut short by the step limit (or the time budget), long before the loop's hundred iterations;
  // what was kept is consistent: one record per bump, and n counts them.
  int bumps = 0;
  for (const auto& r : s.journal) bumps += r.activity_id == "bump" ? 1 : 0;
  EXPECT_GE(bumps, 1);
  EXPECT_EQ(s.variables["n"], bumps);
  EXPECT_EQ(s.status, InstanceStatus::kRunning);
  EXPECT_GT(s.ready_count(), 0u);
}

TEST_F(RunAheadTest, NothingRunsAheadWithTracingOn) {
  InstanceState s = Start(R"(
id: traced
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: 2}
)");
  struct DropSink : SpanSink {
    void Export(SpanData&&) override {}
  };
  Tracer tracer(std::make_unique<DropSink>());
  services_.tracer = &tracer;
  RunAhead ahead(BuiltinActivities(), services_);
  EXPECT_EQ(ahead.Run(*wf_, s), 0u);
  EXPECT_TRUE(s.journal.empty());
}

}  // namespace
}  // namespace trellis
