// Running workflows: POST /api/workflows/{id}/execute and POST /api/workflows/execute (an inline
// definition). With `wait: true` the instance runs on this node's worker at once (no queue round
// trip) and the answer is the instance after its first burst: Completed, Faulted, or Suspended at
// a bookmark. Past `timeout` the answer is 202 with the id; the instance keeps running.
#include "api/api.h"
#include "api/delayed_calls.h"
#include "api/run_support.h"
#include "api/util.h"
#include "core/duration.h"
#include "core/strings.h"
#include "engine/redaction.h"
#include "runtime/definitions.h"
#include "runtime/secrets.h"
#include "security/encoding.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

struct ExecuteRequest {
  Json input = Json::object();
  std::string correlation_id;
  std::optional<int> version;
  bool wait = false;
  std::chrono::milliseconds timeout{0};
};

// Reads {input, correlationId, version, wait, timeout}; false after replying 400.
bool ParseExecute(const ApiContext& ctx, const Json& body, bool default_wait, ExecuteRequest* out,
                  const Reply& reply, std::vector<std::pair<std::string, std::string>> extra = {}) {
  std::vector<std::pair<std::string, std::string>> members = {{"input", "object"},
                                                              {"correlationId", "string|null"},
                                                              {"version", "integer"},
                                                              {"wait", "boolean"},
                                                              {"timeout", "any"}};
  members.insert(members.end(), extra.begin(), extra.end());
  auto errors = CheckMembers(body, members);
  out->input = body.value("input", Json::object());
  if (auto c = body.find("correlationId"); c != body.end() && c->is_string()) out->correlation_id = *c;
  if (auto v = body.find("version"); v != body.end() && v->is_number_integer()) {
    if (v->get<int>() < 1) errors.push_back({"body.version", "must be a positive integer"});
    out->version = v->get<int>();
  }
  auto w = body.find("wait");  // a non-boolean is already an error above; value() would throw on it
  out->wait = w != body.end() && w->is_boolean() ? w->get<bool>() : default_wait;
  out->timeout = ctx.execute_timeout;
  if (auto t = body.find("timeout"); t != body.end()) {
    std::optional<std::chrono::milliseconds> parsed;
    if (t->is_number_integer() && t->get<int64_t>() > 0) {
      parsed = std::chrono::milliseconds(t->get<int64_t>());
    } else if (t->is_string()) {
      auto d = ParseDuration(t->get<std::string>());
      if (d.ok() && d->count() > 0) parsed = *d;
    }
    if (!parsed) {
      errors.push_back({"body.timeout", "must be a duration such as \"10s\" or milliseconds as an integer"});
    } else {
      out->timeout = std::min(*parsed, ctx.execute_timeout);
    }
  }
  if (!errors.empty()) {
    reply(http::Problem(400, "invalid-request", "the execute request has invalid fields", errors));
    return false;
  }
  return true;
}

void Execute(ApiContext& ctx, const Request& req, const std::string& workflow_id, const ExecuteRequest& e,
             const Reply& reply) {
  StartOptions options;
  options.input = e.input;
  options.correlation_id = e.correlation_id;
  options.traceparent = req.traceparent;
  if (!e.wait) {
    auto id = ctx.node->StartWorkflow(workflow_id, e.version, std::move(options));
    if (!id.ok()) return ReplyStatus(req, reply, id.status());
    Response r = Response::JsonBody(202, {{"id", *id}, {"status", "Running"}});
    r.headers.Set("Location", "/api/instances/" + *id);
    return reply(std::move(r));
  }
  RunAndReply(
      ctx, req, workflow_id, e.version, std::move(options), e.timeout,
      [&ctx](const BurstReport& report) {
        auto secrets = ctx.secrets != nullptr ? ctx.secrets->Snapshot() : nullptr;
        return Response::JsonBody(200, InstanceJsonFromState(report.state, secrets.get()));
      },
      reply);
}

// An inline definition is stored once under a content-derived id ("inline-<sha256 prefix>") as a
// published version, so workers load it like any other and identical requests share it.
Result<std::string> StoreInline(ApiContext& ctx, Json definition) {
  definition.erase("triggers");
  definition.erase("version");
  definition["id"] = "";
  std::string id = "inline-" + security::Sha256Hex(definition.dump()).substr(0, 16);
  definition["id"] = id;
  if (!definition.contains("name")) definition["name"] = "Inline workflow";
  auto existing = ctx.store->GetDefinition(id, std::nullopt);
  if (existing.ok() && existing->published) return id;
  auto saved = SaveWorkflow(*ctx.store, *ctx.registry, definition, true, ctx.clock->Now());
  if (!saved.ok()) return saved.status();
  return id;
}

}  // namespace

void AddExecuteRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "POST", "/api/workflows/{id}/execute",
      [&ctx](Request& req, Reply reply) {
        auto body = JsonBody(req, reply, true);
        if (!body) return;
        ExecuteRequest e;
        if (!ParseExecute(ctx, *body, false, &e, reply)) return;
        Execute(ctx, req, req.Param("id"), e, reply);
      },
      kOperator);

  router.Add(
      "POST", "/api/workflows/execute",
      [&ctx](Request& req, Reply reply) {
        auto body = JsonBody(req, reply);
        if (!body) return;
        ExecuteRequest e;
        if (!ParseExecute(ctx, *body, true, &e, reply, {{"workflow", "object"}})) return;
        auto wf = body->find("workflow");
        if (wf == body->end()) {
          return reply(http::Problem(400, "invalid-request", "the body needs a `workflow` definition",
                                     {{"body.workflow", "is required"}}));
        }
        Json def = *wf;
        def["id"] = "inline";  // validated with a placeholder id; the stored id is content-derived
        auto errors = ValidateWorkflowJson(*ctx.registry, def, true);
        if (!errors.empty()) {
          for (auto& err : errors) err.path = "workflow." + err.path;
          return reply(
              http::Problem(400, "invalid-definition",
                            "the inline definition has " + std::to_string(errors.size()) + " error(s)",
                            FieldErrors(errors)));
        }
        auto id = StoreInline(ctx, *wf);
        if (!id.ok()) return ReplyStatus(req, reply, id.status());
        e.version.reset();
        Execute(ctx, req, *id, e, reply);
      },
      kOperator);
}

}  // namespace trellis::api
