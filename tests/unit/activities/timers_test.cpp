// Delay and WaitUntil: durable timers, driven by a ManualClock.
#include <chrono>
#include <vector>

#include <gtest/gtest.h>

#include "activity_test_util.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using activity_test::Compile;
using activity_test::CompileErrors;
using activity_test::Harness;
using activity_test::Incidents;
using activity_test::T0;

// --- Delay ---------------------------------------------------------------------------------------

TEST(DelayTest, SuspendsOnATimerAndContinuesWhenItIsDue) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: wait, type: Delay, duration: 5m}
  - {id: after, type: WriteLine, text: done}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(s.bookmarks[0].kind, BookmarkKind::kTimer);
  EXPECT_EQ(s.bookmarks[0].activity_id, "wait");
  ASSERT_TRUE(s.bookmarks[0].due_at.has_value());
  EXPECT_EQ(*s.bookmarks[0].due_at, T0() + 5min);
  EXPECT_EQ(Engine::NextDue(s), T0() + 5min);
  EXPECT_TRUE(h.lines().empty());

  // One millisecond early: nothing happens.
  h.AdvanceAndFire(*wf, s, 5min - 1ms);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  EXPECT_TRUE(h.lines().empty());

  h.AdvanceAndFire(*wf, s, 1ms);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_TRUE(s.bookmarks.empty());
  EXPECT_EQ(h.lines(), std::vector<std::string>{"done"});
  const JournalRecord* r = h.Record("wait");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->outcome, "Done");
  EXPECT_EQ(r->started_at, T0());
  EXPECT_EQ(r->finished_at, T0() + 5min);
}

TEST(DelayTest, AcceptsEveryDurationForm) {
  struct Case {
    const char* text;
    std::chrono::milliseconds want;
  } cases[] = {{"500ms", 500ms},
               {"10s", 10s},
               {"1h30m", 90min},
               {"2d", 48h},
               {"PT5M", 5min},
               {"\"{{ '2' .. 's' }}\"", 2s},
               {"\"{{ 1500 }}\"", 1500ms}};
  for (const auto& c : cases) {
    SCOPED_TRACE(c.text);
    Harness h;
    auto wf = Compile(std::string("activities: [{id: wait, type: Delay, duration: ") + c.text + "}]\n");
    ASSERT_TRUE(wf);
    InstanceState s = h.Run(wf);
    ASSERT_EQ(s.bookmarks.size(), 1u) << Incidents(s);
    EXPECT_EQ(*s.bookmarks[0].due_at, T0() + c.want);
  }
}

TEST(DelayTest, ZeroDurationContinuesAtTheSameInstant) {
  Harness h;
  auto wf =
      Compile("activities: [{id: wait, type: Delay, duration: 0s}, {id: b, type: WriteLine, text: b}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  h.AdvanceAndFire(*wf, s, 0ms);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"b"});
}

TEST(DelayTest, ABadOrNegativeDurationFails) {
  EXPECT_EQ(CompileErrors("activities: [{id: wait, type: Delay, duration: soon}]\n").at(0).path,
            "activities[0].inputs.duration");
  for (const char* duration : {"\"{{ 'soon' }}\"", "\"{{ -5 }}\""}) {
    SCOPED_TRACE(duration);
    Harness h;
    auto wf = Compile(std::string("activities: [{id: wait, type: Delay, duration: ") + duration + "}]\n");
    ASSERT_TRUE(wf);
    InstanceState s = h.Run(wf);
    EXPECT_EQ(s.status, InstanceStatus::kFaulted);
    EXPECT_TRUE(s.bookmarks.empty());
  }
}

TEST(DelayTest, InstanceStateWithTheTimerSurvivesSerialisation) {
  Harness h;
  auto wf =
      Compile("activities: [{id: wait, type: Delay, duration: 1h}, {id: b, type: WriteLine, text: b}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  auto restored = StateFromJson(StateToJson(s, wf->ids()), wf->ids());
  ASSERT_TRUE(restored.ok()) << restored.status().ToString();
  InstanceState r = std::move(restored).value();
  EXPECT_EQ(Engine::NextDue(r), T0() + 1h);
  h.AdvanceAndFire(*wf, r, 1h);
  EXPECT_EQ(r.status, InstanceStatus::kCompleted) << Incidents(r);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"b"});
}

