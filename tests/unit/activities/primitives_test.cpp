// WriteLine, Log, SetVariable, SetOutput and Noop.
#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;

// --- WriteLine -----------------------------------------------------------------------------------

TEST(WriteLineTest, ShortFormWritesTheTextAndOutputsIt) {
  Harness h;
  auto wf = Compile(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"Hello"});
  EXPECT_EQ(s.outputs["1"], "Hello");
  const JournalRecord* r = h.Record("1");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->status, "Completed");
  EXPECT_EQ(r->outcome, "Done");
  EXPECT_EQ(r->output, "Hello");
  EXPECT_EQ(s.output, Json::object());  // WriteLine does not set the workflow output
}

TEST(WriteLineTest, InterpolatesTemplatesAndRunsInOrder) {
  Harness h;
  auto wf = Compile(R"(inputs: {name: {type: string, default: world}, n: integer}
activities:
  - {id: a, type: WriteLine, text: "Hello {{ input.name }}"}
  - {id: b, type: WriteLine, text: "{{ input.n * 2 }}"}
  - {id: c, type: WriteLine, text: 42}
  - {id: d, type: WriteLine, text: "{{ outputs.a }}!"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"n", 21}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(h.lines(), (std::vector<std::string>{"Hello world", "42", "42", "Hello world!"}));
  EXPECT_EQ(s.outputs["a"], "Hello world");
  EXPECT_EQ(s.outputs["c"], "42");
}

TEST(WriteLineTest, TextIsRequired) {
  auto errors = CompileErrors("activities: [{id: a, type: WriteLine}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.text");
}

TEST(WriteLineTest, ATemplateThatFailsAtRunTimeFaultsTheInstance) {
  Harness h;
  auto wf = Compile("activities: [{id: a, type: WriteLine, text: \"{{ input.missing.deeper }}\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].activity_id, "a");
  EXPECT_NE(s.incidents[0].message.find("text"), std::string::npos) << s.incidents[0].message;
  EXPECT_TRUE(h.lines().empty());
}

// --- Log -----------------------------------------------------------------------------------------

TEST(LogTest, LogsTheMessageAtTheLevelDefaultInfo) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: Log, message: "order {{ input.id }} received"}
  - {id: b, type: Log, message: careful, level: warn}
  - {id: c, type: Log, message: detail, level: debug}
  - {id: d, type: Log, message: broken, level: error}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"id", "A-1"}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  using Entry = std::pair<std::string, std::string>;
  EXPECT_EQ(
      h.logs(),
      (std::vector<Entry>{
          {"info", "order A-1 received"}, {"warn", "careful"}, {"debug", "detail"}, {"error", "broken"}}));
  EXPECT_TRUE(h.lines().empty());
  ASSERT_NE(h.Record("a"), nullptr);
  EXPECT_EQ(h.Record("a")->outcome, "Done");
  EXPECT_TRUE(h.Record("a")->output.is_null());
}

TEST(LogTest, AnUnknownLiteralLevelIsAValidationError) {
  auto errors = CompileErrors("activities: [{id: a, type: Log, message: x, level: loud}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.level");
  EXPECT_NE(errors[0].message.find("not one of debug, info, warn, error"), std::string::npos)
      << errors[0].message;
}

TEST(LogTest, AnUnknownTemplatedLevelFailsWithoutRetry) {
  Harness h;
  auto wf = Compile(
      "activities: [{id: a, type: Log, message: x, level: \"{{ 'loud' }}\", retry: {maxAttempts: 3}}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("loud"), std::string::npos) << s.incidents[0].message;
  EXPECT_EQ(s.incidents[0].attempt, 1);
  EXPECT_TRUE(s.bookmarks.empty());
  EXPECT_TRUE(h.logs().empty());
}

// --- SetVariable ---------------------------------------------------------------------------------

TEST(SetVariableTest, SetsTypedValuesVisibleToLaterActivities) {
  Harness h;
  auto wf = Compile(R"(variables: {attempts: 0, label: start}
activities:
  - {id: a, type: SetVariable, name: attempts, value: "{{ vars.attempts + 1 }}"}
  - {id: b, type: SetVariable, name: order, value: {id: "{{ input.id }}", lines: [1, 2]}}
  - {id: c, type: SetVariable, name: attempts, value: "{{ vars.attempts + 1 }}"}
  - {id: d, type: WriteLine, text: "{{ vars.label }} {{ vars.attempts }} {{ vars.order.id }}"}
  - {id: e, type: SetVariable, name: cleared}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"id", "A-1"}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_TRUE(s.variables["attempts"].is_number_integer()) << s.variables.dump();
  EXPECT_EQ(s.variables["attempts"], 2);
  EXPECT_EQ(s.variables["order"], Json::parse(R"({"id":"A-1","lines":[1,2]})"));
  EXPECT_EQ(s.variables["label"], "start");
  EXPECT_TRUE(s.variables.contains("cleared"));
  EXPECT_TRUE(s.variables["cleared"].is_null());
  EXPECT_EQ(h.lines(), std::vector<std::string>{"start 2 A-1"});
  EXPECT_EQ(s.outputs["a"], 1);  // the output is the value
  EXPECT_EQ(s.outputs["c"], 2);
}

TEST(SetVariableTest, NameIsRequiredAndMustNotBeEmpty) {
  auto errors = CompileErrors("activities: [{id: a, type: SetVariable, value: 1}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.name");

  Harness h;
  auto wf = Compile("activities: [{id: a, type: SetVariable, name: \"{{ '' }}\", value: 1}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("non-empty name"), std::string::npos) << s.incidents[0].message;
}

// --- SetOutput -----------------------------------------------------------------------------------

TEST(SetOutputTest, SetsFieldsOfTheWorkflowOutput) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: SetOutput, name: total, value: "{{ input.price * input.qty }}"}
  - {id: b, type: SetOutput, name: customer, value: {name: "{{ input.who }}", vip: true}}
  - {id: c, type: SetOutput, name: label, value: "n={{ input.qty }}"}
  - {id: d, type: SetOutput, name: total, value: "{{ outputs.a + 1 }}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"price", 5}, {"qty", 3}, {"who", "ann"}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.output, Json::parse(R"({"total":16,"customer":{"name":"ann","vip":true},"label":"n=3"})"));
  EXPECT_EQ(s.outputs["a"], 15);
  EXPECT_TRUE(s.variables.empty());
}

TEST(SetOutputTest, WithoutSetOutputTheWorkflowOutputIsAnEmptyObject) {
  Harness h;
  auto wf = Compile("activities: [{id: a, type: SetVariable, name: x, value: 1}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted);
  EXPECT_EQ(s.output, Json::object());
}

// --- Noop ----------------------------------------------------------------------------------------

TEST(NoopTest, DoesNothingAndTakesDone) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: Noop}
  - {id: b, type: WriteLine, text: after}
connections: [{from: a, to: b}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  const JournalRecord* r = h.Record("a");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->status, "Completed");
  EXPECT_EQ(r->outcome, "Done");
  EXPECT_TRUE(r->output.is_null());
  EXPECT_EQ(h.lines(), std::vector<std::string>{"after"});
}

TEST(NoopTest, TakesNoInputs) {
  auto errors = CompileErrors("activities: [{id: a, type: Noop, text: x}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.text");
}

}  // namespace
}  // namespace trellis
