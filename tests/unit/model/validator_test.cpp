#include "model/validator.h"

#include <map>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model/parser.h"
#include "model_test_util.h"

namespace trellis {
namespace {

// A catalogue for the validator alone (the model component does not link the activities): the
// same shapes as the built-in descriptors of these types.
InputDescriptor In(std::string name, std::string type, bool required = false, Json default_value = nullptr) {
  return {.name = std::move(name),
          .type = std::move(type),
          .required = required,
          .default_value = std::move(default_value)};
}

class TestCatalogue {
 public:
  TestCatalogue() {
    Add({.type = "WriteLine", .inputs = {In("text", "text", true)}, .outcomes = {"Done"}});
    Add({.type = "Noop", .inputs = {}, .outcomes = {"Done"}});
    Add({.type = "SetVariable",
         .inputs = {In("name", "string", true), In("value", "any")},
         .outcomes = {"Done"}});
    Add({.type = "If", .inputs = {In("condition", "expression", true)}, .outcomes = {"True", "False"}});
    Add({.type = "Switch",
         .inputs = {In("cases", "cases", true)},
         .outcomes = {"Default"},
         .dynamic_outcomes_input = "cases"});
    Add({.type = "Fork",
         .inputs = {In("branches", "array")},
         .outcomes = {},
         .dynamic_outcomes_input = "branches"});
    Add({.type = "Join", .inputs = {In("mode", "string", false, "all")}, .outcomes = {"Done"}});
    Add({.type = "HttpRequest",
         .inputs = {In("method", "string", false, "GET"), In("url", "text", true), In("headers", "object"),
                    In("query", "object"), In("body", "any"), In("timeout", "duration")},
         .outcomes = {"Done", "Failed"}});
    Add({.type = "Delay", .inputs = {In("duration", "duration", true)}, .outcomes = {"Done"}});
    Add({.type = "Script", .inputs = {In("code", "code", true)}, .outcomes = {"Done"}});
    Add({.type = "RunWorkflow",
         .inputs = {In("workflow", "string", true), In("version", "integer"), In("input", "object"),
                    In("wait", "boolean", false, true)},
         .outcomes = {"Done"}});
    Add({.type = "WaitForEvent",
         .inputs = {In("event", "string", true), In("correlation", "string"), In("timeout", "duration")},
         .outcomes = {"Done", "Timeout"}});
    Add({.type = "ForEach",
         .inputs = {In("items", "array", true), In("as", "string", false, "item"),
                    In("parallel", "integer", false, 1)},
         .outcomes = {"Iterate", "Done"}});
    Add({.type = "Finish", .inputs = {In("output", "any")}, .outcomes = {}});
  }

  DescriptorLookup Lookup() const {
    return [this](std::string_view type) -> const ActivityDescriptor* {
      auto it = descriptors_.find(std::string(type));
      return it == descriptors_.end() ? nullptr : &it->second;
    };
  }
  std::vector<std::string> Types() const {
    std::vector<std::string> out;
    for (const auto& [type, _] : descriptors_) out.push_back(type);
    return out;
  }
  const ActivityDescriptor& Get(const std::string& type) const { return descriptors_.at(type); }

