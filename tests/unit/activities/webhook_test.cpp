// WaitForWebhook and HttpResponse.
#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;
using activity_test::RunnerHarness;

// --- WaitForWebhook ------------------------------------------------------------------------------

TEST(WaitForWebhookTest, SuspendsOnAWebhookBookmarkDefaultMethodPost) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: hook, type: WaitForWebhook, path: "/orders/{{ input.id }}/confirm"}
  - {id: any, type: WaitForWebhook, path: pings, method: ANY}
connections: []
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"id", "A-1"}});
  EXPECT_EQ(s.status, InstanceStatus::kSuspended) << Incidents(s);
  ASSERT_EQ(s.bookmarks.size(), 2u);
  EXPECT_EQ(s.bookmarks[0].kind, BookmarkKind::kWebhook);
  EXPECT_EQ(s.bookmarks[0].path, "orders/A-1/confirm");  // the leading slash is dropped
  EXPECT_EQ(s.bookmarks[0].method, "POST");
  EXPECT_EQ(Engine::MatchWebhook(s, "orders/A-1/confirm", "POST").size(), 1u);
  EXPECT_TRUE(Engine::MatchWebhook(s, "orders/A-1/confirm", "GET").empty());
  EXPECT_TRUE(Engine::MatchWebhook(s, "orders/B-2/confirm", "POST").empty());
  EXPECT_EQ(Engine::MatchWebhook(s, "pings", "GET").size(), 1u);
  EXPECT_EQ(Engine::MatchWebhook(s, "pings", "DELETE").size(), 1u);
}

TEST(WaitForWebhookTest, TheRequestBecomesTheOutput) {
  RunnerHarness rh;
  auto wf = Compile(R"(activities:
  - {id: hook, type: WaitForWebhook, path: confirm, method: PUT}
  - {id: out, type: SetOutput, name: got, value: "{{ outputs.hook.body.answer }}"}
)");
  ASSERT_TRUE(wf);
  std::string id = rh.Start(wf);
  rh.Run();
  ASSERT_EQ(rh.Status(id), InstanceStatus::kSuspended);

  Json request = {{"method", "PUT"},
                  {"headers", {{"content-type", "application/json"}}},
                  {"query", {{"x", "1"}}},
                  {"body", {{"answer", 42}}}};
  rh.runner().QueueWebhook("confirm", "POST", {{"method", "POST"}});  // wrong method: not delivered
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kSuspended);

  rh.runner().QueueWebhook("confirm", "PUT", request);
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted);
  EXPECT_EQ(rh.Get(id).state.outputs["hook"], request);
  EXPECT_EQ(rh.Get(id).state.output, Json({{"got", 42}}));
}

TEST(WaitForWebhookTest, PathIsRequired) {
  auto errors = CompileErrors("activities: [{id: hook, type: WaitForWebhook}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.path");

  Harness h;
  auto wf = Compile("activities: [{id: hook, type: WaitForWebhook, path: \"/\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_TRUE(s.bookmarks.empty());
}

// --- HttpResponse --------------------------------------------------------------------------------

TEST(HttpResponseTest, WritesAnOutboxItemWithStatusHeadersAndBody) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: reply, type: HttpResponse, status: 201, headers: {Location: "/orders/{{ input.id }}"},
     body: {id: "{{ input.id }}", accepted: true}}
)");
  ASSERT_TRUE(wf);
  StartOptions options;
  options.input = {{"id", "A-1"}};
  auto started = h.engine().Start(*wf, options);
  ASSERT_TRUE(started.ok());
  InstanceState s = std::move(started).value();
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kCommitPoint);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(s.outbox.size(), 1u);
  EXPECT_EQ(s.outbox[0].kind, "httpResponse");
  EXPECT_EQ(s.outbox[0].payload, Json::parse(R"({"status": 201, "headers": {"Location": "/orders/A-1"},
                                                 "body": {"id": "A-1", "accepted": true}})"));
}

TEST(HttpResponseTest, DefaultsToStatus200AndNoHeaders) {
  Harness h;
  auto wf = Compile("activities: [{id: reply, type: HttpResponse, body: ok}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(s.outbox.size(), 1u);
  EXPECT_EQ(s.outbox[0].payload, Json({{"status", 200}, {"headers", Json::object()}, {"body", "ok"}}));
}

TEST(HttpResponseTest, TheRunnerCollectsTheResponse) {
  RunnerHarness rh;
  auto wf = Compile(R"(activities:
  - {id: reply, type: HttpResponse, status: "{{ input.code }}", body: "{{ input }}"}
)");
  ASSERT_TRUE(wf);
  std::string id = rh.Start(wf, {{"code", 202}});
  rh.Run();
  EXPECT_EQ(rh.Status(id), InstanceStatus::kCompleted);
  ASSERT_EQ(rh.Get(id).http_responses.size(), 1u);
  EXPECT_EQ(rh.Get(id).http_responses[0]["status"], 202);
  EXPECT_EQ(rh.Get(id).http_responses[0]["body"], Json({{"code", 202}}));
}

TEST(HttpResponseTest, AStatusOutsideHttpRangeFails) {
  for (const char* status : {"42", "600", "\"{{ 'abc' }}\""}) {
    SCOPED_TRACE(status);
    Harness h;
    auto wf = Compile(std::string("activities: [{id: reply, type: HttpResponse, status: ") + status + "}]\n");
    ASSERT_TRUE(wf);
    InstanceState s = h.Run(wf);
    EXPECT_EQ(s.status, InstanceStatus::kFaulted);
    EXPECT_TRUE(s.outbox.empty());
    ASSERT_EQ(s.incidents.size(), 1u);
    EXPECT_NE(s.incidents[0].message.find("100 to 599"), std::string::npos) << s.incidents[0].message;
  }
}

TEST(HttpResponseTest, HeadersMustBeAnObject) {
  auto errors = CompileErrors("activities: [{id: reply, type: HttpResponse, headers: [a]}]\n");
  ASSERT_EQ(errors.size(), 1u);
  EXPECT_EQ(errors[0].path, "activities[0].inputs.headers");
}

}  // namespace
}  // namespace trellis
