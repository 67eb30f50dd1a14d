// Where the store lives: parsed from `database.url` (and the other `database.*` keys) into one
// value that both providers open. Accepted forms (DESIGN.md section 5):
//   sqlite:///abs/path.db   sqlite://./relative.db   sqlite::memory:   ./data/trellis.db (a path)
//   postgresql://user:pass@host:5432/db?sslmode=require   (also postgres://)
//   Host=db;Port=5432;Database=trellis;Username=u;Password=p;SSL Mode=Require;Maximum Pool Size=20
// The password may also come from `database.password` / `database.password_file`.
#pragma once

#include <chrono>
#include <string>
#include <string_view>

#include "core/status.h"

namespace trellis {

struct DatabaseSettings {
  enum class Provider { kSqlite, kPostgres };
  Provider provider = Provider::kSqlite;

  // SQLite: a file path, or ":memory:".
  std::string sqlite_path = "./data/trellis.db";

  // PostgreSQL: a libpq conninfo string in keyword=value form, password included. Never log it;
  // Describe() is the loggable form.
  std::string pg_conninfo;
  std::string host, port, dbname, user, sslmode;  // for Describe()

  size_t pool_size = 25;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  bool auto_migrate = true;

  // "SQLite path=./data/trellis.db" or "PostgreSQL host=db port=5432 db=trellis user=app
  // sslmode=require": no password, ever.
  std::string Describe() const;
};

// The raw values of the database.* keys, as the configuration system resolved them.
struct DatabaseConfigValues {
  std::string url;       // required
  std::string provider;  // optional: "sqlite" | "postgres"; must agree with the URL
  std::string password;  // optional: overrides a password in the URL
  size_t pool_size = 25;
  std::chrono::milliseconds acquire_timeout{5000};
  std::chrono::milliseconds statement_timeout{30000};
  std::chrono::milliseconds connect_timeout{5000};
  std::string sslmode;  // optional: overrides the URL's
  bool auto_migrate = true;
};

// InvalidArgument with a message that says how to fix it (a contradicting provider, an unknown
// key-value keyword, a malformed URL, an unsupported scheme).
Result<DatabaseSettings> ParseDatabaseSettings(const DatabaseConfigValues& values);

// database.url with any password replaced by "***", for display (`trellis config`, logs).
std::string RedactDatabaseUrl(std::string_view url);

}  // namespace trellis
