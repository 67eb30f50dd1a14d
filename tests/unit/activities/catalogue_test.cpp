// The built-in catalogue against DESIGN.md's table: every type, its inputs and its outcomes, as
// `trellis activities` and GET /api/activities describe them (DescriptorToJson).
#include <algorithm>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;

struct Documented {
  std::string type;
  std::vector<std::string> inputs;
  std::vector<std::string> outcomes;  // the fixed ones
  std::string dynamic_outcomes;       // the input that names more outcomes
};

// DESIGN.md section 2, "Activity catalogue (v1)".
const std::vector<Documented>& DesignCatalogue() {
  static const std::vector<Documented> kTable = {
      {"WriteLine", {"text"}, {"Done"}, ""},
      {"Log", {"message", "level"}, {"Done"}, ""},
      {"SetVariable", {"name", "value"}, {"Done"}, ""},
      {"SetOutput", {"name", "value"}, {"Done"}, ""},
      {"If", {"condition"}, {"True", "False"}, ""},
      {"Switch", {"cases"}, {"Default"}, "cases"},
      {"ForEach", {"items", "as", "parallel"}, {"Iterate", "Done"}, ""},
      {"While", {"condition", "maxIterations"}, {"Iterate", "Done"}, ""},
      {"Fork", {"branches"}, {}, "branches"},
      {"Join", {"mode"}, {"Done"}, ""},
      {"Delay", {"duration"}, {"Done"}, ""},
      {"WaitUntil", {"at"}, {"Done"}, ""},
      {"HttpRequest", {"method", "url", "headers", "query", "body", "timeout"}, {"Done", "Failed"}, ""},
      {"HttpResponse", {"status", "headers", "body"}, {"Done"}, ""},
      {"WaitForWebhook", {"path", "method"}, {"Done"}, ""},
      {"WaitForEvent", {"event", "correlation", "timeout"}, {"Done", "Timeout"}, ""},
      {"PublishEvent", {"event", "correlation", "payload"}, {"Done"}, ""},
      {"RunWorkflow", {"workflow", "version", "input", "wait"}, {"Done"}, ""},
      {"Script", {"code"}, {"Done"}, ""},
      {"Transform", {"value"}, {"Done"}, ""},
      {"Fail", {"message"}, {}, ""},
      {"Finish", {"output"}, {}, ""},
      {"Noop", {}, {"Done"}, ""},
  };
  return kTable;
}

const Json* FindInput(const Json& descriptor, const std::string& name) {
  for (const auto& in : descriptor["inputs"]) {
    if (in["name"] == name) return &in;
  }
  return nullptr;
}

TEST(CatalogueTest, EveryDocumentedTypeHasADescriptorWithItsInputsAndOutcomes) {
  const ActivityRegistry& registry = BuiltinActivities();
  for (const auto& doc : DesignCatalogue()) {
    SCOPED_TRACE(doc.type);
    const ActivityDescriptor* d = registry.FindDescriptor(doc.type);
    ASSERT_NE(d, nullptr) << doc.type << " is missing from the catalogue";
    Json j = DescriptorToJson(*d);
    EXPECT_EQ(j["type"], doc.type);
    EXPECT_FALSE(j["category"].get<std::string>().empty());
    EXPECT_FALSE(j["description"].get<std::string>().empty());

    std::vector<std::string> names;
    for (const auto& in : j["inputs"]) {
      names.push_back(in["name"]);
      EXPECT_TRUE(in.contains("type")) << in.dump();
      EXPECT_TRUE(in["required"].is_boolean()) << in.dump();
    }
    std::vector<std::string> want = doc.inputs;
    std::sort(names.begin(), names.end());
    std::sort(want.begin(), want.end());
    EXPECT_EQ(names, want);

    EXPECT_EQ(j["outcomes"], Json(doc.outcomes));
    if (doc.dynamic_outcomes.empty()) {
      EXPECT_FALSE(j.contains("dynamicOutcomesFrom")) << j.dump();
    } else {
      EXPECT_EQ(j["dynamicOutcomesFrom"], doc.dynamic_outcomes);
    }
  }
}

