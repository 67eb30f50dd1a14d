// Joins (DESIGN.md section 2): `all` waits for every branch that can still arrive, `any` continues
// with the first and cancels the others; joins inside loop iterations are per iteration.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::hours;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;
using ::testing::UnorderedElementsAre;

TEST(JoinTest, AllWaitsForEveryBranchThatCanStillArrive) {
  Harness h(R"~(
id: fork-join
activities:
  - {id: fork, type: Fork, branches: [quick, slow]}
  - {id: quick, type: WriteLine, text: "quick"}
  - {id: nap, type: Delay, duration: 5s}
  - {id: slow, type: WriteLine, text: "slow"}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: quick, to: quick}
  - {from: fork, outcome: slow, to: nap}
  - {from: nap, to: slow}
  - {from: quick, to: join}
  - {from: slow, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_THAT(h.lines, ElementsAre("quick"));
  EXPECT_EQ(h.Count("join"), 0u) << "the join must wait for the slow branch";

  h.Advance(seconds(4));
  EXPECT_EQ(h.Count("join"), 0u);

  h.Advance(seconds(1));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("quick", "slow", "after"));
  EXPECT_EQ(h.Count("join"), 1u);
  EXPECT_EQ(h.Count("after"), 1u);
  EXPECT_LT(h.Position("slow"), h.Position("join"));
  EXPECT_TRUE(h.state.joins.empty());
}

TEST(JoinTest, AllMergesSeveralOutgoingConnectionsWithoutAFork) {
  Harness h(R"~(
id: implicit-fork
activities:
  - {id: start, type: Noop}
  - {id: a, type: WriteLine, text: "a"}
  - {id: b, type: WriteLine, text: "b"}
  - {id: c, type: Delay, duration: 1m}
  - {id: join, type: Join}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: start, to: a}
  - {from: start, to: b}
  - {from: start, to: c}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: c, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.Count("after"), 0u);
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.Count("join"), 1u);
  EXPECT_EQ(h.Count("after"), 1u);
}

const char* kIfJoin = R"~(
id: if-join
inputs: {flag: {type: boolean, required: true}}
activities:
  - {id: check, type: If, condition: "input.flag"}
  - {id: yes, type: WriteLine, text: "yes"}
  - {id: no, type: WriteLine, text: "no"}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: check, outcome: "True", to: yes}
  - {from: check, outcome: "False", to: no}
  - {from: yes, to: join}
  - {from: no, to: join}
  - {from: join, to: after}
)~";

TEST(JoinTest, AllAfterAnIfWhereOnlyTheTrueBranchRunsDoesNotDeadlock) {
  Harness h(kIfJoin);
  ASSERT_TRUE(h.StartAndRun({{"flag", true}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("yes", "after"));
  EXPECT_TRUE(h.state.joins.empty());
  EXPECT_EQ(h.state.root_live, 0);
}

TEST(JoinTest, AllAfterAnIfWhereOnlyTheFalseBranchRunsDoesNotDeadlock) {
  Harness h(kIfJoin);
  ASSERT_TRUE(h.StartAndRun({{"flag", false}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("no", "after"));
}

TEST(JoinTest, AllWaitsForASuspendedBranchButNotForTheIfBranchNotTaken) {
  // A parallel branch arrives first while the If is still undecided; the If then takes a branch
  // that suspends. The join must wait for that branch, and only for it.
  Harness h(R"~(
id: if-join-parallel
inputs: {flag: {type: boolean, required: true}}
activities:
  - {id: start, type: Noop}
  - {id: side, type: WriteLine, text: "side"}
  - {id: check, type: If, condition: "input.flag"}
  - {id: wait, type: Delay, duration: 10s}
  - {id: no, type: WriteLine, text: "no"}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: start, to: side}
  - {from: start, to: check}
  - {from: side, to: join}
  - {from: check, outcome: "True", to: wait}
  - {from: check, outcome: "False", to: no}
  - {from: wait, to: join}
  - {from: no, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun({{"flag", true}}));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.Count("join"), 0u) << "the True branch is still on its way";
  h.Advance(seconds(10));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("side", "after"));
  EXPECT_EQ(h.Count("join"), 1u);
}

TEST(JoinTest, AllFiresWhenABranchTurnsAwayFromTheJoin) {
  Harness h(R"~(
id: turn-away
activities:
  - {id: start, type: Noop}
  - {id: a, type: WriteLine, text: "a"}
  - {id: check, type: If, condition: "false"}
  - {id: b, type: WriteLine, text: "b"}
  - {id: elsewhere, type: Delay, duration: 1h}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: start, to: a}
  - {from: start, to: check}
  - {from: a, to: join}
  - {from: check, outcome: "True", to: b}
  - {from: check, outcome: "False", to: elsewhere}
  - {from: b, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.Count("after"), 1u) << "`elsewhere` cannot reach the join, so the join must not wait for it";
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
}

TEST(JoinTest, AllFiresWhenTheOtherBranchFailureIsCaughtElsewhere) {
  Harness h(R"~(
id: join-error
activities:
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: a, type: WriteLine, text: "a"}
  - {id: bad, type: Script, code: "error('nope')"}
  - {id: handler, type: WriteLine, text: "handled"}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: a, to: a}
  - {from: fork, outcome: b, to: bad}
  - {from: a, to: join}
  - {from: bad, to: join}
  - {from: bad, outcome: Error, to: handler}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, UnorderedElementsAre("a", "handled", "after"));
}

