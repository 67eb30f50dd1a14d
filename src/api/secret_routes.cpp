// Secrets: write-only values. PUT stores (encrypted), DELETE removes, GET lists names and times.
#include "api/api.h"
#include "api/util.h"
#include "runtime/secrets.h"

namespace trellis::api {
namespace {

using http::Reply;
using http::Request;
using http::Response;

bool ReplyIfUnavailable(const ApiContext& ctx, const Reply& reply) {
  if (ctx.secrets != nullptr) return false;
  reply(http::Problem(409, "secrets-not-configured",
                      "secrets need an encryption key: set ENCRYPTION_KEY (or security.encryption_key) to 32 "
                      "random bytes in base64, e.g. from `openssl rand -base64 32`"));
  return true;
}

}  // namespace

void AddSecretRoutes(http::Router& router, ApiContext& ctx) {
  router.Add(
      "GET", "/api/secrets",
      [&ctx](Request& req, Reply reply) {
        if (ReplyIfUnavailable(ctx, reply)) return;
        auto list = ctx.secrets->List();
        if (!list.ok()) return ReplyStatus(req, reply, list.status());
        Json items = Json::array();
        for (const auto& s : *list) {
          items.push_back({{"name", s.name},
                           {"createdAt", FormatTime(s.created_at)},
                           {"updatedAt", FormatTime(s.updated_at)}});
        }
        reply(Response::JsonBody(200, PageJson(std::move(items), "")));
      },
      kAdmin);

  router.Add(
      "PUT", "/api/secrets/{name}",
      [&ctx](Request& req, Reply reply) {
        if (ReplyIfUnavailable(ctx, reply)) return;
        auto body = JsonBody(req, reply);
        if (!body) return;
        auto errors = CheckMembers(*body, {{"value", "string"}});
        if (!body->contains("value")) errors.push_back({"body.value", "is required"});
        if (!errors.empty())
          return reply(http::Problem(400, "invalid-request", "the secret needs a string value", errors));
        Status s = ctx.secrets->Put(req.Param("name"), (*body)["value"].get<std::string>());
        if (!s.ok()) return ReplyStatus(req, reply, s);
        reply(Response::JsonBody(200, {{"name", req.Param("name")}, {"stored", true}}));
      },
      kAdmin);

  router.Add(
      "DELETE", "/api/secrets/{name}",
      [&ctx](Request& req, Reply reply) {
        if (ReplyIfUnavailable(ctx, reply)) return;
        Status s = ctx.secrets->Delete(req.Param("name"));
        if (!s.ok()) return ReplyStatus(req, reply, s);
        reply(Response::Empty(204));
      },
      kAdmin);
}

}  // namespace trellis::api
