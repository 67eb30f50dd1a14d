// The flags every command that reads the configuration shares: --config FILE and --set key=value.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "config/config.h"

namespace CLI {
class App;
}

namespace trellis::cli {

struct ConfigFlags {
  std::string config_path;
  std::vector<std::string> sets;
  std::map<std::string, std::string> flags;  // specific flags (--concurrency) by key path
};

void AddConfigFlags(CLI::App* command, ConfigFlags* flags);
// Loads the configuration for `role`; on error prints it to stderr and returns nullopt.
std::optional<config::Config> LoadConfigOrReport(const ConfigFlags& flags, const std::string& role);

// Blocks SIGINT and SIGTERM in this thread and every thread it starts, so that WaitForStopSignal
// (sigtimedwait) receives them. Call before starting threads.
void BlockStopSignals();
// Waits up to `timeout` for SIGINT/SIGTERM; returns the signal number, or 0 on timeout.
int WaitForStopSignal(std::chrono::milliseconds timeout);

}  // namespace trellis::cli
