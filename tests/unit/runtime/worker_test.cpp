// The durable runtime in one process on a real SQLite store: bursts and commit points, timers that
// survive a restart, events that race suspensions, children, cancellation, graceful stop and
// retention. Multi-process guarantees (SIGKILL, SIGSTOP, several nodes) are in tests/cluster/.
#include <gtest/gtest.h>

#include <filesystem>
#include <future>
#include <random>
#include <thread>

#include "activities/builtin.h"
#include "activities/http_client.h"
#include "model/parser.h"
#include "runtime/definitions.h"
#include "runtime/new_instance.h"
#include "runtime/node.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store_util.h"
#include "support/sqlite_runtime_fixture.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;

class RuntimeTest : public test::SqliteRuntimeTest {
 protected:
  void TearDown() override {
    nodes_.clear();
    SqliteRuntimeTest::TearDown();
  }

  InstanceRecord RunIntoTheStopDeadline(bool answers, int* second_calls);

  Node& StartNode(NodeOptions options = {}, HttpClient* http = nullptr) {
    EngineServices services;
    services.clock = clock_;
    services.http = http;
    services.write_line = [](std::string_view) {};
    options.worker.concurrency = 2;
    options.worker.lease = lease_;
    options.worker.poll_interval = 50ms;
    options.scheduler.poll_interval = 50ms;
    nodes_.push_back(std::make_unique<Node>(*store_, BuiltinActivities(), services, options));
    nodes_.back()->Start();
    return *nodes_.back();
  }

  std::vector<JournalEntry> Journal(const std::string& id) {
    auto page = store_->ListJournal(id, 0, 1000);
    EXPECT_TRUE(page.ok());
    return page.ok() ? page->items : std::vector<JournalEntry>{};
  }

  // Runs a new instance of `workflow` through Worker::RunNow; its report (empty id on failure) and
  // the instance id in `id`.
  BurstReport ExecuteNow(Node& node, const std::string& workflow, std::string* id = nullptr) {
    auto prepared = node.PrepareInstance(workflow, std::nullopt, {});
    EXPECT_TRUE(prepared.ok());
    if (!prepared.ok()) return {};
    if (id != nullptr) *id = prepared->second.id;
    std::promise<BurstReport> done;
    Status s = node.worker().RunNow(prepared->first, std::move(prepared->second),
                                    [&](BurstReport r) { done.set_value(std::move(r)); });
    EXPECT_TRUE(s.ok()) << s.message();
    if (!s.ok()) return {};
    auto future = done.get_future();
    EXPECT_EQ(future.wait_for(20s), std::future_status::ready);
    return future.wait_for(0s) == std::future_status::ready ? future.get() : BurstReport{};
  }

  std::chrono::milliseconds lease_ = 5s;
  std::vector<std::unique_ptr<Node>> nodes_;
};

// Three pure steps; the output `result` is 2.
constexpr const char* kThreeSteps = R"(activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: "{{ vars.x + 1 }}"}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.y }}"}
)";

TEST_F(RuntimeTest, RunsAWorkflowToCompletionWithAJournalRecordPerStep) {
  Save(std::string("id: three\noptions: {commit: activity}\n") + kThreeSteps);
  Node& node = StartNode();
  auto id = node.StartWorkflow("three", std::nullopt, {});
  ASSERT_TRUE(id.ok()) << id.status().message();
  InstanceRecord r = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(r.state["output"]["result"], 2);
  EXPECT_FALSE(r.runnable);
  auto journal = Journal(*id);
  ASSERT_EQ(journal.size(), 3u);
  EXPECT_EQ(journal[0].record.activity_id, "a");
  EXPECT_EQ(journal[2].record.activity_id, "c");
  // commit: activity makes each step a commit point. The first is the insert: the node adopts
  // what it starts, and its worker ran `a` before writing the row (RunAhead); b and c are commits
  // (read after the stop: the committer counts a commit just after the store has it).
  node.Stop(5s);
  EXPECT_EQ(node.worker().counters().commits.load(), 2);
  EXPECT_EQ(node.worker().counters().adopted.load(), 1);
}

