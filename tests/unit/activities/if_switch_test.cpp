// If and Switch: conditions follow Lua truthiness (only nil and false are false).
#include <string>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;

// Runs `If` with this condition (YAML text) and returns the outcome it took.
std::string IfOutcome(const std::string& condition, Json input = Json::object(), Json* output = nullptr) {
  Harness h;
  auto wf = Compile("activities:\n  - {id: c, type: If, condition: " + condition + R"(}
  - {id: yes, type: WriteLine, text: "True"}
  - {id: no, type: WriteLine, text: "False"}
connections:
  - {from: c, outcome: "True", to: yes}
  - {from: c, outcome: "False", to: no}
)");
  if (!wf) return "(no workflow)";
  InstanceState s = h.Run(wf, std::move(input));
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  if (output != nullptr) *output = s.outputs.value("c", Json());
  const JournalRecord* r = h.Record("c");
  if (r == nullptr) return "(not run)";
  EXPECT_EQ(h.lines().size(), 1u);
  if (!h.lines().empty()) {
    EXPECT_EQ(h.lines()[0], r->outcome);
  }
  return r->outcome;
}

TEST(IfTest, LuaTruthinessZeroAndEmptyStringAreTrue) {
  EXPECT_EQ(IfOutcome(R"("{{ 0 }}")"), "True");
  EXPECT_EQ(IfOutcome(R"("{{ '' }}")"), "True");
  EXPECT_EQ(IfOutcome(R"("0")"), "True");  // bare Lua expression
  EXPECT_EQ(IfOutcome(R"("''")"), "True");
  EXPECT_EQ(IfOutcome(R"("{{ {} }}")"), "True");
  EXPECT_EQ(IfOutcome("0"), "True");  // a JSON number literal
}

TEST(IfTest, OnlyNilAndFalseAreFalse) {
  EXPECT_EQ(IfOutcome(R"("{{ nil }}")"), "False");
  EXPECT_EQ(IfOutcome(R"("{{ false }}")"), "False");
  EXPECT_EQ(IfOutcome(R"("nil")"), "False");
  EXPECT_EQ(IfOutcome(R"("input.missing")"), "False");
  EXPECT_EQ(IfOutcome("false"), "False");  // a JSON boolean literal
  EXPECT_EQ(IfOutcome("true"), "True");
}

TEST(IfTest, ComparesInputsAndOutputsTheBoolean) {
  Json out;
  EXPECT_EQ(IfOutcome(R"("{{ input.total > 1000 }}")", {{"total", 1500}}, &out), "True");
  EXPECT_EQ(out, Json(true));
  EXPECT_EQ(IfOutcome(R"("input.total > 1000")", {{"total", 10}}, &out), "False");
  EXPECT_EQ(out, Json(false));
  EXPECT_EQ(IfOutcome(R"("input.name")", {{"name", "x"}}, &out), "True");
  EXPECT_EQ(out, Json(true));  // the boolean, not the value
}

TEST(IfTest, AConditionMixingATemplateAndLuaIsNotSilentlyTrue) {
  // "{{ input.total }} > 1000" interpolates to the string "10 > 1000", which is truthy. A
  // condition must either evaluate the comparison (False here) or be refused by validation; it
  // must never take True for every input.
  auto errors = CompileErrors(R"(activities:
  - {id: c, type: If, condition: "{{ input.total }} > 1000"}
)");
  if (!errors.empty()) {
    EXPECT_EQ(errors[0].path, "activities[0].inputs.condition");
    return;
  }
  EXPECT_EQ(IfOutcome(R"("{{ input.total }} > 1000")", {{"total", 10}}), "False");
}

