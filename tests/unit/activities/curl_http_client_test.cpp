#include "activities/curl_http_client.h"

#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <chrono>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "support/test_http_server.h"

namespace trellis {
namespace {

using std::chrono::milliseconds;
using test::TestHttpRequest;
using test::TestHttpResponse;
using test::TestHttpServer;

std::unique_ptr<HttpClient> LoopbackClient(CurlHttpClientOptions options = {}) {
  return NewCurlHttpClient(SsrfGuard({"127.0.0.1"}), std::move(options));
}

HttpRequestSpec Request(std::string method, std::string url, std::string body = "") {
  HttpRequestSpec spec;
  spec.method = std::move(method);
  spec.url = std::move(url);
  spec.body = std::move(body);
  return spec;
}

std::vector<std::string> HeaderValues(const HttpResponseData& response, const std::string& name) {
  std::vector<std::string> values;
  for (const auto& [key, value] : response.headers) {
    if (key == name) values.push_back(value);
  }
  return values;
}

// A TCP port on 127.0.0.1 that is bound but not listening: connecting to it is refused, and no
// other process can take it while this object lives.
class RefusingPort {
 public:
  RefusingPort() {
    fd_ = socket(AF_INET, SOCK_STREAM, 0);
    sockaddr_in addr{};
    addr.sin_family = AF_INET;
    addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    EXPECT_EQ(bind(fd_, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
    socklen_t len = sizeof(addr);
    getsockname(fd_, reinterpret_cast<sockaddr*>(&addr), &len);
    port_ = ntohs(addr.sin_port);
  }
  ~RefusingPort() { close(fd_); }
  uint16_t port() const { return port_; }

 private:
  int fd_ = -1;
  uint16_t port_ = 0;
};

// --- Requests and responses --------------------------------------------------------------------

TEST(CurlHttpClientTest, GetReturnsStatusHeadersAndBody) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.headers = {{"Content-Type", "application/json"}};
    response.body = R"({"ok":true})";
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url("/orders/42?x=1")));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, R"({"ok":true})");
  EXPECT_EQ(HeaderValues(*result, "content-type"), std::vector<std::string>{"application/json"});
  ASSERT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(server.Requests()[0].method, "GET");
  EXPECT_EQ(server.Requests()[0].target, "/orders/42?x=1");
  EXPECT_EQ(server.Requests()[0].body, "");
}

TEST(CurlHttpClientTest, PostSendsBodyAndHeaders) {
  TestHttpServer server;
  HttpRequestSpec spec = Request("POST", server.Url("/ship"), R"({"id":7})");
  spec.headers = {{"Content-Type", "application/json"}, {"X-Trace", "abc"}};
  auto result = LoopbackClient()->Send(spec);
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  ASSERT_EQ(server.RequestCount(), 1u);
  const TestHttpRequest request = server.Requests()[0];
  EXPECT_EQ(request.method, "POST");
  EXPECT_EQ(request.body, R"({"id":7})");
  EXPECT_EQ(request.Header("content-type"), "application/json");
  EXPECT_EQ(request.Header("x-trace"), "abc");
  EXPECT_EQ(request.Header("content-length"), "8");
  EXPECT_EQ(request.Header("expect"), std::nullopt);
}

TEST(CurlHttpClientTest, BodyWithoutContentTypeIsNotLabelledAsAForm) {
  TestHttpServer server;
  ASSERT_TRUE(LoopbackClient()->Send(Request("POST", server.Url(), "a=b")).ok());
  ASSERT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(server.Requests()[0].Header("content-type"), std::nullopt);
  EXPECT_EQ(server.Requests()[0].body, "a=b");
}

