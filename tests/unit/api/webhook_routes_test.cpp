// Webhooks through the API: triggers that start workflows, the method filter, WaitForWebhook
// bookmarks, sync answers from the workflow's HttpResponse, HMAC signatures, the delivery log with
// its filter and pagination, replay, and that callers' credentials are never recorded.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>

#include "api_fixture.h"
#include "support/test_http_server.h"

namespace trellis::api::testing {
namespace {

using ::testing::HasSubstr;
using ::testing::Not;

class WebhookApiTest : public ApiTest {};
TRELLIS_API_SUITE(WebhookApiTest);

Json OrdersHook() {
  return {{"id", "orders"},
          {"triggers", {{{"type", "Webhook"}, {"path", "orders"}, {"method", "POST"}}}},
          {"activities",
           {{{"id", "out"}, {"type", "SetOutput"}, {"name", "n"}, {"value", "{{ input.body.n }}"}}}}};
}

ClientResponse PostJson(TestClient& c, const std::string& path, const std::string& body,
                        std::vector<std::pair<std::string, std::string>> headers = {}) {
  headers.emplace_back("Content-Type", "application/json");
  return c.Send("POST", path, body, headers);
}

TEST_P(WebhookApiTest, ATriggerStartsAnInstance) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(OrdersHook());
  auto r = PostJson(client(), "/hooks/orders?source=test", R"({"n": 7})");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json().value("id", "");
  ASSERT_FALSE(id.empty()) << r.body;
  EXPECT_EQ(r.json()["instanceIds"], Json::array({id}));
  EXPECT_FALSE(r.json().value("deliveryId", "").empty());
  Json done = WaitForStatus(id, "Completed");
  EXPECT_EQ(done["output"]["n"], 7);
  EXPECT_EQ(done["input"]["method"], "POST");
  EXPECT_EQ(done["input"]["query"]["source"], "test");

  // The trigger takes POST only; nothing else listens on GET.
  EXPECT_TRUE(IsProblem(client().Get("/hooks/orders"), 404));
  EXPECT_TRUE(IsProblem(PostJson(client(), "/hooks/unknown/path", "{}"), 404));
}

TEST_P(WebhookApiTest, WaitForWebhookIsResumed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "approve"},
                  {"activities",
                   {{{"id", "hook"},
                     {"type", "WaitForWebhook"},
                     {"path", "approvals/{{ input.ref }}"},
                     {"method", "POST"}},
                    {{"id", "out"},
                     {"type", "SetOutput"},
                     {"name", "decision"},
                     {"value", "{{ outputs.hook.body.decision }}"}}}}});
  auto started = Execute("approve", {{"input", {{"ref", "r42"}}}, {"wait", true}});
  ASSERT_EQ(started.json()["status"], "Suspended") << started.body;
  std::string id = started.json()["id"];

  auto r = PostJson(client(), "/hooks/approvals/r42", R"({"decision": "yes"})");
  ASSERT_EQ(r.status, 202) << r.body;
  EXPECT_EQ(r.json()["resumed"], 1);
  EXPECT_TRUE(r.json()["id"].is_null());
  Json done = WaitForStatus(id, "Completed");
  EXPECT_EQ(done["output"]["decision"], "yes");
  EXPECT_TRUE(IsProblem(PostJson(client(), "/hooks/approvals/r42", "{}"), 404));
}

TEST_P(WebhookApiTest, ASyncTriggerAnswersWithTheWorkflowsHttpResponse) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "sync"},
                  {"triggers",
                   {{{"type", "Webhook"},
                     {"path", "echo"},
                     {"method", "POST"},
                     {"response", "sync"},
                     {"timeout", "20s"}}}},
                  {"activities",
                   {{{"id", "answer"},
                     {"type", "HttpResponse"},
                     {"status", 201},
                     {"headers", {{"X-Echo", "yes"}}},
                     {"body", {{"hello", "{{ input.body.name }}"}}}}}}});
  auto r = PostJson(client(), "/hooks/echo", R"({"name": "Ada"})");
  ASSERT_EQ(r.status, 201) << r.body;
  EXPECT_EQ(r.Header("x-echo"), "yes");
  EXPECT_THAT(r.Header("content-type"), HasSubstr("application/json"));
  EXPECT_EQ(r.json(), (Json{{"hello", "Ada"}}));
}

