// What a listening process (server or worker) attaches to its HTTP server: the access log and the
// http_* metrics. (The store's queue and connection numbers come from the Node, see node.cpp.)
#pragma once

#include "http/server.h"

namespace trellis::api {

// Logs each exchange (method, route, status, duration, request id, client) at info, except probes
// and /metrics (debug), and records http_requests_total and http_request_duration_seconds.
http::ExchangeObserver AccessLogAndMetrics();

}  // namespace trellis::api
