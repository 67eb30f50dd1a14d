// One Trellis process's share of the cluster: its worker, its scheduler, its row in `nodes`
// (heartbeat), and housekeeping (retention of finished instances, expired held events, dead nodes).
// `trellis worker` and `trellis server` each run one Node against the configured store.
#pragma once

#include <memory>

#include "observability/trellis_metrics.h"
#include "runtime/creation_batcher.h"
#include "runtime/scheduler.h"
#include "runtime/worker.h"

namespace trellis {

struct NodeOptions {
  std::string kind = "worker";  // worker | server
  std::string version;
  WorkerOptions worker;  // worker.node_id is filled in when empty
  bool run_worker = true;
  bool run_scheduler = true;
  SchedulerOptions scheduler;
  std::chrono::milliseconds heartbeat{5000};
  std::chrono::milliseconds retention_finished{std::chrono::hours(24 * 14)};
  std::chrono::milliseconds retention_interval{60000};
  size_t retention_batch = 500;
};

class Node {
 public:
  Node(Store& store, const ActivityRegistry& registry, EngineServices services, NodeOptions options);
  ~Node();

  void Start();
  // Graceful stop: marks the node draining, stops claiming and scheduling, lets in-flight bursts
  // reach a commit point within `deadline`, gives leases back, and removes the node's row.
  void Stop(std::chrono::milliseconds deadline);

  const std::string& id() const { return options_.worker.node_id; }
  Worker& worker() { return *worker_; }
  Scheduler& scheduler() { return *scheduler_; }
  WorkflowCache& workflows() { return workflows_; }
  bool draining() const { return draining_.load(); }

  // Creates a Running instance of a stored workflow (the published version unless `version`),
  // queued for any worker, and wakes this node's worker. Returns the instance id.
  // Concurrent starts are written together (CreationBatcher).
  Result<std::string> StartWorkflow(const std::string& workflow_id, std::optional<int> version,
                                    StartOptions options);
  // Starts one instance per request, and records `delivery` (when given) with the new instance ids
  // appended to its instance_ids, all in one transaction: a webhook call's whole effect. Nothing is
  // written when any workflow cannot be started.
  struct StartRequest {
    std::string workflow_id;
    std::optional<int> version;
    StartOptions options;
  };
  Result<std::vector<std::string>> StartWorkflows(std::vector<StartRequest> starts,
                                                  std::optional<WebhookDeliveryRecord> delivery);
  // The same without holding the calling thread while the batch is written: `done` gets the ids
  // (or why nothing was started), on the calling thread when the starts cannot be prepared or the
  // node is stopping, and on the batcher's answering thread otherwise (keep it short).
  void StartWorkflowsAsync(std::vector<StartRequest> starts, std::optional<WebhookDeliveryRecord> delivery,
                           std::function<void(Result<std::vector<std::string>>)> done);
  // The initial state of a new instance, for sync execution through Worker::RunNow.
  Result<std::pair<std::shared_ptr<const CompiledWorkflow>, InstanceState>> PrepareInstance(
      const std::string& workflow_id, std::optional<int> version, StartOptions options);

  // One retention pass (also run periodically): returns the instances pruned.
  Result<int64_t> PruneOnce(TimePoint now);

 private:
  struct PreparedStarts;
  Result<std::shared_ptr<PreparedStarts>> PrepareStarts(std::vector<StartRequest> starts,
                                                        std::optional<WebhookDeliveryRecord> delivery);
  // Runs the adopted instances that were created, and hands back the places of the others.
  Result<std::vector<std::string>> FinishStarts(PreparedStarts& p, Result<std::vector<std::string>> created);

  void HousekeepingLoop();
  void Heartbeat(TimePoint now);

  Store& store_;
  NodeOptions options_;
  WorkflowCache workflows_;
  std::unique_ptr<Worker> worker_;
  std::unique_ptr<Scheduler> scheduler_;
  CreationBatcher creations_;
  std::mutex launcher_mu_;  // guards launcher_
  Engine launcher_;         // creates instance states for StartWorkflow
  const Clock* clock_;
  TimePoint started_at_{};
  std::string hostname_;
  std::atomic<bool> draining_{false};
  std::mutex mu_;  // guards stop_
  std::condition_variable cv_;
  bool stop_ = false;
  std::thread housekeeping_;
  // The store's numbers for /metrics, from Start to Stop.
  std::unique_ptr<metrics::StoreSourceRegistration> metrics_source_;
};

// "<hostname>-<pid>-<random>": unique per process, readable in `nodes` and in lease owners.
std::string NewNodeId();

}  // namespace trellis
