// database.url in its three forms (SQLite URL or path, PostgreSQL URL, .NET-style key-value) ->
// one DatabaseSettings. Settings written inside the URL (sslmode, connect_timeout, Maximum Pool
// Size, ...) win over the defaults of the database.* keys, except database.password and
// database.sslmode, which are explicit overrides.
#include <algorithm>
#include <cctype>
#include <cmath>
#include <utility>
#include <vector>

#include "config/database.h"
#include "core/strings.h"

namespace trellis {
namespace {

using Params = std::vector<std::pair<std::string, std::string>>;

constexpr const char* kForms =
    "use sqlite:///abs/path.db, sqlite://./relative.db, sqlite::memory:, a file path, "
    "postgresql://user:pass@host:5432/db, or Host=...;Database=...;Username=...;Password=...";

std::string Lower(std::string_view s) {
  std::string out(s);
  for (auto& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

std::string Trim(std::string_view s) {
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.front()))) s.remove_prefix(1);
  while (!s.empty() && std::isspace(static_cast<unsigned char>(s.back()))) s.remove_suffix(1);
  return std::string(s);
}

int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return -1;
}

Result<std::string> PercentDecode(std::string_view s, std::string_view what) {
  std::string out;
  for (size_t i = 0; i < s.size(); ++i) {
    if (s[i] != '%') {
      out += s[i];
      continue;
    }
    int hi = i + 2 < s.size() ? HexValue(s[i + 1]) : -1;
    int lo = i + 2 < s.size() ? HexValue(s[i + 2]) : -1;
    if (hi < 0 || lo < 0) {
      return InvalidArgument("database.url: malformed percent-encoding in the " + std::string(what) +
                             " (write a literal % as %25)");
    }
    out += static_cast<char>(hi * 16 + lo);
    i += 2;
  }
  return out;
}

// A libpq conninfo value: bare when safe, else single-quoted with \ and ' escaped.
std::string QuoteConninfo(std::string_view v) {
  bool plain = !v.empty() && std::none_of(v.begin(), v.end(), [](char c) {
    return std::isspace(static_cast<unsigned char>(c)) || c == '\'' || c == '\\';
  });
  if (plain) return std::string(v);
  std::string out = "'";
  for (char c : v) {
    if (c == '\\' || c == '\'') out += '\\';
    out += c;
  }
  return out + "'";
}

const std::vector<std::string>& SslModes() {
  static const std::vector<std::string> modes = {"disable", "allow",     "prefer",
                                                 "require", "verify-ca", "verify-full"};
  return modes;
}

// Query parameters a postgresql:// URL may carry; libpq understands them all.
const std::vector<std::string>& PgUrlParams() {
  static const std::vector<std::string> params = {"sslmode",
                                                  "connect_timeout",
                                                  "application_name",
                                                  "options",
                                                  "target_session_attrs",
                                                  "sslrootcert",
                                                  "sslcert",
                                                  "sslkey",
                                                  "sslcrl",
                                                  "sslpassword",
                                                  "sslsni",
                                                  "keepalives",
                                                  "keepalives_idle",
                                                  "keepalives_interval",
                                                  "keepalives_count",
                                                  "tcp_user_timeout",
                                                  "gssencmode",
                                                  "channel_binding",
                                                  "require_auth",
                                                  "load_balance_hosts",
                                                  "hostaddr",
                                                  "host",
                                                  "port",
                                                  "dbname",
                                                  "user",
                                                  "password",
                                                  "passfile",
                                                  "krbsrvname",
                                                  "service",
                                                  "fallback_application_name"};
  return params;
}

std::string Param(const Params& params, const std::string& key) {
  for (const auto& [k, v] : params) {
    if (k == key) return v;
  }
  return "";
}

bool HasParam(const Params& params, const std::string& key) {
  return std::any_of(params.begin(), params.end(), [&](const auto& p) { return p.first == key; });
}

void SetParam(Params* params, const std::string& key, std::string value) {
  for (auto& [k, v] : *params) {
    if (k == key) {
      v = std::move(value);
      return;
    }
  }
  params->emplace_back(key, std::move(value));
}

