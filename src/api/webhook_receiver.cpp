#include "api/webhook_receiver.h"

#include <exception>
#include <vector>

namespace trellis::api {

Result<Store::WebhookReceipt> WebhookReceiver::Receive(Store::WebhookArrival call) {
  Waiter me{.call = std::move(call)};
  std::unique_lock lock(mu_);
  queue_.push_back(&me);
  // Woken only when its answer is in, or when a statement slot is free and it is first in line:
  // waking every waiter for every statement would cost a context switch each.
  while (!me.result) {
    if (in_flight_ >= max_in_flight_) {
      me.cv.wait(lock);
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
    if (!queue_.empty() && in_flight_ < max_in_flight_) queue_.front()->cv.notify_one();
    lock.unlock();
    std::vector<Result<Store::WebhookReceipt>> results;
    try {
      std::vector<Store::WebhookArrival> calls;
      calls.reserve(batch.size());
      for (Waiter* w : batch) calls.push_back(std::move(w->call));
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
    for (size_t i = 0; i < batch.size(); ++i) {
      batch[i]->result = std::move(results[i]);
      if (batch[i] != &me) batch[i]->cv.notify_one();
    }
    counts_.statements++;
    counts_.calls += static_cast<int64_t>(batch.size());
    in_flight_--;
    if (!queue_.empty()) queue_.front()->cv.notify_one();
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
