// Group commit for instances started through the API. Each request's new instances (and its
// webhook delivery record) wait in a queue; the first waiting thread becomes the leader and writes
// everything queued in one transaction, while the others wait for it. Under load, one commit (and
// one wake-up notification) serves dozens of requests; alone, a request commits at once.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <vector>

#include "store/store.h"

namespace trellis {

class CreationBatcher {
 public:
  // Writes one batch in one transaction (Store::CreateInstancesAndDeliveries).
  using Writer = std::function<Result<std::vector<std::string>>(const std::vector<NewInstance>&,
                                                                const std::vector<WebhookDeliveryRecord>&)>;
  // `max_rows`: instances and deliveries written in one transaction at most.
  explicit CreationBatcher(Store& store, size_t max_rows = 256);
  CreationBatcher(Writer writer, size_t max_rows) : write_(std::move(writer)), max_rows_(max_rows) {}

  // Writes these rows in some batch and returns once that batch is committed (or failed): the ids
  // of the instances created (one with an existing start_key is skipped). A request is not failed
  // by another's bad row: a batch refused for its content (a conflict, an invalid value) is
  // retried one request at a time. A batch that failed for the database (unavailable, timed out)
  // fails every request in it at once, without a retry per request.
  Result<std::vector<std::string>> Create(std::vector<NewInstance> instances,
                                          std::vector<WebhookDeliveryRecord> deliveries);

  int64_t batches() const;  // transactions written, for tests and metrics
  size_t queued() const;    // requests waiting for a leader, for tests

 private:
  struct Pending {
    std::vector<NewInstance> instances;
    std::vector<WebhookDeliveryRecord> deliveries;
    bool done = false;
    std::condition_variable wake;  // with mu_
    Status status;
    std::vector<std::string> created;
  };
  void Write(const std::vector<Pending*>& batch);  // sets each one's status and created ids

  Writer write_;
  const size_t max_rows_;
  mutable std::mutex mu_;
  std::deque<Pending*> queue_;  // guarded by mu_
  bool leading_ = false;        // guarded by mu_: a thread is writing a batch
  int64_t batches_ = 0;         // guarded by mu_
};

}  // namespace trellis
