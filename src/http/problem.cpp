#include "http/problem.h"

namespace trellis::http {

Response Problem(int status, const std::string& type_slug, const std::string& detail,
                 const std::vector<FieldError>& errors) {
  Json body = {{"type", "https://trellis.dev/problems/" + type_slug},
               {"title", ReasonPhrase(status)},
               {"status", status},
               {"detail", detail}};
  if (!errors.empty()) {
    Json list = Json::array();
    for (const auto& e : errors) list.push_back({{"path", e.path}, {"message", e.message}});
    body["errors"] = std::move(list);
  }
  Response r = Response::JsonBody(status, body);
  r.headers.Set("Content-Type", kProblemContentType);
  return r;
}

Response ProblemFromStatus(const Status& status) {
  switch (status.code()) {
    case StatusCode::kInvalidArgument: return Problem(400, "invalid-request", status.message());
    case StatusCode::kNotFound: return Problem(404, "not-found", status.message());
    case StatusCode::kConflict: return Problem(409, "conflict", status.message());
    case StatusCode::kFailedPrecondition: return Problem(409, "invalid-state", status.message());
    case StatusCode::kUnavailable: return Problem(503, "unavailable", status.message());
    case StatusCode::kDeadlineExceeded: return Problem(504, "timeout", status.message());
    case StatusCode::kResourceExhausted: return Problem(429, "too-many-requests", status.message());
    default: return Problem(500, "internal", "an internal error occurred; the server log has the details");
  }
}

}  // namespace trellis::http
