// Definitions: list, create, get (latest or a version), versions, update draft, publish, retract,
// delete, validate. Bodies may be JSON or YAML (Content-Type application/yaml), like the files in git.
#include "api/api.h"
#include "api/util.h"
#include "core/strings.h"
#include "model/parser.h"
#include "runtime/definitions.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

// The definition in the body: JSON, or YAML when the Content-Type says so.
std::optional<Json> DefinitionBody(const Request& req, const Reply& reply) {
  std::string type = req.headers.Get("Content-Type");
  if (type.find("yaml") != std::string::npos) {
    Json doc;
    std::string error;
    if (!YamlToJson(req.body, &doc, &error)) {
      reply(http::Problem(400, "malformed-yaml", "the request body is not valid YAML: " + error));
      return std::nullopt;
    }
    if (!doc.is_object()) {
      reply(http::Problem(400, "invalid-definition", "a definition must be a mapping",
                          {{"", "must be a mapping"}}));
      return std::nullopt;
    }
    return doc;
  }
  return JsonBody(req, reply);
}

bool ReplyIfInvalid(const ApiContext& ctx, const Json& def, const Reply& reply) {
  auto errors = ValidateWorkflowJson(*ctx.registry, def, true);
  if (errors.empty()) return false;
  reply(http::Problem(400, "invalid-definition",
                      "the definition has " + std::to_string(errors.size()) + " error(s)",
                      FieldErrors(errors)));
  return true;
}

std::optional<int> VersionParam(const Request& req, const Reply& reply) {
  const std::string& text = req.Param("version");
  try {
    size_t pos = 0;
    int v = std::stoi(text, &pos);
    if (pos == text.size() && v > 0) return v;
  } catch (...) {
  }
  reply(http::Problem(400, "invalid-request", "the version must be a positive integer",
                      {{"path.version", "must be a positive integer"}}));
  return std::nullopt;
}

}  // namespace

void AddDefinitionRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "GET", "/api/workflows",
      [&ctx](Request& req, Reply reply) {
        auto limit = LimitParam(req, reply);
        if (!limit) return;
        DefinitionFilter f;
        f.search = req.Query("search");
        f.limit = *limit;
        f.cursor = req.Query("cursor");
        auto page = ctx.store->ListDefinitions(f);
        if (!page.ok()) return ReplyStatus(req, reply, page.status());
        Json items = Json::array();
        for (const auto& r : page->items) items.push_back(DefinitionSummaryJson(r));
        reply(Response::JsonBody(200, PageJson(std::move(items), page->next_cursor)));
      },
      kViewer);

  router.Add(
      "POST", "/api/workflows",
      [&ctx](Request& req, Reply reply) {
        auto def = DefinitionBody(req, reply);
        if (!def || ReplyIfInvalid(ctx, *def, reply)) return;
        bool publish = req.Query("publish") == "true";
        auto saved = SaveWorkflow(*ctx.store, *ctx.registry, *def, publish, ctx.clock->Now());
        if (!saved.ok()) return ReplyStatus(req, reply, saved.status());
        Response r = Response::JsonBody(201, DefinitionJson(*saved));
        r.headers.Set("Location", "/api/workflows/" + PercentEncode(saved->id) + "/versions/" +
                                      std::to_string(saved->version));
        reply(std::move(r));
      },
      kEditor);

  router.Add(
      "POST", "/api/workflows/validate",
      [&ctx](Request& req, Reply reply) {
        auto def = DefinitionBody(req, reply);
        if (!def) return;
        auto errors = ValidateWorkflowJson(*ctx.registry, *def, false);
        Json list = Json::array();
        for (const auto& e : errors) list.push_back({{"path", e.path}, {"message", e.message}});
        reply(Response::JsonBody(200, {{"valid", errors.empty()}, {"errors", list}}));
      },
      kViewer);

  router.Add(
      "GET", "/api/workflows/{id}",
      [&ctx](Request& req, Reply reply) {
        auto r = ctx.store->GetDefinition(req.Param("id"), std::nullopt);
        if (!r.ok()) return ReplyStatus(req, reply, r.status());
        reply(Response::JsonBody(200, DefinitionJson(*r)));
      },
      kViewer);

  router.Add(
      "PUT", "/api/workflows/{id}",
      [&ctx](Request& req, Reply reply) {
        auto def = DefinitionBody(req, reply);
        if (!def) return;
        const std::string& id = req.Param("id");
        if (!def->contains("id")) (*def)["id"] = id;
        if (!(*def)["id"].is_string() || (*def)["id"].get<std::string>() != id) {
          return reply(http::Problem(400, "invalid-definition",
                                     "the body's id must match the path's id '" + id + "'",
                                     {{"id", "must be '" + id + "'"}}));
        }
        if (ReplyIfInvalid(ctx, *def, reply)) return;
        auto saved =
            SaveWorkflow(*ctx.store, *ctx.registry, *def, req.Query("publish") == "true", ctx.clock->Now());
        if (!saved.ok()) return ReplyStatus(req, reply, saved.status());
        reply(Response::JsonBody(200, DefinitionJson(*saved)));
      },
      kEditor);

  router.Add(
      "DELETE", "/api/workflows/{id}",
      [&ctx](Request& req, Reply reply) {
        Status s = ctx.store->DeleteDefinition(req.Param("id"));
        if (!s.ok()) return ReplyStatus(req, reply, s);
        reply(Response::Empty(204));
      },
      kEditor);

  router.Add(
      "GET", "/api/workflows/{id}/versions",
      [&ctx](Request& req, Reply reply) {
        auto versions = ctx.store->ListDefinitionVersions(req.Param("id"));
        if (!versions.ok()) return ReplyStatus(req, reply, versions.status());
        if (versions->empty())
          return reply(http::Problem(404, "not-found", "no workflow '" + req.Param("id") + "'"));
        Json items = Json::array();
        for (const auto& r : *versions) items.push_back(DefinitionSummaryJson(r));
        reply(Response::JsonBody(200, PageJson(std::move(items), "")));
      },
      kViewer);

  router.Add(
      "GET", "/api/workflows/{id}/versions/{version}",
      [&ctx](Request& req, Reply reply) {
        auto v = VersionParam(req, reply);
        if (!v) return;
        auto r = ctx.store->GetDefinition(req.Param("id"), *v);
        if (!r.ok()) return ReplyStatus(req, reply, r.status());
        reply(Response::JsonBody(200, DefinitionJson(*r)));
      },
      kViewer);

  router.Add(
      "POST", "/api/workflows/{id}/publish",
      [&ctx](Request& req, Reply reply) {
        auto body = JsonBody(req, reply, true);
        if (!body) return;
        auto errors = CheckMembers(*body, {{"version", "integer"}});
        if (body->contains("version") && (*body)["version"].is_number_integer() &&
            (*body)["version"].get<int>() < 1)
          errors.push_back({"body.version", "must be a positive integer"});
        if (!errors.empty())
          return reply(http::Problem(400, "invalid-request", "the body has invalid fields", errors));
        const std::string& id = req.Param("id");
        int version = body->value("version", 0);
        if (version == 0) {
          auto versions = ctx.store->ListDefinitionVersions(id);
          if (!versions.ok()) return ReplyStatus(req, reply, versions.status());
          for (const auto& r : *versions) version = std::max(version, r.version);
          if (version == 0) return reply(http::Problem(404, "not-found", "no workflow '" + id + "'"));
        }
        Status s = PublishWorkflow(*ctx.store, id, version, ctx.clock->Now());
        if (!s.ok()) return ReplyStatus(req, reply, s);
        auto r = ctx.store->GetDefinition(id, version);
        if (!r.ok()) return ReplyStatus(req, reply, r.status());
        reply(Response::JsonBody(200, DefinitionJson(*r)));
      },
      kEditor);

  router.Add(
      "POST", "/api/workflows/{id}/retract",
      [&ctx](Request& req, Reply reply) {
        const std::string& id = req.Param("id");
        auto existing = ctx.store->GetDefinition(id, std::nullopt);
        if (!existing.ok()) return ReplyStatus(req, reply, existing.status());
        Status s = ctx.store->PublishDefinition(id, std::nullopt, {}, {}, ctx.clock->Now());
        if (!s.ok()) return ReplyStatus(req, reply, s);
        auto r = ctx.store->GetDefinition(id, std::nullopt);
        if (!r.ok()) return ReplyStatus(req, reply, r.status());
        reply(Response::JsonBody(200, DefinitionJson(*r)));
      },
      kEditor);
}

}  // namespace trellis::api
