// HttpRequest against a real local HTTP server, through the real libcurl client.
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <chrono>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include <gtest/gtest.h>

#include "activities/curl_http_client.h"
#include "activity_test_util.h"
#include "support/test_http_server.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using activity_test::Compile;
using activity_test::Harness;
using activity_test::Incidents;
using test::TestHttpRequest;
using test::TestHttpResponse;
using test::TestHttpServer;

// The engine with a curl client allowed to reach 127.0.0.1 (where the test server listens).
class HttpHarness : public Harness {
 public:
  explicit HttpHarness(SsrfGuard guard = SsrfGuard({"127.0.0.1"}))
      : client_(NewCurlHttpClient(std::move(guard), {})) {
    services().http = client_.get();
  }

 private:
  std::unique_ptr<HttpClient> client_;
};

TestHttpResponse Json200(std::string body, std::string content_type = "application/json") {
  TestHttpResponse r;
  r.headers = {{"Content-Type", std::move(content_type)}};
  r.body = std::move(body);
  return r;
}

TestHttpResponse Reply(int status, std::string body = "") {
  TestHttpResponse r;
  r.status = status;
  r.body = std::move(body);
  return r;
}

std::multiset<std::string> QueryParts(const std::string& target) {
  std::multiset<std::string> parts;
  auto q = target.find('?');
  if (q == std::string::npos) return parts;
  std::string rest = target.substr(q + 1);
  size_t start = 0;
  while (start <= rest.size()) {
    size_t amp = rest.find('&', start);
    if (amp == std::string::npos) amp = rest.size();
    parts.insert(rest.substr(start, amp - start));
    start = amp + 1;
  }
  return parts;
}

// --- The request ---------------------------------------------------------------------------------

TEST(HttpRequestTest, GetSendsTheUrlWithAnEncodedQueryAndHeaders) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(inputs: {id: string}
activities:
  - id: fetch
    type: HttpRequest
    url: "{{ input.base }}/orders/{{ input.id }}"
    query: {q: "a b&c=d/e?", n: 5, flag: true, "ü": "é", skip: null, t: "{{ input.id }}"}
    headers: {X-Trace: abc, X-Num: 7, X-Templ: "id-{{ input.id }}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"base", server.Url("")}, {"id", "A-1"}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(server.RequestCount(), 1u);
  TestHttpRequest req = server.Requests()[0];
  EXPECT_EQ(req.method, "GET");
  EXPECT_EQ(req.target.substr(0, req.target.find('?')), "/orders/A-1");
  EXPECT_EQ(QueryParts(req.target), (std::multiset<std::string>{"q=a%20b%26c%3Dd%2Fe%3F", "n=5", "flag=true",
                                                                "%C3%BC=%C3%A9", "t=A-1"}))
      << req.target;
  EXPECT_EQ(req.Header("X-Trace"), "abc");
  EXPECT_EQ(req.Header("X-Num"), "7");
  EXPECT_EQ(req.Header("X-Templ"), "id-A-1");
  EXPECT_TRUE(req.body.empty());
}

TEST(HttpRequestTest, QueryIsAppendedToAUrlThatHasOne) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", query: {b: "2"}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/x?a=1")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  ASSERT_EQ(server.RequestCount(), 1u);
  EXPECT_EQ(server.Requests()[0].target, "/x?a=1&b=2");
}

TEST(HttpRequestTest, MethodIsSentUpperCase) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: HttpRequest, method: post, url: "{{ input.url }}", body: x}
  - {id: b, type: HttpRequest, method: DELETE, url: "{{ input.url }}"}
  - {id: c, type: HttpRequest, method: "{{ 'put' }}", url: "{{ input.url }}", body: y}
  - {id: d, type: HttpRequest, url: "{{ input.url }}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/m")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 4u);
  EXPECT_EQ(requests[0].method, "POST");
  EXPECT_EQ(requests[1].method, "DELETE");
  EXPECT_EQ(requests[2].method, "PUT");
  EXPECT_EQ(requests[3].method, "GET");
}

