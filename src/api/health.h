// Probes and metrics, served by `trellis server` on its API port and by `trellis worker` on 8081:
// /health/live (the process answers), /health/ready (the database answers within a deadline, the
// schema is current, the node is not draining; JSON with each check), /health/startup, /metrics.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "http/router.h"
#include "store/store.h"

namespace trellis::api {

struct HealthContext {
  Store* store = nullptr;  // null until the store is open (startup and ready fail meanwhile)
  std::function<bool()> draining = [] { return false; };
  std::function<bool()> started = [] { return true; };
  std::function<std::string()> metrics;  // Prometheus text
  std::chrono::milliseconds database_deadline{2000};
};

// Adds the probe and metrics routes (tagged public). `ctx` must outlive the router.
void AddHealthRoutes(http::Router& router, HealthContext& ctx);

}  // namespace trellis::api
