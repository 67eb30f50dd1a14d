// Conformance: schedules, nodes, retention, statistics, wake-ups and concurrent use.
#include <atomic>
#include <thread>

#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

void PublishWithSchedules(Store& store, const std::vector<ScheduleRow>& schedules) {
  ASSERT_TRUE(store
                  .InsertDefinition(DefinitionRecord{.id = "cron",
                                                     .version = 1,
                                                     .name = "cron",
                                                     .definition = Json{{"id", "cron"}, {"version", 1}},
                                                     .created_at = At(0),
                                                     .updated_at = At(0)})
                  .ok());
  ASSERT_TRUE(store.PublishDefinition("cron", 1, schedules, {}, At(0)).ok());
}

TEST_P(StoreConformanceTest, FireDueSchedulesCreatesInstancesAndAdvances) {
  PublishWithSchedules(
      *store_,
      {ScheduleRow{
           .id = "cron#0", .workflow_id = "cron", .version = 1, .cron = "* * * * *", .next_run_at = At(60)},
       ScheduleRow{.id = "cron#1",
                   .workflow_id = "cron",
                   .version = 1,
                   .cron = "0 * * * *",
                   .next_run_at = At(3600)}});
  int calls = 0;
  auto fire = [&](const ScheduleRow& row) {
    ++calls;
    NewInstance n =
        Instance("run-" + row.id + "-" + std::to_string(ToMillis(row.next_run_at)), row.next_run_at);
    n.start_key = "cron:" + row.id + ":" + std::to_string(ToMillis(row.next_run_at));
    return Store::ScheduleFiring{
        .instances = {n}, .next_run_at = row.next_run_at + seconds(60), .last_run_at = row.next_run_at};
  };
  auto none = store_->FireDueSchedules(At(59), 10, fire);
  ASSERT_TRUE(none.ok()) << none.status().ToString();
  EXPECT_EQ(*none, 0);
  EXPECT_EQ(calls, 0) << "nothing is due";

  auto fired = store_->FireDueSchedules(At(61), 10, fire);
  ASSERT_TRUE(fired.ok()) << fired.status().ToString();
  EXPECT_EQ(*fired, 1);
  EXPECT_EQ(calls, 1);
  auto schedules = store_->ListSchedules();
  ASSERT_TRUE(schedules.ok());
  EXPECT_EQ((*schedules)[0].next_run_at, At(120));
  EXPECT_EQ((*schedules)[0].last_run_at, At(60));
  EXPECT_EQ((*schedules)[1].next_run_at, At(3600));
  InstanceRecord run = Get("run-cron#0-" + std::to_string(ToMillis(At(60))));
  EXPECT_TRUE(run.runnable);
  EXPECT_EQ(run.start_key, "cron:cron#0:" + std::to_string(ToMillis(At(60))));

  // A tick whose start_key exists (another node fired it) creates nothing but still advances.
  auto again = store_->FireDueSchedules(At(121), 10, [&](const ScheduleRow& row) {
    NewInstance n = Instance("other-id", row.next_run_at);
    n.start_key = "cron:cron#0:" + std::to_string(ToMillis(At(60)));
    return Store::ScheduleFiring{.instances = {n}, .next_run_at = At(180), .last_run_at = row.next_run_at};
  });
  ASSERT_TRUE(again.ok());
  EXPECT_EQ(*again, 0);
  EXPECT_EQ(store_->GetInstance("other-id").status().code(), StatusCode::kNotFound);
  EXPECT_EQ((*store_->ListSchedules())[0].next_run_at, At(180));

  // The limit bounds how many schedules fire at once.
  calls = 0;
  auto limited = store_->FireDueSchedules(At(4000), 1, fire);
  ASSERT_TRUE(limited.ok());
  EXPECT_EQ(calls, 1);
}

