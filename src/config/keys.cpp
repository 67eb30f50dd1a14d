#include "config/keys.h"

#include <set>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <limits>

#include "core/duration.h"

namespace trellis::config {
namespace {

using VT = ValueType;

KeySpec Key(std::string path, VT type, std::string def, std::string doc) {
  KeySpec k;
  k.path = std::move(path);
  k.type = type;
  k.default_text = std::move(def);
  k.doc = std::move(doc);
  return k;
}

KeySpec Int(std::string path, std::string def, std::string doc, double min,
            double max = static_cast<double>(std::numeric_limits<int32_t>::max())) {
  KeySpec k = Key(std::move(path), VT::kInt, std::move(def), std::move(doc));
  k.min = min;
  k.max = max;
  return k;
}

KeySpec Enum(std::string path, std::string def, std::vector<std::string> allowed, std::string doc) {
  KeySpec k = Key(std::move(path), VT::kEnum, std::move(def), std::move(doc));
  k.allowed = std::move(allowed);
  return k;
}

KeySpec Secret(std::string path, std::string doc, std::vector<std::string> aliases = {}) {
  KeySpec k = Key(std::move(path), VT::kString, "", std::move(doc));
  k.secret = true;
  k.env_aliases = std::move(aliases);
  return k;
}

KeySpec WithAliases(KeySpec k, std::vector<std::string> aliases) {
  k.env_aliases = std::move(aliases);
  return k;
}

std::vector<KeySpec> BuildKeys() {
  std::vector<KeySpec> keys;
  auto add = [&](KeySpec k) { keys.push_back(std::move(k)); };

  add(Key("server.host", VT::kString, "",
          "Address the API server listens on. Empty: 127.0.0.1 when no authentication is configured "
          "(security.jwt_secret unset and security.allow_anonymous false), else 0.0.0.0."));
  add(Int("server.port", "8080", "Port the API server listens on (0 picks a free port).", 0, 65535));
  add(Int("server.workers", "10",
          "Executor threads of the worker embedded in the server; 0 runs the API only.", 0));
  add(Key("server.shutdown_timeout", VT::kDuration, "25s",
          "How long a stopping server waits for in-flight requests."));
  add(Key("server.request_timeout", VT::kDuration, "30s", "Longest time one HTTP request may take."));
  add(Key("server.idle_timeout", VT::kDuration, "60s", "Keep-alive connections idle this long are closed."));

  add(Key("worker.host", VT::kString, "0.0.0.0",
          "Address a standalone worker's health endpoint listens on."));
  add(Int("worker.port", "8081", "Port a standalone worker's health endpoint listens on.", 0, 65535));
  add(Int("worker.concurrency", "10", "Instances one worker runs at the same time.", 1));
  add(Key("worker.lease", VT::kDuration, "30s",
          "How long a claimed instance stays owned without a heartbeat before another worker may take it."));
  add(Key("worker.heartbeat", VT::kDuration, "10s", "How often a worker renews its leases."));
  add(Int("worker.claim_batch", "64", "Most instances claimed in one query.", 1));
  add(Key("worker.poll_interval", VT::kDuration, "1s",
          "Longest idle wait between claims when no notification arrives."));
  add(Key("worker.shutdown_timeout", VT::kDuration, "25s",
          "How long a stopping worker waits for running steps before releasing its leases."));

  add(WithAliases(Key("database.url", VT::kString, "sqlite://./data/trellis.db",
                      "Where the store lives: sqlite:///abs.db, sqlite://./rel.db, sqlite::memory:, "
                      "postgresql://user:pass@host:5432/db?sslmode=require, or Host=...;Database=... "
                      "key-value form."),
                  {"DATABASE_URL"}));
  keys.back().file_form = true;  // it may hold a password
  add(Enum("database.provider", "", {"", "sqlite", "postgres"},
           "Optional: the provider the URL must name; a contradiction is a start-up error."));
  add(Secret("database.password", "Optional: the PostgreSQL password; overrides one in the URL."));
  add(Int("database.pool_size", "25", "PostgreSQL connection pool size.", 1, 10000));
  add(Key("database.acquire_timeout", VT::kDuration, "5s", "Longest wait for a free pooled connection."));
  add(Key("database.statement_timeout", VT::kDuration, "30s", "PostgreSQL statement_timeout per session."));
  add(Key("database.connect_timeout", VT::kDuration, "5s", "Longest time to establish a connection."));
  add(Enum("database.sslmode", "", {"", "disable", "allow", "prefer", "require", "verify-ca", "verify-full"},
           "Optional: PostgreSQL TLS mode; overrides the URL's."));
  add(Key("database.auto_migrate", VT::kBool, "true", "Apply pending migrations at start-up."));

  add(Key("limits.max_execution_time", VT::kDuration, "1h",
          "Default longest run of an instance (a definition may set its own)."));
  add(Key("limits.step_timeout", VT::kDuration, "5m", "Default longest time one activity may take."));
  add(Key("limits.max_body", VT::kBytes, "10MiB", "Largest accepted HTTP request body."));
  KeySpec rate =
      Key("limits.rate_limit", VT::kDouble, "0",
          "API requests per second one client (API key, token subject, or address) may send; 0: no limit.");
  rate.min = 0;
  add(std::move(rate));
  KeySpec burst = Key("limits.rate_burst", VT::kDouble, "0",
                      "Requests a client may send at once above the rate; 0: twice the rate.");
  burst.min = 0;
  add(std::move(burst));
  add(Key("limits.journal_payload", VT::kBytes, "64KiB",
          "Journal payloads larger than this are truncated and flagged."));

  add(WithAliases(
      Enum("log.level", "info", {"trace", "debug", "info", "warn", "error"}, "Least severe level logged."),
      {"LOG_LEVEL"}));
  add(Enum("log.format", "auto", {"auto", "json", "text"},
           "Log line format; auto: text on a TTY, else json."));

  add(Key("retention.finished", VT::kDuration, "14d",
          "Finished instances and their journals older than this are pruned."));
  add(Key("retention.interval", VT::kDuration, "1m", "How often the pruner runs."));
  add(Int("retention.batch", "500", "Most instances pruned per transaction.", 1));

  add(Key("events.hold", VT::kDuration, "1m",
          "How long an event that matched no waiting instance is kept for one that suspends later."));

  add(Key("schedules.enabled", VT::kBool, "true", "Run cron schedules on this node."));
  add(Int("schedules.max_catch_up", "100", "Most missed runs a schedule starts after downtime.", 0));
  add(Key("schedules.poll_interval", VT::kDuration, "1s", "How often due schedules are checked."));

  add(Secret("security.jwt_secret",
             "HMAC secret that signs and verifies API bearer tokens (JWT, HS256): at least 32 bytes, e.g. "
             "from `openssl rand -base64 48`.",
             {"JWT_SECRET"}));
  add(Secret("security.encryption_key",
             "Key that encrypts stored secrets (AES-256-GCM): base64 of 32 bytes, e.g. from "
             "`openssl rand -base64 32`.",
             {"ENCRYPTION_KEY"}));
  add(Secret("security.previous_encryption_keys",
             "Earlier encryption keys, comma-separated, still accepted for reading secrets sealed under "
             "them until `trellis secrets rotate-key` re-seals them under security.encryption_key."));
  add(Key("security.allow_anonymous", VT::kBool, "false", "Serve the API without authentication."));

  add(Key("cors.allowed_origins", VT::kList, "", "Origins allowed to call the API from a browser."));
  add(Key("features.webhook_replay", VT::kBool, "false", "Allow replaying recorded webhook deliveries."));

  add(Key("tracing.otlp_endpoint", VT::kString, "",
          "Base URL of an OpenTelemetry collector's OTLP/HTTP receiver (e.g. http://otel-collector:4318); "
          "spans are POSTed as JSON to its /v1/traces path. Empty: tracing is off."));
  add(Key("tracing.service_name", VT::kString, "trellis", "service.name of exported spans."));
  KeySpec ratio =
      Key("tracing.sample_ratio", VT::kDouble, "1.0",
          "Fraction of new traces sampled (0 to 1); a trace continued from an incoming traceparent "
          "keeps its sampled flag.");
  ratio.min = 0;
  ratio.max = 1;
  add(std::move(ratio));

  add(Key("http.allow_hosts", VT::kList, "",
          "Hosts HttpRequest may reach although they resolve to private or loopback addresses."));
  add(Key("http.timeout", VT::kDuration, "30s", "Default timeout of an HttpRequest activity."));

  static const std::set<std::string> kNotReadYet = {"limits.max_execution_time", "http.timeout"};
  for (auto& k : keys) k.not_read_yet = kNotReadYet.count(k.path) > 0;
  return keys;
}

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string_view Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return s;
}

std::string FormatNumber(double d) {
  if (d == std::floor(d) && std::fabs(d) < 1e15) return std::to_string(static_cast<int64_t>(d));
  std::string s = std::to_string(d);
  while (!s.empty() && s.back() == '0') s.pop_back();
  return s;
}

}  // namespace