std::string Seconds(std::chrono::milliseconds d) {
  if (d.count() <= 0) return "0";
  return std::to_string(std::max<int64_t>(1, (d.count() + 999) / 1000));
}

Result<std::chrono::milliseconds> SecondsValue(const std::string& what, const std::string& text) {
  std::string t = Trim(text);
  if (t.empty() ||
      !std::all_of(t.begin(), t.end(), [](char c) { return std::isdigit(static_cast<unsigned char>(c)); }) ||
      t.size() > 9) {
    return InvalidArgument("database.url: " + what + " must be a whole number of seconds, got '" + t + "'");
  }
  return std::chrono::milliseconds(std::stoll(t) * 1000);
}

Status CheckPort(const std::string& port) {
  if (port.empty()) return Status::Ok();
  bool digits = std::all_of(port.begin(), port.end(),
                            [](char c) { return std::isdigit(static_cast<unsigned char>(c)); });
  if (!digits || port.size() > 5 || std::stoi(port) < 1 || std::stoi(port) > 65535) {
    return InvalidArgument("database.url: port '" + port + "' is not a port number (1-65535)");
  }
  return Status::Ok();
}

// postgresql://[user[:password]@][host][:port][/dbname][?k=v&...] -> libpq parameters.
Status ParsePostgresUrl(std::string_view url, Params* params) {
  std::string_view rest = url.substr(url.find("://") + 3);
  std::string_view query;
  if (auto q = rest.find('?'); q != std::string_view::npos) {
    query = rest.substr(q + 1);
    rest = rest.substr(0, q);
  }
  std::string_view authority = rest, path;
  if (auto slash = rest.find('/'); slash != std::string_view::npos) {
    authority = rest.substr(0, slash);
    path = rest.substr(slash + 1);
  }
  if (auto at = authority.rfind('@'); at != std::string_view::npos) {
    std::string_view userinfo = authority.substr(0, at);
    authority = authority.substr(at + 1);
    std::string_view user = userinfo, password;
    bool has_password = false;
    if (auto colon = userinfo.find(':'); colon != std::string_view::npos) {
      user = userinfo.substr(0, colon);
      password = userinfo.substr(colon + 1);
      has_password = true;
    }
    auto u = PercentDecode(user, "user name");
    if (!u.ok()) return u.status();
    if (!u->empty()) params->emplace_back("user", *u);
    if (has_password) {
      auto p = PercentDecode(password, "password");
      if (!p.ok()) return p.status();
      params->emplace_back("password", *p);
    }
  }
  std::string_view host = authority, port;
  if (!authority.empty() && authority[0] == '[') {  // [::1]:5432
    auto close = authority.find(']');
    if (close == std::string_view::npos) return InvalidArgument("database.url: unterminated '[' in the host");
    host = authority.substr(1, close - 1);
    std::string_view after = authority.substr(close + 1);
    if (!after.empty()) {
      if (after[0] != ':') return InvalidArgument("database.url: unexpected text after the IPv6 host");
      port = after.substr(1);
    }
  } else if (authority.find(',') == std::string_view::npos) {
    if (auto colon = authority.rfind(':'); colon != std::string_view::npos) {
      host = authority.substr(0, colon);
      port = authority.substr(colon + 1);
    }
  }  // several hosts (a,b:5433): libpq reads the list as given
  auto h = PercentDecode(host, "host");
  if (!h.ok()) return h.status();
  if (!h->empty()) params->emplace_back("host", *h);
  if (Status s = CheckPort(std::string(port)); !s.ok()) return s;
  if (!port.empty()) params->emplace_back("port", std::string(port));
  auto db = PercentDecode(path, "database name");
  if (!db.ok()) return db.status();
  if (!db->empty()) params->emplace_back("dbname", *db);

  while (!query.empty()) {
    auto amp = query.find('&');
    std::string_view pair = query.substr(0, amp);
    query = amp == std::string_view::npos ? std::string_view() : query.substr(amp + 1);
    if (pair.empty()) continue;
    auto eq = pair.find('=');
    if (eq == std::string_view::npos) {
      return InvalidArgument("database.url: query parameter '" + std::string(pair) + "' has no value");
    }
    std::string key(pair.substr(0, eq));
    auto value = PercentDecode(pair.substr(eq + 1), "parameter " + key);
    if (!value.ok()) return value.status();
    const auto& known = PgUrlParams();
    if (std::find(known.begin(), known.end(), key) == known.end()) {
      return InvalidArgument("database.url: unknown query parameter '" + key + "'" + DidYouMean(key, known));
    }
    SetParam(params, key, *value);
  }
  return Status::Ok();
}

