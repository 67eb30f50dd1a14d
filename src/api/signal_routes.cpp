// Events and webhooks. POST /api/events/{name} resumes matching WaitForEvent bookmarks and starts
// workflows with an Event trigger. ANY /hooks/{path} starts workflows with a Webhook trigger and
// resumes WaitForWebhook bookmarks; every delivery is recorded and may be replayed.
#include <openssl/crypto.h>
#include <openssl/hmac.h>

#include <cctype>
#include <string_view>

#include "api/api.h"
#include "api/run_support.h"
#include "api/util.h"
#include "api/webhook_receiver.h"
#include "core/duration.h"
#include "core/log.h"
#include "core/uuid.h"
#include "runtime/secrets.h"
#include "security/encoding.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

std::string HexHmacSha256(const std::string& key, const std::string& data) {
  unsigned char out[EVP_MAX_MD_SIZE];
  unsigned int len = 0;
  HMAC(EVP_sha256(), key.data(), static_cast<int>(key.size()),
       reinterpret_cast<const unsigned char*>(data.data()), data.size(), out, &len);
  return security::HexEncode(std::string_view(reinterpret_cast<const char*>(out), len));
}

// The stored form of a webhook request, and the workflow input built from it.
struct WebhookCall {
  std::string path;
  std::string method;
  Json headers = Json::object();
  Json query = Json::object();
  std::string body;
  std::string content_type;

  Json Input() const {
    Json parsed = body;
    if (content_type.find("json") != std::string::npos) {
      Json j = Json::parse(body, nullptr, false);
      if (!j.is_discarded()) parsed = std::move(j);
    }
    return {{"method", method}, {"path", path}, {"headers", headers}, {"query", query}, {"body", parsed}};
  }
};

WebhookCall CallFromRequest(const Request& req) {
  WebhookCall c;
  c.path = req.Param("path");
  c.method = req.method;
  for (const auto& [k, v] : req.headers.fields()) {
    std::string name = k;
    for (auto& ch : name) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
    // Credentials of the caller are not recorded.
    if (name == "authorization" || name == "cookie" || name == "x-api-key") continue;
    c.headers[name] = v;
  }
  for (const auto& [k, v] : req.query) c.query[k] = v;
  c.body = req.body;
  c.content_type = req.headers.Get("Content-Type");
  return c;
}

// A trigger's setting as text; `fallback` when it is absent or not a string. Definitions check a
// trigger's setting names, not their types, and Json::value() would throw on a number or a boolean.
std::string Setting(const TriggerRow& trigger, const char* key, const std::string& fallback = "") {
  auto it = trigger.config.find(key);
  return it != trigger.config.end() && it->is_string() ? it->get<std::string>() : fallback;
}

// Checks the trigger's HMAC signature (`secret` names a stored secret; the header defaults to
// X-Hub-Signature-256 and carries "sha256=<hex>"). Empty: fine; else the reason it failed.
std::string CheckSignature(ApiContext& ctx, const TriggerRow& trigger, const WebhookCall& call) {
  std::string secret_name = Setting(trigger, "secret");
  // A secret setting that is not a name fails closed: the check is never silently skipped.
  auto setting = trigger.config.find("secret");
  if (setting != trigger.config.end() && !setting->is_null() && !setting->is_string())
    return "the trigger's secret setting must name a stored secret";
  if (secret_name.empty()) return "";
  if (ctx.secrets == nullptr)
    return "the trigger needs secret '" + secret_name + "' but secrets are not configured";
  auto snapshot = ctx.secrets->Snapshot();
  auto it = snapshot->find(secret_name);
  if (it == snapshot->end() || !it->is_string())
    return "the trigger's secret '" + secret_name + "' does not exist";
  std::string header = Setting(trigger, "signature", "X-Hub-Signature-256");
  std::string lower = header;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  std::string given = call.headers.value(lower, "");
  std::string expected = "sha256=" + HexHmacSha256(it->get<std::string>(), call.body);
  if (given.size() != expected.size() || CRYPTO_memcmp(given.data(), expected.data(), given.size()) != 0)
    return "the " + header + " signature does not match the body";
  return "";
}