// A wholly pure workflow (no commit of its own before its end) completes before its row exists,
// on both paths that run ahead: the insert writes it finished and is its only write. The worker
// commits nothing and adopts nothing, and counts it completed.
TEST_F(RuntimeTest, APureWorkflowIsWrittenOnceFinished) {
  Save(std::string("id: pure\n") + kThreeSteps);
  Node& node = StartNode();
  const Worker::Counters& counters = node.worker().counters();
  auto started = node.StartWorkflow("pure", std::nullopt, {});
  ASSERT_TRUE(started.ok()) << started.status().message();
  std::string executed;
  BurstReport report = ExecuteNow(node, "pure", &executed);
  EXPECT_TRUE(report.committed);
  EXPECT_EQ(report.status, InstanceStatus::kCompleted);
  EXPECT_EQ(report.state["output"]["result"], 2);
  for (const std::string& id : {*started, executed}) {
    SCOPED_TRACE(id);
    auto r = store_->GetInstance(id);  // stored as soon as the call returned
    ASSERT_TRUE(r.ok()) << r.status().ToString();
    EXPECT_EQ(r->status, InstanceStatus::kCompleted);
    EXPECT_EQ(r->state["output"]["result"], 2);
    EXPECT_TRUE(r->finished_at.has_value());
    EXPECT_FALSE(r->runnable);
    EXPECT_TRUE(r->lease_owner.empty());
    auto journal = Journal(id);
    ASSERT_EQ(journal.size(), 3u);
    EXPECT_EQ(journal[0].record.activity_id, "a");
    EXPECT_EQ(journal[2].record.activity_id, "c");
  }
  EXPECT_EQ(node.worker().in_flight(), 0u);
  node.Stop(5s);
  EXPECT_EQ(counters.commits.load(), 0);
  EXPECT_EQ(counters.adopted.load(), 0);
  EXPECT_EQ(counters.claimed.load(), 0);
  EXPECT_EQ(counters.completed.load(), 2);
}

// A pure step, an HTTP call, a pure step.
constexpr const char* kCallBetweenTwoSteps = R"(
id: calls
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: call, type: HttpRequest, url: "https://api.test/x"}
  - {id: c, type: SetOutput, name: done, value: true}
)";

// Answers every call, and records whether the calling instance's row was in the store by then
// (the instance id is the first part of the Idempotency-Key HttpRequest sends).
class RowCheckingHttp : public HttpClient {
 public:
  explicit RowCheckingHttp(Store& store) : store_(store) {}
  Result<HttpResponseData> Send(const HttpRequestSpec& request) override {
    std::string key;
    for (const auto& [name, value] : request.headers)
      if (name == "Idempotency-Key") key = value;
    calls++;
    if (key.empty() || !store_.GetInstance(key.substr(0, key.find(':'))).ok()) unstored++;
    HttpResponseData r;
    r.status = 200;
    r.headers = {{"content-type", "application/json"}};
    r.body = "{}";
    return r;
  }
  std::atomic<int> calls{0};
  std::atomic<int> unstored{0};  // calls made for an instance not yet in the store

 private:
  Store& store_;
};

// New instances run their first pure steps before they are written (RunAhead), on both paths
// that do it: a start the node's worker adopts, and a sync execute (RunNow). An activity with an
// external effect never runs before the instance is stored, and each step is journaled once.
TEST_F(RuntimeTest, AnExternalEffectRunsOnlyOnceItsInstanceIsStored) {
  Save(kCallBetweenTwoSteps);
  RowCheckingHttp http(*store_);
  Node& node = StartNode({}, &http);
  auto started = node.StartWorkflow("calls", std::nullopt, {});
  ASSERT_TRUE(started.ok()) << started.status().message();
  auto prepared = node.PrepareInstance("calls", std::nullopt, {});
  ASSERT_TRUE(prepared.ok()) << prepared.status().message();
  std::string sync_id = prepared->second.id;
  std::promise<BurstReport> report;
  ASSERT_TRUE(node.worker()
                  .RunNow(prepared->first, std::move(prepared->second),
                          [&report](BurstReport r) { report.set_value(std::move(r)); })
                  .ok());
  auto answered = report.get_future();
  ASSERT_EQ(answered.wait_for(20s), std::future_status::ready);
  EXPECT_EQ(answered.get().status, InstanceStatus::kCompleted);
  WaitFor(*started, InstanceStatus::kCompleted);
  EXPECT_EQ(http.calls.load(), 2);
  EXPECT_EQ(http.unstored.load(), 0);
  for (const std::string& id : {*started, sync_id}) {
    std::vector<std::string> ids;
    for (const auto& e : Journal(id)) ids.push_back(e.record.activity_id);
    EXPECT_EQ(ids, (std::vector<std::string>{"a", "call", "c"})) << id;
  }
}

