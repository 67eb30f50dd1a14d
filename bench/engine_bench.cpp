// Engine benchmarks. `make bench` prints one JSON object on stdout:
//   {"engine_steps_per_sec": ..., "benchmarks": {name: {counters...}}}
// Human-readable progress goes to stderr. Never used as a test assertion.
#include <benchmark/benchmark.h>

#include <iostream>

#include "activities/builtin.h"
#include "engine/engine.h"
#include "model/parser.h"
#include "script/script_engine.h"

namespace trellis {
namespace {

std::shared_ptr<const CompiledWorkflow> Compile(const Json& doc) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = DefinitionFromJson(doc, &errors);
  auto wf = CompiledWorkflow::Compile(std::move(def), BuiltinActivities(), &errors);
  if (!wf) {
    std::cerr << "bench workflow invalid: " << errors.front().path << ": " << errors.front().message << "\n";
    std::abort();
  }
  return wf;
}

Json Chain(int n, const Json& activity) {
  Json acts = Json::array();
  for (int i = 0; i < n; ++i) {
    Json a = activity;
    a["id"] = "a" + std::to_string(i);
    acts.push_back(a);
  }
  return {{"id", "chain"}, {"activities", acts}};
}

void RunChain(benchmark::State& state, const Json& activity) {
  const int n = static_cast<int>(state.range(0));
  auto wf = Compile(Chain(n, activity));
  EngineServices services;
  Engine engine(BuiltinActivities(), services);
  int64_t steps = 0;
  for (auto _ : state) {
    auto s = engine.Start(*wf, {});
    engine.RunBurst(*wf, *s);
    if (s->status != InstanceStatus::kCompleted) state.SkipWithError("instance did not complete");
    steps += static_cast<int64_t>(s->journal.size());
    benchmark::DoNotOptimize(s->journal.data());
  }
  state.counters["steps_per_sec"] =
      benchmark::Counter(static_cast<double>(steps), benchmark::Counter::kIsRate);
}

// A long chain of trivial activities in one instance: the interpreter's own cost per step
// (token scheduling, journal record, connection lookup).
void BM_EngineNoopChain(benchmark::State& state) {
  RunChain(state, {{"type", "Noop"}});
}
BENCHMARK(BM_EngineNoopChain)->Arg(10000)->Unit(benchmark::kMillisecond);

// The same with a constant WriteLine (output recorded, no templates).
void BM_EngineWriteLineChain(benchmark::State& state) {
  RunChain(state, {{"type", "WriteLine"}, {"text", "x"}});
}
BENCHMARK(BM_EngineWriteLineChain)->Arg(1000)->Unit(benchmark::kMillisecond);

// Each step evaluates a Lua template: the cost of expressions in the hot path.
void BM_EngineTemplatedChain(benchmark::State& state) {
  RunChain(state, {{"type", "SetVariable"}, {"name", "n"}, {"value", "{{ (vars.n or 0) + 1 }}"}});
}
BENCHMARK(BM_EngineTemplatedChain)->Arg(1000)->Unit(benchmark::kMillisecond);

// Small three-activity workflows, start to finish: per-instance overhead.
void BM_EngineThreeActivityWorkflow(benchmark::State& state) {
  auto wf = Compile(Json::parse(R"({"id":"three","activities":[
      {"id":"a","type":"SetVariable","name":"x","value":1},
      {"id":"b","type":"If","condition":"vars.x == 1"},
      {"id":"c","type":"SetOutput","name":"done","value":true}],
    "connections":[{"from":"a","to":"b"},{"from":"b","outcome":"True","to":"c"}]})"));
  Engine engine(BuiltinActivities(), EngineServices{});
  int64_t n = 0;
  for (auto _ : state) {
    auto s = engine.Start(*wf, {});
    engine.RunBurst(*wf, *s);
    benchmark::DoNotOptimize(s->output);
    ++n;
  }
  state.counters["workflows_per_sec"] =
      benchmark::Counter(static_cast<double>(n), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_EngineThreeActivityWorkflow);

// One condition, as If evaluates it.
void BM_ScriptCondition(benchmark::State& state) {
  auto& lua = script::ScriptEngine::ForThisThread();
  Json input = {{"total", 1500}};
  script::Scope scope;
  scope.input = &input;
  for (auto _ : state) {
    auto r = lua.EvaluateExpression("input.total > 1000", scope);
    benchmark::DoNotOptimize(r);
  }
  state.counters["evals_per_sec"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_ScriptCondition);

// Serialising and restoring the state of a mid-run instance (what a durable commit pays).
void BM_StateRoundTrip(benchmark::State& state) {
  auto wf =
      Compile(Json::parse(R"({"id":"rt","variables":{"order":{"id":"A-1","lines":[1,2,3]}},"activities":[
      {"id":"a","type":"SetVariable","name":"x","value":{"deep":{"list":[1,2,3,4,5]}}},
      {"id":"w","type":"WaitForEvent","event":"go"}]})"));
  Engine engine(BuiltinActivities(), EngineServices{});
  auto s = engine.Start(*wf, {});
  engine.RunBurst(*wf, *s);
  for (auto _ : state) {
    std::string text = StateToJson(*s, wf->ids()).dump();
    auto back = StateFromJson(Json::parse(text), wf->ids());
    benchmark::DoNotOptimize(back);
  }
  state.counters["round_trips_per_sec"] =
      benchmark::Counter(static_cast<double>(state.iterations()), benchmark::Counter::kIsRate);
}
BENCHMARK(BM_StateRoundTrip);

// Collects every run's counters for the summary.
class SummaryReporter : public benchmark::BenchmarkReporter {
 public:
  bool ReportContext(const Context&) override { return true; }
  void ReportRuns(const std::vector<Run>& runs) override {
    for (const auto& r : runs) {
      Json counters = Json::object();
      for (const auto& [name, c] : r.counters) counters[name] = static_cast<double>(c);
      counters["real_time_ns_per_iteration"] =
          r.GetAdjustedRealTime() * (r.time_unit == benchmark::kMillisecond ? 1e6 : 1.0);
      results[r.benchmark_name()] = counters;
    }
  }
  Json results = Json::object();
};

}  // namespace
}  // namespace trellis

int main(int argc, char** argv) {
  benchmark::Initialize(&argc, argv);
  trellis::SummaryReporter summary;
  benchmark::RunSpecifiedBenchmarks(&summary);
  trellis::Json out = trellis::Json::object();
  if (summary.results.contains("BM_EngineNoopChain/10000")) {
    out["engine_steps_per_sec"] = summary.results["BM_EngineNoopChain/10000"]["steps_per_sec"];
  }
  out["benchmarks"] = summary.results;
  std::cout << out.dump(2) << std::endl;
  return 0;
}
