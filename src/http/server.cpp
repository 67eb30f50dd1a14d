// The Beast server behind http/server.h. One coroutine per connection on its own strand; the
// handler runs on the blocking pool and wakes the coroutine through a timer when it replies.
#include <utility>  // before Asio (Boost 1.74 with g++ 12)

// g++ 12 flags Asio's awaitable frame allocator (operator new/delete pair of its own) as
// mismatched; a known false positive in Boost 1.74's coroutine support.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

#include "http/server.h"

#include <atomic>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/post.hpp>
#include <boost/asio/redirect_error.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/strand.hpp>
#include <boost/asio/thread_pool.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/core/tcp_stream.hpp>
#include <boost/beast/http.hpp>
#include <map>
#include <mutex>
#include <optional>
#include <thread>

#include "core/log.h"
#include "core/uuid.h"
#include "http/problem.h"

namespace trellis::http {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace bhttp = boost::beast::http;
using tcp = asio::ip::tcp;
using asio::use_awaitable;
using SteadyClock = std::chrono::steady_clock;

bool SaneRequestId(const std::string& id) {
  if (id.empty() || id.size() > 128) return false;
  for (char c : id) {
    if (!std::isalnum(static_cast<unsigned char>(c)) && c != '-' && c != '_' && c != '.') return false;
  }
  return true;
}

// Shared with every Reply: once the server has stopped, late replies are dropped instead of being
// posted to a destroyed io_context.
struct Liveness {
  std::mutex mu;
  bool alive = true;
};

// A request handed to the pool; the session waits on `timer` until the reply (or the timeout).
struct Pending {
  explicit Pending(asio::any_io_executor ex) : timer(std::move(ex)) {}
  asio::steady_timer timer;
  std::optional<Response> response;
};

struct Session {
  beast::tcp_stream* stream = nullptr;
  bool idle = true;  // waiting for the next request (touched on the session's strand only)
};

}  // namespace

struct Server::Impl {
  ServerOptions options;
  std::function<void(Request&, Reply)> dispatch;
  ExchangeObserver observer;

  asio::io_context ioc;
  std::unique_ptr<asio::thread_pool> handlers;
  std::optional<tcp::acceptor> acceptor;
  std::vector<std::thread> threads;
  std::shared_ptr<Liveness> liveness = std::make_shared<Liveness>();
  std::atomic<bool> started{false};
  std::atomic<bool> stopping{false};
  std::atomic<bool> stopped{false};
  std::atomic<size_t> connections{0};
  int port = 0;

  // Live sessions by id. An action for a session is posted to its strand and looks the session up
  // again there: the session may have ended between the post and the run.
  std::mutex sessions_mu;  // guards sessions and next_session
  std::map<uint64_t, std::pair<asio::any_io_executor, Session*>> sessions;
  uint64_t next_session = 0;

  explicit Impl(ServerOptions o) : options(std::move(o)), ioc(std::max(1, o.io_threads)) {}

  asio::awaitable<void> AcceptLoop();
  asio::awaitable<void> RunSession(tcp::socket socket);
  asio::awaitable<Response> Handle(std::shared_ptr<Request> request);
  void ForEachSession(const std::function<void(Session&)>& fn);
};

void Server::Impl::ForEachSession(const std::function<void(Session&)>& fn) {
  std::lock_guard<std::mutex> lock(sessions_mu);
  // Not a structured binding: clang before 16 cannot capture one in a lambda (the fuzz build).
  for (const auto& entry : sessions) {
    uint64_t id = entry.first;
    asio::post(entry.second.first, [this, id, fn] {
      // On the session's strand: the session cannot end while this runs.
      Session* session = nullptr;
      {
        std::lock_guard<std::mutex> inner(sessions_mu);
        auto it = sessions.find(id);
        if (it != sessions.end()) session = it->second.second;
      }
      if (session) fn(*session);
    });
  }
}

