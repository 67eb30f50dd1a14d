// Events through the API: resuming WaitForEvent bookmarks by correlation, starting workflows with
// an Event trigger, the counts in the answer, and events held for an instance that suspends later.
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include "api_fixture.h"

namespace trellis::api::testing {
namespace {

class EventApiTest : public ApiTest {};
TRELLIS_API_SUITE(EventApiTest);

Json Approval() {
  return {{"id", "approval"},
          {"inputs", {{"orderId", {{"type", "string"}, {"required", true}}}}},
          {"activities",
           {{{"id", "approve"},
             {"type", "WaitForEvent"},
             {"event", "order.approved"},
             {"correlation", "{{ input.orderId }}"}},
            {{"id", "out"}, {"type", "SetOutput"}, {"name", "by"}, {"value", "{{ outputs.approve.by }}"}}}}};
}

TEST_P(EventApiTest, ResumesTheWaitingInstanceWithTheSameCorrelation) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Approval());
  auto a1 = Execute("approval", {{"input", {{"orderId", "A-1"}}}, {"wait", true}});
  auto a2 = Execute("approval", {{"input", {{"orderId", "A-2"}}}, {"wait", true}});
  ASSERT_EQ(a1.json()["status"], "Suspended") << a1.body;
  ASSERT_EQ(a2.json()["status"], "Suspended") << a2.body;

  auto r =
      client().Post("/api/events/order.approved", Json{{"correlation", "A-1"}, {"payload", {{"by", "ann"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["resumed"], 1);
  EXPECT_EQ(r.json()["started"], 0);
  EXPECT_EQ(r.json()["held"], false);

  Json done = WaitForStatus(a1.json()["id"], "Completed");
  EXPECT_EQ(done["output"]["by"], "ann");
  EXPECT_EQ(GetInstance(a2.json()["id"])["status"], "Suspended");

  // The matched bookmark is gone: the same event again matches nothing and is held.
  auto again =
      client().Post("/api/events/order.approved", Json{{"correlation", "A-1"}, {"payload", {{"by", "bob"}}}});
  ASSERT_EQ(again.status, 200) << again.body;
  EXPECT_EQ(again.json()["resumed"], 0);
  EXPECT_EQ(again.json()["held"], true);
}

TEST_P(EventApiTest, AnEventTriggerStartsTheWorkflow) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(
      {{"id", "on-signup"},
       {"triggers", {{{"type", "Event"}, {"event", "user.signup"}}}},
       {"activities",
        {{{"id", "out"}, {"type", "SetOutput"}, {"name", "email"}, {"value", "{{ input.email }}"}}}}});
  CreateWorkflow({{"id", "tenant-only"},
                  {"triggers", {{{"type", "Event"}, {"event", "user.signup"}, {"correlation", "tenant-1"}}}},
                  {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});

  auto r = client().Post("/api/events/user.signup",
                         Json{{"correlation", "tenant-2"}, {"payload", {{"email", "a@example.org"}}}});
  ASSERT_EQ(r.status, 200) << r.body;
  EXPECT_EQ(r.json()["started"], 1);
  EXPECT_EQ(r.json()["resumed"], 0);
  EXPECT_EQ(r.json()["held"], false);
  ASSERT_EQ(r.json()["instanceIds"].size(), 1u);
  Json done = WaitForStatus(r.json()["instanceIds"][0], "Completed");
  EXPECT_EQ(done["workflowId"], "on-signup");
  EXPECT_EQ(done["output"]["email"], "a@example.org");
  EXPECT_EQ(done["correlationId"], "tenant-2");

  // The trigger with a correlation starts only for that correlation.
  auto both = client().Post("/api/events/user.signup",
                            Json{{"correlation", "tenant-1"}, {"payload", {{"email", "b@example.org"}}}});
  ASSERT_EQ(both.status, 200) << both.body;
  EXPECT_EQ(both.json()["started"], 2);

  // A retracted workflow's trigger no longer starts anything.
  ASSERT_EQ(client().Post("/api/workflows/on-signup/retract", Json::object()).status, 200);
  ASSERT_EQ(client().Post("/api/workflows/tenant-only/retract", Json::object()).status, 200);
  auto none = client().Post("/api/events/user.signup", Json{{"payload", {{"email", "c@example.org"}}}});
  ASSERT_EQ(none.status, 200) << none.body;
  EXPECT_EQ(none.json()["started"], 0);
}

TEST_P(EventApiTest, AnEventSentBeforeTheWaitIsHeldAndConsumed) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Approval());
  auto early = client().Post("/api/events/order.approved",
                             Json{{"correlation", "B-7"}, {"payload", {{"by", "early"}}}});
  ASSERT_EQ(early.status, 200) << early.body;
  EXPECT_EQ(early.json()["resumed"], 0);
  EXPECT_EQ(early.json()["held"], true);

  std::string id = StartInstance("approval", {{"input", {{"orderId", "B-7"}}}});
  Json done = WaitForStatus(id, "Completed");
  EXPECT_EQ(done["output"]["by"], "early");

  // Consumed once: the next instance with that correlation waits.
  auto second = Execute("approval", {{"input", {{"orderId", "B-7"}}}, {"wait", true}});
  EXPECT_EQ(second.json()["status"], "Suspended") << second.body;
}

TEST_P(EventApiTest, AnEventIsHeldWhenOnlyTriggersOfAnotherCorrelationListen) {
  ASSERT_NO_FATAL_FAILURE(Start());
  CreateWorkflow(Approval());
  CreateWorkflow(
      {{"id", "tenant-only"},
       {"triggers", {{{"type", "Event"}, {"event", "order.approved"}, {"correlation", "tenant-1"}}}},
       {"activities", {{{"id", "n"}, {"type", "Noop"}}}}});
  auto early =
      client().Post("/api/events/order.approved", Json{{"correlation", "C-3"}, {"payload", {{"by", "cy"}}}});
  ASSERT_EQ(early.status, 200) << early.body;
  EXPECT_EQ(early.json()["started"], 0);
  EXPECT_EQ(early.json()["held"], true);
  std::string id = StartInstance("approval", {{"input", {{"orderId", "C-3"}}}});
  EXPECT_EQ(WaitForStatus(id, "Completed")["output"]["by"], "cy");
}

TEST_P(EventApiTest, InvalidEventBodiesAre400) {
  ASSERT_NO_FATAL_FAILURE(Start());
  EXPECT_TRUE(IsProblem(client().Post("/api/events/x", Json{{"correlation", 1}}), 400));
  EXPECT_TRUE(IsProblem(client().Post("/api/events/x", Json{{"payloud", 1}}), 400));
  EXPECT_TRUE(
      IsProblem(client().Send("POST", "/api/events/x", "[1]", {{"Content-Type", "application/json"}}), 400));
  // An empty body is an event without payload.
  auto empty = client().Send("POST", "/api/events/x");
  ASSERT_EQ(empty.status, 200) << empty.body;
}

}  // namespace
}  // namespace trellis::api::testing
