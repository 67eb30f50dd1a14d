// Shared pieces of the multi-process tests: real `trellis worker` / `trellis migrate` processes
// (ChildProcess, logs in a temp dir printed on failure), a store opened on the same database from
// the test process, bulk instance creation, polling with a deadline, and the exactly-once journal
// check (one record per (activity, attempt), every activity recorded).
#pragma once

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <random>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "activities/builtin.h"
#include "config/database.h"
#include "model/parser.h"
#include "runtime/definitions.h"
#include "runtime/new_instance.h"
#include "runtime/node.h"
#include "runtime/open_store.h"
#include "store/store.h"
#include "support/child_process.h"
#include "support/postgres_fixture.h"

namespace trellis::cluster {

using namespace std::chrono_literals;
using testing::ChildProcess;

inline std::string EnvOr(const char* name, const std::string& fallback = "") {
  const char* v = std::getenv(name);
  return v ? v : fallback;
}

// Polls `cond` every `every` until it holds or `limit` passes. The result of the last evaluation.
template <typename F>
bool WaitUntil(F&& cond, std::chrono::milliseconds limit, std::chrono::milliseconds every = 20ms) {
  auto until = std::chrono::steady_clock::now() + limit;
  while (true) {
    if (cond()) return true;
    if (std::chrono::steady_clock::now() >= until) return cond();
    std::this_thread::sleep_for(every);
  }
}

inline std::filesystem::path MakeTempDir(const std::string& prefix) {
  std::random_device rd;
  auto dir =
      std::filesystem::temp_directory_path() / (prefix + "-" + std::to_string(rd()) + std::to_string(rd()));
  std::filesystem::create_directories(dir);
  return dir;
}

// Opens the store a database URL names (postgresql://... or sqlite:///...), migrated.
inline std::unique_ptr<Store> OpenStoreAt(const std::string& url, size_t pool_size = 8, bool migrate = true) {
  DatabaseConfigValues values;
  values.url = url;
  values.pool_size = pool_size;
  values.auto_migrate = migrate;
  auto settings = ParseDatabaseSettings(values);
  if (!settings.ok()) {
    ADD_FAILURE() << "database settings: " << settings.status().message();
    return nullptr;
  }
  auto store = OpenStore(*settings, StoreOptions{});
  if (!store.ok()) {
    ADD_FAILURE() << "cannot open the store: " << store.status().message();
    return nullptr;
  }
  return std::move(store).value();
}

// Saves and publishes a workflow given in YAML.
inline void SaveYaml(Store& store, const std::string& yaml) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(yaml, &errors);
  ASSERT_TRUE(errors.empty()) << errors[0].path << ": " << errors[0].message;
  auto saved =
      SaveWorkflow(store, BuiltinActivities(), DefinitionToJson(def), true, SystemClock::Instance().Now());
  ASSERT_TRUE(saved.ok()) << saved.status().message();
}

// Creates `n` Running instances of a published workflow (inputs from `options(i)`), in batches,
// through a Node that is never started (it only prepares states). Returns the ids, index i first.
inline std::vector<std::string> CreateInstances(Store& store, const std::string& workflow_id, int n,
                                                const std::function<StartOptions(int)>& options,
                                                size_t batch = 250) {
  NodeOptions node_options;
  node_options.run_worker = false;
  node_options.run_scheduler = false;
  Node node(store, BuiltinActivities(), EngineServices{}, node_options);
  std::vector<std::string> ids;
  std::vector<NewInstance> pending;
  auto flush = [&] {
    if (pending.empty()) return true;
    auto created = store.CreateInstances(pending);
    if (!created.ok() || created->size() != pending.size()) {
      ADD_FAILURE() << "CreateInstances: "
                    << (created.ok() ? "some were skipped" : created.status().message());
      return false;
    }
    pending.clear();
    return true;
  };
  for (int i = 0; i < n; ++i) {
    auto prepared = node.PrepareInstance(workflow_id, std::nullopt, options ? options(i) : StartOptions{});
    if (!prepared.ok()) {
      ADD_FAILURE() << "PrepareInstance: " << prepared.status().message();
      return ids;
    }
    auto& [wf, state] = *prepared;
    NewInstance ni = NewInstanceFrom(state, *wf);
    ids.push_back(state.id);
    pending.push_back(std::move(ni));
    if (pending.size() >= batch && !flush()) return ids;
  }
  flush();
  return ids;
}