// Holds every call until the worker aborts in-flight I/O (its stop deadline passed), then fails
// it, as libcurl does; or, with `answers`, answers it with a 200 (a reply that came in just then).
class HangingHttp : public HttpClient {
 public:
  explicit HangingHttp(bool answers = false) : answers_(answers) {}
  Result<HttpResponseData> Send(const HttpRequestSpec& request) override {
    calls++;
    while (request.cancel == nullptr || !request.cancel->load()) std::this_thread::sleep_for(1ms);
    if (!answers_) return Unavailable("aborted by the worker");
    HttpResponseData r;
    r.status = 200;
    r.body = "{}";
    return r;
  }
  std::atomic<int> calls{0};

 private:
  bool answers_;
};

// A stop past its deadline aborts the call in flight. The step it cut short is not committed (it
// used to fault the instance: the aborted call is an activity failure), and the lease is given back
// at once, so another node continues from the last commit and makes the call again.
// Starts kCallBetweenTwoSteps on a node whose call hangs until its stop deadline passes (then fails,
// or with `answers` succeeds), stops that node past the deadline, and has a second node finish the
// instance. Returns the instance as the stop left it; *second_calls: the calls the second node made.
InstanceRecord RuntimeTest::RunIntoTheStopDeadline(bool answers, int* second_calls) {
  Save(kCallBetweenTwoSteps);
  HangingHttp hanging(answers);
  Node& first = StartNode({}, &hanging);
  auto id = first.StartWorkflow("calls", std::nullopt, {});
  EXPECT_TRUE(id.ok()) << id.status().message();
  if (!id.ok()) return {};
  auto until = std::chrono::steady_clock::now() + 20s;
  while (hanging.calls.load() == 0 && std::chrono::steady_clock::now() < until)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(hanging.calls.load(), 1);
  first.Stop(50ms);
  auto stopped = store_->GetInstance(*id);
  EXPECT_TRUE(stopped.ok());

  RowCheckingHttp answering(*store_);
  StartNode({}, &answering);
  InstanceRecord done = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(done.state["output"]["done"], true);
  std::vector<std::string> ids;
  for (const auto& e : Journal(*id)) ids.push_back(e.record.activity_id);
  EXPECT_EQ(ids, (std::vector<std::string>{"a", "call", "c"}));
  nodes_.clear();  // before `answering` and `hanging` go
  *second_calls = answering.calls.load();
  return stopped.ok() ? *stopped : InstanceRecord{};
}

TEST_F(RuntimeTest, AStepAbortedAtTheStopDeadlineIsNotCommittedAndItsLeaseIsGivenBack) {
  int second_calls = 0;
  InstanceRecord stopped = RunIntoTheStopDeadline(false, &second_calls);
  EXPECT_EQ(stopped.status, InstanceStatus::kRunning);
  EXPECT_TRUE(stopped.lease_owner.empty());
  EXPECT_TRUE(stopped.runnable);
  EXPECT_EQ(second_calls, 1);  // the aborted call is made again
}

// A call that succeeded as the deadline passed is committed: not made again.
TEST_F(RuntimeTest, AStepThatSucceededAtTheStopDeadlineIsCommitted) {
  int second_calls = 0;
  InstanceRecord stopped = RunIntoTheStopDeadline(true, &second_calls);
  EXPECT_EQ(stopped.status, InstanceStatus::kRunning);
  EXPECT_TRUE(stopped.lease_owner.empty());
  EXPECT_TRUE(stopped.runnable);
  EXPECT_EQ(second_calls, 0);
}

