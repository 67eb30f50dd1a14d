// `trellis secrets rotate-key`: after security.encryption_key is changed (the old key moved to
// security.previous_encryption_keys), re-seals every stored secret under the new key, so that the
// old key can then be removed. Safe to run again. Exit code 1 when a secret could not be opened
// with any configured key (it is listed and left as it was) or the database refused.
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "runtime/open_store.h"
#include "runtime/secrets.h"
#include "runtime/services.h"

namespace trellis::cli {
namespace {

int RunRotateKey(const ConfigFlags& flags) {
  auto cfg = LoadConfigOrReport(flags, "secrets");
  if (!cfg) return 1;
  ConfigureLoggingFrom(*cfg);
  auto keys = KeyRingFromConfig(*cfg);
  if (!keys.ok()) {
    std::cerr << "error: " << keys.status().message() << "\n";
    return 1;
  }
  auto values = config::DatabaseValues(*cfg);
  auto settings = values.ok() ? ParseDatabaseSettings(*values) : Result<DatabaseSettings>(values.status());
  if (!settings.ok()) {
    std::cerr << "error: " << settings.status().message() << "\n";
    return 1;
  }
  auto store = OpenStore(*settings, {});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  SecretsService secrets(**store, std::move(keys).value());
  auto report = secrets.RotateKey();
  if (!report.ok()) {
    std::cerr << "error: " << report.status().message() << "\n";
    return 1;
  }
  std::cout << "re-sealed " << report->resealed << " secret(s) under key " << report->key_id << "; "
            << report->already_current << " already under it\n";
  for (const auto& f : report->failed) std::cerr << "error: cannot re-seal " << f << "\n";
  if (!report->failed.empty()) return 1;
  return 0;
}

}  // namespace

void AddSecretsCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<ConfigFlags>();
  auto* cmd = app.add_subcommand("secrets", "Manage stored secrets");
  cmd->require_subcommand(1);
  auto* rotate = cmd->add_subcommand(
      "rotate-key",
      "Re-seal every secret under security.encryption_key (older keys: security.previous_encryption_keys)");
  AddConfigFlags(rotate, flags.get());
  rotate->callback([flags, exit_code] { *exit_code = RunRotateKey(*flags); });
}

}  // namespace trellis::cli
