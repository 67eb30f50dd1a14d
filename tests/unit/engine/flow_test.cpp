// Control flow along connections (DESIGN.md sections 2 and 4): the short form, parallel outgoing
// connections, If/Switch outcomes, Finish, Fail, Error connections and uncaught failures.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::hours;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

TEST(FlowTest, ShortFormRunsActivitiesInTheOrderWritten) {
  Harness h(R"({"id":"short","activities":[
      {"id":"1","type":"WriteLine","text":"Hello"},
      {"id":"2","type":"WriteLine","text":"from"},
      {"id":"3","type":"WriteLine","text":"Trellis"}]})");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("Hello", "from", "Trellis"));
  EXPECT_THAT(h.Order(), ElementsAre("1", "2", "3"));
  for (const auto& r : h.state.journal) {
    EXPECT_EQ(r.status, "Completed");
    EXPECT_EQ(r.outcome, "Done");
  }
  EXPECT_EQ(h.state.journal[0].output, "Hello");
  EXPECT_EQ(h.state.output, Json::object()) << "no SetOutput/Finish: the output is an empty object";
}

TEST(FlowTest, ShortFormPassesOutputsToLaterTemplates) {
  Harness h(R"~(
id: outputs
inputs: {name: {type: string, required: true}}
activities:
  - {id: greet, type: Transform, value: "Hello {{ input.name }}"}
  - {id: shout, type: WriteLine, text: "{{ outputs.greet }}!"}
  - {id: result, type: SetOutput, name: greeting, value: "{{ outputs.shout }}"}
)~");
  ASSERT_TRUE(h.StartAndRun({{"name", "Ada"}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("Hello Ada!"));
  EXPECT_EQ(h.state.output, (Json{{"greeting", "Hello Ada!"}}));
}

TEST(FlowTest, ConnectionsDecideTheOrderNotTheListing) {
  Harness h(R"~(
id: wired
activities:
  - {id: c, type: WriteLine, text: "third"}
  - {id: a, type: WriteLine, text: "first"}
  - {id: b, type: WriteLine, text: "second"}
connections:
  - {from: a, to: b}
  - {from: b, to: c}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("first", "second", "third"));
}

TEST(FlowTest, ActivityWithoutIncomingConnectionNeverRunsTwiceAndUnconnectedOnesRunAsStarts) {
  Harness h(R"~(
id: starts
activities:
  - {id: a, type: WriteLine, text: "a"}
  - {id: b, type: WriteLine, text: "b"}
  - {id: lone, type: WriteLine, text: "lone"}
connections:
  - {from: a, to: b}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.Count("a"), 1u);
  EXPECT_EQ(h.Count("b"), 1u);
  EXPECT_EQ(h.Count("lone"), 1u);
}

TEST(FlowTest, MultipleOutgoingConnectionsRunInParallel) {
  // `slow` suspends on a timer; `fast` must not wait for it.
  Harness h(R"~(
id: parallel
activities:
  - {id: start, type: Noop}
  - {id: slow, type: Delay, duration: 1h}
  - {id: slowDone, type: WriteLine, text: "slow"}
  - {id: fast, type: WriteLine, text: "fast"}
  - {id: fastDone, type: WriteLine, text: "fast again"}
connections:
  - {from: start, to: slow}
  - {from: start, to: fast}
  - {from: slow, to: slowDone}
  - {from: fast, to: fastDone}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_THAT(h.lines, ElementsAre("fast", "fast again"));
  ASSERT_EQ(h.state.bookmarks.size(), 1u);
  EXPECT_EQ(h.state.bookmarks[0].activity_id, "slow");

  h.Advance(hours(1));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("fast", "fast again", "slow"));
}

const char* kIfWorkflow = R"~(
id: branch
inputs: {total: {type: number, required: true}}
activities:
  - {id: big, type: If, condition: "{{ input.total > 1000 }}"}
  - {id: yes, type: WriteLine, text: "big order"}
  - {id: no, type: WriteLine, text: "small order"}
connections:
  - {from: big, outcome: "True", to: yes}
  - {from: big, outcome: "False", to: no}
)~";

TEST(FlowTest, IfTakesTrueWhenTheConditionHolds) {
  Harness h(kIfWorkflow);
  ASSERT_TRUE(h.StartAndRun({{"total", 1500}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("big order"));
  ASSERT_EQ(h.Count("big"), 1u);
  EXPECT_EQ(h.Records("big")[0]->outcome, "True");
  EXPECT_EQ(h.Records("big")[0]->output, true);
  EXPECT_EQ(h.Count("no"), 0u);
}

TEST(FlowTest, IfTakesFalseOtherwise) {
  Harness h(kIfWorkflow);
  ASSERT_TRUE(h.StartAndRun({{"total", 10}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("small order"));
  EXPECT_EQ(h.Records("big")[0]->outcome, "False");
  EXPECT_EQ(h.Records("big")[0]->output, false);
}

TEST(FlowTest, IfAcceptsBareLuaConditionsWithLuaTruthiness) {
  Harness h(R"~(
id: bare
variables: {zero: 0, missing: null}
activities:
  - {id: zero, type: If, condition: "vars.zero"}
  - {id: missing, type: If, condition: "vars.missing"}
  - {id: zeroTrue, type: WriteLine, text: "zero is true"}
  - {id: missingFalse, type: WriteLine, text: "nil is false"}
connections:
  - {from: zero, outcome: "True", to: zeroTrue}
  - {from: missing, outcome: "False", to: missingFalse}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ::testing::UnorderedElementsAre("zero is true", "nil is false"));
}

const char* kSwitchWorkflow = R"~(
id: switch
inputs: {n: {type: integer, required: true}}
activities:
  - id: size
    type: Switch
    cases:
      - {name: low, condition: "input.n < 5"}
      - {name: mid, condition: "{{ input.n < 10 }}"}
  - {id: low, type: WriteLine, text: "low"}
  - {id: mid, type: WriteLine, text: "mid"}
  - {id: other, type: WriteLine, text: "other"}
connections:
  - {from: size, outcome: low, to: low}
  - {from: size, outcome: mid, to: mid}
  - {from: size, outcome: Default, to: other}
)~";

TEST(FlowTest, SwitchTakesTheFirstCaseThatHolds) {
  Harness h(kSwitchWorkflow);
  ASSERT_TRUE(h.StartAndRun({{"n", 1}}));  // both low and mid hold: the first wins
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("low"));
  EXPECT_EQ(h.Records("size")[0]->outcome, "low");
  EXPECT_EQ(h.Records("size")[0]->output, "low");
}

TEST(FlowTest, SwitchTakesALaterCase) {
  Harness h(kSwitchWorkflow);
  ASSERT_TRUE(h.StartAndRun({{"n", 7}}));
  EXPECT_THAT(h.lines, ElementsAre("mid"));
}

TEST(FlowTest, SwitchTakesDefaultWhenNoCaseHolds) {
  Harness h(kSwitchWorkflow);
  ASSERT_TRUE(h.StartAndRun({{"n", 50}}));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("other"));
  EXPECT_EQ(h.Records("size")[0]->outcome, "Default");
}

TEST(FlowTest, FinishCompletesAtOnceStopsOtherBranchesAndSetsTheOutput) {
  Harness h(R"~(
id: finish
activities:
  - {id: start, type: SetOutput, name: early, value: 1}
  - {id: wait, type: WaitForEvent, event: never}
  - {id: nap, type: Delay, duration: 1s}
  - {id: finish, type: Finish, output: {result: "done", n: "{{ 2 * 21 }}"}}
  - {id: afterWait, type: WriteLine, text: "must not run either"}
connections:
  - {from: start, to: wait}
  - {from: start, to: nap}
  - {from: nap, to: finish}
  - {from: wait, to: afterWait}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  EXPECT_EQ(h.state.bookmarks.size(), 2u);

  h.Advance(seconds(1));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.state.output, (Json{{"early", 1}, {"result", "done"}, {"n", 42}}));
  EXPECT_TRUE(h.state.bookmarks.empty()) << "Finish stops the branch waiting for the event";
  EXPECT_EQ(h.state.ready_count(), 0u);
  EXPECT_TRUE(h.state.finished_at.has_value());
  EXPECT_TRUE(h.lines.empty());
  EXPECT_TRUE(Engine::MatchEvent(h.state, "never", "").empty());
  EXPECT_FALSE(Engine::NextDue(h.state).has_value());
}

TEST(FlowTest, FinishStopsTokensThatAreReadyButNotYetRun) {
  Harness h(R"~(
id: finish-ready
activities:
  - {id: fork, type: Fork, branches: [a, b]}
  - {id: finish, type: Finish, output: {winner: a}}
  - {id: other, type: WriteLine, text: "must not run"}
connections:
  - {from: fork, outcome: a, to: finish}
  - {from: fork, outcome: b, to: other}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.state.output, (Json{{"winner", "a"}}));
  EXPECT_EQ(h.Count("other"), 0u);
  EXPECT_TRUE(h.lines.empty());
}

TEST(FlowTest, FailFaultsTheInstanceWithAnIncident) {
  Harness h(R"~(
id: fail
inputs: {x: {type: integer}}
activities:
  - {id: before, type: WriteLine, text: "before"}
  - {id: stop, type: Fail, message: "bad input {{ input.x }}"}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun({{"x", 7}}));
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_THAT(h.lines, ElementsAre("before"));
  EXPECT_EQ(h.Count("after"), 0u);
  ASSERT_EQ(h.state.incidents.size(), 1u);
  const Incident& inc = h.state.incidents[0];
  EXPECT_EQ(inc.activity_id, "stop");
  EXPECT_EQ(inc.activity_type, "Fail");
  EXPECT_EQ(inc.message, "bad input 7");
  EXPECT_EQ(h.state.fault_message, "bad input 7");
  EXPECT_TRUE(h.state.finished_at.has_value());
  ASSERT_EQ(h.Count("stop"), 1u);
  EXPECT_EQ(h.Records("stop")[0]->status, "Faulted");
  EXPECT_EQ(h.Records("stop")[0]->error, "bad input 7");
}

TEST(FlowTest, FailIsCaughtByAnErrorConnection) {
  Harness h(R"~(
id: fail-caught
activities:
  - {id: stop, type: Fail, message: "nope"}
  - {id: handler, type: WriteLine, text: "handled: {{ outputs.stop.error }}"}
connections:
  - {from: stop, outcome: Error, to: handler}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("handled: nope"));
  EXPECT_TRUE(h.state.incidents.empty());
}

TEST(FlowTest, ErrorConnectionCatchesAFailureOnlyAfterRetriesAreExhausted) {
  Harness h(R"~(
id: caught
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 2, backoff: fixed, initial: 1s, jitter: 0}}
  - {id: ok, type: WriteLine, text: "ok"}
  - {id: handler, type: WriteLine, text: "caught after {{ outputs.fetch.attempt }}: {{ outputs.fetch.error }}"}
connections:
  - {from: fetch, to: ok}
  - {from: fetch, outcome: Error, to: handler}
)~");
  h.http.responder = [](const FakeHttpClient::Sent&) -> Result<HttpResponseData> {
    return Unavailable("connection refused");
  };
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended") << "the first failure schedules a retry";
  EXPECT_TRUE(h.lines.empty()) << "the Error connection must wait for the last attempt";
  EXPECT_EQ(h.http.sent.size(), 1u);

  h.Advance(seconds(1));
  EXPECT_EQ(h.http.sent.size(), 2u);
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.lines.size(), 1u);
  EXPECT_THAT(h.lines[0], HasSubstr("caught after 2: "));
  EXPECT_THAT(h.lines[0], HasSubstr("connection refused"));
  EXPECT_EQ(h.Count("ok"), 0u);
  EXPECT_TRUE(h.state.incidents.empty());
  auto fetch = h.Records("fetch");
  ASSERT_EQ(fetch.size(), 2u);
  EXPECT_EQ(fetch[0]->status, "Faulted");
  EXPECT_EQ(fetch[1]->status, "Faulted");
  EXPECT_EQ(fetch[1]->attempt, 2);
}

