#include "model/activity_descriptor.h"

namespace trellis {

Json DescriptorToJson(const ActivityDescriptor& d) {
  Json inputs = Json::array();
  for (const auto& in : d.inputs) {
    Json j = {{"name", in.name}, {"type", in.type}, {"required", in.required}};
    if (!in.default_value.is_null()) j["default"] = in.default_value;
    if (!in.description.empty()) j["description"] = in.description;
    if (!in.one_of.empty()) j["oneOf"] = in.one_of;
    inputs.push_back(j);
  }
  Json j = {{"type", d.type},
            {"category", d.category},
            {"description", d.description},
            {"inputs", inputs},
            {"outcomes", d.outcomes}};
  if (!d.dynamic_outcomes_input.empty()) j["dynamicOutcomesFrom"] = d.dynamic_outcomes_input;
  if (!d.output_description.empty()) j["output"] = d.output_description;
  j["effect"] = d.effect == ActivityEffect::kExternal ? "external" : "pure";
  j["suspends"] = d.suspends;
  return j;
}

}  // namespace trellis