 private:
  void Add(ActivityDescriptor d) { descriptors_.emplace(d.type, std::move(d)); }
  std::map<std::string, ActivityDescriptor> descriptors_;
};

const TestCatalogue& Catalogue() {
  static const TestCatalogue catalogue;
  return catalogue;
}

// Parses (structural errors) and validates (semantic errors), as `trellis validate` does.
std::vector<ValidationError> Check(std::string_view text) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(text, &errors);
  ValidateDefinition(def, Catalogue().Lookup(), Catalogue().Types(), &errors);
  return errors;
}

ActivityDefinition Activity(std::string type, Json inputs) {
  ActivityDefinition a;
  a.id = "x";
  a.type = std::move(type);
  a.inputs = std::move(inputs);
  return a;
}

// --- Valid definitions ---------------------------------------------------------------------------

TEST(ValidatorTest, TheDesignExampleIsValid) {
  auto errors = Check(model_test::kDesignYaml);
  EXPECT_NO_ERRORS(errors);
}

TEST(ValidatorTest, TheShortFormIsValidAndNeedsNoStart) {
  EXPECT_NO_ERRORS(Check(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})"));
}

TEST(ValidatorTest, DisplayNameIsNotAnUnknownInput) {
  EXPECT_NO_ERRORS(Check("activities: [{id: a, type: WriteLine, name: Greeting, text: hi}]\n"));
}

TEST(ValidatorTest, ErrorOutcomeIsValidForEveryActivity) {
  EXPECT_NO_ERRORS(Check(R"(activities:
  - {id: a, type: Script, code: "return 1"}
  - {id: b, type: Noop}
  - {id: c, type: Finish}
connections:
  - {from: a, outcome: Error, to: b}
  - {from: b, outcome: Error, to: c}
)"));
}

// --- Each kind of error, with its path -------------------------------------------------------------

TEST(ValidatorTest, UnknownActivityTypeSuggestsTheClosest) {
  auto errors = Check("activities: [{id: a, type: WriteLin, text: x}, {id: b, type: Teleport}]\n");
  EXPECT_ERROR(errors, "activities[0].type", "unknown activity type 'WriteLin'");
  EXPECT_ERROR(errors, "activities[0].type", "did you mean 'WriteLine'");
  EXPECT_ERROR(errors, "activities[1].type", "unknown activity type 'Teleport'");
  EXPECT_FALSE(model_test::HasError(errors, "activities[1].type", "did you mean"))
      << model_test::Describe(errors);
}

TEST(ValidatorTest, MissingRequiredInputHasTheInputsPath) {
  auto errors = Check(R"(activities:
  - {id: a, type: Noop}
  - {id: b, type: Noop}
  - {id: c, type: Noop}
  - {id: fetch, type: HttpRequest, method: GET}
)");
  ASSERT_EQ(errors.size(), 1u) << model_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "activities[3].inputs.url");
  EXPECT_NE(errors[0].message.find("is required for HttpRequest"), std::string::npos) << errors[0].message;
}

TEST(ValidatorTest, DuplicateIdsNameTheFirstOccurrence) {
  auto errors = Check("activities: [{id: a, type: Noop}, {id: b, type: Noop}, {id: a, type: Noop}]\n");
  ASSERT_EQ(errors.size(), 1u) << model_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "activities[2].id");
  EXPECT_NE(errors[0].message.find("duplicate activity id 'a'"), std::string::npos) << errors[0].message;
  EXPECT_NE(errors[0].message.find("activities[0]"), std::string::npos) << errors[0].message;
}

TEST(ValidatorTest, ConnectionsFromAndToUnknownIds) {
  auto errors = Check(R"(activities: [{id: fetch, type: Noop}, {id: ship, type: Noop}]
connections:
  - {from: fetch, to: shipp}
  - {from: nowhere, to: ship}
)");
  EXPECT_ERROR(errors, "connections[0].to", "unknown activity id 'shipp'");
  EXPECT_ERROR(errors, "connections[0].to", "did you mean 'ship'");
  EXPECT_ERROR(errors, "connections[1].from", "unknown activity id 'nowhere'");
  EXPECT_EQ(errors.size(), 2u) << model_test::Describe(errors);
}

TEST(ValidatorTest, UnknownOutcomeForTheActivityType) {
  auto errors = Check(R"(activities:
  - {id: big, type: If, condition: "true"}
  - {id: a, type: Noop}
  - {id: fetch, type: HttpRequest, url: "http://x"}
connections:
  - {from: big, outcome: Maybe, to: a}
  - {from: big, outcome: "true", to: a}
  - {from: big, outcome: "True", to: fetch}
  - {from: fetch, outcome: Failed, to: a}
  - {from: fetch, outcome: Timeout, to: a}
)");
  EXPECT_ERROR(errors, "connections[0].outcome", "activity 'big' (If) has no outcome 'Maybe'");
  EXPECT_ERROR(errors, "connections[0].outcome", "it has: True, False, Error");
  EXPECT_ERROR(errors, "connections[1].outcome", "did you mean 'True'");
  EXPECT_ERROR(errors, "connections[4].outcome", "no outcome 'Timeout'");
  EXPECT_EQ(errors.size(), 3u) << model_test::Describe(errors);
}

