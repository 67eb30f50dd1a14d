#include "model/parser.h"

#include <chrono>
#include <cmath>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "model_test_util.h"

namespace trellis {
namespace {

using std::chrono::milliseconds;
using namespace std::chrono_literals;

// The same definition written as JSON.
constexpr const char* kDesignJson = R"({
  "id": "order-fulfilment",
  "name": "Order fulfilment",
  "inputs": {"orderId": {"type": "string", "required": true}},
  "variables": {"attempts": 0},
  "triggers": [
    {"type": "Webhook", "path": "orders", "method": "POST"},
    {"type": "Cron", "schedule": "*/15 * * * *", "timezone": "Europe/Amsterdam"}
  ],
  "activities": [
    {"id": "fetch", "type": "HttpRequest", "url": "https://api.example.com/orders/{{ input.orderId }}",
     "retry": {"maxAttempts": 5, "backoff": "exponential", "initial": "1s"}, "timeout": "10s"},
    {"id": "big", "type": "If", "condition": "{{ outputs.fetch.body.total > 1000 }}"},
    {"id": "approve", "type": "WaitForEvent", "event": "order.approved", "correlation": "{{ input.orderId }}",
     "timeout": "48h"},
    {"id": "ship", "type": "HttpRequest", "method": "POST", "url": "https://ship.example.com",
     "body": "{{ outputs.fetch.body }}"}
  ],
  "connections": [
    {"from": "fetch", "to": "big"},
    {"from": "big", "outcome": "True", "to": "approve"},
    {"from": "big", "outcome": "False", "to": "ship"},
    {"from": "approve", "to": "ship"}
  ]
})";

WorkflowDefinition ParseOk(std::string_view text) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(text, &errors);
  EXPECT_NO_ERRORS(errors);
  return def;
}

std::vector<ValidationError> ErrorsOf(std::string_view text) {
  std::vector<ValidationError> errors;
  (void)ParseDefinition(text, &errors);
  return errors;
}

Json Yaml(std::string_view text) {
  Json out;
  std::string error;
  EXPECT_TRUE(YamlToJson(text, &out, &error)) << error;
  return out;
}

// --- The DESIGN.md example ---------------------------------------------------------------------

TEST(ParserTest, DesignExampleYamlAndJsonParseToTheSameDefinition) {
  WorkflowDefinition from_yaml = ParseOk(model_test::kDesignYaml);
  WorkflowDefinition from_json = ParseOk(kDesignJson);
  EXPECT_EQ(DefinitionToJson(from_yaml), DefinitionToJson(from_json));
  // Their source documents are equal too.
  Json json_doc;
  std::string error;
  ASSERT_TRUE(ParseJson(kDesignJson, &json_doc, &error)) << error;
  EXPECT_EQ(Yaml(model_test::kDesignYaml), json_doc);
}

TEST(ParserTest, DesignExampleHasEveryPart) {
  WorkflowDefinition def = ParseOk(model_test::kDesignYaml);
  EXPECT_EQ(def.id, "order-fulfilment");
  EXPECT_EQ(def.name, "Order fulfilment");
  EXPECT_EQ(def.version, 0);

  ASSERT_EQ(def.inputs.size(), 1u);
  EXPECT_EQ(def.inputs[0].name, "orderId");
  EXPECT_EQ(def.inputs[0].type, "string");
  EXPECT_TRUE(def.inputs[0].required);
  EXPECT_FALSE(def.inputs[0].default_value.has_value());

  EXPECT_EQ(def.variables, Json({{"attempts", 0}}));

  ASSERT_EQ(def.triggers.size(), 2u);
  EXPECT_EQ(def.triggers[0].type, "Webhook");
  EXPECT_EQ(def.triggers[0].config, Json({{"path", "orders"}, {"method", "POST"}}));
  EXPECT_EQ(def.triggers[1].type, "Cron");
  EXPECT_EQ(def.triggers[1].config["schedule"], "*/15 * * * *");
  EXPECT_EQ(def.triggers[1].config["timezone"], "Europe/Amsterdam");

  ASSERT_EQ(def.activities.size(), 4u);
  const ActivityDefinition& fetch = def.activities[0];
  EXPECT_EQ(fetch.id, "fetch");
  EXPECT_EQ(fetch.type, "HttpRequest");
  EXPECT_EQ(fetch.inputs["url"], "https://api.example.com/orders/{{ input.orderId }}");
  ASSERT_TRUE(fetch.retry.has_value());
  EXPECT_EQ(fetch.retry->max_attempts, 5);
  EXPECT_EQ(fetch.retry->backoff, RetryPolicy::Backoff::kExponential);
  EXPECT_EQ(fetch.retry->initial, 1s);
  ASSERT_TRUE(fetch.timeout.has_value());
  EXPECT_EQ(*fetch.timeout, 10s);

  EXPECT_EQ(def.activities[1].type, "If");
  EXPECT_EQ(def.activities[1].inputs["condition"], "{{ outputs.fetch.body.total > 1000 }}");
  EXPECT_EQ(def.activities[2].inputs["event"], "order.approved");
  EXPECT_EQ(def.activities[2].inputs["correlation"], "{{ input.orderId }}");
  EXPECT_EQ(def.activities[3].inputs["method"], "POST");
  EXPECT_EQ(def.activities[3].inputs["body"], "{{ outputs.fetch.body }}");
  EXPECT_FALSE(def.activities[3].retry.has_value());
  EXPECT_FALSE(def.activities[3].timeout.has_value());

  EXPECT_TRUE(def.has_connections);
  ASSERT_EQ(def.connections.size(), 4u);
  EXPECT_EQ(def.connections[0].from, "fetch");
  EXPECT_EQ(def.connections[0].outcome, "Done");  // the default
  EXPECT_EQ(def.connections[0].to, "big");
  EXPECT_EQ(def.connections[1].outcome, "True");
  EXPECT_EQ(def.connections[1].to, "approve");
  EXPECT_EQ(def.connections[2].outcome, "False");
  EXPECT_EQ(def.connections[2].to, "ship");
  EXPECT_EQ(def.connections[3].from, "approve");
}

