#include <CLI/CLI.hpp>

#include <iostream>

#include "activities/builtin.h"
#include "cli/commands.h"
#include "cli/definition_files.h"

namespace trellis::cli {

void AddValidateCommand(CLI::App& app, int* exit_code) {
  auto* cmd =
      app.add_subcommand("validate", "Check definitions; prints FILE:PATH: message per error, exit 1 on any");
  auto files = std::make_shared<std::vector<std::string>>();
  cmd->add_option("files", *files, "YAML or JSON definition files")->required();
  cmd->callback([files, exit_code] {
    size_t total = 0;
    for (const auto& file : *files) {
      LoadedDefinition loaded = LoadDefinitionFile(file);
      for (const auto& e : loaded.errors) {
        std::cout << file << ":" << (e.path.empty() ? "(file)" : e.path) << ": " << e.message << "\n";
      }
      total += loaded.errors.size();
    }
    if (total > 0) {
      std::cerr << total << (total == 1 ? " error" : " errors") << " in " << files->size()
                << (files->size() == 1 ? " file\n" : " files\n");
      *exit_code = 1;
    }
  });
}

void AddActivitiesCommand(CLI::App& app, int* exit_code) {
  auto* cmd = app.add_subcommand("activities", "Print the activity catalogue as JSON");
  cmd->callback([exit_code] {
    Json out = Json::array();
    for (const auto* d : BuiltinActivities().Descriptors()) out.push_back(DescriptorToJson(*d));
    std::cout << out.dump(2) << "\n";
    *exit_code = 0;
  });
}

}  // namespace trellis::cli
