// What a long-running process (worker or server) builds from its configuration: logging, the
// store, the HTTP client activities use, and the engine services and node options.
#pragma once

#include <memory>

#include "activities/http_client.h"
#include "config/config.h"
#include "observability/tracing.h"
#include "runtime/node.h"
#include "store/store.h"

namespace trellis {

struct RuntimeEnvironment {
  DatabaseSettings database;
  std::unique_ptr<HttpClient> http;
  // Null when tracing.otlp_endpoint is empty (tracing off); services.tracer points at it.
  // Destroying it sends the spans still queued (within 5 s).
  std::unique_ptr<Tracer> tracer;
  EngineServices services;
  NodeOptions node;
};

// Applies log.level/log.format (text on a TTY when "auto").
void ConfigureLoggingFrom(const config::Config& config);

// Everything but the store; `kind` is "worker" or "server".
Result<RuntimeEnvironment> MakeRuntimeEnvironment(const config::Config& config, const std::string& kind);

// Opens the configured store, retrying with backoff while the database is Unavailable until
// `keep_trying` returns false. Other errors (a bad URL, a changed migration) return at once.
Result<std::unique_ptr<Store>> OpenStoreWithRetry(
    const DatabaseSettings& settings, const StoreOptions& options,
    const std::function<bool(std::chrono::milliseconds)>& keep_trying);

}  // namespace trellis
