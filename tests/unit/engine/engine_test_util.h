// Helpers shared by the engine tests: compiling YAML definitions, a harness that runs one instance
// on a ManualClock, a scripted fake HttpClient, and journal queries. Nothing here sleeps or reads
// the wall clock: time moves only when a test moves the ManualClock.
#pragma once

#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cctype>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "activities/builtin.h"
#include "activities/http_client.h"
#include "core/clock.h"
#include "core/json.h"
#include "engine/compiled_workflow.h"
#include "engine/engine.h"
#include "engine/instance_state.h"
#include "model/parser.h"
#include "runtime/local_runner.h"

namespace trellis::engine_test {

// 2026-03-01T12:00:00Z, the start of every test's virtual time.
inline TimePoint T0() {
  return *ParseTime("2026-03-01T12:00:00Z");
}

// Parses and compiles a YAML/JSON definition; every problem is reported as a test failure.
inline std::shared_ptr<const CompiledWorkflow> CompileYaml(std::string_view text) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(text, &errors);
  std::shared_ptr<const CompiledWorkflow> wf;
  if (errors.empty()) wf = CompiledWorkflow::Compile(std::move(def), BuiltinActivities(), &errors);
  for (const auto& e : errors) ADD_FAILURE() << "definition error at " << e.path << ": " << e.message;
  return wf;
}

// A scripted HttpClient. Each Send records the request and answers with the next scripted reply,
// or with `responder` when one is set, or with 200 {"ok":true}.
class FakeHttpClient : public HttpClient {
 public:
  struct Sent {
    std::string method;
    std::string url;
    std::vector<std::pair<std::string, std::string>> headers;
    std::string body;
    std::chrono::milliseconds timeout{0};

    std::string Header(std::string_view name) const {
      for (const auto& [k, v] : headers) {
        if (k.size() != name.size()) continue;
        bool eq = true;
        for (size_t i = 0; i < k.size(); ++i) {
          eq &= std::tolower(static_cast<unsigned char>(k[i])) ==
                std::tolower(static_cast<unsigned char>(name[i]));
        }
        if (eq) return v;
      }
      return "";
    }
  };

  static HttpResponseData Response(long status, std::string body = R"({"ok":true})") {
    HttpResponseData r;
    r.status = status;
    r.headers = {{"content-type", "application/json"}};
    r.body = std::move(body);
    return r;
  }

  void Reply(HttpResponseData r) { script_.push_back({std::move(r), Status::Ok()}); }
  void FailWith(Status s) { script_.push_back({std::nullopt, std::move(s)}); }

  Result<HttpResponseData> Send(const HttpRequestSpec& request) override {
    sent.push_back({request.method, request.url, request.headers, request.body, request.timeout});
    if (on_send) on_send(sent.back());
    if (!script_.empty()) {
      Scripted next = std::move(script_.front());
      script_.pop_front();
      if (next.response) return std::move(*next.response);
      return next.error;
    }
    if (responder) return responder(sent.back());
    return Response(200);
  }

  std::vector<Sent> sent;
  std::function<Result<HttpResponseData>(const Sent&)> responder;
  std::function<void(const Sent&)> on_send;  // e.g. to move a ManualClock during a "slow" call

 private:
  // Not Result<>: g++ 12 at -O2 warns (falsely) about a moved-from variant in a deque.
  struct Scripted {
    std::optional<HttpResponseData> response;
    Status error;
  };
  std::deque<Scripted> script_;
};

