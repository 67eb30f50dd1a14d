#include "runtime/workflow_cache.h"

#include "model/parser.h"

namespace trellis {

Result<std::shared_ptr<const CompiledWorkflow>> WorkflowCache::Compile(const DefinitionRecord& record) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = DefinitionFromJson(record.definition, &errors);
  def.id = record.id;
  def.version = record.version;
  std::shared_ptr<const CompiledWorkflow> wf;
  if (errors.empty()) wf = CompiledWorkflow::Compile(std::move(def), registry_, &errors);
  if (!wf) {
    std::string message =
        "workflow " + record.id + " version " + std::to_string(record.version) + " is invalid:";
    for (const auto& e : errors) message += " " + e.path + ": " + e.message + ";";
    return InvalidArgument(message);
  }
  return wf;
}

Result<std::shared_ptr<const CompiledWorkflow>> WorkflowCache::Get(const std::string& id,
                                                                   std::optional<int> version) {
  if (version) {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find({id, *version}); it != cache_.end()) return it->second;
  }
  auto record = store_.GetDefinition(id, version);
  if (!record.ok()) return record.status();
  if (record->frozen) {
    std::lock_guard lock(mu_);
    if (auto it = cache_.find({id, record->version}); it != cache_.end()) return it->second;
  }
  auto wf = Compile(*record);
  if (!wf.ok()) return wf.status();
  if (record->frozen) {
    std::lock_guard lock(mu_);
    cache_[{id, record->version}] = *wf;
  }
  return wf;
}

}  // namespace trellis
