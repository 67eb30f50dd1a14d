// The database restarts mid-run (PostgreSQL): worker processes lose every connection, keep running,
// reconnect with backoff, and finish every instance with an exactly-once journal. Restarting the
// shared throwaway server (scripts/with-postgres) needs TRELLIS_TEST_PG_CTL and _PG_DATA.
#include <csignal>

#include "cluster/cluster_harness.h"
#include "support/subprocess.h"

namespace trellis::cluster {
namespace {

class PostgresRestartTest : public ClusterTest {};

TEST_F(PostgresRestartTest, WorkersSurviveARestartAndFinishEveryInstanceExactlyOnce) {
  const std::string pg_ctl = EnvOr("TRELLIS_TEST_PG_CTL");
  const std::string pg_data = EnvOr("TRELLIS_TEST_PG_DATA");
  const std::string pg_log = EnvOr("TRELLIS_TEST_PG_LOG", "/dev/null");
  const std::string run_as = EnvOr("TRELLIS_TEST_PG_RUNAS");
  ASSERT_FALSE(pg_ctl.empty() || pg_data.empty())
      << "TRELLIS_TEST_PG_CTL / TRELLIS_TEST_PG_DATA are not set: run through scripts/with-postgres";

  UseFreshPostgres();
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, DelayedWorkflowYaml("survivor", 300, 300)));
  constexpr int kInstances = 300;
  auto ids = CreateInstances(*store_, "survivor", kInstances, NumberInput);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kInstances));

  auto& fleet = Fleet({"worker.lease=3s", "worker.heartbeat=500ms", "worker.poll_interval=200ms",
                       "worker.concurrency=4", "schedules.enabled=false", "database.connect_timeout=2s"});
  ASSERT_NE(fleet.Start(), nullptr);
  ASSERT_NE(fleet.Start(), nullptr);

  // Let the run get going, then restart the server under it.
  ASSERT_TRUE(WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) > 0; }, 30s));
  int64_t completed_before = CountStatus(*store_, InstanceStatus::kCompleted);
  std::vector<std::string> restart;
  if (!run_as.empty()) restart = {"/usr/sbin/runuser", "-u", run_as, "--"};
  restart.insert(restart.end(),
                 {pg_ctl, "-D", pg_data, "-l", pg_log, "-w", "-t", "60", "-m", "fast", "restart"});
  auto restarted = testing::RunProcess(restart);
  ASSERT_EQ(restarted.exit_code, 0) << restarted.out << restarted.err;
  EXPECT_LT(completed_before, kInstances) << "the run ended before the restart";

  // The test's own pool reconnects too (on its next acquire).
  EXPECT_TRUE(WaitUntil([&] { return store_->Ping().ok(); }, 30s, 100ms));
  bool all_done =
      WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) == kInstances; }, 90s, 100ms);
  EXPECT_TRUE(all_done) << "completed: " << CountStatus(*store_, InstanceStatus::kCompleted) << " of "
                        << kInstances;
  // The workers kept running through the outage (they did not exit), and stop cleanly.
  EXPECT_EQ(fleet.Live().size(), 2u);
  EXPECT_TRUE(fleet.StopAll());

  ExpectCompletedExactlyOnce(*store_, ids, kDelayedWorkflowActivities, [](int n) { return Json(2 * n + 1); });
  std::cerr << "[pg restart] " << completed_before << " of " << kInstances
            << " completed before the restart\n";
}

}  // namespace
}  // namespace trellis::cluster
