// Bookmarks (DESIGN.md section 4): timers, events, webhooks and child workflows suspend an
// instance; they are resumed by FireDueTimers, ResumeBookmark and the LocalRunner. Also
// cancellation and the retry of a Faulted instance.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::IsEmpty;

TEST(BookmarkTest, DelayFiresOnlyWhenDue) {
  Harness h(R"~(
id: delay
activities:
  - {id: nap, type: Delay, duration: 10s}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  ASSERT_EQ(h.state.bookmarks.size(), 1u);
  const Bookmark& b = h.state.bookmarks[0];
  EXPECT_EQ(b.kind, BookmarkKind::kTimer);
  EXPECT_EQ(b.activity_id, "nap");
  EXPECT_EQ(b.created_at, T0());
  ASSERT_TRUE(b.due_at.has_value());
  EXPECT_EQ(*b.due_at, T0() + seconds(10));
  EXPECT_EQ(Engine::NextDue(h.state), T0() + seconds(10));

  h.engine->FireDueTimers(*h.wf, h.state, T0() + seconds(9) + milliseconds(999));
  EXPECT_EQ(h.state.bookmarks.size(), 1u);
  EXPECT_EQ(h.state.ready_count(), 0u);
  EXPECT_EQ(StatusOf(h.state), "Suspended");

  h.clock.Set(T0() + seconds(10));
  h.engine->FireDueTimers(*h.wf, h.state, T0() + seconds(10));
  EXPECT_TRUE(h.state.bookmarks.empty());
  EXPECT_EQ(StatusOf(h.state), "Running");
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("after"));
  ASSERT_EQ(h.Count("nap"), 1u);
  EXPECT_EQ(h.Records("nap")[0]->started_at, T0()) << "the record spans the suspension";
  EXPECT_EQ(h.Records("nap")[0]->finished_at, T0() + seconds(10));
}

TEST(BookmarkTest, FiringLateStillResumesOnce) {
  Harness h(R"~(
id: delay-late
activities:
  - {id: nap, type: Delay, duration: 10s}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.AdvanceTo(T0() + hours(5));
  h.AdvanceTo(T0() + hours(6));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("after"));
}

TEST(BookmarkTest, WaitUntilFiresAtItsTimeAndContinuesAtOnceWhenPast) {
  Harness h(R"~(
id: wait-until
activities:
  - {id: past, type: WaitUntil, at: "2026-03-01T11:00:00Z"}
  - {id: mid, type: WriteLine, text: "past is done"}
  - {id: future, type: WaitUntil, at: "2026-03-01T13:30:00+01:00"}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_THAT(h.lines, ElementsAre("past is done"));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  TimePoint due = *ParseTime("2026-03-01T12:30:00Z");
  EXPECT_EQ(Engine::NextDue(h.state), due);
  h.AdvanceTo(due - seconds(1));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.AdvanceTo(due);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("past is done", "after"));
}

TEST(BookmarkTest, NextDueIsTheEarliestTimerAndNoneWithoutTimers) {
  Harness h(R"~(
id: next-due
activities:
  - {id: start, type: Noop}
  - {id: long, type: Delay, duration: 1h}
  - {id: short, type: Delay, duration: 90s}
  - {id: wait, type: WaitForEvent, event: e}
connections:
  - {from: start, to: long}
  - {from: start, to: short}
  - {from: start, to: wait}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.state.bookmarks.size(), 3u);
  EXPECT_EQ(Engine::NextDue(h.state), T0() + seconds(90));
  h.Advance(seconds(90));
  EXPECT_EQ(Engine::NextDue(h.state), T0() + hours(1));
  h.AdvanceTo(T0() + hours(1));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_FALSE(Engine::NextDue(h.state).has_value()) << "only the event wait is left";
}

const char* kEventWait = R"~(
id: approval
inputs: {orderId: {type: string, required: true}}
activities:
  - {id: approve, type: WaitForEvent, event: order.approved, correlation: "{{ input.orderId }}"}
  - {id: after, type: WriteLine, text: "approved by {{ outputs.approve.by }}"}
)~";

