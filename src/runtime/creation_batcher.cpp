#include "runtime/creation_batcher.h"

#include <unordered_set>

namespace trellis {

CreationBatcher::CreationBatcher(Store& store, size_t max_rows)
    : CreationBatcher(
          [&store](const std::vector<NewInstance>& instances,
                   const std::vector<WebhookDeliveryRecord>& deliveries) {
            return store.CreateInstancesAndDeliveries(instances, deliveries);
          },
          max_rows) {}

Result<std::vector<std::string>> CreationBatcher::Create(std::vector<NewInstance> instances,
                                                         std::vector<WebhookDeliveryRecord> deliveries) {
  Pending mine{.instances = std::move(instances), .deliveries = std::move(deliveries)};
  std::unique_lock lock(mu_);
  queue_.push_back(&mine);
  while (!mine.done) {
    if (leading_) {
      mine.wake.wait(lock);  // woken when done, or when it is first in line for the next batch
      continue;
    }
    // Lead: take what is queued (this request may be behind others) and write it.
    leading_ = true;
    std::vector<Pending*> batch;
    size_t rows = 0;
    while (!queue_.empty()) {
      Pending* next = queue_.front();
      size_t n = next->instances.size() + next->deliveries.size();
      if (!batch.empty() && rows + n > max_rows_) break;
      batch.push_back(next);
      rows += n;
      queue_.pop_front();
    }
    lock.unlock();
    Write(batch);
    lock.lock();
    ++batches_;
    // Each waiter has its own condition: only the requests just written wake, and the first one
    // still queued, to lead the next batch (waking every handler per batch cost more CPU in
    // context switches than the writes).
    for (Pending* p : batch) {
      p->done = true;
      if (p != &mine) p->wake.notify_one();
    }
    leading_ = false;
    if (!queue_.empty() && queue_.front() != &mine) queue_.front()->wake.notify_one();
  }
  if (!mine.status.ok()) return mine.status;
  return std::move(mine.created);
}

void CreationBatcher::Write(const std::vector<Pending*>& batch) {
  if (batch.size() == 1) {
    auto created = write_(batch[0]->instances, batch[0]->deliveries);
    batch[0]->status = created.status();
    if (created.ok()) batch[0]->created = std::move(created).value();
    return;
  }
  std::vector<NewInstance> instances;
  std::vector<WebhookDeliveryRecord> deliveries;
  for (const Pending* p : batch) {
    instances.insert(instances.end(), p->instances.begin(), p->instances.end());
    deliveries.insert(deliveries.end(), p->deliveries.begin(), p->deliveries.end());
  }
  auto created = write_(instances, deliveries);
  if (!created.ok()) {
    StatusCode code = created.status().code();
    bool about_a_row = code == StatusCode::kConflict || code == StatusCode::kInvalidArgument ||
                       code == StatusCode::kFailedPrecondition;
    if (about_a_row) {
      // One request's row may be the cause (a duplicate delivery id): each one on its own, so
      // that only that request fails.
      for (Pending* p : batch) Write({p});
    } else {
      // The database failed: retrying each request would hold every waiter for N more failures.
      for (Pending* p : batch) p->status = created.status();
    }
    return;
  }
  std::unordered_set<std::string> ids(created->begin(), created->end());
  for (Pending* p : batch) {
    p->status = Status::Ok();
    for (const auto& n : p->instances) {
      if (ids.count(n.id) > 0) p->created.push_back(n.id);
    }
  }
}

size_t CreationBatcher::queued() const {
  std::lock_guard lock(mu_);
  return queue_.size();
}

int64_t CreationBatcher::batches() const {
  std::lock_guard lock(mu_);
  return batches_;
}

}  // namespace trellis