TEST(CurlHttpClientTest, PutPatchAndDeleteUseTheirMethodAndSendTheBody) {
  TestHttpServer server;
  auto client = LoopbackClient();
  ASSERT_TRUE(client->Send(Request("PUT", server.Url("/a"), "put-body")).ok());
  ASSERT_TRUE(client->Send(Request("PATCH", server.Url("/b"), "patch-body")).ok());
  ASSERT_TRUE(client->Send(Request("DELETE", server.Url("/c"))).ok());
  ASSERT_TRUE(client->Send(Request("PUT", server.Url("/d"))).ok());
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].method, "PUT");
  EXPECT_EQ(requests[0].body, "put-body");
  EXPECT_EQ(requests[1].method, "PATCH");
  EXPECT_EQ(requests[1].body, "patch-body");
  EXPECT_EQ(requests[2].method, "DELETE");
  EXPECT_EQ(requests[2].body, "");
  EXPECT_EQ(requests[3].method, "PUT");
  EXPECT_EQ(requests[3].Header("content-length"), "0");
}

TEST(CurlHttpClientTest, LowerCaseMethodIsSentUpperCase) {
  TestHttpServer server;
  ASSERT_TRUE(LoopbackClient()->Send(Request("post", server.Url(), "x")).ok());
  EXPECT_EQ(server.Requests().at(0).method, "POST");
}

TEST(CurlHttpClientTest, LargeRequestBodyArrivesIntact) {
  TestHttpServer server;
  std::string body(3 * 1024 * 1024 + 17, 'x');
  for (size_t i = 0; i < body.size(); i += 1000) body[i] = static_cast<char>('a' + i % 26);
  ASSERT_TRUE(LoopbackClient()->Send(Request("POST", server.Url(), body)).ok());
  ASSERT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(server.Requests()[0].body, body);
}

TEST(CurlHttpClientTest, RequestHeadersAreSentInOrderIncludingEmptyValues) {
  TestHttpServer server;
  HttpRequestSpec spec = Request("GET", server.Url());
  spec.headers = {{"X-B", "2"}, {"X-A", "1"}, {"X-Empty", ""}, {"User-Agent", "custom-agent"}};
  ASSERT_TRUE(LoopbackClient()->Send(spec).ok());
  const TestHttpRequest request = server.Requests().at(0);
  EXPECT_EQ(request.Header("x-empty"), "");
  EXPECT_EQ(request.Header("user-agent"), "custom-agent");
  std::vector<std::string> custom;
  for (const auto& [name, value] : request.headers) {
    if (name.starts_with("X-")) custom.push_back(name);
  }
  EXPECT_EQ(custom, (std::vector<std::string>{"X-B", "X-A", "X-Empty"}));
}

TEST(CurlHttpClientTest, DefaultUserAgentIsTrellis) {
  TestHttpServer server;
  ASSERT_TRUE(LoopbackClient()->Send(Request("GET", server.Url())).ok());
  EXPECT_EQ(server.Requests().at(0).Header("user-agent"), "Trellis");
}

TEST(CurlHttpClientTest, ResponseHeadersKeepOrderAndRepeatsWithLowerCaseNames) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    // Beast groups fields of the same name together, so repeats are adjacent on the wire.
    response.headers = {
        {"X-Zeta", "z"}, {"Set-Cookie", "a=1"}, {"Set-Cookie", "b=2"}, {"X-Alpha", "  padded  "}};
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url()));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  std::vector<std::pair<std::string, std::string>> custom;
  for (const auto& header : result->headers) {
    if (header.first.starts_with("x-") || header.first == "set-cookie") custom.push_back(header);
  }
  EXPECT_EQ(custom,
            (std::vector<std::pair<std::string, std::string>>{
                {"x-zeta", "z"}, {"set-cookie", "a=1"}, {"set-cookie", "b=2"}, {"x-alpha", "padded"}}));
}

TEST(CurlHttpClientTest, ErrorStatusCodesAreResponsesNotErrors) {
  TestHttpServer server([](const TestHttpRequest& request) {
    TestHttpResponse response;
    response.status = request.target == "/missing" ? 404 : 503;
    response.body = "nope";
    return response;
  });
  auto client = LoopbackClient();
  auto not_found = client->Send(Request("GET", server.Url("/missing")));
  ASSERT_TRUE(not_found.ok()) << not_found.status().ToString();
  EXPECT_EQ(not_found->status, 404);
  EXPECT_EQ(not_found->body, "nope");
  auto unavailable = client->Send(Request("GET", server.Url("/down")));
  ASSERT_TRUE(unavailable.ok()) << unavailable.status().ToString();
  EXPECT_EQ(unavailable->status, 503);
}