TEST(BookmarkTest, WaitForEventWithCorrelationMatchesOnlyThatCorrelation) {
  Harness h(kEventWait);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "42"}}));
  ASSERT_EQ(h.state.bookmarks.size(), 1u);
  const Bookmark& b = h.state.bookmarks[0];
  EXPECT_EQ(b.kind, BookmarkKind::kEvent);
  EXPECT_EQ(b.event, "order.approved");
  EXPECT_EQ(b.correlation, "42");
  EXPECT_FALSE(b.due_at.has_value());

  EXPECT_THAT(Engine::MatchEvent(h.state, "order.approved", "43"), IsEmpty());
  EXPECT_THAT(Engine::MatchEvent(h.state, "order.approved", ""), IsEmpty());
  EXPECT_THAT(Engine::MatchEvent(h.state, "order.rejected", "42"), IsEmpty());
  EXPECT_THAT(Engine::MatchEvent(h.state, "order.approved", "42"), ElementsAre(b.id));

  EXPECT_EQ(h.Event("order.approved", "42", {{"by", "alice"}}), 1u);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("approved by alice"));
  EXPECT_EQ(h.Records("approve")[0]->output, (Json{{"by", "alice"}}));
}

TEST(BookmarkTest, WaitForEventWithoutCorrelationMatchesAnyCorrelation) {
  Harness h(R"~(
id: any-correlation
activities:
  - {id: wait, type: WaitForEvent, event: ping}
  - {id: after, type: WriteLine, text: "{{ outputs.wait.n }}"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(Engine::MatchEvent(h.state, "ping", "whatever").size(), 1u);
  EXPECT_EQ(Engine::MatchEvent(h.state, "ping", "").size(), 1u);
  EXPECT_EQ(Engine::MatchEvent(h.state, "pong", "").size(), 0u);
  EXPECT_EQ(h.Event("ping", "anything", {{"n", 5}}), 1u);
  EXPECT_THAT(h.lines, ElementsAre("5"));
  EXPECT_EQ(StatusOf(h.state), "Completed");
}

TEST(BookmarkTest, WaitForEventTimeoutTakesTheTimeoutOutcome) {
  // The definition form of DESIGN.md section 2: `timeout` written on the WaitForEvent.
  Harness h(R"~(
id: event-timeout
activities:
  - {id: approve, type: WaitForEvent, event: order.approved, timeout: 48h}
  - {id: approved, type: WriteLine, text: "approved"}
  - {id: expired, type: WriteLine, text: "expired"}
connections:
  - {from: approve, to: approved}
  - {from: approve, outcome: Timeout, to: expired}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(Engine::NextDue(h.state), T0() + hours(48));
  h.AdvanceTo(T0() + hours(47));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.AdvanceTo(T0() + hours(48));
  EXPECT_EQ(StatusOf(h.state), "Completed")
      << (h.state.incidents.empty() ? "" : h.state.incidents[0].message);
  EXPECT_THAT(h.lines, ElementsAre("expired"));
  ASSERT_EQ(h.Count("approve"), 1u);
  EXPECT_EQ(h.Records("approve")[0]->outcome, "Timeout");
  EXPECT_TRUE(h.state.incidents.empty());
}

TEST(BookmarkTest, WaitForEventTimeoutGivenUnderInputsTakesTheTimeoutOutcome) {
  Harness h(R"~(
id: event-timeout-inputs
activities:
  - {id: approve, type: WaitForEvent, inputs: {event: order.approved, timeout: 5m}}
  - {id: approved, type: WriteLine, text: "approved"}
  - {id: expired, type: WriteLine, text: "expired"}
connections:
  - {from: approve, to: approved}
  - {from: approve, outcome: Timeout, to: expired}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(Engine::NextDue(h.state), T0() + minutes(5));
  h.AdvanceTo(T0() + minutes(5));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("expired"));
}

TEST(BookmarkTest, EventBeforeTheTimeoutTakesDone) {
  Harness h(R"~(
id: event-in-time
activities:
  - {id: approve, type: WaitForEvent, inputs: {event: order.approved, timeout: 5m}}
  - {id: approved, type: WriteLine, text: "approved"}
  - {id: expired, type: WriteLine, text: "expired"}
connections:
  - {from: approve, to: approved}
  - {from: approve, outcome: Timeout, to: expired}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.clock.Advance(minutes(4));
  EXPECT_EQ(h.Event("order.approved", "", nullptr), 1u);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_FALSE(Engine::NextDue(h.state).has_value());
  h.AdvanceTo(T0() + minutes(10));
  EXPECT_THAT(h.lines, ElementsAre("approved"));
}

TEST(BookmarkTest, WaitForWebhookMatchesItsPathAndMethod) {
  Harness h(R"~(
id: webhook
activities:
  - {id: hook, type: WaitForWebhook, path: "/orders/confirm"}
  - {id: after, type: WriteLine, text: "got {{ outputs.hook.body.ok }}"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(h.state.bookmarks.size(), 1u);
  EXPECT_EQ(h.state.bookmarks[0].kind, BookmarkKind::kWebhook);
  EXPECT_EQ(h.state.bookmarks[0].path, "orders/confirm") << "the leading slash is not part of the path";
  EXPECT_EQ(h.state.bookmarks[0].method, "POST") << "POST is the default";

  EXPECT_THAT(Engine::MatchWebhook(h.state, "orders/confirm", "GET"), IsEmpty());
  EXPECT_THAT(Engine::MatchWebhook(h.state, "orders/other", "POST"), IsEmpty());
  auto ids = Engine::MatchWebhook(h.state, "orders/confirm", "POST");
  ASSERT_EQ(ids.size(), 1u);
  Json request = {
      {"method", "POST"}, {"headers", Json::object()}, {"query", Json::object()}, {"body", {{"ok", true}}}};
  ASSERT_TRUE(h.engine->ResumeBookmark(*h.wf, h.state, ids[0], ResumeReason::kWebhook, request).ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("got true"));
  EXPECT_EQ(h.state.outputs["hook"], request);
}

TEST(BookmarkTest, WaitForWebhookWithAnyMethodMatchesEveryMethod) {
  Harness h(R"~(
id: webhook-any
activities:
  - {id: hook, type: WaitForWebhook, path: hooks/x, method: ANY}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(Engine::MatchWebhook(h.state, "hooks/x", "GET").size(), 1u);
  EXPECT_EQ(Engine::MatchWebhook(h.state, "hooks/x", "DELETE").size(), 1u);
}

TEST(BookmarkTest, ResumingAnUnknownBookmarkIsNotFound) {
  Harness h(kEventWait);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "1"}}));
  Status st = h.engine->ResumeBookmark(*h.wf, h.state, "no-such-bookmark", ResumeReason::kEvent, nullptr);
  EXPECT_EQ(st.code(), StatusCode::kNotFound);
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.state.bookmarks.size(), 1u);
}

TEST(BookmarkTest, ResumingTheSameBookmarkTwiceAppliesItOnce) {
  Harness h(kEventWait);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "1"}}));
  std::string id = h.state.bookmarks.at(0).id;
  ASSERT_TRUE(h.engine->ResumeBookmark(*h.wf, h.state, id, ResumeReason::kEvent, {{"by", "a"}}).ok());
  EXPECT_EQ(h.engine->ResumeBookmark(*h.wf, h.state, id, ResumeReason::kEvent, {{"by", "b"}}).code(),
            StatusCode::kNotFound);
  h.Burst();
  EXPECT_THAT(h.lines, ElementsAre("approved by a"));
}