asio::awaitable<void> Server::Impl::AcceptLoop() {
  for (;;) {
    tcp::socket socket(asio::make_strand(ioc));
    boost::system::error_code ec;
    co_await acceptor->async_accept(socket, asio::redirect_error(use_awaitable, ec));
    if (stopping.load()) co_return;
    if (ec) {
      if (ec == asio::error::operation_aborted) co_return;
      // Out of file descriptors and the like: back off instead of spinning.
      LogWarn("accept failed", {{"error", ec.message()}});
      asio::steady_timer pause(co_await asio::this_coro::executor, std::chrono::milliseconds(50));
      co_await pause.async_wait(asio::redirect_error(use_awaitable, ec));
      continue;
    }
    socket.set_option(tcp::no_delay(true), ec);
    auto ex = socket.get_executor();
    asio::co_spawn(ex, RunSession(std::move(socket)), asio::detached);
  }
}

asio::awaitable<Response> Server::Impl::Handle(std::shared_ptr<Request> request) {
  auto pending = std::make_shared<Pending>(co_await asio::this_coro::executor);
  pending->timer.expires_after(options.request_timeout);
  auto once = std::make_shared<std::atomic<bool>>(false);
  std::weak_ptr<Liveness> weak = liveness;
  // The reply may be kept by the handler (a sync execute waiting for its workflow) past the
  // session and even past the server, so it holds the timer weakly: only this coroutine (and a
  // posted completion) own it, and it never outlives the io_context.
  std::weak_ptr<Pending> weak_pending = pending;
  Reply reply = [weak_pending, once, weak](Response response) {
    if (once->exchange(true)) return;
    auto live = weak.lock();
    if (!live) return;
    std::lock_guard<std::mutex> lock(live->mu);
    if (!live->alive) return;
    auto pending = weak_pending.lock();  // released before the lock: the io_context is still up
    if (!pending) return;
    asio::post(pending->timer.get_executor(), [pending, response = std::move(response)]() mutable {
      pending->response = std::move(response);
      pending->timer.cancel();
    });
  };
  asio::post(*handlers, [this, request, reply] {
    try {
      dispatch(*request, reply);
    } catch (const std::exception& e) {
      LogError("request handler threw", {{"error", e.what()}, {"requestId", request->request_id}});
      reply(Problem(500, "internal", "an internal error occurred; the server log has the details"));
    } catch (...) {
      reply(Problem(500, "internal", "an internal error occurred; the server log has the details"));
    }
  });
  boost::system::error_code ec;
  co_await pending->timer.async_wait(asio::redirect_error(use_awaitable, ec));
  if (pending->response) co_return std::move(*pending->response);
  once->store(true);  // a late reply is dropped
  co_return Problem(503, "request-timeout",
                    "the request took longer than server.request_timeout and was abandoned");
}

