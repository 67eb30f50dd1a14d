// `trellis worker`: runs workflow instances from the configured database until SIGTERM/SIGINT,
// then drains gracefully (worker.shutdown_timeout) and exits 0.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "activities/builtin.h"
#include "api/dispatcher.h"
#include "api/health.h"
#include "api/observe.h"
#include "cli/commands.h"
#include "cli/config_flags.h"
#include "core/log.h"
#include "http/server.h"
#include "runtime/secrets.h"
#include "runtime/services.h"

namespace trellis::cli {
namespace {

struct WorkerFlags {
  ConfigFlags config;
  int concurrency = 0;
};

int RunWorker(WorkerFlags& f) {
  // First, before any thread starts: a SIGTERM that arrives while the worker is still starting is
  // held and then answered with a clean stop (exit 0), not the default death (exit 143).
  BlockStopSignals();
  if (f.concurrency > 0) f.config.flags["worker.concurrency"] = std::to_string(f.concurrency);
  auto cfg = LoadConfigOrReport(f.config, "worker");
  if (!cfg) return 1;
  ConfigureLoggingFrom(*cfg);
  auto env = MakeRuntimeEnvironment(*cfg, "worker");
  if (!env.ok()) {
    std::cerr << "error: " << env.status().message() << "\n";
    return 1;
  }
  bool stop_requested = false;
  StoreOptions store_options;
  store_options.journal_output_limit = cfg->GetBytes("limits.journal_payload");
  auto store = OpenStoreWithRetry(env->database, store_options, [&](std::chrono::milliseconds wait) {
    if (WaitForStopSignal(wait) != 0) stop_requested = true;
    return !stop_requested;
  });
  if (stop_requested) return 0;
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  env->node.version = TRELLIS_VERSION;
  // Secrets for `{{ secrets.NAME }}`: loaded from the store, refreshed when they change.
  auto secrets = MakeSecretsService(*cfg, **store);
  if (!secrets.ok()) {
    std::cerr << "error: " << secrets.status().message() << "\n";
    return 1;
  }
  env->services.secrets_source = (*secrets)->Source();
  Node node(**store, BuiltinActivities(), env->services, env->node);
  node.Start();

  // Probes and /metrics on worker.host:worker.port (8081).
  api::HealthContext health;
  health.store = store->get();
  health.draining = [&] { return node.draining(); };
  health.metrics = [] { return metrics::RenderMetrics(); };
  http::Router router;
  api::AddHealthRoutes(router, health);
  api::Dispatcher dispatcher(std::move(router), {});
  http::ServerOptions probe_options;
  probe_options.host = cfg->GetString("worker.host");
  probe_options.port = static_cast<int>(cfg->GetInt("worker.port"));
  probe_options.io_threads = 1;
  probe_options.handler_threads = 2;
  http::Server probes(
      probe_options, [&](http::Request& r, http::Reply reply) { dispatcher(r, std::move(reply)); },
      api::AccessLogAndMetrics());
  if (Status s = probes.Start(); !s.ok()) {
    std::cerr << "error: health endpoint: " << s.message() << " (set worker.port, or 0 for any free port)\n";
    node.Stop(std::chrono::seconds(5));
    return 1;
  }
  LogInfo("trellis worker ready",
          {{"health", "http://" + probe_options.host + ":" + std::to_string(probes.port())},
           {"node", node.id()}});
  int sig = 0;
  while ((sig = WaitForStopSignal(std::chrono::milliseconds(1000))) == 0) {
  }
  LogInfo("stop signal received; draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  node.Stop(cfg->GetDuration("worker.shutdown_timeout"));
  probes.Stop(std::chrono::seconds(1));
  return 0;
}

}  // namespace

void AddWorkerCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<WorkerFlags>();
  auto* cmd = app.add_subcommand("worker", "Run workflow instances from the configured database");
  AddConfigFlags(cmd, &flags->config);
  cmd->add_option("--concurrency", flags->concurrency, "Executor threads (worker.concurrency)");
  cmd->callback([flags, exit_code] { *exit_code = RunWorker(*flags); });
}

}  // namespace trellis::cli