TEST(HttpRequestTest, JsonBodyIsSerialisedWithAJsonContentType) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: HttpRequest, method: POST, url: "{{ input.url }}",
     body: {order: "{{ input.order }}", total: "{{ input.total * 2 }}", tags: [x, "{{ 'y' }}"], ok: true}}
  - {id: b, type: HttpRequest, method: POST, url: "{{ input.url }}", body: "{{ input.order }}"}
  - {id: c, type: HttpRequest, method: POST, url: "{{ input.url }}", body: "plain {{ input.total }}"}
  - {id: d, type: HttpRequest, method: POST, url: "{{ input.url }}", body: [1, 2],
     headers: {Content-Type: application/vnd.api+json}}
)");
  ASSERT_TRUE(wf);
  Json order = {{"id", "A-1"}, {"lines", {1, 2}}};
  InstanceState s = h.Run(wf, {{"url", server.Url("/orders")}, {"order", order}, {"total", 21}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 4u);

  EXPECT_EQ(requests[0].Header("Content-Type"), "application/json");
  Json sent = Json::parse(requests[0].body);
  EXPECT_EQ(sent, Json({{"order", order}, {"total", 42}, {"tags", {"x", "y"}}, {"ok", true}}));
  EXPECT_TRUE(sent["total"].is_number_integer());

  // A whole-template body keeps the value's type: an object is sent as JSON.
  EXPECT_EQ(requests[1].Header("Content-Type"), "application/json");
  EXPECT_EQ(Json::parse(requests[1].body), order);

  // A string body is sent as it is, not labelled JSON (nor form-encoded).
  EXPECT_EQ(requests[2].body, "plain 21");
  EXPECT_NE(requests[2].Header("Content-Type"), "application/json");
  EXPECT_NE(requests[2].Header("Content-Type"), "application/x-www-form-urlencoded");

  // An explicit Content-Type wins and is sent once.
  EXPECT_EQ(requests[3].Header("Content-Type"), "application/vnd.api+json");
  EXPECT_EQ(std::count_if(requests[3].headers.begin(), requests[3].headers.end(),
                          [](const auto& kv) {
                            std::string k = kv.first;
                            std::transform(k.begin(), k.end(), k.begin(), ::tolower);
                            return k == "content-type";
                          }),
            1);
  EXPECT_EQ(Json::parse(requests[3].body), Json({1, 2}));
}

TEST(HttpRequestTest, SendsAnIdempotencyKeyPerInstanceActivityAndAttempt) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
  - {id: mine, type: HttpRequest, url: "{{ input.url }}", headers: {Idempotency-Key: my-own-key}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/k")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  std::string key = requests[0].Header("Idempotency-Key").value_or("");
  EXPECT_TRUE(key.starts_with(s.id + ":fetch:")) << key;
  EXPECT_TRUE(key.ends_with(":1")) << key;  // the attempt
  EXPECT_EQ(requests[1].Header("Idempotency-Key"), "my-own-key");
}

TEST(HttpRequestTest, IdempotencyKeyIsStableWhenTheSameAttemptRunsAgainAfterACrash) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: prepare, type: SetVariable, name: x, value: 1}
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
)");
  ASSERT_TRUE(wf);
  StartOptions options;
  options.input = {{"url", server.Url("/")}};
  auto started = h.engine().Start(*wf, options);
  ASSERT_TRUE(started.ok());
  InstanceState s = std::move(started).value();
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kStepped);  // prepare: no commit of its own
  // The state as persisted at the last commit point (the start); the worker then crashes after
  // sending the request but before committing.
  Json persisted = StateToJson(s, wf->ids());
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kCommitPoint);
  auto recovered = StateFromJson(persisted, wf->ids());
  ASSERT_TRUE(recovered.ok()) << recovered.status().ToString();
  InstanceState again = std::move(recovered).value();
  h.engine().RunBurst(*wf, again);
  EXPECT_EQ(again.status, InstanceStatus::kCompleted) << Incidents(again);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 2u);
  ASSERT_TRUE(requests[0].Header("Idempotency-Key").has_value());
  EXPECT_EQ(requests[0].Header("Idempotency-Key"), requests[1].Header("Idempotency-Key"));
}

