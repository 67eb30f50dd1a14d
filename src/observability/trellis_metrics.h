// Every metric of DESIGN.md section 8, defined once in Registry::Default(), and the calls that feed
// them:
//
//   http_requests_total{method,route,code}          RecordHttpRequest (the HTTP server)
//   http_request_duration_seconds{method,route}     RecordHttpRequest
//   trellis_workflow_executions_total{status}       RecordWorkflowFinished (the worker, once the
//   trellis_workflow_execution_failed_total           commit that ends an instance is committed)
//   trellis_workflow_duration_seconds               RecordWorkflowFinished (created -> finished)
//   trellis_active_workflows                        Trellis().active_workflows (worker in-flight)
//   trellis_activity_executions_total{type,status}  RecordActivityExecution (committed journal)
//   trellis_leases_expired_total                    RecordLeaseExpired (claims of expired leases)
//   trellis_queue_depth, trellis_queue_lag_seconds  the registered StoreSource, cached ~1 s
//   trellis_database_connections_active|idle        the registered StoreSource
//   trellis_database_connection_errors_total        the registered StoreSource
//   process_*                                       process_metrics.h
//
// Observability depends only on core, so the store's numbers come in through a StoreSource that
// the runtime registers (runtime/node.cpp does it when a Node starts).
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "observability/metrics.h"

namespace trellis::metrics {

// The Content-Type of RenderMetrics()'s output.
inline constexpr std::string_view kTextContentType = "text/plain; version=0.0.4; charset=utf-8";

// The /metrics body: the default registry (every metric below plus process_*), text format 0.0.4.
std::string RenderMetrics();

// One call per answered request (including errors the server produced itself). `route` is the
// matched route PATTERN, e.g. "/api/workflows/{id}", never the raw path: every distinct value is a
// time series kept forever. Pass "" when no route matched (recorded as "unmatched"). A method
// outside the standard set is recorded as "OTHER".
void RecordHttpRequest(std::string_view method, std::string_view route, int code, double seconds);

// The worker, after the commit that moves an instance into Completed, Faulted or Cancelled was
// committed. `seconds`: from the instance's creation to its finish.
void RecordWorkflowFinished(std::string_view status, double seconds);
// The worker, for each journal record of a committed commit point. `status`: Completed, Faulted...
void RecordActivityExecution(std::string_view type, std::string_view status);
// The worker, for each claimed instance whose previous lease had expired.
void RecordLeaseExpired();

// The store's numbers. `queue` runs at most once per `queue_cache` (a COUNT over the instances);
// nullopt (the database is down) leaves the queue metrics out of that scrape. `database` runs on
// every scrape and must be cheap.
struct QueueStats {
  int64_t depth = 0;       // instances waiting for a worker
  double lag_seconds = 0;  // age of the oldest waiting instance; 0 when none
};
struct DatabaseStats {
  int64_t connections_active = 0;
  int64_t connections_idle = 0;
  int64_t connection_errors_total = 0;  // failed connects and lost connections since the process began
};
struct StoreSource {
  std::function<std::optional<QueueStats>()> queue;
  std::function<DatabaseStats()> database;
  std::chrono::milliseconds queue_cache{1000};
};

// The process's store source. The newest live registration is the one used (one per process is
// the norm; tests run several nodes); destroying a registration removes its source and waits for
// a scrape that is using it.
class StoreSourceRegistration {
 public:
  explicit StoreSourceRegistration(uint64_t id) : id_(id) {}
  ~StoreSourceRegistration();
  StoreSourceRegistration(const StoreSourceRegistration&) = delete;
  StoreSourceRegistration& operator=(const StoreSourceRegistration&) = delete;

 private:
  uint64_t id_;
};
[[nodiscard]] std::unique_ptr<StoreSourceRegistration> RegisterStoreSource(StoreSource source);

// The metric objects themselves (registered on first use), for callers that cache children and
// for tests.
struct TrellisMetrics {
  CounterFamily& http_requests;            // {method, route, code}
  HistogramFamily& http_request_duration;  // {method, route}
  CounterFamily& workflow_executions;      // {status}
  Counter& workflow_execution_failed;
  Gauge& active_workflows;
  Histogram& workflow_duration;
  CounterFamily& activity_executions;  // {type, status}
  Counter& leases_expired;
};
TrellisMetrics& Trellis();

}  // namespace trellis::metrics
