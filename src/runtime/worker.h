// The durable worker: claims runnable instances from the store in batches, runs them on a pool of
// executor threads, and writes their commit points through one committer thread that groups the
// commits of many instances into one transaction (DESIGN.md section 4).
//
//   dispatcher ──Claim(batch)──▶ run queue ──▶ executors (Engine::Step until a commit point)
//        ▲                                         │
//        │ wake-ups (Listen), timers, backoff      ▼
//        └──────────── committer ◀── commit queue (group commit, fenced by epoch)
//
// An instance stays leased by this worker while it has work; after a commit point that leaves
// ready work it goes back to the run queue without another claim. It is released when it suspends
// or ends, or when the worker drains. A fenced commit drops the instance: another worker owns it.
// A commit that fails (the database went away) drops the batch's instances and gives their leases
// back once the database answers again; their last committed state is intact.
#pragma once

#include <atomic>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <thread>
#include <vector>

#include "engine/engine.h"
#include "runtime/run_ahead.h"
#include "runtime/workflow_cache.h"
#include "store/store.h"

namespace trellis {

struct WorkerOptions {
  std::string node_id;   // the lease owner
  int concurrency = 10;  // executor threads
  size_t claim_batch = 64;
  size_t max_in_flight = 0;  // instances held at once; 0: concurrency * claim_batch
  std::chrono::milliseconds lease{30000};
  std::chrono::milliseconds poll_interval{1000};  // longest idle wait without a wake-up
  std::chrono::milliseconds event_hold{60000};
  size_t max_commit_batch = 512;
  size_t slice_steps = 1000;  // pure steps before an instance yields its executor
};

// What a finished burst reports (sync execution and tests).
struct BurstReport {
  std::string instance_id;
  InstanceStatus status = InstanceStatus::kRunning;
  Json state;                        // StateToJson of the last committed state
  std::vector<Json> http_responses;  // HttpResponse outbox items of this burst
  bool committed = false;            // false: fenced or the database failed; see `error`
  std::string error;
};

class Worker {
 public:
  // `services` is copied into one Engine per executor thread.
  Worker(Store& store, WorkflowCache& workflows, const ActivityRegistry& registry, EngineServices services,
         WorkerOptions options);
  ~Worker();

  void Start();
  // Stops claiming, lets in-flight instances reach their next commit point (then releases them),
  // gives back leases of queued instances, and waits up to `deadline` for executors. Idempotent.
  void Stop(std::chrono::milliseconds deadline);

  // Sync execution: inserts the instance already leased by this worker and runs it here; `done`
  // is called once it suspends, ends, or is dropped. Fails when the worker is not running.
  Status RunNow(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state,
                std::function<void(BurstReport)> done);

  // Adoption of the instances this process starts (Node::StartWorkflows), instead of a claim.
  // Reserve takes up to `n` of the places this worker has for instances (all of max_in_flight but
  // one claim batch, at most half of it, which stays for claims; none when it is not running or is
  // draining). Each reserved place then gets an instance created already leased to this worker
  // (Adopt: epoch 1, state as created), or is handed back (Unreserve). A busy worker reserves
  // nothing, and its node's starts are claimed by the cluster as before.
  size_t Reserve(size_t n);
  void Unreserve(size_t n);
  void Adopt(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state, int64_t epoch);
  // The row of a new instance this worker is about to run itself (RunNow, or a start it adopts):
  // first its pure first steps run on the calling thread (RunAhead), and the row carries their
  // journal records, so that the insert is the instance's first commit point. `state` is left as
  // the row has it, with an empty journal. An instance that completed there (state.status) gets a
  // finished row, not runnable: there is nothing left to run, and it is not adopted.
  NewInstance RowRunAhead(const CompiledWorkflow& wf, InstanceState& state, Json* state_json = nullptr);
  // Counts an instance that RowRunAhead finished as completed, once its row is written.
  void CountFinishedAhead(const InstanceState& state);
  // Gives these leases back from the dispatcher's thread (without a database call on the caller's).
  void ReleaseLater(std::vector<std::pair<std::string, int64_t>> leases);
  const std::string& node_id() const { return options_.node_id; }
  std::chrono::milliseconds lease() const { return options_.lease; }

