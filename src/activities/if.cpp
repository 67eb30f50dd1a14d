#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewIf() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "If",
                         .category = "Control flow",
                         .description =
                             "Takes True or False by a condition (Lua truthiness: only nil and false "
                             "are false).",
                         .inputs = {In("condition", "expression", true)},
                         .outcomes = {"True", "False"},
                         .output_description = "the boolean"},
      [](ActivityContext& ctx) {
        auto v = ctx.EvaluateExpression(ctx.input("condition"));
        if (!v.ok()) return ActivityResult::Fail("If condition: " + v.status().message(), false);
        bool b = IsTruthy(*v);
        return ActivityResult::Outcome(b ? "True" : "False", b);
      });
}

std::unique_ptr<Activity> NewSwitch() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{
          .type = "Switch",
          .category = "Control flow",
          .description = "Takes the outcome of the first case whose condition holds, else Default.",
          .inputs = {In("cases", "cases", true, nullptr, "[{name, condition}]")},
          .outcomes = {"Default"},
          .dynamic_outcomes_input = "cases",
          .output_description = "the chosen case name"},
      [](ActivityContext& ctx) {
        for (const auto& c : ctx.input("cases")) {
          auto v = ctx.EvaluateExpression(c.value("condition", Json(false)));
          std::string name = c.value("name", "");
          if (!v.ok())
            return ActivityResult::Fail("Switch case '" + name + "': " + v.status().message(), false);
          if (IsTruthy(*v)) return ActivityResult::Outcome(name, name);
        }
        return ActivityResult::Outcome("Default", "Default");
      });
}

}  // namespace trellis
