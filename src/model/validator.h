// Semantic checks of a parsed definition against the activity catalogue: unknown types, missing or
// mistyped inputs, duplicate ids, dangling connections, unknown outcomes, templates that do not
// compile. Reports every error, each with its path.
#pragma once

#include <functional>
#include <vector>

#include "model/activity_descriptor.h"
#include "model/definition.h"

namespace trellis {

using DescriptorLookup = std::function<const ActivityDescriptor*(std::string_view type)>;

// The outcomes an activity can produce: its descriptor's, the dynamic ones (Switch cases, Fork
// branches), and Error, which every activity has.
std::vector<std::string> OutcomesOf(const ActivityDefinition& activity, const ActivityDescriptor& descriptor);

void ValidateDefinition(const WorkflowDefinition& def, const DescriptorLookup& lookup,
                        const std::vector<std::string>& known_types, std::vector<ValidationError>* errors);

}  // namespace trellis