TEST(BookmarkTest, ResumingAFinishedInstanceIsRefused) {
  Harness h(kEventWait);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "1"}}));
  std::string id = h.state.bookmarks.at(0).id;
  h.engine->Cancel(*h.wf, h.state, "test");
  Status st = h.engine->ResumeBookmark(*h.wf, h.state, id, ResumeReason::kEvent, nullptr);
  EXPECT_FALSE(st.ok());
  EXPECT_EQ(StatusOf(h.state), "Cancelled");
}

// --- child workflows through the LocalRunner -------------------------------------------------

struct Family {
  ManualClock clock{T0()};
  std::vector<std::string> lines;
  std::shared_ptr<const CompiledWorkflow> parent;
  std::shared_ptr<const CompiledWorkflow> child;
  std::unique_ptr<LocalRunner> runner;

  Family(std::string_view parent_yaml, std::string_view child_yaml) {
    parent = CompileYaml(parent_yaml);
    child = CompileYaml(child_yaml);
    runner = std::make_unique<LocalRunner>(BuiltinActivities(), RunnerServices(&clock, &lines),
                                           ResolverOf({{"parent", parent}, {"child", child}}),
                                           /*fast_timers=*/true);
  }
};

const char* kParent = R"~(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: child, input: {x: 21}}
  - {id: result, type: SetOutput, name: fromChild, value: "{{ outputs.run.doubled }}"}
)~";

