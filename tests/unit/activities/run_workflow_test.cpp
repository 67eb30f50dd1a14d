// RunWorkflow: child workflows through the outbox, run by the LocalRunner with a resolver.
#include <algorithm>
#include <map>
#include <optional>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;
using activity_test::RunnerHarness;

constexpr const char* kChild = R"(id: child
inputs: {amount: {type: number, required: true}}
activities:
  - {id: number, type: SetOutput, name: number, value: "{{ 'INV-' .. input.amount }}"}
  - {id: me, type: SetOutput, name: me, value: "{{ workflow.instanceId }}"}
  - {id: parent, type: SetOutput, name: parent, value: "{{ workflow.parentId }}"}
  - {id: corr, type: SetOutput, name: correlation, value: "{{ workflow.correlationId }}"}
)";

constexpr const char* kFailingChild = R"Y(id: failing
activities:
  - {id: boom, type: Script, code: "error('out of stock')"}
)Y";

constexpr const char* kWaitingChild = R"(id: waiting
activities:
  - {id: w, type: WaitForEvent, event: release}
  - {id: out, type: SetOutput, name: released, value: "{{ outputs.w }}"}
)";

// Resolves the workflows above by id and records what was asked for.
struct Resolver {
  std::map<std::string, std::shared_ptr<const CompiledWorkflow>> workflows;
  std::vector<std::pair<std::string, std::optional<int>>> calls;

  WorkflowResolver Fn() {
    return [this](const std::string& id,
                  std::optional<int> version) -> Result<std::shared_ptr<const CompiledWorkflow>> {
      calls.emplace_back(id, version);
      auto it = workflows.find(id);
      if (it == workflows.end()) return NotFound("no workflow '" + id + "'");
      return it->second;
    };
  }
};

Resolver MakeResolver() {
  Resolver r;
  r.workflows["child"] = Compile(kChild);
  r.workflows["failing"] = Compile(kFailingChild);
  r.workflows["waiting"] = Compile(kWaitingChild);
  return r;
}

TEST(RunWorkflowTest, WaitsForTheChildAndOutputsItsOutput) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile(R"(id: parent
activities:
  - {id: invoice, type: RunWorkflow, workflow: child, input: {amount: "{{ input.amount }}"}}
  - {id: out, type: SetOutput, name: invoice, value: "{{ outputs.invoice }}"}
)");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent, {{"amount", 42}}, "corr-1");
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted) << Incidents(rh.Get(id).state);
  const Json& invoice = rh.Get(id).state.output["invoice"];
  EXPECT_EQ(invoice["number"], "INV-42");
  EXPECT_EQ(invoice["parent"], id);
  EXPECT_EQ(invoice["correlation"], "corr-1");  // the child inherits the correlation id
  std::string child_id = invoice["me"].get<std::string>();
  ASSERT_NE(rh.runner().Find(child_id), nullptr);
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Get(child_id).state.parent_id, id);
  EXPECT_EQ(rh.Get(child_id).state.input, Json({{"amount", 42}}));
  ASSERT_EQ(resolver.calls.size(), 1u);
  EXPECT_EQ(resolver.calls[0].first, "child");
  EXPECT_FALSE(resolver.calls[0].second.has_value());
}

TEST(RunWorkflowTest, SuspendsOnAChildBookmarkUntilTheChildEnds) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile("activities: [{id: run, type: RunWorkflow, workflow: waiting}]\n");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  const InstanceState& s = rh.Get(id).state;
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(s.bookmarks[0].kind, BookmarkKind::kChild);
  std::string child_id = s.bookmarks[0].child_id;
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kSuspended);

  rh.runner().QueueEvent({"release", "", {{"ok", true}}});
  rh.Run();
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Get(id).state.outputs["run"], Json({{"released", {{"ok", true}}}}));
}

TEST(RunWorkflowTest, WithoutWaitOutputsTheChildIdAndContinues) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile(R"(activities:
  - {id: run, type: RunWorkflow, workflow: waiting, wait: false}
  - {id: after, type: WriteLine, text: "started {{ outputs.run.instanceId }}"}
)");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted) << Incidents(rh.Get(id).state);
  std::string child_id = rh.Get(id).state.outputs["run"]["instanceId"].get<std::string>();
  EXPECT_EQ(rh.lines(), std::vector<std::string>{"started " + child_id});
  ASSERT_NE(rh.runner().Find(child_id), nullptr);
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kSuspended);  // it runs on its own
  EXPECT_EQ(rh.Get(child_id).state.parent_id, id);

  rh.runner().QueueEvent({"release", "", {{"ok", 1}}});
  rh.Run();
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kCompleted);
}

