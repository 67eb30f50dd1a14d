#include <CLI/CLI.hpp>

#include <iostream>

#include "cli/commands.h"

#ifndef TRELLIS_VERSION
#define TRELLIS_VERSION "dev"
#endif

int main(int argc, char** argv) {
  CLI::App app{"Trellis: a durable workflow engine"};
  app.require_subcommand(1);
  int exit_code = 0;
  auto* version = app.add_subcommand("version", "Print the version");
  version->callback([] { std::cout << "trellis " << TRELLIS_VERSION << "\n"; });
  trellis::cli::AddRunCommand(app, &exit_code);
  trellis::cli::AddValidateCommand(app, &exit_code);
  trellis::cli::AddActivitiesCommand(app, &exit_code);
  trellis::cli::AddConfigCommand(app, &exit_code);
  trellis::cli::AddWorkerCommand(app, &exit_code);
  trellis::cli::AddMigrateCommand(app, &exit_code);
  trellis::cli::AddServerCommand(app, &exit_code);
  trellis::cli::AddTokenCommand(app, &exit_code);
  trellis::cli::AddApiKeyCommand(app, &exit_code);
  trellis::cli::AddSecretsCommand(app, &exit_code);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    app.exit(e);
    return 1;  // invalid usage
  }
  return exit_code;
}
