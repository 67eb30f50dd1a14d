#include "runtime/worker.h"

#include <algorithm>

#include "core/log.h"
#include "observability/trellis_metrics.h"
#include "runtime/new_instance.h"
#include "store/store_util.h"

namespace trellis {

struct Worker::Slot {
  InstanceRecord claimed;  // as claimed; its state_text is parsed on the executor (Load)
  bool loaded = true;      // false until Load ran for a claimed instance
  std::optional<InstanceCommit> pending_commit;  // Load failed: the commit that faults it
  std::shared_ptr<const CompiledWorkflow> wf;
  InstanceState state;
  int64_t epoch = 0;
  int64_t inbox_seq_seen = 0;
  std::vector<InboxItem> pending_inbox;  // applied by the executor before the first step
  bool fire_timers = true;
  std::vector<int64_t> consumed_inbox;
  std::string bookmark_signature;  // of the bookmark set the store last indexed
  std::vector<Json> http_responses;
  Json committed_state;
  std::function<void(BurstReport)> done;
  // The status last committed: metrics count a move into a final status once, not every commit of
  // an instance that is already Faulted.
  InstanceStatus committed_status = InstanceStatus::kRunning;
  // From the start of a burst to its commit (ended by the committer, or when the slot is dropped);
  // empty between bursts and when tracing is off.
  Span burst;
};

struct Worker::PendingCommit {
  std::unique_ptr<Slot> slot;
  InstanceCommit commit;
  bool keep_running = false;
};

namespace {

std::string BookmarkSignature(const InstanceState& s) {
  std::string sig;
  for (const auto& b : s.bookmarks) {
    sig += b.id;
    sig.push_back('\n');
  }
  return sig;
}

// An instance whose definition cannot be loaded or whose state cannot be read is faulted with an
// incident, never retried in a loop.
Json FaultedState(Json state, const std::string& message, TimePoint now) {
  if (!state.is_object()) state = Json::object();
  state["status"] = "Faulted";
  if (!state.contains("incidents") || !state["incidents"].is_array()) state["incidents"] = Json::array();
  state["incidents"].push_back({{"activityId", ""},
                                {"activityType", ""},
                                {"kind", "InstanceUnloadable"},
                                {"message", message},
                                {"attempt", 0},
                                {"at", FormatTime(now)}});
  return state;
}

// A burst is a child of the instance's start span (InstanceState::traceparent), so that every
// burst of an instance, on any worker, is in one trace. Activity spans are the burst's children.
Span StartBurstSpan(Tracer& tracer, InstanceState& s, const std::string& node_id) {
  TraceContext parent = ParseTraceparent(s.traceparent).value_or(TraceContext{});
  Span span = tracer.StartSpan("burst", SpanKind::kInternal, parent);
  if (span.recording()) {
    span.SetName("burst " + s.workflow_id);
    span.SetAttribute("trellis.instance.id", s.id);
    span.SetAttribute("trellis.workflow.id", s.workflow_id);
    span.SetAttribute("trellis.workflow.version", s.version);
    span.SetAttribute("trellis.node.id", node_id);
  }
  // An instance started with tracing off: its first traced burst roots the trace from now on.
  if (!parent.valid()) s.traceparent = span.traceparent();
  s.trace = span.context();
  return span;
}

}  // namespace

Worker::Worker(Store& store, WorkflowCache& workflows, const ActivityRegistry& registry,
               EngineServices services, WorkerOptions options)
    : store_(store),
      workflows_(workflows),
      registry_(registry),
      // In-flight I/O is aborted through `cancel` (the abort flag unless the caller gave one).
      services_([this](EngineServices s) {
        if (!s.cancel) s.cancel = &abort_;
        return s;
      }(std::move(services))),
      options_(std::move(options)),
      run_ahead_(registry, services_) {
  if (options_.concurrency < 1) options_.concurrency = 1;
  if (options_.max_in_flight == 0)
    options_.max_in_flight = static_cast<size_t>(options_.concurrency) * options_.claim_batch;
}

Worker::~Worker() {
  Stop(std::chrono::milliseconds(0));
}

void Worker::Start() {
  if (running_.exchange(true)) return;
  draining_ = false;
  auto listener = store_.Listen();
  if (listener.ok()) {
    listener_ = std::move(listener).value();
  } else {
    LogWarn("wake-ups unavailable; polling", {{"error", listener.status().message()}});
  }
  committer_ = std::thread([this] { CommitLoop(); });
  for (int i = 0; i < options_.concurrency; ++i) executors_.emplace_back([this, i] { ExecutorLoop(i); });
  renewer_ = std::thread([this] { RenewLoop(); });
  dispatcher_ = std::thread([this] { DispatchLoop(); });
}

void Worker::Notify() {
  {
    std::lock_guard lock(wake_mu_);
    dispatch_kick_ = true;
  }
  wake_cv_.notify_all();
  if (listener_) listener_->Interrupt();
}

void Worker::Stop(std::chrono::milliseconds deadline) {
  if (!running_.load() || stopping_.exchange(true)) return;
  auto until = std::chrono::steady_clock::now() + deadline;
  draining_ = true;
  Notify();
  if (dispatcher_.joinable()) dispatcher_.join();

  // In-flight instances run to their next commit point and are released there.
  {
    std::unique_lock lock(wake_mu_);
    wake_cv_.wait_until(lock, until, [this] { return in_flight_.load() == 0; });
  }
  // Past the deadline: abort in-flight I/O and drop what is left; the store keeps each instance's
  // last commit, and the leases are given back below.
  abort_ = true;
  {
    std::lock_guard lock(run_mu_);
    executors_stop_ = true;
  }
  run_cv_.notify_all();
  for (auto& t : executors_) t.join();
  executors_.clear();
  {
    std::lock_guard lock(commit_mu_);
    committer_stop_ = true;
  }
  commit_cv_.notify_all();
  if (committer_.joinable()) committer_.join();

  std::vector<std::pair<std::string, int64_t>> leftover;
  {
    std::lock_guard lock(run_mu_);
    for (auto& slot : run_queue_)
      leftover.emplace_back(slot->loaded ? slot->state.id : slot->claimed.id, slot->epoch);
    metrics::Trellis().active_workflows.Dec(static_cast<double>(run_queue_.size()));
    run_queue_.clear();
  }
  {
    std::lock_guard lock(wake_mu_);
    for (auto& l : release_backlog_) leftover.push_back(std::move(l));
    release_backlog_.clear();
  }
  if (!leftover.empty()) {
    Status s = store_.ReleaseLeases(options_.node_id, leftover);
    if (!s.ok()) LogWarn("could not give leases back; they expire on their own", {{"error", s.message()}});
  }
  {
    std::lock_guard lock(wake_mu_);
    renewer_stop_ = true;
  }
  wake_cv_.notify_all();
  if (renewer_.joinable()) renewer_.join();
  running_ = false;
}

Status Worker::RunNow(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state,
                      std::function<void(BurstReport)> done) {
  if (!running_.load() || draining_.load()) return Unavailable("this node is shutting down");
  Json state_json;  // what the row holds: the answer, if the instance finishes in its insert
  NewInstance n = RowRunAhead(*wf, state, &state_json);
  TimePoint now = services_.clock->Now();
  auto epoch = store_.CreateClaimedInstance(n, options_.node_id, options_.lease, now);
  if (!epoch.ok()) return epoch.status();
  if (IsTerminal(state.status)) {
    // It completed before its row existed: the insert was its only write, and the answer is ready.
    CountFinishedAhead(state);
    BurstReport report;
    report.instance_id = state.id;
    report.status = state.status;
    report.state = std::move(state_json);
    report.committed = true;
    done(std::move(report));
    return Status::Ok();
  }
  auto slot = OwnSlot(std::move(wf), std::move(state), *epoch);
  slot->done = std::move(done);
  in_flight_++;
  Enqueue(std::move(slot));
  return Status::Ok();
}

NewInstance Worker::RowRunAhead(const CompiledWorkflow& wf, InstanceState& state, Json* state_json) {
  counters_.steps += static_cast<int64_t>(run_ahead_.Run(wf, state));
  for (const auto& r : state.journal) metrics::RecordActivityExecution(r.activity_type, r.status);
  NewInstance n = NewInstanceFrom(state, wf, state_json);
  if (IsTerminal(state.status)) n.runnable = false;
  n.journal = std::move(state.journal);
  state.journal.clear();
  return n;
}

void Worker::CountFinishedAhead(const InstanceState& state) {
  counters_.completed++;
  metrics::RecordWorkflowFinished(
      InstanceStatusName(state.status),
      std::chrono::duration<double>(state.finished_at.value_or(state.created_at) - state.created_at).count());
}

std::unique_ptr<Worker::Slot> Worker::OwnSlot(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state,
                                              int64_t epoch) {
  auto slot = std::make_unique<Slot>();
  slot->wf = std::move(wf);
  slot->state = std::move(state);
  slot->epoch = epoch;
  slot->committed_status = slot->state.status;
  metrics::Trellis().active_workflows.Inc();
  return slot;
}

size_t Worker::Reserve(size_t n) {
  if (!running_.load() || draining_.load()) return 0;
  // All the room but one claim batch (at most half of it): that much always stays for claims
  // (resumed and timed-out instances, and work other nodes started), so a node busy with its own
  // starts does not starve them. A start that finds no room is written for any worker and claimed:
  // an extra write of the row and a wake-up, so the share left to claims is kept small. (With half
  // the room, a single node under webhook load claimed 6 of 10 of its own starts: PostgreSQL spent
  // 0.9 s of every 6 s on claim queries, and the commits' rows cost 42 us instead of 25 us.)
  size_t limit = options_.max_in_flight - std::min(options_.claim_batch, options_.max_in_flight / 2);
  size_t current = in_flight_.load();
  size_t take = 0;
  while (true) {
    size_t room = limit - std::min(limit, current);
    take = std::min(room, n);
    if (take == 0) return 0;
    if (in_flight_.compare_exchange_weak(current, current + take)) break;
  }
  // Stop may have begun between the check above and the reservation, and seen nothing in flight.
  if (draining_.load()) {
    Unreserve(take);
    return 0;
  }
  return take;
}

void Worker::Unreserve(size_t n) {
  if (n == 0) return;
  in_flight_ -= n;
  WakeStop();
}

void Worker::WakeStop() {
  // Stop waits on wake_cv_ for in_flight_ to reach 0: taking the mutex between the change and the
  // notification means the notification cannot fall between its check and its wait.
  { std::lock_guard lock(wake_mu_); }
  wake_cv_.notify_all();
}

void Worker::ReleaseLater(std::vector<std::pair<std::string, int64_t>> leases) {
  if (leases.empty()) return;
  {
    std::lock_guard lock(wake_mu_);
    for (auto& l : leases) release_backlog_.push_back(std::move(l));
    dispatch_kick_ = true;
  }
  wake_cv_.notify_all();
  if (listener_) listener_->Interrupt();
}

void Worker::Adopt(std::shared_ptr<const CompiledWorkflow> wf, InstanceState state, int64_t epoch) {
  std::string id = state.id;
  auto slot = OwnSlot(std::move(wf), std::move(state), epoch);
  {
    std::lock_guard lock(run_mu_);
    if (!executors_stop_) {
      counters_.adopted++;
      run_queue_.push_back(std::move(slot));
      run_cv_.notify_one();
      return;
    }
  }
  // The worker stopped (past its deadline) while the instance was being written: give the lease
  // back at once so that another worker runs it.
  GiveBack({{id, epoch}});
  Finish(std::move(slot), false, "the worker stopped before the instance ran");
}

void Worker::Enqueue(std::unique_ptr<Slot> slot) {
  {
    std::lock_guard lock(run_mu_);
    run_queue_.push_back(std::move(slot));
  }
  run_cv_.notify_one();
}

void Worker::RememberWake(TimePoint t) {
  std::lock_guard lock(wake_mu_);
  wakes_.insert(t);
  // Keep the set small: the dispatcher only needs the earliest ones.
  while (wakes_.size() > 10000) wakes_.erase(std::prev(wakes_.end()));
}

void Worker::GiveBack(std::vector<std::pair<std::string, int64_t>> leases) {
  if (leases.empty()) return;
  Status s = store_.ReleaseLeases(options_.node_id, leases);
  if (!s.ok()) {
    std::lock_guard lock(wake_mu_);
    for (auto& l : leases) release_backlog_.push_back(std::move(l));
  }
}

// ---------------------------------------------------------------------------------------------
// Dispatcher

void Worker::DispatchLoop() {
  auto backoff = std::chrono::milliseconds(50);
  while (!draining_.load()) {
    std::vector<std::pair<std::string, int64_t>> backlog;
    {
      std::lock_guard lock(wake_mu_);
      backlog.swap(release_backlog_);
      dispatch_kick_ = false;
    }
    GiveBack(std::move(backlog));

    size_t capacity = options_.max_in_flight - std::min(options_.max_in_flight, in_flight_.load());
    if (capacity == 0) {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, options_.poll_interval,
                        [this] { return draining_.load() || in_flight_.load() < options_.max_in_flight; });
      continue;
    }
    size_t limit = std::min(capacity, options_.claim_batch);
    TimePoint now = services_.clock->Now();
    auto claim_start = std::chrono::steady_clock::now();
    auto claims =
        store_.Claim({.owner = options_.node_id, .limit = limit, .lease = options_.lease, .now = now});
    counters_.claim_micros +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - claim_start)
            .count();
    if (!claims.ok()) {
      counters_.store_errors++;
      LogWarn("claim failed; retrying",
              {{"error", claims.status().message()}, {"retryInMs", backoff.count()}});
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, backoff, [this] { return draining_.load(); });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(5000));
      continue;
    }
    backoff = std::chrono::milliseconds(50);
    size_t got = claims->size();
    for (auto& c : *claims) Admit(std::move(c));
    if (got == limit) continue;  // there may be more

    // Idle: sleep until a wake-up, the earliest timer we know of, or the poll interval.
    TimePoint until = now + options_.poll_interval;
    {
      std::lock_guard lock(wake_mu_);
      while (!wakes_.empty() && *wakes_.begin() <= now) wakes_.erase(wakes_.begin());
      if (!wakes_.empty()) until = std::min(until, *wakes_.begin());
      if (dispatch_kick_) continue;
    }
    auto wait =
        std::chrono::duration_cast<std::chrono::milliseconds>(until - now) + std::chrono::milliseconds(1);
    if (listener_) {
      listener_->Wait(wait);
    } else {
      std::unique_lock lock(wake_mu_);
      wake_cv_.wait_for(lock, wait, [this] { return draining_.load() || dispatch_kick_; });
    }
  }
}