// One instance of one workflow run by an Engine on a ManualClock. Not movable: the engine's
// services point into it.
class Harness {
 public:
  explicit Harness(std::string_view yaml, Json secrets = Json::object())
      : clock(T0()), secrets_(std::move(secrets)) {
    wf = CompileYaml(yaml);
    EngineServices services;
    services.clock = &clock;
    services.http = &http;
    services.write_line = [this](std::string_view text) { lines.emplace_back(text); };
    services.random_seed = 42;
    if (!secrets_.empty()) services.secrets = &secrets_;
    engine = std::make_unique<Engine>(BuiltinActivities(), std::move(services));
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  // Starts the instance (instance id "inst-1" unless given) without running it.
  ::testing::AssertionResult Start(Json input = Json::object(), std::string instance_id = "inst-1") {
    if (!wf) return ::testing::AssertionFailure() << "the workflow did not compile";
    StartOptions opts;
    opts.input = std::move(input);
    opts.instance_id = std::move(instance_id);
    auto r = engine->Start(*wf, std::move(opts));
    if (!r.ok()) return ::testing::AssertionFailure() << r.status().ToString();
    state = std::move(r).value();
    return ::testing::AssertionSuccess();
  }

  void Burst() { engine->RunBurst(*wf, state); }

  // Starts and runs the first burst.
  ::testing::AssertionResult StartAndRun(Json input = Json::object()) {
    auto r = Start(std::move(input));
    if (r) Burst();
    return r;
  }

  // Moves the clock to `t`, fires what is due, and runs a burst.
  void AdvanceTo(TimePoint t) {
    clock.Set(t);
    engine->FireDueTimers(*wf, state, t);
    Burst();
  }
  void Advance(std::chrono::milliseconds d) { AdvanceTo(clock.Now() + d); }

  // Fires timers in due order (moving the clock) until none are left or the instance ends.
  // Returns how many times timers were fired.
  int RunTimers(int limit = 10000) {
    int n = 0;
    while (n < limit) {
      auto next = Engine::NextDue(state);
      if (!next) break;
      AdvanceTo(std::max(*next, clock.Now()));
      ++n;
    }
    return n;
  }

  // Delivers an event to every matching bookmark and runs a burst. Returns how many matched.
  size_t Event(std::string_view name, std::string_view correlation, Json payload) {
    auto ids = Engine::MatchEvent(state, name, correlation);
    for (const auto& id : ids) {
      Status st = engine->ResumeBookmark(*wf, state, id, ResumeReason::kEvent, payload);
      EXPECT_TRUE(st.ok()) << st.ToString();
    }
    Burst();
    return ids.size();
  }

  // Journal queries.
  std::vector<const JournalRecord*> Records(std::string_view activity_id) const {
    std::vector<const JournalRecord*> out;
    for (const auto& r : state.journal) {
      if (r.activity_id == activity_id) out.push_back(&r);
    }
    return out;
  }
  size_t Count(std::string_view activity_id) const { return Records(activity_id).size(); }
  // Activity ids in journal order, optionally only of records with the given status.
  std::vector<std::string> Order(std::string_view status = "") const {
    std::vector<std::string> out;
    for (const auto& r : state.journal) {
      if (status.empty() || r.status == status) out.push_back(r.activity_id);
    }
    return out;
  }
  // Position of the first record of an activity in the journal, or -1.
  int Position(std::string_view activity_id) const {
    for (size_t i = 0; i < state.journal.size(); ++i) {
      if (state.journal[i].activity_id == activity_id) return static_cast<int>(i);
    }
    return -1;
  }
  const Bookmark* FindBookmark(std::string_view activity_id) const {
    for (const auto& b : state.bookmarks) {
      if (b.activity_id == activity_id) return &b;
    }
    return nullptr;
  }

  ManualClock clock;
  FakeHttpClient http;
  std::vector<std::string> lines;
  std::shared_ptr<const CompiledWorkflow> wf;
  std::unique_ptr<Engine> engine;
  InstanceState state;

 private:
  Json secrets_;
};

inline std::string StatusOf(const InstanceState& s) {
  return InstanceStatusName(s.status);
}

// Services for a LocalRunner with a ManualClock (fast timers: virtual time).
inline EngineServices RunnerServices(const Clock* clock, std::vector<std::string>* lines,
                                     HttpClient* http = nullptr) {
  EngineServices services;
  services.clock = clock;
  services.http = http;
  services.random_seed = 7;
  if (lines != nullptr) services.write_line = [lines](std::string_view t) { lines->emplace_back(t); };
  return services;
}

// A resolver over a fixed set of compiled workflows, by id.
inline WorkflowResolver ResolverOf(std::map<std::string, std::shared_ptr<const CompiledWorkflow>> workflows) {
  return [workflows = std::move(workflows)](
             const std::string& id, std::optional<int>) -> Result<std::shared_ptr<const CompiledWorkflow>> {
    auto it = workflows.find(id);
    if (it == workflows.end()) return NotFound("no workflow " + id);
    return it->second;
  };
}

}  // namespace trellis::engine_test