TEST(BookmarkTest, RunWorkflowWithWaitReturnsTheChildsOutput) {
  Family f(kParent, R"~(
id: child
inputs: {x: {type: integer, required: true}}
activities:
  - {id: nap, type: Delay, duration: 1m}
  - {id: out, type: SetOutput, name: doubled, value: "{{ input.x * 2 }}"}
)~");
  ASSERT_TRUE(f.parent && f.child);
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok()) << id.status().ToString();
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(StatusOf(p->state), "Completed") << p->state.fault_message;
  EXPECT_EQ(p->state.output, (Json{{"fromChild", 42}}));
  ASSERT_FALSE(p->journal.empty());
  EXPECT_EQ(p->journal[0].activity_id, "run");
  EXPECT_EQ(p->journal[0].output, (Json{{"doubled", 42}}));
}

TEST(BookmarkTest, RunWorkflowStartsTheChildThroughTheOutboxAndWaitsOnAChildBookmark) {
  Harness h(kParent);
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  ASSERT_EQ(h.state.bookmarks.size(), 1u);
  const Bookmark& b = h.state.bookmarks[0];
  EXPECT_EQ(b.kind, BookmarkKind::kChild);
  ASSERT_EQ(h.state.outbox.size(), 1u);
  const OutboxItem& start = h.state.outbox[0];
  EXPECT_EQ(start.kind, "startChild");
  EXPECT_EQ(start.payload["workflow"], "child");
  EXPECT_EQ(start.payload["input"], (Json{{"x", 21}}));
  EXPECT_EQ(start.payload["parentId"], h.state.id);
  EXPECT_EQ(start.payload["instanceId"], b.child_id);
  EXPECT_EQ(start.payload["bookmarkId"], b.id);

  ASSERT_TRUE(h.engine
                  ->ResumeBookmark(
                      *h.wf, h.state, b.id, ResumeReason::kChild,
                      {{"status", "Completed"}, {"instanceId", b.child_id}, {"output", {{"doubled", 8}}}})
                  .ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.state.output, (Json{{"fromChild", 8}}));
}

TEST(BookmarkTest, ChildFailureFailsTheParentActivity) {
  Family f(kParent, R"~(
id: child
activities:
  - {id: boom, type: Fail, message: "child says no"}
)~");
  ASSERT_TRUE(f.parent && f.child);
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok());
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(StatusOf(p->state), "Faulted");
  ASSERT_EQ(p->state.incidents.size(), 1u);
  EXPECT_EQ(p->state.incidents[0].activity_id, "run");
  EXPECT_THAT(p->state.incidents[0].message, HasSubstr("child says no"));
  EXPECT_THAT(p->state.incidents[0].message, HasSubstr("Faulted"));
}

TEST(BookmarkTest, ChildFailureIsCaughtByTheParentsErrorConnection) {
  Family f(R"~(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: child}
  - {id: handler, type: SetOutput, name: handled, value: "{{ outputs.run.error }}"}
connections:
  - {from: run, outcome: Error, to: handler}
)~",
           R"~(
id: child
activities:
  - {id: boom, type: Fail, message: "child says no"}
)~");
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok());
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  EXPECT_EQ(StatusOf(p->state), "Completed");
  EXPECT_THAT(p->state.output["handled"].get<std::string>(), HasSubstr("child says no"));
}

TEST(BookmarkTest, UnknownChildWorkflowFailsTheParentActivity) {
  Family f(R"~(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: nobody}
)~",
           "{\"id\":\"child\",\"activities\":[{\"id\":\"a\",\"type\":\"Noop\"}]}");
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok());
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  EXPECT_EQ(StatusOf(p->state), "Faulted");
  EXPECT_THAT(p->state.fault_message, HasSubstr("nobody"));
}

TEST(BookmarkTest, ChildThatOutlivesTheParentsTimeoutIsCancelled) {
  Family f(R"~(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: child, timeout: 1m}
)~",
           R"~(
id: child
activities:
  - {id: hello, type: WriteLine, text: "{{ workflow.instanceId }}"}
  - {id: wait, type: WaitForEvent, event: never}
)~");
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok());
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  ASSERT_NE(p, nullptr);
  EXPECT_EQ(StatusOf(p->state), "Faulted");
  ASSERT_EQ(p->state.incidents.size(), 1u);
  EXPECT_EQ(p->state.incidents[0].kind, "Timeout");
  EXPECT_EQ(p->state.incidents[0].activity_id, "run");
  ASSERT_EQ(f.lines.size(), 1u);
  const LocalInstance* c = f.runner->Find(f.lines[0]);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(c->state.parent_id, *id);
  EXPECT_EQ(StatusOf(c->state), "Cancelled");
}

