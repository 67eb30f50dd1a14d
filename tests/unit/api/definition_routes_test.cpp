// Definitions through the API: create (JSON and YAML), validation problems with paths, versions,
// drafts, publish and retract, delete, validate, and the list with search and cursor pagination.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace trellis::api::testing {
namespace {

using ::testing::Contains;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

class DefinitionApiTest : public ApiTest {};
TRELLIS_API_SUITE(DefinitionApiTest);

Json Hello(const std::string& id, const std::string& text = "Hello") {
  return {{"id", id},
          {"name", "Say " + text},
          {"activities", {{{"id", "1"}, {"type", "WriteLine"}, {"text", text}}}}};
}

TEST_P(DefinitionApiTest, CreatesFromJsonAndAnswersWithTheStoredVersion) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto r = client().Post("/api/workflows", Hello("greet"));
  ASSERT_EQ(r.status, 201) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["id"], "greet");
  EXPECT_EQ(j["name"], "Say Hello");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["published"], false);
  EXPECT_EQ(j["draft"], true);
  EXPECT_EQ(j["definition"]["activities"][0]["text"], "Hello");
  EXPECT_EQ(r.Header("location"), "/api/workflows/greet/versions/1");
  EXPECT_FALSE(j.value("createdAt", "").empty());
}

TEST_P(DefinitionApiTest, CreatesFromYaml) {
  ASSERT_NO_FATAL_FAILURE(Start());
  std::string yaml =
      "id: from-yaml\n"
      "name: YAML workflow\n"
      "activities:\n"
      "  - {id: say, type: WriteLine, text: from yaml}\n";
  auto r = client().Send("POST", "/api/workflows?publish=true", yaml, {{"Content-Type", "application/yaml"}});
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.json()["published"], true);
  auto got = client().Get("/api/workflows/from-yaml");
  ASSERT_EQ(got.status, 200) << got.body;
  EXPECT_EQ(got.json()["definition"]["activities"][0]["text"], "from yaml");

  auto bad = client().Send("POST", "/api/workflows", "id: [unclosed", {{"Content-Type", "application/yaml"}});
  EXPECT_TRUE(IsProblem(bad, 400));
}

TEST_P(DefinitionApiTest, InvalidDefinitionListsEveryErrorWithItsPath) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Json def = {{"id", "broken"},
              {"activities",
               {{{"id", "a"}, {"type", "WriteLyne"}, {"text", "x"}},
                {{"id", "b"}, {"type", "HttpRequest"}},
                {{"id", "a"}, {"type", "Noop"}}}}};
  auto r = client().Post("/api/workflows", def);
  ASSERT_TRUE(IsProblem(r, 400));
  EXPECT_THAT(r.json()["type"].get<std::string>(), HasSubstr("invalid-definition"));
  auto paths = ErrorPaths(r);
  EXPECT_THAT(paths, Contains("activities[0].type"));
  EXPECT_THAT(paths, Contains("activities[1].inputs.url"));
  EXPECT_THAT(paths, Contains("activities[2].id"));
  for (const auto& e : r.json().value("errors", Json::array()))
    EXPECT_FALSE(e.value("message", "").empty()) << e.dump();
  EXPECT_EQ(client().Get("/api/workflows/broken").status, 404);

  auto missing = client().Post("/api/workflows", Json{{"id", "no-activities"}});
  ASSERT_TRUE(IsProblem(missing, 400));
  EXPECT_THAT(ErrorPaths(missing), Contains("activities"));
}

TEST_P(DefinitionApiTest, VersionsDraftsPublishAndRetract) {
  ASSERT_NO_FATAL_FAILURE(Start());
  ASSERT_EQ(CreateWorkflow(Hello("ver", "one"))["version"], 1);

  // v1 is frozen by its publication: an update makes draft v2, a second update replaces that draft.
  auto put = client().Put("/api/workflows/ver", Hello("ver", "two"));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["version"], 2);
  EXPECT_EQ(put.json()["draft"], true);
  put = client().Put("/api/workflows/ver", Hello("ver", "two again"));
  ASSERT_EQ(put.status, 200) << put.body;
  EXPECT_EQ(put.json()["version"], 2);

  // The latest is still the published v1 until v2 is published.
  EXPECT_EQ(client().Get("/api/workflows/ver").json()["version"], 1);
  auto versions = client().Get("/api/workflows/ver/versions");
  ASSERT_EQ(versions.status, 200) << versions.body;
  std::vector<int> numbers;
  for (const auto& v : Items(versions)) numbers.push_back(v["version"]);
  EXPECT_THAT(numbers, ::testing::UnorderedElementsAre(1, 2));
  auto v2 = client().Get("/api/workflows/ver/versions/2");
  ASSERT_EQ(v2.status, 200) << v2.body;
  EXPECT_EQ(v2.json()["definition"]["activities"][0]["text"], "two again");
  EXPECT_EQ(v2.json()["published"], false);
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows/ver/versions/9"), 404));
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows/ver/versions/zero"), 400));

  // Publish without a version takes the newest; with one, that version.
  auto pub = client().Post("/api/workflows/ver/publish", Json::object());
  ASSERT_EQ(pub.status, 200) << pub.body;
  EXPECT_EQ(pub.json()["version"], 2);
  EXPECT_EQ(pub.json()["published"], true);
  EXPECT_EQ(client().Get("/api/workflows/ver").json()["version"], 2);
  pub = client().Post("/api/workflows/ver/publish", Json{{"version", 1}});
  ASSERT_EQ(pub.status, 200) << pub.body;
  EXPECT_EQ(pub.json()["version"], 1);
  EXPECT_EQ(client().Get("/api/workflows/ver").json()["version"], 1);
  EXPECT_EQ(client().Get("/api/workflows/ver/versions/2").json()["published"], false);
  EXPECT_TRUE(IsProblem(client().Post("/api/workflows/ver/publish", Json{{"version", 7}}), 404));
  EXPECT_TRUE(IsProblem(client().Post("/api/workflows/ver/publish", Json{{"version", "1"}}), 400));

  // A frozen version cannot change: a PUT after publishing v2 made v3.
  ASSERT_EQ(client().Post("/api/workflows/ver/publish", Json{{"version", 2}}).status, 200);
  EXPECT_EQ(client().Put("/api/workflows/ver", Hello("ver", "three")).json()["version"], 3);

  // Retract: nothing is published, and executing without a version has nothing to run.
  auto retract = client().Post("/api/workflows/ver/retract", Json::object());
  ASSERT_EQ(retract.status, 200) << retract.body;
  EXPECT_EQ(retract.json()["published"], false);
  for (const auto& v : Items(client().Get("/api/workflows/ver/versions")))
    EXPECT_EQ(v["published"], false) << v.dump();
  EXPECT_TRUE(IsProblem(client().Post("/api/workflows/nothing/retract", Json::object()), 404));
  EXPECT_TRUE(IsProblem(client().Post("/api/workflows/nothing/publish", Json::object()), 404));
}

