// `trellis migrate [--status]`: applies the schema migrations (safe from several processes at once)
// or lists them, then exits. Exit code 1 when the database refuses (e.g. a changed migration).
#include <CLI/CLI.hpp>
#include <iostream>

#include "cli/commands.h"
#include "cli/config_flags.h"
#include "core/clock.h"
#include "runtime/open_store.h"
#include "runtime/services.h"

namespace trellis::cli {
namespace {

struct MigrateFlags {
  ConfigFlags config;
  bool status = false;
};

int RunMigrate(const MigrateFlags& f) {
  auto cfg = LoadConfigOrReport(f.config, "migrate");
  if (!cfg) return 1;
  ConfigureLoggingFrom(*cfg);
  auto values = config::DatabaseValues(*cfg);
  if (!values.ok()) {
    std::cerr << "error: " << values.status().message() << "\n";
    return 1;
  }
  auto settings = ParseDatabaseSettings(*values);
  if (!settings.ok()) {
    std::cerr << "error: " << settings.status().message() << "\n";
    return 1;
  }
  settings->auto_migrate = false;
  auto store = OpenStore(*settings, {});
  if (!store.ok()) {
    std::cerr << "error: " << store.status().message() << "\n";
    return 1;
  }
  if (!f.status) {
    auto applied = (*store)->Migrate();
    if (!applied.ok()) {
      std::cerr << "error: " << applied.status().message() << "\n";
      return 1;
    }
    std::cout << (applied->empty() ? "schema is current"
                                   : "applied " + std::to_string(applied->size()) + " migration(s)")
              << " (" << settings->Describe() << ")\n";
    for (const auto& m : *applied) std::cout << "  applied " << m.version << " " << m.name << "\n";
    return 0;
  }
  auto list = (*store)->MigrationStatus();
  if (!list.ok()) {
    std::cerr << "error: " << list.status().message() << "\n";
    return 1;
  }
  std::cout << settings->Describe() << "\n";
  for (const auto& m : *list) {
    std::cout << "  " << m.version << " " << m.name << "  "
              << (m.applied_at ? "applied " + FormatTime(*m.applied_at) : std::string("pending"))
              << "  sha256:" << m.checksum.substr(0, 12) << "\n";
  }
  return 0;
}

}  // namespace

void AddMigrateCommand(CLI::App& app, int* exit_code) {
  auto flags = std::make_shared<MigrateFlags>();
  auto* cmd = app.add_subcommand("migrate", "Apply the database schema migrations and exit");
  AddConfigFlags(cmd, &flags->config);
  cmd->add_flag("--status", flags->status, "List the migrations and whether each is applied");
  cmd->callback([flags, exit_code] { *exit_code = RunMigrate(*flags); });
}

}  // namespace trellis::cli
