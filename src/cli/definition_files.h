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

LoadedDefinition LoadDefinitionFile(const std::filesystem::path& path);

// Resolves RunWorkflow ids against the definitions in these folders (read lazily, once).
WorkflowResolver DirectoryResolver(std::vector<std::filesystem::path> folders);

}  // namespace trellis::cli
