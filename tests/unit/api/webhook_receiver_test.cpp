// WebhookReceiver: concurrent webhook calls share one ReceiveWebhooks statement, without a lone
// call waiting for company.
#include "api/webhook_receiver.h"

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <condition_variable>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace trellis::api {
namespace {

using namespace std::chrono_literals;
using Receipt = Store::WebhookReceipt;
using Arrival = Store::WebhookArrival;

// A stand-in for the store: answers each call with one trigger named after its path, records the
// batch sizes, and holds the first `hold` statements until released.
struct FakeStore {
  std::mutex mu;
  std::condition_variable cv;
  size_t hold = 0, entered = 0;
  bool released = false;
  std::vector<size_t> batches;
  std::string fail;  // when set, every statement fails with it

  std::vector<Result<Receipt>> Receive(const std::vector<Arrival>& calls) {
    std::unique_lock lock(mu);
    batches.push_back(calls.size());
    if (batches.size() <= hold) {
      entered++;
      cv.notify_all();
      cv.wait_for(lock, 10s, [&] { return released; });
    }
    std::vector<Result<Receipt>> out;
    for (const auto& c : calls) {
      if (!fail.empty()) {
        out.emplace_back(Unavailable(fail));
        continue;
      }
      Receipt r;
      r.delivered = true;
      r.triggers.push_back(TriggerRow{.workflow_id = "for-" + c.path, .type = "Webhook", .key = c.path});
      r.delivery.resumed = c.request->value("n", 0);
      out.emplace_back(std::move(r));
    }
    return out;
  }
};

TEST(WebhookReceiverTest, ALoneCallRunsAtOnce) {
  FakeStore fake;
  WebhookReceiver receiver([&](const auto& calls) { return fake.Receive(calls); });
  Json request = {{"n", 2}};
  auto r = receiver.Receive({.path = "a", .method = "POST", .request = &request});
  ASSERT_TRUE(r.ok()) << r.status().ToString();
  EXPECT_EQ(r->triggers.at(0).workflow_id, "for-a");
  EXPECT_EQ(r->delivery.resumed, 2);
  EXPECT_EQ(fake.batches, std::vector<size_t>{1});
}

// Runs `held` calls whose statements the fake holds, then `later` calls that must queue, releases
// them all, and checks that every call got its own answer. Returns the batch sizes.
std::vector<size_t> HoldThenQueue(int max_in_flight, int held, int later) {
  FakeStore fake;
  fake.hold = static_cast<size_t>(held);
  WebhookReceiver receiver([&](const auto& calls) { return fake.Receive(calls); }, max_in_flight);
  int total = held + later;
  std::vector<Json> requests;
  for (int i = 0; i < total; ++i) requests.push_back(Json{{"n", i}});
  std::vector<Result<Receipt>> results(static_cast<size_t>(total), Result<Receipt>(Internal("not answered")));
  std::vector<std::thread> threads;
  auto call = [&](int i) {
    results[static_cast<size_t>(i)] = receiver.Receive(
        {.path = "p" + std::to_string(i), .method = "POST", .request = &requests[static_cast<size_t>(i)]});
  };
  for (int i = 0; i < held; ++i) {
    threads.emplace_back(call, i);
    std::unique_lock lock(fake.mu);
    EXPECT_TRUE(fake.cv.wait_for(lock, 10s, [&] { return fake.entered == static_cast<size_t>(i + 1); }));
  }
  for (int i = held; i < total; ++i) threads.emplace_back(call, i);
  for (int spins = 0; receiver.queued() < static_cast<size_t>(later) && spins < 10000; ++spins)
    std::this_thread::sleep_for(1ms);
  EXPECT_EQ(receiver.queued(), static_cast<size_t>(later));
  {
    std::lock_guard lock(fake.mu);
    fake.released = true;
  }
  fake.cv.notify_all();
  for (auto& t : threads) t.join();
  for (int i = 0; i < total; ++i) {
    const auto& r = results[static_cast<size_t>(i)];
    EXPECT_TRUE(r.ok()) << i << ": " << r.status().ToString();
    if (!r.ok()) continue;
    EXPECT_EQ(r->triggers.at(0).workflow_id, "for-p" + std::to_string(i));
    EXPECT_EQ(r->delivery.resumed, i);
  }
  EXPECT_EQ(receiver.counts().calls, total);
  EXPECT_EQ(receiver.counts().statements, static_cast<int64_t>(fake.batches.size()));
  return fake.batches;
}

// Calls that arrive while a statement runs share the next one, and each gets its own answer.
TEST(WebhookReceiverTest, CallsArrivingDuringAStatementShareTheNext) {
  EXPECT_EQ(HoldThenQueue(/*max_in_flight=*/1, /*held=*/1, /*later=*/5), (std::vector<size_t>{1, 5}));
}

// With two statements allowed, a second call does not wait for the first's round trip; only calls
// that find both running queue.
TEST(WebhookReceiverTest, ASecondStatementRunsBesideTheFirst) {
  EXPECT_EQ(HoldThenQueue(/*max_in_flight=*/2, /*held=*/2, /*later=*/4), (std::vector<size_t>{1, 1, 4}));
}

TEST(WebhookReceiverTest, AFailedStatementFailsItsCallsAndTheNextStillRuns) {
  FakeStore fake;
  fake.fail = "the database is unavailable";
  WebhookReceiver receiver([&](const auto& calls) { return fake.Receive(calls); });
  Json request = {{"n", 1}};
  auto failed = receiver.Receive({.path = "a", .method = "POST", .request = &request});
  ASSERT_FALSE(failed.ok());
  EXPECT_EQ(failed.status().code(), StatusCode::kUnavailable);
  fake.fail.clear();
  auto ok = receiver.Receive({.path = "a", .method = "POST", .request = &request});
  EXPECT_TRUE(ok.ok()) << ok.status().ToString();
}

TEST(WebhookReceiverTest, AThrowingStoreAnswersAnErrorAndDoesNotWedgeTheReceiver) {
  int calls = 0;
  WebhookReceiver receiver([&](const std::vector<Arrival>& batch) -> std::vector<Result<Receipt>> {
    if (calls++ == 0) throw std::runtime_error("boom");
    return std::vector<Result<Receipt>>(batch.size(), Result<Receipt>(Receipt{}));
  });
  Json request = Json::object();
  auto first = receiver.Receive({.path = "a", .method = "POST", .request = &request});
  ASSERT_FALSE(first.ok());
  EXPECT_THAT(first.status().message(), ::testing::HasSubstr("boom"));
  EXPECT_TRUE(receiver.Receive({.path = "a", .method = "POST", .request = &request}).ok());
}

}  // namespace
}  // namespace trellis::api