asio::awaitable<void> Server::Impl::RunSession(tcp::socket socket) {
  connections.fetch_add(1);
  asio::any_io_executor executor = socket.get_executor();
  beast::tcp_stream stream(std::move(socket));
  Session session;
  session.stream = &stream;
  uint64_t session_id = 0;
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    session_id = ++next_session;
    sessions.emplace(session_id, std::make_pair(executor, &session));
  }
  std::string remote;
  {
    boost::system::error_code ec;
    auto ep = stream.socket().remote_endpoint(ec);
    if (!ec) remote = ep.address().to_string();
  }
  beast::flat_buffer buffer;
  boost::system::error_code ec;
  for (;;) {
    // Wait for the first bytes of the next request under the idle timeout.
    session.idle = true;
    if (buffer.size() == 0 && !stopping.load()) {
      stream.expires_after(options.idle_timeout);
      size_t n =
          co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(use_awaitable, ec));
      if (!ec) {
        buffer.commit(n);
      } else if (!(ec == asio::error::operation_aborted && stopping.load())) {
        break;
      }
    }
    if (buffer.size() == 0) {
      // Stopping. A client that got a keep-alive response just before the stop may be sending its
      // next request now (nothing told it the connection would close): it gets a short grace to
      // arrive, is answered with Connection: close, and only a silent connection is closed. The
      // stop's idle sweep leaves this read alone (idle is false).
      session.idle = false;
      stream.expires_after(options.stop_grace);
      size_t n =
          co_await stream.async_read_some(buffer.prepare(4096), asio::redirect_error(use_awaitable, ec));
      if (ec) break;
      buffer.commit(n);
    }
    session.idle = false;
    auto started = SteadyClock::now();

    bhttp::request_parser<bhttp::string_body> parser;
    parser.header_limit(static_cast<uint32_t>(options.max_header));
    parser.body_limit(options.max_body);
    stream.expires_after(options.header_timeout);
    co_await bhttp::async_read_header(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
    std::optional<Response> early;  // answered without reading the body; the connection closes
    if (ec == bhttp::error::body_limit) {
      early = Problem(
          413, "body-too-large",
          "the request body is larger than " + std::to_string(options.max_body) + " bytes (limits.max_body)");
    } else if (ec == bhttp::error::header_limit) {
      early = Problem(431, "headers-too-large", "the request headers are larger than the limit");
    } else if (ec) {
      if (ec == beast::error::timeout || ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
          ec == asio::error::operation_aborted || ec == asio::error::connection_reset)
        break;
      early = Problem(400, "malformed-request", "the request is not valid HTTP/1.1: " + ec.message());
    }
    if (!early) {
      if (parser.get()[bhttp::field::expect] == "100-continue") {
        bhttp::response<bhttp::empty_body> cont{bhttp::status::continue_, 11};
        co_await bhttp::async_write(stream, cont, asio::redirect_error(use_awaitable, ec));
        if (ec) break;
      }
      stream.expires_after(options.request_timeout);
      co_await bhttp::async_read(stream, buffer, parser, asio::redirect_error(use_awaitable, ec));
      if (ec == bhttp::error::body_limit) {
        early = Problem(413, "body-too-large",
                        "the request body is larger than " + std::to_string(options.max_body) +
                            " bytes (limits.max_body)");
      } else if (ec == beast::error::timeout) {
        early = Problem(408, "request-timeout", "the request body did not arrive in time");
      } else if (ec) {
        if (ec == bhttp::error::end_of_stream || ec == asio::error::eof ||
            ec == asio::error::connection_reset)
          break;
        early = Problem(400, "malformed-request", "the request is not valid HTTP/1.1: " + ec.message());
      }
    }

    auto& raw = parser.get();
    auto request = std::make_shared<Request>();
    request->method = std::string(raw.method_string());
    request->target = std::string(raw.target());
    request->remote_address = remote;
    for (const auto& field : raw)
      request->headers.Add(std::string(field.name_string()), std::string(field.value()));
    std::string client_id = request->headers.Get("X-Request-Id");
    request->request_id = SaneRequestId(client_id) ? client_id : NewUuidV7();

    Response response;
    bool keep_alive = !early && raw.keep_alive();
    if (early) {
      response = std::move(*early);
    } else if (!ParseTarget(request->target, &request->path, &request->query)) {
      response = Problem(400, "malformed-request", "the request target is not a valid path and query");
    } else {
      request->body = std::move(raw.body());
      response = co_await Handle(request);
    }
    if (stopping.load()) keep_alive = false;

    bhttp::response<bhttp::string_body> out{static_cast<bhttp::status>(response.status), raw.version()};
    for (const auto& [name, value] : response.headers.fields()) out.set(name, value);
    out.set(bhttp::field::server, "trellis");
    out.set("X-Request-Id", request->request_id);
    out.keep_alive(keep_alive);
    out.body() = std::move(response.body);
    out.prepare_payload();
    stream.expires_after(options.request_timeout);
    co_await bhttp::async_write(stream, out, asio::redirect_error(use_awaitable, ec));
    if (observer) {
      response.body.clear();
      double seconds = std::chrono::duration<double>(SteadyClock::now() - started).count();
      try {
        observer(*request, response, seconds);
      } catch (...) {
      }
    }
    if (ec || !keep_alive) break;
  }
  stream.socket().shutdown(tcp::socket::shutdown_send, ec);
  stream.close();
  {
    std::lock_guard<std::mutex> lock(sessions_mu);
    sessions.erase(session_id);
  }
  connections.fetch_sub(1);
}

