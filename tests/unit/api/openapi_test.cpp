// The OpenAPI document stays true: it lists exactly the router's routes, each operation names the role
// its route needs, and an OpenAPI 3.1 validator (tests/tools, installed by scripts/install-deps)
// accepts it and rejects broken variants of it.
#include "api/openapi.h"

#include <gtest/gtest.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <functional>
#include <set>
#include <sstream>
#include <string>
#include <utility>

#include "api/api.h"
#include "api/health.h"
#include "core/json.h"
#include "support/subprocess.h"

namespace trellis::api {
namespace {

namespace fs = std::filesystem;

const char* const kHttpMethods[] = {"get", "put", "post", "delete", "options", "head", "patch", "trace"};
// The methods the document gives a route registered for any method ("*": the webhooks).
const char* const kAnyMethods[] = {"GET", "POST", "PUT", "PATCH", "DELETE"};

struct RouteInfo {
  std::string method;  // upper case
  std::string path;    // OpenAPI form: {path...} becomes {path}
  std::string tag;     // the role
};

std::string Upper(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
  return s;
}

std::string Lower(std::string s) {
  for (auto& c : s) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return s;
}

// The routes `trellis server` serves. Adding routes only stores the handlers (they capture the
// contexts by reference and are never called here), so empty contexts do.
std::vector<RouteInfo> ServerRoutes() {
  static ApiContext ctx;
  static HealthContext health;
  http::Router router = BuildApiRouter(ctx);
  AddHealthRoutes(router, health);
  std::vector<RouteInfo> out;
  for (const auto& r : router.routes()) {
    std::string path = r->pattern;
    for (size_t at = path.find("...}"); at != std::string::npos; at = path.find("...}")) path.erase(at, 3);
    if (r->method == "*") {
      for (const char* m : kAnyMethods) out.push_back({m, path, r->tag});
    } else {
      out.push_back({r->method, path, r->tag});
    }
  }
  return out;
}

Json Document() {
  Json doc = Json::parse(OpenApiDocument(), nullptr, false);
  EXPECT_FALSE(doc.is_discarded()) << "the OpenAPI document is not valid JSON";
  return doc;
}

// (METHOD, path) of every operation in the document.
std::set<std::pair<std::string, std::string>> DocumentOperations(const Json& doc) {
  std::set<std::pair<std::string, std::string>> out;
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const char* m : kHttpMethods) {
      if (item.contains(m)) out.insert({Upper(m), path});
    }
  }
  return out;
}

// Follows a local "#/a/b" reference.
const Json& Resolve(const Json& doc, const Json& value) {
  if (!value.is_object() || !value.contains("$ref")) return value;
  std::string ref = value.at("$ref").get<std::string>();
  EXPECT_EQ(ref.rfind("#/", 0), 0u) << ref;
  return doc.at(Json::json_pointer(ref.substr(1)));
}

std::string FindOnPath(const std::string& program) {
  const char* path = std::getenv("PATH");
  std::stringstream dirs(path == nullptr ? "/usr/local/bin:/usr/bin:/bin" : path);
  std::string dir;
  while (std::getline(dirs, dir, ':')) {
    if (dir.empty()) continue;
    fs::path candidate = fs::path(dir) / program;
    if (access(candidate.c_str(), X_OK) == 0) return candidate.string();
  }
  return "";
}

fs::path ToolsDir() {
  return fs::path(TRELLIS_SOURCE_DIR) / "tests" / "tools";
}

// Writes `doc` to a temporary file and runs the validator on it.
testing::ProcessResult Validate(const std::string& doc) {
  static std::atomic<int> counter{0};
  fs::path file = fs::temp_directory_path() /
                  ("trellis-openapi-" + std::to_string(getpid()) + "-" + std::to_string(counter++) + ".json");
  {
    std::ofstream out(file);
    out << doc;
  }
  std::string node = FindOnPath("node");
  testing::ProcessResult result;
  if (node.empty()) {
    result.err = "node is not on PATH";
  } else {
    result = testing::RunProcess({node, (ToolsDir() / "validate-openapi.js").string(), file.string()});
  }
  fs::remove(file);
  return result;
}

