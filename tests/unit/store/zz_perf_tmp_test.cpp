#include <chrono>
#include <iostream>
#include "unit/store/store_fixture.h"
namespace trellis::testing {
TEST(ZzPerf, Throughput) {
  auto store = OpenMigratedSqlite(MakeTestStoreDir() + "/p.db");
  Json state = {{"variables", {{"a", 1}, {"b", "hello world"}}},
                {"outputs", {{"s1", {{"x", 1}}}, {"s2", {{"y", "zz"}}}}},
                {"ready", Json::array()},
                {"bookmarks", Json::array()},
                {"input", {{"order", 123}, {"items", {1, 2, 3, 4}}}}};
  const int N = 20000;
  auto t0 = std::chrono::steady_clock::now();
  std::vector<NewInstance> batch;
  for (int i = 0; i < N; ++i) {
    NewInstance n;
    n.id = "inst-" + std::to_string(i);
    n.workflow_id = "wf";
    n.version = 1;
    n.state = state;
    n.created_at = At(0);
    batch.push_back(std::move(n));
    if (batch.size() == 256) {
      auto r = store->CreateInstances(batch);
      ASSERT_TRUE(r.ok());
      batch.clear();
    }
  }
  if (!batch.empty()) {
    auto r = store->CreateInstances(batch);
    ASSERT_TRUE(r.ok());
  }
  auto t1 = std::chrono::steady_clock::now();
  int done = 0;
  while (done < N) {
    auto claimed = store->Claim({.owner = "n", .limit = 256, .now = At(1)});
    ASSERT_TRUE(claimed.ok());
    if (claimed->empty()) break;
    std::vector<InstanceCommit> commits;
    for (auto& c : *claimed) {
      InstanceCommit ic;
      ic.id = c.record.id;
      ic.epoch = c.record.epoch;
      ic.inbox_seq_seen = c.record.inbox_seq;
      ic.status = InstanceStatus::kCompleted;
      ic.state = c.record.state;
      ic.now = At(2);
      ic.finished_at = At(2);
      for (int s = 1; s <= 3; ++s)
        ic.journal.push_back(JournalRecord{.sequence = (uint64_t)s,
                                           .activity_id = "s" + std::to_string(s),
                                           .activity_type = "SetVariable",
                                           .status = "Completed",
                                           .outcome = "Done",
                                           .output = {{"x", s}}});
      ic.bookmarks = std::vector<BookmarkRow>{};
      commits.push_back(std::move(ic));
    }
    auto out = store->Commit(commits);
    ASSERT_TRUE(out.ok()) << out.status().ToString();
    done += (int)commits.size();
  }
  auto t2 = std::chrono::steady_clock::now();
  auto ms = [](auto d) { return std::chrono::duration<double, std::milli>(d).count(); };
  std::cout << "create " << ms(t1 - t0) << " ms, claim+commit " << ms(t2 - t1) << " ms, total/s "
            << N / (ms(t2 - t0) / 1000) << "\n";
  RemoveTestStoreDirs();
}
}  // namespace trellis::testing
