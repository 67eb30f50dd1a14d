#include "activities/builtin.h"

namespace trellis {

InputDescriptor In(std::string name, std::string type, bool required, Json default_value,
                   std::string description, std::vector<std::string> one_of) {
  InputDescriptor d;
  d.name = std::move(name);
  d.type = std::move(type);
  d.required = required;
  d.default_value = std::move(default_value);
  d.description = std::move(description);
  d.one_of = std::move(one_of);
  return d;
}

void RegisterBuiltinActivities(ActivityRegistry& r) {
  r.Add(NewWriteLine());
  r.Add(NewLog());
  r.Add(NewSetVariable());
  r.Add(NewSetOutput());
  r.Add(NewIf());
  r.Add(NewSwitch());
  r.Add(NewDelay());
  r.Add(NewWaitUntil());
  r.Add(NewHttpRequest());
  r.Add(NewHttpResponse());
  r.Add(NewWaitForWebhook());
  r.Add(NewWaitForEvent());
  r.Add(NewPublishEvent());
  r.Add(NewRunWorkflow());
  r.Add(NewScript());
  r.Add(NewTransform());
  r.Add(NewNoop());
  RegisterControlFlow(r);
}

const ActivityRegistry& BuiltinActivities() {
  static const ActivityRegistry* registry = [] {
    auto* r = new ActivityRegistry();  // NOLINT: a process-lifetime singleton, never destroyed
    RegisterBuiltinActivities(*r);
    return r;
  }();
  return *registry;
}

}  // namespace trellis