TEST(RunWorkflowTest, AFaultedChildFailsTheActivity) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile("activities: [{id: run, type: RunWorkflow, workflow: failing}]\n");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  const InstanceState& s = rh.Get(id).state;
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].activity_id, "run");
  EXPECT_NE(s.incidents[0].message.find("child workflow 'failing'"), std::string::npos)
      << s.incidents[0].message;
  EXPECT_NE(s.incidents[0].message.find("Faulted"), std::string::npos) << s.incidents[0].message;
  EXPECT_NE(s.incidents[0].message.find("out of stock"), std::string::npos) << s.incidents[0].message;
}

TEST(RunWorkflowTest, AnUnknownWorkflowFailsTheActivity) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile(R"(activities:
  - {id: run, type: RunWorkflow, workflow: nope, version: 3}
  - {id: handled, type: SetOutput, name: error, value: "{{ outputs.run.error }}"}
connections: [{from: run, outcome: Error, to: handled}]
)");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted) << Incidents(rh.Get(id).state);
  EXPECT_NE(rh.Get(id).state.output["error"].get<std::string>().find("no workflow 'nope'"), std::string::npos)
      << rh.Get(id).state.output.dump();
  ASSERT_EQ(resolver.calls.size(), 1u);
  EXPECT_EQ(resolver.calls[0].second, std::optional<int>(3));
}

TEST(RunWorkflowTest, AChildThatRejectsItsInputFailsTheActivity) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent =
      Compile("activities: [{id: run, type: RunWorkflow, workflow: child, input: {amount: lots}}]\n");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  const InstanceState& s = rh.Get(id).state;
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("amount"), std::string::npos) << s.incidents[0].message;
}

TEST(RunWorkflowTest, CancellingTheParentCancelsAWaitedChild) {
  Resolver resolver = MakeResolver();
  RunnerHarness rh(resolver.Fn());
  auto parent = Compile("activities: [{id: run, type: RunWorkflow, workflow: waiting}]\n");
  ASSERT_TRUE(parent);
  std::string id = rh.Start(parent);
  rh.Run();
  std::string child_id = rh.Get(id).state.bookmarks.at(0).child_id;
  rh.runner().Cancel(id, "test");
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCancelled);
  EXPECT_EQ(rh.Status(child_id), InstanceStatus::kCancelled);
}

TEST(RunWorkflowTest, StartChildOutboxItem) {
  Harness h;
  auto parent = Compile(R"(activities:
  - {id: run, type: RunWorkflow, workflow: child, version: 2, input: {amount: 1}}
)");
  ASSERT_TRUE(parent);
  StartOptions options;
  options.correlation_id = "c-9";
  auto started = h.engine().Start(*parent, options);
  ASSERT_TRUE(started.ok());
  InstanceState s = std::move(started).value();
  EXPECT_EQ(h.engine().Step(*parent, s), StepResult::kCommitPoint);
  ASSERT_EQ(s.outbox.size(), 1u);
  const Json& p = s.outbox[0].payload;
  EXPECT_EQ(s.outbox[0].kind, "startChild");
  EXPECT_EQ(p["workflow"], "child");
  EXPECT_EQ(p["version"], 2);
  EXPECT_EQ(p["input"], Json({{"amount", 1}}));
  EXPECT_EQ(p["parentId"], s.id);
  EXPECT_EQ(p["correlationId"], "c-9");
  EXPECT_EQ(p["wait"], true);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(p["bookmarkId"], s.bookmarks[0].id);
  EXPECT_EQ(p["instanceId"], s.bookmarks[0].child_id);
}

TEST(RunWorkflowTest, WorkflowIsRequiredAndInputMustBeAnObject) {
  auto errors = CompileErrors("activities: [{id: run, type: RunWorkflow, input: [1], wait: maybe}]\n");
  ASSERT_EQ(errors.size(), 3u) << activity_test::Describe(errors);
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](auto& e) { return e.path == "activities[0].inputs.workflow"; }));
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](auto& e) { return e.path == "activities[0].inputs.input"; }));
  EXPECT_TRUE(std::any_of(errors.begin(), errors.end(),
                          [](auto& e) { return e.path == "activities[0].inputs.wait"; }));
}

}  // namespace
}  // namespace trellis