TEST(FlowTest, NonSuccessStatusTakesFailedWhenConnected) {
  Harness h(R"~(
id: failed-outcome
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/missing", retry: {maxAttempts: 3, jitter: 0}}
  - {id: ok, type: WriteLine, text: "ok"}
  - {id: notFound, type: WriteLine, text: "status {{ outputs.fetch.status }}"}
connections:
  - {from: fetch, to: ok}
  - {from: fetch, outcome: Failed, to: notFound}
)~");
  h.http.Reply(FakeHttpClient::Response(404, R"({"error":"missing"})"));
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("status 404"));
  EXPECT_EQ(h.http.sent.size(), 1u) << "a Failed outcome is not a failure: no retry";
}

TEST(FlowTest, UncaughtFailureFaultsAndRecordsAnIncidentWithActivityAndMessage) {
  Harness h(R"~(
id: uncaught
activities:
  - {id: prepare, type: SetVariable, name: stage, value: prepared}
  - {id: boom, type: Script, code: "error('kaboom')"}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  const Incident& inc = h.state.incidents[0];
  EXPECT_EQ(inc.activity_id, "boom");
  EXPECT_EQ(inc.activity_type, "Script");
  EXPECT_EQ(inc.kind, "ActivityFaulted");
  EXPECT_THAT(inc.message, HasSubstr("kaboom"));
  EXPECT_EQ(inc.attempt, 1);
  EXPECT_EQ(inc.at, T0());
  EXPECT_THAT(h.state.fault_message, HasSubstr("kaboom"));
  EXPECT_EQ(h.Count("after"), 0u);
  ASSERT_EQ(h.Count("boom"), 1u);
  EXPECT_EQ(h.Records("boom")[0]->status, "Faulted");
  EXPECT_THAT(h.Records("boom")[0]->error, HasSubstr("kaboom"));
  EXPECT_EQ(h.state.variables["stage"], "prepared");
}

TEST(FlowTest, TemplateErrorInAnInputFaultsTheActivity) {
  Harness h(R"~(
id: bad-template
activities:
  - {id: broken, type: WriteLine, text: "{{ input.missing.deeper }}"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].activity_id, "broken");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("text"));
}