TEST(DelayTest, AnActivityTimeoutShorterThanTheDelayFaultsWithATimeoutIncident) {
  Harness h;
  auto wf = Compile("activities: [{id: wait, type: Delay, duration: 1h, timeout: 10m}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(Engine::NextDue(s), T0() + 10min);
  h.AdvanceAndFire(*wf, s, 10min);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].kind, "Timeout");
  EXPECT_EQ(s.incidents[0].activity_id, "wait");
  EXPECT_NE(s.incidents[0].message.find("timed out after 10m"), std::string::npos) << s.incidents[0].message;
}

TEST(DelayTest, MaxExecutionTimeFaultsTheInstance) {
  Harness h;
  auto wf = Compile(R"(options: {maxExecutionTime: 1h}
activities: [{id: wait, type: Delay, duration: 2h}, {id: b, type: WriteLine, text: never}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(Engine::NextDue(s), T0() + 1h);
  h.AdvanceAndFire(*wf, s, 1h);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].kind, "MaxExecutionTime");
  EXPECT_NE(s.incidents[0].message.find("1h"), std::string::npos) << s.incidents[0].message;
  EXPECT_TRUE(h.lines().empty());
}

// --- Retry backoff (driven by a failing Script) ----------------------------------------------------

TEST(RetryTest, ExponentialBackoffDoublesUpToTheMaximum) {
  Harness h;
  auto wf = Compile(R"Y(activities:
  - {id: s, type: Script, code: "error('flaky')",
     retry: {maxAttempts: 5, backoff: exponential, initial: 1s, max: 3s, jitter: 0}}
)Y");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  std::vector<std::chrono::milliseconds> delays;
  for (int i = 0; i < 4; ++i) {
    ASSERT_EQ(s.bookmarks.size(), 1u) << Incidents(s);
    ASSERT_EQ(s.bookmarks[0].kind, BookmarkKind::kRetry);
    auto delay =
        std::chrono::duration_cast<std::chrono::milliseconds>(*s.bookmarks[0].due_at - h.clock().Now());
    delays.push_back(delay);
    h.AdvanceAndFire(*wf, s, delay);
  }
  EXPECT_EQ(delays, (std::vector<std::chrono::milliseconds>{1s, 2s, 3s, 3s}));
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].attempt, 5);
  for (int attempt = 1; attempt <= 5; ++attempt) EXPECT_NE(h.Record("s", attempt), nullptr) << attempt;
}

TEST(RetryTest, FixedBackoffWithJitterStaysWithinTheJitter) {
  Harness h;
  auto wf = Compile(R"Y(activities:
  - {id: s, type: Script, code: "error('flaky')", retry: {maxAttempts: 2, backoff: fixed, initial: 10s, jitter: 0.2}}
)Y");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  auto delay = *s.bookmarks[0].due_at - h.clock().Now();
  EXPECT_GE(delay, 8s);
  EXPECT_LE(delay, 12s);
}

// --- WaitUntil -----------------------------------------------------------------------------------

TEST(WaitUntilTest, APastTimeContinuesImmediately) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: until, type: WaitUntil, at: "2026-03-01T11:59:59Z"}
  - {id: b, type: WriteLine, text: went on}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_TRUE(s.bookmarks.empty());
  EXPECT_EQ(h.lines(), std::vector<std::string>{"went on"});
}

TEST(WaitUntilTest, TheCurrentInstantContinuesImmediately) {
  Harness h;
  auto wf = Compile("activities: [{id: until, type: WaitUntil, at: \"2026-03-01T12:00:00Z\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
}

TEST(WaitUntilTest, AFutureTimeSuspendsUntilThen) {
  Harness h;
  auto wf = Compile(R"(activities:
  - {id: until, type: WaitUntil, at: "2026-03-01T13:30:00+01:00"}
  - {id: b, type: WriteLine, text: "at {{ now() }}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(FormatTime(*s.bookmarks[0].due_at), "2026-03-01T12:30:00.000Z");

  h.AdvanceAndFire(*wf, s, 29min);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  h.AdvanceAndFire(*wf, s, 1min);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(h.lines(), std::vector<std::string>{"at 2026-03-01T12:30:00.000Z"});
}

TEST(WaitUntilTest, TheTimeMayComeFromATemplate) {
  Harness h;
  auto wf = Compile("activities: [{id: until, type: WaitUntil, at: \"{{ input.when }}\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"when", "2026-03-02T12:00:00Z"}});
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(*s.bookmarks[0].due_at, T0() + 24h);
}

TEST(WaitUntilTest, ABadTimeFailsTheActivity) {
  Harness h;
  auto wf = Compile("activities: [{id: until, type: WaitUntil, at: next tuesday}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("WaitUntil"), std::string::npos) << s.incidents[0].message;
}

}  // namespace
}  // namespace trellis