// --- The short form ----------------------------------------------------------------------------

TEST(ParserTest, ShortFormHasNoConnectionsAndTheFieldsAreInputs) {
  WorkflowDefinition def = ParseOk(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  EXPECT_TRUE(def.id.empty());
  EXPECT_FALSE(def.has_connections);
  EXPECT_TRUE(def.connections.empty());
  ASSERT_EQ(def.activities.size(), 1u);
  EXPECT_EQ(def.activities[0].id, "1");
  EXPECT_EQ(def.activities[0].type, "WriteLine");
  EXPECT_EQ(def.activities[0].inputs, Json({{"text", "Hello"}}));
  EXPECT_TRUE(def.inputs.empty());
  EXPECT_TRUE(def.triggers.empty());
  EXPECT_EQ(def.variables, Json::object());
  EXPECT_FALSE(def.options.max_execution_time.has_value());
}

TEST(ParserTest, ShortFormInYamlEqualsJson) {
  WorkflowDefinition yaml = ParseOk("activities:\n  - id: '1'\n    type: WriteLine\n    text: Hello\n");
  WorkflowDefinition json = ParseOk(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  EXPECT_EQ(DefinitionToJson(yaml), DefinitionToJson(json));
}

TEST(ParserTest, IntegerIdsAreReadAsStrings) {
  WorkflowDefinition def =
      ParseOk("activities:\n  - {id: 1, type: WriteLine, text: a}\n  - {id: 2, type: Noop}\n");
  ASSERT_EQ(def.activities.size(), 2u);
  EXPECT_EQ(def.activities[0].id, "1");
  EXPECT_EQ(def.activities[1].id, "2");
}

TEST(ParserTest, EmptyConnectionsListStillMeansExplicitConnections) {
  WorkflowDefinition def = ParseOk("activities: [{id: a, type: Noop}]\nconnections: []\n");
  EXPECT_TRUE(def.has_connections);
  EXPECT_TRUE(def.connections.empty());
}

TEST(ParserTest, NestedInputsObjectIsMergedIntoInputs) {
  WorkflowDefinition def =
      ParseOk("activities:\n  - {id: w, type: WaitForEvent, inputs: {event: go, timeout: 5m}}\n");
  ASSERT_EQ(def.activities.size(), 1u);
  EXPECT_EQ(def.activities[0].inputs, Json({{"event", "go"}, {"timeout", "5m"}}));
  EXPECT_FALSE(def.activities[0].timeout.has_value());
}

TEST(ParserTest, NameIsTheDisplayNameAndAlsoAnInput) {
  WorkflowDefinition def = ParseOk(R"(activities:
  - {id: a, type: WriteLine, name: Greet, text: hi}
  - {id: b, type: SetVariable, name: counter, value: 1, displayName: Bump the counter}
)");
  EXPECT_EQ(def.activities[0].name, "Greet");
  EXPECT_EQ(def.activities[0].inputs["name"], "Greet");
  EXPECT_EQ(def.activities[1].name, "Bump the counter");
  EXPECT_EQ(def.activities[1].inputs["name"], "counter");
  EXPECT_FALSE(def.activities[1].inputs.contains("displayName"));
}

// --- YAML typing -------------------------------------------------------------------------------

TEST(YamlToJsonTest, QuotedScalarsStayStringsAndPlainOnesAreTyped) {
  Json j = Yaml(R"(quoted: "123"
single: '123'
plain: 123
negative: -7
float: 1.5
exponent: 1e3
yes_word: yes
no_word: no
on_word: on
off_word: off
y: y
t: true
f: false
cap: True
null_word: null
tilde: ~
empty:
quoted_true: "true"
quoted_null: "null"
leading_zero: '007'
text: hello world
)");
  EXPECT_EQ(j["quoted"], Json("123"));
  EXPECT_EQ(j["single"], Json("123"));
  EXPECT_TRUE(j["plain"].is_number_integer());
  EXPECT_EQ(j["plain"].get<int64_t>(), 123);
  EXPECT_TRUE(j["negative"].is_number_integer());
  EXPECT_EQ(j["negative"].get<int64_t>(), -7);
  EXPECT_TRUE(j["float"].is_number_float());
  EXPECT_DOUBLE_EQ(j["float"].get<double>(), 1.5);
  EXPECT_TRUE(j["exponent"].is_number());
  EXPECT_DOUBLE_EQ(j["exponent"].get<double>(), 1000.0);
  EXPECT_EQ(j["yes_word"], Json("yes"));
  EXPECT_EQ(j["no_word"], Json("no"));
  EXPECT_EQ(j["on_word"], Json("on"));
  EXPECT_EQ(j["off_word"], Json("off"));
  EXPECT_EQ(j["y"], Json("y"));
  EXPECT_EQ(j["t"], Json(true));
  EXPECT_EQ(j["f"], Json(false));
  EXPECT_EQ(j["cap"], Json(true));
  EXPECT_TRUE(j["null_word"].is_null());
  EXPECT_TRUE(j["tilde"].is_null());
  EXPECT_TRUE(j["empty"].is_null());
  EXPECT_EQ(j["quoted_true"], Json("true"));
  EXPECT_EQ(j["quoted_null"], Json("null"));
  EXPECT_EQ(j["leading_zero"], Json("007"));
  EXPECT_EQ(j["text"], Json("hello world"));
}

TEST(YamlToJsonTest, KeepsNesting) {
  Json j = Yaml("b: 1\na: [x, {c: 2, a: [1, {d: null}]}]\n");
  EXPECT_EQ(j, Json::parse(R"({"b":1,"a":["x",{"c":2,"a":[1,{"d":null}]}]})"));
}

TEST(YamlToJsonTest, IntegerTooLargeForInt64BecomesANumberNotAnError) {
  Json j = Yaml("big: 123456789012345678901234567890\n");
  ASSERT_TRUE(j["big"].is_number_float());
  EXPECT_NEAR(j["big"].get<double>() / 1.2345678901234568e29, 1.0, 1e-12);
}

TEST(YamlToJsonTest, NumberBeyondDoubleRangeIsNotAnExceptionAndNotInfinity) {
  // 1e999 overflows a double. YamlToJson must not throw (it promises true/false with an error);
  // either it reports an error or keeps something finite (e.g. the text).
  const std::vector<std::string> texts = {"x: 1e999\n", "x: -1e999\n", "x: 1" + std::string(400, '0') + "\n"};
  for (const std::string& text : texts) {
    SCOPED_TRACE(text);
    Json out;
    std::string error;
    bool ok = false;
    ASSERT_NO_THROW(ok = YamlToJson(text, &out, &error));
    if (ok) {
      EXPECT_FALSE(out["x"].is_number_float() && !std::isfinite(out["x"].get<double>())) << out.dump();
    } else {
      EXPECT_FALSE(error.empty());
    }
  }
}

TEST(YamlToJsonTest, SyntaxErrorReportsLineAndColumn) {
  Json out;
  std::string error;
  EXPECT_FALSE(YamlToJson("a: [1, 2\nb: 3\n", &out, &error));
  EXPECT_NE(error.find("line "), std::string::npos) << error;
  EXPECT_NE(error.find("column "), std::string::npos) << error;
}

TEST(YamlToJsonTest, InvalidUtf8IsASyntaxErrorNotAStringJsonCannotHold) {
  // yaml-cpp passes bytes through; nlohmann::json throws when dumping them (found by fuzz_definition).
  for (const char* text : {"id: caf\xe9\n", "variables: {\"\xff\": 1}\n", "- \xed\xa0\x80\n"}) {
    Json out;
    std::string error;
    EXPECT_FALSE(YamlToJson(text, &out, &error)) << text;
    EXPECT_NE(error.find("not valid UTF-8"), std::string::npos) << error;
  }
  EXPECT_EQ(Yaml("id: caf\xc3\xa9\n")["id"], "caf\xc3\xa9");
}

TEST(YamlToJsonTest, JsonIsAcceptedAsYaml) {
  Json j = Yaml(R"({"a": [1, 2.5, "3", true, null], "b": {"c": "d"}})");
  EXPECT_EQ(j, Json::parse(R"({"a": [1, 2.5, "3", true, null], "b": {"c": "d"}})"));
  EXPECT_TRUE(j["a"][0].is_number_integer());
}

TEST(YamlToJsonTest, AliasExpansionBombIsRefused) {
  // "Billion laughs": nine levels of ten aliases expand to 10^9 strings. Definitions come from
  // API clients, so expanding aliases must be bounded (an error), not exhaust memory.
  std::string text = "a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i <= 9; ++i) {
    std::string prev = "*a" + std::to_string(i - 1);
    text += "a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) text += (k ? ", " : "") + prev;
    text += "]\n";
  }
  Json out;
  std::string error;
  EXPECT_FALSE(YamlToJson(text, &out, &error));
  EXPECT_FALSE(error.empty());
}

TEST(YamlToJsonTest, DuplicateKeysAreAnErrorNotSilentlyDropped) {
  // YAML requires unique keys; keeping the last one silently drops what the author wrote first
  // (`text: x` below never runs). Either form must be reported.
  for (const char* text : {"a: 1\na: 2\n", R"({"a": 1, "a": 2})",
                           "activities: [{id: a, type: WriteLine, text: x, text: y}]\n"}) {
    SCOPED_TRACE(text);
    Json out;
    std::string error;
    EXPECT_FALSE(YamlToJson(text, &out, &error)) << out.dump();
    EXPECT_NE(error.find("duplicate"), std::string::npos) << error;
  }
}

TEST(ParserTest, YamlTypingAppliesToActivityInputs) {
  WorkflowDefinition def = ParseOk(R"(activities:
  - {id: a, type: SetVariable, name: s, value: "123"}
  - {id: b, type: SetVariable, name: i, value: 123}
  - {id: c, type: SetVariable, name: y, value: yes}
  - {id: d, type: SetVariable, name: n, value: no}
  - {id: e, type: SetVariable, name: t, value: true}
)");
  ASSERT_EQ(def.activities.size(), 5u);
  EXPECT_EQ(def.activities[0].inputs["value"], Json("123"));
  EXPECT_TRUE(def.activities[1].inputs["value"].is_number_integer());
  EXPECT_EQ(def.activities[1].inputs["value"], Json(123));
  EXPECT_EQ(def.activities[2].inputs["value"], Json("yes"));
  EXPECT_EQ(def.activities[3].inputs["value"], Json("no"));
  EXPECT_EQ(def.activities[4].inputs["value"], Json(true));
}

TEST(ParserTest, SyntaxErrorIsOneErrorWithAnEmptyPath) {
  std::vector<ValidationError> errors = ErrorsOf("activities: [{id: a, type: Noop}\n");
  ASSERT_EQ(errors.size(), 1u) << model_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "");
  EXPECT_NE(errors[0].message.find("line"), std::string::npos) << errors[0].message;
}