TEST_F(RuntimeTest, StartsAreAdoptedWhileTheWorkerHasRoomAndClaimedOtherwise) {
  Save(R"(
id: three
options: {commit: activity}
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: 2}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.x + vars.y }}"}
)");
  NodeOptions options;
  options.worker.max_in_flight = 4;
  Node& node = StartNode(options);
  const Worker::Counters& counters = node.worker().counters();

  // Room: the instance is written already leased to this worker and runs without a claim.
  auto adopted = node.StartWorkflow("three", std::nullopt, {});
  ASSERT_TRUE(adopted.ok()) << adopted.status().message();
  EXPECT_EQ(WaitFor(*adopted, InstanceStatus::kCompleted).state["output"]["result"], 3);
  EXPECT_EQ(counters.adopted.load(), 1);
  EXPECT_EQ(counters.claimed.load(), 0);
  // The worker lets go of an instance just after its last commit.
  auto idle = [&] {
    for (int i = 0; i < 2000 && node.worker().in_flight() != 0; ++i) std::this_thread::sleep_for(5ms);
    return node.worker().in_flight() == 0;
  };
  EXPECT_TRUE(idle());

  // Adoption leaves one claim batch of room (here capped at half of max_in_flight, 2 of 4); past
  // it, the instance is written for any worker and this worker claims it with the room left.
  ASSERT_EQ(node.worker().Reserve(10), 2u);
  EXPECT_EQ(node.worker().Reserve(1), 0u);
  auto queued = node.StartWorkflow("three", std::nullopt, {});
  ASSERT_TRUE(queued.ok()) << queued.status().message();
  EXPECT_EQ(WaitFor(*queued, InstanceStatus::kCompleted).state["output"]["result"], 3);
  EXPECT_EQ(counters.adopted.load(), 1);
  EXPECT_EQ(counters.claimed.load(), 1);
  node.worker().Unreserve(2);

  // A start that creates nothing (an existing id) hands its reserved place back.
  ASSERT_TRUE(idle());
  ASSERT_TRUE(node.StartWorkflow("three", std::nullopt, {.instance_id = *adopted}).ok());
  EXPECT_EQ(node.worker().in_flight(), 0u);
  EXPECT_EQ(counters.adopted.load(), 1);

  // A stopped worker reserves nothing.
  node.Stop(5s);
  EXPECT_EQ(node.worker().Reserve(1), 0u);
}

// With room for many instances, a node's own starts may fill all of it but one claim batch: a start
// past that is claimed (another write of its row), so the share kept for claims stays small.
TEST_F(RuntimeTest, AdoptionLeavesOneClaimBatchForClaims) {
  NodeOptions options;
  options.worker.max_in_flight = 10;
  options.worker.claim_batch = 3;
  Node& node = StartNode(options);
  EXPECT_EQ(node.worker().Reserve(100), 7u);
  EXPECT_EQ(node.worker().Reserve(1), 0u);
  node.worker().Unreserve(2);
  EXPECT_EQ(node.worker().Reserve(5), 2u);
  node.worker().Unreserve(7);
  EXPECT_EQ(node.worker().in_flight(), 0u);
}

// A start written while the worker stopped past its deadline: the adopted instance's lease is
// given back at once, so that another worker runs it now rather than after the lease.
TEST_F(RuntimeTest, AnInstanceAdoptedAfterTheWorkerStoppedIsReleased) {
  Save(R"(
id: late
activities:
  - {id: a, type: SetOutput, name: v, value: 1}
)");
  Node& node = StartNode();
  auto prepared = node.PrepareInstance("late", std::nullopt, {});
  ASSERT_TRUE(prepared.ok());
  ASSERT_EQ(node.worker().Reserve(1), 1u);
  NewInstance row = NewInstanceFrom(prepared->second, *prepared->first);
  row.lease_owner = node.id();
  row.lease = 1h;
  row.runnable = false;
  ASSERT_TRUE(store_->CreateInstances({row}).ok());
  node.Stop(0ms);  // the deadline passes with the reserved place still in flight
  node.worker().Adopt(prepared->first, prepared->second, 1);
  EXPECT_EQ(node.worker().in_flight(), 0u);
  InstanceRecord released = store_->GetInstance(row.id).value();
  EXPECT_TRUE(released.lease_owner.empty());
  EXPECT_TRUE(released.runnable);
  StartNode();
  WaitFor(row.id, InstanceStatus::kCompleted);
}

