// Numbered, checksummed schema migrations, shared by both providers. Each provider lists its own
// SQL (store/sqlite/schema.cpp, store/postgres/schema.cpp); this file decides what to apply and
// refuses to go on when an applied migration's text has changed since.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "store/store.h"

namespace trellis {

struct Migration {
  int version = 0;
  std::string name;  // e.g. "init"
  std::string sql;   // one or more statements
};

// Lowercase hex SHA-256 of the migration's SQL.
std::string MigrationChecksum(const Migration& m);

// What is applied (from schema_migrations) against what the binary carries. Returns the
// migrations still to apply, in order, or FailedPrecondition when an applied migration's checksum
// differs from the binary's, or the database has a migration this binary does not know (it was
// migrated by a newer Trellis).
Result<std::vector<const Migration*>> PlanMigrations(const std::vector<Migration>& known,
                                                     const std::vector<MigrationInfo>& applied);

// The status list: every known migration, with applied_at from `applied` when present.
std::vector<MigrationInfo> MigrationStatusList(const std::vector<Migration>& known,
                                               const std::vector<MigrationInfo>& applied);

}  // namespace trellis
