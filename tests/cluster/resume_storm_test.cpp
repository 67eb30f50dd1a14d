// Resume storms (PostgreSQL, two worker processes): hundreds of events delivered at once from
// several threads, first to instances that all wait, then to instances still running toward their
// bookmark. Each instance resumes exactly once with its own payload: no event is dropped or
// applied twice, whether it finds the bookmark or is held until the bookmark appears.
#include <csignal>

#include "cluster/cluster_harness.h"

namespace trellis::cluster {
namespace {

class ResumeStormTest : public ClusterTest {
 protected:
  // Delivers "paid" to correlations prefix+i for i in [0, n) from `threads` threads; returns the
  // failures, and counts the deliveries that matched a bookmark at once and those held.
  std::vector<std::string> DeliverAll(const std::string& prefix, int n, int threads, int* resumed,
                                      int* held) {
    std::mutex mu;
    std::vector<std::string> failures;
    std::atomic<int> next{0}, r{0}, h{0};
    std::vector<std::thread> pool;
    for (int t = 0; t < threads; ++t) {
      pool.emplace_back([&] {
        for (int i = next++; i < n; i = next++) {
          auto d = store_->DeliverEvent({"paid", prefix + std::to_string(i), {{"amount", i}}}, 120s,
                                        SystemClock::Instance().Now());
          std::lock_guard lock(mu);
          if (!d.ok()) {
            failures.push_back(prefix + std::to_string(i) + ": " + d.status().message());
          } else if (d->resumed == 1) {
            ++r;
          } else if (d->held && d->resumed == 0) {
            ++h;
          } else {
            failures.push_back(prefix + std::to_string(i) + ": resumed " + std::to_string(d->resumed));
          }
        }
      });
    }
    for (auto& t : pool) t.join();
    *resumed = r;
    *held = h;
    return failures;
  }

  void CheckResumedOnce(const std::vector<std::string>& ids, const std::set<std::string>& activities) {
    std::map<std::string, int> index;
    for (size_t i = 0; i < ids.size(); ++i) index[ids[i]] = static_cast<int>(i);
    auto [failures, failing] = CheckInstances(
        *store_, ids, [&](const InstanceRecord& r, const std::vector<JournalRecord>& journal) -> std::string {
          std::string problem;
          if (r.status != InstanceStatus::kCompleted)
            problem += std::string(" status ") + InstanceStatusName(r.status);
          Json got =
              r.state.is_object() ? r.state.value("output", Json::object()).value("paid", Json()) : Json();
          if (got != Json(index[r.id]))
            problem += " output.paid " + got.dump() + " != " + std::to_string(index[r.id]);
          int waits = 0;
          for (const auto& j : journal) {
            if (j.activity_type == "WaitForEvent") {
              ++waits;
              if (j.output.value("amount", Json()) != Json(index[r.id]))
                problem += " wait output " + j.output.dump();
            }
          }
          if (waits != 1) problem += " " + std::to_string(waits) + " WaitForEvent records";
          problem += CheckJournalExactlyOnce(journal, activities);
          return problem;
        });
    EXPECT_EQ(failing, 0) << ::testing::PrintToString(failures);
  }
};

TEST_F(ResumeStormTest, TwoHundredEventsAtOnceResumeEveryWaitingInstanceExactlyOnce) {
  UseFreshPostgres();
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, R"(
id: waiter
inputs: {order: {type: string, required: true}}
activities:
  - {id: w, type: WaitForEvent, event: paid, correlation: "{{ input.order }}"}
  - {id: out, type: SetOutput, name: paid, value: "{{ outputs.w.amount }}"}
)"));
  constexpr int kInstances = 200;
  auto ids = CreateInstances(*store_, "waiter", kInstances, [](int i) {
    StartOptions o;
    o.input = {{"order", "o-" + std::to_string(i)}};
    return o;
  });
  ASSERT_EQ(ids.size(), static_cast<size_t>(kInstances));
  auto& fleet = Fleet({"worker.poll_interval=200ms", "worker.concurrency=4", "schedules.enabled=false"});
  ASSERT_NE(fleet.Start(), nullptr);
  ASSERT_NE(fleet.Start(), nullptr);

