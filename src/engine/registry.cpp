#include "engine/registry.h"

namespace trellis {

void ActivityRegistry::Add(std::unique_ptr<Activity> activity) {
  std::string type = activity->descriptor().type;
  descriptors_[type] = activity->descriptor();
  activities_[type] = std::move(activity);
}

void ActivityRegistry::AddControl(ActivityDescriptor descriptor) {
  descriptor.control_flow = true;
  std::string type = descriptor.type;
  descriptors_[type] = std::move(descriptor);
}

const Activity* ActivityRegistry::Find(std::string_view type) const {
  auto it = activities_.find(type);
  return it == activities_.end() ? nullptr : it->second.get();
}

const ActivityDescriptor* ActivityRegistry::FindDescriptor(std::string_view type) const {
  auto it = descriptors_.find(type);
  return it == descriptors_.end() ? nullptr : &it->second;
}

std::vector<std::string> ActivityRegistry::Types() const {
  std::vector<std::string> out;
  for (const auto& [type, _] : descriptors_) out.push_back(type);
  return out;
}

std::vector<const ActivityDescriptor*> ActivityRegistry::Descriptors() const {
  std::vector<const ActivityDescriptor*> out;
  for (const auto& [_, d] : descriptors_) out.push_back(&d);
  return out;
}

DescriptorLookup ActivityRegistry::Lookup() const {
  return [this](std::string_view type) { return FindDescriptor(type); };
}

}  // namespace trellis
