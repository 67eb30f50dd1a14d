// HttpRequest's Idempotency-Key (DESIGN.md section 4): derived from instance, activity and attempt
// ("<instance>:<activity>:...:<attempt>"), so a request re-sent after a crash carries the same key,
// and a new attempt or another execution of the activity (a loop iteration) carries a new one.
#include <set>

#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::seconds;

std::vector<std::string> Keys(const FakeHttpClient& http) {
  std::vector<std::string> out;
  for (const auto& s : http.sent) out.push_back(s.Header("Idempotency-Key"));
  return out;
}

// A key is "<instance>:<activity>:...:<attempt>"; what lies between (e.g. which execution of the
// activity) is the engine's business, as long as the key stays stable across re-runs.
struct KeyParts {
  std::string instance, activity, attempt;
};
KeyParts Split(const std::string& key) {
  KeyParts p;
  size_t a = key.find(':');
  size_t b = key.find(':', a + 1);
  size_t z = key.rfind(':');
  if (a == std::string::npos || b == std::string::npos) return p;
  p.instance = key.substr(0, a);
  p.activity = key.substr(a + 1, b - a - 1);
  p.attempt = key.substr(z + 1);
  return p;
}
// Everything but the attempt.
std::string Execution(const std::string& key) {
  return key.substr(0, key.rfind(':'));
}

TEST(IdempotencyTest, KeyIsInstanceActivityAttemptAndChangesWithEachAttempt) {
  Harness h(R"~(
id: idem
activities:
  - {id: charge, type: HttpRequest, method: post, url: "https://pay.test/charge", body: {amount: 5}, retry: {maxAttempts: 3, initial: 1s, jitter: 0}}
)~");
  h.http.FailWith(Unavailable("reset"));
  h.http.Reply(FakeHttpClient::Response(502));
  h.http.Reply(FakeHttpClient::Response(201));
  ASSERT_TRUE(h.StartAndRun());
  h.RunTimers();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  auto keys = Keys(h.http);
  ASSERT_EQ(keys.size(), 3u);
  for (int i = 0; i < 3; ++i) {
    KeyParts p = Split(keys[static_cast<size_t>(i)]);
    EXPECT_EQ(p.instance, "inst-1") << keys[static_cast<size_t>(i)];
    EXPECT_EQ(p.activity, "charge") << keys[static_cast<size_t>(i)];
    EXPECT_EQ(p.attempt, std::to_string(i + 1)) << keys[static_cast<size_t>(i)];
  }
  EXPECT_NE(keys[0], keys[1]);
  EXPECT_NE(keys[1], keys[2]);
  EXPECT_EQ(Execution(keys[0]), Execution(keys[2])) << "the attempts are of one execution";
  ASSERT_EQ(h.http.sent.size(), 3u);
  EXPECT_EQ(h.http.sent[0].method, "POST");
  EXPECT_EQ(h.http.sent[0].body, R"({"amount":5})");
  EXPECT_EQ(h.http.sent[0].Header("Content-Type"), "application/json");
}

TEST(IdempotencyTest, EveryActivityHasItsOwnKey) {
  Harness h(R"~(
id: idem-two
activities:
  - {id: first, type: HttpRequest, url: "https://api.test/1"}
  - {id: second, type: HttpRequest, url: "https://api.test/2"}
)~");
  ASSERT_TRUE(h.StartAndRun());
  auto keys = Keys(h.http);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(Split(keys[0]).activity, "first");
  EXPECT_EQ(Split(keys[1]).activity, "second");
  EXPECT_EQ(Split(keys[0]).attempt, "1");
  EXPECT_NE(keys[0], keys[1]);
}

TEST(IdempotencyTest, ReSendingTheSameAttemptAfterACrashUsesTheSameKey) {
  Harness h(R"~(
id: idem-crash
activities:
  - {id: prepare, type: SetVariable, name: x, value: 1}
  - {id: charge, type: HttpRequest, url: "https://pay.test/charge"}
  - {id: after, type: WriteLine, text: "done"}
)~");
  ASSERT_TRUE(h.Start());
  const auto& ids = h.wf->ids();
  // Commit point before the call: the state as the store last saw it.
  ASSERT_EQ(h.engine->Step(*h.wf, h.state), StepResult::kStepped);
  Json committed = StateToJson(h.state, ids);
  ASSERT_EQ(h.engine->Step(*h.wf, h.state), StepResult::kCommitPoint);
  ASSERT_EQ(h.http.sent.size(), 1u);

  // The worker dies before committing; another one restores the state and runs again.
  auto restored = StateFromJson(committed, ids);
  ASSERT_TRUE(restored.ok());
  InstanceState s = std::move(restored).value();
  h.engine->RunBurst(*h.wf, s);
  EXPECT_EQ(StatusOf(s), "Completed");
  auto keys = Keys(h.http);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(keys[0], keys[1]) << "the re-sent request must carry the same key";
  EXPECT_EQ(Split(keys[0]).instance, "inst-1");
  EXPECT_EQ(Split(keys[0]).activity, "charge");
  EXPECT_EQ(Split(keys[0]).attempt, "1");
}

