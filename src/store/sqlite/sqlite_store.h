// The SQLite provider of Store: one node, one file in WAL mode, locked against a second process.
#pragma once

#include <memory>

#include "config/database.h"
#include "core/status.h"
#include "store/store.h"

namespace trellis {

// Opens (creating the file and its directory) and takes the exclusive lock on "<path>.lock":
// FailedPrecondition "... SQLite is single-node; use PostgreSQL for several replicas" when another
// process (or another open in this one) holds it. ":memory:" needs no lock. Does not migrate.
Result<std::unique_ptr<Store>> OpenSqliteStore(const DatabaseSettings& settings, const StoreOptions& options);

}  // namespace trellis
