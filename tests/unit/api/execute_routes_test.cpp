// Running workflows through the API: sync (wait: true) and async execution of stored workflows,
// suspension, version selection, request validation, and inline definitions as in the seeds' curl
// example.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "api_fixture.h"
#include "support/test_http_server.h"

namespace trellis::api::testing {
namespace {

using ::testing::Contains;
using ::testing::HasSubstr;

class ExecuteApiTest : public ApiTest {};
TRELLIS_API_SUITE(ExecuteApiTest);

// Greets its input and sets an output.
Json Greeter(const std::string& id, const std::string& word = "Hello") {
  return {{"id", id},
          {"inputs", {{"who", {{"type", "string"}, {"default", "world"}}}}},
          {"activities",
           {{{"id", "say"}, {"type", "WriteLine"}, {"text", word + " {{ input.who }}"}},
            {{"id", "out"}, {"type", "SetOutput"}, {"name", "greeting"}, {"value", "{{ outputs.say }}"}}}}};
}

TEST_P(ExecuteApiTest, WaitTrueAnswersTheCompletedInstanceWithItsOutput) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Greeter("greet"));
  auto r = Execute("greet", {{"input", {{"who", "Ada"}}}, {"wait", true}, {"correlationId", "c-1"}});
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["status"], "Completed");
  EXPECT_EQ(j["output"]["greeting"], "Hello Ada");
  EXPECT_EQ(j["workflowId"], "greet");
  EXPECT_EQ(j["version"], 1);
  EXPECT_EQ(j["correlationId"], "c-1");
  EXPECT_EQ(j["input"]["who"], "Ada");
  ASSERT_FALSE(j.value("id", "").empty());
  // The same instance is stored.
  Json stored = GetInstance(j["id"]);
  EXPECT_EQ(stored["status"], "Completed");
  EXPECT_EQ(stored["output"]["greeting"], "Hello Ada");
}

TEST_P(ExecuteApiTest, WithoutWaitAnswers202AndTheInstanceCompletes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Greeter("greet"));
  auto r = Execute("greet", {{"input", {{"who", "Grace"}}}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json().value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(r.Header("location"), "/api/instances/" + id);
  Json done = WaitForStatus(id, "Completed");
  EXPECT_EQ(done["output"]["greeting"], "Hello Grace");
  EXPECT_FALSE(done["finishedAt"].is_null());
}

TEST_P(ExecuteApiTest, WaitTrueAnswersSuspendedAtABookmark) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "waits"},
                  {"activities",
                   {{{"id", "hello"}, {"type", "WriteLine"}, {"text", "before"}},
                    {{"id", "wait"}, {"type", "WaitForEvent"}, {"event", "go"}}}}});
  auto r = Execute("waits", {{"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "Suspended");
  ASSERT_EQ(r.json()["bookmarks"].size(), 1u) << r.body;
  EXPECT_EQ(r.json()["bookmarks"][0]["activityId"], "wait");

  CreateWorkflow(
      {{"id", "sleeps"}, {"activities", {{{"id", "nap"}, {"type", "Delay"}, {"duration", "1h"}}}}});
  auto delayed = Execute("sleeps", {{"wait", true}});
  ASSERT_EQ(delayed.status, 200) << delayed.body;
  EXPECT_EQ(delayed.json()["status"], "Suspended");
}

TEST_P(ExecuteApiTest, VersionSelectsTheDefinitionVersion) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Greeter("multi", "Hello"));
  ASSERT_EQ(client().Put("/api/workflows/multi?publish=true", Greeter("multi", "Goodbye")).status, 200);

  auto latest = Execute("multi", {{"wait", true}});
  ASSERT_EQ(latest.status, 200) << latest.body;
  EXPECT_EQ(latest.json()["output"]["greeting"], "Goodbye world");
  EXPECT_EQ(latest.json()["version"], 2);

  auto v1 = Execute("multi", {{"wait", true}, {"version", 1}});
  ASSERT_EQ(v1.status, 200) << v1.body;
  EXPECT_EQ(v1.json()["output"]["greeting"], "Hello world");
  EXPECT_EQ(v1.json()["version"], 1);

  EXPECT_TRUE(IsProblem(Execute("multi", {{"wait", true}, {"version", 5}}), 404));
}

