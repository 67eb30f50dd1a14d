// Retries and timeouts (DESIGN.md section 4): retry policies with fixed or exponential backoff are
// durable timer bookmarks, never sleeps; per-activity timeouts and the workflow's maxExecutionTime
// fault with an incident that names the reason.
#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::hours;
using std::chrono::milliseconds;
using std::chrono::minutes;
using std::chrono::seconds;
using ::testing::ElementsAre;
using ::testing::HasSubstr;

Result<HttpResponseData> Refused(const FakeHttpClient::Sent&) {
  return Unavailable("connection refused");
}

const Bookmark* RetryBookmark(const InstanceState& s) {
  for (const auto& b : s.bookmarks) {
    if (b.kind == BookmarkKind::kRetry) return &b;
  }
  return nullptr;
}

TEST(RetryTest, FailingTwiceThenSucceedingJournalsAttemptsOneTwoThree) {
  Harness h(R"~(
id: retry
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/orders", retry: {maxAttempts: 3, backoff: fixed, initial: 2s, jitter: 0}}
  - {id: after, type: WriteLine, text: "status {{ outputs.fetch.status }}"}
)~");
  h.http.FailWith(Unavailable("connection reset"));
  h.http.Reply(FakeHttpClient::Response(503));
  h.http.Reply(FakeHttpClient::Response(200, R"({"id": 7})"));
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_EQ(h.http.sent.size(), 3u);
  auto fetch = h.Records("fetch");
  ASSERT_EQ(fetch.size(), 3u);
  EXPECT_EQ(fetch[0]->attempt, 1);
  EXPECT_EQ(fetch[1]->attempt, 2);
  EXPECT_EQ(fetch[2]->attempt, 3);
  EXPECT_EQ(fetch[0]->status, "Faulted");
  EXPECT_THAT(fetch[0]->error, HasSubstr("connection reset"));
  EXPECT_EQ(fetch[1]->status, "Faulted");
  EXPECT_THAT(fetch[1]->error, HasSubstr("503"));
  EXPECT_EQ(fetch[2]->status, "Completed");
  EXPECT_EQ(fetch[2]->output["body"], (Json{{"id", 7}}));
  EXPECT_THAT(h.lines, ElementsAre("status 200"));
  EXPECT_TRUE(h.state.incidents.empty());
  // Each attempt's record is stamped with the virtual time it ran at.
  EXPECT_EQ(fetch[0]->finished_at, T0());
  EXPECT_EQ(fetch[1]->started_at, T0() + seconds(2));
  EXPECT_EQ(fetch[2]->started_at, T0() + seconds(4));
}

TEST(RetryTest, FixedBackoffIsATimerBookmarkDueAfterTheInitialDelay) {
  Harness h(R"~(
id: fixed
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 4, backoff: fixed, initial: 3s, jitter: 0}}
)~");
  h.http.responder = Refused;
  ASSERT_TRUE(h.StartAndRun());
  for (int attempt = 1; attempt <= 3; ++attempt) {
    SCOPED_TRACE("after attempt " + std::to_string(attempt));
    EXPECT_EQ(StatusOf(h.state), "Suspended") << "a retry waits on a bookmark, the worker is free";
    const Bookmark* b = RetryBookmark(h.state);
    ASSERT_NE(b, nullptr);
    EXPECT_EQ(b->activity_id, "fetch");
    ASSERT_TRUE(b->due_at.has_value());
    EXPECT_EQ(*b->due_at, h.clock.Now() + seconds(3));
    EXPECT_EQ(b->token.attempt, attempt + 1);
    EXPECT_EQ(Engine::NextDue(h.state), b->due_at);
    // Not yet due: nothing happens.
    TimePoint due = *b->due_at;
    h.AdvanceTo(due - milliseconds(1));
    EXPECT_EQ(h.http.sent.size(), static_cast<size_t>(attempt));
    h.AdvanceTo(due);
    EXPECT_EQ(h.http.sent.size(), static_cast<size_t>(attempt + 1));
  }
  EXPECT_EQ(StatusOf(h.state), "Faulted");
}

TEST(RetryTest, ExponentialBackoffDoublesFromTheInitialDelayUpToMax) {
  Harness h(R"~(
id: exponential
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 6, backoff: exponential, initial: 1s, max: 5s, jitter: 0}}
)~");
  h.http.responder = Refused;
  ASSERT_TRUE(h.StartAndRun());
  std::vector<std::chrono::milliseconds> delays;
  while (const Bookmark* b = RetryBookmark(h.state)) {
    ASSERT_TRUE(b->due_at.has_value());
    delays.push_back(std::chrono::duration_cast<milliseconds>(*b->due_at - h.clock.Now()));
    h.AdvanceTo(*b->due_at);
  }
  EXPECT_THAT(delays, ElementsAre(seconds(1), seconds(2), seconds(4), seconds(5), seconds(5)));
  EXPECT_EQ(h.http.sent.size(), 6u);
  EXPECT_EQ(StatusOf(h.state), "Faulted");
}

