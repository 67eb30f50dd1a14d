// What a listening process (server or worker) attaches to its HTTP server: the access log and the
// http_* metrics, and the store's queue and connection numbers for /metrics.
#pragma once

#include <memory>

#include "http/server.h"
#include "observability/trellis_metrics.h"
#include "store/store.h"

namespace trellis::api {

// Logs each exchange (method, route, status, duration, request id, client) at info, except probes
// and /metrics (debug), and records http_requests_total and http_request_duration_seconds.
http::ExchangeObserver AccessLogAndMetrics();

// Feeds trellis_queue_depth, trellis_queue_lag_seconds and trellis_database_* from `store`.
std::unique_ptr<metrics::StoreSourceRegistration> RegisterStoreMetrics(Store& store, const Clock& clock);

}  // namespace trellis::api
