#include "api/observe.h"

#include <cmath>

#include "core/log.h"

namespace trellis::api {

http::ExchangeObserver AccessLogAndMetrics() {
  return [](const http::Request& req, const http::Response& resp, double seconds) {
    metrics::RecordHttpRequest(req.method, req.route, resp.status, seconds);
    bool quiet = req.path == "/metrics" || req.path.rfind("/health/", 0) == 0;
    Json fields = {{"method", req.method},
                   {"path", req.path},
                   {"route", req.route},
                   {"status", resp.status},
                   {"durationMs", std::round(seconds * 1e5) / 100},
                   {"requestId", req.request_id},
                   {"client", req.remote_address}};
    if (!req.trace_id.empty()) fields["traceId"] = req.trace_id;
    Log(quiet ? LogLevel::kDebug : LogLevel::kInfo, "http request", fields);
  };
}

std::unique_ptr<metrics::StoreSourceRegistration> RegisterStoreMetrics(Store& store, const Clock& clock) {
  metrics::StoreSource source;
  source.queue = [&store, &clock]() -> std::optional<metrics::QueueStats> {
    TimePoint now = clock.Now();
    auto stats = store.Stats(now);
    if (!stats.ok()) return std::nullopt;
    metrics::QueueStats q;
    q.depth = stats->runnable;
    if (stats->oldest_runnable && *stats->oldest_runnable < now)
      q.lag_seconds = std::chrono::duration<double>(now - *stats->oldest_runnable).count();
    return q;
  };
  source.database = [&store]() {
    metrics::DatabaseStats d;
    auto c = store.ConnectionStats();
    d.connections_active = c.active;
    d.connections_idle = c.idle;
    d.connection_errors_total = DatabaseConnectionErrors().load();
    return d;
  };
  return metrics::RegisterStoreSource(std::move(source));
}

}  // namespace trellis::api
