// Review findings: each test pins down a behaviour that DESIGN.md / ARCHITECTURE.md promise.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::UnorderedElementsAre;

// ARCHITECTURE.md: "parallel iterations (`parallel: N`) never see each other's outputs".
// Iteration 1 reaches `check` after iteration 0 ran `produce`; it must not see iteration 0's value.
TEST(ReviewTest, ParallelIterationDoesNotSeeAnotherIterationsOutput) {
  Harness h(R"~(
id: leak
activities:
  - {id: loop, type: ForEach, items: [1, 2], parallel: 2}
  - {id: nap, type: Delay, duration: "{{ item }}s"}
  - {id: check, type: WriteLine, text: "{{ item }}:{{ outputs.produce == nil and 'none' or outputs.produce }}"}
  - {id: produce, type: Transform, value: "p{{ item }}"}
connections:
  - {from: loop, outcome: Iterate, to: nap}
  - {from: nap, to: check}
  - {from: check, to: produce}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, UnorderedElementsAre("1:none", "2:none"));
}

// Same promise, through a nested loop: the outputs of activities inside an inner loop are kept
// only in the inner iteration frame, which is erased when that iteration ends; afterwards the outer
// (parallel) iteration reads the instance-wide latest value, i.e. the other iteration's.
TEST(ReviewTest, ParallelIterationReadsItsOwnOutputFromANestedLoopBody) {
  Harness h(R"~(
id: nested-leak
activities:
  - {id: outer, type: ForEach, items: [1, 2], parallel: 2, as: o}
  - {id: inner, type: ForEach, items: [0]}
  - {id: produce, type: Transform, value: "p{{ o }}"}
  - {id: nap, type: Delay, duration: "{{ o }}s"}
  - {id: read, type: WriteLine, text: "{{ o }}:{{ outputs.produce }}"}
connections:
  - {from: outer, outcome: Iterate, to: inner}
  - {from: inner, outcome: Iterate, to: produce}
  - {from: inner, outcome: Done, to: nap}
  - {from: nap, to: read}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, UnorderedElementsAre("1:p1", "2:p2"));
}

// ARCHITECTURE.md: with --fast-timers the runner fires timers "at once in due order (virtual
// time)". Branch b waits 5s then 10s (due at +15s); branch a waits 12s. X must come before Y.
TEST(ReviewTest, FastTimersKeepDueOrderAcrossChainedDelays) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto wf = CompileYaml(R"~(
id: order
activities:
  - {id: start, type: Noop}
  - {id: a, type: Delay, duration: 12s}
  - {id: x, type: WriteLine, text: X}
  - {id: b1, type: Delay, duration: 5s}
  - {id: b2, type: Delay, duration: 10s}
  - {id: y, type: WriteLine, text: Y}
connections:
  - {from: start, to: a}
  - {from: a, to: x}
  - {from: start, to: b1}
  - {from: b1, to: b2}
  - {from: b2, to: y}
)~");
  ASSERT_TRUE(wf);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), {}, /*fast_timers=*/true);
  auto id = runner.Start(wf, {});
  ASSERT_TRUE(id.ok());
  runner.Run();
  EXPECT_EQ(StatusOf(runner.Find(*id)->state), "Completed");
  EXPECT_THAT(lines, ElementsAre("X", "Y"));
}

// An event queued for `trellis run --event` must not be swallowed by a bookmark of an instance that
// has already ended (a Faulted instance keeps its bookmarks for Retry): the live child should get it.
TEST(ReviewTest, QueuedEventIsNotConsumedByAFaultedInstancesBookmark) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto parent = CompileYaml(R"~(
id: parent
activities:
  - {id: start, type: Noop}
  - {id: run, type: RunWorkflow, workflow: child, wait: false}
  - {id: wait, type: WaitForEvent, event: go}
  - {id: boom, type: Fail, message: boom}
connections:
  - {from: start, to: run}
  - {from: start, to: wait}
  - {from: start, to: boom}
)~");
  auto child = CompileYaml(R"~(
id: child
activities:
  - {id: wait, type: WaitForEvent, event: go}
  - {id: say, type: WriteLine, text: "child got {{ outputs.wait }}"}
)~");
  ASSERT_TRUE(parent && child);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), ResolverOf({{"child", child}}),
                     /*fast_timers=*/true);
  StartOptions opts;
  opts.instance_id = "0000-parent";  // sorts before the child's UUIDv7 in the runner's map
  auto id = runner.Start(parent, opts);
  ASSERT_TRUE(id.ok());
  runner.Run();
  const LocalInstance* p = runner.Find(*id);
  ASSERT_EQ(StatusOf(p->state), "Faulted");
  ASSERT_NE(p->state.bookmarks.size(), 0u) << "the faulted parent keeps its WaitForEvent bookmark";

  runner.QueueEvent({"go", "", Json(1)});
  runner.Run();
  EXPECT_THAT(lines, ElementsAre("child got 1"));
  EXPECT_EQ(runner.undelivered_events().size(), 0u);
}

