// Fuzzes the HTTP request path: the bytes after the first are one HTTP/1.1 request, parsed by
// Beast's request_parser under the server's limits and turned into an http::Request the way
// http/server.cpp does (ParseTarget, headers, body), then handed to the real API dispatcher
// (api::Dispatcher over BuildApiRouter + AddHealthRoutes) backed by a real SQLite store in memory.
//
// The first byte picks the mode: odd runs with authentication on (a JWT secret and two API keys in
// the store, so the auth path is fuzzed too), even with it off (every request acts as admin).
//
// The node's worker and scheduler are off: fuzzed workflows are stored and started, never executed
// (no outbound HTTP, no Lua, no timers), so each input stays fast and deterministic. A sync execute
// (wait: true) then takes the API-only path: it polls the stored instance until the (short) execute
// timeout and answers 202 from the DelayedCalls thread, which the harness waits for.
//
// Invariants, each a __builtin_trap with a message:
//   * the handler replies exactly once: within a bounded wait, and never a second time (also
//     checked when a late reply arrives during a later input);
//   * nothing throws out of a handler (the server would answer 500);
//   * the status is 100..599;
//   * every 4xx/5xx is application/problem+json with a JSON body holding string type, title and
//     detail and a status equal to the response's (the /health probes answer 503 with their own
//     JSON by design, for load balancers; they are exempt);
//   * no 500: the in-memory SQLite store has no legitimate failure, so a 500 is a bug;
//   * a body that says application/json parses as JSON.
//
// Each environment (store, node, routers) serves kInputsPerStore inputs and is then rebuilt, so the
// database does not grow without bound over a long run.
#include <utility>  // before Asio (Boost 1.74 with g++ 12)

#include <boost/asio/buffer.hpp>
#include <boost/beast/http/parser.hpp>
#include <boost/beast/http/string_body.hpp>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>

#include "activities/builtin.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/delayed_calls.h"
#include "api/dispatcher.h"
#include "api/health.h"
#include "config/database.h"
#include "core/clock.h"
#include "core/log.h"
#include "core/uuid.h"
#include "http/problem.h"
#include "observability/trellis_metrics.h"
#include "runtime/node.h"
#include "runtime/open_store.h"
#include "runtime/secrets.h"
#include "security/api_key.h"
#include "security/secret_box.h"

namespace {

namespace bhttp = boost::beast::http;
using namespace trellis;

// The server's limits (http/server.h defaults: 16 KiB of headers); the body limit is kept small.
constexpr uint32_t kHeaderLimit = 16 * 1024;
constexpr uint64_t kBodyLimit = 64 * 1024;
constexpr int kInputsPerStore = 500;
// Sync executes answer after ctx.execute_timeout (plus one 20 ms poll); everything else answers
// before the dispatcher returns. Generous for ASan on a loaded machine.
constexpr std::chrono::milliseconds kExecuteTimeout{10};
constexpr std::chrono::seconds kReplyDeadline{5};

// Credentials the seed corpus uses (fuzz/corpus/request, made by fuzz/make_seeds.py).
constexpr std::string_view kJwtSecret = "fuzz-jwt-secret-0123456789abcdef0123456789";
constexpr std::string_view kAdminKey = "trk_FuzzAdminKey0123456789abcdefghij";
constexpr std::string_view kViewerKey = "trk_FuzzViewerKey0123456789abcdefghi";
// 2026-01-01T00:00:00Z: the seed tokens are valid until 2100 at this fixed time.
constexpr int64_t kNowSeconds = 1767225600;

[[noreturn]] void Violated(const std::string& what, const std::string& detail = "") {
  std::fprintf(stderr, "fuzz_request: invariant violated: %s\n%s\n", what.c_str(), detail.c_str());
  std::fflush(stderr);
  __builtin_trap();
}

// What the server does with X-Request-Id (http/server.cpp).
bool SaneRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

struct Environment {
  ManualClock clock{TimePoint(std::chrono::seconds(kNowSeconds))};
  std::unique_ptr<Store> store;
  std::unique_ptr<SecretsService> secrets;
  std::unique_ptr<Node> node;
  std::unique_ptr<api::DelayedCalls> delayed;
  api::ApiContext ctx;
  api::HealthContext health;
  std::unique_ptr<api::Authenticator> authenticator;
  std::unique_ptr<api::Dispatcher> open;     // no authentication
  std::unique_ptr<api::Dispatcher> guarded;  // JWT and API keys