TEST(RetryTest, JitterStaysWithinItsFraction) {
  Harness h(R"~(
id: jitter
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 20, backoff: fixed, initial: 10s, jitter: 0.5}}
)~");
  h.http.responder = Refused;
  ASSERT_TRUE(h.StartAndRun());
  int n = 0;
  while (const Bookmark* b = RetryBookmark(h.state)) {
    auto d = *b->due_at - h.clock.Now();
    EXPECT_GE(d, seconds(5));
    EXPECT_LE(d, seconds(15));
    h.AdvanceTo(*b->due_at);
    ++n;
  }
  EXPECT_EQ(n, 19);
}

TEST(RetryTest, ExhaustedRetriesFaultWithAnIncident) {
  Harness h(R"~(
id: exhausted
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 3, initial: 1s, jitter: 0}}
  - {id: after, type: WriteLine, text: "after"}
)~");
  h.http.responder = Refused;
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(h.RunTimers(), 2);
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.http.sent.size(), 3u);
  EXPECT_TRUE(h.lines.empty());
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].activity_id, "fetch");
  EXPECT_EQ(h.state.incidents[0].attempt, 3);
  EXPECT_EQ(h.state.incidents[0].kind, "ActivityFaulted");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("connection refused"));
  EXPECT_TRUE(h.state.bookmarks.empty());
}

TEST(RetryTest, NonRetryableFailureIsNotRetried) {
  Harness h(R"~(
id: non-retryable
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/x", retry: {maxAttempts: 5, jitter: 0}}
)~");
  h.http.FailWith(FailedPrecondition("destination denied by the SSRF guard"));
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_EQ(h.http.sent.size(), 1u);
}

TEST(RetryTest, RetriedActivityInsideALoopKeepsItsIteration) {
  Harness h(R"~(
id: loop-retry
activities:
  - {id: loop, type: ForEach, items: [a, b, c]}
  - {id: fetch, type: HttpRequest, url: "https://api.test/{{ item }}", retry: {maxAttempts: 2, initial: 1s, jitter: 0}}
  - {id: say, type: WriteLine, text: "{{ item }}:{{ outputs.fetch.body.item }}"}
connections:
  - {from: loop, outcome: Iterate, to: fetch}
  - {from: fetch, to: say}
)~");
  int failures = 0;
  h.http.responder = [&](const FakeHttpClient::Sent& s) -> Result<HttpResponseData> {
    std::string item = s.url.substr(s.url.rfind('/') + 1);
    if (item == "b" && failures++ == 0) return Unavailable("flaky");
    return FakeHttpClient::Response(200, R"({"item":")" + item + R"("})");
  };
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("a:a", "b:b", "c:c"));
}

TEST(RetryTest, TimeoutOnASuspendedActivityFailsIt) {
  Harness h(R"~(
id: timeout
activities:
  - {id: hook, type: WaitForWebhook, path: callback, timeout: 30s}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  const Bookmark* b = h.FindBookmark("hook");
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(b->deadline.has_value());
  EXPECT_EQ(*b->deadline, T0() + seconds(30));
  EXPECT_EQ(Engine::NextDue(h.state), T0() + seconds(30));

  h.AdvanceTo(T0() + seconds(29));
  EXPECT_EQ(StatusOf(h.state), "Suspended");

  h.AdvanceTo(T0() + seconds(30));
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  EXPECT_TRUE(h.lines.empty());
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].kind, "Timeout");
  EXPECT_EQ(h.state.incidents[0].activity_id, "hook");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("timed out"));
  EXPECT_TRUE(Engine::MatchWebhook(h.state, "callback", "POST").empty());
}

