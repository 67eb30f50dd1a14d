#include "script/template.h"

#include <cmath>
#include <cstdio>

namespace trellis::script {
namespace {

constexpr std::string_view kWhitespace = " \t\r\n\f\v";

std::string_view Trim(std::string_view text) {
  const size_t begin = text.find_first_not_of(kWhitespace);
  if (begin == std::string_view::npos) return {};
  return text.substr(begin, text.find_last_not_of(kWhitespace) - begin + 1);
}

// If a Lua long bracket ([[, [=[, ...) opens at `pos`, returns its level; otherwise -1.
int LongBracketLevel(std::string_view text, size_t pos) {
  if (text[pos] != '[') return -1;
  size_t i = pos + 1;
  while (i < text.size() && text[i] == '=') ++i;
  if (i < text.size() && text[i] == '[') return static_cast<int>(i - pos - 1);
  return -1;
}

// Returns the index just after the Lua string (quoted or long) that starts at `pos`, or npos if
// it does not end.
size_t SkipLuaString(std::string_view text, size_t pos) {
  const char quote = text[pos];
  if (quote == '\'' || quote == '"') {
    for (size_t i = pos + 1; i < text.size(); ++i) {
      if (text[i] == '\\') {
        ++i;
      } else if (text[i] == quote) {
        return i + 1;
      } else if (text[i] == '\n') {
        return std::string_view::npos;
      }
    }
    return std::string_view::npos;
  }
  const int level = LongBracketLevel(text, pos);
  std::string close = "]" + std::string(static_cast<size_t>(level), '=') + "]";
  const size_t end = text.find(close, pos + static_cast<size_t>(level) + 2);
  return end == std::string_view::npos ? end : end + close.size();
}

// Index of the `}}` closing the template whose expression starts at `pos`, or npos. Braces of
// table constructors nest, and braces inside Lua strings do not count.
size_t FindClose(std::string_view text, size_t pos) {
  int depth = 0;
  size_t i = pos;
  while (i < text.size()) {
    const char c = text[i];
    if (c == '\'' || c == '"' || LongBracketLevel(text, i) >= 0) {
      i = SkipLuaString(text, i);
      if (i == std::string_view::npos) return i;
      continue;
    }
    if (c == '{') {
      ++depth;
    } else if (c == '}') {
      if (depth == 0 && i + 1 < text.size() && text[i + 1] == '}') return i;
      if (depth > 0) --depth;
    }
    ++i;
  }
  return std::string_view::npos;
}

std::string FormatNumber(double d) {
  // Integral floats (6/2 in Lua is 3.0) read as integers in text.
  if (std::isfinite(d) && d == std::trunc(d) && std::fabs(d) < 1e15) {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "%.0f", d == 0 ? 0.0 : d);
    return buffer;
  }
  return Json(d).dump();
}

void AppendInterpolated(std::string* out, const Json& value) {
  switch (value.type()) {
    case Json::value_t::null: return;
    case Json::value_t::string: *out += value.get_ref<const std::string&>(); return;
    case Json::value_t::boolean: *out += value.get<bool>() ? "true" : "false"; return;
    case Json::value_t::number_integer: *out += std::to_string(value.get<int64_t>()); return;
    case Json::value_t::number_unsigned: *out += std::to_string(value.get<uint64_t>()); return;
    case Json::value_t::number_float: *out += FormatNumber(value.get<double>()); return;
    default: *out += value.dump(-1, ' ', false, Json::error_handler_t::replace); return;
  }
}

Status AtPath(const Status& status, const std::string& path) {
  if (path.empty()) return status;
  return Status(status.code(), status.message() + " (at " + path + ")");
}

Result<Json> EvaluateString(const std::string& text, ScriptEngine& engine, const Scope& scope) {
  auto parts = ParseTemplate(text);
  if (!parts.ok()) return parts.status();
  if (parts->size() == 1 && parts->front().is_expression) {
    return engine.EvaluateExpression(parts->front().text, scope);
  }
  std::string out;
  for (const TemplatePart& part : *parts) {
    if (!part.is_expression) {
      out += part.text;
      continue;
    }
    auto value = engine.EvaluateExpression(part.text, scope);
    if (!value.ok()) return value.status();
    AppendInterpolated(&out, *value);
  }
  return Json(std::move(out));
}

Result<Json> EvaluateAt(const Json& value, ScriptEngine& engine, const Scope& scope, std::string* path) {
  switch (value.type()) {
    case Json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (!HasTemplate(text)) return value;
      auto result = EvaluateString(text, engine, scope);
      if (!result.ok()) return AtPath(result.status(), *path);
      return result;
    }
    case Json::value_t::object: {
      Json out = Json::object();
      auto& members = out.get_ref<Json::object_t&>();
      for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
        const size_t mark = path->size();
        *path += "." + key;
        auto result = EvaluateAt(member, engine, scope, path);
        path->resize(mark);
        if (!result.ok()) return result.status();
        members.emplace_hint(members.end(), key, std::move(result).value());
      }
      return out;
    }
    case Json::value_t::array: {
      Json out = Json::array();
      size_t i = 0;
      for (const Json& element : value.get_ref<const Json::array_t&>()) {
        const size_t mark = path->size();
        *path += "[" + std::to_string(i++) + "]";
        auto result = EvaluateAt(element, engine, scope, path);
        path->resize(mark);
        if (!result.ok()) return result.status();
        out.push_back(std::move(result).value());
      }
      return out;
    }
    default: return value;
  }
}

