#include "activities/builtin.h"

namespace trellis {

std::unique_ptr<Activity> NewNoop() {
  return std::make_unique<SimpleActivity>(
      ActivityDescriptor{.type = "Noop",
                         .category = "Primitives",
                         .description = "Does nothing; useful as a junction or placeholder.",
                         .inputs = {},
                         .outcomes = {"Done"}},
      [](ActivityContext&) { return ActivityResult::Done(); });
}

}  // namespace trellis