void Worker::Admit(ClaimedInstance claimed) {
  counters_.claimed++;
  if (claimed.lease_expired) metrics::RecordLeaseExpired();
  auto slot = std::make_unique<Slot>();
  slot->loaded = false;
  slot->claimed = std::move(claimed.record);
  slot->epoch = slot->claimed.epoch;
  slot->inbox_seq_seen = slot->claimed.inbox_seq;
  slot->pending_inbox = std::move(claimed.inbox);
  slot->committed_status = slot->claimed.status;
  in_flight_++;
  metrics::Trellis().active_workflows.Inc();
  Enqueue(std::move(slot));
}

bool Worker::Load(Slot& slot) {
  InstanceRecord& r = slot.claimed;
  std::string problem;
  auto wf = workflows_.Get(r.workflow_id, r.version);
  Json state_json;
  std::string error;
  if (!wf.ok()) {
    problem = "its definition cannot be loaded: " + wf.status().message();
  } else if (!ParseJson(r.state_text, &state_json, &error)) {
    problem = "its state is not valid JSON: " + error;
  } else {
    slot.wf = *wf;
    auto state = StateFromJson(state_json, slot.wf->ids());
    if (state.ok()) {
      slot.state = std::move(state).value();
      slot.bookmark_signature = BookmarkSignature(slot.state);
      r.state_text.clear();
      r.state_text.shrink_to_fit();
      return true;
    }
    problem = "its state cannot be read: " + state.status().message();
  }
  // Faulted with an incident, never retried in a loop.
  LogError("instance faulted: " + problem, {{"instanceId", r.id}});
  TimePoint now = services_.clock->Now();
  InstanceCommit c;
  c.id = r.id;
  c.epoch = r.epoch;
  c.inbox_seq_seen = r.inbox_seq;
  c.status = InstanceStatus::kFaulted;
  c.state = FaultedState(std::move(state_json), problem, now);
  c.now = now;
  c.finished_at = now;
  c.bookmarks = std::vector<BookmarkRow>{};
  c.consumed_inbox.reserve(slot.pending_inbox.size());
  for (const auto& item : slot.pending_inbox) c.consumed_inbox.push_back(item.id);
  slot.state.id = r.id;
  slot.pending_commit = std::move(c);
  return false;
}

