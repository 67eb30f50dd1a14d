// The built-in activity catalogue (DESIGN.md section 2). Each activity lives in its own file; the
// control-flow types the engine interprets are described in control_descriptors.cpp.
#pragma once

#include <memory>

#include "engine/registry.h"

namespace trellis {

// Every built-in activity and control-flow descriptor, ready for the engine.
const ActivityRegistry& BuiltinActivities();
void RegisterBuiltinActivities(ActivityRegistry& registry);

// Shorthand for descriptor inputs.
InputDescriptor In(std::string name, std::string type, bool required = false, Json default_value = nullptr,
                   std::string description = "", std::vector<std::string> one_of = {});

std::unique_ptr<Activity> NewWriteLine();
std::unique_ptr<Activity> NewLog();
std::unique_ptr<Activity> NewSetVariable();
std::unique_ptr<Activity> NewSetOutput();
std::unique_ptr<Activity> NewIf();
std::unique_ptr<Activity> NewSwitch();
std::unique_ptr<Activity> NewDelay();
std::unique_ptr<Activity> NewWaitUntil();
std::unique_ptr<Activity> NewHttpRequest();
std::unique_ptr<Activity> NewHttpResponse();
std::unique_ptr<Activity> NewWaitForWebhook();
std::unique_ptr<Activity> NewWaitForEvent();
std::unique_ptr<Activity> NewPublishEvent();
std::unique_ptr<Activity> NewRunWorkflow();
std::unique_ptr<Activity> NewScript();
std::unique_ptr<Activity> NewTransform();
std::unique_ptr<Activity> NewNoop();
void RegisterControlFlow(ActivityRegistry& registry);

// An activity defined by a descriptor and a function: for the simple ones.
class SimpleActivity : public Activity {
 public:
  using Fn = ActivityResult (*)(ActivityContext&);
  SimpleActivity(ActivityDescriptor d, Fn fn) : descriptor_(std::move(d)), fn_(fn) {}
  const ActivityDescriptor& descriptor() const override { return descriptor_; }
  ActivityResult Execute(ActivityContext& ctx) const override { return fn_(ctx); }

 private:
  ActivityDescriptor descriptor_;
  Fn fn_;
};

}  // namespace trellis
