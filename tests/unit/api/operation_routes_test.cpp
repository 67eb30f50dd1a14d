// Operations and cross-cutting middleware: the activity catalogue, stats, cluster nodes, the probes,
// /metrics, CORS and rate limiting.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <unistd.h>

#include "api_fixture.h"

namespace trellis::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::IsSupersetOf;
using ::testing::Not;

class OperationApiTest : public ApiTest {};
TRELLIS_API_SUITE(OperationApiTest);

TEST_P(OperationApiTest, ActivitiesListsTheBuiltInCatalogue) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto r = client().Get("/api/activities");
  ASSERT_EQ(r.status, 200) << r.body;
  std::vector<std::string> types;
  for (const auto& a : Items(r)) {
    types.push_back(a.value("type", ""));
    EXPECT_TRUE(a.contains("inputs")) << a.dump();
    EXPECT_TRUE(a.contains("outcomes")) << a.dump();
  }
  EXPECT_THAT(types,
              IsSupersetOf({"WriteLine",    "Log",          "SetVariable", "SetOutput",    "If",
                            "Switch",       "ForEach",      "While",       "Fork",         "Join",
                            "Delay",        "WaitUntil",    "HttpRequest", "HttpResponse", "WaitForWebhook",
                            "WaitForEvent", "PublishEvent", "RunWorkflow", "Script",       "Transform",
                            "Fail",         "Finish",       "Noop"}));
}

TEST_P(OperationApiTest, StatsCountInstancesByStatus) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "done"}, {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  CreateWorkflow(
      {{"id", "waits"}, {"activities", {{{"id", "w"}, {"type", "WaitForEvent"}, {"event", "e"}}}}});
  for (int i = 0; i < 2; ++i) ASSERT_EQ(Execute("done", {{"wait", true}}).status, 200);
  ASSERT_EQ(Execute("waits", {{"wait", true}}).json()["status"], "Suspended");
  auto r = client().Get("/api/stats");
  ASSERT_EQ(r.status, 200) << r.body;
  Json j = r.json();
  EXPECT_EQ(j["instances"]["Completed"], 2);
  EXPECT_EQ(j["instances"]["Suspended"], 1);
  EXPECT_EQ(j["instances"]["Faulted"], 0);
  EXPECT_TRUE(j["queue"]["depth"].is_number_integer());
  EXPECT_TRUE(j["queue"]["lagSeconds"].is_number());
  EXPECT_TRUE(j["queue"].contains("timersDue"));
}

TEST_P(OperationApiTest, ClusterNodesIncludeThisNode) {
  ASSERT_NO_FATAL_FAILURE(Start());
  Json self;
  ASSERT_TRUE(WaitUntil([&] {
    auto r = client().Get("/api/cluster/nodes");
    if (r.status != 200) return false;
    for (const auto& n : Items(r)) {
      if (n.value("self", false)) self = n;
    }
    return self.is_object();
  })) << "this node never appeared in /api/cluster/nodes";
  EXPECT_EQ(self["kind"], "server");
  EXPECT_EQ(self["pid"], static_cast<int64_t>(getpid()));
  EXPECT_FALSE(self["draining"].get<bool>());
  EXPECT_FALSE(self.value("heartbeatAt", "").empty());
}

TEST_P(OperationApiTest, Probes) {
  ASSERT_NO_FATAL_FAILURE(Start());
  auto live = client().Get("/health/live");
  EXPECT_EQ(live.status, 200);
  EXPECT_EQ(live.json()["status"], "ok");
  auto startup = client().Get("/health/startup");
  EXPECT_EQ(startup.status, 200);
  auto ready = client().Get("/health/ready");
  ASSERT_EQ(ready.status, 200) << ready.body;
  Json checks = ready.json()["checks"];
  for (const char* check : {"database", "migrations", "draining"}) {
    EXPECT_EQ(checks[check]["status"], "ok") << check << ": " << ready.body;
  }
}