TEST_P(StoreConformanceTest, NodesUpsertListRemoveAndPrune) {
  NodeRecord a{.id = "node-a",
               .kind = "server",
               .hostname = "h1",
               .pid = 42,
               .version = "0.1.0",
               .concurrency = 8,
               .started_at = At(0),
               .heartbeat_at = At(10)};
  NodeRecord b = a;
  b.id = "node-b";
  b.kind = "worker";
  b.heartbeat_at = At(100);
  ASSERT_TRUE(store_->UpsertNode(a).ok());
  ASSERT_TRUE(store_->UpsertNode(b).ok());
  a.heartbeat_at = At(50);
  a.draining = true;
  ASSERT_TRUE(store_->UpsertNode(a).ok());

  auto nodes = store_->ListNodes(At(20));
  ASSERT_TRUE(nodes.ok());
  ASSERT_EQ(nodes->size(), 2u);
  EXPECT_EQ((*nodes)[0].id, "node-a");
  EXPECT_TRUE((*nodes)[0].draining);
  EXPECT_EQ((*nodes)[0].heartbeat_at, At(50));
  EXPECT_EQ((*nodes)[0].pid, 42);
  EXPECT_EQ((*nodes)[0].concurrency, 8);
  EXPECT_EQ((*nodes)[0].hostname, "h1");
  EXPECT_EQ((*nodes)[0].version, "0.1.0");
  EXPECT_EQ((*nodes)[0].started_at, At(0));
  EXPECT_EQ(store_->ListNodes(At(60))->size(), 1u);

  auto pruned = store_->PruneNodes(At(60));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);
  ASSERT_TRUE(store_->RemoveNode("node-b").ok());
  EXPECT_TRUE(store_->ListNodes(At(0))->empty());
}

TEST_P(StoreConformanceTest, PruneFinishedDeletesOldTerminalInstancesInBatches) {
  std::vector<NewInstance> batch;
  for (int i = 0; i < 5; ++i) batch.push_back(Instance("old-" + std::to_string(i)));
  batch.push_back(Instance("recent"));
  batch.push_back(Instance("alive"));
  Create(batch);
  std::vector<InstanceCommit> commits;
  for (const auto& c : ClaimAll(At(1))) {
    InstanceCommit commit = CommitFor(c, At(2));
    commit.journal.push_back(Record(1));
    if (c.record.id != "alive") {
      commit.status = c.record.id == "old-1" ? InstanceStatus::kFaulted : InstanceStatus::kCompleted;
      commit.finished_at = c.record.id == "recent" ? At(500) : At(2);
    }
    commits.push_back(commit);
  }
  ASSERT_EQ(CommitAll(commits), std::vector<CommitOutcome>(7, CommitOutcome::kCommitted));

  auto first = store_->PruneFinished(At(100), 3);
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  EXPECT_EQ(*first, 3);
  auto second = store_->PruneFinished(At(100), 3);
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(*second, 2);
  EXPECT_EQ(*store_->PruneFinished(At(100), 3), 0);
  for (int i = 0; i < 5; ++i) {
    std::string id = "old-" + std::to_string(i);
    EXPECT_EQ(store_->GetInstance(id).status().code(), StatusCode::kNotFound) << id;
    EXPECT_TRUE(Journal(id).empty()) << id;
  }
  EXPECT_TRUE(store_->GetInstance("recent").ok());
  EXPECT_TRUE(store_->GetInstance("alive").ok());
  EXPECT_EQ(Journal("alive").size(), 1u);
}

TEST_P(StoreConformanceTest, StatsCountStatusesQueueAndDueTimers) {
  NewInstance done = Instance("done", At(0), false);
  done.status = InstanceStatus::kCompleted;
  NewInstance timer = Instance("timer", At(0), false);
  timer.status = InstanceStatus::kSuspended;
  timer.wake_at = At(5);
  NewInstance later = Instance("later", At(0), false);
  later.status = InstanceStatus::kSuspended;
  later.wake_at = At(500);
  Create({Instance("q1", At(3)), Instance("q2", At(7)), Instance("leased", At(1)), done, timer, later});
  auto claimed = store_->Claim({.owner = "n", .limit = 1, .now = At(1)});
  ASSERT_TRUE(claimed.ok());
  ASSERT_EQ(claimed->size(), 1u);
  ASSERT_EQ((*claimed)[0].record.id, "leased");

  auto stats = store_->Stats(At(10));
  ASSERT_TRUE(stats.ok()) << stats.status().ToString();
  EXPECT_EQ(stats->instances_by_status["Running"], 3);
  EXPECT_EQ(stats->instances_by_status["Suspended"], 2);
  EXPECT_EQ(stats->instances_by_status["Completed"], 1);
  EXPECT_EQ(stats->runnable, 2);
  EXPECT_EQ(stats->oldest_runnable, At(3));
  EXPECT_EQ(stats->timers_due, 1);

  auto empty = MakeTestStore(GetParam());
  ASSERT_NE(empty, nullptr);
  auto none = empty->Stats(At(10));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->runnable, 0);
  EXPECT_FALSE(none->oldest_runnable.has_value());
  EXPECT_EQ(none->timers_due, 0);
}

