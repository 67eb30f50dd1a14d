// A validated definition turned into what the interpreter walks quickly: activities by index,
// outgoing edges per activity, inbound connections and reachability for joins, and input values
// with their descriptor defaults applied. Compiled once per definition version and shared
// (read-only) by every instance and thread that runs it.
#pragma once

#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "engine/registry.h"
#include "model/definition.h"

namespace trellis {

class CompiledWorkflow;

struct CompiledActivity {
  enum class Control { kNone, kForEach, kWhile, kFork, kJoin, kFinish, kFail };
  struct Edge {
    std::string outcome;
    int to = -1;
    int connection = -1;
  };

  int index = -1;
  const CompiledWorkflow* workflow = nullptr;  // the owner
  const ActivityDefinition* def = nullptr;
  const ActivityDescriptor* descriptor = nullptr;
  const Activity* impl = nullptr;  // null for control-flow types
  Control control = Control::kNone;
  Json inputs = Json::object();         // as written, plus descriptor defaults
  bool templated = false;               // inputs other than expression/code hold templates
  std::vector<std::string> raw_inputs;  // expression/code inputs, evaluated by the activity itself
  bool external = false;                // a commit point follows it
  bool timed = false;  // takes real time (external effects, scripts): the clock is read after it
  // The activity-level timeout; unset for types whose own `timeout` input means something else
  // (WaitForEvent takes its Timeout outcome, HttpRequest bounds the request).
  std::optional<std::chrono::milliseconds> timeout;
  std::vector<Edge> out;
  std::vector<int> inbound;    // connection indices arriving here
  std::vector<char> reaches;   // joins: reaches[i] != 0 when activity i can reach this join
  std::vector<int> loop_body;  // ForEach/While: the activities reachable from Iterate
  bool has_error_edge = false;
};

class CompiledWorkflow {
 public:
  // Validates and compiles; every validation error is appended to *errors. Returns null on error.
  static std::shared_ptr<const CompiledWorkflow> Compile(WorkflowDefinition def,
                                                         const ActivityRegistry& registry,
                                                         std::vector<ValidationError>* errors);

  const WorkflowDefinition& definition() const { return def_; }
  const std::vector<CompiledActivity>& activities() const { return activities_; }
  const CompiledActivity& activity(int i) const { return activities_[static_cast<size_t>(i)]; }
  const std::vector<int>& start() const { return start_; }
  const std::vector<std::string>& ids() const { return ids_; }
  int IndexOf(std::string_view id) const;

 private:
  WorkflowDefinition def_;
  std::vector<CompiledActivity> activities_;
  std::vector<int> start_;
  std::vector<std::string> ids_;
  std::unordered_map<std::string, int> index_;
};

}  // namespace trellis
