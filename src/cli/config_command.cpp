// `trellis config`: prints the effective configuration (secrets redacted) with the source of every
// value, or the generated configuration reference (--docs).
#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"
#include "config/config.h"

namespace trellis::cli {
namespace {

struct ConfigOptions {
  std::string config_path;
  std::vector<std::string> sets;
  std::string role = "server";
  bool docs = false;
  bool json = false;
};

int RunConfig(const ConfigOptions& o) {
  if (o.docs) {
    std::cout << config::ConfigurationDocMarkdown();
    return 0;
  }
  config::LoadOptions load;
  load.config_path = o.config_path;
  load.role = o.role;
  if (Status s = config::ParseSetFlags(o.sets, &load.flags); !s.ok()) {
    std::cerr << "error: " << s.message() << "\n";
    return 1;
  }
  auto cfg = config::Config::Load(load);
  if (!cfg.ok()) {
    std::cerr << "invalid configuration:\n" << cfg.status().message() << "\n";
    return 1;
  }
  if (o.json) {
    Json sources = Json::object();
    for (const auto& k : config::ConfigKeys()) sources[k.path] = cfg->SourceOf(k.path);
    Json out = {{"file", cfg->file()}, {"role", o.role}, {"values", cfg->ToJson()}, {"sources", sources}};
    std::cout << out.dump(2) << "\n";
    return 0;
  }
  std::cout << "# Effective configuration for role '" << o.role << "'"
            << (cfg->file().empty() ? " (no config file)" : " (config file: " + cfg->file() + ")")
            << "; secrets shown as ***\n"
            << cfg->Render();
  return 0;
}

}  // namespace

void AddConfigCommand(CLI::App& app, int* exit_code) {
  auto o = std::make_shared<ConfigOptions>();
  auto* cmd =
      app.add_subcommand("config", "Print the effective configuration and where each value comes from");
  cmd->add_option("--config", o->config_path,
                  "the YAML configuration file (default: $TRELLIS_CONFIG or ./trellis.yaml)");
  cmd->add_option("--set", o->sets, "set a key: key=value (repeatable)");
  cmd->add_option("--role", o->role, "resolve as this role would (PORT applies to its port)")
      ->check(CLI::IsMember({"server", "worker"}))
      ->default_val("server");
  cmd->add_flag("--docs", o->docs, "print the configuration reference (docs/configuration.md) and exit");
  cmd->add_flag("--json", o->json, "print JSON instead of YAML");
  cmd->callback([o, exit_code] { *exit_code = RunConfig(*o); });
}

}  // namespace trellis::cli
