// Instances: list with filters, get, journal, cancel, retry, delete, and bulk cancel/delete.
#include "api/api.h"
#include "api/util.h"
#include "engine/redaction.h"
#include "runtime/secrets.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

// Builds a filter from query parameters (list) or body members (bulk). False after replying 400.
bool ParseFilter(const std::function<std::string(const std::string&)>& get, InstanceFilter* f,
                 std::vector<http::FieldError>* errors, const std::string& where) {
  std::string status = get("status");
  if (!status.empty()) {
    auto s = ParseInstanceStatus(status);
    if (!s) {
      errors->push_back(
          {where + "status", "must be one of Pending, Running, Suspended, Completed, Faulted, Cancelled"});
    } else {
      f->status = *s;
    }
  }
  f->workflow_id = get("workflowId");
  f->correlation_id = get("correlationId");
  f->parent_id = get("parentId");
  for (auto [name, slot] :
       {std::pair{"createdAfter", &f->created_after}, {"createdBefore", &f->created_before}}) {
    std::string text = get(name);
    if (text.empty()) continue;
    auto t = ParseTime(text);
    if (!t.ok()) {
      errors->push_back({where + name, "must be an RFC 3339 time such as 2026-01-31T12:00:00Z"});
    } else {
      *slot = *t;
    }
  }
  return errors->empty();
}

void Bulk(ApiContext& ctx, Request& req, Reply reply, bool cancel) {
  auto body = JsonBody(req, reply);
  if (!body) return;
  auto errors = CheckMembers(*body, {{"status", "string"},
                                     {"workflowId", "string"},
                                     {"correlationId", "string"},
                                     {"parentId", "string"},
                                     {"createdAfter", "string"},
                                     {"createdBefore", "string"},
                                     {"reason", "string"}});
  InstanceFilter f;
  // Members of the wrong type are already errors; value() would throw on them.
  auto get = [&](const std::string& k) {
    auto it = body->find(k);
    return it != body->end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  ParseFilter(get, &f, &errors, "body.");
  if (!errors.empty())
    return reply(http::Problem(400, "invalid-request", "the filter has invalid fields", errors));
  if (!f.status && f.workflow_id.empty() && f.correlation_id.empty() && f.parent_id.empty() &&
      !f.created_after && !f.created_before) {
    return reply(
        http::Problem(400, "invalid-request",
                      "a bulk operation needs at least one filter (status, workflowId, correlationId, "
                      "parentId, createdAfter, createdBefore)"));
  }
  f.limit = 500;
  int64_t matched = 0, done = 0, skipped = 0;
  std::string reason = body->value("reason", "cancelled through the API");
  TimePoint now = ctx.clock->Now();
  while (true) {
    auto page = ctx.store->ListInstances(f);
    if (!page.ok()) return ReplyStatus(req, reply, page.status());
    for (const auto& r : page->items) {
      ++matched;
      Status s = cancel ? ctx.store->Deliver({r.id, InboxKind::kCancel, "", {{"reason", reason}}}, now)
                        : ctx.store->DeleteInstance(r.id);
      if (s.ok()) {
        ++done;
      } else if (s.code() == StatusCode::kFailedPrecondition || s.code() == StatusCode::kNotFound) {
        ++skipped;  // already finished, or gone meanwhile
      } else {
        return ReplyStatus(req, reply, s);
      }
    }
    if (page->next_cursor.empty()) break;
    // Deleting shifts pages; listing again from the start sees what is left.
    if (cancel) f.cursor = page->next_cursor;
  }
  if (cancel) ctx.node->worker().Notify();
  reply(Response::JsonBody(
      200, {{"matched", matched}, {cancel ? "cancelled" : "deleted", done}, {"skipped", skipped}}));
}

}  // namespace

void AddInstanceRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "GET", "/api/instances",
      [&ctx](Request& req, Reply reply) {
        auto limit = LimitParam(req, reply);
        if (!limit) return;
        InstanceFilter f;
        std::vector<http::FieldError> errors;
        ParseFilter([&](const std::string& k) { return req.Query(k); }, &f, &errors, "query.");
        if (!errors.empty()) return reply(http::Problem(400, "invalid-request", "invalid filters", errors));
        f.limit = *limit;
        f.cursor = req.Query("cursor");
        auto page = ctx.store->ListInstances(f);
        if (!page.ok()) return ReplyStatus(req, reply, page.status());
        Json items = Json::array();
        for (const auto& r : page->items) items.push_back(InstanceSummaryJson(r));
        reply(Response::JsonBody(200, PageJson(std::move(items), page->next_cursor)));
      },
      kViewer);

  router.Add(
      "GET", "/api/instances/{id}",
      [&ctx](Request& req, Reply reply) {
        auto r = ctx.store->GetInstance(req.Param("id"));
        if (!r.ok()) return ReplyStatus(req, reply, r.status());
        auto secrets = ctx.secrets != nullptr ? ctx.secrets->Snapshot() : nullptr;
        reply(Response::JsonBody(200, InstanceJson(*r, r->state, secrets.get())));
      },
      kViewer);

  router.Add(
      "GET", "/api/instances/{id}/journal",
      [&ctx](Request& req, Reply reply) {
        auto limit = LimitParam(req, reply);
        if (!limit) return;
        uint64_t after = 0;
        if (std::string c = req.Query("cursor"); !c.empty()) {
          try {
            // Digits only: stoull would also take "-5" (wrapping around), "+5" and leading spaces.
            if (c.find_first_not_of("0123456789") != std::string::npos) throw std::invalid_argument(c);
            size_t pos = 0;
            after = std::stoull(c, &pos);
            if (pos != c.size()) throw std::invalid_argument(c);
          } catch (...) {
            return reply(http::Problem(400, "invalid-request", "the cursor is not one this API returned",
                                       {{"query.cursor", "is not valid"}}));
          }
        }
        auto exists = ctx.store->GetInstance(req.Param("id"));
        if (!exists.ok()) return ReplyStatus(req, reply, exists.status());
        auto page = ctx.store->ListJournal(req.Param("id"), after, *limit);
        if (!page.ok()) return ReplyStatus(req, reply, page.status());
        Json items = Json::array();
        for (const auto& e : page->items) items.push_back(JournalJson(e));
        std::string next;
        if (!page->next_cursor.empty() && !page->items.empty())
          next = std::to_string(page->items.back().record.sequence);
        reply(Response::JsonBody(200, PageJson(std::move(items), next)));
      },
      kViewer);

  router.Add(
      "POST", "/api/instances/{id}/cancel",
      [&ctx](Request& req, Reply reply) {
        auto body = JsonBody(req, reply, true);
        if (!body) return;
        if (auto errors = CheckMembers(*body, {{"reason", "string"}}); !errors.empty())
          return reply(http::Problem(400, "invalid-request", "the body has invalid fields", errors));
        Json payload = {{"reason", body->value("reason", "cancelled through the API")}};
        Status s = ctx.store->Deliver({req.Param("id"), InboxKind::kCancel, "", payload}, ctx.clock->Now());
        if (!s.ok()) return ReplyStatus(req, reply, s);
        ctx.node->worker().Notify();
        reply(Response::JsonBody(202, {{"id", req.Param("id")}, {"cancelRequested", true}}));
      },
      kOperator);

  router.Add(
      "POST", "/api/instances/{id}/retry",
      [&ctx](Request& req, Reply reply) {
        Status s =
            ctx.store->Deliver({req.Param("id"), InboxKind::kRetry, "", Json::object()}, ctx.clock->Now());
        if (!s.ok()) return ReplyStatus(req, reply, s);
        ctx.node->worker().Notify();
        reply(Response::JsonBody(202, {{"id", req.Param("id")}, {"retryRequested", true}}));
      },
      kOperator);

  router.Add(
      "DELETE", "/api/instances/{id}",
      [&ctx](Request& req, Reply reply) {
        Status s = ctx.store->DeleteInstance(req.Param("id"));
        if (!s.ok()) return ReplyStatus(req, reply, s);
        reply(Response::Empty(204));
      },
      kOperator);

  router.Add(
      "POST", "/api/instances/cancel", [&ctx](Request& req, Reply reply) { Bulk(ctx, req, reply, true); },
      kOperator);
  router.Add(
      "POST", "/api/instances/delete", [&ctx](Request& req, Reply reply) { Bulk(ctx, req, reply, false); },
      kOperator);
}

}  // namespace trellis::api