// Whether a workflow may set this response header: a valid field name (RFC 9110 token) that does
// not take over the message framing, which the server owns.
bool SettableHeader(const std::string& name) {
  static const char* kReserved[] = {
      "content-length", "transfer-encoding", "connection", "keep-alive", "upgrade", "te", "trailer"};
  if (name.empty()) return false;
  static constexpr std::string_view kTokenPunctuation = "!#$%&'*+-.^_`|~";
  for (unsigned char c : name) {
    bool token = std::isalnum(c) || kTokenPunctuation.find(static_cast<char>(c)) != std::string_view::npos;
    if (!token) return false;
  }
  std::string lower = name;
  for (auto& ch : lower) ch = static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* reserved : kReserved) {
    if (lower == reserved) return false;
  }
  return true;
}

// The workflow's HttpResponse as the HTTP answer. Header values often echo the webhook's input, so
// control characters are replaced: a CR or LF would let the caller inject headers or a body.
Response FromHttpResponse(const Json& item) {
  Response r;
  r.status = item.value("status", 200);
  if (auto h = item.find("headers"); h != item.end() && h->is_object()) {
    for (const auto& [k, v] : h->items()) {
      if (!SettableHeader(k)) continue;
      std::string value = v.is_string() ? v.get<std::string>() : v.dump();
      for (auto& ch : value) {
        if ((static_cast<unsigned char>(ch) < 0x20 && ch != '\t') || ch == 0x7f) ch = ' ';
      }
      r.headers.Set(k, std::move(value));
    }
  }
  auto body = item.find("body");
  if (body == item.end() || body->is_null()) return r;
  if (body->is_string()) {
    r.body = body->get<std::string>();
    if (!r.headers.Has("Content-Type")) r.headers.Set("Content-Type", "text/plain; charset=utf-8");
  } else {
    r.body = body->dump();
    if (!r.headers.Has("Content-Type")) r.headers.Set("Content-Type", "application/json");
  }
  return r;
}