TEST(ValidatorTest, TemplatesWhoseLuaDoesNotCompile) {
  auto errors = Check(R"(activities:
  - {id: a, type: WriteLine, text: "total: {{ 1 + }}"}
  - {id: b, type: HttpRequest, url: "http://x", body: {order: {total: "{{ outputs.a.( }}"}, ok: "{{ 1 }}"}}
  - {id: c, type: WriteLine, text: "unclosed {{ input.x"}
  - {id: d, type: If, condition: "input.x =="}
  - {id: e, type: If, condition: "{{ input.x == }}"}
  - {id: f, type: Script, code: "return ("}
  - {id: g, type: WriteLine, text: "fine {{ input.x }} and {{ #vars }}"}
)");
  EXPECT_ERROR(errors, "activities[0].inputs.text", "");
  EXPECT_ERROR(errors, "activities[1].inputs.body.order.total", "");
  EXPECT_FALSE(model_test::HasError(errors, "activities[1].inputs.body.ok")) << model_test::Describe(errors);
  EXPECT_ERROR(errors, "activities[2].inputs.text", "unclosed");
  EXPECT_ERROR(errors, "activities[3].inputs.condition", "expression does not compile");
  EXPECT_ERROR(errors, "activities[4].inputs.condition", "");
  EXPECT_ERROR(errors, "activities[5].inputs.code", "Lua does not compile");
  EXPECT_TRUE(model_test::ErrorsAt(errors, "activities[6].inputs.text").empty())
      << model_test::Describe(errors);
  EXPECT_EQ(errors.size(), 6u) << model_test::Describe(errors);
}

TEST(ValidatorTest, BadDurationInputs) {
  auto errors = Check(R"(activities:
  - {id: a, type: Delay, duration: 5 parsecs}
  - {id: b, type: Delay, duration: [1]}
  - {id: c, type: Delay, duration: "{{ '5' .. 's' }}"}
  - {id: d, type: Delay, duration: PT5M}
)");
  EXPECT_ERROR(errors, "activities[0].inputs.duration", "is not a duration");
  EXPECT_ERROR(errors, "activities[1].inputs.duration", "a duration such as 10s");
  EXPECT_EQ(errors.size(), 2u) << model_test::Describe(errors);
}

TEST(ValidatorTest, UnknownInputNamesSuggestTheClosest) {
  auto errors =
      Check("activities: [{id: a, type: HttpRequest, urll: \"http://x\", url: \"http://x\", colour: red}]\n");
  EXPECT_ERROR(errors, "activities[0].inputs.urll", "unknown input 'urll' for HttpRequest");
  EXPECT_ERROR(errors, "activities[0].inputs.urll", "did you mean 'url'");
  EXPECT_ERROR(errors, "activities[0].inputs.colour", "unknown input 'colour'");
  EXPECT_EQ(errors.size(), 2u) << model_test::Describe(errors);
}

