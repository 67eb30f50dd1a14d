// The Trellis metrics (DESIGN.md section 8) with their real sources: HTTP requests, the durable
// worker on a real store (executions, activities, durations, expired leases, in-flight), the
// store's queue and connection numbers, and the whole /metrics output checked by promtool.
#include "observability/trellis_metrics.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <random>
#include <thread>

#include "activities/builtin.h"
#include "model/parser.h"
#include "runtime/definitions.h"
#include "runtime/node.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "support/sqlite_runtime_fixture.h"
#include "support/subprocess.h"
#include "unit/store/store_fixture.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using metrics::Trellis;

// A sample's value in the default registry (0 when absent). For histograms: the count.
double Value(const std::string& name, const std::vector<std::string>& labels = {}) {
  for (const auto& f : metrics::Registry::Default().Gather()) {
    if (f.name != name) continue;
    for (const auto& s : f.samples) {
      if (s.label_values == labels)
        return f.type == metrics::MetricType::kHistogram ? static_cast<double>(s.histogram.count) : s.value;
    }
  }
  return 0;
}

bool Has(const std::string& name) {
  for (const auto& f : metrics::Registry::Default().Gather()) {
    if (f.name == name) return !f.samples.empty();
  }
  return false;
}

TEST(TrellisMetricsTest, HttpRequestsAreCountedByRoutePatternMethodAndCode) {
  double before = Value("http_requests_total", {"GET", "/api/workflows/{id}", "200"});
  double other = Value("http_requests_total", {"OTHER", "unmatched", "404"});
  double timed = Value("http_request_duration_seconds", {"GET", "/api/workflows/{id}"});
  metrics::RecordHttpRequest("GET", "/api/workflows/{id}", 200, 0.003);
  metrics::RecordHttpRequest("GET", "/api/workflows/{id}", 200, 0.2);
  metrics::RecordHttpRequest("BREW", "", 404, 0.001);  // unknown method, no route matched
  EXPECT_EQ(Value("http_requests_total", {"GET", "/api/workflows/{id}", "200"}), before + 2);
  EXPECT_EQ(Value("http_requests_total", {"OTHER", "unmatched", "404"}), other + 1);
  EXPECT_EQ(Value("http_request_duration_seconds", {"GET", "/api/workflows/{id}"}), timed + 2);
  EXPECT_EQ(Value("http_requests_total", {"BREW", "", "404"}), 0);
}

TEST(TrellisMetricsTest, EveryFinalStatusIsExposedFromTheStart) {
  std::string text = metrics::RenderMetrics();
  for (const char* s : {"Completed", "Faulted", "Cancelled"}) {
    EXPECT_NE(text.find(std::string("trellis_workflow_executions_total{status=\"") + s + "\"}"),
              std::string::npos);
  }
}

TEST(TrellisMetricsTest, QueueStatsAreReadAtMostOncePerCachePeriod) {
  int calls = 0;
  auto reg = metrics::RegisterStoreSource({
      .queue = [&]() -> std::optional<metrics::QueueStats> {
        ++calls;
        return metrics::QueueStats{.depth = 12, .lag_seconds = 1.5};
      },
      .database =
          [] {
            return metrics::DatabaseStats{3, 2, 9};
          },
      .queue_cache = 1h,
  });
  std::string text = metrics::RenderMetrics();
  (void)metrics::RenderMetrics();
  EXPECT_EQ(calls, 1);
  EXPECT_NE(text.find("\ntrellis_queue_depth 12\n"), std::string::npos);
  EXPECT_NE(text.find("\ntrellis_queue_lag_seconds 1.5\n"), std::string::npos);
  EXPECT_NE(text.find("\ntrellis_database_connections_active 3\n"), std::string::npos);
  EXPECT_NE(text.find("\ntrellis_database_connections_idle 2\n"), std::string::npos);
  EXPECT_NE(text.find("\ntrellis_database_connection_errors_total 9\n"), std::string::npos);
  reg.reset();
  EXPECT_FALSE(Has("trellis_queue_depth"));
}