TEST(ParserTest, ADocumentThatIsNotAnObjectIsAnError) {
  auto errors = ErrorsOf("[1, 2]");
  EXPECT_ERROR(errors, "", "must be an object");
  errors = ErrorsOf("just text");
  EXPECT_ERROR(errors, "", "must be an object");
}

// --- Inputs -------------------------------------------------------------------------------------

const InputDeclaration* FindInput(const WorkflowDefinition& def, const std::string& name) {
  for (const auto& in : def.inputs) {
    if (in.name == name) return &in;
  }
  ADD_FAILURE() << "no input declaration '" << name << "'";
  static const InputDeclaration kMissing;
  return &kMissing;
}

TEST(ParserTest, InputDeclarationsWithTypesRequiredAndDefaults) {
  WorkflowDefinition def = ParseOk(R"(inputs:
  orderId: {type: string, required: true, description: The order}
  count: {type: integer, default: 3}
  ratio: {type: number, default: 0.5}
  flag: {type: boolean, default: false}
  tags: {type: array, default: [a, b]}
  meta: {type: object, default: {k: v}}
  anything: {}
  short: string
  bare:
activities: [{id: a, type: Noop}]
)");
  ASSERT_EQ(def.inputs.size(), 9u);
  const InputDeclaration* order_id = FindInput(def, "orderId");
  EXPECT_EQ(order_id->type, "string");
  EXPECT_TRUE(order_id->required);
  EXPECT_EQ(order_id->description, "The order");
  EXPECT_FALSE(order_id->default_value.has_value());
  const InputDeclaration* count = FindInput(def, "count");
  EXPECT_EQ(count->type, "integer");
  EXPECT_FALSE(count->required);
  ASSERT_TRUE(count->default_value.has_value());
  EXPECT_EQ(*count->default_value, Json(3));
  EXPECT_EQ(FindInput(def, "ratio")->default_value, Json(0.5));
  EXPECT_EQ(FindInput(def, "flag")->default_value, Json(false));
  EXPECT_EQ(FindInput(def, "tags")->default_value, Json({"a", "b"}));
  EXPECT_EQ(FindInput(def, "meta")->default_value, Json({{"k", "v"}}));
  EXPECT_EQ(FindInput(def, "anything")->type, "any");
  EXPECT_FALSE(FindInput(def, "anything")->default_value.has_value());
  EXPECT_EQ(FindInput(def, "short")->type, "string");
  EXPECT_EQ(FindInput(def, "bare")->type, "any");
}

