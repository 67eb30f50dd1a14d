// The HTTP/1.1 server: Boost.Beast with C++20 coroutines on a small I/O thread pool. Requests are
// parsed on I/O threads and handed to `dispatch` on a separate pool of blocking threads, so the
// database, Lua and engine bursts never run on an I/O thread; a handler replies whenever it is
// ready (a sync execute replies from the worker's committer). Slow clients are cut off by the
// header, request and idle timeouts; bodies above `max_body` get 413.
//
// Boost-free on purpose (pimpl): including this header costs nothing.
#pragma once

#include <chrono>
#include <functional>
#include <memory>
#include <string>

#include "core/status.h"
#include "http/message.h"

namespace trellis::http {

struct ServerOptions {
  std::string host = "127.0.0.1";
  int port = 8080;  // 0: pick a free port (see Server::port())
  int io_threads = 2;
  int handler_threads = 16;
  size_t max_body = 10 * 1024 * 1024;
  size_t max_header = 16 * 1024;
  std::chrono::milliseconds header_timeout{10000};   // from the first byte to the end of the headers
  std::chrono::milliseconds request_timeout{30000};  // body read plus handling
  std::chrono::milliseconds idle_timeout{60000};     // keep-alive wait for the next request
  // At shutdown, how long an idle keep-alive connection waits for a request already on its way
  // (sent after a response that did not yet say Connection: close) before it is closed.
  std::chrono::milliseconds stop_grace{100};
};

// Called once per finished exchange (for access logs and metrics); `seconds` is the handling time.
using ExchangeObserver = std::function<void(const Request&, const Response&, double seconds)>;

class Server {
 public:
  Server(ServerOptions options, std::function<void(Request&, Reply)> dispatch,
         ExchangeObserver observer = {});
  ~Server();

  // Binds and starts the threads. Fails when the address cannot be bound.
  Status Start();
  // The bound port (after Start).
  int port() const;
  // Stops accepting, lets in-flight requests finish (their responses say Connection: close), closes
  // idle keep-alive connections, and waits up to `deadline` before closing the rest. Idempotent.
  void Stop(std::chrono::milliseconds deadline);
  // Connections open now.
  size_t connections() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::http
