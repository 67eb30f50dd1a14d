#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewWriteLine() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "WriteLine",
                         .category = "Primitives",
                         .description = "Writes a line of text (to standard output under `trellis run`).",
                         .inputs = {In("text", "text", true)},
                         .outcomes = {"Done"},
                         .output_description = "the text"},
      [](ActivityContext& ctx) {
        std::string text = ctx.InputString("text");
        ctx.WriteLine(text);
        return ActivityResult::Done(std::move(text));
      });
}

}  // namespace trellis
