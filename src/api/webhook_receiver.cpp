#include "api/webhook_receiver.h"

#include <exception>
#include <vector>

namespace trellis::api {

Result<Store::WebhookReceipt> WebhookReceiver::Receive(Store::WebhookArrival call) {
  Waiter me{.call = std::move(call), .result = std::nullopt};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  while (!me.result) {
    if (in_flight_ >= max_in_flight_) {
      cv_.wait(lock);
      continue;
    }
    // This thread runs the next statement: the oldest queued calls, this one among them unless
    // more than max_batch_ are ahead of it (then it waits for, or runs, a later one).
    in_flight_++;
    std::vector<Waiter*> batch;
    while (!queue_.empty() && batch.size() < max_batch_) {
      batch.push_back(queue_.front());
      queue_.pop_front();
    }
    lock.unlock();
    std::vector<Store::WebhookArrival> calls;
    calls.reserve(batch.size());
    for (Waiter* w : batch) calls.push_back(w->call);
    std::vector<Result<Store::WebhookReceipt>> results;
    try {
      results = receive_(calls);
    } catch (const std::exception& e) {
      results.clear();
      results.resize(batch.size(),
                     Result<Store::WebhookReceipt>(Internal(std::string("webhook receipt: ") + e.what())));
    }
    if (results.size() != batch.size())
      results.assign(batch.size(), Result<Store::WebhookReceipt>(
                                       Internal("webhook receipt: one answer per call expected")));
    lock.lock();
    for (size_t i = 0; i < batch.size(); ++i) batch[i]->result = std::move(results[i]);
    counts_.statements++;
    counts_.calls += static_cast<int64_t>(batch.size());
    in_flight_--;
    cv_.notify_all();
  }
  return std::move(*me.result);
}

size_t WebhookReceiver::queued() {
  std::lock_guard lock(mu_);
  return queue_.size();
}

WebhookReceiver::Counts WebhookReceiver::counts() {
  std::lock_guard lock(mu_);
  return counts_;
}

}  // namespace trellis::api
