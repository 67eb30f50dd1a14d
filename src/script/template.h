// `{{ expr }}` templates inside definition values. A string that is exactly one template takes the
// expression's typed value; any other string with templates is interpolated (strings as they are,
// null as "", other values as compact JSON). Objects and arrays are walked, so a body such as
// {"total": "{{ outputs.fetch.body.total }}"} keeps its shape.
#pragma once

#include <string>
#include <string_view>
#include <vector>

#include "core/json.h"
#include "core/status.h"
#include "script/script_engine.h"

namespace trellis::script {

struct TemplatePart {
  bool is_expression = false;
  std::string text;  // literal text, or the expression's Lua source (trimmed)
};

// Splits a string into literal and expression parts. Fails on an unclosed `{{`.
// `}}` inside a Lua string or table constructor does not close the template.
Result<std::vector<TemplatePart>> ParseTemplate(std::string_view text);

// True when the string contains `{{` (a template to evaluate).
bool HasTemplate(std::string_view text);
// True when the string is exactly one `{{ expr }}` (surrounding whitespace allowed).
bool IsWholeTemplate(std::string_view text);
// True when any string inside the value contains a template.
bool ValueHasTemplate(const Json& value);

// Evaluates every template inside `value`.
Result<Json> EvaluateValue(const Json& value, ScriptEngine& engine, const Scope& scope);

struct TemplateError {
  std::string path;  // JSON-pointer-like suffix below the value: "" or ".body.total" or "[2]"
  std::string message;
};
// Parses and compiles every template inside `value` without running it.
std::vector<TemplateError> CheckValue(const Json& value, ScriptEngine& engine);

}  // namespace trellis::script
