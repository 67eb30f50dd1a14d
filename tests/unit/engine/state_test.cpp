// The crash-recovery property (DESIGN.md section 4): the instance state serialises to JSON and back
// losslessly at every point of a run, so that a run that is saved after every step and continued
// from the saved state in a fresh engine, or that crashes and restarts from its last commit point,
// ends exactly as an uninterrupted run does. Malformed state is an error, never a crash.
#include <set>

#include "engine_test_util.h"

namespace trellis::engine_test {
namespace {

using std::chrono::seconds;
using ::testing::HasSubstr;

// ForEach (parallel) with a Fork/Join all and a retried HttpRequest in each iteration, then a
// WaitForEvent vs. Delay race on a Join any, then a While over a timer.
const char* kRecovery = R"~(
id: recovery
inputs: {orderId: {type: string, required: true}}
variables: {count: 0, polls: 0}
activities:
  - {id: loop, type: ForEach, items: [1, 2, 3], parallel: 2}
  - {id: fork, type: Fork, branches: [call, nap]}
  - {id: call, type: HttpRequest, url: "https://api.test/items/{{ item }}", retry: {maxAttempts: 3, backoff: exponential, initial: 1s, jitter: 0}}
  - {id: nap, type: Delay, duration: "{{ item }}s"}
  - {id: join, type: Join, mode: all}
  - {id: tally, type: SetVariable, name: count, value: "{{ vars.count + outputs.call.body.n }}"}
  - {id: race, type: Fork, branches: [approve, expire]}
  - {id: approve, type: WaitForEvent, event: approved, correlation: "{{ input.orderId }}"}
  - {id: expire, type: Delay, duration: 1h}
  - {id: first, type: Join, mode: any}
  - {id: poll, type: While, condition: "vars.polls < 3", maxIterations: 10}
  - {id: wait, type: Delay, duration: 30s}
  - {id: bump, type: SetVariable, name: polls, value: "{{ vars.polls + 1 }}"}
  - {id: result, type: SetOutput, name: count, value: "{{ vars.count }}"}
  - {id: approval, type: SetOutput, name: approvedBy, value: "{{ outputs.approve.by }}"}
connections:
  - {from: loop, outcome: Iterate, to: fork}
  - {from: fork, outcome: call, to: call}
  - {from: fork, outcome: nap, to: nap}
  - {from: call, to: join}
  - {from: nap, to: join}
  - {from: join, to: tally}
  - {from: loop, outcome: Done, to: race}
  - {from: race, outcome: approve, to: approve}
  - {from: race, outcome: expire, to: expire}
  - {from: approve, to: first}
  - {from: expire, to: first}
  - {from: first, to: poll}
  - {from: poll, outcome: Iterate, to: wait}
  - {from: wait, to: bump}
  - {from: poll, outcome: Done, to: result}
  - {from: result, to: approval}
)~";

// Deterministic whatever the number of re-sends: item 2 fails on its first attempt.
Result<HttpResponseData> ItemResponder(const FakeHttpClient::Sent& s) {
  std::string item = s.url.substr(s.url.rfind('/') + 1);
  if (item == "2" && s.Header("Idempotency-Key").ends_with(":1")) return Unavailable("flaky upstream");
  return FakeHttpClient::Response(200, R"({"n": )" + std::to_string(std::stoi(item) * 10) + "}");
}

enum class Mode { kUninterrupted, kRoundTripEveryStep, kCrashBeforeCommit };

struct RunResult {
  Json final_state;
  std::vector<Json> journal;       // as committed
  std::vector<std::string> keys;   // Idempotency-Key of every request sent
  std::set<std::string> coverage;  // what the saved states held
  int saves = 0;
  int crashes = 0;
};

void Observe(const InstanceState& s, std::set<std::string>* seen) {
  if (!s.frames.empty()) seen->insert("frames");
  for (const auto& [id, f] : s.frames) {
    if (f.kind == Frame::Kind::kIteration && !f.outputs.empty()) seen->insert("iteration outputs");
    if (f.kind == Frame::Kind::kLoop && f.is_while) seen->insert("while");
  }
  if (!s.joins.empty()) seen->insert("joins");
  for (const auto& b : s.bookmarks) seen->insert(std::string("bookmark ") + BookmarkKindName(b.kind));
  for (size_t i = s.ready_head; i < s.ready.size(); ++i) {
    if (s.ready[i].resume) seen->insert("resume token");
  }
}

// Runs kRecovery to its end. Events and timers come from outside and are committed at once;
// in kCrashBeforeCommit mode the process "dies" once per commit interval, after `crash_after`
// steps or just before the interval's commit, and restarts from the last committed state.
RunResult Drive(const CompiledWorkflow& wf, Mode mode, int crash_after = 1) {
  RunResult out;
  ManualClock clock(T0());
  FakeHttpClient http;
  http.responder = ItemResponder;
  auto new_engine = [&] {
    EngineServices services;
    services.clock = &clock;
    services.http = &http;
    services.random_seed = 1;
    return std::make_unique<Engine>(BuiltinActivities(), services);
  };
  const auto& ids = wf.ids();
  auto engine = new_engine();
  StartOptions opts;
  opts.instance_id = "inst-recovery";
  opts.input = {{"orderId", "o-1"}};
  auto started = engine->Start(wf, opts);
  if (!started.ok()) {
    ADD_FAILURE() << started.status().ToString();
    return out;
  }
  InstanceState state = std::move(started).value();

  Json committed = StateToJson(state, ids);
  std::vector<Json> pending;
  int steps_in_interval = 0;
  bool crashed_in_interval = false;

  auto drain = [&] {
    for (const auto& r : state.journal) pending.push_back(JournalRecordToJson(r));
    state.journal.clear();
    state.outbox.clear();
  };
  auto restore = [&](const Json& j) {
    auto r = StateFromJson(j, ids);
    if (!r.ok()) {
      ADD_FAILURE() << "restore failed: " << r.status().ToString() << "\n" << j.dump();
      return false;
    }
    EXPECT_EQ(StateToJson(*r, ids), j) << "the round trip must be lossless";
    engine = new_engine();  // a fresh process
    state = std::move(r).value();
    return true;
  };
  auto commit = [&] {
    drain();
    committed = StateToJson(state, ids);
    out.journal.insert(out.journal.end(), pending.begin(), pending.end());
    pending.clear();
    steps_in_interval = 0;
    crashed_in_interval = false;
  };
  auto save_and_restore = [&] {
    commit();
    ++out.saves;
    return restore(committed);
  };

  bool event_sent = false;
  for (int guard = 0; guard < 5000 && !IsTerminal(state.status); ++guard) {
    StepResult r = engine->Step(wf, state);
    Observe(state, &out.coverage);
    if (r == StepResult::kIdle) {
      if (!event_sent && !Engine::MatchEvent(state, "approved", "o-1").empty()) {
        for (const auto& id : Engine::MatchEvent(state, "approved", "o-1")) {
          Status st = engine->ResumeBookmark(wf, state, id, ResumeReason::kEvent, {{"by", "alice"}});
          EXPECT_TRUE(st.ok()) << st.ToString();
        }
        event_sent = true;
      } else if (auto next = Engine::NextDue(state)) {
        clock.Set(std::max(*next, clock.Now()));
        engine->FireDueTimers(wf, state, clock.Now());
      } else {
        ADD_FAILURE() << "the instance is stuck: " << StatusOf(state) << "\n"
                      << StateToJson(state, ids).dump(1);
        break;
      }
      Observe(state, &out.coverage);
      if (mode == Mode::kRoundTripEveryStep) {
        if (!save_and_restore()) break;
      } else {
        commit();
      }
      continue;
    }
    switch (mode) {
      case Mode::kUninterrupted: drain(); break;
      case Mode::kRoundTripEveryStep:
        if (!save_and_restore()) return out;
        break;
      case Mode::kCrashBeforeCommit:
        ++steps_in_interval;
        if (!crashed_in_interval && (steps_in_interval >= crash_after || r == StepResult::kCommitPoint)) {
          // Everything since the last commit is lost: state, journal records, outbox.
          state.journal.clear();
          pending.clear();
          ++out.crashes;
          if (!restore(committed)) return out;
          steps_in_interval = 0;
          crashed_in_interval = true;
          break;
        }
        if (r == StepResult::kCommitPoint) {
          commit();
        } else {
          drain();
        }
        break;
    }
  }
  commit();
  out.final_state = StateToJson(state, ids);
  for (const auto& s : http.sent) out.keys.push_back(s.Header("Idempotency-Key") + " " + s.url);
  return out;
}

TEST(StateTest, UninterruptedRecoveryWorkflowCompletesAsDesigned) {
  auto wf = CompileYaml(kRecovery);
  ASSERT_TRUE(wf);
  RunResult run = Drive(*wf, Mode::kUninterrupted);
  EXPECT_EQ(run.final_state["status"], "Completed") << run.final_state.dump(1);
  EXPECT_EQ(run.final_state["output"], (Json{{"count", 60}, {"approvedBy", "alice"}}));
  EXPECT_EQ(run.final_state["variables"]["polls"], 3);
  EXPECT_EQ(run.keys.size(), 4u) << "items 1 and 3 once, item 2 twice";
  EXPECT_TRUE(run.final_state["bookmarks"].empty());
  EXPECT_TRUE(run.final_state["frames"].empty());
  EXPECT_TRUE(run.final_state["joins"].empty());
  int cancelled = 0;
  for (const auto& r : run.journal) cancelled += r["status"] == "Cancelled" ? 1 : 0;
  EXPECT_EQ(cancelled, 1) << "the expire timer lost the race";
  for (size_t i = 0; i < run.journal.size(); ++i) {
    EXPECT_EQ(run.journal[i]["sequence"], i + 1) << "journal sequence numbers are contiguous";
  }
}

TEST(StateTest, SavingAndRestoringAfterEveryStepEndsLikeAnUninterruptedRun) {
  auto wf = CompileYaml(kRecovery);
  ASSERT_TRUE(wf);
  RunResult plain = Drive(*wf, Mode::kUninterrupted);
  RunResult saved = Drive(*wf, Mode::kRoundTripEveryStep);
  EXPECT_GT(saved.saves, 40);
  // The saved states covered every kind of in-flight work.
  for (const char* what : {"frames", "iteration outputs", "while", "joins", "bookmark Timer",
                           "bookmark Event", "bookmark Retry", "resume token"}) {
    EXPECT_TRUE(saved.coverage.contains(what)) << what;
  }
  EXPECT_EQ(saved.final_state, plain.final_state) << "restored:\n"
                                                  << saved.final_state.dump(1) << "\nuninterrupted:\n"
                                                  << plain.final_state.dump(1);
  ASSERT_EQ(saved.journal.size(), plain.journal.size());
  for (size_t i = 0; i < plain.journal.size(); ++i) EXPECT_EQ(saved.journal[i], plain.journal[i]) << i;
  EXPECT_EQ(saved.keys, plain.keys) << "no request is sent twice when nothing crashes";
}

TEST(StateTest, CrashingBeforeEachCommitAndRestartingEndsLikeAnUninterruptedRun) {
  auto wf = CompileYaml(kRecovery);
  ASSERT_TRUE(wf);
  RunResult plain = Drive(*wf, Mode::kUninterrupted);
  std::set<std::string> plain_keys(plain.keys.begin(), plain.keys.end());
  for (int crash_after : {1, 2, 3, 5}) {
    SCOPED_TRACE("crash after " + std::to_string(crash_after) + " steps of each commit interval");
    RunResult crashed = Drive(*wf, Mode::kCrashBeforeCommit, crash_after);
    EXPECT_GT(crashed.crashes, 10);
    EXPECT_EQ(crashed.final_state, plain.final_state) << crashed.final_state.dump(1);
    ASSERT_EQ(crashed.journal.size(), plain.journal.size()) << "journal records are exactly-once";
    for (size_t i = 0; i < plain.journal.size(); ++i) EXPECT_EQ(crashed.journal[i], plain.journal[i]) << i;
    // At-least-once effects: a crash repeats at most the one request in flight, with the same key.
    std::map<std::string, int> sends;
    for (const auto& k : crashed.keys) ++sends[k];
    for (const auto& [k, n] : sends) {
      EXPECT_TRUE(plain_keys.contains(k)) << k;
      EXPECT_LE(n, 2) << k;
    }
  }
}

TEST(StateTest, RoundTripKeepsEveryFieldOfARichState) {
  Harness h(R"~(
id: rich
options: {maxExecutionTime: 1h}
activities:
  - {id: loop, type: ForEach, items: [{a: 1}, {b: [1, 2]}], as: thing, parallel: 2}
  - {id: t, type: Transform, value: {seen: "{{ thing }}"}}
  - {id: hook, type: WaitForWebhook, path: "in/{{ index }}", method: PUT, timeout: 10m}
connections:
  - {from: loop, outcome: Iterate, to: t}
  - {from: t, to: hook}
)~");
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(h.state.bookmarks.size(), 2u);
  const auto& ids = h.wf->ids();
  Json j = StateToJson(h.state, ids);
  auto back = StateFromJson(j, ids);
  ASSERT_TRUE(back.ok()) << back.status().ToString();
  EXPECT_EQ(StateToJson(*back, ids), j);
  const InstanceState& s = *back;
  EXPECT_EQ(s.id, h.state.id);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  EXPECT_EQ(s.deadline, h.state.deadline);
  EXPECT_EQ(s.created_at, T0());
  EXPECT_EQ(s.root_live, h.state.root_live);
  EXPECT_EQ(s.next_token_id, h.state.next_token_id);
  EXPECT_EQ(s.next_frame_id, h.state.next_frame_id);
  EXPECT_EQ(s.journal_sequence, h.state.journal_sequence);
  ASSERT_EQ(s.frames.size(), h.state.frames.size());
  for (const auto& [id, f] : h.state.frames) {
    const Frame& g = s.frames.at(id);
    EXPECT_EQ(g.kind, f.kind);
    EXPECT_EQ(g.parent, f.parent);
    EXPECT_EQ(g.live, f.live);
    EXPECT_EQ(g.item, f.item);
    EXPECT_EQ(g.index, f.index);
    EXPECT_EQ(g.outputs, f.outputs);
    EXPECT_EQ(g.var_name, f.var_name);
    EXPECT_EQ(g.active, f.active);
  }
  for (size_t i = 0; i < s.bookmarks.size(); ++i) {
    const Bookmark& a = h.state.bookmarks[i];
    const Bookmark& b = s.bookmarks[i];
    EXPECT_EQ(b.id, a.id);
    EXPECT_EQ(b.kind, a.kind);
    EXPECT_EQ(b.path, a.path);
    EXPECT_EQ(b.method, a.method);
    EXPECT_EQ(b.deadline, a.deadline);
    EXPECT_EQ(b.token.scope, a.token.scope);
    EXPECT_EQ(b.token.activity, a.token.activity);
    EXPECT_EQ(b.token.started_at, a.token.started_at);
  }

  // The restored instance continues: each webhook resumes its own iteration.
  InstanceState restored = std::move(back).value();
  for (const char* path : {"in/1", "in/0"}) {
    auto m = Engine::MatchWebhook(restored, path, "PUT");
    ASSERT_EQ(m.size(), 1u) << path;
    ASSERT_TRUE(
        h.engine->ResumeBookmark(*h.wf, restored, m[0], ResumeReason::kWebhook, {{"path", path}}).ok());
  }
  h.engine->RunBurst(*h.wf, restored);
  EXPECT_EQ(StatusOf(restored), "Completed");
}

TEST(StateTest, FaultedStateRoundTripsAndCanStillBeRetried) {
  Harness h(R"~(
id: faulted
variables: {x: 1}
activities:
  - {id: set, type: SetVariable, name: x, value: 2}
  - {id: call, type: HttpRequest, url: "https://api.test/x"}
  - {id: out, type: SetOutput, name: x, value: "{{ vars.x }}"}
)~");
  h.http.FailWith(Unavailable("down"));
  ASSERT_TRUE(h.StartAndRun());
  ASSERT_EQ(StatusOf(h.state), "Faulted");
  const auto& ids = h.wf->ids();
  auto back = StateFromJson(StateToJson(h.state, ids), ids);
  ASSERT_TRUE(back.ok());
  ASSERT_EQ(back->incidents.size(), 1u);
  EXPECT_EQ(back->incidents[0].activity_id, "call");
  EXPECT_EQ(back->incidents[0].at, T0());
  ASSERT_TRUE(back->faulted_token.has_value());
  EXPECT_EQ(back->fault_message, h.state.fault_message);
  InstanceState s = std::move(back).value();
  ASSERT_TRUE(h.engine->Retry(*h.wf, s).ok());
  h.engine->RunBurst(*h.wf, s);
  EXPECT_EQ(StatusOf(s), "Completed");
  EXPECT_EQ(s.output, (Json{{"x", 2}}));
}

// --- malformed state ----------------------------------------------------------------------

class MalformedStateTest : public ::testing::Test {
 protected:
  void SetUp() override {
    wf_ = CompileYaml(kRecovery);
    ASSERT_TRUE(wf_);
    // A state in the middle of the run: frames, joins, retry and timer bookmarks.
    h_ = std::make_unique<Harness>(kRecovery);
    h_->http.responder = ItemResponder;
    ASSERT_TRUE(h_->StartAndRun({{"orderId", "o-1"}}));
    h_->Advance(seconds(1));
    valid_ = StateToJson(h_->state, wf_->ids());
    ASSERT_FALSE(valid_["frames"].empty());
    ASSERT_FALSE(valid_["bookmarks"].empty());
  }

