#include "observability/trellis_metrics.h"

#include <array>
#include <cstdio>
#include <mutex>

#include "observability/process_metrics.h"

namespace trellis::metrics {

namespace {

// Workflow durations run from milliseconds (a sync workflow) to days (a human approval).
std::vector<double> WorkflowDurationBuckets() {
  return {0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 900, 3600, 14400, 86400, 604800};
}

// The registered store sources (the newest is used) and the queue stats it last returned.
struct StoreSourceState {
  std::mutex mu;  // guards everything below; held while a source runs (unregistering waits)
  uint64_t next_id = 1;
  std::vector<std::pair<uint64_t, StoreSource>> sources;  // oldest first
  uint64_t cached_for = 0;                                // the source `queue` came from
  std::optional<QueueStats> queue;
  std::optional<std::chrono::steady_clock::time_point> queue_read_at;
};

StoreSourceState& SourceState() {
  static auto* state = new StoreSourceState();  // never destroyed, like the default registry
  return *state;
}

void CollectStore(std::vector<FamilySnapshot>& out) {
  StoreSourceState& st = SourceState();
  std::lock_guard lock(st.mu);
  if (st.sources.empty()) return;
  auto& [id, source] = st.sources.back();
  if (st.cached_for != id) {
    st.cached_for = id;
    st.queue.reset();
    st.queue_read_at.reset();
  }
  if (source.queue) {
    auto now = std::chrono::steady_clock::now();
    if (!st.queue_read_at || now - *st.queue_read_at >= source.queue_cache) {
      st.queue = source.queue();
      st.queue_read_at = now;
    }
    if (st.queue) {
      out.push_back({"trellis_queue_depth",
                     "Instances waiting for a worker: runnable now, or with a timer due.",
                     MetricType::kGauge,
                     {},
                     {},
                     {Sample{{}, static_cast<double>(st.queue->depth), {}}}});
      out.push_back({"trellis_queue_lag_seconds",
                     "Age in seconds of the oldest runnable instance not yet claimed (0 when none).",
                     MetricType::kGauge,
                     {},
                     {},
                     {Sample{{}, st.queue->lag_seconds, {}}}});
    }
  }
  if (source.database) {
    DatabaseStats db = source.database();
    out.push_back({"trellis_database_connections_active",
                   "Database connections in use.",
                   MetricType::kGauge,
                   {},
                   {},
                   {Sample{{}, static_cast<double>(db.connections_active), {}}}});
    out.push_back({"trellis_database_connections_idle",
                   "Database connections open and idle in the pool.",
                   MetricType::kGauge,
                   {},
                   {},
                   {Sample{{}, static_cast<double>(db.connections_idle), {}}}});
    out.push_back({"trellis_database_connection_errors_total",
                   "Failed database connection attempts and connections lost.",
                   MetricType::kCounter,
                   {},
                   {},
                   {Sample{{}, static_cast<double>(db.connection_errors_total), {}}}});
  }
}

TrellisMetrics* Build() {
  Registry& r = Registry::Default();
  RegisterProcessMetrics(r);
  r.AddCollector({"trellis_queue_depth", "trellis_queue_lag_seconds", "trellis_database_connections_active",
                  "trellis_database_connections_idle", "trellis_database_connection_errors_total"},
                 CollectStore);
  auto* m = new TrellisMetrics{
      .http_requests = r.AddCounterFamily("http_requests_total", "HTTP requests answered, by route pattern.",
                                          {"method", "route", "code"}),
      .http_request_duration =
          r.AddHistogramFamily("http_request_duration_seconds", "Time to answer an HTTP request, in seconds.",
                               {"method", "route"}, DefaultBuckets()),
      .workflow_executions = r.AddCounterFamily(
          "trellis_workflow_executions_total",
          "Workflow instances that reached a final status (Completed, Faulted, Cancelled).", {"status"}),
      .workflow_execution_failed =
          r.AddCounter("trellis_workflow_execution_failed_total", "Workflow instances that faulted."),
      .active_workflows =
          r.AddGauge("trellis_active_workflows", "Workflow instances in flight in this process's worker."),
      .workflow_duration = r.AddHistogram("trellis_workflow_duration_seconds",
                                          "Time from an instance's creation to its final status, in seconds.",
                                          WorkflowDurationBuckets()),
      .activity_executions = r.AddCounterFamily(
          "trellis_activity_executions_total",
          "Activity executions committed to the journal, by type and status.", {"type", "status"}),
      .leases_expired = r.AddCounter("trellis_leases_expired_total",
                                     "Instances claimed after the previous owner's lease expired."),
  };
  // Every final status shows from the start (0), so rate() sees the first one.
  for (const char* s : {"Completed", "Faulted", "Cancelled"}) m->workflow_executions.WithLabels({s});
  return m;
}

std::string_view NormalMethod(std::string_view m) {
  static constexpr std::array<std::string_view, 9> kMethods = {
      "GET", "HEAD", "POST", "PUT", "DELETE", "PATCH", "OPTIONS", "TRACE", "CONNECT"};
  for (std::string_view k : kMethods) {
    if (m == k) return k;
  }
  return "OTHER";
}

}  // namespace

TrellisMetrics& Trellis() {
  static TrellisMetrics* metrics = Build();
  return *metrics;
}

std::string RenderMetrics() {
  Trellis();  // registers everything on first use
  return Registry::Default().Render();
}

void RecordHttpRequest(std::string_view method, std::string_view route, int code, double seconds) {
  TrellisMetrics& m = Trellis();
  std::string_view meth = NormalMethod(method);
  if (route.empty()) route = "unmatched";
  char code_text[16];
  int n = std::snprintf(code_text, sizeof code_text, "%d", code);
  m.http_requests.WithLabels({meth, route, std::string_view(code_text, static_cast<size_t>(n))}).Inc();
  m.http_request_duration.WithLabels({meth, route}).Observe(seconds);
}

void RecordWorkflowFinished(std::string_view status, double seconds) {
  TrellisMetrics& m = Trellis();
  m.workflow_executions.WithLabels({status}).Inc();
  if (status == "Faulted") m.workflow_execution_failed.Inc();
  m.workflow_duration.Observe(seconds < 0 ? 0 : seconds);
}

void RecordActivityExecution(std::string_view type, std::string_view status) {
  Trellis().activity_executions.WithLabels({type, status}).Inc();
}

void RecordLeaseExpired() {
  Trellis().leases_expired.Inc();
}

std::unique_ptr<StoreSourceRegistration> RegisterStoreSource(StoreSource source) {
  Trellis();
  StoreSourceState& st = SourceState();
  std::lock_guard lock(st.mu);
  uint64_t id = st.next_id++;
  st.sources.emplace_back(id, std::move(source));
  return std::make_unique<StoreSourceRegistration>(id);
}

StoreSourceRegistration::~StoreSourceRegistration() {
  StoreSourceState& st = SourceState();
  std::lock_guard lock(st.mu);
  std::erase_if(st.sources, [this](const auto& s) { return s.first == id_; });
}

}  // namespace trellis::metrics
