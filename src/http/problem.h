// RFC 9457 problem details: every error the API answers is `application/problem+json` with a
// stable `type`, a `title`, the `status`, a human `detail`, and for validation `errors`.
#pragma once

#include <string>
#include <vector>

#include "core/status.h"
#include "http/message.h"

namespace trellis::http {

struct FieldError {
  std::string path;  // e.g. "activities[3].inputs.url" or "body.input"
  std::string message;
};

// `type_slug` is the stable part of the type URI: "not-found" gives
// "https://trellis.dev/problems/not-found".
Response Problem(int status, const std::string& type_slug, const std::string& detail,
                 const std::vector<FieldError>& errors = {});

// Maps a Status to its problem: InvalidArgument 400, NotFound 404, Conflict 409,
// FailedPrecondition 409, Unavailable 503, DeadlineExceeded 504, ResourceExhausted 429, else 500.
// Internal errors do not leak their message to the client (it is logged by the caller).
Response ProblemFromStatus(const Status& status);

inline constexpr const char* kProblemContentType = "application/problem+json";

}  // namespace trellis::http