// ---------------------------------------------------------------------------------------------
// Executors

void Worker::ExecutorLoop(int index) {
  EngineServices services = services_;
  if (services.random_seed != 0) services.random_seed += static_cast<uint64_t>(index);
  Engine engine(registry_, services);
  while (true) {
    std::unique_ptr<Slot> slot;
    {
      std::unique_lock lock(run_mu_);
      run_cv_.wait(lock, [this] { return executors_stop_ || !run_queue_.empty(); });
      if (executors_stop_) return;
      slot = std::move(run_queue_.front());
      run_queue_.pop_front();
    }
    RunSlot(engine, std::move(slot));
  }
}

void Worker::ApplyInbox(Engine& engine, Slot& slot, const std::vector<InboxItem>& inbox) {
  const CompiledWorkflow& wf = *slot.wf;
  InstanceState& s = slot.state;
  for (const auto& item : inbox) {
    slot.consumed_inbox.push_back(item.id);
    switch (item.kind) {
      case InboxKind::kEvent:
      case InboxKind::kWebhook:
      case InboxKind::kChild: {
        if (IsTerminal(s.status)) break;
        ResumeReason reason = item.kind == InboxKind::kEvent     ? ResumeReason::kEvent
                              : item.kind == InboxKind::kWebhook ? ResumeReason::kWebhook
                                                                 : ResumeReason::kChild;
        // A bookmark that is gone (a timeout won the race) makes the item a no-op, applied once.
        (void)engine.ResumeBookmark(wf, s, item.bookmark_id, reason, item.payload);
        break;
      }
      case InboxKind::kCancel:
        if (s.status != InstanceStatus::kCompleted && s.status != InstanceStatus::kCancelled) {
          std::string reason =
              item.payload.is_object() ? item.payload.value("reason", "cancelled") : "cancelled";
          engine.Cancel(wf, s, reason);
        }
        break;
      case InboxKind::kRetry:
        if (s.status == InstanceStatus::kFaulted) {
          Status st = engine.Retry(wf, s);
          if (!st.ok()) LogWarn("retry refused", {{"instanceId", s.id}, {"error", st.message()}});
        }
        break;
    }
  }
}