TEST(HttpRequestTest, LoopIterationsSendDistinctIdempotencyKeys) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: loop, type: ForEach, items: [a, b, c]}
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", query: {item: "{{ item }}"}}
connections: [{from: loop, outcome: Iterate, to: fetch}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  auto requests = server.Requests();
  ASSERT_EQ(requests.size(), 3u);
  std::set<std::string> keys;
  for (const auto& r : requests) keys.insert(r.Header("Idempotency-Key").value_or(""));
  EXPECT_EQ(keys.size(), 3u);
}

TEST(HttpRequestTest, IsACommitPoint) {
  TestHttpServer server;
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
  - {id: b, type: SetVariable, name: y, value: 2}
)");
  ASSERT_TRUE(wf);
  StartOptions options;
  options.input = {{"url", server.Url("/")}};
  auto started = h.engine().Start(*wf, options);
  ASSERT_TRUE(started.ok());
  InstanceState s = std::move(started).value();
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kStepped);
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kCommitPoint);
  EXPECT_EQ(h.engine().Step(*wf, s), StepResult::kCommitPoint);  // the end
  EXPECT_EQ(s.status, InstanceStatus::kCompleted);
}

// --- The response --------------------------------------------------------------------------------

TEST(HttpRequestTest, JsonResponseIsParsedIntoTheBody) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse r =
        Json200(R"({"total": 1500, "items": [{"sku": "a"}]})", "application/json; charset=utf-8");
    r.headers.emplace_back("X-Request-Id", "r-1");
    return r;
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
  - {id: big, type: If, condition: "{{ outputs.fetch.body.total > 1000 }}"}
  - {id: yes, type: SetOutput, name: sku, value: "{{ outputs.fetch.body.items[1].sku }}"}
connections:
  - {from: fetch, to: big}
  - {from: big, outcome: "True", to: yes}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/orders/1")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  const Json& out = s.outputs["fetch"];
  EXPECT_EQ(out["status"], 200);
  EXPECT_EQ(out["body"], Json::parse(R"({"total": 1500, "items": [{"sku": "a"}]})"));
  EXPECT_EQ(out["headers"]["content-type"], "application/json; charset=utf-8");
  EXPECT_EQ(out["headers"]["x-request-id"], "r-1");
  EXPECT_EQ(s.output, Json({{"sku", "a"}}));
  const JournalRecord* r = h.Record("fetch");
  ASSERT_NE(r, nullptr);
  EXPECT_EQ(r->outcome, "Done");
  EXPECT_EQ(r->output["body"]["total"], 1500);
}

TEST(HttpRequestTest, ProblemJsonIsParsedToo) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse r = Json200(R"({"title": "nope"})", "application/problem+json");
    r.status = 422;
    return r;
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
  - {id: f, type: Noop}
connections: [{from: fetch, outcome: Failed, to: f}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/")}});
  EXPECT_EQ(s.outputs["fetch"]["body"], Json({{"title", "nope"}}));
}

