// TestClient: a blocking HTTP client for tests of Trellis's own server (libcurl, one easy handle
// per client so keep-alive connections are reused), plus RawExchange for malformed or slow input
// that a real client would refuse to send.
#pragma once

#include <chrono>
#include <map>
#include <string>
#include <utility>
#include <vector>

#include "core/json.h"

namespace trellis::test {

struct ClientResponse {
  int status = 0;                              // 0: the request failed (see error)
  std::map<std::string, std::string> headers;  // lower-case names
  std::string body;
  std::string error;
  int curl_code = 0;     // CURLcode when the request failed
  bool refused = false;  // the connection was refused (nothing listens)

  Json json() const { return Json::parse(body, nullptr, false); }
  std::string Header(const std::string& lower_name) const {
    auto it = headers.find(lower_name);
    return it == headers.end() ? "" : it->second;
  }
};

class TestClient {
 public:
  explicit TestClient(std::string base_url);  // e.g. "http://127.0.0.1:8080"
  ~TestClient();
  TestClient(const TestClient&) = delete;
  TestClient& operator=(const TestClient&) = delete;

  // Headers sent with every request (e.g. Authorization).
  void SetHeader(const std::string& name, const std::string& value);
  void ClearHeaders() { default_headers_.clear(); }

  ClientResponse Send(const std::string& method, const std::string& path, const std::string& body = "",
                      const std::vector<std::pair<std::string, std::string>>& headers = {},
                      std::chrono::milliseconds timeout = std::chrono::seconds(30));
  ClientResponse Get(const std::string& path) { return Send("GET", path); }
  ClientResponse Delete(const std::string& path) { return Send("DELETE", path); }
  ClientResponse Post(const std::string& path, const Json& body) {
    return Send("POST", path, body.dump(), {{"Content-Type", "application/json"}});
  }
  ClientResponse Put(const std::string& path, const Json& body) {
    return Send("PUT", path, body.dump(), {{"Content-Type", "application/json"}});
  }

 private:
  std::string base_;
  std::vector<std::pair<std::string, std::string>> default_headers_;
  void* curl_ = nullptr;
};

// Writes `bytes` to 127.0.0.1:port (optionally in pieces with pauses), then reads until the peer
// closes or `read_timeout` passes. Returns what was read; `closed` tells whether the server closed.
struct RawResult {
  std::string received;
  bool closed = false;
  bool connected = false;
};
RawResult RawExchange(int port, const std::vector<std::string>& pieces, std::chrono::milliseconds pause,
                      std::chrono::milliseconds read_timeout);

}  // namespace trellis::test
