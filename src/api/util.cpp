#include "api/util.h"

#include <cctype>
#include <climits>

#include "core/log.h"
#include "core/strings.h"
#include "engine/redaction.h"

namespace trellis::api {

std::optional<Json> JsonBody(const http::Request& req, const http::Reply& reply, bool empty_ok) {
  if (req.body.empty() && empty_ok) return Json::object();
  // A body that parses as JSON is taken whatever its Content-Type says (curl -d sends
  // application/x-www-form-urlencoded); one that does not is 415 when it claimed another type.
  Json body = Json::parse(req.body, nullptr, false);
  if (body.is_discarded()) {
    std::string type = req.headers.Get("Content-Type");
    if (!type.empty() && type.find("json") == std::string::npos) {
      reply(http::Problem(415, "unsupported-media-type",
                          "send the body as application/json (got " + type + ")"));
    } else {
      reply(http::Problem(400, "malformed-json", "the request body is not valid JSON"));
    }
    return std::nullopt;
  }
  if (!body.is_object()) {
    reply(http::Problem(400, "invalid-request", "the request body must be a JSON object",
                        {{"body", "must be an object"}}));
    return std::nullopt;
  }
  return body;
}

std::optional<size_t> LimitParam(const http::Request& req, const http::Reply& reply) {
  std::string text = req.Query("limit");
  if (text.empty()) return 50;
  size_t pos = 0;
  long value = 0;
  try {
    value = std::stol(text, &pos);
  } catch (...) {
    pos = 0;
  }
  if (pos != text.size() || value < 1 || value > 500) {
    reply(http::Problem(400, "invalid-request", "limit must be an integer from 1 to 500",
                        {{"query.limit", "must be an integer from 1 to 500"}}));
    return std::nullopt;
  }
  return static_cast<size_t>(value);
}

bool TimeParam(const http::Request& req, const std::string& name, std::optional<TimePoint>* out,
               const http::Reply& reply) {
  std::string text = req.Query(name);
  if (text.empty()) return true;
  auto t = ParseTime(text);
  if (!t.ok()) {
    reply(http::Problem(400, "invalid-request",
                        name + " must be an RFC 3339 time such as 2026-01-31T12:00:00Z",
                        {{"query." + name, "must be an RFC 3339 time"}}));
    return false;
  }
  *out = *t;
  return true;
}

void ReplyStatus(const http::Request& req, const http::Reply& reply, const Status& status) {
  if (status.code() == StatusCode::kInternal || status.code() == StatusCode::kUnavailable) {
    LogError("request failed",
             {{"requestId", req.request_id}, {"route", req.route}, {"error", status.ToString()}});
  }
  reply(http::ProblemFromStatus(status));
}

std::vector<http::FieldError> FieldErrors(const std::vector<ValidationError>& errors) {
  std::vector<http::FieldError> out;
  out.reserve(errors.size());
  for (const auto& e : errors) out.push_back({e.path, e.message});
  return out;
}

std::vector<http::FieldError> CheckMembers(const Json& body,
                                           const std::vector<std::pair<std::string, std::string>>& members) {
  std::vector<http::FieldError> errors;
  for (const auto& [key, value] : body.items()) {
    const std::string* kind = nullptr;
    for (const auto& m : members) {
      if (m.first == key) kind = &m.second;
    }
    if (kind == nullptr) {
      std::vector<std::string> names;
      for (const auto& m : members) names.push_back(m.first);
      errors.push_back({"body." + key, "is not a known field" + DidYouMean(key, names)});
      continue;
    }
    bool ok = *kind == "any" || (*kind == "string" && value.is_string()) ||
              (*kind == "object" && value.is_object()) || (*kind == "boolean" && value.is_boolean()) ||
              // Integers are versions and the like, read as int: a larger one would wrap around.
              (*kind == "integer" && value.is_number_integer() && value >= INT_MIN && value <= INT_MAX) ||
              (*kind == "string|null" && (value.is_string() || value.is_null()));
    if (!ok)
      errors.push_back({"body." + key, "must be " + (*kind == "integer" ? "an integer" : "a " + *kind)});
  }
  return errors;
}

Json PageJson(Json items, const std::string& next_cursor) {
  Json j = {{"items", std::move(items)}};
  if (!next_cursor.empty()) j["nextCursor"] = next_cursor;
  return j;
}

Json InstanceSummaryJson(const InstanceRecord& r) {
  Json j = {{"id", r.id},
            {"workflowId", r.workflow_id},
            {"version", r.version},
            {"status", InstanceStatusName(r.status)},
            {"correlationId", r.correlation_id.empty() ? Json(nullptr) : Json(r.correlation_id)},
            {"parentId", r.parent_id.empty() ? Json(nullptr) : Json(r.parent_id)},
            {"createdAt", FormatTime(r.created_at)},
            {"updatedAt", FormatTime(r.updated_at)},
            {"finishedAt", r.finished_at ? Json(FormatTime(*r.finished_at)) : Json(nullptr)}};
  return j;
}

namespace {

void CopyStateFields(const Json& state, const Json* secrets, Json* out) {
  for (const char* key : {"input", "output", "variables"}) {
    auto it = state.find(key);
    (*out)[key] = it == state.end() ? Json::object() : *it;
  }
  auto inc = state.find("incidents");
  (*out)["incidents"] = inc == state.end() ? Json::array() : *inc;
  Json bookmarks = Json::array();
  if (auto b = state.find("bookmarks"); b != state.end() && b->is_array()) {
    for (const auto& bj : *b) {
      Json summary = bj;
      summary.erase("token");
      summary.erase("data");
      bookmarks.push_back(std::move(summary));
    }
  }
  (*out)["bookmarks"] = std::move(bookmarks);
  // The engine redacts journal records and incidents, but variables and outputs hold whatever the
  // workflow put there, secrets included.
  if (secrets != nullptr && secrets->is_object() && !secrets->empty()) {
    for (const char* key : {"input", "output", "variables", "incidents", "bookmarks"})
      RedactSecrets((*out)[key], *secrets);
  }
}

}  // namespace

Json InstanceJson(const InstanceRecord& r, const Json& state, const Json* secrets) {
  Json j = InstanceSummaryJson(r);
  CopyStateFields(state.is_object() ? state : Json::object(), secrets, &j);
  return j;
}

Json InstanceJsonFromState(const Json& state, const Json* secrets) {
  auto str = [&](const char* key) -> Json {
    auto it = state.find(key);
    if (it == state.end() || !it->is_string() || it->get<std::string>().empty()) return nullptr;
    return *it;
  };
  Json j = {{"id", state.value("id", "")},           {"workflowId", state.value("workflowId", "")},
            {"version", state.value("version", 0)},  {"status", state.value("status", "Running")},
            {"correlationId", str("correlationId")}, {"parentId", str("parentId")},
            {"createdAt", str("createdAt")},         {"updatedAt", str("updatedAt")},
            {"finishedAt", str("finishedAt")}};
  CopyStateFields(state, secrets, &j);
  return j;
}

Json JournalJson(const JournalEntry& e) {
  Json j = JournalRecordToJson(e.record);
  if (e.truncated) j["truncated"] = true;
  return j;
}

Json DefinitionSummaryJson(const DefinitionRecord& r) {
  return {{"id", r.id},
          {"name", r.name},
          {"version", r.version},
          {"published", r.published},
          {"draft", !r.frozen},
          {"createdAt", FormatTime(r.created_at)},
          {"updatedAt", FormatTime(r.updated_at)}};
}

Json DefinitionJson(const DefinitionRecord& r) {
  Json j = DefinitionSummaryJson(r);
  j["definition"] = r.definition;
  return j;
}

}  // namespace trellis::api
