// The libcurl implementation of HttpClient (http_client.h), with its tunables.
//
// Each thread keeps one curl easy handle and multi handle, so consecutive requests from a worker
// thread reuse connections. The SsrfGuard runs in CURLOPT_OPENSOCKETFUNCTION, i.e. on the address
// curl actually connects to after DNS resolution, which defeats DNS rebinding. Redirects are not
// followed (a 3xx is returned as the response), only http and https are spoken, proxies from the
// environment are ignored (a proxy would hide the destination from the guard), and the response
// body is capped.
#pragma once

#include <chrono>
#include <cstddef>
#include <memory>
#include <string>

#include "activities/http_client.h"

namespace trellis {

struct CurlHttpClientOptions {
  // Larger bodies fail with ResourceExhausted instead of growing memory without bound.
  size_t max_response_bytes = size_t{16} * 1024 * 1024;
  // How often an in-flight request looks at HttpRequestSpec::cancel.
  std::chrono::milliseconds cancel_poll_interval{50};
  std::string user_agent = "Trellis";
};

std::unique_ptr<HttpClient> NewCurlHttpClient(SsrfGuard guard, CurlHttpClientOptions options);

}  // namespace trellis
