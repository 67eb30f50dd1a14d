#include <cctype>

#include "activities/builtin.h"
#include "activities/http_client.h"
#include "core/strings.h"

namespace trellis {
namespace {

std::string Scalar(const Json& v) {
  return v.is_string() ? v.get<std::string>() : v.dump();
}

bool HasHeader(const HttpRequestSpec& spec, std::string_view name) {
  for (const auto& [k, v] : spec.headers) {
    if (k.size() == name.size() && std::equal(k.begin(), k.end(), name.begin(), [](char a, char b) {
          return std::tolower(static_cast<unsigned char>(a)) == std::tolower(static_cast<unsigned char>(b));
        })) {
      return true;
    }
  }
  return false;
}

class HttpRequest final : public Activity {
 public:
  const ActivityDescriptor& descriptor() const override {
    static const ActivityDescriptor d{
        .type = "HttpRequest",
        .category = "HTTP",
        .description =
            "Sends an HTTP request. 2xx takes Done; another status takes Failed when connected, "
            "else the activity fails and its retry policy applies. Sends an Idempotency-Key, and a "
            "W3C traceparent when tracing is on.",
        .inputs = {In("method", "string", false, "GET"), In("url", "text", true),
                   In("headers", "object", false), In("query", "object", false), In("body", "any", false),
                   In("timeout", "duration", false, nullptr,
                      "default: the activity timeout or step timeout")},
        .outcomes = {"Done", "Failed"},
        .output_description = "{status, headers, body}; body is parsed when the response is JSON",
        .effect = ActivityEffect::kExternal};
    return d;
  }

  ActivityResult Execute(ActivityContext& ctx) const override {
    HttpClient* client = ctx.services().http;
    if (client == nullptr) return ActivityResult::Fail("HttpRequest: no HTTP client is configured", false);
    HttpRequestSpec spec;
    spec.method = ctx.InputString("method", "GET");
    for (auto& c : spec.method) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    spec.url = ctx.InputString("url");
    if (spec.url.empty()) return ActivityResult::Fail("HttpRequest needs a url", false);
    const Json& query = ctx.input("query");
    if (query.is_object() && !query.empty()) {
      std::string qs;
      for (const auto& [k, v] : query.items()) {
        if (v.is_null()) continue;
        qs += (qs.empty() ? "" : "&") + PercentEncode(k) + "=" + PercentEncode(Scalar(v));
      }
      if (!qs.empty()) spec.url += (spec.url.find('?') == std::string::npos ? "?" : "&") + qs;
    }
    const Json& headers = ctx.input("headers");
    if (!headers.is_null() && !headers.is_object())
      return ActivityResult::Fail("HttpRequest headers must be an object", false);
    if (headers.is_object()) {
      for (const auto& [k, v] : headers.items()) spec.headers.emplace_back(k, Scalar(v));
    }
    const Json& body = ctx.input("body");
    if (body.is_string()) {
      spec.body = body.get<std::string>();
    } else if (!body.is_null()) {
      spec.body = body.dump();
      if (!HasHeader(spec, "Content-Type")) spec.headers.emplace_back("Content-Type", "application/json");
    }
    if (!HasHeader(spec, "Idempotency-Key"))
      spec.headers.emplace_back("Idempotency-Key", ctx.IdempotencyKey());
    // W3C trace propagation from this activity's span (tracing on); a user's own header wins.
    if (!HasHeader(spec, "traceparent")) {
      std::string traceparent = ctx.traceparent();
      if (!traceparent.empty()) spec.headers.emplace_back("traceparent", std::move(traceparent));
    }
    spec.timeout = ctx.time_budget();
    if (!ctx.input("timeout").is_null()) {
      auto t = ctx.InputDuration("timeout");
      if (!t.ok()) return ActivityResult::Fail(t.status().message(), false);
      spec.timeout = std::min(spec.timeout, *t);
    }
    spec.cancel = ctx.services().cancel;

    auto response = client->Send(spec);
    if (!response.ok()) {
      StatusCode code = response.status().code();
      bool retryable = code != StatusCode::kInvalidArgument && code != StatusCode::kFailedPrecondition;
      return ActivityResult::Fail(spec.method + " " + spec.url + ": " + response.status().message(),
                                  retryable);
    }
    Json out_headers = Json::object();
    bool is_json = false;
    for (const auto& [k, v] : response->headers) {
      if (out_headers.contains(k))
        out_headers[k] = out_headers[k].get<std::string>() + ", " + v;
      else
        out_headers[k] = v;
      if (k == "content-type" && v.find("json") != std::string::npos) is_json = true;
    }
    Json out_body = response->body;
    if (is_json && !response->body.empty()) {
      Json parsed;
      if (ParseJson(response->body, &parsed, nullptr)) out_body = std::move(parsed);
    }
    Json output = {{"status", response->status}, {"headers", out_headers}, {"body", out_body}};
    if (response->status >= 200 && response->status < 300) return ActivityResult::Done(std::move(output));
    if (ctx.HasConnection("Failed")) return ActivityResult::Outcome("Failed", std::move(output));
    return ActivityResult::Fail(spec.method + " " + spec.url + " answered HTTP " +
                                std::to_string(response->status));
  }
};

}  // namespace

std::unique_ptr<Activity> NewHttpRequest() {
  return std::make_unique<HttpRequest>();
}

}  // namespace trellis
