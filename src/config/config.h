// The one configuration system every command uses. Values come from four sources, in increasing
// precedence: built-in defaults < the YAML file < the environment < flags. Load() resolves them
// against the key table (config/keys.h), collects every problem (unknown keys with a did-you-mean,
// wrongly typed values, unset ${VAR}s, unexpanded Kubernetes $(VAR)s, unreadable _FILE secrets)
// and returns them together, one per line. A loaded Config is immutable and always valid, so
// getters return plain values; asking for an unknown key or with the wrong type is a programmer
// error and aborts.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <string_view>
#include <vector>

#include "config/database.h"
#include "config/keys.h"
#include "core/json.h"
#include "core/status.h"

namespace trellis::config {

struct LoadOptions {
  // --config PATH. Empty: $TRELLIS_CONFIG, else default_config_path if that file exists.
  std::string config_path;
  std::string default_config_path = "./trellis.yaml";
  // "server" | "worker" | anything else: decides which key PORT sets (none for other roles).
  std::string role;
  // key path -> text, from specific flags (--port) and --set key=value. Highest precedence.
  std::map<std::string, std::string> flags;
  // null: the real process environment.
  const std::map<std::string, std::string>* env = nullptr;
};

class Config {
 public:
  static Result<Config> Load(const LoadOptions& options);
  // Only defaults: what Load gives with no file, no environment and no flags.
  static Config Defaults();

  // kString and kEnum keys.
  std::string GetString(std::string_view path) const;
  int64_t GetInt(std::string_view path) const;
  bool GetBool(std::string_view path) const;
  std::chrono::milliseconds GetDuration(std::string_view path) const;
  uint64_t GetBytes(std::string_view path) const;
  double GetDouble(std::string_view path) const;
  std::vector<std::string> GetList(std::string_view path) const;

  // "default", the YAML file's path, "env TRELLIS_X", "env DATABASE_URL_FILE", "flag".
  std::string SourceOf(std::string_view path) const;
  // The config file that was read, or "" when none was.
  const std::string& file() const { return file_; }

  // Keys set by the file, the environment or a flag that nothing in this version reads yet
  // (KeySpec::not_read_yet), each as "<key> (from <source>)", for a start-up warning.
  std::vector<std::string> SetButNotReadYet() const;

  // A nested object of effective values. With redact, set secrets are "***" and a password in
  // database.url is masked.
  Json ToJson(bool redact = true) const;
  // YAML text with a "# from <source>" comment on every key.
  std::string Render(bool redact = true) const;

 private:
  struct Entry {
    std::string text;                // scalar value as given
    std::vector<std::string> items;  // kList
    std::string source = "default";
  };
  friend class Loader;

  const Entry& At(std::string_view path, std::initializer_list<ValueType> types) const;
  std::string DisplayText(const KeySpec& spec, const Entry& e, bool redact) const;

  std::map<std::string, Entry, std::less<>> entries_;
  std::string file_;
};

// Expands ${VAR} and ${VAR:-default} (default also when VAR is empty) from `env`; $${ is a literal
// ${. An unset VAR without a default is an error.
Result<std::string> ExpandVariables(std::string_view text, const std::map<std::string, std::string>& env);

// Adds `--set key=value` arguments to `flags`; a later --set of the same key wins.
Status ParseSetFlags(const std::vector<std::string>& sets, std::map<std::string, std::string>* flags);

// The whole text of docs/configuration.md.
std::string ConfigurationDocMarkdown();

// The database.* keys, as ParseDatabaseSettings takes them.
Result<DatabaseConfigValues> DatabaseValues(const Config& config);

}  // namespace trellis::config
