#include "api/app.h"

#include "activities/builtin.h"
#include "api/api.h"
#include "api/auth.h"
#include "api/delayed_calls.h"
#include "api/dispatcher.h"
#include "api/health.h"
#include "api/observe.h"
#include "api/webhook_receiver.h"
#include "core/log.h"
#include "http/server.h"
#include "runtime/secrets.h"
#include "runtime/services.h"
#include "security/jwt.h"

namespace trellis::api {
namespace {

bool IsLoopback(const std::string& host) {
  return host == "127.0.0.1" || host == "::1" || host == "localhost" || host.rfind("127.", 0) == 0;
}

}  // namespace

struct App::Impl {
  RuntimeEnvironment env;
  std::unique_ptr<Store> store;
  std::unique_ptr<SecretsService> secrets;
  std::unique_ptr<Node> node;
  std::unique_ptr<DelayedCalls> delayed;
  std::unique_ptr<WebhookReceiver> webhooks;
  ApiContext ctx;
  HealthContext health;
  std::unique_ptr<Authenticator> authenticator;
  std::unique_ptr<Dispatcher> dispatcher;
  std::unique_ptr<http::Server> server;
  std::atomic<bool> draining{false};
  std::atomic<bool> started{false};
  std::string host;
  int workers = 0;
  bool auth = false;
  std::chrono::milliseconds shutdown_timeout{25000};
};

App::App(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

App::~App() {
  Stop(std::chrono::milliseconds(2000));
}

Result<std::unique_ptr<App>> App::Create(const config::Config& cfg,
                                         const std::function<bool(std::chrono::milliseconds)>& keep_trying) {
  auto impl = std::make_unique<Impl>();
  auto env = MakeRuntimeEnvironment(cfg, "server");
  if (!env.ok()) return env.status();
  impl->env = std::move(env).value();
  std::string jwt_secret = cfg.GetString("security.jwt_secret");
  if (!jwt_secret.empty()) {
    if (Status s = security::CheckJwtSecret(jwt_secret); !s.ok())
      return InvalidArgument("security.jwt_secret: " + s.message());
  }
  std::optional<security::KeyRing> keys;
  if (!cfg.GetString("security.encryption_key").empty()) {
    auto ring = KeyRingFromConfig(cfg);
    if (!ring.ok()) return ring.status();
    keys = std::move(ring).value();
  }
  StoreOptions store_options;
  store_options.journal_output_limit = cfg.GetBytes("limits.journal_payload");
  auto store = OpenStoreWithRetry(impl->env.database, store_options, keep_trying);
  if (!store.ok()) return store.status();
  impl->store = std::move(store).value();
  Store& db = *impl->store;

  // Authentication is configured when a JWT secret is set or API keys exist. Without it the API
  // is open, so it listens on loopback unless explicitly allowed elsewhere.
  auto api_keys = db.ListApiKeys();
  if (!api_keys.ok()) return api_keys.status();
  impl->auth = !jwt_secret.empty() || !api_keys->empty();
  bool anonymous_ok = cfg.GetBool("security.allow_anonymous");
  impl->host = cfg.GetString("server.host");
  if (impl->host.empty()) impl->host = impl->auth || anonymous_ok ? "0.0.0.0" : "127.0.0.1";
  if (impl->host == "localhost") impl->host = "127.0.0.1";
  if (!impl->auth && !anonymous_ok && !IsLoopback(impl->host)) {
    return FailedPrecondition(
        "refusing to serve the API on " + impl->host +
        " without authentication. Set JWT_SECRET (security.jwt_secret), create an API key "
        "with `trellis apikey create --role admin`, or set security.allow_anonymous: true");
  }
  if (!impl->auth) {
    LogWarn(anonymous_ok
                ? "authentication is off (security.allow_anonymous): every request acts as admin"
                : "no authentication configured: listening on loopback only; set JWT_SECRET or create an "
                  "API key to serve other hosts",
            {{"host", impl->host}});
  }

  impl->secrets = std::make_unique<SecretsService>(db, std::move(keys));
  if (Status s = impl->secrets->Refresh(); !s.ok())
    LogWarn("secrets could not be loaded", {{"error", s.message()}});
  impl->env.services.secrets_source = impl->secrets->Source();
  impl->workers = static_cast<int>(cfg.GetInt("server.workers"));
  impl->env.node.run_worker = impl->workers > 0;
  if (impl->workers > 0) impl->env.node.worker.concurrency = impl->workers;
#ifdef TRELLIS_VERSION
  impl->env.node.version = TRELLIS_VERSION;
#endif
  impl->node = std::make_unique<Node>(db, BuiltinActivities(), impl->env.services, impl->env.node);
  impl->delayed = std::make_unique<DelayedCalls>();
  impl->webhooks = std::make_unique<WebhookReceiver>(db);
  impl->shutdown_timeout = cfg.GetDuration("server.shutdown_timeout");

  ApiContext& ctx = impl->ctx;
  ctx.store = &db;
  ctx.node = impl->node.get();
  ctx.registry = &BuiltinActivities();
  ctx.secrets = impl->secrets.get();
  ctx.clock = &SystemClock::Instance();
  ctx.delayed = impl->delayed.get();
  ctx.webhooks = impl->webhooks.get();
  ctx.version = impl->env.node.version;
  ctx.webhook_replay = cfg.GetBool("features.webhook_replay");
  ctx.event_hold = cfg.GetDuration("events.hold");
  ctx.execute_timeout = cfg.GetDuration("server.request_timeout");
  ctx.node_heartbeat = cfg.GetDuration("worker.heartbeat");

  Impl* raw = impl.get();
  impl->health.store = &db;
  impl->health.draining = [raw] { return raw->draining.load() || raw->node->draining(); };
  impl->health.started = [raw] { return raw->started.load(); };
  impl->health.metrics = [] { return metrics::RenderMetrics(); };

  http::Router router = BuildApiRouter(ctx);
  AddHealthRoutes(router, impl->health);
  impl->authenticator = std::make_unique<Authenticator>(db, jwt_secret, SystemClock::Instance());
  DispatchOptions dispatch;
  dispatch.cors_origins = cfg.GetList("cors.allowed_origins");
  dispatch.rate_limit = cfg.GetDouble("limits.rate_limit");
  dispatch.rate_burst = cfg.GetDouble("limits.rate_burst");
  dispatch.tracer = impl->env.tracer.get();
  if (impl->auth)
    dispatch.authenticate = [raw](const http::Request& r) { return raw->authenticator->Authenticate(r); };
  impl->dispatcher = std::make_unique<Dispatcher>(std::move(router), std::move(dispatch));

  http::ServerOptions o;
  o.host = impl->host;
  o.port = static_cast<int>(cfg.GetInt("server.port"));
  o.max_body = static_cast<size_t>(cfg.GetBytes("limits.max_body"));
  o.request_timeout = cfg.GetDuration("server.request_timeout");
  o.idle_timeout = cfg.GetDuration("server.idle_timeout");
  o.header_timeout = std::min(o.request_timeout, std::chrono::milliseconds(10000));
  impl->server = std::make_unique<http::Server>(
      o, [raw](http::Request& r, http::Reply reply) { (*raw->dispatcher)(r, std::move(reply)); },
      AccessLogAndMetrics());
  return std::unique_ptr<App>(new App(std::move(impl)));
}

Status App::Start() {
  auto& i = *impl_;
  i.node->Start();
  if (Status s = i.server->Start(); !s.ok()) {
    i.node->Stop(std::chrono::seconds(5));
    return s;
  }
  i.started = true;
  LogInfo("trellis server ready", {{"url", url()},
                                   {"database", i.store->Describe()},
                                   {"workers", i.workers},
                                   {"auth", i.auth ? "on" : "off"},
                                   {"node", i.node->id()}});
  return Status::Ok();
}

int App::port() const {
  return impl_->server->port();
}

std::string App::url() const {
  std::string host = impl_->host == "0.0.0.0" ? "127.0.0.1" : impl_->host;
  return "http://" + host + ":" + std::to_string(port());
}

void App::Stop(std::chrono::milliseconds deadline) {
  auto& i = *impl_;
  if (!i.started.exchange(false)) return;
  auto until = std::chrono::steady_clock::now() + deadline;
  i.draining = true;
  i.server->Stop(deadline);
  auto left = std::chrono::duration_cast<std::chrono::milliseconds>(until - std::chrono::steady_clock::now());
  i.node->Stop(std::max(left, std::chrono::milliseconds(1000)));
  LogInfo("trellis server stopped");
}

}  // namespace trellis::api