TEST(CatalogueTest, NoUndocumentedTypes) {
  std::set<std::string> documented;
  for (const auto& doc : DesignCatalogue()) documented.insert(doc.type);
  for (const auto& type : BuiltinActivities().Types()) {
    EXPECT_TRUE(documented.contains(type)) << type << " is not in DESIGN.md's catalogue";
  }
  EXPECT_EQ(BuiltinActivities().Types().size(), documented.size());
  EXPECT_EQ(BuiltinActivities().Descriptors().size(), documented.size());
}

TEST(CatalogueTest, DocumentedDefaults) {
  const ActivityRegistry& registry = BuiltinActivities();
  auto default_of = [&](const std::string& type, const std::string& input) -> Json {
    const ActivityDescriptor* d = registry.FindDescriptor(type);
    if (d == nullptr) return "(no type)";
    const Json descriptor = DescriptorToJson(*d);
    const Json* in = FindInput(descriptor, input);
    if (in == nullptr) return "(no input)";
    return in->contains("default") ? (*in)["default"] : Json();
  };
  EXPECT_EQ(default_of("ForEach", "as"), "item");
  EXPECT_EQ(default_of("ForEach", "parallel"), 1);
  EXPECT_EQ(default_of("While", "maxIterations"), 10000);
  EXPECT_EQ(default_of("Join", "mode"), "all");
  EXPECT_EQ(default_of("RunWorkflow", "wait"), true);
  EXPECT_EQ(default_of("HttpRequest", "method"), "GET");
  EXPECT_EQ(default_of("HttpResponse", "status"), 200);
}

TEST(CatalogueTest, RequiredInputs) {
  const ActivityRegistry& registry = BuiltinActivities();
  auto required = [&](const std::string& type, const std::string& input) {
    const ActivityDescriptor* d = registry.FindDescriptor(type);
    const InputDescriptor* in = d == nullptr ? nullptr : d->FindInput(input);
    return in != nullptr && in->required;
  };
  EXPECT_TRUE(required("WriteLine", "text"));
  EXPECT_TRUE(required("If", "condition"));
  EXPECT_TRUE(required("HttpRequest", "url"));
  EXPECT_FALSE(required("HttpRequest", "method"));
  EXPECT_TRUE(required("Delay", "duration"));
  EXPECT_TRUE(required("WaitUntil", "at"));
  EXPECT_TRUE(required("WaitForEvent", "event"));
  EXPECT_FALSE(required("WaitForEvent", "correlation"));
  EXPECT_TRUE(required("RunWorkflow", "workflow"));
  EXPECT_TRUE(required("Script", "code"));
  EXPECT_TRUE(required("ForEach", "items"));
}

TEST(CatalogueTest, ExternalEffectsAndSuspensionsMatchTheDesign) {
  // DESIGN.md section 4: a commit point follows HttpRequest, HttpResponse, PublishEvent and
  // RunWorkflow; Delay, WaitUntil, WaitForEvent, WaitForWebhook and RunWorkflow suspend.
  const std::set<std::string> external = {"HttpRequest", "HttpResponse", "PublishEvent", "RunWorkflow"};
  const std::set<std::string> suspends = {"Delay", "WaitUntil", "WaitForEvent", "WaitForWebhook",
                                          "RunWorkflow"};
  for (const auto* d : BuiltinActivities().Descriptors()) {
    SCOPED_TRACE(d->type);
    Json j = DescriptorToJson(*d);
    EXPECT_EQ(j["effect"], external.contains(d->type) ? "external" : "pure");
    EXPECT_EQ(j["suspends"], suspends.contains(d->type));
  }
}

