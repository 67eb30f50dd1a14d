// Config::Load: resolves the four sources against the key table. Every problem is collected, so a
// user fixes a broken deployment in one round rather than one error per restart.
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cctype>
#include <filesystem>
#include <fstream>
#include <optional>
#include <regex>
#include <set>
#include <sstream>

#include "config/config.h"
#include "core/strings.h"

extern char** environ;

namespace trellis::config {

namespace {

using EnvMap = std::map<std::string, std::string>;

EnvMap ProcessEnvironment() {
  EnvMap env;
  for (char** e = environ; e && *e; ++e) {
    std::string_view kv(*e);
    auto eq = kv.find('=');
    if (eq == std::string_view::npos) continue;
    env.emplace(std::string(kv.substr(0, eq)), std::string(kv.substr(eq + 1)));
  }
  return env;
}

const std::string* Lookup(const EnvMap& env, const std::string& name) {
  auto it = env.find(name);
  return it == env.end() ? nullptr : &it->second;
}

bool IsVarName(std::string_view s) {
  if (s.empty() || std::isdigit(static_cast<unsigned char>(s[0]))) return false;
  for (char c : s) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '_') return false;
  }
  return true;
}

std::string DisplayPath(const std::string& path) {
  return path.starts_with("./") ? path.substr(2) : path;
}

// Every key path and its <key>_file form, for did-you-mean on file keys and --set.
std::vector<std::string> FileKeyCandidates() {
  std::vector<std::string> out;
  for (const auto& k : ConfigKeys()) {
    out.push_back(k.path);
    if (k.HasFileForm()) out.push_back(k.path + "_file");
  }
  return out;
}

// "database" for database.url.
bool IsSection(std::string_view path) {
  for (const auto& k : ConfigKeys()) {
    if (k.path.size() > path.size() && k.path.starts_with(path) && k.path[path.size()] == '.') return true;
  }
  return false;
}

// The key whose <key>_file form `path` is, or nullptr.
const KeySpec* FileFormOf(std::string_view path) {
  if (!path.ends_with("_file")) return nullptr;
  const KeySpec* spec = FindKey(path.substr(0, path.size() - 5));
  return spec && spec->HasFileForm() ? spec : nullptr;
}

}  // namespace

