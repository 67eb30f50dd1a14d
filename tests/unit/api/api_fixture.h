// ApiTest: the whole `trellis server` (api::App) in-process on port 0, over a fresh SQLite file or a
// fresh database on the throwaway PostgreSQL server (scripts/with-postgres), with a TestClient.
// Every API test file derives a suite from it and instantiates it for both stores, so each
// behaviour is checked against both providers.
//
// Header-only on purpose: the api_tests target is built from tests/unit/api/*_test.cpp.
//
// Tests wait for conditions (WaitForStatus, WaitUntil) with generous deadlines and never assert on
// wall-clock time.
#pragma once

#include <gtest/gtest.h>
#include <openssl/hmac.h>
#include <stdlib.h>

#include <chrono>
#include <filesystem>
#include <functional>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <utility>
#include <vector>

#include "api/app.h"
#include "config/config.h"
#include "core/clock.h"
#include "core/json.h"
#include "core/log.h"
#include "runtime/open_store.h"
#include "runtime/services.h"
#include "security/api_key.h"
#include "security/encoding.h"
#include "security/jwt.h"
#include "support/postgres_fixture.h"
#include "support/test_client.h"

namespace trellis::api::testing {

using test::ClientResponse;
using test::TestClient;
using Flags = std::map<std::string, std::string>;

enum class Backend { kSqlite, kPostgres };

inline std::string BackendName(const ::testing::TestParamInfo<Backend>& info) {
  return info.param == Backend::kSqlite ? "Sqlite" : "Postgres";
}

// A fresh random key or secret, generated per test: base64 of 32 bytes from the CSPRNG.
inline std::string RandomKey() {
  return security::Base64Encode(security::RandomBytes(32));
}

// "sha256=<hex HMAC-SHA256 of body under key>", as GitHub's X-Hub-Signature-256.
inline std::string HubSignature(const std::string& key, const std::string& body) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(body.data()), body.size(), out, &len);
  return "sha256=" + security::HexEncode(std::string(reinterpret_cast<char*>(out), len));
}

// Polls `done` until it holds or `deadline` passes (checked every 20 ms). Returns the last result.
inline bool WaitUntil(const std::function<bool()>& done,
                      std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
  auto until = std::chrono::steady_clock::now() + deadline;
  while (true) {
    if (done()) return true;
    if (std::chrono::steady_clock::now() >= until) return false;
    std::this_thread::sleep_for(std::chrono::milliseconds(20));
  }
}

// A problem+json answer with the given status and the RFC 9457 members.
inline ::testing::AssertionResult IsProblem(const ClientResponse& r, int status) {
  if (r.status != status)
    return ::testing::AssertionFailure()
           << "status " << r.status << " (want " << status << "): " << r.body << r.error;
  if (r.Header("content-type").rfind("application/problem+json", 0) != 0)
    return ::testing::AssertionFailure() << "Content-Type is '" << r.Header("content-type") << "'";
  Json j = r.json();
  if (!j.is_object()) return ::testing::AssertionFailure() << "the body is not a JSON object: " << r.body;
  for (const char* key : {"type", "title", "detail"}) {
    if (!j.contains(key) || !j[key].is_string() || j[key].get<std::string>().empty())
      return ::testing::AssertionFailure() << "member '" << key << "' missing or empty: " << r.body;
  }
  if (!j.contains("status") || j["status"] != status)
    return ::testing::AssertionFailure() << "member 'status' is not " << status << ": " << r.body;
  return ::testing::AssertionSuccess();
}

// A list answer's `items`, by value (safe in a range-for, unlike r.json()["items"], whose Json
// temporary would be gone before the loop body runs).
inline Json Items(const ClientResponse& r) {
  Json j = r.json();
  return j.is_object() && j.contains("items") ? j["items"] : Json::array();
}

// The `path`s of a problem's `errors`.
inline std::vector<std::string> ErrorPaths(const ClientResponse& r) {
  std::vector<std::string> out;
  Json j = r.json();
  if (j.is_object() && j.contains("errors") && j["errors"].is_array()) {
    for (const auto& e : j["errors"]) out.push_back(e.value("path", ""));
  }
  return out;
}

class ApiTest : public ::testing::TestWithParam<Backend> {
 protected:
  void SetUp() override {
    std::string pattern = (std::filesystem::temp_directory_path() / "trellis-api-XXXXXX").string();
    ASSERT_NE(mkdtemp(pattern.data()), nullptr);
    dir_ = pattern;
  }

