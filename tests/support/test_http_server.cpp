#include "test_http_server.h"

// Boost 1.74 with g++ 12 in C++20 mode needs <utility> before Asio (CONVENTIONS.md).
#include <utility>

#include <atomic>
#include <cctype>
#include <condition_variable>
#include <mutex>
#include <stdexcept>
#include <thread>

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/beast/core/flat_buffer.hpp>
#include <boost/beast/http.hpp>

namespace trellis::test {
namespace {

namespace asio = boost::asio;
namespace beast = boost::beast;
namespace http = beast::http;
using tcp = asio::ip::tcp;

bool EqualsIgnoreCase(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

}  // namespace

std::optional<std::string> TestHttpRequest::Header(std::string_view name) const {
  for (const auto& [key, value] : headers) {
    if (EqualsIgnoreCase(key, name)) return value;
  }
  return std::nullopt;
}

class TestHttpServer::Impl {
 public:
  explicit Impl(Handler handler) : acceptor_(ioc_), handler_(std::move(handler)) {
    tcp::endpoint endpoint(asio::ip::make_address("127.0.0.1"), 0);
    acceptor_.open(endpoint.protocol());
    acceptor_.bind(endpoint);
    acceptor_.listen(asio::socket_base::max_listen_connections);
    port_ = acceptor_.local_endpoint().port();
    Accept();
    thread_ = std::thread([this] { ioc_.run(); });
  }

  // Stopping the io_context abandons every pending operation; destroying it (after the thread has
  // joined) destroys the sessions those operations own, which closes their sockets.
  ~Impl() {
    ioc_.stop();
    thread_.join();
  }

  uint16_t port() const { return port_; }

  void SetHandler(Handler handler) {
    std::lock_guard lock(mu_);
    handler_ = std::move(handler);
  }

  TestHttpResponse Handle(const TestHttpRequest& request) {
    Handler handler;
    {
      std::lock_guard lock(mu_);
      requests_.push_back(request);
      handler = handler_;
    }
    cv_.notify_all();
    if (!handler) return {};
    try {
      return handler(request);
    } catch (const std::exception& e) {
      TestHttpResponse failure;
      failure.status = 500;
      failure.body = std::string("test handler threw: ") + e.what();
      return failure;
    }
  }

  std::vector<TestHttpRequest> Requests() const {
    std::lock_guard lock(mu_);
    return requests_;
  }

  size_t RequestCount() const {
    std::lock_guard lock(mu_);
    return requests_.size();
  }

  bool WaitForRequests(size_t count, std::chrono::milliseconds timeout) const {
    std::unique_lock lock(mu_);
    return cv_.wait_for(lock, timeout, [&] { return requests_.size() >= count; });
  }

  uint64_t ConnectionCount() const { return connections_.load(); }

 private:
  class Session;

  void Accept();

  asio::io_context ioc_;  // declared first: destroyed last, after everything that refers to it
  tcp::acceptor acceptor_;
  uint16_t port_ = 0;
  std::atomic<uint64_t> connections_{0};
  std::thread thread_;

  mutable std::mutex mu_;               // guards handler_ and requests_
  mutable std::condition_variable cv_;  // signalled when a request is recorded
  Handler handler_;
  std::vector<TestHttpRequest> requests_;
};

// One connection: read a request, answer it (maybe after a delay), repeat while keep-alive holds.
class TestHttpServer::Impl::Session : public std::enable_shared_from_this<Session> {
 public:
  Session(tcp::socket socket, Impl* server, uint64_t id)
      : socket_(std::move(socket)), timer_(socket_.get_executor()), server_(server), id_(id) {}

  void Read() {
    parser_.emplace();
    parser_->body_limit(64 * 1024 * 1024);
    parser_->header_limit(256 * 1024);
    http::async_read(socket_, buffer_, *parser_,
                     [self = shared_from_this()](beast::error_code ec, size_t) { self->OnRead(ec); });
  }

