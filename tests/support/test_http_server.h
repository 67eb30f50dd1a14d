// TestHttpServer: a small real HTTP/1.1 server for tests (Boost.Beast, kept out of this header so
// that test files compile fast).
//
// It binds 127.0.0.1 on port 0 and serves on one background thread. Every request is recorded
// (thread-safely) before the handler runs; the handler's response may be delayed without blocking
// the server, so tests can exercise client timeouts and cancellation. Keep-alive is honoured, and
// each recorded request carries the id of the connection it arrived on, so tests can check
// connection reuse. Tests wait for requests with WaitForRequests (a condition with a deadline),
// never with sleeps. The destructor stops the server and closes every connection.
#pragma once

#include <chrono>
#include <cstdint>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace trellis::test {

using HttpHeaders = std::vector<std::pair<std::string, std::string>>;

struct TestHttpRequest {
  std::string method;   // "GET"
  std::string target;   // "/path?query"
  HttpHeaders headers;  // in arrival order, names as sent
  std::string body;
  uint64_t connection_id = 0;  // 1 for the first accepted connection, 2 for the next, ...

  // The first header with this name (case-insensitive), or nullopt.
  std::optional<std::string> Header(std::string_view name) const;
};

struct TestHttpResponse {
  int status = 200;
  // Content-Length is added unless present; "Transfer-Encoding: chunked" sends the body chunked.
  HttpHeaders headers;
  std::string body;
  // Wait this long before writing the response (the server keeps serving other connections).
  std::chrono::milliseconds delay{0};
  // Close the connection without answering.
  bool close_without_response = false;
  // When set, the response (after `delay`) is held until this returns true; it is polled every few
  // milliseconds on the server thread, which keeps serving other connections meanwhile.
  std::function<bool()> hold_until;
};

class TestHttpServer {
 public:
  using Handler = std::function<TestHttpResponse(const TestHttpRequest&)>;

  // Starts serving. Without a handler every request gets 200 with an empty body. The handler runs
  // on the server thread. Throws std::runtime_error if the server cannot start (tests only).
  explicit TestHttpServer(Handler handler = {});
  ~TestHttpServer();
  TestHttpServer(const TestHttpServer&) = delete;
  TestHttpServer& operator=(const TestHttpServer&) = delete;

  uint16_t port() const;
  // "http://127.0.0.1:<port>" followed by `path`.
  std::string Url(std::string_view path = "/") const;

  // Replaces the handler for requests that arrive from now on.
  void SetHandler(Handler handler);

  // A copy of the requests received so far, in arrival order.
  std::vector<TestHttpRequest> Requests() const;
  size_t RequestCount() const;
  // Blocks until at least `count` requests have arrived; false if `timeout` passes first.
  bool WaitForRequests(size_t count, std::chrono::milliseconds timeout = std::chrono::seconds(10)) const;
  // Number of connections accepted so far.
  uint64_t ConnectionCount() const;

 private:
  class Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::test
