// HTTP requests and responses as plain values, free of Boost, so that routes, middleware and
// their tests compile without Beast (only server.cpp and beast_impl.cpp include it).
#pragma once

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "core/json.h"

namespace trellis::http {

// Header fields in arrival order; names compare case-insensitively.
class Headers {
 public:
  void Add(std::string name, std::string value) { fields_.emplace_back(std::move(name), std::move(value)); }
  void Set(std::string name, std::string value);
  // The first value of `name`, or "" when absent.
  std::string Get(std::string_view name) const;
  bool Has(std::string_view name) const;
  const std::vector<std::pair<std::string, std::string>>& fields() const { return fields_; }

 private:
  std::vector<std::pair<std::string, std::string>> fields_;
};

struct Request {
  std::string method;                             // upper case: GET, POST, ...
  std::string target;                             // as received: path and query
  std::string path;                               // percent-decoded, without the query
  std::multimap<std::string, std::string> query;  // percent-decoded
  Headers headers;
  std::string body;
  std::string remote_address;
  std::string request_id;  // X-Request-Id when the client sent a sane one, else generated
  // The W3C traceparent of this request's span (or the caller's, when tracing is off) that
  // instances it starts continue; and its trace id for log lines. Set by the API dispatcher.
  std::string traceparent;
  std::string trace_id;

  // Filled by the router: the matched pattern (e.g. "/api/workflows/{id}") and its parameters.
  std::string route;
  std::map<std::string, std::string> params;

  // The last value of a query parameter, or "" when absent.
  std::string Query(std::string_view name) const;
  const std::string& Param(const std::string& name) const;
};

struct Response {
  int status = 200;
  Headers headers;
  std::string body;

  static Response JsonBody(int status, const Json& body);
  static Response Text(int status, std::string body, std::string content_type = "text/plain; charset=utf-8");
  static Response Empty(int status);
};

// Replies to a request exactly once, from any thread. Calls after the first are ignored.
using Reply = std::function<void(Response)>;

// Splits a request target into a decoded path and query. False when the target is malformed
// (bad percent-encoding, not starting with '/', or a NUL byte).
bool ParseTarget(std::string_view target, std::string* path, std::multimap<std::string, std::string>* query);
std::string PercentDecode(std::string_view s, bool plus_is_space, bool* ok);
const char* ReasonPhrase(int status);

}  // namespace trellis::http
