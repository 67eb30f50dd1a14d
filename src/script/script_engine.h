// The sandboxed Lua 5.4 evaluator behind `{{ expr }}` templates and the Script activity
// (DESIGN.md section 3). One ScriptEngine owns one lua_State and is used by one thread at a time;
// ForThisThread() gives each thread its own, reused across evaluations. Compiled chunks are cached
// by source text, so a repeated condition costs microseconds.
//
// Sandbox: no io/os/debug/require/package, no bytecode loading, a time limit enforced by an
// instruction-count hook and a memory limit enforced by the allocator. A limit hit fails the
// evaluation with a clear message; the engine stays usable.
#pragma once

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"

struct lua_State;

namespace trellis::script {

struct Limits {
  std::chrono::milliseconds time{1000};
  size_t memory_bytes = 64u << 20;
};

// What an evaluation can see. Null pointers read as empty tables (secrets, outputs, vars, input)
// or nil. `locals` are loop variables (item/index, or a ForEach's `as` name), outermost first;
// an inner one shadows an outer one of the same name.
struct Scope {
  const Json* input = nullptr;
  const Json* vars = nullptr;
  const Json* outputs = nullptr;   // object: activity id -> output
  const Json* workflow = nullptr;  // object: id, instanceId, correlationId, ...
  const Json* secrets = nullptr;   // object: name -> string value
  std::vector<std::pair<std::string, const Json*>> locals;
  TimePoint now{};  // what now() returns; the epoch means "use the system clock"
};

class ScriptEngine {
 public:
  explicit ScriptEngine(Limits limits = {});
  ~ScriptEngine();
  ScriptEngine(const ScriptEngine&) = delete;
  ScriptEngine& operator=(const ScriptEngine&) = delete;

  // This thread's engine, created on first use with default limits.
  static ScriptEngine& ForThisThread();

  void set_limits(Limits limits) { limits_ = limits; }
  const Limits& limits() const { return limits_; }

  // Compile without running; the error is Lua's message. An expression is what follows `return`.
  Status CheckExpression(std::string_view expr);
  Status CheckChunk(std::string_view code);

  // Evaluates an expression (as in `{{ expr }}`) to a JSON value.
  Result<Json> EvaluateExpression(std::string_view expr, const Scope& scope);
  // Runs a Lua chunk (the Script activity); its `return` value is the result (null if none).
  Result<Json> RunChunk(std::string_view code, const Scope& scope);

  // Bytes the Lua state holds now (for tests of the memory limit and for metrics).
  size_t memory_in_use() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
  Limits limits_;
};

}  // namespace trellis::script