TEST(BookmarkTest, PublishedEventResumesAnotherInstancesWaitWithTheSameCorrelation) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto waiter = CompileYaml(R"~(
id: waiter
inputs: {order: {type: string}}
activities:
  - {id: wait, type: WaitForEvent, event: shipped, correlation: "{{ input.order }}"}
  - {id: say, type: WriteLine, text: "{{ input.order }} shipped by {{ outputs.wait.carrier }}"}
)~");
  auto publisher = CompileYaml(R"~(
id: publisher
activities:
  - {id: pub, type: PublishEvent, event: shipped, correlation: "o-2", payload: {carrier: "DHL"}}
)~");
  ASSERT_TRUE(waiter && publisher);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), {}, /*fast_timers=*/true);
  StartOptions a, b;
  a.input = {{"order", "o-1"}};
  b.input = {{"order", "o-2"}};
  auto wa = runner.Start(waiter, a);
  auto wb = runner.Start(waiter, b);
  ASSERT_TRUE(wa.ok() && wb.ok());
  runner.Run();
  auto pub = runner.Start(publisher, {});
  ASSERT_TRUE(pub.ok());
  runner.Run();
  EXPECT_EQ(StatusOf(runner.Find(*pub)->state), "Completed");
  EXPECT_EQ(StatusOf(runner.Find(*wa)->state), "Suspended") << "o-1 is not the published correlation";
  EXPECT_EQ(StatusOf(runner.Find(*wb)->state), "Completed");
  EXPECT_THAT(lines, ElementsAre("o-2 shipped by DHL"));
}

TEST(BookmarkTest, QueuedEventIsDeliveredOnceTheWaitExists) {
  ManualClock clock(T0());
  std::vector<std::string> lines;
  auto wf = CompileYaml(R"~(
id: late-wait
activities:
  - {id: nap, type: Delay, duration: 1h}
  - {id: wait, type: WaitForEvent, event: go}
  - {id: say, type: WriteLine, text: "went {{ outputs.wait }}"}
)~");
  ASSERT_TRUE(wf);
  LocalRunner runner(BuiltinActivities(), RunnerServices(&clock, &lines), {}, /*fast_timers=*/true);
  auto id = runner.Start(wf, {});
  ASSERT_TRUE(id.ok());
  runner.QueueEvent({"go", "", Json(1)});
  runner.Run();
  EXPECT_EQ(StatusOf(runner.Find(*id)->state), "Completed");
  EXPECT_THAT(lines, ElementsAre("went 1"));
  EXPECT_TRUE(runner.undelivered_events().empty());
}

TEST(BookmarkTest, CancelClearsBookmarksAndEmitsCancelChildForChildren) {
  Harness h(R"~(
id: parent
activities:
  - {id: start, type: Noop}
  - {id: run, type: RunWorkflow, workflow: child}
  - {id: nap, type: Delay, duration: 1h}
  - {id: wait, type: WaitForEvent, event: e}
connections:
  - {from: start, to: run}
  - {from: start, to: nap}
  - {from: start, to: wait}
)~");
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(h.state.bookmarks.size(), 3u);
  const Bookmark* child = h.FindBookmark("run");
  ASSERT_NE(child, nullptr);
  std::string child_id = child->child_id;
  ASSERT_FALSE(child_id.empty());
  h.state.outbox.clear();  // the host drained the startChild

  h.clock.Advance(seconds(5));
  h.engine->Cancel(*h.wf, h.state, "operator asked");
  EXPECT_EQ(StatusOf(h.state), "Cancelled");
  EXPECT_TRUE(h.state.bookmarks.empty());
  EXPECT_EQ(h.state.ready_count(), 0u);
  EXPECT_EQ(h.state.finished_at, T0() + seconds(5));
  EXPECT_FALSE(Engine::NextDue(h.state).has_value());
  EXPECT_TRUE(Engine::MatchEvent(h.state, "e", "").empty());
  ASSERT_EQ(h.state.outbox.size(), 1u);
  EXPECT_EQ(h.state.outbox[0].kind, "cancelChild");
  EXPECT_EQ(h.state.outbox[0].payload["instanceId"], child_id);

  // Cancelling again changes nothing.
  h.state.outbox.clear();
  h.engine->Cancel(*h.wf, h.state, "again");
  EXPECT_TRUE(h.state.outbox.empty());
  EXPECT_EQ(StatusOf(h.state), "Cancelled");
}

