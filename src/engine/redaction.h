// Masks secret values wherever they would be recorded (journal outputs and errors, incidents).
#pragma once

#include <string>

#include "core/json.h"

namespace trellis {

inline constexpr const char* kRedacted = "***";

// Replaces every occurrence of each secret value (secrets: name -> string) with "***".
// Values shorter than 4 characters are not masked: they would mask unrelated text.
void RedactSecrets(std::string& text, const Json& secrets);
void RedactSecrets(Json& value, const Json& secrets);

}  // namespace trellis