// Every instance of a workflow (all pages; list records carry no state).
inline std::vector<InstanceRecord> ListAllInstances(Store& store, InstanceFilter filter) {
  std::vector<InstanceRecord> all;
  filter.limit = 500;
  while (true) {
    auto page = store.ListInstances(filter);
    if (!page.ok()) {
      ADD_FAILURE() << "ListInstances: " << page.status().message();
      return all;
    }
    for (auto& r : page->items) all.push_back(std::move(r));
    if (page->next_cursor.empty()) return all;
    filter.cursor = page->next_cursor;
  }
}

inline int64_t CountStatus(Store& store, InstanceStatus status) {
  auto stats = store.Stats(SystemClock::Instance().Now());
  if (!stats.ok()) return -1;
  auto it = stats->instances_by_status.find(InstanceStatusName(status));
  return it == stats->instances_by_status.end() ? 0 : it->second;
}

inline std::vector<JournalRecord> FullJournal(Store& store, const std::string& id, std::string* error) {
  std::vector<JournalRecord> out;
  uint64_t after = 0;
  while (true) {
    auto page = store.ListJournal(id, after, 1000);
    if (!page.ok()) {
      *error = "ListJournal: " + page.status().message();
      return out;
    }
    for (auto& e : page->items) {
      after = e.record.sequence;
      out.push_back(std::move(e.record));
    }
    if (page->next_cursor.empty() || page->items.empty()) return out;
  }
}

// "" when the journal holds exactly one record per (activity_id, attempt), a record for each of
// `activities`, and nothing else; else what is wrong.
inline std::string CheckJournalExactlyOnce(const std::vector<JournalRecord>& journal,
                                           const std::set<std::string>& activities) {
  std::map<std::pair<std::string, int>, int> count;
  std::set<std::string> seen;
  std::string problems;
  uint64_t last_seq = 0;
  for (const auto& r : journal) {
    if (r.sequence <= last_seq) problems += " sequence " + std::to_string(r.sequence) + " out of order;";
    last_seq = r.sequence;
    count[{r.activity_id, r.attempt}]++;
    seen.insert(r.activity_id);
  }
  for (const auto& [key, n] : count) {
    if (n != 1) {
      problems += " " + key.first + " attempt " + std::to_string(key.second) + " has " + std::to_string(n) +
                  " records;";
    }
  }
  for (const auto& a : activities) {
    if (!seen.count(a)) problems += " no record of " + a + ";";
  }
  for (const auto& a : seen) {
    if (!activities.count(a)) problems += " unexpected record of " + a + ";";
  }
  if (!problems.empty()) {
    std::string listing;
    for (const auto& r : journal) {
      listing += " [" + std::to_string(r.sequence) + " " + r.activity_id + "#" + std::to_string(r.attempt) +
                 " " + r.status + "]";
    }
    problems += " journal:" + listing;
  }
  return problems;
}

// Runs `check(record, journal)` for every id on a few threads; returns the failures (at most
// `max_reported`, each "id: problem") and the number of failing instances.
inline std::pair<std::vector<std::string>, int> CheckInstances(
    Store& store, const std::vector<std::string>& ids,
    const std::function<std::string(const InstanceRecord&, const std::vector<JournalRecord>&)>& check,
    int threads = 4, size_t max_reported = 10) {
  std::mutex mu;
  std::vector<std::string> failures;
  int failing = 0;
  std::atomic<size_t> next{0};
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    pool.emplace_back([&] {
      for (size_t i = next++; i < ids.size(); i = next++) {
        std::string problem;
        auto record = store.GetInstance(ids[i]);
        if (!record.ok()) {
          problem = "GetInstance: " + record.status().message();
        } else {
          std::string error;
          auto journal = FullJournal(store, ids[i], &error);
          problem = error.empty() ? check(*record, journal) : error;
        }
        if (!problem.empty()) {
          std::lock_guard lock(mu);
          ++failing;
          if (failures.size() < max_reported) failures.push_back(ids[i] + ": " + problem);
        }
      }
    });
  }
  for (auto& t : pool) t.join();
  return {failures, failing};
}