TEST(IdempotencyTest, RetryOfAFaultedInstanceSendsANewKey) {
  Harness h(R"~(
id: idem-retry
activities:
  - {id: charge, type: HttpRequest, url: "https://pay.test/charge"}
)~");
  h.http.Reply(FakeHttpClient::Response(500));
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  ASSERT_TRUE(h.engine->Retry(*h.wf, h.state).ok());
  h.Burst();
  EXPECT_EQ(StatusOf(h.state), "Completed");
  auto keys = Keys(h.http);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_NE(keys[1], keys[0]);
  EXPECT_EQ(Split(keys[0]).attempt, "1");
  EXPECT_EQ(Split(keys[1]).attempt, "2") << "the retried instance runs the next attempt";
  EXPECT_EQ(Split(keys[1]).activity, "charge");
}

TEST(IdempotencyTest, KeyDependsOnTheInstance) {
  auto wf = CompileYaml(R"~(
id: idem-instances
activities:
  - {id: charge, type: HttpRequest, url: "https://pay.test/charge"}
)~");
  ASSERT_TRUE(wf);
  ManualClock clock(T0());
  FakeHttpClient http;
  EngineServices services;
  services.clock = &clock;
  services.http = &http;
  Engine engine(BuiltinActivities(), services);
  for (const char* id : {"a", "b"}) {
    StartOptions o;
    o.instance_id = id;
    auto s = engine.Start(*wf, o);
    ASSERT_TRUE(s.ok());
    engine.RunBurst(*wf, *s);
  }
  auto keys = Keys(http);
  ASSERT_EQ(keys.size(), 2u);
  EXPECT_EQ(Split(keys[0]).instance, "a");
  EXPECT_EQ(Split(keys[1]).instance, "b");
  EXPECT_NE(keys[0], keys[1]);
}

TEST(IdempotencyTest, AnExplicitIdempotencyKeyHeaderIsKept) {
  Harness h(R"~(
id: idem-explicit
activities:
  - {id: charge, type: HttpRequest, url: "https://pay.test/charge", headers: {idempotency-key: "order-{{ input.id }}"}}
)~");
  ASSERT_TRUE(h.StartAndRun({{"id", "77"}}));
  ASSERT_EQ(h.http.sent.size(), 1u);
  int count = 0;
  for (const auto& [k, v] : h.http.sent[0].headers)
    count += (k == "idempotency-key" || k == "Idempotency-Key") ? 1 : 0;
  EXPECT_EQ(count, 1) << "one header, not two";
  EXPECT_EQ(h.http.sent[0].Header("Idempotency-Key"), "order-77");
}

TEST(IdempotencyTest, DifferentLoopIterationsDoNotShareAKey) {
  // Each iteration sends a different request; were they to share a key, a server that honours
  // Idempotency-Key would answer the second and third with the first one's response.
  Harness h(R"~(
id: idem-loop
activities:
  - {id: loop, type: ForEach, items: [a, b, c]}
  - {id: charge, type: HttpRequest, url: "https://pay.test/charge/{{ item }}"}
connections:
  - {from: loop, outcome: Iterate, to: charge}
)~");
  ASSERT_TRUE(h.StartAndRun());
  EXPECT_EQ(StatusOf(h.state), "Completed");
  auto keys = Keys(h.http);
  ASSERT_EQ(keys.size(), 3u);
  std::set<std::string> distinct(keys.begin(), keys.end());
  EXPECT_EQ(distinct.size(), 3u) << keys[0] << " / " << keys[1] << " / " << keys[2];
  for (const auto& k : keys) {
    EXPECT_EQ(Split(k).activity, "charge") << k;
    EXPECT_EQ(Split(k).attempt, "1") << k;
  }
}

}  // namespace
}  // namespace trellis::engine_test