TEST(CurlHttpClientTest, RedirectsAreReturnedNotFollowed) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.status = 302;
    response.headers = {{"Location", "http://169.254.169.254/latest/meta-data"}};
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url("/r")));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, 302);
  EXPECT_EQ(HeaderValues(*result, "location"),
            std::vector<std::string>{"http://169.254.169.254/latest/meta-data"});
  EXPECT_EQ(server.RequestCount(), 1u);
}

TEST(CurlHttpClientTest, HeadReturnsHeadersWithoutBody) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.body = "0123456789";
    return response;
  });
  auto result = LoopbackClient()->Send(Request("HEAD", server.Url()));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, 200);
  EXPECT_EQ(result->body, "");
  EXPECT_EQ(HeaderValues(*result, "content-length"), std::vector<std::string>{"10"});
  EXPECT_EQ(server.Requests().at(0).method, "HEAD");
}

TEST(CurlHttpClientTest, ChunkedResponseBodyIsReassembled) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.headers = {{"Transfer-Encoding", "chunked"}};
    response.body = std::string(100000, 'c');
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url()));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->body, std::string(100000, 'c'));
}

// --- Connections -------------------------------------------------------------------------------

TEST(CurlHttpClientTest, ConsecutiveRequestsOnOneThreadReuseTheConnection) {
  TestHttpServer server;
  auto client = LoopbackClient();
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(client->Send(Request("GET", server.Url())).ok());
  EXPECT_EQ(server.ConnectionCount(), 1u);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  EXPECT_EQ(requests[0].connection_id, requests[2].connection_id);
}

TEST(CurlHttpClientTest, ConcurrentRequestsFromSeveralThreadsAllSucceed) {
  TestHttpServer server([](const TestHttpRequest& request) {
    TestHttpResponse response;
    response.body = request.target;
    return response;
  });
  auto client = LoopbackClient();
  std::atomic<int> failures{0};
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int i = 0; i < 10; ++i) {
        const std::string path = "/t" + std::to_string(t) + "/" + std::to_string(i);
        auto result = client->Send(Request("GET", server.Url(path)));
        if (!result.ok() || result->body != path) ++failures;
      }
    });
  }
  for (auto& thread : threads) thread.join();
  EXPECT_EQ(failures.load(), 0);
  EXPECT_EQ(server.RequestCount(), 40u);
  EXPECT_LE(server.ConnectionCount(), 4u);  // one kept-alive connection per thread
}

// --- Failures ----------------------------------------------------------------------------------

TEST(CurlHttpClientTest, SlowResponseFailsWithDeadlineExceeded) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.delay = std::chrono::seconds(30);
    return response;
  });
  HttpRequestSpec spec = Request("GET", server.Url("/slow?token=secret"));
  spec.timeout = milliseconds(200);
  const auto start = std::chrono::steady_clock::now();
  auto result = LoopbackClient()->Send(spec);
  const auto elapsed = std::chrono::steady_clock::now() - start;
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kDeadlineExceeded);
  EXPECT_NE(result.status().message().find("timed out after 200ms"), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("GET http://127.0.0.1:"), std::string::npos)
      << result.status().message();
  EXPECT_EQ(result.status().message().find("secret"), std::string::npos) << "query strings are not echoed";
  EXPECT_LT(elapsed, std::chrono::seconds(10));
}

TEST(CurlHttpClientTest, ClientRecoversAfterATimeout) {
  TestHttpServer server([](const TestHttpRequest& request) {
    TestHttpResponse response;
    if (request.target == "/slow") response.delay = std::chrono::seconds(30);
    response.body = "fine";
    return response;
  });
  auto client = LoopbackClient();
  HttpRequestSpec slow = Request("GET", server.Url("/slow"));
  slow.timeout = milliseconds(100);
  EXPECT_EQ(client->Send(slow).status().code(), StatusCode::kDeadlineExceeded);
  auto result = client->Send(Request("GET", server.Url("/fast")));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->body, "fine");
}

