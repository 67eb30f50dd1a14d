// What an activity type accepts and produces: the data behind `GET /api/activities`,
// `trellis activities`, the Studio's palette, and the validator's checks.
#pragma once

#include <string>
#include <vector>

#include "core/json.h"

namespace trellis {

struct InputDescriptor {
  std::string name;
  // string, text (may hold templates), expression (a whole Lua expression, templated or bare),
  // integer, number, boolean, duration, object, array, any, code (a Lua chunk),
  // cases (Switch's [{name, condition}])
  std::string type = "any";
  bool required = false;
  Json default_value;  // null when none
  std::string description;
  std::vector<std::string> one_of;  // the allowed values, when the input is an enumeration
};

enum class ActivityEffect {
  kPure,      // re-running after a crash is harmless: no commit of its own
  kExternal,  // an effect outside the instance: a commit point follows it
};

struct ActivityDescriptor {
  std::string type;
  std::string category;  // Primitives, Control flow, Timers, HTTP, Events, Scripting, Composition
  std::string description;
  std::vector<InputDescriptor> inputs;
  std::vector<std::string> outcomes;
  // Outcomes named by an input: Switch's cases[].name, Fork's branches.
  std::string dynamic_outcomes_input;
  std::string output_description;
  ActivityEffect effect = ActivityEffect::kPure;
  bool suspends = false;      // may wait on a bookmark
  bool control_flow = false;  // interpreted by the engine itself (ForEach, While, Fork, Join, ...)

  const InputDescriptor* FindInput(std::string_view name) const {
    for (const auto& in : inputs) {
      if (in.name == name) return &in;
    }
    return nullptr;
  }
};

Json DescriptorToJson(const ActivityDescriptor& d);

}  // namespace trellis