void Worker::RunSlot(Engine& engine, std::unique_ptr<Slot> slot) {
  Slot& sl = *slot;
  if (!sl.loaded) {
    sl.loaded = true;
    if (!Load(sl)) {
      auto pending = std::make_unique<PendingCommit>();
      pending->commit = std::move(*sl.pending_commit);
      pending->slot = std::move(slot);
      QueueCommit(std::move(pending));
      return;
    }
  }
  InstanceState& s = sl.state;
  if (services_.tracer != nullptr && !sl.burst.context().valid())
    sl.burst = StartBurstSpan(*services_.tracer, s, options_.node_id);
  if (!sl.pending_inbox.empty()) {
    std::vector<InboxItem> inbox = std::move(sl.pending_inbox);
    sl.pending_inbox.clear();
    ApplyInbox(engine, sl, inbox);
  }
  if (sl.fire_timers) {
    sl.fire_timers = false;
    if (!IsTerminal(s.status)) engine.FireDueTimers(*sl.wf, s, services_.clock->Now());
  }
  size_t steps = 0;
  while (true) {
    if (abort_.load()) return Abandon(std::move(slot));
    if (IsTerminal(s.status)) {
      SubmitCommit(engine, std::move(slot), true);
      return;
    }
    size_t journaled = s.journal.size();
    StepResult r = engine.Step(*sl.wf, s);
    counters_.steps++;
    // A step that failed once the abort was set may have failed because of it (an aborted HTTP call
    // is an activity failure): it is not committed, or a stop past its deadline would fault or retry
    // the instances it interrupted. A step that succeeded is committed as usual.
    bool failed = s.journal.size() > journaled && s.journal.back().status == "Faulted";
    if (failed && abort_.load()) return Abandon(std::move(slot));
    if (r == StepResult::kIdle) {
      SubmitCommit(engine, std::move(slot), true);
      return;
    }
    if (r == StepResult::kCommitPoint) {
      SubmitCommit(engine, std::move(slot), IsTerminal(s.status) || s.ready_count() == 0 || draining_.load());
      return;
    }
    if (++steps >= options_.slice_steps) {
      if (draining_.load()) {
        SubmitCommit(engine, std::move(slot), true);
      } else {
        Enqueue(std::move(slot));  // let other instances run
      }
      return;
    }
  }
}