struct KvKeyword {
  const char* display;
  std::vector<std::string> spellings;  // lower case, no spaces
};

const std::vector<KvKeyword>& KvKeywords() {
  static const std::vector<KvKeyword> keywords = {
      {"Host", {"host", "server"}},
      {"Port", {"port"}},
      {"Database", {"database", "db"}},
      {"Username", {"username", "userid", "user", "uid", "username"}},
      {"Password", {"password", "pwd"}},
      {"SSL Mode", {"sslmode"}},
      {"Maximum Pool Size", {"maximumpoolsize", "maxpoolsize"}},
      {"Timeout", {"timeout"}},
      {"Command Timeout", {"commandtimeout"}},
      {"Application Name", {"applicationname"}},
  };
  return keywords;
}

// Splits Key=Value;Key=Value; a value may be "quoted" (with "" for a quote) to hold a ';'.
Result<std::vector<std::pair<std::string, std::string>>> SplitKeyValues(std::string_view text) {
  std::vector<std::pair<std::string, std::string>> out;
  size_t i = 0;
  while (i < text.size()) {
    size_t eq = text.find('=', i);
    size_t semi = text.find(';', i);
    if (semi != std::string_view::npos && (eq == std::string_view::npos || semi < eq)) {
      if (!Trim(text.substr(i, semi - i)).empty()) {
        return InvalidArgument("database.url: '" + Trim(text.substr(i, semi - i)) + "' has no '=value'");
      }
      i = semi + 1;
      continue;
    }
    if (eq == std::string_view::npos) {
      std::string rest = Trim(text.substr(i));
      if (!rest.empty()) return InvalidArgument("database.url: '" + rest + "' has no '=value'");
      break;
    }
    std::string key = Trim(text.substr(i, eq - i));
    size_t j = eq + 1;
    while (j < text.size() && text[j] == ' ') ++j;
    std::string value;
    if (j < text.size() && (text[j] == '"' || text[j] == '\'')) {
      char q = text[j++];
      bool closed = false;
      while (j < text.size()) {
        if (text[j] == q && j + 1 < text.size() && text[j + 1] == q) {
          value += q;
          j += 2;
        } else if (text[j] == q) {
          ++j;
          closed = true;
          break;
        } else {
          value += text[j++];
        }
      }
      if (!closed) return InvalidArgument("database.url: unterminated quote in the value of '" + key + "'");
      size_t end = text.find(';', j);
      if (!Trim(text.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j)).empty()) {
        return InvalidArgument("database.url: unexpected text after the quoted value of '" + key + "'");
      }
      i = end == std::string_view::npos ? text.size() : end + 1;
    } else {
      size_t end = text.find(';', j);
      value = Trim(text.substr(j, end == std::string_view::npos ? std::string_view::npos : end - j));
      i = end == std::string_view::npos ? text.size() : end + 1;
    }
    out.emplace_back(key, value);
  }
  return out;
}

std::string NormalizeKeyword(std::string_view key) {
  std::string out;
  for (char c : key) {
    if (c != ' ' && c != '_' && c != '-')
      out += static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  }
  return out;
}