TEST(ValidatorTest, WrongInputTypes) {
  auto errors = Check(R"(activities:
  - {id: a, type: HttpRequest, url: "http://x", headers: "X-A: 1", query: [a]}
  - {id: b, type: RunWorkflow, workflow: child, version: 1.5, input: "{}", wait: "yes"}
  - {id: c, type: WriteLine, text: {a: 1}}
  - {id: d, type: ForEach, items: "not a list"}
  - {id: e, type: Script, code: 42}
  - {id: f, type: RunWorkflow, workflow: child, version: 2, input: {a: 1}, wait: false}
  - {id: g, type: WriteLine, text: 42}
  - {id: h, type: ForEach, items: "{{ input.list }}"}
connections: []
)");
  EXPECT_ERROR(errors, "activities[0].inputs.headers", "must be an object, not string");
  EXPECT_ERROR(errors, "activities[0].inputs.query", "must be an object, not array");
  EXPECT_ERROR(errors, "activities[1].inputs.version", "must be an integer");
  EXPECT_ERROR(errors, "activities[1].inputs.input", "must be an object");
  EXPECT_ERROR(errors, "activities[1].inputs.wait", "must be true or false");
  EXPECT_ERROR(errors, "activities[2].inputs.text", "must be a string, not object");
  EXPECT_ERROR(errors, "activities[3].inputs.items", "must be a list");
  EXPECT_ERROR(errors, "activities[4].inputs.code", "must be a string of Lua code");
  EXPECT_EQ(errors.size(), 8u) << model_test::Describe(errors);
}

TEST(ValidatorTest, SwitchCasesAreOutcomes) {
  auto errors = Check(R"(activities:
  - {id: region, type: Switch, cases: [{name: EU, condition: "input.c == 'NL'"}, {name: US, condition: "{{ input.c == 'US' }}"}]}
  - {id: eu, type: Noop}
  - {id: us, type: Noop}
  - {id: other, type: Noop}
connections:
  - {from: region, outcome: EU, to: eu}
  - {from: region, outcome: US, to: us}
  - {from: region, outcome: Default, to: other}
  - {from: region, outcome: Asia, to: other}
)");
  ASSERT_EQ(errors.size(), 1u) << model_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "connections[3].outcome");
  EXPECT_NE(errors[0].message.find("it has: Default, EU, US, Error"), std::string::npos) << errors[0].message;
}

TEST(ValidatorTest, BadSwitchCases) {
  auto errors = Check(R"(activities:
  - {id: s, type: Switch, cases: [{name: A, condition: "true"}, {name: A, condition: "false"}, {condition: "x"},
                                  {name: B}, {name: C, condition: "1 +"}, 5]}
)");
  EXPECT_ERROR(errors, "activities[0].inputs.cases[1].name", "duplicate case name 'A'");
  EXPECT_ERROR(errors, "activities[0].inputs.cases[2].name", "is required");
  EXPECT_ERROR(errors, "activities[0].inputs.cases[3].condition", "is required");
  EXPECT_ERROR(errors, "activities[0].inputs.cases[4].condition", "does not compile");
  EXPECT_ERROR(errors, "activities[0].inputs.cases[5]", "must be an object");
  EXPECT_EQ(errors.size(), 5u) << model_test::Describe(errors);
}

TEST(ValidatorTest, SwitchCasesThatAreNotAListAreAnError) {
  // `cases` is required to be [{name, condition}]; a string or object would fail at run time.
  auto errors =
      Check("activities: [{id: s, type: Switch, cases: \"EU\"}, {id: t, type: Switch, cases: {name: A}}]\n");
  EXPECT_ERROR(errors, "activities[0].inputs.cases", "");
  EXPECT_ERROR(errors, "activities[1].inputs.cases", "");
}

TEST(ValidatorTest, ForkBranchesAreOutcomes) {
  auto errors = Check(R"(activities:
  - {id: f, type: Fork, branches: [left, right, 3]}
  - {id: l, type: Noop}
  - {id: r, type: Noop}
  - {id: j, type: Join}
connections:
  - {from: f, outcome: left, to: l}
  - {from: f, outcome: right, to: r}
  - {from: f, outcome: middle, to: j}
  - {from: l, to: j}
  - {from: r, to: j}
)");
  EXPECT_ERROR(errors, "activities[0].inputs.branches[2]", "must be a branch name");
  EXPECT_ERROR(errors, "connections[2].outcome", "has no outcome 'middle'");
  EXPECT_ERROR(errors, "connections[2].outcome", "it has: left, right, Error");
  EXPECT_EQ(errors.size(), 2u) << model_test::Describe(errors);
}

