#include "runtime/creation_batcher.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "support/sqlite_runtime_fixture.h"

namespace trellis {
namespace {

class CreationBatcherTest : public test::SqliteRuntimeTest {
 protected:
  static NewInstance Instance(const std::string& id) {
    return NewInstance{.id = id, .workflow_id = "wf", .version = 1, .state = Json{{"id", id}}};
  }
  static WebhookDeliveryRecord Delivery(const std::string& id) {
    return WebhookDeliveryRecord{.id = id, .path = "p", .method = "POST", .status = 202};
  }
};

TEST_F(CreationBatcherTest, AloneARequestIsWrittenAtOnce) {
  CreationBatcher batcher(*store_);
  auto created = batcher.Create({Instance("one")}, {Delivery("d-one")});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, std::vector<std::string>{"one"});
  EXPECT_TRUE(store_->GetInstance("one").ok());
  EXPECT_TRUE(store_->GetWebhookDelivery("d-one").ok());
  EXPECT_EQ(batcher.batches(), 1);
}

// Many threads at once: each gets exactly its own ids back, everything is written, and requests
// share transactions. One thread's duplicate delivery id fails that request alone.
TEST_F(CreationBatcherTest, ConcurrentRequestsShareTransactionsAndFailAlone) {
  ASSERT_TRUE(store_->InsertWebhookDelivery(Delivery("taken")).ok());
  CreationBatcher batcher(*store_, 64);
  constexpr int kThreads = 16, kPerThread = 50;
  std::atomic<int> wrong{0}, failed{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < kPerThread; ++i) {
        std::string id = "i-" + std::to_string(t) + "-" + std::to_string(i);
        bool bad = t == 3 && i == 7;
        auto created =
            batcher.Create({Instance(id), Instance(id + "-b")}, {Delivery(bad ? "taken" : "d-" + id)});
        if (bad) {
          if (created.ok() || created.status().code() != StatusCode::kConflict) ++wrong;
          ++failed;
        } else if (!created.ok() || *created != std::vector<std::string>{id, id + "-b"}) {
          ++wrong;
        }
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(wrong.load(), 0);
  EXPECT_EQ(failed.load(), 1);
  auto stats = store_->Stats(TimePoint{});
  ASSERT_TRUE(stats.ok());
  int64_t instances = 0;
  for (const auto& [status, count] : stats->instances_by_status) instances += count;
  EXPECT_EQ(instances, 2 * (kThreads * kPerThread - 1));
  EXPECT_EQ(store_->GetInstance("i-3-7").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetWebhookDelivery("d-i-15-49").ok());
  // Batching happened: fewer transactions than requests (the leader takes what queued meanwhile).
  EXPECT_LT(batcher.batches(), kThreads * kPerThread);
}

// A writer whose first call blocks until released, so that the requests made meanwhile queue
// behind it and go out as one batch; then it answers with `answer`.
class GatedWriter {
 public:
  explicit GatedWriter(
      std::function<Result<std::vector<std::string>>(const std::vector<NewInstance>&)> answer)
      : answer_(std::move(answer)) {}

  CreationBatcher::Writer writer() {
    return [this](const std::vector<NewInstance>& instances,
                  const std::vector<WebhookDeliveryRecord>&) -> Result<std::vector<std::string>> {
      std::unique_lock lock(mu_);
      sizes_.push_back(instances.size());
      if (sizes_.size() == 1) cv_.wait(lock, [&] { return released_; });
      return answer_(instances);
    };
  }
  bool first_call_started() {
    std::lock_guard lock(mu_);
    return !sizes_.empty();
  }
  void Release() {
    {
      std::lock_guard lock(mu_);
      released_ = true;
    }
    cv_.notify_all();
  }
  std::vector<size_t> sizes() {
    std::lock_guard lock(mu_);
    return sizes_;
  }

 private:
  std::function<Result<std::vector<std::string>>(const std::vector<NewInstance>&)> answer_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool released_ = false;
  std::vector<size_t> sizes_;
};

// Runs "first" alone (its write held), queues `ids` behind it, releases, and returns each id's
// result.
std::map<std::string, Result<std::vector<std::string>>> RunQueuedBehindFirst(
    GatedWriter& gate, const std::vector<std::string>& ids) {
  CreationBatcher batcher(gate.writer(), 256);
  std::map<std::string, Result<std::vector<std::string>>> results;
  std::mutex results_mu;
  auto create = [&](const std::string& id) {
    auto r = batcher.Create({NewInstance{.id = id}}, {});
    std::lock_guard lock(results_mu);
    results.emplace(id, std::move(r));
  };
  std::thread first(create, "first");
  while (!gate.first_call_started()) std::this_thread::yield();
  std::vector<std::thread> others;
  for (const auto& id : ids) others.emplace_back(create, id);
  while (batcher.queued() < ids.size()) std::this_thread::sleep_for(std::chrono::milliseconds(1));
  gate.Release();
  first.join();
  for (auto& t : others) t.join();
  return results;
}

Result<std::vector<std::string>> AllIds(const std::vector<NewInstance>& instances) {
  std::vector<std::string> ids;
  for (const auto& n : instances) ids.push_back(n.id);
  return ids;
}

// A database that fails fails every request of the batch at once: no retry per request, which
// would hold each waiter for the others' failures.
TEST(CreationBatcherWriterTest, ADatabaseFailureFailsTheBatchWithoutRetries) {
  GatedWriter gate([](const std::vector<NewInstance>&) -> Result<std::vector<std::string>> {
    return Unavailable("the database went away");
  });
  std::vector<std::string> ids;
  for (int i = 0; i < 8; ++i) ids.push_back("other-" + std::to_string(i));
  auto results = RunQueuedBehindFirst(gate, ids);
  ASSERT_EQ(results.size(), 9u);
  for (const auto& [id, r] : results) {
    EXPECT_EQ(r.status().code(), StatusCode::kUnavailable) << id;
    EXPECT_EQ(r.status().message(), "the database went away") << id;
  }
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 8})) << "the first alone, then the eight as one batch";
}