TEST(ParserTest, BadInputDeclarationsAreReportedWithTheirPaths) {
  auto errors = ErrorsOf(R"(inputs:
  a: {type: strng}
  b: {type: integer, default: "three"}
  c: {type: string, required: true, default: x}
  d: {type: string, required: "yes"}
  e: {type: string, requird: true}
  f: 42
  g: {type: 5}
activities: [{id: a, type: Noop}]
)");
  EXPECT_ERROR(errors, "inputs.a.type", "unknown input type 'strng'");
  EXPECT_ERROR(errors, "inputs.b.default", "integer");
  EXPECT_ERROR(errors, "inputs.c.required", "cannot have a default");
  EXPECT_ERROR(errors, "inputs.d.required", "true or false");
  EXPECT_ERROR(errors, "inputs.e.requird", "did you mean 'required'");
  EXPECT_ERROR(errors, "inputs.f", "type name or an object");
  EXPECT_ERROR(errors, "inputs.g.type", "must be a string");
  EXPECT_EQ(model_test::ErrorsAt(errors, "inputs").size(), 0u);
}

TEST(ParserTest, InputsThatAreNotAnObjectAreAnError) {
  EXPECT_ERROR(ErrorsOf("inputs: [a, b]\nactivities: [{id: a, type: Noop}]\n"), "inputs",
               "must be an object");
}