Status ParseKeyValue(std::string_view text, Params* params, DatabaseSettings* s) {
  auto pairs = SplitKeyValues(text);
  if (!pairs.ok()) return pairs.status();
  std::vector<std::string> displays;
  for (const auto& k : KvKeywords()) displays.push_back(k.display);
  for (const auto& [key, value] : *pairs) {
    std::string norm = NormalizeKeyword(key);
    const KvKeyword* kw = nullptr;
    for (const auto& k : KvKeywords()) {
      if (std::find(k.spellings.begin(), k.spellings.end(), norm) != k.spellings.end()) kw = &k;
    }
    if (!kw) {
      return InvalidArgument("database.url: unknown keyword '" + key + "'" + DidYouMean(key, displays));
    }
    std::string name = kw->display;
    if (name == "Host") {
      SetParam(params, "host", value);
    } else if (name == "Port") {
      if (Status st = CheckPort(value); !st.ok()) return st;
      SetParam(params, "port", value);
    } else if (name == "Database") {
      SetParam(params, "dbname", value);
    } else if (name == "Username") {
      SetParam(params, "user", value);
    } else if (name == "Password") {
      SetParam(params, "password", value);
    } else if (name == "SSL Mode") {
      std::string mode = Lower(value);
      if (mode == "verifyca") mode = "verify-ca";
      if (mode == "verifyfull") mode = "verify-full";
      SetParam(params, "sslmode", mode);
    } else if (name == "Maximum Pool Size") {
      auto secs = SecondsValue("Maximum Pool Size", value);  // a whole number, like seconds
      if (!secs.ok() || secs->count() == 0) {
        return InvalidArgument("database.url: Maximum Pool Size must be a positive whole number, got '" +
                               value + "'");
      }
      s->pool_size = static_cast<size_t>(secs->count() / 1000);
    } else if (name == "Timeout") {
      auto secs = SecondsValue("Timeout", value);
      if (!secs.ok()) return secs.status();
      SetParam(params, "connect_timeout", Seconds(*secs));
    } else if (name == "Command Timeout") {
      auto secs = SecondsValue("Command Timeout", value);
      if (!secs.ok()) return secs.status();
      s->statement_timeout = *secs;
    } else if (name == "Application Name") {
      SetParam(params, "application_name", value);
    }
  }
  return Status::Ok();
}

bool IsPostgresUrl(std::string_view url) {
  std::string lower = Lower(url.substr(0, 13));
  return lower.starts_with("postgresql://") || lower.starts_with("postgres://");
}

bool IsKeyValue(std::string_view url) {
  return url.find("://") == std::string_view::npos && url.find('=') != std::string_view::npos;
}

}  // namespace

