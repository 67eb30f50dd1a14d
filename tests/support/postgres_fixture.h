// The PostgreSQL side of the store tests: a fresh database on the throwaway server that
// scripts/with-postgres (run by `make test`) starts. Tests fail, never skip, when it is missing.
#pragma once

#include <memory>
#include <string>

#include "store/store.h"

namespace trellis::testing {

// A store on a fresh, migrated database. Fails the calling test (and returns nullptr) when
// TRELLIS_TEST_POSTGRES_URL is not set or the server cannot be reached.
std::unique_ptr<Store> MakePostgresTestStore();

// Creates a fresh database through TRELLIS_TEST_POSTGRES_ADMIN_URL and returns its URL
// (postgresql://user:pass@host:port/t_<random>). Empty (with a test failure) on error.
std::string PostgresTestUrlForNewDatabase();

}  // namespace trellis::testing
