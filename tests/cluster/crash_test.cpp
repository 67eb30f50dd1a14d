// SIGKILL during a run (PostgreSQL, three worker processes): workers are killed at random and
// replaced while 2000 instances step through commit points and durable timers. Every instance
// completes with the right output, and its journal has exactly one record per (activity, attempt):
// a crash repeats no committed step, loses none, and leaves nothing stuck (the dead workers' leases
// expire and other workers take the instances over).
#include <csignal>

#include "cluster/cluster_harness.h"

namespace trellis::cluster {
namespace {

constexpr const char* kWorkflow = R"(
id: crashy
options: {commit: activity}
inputs: {n: {type: number, required: true}}
activities:
  - {id: a, type: SetVariable, name: x, value: "{{ input.n }}"}
  - {id: d1, type: Delay, duration: 80ms}
  - {id: b, type: SetVariable, name: y, value: "{{ vars.x * 2 }}"}
  - {id: d2, type: Delay, duration: 50ms}
  - {id: e, type: SetVariable, name: z, value: "{{ vars.y + 1 }}"}
  - {id: d3, type: Delay, duration: 60ms}
  - {id: c, type: SetOutput, name: result, value: "{{ vars.z }}"}
)";

// The pids of live workers that have no fresh row in `nodes`.
std::vector<pid_t> UnlistedWorkers(Store& store, const std::vector<ChildProcess*>& live, std::string* error) {
  auto nodes = store.ListNodes(SystemClock::Instance().Now() - 30s);
  if (!nodes.ok()) {
    *error = nodes.status().message();
    return {};
  }
  std::set<int64_t> listed;
  for (const auto& n : *nodes) {
    if (n.kind == "worker") listed.insert(n.pid);
  }
  std::vector<pid_t> missing;
  for (auto* p : live) {
    if (!listed.count(p->pid())) missing.push_back(p->pid());
  }
  return missing;
}

class CrashTest : public ClusterTest {};

TEST_F(CrashTest, EveryInstanceCompletesWithOneJournalRecordPerAttemptDespiteSigkill) {
  UseFreshPostgres();
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, kWorkflow));
  constexpr int kInstances = 3000;
  auto ids = CreateInstances(*store_, "crashy", kInstances, NumberInput);
  ASSERT_EQ(ids.size(), static_cast<size_t>(kInstances));

  auto& fleet = Fleet({"worker.lease=2s", "worker.heartbeat=500ms", "worker.poll_interval=200ms",
                       "worker.concurrency=4", "schedules.enabled=false"});
  for (int i = 0; i < 3; ++i) ASSERT_NE(fleet.Start(), nullptr);

  // The nodes table lists the live workers.
  std::string nodes_error;
  EXPECT_TRUE(WaitUntil([&] { return UnlistedWorkers(*store_, fleet.Live(), &nodes_error).empty(); }, 20s))
      << "live workers missing from nodes: " << UnlistedWorkers(*store_, fleet.Live(), &nodes_error).size()
      << " " << nodes_error;

  // The killer: SIGKILL a random worker every 300-700 ms and start a replacement.
  std::mt19937 rng(std::random_device{}());
  int kills = 0;
  int64_t completed_at_first_kill = -1;
  std::vector<int64_t> completed_at_kill;
  for (int round = 0; round < 12; ++round) {
    std::this_thread::sleep_for(std::chrono::milliseconds(300 + rng() % 400));
    auto live = fleet.Live();
    ASSERT_FALSE(live.empty());
    ChildProcess* victim = live[rng() % live.size()];
    ASSERT_TRUE(victim->Signal(SIGKILL));
    ASSERT_EQ(victim->Wait(10s), 128 + SIGKILL);
    completed_at_kill.push_back(CountStatus(*store_, InstanceStatus::kCompleted));
    if (kills++ == 0) completed_at_first_kill = completed_at_kill.back();
    ASSERT_NE(fleet.Start(), nullptr);
  }
  int64_t completed_after_kills = CountStatus(*store_, InstanceStatus::kCompleted);
  // The kills happened during the run, not after it (else the test proves nothing).
  EXPECT_LT(completed_at_first_kill, kInstances) << "the run ended before the first kill";

  // The replacements are listed too.
  EXPECT_TRUE(WaitUntil([&] { return UnlistedWorkers(*store_, fleet.Live(), &nodes_error).empty(); }, 20s))
      << "live workers missing from nodes " << nodes_error;

  bool all_done =
      WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) == kInstances; }, 150s, 100ms);
  EXPECT_TRUE(all_done) << "completed: " << CountStatus(*store_, InstanceStatus::kCompleted) << " of "
                        << kInstances << " (" << completed_after_kills << " when the killing stopped)";
  EXPECT_TRUE(fleet.StopAll());

  ExpectCompletedExactlyOnce(*store_, ids, {"a", "d1", "b", "d2", "e", "d3", "c"},
                             [](int n) { return Json(2 * n + 1); });
  std::cerr << "[crash] " << kills << " workers killed; instances completed at each kill: "
            << ::testing::PrintToString(completed_at_kill) << "\n";
}

}  // namespace
}  // namespace trellis::cluster