TEST(ParserTest, InputTypeChecks) {
  EXPECT_TRUE(IsKnownInputType("string"));
  EXPECT_TRUE(IsKnownInputType("number"));
  EXPECT_TRUE(IsKnownInputType("integer"));
  EXPECT_TRUE(IsKnownInputType("boolean"));
  EXPECT_TRUE(IsKnownInputType("object"));
  EXPECT_TRUE(IsKnownInputType("array"));
  EXPECT_TRUE(IsKnownInputType("any"));
  EXPECT_FALSE(IsKnownInputType("str"));
  EXPECT_FALSE(IsKnownInputType(""));

  EXPECT_TRUE(JsonMatchesType(Json("x"), "string"));
  EXPECT_FALSE(JsonMatchesType(Json(1), "string"));
  EXPECT_TRUE(JsonMatchesType(Json(1), "integer"));
  EXPECT_TRUE(JsonMatchesType(Json(2.0), "integer"));
  EXPECT_FALSE(JsonMatchesType(Json(2.5), "integer"));
  EXPECT_TRUE(JsonMatchesType(Json(2.5), "number"));
  EXPECT_FALSE(JsonMatchesType(Json("2"), "number"));
  EXPECT_TRUE(JsonMatchesType(Json(false), "boolean"));
  EXPECT_FALSE(JsonMatchesType(Json(0), "boolean"));
  EXPECT_TRUE(JsonMatchesType(Json::object(), "object"));
  EXPECT_FALSE(JsonMatchesType(Json::array(), "object"));
  EXPECT_TRUE(JsonMatchesType(Json::array(), "array"));
  EXPECT_TRUE(JsonMatchesType(nullptr, "any"));
}

// --- Variables ----------------------------------------------------------------------------------

TEST(ParserTest, VariablesAreAnObjectOfInitialValues) {
  WorkflowDefinition def = ParseOk(R"(variables: {attempts: 0, name: "x", list: [1, 2], nested: {a: null}}
activities: [{id: a, type: Noop}]
)");
  EXPECT_EQ(def.variables, Json::parse(R"({"attempts":0,"name":"x","list":[1,2],"nested":{"a":null}})"));
}

TEST(ParserTest, VariablesThatAreNotAnObjectAreAnError) {
  EXPECT_ERROR(ErrorsOf("variables: [1]\nactivities: [{id: a, type: Noop}]\n"), "variables",
               "must be an object");
}

// --- Triggers -----------------------------------------------------------------------------------

TEST(ParserTest, WebhookCronAndEventTriggers) {
  WorkflowDefinition def = ParseOk(R"(triggers:
  - {type: Webhook, path: orders/new, method: POST}
  - {type: Cron, schedule: "0 9 * * MON-FRI", timezone: Europe/Amsterdam, misfire: catch-up}
  - {type: Cron, schedule: "@hourly"}
  - {type: Event, event: order.created, correlation: "{{ payload.id }}"}
activities: [{id: a, type: Noop}]
)");
  ASSERT_EQ(def.triggers.size(), 4u);
  EXPECT_EQ(def.triggers[0].type, "Webhook");
  EXPECT_EQ(def.triggers[0].config, Json({{"path", "orders/new"}, {"method", "POST"}}));
  EXPECT_EQ(def.triggers[1].type, "Cron");
  EXPECT_EQ(
      def.triggers[1].config,
      Json({{"schedule", "0 9 * * MON-FRI"}, {"timezone", "Europe/Amsterdam"}, {"misfire", "catch-up"}}));
  EXPECT_EQ(def.triggers[2].config, Json({{"schedule", "@hourly"}}));
  EXPECT_EQ(def.triggers[3].type, "Event");
  EXPECT_EQ(def.triggers[3].config["event"], "order.created");
}

