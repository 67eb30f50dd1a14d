#include "api/dispatcher.h"

#include <algorithm>
#include <cmath>

#include "api/api.h"
#include "http/problem.h"

namespace trellis::api {
namespace {

int Rank(const std::string& role) {
  if (role == kViewer) return 1;
  if (role == kOperator) return 2;
  if (role == kEditor) return 3;
  if (role == kAdmin) return 4;
  return 0;
}

bool OriginAllowed(const std::vector<std::string>& origins, const std::string& origin) {
  if (origin.empty()) return false;
  return std::any_of(origins.begin(), origins.end(),
                     [&](const std::string& o) { return o == "*" || o == origin; });
}

}  // namespace

bool RoleAllows(const std::string& role, const std::string& required) {
  return Rank(role) > 0 && Rank(role) >= Rank(required);
}

Dispatcher::Dispatcher(http::Router router, DispatchOptions options)
    : router_(std::move(router)), options_(std::move(options)) {}

double Dispatcher::Admit(const std::string& client) {
  if (options_.rate_limit <= 0) return 0;
  double burst = options_.rate_burst > 0 ? options_.rate_burst : 2 * options_.rate_limit;
  auto now = std::chrono::steady_clock::now();
  std::lock_guard<std::mutex> lock(buckets_mu_);
  if (buckets_.size() > 100000) buckets_.clear();  // bound memory under a flood of distinct clients
  auto [it, fresh] = buckets_.try_emplace(client);
  Bucket& b = it->second;
  if (fresh) {
    b.tokens = burst;
  } else {
    double elapsed = std::chrono::duration<double>(now - b.at).count();
    b.tokens = std::min(burst, b.tokens + elapsed * options_.rate_limit);
  }
  b.at = now;
  if (b.tokens >= 1) {
    b.tokens -= 1;
    return 0;
  }
  return (1 - b.tokens) / options_.rate_limit;
}

void Dispatcher::operator()(http::Request& req, http::Reply reply) {
  std::string incoming = req.headers.Get("traceparent");
  std::shared_ptr<Span> span;
  if (options_.tracer != nullptr) {
    span = std::make_shared<Span>(StartServerSpan(options_.tracer, req.method, incoming));
    req.traceparent = span->traceparent();
    req.trace_id = span->trace_id();
    span->SetAttribute("http.request.method", req.method);
    span->SetAttribute("url.path", req.path);
    reply = [span, reply](http::Response r) {
      span->SetAttribute("http.response.status_code", static_cast<int64_t>(r.status));
      if (r.status >= 500) span->SetError("HTTP " + std::to_string(r.status));
      span->End();
      reply(std::move(r));
    };
  } else if (auto parent = ParseTraceparent(incoming)) {
    req.traceparent = FormatTraceparent(*parent);
    req.trace_id = parent->trace_id_hex();
  }
  std::string origin = req.headers.Get("Origin");
  bool cors = OriginAllowed(options_.cors_origins, origin);
  http::Reply out = reply;
  if (cors) {
    out = [reply, origin](http::Response r) {
      r.headers.Set("Access-Control-Allow-Origin", origin);
      r.headers.Set("Vary", "Origin");
      r.headers.Set("Access-Control-Expose-Headers", "X-Request-Id, Location, Retry-After");
      reply(std::move(r));
    };
  }
  if (req.method == "OPTIONS" && req.headers.Has("Access-Control-Request-Method")) {
    http::Response r = http::Response::Empty(204);
    if (cors) {
      r.headers.Set("Access-Control-Allow-Methods", "GET, POST, PUT, DELETE, PATCH, OPTIONS");
      r.headers.Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Api-Key, X-Request-Id");
      r.headers.Set("Access-Control-Max-Age", "600");
    }
    return out(std::move(r));
  }

  auto match = router_.Find(req.method, req.path);
  if (match.route == nullptr) {
    if (!match.allowed.empty()) {
      std::string allow;
      for (const auto& m : match.allowed) allow += (allow.empty() ? "" : ", ") + m;
      http::Response r =
          http::Problem(405, "method-not-allowed", req.method + " is not supported here; use " + allow);
      r.headers.Set("Allow", allow);
      return out(std::move(r));
    }
    req.route = "unmatched";
    return out(http::Problem(404, "not-found", "no route for " + req.method + " " + req.path));
  }
  req.route = match.route->pattern;
  req.params = std::move(match.params);
  if (span) {
    span->SetName(req.method + " " + req.route);
    span->SetAttribute("http.route", req.route);
  }

  std::string client = req.remote_address;
  if (match.route->tag != kPublic && options_.authenticate) {
    auto who = options_.authenticate(req);
    if (!who.ok() && who.status().code() == StatusCode::kUnavailable)
      return out(http::ProblemFromStatus(who.status()));
    if (!who.ok()) {
      http::Response r = http::Problem(401, "unauthorized", who.status().message());
      r.headers.Set("WWW-Authenticate", "Bearer");
      return out(std::move(r));
    }
    if (!RoleAllows(who->role, match.route->tag)) {
      return out(
          http::Problem(403, "forbidden",
                        "this needs the " + match.route->tag + " role; the credentials carry " + who->role));
    }
    client = who->via + ":" + who->subject;
  }
  bool exempt = req.path.rfind("/health/", 0) == 0 || req.path == "/metrics";
  if (!exempt) {
    if (double wait = Admit(client); wait > 0) {
      http::Response r =
          http::Problem(429, "too-many-requests", "the rate limit for this client was exceeded");
      r.headers.Set("Retry-After", std::to_string(static_cast<int>(std::ceil(wait))));
      return out(std::move(r));
    }
  }
  match.route->handler(req, out);
}

}  // namespace trellis::api