TEST(HttpRequestTest, TextResponseStaysAString) {
  TestHttpServer server([](const TestHttpRequest& req) {
    if (req.target == "/number") return Json200("123", "text/plain");
    if (req.target == "/none") return Reply(200, R"({"looks": "like json"})");
    return Json200("hello", "text/plain; charset=utf-8");
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: a, type: HttpRequest, url: "{{ input.base }}/text"}
  - {id: b, type: HttpRequest, url: "{{ input.base }}/number"}
  - {id: c, type: HttpRequest, url: "{{ input.base }}/none"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"base", server.Url("")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["a"]["body"], Json("hello"));
  EXPECT_EQ(s.outputs["b"]["body"], Json("123"));
  EXPECT_EQ(s.outputs["c"]["body"], Json(R"({"looks": "like json"})"));
}

TEST(HttpRequestTest, InvalidJsonWithAJsonContentTypeStaysText) {
  TestHttpServer server([](const TestHttpRequest&) { return Json200("{not json", "application/json"); });
  HttpHarness h;
  auto wf = Compile("activities: [{id: a, type: HttpRequest, url: \"{{ input.url }}\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.outputs["a"]["body"], Json("{not json"));
}

// --- Non-2xx, retries, SSRF ----------------------------------------------------------------------

TEST(HttpRequestTest, NonSuccessWithAFailedConnectionTakesFailed) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse r = Json200(R"({"error": "no such order"})");
    r.status = 404;
    return r;
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", retry: {maxAttempts: 3, initial: 1s}}
  - {id: ok, type: SetOutput, name: result, value: ok}
  - {id: missing, type: SetOutput, name: result, value: "missing {{ outputs.fetch.status }} {{ outputs.fetch.body.error }}"}
connections:
  - {from: fetch, to: ok}
  - {from: fetch, outcome: Failed, to: missing}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/orders/9")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.output, Json({{"result", "missing 404 no such order"}}));
  EXPECT_EQ(server.RequestCount(), 1u);  // Failed is an outcome, not a failure: no retry
  EXPECT_EQ(h.Record("fetch")->outcome, "Failed");
  EXPECT_EQ(h.Record("fetch")->status, "Completed");
}

TEST(HttpRequestTest, NonSuccessWithoutFailedConnectionFailsAndRetries) {
  std::atomic<int> calls{0};
  TestHttpServer server([&](const TestHttpRequest&) {
    int n = ++calls;
    return n < 3 ? Reply(503, "busy") : Json200(R"({"ok": true})");
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}",
     retry: {maxAttempts: 3, backoff: fixed, initial: 1s, jitter: 0}}
  - {id: after, type: SetOutput, name: ok, value: "{{ outputs.fetch.body.ok }}"}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/flaky")}});
  EXPECT_EQ(s.status, InstanceStatus::kSuspended) << Incidents(s);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(s.bookmarks[0].kind, BookmarkKind::kRetry);
  EXPECT_EQ(*s.bookmarks[0].due_at, activity_test::T0() + 1s);
  EXPECT_EQ(server.RequestCount(), 1u);

  h.AdvanceAndFire(*wf, s, 999ms);
  EXPECT_EQ(server.RequestCount(), 1u);
  h.AdvanceAndFire(*wf, s, 1ms);
  EXPECT_EQ(server.RequestCount(), 2u);
  EXPECT_EQ(s.status, InstanceStatus::kSuspended);
  h.AdvanceAndFire(*wf, s, 1s);
  EXPECT_EQ(server.RequestCount(), 3u);
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_EQ(s.output, Json({{"ok", true}}));

  // One key per attempt: the same activity execution, the attempt number last.
  auto requests = server.Requests();
  std::vector<std::string> keys;
  for (const auto& r : requests) keys.push_back(r.Header("Idempotency-Key").value_or(""));
  for (int i = 0; i < 3; ++i) {
    EXPECT_TRUE(keys[i].starts_with(s.id + ":fetch:")) << keys[i];
    EXPECT_TRUE(keys[i].ends_with(":" + std::to_string(i + 1))) << keys[i];
    EXPECT_EQ(keys[i].substr(0, keys[i].rfind(':')), keys[0].substr(0, keys[0].rfind(':')));
  }
  ASSERT_NE(h.Record("fetch", 1), nullptr);
  EXPECT_EQ(h.Record("fetch", 1)->status, "Faulted");
  EXPECT_NE(h.Record("fetch", 1)->error.find("503"), std::string::npos) << h.Record("fetch", 1)->error;
  EXPECT_EQ(h.Record("fetch", 2)->status, "Faulted");
  EXPECT_EQ(h.Record("fetch", 3)->status, "Completed");
}

TEST(HttpRequestTest, NonSuccessFaultsTheInstanceOnceRetriesAreExhausted) {
  TestHttpServer server([](const TestHttpRequest&) { return Reply(500, "down"); });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", retry: {maxAttempts: 2, backoff: fixed, initial: 1s, jitter: 0}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/")}});
  h.AdvanceAndFire(*wf, s, 1s);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_EQ(server.RequestCount(), 2u);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].activity_id, "fetch");
  EXPECT_EQ(s.incidents[0].attempt, 2);
  EXPECT_NE(s.incidents[0].message.find("HTTP 500"), std::string::npos) << s.incidents[0].message;
}

