// Instances through the API: list with filters and cursor pagination, the full instance JSON, the
// journal with pagination, cancel, retry of a faulted instance, delete, and bulk cancel/delete.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <atomic>
#include <set>

#include "api_fixture.h"
#include "support/test_http_server.h"

namespace trellis::api::testing {
namespace {

using ::testing::ElementsAre;
using ::testing::UnorderedElementsAreArray;

class InstanceApiTest : public ApiTest {};
TRELLIS_API_SUITE(InstanceApiTest);

Json Waiter(const std::string& id) {
  return {{"id", id}, {"activities", {{{"id", "wait"}, {"type", "WaitForEvent"}, {"event", id + ".go"}}}}};
}

Json Quick(const std::string& id) {
  return {{"id", id}, {"activities", {{{"id", "n"}, {"type", "Noop"}}}}};
}

// Ids of every instance GET /api/instances returns for `query`, following nextCursor.
std::vector<std::string> ListAll(TestClient& c, const std::string& query, int* pages = nullptr) {
  std::vector<std::string> ids;
  std::string cursor;
  int n = 0;
  do {
    std::string path = "/api/instances?" + query + (cursor.empty() ? "" : "&cursor=" + cursor);
    auto r = c.Get(path);
    EXPECT_EQ(r.status, 200) << path << ": " << r.body;
    if (r.status != 200) break;
    for (const auto& item : Items(r)) ids.push_back(item["id"]);
    cursor = r.json().value("nextCursor", "");
    if (++n > 20) break;
  } while (!cursor.empty());
  if (pages != nullptr) *pages = n;
  return ids;
}

TEST_P(InstanceApiTest, GetShowsEveryField) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(
      {{"id", "fields"},
       {"variables", {{"count", 1}}},
       {"activities",
        {{{"id", "set"}, {"type", "SetVariable"}, {"name", "count"}, {"value", 2}},
         {{"id", "out"}, {"type", "SetOutput"}, {"name", "result"}, {"value", "{{ input.x }}"}}}}});
  auto r = Execute("fields", {{"input", {{"x", "y"}}}, {"correlationId", "corr-9"}, {"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = GetInstance(r.json()["id"]);
  for (const char* key :
       {"id", "workflowId", "version", "status", "input", "output", "variables", "correlationId", "parentId",
        "incidents", "bookmarks", "createdAt", "updatedAt", "finishedAt"}) {
    EXPECT_TRUE(j.contains(key)) << key << " missing from " << j.dump();
  }
  EXPECT_EQ(j["id"], r.json()["id"]);
  EXPECT_EQ(j["workflowId"], "fields");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["status"], "Completed");
  EXPECT_EQ(j["input"], (Json{{"x", "y"}}));
  EXPECT_EQ(j["output"], (Json{{"result", "y"}}));
  EXPECT_EQ(j["variables"], (Json{{"count", 2}}));
  EXPECT_EQ(j["correlationId"], "corr-9");
  EXPECT_TRUE(j["parentId"].is_null());
  EXPECT_TRUE(j["incidents"].empty());
  EXPECT_TRUE(j["bookmarks"].empty());
  EXPECT_FALSE(j["finishedAt"].is_null());
  EXPECT_TRUE(ParseTime(j["createdAt"].get<std::string>()).ok());
  EXPECT_TRUE(ParseTime(j["updatedAt"].get<std::string>()).ok());
  EXPECT_TRUE(IsProblem(client().Get("/api/instances/01900000-0000-7000-8000-000000000000"), 404));
}

TEST_P(InstanceApiTest, ListFiltersAndPages) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Quick("quick"));
  CreateWorkflow(Waiter("slow"));
  std::vector<std::string> quick, slow;
  for (int i = 0; i < 3; ++i) {
    auto r = Execute("quick", {{"wait", true}, {"correlationId", i == 0 ? "first" : "other"}});
    ASSERT_EQ(r.status, 200) << r.body;
    quick.push_back(r.json()["id"]);
  }
  for (int i = 0; i < 2; ++i) {
    auto r = Execute("slow", {{"wait", true}});
    ASSERT_EQ(r.status, 200) << r.body;
    ASSERT_EQ(r.json()["status"], "Suspended");
    slow.push_back(r.json()["id"]);
  }
  std::vector<std::string> all = quick;
  all.insert(all.end(), slow.begin(), slow.end());

  int pages = 0;
  EXPECT_THAT(ListAll(client(), "limit=2", &pages), UnorderedElementsAreArray(all));
  EXPECT_EQ(pages, 3);
  EXPECT_THAT(ListAll(client(), "status=Suspended"), UnorderedElementsAreArray(slow));
  EXPECT_THAT(ListAll(client(), "status=Completed&limit=1"), UnorderedElementsAreArray(quick));
  EXPECT_THAT(ListAll(client(), "workflowId=slow"), UnorderedElementsAreArray(slow));
  EXPECT_THAT(ListAll(client(), "correlationId=first"), ElementsAre(quick[0]));
  EXPECT_TRUE(ListAll(client(), "workflowId=none").empty());