Server::Server(ServerOptions options, std::function<void(Request&, Reply)> dispatch,
               ExchangeObserver observer)
    : impl_(std::make_unique<Impl>(std::move(options))) {
  impl_->dispatch = std::move(dispatch);
  impl_->observer = std::move(observer);
}

Server::~Server() {
  Stop(std::chrono::milliseconds(0));
}

Status Server::Start() {
  auto& i = *impl_;
  boost::system::error_code ec;
  auto address = asio::ip::make_address(i.options.host, ec);
  if (ec) return InvalidArgument("cannot listen on '" + i.options.host + "': not an IP address");
  tcp::endpoint endpoint(address, static_cast<uint16_t>(i.options.port));
  i.acceptor.emplace(asio::make_strand(i.ioc));
  i.acceptor->open(endpoint.protocol(), ec);
  if (!ec) i.acceptor->set_option(asio::socket_base::reuse_address(true), ec);
  if (!ec) i.acceptor->bind(endpoint, ec);
  if (!ec) i.acceptor->listen(asio::socket_base::max_listen_connections, ec);
  if (ec) {
    return Unavailable("cannot listen on " + i.options.host + ":" + std::to_string(i.options.port) + ": " +
                       ec.message());
  }
  i.port = i.acceptor->local_endpoint().port();
  i.handlers =
      std::make_unique<asio::thread_pool>(static_cast<size_t>(std::max(1, i.options.handler_threads)));
  asio::co_spawn(i.acceptor->get_executor(), i.AcceptLoop(), asio::detached);
  for (int t = 0; t < std::max(1, i.options.io_threads); ++t) {
    i.threads.emplace_back([&i] { i.ioc.run(); });
  }
  i.started = true;
  return Status::Ok();
}

int Server::port() const {
  return impl_->port;
}

size_t Server::connections() const {
  return impl_->connections.load();
}

void Server::Stop(std::chrono::milliseconds deadline) {
  auto& i = *impl_;
  if (!i.started.load() || i.stopped.exchange(true)) return;
  i.stopping = true;
  asio::post(i.acceptor->get_executor(), [&i] {
    boost::system::error_code ec;
    i.acceptor->close(ec);
  });
  // Idle keep-alive connections close now; busy ones after their response (Connection: close).
  i.ForEachSession([](Session& s) {
    if (s.idle) s.stream->cancel();
  });
  auto until = SteadyClock::now() + deadline;
  while (i.connections.load() > 0 && SteadyClock::now() < until) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
    i.ForEachSession([](Session& s) {
      if (s.idle) s.stream->cancel();
    });
  }
  if (i.connections.load() > 0) {
    LogWarn("closing connections still open at the shutdown deadline",
            {{"connections", i.connections.load()}});
    i.ForEachSession([](Session& s) { s.stream->cancel(); });
    auto grace = SteadyClock::now() + std::chrono::milliseconds(500);
    while (i.connections.load() > 0 && SteadyClock::now() < grace)
      std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  {
    std::lock_guard<std::mutex> lock(i.liveness->mu);
    i.liveness->alive = false;
  }
  i.ioc.stop();
  for (auto& t : i.threads) t.join();
  i.threads.clear();
  i.handlers->join();
}

}  // namespace trellis::http
