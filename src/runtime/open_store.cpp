#include "runtime/open_store.h"

#include "core/log.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"

namespace trellis {

Result<std::unique_ptr<Store>> OpenStore(const DatabaseSettings& settings, const StoreOptions& options) {
  Result<std::unique_ptr<Store>> store = settings.provider == DatabaseSettings::Provider::kSqlite
                                             ? OpenSqliteStore(settings, options)
                                             : OpenPostgresStore(settings, options);
  if (!store.ok()) return store.status();
  LogInfo("Using " + settings.Describe());
  if (settings.auto_migrate) {
    auto applied = (*store)->Migrate();
    if (!applied.ok()) return applied.status();
  }
  return store;
}

}  // namespace trellis