TEST(CatalogueTest, ActivitiesWithOutputsDescribeThem) {
  for (const char* type : {"WriteLine", "SetVariable", "SetOutput", "If", "Switch", "HttpRequest",
                           "WaitForWebhook", "WaitForEvent", "RunWorkflow", "Script", "Transform"}) {
    SCOPED_TRACE(type);
    const ActivityDescriptor* d = BuiltinActivities().FindDescriptor(type);
    ASSERT_NE(d, nullptr);
    EXPECT_FALSE(DescriptorToJson(*d).value("output", "").empty());
  }
}

TEST(CatalogueTest, EveryRunnableTypeHasAnImplementationAndControlTypesHaveNone) {
  const std::set<std::string> control = {"ForEach", "While", "Fork", "Join", "Finish", "Fail"};
  for (const auto& type : BuiltinActivities().Types()) {
    SCOPED_TRACE(type);
    EXPECT_EQ(BuiltinActivities().Find(type) == nullptr, control.contains(type));
  }
}

// --- Validation with the real catalogue ----------------------------------------------------------

TEST(CatalogueTest, TheDesignExampleCompiles) {
  auto wf = Compile(R"(id: order-fulfilment
name: Order fulfilment
inputs: {orderId: {type: string, required: true}}
variables: {attempts: 0}
triggers:
  - {type: Webhook, path: orders, method: POST}
  - {type: Cron, schedule: "*/15 * * * *", timezone: Europe/Amsterdam}
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.example.com/orders/{{ input.orderId }}",
     retry: {maxAttempts: 5, backoff: exponential, initial: 1s}, timeout: 10s}
  - {id: big, type: If, condition: "{{ outputs.fetch.body.total > 1000 }}"}
  - {id: approve, type: WaitForEvent, event: order.approved, correlation: "{{ input.orderId }}", timeout: 48h}
  - {id: ship, type: HttpRequest, method: POST, url: "https://ship.example.com", body: "{{ outputs.fetch.body }}"}
connections:
  - {from: fetch, to: big}
  - {from: big, outcome: "True", to: approve}
  - {from: big, outcome: "False", to: ship}
  - {from: approve, to: ship}
)");
  ASSERT_TRUE(wf);
  EXPECT_EQ(wf->start(), std::vector<int>{0});
  EXPECT_TRUE(wf->activity(0).external);
  EXPECT_FALSE(wf->activity(1).external);
}

TEST(CatalogueTest, CompileReportsEveryProblemWithItsPath) {
  auto errors = CompileErrors(R"(activities:
  - {id: a, type: WriteLin, text: x}
  - {id: b, type: If, condition: "{{ 1 + }}"}
  - {id: c, type: Delay, duration: soon}
  - {id: d, type: HttpRequest, methd: GET}
  - {id: a, type: Noop}
  - {id: e, type: Switch, cases: [{name: EU, condition: "true"}]}
connections:
  - {from: b, outcome: Maybe, to: c}
  - {from: ghost, to: d}
  - {from: e, outcome: EU, to: d}
  - {from: e, outcome: US, to: c}
)");
  auto has = [&](const std::string& path, const std::string& fragment) {
    return std::any_of(errors.begin(), errors.end(), [&](const ValidationError& e) {
      return e.path == path && e.message.find(fragment) != std::string::npos;
    });
  };
  EXPECT_TRUE(has("activities[0].type", "did you mean 'WriteLine'")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("activities[1].inputs.condition", "")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("activities[2].inputs.duration", "is not a duration")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("activities[3].inputs.methd", "did you mean 'method'")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("activities[3].inputs.url", "is required")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("activities[4].id", "duplicate")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("connections[0].outcome", "no outcome 'Maybe'")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("connections[1].from", "unknown activity id 'ghost'")) << activity_test::Describe(errors);
  EXPECT_TRUE(has("connections[3].outcome", "no outcome 'US'")) << activity_test::Describe(errors);
  EXPECT_EQ(errors.size(), 9u) << activity_test::Describe(errors);
}

}  // namespace
}  // namespace trellis