TEST(BookmarkTest, CancellingAParentThroughTheRunnerCancelsItsChild) {
  Family f(kParent, R"~(
id: child
activities:
  - {id: wait, type: WaitForEvent, event: never}
)~");
  auto id = f.runner->Start(f.parent, {});
  ASSERT_TRUE(id.ok());
  f.runner->Run();
  const LocalInstance* p = f.runner->Find(*id);
  ASSERT_EQ(StatusOf(p->state), "Suspended");
  std::string child_id = p->state.bookmarks.at(0).child_id;
  const LocalInstance* c = f.runner->Find(child_id);
  ASSERT_NE(c, nullptr);
  EXPECT_EQ(StatusOf(c->state), "Suspended");
  EXPECT_EQ(c->state.parent_id, *id);

  f.runner->Cancel(*id, "stop");
  EXPECT_EQ(StatusOf(p->state), "Cancelled");
  EXPECT_EQ(StatusOf(c->state), "Cancelled");
  EXPECT_TRUE(c->state.bookmarks.empty());
}

TEST(BookmarkTest, CancelOfARunningInstanceDropsReadyWork) {
  Harness h(R"~(
id: running
activities:
  - {id: a, type: WriteLine, text: "a"}
  - {id: b, type: WriteLine, text: "b"}
  - {id: c, type: WriteLine, text: "c"}
)~");
  ASSERT_TRUE(h.Start());
  h.engine->RunBurst(*h.wf, h.state, {}, 1);
  EXPECT_THAT(h.lines, ElementsAre("a"));
  h.engine->Cancel(*h.wf, h.state, "stop");
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Cancelled");
  EXPECT_THAT(h.lines, ElementsAre("a"));
}

TEST(BookmarkTest, RetryOfAFaultedInstanceResumesFromTheFailedActivityWithVariablesAsTheyWere) {
  Harness h(R"~(
id: retry-instance
variables: {counter: 0}
activities:
  - {id: set, type: SetVariable, name: counter, value: 5}
  - {id: before, type: WriteLine, text: "before"}
  - {id: call, type: HttpRequest, url: "https://api.test/x"}
  - {id: after, type: WriteLine, text: "counter={{ vars.counter }} status={{ outputs.call.status }}"}
)~");
  h.http.Reply(FakeHttpClient::Response(500));
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.state.variables["counter"], 5);
  EXPECT_THAT(h.lines, ElementsAre("before"));

  h.clock.Advance(minutes(10));
  Status st = h.engine->Retry(*h.wf, h.state);
  ASSERT_TRUE(st.ok()) << st.ToString();
  EXPECT_FALSE(h.state.finished_at.has_value());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("before", "counter=5 status=200"));
  EXPECT_EQ(h.Count("set"), 1u) << "activities before the failure are not re-run";
  EXPECT_EQ(h.Count("before"), 1u);
  auto call = h.Records("call");
  ASSERT_EQ(call.size(), 2u);
  EXPECT_EQ(call[0]->status, "Faulted");
  EXPECT_EQ(call[1]->status, "Completed");
  EXPECT_GT(call[1]->attempt, call[0]->attempt);
  EXPECT_EQ(h.http.sent.size(), 2u);
}

TEST(BookmarkTest, RetryOfAFaultedInstanceInsideALoopContinuesTheLoop) {
  Harness h(R"~(
id: retry-loop
variables: {sum: 0}
activities:
  - {id: loop, type: ForEach, items: [1, 2, 3]}
  - {id: call, type: HttpRequest, url: "https://api.test/{{ item }}"}
  - {id: add, type: SetVariable, name: sum, value: "{{ vars.sum + item }}"}
  - {id: done, type: WriteLine, text: "sum={{ vars.sum }}"}
connections:
  - {from: loop, outcome: Iterate, to: call}
  - {from: call, to: add}
  - {from: loop, outcome: Done, to: done}
)~");
  bool failed = false;
  h.http.responder = [&](const FakeHttpClient::Sent& s) -> Result<HttpResponseData> {
    if (s.url.ends_with("/2") && !failed) {
      failed = true;
      return Unavailable("down");
    }
    return FakeHttpClient::Response(200);
  };
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.state.variables["sum"], 1);
  ASSERT_TRUE(h.engine->Retry(*h.wf, h.state).ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("sum=6"));
  EXPECT_EQ(h.Count("add"), 3u);
}

TEST(BookmarkTest, RetryOfAnInstanceThatIsNotFaultedIsRefused) {
  Harness h(kEventWait);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "1"}}));
  Status st = h.engine->Retry(*h.wf, h.state);
  EXPECT_EQ(st.code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(StatusOf(h.state), "Suspended");
}

}  // namespace
}  // namespace trellis::engine_test