Result<DatabaseSettings> ParseDatabaseSettings(const DatabaseConfigValues& values) {
  DatabaseSettings s;
  s.pool_size = values.pool_size;
  s.acquire_timeout = values.acquire_timeout;
  s.statement_timeout = values.statement_timeout;
  s.connect_timeout = values.connect_timeout;
  s.auto_migrate = values.auto_migrate;

  const std::string url = Trim(values.url);
  if (url.empty()) return InvalidArgument("database.url is empty; " + std::string(kForms));
  const bool postgres = IsPostgresUrl(url) || IsKeyValue(url);
  if (auto scheme_end = url.find("://"); !postgres && scheme_end != std::string::npos) {
    std::string scheme = Lower(url.substr(0, scheme_end));
    if (scheme != "sqlite") {
      return InvalidArgument("database.url has the unsupported scheme '" + scheme + "://'; " + kForms);
    }
  }
  if (!values.provider.empty() && values.provider != "sqlite" && values.provider != "postgres") {
    return InvalidArgument("database.provider is '" + values.provider +
                           "'; use sqlite or postgres, or leave it unset");
  }
  if (!values.provider.empty() && (values.provider == "postgres") != postgres) {
    return InvalidArgument("database.provider is '" + values.provider + "' but database.url is a " +
                           (postgres ? "PostgreSQL" : "SQLite") +
                           " URL; remove database.provider or fix the URL");
  }
  if (!values.sslmode.empty() &&
      std::find(SslModes().begin(), SslModes().end(), values.sslmode) == SslModes().end()) {
    return InvalidArgument("database.sslmode '" + values.sslmode +
                           "' is not one of disable, allow, prefer, require, "
                           "verify-ca, verify-full");
  }

  if (!postgres) {
    s.provider = DatabaseSettings::Provider::kSqlite;
    std::string path = url;
    if (Lower(url) == "sqlite::memory:" || Lower(url) == "sqlite://:memory:") {
      path = ":memory:";
    } else if (Lower(url).starts_with("sqlite://")) {
      path = url.substr(9);
    } else if (Lower(url).starts_with("sqlite:")) {
      path = url.substr(7);
    }
    if (path.empty()) return InvalidArgument("database.url '" + url + "' names no SQLite file; " + kForms);
    if (path.find('?') != std::string::npos) {
      return InvalidArgument("database.url: SQLite URLs take no query parameters ('" + url + "')");
    }
    s.sqlite_path = path;
    return s;
  }

  s.provider = DatabaseSettings::Provider::kPostgres;
  Params params;
  Status st = IsKeyValue(url) ? ParseKeyValue(url, &params, &s) : ParsePostgresUrl(url, &params);
  if (!st.ok()) return st;
  if (!values.password.empty()) SetParam(&params, "password", values.password);
  if (!values.sslmode.empty()) SetParam(&params, "sslmode", values.sslmode);
  std::string sslmode = Param(params, "sslmode");
  if (!sslmode.empty() && std::find(SslModes().begin(), SslModes().end(), sslmode) == SslModes().end()) {
    return InvalidArgument("database.url: sslmode '" + sslmode +
                           "' is not one of disable, allow, prefer, require, verify-ca, verify-full");
  }
  if (HasParam(params, "connect_timeout")) {
    auto secs = SecondsValue("connect_timeout", Param(params, "connect_timeout"));
    if (!secs.ok()) return secs.status();
    s.connect_timeout = *secs;
  } else {
    SetParam(&params, "connect_timeout", Seconds(values.connect_timeout));
  }
  if (!HasParam(params, "application_name")) SetParam(&params, "application_name", "trellis");

  for (const auto& [k, v] : params) {
    if (!s.pg_conninfo.empty()) s.pg_conninfo += ' ';
    s.pg_conninfo += k + "=" + QuoteConninfo(v);
  }
  s.host = Param(params, "host");
  s.port = Param(params, "port");
  s.dbname = Param(params, "dbname");
  s.user = Param(params, "user");
  s.sslmode = sslmode;
  return s;
}

std::string DatabaseSettings::Describe() const {
  if (provider == Provider::kSqlite) return "SQLite path=" + sqlite_path;
  std::string out = "PostgreSQL";
  auto add = [&](const char* name, const std::string& v) {
    if (!v.empty()) out += std::string(" ") + name + "=" + v;
  };
  add("host", host);
  add("port", port);
  add("db", dbname);
  add("user", user);
  add("sslmode", sslmode);
  return out;
}

std::string RedactDatabaseUrl(std::string_view url_view) {
  std::string url(url_view);
  if (IsPostgresUrl(url)) {
    size_t start = url.find("://") + 3;
    size_t end = url.find_first_of("/?", start);
    if (end == std::string::npos) end = url.size();
    size_t at = url.rfind('@', end);
    if (at != std::string::npos && at >= start) {
      size_t colon = url.find(':', start);
      if (colon != std::string::npos && colon < at) url.replace(colon + 1, at - colon - 1, "***");
    }
    // password=... in the query string.
    for (size_t q = url.find("password=", start); q != std::string::npos; q = url.find("password=", q + 1)) {
      if (url[q - 1] != '?' && url[q - 1] != '&') continue;
      size_t vstart = q + 9;
      size_t vend = url.find('&', vstart);
      url.replace(vstart, (vend == std::string::npos ? url.size() : vend) - vstart, "***");
    }
    return url;
  }
  if (IsKeyValue(url)) {
    auto pairs = SplitKeyValues(url);
    if (!pairs.ok()) return "***";  // cannot tell where the password is
    std::string out;
    for (const auto& [k, v] : *pairs) {
      std::string norm = NormalizeKeyword(k);
      bool secret = norm == "password" || norm == "pwd";
      std::string shown = secret ? std::string("***") : v;
      if (shown.find(';') != std::string::npos) {
        std::string quoted = "\"";
        for (char c : shown) quoted += c == '"' ? std::string("\"\"") : std::string(1, c);
        shown = quoted + "\"";
      }
      out += k + "=" + shown + ";";
    }
    return out;
  }
  return url;
}

}  // namespace trellis
