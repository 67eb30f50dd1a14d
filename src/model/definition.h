// Workflow definitions as users write them (DESIGN.md section 2), after parsing. A definition is a
// plain value: the engine compiles it (engine/compiled_workflow.h) before running it.
#pragma once

#include <chrono>
#include <optional>
#include <string>
#include <vector>

#include "core/json.h"

namespace trellis {

struct RetryPolicy {
  enum class Backoff { kFixed, kExponential };
  int max_attempts = 1;
  Backoff backoff = Backoff::kFixed;
  std::chrono::milliseconds initial{1000};
  std::chrono::milliseconds max{std::chrono::minutes(5)};
  double jitter = 0.2;  // fraction of the delay added or removed at random
};

struct ActivityDefinition {
  std::string id;
  std::string type;
  std::string name;
  Json inputs = Json::object();  // every field that is not id/type/name/retry/timeout
  std::optional<RetryPolicy> retry;
  std::optional<std::chrono::milliseconds> timeout;
};

struct Connection {
  std::string from;
  std::string outcome = "Done";
  std::string to;
};

struct Trigger {
  std::string type;  // Webhook, Cron, Event
  Json config = Json::object();
};

struct InputDeclaration {
  std::string name;
  std::string type = "any";  // string, number, integer, boolean, object, array, any
  bool required = false;
  std::optional<Json> default_value;
  std::string description;
};

struct WorkflowOptions {
  std::optional<std::chrono::milliseconds> max_execution_time;
  // `commit: activity`: a commit point after every activity, not only after external effects
  // (for workflows whose pure steps are expensive to repeat after a crash).
  bool commit_every_activity = false;
};

struct WorkflowDefinition {
  std::string id;
  std::string name;
  std::string description;
  int version = 0;  // 0 until stored
  std::vector<InputDeclaration> inputs;
  Json variables = Json::object();
  std::vector<Trigger> triggers;
  std::vector<ActivityDefinition> activities;
  std::vector<Connection> connections;
  bool has_connections = false;  // false: activities run in order (the short form)
  WorkflowOptions options;
};

// One problem found in a definition, with the path of the offending value
// (e.g. "activities[3].inputs.url").
struct ValidationError {
  std::string path;
  std::string message;
};

// The input types an InputDeclaration may name.
bool IsKnownInputType(std::string_view type);
// Whether a JSON value is acceptable for an input type.
bool JsonMatchesType(const Json& value, std::string_view type);

}  // namespace trellis
