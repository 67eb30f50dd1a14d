// Reading definition files for the CLI: parse, validate against the built-in catalogue, compile,
// and find sibling definitions by id for RunWorkflow.
#pragma once

#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include "engine/compiled_workflow.h"
#include "runtime/local_runner.h"

namespace trellis::cli {

struct LoadedDefinition {
  std::shared_ptr<const CompiledWorkflow> workflow;  // null when there were errors
  std::vector<ValidationError> errors;
};

// The whole file, or NotFound/Unavailable with the OS's reason.
Result<std::string> ReadTextFile(const std::filesystem::path& path);

LoadedDefinition LoadDefinitionFile(const std::filesystem::path& path);

// Resolves RunWorkflow ids against the definitions in these folders. The folders are indexed and
// each definition compiled once, on first use, so a loop of RunWorkflow does not re-read files.
WorkflowResolver DirectoryResolver(std::vector<std::filesystem::path> folders);

}  // namespace trellis::cli
