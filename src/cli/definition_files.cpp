#include "cli/definition_files.h"

#include <fstream>
#include <map>
#include <sstream>

#include "activities/builtin.h"
#include "model/parser.h"

namespace trellis::cli {

LoadedDefinition LoadDefinitionFile(const std::filesystem::path& path) {
  LoadedDefinition out;
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    out.errors.push_back({"", "cannot read file: " + std::string(std::strerror(errno))});
    return out;
  }
  std::stringstream buf;
  buf << in.rdbuf();
  Json doc;
  std::string syntax_error;
  if (!YamlToJson(buf.str(), &doc, &syntax_error)) {
    out.errors.push_back({"", "not valid YAML or JSON: " + syntax_error});
    return out;
  }
  // Structural and semantic problems are reported together.
  WorkflowDefinition def = DefinitionFromJson(doc, &out.errors);
  const auto& registry = BuiltinActivities();
  ValidateDefinition(def, registry.Lookup(), registry.Types(), &out.errors);
  if (!out.errors.empty()) return out;
  if (def.id.empty()) def.id = path.stem().string();
  out.workflow = CompiledWorkflow::Compile(std::move(def), registry, &out.errors);
  return out;
}

WorkflowResolver DirectoryResolver(std::vector<std::filesystem::path> folders) {
  auto index = std::make_shared<std::map<std::string, std::filesystem::path>>();
  auto scanned = std::make_shared<bool>(false);
  return [folders, index, scanned](
             const std::string& id,
             std::optional<int> version) -> Result<std::shared_ptr<const CompiledWorkflow>> {
    if (!*scanned) {
      *scanned = true;
      for (const auto& folder : folders) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
          auto ext = entry.path().extension();
          if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
          std::vector<ValidationError> errors;
          std::ifstream in(entry.path());
          std::stringstream buf;
          buf << in.rdbuf();
          WorkflowDefinition def = ParseDefinition(buf.str(), &errors);
          std::string def_id = def.id.empty() ? entry.path().stem().string() : def.id;
          index->emplace(def_id, entry.path());
        }
      }
    }
    auto it = index->find(id);
    if (it == index->end()) return NotFound("no workflow with id '" + id + "' next to the file being run");
    LoadedDefinition loaded = LoadDefinitionFile(it->second);
    if (!loaded.workflow) {
      return InvalidArgument("workflow '" + id + "' (" + it->second.string() + ") is invalid: " +
                             loaded.errors.front().path + ": " + loaded.errors.front().message);
    }
    if (version && loaded.workflow->definition().version != 0 &&
        *version != loaded.workflow->definition().version) {
      return NotFound("workflow '" + id + "' version " + std::to_string(*version) +
                      " is not available locally");
    }
    return loaded.workflow;
  };
}

}  // namespace trellis::cli
