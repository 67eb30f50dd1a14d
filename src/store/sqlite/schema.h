#pragma once

#include <vector>

#include "store/migrations.h"

namespace trellis {

const std::vector<Migration>& SqliteMigrations();

}  // namespace trellis
