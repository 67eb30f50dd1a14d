// A corpus of bad requests, table-driven: each gets its 4xx as application/problem+json with type,
// title, status and detail, and afterwards the server is still healthy and still runs workflows.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace trellis::api::testing {
namespace {

using ::testing::HasSubstr;

class BadInputApiTest : public ApiTest {};
TRELLIS_API_SUITE(BadInputApiTest);

struct BadRequest {
  std::string name;
  std::string method;
  std::string path;
  std::string body;
  std::string content_type = "application/json";
  int status = 400;
  std::string authorization = "admin";  // "admin": a valid admin token; else sent as is ("" sends none)
  std::string header;                   // a response header that must be present (lower case)
};

std::vector<BadRequest> Corpus() {
  const std::string big(96 * 1024, 'x');
  return {
      {"malformed JSON", "POST", "/api/workflows", "{\"id\": "},
      {"truncated JSON", "POST", "/api/workflows/wf/execute", "{\"input\": {\"a\": 1}"},
      {"JSON array", "POST", "/api/workflows", "[1, 2, 3]"},
      {"JSON string", "POST", "/api/workflows/wf/execute", "\"run\""},
      {"JSON number", "POST", "/api/events/e", "42"},
      {"not JSON as text/plain", "POST", "/api/workflows/execute", "hello", "text/plain", 415},
      {"binary garbage", "POST", "/api/workflows", std::string("\x00\xff\xfe{", 4)},
      {"invalid UTF-8 in JSON", "POST", "/api/workflows", "{\"id\": \"\xc3\x28\"}"},
      {"input not an object", "POST", "/api/workflows/wf/execute", R"({"input": [1]})"},
      {"wait not a boolean", "POST", "/api/workflows/wf/execute", R"({"wait": 1})"},
      {"version a string", "POST", "/api/workflows/wf/execute", R"({"version": "2"})"},
      {"version a float", "POST", "/api/workflows/wf/execute", R"({"version": 1.5})"},
      {"version beyond int", "POST", "/api/workflows/wf/execute", R"({"version": 4294967297})"},
      {"publish version beyond int", "POST", "/api/workflows/wf/publish", R"({"version": 4294967297})"},
      {"unknown member", "POST", "/api/workflows/wf/execute", R"({"inputs": {}})"},
      {"unknown cancel member", "POST", "/api/instances/cancel", R"({"workflow": "wf"})"},
      {"publish version a string", "POST", "/api/workflows/wf/publish", R"({"version": "latest"})"},
      {"secret value a number", "PUT", "/api/secrets/NAME", R"({"value": 12345})"},
      {"secret name invalid", "PUT", "/api/secrets/not-valid", R"({"value": "abcdef"})"},
      {"definition: activities not a list", "POST", "/api/workflows", R"({"id": "x", "activities": {}})"},
      {"definition: unknown type", "POST", "/api/workflows",
       R"({"id": "x", "activities": [{"id": "a", "type": "Teleport"}]})"},
      {"definition: bad connection", "POST", "/api/workflows",
       R"({"id": "x", "activities": [{"id": "a", "type": "Noop"}], "connections": [{"from": "a", "to": "zz"}]})"},
      {"definition: bad id type", "POST", "/api/workflows",
       R"({"id": true, "activities": [{"id": "a", "type": "Noop"}]})"},
      {"definition: bad YAML", "POST", "/api/workflows", "id: x\nactivities: [\n", "application/yaml"},
      {"inline: bad definition", "POST", "/api/workflows/execute", R"({"workflow": {"activities": []}})"},
      {"huge body", "POST", "/api/workflows", "{\"id\": \"" + big + "\"}", "application/json", 413},
      {"unknown route", "GET", "/api/nothing-here", "", "application/json", 404},
      {"unknown nested route", "GET", "/api/workflows/wf/versions/1/extra", "", "application/json", 404},
      {"unknown workflow", "GET", "/api/workflows/no-such-thing", "", "application/json", 404},
      {"method not allowed", "PATCH", "/api/workflows", "{}", "application/json", 405, "admin", "allow"},
      {"method not allowed on an item", "POST", "/api/instances/abc", "{}", "application/json", 405, "admin",
       "allow"},
      {"limit zero", "GET", "/api/instances?limit=0", ""},
      {"limit too large", "GET", "/api/workflows?limit=100000", ""},
      {"limit not a number", "GET", "/api/webhooks/deliveries?limit=ten", ""},
      {"limit negative", "GET", "/api/instances?limit=-1", ""},
      {"bad status filter", "GET", "/api/instances?status=Sleeping", ""},
      {"bad createdAfter", "GET", "/api/instances?createdAfter=yesterday", ""},
      {"bad createdBefore", "GET", "/api/instances?createdBefore=2026-13-45T99:00:00Z", ""},
      {"bad instance cursor", "GET", "/api/instances?cursor=%21%21not-a-cursor", ""},
      {"bad definition cursor", "GET", "/api/workflows?cursor=%7B%7D", ""},
      {"bad journal cursor", "GET", "/api/instances/abc/journal?cursor=-5", ""},
      {"version not a number", "GET", "/api/workflows/wf/versions/abc", ""},
      {"version zero", "GET", "/api/workflows/wf/versions/0", ""},
      {"no credentials", "GET", "/api/workflows", "", "application/json", 401, "", "www-authenticate"},
      {"garbage token", "GET", "/api/workflows", "", "application/json", 401, "Bearer garbage",
       "www-authenticate"},
      {"token with three empty parts", "GET", "/api/instances", "", "application/json", 401, "Bearer ..",
       "www-authenticate"},
      {"wrong scheme", "GET", "/api/instances", "", "application/json", 401, "Digest abc",
       "www-authenticate"},
      {"huge token", "GET", "/api/instances", "", "application/json", 401, "Bearer " + std::string(9000, 'a'),
       "www-authenticate"},
  };
}

TEST_P(BadInputApiTest, EveryBadRequestGetsAProblemAndTheServerStaysHealthy) {
  std::string jwt_secret = RandomKey();
  ASSERT_NO_FATAL_FAILURE(Start({{"security.jwt_secret", jwt_secret},
                                 {"security.encryption_key", RandomKey()},
                                 {"limits.max_body", "64KiB"}}));
  CreateWorkflow({{"id", "wf"}, {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  std::string admin = "Bearer " + Token(security::Role::kAdmin);

  for (const auto& c : Corpus()) {
    SCOPED_TRACE(c.name);
    TestClient fresh(app().url());
    std::vector<std::pair<std::string, std::string>> headers;
    if (!c.body.empty() || c.method == "POST" || c.method == "PUT")
      headers.emplace_back("Content-Type", c.content_type);
    std::string auth = c.authorization == "admin" ? admin : c.authorization;
    if (!auth.empty()) headers.emplace_back("Authorization", auth);
    auto r = fresh.Send(c.method, c.path, c.body, headers);
    EXPECT_TRUE(IsProblem(r, c.status)) << c.method << " " << c.path;
    if (!c.header.empty()) {
      EXPECT_FALSE(r.Header(c.header).empty()) << "missing header " << c.header;
    }
  }

  // Percent-encoding that does not decode, and other targets a client library would not send.
  for (const char* target :
       {"/api/workflows/%zz", "/api/workflows/%4", "/api/instances?status=%G0", "/api/workflows/%00x"}) {
    SCOPED_TRACE(target);
    auto raw = test::RawExchange(
        app().port(),
        {std::string("GET ") + target +
         " HTTP/1.1\r\nHost: x\r\nConnection: close\r\nAuthorization: " + admin + "\r\n\r\n"},
        std::chrono::milliseconds(0), std::chrono::seconds(5));
    ASSERT_TRUE(raw.connected);
    EXPECT_EQ(raw.received.rfind("HTTP/1.1 400", 0), 0u) << raw.received;
    EXPECT_THAT(raw.received, HasSubstr("application/problem+json"));
    EXPECT_THAT(raw.received, HasSubstr("\"detail\""));
  }
  auto nonsense = test::RawExchange(app().port(), {"NOT-HTTP\r\n\r\n"}, std::chrono::milliseconds(0),
                                    std::chrono::seconds(5));
  EXPECT_EQ(nonsense.received.rfind("HTTP/1.1 400", 0), 0u) << nonsense.received;

  // Still healthy, and still running workflows.
  EXPECT_EQ(client().Get("/health/live").status, 200);
  EXPECT_EQ(client().Get("/health/ready").status, 200);
  auto run = Execute("wf", {{"wait", true}});
  ASSERT_EQ(run.status, 200) << run.body;
  EXPECT_EQ(run.json()["status"], "Completed");
}

}  // namespace
}  // namespace trellis::api::testing
