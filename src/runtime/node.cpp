#include "runtime/node.h"

#include <unistd.h>

#include <algorithm>

#include "core/log.h"
#include "core/uuid.h"
#include "runtime/new_instance.h"

namespace trellis {

std::string NewNodeId() {
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) != 0) std::snprintf(host, sizeof(host), "node");
  std::string uuid = NewUuidV7();
  return std::string(host) + "-" + std::to_string(getpid()) + "-" + uuid.substr(uuid.size() - 6);
}

Node::Node(Store& store, const ActivityRegistry& registry, EngineServices services, NodeOptions options)
    : store_(store),
      options_(std::move(options)),
      workflows_(store, registry),
      // One wake-up of this node's worker per batch written, not one per request.
      creations_(
          [this](const std::vector<NewInstance>& instances,
                 const std::vector<WebhookDeliveryRecord>& deliveries) {
            auto created = store_.CreateInstancesAndDeliveries(instances, deliveries);
            bool claimable = std::any_of(instances.begin(), instances.end(),
                                         [](const NewInstance& n) { return n.lease_owner.empty(); });
            if (created.ok() && !created->empty() && claimable && worker_) worker_->Notify();
            return created;
          },
          256),
      launcher_(registry, services),
      clock_(services.clock) {
  if (options_.worker.node_id.empty()) options_.worker.node_id = NewNodeId();
  char host[256] = {0};
  if (gethostname(host, sizeof(host) - 1) == 0) hostname_ = host;
  worker_ = std::make_unique<Worker>(store, workflows_, registry, services, options_.worker);
  scheduler_ = std::make_unique<Scheduler>(store, workflows_, registry, services, options_.scheduler);
  scheduler_->OnFired([this] { worker_->Notify(); });
}

Node::~Node() {
  Stop(std::chrono::milliseconds(0));
}

void Node::Heartbeat(TimePoint now) {
  NodeRecord n;
  n.id = options_.worker.node_id;
  n.kind = options_.kind;
  n.hostname = hostname_;
  n.pid = getpid();
  n.version = options_.version;
  n.concurrency = options_.run_worker ? options_.worker.concurrency : 0;
  n.draining = draining_.load();
  n.started_at = started_at_;
  n.heartbeat_at = now;
  if (Status s = store_.UpsertNode(n); !s.ok()) LogWarn("node heartbeat failed", {{"error", s.message()}});
}

void Node::Start() {
  metrics_source_ = metrics::RegisterStoreSource({
      .queue = [&store = store_, clock = clock_]() -> std::optional<metrics::QueueStats> {
        TimePoint now = clock->Now();
        auto stats = store.Stats(now);
        if (!stats.ok()) return std::nullopt;
        metrics::QueueStats q{.depth = stats->runnable + stats->timers_due};
        if (stats->oldest_runnable)
          q.lag_seconds = std::max(0.0, std::chrono::duration<double>(now - *stats->oldest_runnable).count());
        return q;
      },
      .database =
          [&store = store_] {
            StoreConnectionStats c = store.ConnectionStats();
            return metrics::DatabaseStats{.connections_active = c.active,
                                          .connections_idle = c.idle,
                                          .connection_errors_total = DatabaseConnectionErrors().load()};
          },
  });
  started_at_ = clock_->Now();
  Heartbeat(started_at_);
  if (options_.run_worker) worker_->Start();
  if (options_.run_scheduler) scheduler_->Start();
  housekeeping_ = std::thread([this] { HousekeepingLoop(); });
  LogInfo("node started", {{"node", id()},
                           {"kind", options_.kind},
                           {"concurrency", options_.run_worker ? options_.worker.concurrency : 0},
                           {"scheduler", options_.run_scheduler}});
}

