#include "support/postgres_fixture.h"

#include <gtest/gtest.h>

#include <cstdlib>
#include <random>

#include "store/postgres/postgres_admin.h"
#include "store/postgres/postgres_store.h"

namespace trellis::testing {

namespace {

constexpr const char* kMissing =
    "TRELLIS_TEST_POSTGRES_URL is not set: run the tests through `make test` or scripts/with-postgres";

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::string RandomSuffix() {
  static std::mt19937_64 rng{std::random_device{}()};
  static const char* kHex = "0123456789abcdef";
  std::string s;
  uint64_t v = rng();
  for (int i = 0; i < 16; ++i, v >>= 4) s.push_back(kHex[v & 15]);
  return s;
}

// The URL with its database (the path) replaced.
std::string WithDatabase(const std::string& url, const std::string& db) {
  size_t scheme = url.find("://");
  size_t slash = url.find('/', scheme == std::string::npos ? 0 : scheme + 3);
  if (slash == std::string::npos) return url + "/" + db;
  size_t query = url.find('?', slash);
  return url.substr(0, slash + 1) + db + (query == std::string::npos ? "" : url.substr(query));
}

}  // namespace

std::string PostgresTestUrlForNewDatabase() {
  std::string url = Env("TRELLIS_TEST_POSTGRES_URL");
  std::string admin = Env("TRELLIS_TEST_POSTGRES_ADMIN_URL");
  if (url.empty() || admin.empty()) {
    ADD_FAILURE() << kMissing;
    return "";
  }
  auto settings = PostgresSettingsFromConninfo(url);
  if (!settings.ok()) {
    ADD_FAILURE() << "TRELLIS_TEST_POSTGRES_URL: " << settings.status().ToString();
    return "";
  }
  std::string db = "t_" + RandomSuffix();
  Status s = PostgresExecute(admin, "CREATE DATABASE " + db + " OWNER \"" + settings->user + "\"");
  if (!s.ok()) {
    ADD_FAILURE() << "cannot create a test database: " << s.ToString();
    return "";
  }
  return WithDatabase(url, db);
}

std::unique_ptr<Store> MakePostgresTestStore() {
  std::string url = PostgresTestUrlForNewDatabase();
  if (url.empty()) return nullptr;
  auto settings = PostgresSettingsFromConninfo(url);
  if (!settings.ok()) {
    ADD_FAILURE() << settings.status().ToString();
    return nullptr;
  }
  settings->pool_size = 8;
  auto store = OpenPostgresStore(*settings, StoreOptions{});
  if (!store.ok()) {
    ADD_FAILURE() << "cannot open the test store: " << store.status().ToString();
    return nullptr;
  }
  auto migrated = (*store)->Migrate();
  if (!migrated.ok()) {
    ADD_FAILURE() << "cannot migrate the test store: " << migrated.status().ToString();
    return nullptr;
  }
  return std::move(store).value();
}

}  // namespace trellis::testing
