// Small PostgreSQL helpers for tools and tests that have a URL rather than parsed settings, without
// exposing libpq: settings from a conninfo/URL, and a one-off statement on its own connection.
#pragma once

#include <string>

#include "config/database.h"
#include "core/status.h"

namespace trellis {

// DatabaseSettings for a libpq conninfo string or postgresql:// URL, with the Describe() fields
// (host, port, dbname, user, sslmode) filled in. InvalidArgument when libpq cannot parse it.
Result<DatabaseSettings> PostgresSettingsFromConninfo(const std::string& conninfo);

// Runs `sql` (one or more statements, no parameters) on a new connection, then closes it.
Status PostgresExecute(const std::string& conninfo, const std::string& sql);

}  // namespace trellis
