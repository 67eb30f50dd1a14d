#include "api/run_support.h"

#include <atomic>

#include "api/delayed_calls.h"
#include "api/util.h"

namespace trellis::api {
namespace {

using http::Response;

Response Accepted(const std::string& id) {
  Response r = Response::JsonBody(202, {{"id", id}, {"status", "Running"}});
  r.headers.Set("Location", "/api/instances/" + id);
  return r;
}

bool BurstEnded(InstanceStatus s) {
  return s != InstanceStatus::kRunning && s != InstanceStatus::kPending;
}

// API-only node: polls the stored instance until its first burst ended or the deadline passed.
void Poll(ApiContext& ctx, std::string id, std::chrono::steady_clock::time_point deadline,
          std::shared_ptr<std::function<Response(const BurstReport&)>> respond, http::Reply reply) {
  auto record = ctx.store->GetInstance(id);
  if (record.ok() && BurstEnded(record->status)) {
    BurstReport report;
    report.instance_id = id;
    report.status = record->status;
    report.state = record->state;
    report.committed = true;
    return reply((*respond)(report));
  }
  if (std::chrono::steady_clock::now() >= deadline) return reply(Accepted(id));
  ctx.delayed->After(std::chrono::milliseconds(20),
                     [&ctx, id, deadline, respond, reply] { Poll(ctx, id, deadline, respond, reply); });
}

}  // namespace

void RunAndReply(ApiContext& ctx, const http::Request& req, const std::string& workflow_id,
                 std::optional<int> version, StartOptions options, std::chrono::milliseconds timeout,
                 std::function<Response(const BurstReport&)> respond, const http::Reply& reply) {
  // The server abandons a request after server.request_timeout (ctx.execute_timeout) with a generic
  // 503; answer with the 202 and the id a little before that, so the caller can follow the instance.
  auto margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), ctx.execute_timeout / 10);
  timeout = std::min(timeout, ctx.execute_timeout - margin);
  auto respond_ptr = std::make_shared<std::function<Response(const BurstReport&)>>(std::move(respond));
  if (!ctx.node->worker().running()) {
    auto id = ctx.node->StartWorkflow(workflow_id, version, std::move(options));
    if (!id.ok()) return ReplyStatus(req, reply, id.status());
    return Poll(ctx, *id, std::chrono::steady_clock::now() + timeout, respond_ptr, reply);
  }
  auto prepared = ctx.node->PrepareInstance(workflow_id, version, std::move(options));
  if (!prepared.ok()) return ReplyStatus(req, reply, prepared.status());
  std::string id = prepared->second.id;
  auto answered = std::make_shared<std::atomic<bool>>(false);
  std::string request_id = req.request_id;
  Status s = ctx.node->worker().RunNow(
      prepared->first, std::move(prepared->second),
      [answered, respond_ptr, reply, request_id](BurstReport report) {
        if (answered->exchange(true)) return;
        if (!report.committed) {
          return reply(http::Problem(503, "not-committed",
                                     "the instance " + report.instance_id + " could not be committed: " +
                                         report.error + " (request " + request_id + ")"));
        }
        reply((*respond_ptr)(report));
      });
  if (!s.ok()) return ReplyStatus(req, reply, s);
  if (answered->load()) return;  // finished in its insert: answered already, no timeout to arm
  ctx.delayed->After(timeout, [answered, reply, id] {
    if (!answered->exchange(true)) reply(Accepted(id));
  });
}

}  // namespace trellis::api