  Environment() {
    auto settings = ParseDatabaseSettings({.url = "sqlite::memory:"});
    if (!settings.ok()) Violated("sqlite::memory: settings", settings.status().ToString());
    StoreOptions store_options;
    store_options.clock = &clock;
    auto opened = OpenStore(*settings, store_options);
    if (!opened.ok()) Violated("cannot open the in-memory store", opened.status().ToString());
    store = std::move(opened).value();
    for (auto [key, role] : {std::pair{kAdminKey, "admin"}, std::pair{kViewerKey, "viewer"}}) {
      ApiKeyRecord record;
      record.id = std::string(role) + "-key";
      record.name = record.id;
      record.prefix = security::ApiKeyPrefix(key);
      record.hash = security::HashApiKey(key);
      record.role = role;
      record.created_at = clock.Now();
      if (Status s = store->InsertApiKey(record); !s.ok()) Violated("cannot insert an API key", s.ToString());
    }

    auto ring = security::KeyRing::FromRawKeys(std::string(32, 'k'));
    if (!ring.ok()) Violated("key ring", ring.status().ToString());
    secrets = std::make_unique<SecretsService>(*store, std::move(ring).value());

    EngineServices services;
    services.clock = &clock;
    services.secrets_source = secrets->Source();
    services.random_seed = 1;
    NodeOptions node_options;
    node_options.kind = "server";
    node_options.run_worker = false;
    node_options.run_scheduler = false;
    node_options.worker.node_id = "fuzz-node";
    node = std::make_unique<Node>(*store, BuiltinActivities(), services, node_options);
    delayed = std::make_unique<api::DelayedCalls>();

    ctx.store = store.get();
    ctx.node = node.get();
    ctx.registry = &BuiltinActivities();
    ctx.secrets = secrets.get();
    ctx.clock = &clock;
    ctx.delayed = delayed.get();
    ctx.version = "fuzz";
    ctx.webhook_replay = true;
    ctx.execute_timeout = kExecuteTimeout;

    health.store = store.get();
    health.metrics = [] { return metrics::RenderMetrics(); };

    authenticator = std::make_unique<api::Authenticator>(*store, std::string(kJwtSecret), clock);
    open = MakeDispatcher(false);
    guarded = MakeDispatcher(true);
  }

  std::unique_ptr<api::Dispatcher> MakeDispatcher(bool auth) {
    http::Router router = api::BuildApiRouter(ctx);
    api::AddHealthRoutes(router, health);
    api::DispatchOptions options;
    options.cors_origins =
        auth ? std::vector<std::string>{"https://studio.example"} : std::vector<std::string>{"*"};
    if (auth) {
      api::Authenticator* a = authenticator.get();
      options.authenticate = [a](const http::Request& r) { return a->Authenticate(r); };
    }
    return std::make_unique<api::Dispatcher>(std::move(router), std::move(options));
  }