  Result<InstanceState> Parse(const Json& j) { return StateFromJson(j, wf_->ids()); }

  std::shared_ptr<const CompiledWorkflow> wf_;
  std::unique_ptr<Harness> h_;
  Json valid_;
};

TEST_F(MalformedStateTest, ValidStateParses) {
  EXPECT_TRUE(Parse(valid_).ok());
}

TEST_F(MalformedStateTest, NonObjectIsAnError) {
  for (const Json& j : {Json(), Json(5), Json("state"), Json::array(), Json::array({valid_})}) {
    auto r = Parse(j);
    EXPECT_FALSE(r.ok()) << j.dump();
    if (!r.ok()) {
      EXPECT_EQ(r.status().code(), StatusCode::kInvalidArgument);
    }
  }
}

TEST_F(MalformedStateTest, UnknownStatusIsAnError) {
  Json j = valid_;
  j["status"] = "Sleeping";
  EXPECT_FALSE(Parse(j).ok());
  j.erase("status");
  EXPECT_FALSE(Parse(j).ok());
}

TEST_F(MalformedStateTest, UnknownActivityInATokenIsAnError) {
  Json j = valid_;
  j["bookmarks"][0]["token"]["activity"] = "no-such-activity";
  auto r = Parse(j);
  ASSERT_FALSE(r.ok());
  EXPECT_THAT(r.status().message(), HasSubstr("no-such-activity"));
}

TEST_F(MalformedStateTest, UnknownBookmarkKindIsAnError) {
  Json j = valid_;
  j["bookmarks"][0]["kind"] = "Alarm";
  EXPECT_FALSE(Parse(j).ok());
}

TEST_F(MalformedStateTest, MalformedTimeIsAnError) {
  Json j = valid_;
  j["createdAt"] = "yesterday";
  EXPECT_FALSE(Parse(j).ok());
  j = valid_;
  j["bookmarks"][0]["dueAt"] = 12;
  EXPECT_FALSE(Parse(j).ok());
}

TEST_F(MalformedStateTest, WrongNumberTypesAreAnError) {
  Json j = valid_;
  j["nextTokenId"] = "many";
  EXPECT_FALSE(Parse(j).ok());
  j = valid_;
  j["rootLive"] = 1.5;
  EXPECT_FALSE(Parse(j).ok());
}

TEST_F(MalformedStateTest, WrongTypeInsideAFrameIsAnErrorNotACrash) {
  Json j = valid_;
  for (auto& f : j["frames"]) {
    if (f["kind"] == "loop") f["while"] = "yes";
  }
  Result<InstanceState> r = Status(StatusCode::kInternal, "not run");
  EXPECT_NO_THROW(r = Parse(j));
  EXPECT_FALSE(r.ok());
}

TEST_F(MalformedStateTest, WrongTypeInAJoinIsAnErrorNotACrash) {
  Json j = valid_;
  ASSERT_FALSE(j["joins"].empty()) << "the fixture state has a pending join";
  j["joins"][0]["arrived"] = Json::array({"first"});
  Result<InstanceState> r = Status(StatusCode::kInternal, "not run");
  EXPECT_NO_THROW(r = Parse(j));
  EXPECT_FALSE(r.ok());
}

TEST_F(MalformedStateTest, TokenInAScopeThatDoesNotExistIsAnError) {
  // A state whose work refers to a loop iteration it does not have cannot be continued; it must be
  // rejected when read rather than crash the worker that runs it.
  Json j = valid_;
  ASSERT_FALSE(j["bookmarks"].empty());
  j["bookmarks"][0]["token"]["scope"] = 987654;
  EXPECT_FALSE(Parse(j).ok());
}

TEST_F(MalformedStateTest, LoopPositionOutsideItsItemsIsAnError) {
  // A negative position would index before the items (undefined behaviour in AdvanceLoop).
  for (const Json& bad : {Json(-1), Json(-100)}) {
    Json j = valid_;
    bool changed = false;
    for (auto& f : j["frames"]) {
      if (f["kind"] == "loop") {
        f["next"] = bad;
        changed = true;
      }
    }
    ASSERT_TRUE(changed);
    EXPECT_FALSE(Parse(j).ok()) << "next = " << bad.dump();
  }
}

TEST_F(MalformedStateTest, LoopParallelBelowOneIsAnError) {
  // ForEach never runs with parallel < 1; such a loop would never start another iteration.
  Json j = valid_;
  for (auto& f : j["frames"]) {
    if (f["kind"] == "loop") f["parallel"] = 0;
  }
  EXPECT_FALSE(Parse(j).ok());
}

// Replaces every value in a valid state, one at a time, with values of other types (and removes
// every key): StateFromJson must answer each with a value or an error, never an exception.
TEST_F(MalformedStateTest, EveryFieldReplacedByAnyTypeGivesAnErrorOrAStateNeverAnException) {
  std::vector<Json::json_pointer> paths;
  std::function<void(const Json&, const Json::json_pointer&)> walk = [&](const Json& v,
                                                                         const Json::json_pointer& p) {
    if (!p.empty()) paths.push_back(p);
    if (v.is_object()) {
      for (const auto& [k, child] : v.items()) walk(child, p / k);
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) walk(v[i], p / i);
    }
  };
  walk(valid_, Json::json_pointer());
  ASSERT_GT(paths.size(), 50u);
  const std::vector<Json> replacements = {
      Json(),     Json(-1),      Json(1.5),      Json("x"),
      Json(true), Json::array(), Json::object(), Json::array({Json::object()})};
  std::vector<std::string> threw;
  for (const auto& p : paths) {
    for (const auto& rep : replacements) {
      Json j = valid_;
      j[p] = rep;
      try {
        (void)Parse(j);
      } catch (const std::exception& e) {
        threw.push_back(p.to_string() + " = " + rep.dump() + ": " + e.what());
      }
    }
    Json j = valid_;
    j[p.parent_pointer()].is_object() ? (void)j[p.parent_pointer()].erase(p.back()) : (void)0;
    try {
      (void)Parse(j);
    } catch (const std::exception& e) {
      threw.push_back(p.to_string() + " removed: " + e.what());
    }
  }
  std::string report;
  for (size_t i = 0; i < threw.size() && i < 15; ++i) report += "\n  " + threw[i];
  EXPECT_TRUE(threw.empty()) << threw.size() << " malformed states threw instead of failing:" << report;
}