// Expands ${VAR} and ${VAR:-default} from the environment; $${ is a literal ${.
Result<std::string> ExpandVariables(std::string_view text, const EnvMap& env) {
  std::string out;
  size_t i = 0;
  while (i < text.size()) {
    if (text.substr(i, 3) == "$${") {
      out += "${";
      i += 3;
      continue;
    }
    if (text.substr(i, 2) != "${") {
      out += text[i++];
      continue;
    }
    size_t close = text.find('}', i + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unterminated '${' (write $${ for a literal ${)");
    }
    std::string_view inner = text.substr(i + 2, close - i - 2);
    std::string_view name = inner;
    std::optional<std::string_view> fallback;
    if (auto sep = inner.find(":-"); sep != std::string_view::npos) {
      name = inner.substr(0, sep);
      fallback = inner.substr(sep + 2);
    }
    if (!IsVarName(name)) {
      return InvalidArgument("'${" + std::string(inner) +
                             "}' is not a variable reference; use ${NAME} or ${NAME:-default}");
    }
    const std::string* value = Lookup(env, std::string(name));
    if (value && (!value->empty() || !fallback)) {
      out += *value;
    } else if (fallback) {
      out += *fallback;
    } else {
      return InvalidArgument("${" + std::string(name) +
                             "} is not set in the environment; set it, or write ${" + std::string(name) +
                             ":-default} for a fallback");
    }
    i = close + 1;
  }
  return out;
}

class Loader {
 public:
  explicit Loader(const LoadOptions& options) : options_(options) {
    if (options.env) {
      env_ = options.env;
    } else {
      process_env_ = ProcessEnvironment();
      env_ = &process_env_;
    }
  }

  Result<Config> Run() {
    config_ = Config::Defaults();
    LoadFile();
    LoadEnvironment();
    LoadFlags();
    CheckKubernetesReferences();
    if (!errors_.empty()) {
      std::string message;
      for (const auto& e : errors_) message += (message.empty() ? "" : "\n") + e;
      return InvalidArgument(message);
    }
    return std::move(config_);
  }

 private:
  void Error(std::string message) { errors_.push_back(std::move(message)); }

  // Sets a key from text (lists comma-separated) after checking it against the key's type.
  void Set(const KeySpec& spec, const std::string& text, const std::string& source) {
    if (spec.type == ValueType::kList) {
      SetList(spec, SplitList(text), source);
      return;
    }
    if (Status s = ValidateValue(spec, text); !s.ok()) {
      Error(s.message() + " (from " + source + ")");
      return;
    }
    auto& e = config_.entries_[spec.path];
    e.text = text;
    e.items.clear();
    e.source = source;
  }

  void SetList(const KeySpec& spec, std::vector<std::string> items, const std::string& source) {
    auto& e = config_.entries_[spec.path];
    e.text.clear();
    for (const auto& item : items) e.text += (e.text.empty() ? "" : ",") + item;
    e.items = std::move(items);
    e.source = source;
  }

  // Reads a mounted secret; trailing newlines are not part of it.
  std::optional<std::string> ReadSecretFile(const KeySpec& spec, const std::string& path,
                                            const std::string& source) {
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec)) {
      Error("cannot read " + spec.path + " from file '" + path + "' (named by " + source +
            "): the file does not exist or is not readable");
      return std::nullopt;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    std::string text = buf.str();
    while (!text.empty() && (text.back() == '\n' || text.back() == '\r')) text.pop_back();
    return text;
  }

  // ---- the YAML file ----

  void LoadFile() {
    std::string path;
    std::string named_by;
    if (!options_.config_path.empty()) {
      path = options_.config_path;
      named_by = "--config";
    } else if (const std::string* p = Lookup(*env_, "TRELLIS_CONFIG"); p && !p->empty()) {
      path = *p;
      named_by = "TRELLIS_CONFIG";
    } else {
      std::error_code ec;
      if (options_.default_config_path.empty() || !std::filesystem::exists(options_.default_config_path, ec))
        return;
      path = options_.default_config_path;
    }
    std::ifstream in(path, std::ios::binary);
    std::error_code ec;
    if (!in || std::filesystem::is_directory(path, ec)) {
      Error("config file '" + path + "' (from " + named_by + ") does not exist or is not readable");
      return;
    }
    std::ostringstream buf;
    buf << in.rdbuf();
    file_label_ = DisplayPath(path);
    config_.file_ = path;
    YAML::Node root;
    try {
      root = YAML::Load(buf.str());
    } catch (const YAML::Exception& e) {
      Error(file_label_ + ": line " + std::to_string(e.mark.line + 1) + ": " + e.msg);
      return;
    }
    if (root.IsNull()) return;
    if (!root.IsMap()) {
      Error(file_label_ + ": the top level must be a mapping of sections (server:, database:, ...)");
      return;
    }
    WalkMap(root, "");
    for (auto& [key, file_path] : yaml_files_) {
      const KeySpec& spec = *FindKey(key);
      if (yaml_direct_.count(key)) {
        Error("both " + key + " and " + key + "_file are set in " + file_label_ + "; use one of them");
        continue;
      }
      std::string source = file_label_ + " (" + key + "_file)";
      if (auto text = ReadSecretFile(spec, file_path, source)) Set(spec, *text, source);
    }
  }

  void WalkMap(const YAML::Node& map, const std::string& prefix) {
    for (const auto& kv : map) {
      std::string name;
      try {
        name = kv.first.as<std::string>();
      } catch (const YAML::Exception&) {
        Error(file_label_ + ": a key under '" + prefix + "' is not a plain name");
        continue;
      }
      std::string path = prefix.empty() ? name : prefix + "." + name;
      const YAML::Node& node = kv.second;
      if (const KeySpec* spec = FindKey(path)) {
        yaml_direct_.insert(path);
        SetFromYaml(*spec, node, path);
      } else if (const KeySpec* secret = FileFormOf(path)) {
        auto text = YamlScalar(node, path);
        if (text) yaml_files_[secret->path] = *text;
      } else if (node.IsMap() && (node.size() > 0 || IsSection(path))) {
        WalkMap(node, path);
      } else if (node.IsNull() && IsSection(path)) {
        // An empty section ("database:" with everything commented out) sets nothing.
      } else {
        Error("unknown key '" + path + "' in " + file_label_ + DidYouMean(path, FileKeyCandidates()));
      }
    }
  }

  // A scalar with ${VAR} expanded; null is "".
  std::optional<std::string> YamlScalar(const YAML::Node& node, const std::string& path) {
    if (node.IsNull()) return std::string();
    if (!node.IsScalar()) {
      Error(path + " in " + file_label_ + " must be a single value, not a " +
            (node.IsMap() ? "mapping" : "list"));
      return std::nullopt;
    }
    auto expanded = ExpandVariables(node.Scalar(), *env_);
    if (!expanded.ok()) {
      Error(path + " in " + file_label_ + ": " + expanded.status().message());
      return std::nullopt;
    }
    return std::move(expanded).value();
  }

  void SetFromYaml(const KeySpec& spec, const YAML::Node& node, const std::string& path) {
    if (spec.type == ValueType::kList && node.IsSequence()) {
      std::vector<std::string> items;
      for (const auto& item : node) {
        auto text = YamlScalar(item, path);
        if (!text) return;
        items.push_back(*text);
      }
      SetList(spec, std::move(items), file_label_);
      return;
    }
    if (node.IsMap() || node.IsSequence()) {
      Error(path + " in " + file_label_ + " must be " +
            (spec.type == ValueType::kList ? "a list" : "a " + std::string(ValueTypeName(spec.type))) +
            ", not a " + (node.IsMap() ? "mapping" : "list"));
      return;
    }
    if (auto text = YamlScalar(node, path)) Set(spec, *text, file_label_);
  }

  // ---- the environment ----

  // Sets `spec` from NAME or NAME_FILE; true when either was set. Both set is an error.
  bool FromEnvPair(const KeySpec& spec, const std::string& name, bool file_form) {
    const std::string* value = Lookup(*env_, name);
    const std::string file_name = name + "_FILE";
    const std::string* file = file_form ? Lookup(*env_, file_name) : nullptr;
    if (value && file) {
      Error("both " + name + " and " + file_name + " are set; use one of them");
      return true;
    }
    if (value) Set(spec, *value, "env " + name);
    if (file) {
      if (auto text = ReadSecretFile(spec, *file, "env " + file_name)) Set(spec, *text, "env " + file_name);
    }
    return value || file;
  }

  void LoadEnvironment() {
    std::vector<std::string> known;
    for (const auto& k : ConfigKeys()) {
      known.push_back(EnvName(k.path));
      if (k.HasFileForm()) known.push_back(EnvName(k.path) + "_FILE");
    }
    for (const auto& [name, value] : *env_) {
      if (!name.starts_with("TRELLIS_") || IsReservedEnvName(name)) continue;
      if (std::find(known.begin(), known.end(), name) == known.end()) {
        Error("unknown environment variable '" + name + "'" + DidYouMean(name, known) +
              " (TRELLIS_ variables are configuration keys: TRELLIS_<SECTION>__<KEY>)");
      }
    }
    const std::string port_key = PortKeyForRole(options_.role);
    for (const auto& spec : ConfigKeys()) {
      // The TRELLIS_ form wins over a conventional name.
      if (FromEnvPair(spec, EnvName(spec.path), spec.HasFileForm())) continue;
      bool done = false;
      for (const auto& alias : spec.env_aliases) {
        if ((done = FromEnvPair(spec, alias, spec.HasFileForm()))) break;
      }
      if (!done && spec.path == port_key) FromEnvPair(spec, "PORT", false);
    }
  }

  // ---- flags ----

  void LoadFlags() {
    for (const auto& [path, text] : options_.flags) {
      if (const KeySpec* spec = FindKey(path)) {
        if (options_.flags.count(path + "_file")) {
          Error("both " + path + " and " + path + "_file are set by flags; use one of them");
          continue;
        }
        Set(*spec, text, "flag");
      } else if (const KeySpec* secret = FileFormOf(path)) {
        if (options_.flags.count(secret->path)) continue;  // reported above
        if (auto value = ReadSecretFile(*secret, text, "flag " + path)) Set(*secret, *value, "flag");
      } else {
        Error("unknown key '" + path + "' in flags" + DidYouMean(path, FileKeyCandidates()));
      }
    }
  }

  // ---- final checks ----

  void CheckKubernetesReferences() {
    static const std::regex kRef(R"(\$\(([A-Za-z_][A-Za-z0-9_]*)\))");
    for (const auto& [path, entry] : config_.entries_) {
      std::smatch m;
      std::string all = entry.text;
      for (const auto& item : entry.items) all += "\n" + item;
      if (!std::regex_search(all, m, kRef)) continue;
      const std::string var = m[1].str();
      Error(path + " contains '$(" + var +
            ")', a Kubernetes-style reference that was never expanded. Kubernetes expands $(VAR) only from "
            "variables defined earlier in the same container's env list; define " +
            var + " before it there, or use ${" + var + "} in trellis.yaml (from " + entry.source + ")");
    }
  }

  const LoadOptions& options_;
  const EnvMap* env_ = nullptr;
  EnvMap process_env_;
  Config config_;
  std::string file_label_;
  std::set<std::string> yaml_direct_;
  std::map<std::string, std::string> yaml_files_;
  std::vector<std::string> errors_;
};

Result<Config> Config::Load(const LoadOptions& options) {
  return Loader(options).Run();
}

}  // namespace trellis::config