void Worker::DrainOutbox(Engine& engine, Slot& slot, InstanceCommit& commit) {
  InstanceState& s = slot.state;
  std::vector<OutboxItem> items = std::move(s.outbox);
  s.outbox.clear();
  TimePoint now = commit.now;
  for (auto& item : items) {
    Json& p = item.payload;
    if (item.kind == "startChild") {
      std::string child_id = p.value("instanceId", "");
      bool wait = p.value("wait", true);
      std::string bookmark = p.value("bookmarkId", "");
      std::optional<int> version;
      if (p.contains("version") && p["version"].is_number_integer()) version = p["version"].get<int>();
      auto child_wf = workflows_.Get(p.value("workflow", ""), version);
      Status failure;
      if (child_wf.ok()) {
        StartOptions opts;
        opts.input = p.value("input", Json::object());
        opts.instance_id = child_id;
        opts.parent_id = s.id;
        opts.correlation_id = p.value("correlationId", "");
        opts.traceparent = slot.burst.context().valid() ? slot.burst.traceparent() : s.traceparent;
        auto child = engine.Start(**child_wf, std::move(opts));
        if (child.ok()) {
          NewInstance n = NewInstanceFrom(*child, **child_wf);
          n.parent_bookmark = wait ? bookmark : "";
          n.created_at = now;
          commit.children.push_back(std::move(n));
          continue;
        }
        failure = child.status();
      } else {
        failure = child_wf.status();
      }
      if (wait) {
        (void)engine.ResumeBookmark(
            *slot.wf, s, bookmark, ResumeReason::kChild,
            {{"status", "Faulted"}, {"instanceId", child_id}, {"error", failure.message()}});
      } else {
        LogWarn("child workflow not started", {{"instanceId", s.id}, {"error", failure.message()}});
      }
    } else if (item.kind == "cancelChild") {
      commit.deliveries.push_back({.instance_id = p.value("instanceId", ""),
                                   .kind = InboxKind::kCancel,
                                   .payload = {{"reason", "parent " + s.id + " was cancelled"}}});
    } else if (item.kind == "publishEvent") {
      commit.events.push_back({p.value("event", ""), p.value("correlation", ""), p.value("payload", Json())});
    } else if (item.kind == "httpResponse") {
      slot.http_responses.push_back(std::move(p));
    }
  }
}

