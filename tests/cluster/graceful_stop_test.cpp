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
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, R"(
id: steady
options: {commit: activity}
inputs: {n: {type: number, required: true}}
activities:
  - {id: a, type: SetVariable, name: x, value: "{{ input.n }}"}
  - {id: d1, type: Delay, duration: 100ms}
  - {id: b, type: SetVariable, name: y, value: "{{ vars.x + 7 }}"}
  - {id: d2, type: Delay, duration: 100ms}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.y }}"}
)"));
  constexpr int kInstances = 1000;
  auto ids = CreateInstances(*store_, "steady", kInstances, [](int i) {
    StartOptions o;
    o.input = {{"n", i}};
    return o;
  });
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

  const std::set<std::string> activities = {"a", "d1", "b", "d2", "c"};
  std::map<std::string, int> index;
  for (int i = 0; i < kInstances; ++i) index[ids[i]] = i;
  auto [failures, failing] = CheckInstances(
      *store_, ids, [&](const InstanceRecord& r, const std::vector<JournalRecord>& journal) -> std::string {
        std::string problem;
        if (r.status != InstanceStatus::kCompleted)
          problem += std::string(" status ") + InstanceStatusName(r.status);
        Json got =
            r.state.is_object() ? r.state.value("output", Json::object()).value("result", Json()) : Json();
        if (got != Json(index[r.id] + 7)) problem += " output.result " + got.dump();
        return problem + CheckJournalExactlyOnce(journal, activities);
      });
  EXPECT_EQ(failing, 0) << ::testing::PrintToString(failures);
  std::cerr << "[graceful stop] " << completed_at_stop << " of " << kInstances << " completed at the stop\n";
}

}  // namespace
}  // namespace trellis::cluster
