// Graceful stop (PostgreSQL): SIGTERM in the middle of a run. The worker drains (in-flight bursts
// reach a commit point), gives its leases back, removes its node row and exits 0; another worker
// then finishes the instances at once. The lease is 60 s, so finishing them does not wait for
// leases to expire: they were released.
#include <csignal>

#include "cluster/cluster_harness.h"

namespace trellis::cluster {
namespace {

class GracefulStopTest : public ClusterTest {};

TEST_F(GracefulStopTest, SigtermReleasesLeasesRemovesTheNodeAndExitsZero) {
  UseFreshPostgres();
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, DelayedWorkflowYaml("steady", 100, 100)));
  constexpr int kInstances = 1000;
  auto ids = CreateInstances(*store_, "steady", kInstances, NumberInput);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kInstances));

  auto& fleet = Fleet({"worker.lease=60s", "worker.heartbeat=500ms", "worker.poll_interval=200ms",
                       "worker.concurrency=4", "worker.shutdown_timeout=10s", "schedules.enabled=false"});
  ChildProcess* first = fleet.Start({}, "worker-stopped");
  ASSERT_NE(first, nullptr);
  auto node_of = [&](pid_t pid) -> std::optional<NodeRecord> {
    auto nodes = store_->ListNodes(TimePoint{});
    if (nodes.ok()) {
      for (const auto& n : *nodes) {
        if (n.pid == pid) return n;
      }
    }
    return std::nullopt;
  };
  ASSERT_TRUE(WaitUntil([&] { return node_of(first->pid()).has_value(); }, 20s));
  const std::string first_id = node_of(first->pid())->id;

  // Mid-run: some instances are done, most are not.
  ASSERT_TRUE(WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) > 0; }, 60s));
  ASSERT_TRUE(first->Signal(SIGTERM));
  auto code = first->Wait(30s);  // shutdown_timeout is 10 s; the margin is for a loaded machine
  ASSERT_TRUE(code.has_value()) << "the worker did not exit after SIGTERM";
  EXPECT_EQ(*code, 0);
  int64_t completed_at_stop = CountStatus(*store_, InstanceStatus::kCompleted);
  EXPECT_LT(completed_at_stop, kInstances) << "the run ended before the stop";

  // Its node row is gone, and it holds no lease any more.
  EXPECT_FALSE(node_of(first->pid()).has_value());
  InstanceFilter filter;
  filter.workflow_id = "steady";
  int still_leased = 0;
  std::string example;
  for (const auto& r : ListAllInstances(*store_, filter)) {
    if (r.lease_owner == first_id) {
      ++still_leased;
      example = r.id + " (" + InstanceStatusName(r.status) + ")";
    }
  }
  EXPECT_EQ(still_leased, 0) << "instances still leased by the stopped worker, e.g. " << example;

  // Another worker finishes everything, well before a 60 s lease could have expired.
  ChildProcess* second = fleet.Start({}, "worker-successor");
  ASSERT_NE(second, nullptr);
  EXPECT_TRUE(
      WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) == kInstances; }, 45s, 100ms))
      << "completed: " << CountStatus(*store_, InstanceStatus::kCompleted) << " of " << kInstances;
  EXPECT_TRUE(fleet.StopAll());

  ExpectCompletedExactlyOnce(*store_, ids, kDelayedWorkflowActivities, [](int n) { return Json(2 * n + 1); });
  std::cerr << "[graceful stop] " << completed_at_stop << " of " << kInstances << " completed at the stop\n";
}

}  // namespace
}  // namespace trellis::cluster
