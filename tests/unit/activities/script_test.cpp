// Script: a sandboxed Lua chunk whose return value is the output.
#include <chrono>
#include <string>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;

// Runs one Script activity with this code and returns the instance.
InstanceState RunScript(Harness& h, const std::string& code, Json input = Json::object()) {
  Json doc = {{"activities", {{{"id", "s"}, {"type", "Script"}, {"code", code}}}}};
  auto wf = Compile(doc.dump());
  if (!wf) return {};
  return h.Run(wf, std::move(input));
}

std::string FaultMessage(const InstanceState& s) {
  return s.incidents.empty() ? "" : s.incidents[0].message;
}

TEST(ScriptTest, TheReturnValueIsTheOutput) {
  struct Case {
    const char* code;
    Json want;
  } cases[] = {{"return 1 + 2", 3},          {"return 'hi' .. '!'", "hi!"}, {"return 2.5", 2.5},
               {"return true", true},        {"return nil", nullptr},       {"local x = 1", nullptr},
               {"return json.null", nullptr}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.code);
    Harness h;
    InstanceState s = RunScript(h, c.code);
    EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
    ASSERT_NE(h.Record("s"), nullptr);
    EXPECT_EQ(h.Record("s")->output, c.want);
    EXPECT_EQ(h.Record("s")->outcome, "Done");
  }
}

TEST(ScriptTest, TablesBecomeJson) {
  Harness h;
  InstanceState s = RunScript(h, R"(
    local words = {}
    for i, w in ipairs(input.words) do words[#words + 1] = string.upper(w) end
    return {count = #input.words, first = input.words[1], upper = words, nested = {ok = true, n = json.null},
            matrix = {{1, 2}, {3, 4}}}
  )",
                              {{"words", {"durable", "workflows"}}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["s"], Json::parse(R"({"count": 2, "first": "durable", "upper": ["DURABLE", "WORKFLOWS"],
                                             "nested": {"ok": true, "n": null}, "matrix": [[1, 2], [3, 4]]})"));
  EXPECT_TRUE(s.outputs["s"]["count"].is_number_integer());
}

TEST(ScriptTest, SeesVariablesOutputsAndWorkflow) {
  Harness h;
  auto wf = Compile(R"(variables: {base: 10}
activities:
  - {id: a, type: SetVariable, name: extra, value: 5}
  - {id: s, type: Script, code: "return {sum = vars.base + vars.extra + outputs.a, wf = workflow.instanceId}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["s"]["sum"], 20);
  EXPECT_EQ(s.outputs["s"]["wf"], s.id);
}

TEST(ScriptTest, ChangesToInputInsideTheScriptDoNotLeak) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: s, type: Script, code: "input.x = 99; vars.y = 1; return input.x"}
  - {id: t, type: Script, code: "return {x = input.x, y = vars.y}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"x", 1}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.input, Json({{"x", 1}}));
  EXPECT_EQ(s.variables, Json::object());
  EXPECT_EQ(s.outputs["t"]["x"], 1);
}

TEST(ScriptTest, ALuaErrorFailsTheActivityWithItsMessage) {
  Harness h;
  InstanceState s = RunScript(h, "error('card declined')");
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(s).find("card declined"), std::string::npos) << FaultMessage(s);
}

TEST(ScriptTest, CodeThatDoesNotCompileIsRefusedAtValidation) {
  auto errors = CompileErrors("activities: [{id: s, type: Script, code: \"return (\"}]\n");
  ASSERT_EQ(errors.size(), 1u) << activity_test::Describe(errors);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.code");
}

TEST(ScriptTest, CodeIsNotATemplate) {
  // `{{ }}` inside code is Lua text (a table constructor), not a template to evaluate first.
  Harness h;
  InstanceState s = RunScript(h, "local t = {{1}} return #t");
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["s"], 1);
}

// --- Sandbox -------------------------------------------------------------------------------------

TEST(ScriptSandboxTest, OsExecuteIsUnavailable) {
  Harness h;
  InstanceState s = RunScript(h, "os.execute('touch /tmp/trellis-sandbox-escape') return 'escaped'");
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(s).find("os"), std::string::npos) << FaultMessage(s);
  EXPECT_FALSE(s.outputs.contains("s"));
}

