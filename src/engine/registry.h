// The catalogue of activity types the engine can run. Control-flow types (ForEach, While, Fork,
// Join, Finish, Fail) are interpreted by the engine itself and registered with a descriptor only.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "engine/activity.h"
#include "model/validator.h"

namespace trellis {

class ActivityRegistry {
 public:
  void Add(std::unique_ptr<Activity> activity);
  void AddControl(ActivityDescriptor descriptor);

  const Activity* Find(std::string_view type) const;
  const ActivityDescriptor* FindDescriptor(std::string_view type) const;
  std::vector<std::string> Types() const;
  std::vector<const ActivityDescriptor*> Descriptors() const;
  DescriptorLookup Lookup() const;

 private:
  std::map<std::string, std::unique_ptr<Activity>, std::less<>> activities_;
  std::map<std::string, ActivityDescriptor, std::less<>> descriptors_;
};

}  // namespace trellis