// Where a server's or worker's "... ready" log line starts in `log`; npos when it has none yet.
inline size_t ReadyLineAt(const std::string& log) {
  for (const char* key : {"trellis server ready", "trellis worker ready"}) {
    size_t at = log.find(key);
    if (at != std::string::npos) return at;
  }
  return std::string::npos;
}

// Worker processes of one test: each `trellis worker` with the database in DATABASE_URL, text
// logs to <dir>/<name>.log, and the common plus per-process `--set` options.
class WorkerFleet {
 public:
  WorkerFleet(std::filesystem::path dir, std::string database_url, std::vector<std::string> sets)
      : dir_(std::move(dir)), url_(std::move(database_url)), sets_(std::move(sets)) {}
  ~WorkerFleet() = default;

  // Starts one worker; nullptr (with a test failure) if it cannot start.
  ChildProcess* Start(const std::vector<std::string>& extra_sets = {}, const std::string& name = "") {
    return StartCommand("worker", extra_sets, name);
  }
  // A `trellis server` on a free port (see ListeningUrl).
  ChildProcess* StartServer(const std::vector<std::string>& extra_sets = {}, const std::string& name = "") {
    std::vector<std::string> sets = {"server.port=0"};
    sets.insert(sets.end(), extra_sets.begin(), extra_sets.end());
    return StartCommand("server", sets, name.empty() ? "server-" + std::to_string(procs_.size() + 1) : name);
  }

  ChildProcess* StartCommand(const std::string& command, const std::vector<std::string>& extra_sets,
                             const std::string& name) {
    std::vector<std::string> argv = {TRELLIS_BINARY,    command, "--set",
                                     "log.format=text", "--set", "worker.port=0"};
    for (const auto& s : sets_) argv.insert(argv.end(), {"--set", s});
    for (const auto& s : extra_sets) argv.insert(argv.end(), {"--set", s});
    std::string log =
        (dir_ / ((name.empty() ? "worker-" + std::to_string(procs_.size() + 1) : name) + ".log")).string();
    auto child = std::make_unique<ChildProcess>();
    if (!child->Spawn(argv, {"DATABASE_URL=" + url_}, log)) {
      ADD_FAILURE() << "cannot start " << argv[0];
      return nullptr;
    }
    procs_.push_back(std::move(child));
    return procs_.back().get();
  }

  std::vector<ChildProcess*> Live() {
    std::vector<ChildProcess*> live;
    for (auto& p : procs_) {
      if (p->Running()) live.push_back(p.get());
    }
    return live;
  }

  const std::vector<std::unique_ptr<ChildProcess>>& all() const { return procs_; }

  // SIGTERMs every live worker and waits for each; returns false (with a failure) when one did not
  // exit 0 within `limit`.
  bool StopAll(std::chrono::milliseconds limit = 30s) {
    bool ok = true;
    auto live = Live();
    // What is checked is the stop of a started process. One signalled before its main() blocked
    // the signal (still in the dynamic loader) dies of the default action, 143, as any program
    // would: a replacement started just before this call is first waited for until it is ready.
    for (auto* p : live) {
      WaitUntil([&] { return ReadyLineAt(p->ReadLog()) != std::string::npos || !p->Running(); }, limit);
    }
    for (auto* p : live) p->Signal(SIGTERM);
    for (auto* p : live) {
      auto code = p->Wait(limit);
      if (code != 0) {
        ok = false;
        ADD_FAILURE() << "worker " << p->pid() << " (" << p->log_path() << ") "
                      << (code ? "exited with " + std::to_string(*code) : std::string("did not exit"))
                      << " after SIGTERM";
      }
    }
    return ok;
  }

  // The last `tail_bytes` of every worker's log, for failure messages.
  std::string Logs(size_t tail_bytes = 6000) const {
    std::string out;
    for (const auto& p : procs_) {
      std::string log = p->ReadLog();
      if (log.size() > tail_bytes) log = "...\n" + log.substr(log.size() - tail_bytes);
      out += "\n===== " + p->log_path() + " (pid " + std::to_string(p->pid()) + ", exit " +
             (p->exit_status() ? std::to_string(*p->exit_status()) : std::string("-")) + ") =====\n" + log;
    }
    return out;
  }

 private:
  std::filesystem::path dir_;
  std::string url_;
  std::vector<std::string> sets_;
  std::vector<std::unique_ptr<ChildProcess>> procs_;
};