// The validator must be installed: a missing tool fails the test rather than skipping the check.
::testing::AssertionResult ValidatorInstalled() {
  if (FindOnPath("node").empty()) {
    return ::testing::AssertionFailure()
           << "node is not on PATH; run scripts/install-deps (Node.js is needed "
              "for the OpenAPI validator in tests/tools)";
  }
  if (!fs::is_directory(ToolsDir() / "node_modules" / "@seriousme" / "openapi-schema-validator")) {
    return ::testing::AssertionFailure()
           << ToolsDir().string() << "/node_modules is missing; run scripts/install-deps";
  }
  return ::testing::AssertionSuccess();
}

TEST(OpenApiTest, DocumentIsOpenApi31Json) {
  Json doc = Document();
  ASSERT_TRUE(doc.is_object());
  EXPECT_EQ(doc.value("openapi", ""), "3.1.0");
  EXPECT_EQ(doc.at("info").value("title", ""), "Trellis API");
  EXPECT_FALSE(doc.at("info").value("version", "").empty());
  EXPECT_EQ(doc.at("servers"), Json::parse(R"([{"url": "/"}])"));
  const Json& schemes = doc.at("components").at("securitySchemes");
  EXPECT_EQ(schemes.at("bearerAuth").value("scheme", ""), "bearer");
  EXPECT_EQ(schemes.at("bearerAuth").value("bearerFormat", ""), "JWT");
  EXPECT_EQ(schemes.at("apiKey").value("in", ""), "header");
  EXPECT_EQ(schemes.at("apiKey").value("name", ""), "X-Api-Key");
  EXPECT_EQ(doc.at("security").size(), 2u);
}

TEST(OpenApiTest, ListsExactlyTheRoutersRoutes) {
  Json doc = Document();
  std::set<std::pair<std::string, std::string>> routes;
  for (const auto& r : ServerRoutes()) {
    EXPECT_TRUE(routes.insert({r.method, r.path}).second)
        << "the router has " << r.method << " " << r.path << " twice";
  }
  auto documented = DocumentOperations(doc);
  for (const auto& [method, path] : routes) {
    EXPECT_TRUE(documented.count({method, path})) << method << " " << path << " is routed but not documented";
  }
  for (const auto& [method, path] : documented) {
    EXPECT_TRUE(routes.count({method, path})) << method << " " << path << " is documented but not routed";
  }
  EXPECT_GE(routes.size(), 39u);  // 35 routes; the webhooks' one counts under five methods
}

TEST(OpenApiTest, EveryOperationHasAnIdTheRouteRoleAndResponses) {
  Json doc = Document();
  std::set<std::string> ids;
  for (const auto& r : ServerRoutes()) {
    std::string where = r.method + " " + r.path;
    const Json* item = doc.at("paths").contains(r.path) ? &doc.at("paths").at(r.path) : nullptr;
    if (item == nullptr || !item->contains(Lower(r.method)))
      continue;  // reported by ListsExactlyTheRoutersRoutes
    const Json& op = item->at(Lower(r.method));
    std::string id = op.value("operationId", "");
    EXPECT_FALSE(id.empty()) << where << " has no operationId";
    EXPECT_TRUE(ids.insert(id).second) << where << ": operationId " << id << " is used twice";
    EXPECT_EQ(op.value("x-trellis-role", ""), r.tag) << where << " must name the route's role";
    ASSERT_TRUE(op.contains("responses") && op.at("responses").is_object() && !op.at("responses").empty())
        << where << " has no responses";
    const Json& responses = op.at("responses");
    bool has_success = false;
    for (const auto& [status, _] : responses.items()) has_success = has_success || status[0] == '2';
    EXPECT_TRUE(has_success) << where << " documents no 2xx response";
    if (r.tag == kPublic) {
      EXPECT_EQ(op.value("security", Json(nullptr)), Json::array())
          << where << " is public: security must be []";
    } else {
      EXPECT_FALSE(op.contains("security"))
          << where << " needs credentials: it must keep the global security";
      EXPECT_TRUE(responses.contains("401")) << where;
      EXPECT_TRUE(responses.contains("403")) << where;
    }
    bool exempt = r.path.rfind("/health/", 0) == 0 || r.path == "/metrics";
    EXPECT_EQ(responses.contains("429"), !exempt)
        << where << ": 429 is documented exactly where rate limits apply";
    if (op.contains("requestBody")) {
      EXPECT_TRUE(responses.contains("413")) << where;
    }
  }
}