  void TearDown() override {
    StopApp();
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

  // The configuration of the app Start() builds: the test database, port 0, warn logs, and `flags`.
  Result<config::Config> LoadConfig(const Flags& flags) {
    if (database_url_.empty()) {
      if (GetParam() == Backend::kSqlite) {
        database_url_ = "sqlite://" + SqlitePath();
      } else {
        database_url_ = trellis::testing::PostgresTestUrlForNewDatabase();
      }
    }
    config::LoadOptions options;
    options.env = &env_;
    options.role = "server";
    options.default_config_path = (std::filesystem::path(dir_) / "absent.yaml").string();
    options.flags = {{"database.url", database_url_}, {"database.pool_size", "6"}, {"server.port", "0"},
                     {"server.workers", "4"},         {"log.level", "warn"},       {"log.format", "text"}};
    for (const auto& [k, v] : flags) options.flags[k] = v;
    return config::Config::Load(options);
  }

  // Opens the test database alone (migrated), e.g. to insert API keys before the app starts.
  std::unique_ptr<Store> OpenTestStore() {
    auto cfg = LoadConfig({});
    EXPECT_TRUE(cfg.ok()) << cfg.status().message();
    if (!cfg.ok()) return nullptr;
    auto values = config::DatabaseValues(*cfg);
    auto settings = ParseDatabaseSettings(*values);
    EXPECT_TRUE(settings.ok()) << settings.status().message();
    if (!settings.ok()) return nullptr;
    auto store = OpenStore(*settings, StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status().message();
    return store.ok() ? std::move(store).value() : nullptr;
  }

  // Builds and starts the app with `flags` on top of the test defaults; fails the test otherwise.
  void Start(const Flags& flags = {}) {
    ASSERT_EQ(app_, nullptr) << "Start() called twice";
    flags_ = flags;
    auto cfg = LoadConfig(flags);
    ASSERT_TRUE(cfg.ok()) << cfg.status().message();
    ConfigureLoggingFrom(*cfg);
    auto app = App::Create(*cfg, [](std::chrono::milliseconds) { return false; });
    ASSERT_TRUE(app.ok()) << app.status().message();
    app_ = std::move(app).value();
    Status started = app_->Start();
    ASSERT_TRUE(started.ok()) << started.message();
    client_ = std::make_unique<TestClient>(app_->url());
    if (auto it = flags.find("security.jwt_secret"); it != flags.end()) {
      client_->SetHeader("Authorization", "Bearer " + Token(security::Role::kAdmin));
    }
  }

  void StopApp() {
    client_.reset();
    if (app_) app_->Stop(std::chrono::seconds(5));
    app_.reset();
  }

  // A JWT for `role` under the configured security.jwt_secret.
  std::string Token(security::Role role, std::chrono::seconds ttl = std::chrono::hours(1),
                    TimePoint now = SystemClock::Instance().Now()) {
    auto token = security::MintJwt(flags_.at("security.jwt_secret"), role,
                                   "test-" + std::string(security::RoleName(role)), ttl, now);
    EXPECT_TRUE(token.ok()) << token.status().message();
    return token.ok() ? *token : "";
  }

  TestClient& client() { return *client_; }
  App& app() { return *app_; }
  std::string SqlitePath() const { return (std::filesystem::path(dir_) / "trellis.db").string(); }
  const std::string& dir() const { return dir_; }

  // Stores and publishes `definition` (201 expected); returns the answer's JSON.
  Json CreateWorkflow(const Json& definition, bool publish = true) {
    auto r = client().Post(std::string("/api/workflows") + (publish ? "?publish=true" : ""), definition);
    EXPECT_EQ(r.status, 201) << r.body;
    return r.json();
  }

  // POST /api/workflows/{id}/execute; returns the response.
  ClientResponse Execute(const std::string& id, const Json& body = Json::object()) {
    return client().Post("/api/workflows/" + id + "/execute", body);
  }

  // Starts an instance without waiting (202 expected); returns its id.
  std::string StartInstance(const std::string& id, const Json& body = Json::object()) {
    auto r = Execute(id, body);
    EXPECT_EQ(r.status, 202) << r.body;
    return r.json().value("id", "");
  }

  Json GetInstance(const std::string& id) {
    auto r = client().Get("/api/instances/" + id);
    EXPECT_EQ(r.status, 200) << r.body;
    return r.json();
  }

  // Polls the instance until its status is `status`; returns its last JSON.
  Json WaitForStatus(const std::string& id, const std::string& status,
                     std::chrono::milliseconds deadline = std::chrono::seconds(30)) {
    Json last;
    bool finished_elsewhere = false;
    bool reached = WaitUntil(
        [&] {
          auto r = client().Get("/api/instances/" + id);
          if (r.status != 200) return false;
          last = r.json();
          std::string now = last.value("status", "");
          // A different final status will not change any more (a Faulted one may be retried).
          if (now != status && (now == "Completed" || now == "Cancelled")) {
            finished_elsewhere = true;
            return true;
          }
          return now == status;
        },
        deadline);
    EXPECT_TRUE(reached && !finished_elsewhere)
        << "instance " << id << " did not reach " << status << "; last: " << last.dump();
    return last;
  }

 private:
  std::string dir_;
  std::string database_url_;
  std::map<std::string, std::string> env_;  // an empty environment: only the flags configure the app
  Flags flags_;
  std::unique_ptr<App> app_;
  std::unique_ptr<TestClient> client_;
};

// Instantiates a suite derived from ApiTest for SQLite and PostgreSQL.
#define TRELLIS_API_SUITE(Suite)                                                           \
  INSTANTIATE_TEST_SUITE_P(Stores, Suite,                                                  \
                           ::testing::Values(::trellis::api::testing::Backend::kSqlite,    \
                                             ::trellis::api::testing::Backend::kPostgres), \
                           ::trellis::api::testing::BackendName)

}  // namespace trellis::api::testing
