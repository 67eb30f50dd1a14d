#include "http/server.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

#include "http/problem.h"
#include "support/test_client.h"

namespace trellis::http {
namespace {

using test::RawExchange;
using test::TestClient;

class ServerTest : public ::testing::Test {
 protected:
  void StartServer(ServerOptions options, std::function<void(Request&, Reply)> dispatch) {
    options.host = "127.0.0.1";
    options.port = 0;
    server_ = std::make_unique<Server>(options, std::move(dispatch),
                                       [this](const Request&, const Response& r, double) {
                                         observed_.fetch_add(1);
                                         last_status_ = r.status;
                                       });
    ASSERT_TRUE(server_->Start().ok());
    client_ = std::make_unique<TestClient>("http://127.0.0.1:" + std::to_string(server_->port()));
  }
  void TearDown() override {
    if (server_) server_->Stop(std::chrono::seconds(5));
  }
  std::unique_ptr<Server> server_;
  std::unique_ptr<TestClient> client_;
  std::atomic<int> observed_{0};
  std::atomic<int> last_status_{0};
};

void Echo(Request& req, Reply reply) {
  Json body = {{"method", req.method},
               {"path", req.path},
               {"body", req.body},
               {"q", req.Query("q")},
               {"requestId", req.request_id}};
  reply(Response::JsonBody(200, body));
}

TEST_F(ServerTest, EchoesRequestsOverOneKeptAliveConnection) {
  StartServer({}, Echo);
  for (int i = 0; i < 3; ++i) {
    auto r = client_->Send("POST", "/x/y%20z?q=" + std::to_string(i), "payload");
    ASSERT_EQ(r.status, 200) << r.error;
    auto j = r.json();
    EXPECT_EQ(j["method"], "POST");
    EXPECT_EQ(j["path"], "/x/y z");
    EXPECT_EQ(j["body"], "payload");
    EXPECT_EQ(j["q"], std::to_string(i));
    EXPECT_EQ(r.Header("x-request-id"), j["requestId"].get<std::string>());
    EXPECT_FALSE(r.Header("x-request-id").empty());
  }
  EXPECT_EQ(server_->connections(), 1u);  // curl reused its connection
}

TEST_F(ServerTest, KeepsASaneClientRequestIdAndReplacesAnInsaneOne) {
  StartServer({}, Echo);
  auto r = client_->Send("GET", "/", "", {{"X-Request-Id", "abc-123"}});
  EXPECT_EQ(r.Header("x-request-id"), "abc-123");
  r = client_->Send("GET", "/", "", {{"X-Request-Id", "bad id with spaces"}});
  EXPECT_NE(r.Header("x-request-id"), "bad id with spaces");
  EXPECT_FALSE(r.Header("x-request-id").empty());
}

TEST_F(ServerTest, BodyOverTheLimitIs413ProblemJson) {
  ServerOptions o;
  o.max_body = 1024;
  StartServer(o, Echo);
  auto r = client_->Send("POST", "/", std::string(4096, 'x'));
  EXPECT_EQ(r.status, 413);
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
  EXPECT_EQ(r.json()["status"], 413);
  // The server stays healthy.
  TestClient other("http://127.0.0.1:" + std::to_string(server_->port()));
  EXPECT_EQ(other.Get("/ok").status, 200);
}

TEST_F(ServerTest, ChunkedBodyOverTheLimitIs413) {
  ServerOptions o;
  o.max_body = 100;
  StartServer(o, Echo);
  std::string chunk(200, 'a');
  char size[16];
  snprintf(size, sizeof(size), "%zx", chunk.size());
  auto res = RawExchange(server_->port(),
                         {"POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
                          std::string(size) + "\r\n" + chunk + "\r\n0\r\n\r\n"},
                         std::chrono::milliseconds(0), std::chrono::seconds(5));
  EXPECT_NE(res.received.find("HTTP/1.1 413"), std::string::npos) << res.received;
  EXPECT_TRUE(res.closed);
}

TEST_F(ServerTest, HugeHeadersAre431) {
  ServerOptions o;
  o.max_header = 2048;
  StartServer(o, Echo);
  auto r = client_->Send("GET", "/", "", {{"X-Big", std::string(8000, 'h')}});
  EXPECT_EQ(r.status, 431);
}

TEST_F(ServerTest, MalformedRequestsGet400AndTheServerStaysUp) {
  StartServer({}, Echo);
  auto res = RawExchange(server_->port(), {"GARBAGE\r\n\r\n"}, std::chrono::milliseconds(0),
                         std::chrono::seconds(5));
  EXPECT_NE(res.received.find("HTTP/1.1 400"), std::string::npos) << res.received;
  res = RawExchange(server_->port(), {"GET /a%zz HTTP/1.1\r\nHost: x\r\n\r\n"}, std::chrono::milliseconds(0),
                    std::chrono::seconds(2));
  EXPECT_NE(res.received.find("HTTP/1.1 400"), std::string::npos) << res.received;
  EXPECT_NE(res.received.find("application/problem+json"), std::string::npos);
  EXPECT_EQ(client_->Get("/fine").status, 200);
}

TEST_F(ServerTest, SlowHeadersAreCutOffByTheHeaderTimeout) {
  ServerOptions o;
  o.header_timeout = std::chrono::milliseconds(300);
  StartServer(o, Echo);
  // A slowloris client: a byte of header every 100 ms, never finishing. The server closes the
  // connection instead of waiting for it forever; the read budget below is far above the timeout.
  std::vector<std::string> pieces = {"GET / HTTP/1.1\r\n"};
  for (int i = 0; i < 50; ++i) pieces.push_back("X");
  auto res = RawExchange(server_->port(), pieces, std::chrono::milliseconds(100), std::chrono::seconds(10));
  EXPECT_TRUE(res.closed);
  EXPECT_EQ(res.received.find("HTTP/1.1 200"), std::string::npos);
}

TEST_F(ServerTest, IdleKeepAliveConnectionsAreClosed) {
  ServerOptions o;
  o.idle_timeout = std::chrono::milliseconds(200);
  StartServer(o, Echo);
  auto res = RawExchange(server_->port(), {"GET / HTTP/1.1\r\nHost: x\r\n\r\n"}, std::chrono::milliseconds(0),
                         std::chrono::seconds(10));
  EXPECT_NE(res.received.find("HTTP/1.1 200"), std::string::npos);
  EXPECT_TRUE(res.closed);
}

TEST_F(ServerTest, AHandlerThatNeverRepliesTimesOutWithAProblem) {
  ServerOptions o;
  o.request_timeout = std::chrono::milliseconds(200);
  StartServer(o, [](Request&, Reply) {});
  auto r = client_->Get("/stuck");
  EXPECT_EQ(r.status, 503);
  EXPECT_EQ(r.json()["type"], "https://trellis.dev/problems/request-timeout");
}

TEST_F(ServerTest, AThrowingHandlerGets500WithoutLeakingTheMessage) {
  StartServer({}, [](Request&, Reply) { throw std::runtime_error("secret internals"); });
  auto r = client_->Get("/boom");
  EXPECT_EQ(r.status, 500);
  EXPECT_EQ(r.body.find("secret internals"), std::string::npos);
  EXPECT_EQ(r.Header("content-type"), "application/problem+json");
}

TEST_F(ServerTest, RepliesFromAnotherThreadLater) {
  std::vector<std::thread> threads;
  std::mutex mu;
  StartServer({}, [&](Request& req, Reply reply) {
    std::lock_guard<std::mutex> lock(mu);
    threads.emplace_back([reply, path = req.path] {
      std::this_thread::sleep_for(std::chrono::milliseconds(20));
      reply(Response::Text(200, path));
      reply(Response::Text(500, "second reply is ignored"));
    });
  });
  auto r = client_->Get("/later");
  EXPECT_EQ(r.status, 200);
  EXPECT_EQ(r.body, "/later");
  for (auto& t : threads) t.join();
}

TEST_F(ServerTest, StopFinishesInFlightRequestsAndClosesTheConnection) {
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  StartServer({}, [&](Request&, Reply reply) {
    entered = true;
    while (!release.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
    reply(Response::Text(200, "done"));
  });
  test::ClientResponse result;
  std::thread t([&] { result = client_->Get("/slow"); });
  while (!entered.load()) std::this_thread::sleep_for(std::chrono::milliseconds(5));
  std::thread stopper([&] { server_->Stop(std::chrono::seconds(10)); });
  std::this_thread::sleep_for(std::chrono::milliseconds(50));
  release = true;
  t.join();
  stopper.join();
  EXPECT_EQ(result.status, 200) << result.error;
  EXPECT_EQ(result.body, "done");
  EXPECT_EQ(result.Header("connection"), "close");
  EXPECT_EQ(server_->connections(), 0u);
  EXPECT_GE(observed_.load(), 1);
}

// A keep-alive client that sends its next request just as the server stops (its last response did
// not say Connection: close) is answered, with Connection: close, rather than cut off.
TEST_F(ServerTest, ARequestArrivingOnAKeptAliveConnectionDuringStopIsAnswered) {
  ServerOptions o;
  o.stop_grace = std::chrono::seconds(30);  // far longer than this test needs: no timing assumption
  StartServer(o, Echo);
  auto first = client_->Get("/first");
  ASSERT_EQ(first.status, 200) << first.error;
  EXPECT_NE(first.Header("connection"), "close");
  std::thread stopper([&] { server_->Stop(std::chrono::seconds(30)); });
  // The stop has begun once new connections are refused.
  test::TestClient probe("http://127.0.0.1:" + std::to_string(server_->port()));
  for (int i = 0; i < 2000 && !probe.Get("/probe").refused; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  ASSERT_TRUE(probe.Get("/probe").refused);
  auto second = client_->Get("/second");  // on the connection kept alive from the first request
  stopper.join();
  EXPECT_EQ(second.status, 200) << second.error;
  EXPECT_EQ(second.json()["path"], "/second");
  EXPECT_EQ(second.Header("connection"), "close");
  EXPECT_EQ(server_->connections(), 0u);
}

TEST_F(ServerTest, RefusesToStartOnABadAddress) {
  ServerOptions o;
  o.host = "not-an-ip";
  Server s(o, Echo);
  auto st = s.Start();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("not-an-ip"), std::string::npos);
}

}  // namespace
}  // namespace trellis::http
