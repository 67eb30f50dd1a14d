#include "activities/builtin.h"
#include "engine/redaction.h"

namespace trellis {

std::unique_ptr<Activity> NewLog() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "Log",
                         .category = "Primitives",
                         .description = "Writes a message to the node's log with the instance id.",
                         .inputs = {In("message", "text", true),
                                    In("level", "string", false, "info", "debug | info | warn | error",
                                       {"debug", "info", "warn", "error"})},
                         .outcomes = {"Done"}},
      [](ActivityContext& ctx) {
        std::string level = ctx.InputString("level", "info");
        if (level != "debug" && level != "info" && level != "warn" && level != "error") {
          return ActivityResult::Fail("Log level must be debug, info, warn or error, not '" + level + "'",
                                      false);
        }
        std::string message = ctx.InputString("message");
        // Log lines never carry a secret's value.
        if (const Json* secrets = ctx.services().secrets; secrets != nullptr && !secrets->empty())
          RedactSecrets(message, *secrets);
        ctx.Log(level, message);
        return ActivityResult::Done();
      });
}

}  // namespace trellis
