// Helpers for the activity tests: compile a definition against the built-in catalogue and run it
// on the engine with a ManualClock, collecting WriteLine and Log output.
#pragma once

#include <chrono>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <gtest/gtest.h>

#include "activities/builtin.h"
#include "core/clock.h"
#include "engine/compiled_workflow.h"
#include "engine/engine.h"
#include "model/parser.h"
#include "runtime/local_runner.h"

namespace trellis::activity_test {

inline TimePoint T0() {
  return ParseTime("2026-03-01T12:00:00Z").value();
}

inline std::string Describe(const std::vector<ValidationError>& errors) {
  std::string out;
  for (const auto& e : errors) out += "\n  " + e.path + ": " + e.message;
  return out;
}

// Parses and compiles; a definition that does not compile is a test failure (null is returned).
inline std::shared_ptr<const CompiledWorkflow> Compile(std::string_view text) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(text, &errors);
  std::shared_ptr<const CompiledWorkflow> wf;
  if (errors.empty()) wf = CompiledWorkflow::Compile(std::move(def), BuiltinActivities(), &errors);
  EXPECT_TRUE(errors.empty()) << "definition does not compile:" << Describe(errors);
  return wf;
}

// Parses and compiles, returning the errors (for definitions that must be refused).
inline std::vector<ValidationError> CompileErrors(std::string_view text) {
  std::vector<ValidationError> errors;
  WorkflowDefinition def = ParseDefinition(text, &errors);
  if (errors.empty()) (void)CompiledWorkflow::Compile(std::move(def), BuiltinActivities(), &errors);
  return errors;
}

inline const JournalRecord* FindRecord(const std::vector<JournalRecord>& journal,
                                       std::string_view activity_id, int attempt = 0) {
  for (const auto& r : journal) {
    if (r.activity_id == activity_id && (attempt == 0 || r.attempt == attempt)) return &r;
  }
  return nullptr;
}

inline std::string Incidents(const InstanceState& s) {
  std::string out;
  for (const auto& i : s.incidents) out += "\n  " + i.activity_id + " (" + i.kind + "): " + i.message;
  return out;
}

// The engine with a ManualClock and collecting sinks. Configure services() before the first call
// to engine() (the engine copies them).
class Harness {
 public:
  Harness() : clock_(T0()) {
    services_.clock = &clock_;
    services_.random_seed = 42;
    services_.write_line = [this](std::string_view text) { lines_.emplace_back(text); };
    services_.log = [this](std::string_view level, std::string_view message) {
      logs_.emplace_back(std::string(level), std::string(message));
    };
  }
  Harness(const Harness&) = delete;
  Harness& operator=(const Harness&) = delete;

  EngineServices& services() { return services_; }
  ManualClock& clock() { return clock_; }
  const std::vector<std::string>& lines() const { return lines_; }
  const std::vector<std::pair<std::string, std::string>>& logs() const { return logs_; }

  Engine& engine() {
    if (!engine_) engine_ = std::make_unique<Engine>(BuiltinActivities(), services_);
    return *engine_;
  }

  // Starts an instance and runs it until nothing is ready; the journal accumulates in journal().
  InstanceState Run(const std::shared_ptr<const CompiledWorkflow>& wf, Json input = Json::object()) {
    InstanceState s;
    if (!wf) {
      ADD_FAILURE() << "no workflow";
      return s;
    }
    StartOptions options;
    options.input = std::move(input);
    auto started = engine().Start(*wf, std::move(options));
    if (!started.ok()) {
      ADD_FAILURE() << "Start failed: " << started.status().ToString();
      return s;
    }
    s = std::move(started).value();
    Continue(*wf, s);
    return s;
  }

  // Runs the next burst and moves its journal records into journal().
  void Continue(const CompiledWorkflow& wf, InstanceState& s) {
    engine().RunBurst(wf, s);
    Drain(s);
  }

  // Advances the manual clock and fires what is due, then runs the burst that follows.
  void AdvanceAndFire(const CompiledWorkflow& wf, InstanceState& s, TimePoint::duration d) {
    clock_.Advance(d);
    engine().FireDueTimers(wf, s, clock_.Now());
    Continue(wf, s);
  }

  void Drain(InstanceState& s) {
    for (auto& r : s.journal) journal_.push_back(std::move(r));
    s.journal.clear();
  }

  const std::vector<JournalRecord>& journal() const { return journal_; }
  const JournalRecord* Record(std::string_view activity_id, int attempt = 0) const {
    return FindRecord(journal_, activity_id, attempt);
  }

 private:
  ManualClock clock_;
  EngineServices services_;
  std::unique_ptr<Engine> engine_;
  std::vector<std::string> lines_;
  std::vector<std::pair<std::string, std::string>> logs_;
  std::vector<JournalRecord> journal_;
};

// A LocalRunner on a ManualClock, for activities that involve several instances (events, child
// workflows). Run() never waits for real time: timers fire only up to the manual clock's now.
class RunnerHarness {
 public:
  explicit RunnerHarness(WorkflowResolver resolver = {}) : clock_(T0()) {
    EngineServices services;
    services.clock = &clock_;
    services.random_seed = 42;
    services.write_line = [this](std::string_view text) { lines_.emplace_back(text); };
    runner_ = std::make_unique<LocalRunner>(BuiltinActivities(), std::move(services), std::move(resolver));
  }
  RunnerHarness(const RunnerHarness&) = delete;
  RunnerHarness& operator=(const RunnerHarness&) = delete;

  LocalRunner& runner() { return *runner_; }
  ManualClock& clock() { return clock_; }
  const std::vector<std::string>& lines() const { return lines_; }

  std::string Start(const std::shared_ptr<const CompiledWorkflow>& wf, Json input = Json::object(),
                    std::string correlation_id = "") {
    if (!wf) {
      ADD_FAILURE() << "no workflow";
      return "";
    }
    StartOptions options;
    options.input = std::move(input);
    options.correlation_id = std::move(correlation_id);
    auto id = runner_->Start(wf, std::move(options));
    if (!id.ok()) {
      ADD_FAILURE() << "Start failed: " << id.status().ToString();
      return "";
    }
    return *id;
  }

  // Runs what is ready and delivers what matches; fires timers due by the manual clock's now.
  void Run() { runner_->Run(clock_.Now() + std::chrono::nanoseconds(1)); }

  const LocalInstance& Get(const std::string& id) const {
    const LocalInstance* inst = runner_->Find(id);
    if (inst == nullptr) throw std::runtime_error("no instance " + id);
    return *inst;
  }
  InstanceStatus Status(const std::string& id) const { return Get(id).state.status; }

 private:
  ManualClock clock_;
  std::vector<std::string> lines_;
  std::unique_ptr<LocalRunner> runner_;
};

}  // namespace trellis::activity_test