const char* ValueTypeName(ValueType type) {
  switch (type) {
    case VT::kString: return "string";
    case VT::kInt: return "integer";
    case VT::kBool: return "boolean";
    case VT::kDuration: return "duration";
    case VT::kBytes: return "size";
    case VT::kList: return "list";
    case VT::kDouble: return "number";
    case VT::kEnum: return "enum";
  }
  return "?";
}

const std::vector<KeySpec>& ConfigKeys() {
  static const std::vector<KeySpec> keys = BuildKeys();
  return keys;
}

const KeySpec* FindKey(std::string_view path) {
  for (const auto& k : ConfigKeys()) {
    if (k.path == path) return &k;
  }
  return nullptr;
}

std::vector<std::string> KeyPaths() {
  std::vector<std::string> out;
  for (const auto& k : ConfigKeys()) out.push_back(k.path);
  return out;
}

std::string EnvName(std::string_view path) {
  std::string out = "TRELLIS_";
  for (char c : path) {
    if (c == '.') {
      out += "__";
    } else {
      out += static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    }
  }
  return out;
}

std::string PortKeyForRole(std::string_view role) {
  if (role == "server") return "server.port";
  if (role == "worker") return "worker.port";
  return "";
}

bool IsReservedEnvName(std::string_view name) {
  return name == "TRELLIS_CONFIG" || name.starts_with("TRELLIS_TEST_");
}

