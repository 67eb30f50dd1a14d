#include "config/config.h"

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <sstream>

#include "core/duration.h"

namespace trellis::config {
namespace {

[[noreturn]] void Die(const std::string& message) {
  std::fprintf(stderr, "trellis config: programmer error: %s\n", message.c_str());
  std::abort();
}

template <typename T>
T MustParse(Result<T> r, std::string_view path) {
  if (!r.ok()) Die("stored value of " + std::string(path) + " does not parse: " + r.status().message());
  return std::move(r).value();
}

constexpr const char* kRedacted = "***";

}  // namespace

Config Config::Defaults() {
  Config c;
  for (const auto& k : ConfigKeys()) {
    Entry e;
    e.text = k.default_text;
    if (k.type == ValueType::kList) e.items = SplitList(k.default_text);
    c.entries_.emplace(k.path, std::move(e));
  }
  return c;
}

const Config::Entry& Config::At(std::string_view path, std::initializer_list<ValueType> types) const {
  const KeySpec* spec = FindKey(path);
  if (!spec) Die("unknown configuration key '" + std::string(path) + "'");
  if (std::find(types.begin(), types.end(), spec->type) == types.end()) {
    Die("configuration key '" + std::string(path) + "' is a " + ValueTypeName(spec->type) +
        ", read with the wrong getter");
  }
  auto it = entries_.find(path);
  if (it == entries_.end()) Die("configuration key '" + std::string(path) + "' has no value");
  return it->second;
}

std::string Config::GetString(std::string_view path) const {
  return At(path, {ValueType::kString, ValueType::kEnum}).text;
}
int64_t Config::GetInt(std::string_view path) const {
  return MustParse(ParseInt(At(path, {ValueType::kInt}).text), path);
}
bool Config::GetBool(std::string_view path) const {
  return MustParse(ParseBool(At(path, {ValueType::kBool}).text), path);
}
std::chrono::milliseconds Config::GetDuration(std::string_view path) const {
  std::string text = At(path, {ValueType::kDuration}).text;
  // ValidateValue accepted it trimmed.
  text.erase(0, text.find_first_not_of(" \t"));
  text.erase(text.find_last_not_of(" \t") + 1);
  return MustParse(ParseDuration(text), path);
}
uint64_t Config::GetBytes(std::string_view path) const {
  return MustParse(ParseBytes(At(path, {ValueType::kBytes}).text), path);
}
double Config::GetDouble(std::string_view path) const {
  return MustParse(ParseDouble(At(path, {ValueType::kDouble}).text), path);
}
std::vector<std::string> Config::GetList(std::string_view path) const {
  return At(path, {ValueType::kList}).items;
}

std::vector<std::string> Config::SetButNotReadYet() const {
  std::vector<std::string> out;
  for (const auto& spec : ConfigKeys()) {
    auto it = entries_.find(spec.path);
    if (spec.not_read_yet && it != entries_.end() && it->second.source != "default") {
      out.push_back(spec.path + " (from " + it->second.source + ")");
    }
  }
  return out;
}

std::string Config::SourceOf(std::string_view path) const {
  if (!FindKey(path)) Die("unknown configuration key '" + std::string(path) + "'");
  return entries_.find(path)->second.source;
}

// The value as YAML text (a scalar or a flow list).
std::string Config::DisplayText(const KeySpec& spec, const Entry& e, bool redact) const {
  switch (spec.type) {
    case ValueType::kString:
    case ValueType::kEnum:
      if (redact && spec.secret && !e.text.empty()) return Json(kRedacted).dump();
      if (redact && spec.path == "database.url") return Json(RedactDatabaseUrl(e.text)).dump();
      return Json(e.text).dump();
    case ValueType::kInt: return std::to_string(GetInt(spec.path));
    case ValueType::kBool: return GetBool(spec.path) ? "true" : "false";
    case ValueType::kDuration: return FormatDuration(GetDuration(spec.path));
    case ValueType::kBytes:
    case ValueType::kDouble: {
      std::string t = e.text;
      t.erase(0, t.find_first_not_of(" \t"));
      t.erase(t.find_last_not_of(" \t") + 1);
      return t;
    }
    case ValueType::kList: return Json(e.items).dump();
  }
  return e.text;
}

Json Config::ToJson(bool redact) const {
  Json out = Json::object();
  for (const auto& spec : ConfigKeys()) {
    const Entry& e = entries_.at(spec.path);
    auto dot = spec.path.find('.');
    Json& slot = out[spec.path.substr(0, dot)][spec.path.substr(dot + 1)];
    switch (spec.type) {
      case ValueType::kString:
      case ValueType::kEnum:
        if (redact && spec.secret && !e.text.empty()) {
          slot = kRedacted;
        } else if (redact && spec.path == "database.url") {
          slot = RedactDatabaseUrl(e.text);
        } else {
          slot = e.text;
        }
        break;
      case ValueType::kInt: slot = GetInt(spec.path); break;
      case ValueType::kBool: slot = GetBool(spec.path); break;
      case ValueType::kDuration: slot = FormatDuration(GetDuration(spec.path)); break;
      case ValueType::kBytes: slot = GetBytes(spec.path); break;
      case ValueType::kDouble: slot = GetDouble(spec.path); break;
      case ValueType::kList: slot = e.items; break;
    }
  }
  return out;
}

std::string Config::Render(bool redact) const {
  struct Line {
    std::string text, comment;
  };
  std::vector<Line> lines;
  std::string section;
  for (const auto& spec : ConfigKeys()) {
    auto dot = spec.path.find('.');
    std::string this_section = spec.path.substr(0, dot);
    if (this_section != section) {
      section = this_section;
      lines.push_back({section + ":", ""});
    }
    const Entry& e = entries_.at(spec.path);
    lines.push_back(
        {"  " + spec.path.substr(dot + 1) + ": " + DisplayText(spec, e, redact), "# from " + e.source});
  }
  size_t width = 0;
  for (const auto& l : lines) {
    if (!l.comment.empty()) width = std::max(width, std::min<size_t>(l.text.size(), 48));
  }
  std::string out;
  for (const auto& l : lines) {
    out += l.text;
    if (!l.comment.empty()) {
      out += std::string(l.text.size() < width ? width - l.text.size() : 0, ' ') + "  " + l.comment;
    }
    out += "\n";
  }
  return out;
}

Status ParseSetFlags(const std::vector<std::string>& sets, std::map<std::string, std::string>* flags) {
  std::string errors;
  for (const auto& set : sets) {
    auto eq = set.find('=');
    if (eq == std::string::npos || eq == 0) {
      errors += (errors.empty() ? "" : "\n") + std::string("--set takes key=value, got '") + set + "'";
      continue;
    }
    std::string key = set.substr(0, eq);
    while (!key.empty() && key.back() == ' ') key.pop_back();
    (*flags)[key] = set.substr(eq + 1);
  }
  if (!errors.empty()) return InvalidArgument(errors);
  return Status::Ok();
}

Result<DatabaseConfigValues> DatabaseValues(const Config& config) {
  DatabaseConfigValues v;
  v.url = config.GetString("database.url");
  v.provider = config.GetString("database.provider");
  v.password = config.GetString("database.password");
  v.pool_size = static_cast<size_t>(config.GetInt("database.pool_size"));
  v.acquire_timeout = config.GetDuration("database.acquire_timeout");
  v.statement_timeout = config.GetDuration("database.statement_timeout");
  v.connect_timeout = config.GetDuration("database.connect_timeout");
  v.sslmode = config.GetString("database.sslmode");
  v.auto_migrate = config.GetBool("database.auto_migrate");
  if (v.url.empty())
    return InvalidArgument("database.url is empty; set it (e.g. sqlite://./data/trellis.db)");
  return v;
}

}  // namespace trellis::config
