// Durable throughput: three-activity workflows (a commit point after every activity) created in the
// store and driven to completion by a worker in this process, on SQLite and on PostgreSQL.
// Prints one JSON object; with --include FILE, the JSON object in FILE (the engine benchmarks) is
// merged into it.
//
//   sqlite_workflows_per_sec / postgres_workflows_per_sec: instances created and completed per
//     second of wall time, from the first creation to the last completion;
//   *_details: commits, group-commit batch sizes, CPU used, and the worker's CPU while idle.
#include <sys/resource.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <random>
#include <thread>

#include "activities/builtin.h"
#include "core/log.h"
#include "model/parser.h"
#include "runtime/definitions.h"
#include "runtime/new_instance.h"
#include "runtime/node.h"
#include "runtime/open_store.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;

constexpr const char* kWorkflow = R"(
id: bench-three
options: {commit: activity}
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: 2}
  - {id: c, type: SetOutput, name: done, value: true}
)";

double CpuSeconds() {
  rusage u{};
  getrusage(RUSAGE_SELF, &u);
  return static_cast<double>(u.ru_utime.tv_sec + u.ru_stime.tv_sec) +
         static_cast<double>(u.ru_utime.tv_usec + u.ru_stime.tv_usec) / 1e6;
}

struct Tuning {
  size_t claim_batch = 512, in_flight = 4096, commit_batch = 2048;
};
Tuning g_tuning;

Json Run(Store& store, int total, int concurrency) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(kWorkflow, &errors);
  auto saved =
      SaveWorkflow(store, BuiltinActivities(), DefinitionToJson(def), true, SystemClock::Instance().Now());
  if (!saved.ok()) return {{"error", saved.status().message()}};

  NodeOptions options;
  options.worker.concurrency = concurrency;
  options.worker.claim_batch = g_tuning.claim_batch;
  options.worker.max_in_flight = g_tuning.in_flight;
  options.worker.max_commit_batch = g_tuning.commit_batch;
  options.run_scheduler = false;
  EngineServices services;
  services.write_line = [](std::string_view) {};
  Node node(store, BuiltinActivities(), services, options);

  // Instance states are prepared up front: the benchmark measures the store and the worker.
  std::vector<NewInstance> prepared;
  prepared.reserve(static_cast<size_t>(total));
  for (int i = 0; i < total; ++i) {
    auto p = node.PrepareInstance("bench-three", std::nullopt, {});
    if (!p.ok()) return {{"error", p.status().message()}};
    NewInstance n = NewInstanceFrom(p->second, *p->first);
    prepared.push_back(std::move(n));
  }

  double cpu_start = CpuSeconds();
  auto start = std::chrono::steady_clock::now();
  node.Start();
  // The producer creates instances in batches while the worker runs, as an API node would.
  std::thread producer([&] {
    constexpr size_t kBatch = 500;
    for (size_t i = 0; i < prepared.size(); i += kBatch) {
      std::vector<NewInstance> batch(
          prepared.begin() + static_cast<std::ptrdiff_t>(i),
          prepared.begin() + static_cast<std::ptrdiff_t>(std::min(prepared.size(), i + kBatch)));
      auto created = store.CreateInstances(batch);
      if (!created.ok()) std::cerr << "create failed: " << created.status().message() << "\n";
      node.worker().Notify();
    }
  });
  producer.join();
  const auto& counters = node.worker().counters();
  auto deadline = start + 600s;
  while (counters.completed.load() < total && std::chrono::steady_clock::now() < deadline) {
    std::this_thread::sleep_for(1ms);
  }
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  double cpu_busy = CpuSeconds() - cpu_start;

  // Idle: the worker waits for wake-ups; measure the CPU it uses doing nothing for 2 s.
  std::this_thread::sleep_for(300ms);
  double idle_start = CpuSeconds();
  std::this_thread::sleep_for(2s);
  double idle_cpu = (CpuSeconds() - idle_start) / 2.0;

  Json out = {
      {"workflows", total},
      {"completed", counters.completed.load()},
      {"seconds", elapsed},
      {"workflows_per_sec", static_cast<double>(counters.completed.load()) / elapsed},
      {"commits", counters.commits.load()},
      {"commit_batches", counters.commit_batches.load()},
      {"avg_commit_batch", static_cast<double>(counters.commits.load()) /
                               static_cast<double>(std::max<int64_t>(1, counters.commit_batches.load()))},
      {"claimed", counters.claimed.load()},
      {"claim_seconds", static_cast<double>(counters.claim_micros.load()) / 1e6},
      {"commit_seconds", static_cast<double>(counters.commit_micros.load()) / 1e6},
      {"fenced", counters.fenced.load()},
      {"store_errors", counters.store_errors.load()},
      {"cpu_seconds", cpu_busy},
      {"cpu_cores_used", cpu_busy / elapsed},
      {"idle_cpu_percent", idle_cpu * 100.0},
      {"concurrency", concurrency}};
  node.Stop(10s);
  return out;
}

}  // namespace
}  // namespace trellis

int main(int argc, char** argv) {
  using namespace trellis;
  ConfigureLogging({.level = LogLevel::kWarn});
  std::string include;
  int sqlite_total = 60000;
  int postgres_total = 30000;
  for (int i = 1; i < argc; ++i) {
    std::string a = argv[i];
    if (a == "--include" && i + 1 < argc) include = argv[++i];
    if (a == "--sqlite" && i + 1 < argc) sqlite_total = std::atoi(argv[++i]);
    if (a == "--postgres" && i + 1 < argc) postgres_total = std::atoi(argv[++i]);
    if (a == "--claim-batch" && i + 1 < argc) g_tuning.claim_batch = std::stoul(argv[++i]);
    if (a == "--in-flight" && i + 1 < argc) g_tuning.in_flight = std::stoul(argv[++i]);
    if (a == "--commit-batch" && i + 1 < argc) g_tuning.commit_batch = std::stoul(argv[++i]);
  }
  Json out = Json::object();
  if (!include.empty()) {
    std::ifstream in(include);
    std::string error;
    std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (!ParseJson(text, &out, &error) || !out.is_object()) out = Json::object();
  }

  {
    std::random_device rd;
    auto dir = std::filesystem::temp_directory_path() / ("trellis-bench-" + std::to_string(rd()));
    DatabaseSettings settings;
    settings.sqlite_path = (dir / "bench.db").string();
    {
      auto store = OpenStore(settings, {});
      if (store.ok()) {
        Json r = Run(**store, sqlite_total, 2);
        out["sqlite_workflows_per_sec"] = r.value("workflows_per_sec", 0.0);
        out["sqlite_details"] = r;
      } else {
        out["sqlite_error"] = store.status().message();
      }
    }  // closed before its files are removed
    std::filesystem::remove_all(dir);
  }

  const char* url = std::getenv("TRELLIS_TEST_POSTGRES_URL");
  if (url == nullptr) {
    out["postgres_error"] =
        "TRELLIS_TEST_POSTGRES_URL is not set: run through `make bench` (scripts/with-postgres)";
  } else {
    DatabaseConfigValues values;
    values.url = url;
    values.pool_size = 8;
    auto settings = ParseDatabaseSettings(values);
    auto store = settings.ok() ? OpenStore(*settings, {}) : Result<std::unique_ptr<Store>>(settings.status());
    if (store.ok()) {
      Json r = Run(**store, postgres_total, 4);
      out["postgres_workflows_per_sec"] = r.value("workflows_per_sec", 0.0);
      out["postgres_details"] = r;
    } else {
      out["postgres_error"] = store.status().message();
    }
  }
  std::cout << out.dump(2) << std::endl;
  return 0;
}