// A state that StateFromJson accepts is one the engine can continue: stepping it, firing its timers
// and resuming it must end in a status (Faulted is fine), never throw out of the engine, which
// would take the worker process down.
TEST_F(MalformedStateTest, EveryAcceptedMutatedStateCanBeContinuedWithoutAnException) {
  std::vector<Json::json_pointer> paths;
  std::function<void(const Json&, const Json::json_pointer&)> walk = [&](const Json& v,
                                                                         const Json::json_pointer& p) {
    if (!p.empty()) paths.push_back(p);
    if (v.is_object()) {
      for (const auto& [k, child] : v.items()) walk(child, p / k);
    } else if (v.is_array()) {
      for (size_t i = 0; i < v.size(); ++i) walk(v[i], p / i);
    }
  };
  walk(valid_, Json::json_pointer());
  const std::vector<Json> replacements = {Json(),    Json(-1),      Json(0),       Json(99),
                                          Json("x"), Json::array(), Json::object()};
  size_t accepted = 0;
  std::vector<std::string> threw;
  for (const auto& p : paths) {
    for (const auto& rep : replacements) {
      Json j = valid_;
      j[p] = rep;
      Result<InstanceState> r = Status(StatusCode::kInternal, "not parsed");
      try {
        r = Parse(j);
      } catch (const std::exception&) {
        continue;  // reported by the test above
      }
      if (!r.ok()) continue;
      ++accepted;
      InstanceState s = std::move(r).value();
      // Running a loop with a negative position is undefined behaviour (it indexes before its
      // items), so it is reported here instead of run; see LoopPositionOutsideItsItemsIsAnError.
      bool unsafe = false;
      for (const auto& [id, f] : s.frames) unsafe |= f.kind == Frame::Kind::kLoop && f.next < 0;
      if (unsafe) {
        threw.push_back(p.to_string() + " = " + rep.dump() + ": accepted a loop at a negative position");
        continue;
      }
      try {
        for (int round = 0; round < 20 && !IsTerminal(s.status); ++round) {
          h_->engine->RunBurst(*wf_, s, {}, 500);
          for (const auto& id : Engine::MatchEvent(s, "approved", "o-1")) {
            (void)h_->engine->ResumeBookmark(*wf_, s, id, ResumeReason::kEvent, nullptr);
          }
          auto next = Engine::NextDue(s);
          if (!next) break;
          h_->engine->FireDueTimers(*wf_, s, *next);
        }
      } catch (const std::exception& e) {
        threw.push_back(p.to_string() + " = " + rep.dump() + ": " + e.what());
      }
    }
  }
  EXPECT_GT(accepted, 100u);
  std::string report;
  for (size_t i = 0; i < threw.size() && i < 40; ++i) report += "\n  " + threw[i];
  EXPECT_TRUE(threw.empty()) << threw.size()
                             << " accepted states made the engine throw or were unsafe:" << report;
}

}  // namespace
}  // namespace trellis::engine_test