// A test fixture with a temp dir (removed when the test passed) whose worker logs are printed when
// the test failed.
// The URL a server or worker process listens on, read from its "... ready" log line
// ("url=http://127.0.0.1:PORT" or "health=http://..."); "" when it did not get ready in time.
inline std::string ListeningUrl(const ChildProcess& p, std::chrono::milliseconds limit = 30s) {
  std::string url;
  WaitUntil(
      [&] {
        std::string log = p.ReadLog();
        size_t at = ReadyLineAt(log);
        if (at == std::string::npos) return false;
        size_t h = log.find("http://", at);
        if (h == std::string::npos) return false;
        size_t end = log.find_first_of(" \n\"", h);
        url = log.substr(h, end == std::string::npos ? std::string::npos : end - h);
        return true;
      },
      limit);
  return url;
}

class ClusterTest : public ::testing::Test {
 protected:
  void SetUp() override { dir_ = MakeTempDir("trellis-cluster"); }
  void TearDown() override {
    if (fleet_) {
      if (HasFailure()) std::cerr << "worker logs:" << fleet_->Logs() << "\n";
      fleet_.reset();  // kills what is left
    }
    store_.reset();
    if (!HasFailure())
      std::filesystem::remove_all(dir_);
    else
      std::cerr << "test files kept in " << dir_ << "\n";
  }

  // A fresh PostgreSQL database, migrated, opened as store_.
  void UseFreshPostgres() {
    url_ = testing::PostgresTestUrlForNewDatabase();
    ASSERT_FALSE(url_.empty());
    store_ = OpenStoreAt(url_);
    ASSERT_NE(store_, nullptr);
  }

  WorkerFleet& Fleet(std::vector<std::string> sets) {
    fleet_ = std::make_unique<WorkerFleet>(dir_, url_, std::move(sets));
    return *fleet_;
  }

  std::string Logs() const { return fleet_ ? fleet_->Logs() : ""; }

  std::filesystem::path dir_;
  std::string url_;
  std::unique_ptr<Store> store_;
  std::unique_ptr<WorkerFleet> fleet_;
};

// The workflow the durability tests run: input n, result 2n + 1, with two delays between the steps
// so that instances are suspended (timers) and running when processes die.
inline std::string DelayedWorkflowYaml(const std::string& id, int first_delay_ms, int second_delay_ms) {
  return "id: " + id + R"(
options: {commit: activity}
inputs: {n: {type: number, required: true}}
activities:
  - {id: a, type: SetVariable, name: x, value: "{{ input.n }}"}
  - {id: d1, type: Delay, duration: )" +
         std::to_string(first_delay_ms) + R"(ms}
  - {id: b, type: SetVariable, name: y, value: "{{ vars.x * 2 }}"}
  - {id: d2, type: Delay, duration: )" +
         std::to_string(second_delay_ms) + R"(ms}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.y + 1 }}"}
)";
}
inline const std::set<std::string> kDelayedWorkflowActivities = {"a", "d1", "b", "d2", "c"};

// Start options with input {n: i}.
inline StartOptions NumberInput(int i) {
  StartOptions o;
  o.input = {{"n", i}};
  return o;
}

// Every instance (ids[i] started with n = i) Completed with output.result == expected(i), and a
// journal with exactly one record per (activity, attempt) over `activities`.
inline void ExpectCompletedExactlyOnce(Store& store, const std::vector<std::string>& ids,
                                       const std::set<std::string>& activities,
                                       const std::function<Json(int)>& expected) {
  std::map<std::string, int> index;
  for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = static_cast<int>(i);
  auto [failures, failing] = CheckInstances(
      store, ids, [&](const InstanceRecord& r, const std::vector<JournalRecord>& journal) -> std::string {
        std::string problem;
        if (r.status != InstanceStatus::kCompleted)
          problem += std::string(" status ") + InstanceStatusName(r.status);
        Json want = expected(index.at(r.id));
        Json got =
            r.state.is_object() ? r.state.value("output", Json::object()).value("result", Json()) : Json();
        if (got != want) problem += " output.result " + got.dump() + " != " + want.dump();
        return problem + CheckJournalExactlyOnce(journal, activities);
      });
  EXPECT_EQ(failing, 0) << ::testing::PrintToString(failures);
}

}  // namespace trellis::cluster
