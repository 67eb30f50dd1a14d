// Authentication and roles: JWTs (missing, malformed, expired, alg none, wrong secret), the four
// roles, API keys, the routes that need no credentials, and the loopback-only rule when no
// authentication is configured.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace trellis::api::testing {
namespace {

using security::Role;
using ::testing::HasSubstr;

class AuthApiTest : public ApiTest {
 protected:
  void StartWithJwt(Flags flags = {}) {
    jwt_secret_ = RandomKey();
    flags["security.jwt_secret"] = jwt_secret_;
    flags["security.encryption_key"] = RandomKey();
    Start(flags);
  }

  // A request with exactly these credentials (the fixture's client sends an admin token).
  ClientResponse As(const std::string& method, const std::string& path, const std::string& authorization,
                    const Json& body = nullptr) {
    TestClient c(app().url());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!authorization.empty()) headers.emplace_back("Authorization", authorization);
    if (!body.is_null()) headers.emplace_back("Content-Type", "application/json");
    return c.Send(method, path, body.is_null() ? "" : body.dump(), headers);
  }
  ClientResponse As(Role role, const std::string& method, const std::string& path,
                    const Json& body = nullptr) {
    return As(method, path, "Bearer " + Token(role), body);
  }

  std::string jwt_secret_;
};
TRELLIS_API_SUITE(AuthApiTest);

Json Hello(const std::string& id) {
  return {{"id", id}, {"activities", {{{"id", "1"}, {"type", "WriteLine"}, {"text", "hi"}}}}};
}

TEST_P(AuthApiTest, RequestsWithoutValidCredentialsAre401) {
  ASSERT_NO_FATAL_FAILURE(StartWithJwt());
  auto none = As("GET", "/api/workflows", "");
  ASSERT_TRUE(IsProblem(none, 401));
  EXPECT_EQ(none.Header("www-authenticate"), "Bearer");

  TimePoint now = SystemClock::Instance().Now();
  auto expired =
      security::MintJwt(jwt_secret_, Role::kAdmin, "old", std::chrono::hours(1), now - std::chrono::hours(3));
  auto other = security::MintJwt(RandomKey(), Role::kAdmin, "mallory", std::chrono::hours(1), now);
  ASSERT_TRUE(expired.ok() && other.ok());
  auto b64 = [](const std::string& s) { return security::Base64UrlEncode(s); };
  int64_t exp = std::chrono::duration_cast<std::chrono::seconds>(now.time_since_epoch()).count() + 3600;
  std::string claims = b64(R"({"sub":"x","role":"admin","exp":)" + std::to_string(exp) + "}");
  std::string alg_none = b64(R"({"alg":"none","typ":"JWT"})") + "." + claims + ".";
  // A valid token's signature on another payload.
  std::string good = Token(Role::kViewer);
  std::string swapped = good.substr(0, good.find('.')) + "." + claims + good.substr(good.rfind('.'));

  for (const std::string& auth :
       {"Bearer " + *expired, "Bearer " + *other, "Bearer " + alg_none, "Bearer " + swapped,
        std::string("Bearer not.a.jwt"), std::string("Bearer "), std::string("Basic dXNlcjpwYXNz"),
        "Token " + good}) {
    auto r = As("GET", "/api/workflows", auth);
    EXPECT_TRUE(IsProblem(r, 401)) << auth;
    EXPECT_EQ(r.Header("www-authenticate"), "Bearer") << auth;
    EXPECT_THAT(r.body, ::testing::Not(HasSubstr(jwt_secret_)));
  }
  EXPECT_EQ(As("GET", "/api/workflows", "bearer " + good).status, 200);
}

TEST_P(AuthApiTest, RolesGateTheRoutes) {
  ASSERT_NO_FATAL_FAILURE(StartWithJwt());
  CreateWorkflow({{"id", "wait"}, {"activities", {{{"id", "w"}, {"type", "WaitForEvent"}, {"event", "e"}}}}});

  // viewer: reads only.
  EXPECT_EQ(As(Role::kViewer, "GET", "/api/workflows").status, 200);
  EXPECT_EQ(As(Role::kViewer, "GET", "/api/instances").status, 200);
  EXPECT_EQ(As(Role::kViewer, "GET", "/api/stats").status, 200);
  auto denied = As(Role::kViewer, "POST", "/api/workflows/wait/execute", Json::object());
  ASSERT_TRUE(IsProblem(denied, 403));
  EXPECT_THAT(denied.json()["detail"].get<std::string>(), HasSubstr("operator"));
  EXPECT_TRUE(IsProblem(As(Role::kViewer, "POST", "/api/events/e", Json::object()), 403));

  // operator: runs and cancels, but does not change definitions or secrets.
  auto run = As(Role::kOperator, "POST", "/api/workflows/wait/execute", Json{{"wait", true}});
  ASSERT_EQ(run.status, 200) << run.body;
  std::string id = run.json()["id"];
  EXPECT_EQ(As(Role::kOperator, "POST", "/api/instances/" + id + "/cancel", Json::object()).status, 202);
  WaitForStatus(id, "Cancelled");
  EXPECT_TRUE(IsProblem(As(Role::kOperator, "POST", "/api/workflows", Hello("op")), 403));
  EXPECT_TRUE(IsProblem(As(Role::kOperator, "DELETE", "/api/workflows/wait"), 403));

  // editor: definitions, not secrets.
  EXPECT_EQ(As(Role::kEditor, "POST", "/api/workflows", Hello("ed")).status, 201);
  EXPECT_EQ(As(Role::kEditor, "POST", "/api/workflows/ed/publish", Json::object()).status, 200);
  EXPECT_TRUE(IsProblem(As(Role::kEditor, "GET", "/api/secrets"), 403));
  EXPECT_TRUE(IsProblem(As(Role::kEditor, "PUT", "/api/secrets/K", Json{{"value", "abcdef"}}), 403));

  // admin: secrets too.
  EXPECT_EQ(As(Role::kAdmin, "PUT", "/api/secrets/K", Json{{"value", "abcdef"}}).status, 200);
  EXPECT_EQ(As(Role::kAdmin, "GET", "/api/secrets").status, 200);
  EXPECT_EQ(As(Role::kAdmin, "DELETE", "/api/secrets/K").status, 204);
}

