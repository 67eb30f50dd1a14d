// The whole `trellis server` process minus signal handling: the store, the node (scheduler and
// embedded worker), secrets, authentication and the HTTP server, assembled from the configuration.
// The CLI runs one; the API tests run several in-process.
#pragma once

#include <chrono>
#include <memory>
#include <string>

#include "config/config.h"
#include "core/status.h"

namespace trellis::api {

class App {
 public:
  // Opens the store (retrying while it is unavailable until `keep_trying` says stop), checks the
  // security settings, and builds everything. Nothing listens yet.
  static Result<std::unique_ptr<App>> Create(
      const config::Config& config, const std::function<bool(std::chrono::milliseconds)>& keep_trying);
  ~App();

  // Starts the node and the HTTP server.
  Status Start();
  int port() const;
  std::string url() const;  // http://host:port
  // Graceful stop: readiness turns 503, the listener closes, in-flight requests finish, then the
  // node drains and releases its leases; all within `deadline`.
  void Stop(std::chrono::milliseconds deadline);

  struct Impl;

 private:
  explicit App(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace trellis::api