 private:
  void OnRead(beast::error_code ec) {
    if (ec) return Close();
    http::request<http::string_body> req = parser_->release();
    TestHttpRequest request;
    request.method = std::string(req.method_string());
    request.target = std::string(req.target());
    for (const auto& field : req) request.headers.emplace_back(field.name_string(), field.value());
    request.body = std::move(req.body());
    request.connection_id = id_;

    TestHttpResponse out = server_->Handle(request);
    if (out.close_without_response) return Close();

    res_ = {};
    res_.version(req.version());
    res_.result(static_cast<unsigned>(out.status));
    bool has_length = false;
    bool chunked = false;
    for (const auto& [name, value] : out.headers) {
      // Beast writes the chunked framing itself when asked to.
      if (EqualsIgnoreCase(name, "transfer-encoding") && EqualsIgnoreCase(value, "chunked")) {
        chunked = true;
        continue;
      }
      res_.insert(name, value);
      if (EqualsIgnoreCase(name, "content-length")) has_length = true;
    }
    res_.keep_alive(req.keep_alive());
    if (req.method() == http::verb::head) {
      if (!has_length) res_.content_length(out.body.size());
    } else {
      res_.body() = std::move(out.body);
      if (chunked) {
        res_.chunked(true);
      } else if (!has_length) {
        res_.prepare_payload();
      }
    }
    hold_until_ = std::move(out.hold_until);
    if (out.delay.count() > 0) {
      timer_.expires_after(out.delay);
      timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
        if (wait_ec) return self->Close();
        self->WriteWhenReleased();
      });
    } else {
      WriteWhenReleased();
    }
  }

  // Writes the response once `hold_until` (if any) allows it.
  void WriteWhenReleased() {
    if (!hold_until_ || hold_until_()) {
      hold_until_ = nullptr;
      return Write();
    }
    timer_.expires_after(std::chrono::milliseconds(5));
    timer_.async_wait([self = shared_from_this()](beast::error_code wait_ec) {
      if (wait_ec) return self->Close();
      self->WriteWhenReleased();
    });
  }

  void Write() {
    http::async_write(socket_, res_, [self = shared_from_this()](beast::error_code ec, size_t) {
      if (ec || self->res_.need_eof()) return self->Close();
      self->Read();
    });
  }

  void Close() {
    beast::error_code ignored;
    socket_.shutdown(tcp::socket::shutdown_both, ignored);
    socket_.close(ignored);
  }

  tcp::socket socket_;
  asio::steady_timer timer_;
  beast::flat_buffer buffer_;
  std::optional<http::request_parser<http::string_body>> parser_;
  http::response<http::string_body> res_;
  std::function<bool()> hold_until_;
  Impl* server_;
  uint64_t id_;
};

void TestHttpServer::Impl::Accept() {
  acceptor_.async_accept([this](beast::error_code ec, tcp::socket socket) {
    if (ec) return;  // the acceptor was closed
    std::make_shared<Session>(std::move(socket), this, ++connections_)->Read();
    Accept();
  });
}

TestHttpServer::TestHttpServer(Handler handler) {
  try {
    impl_ = std::make_unique<Impl>(std::move(handler));
  } catch (const std::exception& e) {
    throw std::runtime_error(std::string("TestHttpServer failed to start: ") + e.what());
  }
}

TestHttpServer::~TestHttpServer() = default;

uint16_t TestHttpServer::port() const {
  return impl_->port();
}

std::string TestHttpServer::Url(std::string_view path) const {
  return "http://127.0.0.1:" + std::to_string(port()) + std::string(path);
}

void TestHttpServer::SetHandler(Handler handler) {
  impl_->SetHandler(std::move(handler));
}

std::vector<TestHttpRequest> TestHttpServer::Requests() const {
  return impl_->Requests();
}

size_t TestHttpServer::RequestCount() const {
  return impl_->RequestCount();
}

bool TestHttpServer::WaitForRequests(size_t count, std::chrono::milliseconds timeout) const {
  return impl_->WaitForRequests(count, timeout);
}

uint64_t TestHttpServer::ConnectionCount() const {
  return impl_->ConnectionCount();
}

}  // namespace trellis::test