TEST(ParserTest, BadCronExpressionIsReportedAtTheSchedule) {
  auto errors = ErrorsOf(R"(triggers:
  - {type: Webhook, path: ok}
  - {type: Cron, schedule: "61 * * * *"}
  - {type: Cron, schedule: "not a cron"}
  - {type: Cron, schedule: "0 9 * * *", timezone: Mars/Olympus}
  - {type: Cron, schedule: "0 9 * * *", misfire: sometimes}
  - {type: Cron}
activities: [{id: a, type: Noop}]
)");
  EXPECT_EQ(model_test::ErrorsAt(errors, "triggers[0].path").size(), 0u);
  EXPECT_ERROR(errors, "triggers[1].schedule", "");
  EXPECT_ERROR(errors, "triggers[2].schedule", "");
  EXPECT_ERROR(errors, "triggers[3].schedule", "");  // the time zone is checked with the schedule
  EXPECT_ERROR(errors, "triggers[4].misfire", "'skip' or 'catch-up'");
  EXPECT_ERROR(errors, "triggers[5].schedule", "is required");
}

TEST(ParserTest, UnknownTriggerTypeSuggestsTheClosest) {
  auto errors =
      ErrorsOf("triggers: [{type: Webhok, path: x}, {type: Timer}]\nactivities: [{id: a, type: Noop}]\n");
  EXPECT_ERROR(errors, "triggers[0].type", "unknown trigger type 'Webhok'");
  EXPECT_ERROR(errors, "triggers[0].type", "did you mean 'Webhook'");
  EXPECT_ERROR(errors, "triggers[1].type", "known: Webhook, Cron, Event");
}

TEST(ParserTest, TriggerFieldProblems) {
  auto errors = ErrorsOf(R"(triggers:
  - {type: Webhook}
  - {type: Webhook, path: "a b?c"}
  - {type: Webhook, path: x, methd: GET}
  - {type: Event}
  - {path: x}
  - hello
activities: [{id: a, type: Noop}]
)");
  EXPECT_ERROR(errors, "triggers[0].path", "is required");
  EXPECT_ERROR(errors, "triggers[1].path", "must not contain");
  EXPECT_ERROR(errors, "triggers[2].methd", "did you mean 'method'");
  EXPECT_ERROR(errors, "triggers[3].event", "is required");
  EXPECT_ERROR(errors, "triggers[4].type", "is required");
  EXPECT_ERROR(errors, "triggers[5]", "must be an object");
  EXPECT_ERROR(ErrorsOf("triggers: {type: Webhook}\nactivities: [{id: a, type: Noop}]\n"), "triggers",
               "list");
}

// --- Retry, timeout and durations ----------------------------------------------------------------

TEST(ParserTest, TimeoutAcceptsEveryDocumentedDurationForm) {
  struct Case {
    const char* text;
    milliseconds want;
  } cases[] = {{"500ms", 500ms}, {"10s", 10s}, {"5m", 5min}, {"1h30m", 90min}, {"2d", 48h}, {"PT5M", 5min}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    WorkflowDefinition def =
        ParseOk(std::string("activities: [{id: a, type: Noop, timeout: \"") + c.text + "\"}]\n");
    ASSERT_EQ(def.activities.size(), 1u);
    ASSERT_TRUE(def.activities[0].timeout.has_value());
    EXPECT_EQ(*def.activities[0].timeout, c.want);
  }
}

TEST(ParserTest, BadDurationsAreReportedWithTheirPaths) {
  // An activity's own `timeout` is checked by the validator (validator_test.cpp), which knows
  // whether the type has a `timeout` input of its own; retry and options durations are checked here.
  auto errors = ErrorsOf(R"(activities:
  - {id: d, type: Noop, retry: {initial: soon, max: 1x}}
  - {id: e, type: Noop, retry: {initial: 10}}
options: {maxExecutionTime: forever}
)");
  EXPECT_ERROR(errors, "activities[0].retry.initial", "is not a duration");
  EXPECT_ERROR(errors, "activities[0].retry.max", "is not a duration");
  EXPECT_ERROR(errors, "activities[1].retry.initial", "duration string");
  EXPECT_ERROR(errors, "options.maxExecutionTime", "is not a duration");
  EXPECT_ERROR(ErrorsOf("options: {maxExecutionTime: P1M}\nactivities: [{id: a, type: Noop}]\n"),
               "options.maxExecutionTime", "months");
}

