// Group commit for instances started through the API. Each request's new instances (and its
// webhook delivery record) wait in a queue; the batcher's thread writes everything queued in one
// transaction, and a second thread answers each request while the next batch is written. Under load one
// commit (and one wake-up notification) serves dozens of requests; alone, a request is written at once.
//
// Requests can wait (Create) or be answered by a callback (CreateAsync): a webhook handler hands
// its rows over and returns its thread, so batches are not capped by the HTTP handler threads.
#pragma once

#include <condition_variable>
#include <deque>
#include <functional>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "store/store.h"

namespace trellis {

class CreationBatcher {
 public:
  // Writes one batch in one transaction (Store::CreateInstancesAndDeliveries).
  using Writer = std::function<Result<std::vector<std::string>>(const std::vector<NewInstance>&,
                                                                const std::vector<WebhookDeliveryRecord>&)>;
  // The ids of the instances created (one with an existing id or start_key is skipped), or why
  // nothing was.
  using Done = std::function<void(Result<std::vector<std::string>>)>;

  // `max_rows`: instances and deliveries written in one transaction at most.
  explicit CreationBatcher(Store& store, size_t max_rows = 256);
  CreationBatcher(Writer writer, size_t max_rows);
  // Writes what is still queued and answers it, then stops the threads; later requests fail
  // (Unavailable) at once. Idempotent; the destructor calls it.
  void Stop();
  ~CreationBatcher();

  // Writes these rows in some batch and returns once that batch is committed (or failed). A
  // request is not failed by another's bad row: a batch refused for its content (a conflict, an
  // invalid value) is retried one request at a time. A batch that failed for the database
  // (unavailable, timed out) fails every request in it at once, without a retry per request.
  Result<std::vector<std::string>> Create(std::vector<NewInstance> instances,
                                          std::vector<WebhookDeliveryRecord> deliveries);
  // The same, answered by `done` on the batcher's answering thread (keep it short: later batches'
  // answers wait for it).
  void CreateAsync(std::vector<NewInstance> instances, std::vector<WebhookDeliveryRecord> deliveries,
                   Done done);

  int64_t batches() const;  // transactions written, for tests and metrics
  size_t queued() const;    // requests waiting for the next batch, for tests

 private:
  struct Pending {
    std::vector<NewInstance> instances;
    std::vector<WebhookDeliveryRecord> deliveries;
    Done done;
    Status status;
    std::vector<std::string> created;
  };
  using Batch = std::vector<std::unique_ptr<Pending>>;
  void WriteLoop();
  void AnswerLoop();
  void Write(const std::vector<Pending*>& batch);  // sets each one's status and created ids

  Writer write_;
  const size_t max_rows_;
  mutable std::mutex mu_;
  std::condition_variable cv_;                  // with mu_: work queued, or stopping
  std::deque<std::unique_ptr<Pending>> queue_;  // guarded by mu_
  bool stop_ = false;                           // guarded by mu_
  int64_t batches_ = 0;                         // guarded by mu_
  std::mutex answer_mu_;
  std::condition_variable answer_cv_;  // with answer_mu_
  std::deque<Batch> answers_;          // guarded by answer_mu_: written, to be answered
  bool answer_stop_ = false;           // guarded by answer_mu_
  // Last: started once the rest exists.
  std::thread answerer_;
  std::thread writer_;
};

}  // namespace trellis
