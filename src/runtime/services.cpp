#include "runtime/services.h"

#include <unistd.h>

#include "activities/curl_http_client.h"
#include "core/log.h"
#include "observability/otlp_exporter.h"
#include "runtime/open_store.h"
#include "security/ssrf_guard.h"

namespace trellis {

void ConfigureLoggingFrom(const config::Config& config) {
  LogSettings settings;
  settings.level = ParseLogLevel(config.GetString("log.level")).value_or(LogLevel::kInfo);
  std::string format = config.GetString("log.format");
  settings.json = format == "json" || (format == "auto" && !isatty(STDERR_FILENO));
  ConfigureLogging(settings);
}

Result<RuntimeEnvironment> MakeRuntimeEnvironment(const config::Config& config, const std::string& kind) {
  RuntimeEnvironment env;
  auto values = config::DatabaseValues(config);
  if (!values.ok()) return values.status();
  auto db = ParseDatabaseSettings(*values);
  if (!db.ok()) return db.status();
  env.database = std::move(db).value();

  auto guard = SsrfGuard::Create(config.GetList("http.allow_hosts"));
  if (!guard.ok()) return InvalidArgument("http.allow_hosts: " + guard.status().message());
  env.http = NewCurlHttpClient(std::move(guard).value(), {});

  env.services.http = env.http.get();

  if (std::string endpoint = config.GetString("tracing.otlp_endpoint"); !endpoint.empty()) {
    if (endpoint.rfind("http://", 0) != 0 && endpoint.rfind("https://", 0) != 0)
      return InvalidArgument("tracing.otlp_endpoint must be an http:// or https:// URL, not '" + endpoint +
                             "'");
    OtlpExporterOptions exporter;
    exporter.endpoint = std::move(endpoint);
    exporter.service_name = config.GetString("tracing.service_name");
    env.tracer =
        std::make_unique<Tracer>(std::make_unique<OtlpExporter>(std::move(exporter)),
                                 TracerOptions{.sample_ratio = config.GetDouble("tracing.sample_ratio")});
    env.services.tracer = env.tracer.get();
  }
  env.services.step_timeout = config.GetDuration("limits.step_timeout");
  env.services.write_line = [](std::string_view text) { LogInfo(text, {{"source", "WriteLine"}}); };
  env.services.log = [](std::string_view level, std::string_view message) {
    Log(ParseLogLevel(level).value_or(LogLevel::kInfo), message);
  };

  NodeOptions& n = env.node;
  n.kind = kind;
  n.worker.concurrency = static_cast<int>(config.GetInt("worker.concurrency"));
  n.worker.lease = config.GetDuration("worker.lease");
  n.worker.claim_batch = static_cast<size_t>(config.GetInt("worker.claim_batch"));
  n.worker.poll_interval = config.GetDuration("worker.poll_interval");
  n.worker.event_hold = config.GetDuration("events.hold");
  n.heartbeat = config.GetDuration("worker.heartbeat");
  n.run_scheduler = config.GetBool("schedules.enabled");
  n.scheduler.poll_interval = config.GetDuration("schedules.poll_interval");
  n.scheduler.max_catch_up = static_cast<size_t>(config.GetInt("schedules.max_catch_up"));
  n.retention_finished = config.GetDuration("retention.finished");
  n.retention_interval = config.GetDuration("retention.interval");
  n.retention_batch = static_cast<size_t>(config.GetInt("retention.batch"));
  return env;
}

Result<std::unique_ptr<Store>> OpenStoreWithRetry(
    const DatabaseSettings& settings, const StoreOptions& options,
    const std::function<bool(std::chrono::milliseconds)>& keep_trying) {
  auto backoff = std::chrono::milliseconds(200);
  while (true) {
    auto store = OpenStore(settings, options);
    if (store.ok() || store.status().code() != StatusCode::kUnavailable) return store;
    LogWarn("database unavailable; retrying", {{"database", settings.Describe()},
                                               {"error", store.status().message()},
                                               {"retryInMs", backoff.count()}});
    if (!keep_trying(backoff)) return store;
    backoff = std::min(backoff * 2, std::chrono::milliseconds(10000));
  }
}

}  // namespace trellis