TEST(HttpRequestTest, AnErrorConnectionCatchesTheExhaustedFailure) {
  TestHttpServer server([](const TestHttpRequest&) { return Reply(500, "down"); });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}"}
  - {id: handle, type: SetOutput, name: error, value: "{{ outputs.fetch.error }}"}
connections: [{from: fetch, outcome: Error, to: handle}]
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/")}});
  EXPECT_EQ(s.status, InstanceStatus::kCompleted) << Incidents(s);
  EXPECT_NE(s.output["error"].get<std::string>().find("HTTP 500"), std::string::npos) << s.output.dump();
}

TEST(HttpRequestTest, SsrfDenialWithoutAllowListIsNotRetried) {
  TestHttpServer server;
  HttpHarness h{SsrfGuard()};
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", retry: {maxAttempts: 5, initial: 1s}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/internal")}});
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  EXPECT_TRUE(s.bookmarks.empty());  // no retry was scheduled
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_EQ(s.incidents[0].attempt, 1);
  EXPECT_NE(s.incidents[0].message.find("denied"), std::string::npos) << s.incidents[0].message;
  EXPECT_NE(s.incidents[0].message.find("allow_hosts"), std::string::npos) << s.incidents[0].message;
  EXPECT_EQ(server.RequestCount(), 0u);
}

TEST(HttpRequestTest, ConnectionFailuresAreRetried) {
  // A port that is bound but not listening: connection refused is Unavailable, which is retryable.
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof(addr)), 0);
  socklen_t len = sizeof(addr);
  ASSERT_EQ(getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len), 0);
  std::string url = "http://127.0.0.1:" + std::to_string(ntohs(addr.sin_port)) + "/";
  struct Closer {
    int fd;
    ~Closer() { close(fd); }
  } closer{fd};
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", retry: {maxAttempts: 2, backoff: fixed, initial: 1s, jitter: 0}}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", url}});
  EXPECT_EQ(s.status, InstanceStatus::kSuspended) << Incidents(s);
  ASSERT_EQ(s.bookmarks.size(), 1u);
  EXPECT_EQ(s.bookmarks[0].kind, BookmarkKind::kRetry);
}

TEST(HttpRequestTest, TimeoutInputBoundsTheRequest) {
  TestHttpServer server([](const TestHttpRequest&) {
    TestHttpResponse r = Reply(200, "late");
    r.delay = 30s;
    return r;
  });
  HttpHarness h;
  auto wf = Compile(R"(activities:
  - {id: fetch, type: HttpRequest, url: "{{ input.url }}", timeout: 200ms}
)");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf, {{"url", server.Url("/slow")}});
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("timed out"), std::string::npos) << s.incidents[0].message;
}

TEST(HttpRequestTest, WithoutAnHttpClientTheActivityFails) {
  Harness h;  // services().http is null
  auto wf = Compile("activities: [{id: fetch, type: HttpRequest, url: \"http://127.0.0.1:1/\"}]\n");
  ASSERT_TRUE(wf);
  InstanceState s = h.Run(wf);
  EXPECT_EQ(s.status, InstanceStatus::kFaulted);
  ASSERT_EQ(s.incidents.size(), 1u);
  EXPECT_NE(s.incidents[0].message.find("no HTTP client"), std::string::npos) << s.incidents[0].message;
}

}  // namespace
}  // namespace trellis