TEST(CurlHttpClientTest, RefusedConnectionIsUnavailableWithCurlsMessage) {
  RefusingPort port;
  auto result =
      LoopbackClient()->Send(Request("GET", "http://127.0.0.1:" + std::to_string(port.port()) + "/"));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable);
  EXPECT_NE(result.status().message().find("Failed to connect"), std::string::npos)
      << result.status().message();
}

TEST(CurlHttpClientTest, ConnectionClosedWithoutResponseIsUnavailable) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.close_without_response = true;
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kUnavailable) << result.status().ToString();
}

TEST(CurlHttpClientTest, CancelAbortsAnInFlightRequest) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.delay = std::chrono::seconds(60);
    return response;
  });
  auto client = LoopbackClient();
  std::atomic<bool> cancel{false};
  HttpRequestSpec spec = Request("GET", server.Url());
  spec.cancel = &cancel;
  std::optional<Result<HttpResponseData>> result;
  std::thread caller([&] { result.emplace(client->Send(spec)); });
  ASSERT_TRUE(server.WaitForRequests(1));
  const auto start = std::chrono::steady_clock::now();
  cancel = true;
  caller.join();
  EXPECT_LT(std::chrono::steady_clock::now() - start, std::chrono::seconds(5));
  ASSERT_TRUE(result.has_value());
  ASSERT_FALSE(result->ok());
  EXPECT_EQ(result->status().code(), StatusCode::kCancelled);
  EXPECT_NE(result->status().message().find("cancelled"), std::string::npos);
}

TEST(CurlHttpClientTest, AlreadyCancelledRequestIsNeverSent) {
  TestHttpServer server;
  std::atomic<bool> cancel{true};
  HttpRequestSpec spec = Request("GET", server.Url());
  spec.cancel = &cancel;
  auto result = LoopbackClient()->Send(spec);
  EXPECT_EQ(result.status().code(), StatusCode::kCancelled);
  EXPECT_EQ(server.RequestCount(), 0u);
}

TEST(CurlHttpClientTest, ResponseOverTheSizeCapIsResourceExhausted) {
  TestHttpServer server([](const TestHttpRequest& request) {
    TestHttpResponse response;
    if (request.target == "/chunked") response.headers = {{"Transfer-Encoding", "chunked"}};
    response.body = std::string(request.target == "/small" ? 1024 : 4096, 'z');
    return response;
  });
  CurlHttpClientOptions options;
  options.max_response_bytes = 1024;
  auto client = LoopbackClient(options);
  // With Content-Length, curl refuses before reading; without it (chunked), the body callback stops it.
  for (const char* path : {"/sized", "/chunked"}) {
    auto result = client->Send(Request("GET", server.Url(path)));
    ASSERT_FALSE(result.ok()) << path;
    EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted) << path;
    EXPECT_NE(result.status().message().find("exceeds the 1 KiB limit"), std::string::npos)
        << result.status().message();
  }
  auto exact = client->Send(Request("GET", server.Url("/small")));
  ASSERT_TRUE(exact.ok()) << exact.status().ToString();
  EXPECT_EQ(exact->body.size(), 1024u);
}

TEST(CurlHttpClientTest, DefaultSizeCapIs16MiB) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse response;
    response.headers = {{"Transfer-Encoding", "chunked"}};
    response.body = std::string(16 * 1024 * 1024 + 1, 'b');
    return response;
  });
  auto result = LoopbackClient()->Send(Request("GET", server.Url()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kResourceExhausted);
  EXPECT_NE(result.status().message().find("16 MiB"), std::string::npos) << result.status().message();
}

// --- Validation --------------------------------------------------------------------------------