void Worker::SubmitCommit(Engine& engine, std::unique_ptr<Slot> slot, bool release) {
  Slot& sl = *slot;
  InstanceState& s = sl.state;
  InstanceCommit c;
  c.id = s.id;
  c.epoch = sl.epoch;
  c.inbox_seq_seen = sl.inbox_seq_seen;
  c.now = services_.clock->Now();
  c.lease = options_.lease;
  c.event_hold = options_.event_hold;
  DrainOutbox(engine, sl, c);
  bool terminal = IsTerminal(s.status);
  // A child that could not start resumes its parent at once: keep going.
  if (!terminal && s.ready_count() > 0 && !draining_.load()) release = false;
  c.status = s.status;
  c.status_changed = s.status != sl.committed_status;
  if (sl.burst.recording()) sl.burst.SetAttribute("trellis.instance.status", InstanceStatusName(s.status));
  c.release = release;
  c.has_ready = s.ready_count() > 0;
  c.finished_at = s.finished_at;
  if (!terminal) c.wake_at = Engine::NextDue(s);
  c.journal = std::move(s.journal);
  s.journal.clear();
  std::string signature = BookmarkSignature(s);
  if (signature != sl.bookmark_signature || terminal) {
    c.bookmarks = BookmarkRowsOf(s);
    sl.bookmark_signature = std::move(signature);
  }
  c.consumed_inbox = std::move(sl.consumed_inbox);
  sl.consumed_inbox.clear();
  if (terminal && !s.parent_id.empty()) {
    Json result = {{"status", InstanceStatusName(s.status)}, {"instanceId", s.id}, {"output", s.output}};
    if (!s.fault_message.empty()) result["error"] = s.fault_message;
    c.parent_result = std::move(result);
  }
  // Serialised here, on the executor, so the committer only writes.
  Json state = StateToJson(s, sl.wf->ids());
  c.state_text = state.dump(-1, ' ', false, Json::error_handler_t::replace);
  if (sl.done) sl.committed_state = std::move(state);
  auto pending = std::make_unique<PendingCommit>();
  pending->slot = std::move(slot);
  pending->commit = std::move(c);
  pending->keep_running = !release;
  QueueCommit(std::move(pending));
}