// A batch refused for one request's row is retried request by request: only that one fails.
TEST(CreationBatcherWriterTest, ARowConflictInABatchFailsOnlyItsRequest) {
  GatedWriter gate([](const std::vector<NewInstance>& instances) -> Result<std::vector<std::string>> {
    for (const auto& n : instances) {
      if (n.id == "bad") return Conflict("webhook delivery bad already exists");
    }
    return AllIds(instances);
  });
  auto results = RunQueuedBehindFirst(gate, {"good-1", "bad", "good-2"});
  ASSERT_EQ(results.size(), 4u);
  EXPECT_EQ(results.at("bad").status().code(), StatusCode::kConflict);
  for (const char* id : {"first", "good-1", "good-2"}) {
    ASSERT_TRUE(results.at(id).ok()) << id << ": " << results.at(id).status().ToString();
    EXPECT_EQ(*results.at(id), std::vector<std::string>{id});
  }
  // The first alone, the three together (refused), then each of the three alone.
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 3, 1, 1, 1}));
}

// A webhook handler hands its rows over and returns: the answer comes by callback on the batcher's
// thread. Requests still queued when the batcher is destroyed are written and answered first.
TEST(CreationBatcherWriterTest, AsyncRequestsAreAnsweredByCallbackAndDrainedOnDestruction) {
  GatedWriter gate(AllIds);
  std::mutex mu;
  std::map<std::string, Result<std::vector<std::string>>> results;
  std::set<std::thread::id> answered_on;
  {
    CreationBatcher batcher(gate.writer(), 256);
    auto create = [&](const std::string& id) {
      batcher.CreateAsync({NewInstance{.id = id}}, {}, [&, id](Result<std::vector<std::string>> r) {
        std::lock_guard lock(mu);
        results.emplace(id, std::move(r));
        answered_on.insert(std::this_thread::get_id());
      });
    };
    create("first");
    while (!gate.first_call_started()) std::this_thread::yield();
    for (const char* id : {"a", "b", "c"}) create(id);  // returns at once: the writer is held
    EXPECT_EQ(batcher.queued(), 3u);
    {
      std::lock_guard lock(mu);
      EXPECT_TRUE(results.empty());
    }
    gate.Release();
  }  // destroyed with "a", "b", "c" possibly still queued
  ASSERT_EQ(results.size(), 4u);
  for (const char* id : {"first", "a", "b", "c"}) {
    ASSERT_TRUE(results.at(id).ok()) << id << ": " << results.at(id).status().ToString();
    EXPECT_EQ(*results.at(id), std::vector<std::string>{id});
  }
  EXPECT_EQ(answered_on.size(), 1u);
  EXPECT_EQ(answered_on.count(std::this_thread::get_id()), 0u);
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 3}));
}

// Two requests in one batch with the same instance id: the store creates it once, and only the
// first request is told it was created (the node runs what it is told it created).
TEST(CreationBatcherWriterTest, AnIdCreatedOnceIsCreditedToTheFirstRequestOnly) {
  GatedWriter gate([](const std::vector<NewInstance>& instances) -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;  // as ON CONFLICT DO NOTHING: each id once
    for (const auto& n : instances) {
      if (std::find(ids.begin(), ids.end(), n.id) == ids.end()) ids.push_back(n.id);
    }
    return ids;
  });
  std::mutex mu;
  std::vector<std::pair<std::string, std::vector<std::string>>> answers;
  {
    CreationBatcher batcher(gate.writer(), 256);
    auto create = [&](const std::string& request, const std::string& id) {
      batcher.CreateAsync({NewInstance{.id = id}}, {}, [&, request](Result<std::vector<std::string>> r) {
        ASSERT_TRUE(r.ok()) << r.status().ToString();
        std::lock_guard lock(mu);
        answers.emplace_back(request, *r);
      });
    };
    create("first", "first");
    while (!gate.first_call_started()) std::this_thread::yield();
    create("one", "dup");
    create("two", "dup");
    gate.Release();
  }
  ASSERT_EQ(answers.size(), 3u);
  EXPECT_EQ(answers[1], (std::pair<std::string, std::vector<std::string>>{"one", {"dup"}}));
  EXPECT_EQ(answers[2], (std::pair<std::string, std::vector<std::string>>{"two", {}}));
  EXPECT_EQ(gate.sizes(), (std::vector<size_t>{1, 2}));
}

// After Stop, a request fails at once instead of waiting for a writer that is gone.
TEST_F(CreationBatcherTest, AfterStopRequestsFailAtOnce) {
  CreationBatcher batcher(*store_);
  ASSERT_TRUE(batcher.Create({Instance("before")}, {}).ok());
  batcher.Stop();
  auto after = batcher.Create({Instance("after")}, {});
  EXPECT_EQ(after.status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store_->GetInstance("after").status().code(), StatusCode::kNotFound);
}

}  // namespace
}  // namespace trellis
