#include "api/observe.h"

#include <cmath>

#include "core/log.h"
#include "observability/trellis_metrics.h"

namespace trellis::api {

http::ExchangeObserver AccessLogAndMetrics() {
  return [](const http::Request& req, const http::Response& resp, double seconds) {
    metrics::RecordHttpRequest(req.method, req.route, resp.status, seconds);
    bool quiet = req.path == "/metrics" || req.path.rfind("/health/", 0) == 0;
    LogLevel level = quiet ? LogLevel::kDebug : LogLevel::kInfo;
    if (!LogEnabled(level)) return;  // the fields are not built for a line nobody writes
    Json fields = {{"method", req.method},
                   {"path", req.path},
                   {"route", req.route},
                   {"status", resp.status},
                   {"durationMs", std::round(seconds * 1e5) / 100},
                   {"requestId", req.request_id},
                   {"client", req.remote_address}};
    if (!req.trace_id.empty()) fields["traceId"] = req.trace_id;
    Log(level, "http request", fields);
  };
}

}  // namespace trellis::api
