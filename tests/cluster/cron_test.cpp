// Cron across replicas (PostgreSQL): three worker processes run the scheduler of one schedule that
// ticks every second. Each tick starts exactly one instance, whatever the number of nodes: no tick
// twice, and none missing between the first and the last.
#include <csignal>

#include "cluster/cluster_harness.h"

namespace trellis::cluster {
namespace {

class CronTest : public ClusterTest {};

// The tick (Unix ms) of a "cron:<schedule>:<tick ms>" start key; -1 when it has another form.
int64_t TickOf(const std::string& start_key) {
  if (start_key.rfind("cron:", 0) != 0) return -1;
  size_t colon = start_key.rfind(':');
  try {
    return std::stoll(start_key.substr(colon + 1));
  } catch (...) {
    return -1;
  }
}

TEST_F(CronTest, ThreeSchedulersStartExactlyOneInstancePerTick) {
  UseFreshPostgres();
  // catch-up: a tick that every node noticed late is still fired, so contiguity does not depend
  // on timing; exactly-once must hold either way.
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, R"(
id: ticker
triggers: [{type: Cron, schedule: "* * * * * *", misfire: catch-up}]
activities:
  - {id: a, type: SetOutput, name: v, value: 1}
)"));
  auto& fleet = Fleet({"schedules.enabled=true", "schedules.poll_interval=200ms",
                       "worker.poll_interval=200ms", "worker.concurrency=2"});
  for (int i = 0; i < 3; ++i) ASSERT_NE(fleet.Start(), nullptr);

  std::this_thread::sleep_for(11s);  // the scenario: let three schedulers run for eleven ticks
  EXPECT_EQ(fleet.Live().size(), 3u);
  EXPECT_TRUE(fleet.StopAll());

  InstanceFilter filter;
  filter.workflow_id = "ticker";
  auto instances = ListAllInstances(*store_, filter);
  std::map<int64_t, std::vector<std::string>> by_tick;
  for (const auto& r : instances) {
    int64_t tick = TickOf(r.start_key);
    EXPECT_GE(tick, 0) << "instance " << r.id << " has start_key '" << r.start_key << "'";
    by_tick[tick].push_back(r.id);
  }
  ASSERT_GE(by_tick.size(), 8u) << "too few ticks fired in 11 s";
  for (const auto& [tick, ids] : by_tick) {
    EXPECT_EQ(ids.size(), 1u) << "tick " << tick << " started " << ids.size() << " instances";
  }
  int64_t first = by_tick.begin()->first;
  int64_t last = by_tick.rbegin()->first;
  EXPECT_EQ(first % 1000, 0) << "ticks are whole seconds";
  EXPECT_EQ(static_cast<int64_t>(by_tick.size()), (last - first) / 1000 + 1)
      << "ticks missing between " << first << " and " << last;
  std::cerr << "[cron] " << by_tick.size() << " ticks, " << instances.size() << " instances\n";
}

}  // namespace
}  // namespace trellis::cluster