void Node::Stop(std::chrono::milliseconds deadline) {
  if (draining_.exchange(true)) return;
  LogInfo("node draining", {{"node", id()}, {"deadlineMs", deadline.count()}});
  if (housekeeping_.joinable()) Heartbeat(clock_->Now());  // others see it draining
  scheduler_->Stop();
  // Starts still queued are written and answered (their adopted instances handed to the worker,
  // which runs them to a commit point below); later ones fail at once.
  creations_.Stop();
  worker_->Stop(deadline);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_all();
  if (housekeeping_.joinable()) {
    housekeeping_.join();
    if (Status s = store_.RemoveNode(id()); !s.ok())
      LogWarn("could not remove the node row", {{"error", s.message()}});
    LogInfo("node stopped", {{"node", id()}});
  }
  metrics_source_.reset();
}

Result<std::pair<std::shared_ptr<const CompiledWorkflow>, InstanceState>> Node::PrepareInstance(
    const std::string& workflow_id, std::optional<int> version, StartOptions options) {
  auto wf = workflows_.Get(workflow_id, version);
  if (!wf.ok()) return wf.status();
  std::lock_guard lock(launcher_mu_);
  auto state = launcher_.Start(**wf, std::move(options));
  if (!state.ok()) return state.status();
  return std::make_pair(*wf, std::move(state).value());
}

Result<std::string> Node::StartWorkflow(const std::string& workflow_id, std::optional<int> version,
                                        StartOptions options) {
  std::vector<StartRequest> one;
  one.push_back({.workflow_id = workflow_id, .version = version, .options = std::move(options)});
  auto ids = StartWorkflows(std::move(one), std::nullopt);
  if (!ids.ok()) return ids.status();
  return ids->front();
}

// What a start writes, and what this node's worker runs once it is written.
struct Node::PreparedStarts {
  std::vector<NewInstance> instances;
  std::vector<WebhookDeliveryRecord> deliveries;
  std::vector<std::pair<std::shared_ptr<const CompiledWorkflow>, InstanceState>> runs;  // first `adopt`
  std::vector<std::string> ids;
  size_t adopt = 0;  // places reserved in this node's worker
};

Result<std::shared_ptr<Node::PreparedStarts>> Node::PrepareStarts(
    std::vector<StartRequest> starts, std::optional<WebhookDeliveryRecord> delivery) {
  auto p = std::make_shared<PreparedStarts>();
  for (auto& start : starts) {
    auto one = PrepareInstance(start.workflow_id, start.version, std::move(start.options));
    if (!one.ok()) return one.status();
    p->ids.push_back(one->second.id);
    p->runs.push_back(std::move(one).value());
  }
  // This node's worker runs what it has room for without claiming it: those instances are written
  // already leased to it (no claim, no wake-up of the cluster), after their first pure steps ran
  // here (Worker::RowRunAhead); the rest are left to any worker.
  p->adopt = options_.run_worker ? worker_->Reserve(p->runs.size()) : 0;
  for (size_t i = 0; i < p->runs.size(); ++i) {
    auto& [wf, state] = p->runs[i];
    if (i >= p->adopt) {
      p->instances.push_back(NewInstanceFrom(state, *wf));
      continue;
    }
    p->instances.push_back(worker_->RowRunAhead(*wf, state));
    if (IsTerminal(state.status)) continue;  // written finished: nothing for the worker to run
    p->instances.back().lease_owner = worker_->node_id();
    p->instances.back().lease = worker_->lease();
    p->instances.back().runnable = false;
  }
  p->runs.resize(p->adopt);
  if (delivery) {
    delivery->instance_ids.insert(delivery->instance_ids.end(), p->ids.begin(), p->ids.end());
    p->deliveries.push_back(std::move(*delivery));
  }
  return p;
}

Result<std::vector<std::string>> Node::FinishStarts(PreparedStarts& p,
                                                    Result<std::vector<std::string>> created) {
  if (!created.ok()) {
    // The batch may have committed after all (a connection lost during COMMIT): give back the
    // leases it would have taken, through the worker's backlog (no database call on this thread).
    std::vector<std::pair<std::string, int64_t>> leases;
    for (size_t i = 0; i < p.adopt; ++i) {
      if (!IsTerminal(p.runs[i].second.status)) leases.emplace_back(p.ids[i], 1);
    }
    worker_->ReleaseLater(std::move(leases));
    worker_->Unreserve(p.adopt);
    return created.status();
  }
  size_t unused = 0;
  for (size_t i = 0; i < p.adopt; ++i) {
    // An instance skipped for an existing id or start key was not created: nothing to run.
    if (std::find(created->begin(), created->end(), p.ids[i]) == created->end()) {
      ++unused;
      continue;
    }
    if (IsTerminal(p.runs[i].second.status)) {  // it completed in its insert
      worker_->CountFinishedAhead(p.runs[i].second);
      ++unused;
      continue;
    }
    worker_->Adopt(std::move(p.runs[i].first), std::move(p.runs[i].second), 1);
  }
  worker_->Unreserve(unused);
  return std::move(p.ids);
}