TEST_P(OperationApiTest, MetricsUseRoutePatternsNotIds) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "metric-wf"}, {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  std::string id = Execute("metric-wf", {{"wait", true}}).json()["id"];
  ASSERT_EQ(client().Get("/api/instances/" + id).status, 200);
  ASSERT_EQ(client().Get("/api/instances/not-an-instance-id").status, 404);
  ASSERT_EQ(client().Get("/api/really/unknown/route").status, 404);
  auto r = client().Get("/metrics");
  ASSERT_EQ(r.status, 200);
  EXPECT_THAT(r.Header("content-type"), HasSubstr("text/plain"));
  EXPECT_THAT(r.body, HasSubstr("http_requests_total{"));
  EXPECT_THAT(r.body, HasSubstr("route=\"/api/instances/{id}\""));
  EXPECT_THAT(r.body, HasSubstr("route=\"/api/workflows/{id}/execute\""));
  EXPECT_THAT(r.body, Not(HasSubstr(id)));
  EXPECT_THAT(r.body, Not(HasSubstr("metric-wf")));
  EXPECT_THAT(r.body, Not(HasSubstr("not-an-instance-id")));
  EXPECT_THAT(r.body, Not(HasSubstr("really/unknown")));
}

TEST_P(OperationApiTest, CorsAnswersAllowedOriginsOnly) {
  ASSERT_NO_FATAL_FAILURE(Start({{"cors.allowed_origins", "https://studio.example.org"}}));
  auto preflight = client().Send("OPTIONS", "/api/workflows", "",
                                 {{"Origin", "https://studio.example.org"},
                                  {"Access-Control-Request-Method", "POST"},
                                  {"Access-Control-Request-Headers", "Content-Type, Authorization"}});
  EXPECT_EQ(preflight.status, 204);
  EXPECT_EQ(preflight.Header("access-control-allow-origin"), "https://studio.example.org");
  EXPECT_THAT(preflight.Header("access-control-allow-methods"), HasSubstr("POST"));
  EXPECT_THAT(preflight.Header("access-control-allow-headers"), HasSubstr("Authorization"));
  EXPECT_EQ(preflight.Header("vary"), "Origin");

  auto get = client().Send("GET", "/api/workflows", "", {{"Origin", "https://studio.example.org"}});
  EXPECT_EQ(get.status, 200);
  EXPECT_EQ(get.Header("access-control-allow-origin"), "https://studio.example.org");
  // Errors carry the headers too, so the browser can read them.
  auto missing = client().Send("GET", "/api/workflows/none", "", {{"Origin", "https://studio.example.org"}});
  EXPECT_EQ(missing.status, 404);
  EXPECT_EQ(missing.Header("access-control-allow-origin"), "https://studio.example.org");

  auto other_preflight =
      client().Send("OPTIONS", "/api/workflows", "",
                    {{"Origin", "https://evil.example.net"}, {"Access-Control-Request-Method", "POST"}});
  EXPECT_EQ(other_preflight.Header("access-control-allow-origin"), "");
  EXPECT_EQ(other_preflight.Header("access-control-allow-methods"), "");
  auto other = client().Send("GET", "/api/workflows", "", {{"Origin", "https://evil.example.net"}});
  EXPECT_EQ(other.status, 200);
  EXPECT_EQ(other.Header("access-control-allow-origin"), "");
}

TEST_P(OperationApiTest, RateLimitAnswers429WithRetryAfter) {
  ASSERT_NO_FATAL_FAILURE(Start({{"limits.rate_limit", "0.1"}, {"limits.rate_burst", "2"}}));
  std::vector<int> statuses;
  ClientResponse limited;
  for (int i = 0; i < 10; ++i) {
    auto r = client().Get("/api/workflows");
    statuses.push_back(r.status);
    if (r.status == 429) limited = r;
  }
  EXPECT_EQ(statuses.front(), 200);
  ASSERT_TRUE(IsProblem(limited, 429)) << ::testing::PrintToString(statuses);
  int retry_after = std::atoi(limited.Header("retry-after").c_str());
  EXPECT_GE(retry_after, 1) << limited.Header("retry-after");
  // Probes are never limited.
  for (int i = 0; i < 5; ++i) EXPECT_EQ(client().Get("/health/live").status, 200);
  EXPECT_EQ(client().Get("/health/ready").status, 200);
}

}  // namespace
}  // namespace trellis::api::testing