TEST_P(StoreConformanceTest, ListenWakesOnCreateAndDeliveryAndInterrupt) {
  auto listener = store_->Listen();
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  WorkListener& l = **listener;

  // Nothing happened: times out.
  EXPECT_FALSE(l.Wait(milliseconds(50)));

  // An instance no worker can claim (not runnable: an instance written finished) wakes nobody.
  Create({Instance("woke", At(0), false)});
  EXPECT_FALSE(l.Wait(milliseconds(100)));

  ASSERT_TRUE(
      store_->Deliver({.instance_id = "woke", .kind = InboxKind::kCancel, .payload = "x"}, At(1)).ok());
  EXPECT_TRUE(l.Wait(seconds(10)));

  // A webhook that resumes a bookmark wakes the workers; one that resumes nothing does not.
  Create({Instance("hooked")});
  EXPECT_TRUE(l.Wait(seconds(10)));
  auto claimed = ClaimOne("hooked", At(2));
  InstanceCommit c = CommitFor(claimed, At(2));
  c.bookmarks = std::vector<BookmarkRow>{
      BookmarkRow{.id = "hook", .kind = BookmarkKind::kWebhook, .activity_id = "hook", .key = "wake/me"}};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  while (l.Wait(milliseconds(50))) {
  }  // drain what the commit announced
  auto nothing = store_->DeliverWebhook("nobody/listens", "POST", Json::object(), At(3));
  ASSERT_TRUE(nothing.ok()) << nothing.status().ToString();
  EXPECT_EQ(nothing->resumed, 0);
  EXPECT_FALSE(l.Wait(milliseconds(100)));
  auto hooked = store_->DeliverWebhook("wake/me", "POST", Json::object(), At(3));
  ASSERT_TRUE(hooked.ok()) << hooked.status().ToString();
  EXPECT_EQ(hooked->resumed, 1);
  EXPECT_TRUE(l.Wait(seconds(10)));

  // A wait in progress is woken by a creation on another thread.
  std::thread creator([&] {
    std::this_thread::sleep_for(milliseconds(50));
    ASSERT_TRUE(store_->CreateInstances({Instance("later")}).ok());
  });
  EXPECT_TRUE(l.Wait(seconds(10)));
  creator.join();

  // Interrupt wakes a waiter without a notification.
  std::thread interrupter([&] {
    std::this_thread::sleep_for(milliseconds(50));
    l.Interrupt();
  });
  auto start = std::chrono::steady_clock::now();
  l.Wait(seconds(10));
  EXPECT_LT(std::chrono::steady_clock::now() - start, seconds(5));
  interrupter.join();
}

TEST_P(StoreConformanceTest, ConcurrentClaimsAndCommitsFromSeveralThreads) {
  constexpr int kThreads = 4;
  constexpr int kPerThread = 50;
  std::vector<NewInstance> batch;
  for (int i = 0; i < kThreads * kPerThread; ++i) batch.push_back(Instance("c-" + std::to_string(i), At(0)));
  Create(batch);

  std::atomic<int> committed{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      std::string owner = "node-" + std::to_string(t);
      uint64_t sequence = 0;
      for (int round = 0; round < 200 && committed.load() < kThreads * kPerThread; ++round) {
        auto claimed = store_->Claim({.owner = owner, .limit = 8, .now = At(1)});
        if (!claimed.ok()) {
          ++errors;
          continue;
        }
        std::vector<InstanceCommit> commits;
        for (const auto& c : *claimed) {
          InstanceCommit commit = CommitFor(c, At(2));
          commit.status = InstanceStatus::kCompleted;
          commit.finished_at = At(2);
          commit.journal.push_back(Record(++sequence));
          commit.events.push_back({.name = "done-" + owner, .payload = 1});
          commits.push_back(std::move(commit));
        }
        if (commits.empty()) continue;
        auto outcomes = store_->Commit(commits);
        if (!outcomes.ok()) {
          ++errors;
          continue;
        }
        for (auto o : *outcomes) committed += o == CommitOutcome::kCommitted ? 1 : 0;
      }
    });
  }
  std::thread reader([&] {
    for (int i = 0; i < 50; ++i) {
      if (!store_->Stats(At(2)).ok() || !store_->ListInstances({.limit = 20}).ok()) ++errors;
    }
  });
  for (auto& t : threads) t.join();
  reader.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(committed.load(), kThreads * kPerThread) << "each instance is claimed and committed once";
  auto stats = store_->Stats(At(3));
  ASSERT_TRUE(stats.ok());
  EXPECT_EQ(stats->instances_by_status["Completed"], kThreads * kPerThread);
}

}  // namespace
}  // namespace trellis::testing