  ~Environment() {
    delayed.reset();  // drops pending calls before what they point at goes
    node->Stop(std::chrono::milliseconds(0));
  }
};

std::unique_ptr<Environment> env;
bool trace = false;  // TRELLIS_FUZZ_TRACE: one line per request with the status
int inputs_served = 0;

// Collects the replies to one request. Shared with the Reply, which may run later on the
// DelayedCalls thread.
struct Replies {
  std::mutex mu;  // guards count and first
  std::condition_variable cv;
  int count = 0;
  http::Response first;
  std::string request;  // method and target, for messages
};

// Parses one request as the server does; false when the server would not dispatch it (a parse
// error, a body over the limit, an incomplete request, a malformed target: all answered by the
// server itself or never answered).
bool ParseRequest(std::string_view bytes, http::Request* out) {
  bhttp::request_parser<bhttp::string_body> parser;
  parser.header_limit(kHeaderLimit);
  parser.body_limit(kBodyLimit);
  parser.eager(true);
  boost::beast::error_code ec;
  size_t used = 0;
  while (used < bytes.size() && !parser.is_done()) {
    size_t n = parser.put(boost::asio::const_buffer(bytes.data() + used, bytes.size() - used), ec);
    if (ec == bhttp::error::need_more) return false;
    if (ec) return false;
    if (n == 0) return false;
    used += n;
  }
  if (!parser.is_done()) return false;

  auto& raw = parser.get();
  out->method = std::string(raw.method_string());
  out->target = std::string(raw.target());
  out->remote_address = "127.0.0.1";
  for (const auto& field : raw)
    out->headers.Add(std::string(field.name_string()), std::string(field.value()));
  std::string client_id = out->headers.Get("X-Request-Id");
  out->request_id = SaneRequestId(client_id) ? client_id : NewUuidV7();
  if (!http::ParseTarget(out->target, &out->path, &out->query)) return false;
  out->body = std::move(raw.body());
  return true;
}

void CheckResponse(const http::Request& req, const http::Response& r) {
  std::string where = req.method + " " + req.target + " -> " + std::to_string(r.status);
  if (r.status < 100 || r.status > 599) Violated("status out of range", where);
  std::string type = r.headers.Get("Content-Type");
  if (r.status == 500) Violated("500 from an in-memory store", where + "\n" + r.body);
  bool probe = req.path.rfind("/health/", 0) == 0;
  if (r.status >= 400 && !probe) {
    if (type != http::kProblemContentType)
      Violated("an error without application/problem+json", where + " " + type);
    Json body = Json::parse(r.body, nullptr, false);
    if (!body.is_object()) Violated("a problem body that is not a JSON object", where + "\n" + r.body);
    for (const char* key : {"type", "title", "detail"}) {
      auto it = body.find(key);
      if (it == body.end() || !it->is_string())
        Violated(std::string("a problem without a string ") + key, where + "\n" + r.body);
    }
    auto status = body.find("status");
    if (status == body.end() || !status->is_number_integer() || status->get<int>() != r.status)
      Violated("a problem whose status is not the response's", where + "\n" + r.body);
  }
  if (type.rfind("application/json", 0) == 0 && Json::parse(r.body, nullptr, false).is_discarded())
    Violated("an application/json body that is not JSON", where + "\n" + r.body);
}

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  // The API logs every failed request; thousands of lines a second would drown libFuzzer's output.
  if (std::getenv("TRELLIS_FUZZ_LOG") == nullptr) SetLogSink([](std::string_view) {});
  trace = std::getenv("TRELLIS_FUZZ_TRACE") != nullptr;
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  if (size < 1) return 0;
  bool auth = (data[0] & 1) != 0;
  http::Request req;
  if (!ParseRequest(std::string_view(reinterpret_cast<const char*>(data) + 1, size - 1), &req)) return 0;

  if (!env || inputs_served >= kInputsPerStore) {
    env.reset();
    env = std::make_unique<Environment>();
    inputs_served = 0;
  }
  ++inputs_served;

  auto replies = std::make_shared<Replies>();
  replies->request = req.method + " " + req.target;
  http::Reply reply = [replies](http::Response r) {
    std::lock_guard<std::mutex> lock(replies->mu);
    if (++replies->count > 1)
      Violated("a second reply", replies->request + " -> " + std::to_string(r.status));
    replies->first = std::move(r);
    replies->cv.notify_all();
  };
  try {
    (auth ? *env->guarded : *env->open)(req, reply);
  } catch (const std::exception& e) {
    Violated("a handler threw (the server would answer 500)", replies->request + ": " + e.what());
  } catch (...) {
    Violated("a handler threw (the server would answer 500)", replies->request);
  }

  std::unique_lock<std::mutex> lock(replies->mu);
  if (!replies->cv.wait_for(lock, kReplyDeadline, [&] { return replies->count > 0; }))
    Violated("no reply within the deadline", replies->request);
  CheckResponse(req, replies->first);
  if (trace) {
    std::fprintf(stderr, "%s %s %s -> %d %s\n", auth ? "auth" : "open", req.method.c_str(),
                 req.target.c_str(), replies->first.status, replies->first.body.substr(0, 160).c_str());
  }
  return 0;
}
