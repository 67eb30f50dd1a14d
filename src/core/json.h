// The JSON value type used everywhere, and small helpers.
//
// nlohmann::json keeps object keys in a sorted map. The insertion-ordered variant was tried first and
// dropped: its lookups are linear, so an instance with many activity outputs or variables paid
// O(n) per step (a 1000-activity chain ran at half speed). Sorted keys also make output stable.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace trellis {

using Json = nlohmann::json;

// Parses text as JSON; returns false and sets *error on failure instead of throwing.
bool ParseJson(std::string_view text, Json* out, std::string* error);

// Lua's truthiness, which conditions follow: only null (nil) and false are false; 0 and "" are true.
inline bool IsTruthy(const Json& v) {
  return !(v.is_null() || (v.is_boolean() && !v.get<bool>()));
}

// A short human description of a JSON value's type ("string", "number", ...), for messages.
const char* JsonTypeName(const Json& value);

}  // namespace trellis