TEST(ScriptSandboxTest, DangerousGlobalsAreAbsent) {
  Harness h;
  InstanceState s = RunScript(h, R"(
    return {os = os == nil, io = io == nil, debug = debug == nil, require = require == nil,
            package = package == nil, dofile = dofile == nil, loadfile = loadfile == nil,
            collectgarbage = collectgarbage == nil}
  )");
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  for (const auto& [name, absent] : s.outputs["s"].items()) {
    EXPECT_EQ(absent, true) << name << " is reachable from a script";
  }
}

TEST(ScriptSandboxTest, BytecodeCannotBeLoaded) {
  Harness h;
  InstanceState s = RunScript(h, R"(
    local f, err = load("\27Lua", "x", "b")
    return f == nil
  )");
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["s"], true);
}

TEST(ScriptSandboxTest, AnInfiniteLoopFailsAtTheTimeLimitAndTheNextWorkflowRuns) {
  Harness h;
  h.services().script_limits.time = 200ms;
  InstanceState s = RunScript(h, "while true do end");
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(s).find("time limit"), std::string::npos) << FaultMessage(s);

  // pcall cannot shield a runaway loop.
  InstanceState shielded = RunScript(h, "pcall(function() while true do end end) return 'survived'");
  EXPECT_EQ(shielded.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(shielded).find("time limit"), std::string::npos) << FaultMessage(shielded);

  // The same engine and thread go on to run the next workflow normally.
  InstanceState next = RunScript(h, "local n = 0 for i = 1, 1000 do n = n + i end return n");
  EXPECT_EQ(next.status, InstanceStatus::kCompleted) << Incidents(next);
  EXPECT_EQ(next.outputs["s"], 500500);
}

TEST(ScriptSandboxTest, TheActivityTimeoutAlsoBoundsTheScript) {
  Harness h;  // the default script time limit is larger than this activity's timeout
  h.services().script_limits.time = std::chrono::hours(1);
  auto wf = Compile("activities: [{id: s, type: Script, code: \"while true do end\", timeout: 200ms}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(s).find("time limit"), std::string::npos) << FaultMessage(s);
}

TEST(ScriptSandboxTest, AnAllocationBombFailsAtTheMemoryLimitAndTheNextWorkflowRuns) {
  Harness h;
  h.services().script_limits.memory_bytes = 16u << 20;
  InstanceState s = RunScript(h, R"(
    local t = {}
    local chunk = string.rep('x', 1024 * 1024)
    for i = 1, 1000000 do t[i] = chunk .. i end
    return #t
  )");
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(s).find("memory"), std::string::npos) << FaultMessage(s);

  InstanceState strings = RunScript(h, "local s = 'x' for i = 1, 40 do s = s .. s end return #s");
  EXPECT_EQ(strings.status, InstanceStatus::kFaulted);
  EXPECT_NE(FaultMessage(strings).find("memory"), std::string::npos) << FaultMessage(strings);

  InstanceState next = RunScript(h, "local t = {} for i = 1, 1000 do t[i] = i end return #t");
  EXPECT_EQ(next.status, InstanceStatus::kCompleted) << Incidents(next);
  EXPECT_EQ(next.outputs["s"], 1000);
}

TEST(ScriptSandboxTest, HelpersAreAvailable) {
  Harness h;
  InstanceState s = RunScript(h, R"(
    return {sha = sha256('abc'), b64 = base64.encode('hi'), hex = hex.encode('A'),
            id = type(uuid()), now = now(), enc = json.encode({a = 1})}
  )");
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  const Json& out = s.outputs["s"];
  EXPECT_EQ(out["sha"], "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  EXPECT_EQ(out["b64"], "aGk=");
  EXPECT_EQ(out["hex"], "41");
  EXPECT_EQ(out["id"], "string");
  EXPECT_EQ(out["now"], "2026-03-01T12:00:00.000Z");  // the engine's (manual) clock
  EXPECT_EQ(Json::parse(out["enc"].get<std::string>()), Json({{"a", 1}}));
}

}  // namespace
}  // namespace trellis
