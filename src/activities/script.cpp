#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewScript() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "Script",
                         .category = "Scripting",
                         .description = "Runs a sandboxed Lua 5.4 chunk; its return value is the output.",
                         .inputs = {In("code", "code", true, nullptr, "Lua; `return` gives the output")},
                         .outcomes = {"Done"},
                         .output_description = "the returned value"},
      [](ActivityContext& ctx) {
        const Json& code = ctx.input("code");
        if (!code.is_string()) return ActivityResult::Fail("Script code must be a string", false);
        auto& lua = ctx.script();
        auto r = lua.RunChunk(code.get<std::string>(), ctx.scope());
        if (!r.ok()) return ActivityResult::Fail("Script: " + r.status().message());
        return ActivityResult::Done(std::move(r).value());
      });
}

}  // namespace trellis