// Handles one webhook call (live or replayed): resumes bookmarks, starts triggered workflows,
// records the delivery, and replies. The usual case (no sync trigger) writes the new instances and
// the delivery record in one transaction, batched with concurrent requests (Node::StartWorkflows).
void HandleWebhook(ApiContext& ctx, const Request& req, WebhookCall call, const Reply& reply) {
  TimePoint now = ctx.clock->Now();
  WebhookDeliveryRecord delivery;
  delivery.id = NewUuidV7(now);
  delivery.path = call.path;
  delivery.method = call.method;
  delivery.headers = call.headers;
  delivery.query = call.query;
  delivery.body = call.body;
  delivery.received_at = now;
  // Records a delivery that started nothing in the same transaction (rejected, unmatched, failed).
  // (Captures the store, not the context: the batcher may answer after the context is gone.)
  auto record = [store = ctx.store](WebhookDeliveryRecord d, int status,
                                    const std::vector<std::string>& instances) {
    d.status = status;
    d.instance_ids = instances;
    if (Status s = store->InsertWebhookDelivery(d); !s.ok())
      LogWarn("could not record a webhook delivery", {{"delivery", d.id}, {"error", s.ToString()}});
  };

  // Triggers and waiting bookmarks in one round trip, shared with concurrent calls; when a trigger
  // needs a signature, the bookmarks are resumed only once it is checked.
  Json input = call.Input();
  auto receipt =
      ctx.webhooks != nullptr
          ? ctx.webhooks->Receive({.path = call.path, .method = call.method, .request = &input, .now = now})
          : ctx.store->ReceiveWebhook(call.path, call.method, input, now);
  if (!receipt.ok()) return ReplyStatus(req, reply, receipt.status());
  std::vector<TriggerRow> matching;
  for (auto& t : receipt->triggers) {
    if (t.method.empty() || t.method == call.method) matching.push_back(std::move(t));
  }
  for (const auto& t : matching) {
    if (std::string why = CheckSignature(ctx, t, call); !why.empty()) {
      record(delivery, 401, {});
      LogWarn("webhook signature rejected",
              {{"path", call.path}, {"workflow", t.workflow_id}, {"reason", why}});
      return reply(http::Problem(401, "invalid-signature", why));
    }
  }
  Result<DeliveryResult> resumed = receipt->delivery;
  if (!receipt->delivered) resumed = ctx.store->DeliverWebhook(call.path, call.method, input, now);
  if (!resumed.ok()) return ReplyStatus(req, reply, resumed.status());
  if (resumed->resumed > 0) ctx.node->worker().Notify();

  // A trigger that asks for the workflow's HttpResponse is run here and answered from it; the other
  // triggers on the path start as usual (before it, so that they are not skipped by its answer).
  const TriggerRow* sync = nullptr;
  std::vector<Node::StartRequest> starts;
  for (const auto& t : matching) {
    if (sync == nullptr && Setting(t, "response") == "sync") {
      sync = &t;
      continue;
    }
    StartOptions options;
    options.input = input;
    options.traceparent = req.traceparent;
    starts.push_back({.workflow_id = t.workflow_id, .version = t.version, .options = std::move(options)});
  }
  if (sync == nullptr) {
    if (matching.empty() && resumed->resumed == 0) {
      record(delivery, 404, {});
      return reply(http::Problem(404, "no-webhook",
                                 "no published workflow and no waiting instance listens on " + call.method +
                                     " /hooks/" + call.path));
    }
    WebhookDeliveryRecord accepted = delivery;
    accepted.status = 202;
    // Answered once the batch holding this call is written; the handler thread is free meanwhile.
    http::Request meta;  // what a failure's log line names
    meta.request_id = req.request_id;
    meta.route = req.route;
    int64_t resumed_count = resumed->resumed;
    ctx.node->StartWorkflowsAsync(
        std::move(starts), std::move(accepted),
        [meta = std::move(meta), delivery = std::move(delivery), record, resumed_count,
         reply](Result<std::vector<std::string>> started) mutable {
          if (!started.ok()) {
            // This runs on the batcher's answering thread: with the database unavailable, a
            // record attempt per failed call would hold every other answer behind it.
            if (started.status().code() != StatusCode::kUnavailable) record(std::move(delivery), 500, {});
            return ReplyStatus(meta, reply, started.status());
          }
          Json ids = *started;
          reply(Response::JsonBody(202, {{"deliveryId", delivery.id},
                                         {"instanceIds", ids},
                                         {"id", started->empty() ? Json(nullptr) : Json(started->front())},
                                         {"resumed", resumed_count}}));
        });
    return;
  }

  // Sync: the delivery is recorded now and its outcome when the workflow answers.
  if (Status s = ctx.store->InsertWebhookDelivery(delivery); !s.ok()) return ReplyStatus(req, reply, s);
  auto finish = [&ctx, id = delivery.id](int status, const std::vector<std::string>& instances) {
    Status s = ctx.store->UpdateWebhookDelivery(id, status, instances);
    if (!s.ok())
      LogWarn("could not record a webhook delivery's outcome", {{"delivery", id}, {"error", s.ToString()}});
  };
  std::vector<std::string> started;
  if (!starts.empty()) {
    auto ids = ctx.node->StartWorkflows(std::move(starts), std::nullopt);
    if (!ids.ok()) {
      finish(500, {});
      return ReplyStatus(req, reply, ids.status());
    }
    started = std::move(ids).value();
  }
  std::chrono::milliseconds timeout = ctx.execute_timeout;
  if (auto d = ParseDuration(Setting(*sync, "timeout")); d.ok() && d->count() > 0)
    timeout = std::min(*d, ctx.execute_timeout);
  StartOptions options;
  options.input = input;
  options.traceparent = req.traceparent;
  return RunAndReply(
      ctx, req, sync->workflow_id, sync->version, std::move(options), timeout,
      [finish, started](const BurstReport& report) {
        Response r = report.http_responses.empty()
                         ? Response::JsonBody(202, {{"id", report.instance_id},
                                                    {"status", InstanceStatusName(report.status)}})
                         : FromHttpResponse(report.http_responses.front());
        std::vector<std::string> instances = started;
        instances.push_back(report.instance_id);
        finish(r.status, instances);
        return r;
      },
      reply);
}

Json DeliveryJson(const WebhookDeliveryRecord& d) {
  return {{"id", d.id},
          {"path", d.path},
          {"method", d.method},
          {"headers", d.headers},
          {"query", d.query},
          {"body", d.body},
          {"status", d.status},
          {"instanceIds", d.instance_ids},
          {"receivedAt", FormatTime(d.received_at)}};
}

}  // namespace

void AddSignalRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "POST", "/api/events/{name}",
      [&ctx](Request& req, Reply reply) {
        auto body = JsonBody(req, reply, true);
        if (!body) return;
        if (auto errors = CheckMembers(*body, {{"correlation", "string|null"}, {"payload", "any"}});
            !errors.empty())
          return reply(http::Problem(400, "invalid-request", "the event has invalid fields", errors));
        EventSignal event;
        event.name = req.Param("name");
        if (auto c = body->find("correlation"); c != body->end() && c->is_string()) event.correlation = *c;
        event.payload = body->value("payload", Json(nullptr));
        TimePoint now = ctx.clock->Now();
        auto triggers = ctx.store->FindTriggers("Event", event.name);
        if (!triggers.ok()) return ReplyStatus(req, reply, triggers.status());
        std::vector<TriggerRow> starting;
        for (auto& t : *triggers) {
          // A number filters as its text (correlation: 42 matches "42") rather than matching everything.
          auto c = t.config.find("correlation");
          std::string want;
          if (c != t.config.end() && !c->is_null()) want = c->is_string() ? c->get<std::string>() : c->dump();
          if (want.empty() || want == event.correlation) starting.push_back(std::move(t));
        }
        // Started workflows count as consumers: an event that starts one is not held for later waiters.
        // A trigger whose correlation does not match starts nothing, so it does not count.
        auto delivered = ctx.store->DeliverEvent(
            event, starting.empty() ? ctx.event_hold : std::chrono::milliseconds(0), now);
        if (!delivered.ok()) return ReplyStatus(req, reply, delivered.status());
        std::vector<std::string> started;
        for (const auto& t : starting) {
          StartOptions options;
          options.input = event.payload.is_object() ? event.payload : Json{{"payload", event.payload}};
          options.correlation_id = event.correlation;
          options.traceparent = req.traceparent;
          auto id = ctx.node->StartWorkflow(t.workflow_id, t.version, std::move(options));
          if (!id.ok()) return ReplyStatus(req, reply, id.status());
          started.push_back(*id);
        }
        if (delivered->resumed > 0) ctx.node->worker().Notify();
        reply(Response::JsonBody(200, {{"resumed", delivered->resumed},
                                       {"started", started.size()},
                                       {"instanceIds", started},
                                       {"held", delivered->held && started.empty()}}));
      },
      kOperator);

  router.Add(
      "*", "/hooks/{path...}",
      [&ctx](Request& req, Reply reply) { HandleWebhook(ctx, req, CallFromRequest(req), reply); }, kPublic);

  router.Add(
      "GET", "/api/webhooks/deliveries",
      [&ctx](Request& req, Reply reply) {
        auto limit = LimitParam(req, reply);
        if (!limit) return;
        WebhookDeliveryFilter f;
        f.path = req.Query("path");
        f.limit = *limit;
        f.cursor = req.Query("cursor");
        auto page = ctx.store->ListWebhookDeliveries(f);
        if (!page.ok()) return ReplyStatus(req, reply, page.status());
        Json items = Json::array();
        for (const auto& d : page->items) items.push_back(DeliveryJson(d));
        reply(Response::JsonBody(200, PageJson(std::move(items), page->next_cursor)));
      },
      kViewer);

  router.Add(
      "POST", "/api/webhooks/deliveries/{id}/replay",
      [&ctx](Request& req, Reply reply) {
        if (!ctx.webhook_replay) {
          return reply(
              http::Problem(403, "feature-disabled",
                            "replaying webhook deliveries is off; set features.webhook_replay: true"));
        }
        auto d = ctx.store->GetWebhookDelivery(req.Param("id"));
        if (!d.ok()) return ReplyStatus(req, reply, d.status());
        WebhookCall call;
        call.path = d->path;
        call.method = d->method;
        call.headers = d->headers;
        call.query = d->query;
        call.body = d->body;
        call.content_type = d->headers.value("content-type", "");
        HandleWebhook(ctx, req, std::move(call), reply);
      },
      kOperator);
}

}  // namespace trellis::api
