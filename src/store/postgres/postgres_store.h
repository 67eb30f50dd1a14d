// The PostgreSQL provider of Store (a cluster's shared database): a pool of libpq connections,
// prepared statements per connection, SKIP LOCKED claims, epoch-fenced group commits, advisory
// locks for migrations and per-event-name serialisation, and LISTEN/NOTIFY wake-ups.
#pragma once

#include <memory>

#include "config/database.h"
#include "core/status.h"
#include "store/store.h"

namespace trellis {

// Opens the pool and checks that one connection can be made: Unavailable (with Describe(), never
// the password) when the server cannot be reached. Does not migrate.
Result<std::unique_ptr<Store>> OpenPostgresStore(const DatabaseSettings& settings,
                                                 const StoreOptions& options);

}  // namespace trellis
