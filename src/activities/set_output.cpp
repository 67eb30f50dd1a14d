#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewSetOutput() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "SetOutput",
                         .category = "Primitives",
                         .description = "Sets a field of the workflow's output.",
                         .inputs = {In("name", "string", true), In("value", "any", false)},
                         .outcomes = {"Done"},
                         .output_description = "the value"},
      [](ActivityContext& ctx) {
        std::string name = ctx.InputString("name");
        if (name.empty()) return ActivityResult::Fail("SetOutput needs a non-empty name", false);
        Json value = ctx.input("value");
        ctx.SetWorkflowOutput(name, value);
        return ActivityResult::Done(std::move(value));
      });
}

}  // namespace trellis
