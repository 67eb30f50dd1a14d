// WaitForEvent and PublishEvent.
#include <chrono>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using activity_test::Compile;
using activity_test::Harness;
using activity_test::Incidents;
using activity_test::RunnerHarness;
using activity_test::T0;

// DESIGN.md's approval step, as in examples/approval.yaml.
constexpr const char* kApproval = R"(id: approval
inputs: {orderId: {type: string, required: true}}
activities:
  - {id: approve, type: WaitForEvent, event: order.approved, correlation: "{{ input.orderId }}", timeout: 48h}
  - {id: approved, type: SetOutput, name: decision, value: "approved by {{ outputs.approve.by }}"}
  - {id: expired, type: SetOutput, name: decision, value: expired}
connections:
  - {from: approve, outcome: Done, to: approved}
  - {from: approve, outcome: Timeout, to: expired}
)";

// --- WaitForEvent --------------------------------------------------------------------------------

TEST(WaitForEventTest, SuspendsOnAnEventBookmarkWithTheEvaluatedCorrelation) {
  Harness h;
  auto wf = Compile(kApproval);
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"orderId", "A-1"}});
  EXPECT_EQ(s.status, InstanceStatus::kSuspended) << Incidents(s);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  const Bookmark& b = s.bookmarks[0];
  EXPECT_EQ(b.kind, BookmarkKind::kEvent);
  EXPECT_EQ(b.activity_id, "approve");
  EXPECT_EQ(b.event, "order.approved");
  EXPECT_EQ(b.correlation, "A-1");
  EXPECT_EQ(Engine::NextDue(s), T0() + 48h);
}

TEST(WaitForEventTest, AMatchingEventResumesWithThePayloadAsOutput) {
  Harness h;
  auto wf = Compile(kApproval);
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"orderId", "A-1"}});
  EXPECT_TRUE(Engine::MatchEvent(s, "order.approved", "B-2").empty());
  EXPECT_TRUE(Engine::MatchEvent(s, "order.rejected", "A-1").empty());
  auto matches = Engine::MatchEvent(s, "order.approved", "A-1");
  ASSERT_EQ(matches.size(), 1u);

  h.clock().Advance(1h);
  ASSERT_TRUE(h.engine().ResumeBookmark(*wf, s, matches[0], ResumeReason::kEvent, {{"by", "ann"}}).ok());
  h.Continue(*wf, s);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.output, Json({{"decision", "approved by ann"}}));
  EXPECT_EQ(s.outputs["approve"], Json({{"by", "ann"}}));
  const JournalRecord* r = h.Record("approve");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->outcome, "Done");
  EXPECT_EQ(r->started_at, T0());
  EXPECT_EQ(r->finished_at, T0() + 1h);
  EXPECT_FALSE(Engine::NextDue(s).has_value());  // the timeout is gone with the bookmark
}

TEST(WaitForEventTest, WithoutCorrelationAnyEventOfThatNameMatches) {
  Harness h;
  auto wf = Compile("activities: [{id: w, type: WaitForEvent, event: tick}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(Engine::MatchEvent(s, "tick", "whatever").size(), 1u);
  EXPECT_EQ(Engine::MatchEvent(s, "tick", "").size(), 1u);
  EXPECT_FALSE(Engine::NextDue(s).has_value());  // no timeout: waits forever
}

TEST(WaitForEventTest, TimeoutTakesTheTimeoutOutcome) {
  Harness h;
  auto wf = Compile(kApproval);
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"orderId", "A-1"}});
  h.AdvanceAndFire(*wf, s, 48h - 1ms);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  h.AdvanceAndFire(*wf, s, 1ms);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.output, Json({{"decision", "expired"}}));
  EXPECT_TRUE(s.incidents.empty());
  ASSERT_NE(h.Record("approve"), nullptr);
  EXPECT_EQ(h.Record("approve")->outcome, "Timeout");
  EXPECT_EQ(h.Record("approve")->status, "Completed");
}

TEST(WaitForEventTest, TimeoutFromATemplate) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: w, type: WaitForEvent, event: go, timeout: "{{ input.wait }}"}
  - {id: late, type: WriteLine, text: late}