TEST_P(DefinitionApiTest, AnIdCannotInjectHeadersIntoTheAnswer) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto r = client().Post("/api/workflows", Hello("x\r\nX-Injected: yes"));
  EXPECT_NE(r.status, 0) << r.error;
  EXPECT_EQ(r.Header("x-injected"), "");
  if (r.status == 201) {
    EXPECT_EQ(r.Header("location"), "/api/workflows/x%0D%0AX-Injected%3A%20yes/versions/1");
  }
  EXPECT_EQ(client().Get("/health/live").status, 200);
}

TEST_P(DefinitionApiTest, PutChecksThatTheBodyIdMatchesThePath) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto r = client().Put("/api/workflows/left", Hello("right"));
  ASSERT_TRUE(IsProblem(r, 400));
  EXPECT_THAT(ErrorPaths(r), ElementsAre("id"));
  // Without an id the path's id is used.
  Json no_id = Hello("x");
  no_id.erase("id");
  auto created = client().Put("/api/workflows/from-path", no_id);
  ASSERT_EQ(created.status, 200) << created.body;
  EXPECT_EQ(created.json()["id"], "from-path");
}

TEST_P(DefinitionApiTest, DeleteRemovesEveryVersion) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Hello("gone"));
  ASSERT_EQ(client().Put("/api/workflows/gone", Hello("gone", "v2")).status, 200);
  auto del = client().Delete("/api/workflows/gone");
  EXPECT_EQ(del.status, 204) << del.body;
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows/gone"), 404));
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows/gone/versions"), 404));
  EXPECT_TRUE(IsProblem(client().Delete("/api/workflows/gone"), 404));
}

TEST_P(DefinitionApiTest, ValidateReportsWithoutStoring) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto ok = client().Post("/api/workflows/validate", Hello("checked"));
  ASSERT_EQ(ok.status, 200) << ok.body;
  EXPECT_EQ(ok.json()["valid"], true);
  EXPECT_TRUE(ok.json()["errors"].empty());

  Json bad = {{"activities", {{{"id", "w"}, {"type", "Delay"}, {"duration", "soon"}}}}};
  auto r = client().Post("/api/workflows/validate", bad);
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["valid"], false);
  ASSERT_FALSE(r.json()["errors"].empty());
  EXPECT_EQ(r.json()["errors"][0]["path"], "activities[0].inputs.duration");

  auto yaml = client().Send("POST", "/api/workflows/validate", "activities:\n  - {id: a, type: Nope}\n",
                            {{"Content-Type", "application/yaml"}});
  ASSERT_EQ(yaml.status, 200) << yaml.body;
  EXPECT_EQ(yaml.json()["errors"][0]["path"], "activities[0].type");
  EXPECT_TRUE(IsProblem(client().Get("/api/workflows/checked"), 404));
}

TEST_P(DefinitionApiTest, ListSearchesAndPagesWithACursor) {
  ASSERT_NO_FATAL_FAILURE(Start());
  for (const char* id : {"page-c", "page-a", "page-e", "page-b", "page-d"}) CreateWorkflow(Hello(id), false);
  CreateWorkflow(Hello("other"));

  std::vector<std::string> seen;
  std::string cursor;
  int pages = 0;
  do {
    std::string path = "/api/workflows?search=page&limit=2";
    if (!cursor.empty()) path += "&cursor=" + cursor;
    auto r = client().Get(path);
    ASSERT_EQ(r.status, 200) << r.body;
    Json j = r.json();
    EXPECT_LE(j["items"].size(), 2u);
    for (const auto& item : j["items"]) seen.push_back(item["id"]);
    cursor = j.value("nextCursor", "");
    ASSERT_LT(++pages, 10) << "the cursor never ends";
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(seen, ElementsAre("page-a", "page-b", "page-c", "page-d", "page-e"));

  auto all = client().Get("/api/workflows");
  ASSERT_EQ(all.status, 200);
  EXPECT_EQ(all.json()["items"].size(), 6u);
  EXPECT_FALSE(all.json().contains("nextCursor"));
  auto none = client().Get("/api/workflows?search=nothing-matches");
  EXPECT_TRUE(none.json()["items"].empty());
}

}  // namespace
}  // namespace trellis::api::testing
