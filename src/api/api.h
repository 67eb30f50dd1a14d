// The HTTP API of `trellis server` (DESIGN.md section 6): the routes under /api, the webhooks under
// /hooks, and the probes and metrics. Handlers run on the HTTP server's blocking pool and reply
// through http::Reply, synchronously or later (a sync execute replies from the worker).
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "engine/registry.h"
#include "http/router.h"
#include "runtime/node.h"
#include "store/store.h"

namespace trellis {
class SecretsService;
}

namespace trellis::api {

class DelayedCalls;
class WebhookReceiver;

// Everything the routes use. Pointers are owned by the caller and outlive the router.
struct ApiContext {
  Store* store = nullptr;
  Node* node = nullptr;  // starts instances and runs sync executions (its worker may be off)
  const ActivityRegistry* registry = nullptr;
  SecretsService* secrets = nullptr;  // null: no security.encryption_key, secrets are unavailable
  const Clock* clock = nullptr;
  DelayedCalls* delayed = nullptr;      // timeouts of sync executions and sync webhooks
  WebhookReceiver* webhooks = nullptr;  // batches ReceiveWebhook; null: the store is called directly
  std::string version;
  bool webhook_replay = false;
  std::chrono::milliseconds event_hold{60000};
  std::chrono::milliseconds execute_timeout{30000};  // default and cap of `timeout` for wait: true
  std::chrono::milliseconds node_heartbeat{5000};
  // Readiness: false while the process drains.
  std::function<bool()> accepting = [] { return true; };
};

// Roles, weakest first; a route tagged with a role admits that role and every stronger one.
inline constexpr const char* kViewer = "viewer";
inline constexpr const char* kOperator = "operator";
inline constexpr const char* kEditor = "editor";
inline constexpr const char* kAdmin = "admin";
// Routes tagged kPublic need no credentials (probes, metrics, webhooks).
inline constexpr const char* kPublic = "public";

void AddDefinitionRoutes(http::Router& router, ApiContext& ctx);
void AddExecuteRoutes(http::Router& router, ApiContext& ctx);
void AddInstanceRoutes(http::Router& router, ApiContext& ctx);
void AddSignalRoutes(http::Router& router, ApiContext& ctx);  // events, webhooks, deliveries
void AddSecretRoutes(http::Router& router, ApiContext& ctx);
void AddOperationRoutes(http::Router& router, ApiContext& ctx);  // activities, stats, nodes, openapi

// All of the above.
http::Router BuildApiRouter(ApiContext& ctx);

}  // namespace trellis::api
