// Opens the store the settings name (the provider follows from the URL) and, when
// `settings.auto_migrate` is on, applies pending migrations (under the provider's lock).
#pragma once

#include <memory>

#include "config/database.h"
#include "store/store.h"

namespace trellis {

Result<std::unique_ptr<Store>> OpenStore(const DatabaseSettings& settings, const StoreOptions& options);

}  // namespace trellis
