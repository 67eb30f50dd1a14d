// Store::ReceiveWebhook for concurrent webhook calls, batched without waiting for a batch to fill:
// a call that finds fewer than `max_in_flight` statements running starts one at once, for itself
// and for whatever queued meanwhile; calls that arrive while that many run queue for the next
// statement, which the first of them to get a turn runs. A lone call costs what it did; under load,
// concurrent calls share a statement (Store::ReceiveWebhooks: one round trip on PostgreSQL instead
// of one per call). Two in flight by default, so that a call never waits for another's round trip
// while the database has a core to spare.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <optional>
#include <vector>

#include "store/store.h"

namespace trellis::api {

class WebhookReceiver {
 public:
  // Store::ReceiveWebhooks, or a stand-in (tests).
  using ReceiveFn =
      std::function<std::vector<Result<Store::WebhookReceipt>>(const std::vector<Store::WebhookArrival>&)>;
  explicit WebhookReceiver(ReceiveFn receive, int max_in_flight = 2, size_t max_batch = 64)
      : receive_(std::move(receive)), max_in_flight_(max_in_flight), max_batch_(max_batch) {}
  explicit WebhookReceiver(Store& store, int max_in_flight = 2, size_t max_batch = 64)
      : WebhookReceiver([&store](const auto& calls) { return store.ReceiveWebhooks(calls); }, max_in_flight,
                        max_batch) {}

  // Blocks until the statement holding this call has run.
  Result<Store::WebhookReceipt> Receive(Store::WebhookArrival call);

  // Statements run and calls they carried, since construction (for tests and diagnostics).
  struct Counts {
    int64_t statements = 0;
    int64_t calls = 0;
  };
  Counts counts();
  size_t queued();  // calls waiting for the next statement

 private:
  struct Waiter {
    Store::WebhookArrival call;
    std::optional<Result<Store::WebhookReceipt>> result;
    std::condition_variable cv;  // its answer is in, or it may run the next statement
  };
  ReceiveFn receive_;
  const int max_in_flight_;  // statements at once
  const size_t max_batch_;
  std::mutex mu_;
  std::deque<Waiter*> queue_;  // not yet in a statement
  int in_flight_ = 0;          // statements running
  Counts counts_;
};

}  // namespace trellis::api