TEST(TrellisMetricsTest, TheNewestLiveStoreSourceIsUsedAndTheQueueIsLeftOutWhenItFails) {
  auto source = [](int64_t depth) {
    return metrics::StoreSource{
        .queue = [depth]() -> std::optional<metrics::QueueStats> {
          if (depth < 0) return std::nullopt;  // the database is down
          return metrics::QueueStats{.depth = depth};
        },
        .database = [] { return metrics::DatabaseStats{}; },
        .queue_cache = 0ms,
    };
  };
  auto a = metrics::RegisterStoreSource(source(1));
  auto b = metrics::RegisterStoreSource(source(2));
  EXPECT_EQ(Value("trellis_queue_depth"), 2);
  b.reset();
  EXPECT_EQ(Value("trellis_queue_depth"), 1);
  auto down = metrics::RegisterStoreSource(source(-1));
  EXPECT_FALSE(Has("trellis_queue_depth"));
  EXPECT_TRUE(Has("trellis_database_connections_active"));
  down.reset();
  a.reset();
  EXPECT_FALSE(Has("trellis_database_connections_active"));
}

// ---------------------------------------------------------------------------------------------
// The durable worker on SQLite.

class WorkerMetricsTest : public test::SqliteRuntimeTest {
 protected:
  void TearDown() override {
    node_.reset();
    SqliteRuntimeTest::TearDown();
  }

  Node& MakeNode() {
    EngineServices services;
    services.clock = clock_;
    services.write_line = [](std::string_view) {};
    NodeOptions options;
    options.worker.concurrency = 2;
    options.worker.lease = 5s;
    options.worker.poll_interval = 50ms;
    options.scheduler.poll_interval = 50ms;
    node_ = std::make_unique<Node>(*store_, BuiltinActivities(), services, options);
    return *node_;
  }

  std::unique_ptr<Node> node_;
};

TEST_F(WorkerMetricsTest, CountsCommittedExecutionsActivitiesAndDurations) {
  Save(R"~(
id: three
options: {commit: activity}
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetVariable, name: y, value: "{{ vars.x + 1 }}"}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.y }}"}
)~");
  Save(R"~(
id: boom
activities:
  - {id: s, type: Script, code: "error('card declined')"}
)~");
  double completed = Value("trellis_workflow_executions_total", {"Completed"});
  double faulted = Value("trellis_workflow_executions_total", {"Faulted"});
  double failed = Value("trellis_workflow_execution_failed_total");
  double durations = Value("trellis_workflow_duration_seconds");
  double set_variable = Value("trellis_activity_executions_total", {"SetVariable", "Completed"});
  double set_output = Value("trellis_activity_executions_total", {"SetOutput", "Completed"});
  double script = Value("trellis_activity_executions_total", {"Script", "Faulted"});
  double active = Trellis().active_workflows.Value();

  Node& node = MakeNode();
  node.Start();
  std::vector<std::string> ids;
  for (int i = 0; i < 5; ++i) {
    auto id = node.StartWorkflow("three", std::nullopt, {});
    ASSERT_TRUE(id.ok()) << id.status().message();
    ids.push_back(*id);
  }
  auto bad = node.StartWorkflow("boom", std::nullopt, {});
  ASSERT_TRUE(bad.ok());
  for (const auto& id : ids) WaitFor(id, InstanceStatus::kCompleted);
  WaitFor(*bad, InstanceStatus::kFaulted);
  node.Stop(5s);  // joins the committer: every count it makes is made

  EXPECT_EQ(Value("trellis_workflow_executions_total", {"Completed"}), completed + 5);
  EXPECT_EQ(Value("trellis_workflow_executions_total", {"Faulted"}), faulted + 1);
  EXPECT_EQ(Value("trellis_workflow_execution_failed_total"), failed + 1);
  EXPECT_EQ(Value("trellis_workflow_duration_seconds"), durations + 6);
  EXPECT_EQ(Value("trellis_activity_executions_total", {"SetVariable", "Completed"}), set_variable + 10);
  EXPECT_EQ(Value("trellis_activity_executions_total", {"SetOutput", "Completed"}), set_output + 5);
  EXPECT_EQ(Value("trellis_activity_executions_total", {"Script", "Faulted"}), script + 1);
  EXPECT_EQ(Trellis().active_workflows.Value(), active);
}

