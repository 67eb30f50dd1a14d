// Helpers shared by the route files: body and query parsing that answers problems, and the JSON
// views of stored records (instances, journal items, definitions).
#pragma once

#include <optional>
#include <string>
#include <string_view>

#include "core/json.h"
#include "http/message.h"
#include "http/problem.h"
#include "model/definition.h"
#include "store/store.h"

namespace trellis::api {

// The body as a JSON value of the expected kind; nullopt after replying with a 400/415 problem.
// An empty body reads as an empty object when `empty_ok`.
std::optional<Json> JsonBody(const http::Request& req, const http::Reply& reply, bool empty_ok = false);

// `limit` query parameter: default 50, 1..500; nullopt after replying 400.
std::optional<size_t> LimitParam(const http::Request& req, const http::Reply& reply);

// An RFC 3339 time query parameter; nullopt when absent; false after replying 400 on a bad value.
bool TimeParam(const http::Request& req, const std::string& name, std::optional<TimePoint>* out,
               const http::Reply& reply);

// Replies with the problem for a failed Status (logging internal errors with the request id).
void ReplyStatus(const http::Request& req, const http::Reply& reply, const Status& status);

std::vector<http::FieldError> FieldErrors(const std::vector<ValidationError>& errors);

// Checks a JSON object's member types: each (name, kind) where kind is "string", "object",
// "boolean", "integer", "any"; unknown members are errors. Returns the errors with body.<name> paths.
std::vector<http::FieldError> CheckMembers(const Json& body,
                                           const std::vector<std::pair<std::string, std::string>>& members);

Json PageJson(Json items, const std::string& next_cursor);

Json InstanceSummaryJson(const InstanceRecord& r);
// The full instance: the summary plus input, output, variables, incidents and bookmarks from the
// state (StateToJson form). Values of `secrets` ({name: value}, may be null) that a workflow copied
// into them are shown as "***".
Json InstanceJson(const InstanceRecord& r, const Json& state, const Json* secrets);
// For sync executions (no stored record at hand).
Json InstanceJsonFromState(const Json& state, const Json* secrets);
Json JournalJson(const JournalEntry& e);
Json DefinitionSummaryJson(const DefinitionRecord& r);
Json DefinitionJson(const DefinitionRecord& r);

}  // namespace trellis::api