Result<int64_t> ParseInt(std::string_view text) {
  std::string s(Trim(text));
  if (s.empty()) return InvalidArgument("empty");
  size_t i = (s[0] == '-' || s[0] == '+') ? 1 : 0;
  if (i == s.size()) return InvalidArgument("no digits");
  for (size_t j = i; j < s.size(); ++j) {
    if (!std::isdigit(static_cast<unsigned char>(s[j]))) return InvalidArgument("not a whole number");
  }
  errno = 0;
  long long v = std::strtoll(s.c_str(), nullptr, 10);
  if (errno == ERANGE) return InvalidArgument("too large");
  return static_cast<int64_t>(v);
}

Result<bool> ParseBool(std::string_view text) {
  std::string s = Lower(Trim(text));
  if (s == "true" || s == "yes" || s == "on" || s == "1") return true;
  if (s == "false" || s == "no" || s == "off" || s == "0") return false;
  return InvalidArgument("not true or false");
}

Result<double> ParseDouble(std::string_view text) {
  std::string s(Trim(text));
  if (s.empty()) return InvalidArgument("empty");
  char* end = nullptr;
  errno = 0;
  double v = std::strtod(s.c_str(), &end);
  if (end != s.c_str() + s.size() || errno == ERANGE || !std::isfinite(v)) {
    return InvalidArgument("not a number");
  }
  return v;
}

