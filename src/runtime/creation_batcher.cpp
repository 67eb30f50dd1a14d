#include "runtime/creation_batcher.h"

#include <future>
#include <unordered_set>

namespace trellis {

CreationBatcher::CreationBatcher(Store& store, size_t max_rows)
    : CreationBatcher(
          [&store](const std::vector<NewInstance>& instances,
                   const std::vector<WebhookDeliveryRecord>& deliveries) {
            return store.CreateInstancesAndDeliveries(instances, deliveries);
          },
          max_rows) {}

CreationBatcher::CreationBatcher(Writer writer, size_t max_rows)
    : write_(std::move(writer)),
      max_rows_(max_rows),
      answerer_([this] { AnswerLoop(); }),
      writer_([this] { WriteLoop(); }) {}

CreationBatcher::~CreationBatcher() {
  Stop();
}

void CreationBatcher::Stop() {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
  }
  cv_.notify_all();
  writer_.join();  // after writing everything queued
  {
    std::lock_guard lock(answer_mu_);
    answer_stop_ = true;
  }
  answer_cv_.notify_all();
  answerer_.join();  // after answering everything written
}

Result<std::vector<std::string>> CreationBatcher::Create(std::vector<NewInstance> instances,
                                                         std::vector<WebhookDeliveryRecord> deliveries) {
  std::promise<Result<std::vector<std::string>>> promise;
  auto result = promise.get_future();
  CreateAsync(std::move(instances), std::move(deliveries),
              [&promise](Result<std::vector<std::string>> r) { promise.set_value(std::move(r)); });
  return result.get();
}

void CreationBatcher::CreateAsync(std::vector<NewInstance> instances,
                                  std::vector<WebhookDeliveryRecord> deliveries, Done done) {
  auto pending = std::make_unique<Pending>();
  pending->instances = std::move(instances);
  pending->deliveries = std::move(deliveries);
  pending->done = std::move(done);
  bool was_empty = false, stopped = false;
  {
    std::lock_guard lock(mu_);
    stopped = stop_;
    if (!stopped) {
      was_empty = queue_.empty();
      queue_.push_back(std::move(pending));
    }
  }
  if (stopped) return pending->done(Unavailable("this node is shutting down"));
  // The thread sleeps only on an empty queue: waking it for every request would cost a syscall each.
  if (was_empty) cv_.notify_one();
}

void CreationBatcher::WriteLoop() {
  std::unique_lock lock(mu_);
  while (true) {
    cv_.wait(lock, [this] { return stop_ || !queue_.empty(); });
    if (queue_.empty()) return;  // stopping, and everything queued was written
    // Whatever queued while the last batch was written goes out together.
    Batch batch;
    size_t rows = 0;
    while (!queue_.empty()) {
      size_t n = queue_.front()->instances.size() + queue_.front()->deliveries.size();
      if (!batch.empty() && rows + n > max_rows_) break;
      rows += n;
      batch.push_back(std::move(queue_.front()));
      queue_.pop_front();
    }
    lock.unlock();
    std::vector<Pending*> raw;
    raw.reserve(batch.size());
    for (auto& p : batch) raw.push_back(p.get());
    Write(raw);
    lock.lock();
    ++batches_;
    lock.unlock();
    // Answered on another thread, while this one writes the next batch: the answers (replies,
    // waking executors) took half as long again as the write.
    {
      std::lock_guard answer_lock(answer_mu_);
      answers_.push_back(std::move(batch));
    }
    answer_cv_.notify_one();
    lock.lock();
  }
}

void CreationBatcher::AnswerLoop() {
  std::unique_lock lock(answer_mu_);
  while (true) {
    answer_cv_.wait(lock, [this] { return answer_stop_ || !answers_.empty(); });
    if (answers_.empty()) return;
    Batch batch = std::move(answers_.front());
    answers_.pop_front();
    lock.unlock();
    for (auto& p : batch) {
      if (p->status.ok()) {
        p->done(std::move(p->created));
      } else {
        p->done(p->status);
      }
    }
    batch.clear();
    lock.lock();
  }
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
  // Each created id goes to the first request that asked for it: a later row with the same id was
  // skipped by the store (ON CONFLICT DO NOTHING), and must not be reported as created twice.
  std::unordered_set<std::string> ids(created->begin(), created->end());
  for (Pending* p : batch) {
    p->status = Status::Ok();
    for (const auto& n : p->instances) {
      if (ids.erase(n.id) > 0) p->created.push_back(n.id);
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