TEST(OpenApiTest, ErrorsAreProblemsWithRetryAfterOn429) {
  Json doc = Document();
  for (const auto& [path, item] : doc.at("paths").items()) {
    for (const char* m : kHttpMethods) {
      if (!item.contains(m)) continue;
      for (const auto& [status, ref] : item.at(m).at("responses").items()) {
        if (status == "default" || status[0] < '4') continue;
        if (path.rfind("/health/", 0) == 0 && status == "503") continue;  // probes answer JSON, not a problem
        const Json& response = Resolve(doc, ref);
        ASSERT_TRUE(response.contains("content")) << m << " " << path << " " << status;
        const Json& content = response.at("content");
        ASSERT_TRUE(content.contains("application/problem+json")) << m << " " << path << " " << status;
        EXPECT_EQ(content.at("application/problem+json").at("schema"),
                  Json({{"$ref", "#/components/schemas/Problem"}}));
        if (status == "429") {
          EXPECT_TRUE(response.at("headers").contains("Retry-After")) << m << " " << path;
        }
      }
    }
  }
  const Json& problem = doc.at("components").at("schemas").at("Problem");
  for (const char* field : {"type", "title", "status", "detail", "errors"}) {
    EXPECT_TRUE(problem.at("properties").contains(field)) << field;
  }
  const Json& metrics = doc.at("paths").at("/metrics").at("get").at("responses").at("200").at("content");
  EXPECT_TRUE(metrics.contains("text/plain"));
}

TEST(OpenApiTest, ValidatorAcceptsTheDocument) {
  ASSERT_TRUE(ValidatorInstalled());
  auto result = Validate(OpenApiDocument());
  EXPECT_EQ(result.exit_code, 0) << result.out << result.err;
  EXPECT_NE(result.out.find("valid OpenAPI 3.1.0"), std::string::npos) << result.out << result.err;
}

TEST(OpenApiTest, ValidatorRejectsBrokenDocuments) {
  ASSERT_TRUE(ValidatorInstalled());
  struct Case {
    const char* name;
    std::function<void(Json&)> breakit;
    const char* expect;  // in the validator's stderr
  };
  const Case cases[] = {
      {"a response object without its description",
       [](Json& d) {
         d["paths"]["/api/stats"]["get"]["responses"]["200"] = {{"content", Json::object()}};
       },
       "description"},
      {"a reference to a missing schema",
       [](Json& d) {
         d["paths"]["/api/stats"]["get"]["responses"]["200"]["content"]["application/json"]["schema"] = {
             {"$ref", "#/components/schemas/Missing"}};
       },
       "Missing"},
      {"a schema with an unknown keyword",
       [](Json& d) { d["components"]["schemas"]["Node"]["propertys"] = Json::object(); }, "propertys"},
      {"an undeclared path parameter",
       [](Json& d) { d["paths"]["/api/instances/{id}"]["get"]["parameters"] = Json::array(); },
       "path parameter 'id'"},
  };
  for (const auto& c : cases) {
    Json doc = Document();
    c.breakit(doc);
    auto result = Validate(doc.dump());
    EXPECT_EQ(result.exit_code, 1) << c.name << ": " << result.out << result.err;
    EXPECT_NE(result.err.find(c.expect), std::string::npos) << c.name << ": " << result.err;
  }
}

}  // namespace
}  // namespace trellis::api