TEST_P(WebhookApiTest, OtherTriggersOnTheSamePathStillStartBesideASyncOne) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(
      {{"id", "answers"},
       {"triggers", {{{"type", "Webhook"}, {"path", "shared"}, {"response", "sync"}}}},
       {"activities", {{{"id", "answer"}, {"type", "HttpResponse"}, {"status", 200}, {"body", "hi"}}}}});
  CreateWorkflow({{"id", "audits"},
                  {"triggers", {{{"type", "Webhook"}, {"path", "shared"}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  auto r = PostJson(client(), "/hooks/shared", "{}");
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.body, "hi");
  Json audits;
  ASSERT_TRUE(WaitUntil([&] {
    audits = Items(client().Get("/api/instances?workflowId=audits"));
    return audits.size() == 1 && audits[0]["status"] == "Completed";
  })) << audits.dump();
  auto deliveries = Items(client().Get("/api/webhooks/deliveries?path=shared"));
  ASSERT_EQ(deliveries.size(), 1u);
  EXPECT_EQ(deliveries[0]["status"], 200);
  EXPECT_EQ(deliveries[0]["instanceIds"].size(), 2u);
}

TEST_P(WebhookApiTest, ASyncTriggerAnswers202WhenTheWorkflowOutlastsItsTimeout) {
  std::atomic<bool> released{false};
  test::TestHttpServer upstream([&](const test::TestHttpRequest&) {
    test::TestHttpResponse resp;
    resp.hold_until = [&] { return released.load(); };
    return resp;
  });
  ASSERT_NO_FATAL_FAILURE(Start({{"http.allow_hosts", "127.0.0.1"}}));
  CreateWorkflow(
      {{"id", "slow-sync"},
       {"triggers", {{{"type", "Webhook"}, {"path", "slow"}, {"response", "sync"}, {"timeout", "300ms"}}}},
       {"activities",
        {{{"id", "call"}, {"type", "HttpRequest"}, {"url", upstream.Url("/held")}},
         {{"id", "answer"}, {"type", "HttpResponse"}, {"status", 200}, {"body", "late"}}}}});
  auto r = PostJson(client(), "/hooks/slow", "{}");
  ASSERT_EQ(r.status, 202) << r.body;
  std::string id = r.json().value("id", "");
  ASSERT_FALSE(id.empty()) << r.body;
  released = true;
  WaitForStatus(id, "Completed");
}

TEST_P(WebhookApiTest, HeaderValuesFromTheWorkflowCannotSplitTheResponse) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow({{"id", "reflect"},
                  {"triggers", {{{"type", "Webhook"}, {"path", "reflect"}, {"response", "sync"}}}},
                  {"activities",
                   {{{"id", "answer"},
                     {"type", "HttpResponse"},
                     {"headers",
                      {{"X-Echo", "{{ input.body.name }}"},
                       {"Content-Length", "999"},
                       {"Transfer-Encoding", "chunked"},
                       {"Bad Name", "x"}}},
                     {"body", "ok"}}}}});
  // JSON escapes: the name holds CR LF, which a header value must never carry onto the wire.
  auto r = PostJson(client(), "/hooks/reflect", R"({"name": "a\r\nX-Injected: yes\r\n\r\nsmuggled"})");
  ASSERT_EQ(r.status, 200) << r.error;
  EXPECT_EQ(r.Header("x-injected"), "");
  EXPECT_EQ(r.body, "ok");
  EXPECT_THAT(r.Header("x-echo"), ::testing::StartsWith("a  X-Injected: yes"));
  // The server is still answering normally.
  EXPECT_EQ(client().Get("/health/live").status, 200);
}

TEST_P(WebhookApiTest, TriggerSettingsOfTheWrongTypeDoNotBreakTheEndpoint) {
  ASSERT_NO_FATAL_FAILURE(Start());
  // Trigger settings are checked for their names only; a number where a name belongs must not
  // turn into a 500, and a secret that is not a name must not turn the signature check off.
  CreateWorkflow({{"id", "odd-secret"},
                  {"triggers", {{{"type", "Webhook"}, {"path", "odd-secret"}, {"secret", 5}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  CreateWorkflow(
      {{"id", "odd-response"},
       {"triggers", {{{"type", "Webhook"}, {"path", "odd-response"}, {"response", true}, {"timeout", 5}}}},
       {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  EXPECT_TRUE(IsProblem(PostJson(client(), "/hooks/odd-secret", "{}"), 401));
  EXPECT_EQ(PostJson(client(), "/hooks/odd-response", "{}").status, 202);
}

TEST_P(WebhookApiTest, HmacSignatureIsChecked) {
  std::string key = RandomKey();
  ASSERT_NO_FATAL_FAILURE(Start({{"security.encryption_key", RandomKey()}}));
  ASSERT_EQ(client().Put("/api/secrets/HOOK_KEY", Json{{"value", key}}).status, 200);
  CreateWorkflow({{"id", "signed"},
                  {"triggers", {{{"type", "Webhook"}, {"path", "signed"}, {"secret", "HOOK_KEY"}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  CreateWorkflow(
      {{"id", "custom"},
       {"triggers",
        {{{"type", "Webhook"}, {"path", "custom"}, {"secret", "HOOK_KEY"}, {"signature", "X-Signature"}}}},
       {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  // An instance waits on the signed path: a call is checked before it resumes anything.
  CreateWorkflow(
      {{"id", "waiter"}, {"activities", {{{"id", "hook"}, {"type", "WaitForWebhook"}, {"path", "signed"}}}}});
  auto waiting = Execute("waiter", {{"wait", true}});
  ASSERT_EQ(waiting.json()["status"], "Suspended") << waiting.body;
  std::string body = R"({"event": "push"})";

  auto wrong =
      PostJson(client(), "/hooks/signed", body, {{"X-Hub-Signature-256", HubSignature("other", body)}});
  EXPECT_TRUE(IsProblem(wrong, 401));
  EXPECT_EQ(client().Get("/api/instances/" + waiting.json()["id"].get<std::string>()).json()["status"],
            "Suspended");
  auto good = PostJson(client(), "/hooks/signed", body, {{"X-Hub-Signature-256", HubSignature(key, body)}});
  EXPECT_EQ(good.status, 202) << good.body;
  EXPECT_EQ(good.json()["resumed"], 1);
  WaitForStatus(waiting.json()["id"], "Completed");
  auto tampered =
      PostJson(client(), "/hooks/signed", body + " ", {{"X-Hub-Signature-256", HubSignature(key, body)}});
  EXPECT_TRUE(IsProblem(tampered, 401));
  auto missing = PostJson(client(), "/hooks/signed", body);
  EXPECT_TRUE(IsProblem(missing, 401));
  EXPECT_THAT(missing.body, Not(HasSubstr(key)));

  EXPECT_EQ(PostJson(client(), "/hooks/custom", body, {{"X-Signature", HubSignature(key, body)}}).status,
            202);
  EXPECT_TRUE(IsProblem(
      PostJson(client(), "/hooks/custom", body, {{"X-Hub-Signature-256", HubSignature(key, body)}}), 401));

  // Only the accepted calls started instances.
  auto list = client().Get("/api/instances?workflowId=signed");
  EXPECT_EQ(list.json()["items"].size(), 1u);
}

TEST_P(WebhookApiTest, DeliveriesAreListedFilteredAndPaged) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(OrdersHook());
  for (int i = 0; i < 3; ++i)
    ASSERT_EQ(PostJson(client(), "/hooks/orders", "{\"n\": " + std::to_string(i) + "}").status, 202);
  ASSERT_EQ(client().Get("/hooks/elsewhere").status, 404);

  auto all = client().Get("/api/webhooks/deliveries");
  ASSERT_EQ(all.status, 200) << all.body;
  ASSERT_EQ(Items(all).size(), 4u) << all.body;
  // Unanswered calls are recorded too, with the status they got.
  int not_found = 0;
  for (const auto& d : Items(all)) {
    if (d["path"] == "elsewhere") {
      EXPECT_EQ(d["status"], 404);
      EXPECT_EQ(d["method"], "GET");
      ++not_found;
    }
  }
  EXPECT_EQ(not_found, 1);

  std::vector<std::string> bodies;
  std::string cursor;
  int pages = 0;
  do {
    auto page = client().Get("/api/webhooks/deliveries?path=orders&limit=2" +
                             (cursor.empty() ? "" : "&cursor=" + cursor));
    ASSERT_EQ(page.status, 200) << page.body;
    for (const auto& d : Items(page)) {
      EXPECT_EQ(d["path"], "orders");
      EXPECT_EQ(d["method"], "POST");
      EXPECT_EQ(d["status"], 202);
      EXPECT_EQ(d["instanceIds"].size(), 1u);
      EXPECT_FALSE(d.value("receivedAt", "").empty());
      bodies.push_back(d["body"]);
    }
    cursor = page.json().value("nextCursor", "");
    ASSERT_LT(++pages, 10);
  } while (!cursor.empty());
  EXPECT_EQ(pages, 2);
  EXPECT_THAT(bodies, ::testing::UnorderedElementsAre("{\"n\": 2}", "{\"n\": 1}", "{\"n\": 0}"));
  EXPECT_TRUE(IsProblem(client().Get("/api/webhooks/deliveries?cursor=garbage"), 400));
}

TEST_P(WebhookApiTest, ReplayIsForbiddenWhenTheFeatureIsOff) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(OrdersHook());
  std::string delivery = PostJson(client(), "/hooks/orders", R"({"n": 1})").json()["deliveryId"];
  auto r = client().Post("/api/webhooks/deliveries/" + delivery + "/replay", Json::object());
  ASSERT_TRUE(IsProblem(r, 403));
  EXPECT_THAT(r.json()["detail"].get<std::string>(), HasSubstr("features.webhook_replay"));
}

TEST_P(WebhookApiTest, ReplayStartsANewInstance) {
  ASSERT_NO_FATAL_FAILURE(Start({{"features.webhook_replay", "true"}}));
  CreateWorkflow(OrdersHook());
  auto first = PostJson(client(), "/hooks/orders", R"({"n": 5})");
  ASSERT_EQ(first.status, 202) << first.body;
  auto replay =
      client().Post("/api/webhooks/deliveries/" + first.json()["deliveryId"].get<std::string>() + "/replay",
                    Json::object());
  ASSERT_EQ(replay.status, 202) << replay.body;
  std::string id = replay.json().value("id", "");
  ASSERT_FALSE(id.empty());
  EXPECT_NE(id, first.json()["id"]);
  EXPECT_EQ(WaitForStatus(id, "Completed")["output"]["n"], 5);
  EXPECT_TRUE(IsProblem(
      client().Post("/api/webhooks/deliveries/01900000-0000-7000-8000-000000000000/replay", Json::object()),
      404));
}

TEST_P(WebhookApiTest, CallersCredentialsAreNotRecorded) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(OrdersHook());
  const std::string bearer = "Bearer " + RandomKey();
  const std::string api_key = security::GenerateApiKey().key;
  auto r = PostJson(client(), "/hooks/orders", R"({"n": 3})",
                    {{"Authorization", bearer},
                     {"X-Api-Key", api_key},
                     {"Cookie", "session=abc123xyz"},
                     {"X-Trace", "kept"}});
  ASSERT_EQ(r.status, 202) << r.body;
  auto list = client().Get("/api/webhooks/deliveries");
  ASSERT_EQ(list.status, 200);
  Json d = list.json()["items"][0];
  EXPECT_EQ(d["headers"]["x-trace"], "kept");
  EXPECT_FALSE(d["headers"].contains("authorization")) << d.dump();
  EXPECT_FALSE(d["headers"].contains("x-api-key")) << d.dump();
  EXPECT_THAT(list.body, Not(HasSubstr(bearer.substr(7))));
  EXPECT_THAT(list.body, Not(HasSubstr(api_key)));
  Json instance = WaitForStatus(r.json()["id"], "Completed");
  EXPECT_THAT(instance.dump(), Not(HasSubstr(api_key)));
  EXPECT_THAT(instance.dump(), Not(HasSubstr(bearer.substr(7))));
}

}  // namespace
}  // namespace trellis::api::testing