TEST(IfTest, AConditionThatFailsAtRunTimeFaultsTheInstance) {
  Harness h;
  auto wf = Compile("activities: [{id: c, type: If, condition: \"input.a.b.c\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("If condition"), std::string::npos) << s.incidents[0].message;
}

TEST(IfTest, AnErrorConnectionCatchesAFailingCondition) {
  Harness h;
  auto wf = Compile(R"Y(activities:
  - {id: c, type: If, condition: "error('boom')"}
  - {id: caught, type: WriteLine, text: "caught: {{ outputs.c.error }}"}
connections: [{from: c, outcome: Error, to: caught}]
)Y");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(h.lines().size(), 1u);
  EXPECT_NE(h.lines()[0].find("boom"), std::string::npos) << h.lines()[0];
}

TEST(IfTest, MaybeIsNotAnOutcome) {
  auto errors = CompileErrors(R"(activities: [{id: c, type: If, condition: "true"}, {id: a, type: Noop}]
connections: [{from: c, outcome: Maybe, to: a}]
)");
  ASSERT_EQ(errors.size(), 1u) << activity_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "connections[0].outcome");
}

// --- Switch --------------------------------------------------------------------------------------

constexpr const char* kRouting =
    R"(inputs: {country: {type: string, default: NL}, total: {type: number, default: 0}}
activities:
  - id: region
    type: Switch
    cases:
      - {name: Big, condition: "{{ input.total > 1000 }}"}
      - {name: EU, condition: "input.country == 'NL' or input.country == 'DE'"}
      - {name: US, condition: "{{ input.country == 'US' }}"}
      - {name: Zero, condition: "0"}
  - {id: big, type: WriteLine, text: big}
  - {id: eu, type: WriteLine, text: eu}
  - {id: us, type: WriteLine, text: us}
  - {id: other, type: WriteLine, text: "other {{ outputs.region }}"}
connections:
  - {from: region, outcome: Big, to: big}
  - {from: region, outcome: EU, to: eu}
  - {from: region, outcome: US, to: us}
  - {from: region, outcome: Default, to: other}
)";

TEST(SwitchTest, TakesTheFirstTrueCase) {
  auto wf = Compile(kRouting);
  ASSERT_TRUE(wf);
  {
    Harness h;
    InstanceState s = h.Run(wf, {{"country", "DE"}});
    EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
    EXPECT_EQ(h.lines(), std::vector<std::string>{"eu"});
    EXPECT_EQ(s.outputs["region"], "EU");
    EXPECT_EQ(h.Record("region")->outcome, "EU");
  }
  {
    Harness h;
    InstanceState s = h.Run(wf, {{"country", "US"}});
    EXPECT_EQ(h.lines(), std::vector<std::string>{"us"});
  }
  {
    // Both Big and EU hold: the first wins, and only one branch runs.
    Harness h;
    InstanceState s = h.Run(wf, {{"country", "NL"}, {"total", 5000}});
    EXPECT_EQ(h.lines(), std::vector<std::string>{"big"});
  }
}

TEST(SwitchTest, ZeroIsTrueSoTheZeroCaseBeatsDefault) {
  // "0" is truthy in Lua: the Zero case holds for any country the earlier cases missed. It has no
  // connection, so the instance just completes after the Switch.
  auto wf = Compile(kRouting);
  ASSERT_TRUE(wf);
  Harness h;
  InstanceState s = h.Run(wf, {{"country", "JP"}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["region"], "Zero");
  EXPECT_TRUE(h.lines().empty());
}

TEST(SwitchTest, NoTrueCaseTakesDefault) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: s, type: Switch, cases: [{name: A, condition: "false"}, {name: B, condition: "{{ nil }}"}]}
  - {id: d, type: WriteLine, text: "chose {{ outputs.s }}"}
connections: [{from: s, outcome: Default, to: d}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"chose Default"});
  EXPECT_EQ(h.Record("s")->outcome, "Default");
}

TEST(SwitchTest, AFailingCaseFaultsTheInstance) {
  Harness h;
  auto wf = Compile("activities: [{id: s, type: Switch, cases: [{name: A, condition: \"input.x.y\"}]}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("Switch case 'A'"), std::string::npos) << s.incidents[0].message;
}

TEST(SwitchTest, CaseNamesAreTheOutcomes) {
  auto errors = CompileErrors(R"(activities:
  - {id: s, type: Switch, cases: [{name: A, condition: "true"}]}
  - {id: x, type: Noop}
connections:
  - {from: s, outcome: A, to: x}
  - {from: s, outcome: Default, to: x}
  - {from: s, outcome: B, to: x}
)");
  ASSERT_EQ(errors.size(), 1u) << activity_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "connections[2].outcome");
}

}  // namespace
}  // namespace trellis