  // Wakes the dispatcher (new work was created in this process).
  void Notify();

  struct Counters {
    std::atomic<int64_t> claimed{0};
    std::atomic<int64_t> adopted{0};  // started by this process and run without a claim
    std::atomic<int64_t> commits{0};
    std::atomic<int64_t> commit_batches{0};
    std::atomic<int64_t> fenced{0};
    std::atomic<int64_t> completed{0};
    std::atomic<int64_t> faulted{0};
    std::atomic<int64_t> store_errors{0};
    std::atomic<int64_t> steps{0};
    std::atomic<int64_t> claim_micros{0};   // time spent in Store::Claim
    std::atomic<int64_t> commit_micros{0};  // time spent in Store::Commit
  };
  const Counters& counters() const { return counters_; }
  size_t in_flight() const { return in_flight_.load(); }
  bool running() const { return running_.load(); }

 private:
  struct Slot;
  struct PendingCommit;

  void DispatchLoop();
  void ExecutorLoop(int index);
  void CommitLoop();
  void RenewLoop();

  void Admit(ClaimedInstance claimed);
  // A slot for an instance this process created leased to this worker (RunNow, Adopt).
  std::unique_ptr<Slot> OwnSlot(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state,
                                int64_t epoch);
  bool Load(Slot& slot);  // parses a claimed instance; false: it is faulted (slot.pending_commit)
  void Enqueue(std::unique_ptr<Slot> slot);
  void RunSlot(Engine& engine, std::unique_ptr<Slot> slot);
  void ApplyInbox(Engine& engine, Slot& slot, const std::vector<InboxItem>& inbox);
  void SubmitCommit(Engine& engine, std::unique_ptr<Slot> slot, bool release);
  void QueueCommit(std::unique_ptr<PendingCommit> pending);
  void DrainOutbox(Engine& engine, Slot& slot, InstanceCommit& commit);
  void Finish(std::unique_ptr<Slot> slot, bool committed, std::string error);
  // Past the stop deadline: drops the slot's uncommitted work and queues its lease to be given back.
  void Abandon(std::unique_ptr<Slot> slot);
  void RememberWake(TimePoint t);
  void GiveBack(std::vector<std::pair<std::string, int64_t>> leases);
  void WakeStop();  // in_flight_ went down

  Store& store_;
  WorkflowCache& workflows_;
  const ActivityRegistry& registry_;
  EngineServices services_;
  WorkerOptions options_;
  Counters counters_;
  RunAhead run_ahead_;

  std::atomic<bool> running_{false};
  std::atomic<bool> stopping_{false};
  std::atomic<bool> draining_{false};
  std::atomic<bool> abort_{false};  // past the stop deadline: abandon in-flight work
  std::atomic<size_t> in_flight_{0};
  std::unique_ptr<WorkListener> listener_;

  std::mutex run_mu_;  // guards run_queue_, executors_stop_
  bool executors_stop_ = false;
  std::condition_variable run_cv_;
  std::deque<std::unique_ptr<Slot>> run_queue_;

  std::mutex commit_mu_;  // guards commit_queue_
  std::condition_variable commit_cv_;
  std::vector<std::unique_ptr<PendingCommit>> commit_queue_;
  bool committer_stop_ = false;

  std::mutex wake_mu_;  // guards wakes_, dispatch_kick_, release_backlog_, renewer_stop_
  bool renewer_stop_ = false;
  std::condition_variable wake_cv_;
  std::multiset<TimePoint> wakes_;  // timers this worker knows of (its own suspensions)
  bool dispatch_kick_ = false;
  std::vector<std::pair<std::string, int64_t>> release_backlog_;  // leases to give back

  std::thread dispatcher_;
  std::thread committer_;
  std::thread renewer_;
  std::vector<std::thread> executors_;
};

}  // namespace trellis