void CheckAt(const Json& value, ScriptEngine& engine, std::string* path, std::vector<TemplateError>* errors) {
  switch (value.type()) {
    case Json::value_t::string: {
      const auto& text = value.get_ref<const std::string&>();
      if (!HasTemplate(text)) return;
      auto parts = ParseTemplate(text);
      if (!parts.ok()) {
        errors->push_back({*path, parts.status().message()});
        return;
      }
      for (const TemplatePart& part : *parts) {
        if (!part.is_expression) continue;
        if (Status status = engine.CheckExpression(part.text); !status.ok()) {
          errors->push_back({*path, status.message()});
        }
      }
      return;
    }
    case Json::value_t::object:
      for (const auto& [key, member] : value.get_ref<const Json::object_t&>()) {
        const size_t mark = path->size();
        *path += "." + key;
        CheckAt(member, engine, path, errors);
        path->resize(mark);
      }
      return;
    case Json::value_t::array: {
      size_t i = 0;
      for (const Json& element : value.get_ref<const Json::array_t&>()) {
        const size_t mark = path->size();
        *path += "[" + std::to_string(i++) + "]";
        CheckAt(element, engine, path, errors);
        path->resize(mark);
      }
      return;
    }
    default: return;
  }
}

}  // namespace

Result<std::vector<TemplatePart>> ParseTemplate(std::string_view text) {
  std::vector<TemplatePart> parts;
  std::string literal;
  size_t pos = 0;
  while (pos < text.size()) {
    const size_t open = text.find("{{", pos);
    if (open == std::string_view::npos) {
      literal.append(text.substr(pos));
      break;
    }
    literal.append(text.substr(pos, open - pos));
    const size_t close = FindClose(text, open + 2);
    if (close == std::string_view::npos) {
      return InvalidArgument("unclosed '{{' at position " + std::to_string(open + 1));
    }
    const std::string_view expression = Trim(text.substr(open + 2, close - open - 2));
    if (expression.empty()) {
      return InvalidArgument("empty '{{ }}' at position " + std::to_string(open + 1));
    }
    if (!literal.empty()) parts.push_back({false, std::move(literal)});
    literal.clear();
    parts.push_back({true, std::string(expression)});
    pos = close + 2;
  }
  if (!literal.empty()) parts.push_back({false, std::move(literal)});
  return parts;
}

bool HasTemplate(std::string_view text) {
  return text.find("{{") != std::string_view::npos;
}

bool ValueHasTemplate(const Json& value) {
  switch (value.type()) {
    case Json::value_t::string: return HasTemplate(value.get_ref<const std::string&>());
    case Json::value_t::object:
      for (const auto& member : value.get_ref<const Json::object_t&>()) {
        if (ValueHasTemplate(member.second)) return true;
      }
      return false;
    case Json::value_t::array:
      for (const Json& element : value.get_ref<const Json::array_t&>()) {
        if (ValueHasTemplate(element)) return true;
      }
      return false;
    default: return false;
  }
}

Result<Json> EvaluateValue(const Json& value, ScriptEngine& engine, const Scope& scope) {
  std::string path;
  return EvaluateAt(value, engine, scope, &path);
}

std::vector<TemplateError> CheckValue(const Json& value, ScriptEngine& engine) {
  std::vector<TemplateError> errors;
  std::string path;
  CheckAt(value, engine, &path, &errors);
  return errors;
}

bool IsWholeTemplate(std::string_view text) {
  auto parts = ParseTemplate(text);
  if (!parts.ok()) return false;
  int expressions = 0;
  for (const auto& p : *parts) {
    if (p.is_expression)
      ++expressions;
    else if (p.text.find_first_not_of(" \t\r\n") != std::string::npos)
      return false;
  }
  return expressions == 1;
}

}  // namespace trellis::script