TEST_P(AuthApiTest, ProbesMetricsWebhooksAndOpenApiNeedNoCredentials) {
  ASSERT_NO_FATAL_FAILURE(StartWithJwt());
  CreateWorkflow({{"id", "hooked"},
                  {"triggers", {{{"type", "Webhook"}, {"path", "public"}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  for (const char* path :
       {"/health/live", "/health/ready", "/health/startup", "/metrics", "/api/openapi.json"}) {
    EXPECT_EQ(As("GET", path, "").status, 200) << path;
  }
  EXPECT_EQ(As("POST", "/hooks/public", "", Json::object()).status, 202);
  // Even a bad token does not block a public route.
  EXPECT_EQ(As("GET", "/health/live", "Bearer nonsense").status, 200);
}

TEST_P(AuthApiTest, ApiKeysAuthenticate) {
  security::GeneratedApiKey viewer = security::GenerateApiKey();
  security::GeneratedApiKey admin = security::GenerateApiKey();
  security::GeneratedApiKey old = security::GenerateApiKey();
  {
    auto store = OpenTestStore();
    ASSERT_NE(store, nullptr);
    for (auto [key, role] : {std::pair{&viewer, "viewer"}, std::pair{&admin, "admin"}}) {
      ApiKeyRecord record;
      record.id = std::string("key-") + role;
      record.name = std::string("test ") + role;
      record.prefix = key->prefix;
      record.hash = key->hash;
      record.role = role;
      ASSERT_TRUE(store->InsertApiKey(record).ok());
    }
    ApiKeyRecord expired;
    expired.id = "key-expired";
    expired.name = "expired admin";
    expired.prefix = old.prefix;
    expired.hash = old.hash;
    expired.role = "admin";
    expired.expires_at = SystemClock::Instance().Now() - std::chrono::hours(1);
    ASSERT_TRUE(store->InsertApiKey(expired).ok());
  }
  // API keys alone turn authentication on (no JWT secret).
  ASSERT_NO_FATAL_FAILURE(Start({{"security.encryption_key", RandomKey()}}));
  auto with_key = [&](const std::string& key, const std::string& method, const std::string& path,
                      const Json& body) {
    TestClient c(app().url());
    return c.Send(method, path, body.is_null() ? "" : body.dump(),
                  {{"X-Api-Key", key}, {"Content-Type", "application/json"}});
  };
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows"), 401));
  EXPECT_EQ(with_key(viewer.key, "GET", "/api/workflows", nullptr).status, 200);
  EXPECT_TRUE(IsProblem(with_key(viewer.key, "POST", "/api/workflows", Hello("v")), 403));
  EXPECT_EQ(with_key(admin.key, "POST", "/api/workflows", Hello("a")).status, 201);
  EXPECT_EQ(with_key(admin.key, "PUT", "/api/secrets/S", Json{{"value", "abcdef"}}).status, 200);

  auto expired = with_key(old.key, "GET", "/api/workflows", nullptr);
  ASSERT_TRUE(IsProblem(expired, 401));
  EXPECT_THAT(expired.json()["detail"].get<std::string>(), HasSubstr("expired"));
  auto unknown = with_key(security::GenerateApiKey().key, "GET", "/api/workflows", nullptr);
  EXPECT_TRUE(IsProblem(unknown, 401));
  EXPECT_TRUE(IsProblem(with_key("not-a-key", "GET", "/api/workflows", nullptr), 401));
  // A bearer token is refused when no JWT secret is configured.
  EXPECT_TRUE(
      IsProblem(client().Send("GET", "/api/workflows", "", {{"Authorization", "Bearer a.b.c"}}), 401));
}

TEST_P(AuthApiTest, WithoutAuthenticationTheServerListensOnLoopbackOnly) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_THAT(app().url(), ::testing::StartsWith("http://127.0.0.1:"));
  // Everything is allowed (every request acts as admin).
  EXPECT_EQ(client().Post("/api/workflows", Hello("anon")).status, 201);
  StopApp();

  auto cfg = LoadConfig({{"server.host", "0.0.0.0"}});
  ASSERT_TRUE(cfg.ok()) << cfg.status().message();
  auto refused = App::Create(*cfg, [](std::chrono::milliseconds) { return false; });
  ASSERT_FALSE(refused.ok());
  EXPECT_THAT(refused.status().message(), HasSubstr("refusing"));
  EXPECT_THAT(refused.status().message(), HasSubstr("security.allow_anonymous"));

  auto allowed_cfg = LoadConfig({{"server.host", "0.0.0.0"}, {"security.allow_anonymous", "true"}});
  ASSERT_TRUE(allowed_cfg.ok());
  auto allowed = App::Create(*allowed_cfg, [](std::chrono::milliseconds) { return false; });
  ASSERT_TRUE(allowed.ok()) << allowed.status().message();
}

}  // namespace
}  // namespace trellis::api::testing
