// What every request passes through before its handler: CORS (preflight and headers), routing
// (404, 405 with Allow), authentication and the route's role (401, 403), and per-client rate
// limiting (429 with Retry-After). Runs on the server's blocking pool.
#pragma once

#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <unordered_map>
#include <vector>

#include "core/status.h"
#include "http/router.h"
#include "observability/tracing.h"

namespace trellis::api {

struct Principal {
  std::string role;     // admin | editor | operator | viewer
  std::string subject;  // JWT sub, API key id, or "anonymous"
  std::string via;      // jwt | api-key | anonymous
};

struct DispatchOptions {
  std::vector<std::string> cors_origins;  // "*" allows any origin
  // Authenticates a request that carries credentials or needs them. Unset: every request acts as
  // admin (no authentication configured; the server then listens on loopback only).
  std::function<Result<Principal>(const http::Request&)> authenticate;
  double rate_limit = 0;  // requests per second per client; 0: unlimited
  double rate_burst = 0;  // bucket size; 0: twice the rate
  // A server span per request (honouring an incoming traceparent); null: tracing off.
  Tracer* tracer = nullptr;
};

// Returns whether `role` satisfies a route tagged `required` (viewer < operator < editor < admin).
bool RoleAllows(const std::string& role, const std::string& required);

class Dispatcher {
 public:
  Dispatcher(http::Router router, DispatchOptions options);
  void operator()(http::Request& req, http::Reply reply);
  const http::Router& router() const { return router_; }

 private:
  // Seconds until the client may send again; 0 when the request is admitted.
  double Admit(const std::string& client);

  http::Router router_;
  DispatchOptions options_;
  struct Bucket {
    double tokens = 0;
    std::chrono::steady_clock::time_point at;
  };
  std::mutex buckets_mu_;
  std::unordered_map<std::string, Bucket> buckets_;
};

}  // namespace trellis::api
