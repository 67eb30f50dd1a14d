// `trellis server`: the HTTP API, webhooks, probes and metrics on server.port (8080), the
// scheduler, and an embedded worker (server.workers executor threads; 0: API only). SIGTERM or
// SIGINT: readiness turns 503, the listener closes, in-flight requests and bursts finish within
// server.shutdown_timeout, leases are released, and the process exits 0.
#include <CLI/CLI.hpp>
#include <csignal>
#include <iostream>

#include "api/app.h"
#include "cli/commands.h"
#include "cli/config_flags.h"
#include "core/log.h"
#include "runtime/services.h"

namespace trellis::cli {
namespace {

struct ServerFlags {
  ConfigFlags config;
  std::string host;
  int port = -1;
  int workers = -1;
};

int RunServer(ServerFlags& f) {
  // First, before any thread starts: a SIGTERM during start-up is held and answered with a clean
  // stop (exit 0).
  BlockStopSignals();
  if (!f.host.empty()) f.config.flags["server.host"] = f.host;
  if (f.port >= 0) f.config.flags["server.port"] = std::to_string(f.port);
  if (f.workers >= 0) f.config.flags["server.workers"] = std::to_string(f.workers);
  auto cfg = LoadConfigOrReport(f.config, "server");
  if (!cfg) return 1;
  ConfigureLoggingFrom(*cfg);
  bool stop_requested = false;
  auto app = api::App::Create(*cfg, [&](std::chrono::milliseconds wait) {
    if (WaitForStopSignal(wait) != 0) stop_requested = true;
    return !stop_requested;
  });
  if (stop_requested) return 0;
  if (!app.ok()) {
    std::cerr << "error: " << app.status().message() << "\n";
    return 1;
  }
  if (Status s = (*app)->Start(); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  int sig = 0;
  while ((sig = WaitForStopSignal(std::chrono::milliseconds(1000))) == 0) {
  }
  LogInfo("stop signal received; draining", {{"signal", sig == SIGTERM ? "SIGTERM" : "SIGINT"}});
  (*app)->Stop(cfg->GetDuration("server.shutdown_timeout"));
  return 0;
}

}  // namespace

void AddServerCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ServerFlags>();
  auto* cmd =
      app.add_subcommand("server", "Serve the HTTP API, webhooks and probes, with an embedded worker");
  AddConfigFlags(cmd, &flags->config);
  cmd->add_option("--host", flags->host, "Address to listen on (server.host)");
  cmd->add_option("--port", flags->port, "Port to listen on (server.port; PORT)");
  cmd->add_option("--workers", flags->workers,
                  "Executor threads of the embedded worker; 0: API only (server.workers)");
  cmd->callback([flags, exit_code] { *exit_code = RunServer(*flags); });
}

}  // namespace trellis::cli