TEST(ValidatorTest, ForkBranchesThatAreNotAListAreReportedNotThrown) {
  for (const char* branches : {"left", "{a: 1}", "7"}) {
    SCOPED_TRACE(branches);
    std::vector<ValidationError> errors;
    ASSERT_NO_THROW(
        errors = Check(std::string("activities: [{id: f, type: Fork, branches: ") + branches + "}]\n"));
    EXPECT_ERROR(errors, "activities[0].inputs.branches", "must be a list");
  }
}

TEST(ValidatorTest, EveryActivityWithAnIncomingConnectionMeansNoStart) {
  auto errors = Check(R"(activities: [{id: a, type: Noop}, {id: b, type: Noop}]
connections:
  - {from: a, to: b}
  - {from: b, to: a}
)");
  ASSERT_EQ(errors.size(), 1u) << model_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "connections");
  EXPECT_NE(errors[0].message.find("none can start"), std::string::npos) << errors[0].message;
}

TEST(ValidatorTest, BadActivityTimeouts) {
  auto errors = Check(R"(activities:
  - {id: a, type: Noop, timeout: 10 parsecs}
  - {id: b, type: Noop, timeout: 10}
  - {id: c, type: Noop, timeout: P1M}
  - {id: d, type: Noop, timeout: "{{ input.t }}"}
  - {id: e, type: WaitForEvent, event: x, timeout: soon}
  - {id: f, type: HttpRequest, url: "http://x", timeout: 5 minutes}
  - {id: g, type: WaitForEvent, event: x, timeout: "{{ input.t }}"}
  - {id: h, type: Noop, timeout: 1h30m}
)");
  EXPECT_ERROR(errors, "activities[0].timeout", "is not a duration");
  EXPECT_ERROR(errors, "activities[1].timeout", "a duration such as 10s");
  EXPECT_ERROR(errors, "activities[2].timeout", "months");
  EXPECT_ERROR(errors, "activities[3].timeout", "cannot use templates");
  EXPECT_ERROR(errors, "activities[4].inputs.timeout", "is not a duration");
  EXPECT_ERROR(errors, "activities[5].inputs.timeout", "is not a duration");
  EXPECT_EQ(errors.size(), 6u) << model_test::Describe(errors);
}

TEST(ValidatorTest, ParserErrorsBadCronDurationAndInputDeclaration) {
  // The structural half of `trellis validate`: reported by the parser, beside the semantic ones.
  auto errors = Check(R"(inputs: {n: {type: integr}}
triggers: [{type: Cron, schedule: "* * *"}]
activities: [{id: a, type: Noop, timeout: 10 years}]
)");
  EXPECT_ERROR(errors, "inputs.n.type", "unknown input type 'integr'");
  EXPECT_ERROR(errors, "triggers[0].schedule", "");
  EXPECT_ERROR(errors, "activities[0].timeout", "is not a duration");
  EXPECT_EQ(errors.size(), 3u) << model_test::Describe(errors);
}

// --- Everything at once --------------------------------------------------------------------------

