// SIGKILL on one node (SQLite): one `trellis worker` on a SQLite file is killed and restarted
// several times during a run (the lock on the file dies with the process). Every instance still
// completes with an exactly-once journal. A second worker on the same file is refused: SQLite is
// single-node.
#include <sqlite3.h>

#include <csignal>

#include "cluster/cluster_harness.h"

namespace trellis::cluster {
namespace {

// Reads the file the running worker holds (the lock is on "<db>.lock", not on the database, and
// WAL lets a reader in): instances by status. Only a progress probe; the checks use the Store once
// the worker stopped.
int64_t CountWithStatus(const std::string& path, const char* status) {
  sqlite3* db = nullptr;
  int64_t n = -1;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY, nullptr) == SQLITE_OK) {
    sqlite3_busy_timeout(db, 2000);
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db, "SELECT count(*) FROM workflow_instances WHERE status = ?", -1, &st,
                           nullptr) == SQLITE_OK) {
      sqlite3_bind_text(st, 1, status, -1, SQLITE_TRANSIENT);
      if (sqlite3_step(st) == SQLITE_ROW) n = sqlite3_column_int64(st, 0);
    }
    sqlite3_finalize(st);
  }
  sqlite3_close(db);
  return n;
}

class SqliteCrashTest : public ClusterTest {};

TEST_F(SqliteCrashTest, ASingleNodeKilledRepeatedlyCompletesEveryInstanceExactlyOnce) {
  const std::string path = (dir_ / "trellis.db").string();
  url_ = "sqlite://" + path;
  constexpr int kInstances = 3000;
  std::vector<std::string> ids;
  {
    // Seed, then close: the running worker will hold the file.
    store_ = OpenStoreAt(url_);
    ASSERT_NE(store_, nullptr);
    ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, DelayedWorkflowYaml("crashy", 500, 300)));
    ids = CreateInstances(*store_, "crashy", kInstances, NumberInput);
    ASSERT_EQ(ids.size(), static_cast<size_t>(kInstances));
    store_.reset();
  }

  auto& fleet = Fleet({"worker.lease=2s", "worker.heartbeat=500ms", "worker.poll_interval=200ms",
                       "worker.concurrency=4", "schedules.enabled=false"});
  ChildProcess* worker = fleet.Start();
  ASSERT_NE(worker, nullptr);
  ASSERT_TRUE(WaitUntil([&] { return CountWithStatus(path, "Running") < kInstances; }, 30s))
      << "the worker made no progress";

  std::mt19937 rng(std::random_device{}());
  int64_t completed_at_first_kill = -1;
  std::vector<int64_t> completed_at_kill;
  for (int round = 0; round < 6; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(200 + rng() % 300));
    if (round == 2) {
      // A second node on the same file is refused while the first holds it.
      ChildProcess* second = fleet.Start({}, "second-node");
      ASSERT_NE(second, nullptr);
      auto code = second->Wait(30s);
      EXPECT_TRUE(code.has_value() && *code != 0) << "a second worker on the SQLite file did not fail";
      EXPECT_NE(second->ReadLog().find("SQLite is single-node; use PostgreSQL"), std::string::npos)
          << second->ReadLog();
    }
    ASSERT_TRUE(worker->Signal(SIGKILL));
    ASSERT_EQ(worker->Wait(10s), 128 + SIGKILL);
    completed_at_kill.push_back(CountWithStatus(path, "Completed"));
    if (round == 0) completed_at_first_kill = completed_at_kill.back();
    worker = fleet.Start();
    ASSERT_NE(worker, nullptr);
  }
  EXPECT_LT(completed_at_first_kill, kInstances) << "the run ended before the first kill";

  EXPECT_TRUE(WaitUntil([&] { return CountWithStatus(path, "Completed") == kInstances; }, 120s, 100ms))
      << "completed: " << CountWithStatus(path, "Completed") << " of " << kInstances;
  EXPECT_TRUE(worker->Running());
  EXPECT_TRUE(fleet.StopAll());

  store_ = OpenStoreAt(url_);
  ASSERT_NE(store_, nullptr);
  ExpectCompletedExactlyOnce(*store_, ids, kDelayedWorkflowActivities, [](int n) { return Json(2 * n + 1); });
  std::cerr << "[sqlite crash] instances completed at each kill: "
            << ::testing::PrintToString(completed_at_kill) << "\n";
}

}  // namespace
}  // namespace trellis::cluster