Result<std::vector<std::string>> Node::StartWorkflows(std::vector<StartRequest> starts,
                                                      std::optional<WebhookDeliveryRecord> delivery) {
  auto p = PrepareStarts(std::move(starts), std::move(delivery));
  if (!p.ok()) return p.status();
  PreparedStarts& prepared = **p;
  auto created = creations_.Create(std::move(prepared.instances), std::move(prepared.deliveries));
  return FinishStarts(prepared, std::move(created));
}

void Node::StartWorkflowsAsync(std::vector<StartRequest> starts,
                               std::optional<WebhookDeliveryRecord> delivery,
                               std::function<void(Result<std::vector<std::string>>)> done) {
  auto p = PrepareStarts(std::move(starts), std::move(delivery));
  if (!p.ok()) return done(p.status());
  std::shared_ptr<PreparedStarts> prepared = std::move(p).value();
  creations_.CreateAsync(std::move(prepared->instances), std::move(prepared->deliveries),
                         [this, prepared, done = std::move(done)](Result<std::vector<std::string>> created) {
                           done(FinishStarts(*prepared, std::move(created)));
                         });
}

Result<int64_t> Node::PruneOnce(TimePoint now) {
  TimePoint before = now - options_.retention_finished;
  // Deletes in batches until one comes back short (or the node stops); returns the rows deleted.
  auto in_batches = [&](auto&& prune) -> Result<int64_t> {
    int64_t total = 0;
    while (true) {
      Result<int64_t> pruned = prune();
      if (!pruned.ok()) return pruned.status();
      total += *pruned;
      if (static_cast<size_t>(*pruned) < options_.retention_batch) break;
      std::unique_lock lock(mu_);
      // Small batches with a pause between them keep the database responsive for live work.
      if (cv_.wait_for(lock, std::chrono::milliseconds(50), [this] { return stop_; })) break;
    }
    return total;
  };
  auto instances = in_batches([&] { return store_.PruneFinished(before, options_.retention_batch); });
  if (!instances.ok()) return instances.status();
  auto held = store_.PruneHeldEvents(now);
  if (!held.ok()) return held.status();
  // Received webhook deliveries are kept as long as finished instances.
  auto deliveries =
      in_batches([&] { return store_.PruneWebhookDeliveries(before, options_.retention_batch); });
  if (!deliveries.ok()) return deliveries.status();
  if (*instances > 0 || *deliveries > 0) {
    LogInfo("retention pruned finished instances and webhook deliveries",
            {{"instances", *instances}, {"webhook_deliveries", *deliveries}});
  }
  return *instances;
}

void Node::HousekeepingLoop() {
  auto next_prune = clock_->Now();
  std::unique_lock lock(mu_);
  while (!stop_) {
    lock.unlock();
    TimePoint now = clock_->Now();
    Heartbeat(now);
    auto dead = store_.PruneNodes(now - std::max(options_.heartbeat * 6, std::chrono::milliseconds(60000)));
    if (!dead.ok()) LogDebug("node pruning failed", {{"error", dead.status().message()}});
    if (now >= next_prune) {
      auto pruned = PruneOnce(now);
      if (!pruned.ok()) LogWarn("retention failed; will retry", {{"error", pruned.status().message()}});
      next_prune = now + options_.retention_interval;
    }
    lock.lock();
    cv_.wait_for(lock, options_.heartbeat, [this] { return stop_; });
  }
}

}  // namespace trellis