TEST_P(ExecuteApiTest, InvalidFieldsAre400WithTheirPaths) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Greeter("greet"));
  struct Case {
    Json body;
    std::string path;
  };
  std::vector<Case> cases = {
      {{{"input", "not an object"}}, "body.input"},   {{{"wait", "yes"}}, "body.wait"},
      {{{"version", "1"}}, "body.version"},           {{{"version", 0}}, "body.version"},
      {{{"timeout", "soon"}}, "body.timeout"},        {{{"timeout", -5}}, "body.timeout"},
      {{{"correlationId", 7}}, "body.correlationId"}, {{{"inptu", Json::object()}}, "body.inptu"},
  };
  for (const auto& c : cases) {
    auto r = Execute("greet", c.body);
    EXPECT_TRUE(IsProblem(r, 400)) << c.body.dump();
    EXPECT_THAT(ErrorPaths(r), Contains(c.path)) << c.body.dump() << " -> " << r.body;
  }
  // A required input that is missing is the workflow's error, still a 400.
  CreateWorkflow({{"id", "needs"},
                  {"inputs", {{"orderId", {{"type", "string"}, {"required", true}}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  EXPECT_TRUE(IsProblem(Execute("needs", {{"wait", true}}), 400));
}

TEST_P(ExecuteApiTest, UnknownWorkflowIs404) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_TRUE(IsProblem(Execute("no-such-workflow"), 404));
  EXPECT_TRUE(IsProblem(Execute("no-such-workflow", {{"wait", true}}), 404));
}

TEST_P(ExecuteApiTest, InlineDefinitionFromTheSeedsExample) {
  ASSERT_NO_FATAL_FAILURE(Start());
  const std::string body =
      R"({"workflow":{"activities":[{"id":"1","type":"WriteLine","text":"Hello from Kubernetes!"}]}})";
  auto r = client().Send("POST", "/api/workflows/execute", body, {{"Content-Type", "application/json"}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "Completed");
  EXPECT_THAT(r.json()["workflowId"].get<std::string>(), ::testing::StartsWith("inline-"));

  // curl -d sends application/x-www-form-urlencoded; a JSON body is still taken.
  auto curl_default = client().Send("POST", "/api/workflows/execute", body,
                                    {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_EQ(curl_default.status, 200) << curl_default.body;
  EXPECT_EQ(curl_default.json()["status"], "Completed");
  // The same definition shares one stored inline workflow.
  EXPECT_EQ(curl_default.json()["workflowId"], r.json()["workflowId"]);

  // The journal shows the line that was written.
  std::string id = r.json()["id"];
  auto journal = client().Get("/api/instances/" + id + "/journal");
  ASSERT_EQ(journal.status, 200) << journal.body;
  EXPECT_EQ(journal.json()["items"][0]["output"], "Hello from Kubernetes!");
}

TEST_P(ExecuteApiTest, InlineDefinitionErrorsArePrefixedWithWorkflow) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto r = client().Post("/api/workflows/execute",
                         Json{{"workflow", {{"activities", {{{"id", "1"}, {"type", "Nope"}}}}}}});
  ASSERT_TRUE(IsProblem(r, 400));
  EXPECT_THAT(ErrorPaths(r), Contains("workflow.activities[0].type"));
  auto missing = client().Post("/api/workflows/execute", Json{{"wait", true}});
  ASSERT_TRUE(IsProblem(missing, 400));
  EXPECT_THAT(ErrorPaths(missing), Contains("body.workflow"));
  auto not_json = client().Send("POST", "/api/workflows/execute", "workflow=1",
                                {{"Content-Type", "application/x-www-form-urlencoded"}});
  ASSERT_TRUE(IsProblem(not_json, 415));
  EXPECT_THAT(not_json.json()["detail"].get<std::string>(), HasSubstr("application/json"));
}

// An upstream that holds every answer until released, so that a run outlasts any timeout.
class HeldUpstream {
 public:
  HeldUpstream()
      : server_([this](const test::TestHttpRequest&) {
          test::TestHttpResponse resp;
          resp.body = "released";
          resp.hold_until = [this] { return released_.load(); };
          return resp;
        }) {}
  ~HeldUpstream() { Release(); }
  void Release() { released_ = true; }
  std::string Url() const { return server_.Url("/slow"); }
  test::TestHttpServer& server() { return server_; }

 private:
  std::atomic<bool> released_{false};
  test::TestHttpServer server_;
};

Json CallsUpstream(const std::string& url) {
  return {{"id", "slow"},
          {"activities",
           {{{"id", "call"}, {"type", "HttpRequest"}, {"url", url}},
            {{"id", "out"}, {"type", "SetOutput"}, {"name", "body"}, {"value", "{{ outputs.call.body }}"}}}}};
}

TEST_P(ExecuteApiTest, WaitTrueAnswers202WithTheIdWhenTheRunOutlastsTheTimeout) {
  HeldUpstream upstream;
  ASSERT_NO_FATAL_FAILURE(Start({{"http.allow_hosts", "127.0.0.1"}}));
  CreateWorkflow(CallsUpstream(upstream.Url()));
  auto r = Execute("slow", {{"wait", true}, {"timeout", "300ms"}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json().value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_EQ(r.Header("location"), "/api/instances/" + id);
  upstream.Release();
  EXPECT_EQ(WaitForStatus(id, "Completed")["output"]["body"], "released");
}

TEST_P(ExecuteApiTest, WaitTrueWithoutATimeoutAnswers202BeforeTheServerGivesUp) {
  // The default wait is server.request_timeout; the answer must still be the 202 with the id, not
  // the server's generic 503 for a request that took too long.
  HeldUpstream upstream;
  ASSERT_NO_FATAL_FAILURE(Start({{"http.allow_hosts", "127.0.0.1"}, {"server.request_timeout", "3s"}}));
  CreateWorkflow(CallsUpstream(upstream.Url()));
  auto r = Execute("slow", {{"wait", true}});
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json().value("id", "");
  ASSERT_FALSE(id.empty());
  upstream.Release();
  WaitForStatus(id, "Completed");
}

TEST_P(ExecuteApiTest, AnApiOnlyNodeQueuesAndAnswers202) {
  ASSERT_NO_FATAL_FAILURE(Start({{"server.workers", "0"}}));
  CreateWorkflow({{"id", "queued"}, {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  auto r = Execute("queued", {{"wait", true}, {"timeout", "200ms"}});
  ASSERT_EQ(r.status, 202) << r.body;
  Json instance = GetInstance(r.json().value("id", ""));
  EXPECT_THAT(instance["status"].get<std::string>(), ::testing::AnyOf("Pending", "Running"));
}

TEST_P(ExecuteApiTest, WaitTrueAnswersFaultedWithTheIncident) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(
      {{"id", "fails"}, {"activities", {{{"id", "boom"}, {"type", "Fail"}, {"message", "it broke"}}}}});
  auto r = Execute("fails", {{"wait", true}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["status"], "Faulted");
  ASSERT_FALSE(r.json()["incidents"].empty()) << r.body;
  EXPECT_THAT(r.json()["incidents"][0].dump(), HasSubstr("it broke"));
}

}  // namespace
}  // namespace trellis::api::testing
