// Operations: the activity catalogue, statistics (counts by status, queue depth and lag), the live
// cluster nodes, and the OpenAPI document.
#include "api/api.h"
#include "api/openapi.h"
#include "api/util.h"
#include "model/activity_descriptor.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

}  // namespace

void AddOperationRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "GET", "/api/activities",
      [&ctx](Request&, Reply reply) {
        Json items = Json::array();
        for (const auto* d : ctx.registry->Descriptors()) items.push_back(DescriptorToJson(*d));
        reply(Response::JsonBody(200, PageJson(std::move(items), "")));
      },
      kViewer);

  router.Add(
      "GET", "/api/stats",
      [&ctx](Request& req, Reply reply) {
        TimePoint now = ctx.clock->Now();
        auto stats = ctx.store->Stats(now);
        if (!stats.ok()) return ReplyStatus(req, reply, stats.status());
        Json counts = Json::object();
        for (const char* s : {"Pending", "Running", "Suspended", "Completed", "Faulted", "Cancelled"})
          counts[s] = 0;
        for (const auto& [status, n] : stats->instances_by_status) counts[status] = n;
        double lag = 0;
        if (stats->oldest_runnable && *stats->oldest_runnable < now)
          lag = std::chrono::duration<double>(now - *stats->oldest_runnable).count();
        reply(Response::JsonBody(
            200, {{"instances", counts},
                  {"queue",
                   {{"depth", stats->runnable}, {"lagSeconds", lag}, {"timersDue", stats->timers_due}}}}));
      },
      kViewer);

  router.Add(
      "GET", "/api/cluster/nodes",
      [&ctx](Request& req, Reply reply) {
        TimePoint now = ctx.clock->Now();
        auto nodes = ctx.store->ListNodes(now - 3 * ctx.node_heartbeat);
        if (!nodes.ok()) return ReplyStatus(req, reply, nodes.status());
        Json items = Json::array();
        for (const auto& n : *nodes) {
          items.push_back({{"id", n.id},
                           {"kind", n.kind},
                           {"hostname", n.hostname},
                           {"pid", n.pid},
                           {"version", n.version},
                           {"concurrency", n.concurrency},
                           {"draining", n.draining},
                           {"self", ctx.node != nullptr && n.id == ctx.node->id()},
                           {"startedAt", FormatTime(n.started_at)},
                           {"heartbeatAt", FormatTime(n.heartbeat_at)}});
        }
        reply(Response::JsonBody(200, PageJson(std::move(items), "")));
      },
      kViewer);

  router.Add(
      "GET", "/api/openapi.json",
      [](Request&, Reply reply) { reply(Response::Text(200, OpenApiDocument(), "application/json")); },
      kPublic);
}

http::Router BuildApiRouter(ApiContext& ctx) {
  http::Router router;
  AddDefinitionRoutes(router, ctx);
  AddExecuteRoutes(router, ctx);
  AddInstanceRoutes(router, ctx);
  AddSignalRoutes(router, ctx);
  AddSecretRoutes(router, ctx);
  AddOperationRoutes(router, ctx);
  return router;
}

}  // namespace trellis::api