void Worker::QueueCommit(std::unique_ptr<PendingCommit> pending) {
  bool was_empty;
  {
    std::lock_guard lock(commit_mu_);
    was_empty = commit_queue_.empty();
    commit_queue_.push_back(std::move(pending));
  }
  // The committer only sleeps on an empty queue; waking it per item costs a syscall each.
  if (was_empty) commit_cv_.notify_one();
}

// ---------------------------------------------------------------------------------------------
// Committer

void Worker::CommitLoop() {
  auto backoff = std::chrono::milliseconds(50);
  while (true) {
    std::vector<std::unique_ptr<PendingCommit>> batch;
    {
      std::unique_lock lock(commit_mu_);
      commit_cv_.wait(lock, [this] { return committer_stop_ || !commit_queue_.empty(); });
      if (commit_queue_.empty()) return;  // stopping and nothing left
      size_t n = std::min(commit_queue_.size(), options_.max_commit_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) batch.push_back(std::move(commit_queue_[i]));
      commit_queue_.erase(commit_queue_.begin(), commit_queue_.begin() + static_cast<std::ptrdiff_t>(n));
    }
    std::vector<InstanceCommit> commits;
    commits.reserve(batch.size());
    for (auto& p : batch) commits.push_back(std::move(p->commit));
    auto commit_start = std::chrono::steady_clock::now();
    auto outcomes = store_.Commit(commits);
    counters_.commit_micros +=
        std::chrono::duration_cast<std::chrono::microseconds>(std::chrono::steady_clock::now() - commit_start)
            .count();
    counters_.commit_batches++;
    if (!outcomes.ok()) {
      counters_.store_errors++;
      LogWarn("commit failed; dropping the batch, its instances continue from their last commit",
              {{"error", outcomes.status().message()}, {"instances", batch.size()}});
      std::vector<std::pair<std::string, int64_t>> leases;
      for (auto& p : batch) {
        leases.emplace_back(p->slot->state.id, p->slot->epoch);
        Finish(std::move(p->slot), false, outcomes.status().message());
      }
      {
        std::lock_guard lock(wake_mu_);
        for (auto& l : leases) release_backlog_.push_back(std::move(l));
      }
      std::unique_lock lock(commit_mu_);
      commit_cv_.wait_for(lock, backoff, [this] { return committer_stop_; });
      backoff = std::min(backoff * 2, std::chrono::milliseconds(2000));
      continue;
    }
    backoff = std::chrono::milliseconds(50);
    std::vector<std::unique_ptr<Slot>> continuing;
    for (size_t i = 0; i < batch.size(); ++i) {
      auto& p = batch[i];
      const InstanceCommit& c = commits[i];
      if ((*outcomes)[i] == CommitOutcome::kFenced) {
        counters_.fenced++;
        LogWarn("lost the lease: another worker owns the instance; dropping this copy",
                {{"instanceId", c.id}, {"epoch", c.epoch}});
        Finish(std::move(p->slot), false, "fenced: another worker owns the instance");
        continue;
      }
      counters_.commits++;
      if (c.status == InstanceStatus::kCompleted) counters_.completed++;
      if (c.status == InstanceStatus::kFaulted) counters_.faulted++;
      for (const auto& r : c.journal) metrics::RecordActivityExecution(r.activity_type, r.status);
      if (IsTerminal(c.status) && c.status != p->slot->committed_status) {
        Slot& sl = *p->slot;
        TimePoint created = sl.claimed.id.empty() ? sl.state.created_at : sl.claimed.created_at;
        metrics::RecordWorkflowFinished(
            InstanceStatusName(c.status),
            std::chrono::duration<double>(c.finished_at.value_or(c.now) - created).count());
      }
      p->slot->committed_status = c.status;
      if (p->keep_running) {
        p->slot->burst = Span();  // ends it: the next burst gets its own span
        continuing.push_back(std::move(p->slot));
        continue;
      }
      if (c.wake_at) RememberWake(*c.wake_at);
      Finish(std::move(p->slot), true, "");
    }
    if (!continuing.empty()) {
      {
        std::lock_guard lock(run_mu_);
        for (auto& slot : continuing) run_queue_.push_back(std::move(slot));
      }
      run_cv_.notify_all();
    }
  }
}