TEST(ValidatorTest, OneDefinitionWithManyProblemsReportsAllOfThem) {
  auto errors = Check(R"(id: broken
inputs:
  orderId: {type: strin}
  count: {type: integer, default: many}
triggers:
  - {type: Cron, schedule: "99 * * * *"}
  - {type: Webhok, path: x}
activities:
  - {id: start, type: WriteLin, text: hi}
  - {id: big, type: If, condition: "{{ input.total > }}"}
  - {id: wait, type: Delay, duration: soon}
  - {id: fetch, type: HttpRequest, methd: GET, headers: [1], timeout: 5 minutes}
  - {id: big, type: Noop}
  - {id: route, type: Switch, cases: [{name: EU, condition: "true"}]}
  - {id: fan, type: Fork, branches: [a, b]}
connections:
  - {from: start, to: big}
  - {from: big, outcome: Maybe, to: wait}
  - {from: ghost, to: fetch}
  - {from: fetch, to: nowhere}
  - {from: route, outcome: US, to: fan}
  - {from: route, outcome: EU, to: fetch}
  - {from: fan, outcome: a, to: route}
  - {from: fan, outcome: c, to: start}
  - {from: wait, to: start}
options: {maxExecutionTime: 1 week}
)");
  // Structural (parser).
  EXPECT_ERROR(errors, "inputs.orderId.type", "unknown input type 'strin'");
  EXPECT_ERROR(errors, "inputs.count.default", "integer");
  EXPECT_ERROR(errors, "triggers[0].schedule", "");
  EXPECT_ERROR(errors, "triggers[1].type", "did you mean 'Webhook'");
  EXPECT_ERROR(errors, "activities[3].inputs.timeout", "is not a duration");  // HttpRequest's own input
  EXPECT_ERROR(errors, "options.maxExecutionTime", "is not a duration");
  // Semantic (validator).
  EXPECT_ERROR(errors, "activities[0].type", "did you mean 'WriteLine'");
  EXPECT_ERROR(errors, "activities[1].inputs.condition", "");
  EXPECT_ERROR(errors, "activities[2].inputs.duration", "is not a duration");
  EXPECT_ERROR(errors, "activities[3].inputs.methd", "did you mean 'method'");
  EXPECT_ERROR(errors, "activities[3].inputs.headers", "must be an object");
  EXPECT_ERROR(errors, "activities[3].inputs.url", "is required for HttpRequest");
  EXPECT_ERROR(errors, "activities[4].id", "duplicate activity id 'big'");
  EXPECT_ERROR(errors, "connections[1].outcome", "no outcome 'Maybe'");
  EXPECT_ERROR(errors, "connections[2].from", "unknown activity id 'ghost'");
  EXPECT_ERROR(errors, "connections[3].to", "unknown activity id 'nowhere'");
  EXPECT_ERROR(errors, "connections[4].outcome", "no outcome 'US'");
  EXPECT_FALSE(model_test::HasError(errors, "connections[5].outcome")) << model_test::Describe(errors);
  EXPECT_FALSE(model_test::HasError(errors, "connections[6].outcome")) << model_test::Describe(errors);
  EXPECT_ERROR(errors, "connections[7].outcome", "no outcome 'c'");
  EXPECT_ERROR(errors, "connections", "none can start");
  EXPECT_EQ(errors.size(), 19u) << model_test::Describe(errors);
}

// --- OutcomesOf ----------------------------------------------------------------------------------

TEST(OutcomesOfTest, DescriptorOutcomesPlusError) {
  EXPECT_EQ(OutcomesOf(Activity("If", {{"condition", true}}), Catalogue().Get("If")),
            (std::vector<std::string>{"True", "False", "Error"}));
  EXPECT_EQ(OutcomesOf(Activity("Noop", Json::object()), Catalogue().Get("Noop")),
            (std::vector<std::string>{"Done", "Error"}));
  EXPECT_EQ(OutcomesOf(Activity("HttpRequest", {{"url", "http://x"}}), Catalogue().Get("HttpRequest")),
            (std::vector<std::string>{"Done", "Failed", "Error"}));
}

TEST(OutcomesOfTest, SwitchCaseNamesAndForkBranchesAreOutcomes) {
  Json cases = Json::parse(
      R"([{"name":"EU","condition":"true"},{"name":"US","condition":"false"},{"condition":"x"}])");
  EXPECT_EQ(OutcomesOf(Activity("Switch", {{"cases", cases}}), Catalogue().Get("Switch")),
            (std::vector<std::string>{"Default", "EU", "US", "Error"}));
  EXPECT_EQ(OutcomesOf(Activity("Fork", {{"branches", {"a", "b", 3}}}), Catalogue().Get("Fork")),
            (std::vector<std::string>{"a", "b", "Error"}));
  EXPECT_EQ(OutcomesOf(Activity("Fork", {{"branches", "a"}}), Catalogue().Get("Fork")),
            (std::vector<std::string>{"Error"}));
}

}  // namespace
}  // namespace trellis
