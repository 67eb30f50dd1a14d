// Descriptors of the control-flow types; the engine (engine/control_flow.cpp) runs them.
#include "activities/builtin.h"

namespace trellis {

void RegisterControlFlow(ActivityRegistry& r) {
  r.AddControl({.type = "ForEach",
                .category = "Control flow",
                .description = "Runs the Iterate branch once per item; `item` (or the `as` name) and `index` "
                               "are visible inside it. Done follows the last iteration.",
                .inputs = {In("items", "array", true, nullptr, "the list to iterate"),
                           In("as", "string", false, "item", "the name of the current item in templates"),
                           In("parallel", "integer", false, 1, "how many iterations run at once")},
                .outcomes = {"Iterate", "Done"}});
  r.AddControl({.type = "While",
                .category = "Control flow",
                .description = "Runs the Iterate branch while the condition holds (checked before each "
                               "iteration); fails after maxIterations.",
                .inputs = {In("condition", "expression", true, nullptr, "a Lua expression"),
                           In("maxIterations", "integer", false, 10000, "the guard against endless loops")},
                .outcomes = {"Iterate", "Done"}});
  r.AddControl(
      {.type = "Fork",
       .category = "Control flow",
       .description = "Starts every named branch at once (every outgoing connection when none are named).",
       .inputs = {In("branches", "array", false, nullptr, "branch names, each an outcome")},
       .outcomes = {},
       .dynamic_outcomes_input = "branches"});
  r.AddControl({.type = "Join",
                .category = "Control flow",
                .description = "Merges parallel branches. all: waits for every branch that can still arrive; "
                               "any: continues with the first and cancels the others.",
                .inputs = {In("mode", "string", false, "all", "all | any", {"all", "any"})},
                .outcomes = {"Done"}});
  r.AddControl({.type = "Finish",
                .category = "Control flow",
                .description = "Completes the instance at once; other branches stop.",
                .inputs = {In("output", "any", false, nullptr, "merged into the workflow output")},
                .outcomes = {}});
  r.AddControl({.type = "Fail",
                .category = "Control flow",
                .description = "Fails: the instance ends Faulted unless an Error connection catches it.",
                .inputs = {In("message", "text", false, nullptr, "the reason")},
                .outcomes = {}});
}

}  // namespace trellis
