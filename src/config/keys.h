// The schema of the configuration: every key Trellis reads, with its type, default, documentation,
// secrecy and environment names. Everything else in config/ (loading, validation, `trellis config`,
// docs/configuration.md) is driven by this one table, so a key cannot be documented but unread, or
// read but undocumented.
#pragma once

#include <chrono>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "core/status.h"

namespace trellis::config {

enum class ValueType { kString, kInt, kBool, kDuration, kBytes, kList, kDouble, kEnum };

const char* ValueTypeName(ValueType type);

struct KeySpec {
  std::string path;  // "database.url"
  ValueType type = ValueType::kString;
  std::string default_text;          // textual, as a user would write it; lists comma-separated
  std::string doc;                   // one line
  bool secret = false;               // redacted in output; has a _FILE form
  std::vector<std::string> allowed;  // kEnum only
  // Conventional environment names (DATABASE_URL). The TRELLIS_ form always exists and wins.
  std::vector<std::string> env_aliases;
  std::optional<double> min, max;  // kInt / kDouble bounds, inclusive
  bool file_form = false;          // has a _FILE form although not secret (database.url)
  // Accepted and documented, but read by a part of Trellis not built yet (the HTTP server). The
  // docs say so and loading warns when one is set, so a setting never silently does nothing.
  bool not_read_yet = false;

  bool HasFileForm() const { return secret || file_form; }
};

// Every key, ordered by section as documented.
const std::vector<KeySpec>& ConfigKeys();
// nullptr when the path is not a key.
const KeySpec* FindKey(std::string_view path);
// All key paths, for did-you-mean.
std::vector<std::string> KeyPaths();

// "database.url" -> "TRELLIS_DATABASE__URL".
std::string EnvName(std::string_view path);

// The listening port key a role's PORT variable sets ("server.port"), or "" when PORT means
// nothing for that role.
std::string PortKeyForRole(std::string_view role);

// Environment variables that start with TRELLIS_ but are not keys, and are left alone.
bool IsReservedEnvName(std::string_view name);

// Typed parsing of textual values. The error says what was expected, not which key: callers add
// that.
Result<int64_t> ParseInt(std::string_view text);
Result<bool> ParseBool(std::string_view text);
Result<uint64_t> ParseBytes(std::string_view text);
Result<double> ParseDouble(std::string_view text);
// Splits a comma-separated list, trimming blanks and dropping empty items.
std::vector<std::string> SplitList(std::string_view text);

// Checks `text` against the key's type, enum values and bounds. The message names the key, the
// value (unless the key is secret) and what was expected.
Status ValidateValue(const KeySpec& spec, std::string_view text);

}  // namespace trellis::config
