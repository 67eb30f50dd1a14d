#include "cli/config_flags.h"

#include <signal.h>

#include <CLI/CLI.hpp>
#include <iostream>

namespace trellis::cli {

void AddConfigFlags(CLI::App* command, ConfigFlags* flags) {
  command->add_option("--config", flags->config_path,
                      "Configuration file (default: ./trellis.yaml if present)");
  command->add_option("--set", flags->sets,
                      "Set a configuration key, e.g. --set worker.lease=10s (repeatable)");
}

std::optional<config::Config> LoadConfigOrReport(const ConfigFlags& flags, const std::string& role) {
  config::LoadOptions options;
  options.config_path = flags.config_path;
  options.role = role;
  options.flags = flags.flags;
  if (Status s = config::ParseSetFlags(flags.sets, &options.flags); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return std::nullopt;
  }
  auto loaded = config::Config::Load(options);
  if (!loaded.ok()) {
    std::cerr << "error: invalid configuration:\n" << loaded.status().message() << "\n";
    return std::nullopt;
  }
  for (const auto& key : loaded->SetButNotReadYet()) {
    std::cerr << "warning: " << key << " is set, but nothing in this version reads it yet (it belongs to "
              << "`trellis server`); it has no effect\n";
  }
  return std::move(loaded).value();
}

void BlockStopSignals() {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  pthread_sigmask(SIG_BLOCK, &set, nullptr);
}

int WaitForStopSignal(std::chrono::milliseconds timeout) {
  sigset_t set;
  sigemptyset(&set);
  sigaddset(&set, SIGINT);
  sigaddset(&set, SIGTERM);
  timespec ts{};
  ts.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  ts.tv_nsec = static_cast<long>((timeout.count() % 1000) * 1000000);
  int sig = sigtimedwait(&set, nullptr, &ts);
  return sig > 0 ? sig : 0;
}

}  // namespace trellis::cli
