// Reading definitions from YAML or JSON text. Structural problems (wrong types, missing ids, bad
// durations) are collected with their paths rather than stopping at the first; the semantic checks
// that need the activity catalogue live in validator.h.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "model/definition.h"

namespace trellis {

// Parses YAML (a superset of JSON) into JSON. Quoted YAML scalars stay strings; plain scalars that
// look like numbers, booleans or null become those types. On failure returns false and sets *error
// with the line and column.
bool YamlToJson(std::string_view text, Json* out, std::string* error);

// Builds a definition from its JSON form, appending every structural error to *errors.
WorkflowDefinition DefinitionFromJson(const Json& doc, std::vector<ValidationError>* errors);

// Text (YAML or JSON) to definition. A syntax error is reported as one ValidationError with path "".
WorkflowDefinition ParseDefinition(std::string_view text, std::vector<ValidationError>* errors);

// The definition back to its JSON form (what the API returns and what versions store).
Json DefinitionToJson(const WorkflowDefinition& def);

}  // namespace trellis
