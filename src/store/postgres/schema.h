#pragma once

#include <vector>

#include "store/migrations.h"

namespace trellis {

// The PostgreSQL schema as numbered migrations (the same tables and columns as SQLite's).
const std::vector<Migration>& PostgresMigrations();

}  // namespace trellis
