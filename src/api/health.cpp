#include "api/health.h"

#include <future>
#include <mutex>

#include "api/api.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

// Runs Ping on its own thread so that a database that hangs cannot hold the probe past its
// deadline; at most one ping is in flight (a hung one is reused, not multiplied).
class PingGate {
 public:
  Status Ping(Store* store, std::chrono::milliseconds deadline) {
    std::shared_future<Status> f;
    {
      std::lock_guard<std::mutex> lock(mu_);
      if (!inflight_.valid() || inflight_.wait_for(std::chrono::seconds(0)) == std::future_status::ready) {
        inflight_ = std::async(std::launch::async, [store] { return store->Ping(); }).share();
      }
      f = inflight_;
    }
    if (f.wait_for(deadline) != std::future_status::ready)
      return DeadlineExceeded("the database did not answer within " + std::to_string(deadline.count()) +
                              " ms");
    return f.get();
  }

 private:
  std::mutex mu_;
  std::shared_future<Status> inflight_;
};

// Migrations only move forward while the process runs; once current, stays current.
bool SchemaCurrent(Store* store, std::string* detail) {
  static std::atomic<bool> current{false};
  if (current.load()) return true;
  auto status = store->MigrationStatus();
  if (!status.ok()) {
    *detail = status.status().message();
    return false;
  }
  int pending = 0;
  for (const auto& m : *status) pending += m.applied_at ? 0 : 1;
  if (pending > 0) {
    *detail = std::to_string(pending) + " migration(s) pending; run `trellis migrate`";
    return false;
  }
  current = true;
  return true;
}

}  // namespace

void AddHealthRoutes(http::Router& router, HealthContext& ctx) {
  auto gate = std::make_shared<PingGate>();
  router.Add(
      "GET", "/health/live",
      [](Request&, Reply reply) {
        reply(Response::JsonBody(200, {{"status", "ok"}}));
      },
      kPublic);

  router.Add(
      "GET", "/health/startup",
      [&ctx](Request&, Reply reply) {
        bool ok = ctx.store != nullptr && ctx.started();
        reply(Response::JsonBody(ok ? 200 : 503, {{"status", ok ? "ok" : "starting"}}));
      },
      kPublic);

  router.Add(
      "GET", "/health/ready",
      [&ctx, gate](Request&, Reply reply) {
        Json checks = Json::object();
        bool ok = true;
        auto check = [&](const char* name, bool pass, const std::string& detail) {
          Json c = {{"status", pass ? "ok" : "failing"}};
          if (!detail.empty()) c["detail"] = detail;
          checks[name] = c;
          ok = ok && pass;
        };
        bool draining = ctx.draining();
        check("draining", !draining, draining ? "the node is shutting down" : "");
        if (ctx.store == nullptr) {
          check("database", false, "the store is not open yet");
        } else {
          Status ping = gate->Ping(ctx.store, ctx.database_deadline);
          check("database", ping.ok(), ping.ok() ? "" : ping.message());
          std::string detail;
          bool current = ping.ok() && SchemaCurrent(ctx.store, &detail);
          check("migrations", current, ping.ok() ? detail : "the database is unreachable");
        }
        reply(
            Response::JsonBody(ok ? 200 : 503, {{"status", ok ? "ok" : "unavailable"}, {"checks", checks}}));
      },
      kPublic);

  router.Add(
      "GET", "/metrics",
      [&ctx](Request&, Reply reply) {
        reply(Response::Text(200, ctx.metrics ? ctx.metrics() : "",
                             "text/plain; version=0.0.4; charset=utf-8"));
      },
      kPublic);
}

}  // namespace trellis::api