TEST_F(RuntimeTest, ADurableTimerFiresInAnotherNodeAfterTheFirstStops) {
  Save(R"(
id: delayed
activities:
  - {id: wait, type: Delay, duration: 300ms}
  - {id: done, type: SetOutput, name: ok, value: true}
)");
  Node& first = StartNode();
  auto id = first.StartWorkflow("delayed", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  InstanceRecord suspended = WaitFor(*id, InstanceStatus::kSuspended);
  ASSERT_TRUE(suspended.wake_at.has_value());
  first.Stop(5s);

  StartNode();
  InstanceRecord done = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(done.state["output"]["ok"], true);
  EXPECT_GE(done.finished_at.value(), *suspended.wake_at);
}

TEST_F(RuntimeTest, AnEventSentBeforeTheInstanceWaitsIsHeldAndResumesItOnce) {
  Save(R"(
id: waiter
inputs: {order: {type: string, required: true}}
activities:
  - {id: w, type: WaitForEvent, event: paid, correlation: "{{ input.order }}"}
  - {id: out, type: SetOutput, name: paid, value: "{{ outputs.w.amount }}"}
)");
  // Delivered before any instance exists: held.
  auto early = store_->DeliverEvent({"paid", "o-1", {{"amount", 5}}}, 60s, clock_->Now());
  ASSERT_TRUE(early.ok());
  EXPECT_TRUE(early->held);

  Node& node = StartNode();
  auto id = node.StartWorkflow("waiter", std::nullopt, {.input = {{"order", "o-1"}}});
  ASSERT_TRUE(id.ok()) << id.status().message();
  InstanceRecord r = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(r.state["output"]["paid"], 5);

  // A second instance for another order waits; the same event again finds nobody of its order.
  auto other = node.StartWorkflow("waiter", std::nullopt, {.input = {{"order", "o-2"}}});
  ASSERT_TRUE(other.ok());
  WaitFor(*other, InstanceStatus::kSuspended);
  auto resumed = store_->DeliverEvent({"paid", "o-2", {{"amount", 7}}}, 60s, clock_->Now());
  ASSERT_TRUE(resumed.ok());
  EXPECT_EQ(resumed->resumed, 1);
  EXPECT_EQ(WaitFor(*other, InstanceStatus::kCompleted).state["output"]["paid"], 7);
}

TEST_F(RuntimeTest, AChildRunsThroughTheOutboxAndResumesItsParent) {
  Save(R"(
id: child
inputs: {n: {type: number}}
activities:
  - {id: c, type: SetOutput, name: doubled, value: "{{ input.n * 2 }}"}
)");
  Save(R"(
id: parent
activities:
  - {id: run, type: RunWorkflow, workflow: child, input: {n: 21}}
  - {id: out, type: SetOutput, name: answer, value: "{{ outputs.run.doubled }}"}
)");
  Node& node = StartNode();
  auto id = node.StartWorkflow("parent", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  InstanceRecord r = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(r.state["output"]["answer"], 42);
  auto children = store_->ListInstances({.parent_id = *id});
  ASSERT_TRUE(children.ok());
  ASSERT_EQ(children->items.size(), 1u);
  EXPECT_EQ(children->items[0].status, InstanceStatus::kCompleted);
}

TEST_F(RuntimeTest, CancellingAParentCancelsItsWaitingChild) {
  Save(R"(
id: sleeper
activities:
  - {id: w, type: WaitForEvent, event: never}
)");
  Save(R"(
id: boss
activities:
  - {id: run, type: RunWorkflow, workflow: sleeper}
)");
  Node& node = StartNode();
  auto id = node.StartWorkflow("boss", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  WaitFor(*id, InstanceStatus::kSuspended);
  std::string child_id;
  for (int i = 0; i < 500 && child_id.empty(); ++i) {
    auto children = store_->ListInstances({.status = InstanceStatus::kSuspended, .parent_id = *id});
    if (children.ok() && !children->items.empty())
      child_id = children->items[0].id;
    else
      std::this_thread::sleep_for(10ms);
  }
  ASSERT_FALSE(child_id.empty());
  ASSERT_TRUE(store_->Deliver({*id, InboxKind::kCancel, "", {{"reason", "test"}}}, clock_->Now()).ok());
  WaitFor(*id, InstanceStatus::kCancelled);
  WaitFor(child_id, InstanceStatus::kCancelled);
}

TEST_F(RuntimeTest, GracefulStopGivesLeasesBackAndAnotherNodeFinishes) {
  Save(R"(
id: slow
activities:
  - {id: a, type: Delay, duration: 200ms}
  - {id: b, type: SetOutput, name: ok, value: 1}
)");
  Node& first = StartNode();
  std::vector<std::string> ids;
  for (int i = 0; i < 20; ++i) {
    auto id = first.StartWorkflow("slow", std::nullopt, {});
    ASSERT_TRUE(id.ok());
    ids.push_back(*id);
  }
  first.Stop(5s);
  EXPECT_EQ(first.worker().in_flight(), 0u);
  for (const auto& id : ids) {
    auto r = store_->GetInstance(id);
    ASSERT_TRUE(r.ok());
    EXPECT_TRUE(r->lease_owner.empty()) << "a lease outlived a graceful stop";
  }
  auto nodes = store_->ListNodes(TimePoint{});
  ASSERT_TRUE(nodes.ok());
  EXPECT_TRUE(nodes->empty()) << "the stopped node's row was not removed";
  StartNode();
  for (const auto& id : ids) WaitFor(id, InstanceStatus::kCompleted);
}

TEST_F(RuntimeTest, SyncExecutionRunsInTheReceivingNode) {
  Save(R"(
id: quick
activities:
  - {id: a, type: SetOutput, name: v, value: 3}
)");
  Node& node = StartNode();
  BurstReport report = ExecuteNow(node, "quick");
  EXPECT_TRUE(report.committed);
  EXPECT_EQ(report.status, InstanceStatus::kCompleted);
  EXPECT_EQ(report.state["output"]["v"], 3);
}

TEST_F(RuntimeTest, RetentionPrunesOnlyOldFinishedInstances) {
  Save(R"(
id: tiny
activities:
  - {id: a, type: SetOutput, name: v, value: 1}
)");
  NodeOptions options;
  options.retention_finished = 1h;
  Node& node = StartNode(options);
  auto id = node.StartWorkflow("tiny", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  WaitFor(*id, InstanceStatus::kCompleted);
  auto kept = node.PruneOnce(clock_->Now());
  ASSERT_TRUE(kept.ok());
  EXPECT_EQ(*kept, 0);
  EXPECT_TRUE(store_->GetInstance(*id).ok());
  auto pruned = node.PruneOnce(clock_->Now() + 2h);
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  EXPECT_EQ(store_->GetInstance(*id).status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Journal(*id).empty());
}

TEST_F(RuntimeTest, TwoSchedulersFireEachCronTickExactlyOnce) {
  ManualClock clock(FromMillis(1'700'000'000'000));
  clock_ = &clock;
  Save(R"(
id: ticker
triggers: [{type: Cron, schedule: "* * * * * *"}]
activities:
  - {id: a, type: SetOutput, name: v, value: 1}
)");
  EngineServices services;
  services.clock = &clock;
  WorkflowCache cache(*store_, BuiltinActivities());
  Scheduler a(*store_, cache, BuiltinActivities(), services, {});
  Scheduler b(*store_, cache, BuiltinActivities(), services, {});
  int64_t created = 0;
  for (int tick = 0; tick < 10; ++tick) {
    clock.Advance(1s);
    auto x = (tick % 2 ? a : b).FireDue(clock.Now());
    auto y = (tick % 2 ? b : a).FireDue(clock.Now());
    ASSERT_TRUE(x.ok() && y.ok());
    created += *x + *y;
  }
  EXPECT_EQ(created, 10);
  auto list = store_->ListInstances({.workflow_id = "ticker", .limit = 100});
  ASSERT_TRUE(list.ok());
  EXPECT_EQ(list->items.size(), 10u);
}

TEST_F(RuntimeTest, MisfireSkipFiresOnceAndCatchUpFiresEveryMissedTick) {
  ManualClock clock(FromMillis(1'700'000'000'000));
  clock_ = &clock;
  Save(R"(
id: skipper
triggers: [{type: Cron, schedule: "* * * * * *", misfire: skip}]
activities: [{id: a, type: SetOutput, name: v, value: 1}]
)");
  Save(R"(
id: catcher
triggers: [{type: Cron, schedule: "* * * * * *", misfire: catch-up}]
activities: [{id: a, type: SetOutput, name: v, value: 1}]
)");
  EngineServices services;
  services.clock = &clock;
  WorkflowCache cache(*store_, BuiltinActivities());
  Scheduler s(*store_, cache, BuiltinActivities(), services, {.max_catch_up = 100});
  clock.Advance(30s);  // nobody ran for 30 ticks
  ASSERT_TRUE(s.FireDue(clock.Now()).ok());
  auto skipped = store_->ListInstances({.workflow_id = "skipper", .limit = 100});
  auto caught = store_->ListInstances({.workflow_id = "catcher", .limit = 100});
  ASSERT_TRUE(skipped.ok() && caught.ok());
  EXPECT_EQ(skipped->items.size(), 1u);
  EXPECT_EQ(caught->items.size(), 30u);
}

}  // namespace
}  // namespace trellis