TEST(JoinTest, RetryOfAFaultedBranchCompletesThePendingJoin) {
  Harness h(R"~(
id: join-retry
activities:
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: a, type: WriteLine, text: "a"}
  - {id: call, type: HttpRequest, url: "https://api.test/x"}
  - {id: join, type: Join, mode: all}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: a, to: a}
  - {from: fork, outcome: b, to: call}
  - {from: a, to: join}
  - {from: call, to: join}
  - {from: join, to: after}
)~");
  h.http.Reply(FakeHttpClient::Response(500));
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.Count("join"), 0u);
  ASSERT_TRUE(h.engine->Retry(*h.wf, h.state).ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("a", "after"));
  EXPECT_EQ(h.Count("join"), 1u);
  EXPECT_EQ(h.Count("a"), 1u);
}

const char* kRace = R"~(
id: race
activities:
  - {id: fork, type: Fork, branches: [approve, expire]}
  - {id: wait, type: WaitForEvent, event: approved, correlation: "{{ input.orderId }}"}
  - {id: timer, type: Delay, duration: 1h}
  - {id: join, type: Join, mode: any}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: approve, to: wait}
  - {from: fork, outcome: expire, to: timer}
  - {from: wait, to: join}
  - {from: timer, to: join}
  - {from: join, to: after}
)~";

TEST(JoinTest, AnyTakesTheEventAndCancelsTheTimerBookmark) {
  Harness h(kRace);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "o-1"}}));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  ASSERT_EQ(h.state.bookmarks.size(), 2u);

  h.clock.Advance(minutes(5));
  EXPECT_EQ(h.Event("approved", "o-1", {{"by", "alice"}}), 1u);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_TRUE(h.state.bookmarks.empty()) << "the timer's bookmark must be cancelled";
  EXPECT_FALSE(Engine::NextDue(h.state).has_value());
  EXPECT_THAT(h.lines, ElementsAre("after"));
  EXPECT_EQ(h.Count("join"), 1u);
  auto timer = h.Records("timer");
  ASSERT_EQ(timer.size(), 1u);
  EXPECT_EQ(timer[0]->status, "Cancelled");
  EXPECT_EQ(h.state.outputs["wait"], (Json{{"by", "alice"}}));
}

TEST(JoinTest, AnyTakesTheTimerAndCancelsTheEventBookmark) {
  Harness h(kRace);
  ASSERT_TRUE(h.StartAndRun({{"orderId", "o-1"}}));
  h.Advance(hours(1));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_TRUE(h.state.bookmarks.empty());
  EXPECT_TRUE(Engine::MatchEvent(h.state, "approved", "o-1").empty()) << "a late event finds nothing";
  EXPECT_THAT(h.lines, ElementsAre("after"));
  auto wait = h.Records("wait");
  ASSERT_EQ(wait.size(), 1u);
  EXPECT_EQ(wait[0]->status, "Cancelled");
  EXPECT_THAT(wait[0]->error, HasSubstr("join"));
}

TEST(JoinTest, AnyContinuesOnceWhenBothBranchesArriveInTheSameBurst) {
  // Both branches reach the join before it runs: the continuation must still run once.
  Harness h(R"~(
id: any-same-burst
activities:
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: a, type: WriteLine, text: "a"}
  - {id: b, type: WriteLine, text: "b"}
  - {id: join, type: Join, mode: any}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: a, to: a}
  - {from: fork, outcome: b, to: b}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.Count("join"), 1u);
  EXPECT_EQ(h.Count("after"), 1u);
  EXPECT_EQ(std::count(h.lines.begin(), h.lines.end(), "after"), 1);
}

