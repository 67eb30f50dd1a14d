#include "cli/definition_files.h"

#include <cstring>
#include <fstream>
#include <map>
#include <sstream>

#include "activities/builtin.h"
#include "model/parser.h"

namespace trellis::cli {

Result<std::string> ReadTextFile(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return NotFound("cannot read " + path.string() + ": " + std::strerror(errno));
  std::stringstream buf;
  buf << in.rdbuf();
  return buf.str();
}

LoadedDefinition LoadDefinitionFile(const std::filesystem::path& path) {
  LoadedDefinition out;
  auto text = ReadTextFile(path);
  if (!text.ok()) {
    out.errors.push_back({"", text.status().message()});
    return out;
  }
  Json doc;
  std::string syntax_error;
  if (!YamlToJson(*text, &doc, &syntax_error)) {
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
  struct Cache {
    bool scanned = false;
    std::map<std::string, std::filesystem::path> files;  // id -> file
    std::map<std::string, std::shared_ptr<const CompiledWorkflow>> compiled;
  };
  auto cache = std::make_shared<Cache>();
  return [folders, cache](const std::string& id,
                          std::optional<int> version) -> Result<std::shared_ptr<const CompiledWorkflow>> {
    if (!cache->scanned) {
      cache->scanned = true;
      for (const auto& folder : folders) {
        std::error_code ec;
        for (const auto& entry : std::filesystem::directory_iterator(folder, ec)) {
          auto ext = entry.path().extension();
          if (ext != ".yaml" && ext != ".yml" && ext != ".json") continue;
          // Only the id is needed here; files are validated when they are used.
          auto text = ReadTextFile(entry.path());
          Json doc;
          if (!text.ok() || !YamlToJson(*text, &doc, nullptr)) continue;
          std::string def_id = doc.is_object() && doc.contains("id") && doc["id"].is_string()
                                   ? doc["id"].get<std::string>()
                                   : entry.path().stem().string();
          cache->files.emplace(def_id, entry.path());
        }
      }
    }
    auto it = cache->files.find(id);
    if (it == cache->files.end())
      return NotFound("no workflow with id '" + id + "' next to the file being run");
    auto& wf = cache->compiled[id];
    if (!wf) {
      LoadedDefinition loaded = LoadDefinitionFile(it->second);
      if (!loaded.workflow) {
        return InvalidArgument("workflow '" + id + "' (" + it->second.string() + ") is invalid: " +
                               loaded.errors.front().path + ": " + loaded.errors.front().message);
      }
      wf = loaded.workflow;
    }
    if (version && wf->definition().version != 0 && *version != wf->definition().version) {
      return NotFound("workflow '" + id + "' version " + std::to_string(*version) +
                      " is not available locally");
    }
    return wf;
  };
}

}  // namespace trellis::cli