connections: [{from: w, outcome: Timeout, to: late}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"wait", "90s"}});
  EXPECT_EQ(Engine::NextDue(s), T0() + 90s);
  h.AdvanceAndFire(*wf, s, 90s);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"late"});
}

TEST(WaitForEventTest, TimeoutWithoutATimeoutConnectionJustCompletes) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: w, type: WaitForEvent, event: go, timeout: 5m}
  - {id: next, type: WriteLine, text: next}
connections: [{from: w, to: next}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  h.AdvanceAndFire(*wf, s, 5min);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_TRUE(h.lines().empty());  // Timeout is not Done
}

TEST(WaitForEventTest, QueuedEventIsDeliveredByTheRunner) {
  RunnerHarness rh;
  auto wf = Compile(kApproval);
  ASSERT_TRUE(wf);
  std::string a1 = rh.Start(wf, {{"orderId", "A-1"}});
  std::string b2 = rh.Start(wf, {{"orderId", "B-2"}});
  rh.Run();
  EXPECT_EQ(rh.Status(a1), InstanceStatus::kSuspended);
  EXPECT_EQ(rh.Status(b2), InstanceStatus::kSuspended);

  rh.runner().QueueEvent({"order.approved", "B-2", {{"by", "bob"}}});
  rh.runner().QueueEvent({"order.shipped", "A-1", {{"by", "x"}}});  // nobody waits for it
  rh.Run();
  EXPECT_EQ(rh.Status(a1), InstanceStatus::kSuspended);
  EXPECT_EQ(rh.Status(b2), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Get(b2).state.output, Json({{"decision", "approved by bob"}}));
  ASSERT_EQ(rh.runner().undelivered_events().size(), 1u);
  EXPECT_EQ(rh.runner().undelivered_events()[0].name, "order.shipped");
}

// --- PublishEvent --------------------------------------------------------------------------------

TEST(PublishEventTest, WritesAnOutboxItemAndIsACommitPoint) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: pub, type: PublishEvent, event: order.approved, correlation: "{{ input.id }}",
     payload: {by: "{{ input.who }}", at: 5}}
)");
  ASSERT_TRUE(wf);
  StartOptions options;
  options.input = {{"id", "A-1"}, {"who", "ann"}};
  auto started = h.engine().Start(*wf, options);
  ASSERT_TRUE(started.ok());
  InstanceState s = std::move(started).value();
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kCommitPoint);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(s.outbox.size(), 1u);
  EXPECT_EQ(s.outbox[0].kind, "publishEvent");
  EXPECT_EQ(s.outbox[0].payload["event"], "order.approved");
  EXPECT_EQ(s.outbox[0].payload["correlation"], "A-1");
  EXPECT_EQ(s.outbox[0].payload["payload"], Json({{"by", "ann"}, {"at", 5}}));
  EXPECT_EQ(s.outbox[0].payload["sourceInstanceId"], s.id);
}

TEST(PublishEventTest, ResumesAnotherInstancesWaitForEventThroughTheRunner) {
  RunnerHarness rh;
  auto waiter = Compile(kApproval);
  auto publisher = Compile(R"(id: approver
activities:
  - {id: pub, type: PublishEvent, event: order.approved, correlation: "{{ input.orderId }}",
     payload: {by: "{{ input.by }}"}}
)");
  ASSERT_TRUE(waiter && publisher);
  std::string a1 = rh.Start(waiter, {{"orderId", "A-1"}});
  std::string b2 = rh.Start(waiter, {{"orderId", "B-2"}});
  rh.Run();
  ASSERT_EQ(rh.Status(a1), InstanceStatus::kSuspended);

  std::string p = rh.Start(publisher, {{"orderId", "A-1"}, {"by", "carol"}});
  rh.Run();
  EXPECT_EQ(rh.Status(p), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Status(a1), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Get(a1).state.output, Json({{"decision", "approved by carol"}}));
  EXPECT_EQ(rh.Status(b2), InstanceStatus::kSuspended);  // another correlation
}

TEST(PublishEventTest, EventNameIsRequired) {
  auto errors = activity_test::CompileErrors("activities: [{id: p, type: PublishEvent, payload: 1}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.event");

  Harness h;
  auto wf = Compile("activities: [{id: p, type: PublishEvent, event: \"{{ '' }}\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_TRUE(s.outbox.empty());
}

}  // namespace
}  // namespace trellis