TEST(JoinTest, AnyContinuesOnceWhenTwoTimersFireTogether) {
  Harness h(R"~(
id: any-timers
activities:
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: a, type: Delay, duration: 10s}
  - {id: b, type: Delay, duration: 10s}
  - {id: join, type: Join, mode: any}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: a, to: a}
  - {from: fork, outcome: b, to: b}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.Advance(seconds(10));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.Count("after"), 1u);
}

TEST(JoinTest, AnyCancelsALoopRunningInTheLosingBranch) {
  Harness h(R"~(
id: any-loop
variables: {polls: 0}
activities:
  - {id: fork, type: Fork, branches: [poll, wait]}
  - {id: poll, type: While, condition: "true", maxIterations: 100}
  - {id: nap, type: Delay, duration: 10s}
  - {id: bump, type: SetVariable, name: polls, value: "{{ vars.polls + 1 }}"}
  - {id: wait, type: WaitForEvent, event: stop}
  - {id: join, type: Join, mode: any}
  - {id: after, type: WriteLine, text: "after {{ vars.polls }}"}
connections:
  - {from: fork, outcome: poll, to: poll}
  - {from: fork, outcome: wait, to: wait}
  - {from: poll, outcome: Iterate, to: nap}
  - {from: nap, to: bump}
  - {from: poll, outcome: Done, to: join}
  - {from: wait, to: join}
  - {from: join, to: after}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.Advance(seconds(10));
  h.Advance(seconds(10));
  EXPECT_EQ(h.state.variables["polls"], 2);
  EXPECT_EQ(h.Event("stop", "", nullptr), 1u);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("after 2"));
  EXPECT_TRUE(h.state.bookmarks.empty()) << "the loop's timer is cancelled with it";
  EXPECT_TRUE(h.state.frames.empty());
  EXPECT_EQ(h.state.root_live, 0);
}

TEST(JoinTest, AnyCancelsARetryingBranch) {
  Harness h(R"~(
id: any-retry
activities:
  - {id: fork, type: Fork, branches: [call, timer]}
  - {id: call, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 10, initial: 1m, jitter: 0}}
  - {id: timer, type: Delay, duration: 30s}
  - {id: join, type: Join, mode: any}
  - {id: after, type: WriteLine, text: "after"}
connections:
  - {from: fork, outcome: call, to: call}
  - {from: fork, outcome: timer, to: timer}
  - {from: call, to: join}
  - {from: timer, to: join}
  - {from: join, to: after}
)~");
  h.http.FailWith(Unavailable("down"));
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.http.sent.size(), 1u) << "the retry is cancelled when the timer wins";
  EXPECT_THAT(h.lines, ElementsAre("after"));
}

TEST(JoinTest, AnyCancelsAChildWorkflowInTheLosingBranch) {
  Harness h(R"~(
id: any-child
activities:
  - {id: fork, type: Fork, branches: [child, timer]}
  - {id: child, type: RunWorkflow, workflow: slow-child}
  - {id: timer, type: Delay, duration: 1m}
  - {id: join, type: Join, mode: any}
connections:
  - {from: fork, outcome: child, to: child}
  - {from: fork, outcome: timer, to: timer}
  - {from: child, to: join}
  - {from: timer, to: join}
)~");
  ASSERT_TRUE(h.StartAndRun());
  const Bookmark* b = h.FindBookmark("child");
  ASSERT_NE(b, nullptr);
  std::string child_id = b->child_id;
  h.state.outbox.clear();
  h.Advance(minutes(1));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.state.outbox.size(), 1u);
  EXPECT_EQ(h.state.outbox[0].kind, "cancelChild");
  EXPECT_EQ(h.state.outbox[0].payload["instanceId"], child_id);
}

const char* kLoopJoin = R"~(
id: loop-join
inputs: {parallel: {type: integer, default: 1}}
activities:
  - {id: loop, type: ForEach, items: [1, 2, 3], parallel: "{{ input.parallel }}"}
  - {id: fork, type: Fork, branches: [left, right]}
  - {id: left, type: WriteLine, text: "L{{ item }}"}
  - {id: nap, type: Delay, duration: "{{ 4 - item }}s"}
  - {id: right, type: WriteLine, text: "R{{ item }}"}
  - {id: join, type: Join, mode: all}
  - {id: joined, type: WriteLine, text: "J{{ item }}"}
  - {id: done, type: WriteLine, text: "done"}
connections:
  - {from: loop, outcome: Iterate, to: fork}
  - {from: fork, outcome: left, to: left}
  - {from: fork, outcome: right, to: nap}
  - {from: nap, to: right}
  - {from: left, to: join}
  - {from: right, to: join}
  - {from: join, to: joined}
  - {from: loop, outcome: Done, to: done}
)~";