TEST_F(WorkerMetricsTest, AFaultedInstanceCommittedAgainIsNotCountedTwice) {
  Save(R"~(
id: boom
activities:
  - {id: s, type: Script, code: "error('card declined')"}
)~");
  Node& node = MakeNode();
  node.Start();
  auto id = node.StartWorkflow("boom", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  WaitFor(*id, InstanceStatus::kFaulted);
  node.Stop(5s);
  double faulted = Value("trellis_workflow_executions_total", {"Faulted"});
  double cancelled = Value("trellis_workflow_executions_total", {"Cancelled"});
  int64_t epoch = store_->GetInstance(*id)->epoch;

  // An event for a Faulted instance is a no-op, but the instance is claimed and committed again;
  // a cancellation then moves it to Cancelled (counted once).
  ASSERT_TRUE(
      store_->Deliver({.instance_id = *id, .kind = InboxKind::kEvent, .bookmark_id = "none"}, clock_->Now())
          .ok());
  MakeNode().Start();
  auto until = std::chrono::steady_clock::now() + 20s;
  while (std::chrono::steady_clock::now() < until) {
    auto r = store_->GetInstance(*id);
    if (r.ok() && !r->runnable && r->lease_owner.empty()) break;
    std::this_thread::sleep_for(10ms);
  }
  ASSERT_GT(store_->GetInstance(*id)->epoch, epoch);  // claimed and committed again, still Faulted
  EXPECT_EQ(store_->GetInstance(*id)->status, InstanceStatus::kFaulted);
  ASSERT_TRUE(store_->Deliver({.instance_id = *id, .kind = InboxKind::kCancel}, clock_->Now()).ok());
  node_->worker().Notify();
  WaitFor(*id, InstanceStatus::kCancelled);
  node_->Stop(5s);
  EXPECT_EQ(Value("trellis_workflow_executions_total", {"Faulted"}), faulted);
  EXPECT_EQ(Value("trellis_workflow_executions_total", {"Cancelled"}), cancelled + 1);
}

TEST_F(WorkerMetricsTest, ClaimingAnInstanceWhoseLeaseExpiredIsCounted) {
  Save(R"~(
id: one
activities:
  - {id: a, type: SetOutput, name: ok, value: true}
)~");
  Node& node = MakeNode();  // not started yet: nothing claims the instance
  auto id = node.StartWorkflow("one", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  // A worker that died: it claimed the instance an hour ago with a 1 ms lease.
  auto dead = store_->Claim({.owner = "dead-node", .limit = 10, .lease = 1ms, .now = clock_->Now() - 1h});
  ASSERT_TRUE(dead.ok());
  ASSERT_EQ(dead->size(), 1u);
  EXPECT_FALSE((*dead)[0].lease_expired);

  double expired = Value("trellis_leases_expired_total");
  node.Start();
  WaitFor(*id, InstanceStatus::kCompleted);
  node.Stop(5s);
  EXPECT_EQ(Value("trellis_leases_expired_total"), expired + 1);
}

TEST_F(WorkerMetricsTest, ANodeReportsItsStoresQueueAndConnectionsWhileItRuns) {
  Save(R"~(
id: one
activities:
  - {id: a, type: SetOutput, name: ok, value: true}
)~");
  // A node without a worker (a server that only serves the API): the instances stay queued.
  EngineServices services;
  services.clock = clock_;
  NodeOptions options;
  options.run_worker = false;
  options.run_scheduler = false;
  Node node(*store_, BuiltinActivities(), services, options);
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(node.StartWorkflow("one", std::nullopt, {}).ok());
  EXPECT_FALSE(Has("trellis_queue_depth"));
  node.Start();
  EXPECT_EQ(Value("trellis_queue_depth"), 3);
  EXPECT_GE(Value("trellis_queue_lag_seconds"), 0);
  EXPECT_EQ(Value("trellis_database_connections_active"), 1);  // SQLite: its one connection
  EXPECT_EQ(Value("trellis_database_connections_idle"), 0);
  EXPECT_TRUE(Has("trellis_database_connection_errors_total"));
  node.Stop(1s);
  EXPECT_FALSE(Has("trellis_queue_depth"));
}

// ---------------------------------------------------------------------------------------------
// The store side, on both providers: the expired-lease flag, connection numbers and errors.

class StoreMetricsTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store_ = testing::MakeTestStore(GetParam());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    testing::RemoveTestStoreDirs();
  }
  std::unique_ptr<Store> store_;
};

