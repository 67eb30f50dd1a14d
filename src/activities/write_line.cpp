#include "activities/builtin.h"
#include "engine/redaction.h"

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
        // The line reaches logs and the instance state: never with a secret's value in it.
        if (const Json* secrets = ctx.services().secrets; secrets != nullptr && !secrets->empty())
          RedactSecrets(text, *secrets);
        ctx.WriteLine(text);
        return ActivityResult::Done(std::move(text));
      });
}

}  // namespace trellis
