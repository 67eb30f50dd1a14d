#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewSetVariable() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "SetVariable",
                         .category = "Primitives",
                         .description = "Sets a workflow variable (visible as vars.NAME).",
                         .inputs = {In("name", "string", true), In("value", "any", false)},
                         .outcomes = {"Done"},
                         .output_description = "the value"},
      [](ActivityContext& ctx) {
        std::string name = ctx.InputString("name");
        if (name.empty()) return ActivityResult::Fail("SetVariable needs a non-empty name", false);
        Json value = ctx.input("value");
        ctx.SetVariable(name, value);
        return ActivityResult::Done(std::move(value));
      });
}

}  // namespace trellis