TEST(ParserTest, UnparsableTimeoutLeavesTheActivityTimeoutUnset) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def =
      ParseDefinition("activities: [{id: a, type: Noop, timeout: 10 parsecs}]\n", &errors);
  ASSERT_EQ(def.activities.size(), 1u);
  EXPECT_FALSE(def.activities[0].timeout.has_value());
}

TEST(ParserTest, RetryPolicyFields) {
  WorkflowDefinition def = ParseOk(R"(activities:
  - {id: a, type: Noop, retry: {maxAttempts: 4, backoff: fixed, initial: 500ms, max: 1m, jitter: 0}}
  - {id: b, type: Noop, retry: {backoff: exponential}}
)");
  const RetryPolicy& a = *def.activities[0].retry;
  EXPECT_EQ(a.max_attempts, 4);
  EXPECT_EQ(a.backoff, RetryPolicy::Backoff::kFixed);
  EXPECT_EQ(a.initial, 500ms);
  EXPECT_EQ(a.max, 1min);
  EXPECT_EQ(a.jitter, 0.0);
  // A retry block without maxAttempts retries (3 attempts); the other fields keep their defaults.
  const RetryPolicy& b = *def.activities[1].retry;
  EXPECT_EQ(b.max_attempts, 3);
  EXPECT_EQ(b.backoff, RetryPolicy::Backoff::kExponential);
  EXPECT_EQ(b.initial, 1s);
  EXPECT_EQ(b.max, 5min);
}

TEST(ParserTest, BadRetryPolicies) {
  auto errors = ErrorsOf(R"(activities:
  - {id: a, type: Noop, retry: 3}
  - {id: b, type: Noop, retry: {maxAttempts: 0}}
  - {id: c, type: Noop, retry: {maxAttempts: 2.5}}
  - {id: d, type: Noop, retry: {backoff: linear}}
  - {id: e, type: Noop, retry: {jitter: 2}}
  - {id: f, type: Noop, retry: {maxAttemps: 2}}
)");
  EXPECT_ERROR(errors, "activities[0].retry", "must be an object");
  EXPECT_ERROR(errors, "activities[1].retry.maxAttempts", "from 1 to 1000");
  EXPECT_ERROR(errors, "activities[2].retry.maxAttempts", "from 1 to 1000");
  EXPECT_ERROR(errors, "activities[3].retry.backoff", "'fixed' or 'exponential'");
  EXPECT_ERROR(errors, "activities[4].retry.jitter", "from 0 to 1");
  EXPECT_ERROR(errors, "activities[5].retry.maxAttemps", "did you mean 'maxAttempts'");
}

TEST(ParserTest, MaxExecutionTimeOption) {
  WorkflowDefinition def = ParseOk("options: {maxExecutionTime: 1h30m}\nactivities: [{id: a, type: Noop}]\n");
  ASSERT_TRUE(def.options.max_execution_time.has_value());
  EXPECT_EQ(*def.options.max_execution_time, 90min);

  auto errors = ErrorsOf("options: {maxExecutionTme: 1h}\nactivities: [{id: a, type: Noop}]\n");
  EXPECT_ERROR(errors, "options.maxExecutionTme", "did you mean 'maxExecutionTime'");
  EXPECT_ERROR(ErrorsOf("options: 5\nactivities: [{id: a, type: Noop}]\n"), "options", "must be an object");
}

// --- Structure ----------------------------------------------------------------------------------

TEST(ParserTest, StructuralErrorsAreAllReported) {
  auto errors = ErrorsOf(R"(id: x
activites: []
nme: y
activities:
  - {type: Noop}
  - {id: b}
  - 42
  - {id: "", type: Noop}
connections:
  - {to: b}
  - {from: a}
  - {from: a, to: b, outcom: Done}
  - nope
)");
  EXPECT_ERROR(errors, "activites", "did you mean 'activities'");
  EXPECT_ERROR(errors, "nme", "did you mean 'name'");
  EXPECT_ERROR(errors, "activities[0].id", "is required");
  EXPECT_ERROR(errors, "activities[1].type", "is required");
  EXPECT_ERROR(errors, "activities[2]", "must be an object");
  EXPECT_ERROR(errors, "activities[3].id", "must not be empty");
  EXPECT_ERROR(errors, "connections[0].from", "is required");
  EXPECT_ERROR(errors, "connections[1].to", "is required");
  EXPECT_ERROR(errors, "connections[2].outcom", "did you mean 'outcome'");
  EXPECT_ERROR(errors, "connections[3]", "must be an object");
}

TEST(ParserTest, ActivitiesAreRequiredAndNonEmpty) {
  EXPECT_ERROR(ErrorsOf("id: x\n"), "activities", "is required");
  EXPECT_ERROR(ErrorsOf("activities: []\n"), "activities", "at least one");
  EXPECT_ERROR(ErrorsOf("activities: {id: a}\n"), "activities", "must be a list");
  EXPECT_ERROR(ErrorsOf("activities: [{id: a, type: Noop}]\nconnections: {from: a}\n"), "connections",
               "list");
}