TEST(RetryTest, TimeoutIsCaughtByAnErrorConnection) {
  Harness h(R"~(
id: timeout-caught
activities:
  - {id: hook, type: WaitForWebhook, path: callback, timeout: 30s}
  - {id: ok, type: WriteLine, text: "ok"}
  - {id: late, type: WriteLine, text: "late: {{ outputs.hook.error }}"}
connections:
  - {from: hook, to: ok}
  - {from: hook, outcome: Error, to: late}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.Advance(seconds(30));
  EXPECT_EQ(StatusOf(h.state), "Completed");
  ASSERT_EQ(h.lines.size(), 1u);
  EXPECT_THAT(h.lines[0], HasSubstr("late: "));
  EXPECT_THAT(h.lines[0], HasSubstr("timed out"));
}

TEST(RetryTest, TimeoutOfASuspendedActivityAppliesItsRetryPolicy) {
  Harness h(R"~(
id: timeout-retry
activities:
  - {id: hook, type: WaitForWebhook, path: callback, timeout: 10s, retry: {maxAttempts: 2, initial: 5s, jitter: 0}}
  - {id: after, type: WriteLine, text: "got it"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  h.AdvanceTo(T0() + seconds(10));  // attempt 1 times out; attempt 2 is due at 15s
  EXPECT_EQ(StatusOf(h.state), "Suspended");
  h.AdvanceTo(T0() + seconds(15));
  const Bookmark* b = h.FindBookmark("hook");
  ASSERT_NE(b, nullptr);
  EXPECT_EQ(b->kind, BookmarkKind::kWebhook);
  EXPECT_EQ(b->token.attempt, 2);
  ASSERT_TRUE(b->deadline.has_value());
  EXPECT_EQ(*b->deadline, T0() + seconds(25)) << "the new attempt gets a fresh timeout";
  auto ids = Engine::MatchWebhook(h.state, "callback", "POST");
  ASSERT_EQ(ids.size(), 1u);
  ASSERT_TRUE(h.engine->ResumeBookmark(*h.wf, h.state, ids[0], ResumeReason::kWebhook, {{"body", "x"}}).ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  EXPECT_THAT(h.lines, ElementsAre("got it"));
}

TEST(RetryTest, HttpRequestTimeoutBoundsTheCallAndItsExpiryFailsTheActivity) {
  Harness h(R"~(
id: slow-call
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/slow", timeout: 2s, retry: {maxAttempts: 2, initial: 1s, jitter: 0}}
)~");
  // The call would take 3s of virtual time; like a real client, the fake gives up at the budget.
  h.http.responder = [&](const FakeHttpClient::Sent& s) -> Result<HttpResponseData> {
    if (s.timeout < seconds(3)) {
      h.clock.Advance(s.timeout);
      return DeadlineExceeded("timed out after " + std::to_string(s.timeout.count()) + "ms");
    }
    h.clock.Advance(seconds(3));
    return FakeHttpClient::Response(200);
  };
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(h.http.sent.size(), 1u);
  EXPECT_EQ(h.http.sent[0].timeout, seconds(2)) << "the client is given the activity's timeout";
  EXPECT_EQ(StatusOf(h.state), "Suspended") << "a timed-out call is retryable";
  h.RunTimers();
  EXPECT_EQ(h.http.sent.size(), 2u);
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("timed out"));
}

TEST(RetryTest, StepTimeoutFailsASynchronousActivityThatRanTooLong) {
  // The global step timeout applies even when the activity has no timeout of its own.
  auto wf = CompileYaml(R"~(
id: step-timeout
activities:
  - {id: fetch, type: HttpRequest, url: "https://api.test/slow"}
)~");
  ASSERT_TRUE(wf);
  ManualClock clock(T0());
  FakeHttpClient http;
  http.responder = [&](const FakeHttpClient::Sent&) -> Result<HttpResponseData> {
    clock.Advance(seconds(90));  // a client that ignores its deadline
    return FakeHttpClient::Response(200);
  };
  EngineServices services;
  services.clock = &clock;
  services.http = &http;
  services.step_timeout = seconds(60);
  Engine engine(BuiltinActivities(), services);
  auto s = engine.Start(*wf, {});
  ASSERT_TRUE(s.ok());
  engine.RunBurst(*wf, *s);
  ASSERT_EQ(http.sent.size(), 1u);
  EXPECT_EQ(http.sent[0].timeout, seconds(60));
  EXPECT_EQ(StatusOf(*s), "Faulted");
  ASSERT_EQ(s->incidents.size(), 1u);
  EXPECT_THAT(s->incidents[0].message, HasSubstr("exceeded its timeout"));
}

TEST(RetryTest, MaxExecutionTimeFaultsWithAMaxExecutionTimeIncident) {
  Harness h(R"~(
id: max-exec
options: {maxExecutionTime: 1m}
activities:
  - {id: nap, type: Delay, duration: 1h}
  - {id: after, type: WriteLine, text: "after"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_TRUE(h.state.deadline.has_value());
  EXPECT_EQ(*h.state.deadline, T0() + minutes(1));
  EXPECT_EQ(Engine::NextDue(h.state), T0() + minutes(1)) << "the deadline comes before the delay";

  h.AdvanceTo(T0() + seconds(59));
  EXPECT_EQ(StatusOf(h.state), "Suspended");

  h.AdvanceTo(T0() + minutes(1));
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_EQ(h.state.incidents.size(), 1u);
  EXPECT_EQ(h.state.incidents[0].kind, "MaxExecutionTime");
  EXPECT_THAT(h.state.incidents[0].message, HasSubstr("maxExecutionTime"));
  EXPECT_TRUE(h.lines.empty());
  EXPECT_FALSE(Engine::NextDue(h.state).has_value());
}

TEST(RetryTest, MaxExecutionTimeStopsARunningInstanceAtTheNextStep) {
  Harness h(R"~(
id: max-exec-running
options: {maxExecutionTime: 10s}
activities:
  - {id: call, type: HttpRequest, url: "https://api.test/slow"}
  - {id: after, type: WriteLine, text: "after"}
)~");
  h.http.on_send = [&](const FakeHttpClient::Sent&) { h.clock.Advance(seconds(11)); };
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_FALSE(h.state.incidents.empty());
  EXPECT_EQ(h.state.incidents.back().kind, "MaxExecutionTime");
  EXPECT_TRUE(h.lines.empty());
}

}  // namespace
}  // namespace trellis::engine_test