TEST(FlowTest, FailureInOneBranchFaultsTheWholeInstance) {
  Harness h(R"~(
id: branch-fault
activities:
  - {id: fork, type: Fork, branches: [ok, bad]}
  - {id: wait, type: Delay, duration: 1m}
  - {id: boom, type: Fail, message: "broken branch"}
connections:
  - {from: fork, outcome: ok, to: wait}
  - {from: fork, outcome: bad, to: boom}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.state.fault_message, "broken branch");
  EXPECT_FALSE(Engine::NextDue(h.state).has_value()) << "a Faulted instance has nothing due";
}

TEST(FlowTest, StartRejectsMissingAndMistypedInputs) {
  auto wf = CompileYaml(R"~(
id: inputs
inputs:
  orderId: {type: string, required: true}
  count: {type: integer, default: 3}
activities:
  - {id: a, type: Noop}
)~");
  ASSERT_TRUE(wf);
  ManualClock clock(T0());
  EngineServices services;
  services.clock = &clock;
  Engine engine(BuiltinActivities(), services);

  auto missing = engine.Start(*wf, {});
  ASSERT_FALSE(missing.ok());
  EXPECT_EQ(missing.status().code(), StatusCode::kInvalidArgument);
  EXPECT_THAT(missing.status().message(), HasSubstr("input.orderId is required"));

  StartOptions wrong;
  wrong.input = {{"orderId", 5}};
  auto mistyped = engine.Start(*wf, wrong);
  ASSERT_FALSE(mistyped.ok());
  EXPECT_THAT(mistyped.status().message(), HasSubstr("input.orderId must be string"));

  StartOptions good;
  good.input = {{"orderId", "o-1"}};
  auto started = engine.Start(*wf, good);
  ASSERT_TRUE(started.ok()) << started.status().ToString();
  EXPECT_EQ(started->input["count"], 3) << "defaults are applied";
  EXPECT_EQ(StatusOf(*started), "Running");
  EXPECT_EQ(started->created_at, T0());
  EXPECT_FALSE(started->id.empty()) << "an instance id is generated";
}

}  // namespace
}  // namespace trellis::engine_test