  ASSERT_TRUE(WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kSuspended) == kInstances; }, 60s))
      << "suspended: " << CountStatus(*store_, InstanceStatus::kSuspended);

  int resumed = 0, held = 0;
  auto failures = DeliverAll("o-", kInstances, 8, &resumed, &held);
  EXPECT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  EXPECT_EQ(resumed, kInstances) << held << " were held although every instance waited";

  EXPECT_TRUE(WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) == kInstances; }, 60s))
      << "completed: " << CountStatus(*store_, InstanceStatus::kCompleted);
  EXPECT_TRUE(fleet.StopAll());
  CheckResumedOnce(ids, {"w", "out"});
}

TEST_F(ResumeStormTest, EventsRacingTheSuspensionResumeEveryInstanceExactlyOnce) {
  UseFreshPostgres();
  // The event is sent while the instance is still on its way to the bookmark: it either finds the
  // bookmark or is held and consumed in the commit that writes the bookmark.
  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, R"(
id: racer
options: {commit: activity}
inputs: {order: {type: string, required: true}}
activities:
  - {id: s, type: SetVariable, name: order, value: "{{ input.order }}"}
  - {id: d, type: Delay, duration: 20ms}
  - {id: w, type: WaitForEvent, event: paid, correlation: "{{ vars.order }}"}
  - {id: out, type: SetOutput, name: paid, value: "{{ outputs.w.amount }}"}
)"));
  auto& fleet = Fleet({"worker.poll_interval=200ms", "worker.concurrency=4", "schedules.enabled=false"});
  ASSERT_NE(fleet.Start(), nullptr);
  ASSERT_NE(fleet.Start(), nullptr);

  constexpr int kInstances = 200;
  std::vector<std::string> ids;
  int resumed = 0, held = 0;
  // Batches of 20: created, then their events at once, while the workers are busy with the others.
  for (int base = 0; base < kInstances; base += 20) {
    auto batch = CreateInstances(*store_, "racer", 20, [base](int i) {
      StartOptions o;
      o.input = {{"order", "r-" + std::to_string(base + i)}};
      return o;
    });
    ASSERT_EQ(batch.size(), 20u);
    ids.insert(ids.end(), batch.begin(), batch.end());
    std::mutex mu;
    std::vector<std::thread> senders;
    std::vector<std::string> failures;
    for (int t = 0; t < 4; ++t) {
      senders.emplace_back([&, t] {
        for (int i = t; i < 20; i += 4) {
          auto d = store_->DeliverEvent({"paid", "r-" + std::to_string(base + i), {{"amount", base + i}}},
                                        120s, SystemClock::Instance().Now());
          std::lock_guard lock(mu);
          if (!d.ok())
            failures.push_back(d.status().message());
          else if (d->resumed == 1)
            ++resumed;
          else if (d->held)
            ++held;
          else
            failures.push_back("neither resumed nor held");
        }
      });
    }
    for (auto& s : senders) s.join();
    ASSERT_TRUE(failures.empty()) << ::testing::PrintToString(failures);
  }
  EXPECT_EQ(resumed + held, kInstances);

  EXPECT_TRUE(WaitUntil([&] { return CountStatus(*store_, InstanceStatus::kCompleted) == kInstances; }, 60s))
      << "completed: " << CountStatus(*store_, InstanceStatus::kCompleted)
      << ", suspended: " << CountStatus(*store_, InstanceStatus::kSuspended);
  EXPECT_TRUE(fleet.StopAll());
  CheckResumedOnce(ids, {"s", "d", "w", "out"});
  std::cerr << "[resume race] " << resumed << " events found their bookmark, " << held << " were held\n";
}

}  // namespace
}  // namespace trellis::cluster
