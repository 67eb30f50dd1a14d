#include "runtime/creation_batcher.h"

#include <gtest/gtest.h>

#include <atomic>
#include <filesystem>
#include <random>
#include <thread>

#include "store/sqlite/sqlite_store.h"

namespace trellis {
namespace {

class CreationBatcherTest : public ::testing::Test {
 protected:
  void SetUp() override {
    std::random_device rd;
    dir_ = std::filesystem::temp_directory_path() / ("trellis-batcher-" + std::to_string(rd()));
    DatabaseSettings settings;
    settings.sqlite_path = (dir_ / "t.db").string();
    auto store = OpenSqliteStore(settings, StoreOptions{});
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    store_ = std::move(store).value();
    ASSERT_TRUE(store_->Migrate().ok());
  }
  void TearDown() override {
    store_.reset();
    std::filesystem::remove_all(dir_);
  }

  static NewInstance Instance(const std::string& id) {
    return NewInstance{.id = id, .workflow_id = "wf", .version = 1, .state = Json{{"id", id}}};
  }
  static WebhookDeliveryRecord Delivery(const std::string& id) {
    return WebhookDeliveryRecord{.id = id, .path = "p", .method = "POST", .status = 202};
  }

  std::filesystem::path dir_;
  std::unique_ptr<Store> store_;
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

}  // namespace
}  // namespace trellis