void Worker::Abandon(std::unique_ptr<Slot> slot) {
  // Stop gives this lease back with the queued instances' (it reads the backlog after the executors
  // have ended), so another node continues from the last commit at once, not when the lease expires.
  {
    std::lock_guard lock(wake_mu_);
    release_backlog_.emplace_back(slot->state.id, slot->epoch);
  }
  Finish(std::move(slot), false, "the worker stopped before the next commit point");
}

void Worker::Finish(std::unique_ptr<Slot> slot, bool committed, std::string error) {
  if (!committed) slot->burst.SetError(error);
  slot->burst.End();
  if (slot->done) {
    BurstReport report;
    report.instance_id = slot->state.id;
    report.status = slot->state.status;
    report.state = std::move(slot->committed_state);
    report.http_responses = std::move(slot->http_responses);
    report.committed = committed;
    report.error = std::move(error);
    slot->done(std::move(report));
  }
  slot.reset();
  in_flight_--;
  metrics::Trellis().active_workflows.Dec();
  WakeStop();
}

// ---------------------------------------------------------------------------------------------
// Lease renewal

void Worker::RenewLoop() {
  auto period = std::max(options_.lease / 3, std::chrono::milliseconds(50));
  std::unique_lock lock(wake_mu_);
  while (!renewer_stop_) {
    wake_cv_.wait_for(lock, period, [this] { return renewer_stop_; });
    if (renewer_stop_) return;
    lock.unlock();
    auto renewed = store_.RenewLeases(options_.node_id, options_.lease, services_.clock->Now());
    if (!renewed.ok()) {
      counters_.store_errors++;
      LogWarn("lease renewal failed", {{"error", renewed.status().message()}});
    }
    lock.lock();
  }
}

}  // namespace trellis