// DESIGN.md: "child instances are cancelled with the parent". A Faulted instance keeps its
// bookmarks (including a running child) so that it can be retried; cancelling it instead must end
// it and cancel the child. Today Cancel ignores Faulted instances, so the child can never be stopped
// through its parent.
TEST(ReviewTest, CancellingAFaultedInstanceCancelsItsRunningChild) {
  Harness h(R"~(
id: parent
activities:
  - {id: start, type: Noop}
  - {id: run, type: RunWorkflow, workflow: child}
  - {id: boom, type: Fail, message: boom}
connections:
  - {from: start, to: run}
  - {from: start, to: boom}
)~");
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  const Bookmark* b = h.FindBookmark("run");
  ASSERT_NE(b, nullptr);
  std::string child_id = b->child_id;
  h.state.outbox.clear();  // the host drained the startChild

  h.engine->Cancel(*h.wf, h.state, "give up");
  EXPECT_EQ(StatusOf(h.state), "Cancelled");
  ASSERT_EQ(h.state.outbox.size(), 1u);
  EXPECT_EQ(h.state.outbox[0].kind, "cancelChild");
  EXPECT_EQ(h.state.outbox[0].payload["instanceId"], child_id);
}

// DESIGN.md: an event that arrives is kept until it can be applied ("a resume that races the
// suspension ... none is dropped"). A parent that starts a fire-and-forget child and then
// publishes the event the child waits for loses the event in the LocalRunner: the child has not
// run yet when the outbox is drained, and published events are never queued.
TEST(ReviewTest, EventPublishedToAChildStartedInTheSameCommitIsNotLost) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto parent = CompileYaml(R"~(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: child, wait: false}
  - {id: pub, type: PublishEvent, event: go, payload: 7}
)~");
  auto child = CompileYaml(R"~(
id: child
activities:
  - {id: wait, type: WaitForEvent, event: go}
  - {id: say, type: WriteLine, text: "child got {{ outputs.wait }}"}
)~");
  ASSERT_TRUE(parent && child);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), ResolverOf({{"child", child}}),
                     /*fast_timers=*/true);
  auto id = runner.Start(parent, {});
  ASSERT_TRUE(id.ok());
  runner.Run();
  EXPECT_EQ(StatusOf(runner.Find(*id)->state), "Completed");
  EXPECT_THAT(lines, ElementsAre("child got 7"));
}

// WaitForWebhook strips leading slashes from its path ("/orders" waits on "orders"), but the
// runner matches a delivered webhook's path verbatim, so `trellis run --webhook /orders=...` (the
// path as written in the definition) is never delivered.
TEST(ReviewTest, WebhookPathWithLeadingSlashMatchesTheWait) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto wf = CompileYaml(R"~(
id: hook
activities:
  - {id: wait, type: WaitForWebhook, path: /orders}
  - {id: say, type: WriteLine, text: "got {{ outputs.wait.body.n }}"}
)~");
  ASSERT_TRUE(wf);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), {}, /*fast_timers=*/true);
  auto id = runner.Start(wf, {});
  ASSERT_TRUE(id.ok());
  runner.QueueWebhook("/orders", "POST", {{"method", "POST"}, {"body", {{"n", 1}}}});
  runner.Run();
  EXPECT_EQ(StatusOf(runner.Find(*id)->state), "Completed");
  EXPECT_THAT(lines, ElementsAre("got 1"));
}

// Cancel and Finish end suspended activities: their attempts get a Cancelled journal record, as
// the losing branch of a Join any does.
TEST(ReviewTest, CancelAndFinishJournalTheSuspendedActivitiesTheyStop) {
  Harness cancel(R"~(
activities:
  - {id: wait, type: WaitForEvent, event: go}
)~");
  ASSERT_TRUE(cancel.StartAndRun());
  cancel.engine->Cancel(*cancel.wf, cancel.state, "operator asked");
  ASSERT_EQ(cancel.Records("wait").size(), 1u);
  EXPECT_EQ(cancel.Records("wait")[0]->status, "Cancelled");
  EXPECT_NE(cancel.Records("wait")[0]->error.find("operator asked"), std::string::npos);

  Harness finish(R"~(
activities:
  - {id: fork, type: Fork}
  - {id: wait, type: Delay, duration: 1h}
  - {id: done, type: Finish}
connections:
  - {from: fork, outcome: a, to: wait}
  - {from: fork, outcome: b, to: done}
)~");
  ASSERT_TRUE(finish.StartAndRun());
  EXPECT_EQ(StatusOf(finish.state), "Completed");
  ASSERT_EQ(finish.Records("wait").size(), 1u);
  EXPECT_EQ(finish.Records("wait")[0]->status, "Cancelled");
}

// A timeout on a control-flow activity would bound nothing: it is a validation error, not ignored.
TEST(ReviewTest, TimeoutOnAControlFlowActivityIsRefused) {
  std::vector<ValidationError> errors;
  auto def = ParseDefinition(R"~(
activities:
  - {id: loop, type: ForEach, items: [1], timeout: 5s}
)~",
                             &errors);
  ASSERT_TRUE(errors.empty());
  EXPECT_EQ(CompiledWorkflow::Compile(def, BuiltinActivities(), &errors), nullptr);
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].timeout");
}

}  // namespace
}  // namespace trellis::engine_test