TEST(CurlHttpClientTest, NonHttpSchemesAreRejectedBeforeAnyIo) {
  auto client = LoopbackClient();
  for (const char* url :
       {"file:///etc/passwd", "gopher://127.0.0.1:70/", "ftp://127.0.0.1/", "dict://127.0.0.1/"}) {
    auto result = client->Send(Request("GET", url));
    EXPECT_EQ(result.status().code(), StatusCode::kInvalidArgument) << url;
  }
}

TEST(CurlHttpClientTest, HeaderInjectionIsRejected) {
  TestHttpServer server;
  HttpRequestSpec spec = Request("GET", server.Url());
  spec.headers = {{"X-A", "1\r\nX-Injected: yes"}};
  EXPECT_EQ(LoopbackClient()->Send(spec).status().code(), StatusCode::kInvalidArgument);
  spec.headers = {{"Bad Name", "1"}};
  EXPECT_EQ(LoopbackClient()->Send(spec).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.RequestCount(), 0u);
}

TEST(CurlHttpClientTest, InvalidMethodOrTimeoutIsRejected) {
  TestHttpServer server;
  auto client = LoopbackClient();
  EXPECT_EQ(client->Send(Request("GE T", server.Url())).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(client->Send(Request("", server.Url())).status().code(), StatusCode::kInvalidArgument);
  HttpRequestSpec spec = Request("GET", server.Url());
  spec.timeout = milliseconds(0);
  EXPECT_EQ(client->Send(spec).status().code(), StatusCode::kInvalidArgument);
  EXPECT_EQ(server.RequestCount(), 0u);
}

// --- SSRF guard --------------------------------------------------------------------------------

TEST(CurlHttpClientTest, LoopbackIsDeniedUnlessAllowListed) {
  TestHttpServer server;
  auto result = NewCurlHttpClient(SsrfGuard())->Send(Request("GET", server.Url()));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_EQ(result.status().message(),
            "HttpRequest to 127.0.0.1 denied: loopback address (allow it with http.allow_hosts)");
  EXPECT_EQ(server.ConnectionCount(), 0u);

  auto allowed = NewCurlHttpClient(SsrfGuard({"127.0.0.1"}))->Send(Request("GET", server.Url()));
  ASSERT_TRUE(allowed.ok()) << allowed.status().ToString();
  EXPECT_EQ(allowed->status, 200);
}

TEST(CurlHttpClientTest, HostNameResolvingToLoopbackIsDeniedAtConnectTime) {
  // "localhost" passes the URL check (it is a name); the guard stops it on the resolved address,
  // which is the same path that defeats DNS rebinding.
  TestHttpServer server;
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/";
  auto result = NewCurlHttpClient(SsrfGuard())->Send(Request("GET", url));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(result.status().message().find("HttpRequest to localhost ("), std::string::npos)
      << result.status().message();
  EXPECT_NE(result.status().message().find("loopback address"), std::string::npos);
  EXPECT_EQ(server.ConnectionCount(), 0u);
}

TEST(CurlHttpClientTest, AllowListedHostNameReachesLoopback) {
  TestHttpServer server;
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/";
  auto result = NewCurlHttpClient(SsrfGuard({"localhost"}))->Send(Request("GET", url));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->status, 200);
}

TEST(CurlHttpClientTest, StricterClientDoesNotReuseAConnectionOpenedByAnAllowingClient) {
  // Same thread, same host name: without care the strict client would reuse the kept-alive
  // connection and never reach the connect-time check.
  TestHttpServer server;
  const std::string url = "http://localhost:" + std::to_string(server.port()) + "/";
  auto allowing = NewCurlHttpClient(SsrfGuard({"localhost"}));
  auto strict = NewCurlHttpClient(SsrfGuard());
  ASSERT_TRUE(allowing->Send(Request("GET", url)).ok());
  auto result = strict->Send(Request("GET", url));
  EXPECT_EQ(result.status().code(), StatusCode::kFailedPrecondition) << result.status().ToString();
  EXPECT_EQ(server.RequestCount(), 1u);
}

}  // namespace
}  // namespace trellis