  // createdAfter is inclusive, createdBefore exclusive.
  std::string first_created = GetInstance(quick[0])["createdAt"];
  std::string last_created = GetInstance(slow[1])["createdAt"];
  auto after = ListAll(client(), "createdAfter=" + last_created);
  EXPECT_NE(std::find(after.begin(), after.end(), slow[1]), after.end());
  EXPECT_EQ(std::find(after.begin(), after.end(), quick[0]), after.end());
  auto before = ListAll(client(), "createdBefore=" + first_created);
  EXPECT_EQ(std::find(before.begin(), before.end(), quick[0]), before.end());
  EXPECT_TRUE(ListAll(client(), "createdAfter=2200-01-01T00:00:00Z").empty());
  EXPECT_THAT(ListAll(client(), "createdAfter=2000-01-01T00:00:00Z&createdBefore=2200-01-01T00:00:00Z"),
              UnorderedElementsAreArray(all));

  // Summaries carry the status and times.
  auto page = client().Get("/api/instances?workflowId=quick&limit=1");
  ASSERT_EQ(page.status, 200);
  Json item = page.json()["items"][0];
  EXPECT_EQ(item["status"], "Completed");
  EXPECT_EQ(item["workflowId"], "quick");
  EXPECT_TRUE(page.json().contains("nextCursor"));
}

TEST_P(InstanceApiTest, JournalPages) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Json activities = Json::array();
  for (int i = 1; i <= 5; ++i) {
    activities.push_back(
        {{"id", "w" + std::to_string(i)}, {"type", "WriteLine"}, {"text", "line " + std::to_string(i)}});
  }
  activities.push_back({{"id", "bad"}, {"type", "Fail"}, {"message", "stop here"}});
  CreateWorkflow({{"id", "lines"}, {"activities", activities}});
  auto r = Execute("lines", {{"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  std::string id = r.json()["id"];

  std::vector<Json> items;
  std::string cursor;
  int pages = 0;
  do {
    auto page = client().Get("/api/instances/" + id + "/journal?limit=2" +
                             (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.body;
    for (const auto& item : Items(page)) items.push_back(item);
    cursor = page.json().value("nextCursor", "");
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(items.size(), 6u);
  for (int i = 0; i < 5; ++i) {
    const Json& e = items[static_cast<size_t>(i)];
    EXPECT_EQ(e["activityId"], "w" + std::to_string(i + 1));
    EXPECT_EQ(e["type"], "WriteLine");
    EXPECT_EQ(e["status"], "Completed");
    EXPECT_EQ(e["attempt"], 1);
    EXPECT_TRUE(ParseTime(e.value("startedAt", "")).ok()) << e.dump();
    EXPECT_TRUE(ParseTime(e.value("finishedAt", "")).ok()) << e.dump();
    EXPECT_EQ(e["output"], "line " + std::to_string(i + 1));
  }
  EXPECT_EQ(items[5]["status"], "Faulted");
  EXPECT_THAT(items[5].value("error", ""), ::testing::HasSubstr("stop here"));
  EXPECT_FALSE(items[5].contains("output"));

  EXPECT_TRUE(IsProblem(client().Get("/api/instances/" + id + "/journal?cursor=abc"), 400));
  EXPECT_TRUE(IsProblem(client().Get("/api/instances/nope/journal"), 404));
}

TEST_P(InstanceApiTest, JournalFlagsTruncatedOutputs) {
  ASSERT_NO_FATAL_FAILURE(Start({{"limits.journal_payload", "1KiB"}}));
  CreateWorkflow({{"id", "long"},
                  {"activities",
                   {{{"id", "big"}, {"type", "WriteLine"}, {"text", std::string(4096, 'z')}},
                    {{"id", "small"}, {"type", "WriteLine"}, {"text", "short"}}}}});
  auto r = Execute("long", {{"wait", true}});
  ASSERT_EQ(r.json()["status"], "Completed") << r.body;
  auto journal = client().Get("/api/instances/" + r.json()["id"].get<std::string>() + "/journal");
  ASSERT_EQ(journal.status, 200) << journal.body;
  Json items = Items(journal);
  ASSERT_EQ(items.size(), 2u);
  EXPECT_EQ(items[0].value("truncated", false), true) << items[0].dump();
  EXPECT_LT(items[0].dump().size(), 4096u);
  EXPECT_FALSE(items[1].contains("truncated"));
  EXPECT_EQ(items[1]["output"], "short");
}

TEST_P(InstanceApiTest, CancelASuspendedInstance) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Waiter("held"));
  auto r = Execute("held", {{"wait", true}});
  ASSERT_EQ(r.json()["status"], "Suspended") << r.body;
  std::string id = r.json()["id"];
  auto cancel = client().Post("/api/instances/" + id + "/cancel", Json{{"reason", "no longer needed"}});
  ASSERT_EQ(cancel.status, 202) << cancel.body;
  EXPECT_EQ(cancel.json()["cancelRequested"], true);
  Json done = WaitForStatus(id, "Cancelled");
  EXPECT_FALSE(done["finishedAt"].is_null());
  // A finished instance cannot be cancelled again; an unknown one is 404.
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/" + id + "/cancel", Json::object()), 409));
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/nope/cancel", Json::object()), 404));
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/" + id + "/cancel", Json{{"reason", 5}}), 400));
}

TEST_P(InstanceApiTest, RetryResumesAFaultedInstanceFromTheFailedActivity) {
  std::atomic<int> calls{0};
  test::TestHttpServer upstream([&](const test::TestHttpRequest&) {
    test::TestHttpResponse resp;
    resp.status = calls.fetch_add(1) == 0 ? 503 : 200;
    resp.headers = {{"Content-Type", "application/json"}};
    resp.body = R"({"answer": 42})";
    return resp;
  });
  ASSERT_NO_FATAL_FAILURE(Start({{"http.allow_hosts", "127.0.0.1"}}));
  CreateWorkflow({{"id", "flaky"},
                  {"variables", {{"before", 0}}},
                  {"activities",
                   {{{"id", "mark"}, {"type", "SetVariable"}, {"name", "before"}, {"value", 1}},
                    {{"id", "call"}, {"type", "HttpRequest"}, {"url", upstream.Url("/answer")}},
                    {{"id", "out"},
                     {"type", "SetOutput"},
                     {"name", "answer"},
                     {"value", "{{ outputs.call.body.answer }}"}}}}});
  auto r = Execute("flaky", {{"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  ASSERT_EQ(r.json()["status"], "Faulted") << r.body;
  std::string id = r.json()["id"];
  EXPECT_EQ(r.json()["incidents"][0]["activityId"], "call");
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/nope/retry", Json::object()), 404));

  auto retry = client().Post("/api/instances/" + id + "/retry", Json::object());
  ASSERT_EQ(retry.status, 202) << retry.body;
  Json done = WaitForStatus(id, "Completed");
  EXPECT_EQ(done["output"]["answer"], 42);
  EXPECT_EQ(done["variables"]["before"], 1);
  EXPECT_EQ(calls.load(), 2);
  // Only a Faulted instance can be retried.
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/" + id + "/retry", Json::object()), 409));
  // The journal has the failed attempt and the successful one of `call`, and `mark` once.
  auto journal = client().Get("/api/instances/" + id + "/journal");
  std::vector<std::string> steps;
  for (const auto& e : Items(journal))
    steps.push_back(e["activityId"].get<std::string>() + ":" + e["status"].get<std::string>());
  EXPECT_THAT(steps, ElementsAre("mark:Completed", "call:Faulted", "call:Completed", "out:Completed"));
}

TEST_P(InstanceApiTest, DeleteRemovesTheInstance) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Quick("quick"));
  std::string id = Execute("quick", {{"wait", true}}).json()["id"];
  auto del = client().Delete("/api/instances/" + id);
  EXPECT_EQ(del.status, 204) << del.body;
  EXPECT_TRUE(IsProblem(client().Get("/api/instances/" + id), 404));
  EXPECT_TRUE(IsProblem(client().Get("/api/instances/" + id + "/journal"), 404));
  EXPECT_TRUE(IsProblem(client().Delete("/api/instances/" + id), 404));
}

TEST_P(InstanceApiTest, BulkCancelAndDeleteByFilter) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Waiter("bulk"));
  CreateWorkflow(Quick("keep"));
  std::set<std::string> ids;
  for (int i = 0; i < 3; ++i) ids.insert(Execute("bulk", {{"wait", true}}).json()["id"].get<std::string>());
  std::string kept = Execute("keep", {{"wait", true}}).json()["id"];

  EXPECT_TRUE(IsProblem(client().Post("/api/instances/cancel", Json::object()), 400));
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/delete", Json{{"reason", "x"}}), 400));
  EXPECT_TRUE(IsProblem(client().Post("/api/instances/cancel", Json{{"status", "Sleeping"}}), 400));

  auto cancel = client().Post("/api/instances/cancel", Json{{"workflowId", "bulk"}, {"reason", "bulk test"}});
  ASSERT_EQ(cancel.status, 200) << cancel.body;
  EXPECT_EQ(cancel.json()["matched"], 3);
  EXPECT_EQ(cancel.json()["cancelled"], 3);
  for (const auto& id : ids) WaitForStatus(id, "Cancelled");

  // Cancelling again skips what already finished.
  auto again = client().Post("/api/instances/cancel", Json{{"workflowId", "bulk"}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["cancelled"], 0);
  EXPECT_EQ(again.json()["skipped"], 3);

  auto del = client().Post("/api/instances/delete", Json{{"status", "Cancelled"}});
  ASSERT_EQ(del.status, 200) << del.body;
  EXPECT_EQ(del.json()["deleted"], 3);
  EXPECT_TRUE(ListAll(client(), "workflowId=bulk").empty());
  EXPECT_THAT(ListAll(client(), "workflowId=keep"), ElementsAre(kept));
}

}  // namespace
}  // namespace trellis::api::testing