TEST_P(StoreMetricsTest, ClaimFlagsInstancesWhosePreviousLeaseExpired) {
  TimePoint t0 = testing::At(0);
  auto make = [&](const std::string& id) {
    NewInstance n;
    n.id = id;
    n.workflow_id = "wf";
    n.version = 1;
    n.state = Json{{"id", id}};
    n.created_at = t0;
    return n;
  };
  ASSERT_TRUE(store_->CreateInstances({make("i-1")}).ok());
  auto first = store_->Claim({.owner = "a", .limit = 10, .lease = 10s, .now = t0});
  ASSERT_TRUE(first.ok());
  ASSERT_EQ(first->size(), 1u);
  EXPECT_FALSE((*first)[0].lease_expired);

  ASSERT_TRUE(store_->CreateInstances({make("i-2")}).ok());
  // 20 s later, a's lease on i-1 has expired; i-2 is merely runnable.
  auto second = store_->Claim({.owner = "b", .limit = 10, .lease = 10s, .now = t0 + 20s});
  ASSERT_TRUE(second.ok());
  ASSERT_EQ(second->size(), 2u);
  for (const auto& c : *second) EXPECT_EQ(c.lease_expired, c.record.id == "i-1") << c.record.id;
}

TEST_P(StoreMetricsTest, ReportsItsConnections) {
  ASSERT_TRUE(store_->Ping().ok());
  StoreConnectionStats c = store_->ConnectionStats();
  if (GetParam() == "sqlite") {
    EXPECT_EQ(c.active, 1);
    EXPECT_EQ(c.idle, 0);
  } else {
    EXPECT_EQ(c.active, 0);  // nothing is running a query now
    EXPECT_GE(c.idle, 1);
  }
}

INSTANTIATE_TEST_SUITE_P(Providers, StoreMetricsTest, ::testing::Values("sqlite", "postgres"));

TEST(DatabaseConnectionErrorsTest, FailedOpensAndConnectsAreCounted) {
  int64_t before = DatabaseConnectionErrors().load();
  DatabaseSettings sqlite;
  sqlite.sqlite_path = "/proc/trellis-cannot-create/trellis.db";
  EXPECT_FALSE(OpenSqliteStore(sqlite, {}).ok());
  EXPECT_EQ(DatabaseConnectionErrors().load(), before + 1);

  DatabaseSettings pg;
  pg.provider = DatabaseSettings::Provider::kPostgres;
  pg.pg_conninfo = "postgresql://nobody@127.0.0.1:1/none";  // port 1: refused at once
  pg.connect_timeout = 1s;
  EXPECT_FALSE(OpenPostgresStore(pg, {}).ok());
  EXPECT_EQ(DatabaseConnectionErrors().load(), before + 2);
}

// ---------------------------------------------------------------------------------------------
// The whole output, as Prometheus would scrape it.

TEST_F(WorkerMetricsTest, TheFullOutputPassesPromtoolWithEveryFamilyPresent) {
  Save(R"~(
id: mixed
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: s, type: Script, code: "error('nope')"}
)~");
  metrics::RecordHttpRequest("POST", "/api/workflows/{id}/instances", 201, 0.012);
  metrics::RecordHttpRequest("GET", "/api/instances/{id}", 404, 0.0004);
  Node& node = MakeNode();
  node.Start();
  auto id = node.StartWorkflow("mixed", std::nullopt, {});
  ASSERT_TRUE(id.ok());
  WaitFor(*id, InstanceStatus::kFaulted);
  auto until = std::chrono::steady_clock::now() + 10s;  // the committer counts after the commit
  while (Value("trellis_activity_executions_total", {"Script", "Faulted"}) == 0 &&
         std::chrono::steady_clock::now() < until) {
    std::this_thread::sleep_for(5ms);
  }

  std::string text = metrics::RenderMetrics();
  node.Stop(5s);
  for (const char* family :
       {"http_requests_total", "http_request_duration_seconds", "trellis_workflow_executions_total",
        "trellis_workflow_execution_failed_total", "trellis_active_workflows",
        "trellis_workflow_duration_seconds", "trellis_activity_executions_total", "trellis_queue_depth",
        "trellis_queue_lag_seconds", "trellis_database_connections_active",
        "trellis_database_connections_idle", "trellis_database_connection_errors_total",
        "trellis_leases_expired_total", "process_cpu_seconds_total", "process_resident_memory_bytes",
        "process_virtual_memory_bytes", "process_start_time_seconds", "process_open_fds",
        "process_max_fds"}) {
    EXPECT_NE(text.find(std::string("\n# TYPE ") + family + " "), std::string::npos) << family << " in\n"
                                                                                     << text;
  }

  std::string path = (dir_ / "metrics.txt").string();
  std::ofstream(path) << text;
  auto result = testing::RunProcess({"/bin/sh", "-c", "promtool check metrics < '" + path + "'"});
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_EQ(result.out + result.err, "") << text;
}

}  // namespace
}  // namespace trellis
