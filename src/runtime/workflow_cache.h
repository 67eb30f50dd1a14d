// Compiled workflows by (id, version), loaded from the store on first use. Only frozen (published
// at some point) versions are cached: they can never change, so no replica ever runs a stale copy.
// A draft is read and compiled again on every lookup.
#pragma once

#include <map>
#include <memory>
#include <mutex>
#include <optional>

#include "engine/compiled_workflow.h"
#include "engine/registry.h"
#include "store/store.h"

namespace trellis {

class WorkflowCache {
 public:
  WorkflowCache(Store& store, const ActivityRegistry& registry) : store_(store), registry_(registry) {}

  // A version, or without one what GetDefinition picks (the published one, else the newest).
  Result<std::shared_ptr<const CompiledWorkflow>> Get(const std::string& id, std::optional<int> version);

  // Compiles a stored record (InvalidArgument listing the errors).
  Result<std::shared_ptr<const CompiledWorkflow>> Compile(const DefinitionRecord& record);

 private:
  Store& store_;
  const ActivityRegistry& registry_;
  std::mutex mu_;  // guards cache_
  std::map<std::pair<std::string, int>, std::shared_ptr<const CompiledWorkflow>> cache_;
};

}  // namespace trellis
