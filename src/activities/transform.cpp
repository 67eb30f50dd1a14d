#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewTransform() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{
          .type = "Transform",
          .category = "Scripting",
          .description = "Evaluates a JSON value with templates inside; the result is the output.",
          .inputs = {In("value", "any", true)},
          .outcomes = {"Done"},
          .output_description = "the evaluated value"},
      [](ActivityContext& ctx) { return ActivityResult::Done(ctx.input("value")); });
}

}  // namespace trellis