Result<uint64_t> ParseBytes(std::string_view text) {
  std::string_view s = Trim(text);
  size_t pos = 0;
  while (pos < s.size() && (std::isdigit(static_cast<unsigned char>(s[pos])) || s[pos] == '.')) ++pos;
  if (pos == 0) return InvalidArgument("expected a number");
  std::string num(s.substr(0, pos));
  char* end = nullptr;
  double n = std::strtod(num.c_str(), &end);
  if (end != num.c_str() + num.size()) return InvalidArgument("malformed number");
  std::string unit = Lower(Trim(s.substr(pos)));
  double mult = 0;
  if (unit.empty() || unit == "b")
    mult = 1;
  else if (unit == "kib" || unit == "ki")
    mult = 1024.0;
  else if (unit == "mib" || unit == "mi")
    mult = 1024.0 * 1024;
  else if (unit == "gib" || unit == "gi")
    mult = 1024.0 * 1024 * 1024;
  else if (unit == "tib" || unit == "ti")
    mult = 1024.0 * 1024 * 1024 * 1024;
  else if (unit == "kb" || unit == "k")
    mult = 1e3;
  else if (unit == "mb" || unit == "m")
    mult = 1e6;
  else if (unit == "gb" || unit == "g")
    mult = 1e9;
  else if (unit == "tb" || unit == "t")
    mult = 1e12;
  else
    return InvalidArgument("unknown unit '" + unit + "'");
  double total = n * mult;
  if (total > 9.0e18) return InvalidArgument("too large");
  if (unit.empty() && num.find('.') != std::string::npos) return InvalidArgument("a fraction of a byte");
  return static_cast<uint64_t>(std::llround(total));
}

std::vector<std::string> SplitList(std::string_view text) {
  std::vector<std::string> out;
  size_t start = 0;
  while (start <= text.size()) {
    size_t comma = text.find(',', start);
    if (comma == std::string_view::npos) comma = text.size();
    std::string_view item = Trim(text.substr(start, comma - start));
    if (!item.empty()) out.emplace_back(item);
    start = comma + 1;
  }
  return out;
}

Status ValidateValue(const KeySpec& spec, std::string_view text) {
  std::string shown = spec.secret ? std::string("(secret value)") : "'" + std::string(text) + "'";
  auto bad = [&](const std::string& expected) {
    return InvalidArgument(spec.path + ": " + shown + " is not " + expected);
  };
  switch (spec.type) {
    case VT::kString:
    case VT::kList: return Status::Ok();
    case VT::kInt: {
      auto v = ParseInt(text);
      if (!v.ok()) return bad("an integer");
      if ((spec.min && static_cast<double>(*v) < *spec.min) ||
          (spec.max && static_cast<double>(*v) > *spec.max)) {
        return InvalidArgument(spec.path + ": " + shown + " is out of range (" +
                               FormatNumber(spec.min.value_or(0)) + ".." +
                               FormatNumber(spec.max.value_or(0)) + ")");
      }
      return Status::Ok();
    }
    case VT::kDouble: {
      auto v = ParseDouble(text);
      if (!v.ok()) return bad("a number");
      if ((spec.min && *v < *spec.min) || (spec.max && *v > *spec.max)) {
        return InvalidArgument(spec.path + ": " + shown + " is out of range (" +
                               FormatNumber(spec.min.value_or(0)) + ".." +
                               FormatNumber(spec.max.value_or(0)) + ")");
      }
      return Status::Ok();
    }
    case VT::kBool:
      if (!ParseBool(text).ok()) return bad("a boolean (true or false)");
      return Status::Ok();
    case VT::kDuration: {
      auto d = ParseDuration(Trim(text));
      if (!d.ok()) return bad("a duration (e.g. 500ms, 30s, 5m, 1h, 14d)");
      if (d->count() < 0) return bad("a positive duration");
      return Status::Ok();
    }
    case VT::kBytes:
      if (!ParseBytes(text).ok()) return bad("a size (bytes, or e.g. 64KiB, 10MiB, 1GiB)");
      return Status::Ok();
    case VT::kEnum: {
      if (std::find(spec.allowed.begin(), spec.allowed.end(), std::string(text)) != spec.allowed.end()) {
        return Status::Ok();
      }
      std::string list;
      for (const auto& a : spec.allowed) {
        if (!list.empty()) list += ", ";
        list += a.empty() ? "\"\" (unset)" : a;
      }
      return bad("one of " + list);
    }
  }
  return Status::Ok();
}

}  // namespace trellis::config
