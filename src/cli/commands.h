// The `trellis` subcommands. Each Add*Command registers itself on the app and, when chosen, sets
// *exit_code. main.cpp is the only code no test links; everything testable lives in libraries.
#pragma once

namespace CLI {
class App;
}

namespace trellis::cli {

void AddRunCommand(CLI::App& app, int* exit_code);
void AddValidateCommand(CLI::App& app, int* exit_code);
void AddActivitiesCommand(CLI::App& app, int* exit_code);
void AddConfigCommand(CLI::App& app, int* exit_code);
void AddWorkerCommand(CLI::App& app, int* exit_code);
void AddMigrateCommand(CLI::App& app, int* exit_code);
void AddServerCommand(CLI::App& app, int* exit_code);
void AddTokenCommand(CLI::App& app, int* exit_code);
void AddApiKeyCommand(CLI::App& app, int* exit_code);
void AddSecretsCommand(CLI::App& app, int* exit_code);

}  // namespace trellis::cli
