// The JSON value type used everywhere (nlohmann::json, ordered keys so that documents round-trip
// in the order users wrote them), and small helpers for reading typed fields.
#pragma once

#include <nlohmann/json.hpp>
#include <string>

namespace trellis {

using Json = nlohmann::ordered_json;

// Parses text as JSON; returns false and sets *error on failure instead of throwing.
bool ParseJson(std::string_view text, Json* out, std::string* error);

// A short human description of a JSON value's type ("string", "number", ...), for messages.
const char* JsonTypeName(const Json& value);

}  // namespace trellis
