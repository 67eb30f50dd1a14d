// HttpClient: the outgoing HTTP interface the HttpRequest activity uses (DESIGN.md section 2).
//
// An interface so that engine tests can substitute a fake; the real implementation is libcurl
// (curl_http_client.h). Send returns the response for every HTTP status (a 404 or 500 is a
// response, not an error); a Status is returned only when no response was obtained:
//   InvalidArgument     bad URL, scheme other than http/https, bad header, bad timeout
//   FailedPrecondition  the SsrfGuard denied the destination (see http.allow_hosts)
//   DeadlineExceeded    `timeout` passed (connect + send + receive)
//   Cancelled           *cancel became true
//   ResourceExhausted   the response body exceeded the size limit
//   Unavailable         DNS, connection refused/reset, TLS failure, ... (curl's message)
#pragma once

#include <atomic>
#include <chrono>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "core/status.h"
#include "security/ssrf_guard.h"

namespace trellis {

struct HttpRequestSpec {
  std::string method = "GET";  // case-insensitive; sent upper-case
  std::string url;
  std::vector<std::pair<std::string, std::string>> headers;
  std::string body;
  std::chrono::milliseconds timeout{30000};
  const std::atomic<bool>* cancel = nullptr;  // set true to abort an in-flight call
};

struct HttpResponseData {
  long status = 0;
  std::vector<std::pair<std::string, std::string>> headers;  // in order; names lower-case
  std::string body;
};

class HttpClient {
 public:
  virtual ~HttpClient() = default;
  // Thread-safe: may be called from several threads at once.
  virtual Result<HttpResponseData> Send(const HttpRequestSpec& request) = 0;
};

// A libcurl client that checks every resolved address with `guard` before connecting.
std::unique_ptr<HttpClient> NewCurlHttpClient(SsrfGuard guard);

}  // namespace trellis