// --- DefinitionToJson ---------------------------------------------------------------------------

TEST(ParserTest, DefinitionToJsonRoundTripsTheDesignExample) {
  WorkflowDefinition def = ParseOk(model_test::kDesignYaml);
  Json once = DefinitionToJson(def);
  std::vector<ValidationError> errors;
  WorkflowDefinition again = DefinitionFromJson(once, &errors);
  EXPECT_NO_ERRORS(errors);
  EXPECT_EQ(DefinitionToJson(again), once);

  // The structural parts survive exactly.
  EXPECT_EQ(again.id, def.id);
  EXPECT_EQ(again.inputs.size(), def.inputs.size());
  EXPECT_EQ(again.variables, def.variables);
  ASSERT_EQ(again.triggers.size(), 2u);
  EXPECT_EQ(again.triggers[1].config, def.triggers[1].config);
  ASSERT_EQ(again.activities.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    SCOPED_TRACE(i);
    EXPECT_EQ(again.activities[i].id, def.activities[i].id);
    EXPECT_EQ(again.activities[i].type, def.activities[i].type);
    EXPECT_EQ(again.activities[i].inputs, def.activities[i].inputs);
    EXPECT_EQ(again.activities[i].timeout, def.activities[i].timeout);
    EXPECT_EQ(again.activities[i].retry.has_value(), def.activities[i].retry.has_value());
  }
  EXPECT_EQ(again.activities[0].retry->max_attempts, 5);
  EXPECT_EQ(again.activities[0].retry->backoff, RetryPolicy::Backoff::kExponential);
  EXPECT_EQ(again.activities[0].retry->initial, 1s);
  ASSERT_EQ(again.connections.size(), 4u);
  for (size_t i = 0; i < 4; ++i) {
    EXPECT_EQ(again.connections[i].from, def.connections[i].from);
    EXPECT_EQ(again.connections[i].outcome, def.connections[i].outcome);
    EXPECT_EQ(again.connections[i].to, def.connections[i].to);
  }
}

TEST(ParserTest, DefinitionToJsonWritesTheUsualForm) {
  WorkflowDefinition def = ParseOk(R"(id: w
name: W
description: Does things
version: 3
inputs: {n: {type: integer, default: 2, description: how many}, s: string}
variables: {v: 1}
options: {maxExecutionTime: 90m}
activities:
  - {id: a, type: SetVariable, name: counter, value: 1, displayName: Bump, timeout: 1500ms,
     retry: {maxAttempts: 2, backoff: fixed, initial: 1s, max: 1m, jitter: 0.5}}
connections: []
)");
  Json j = DefinitionToJson(def);
  EXPECT_EQ(j["id"], "w");
  EXPECT_EQ(j["name"], "W");
  EXPECT_EQ(j["description"], "Does things");
  EXPECT_EQ(j["version"], 3);
  EXPECT_EQ(j["inputs"], Json::parse(R"({"n":{"type":"integer","default":2,"description":"how many"},
                                         "s":{"type":"string"}})"));
  EXPECT_EQ(j["variables"], Json({{"v", 1}}));
  EXPECT_EQ(j["options"], Json({{"maxExecutionTime", "1h30m"}}));
  EXPECT_EQ(j["connections"], Json::array());
  const Json& a = j["activities"][0];
  EXPECT_EQ(a["id"], "a");
  EXPECT_EQ(a["type"], "SetVariable");
  EXPECT_EQ(a["name"], "counter");
  EXPECT_EQ(a["displayName"], "Bump");
  EXPECT_EQ(a["value"], 1);
  EXPECT_EQ(a["timeout"], "1500ms");  // as written
  EXPECT_EQ(a["retry"],
            Json::parse(R"({"maxAttempts":2,"backoff":"fixed","initial":"1s","max":"1m","jitter":0.5})"));

  std::vector<ValidationError> errors;
  WorkflowDefinition again = DefinitionFromJson(j, &errors);
  EXPECT_NO_ERRORS(errors);
  EXPECT_EQ(DefinitionToJson(again), j);
  EXPECT_EQ(again.activities[0].name, "Bump");
  EXPECT_EQ(again.activities[0].inputs["name"], "counter");
  EXPECT_EQ(*again.activities[0].timeout, 1500ms);
  EXPECT_EQ(again.activities[0].retry->jitter, 0.5);
  EXPECT_EQ(*again.options.max_execution_time, 90min);
  EXPECT_EQ(again.version, 3);
}

TEST(ParserTest, DefinitionToJsonOfTheShortFormHasNoConnections) {
  WorkflowDefinition def = ParseOk(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})");
  Json j = DefinitionToJson(def);
  EXPECT_EQ(j, Json::parse(R"({"activities":[{"id":"1","type":"WriteLine","text":"Hello"}]})"));
}

}  // namespace
}  // namespace trellis