void ExpectJoinedAfterBothBranches(const std::vector<std::string>& lines) {
  for (const char* i : {"1", "2", "3"}) {
    auto pos = [&](const std::string& s) { return std::find(lines.begin(), lines.end(), s) - lines.begin(); };
    std::string l = std::string("L") + i, r = std::string("R") + i, j = std::string("J") + i;
    EXPECT_EQ(std::count(lines.begin(), lines.end(), j), 1) << j;
    EXPECT_LT(pos(l), pos(j)) << i;
    EXPECT_LT(pos(r), pos(j)) << i;
    EXPECT_LT(pos(j), pos("done")) << i;
  }
}

TEST(JoinTest, JoinInsideSequentialLoopIterationsFiresOncePerIteration) {
  Harness h(kLoopJoin);
  ASSERT_TRUE(h.StartAndRun({{"parallel", 1}}));
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("L1", "R1", "J1", "L2", "R2", "J2", "L3", "R3", "J3", "done"));
  EXPECT_EQ(h.Count("join"), 3u);
  EXPECT_TRUE(h.state.frames.empty());
  EXPECT_TRUE(h.state.joins.empty());
}

TEST(JoinTest, JoinInsideParallelLoopIterationsKeepsIterationsApart) {
  Harness h(kLoopJoin);
  ASSERT_TRUE(h.StartAndRun({{"parallel", 3}}));
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.state.joins.size(), 3u) << "one pending join per iteration";
  EXPECT_EQ(h.Count("join"), 0u);
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ExpectJoinedAfterBothBranches(h.lines);
  // The shortest nap is item 3's: its join fires first.
  auto joined = std::vector<std::string>();
  for (const auto& l : h.lines) {
    if (l[0] == 'J') joined.push_back(l);
  }
  EXPECT_THAT(joined, ElementsAre("J3", "J2", "J1"));
  EXPECT_EQ(h.lines.back(), "done");
}

TEST(JoinTest, JoinAnyInsideLoopIterationsCancelsOnlyThatIterationsBranch) {
  Harness h(R"~(
id: loop-any
activities:
  - {id: loop, type: ForEach, items: [a, b], parallel: 2}
  - {id: fork, type: Fork, branches: [x, y]}
  - {id: wait, type: WaitForEvent, event: "go-{{ item }}"}
  - {id: timer, type: Delay, duration: 1h}
  - {id: join, type: Join, mode: any}
  - {id: joined, type: WriteLine, text: "{{ item }}"}
connections:
  - {from: loop, outcome: Iterate, to: fork}
  - {from: fork, outcome: x, to: wait}
  - {from: fork, outcome: y, to: timer}
  - {from: wait, to: join}
  - {from: timer, to: join}
  - {from: join, to: joined}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.state.bookmarks.size(), 4u);
  EXPECT_EQ(h.Event("go-a", "", nullptr), 1u);
  EXPECT_THAT(h.lines, ElementsAre("a"));
  EXPECT_EQ(h.state.bookmarks.size(), 2u) << "only iteration a's timer is cancelled";
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("a", "b"));
  EXPECT_TRUE(h.state.bookmarks.empty());
}

TEST(JoinTest, ManyParallelIterationsWithJoinsAllComplete) {
  Harness h(R"~(
id: wide
variables: {n: 0}
activities:
  - {id: loop, type: ForEach, items: "{{ (function() local t = {} for i = 1, 200 do t[i] = i end return t end)() }}", parallel: 50}
  - {id: fork, type: Fork, branches: [a, b, c]}
  - {id: a, type: Noop}
  - {id: b, type: Noop}
  - {id: c, type: Delay, duration: "{{ item % 7 }}s"}
  - {id: join, type: Join}
  - {id: count, type: SetVariable, name: n, value: "{{ vars.n + 1 }}"}
  - {id: done, type: WriteLine, text: "{{ vars.n }}"}
connections:
  - {from: loop, outcome: Iterate, to: fork}
  - {from: fork, outcome: a, to: a}
  - {from: fork, outcome: b, to: b}
  - {from: fork, outcome: c, to: c}
  - {from: a, to: join}
  - {from: b, to: join}
  - {from: c, to: join}
  - {from: join, to: count}
  - {from: loop, outcome: Done, to: done}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("200"));
  EXPECT_EQ(h.Count("join"), 200u);
  EXPECT_EQ(h.state.root_live, 0);
  EXPECT_TRUE(h.state.frames.empty());
}

}  // namespace
}  // namespace trellis::engine_test
