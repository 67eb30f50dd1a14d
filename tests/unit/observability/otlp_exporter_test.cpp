// The OTLP/HTTP JSON exporter against a real local HTTP server standing in for the collector:
// the request and body shape, batching, the bounded queue that drops instead of blocking, failure
// logging at most once per interval, and a shutdown that keeps its deadline against a hung
// collector.
#include <gtest/gtest.h>

#include <atomic>
#include <future>
#include <mutex>

#include "core/log.h"
#include "observability/otlp_exporter.h"
#include "support/test_http_server.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using test::TestHttpRequest;
using test::TestHttpResponse;
using test::TestHttpServer;

SpanData MakeSpan(std::string name) {
  SpanData s;
  s.name = std::move(name);
  s.kind = SpanKind::kServer;
  s.context = *ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01");
  s.start_unix_nano = 1700000000000000000;
  s.end_unix_nano = 1700000000123456789;
  return s;
}

Json Body(const TestHttpRequest& r) {
  Json j;
  std::string error;
  EXPECT_TRUE(ParseJson(r.body, &j, &error)) << error;
  return j;
}

size_t SpanCount(const TestHttpRequest& r) {
  return Body(r)["resourceSpans"][0]["scopeSpans"][0]["spans"].size();
}

// Captures log lines for the life of the object.
class LogCapture {
 public:
  LogCapture() {
    SetLogSink([this](std::string_view line) {
      std::lock_guard lock(mu_);
      lines_.emplace_back(line);
    });
  }
  ~LogCapture() { SetLogSink(nullptr); }
  size_t Count(std::string_view needle) const {
    std::lock_guard lock(mu_);
    size_t n = 0;
    for (const auto& l : lines_) n += l.find(needle) != std::string::npos ? 1 : 0;
    return n;
  }

 private:
  mutable std::mutex mu_;
  std::vector<std::string> lines_;
};

// A port nothing listens on: a server's, after it stopped.
uint16_t ClosedPort() {
  TestHttpServer server;
  return server.port();
}

TEST(OtlpJsonTest, HasTheOtlpShape) {
  SpanData root = MakeSpan("GET /api/v1/workflows/{id}");
  root.attributes = {{"http.request.method", std::string("GET")},
                     {"http.response.status_code", int64_t{404}},
                     {"trellis.cached", false}};
  SpanData child = MakeSpan("activity HttpRequest");
  child.kind = SpanKind::kInternal;
  child.context.span_id = {1, 2, 3, 4, 5, 6, 7, 8};
  child.parent_span_id = root.context.span_id;
  child.error = true;
  child.status_message = "HTTP 500";

  Json j = OtlpTracesJson({root, child}, "trellis-test");
  ASSERT_EQ(j["resourceSpans"].size(), 1u);
  const Json& rs = j["resourceSpans"][0];
  EXPECT_EQ(rs["resource"]["attributes"],
            Json::parse(R"([{"key":"service.name","value":{"stringValue":"trellis-test"}}])"));
  ASSERT_EQ(rs["scopeSpans"].size(), 1u);
  EXPECT_EQ(rs["scopeSpans"][0]["scope"]["name"], "trellis");
  const Json& spans = rs["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0], Json::parse(R"({
    "traceId": "4bf92f3577b34da6a3ce929d0e0e4736",
    "spanId": "00f067aa0ba902b7",
    "name": "GET /api/v1/workflows/{id}",
    "kind": 2,
    "startTimeUnixNano": "1700000000000000000",
    "endTimeUnixNano": "1700000000123456789",
    "attributes": [
      {"key": "http.request.method", "value": {"stringValue": "GET"}},
      {"key": "http.response.status_code", "value": {"intValue": "404"}},
      {"key": "trellis.cached", "value": {"boolValue": false}}
    ],
    "status": {"code": 0}
  })"));
  EXPECT_FALSE(spans[0].contains("parentSpanId"));
  EXPECT_EQ(spans[1]["spanId"], "0102030405060708");
  EXPECT_EQ(spans[1]["parentSpanId"], "00f067aa0ba902b7");
  EXPECT_EQ(spans[1]["kind"], 1);
  EXPECT_EQ(spans[1]["status"], Json::parse(R"({"code": 2, "message": "HTTP 500"})"));
}

TEST(OtlpExporterTest, PostsJsonToTheTracesPath) {
  TestHttpServer collector;
  OtlpExporter exporter({.endpoint = collector.Url("/"), .service_name = "svc"});
  EXPECT_EQ(exporter.url(), collector.Url("/v1/traces"));
  exporter.Export(MakeSpan("one"));
  exporter.Export(MakeSpan("two"));
  ASSERT_TRUE(exporter.Flush(10s));
  ASSERT_EQ(collector.RequestCount(), 1u);
  TestHttpRequest r = collector.Requests()[0];
  EXPECT_EQ(r.method, "POST");
  EXPECT_EQ(r.target, "/v1/traces");
  EXPECT_EQ(r.Header("Content-Type").value_or(""), "application/json");
  Json body = Body(r);
  EXPECT_EQ(body["resourceSpans"][0]["resource"]["attributes"][0]["value"]["stringValue"], "svc");
  const Json& spans = body["resourceSpans"][0]["scopeSpans"][0]["spans"];
  ASSERT_EQ(spans.size(), 2u);
  EXPECT_EQ(spans[0]["name"], "one");
  EXPECT_EQ(spans[1]["name"], "two");
  EXPECT_EQ(exporter.stats().exported, 2);
  EXPECT_EQ(exporter.stats().dropped, 0);
}

TEST(OtlpExporterTest, AnEndpointThatNamesTheTracesPathIsUsedAsIs) {
  OtlpExporter exporter({.endpoint = "http://collector:4318/v1/traces"});
  EXPECT_EQ(exporter.url(), "http://collector:4318/v1/traces");
  OtlpExporter base({.endpoint = "http://collector:4318"});
  EXPECT_EQ(base.url(), "http://collector:4318/v1/traces");
}

TEST(OtlpExporterTest, SendsFullBatchesAtOnceAndTheRestOnItsInterval) {
  TestHttpServer collector;
  OtlpExporter exporter({.endpoint = collector.Url("/"), .max_batch = 3, .interval = 300ms});
  for (int i = 0; i < 7; ++i) exporter.Export(MakeSpan("s" + std::to_string(i)));
  // Two full batches go at once, the last span on the interval: no Flush needed.
  ASSERT_TRUE(collector.WaitForRequests(3));
  auto requests = collector.Requests();
  EXPECT_EQ(SpanCount(requests[0]), 3u);
  EXPECT_EQ(SpanCount(requests[1]), 3u);
  EXPECT_EQ(SpanCount(requests[2]), 1u);
  ASSERT_TRUE(exporter.Flush(10s));
  EXPECT_EQ(exporter.stats().exported, 7);
}

TEST(OtlpExporterTest, AFullQueueDropsSpansWithoutBlockingTheCaller) {
  LogCapture logs;
  std::atomic<bool> release{false};
  TestHttpServer collector([&](const TestHttpRequest&) {
    TestHttpResponse r;
    r.hold_until = [&] { return release.load(); };
    return r;
  });
  OtlpExporter exporter({.endpoint = collector.Url("/"), .max_queue = 10, .max_batch = 5});
  for (int i = 0; i < 5; ++i) exporter.Export(MakeSpan("first"));  // a full batch: sent at once
  ASSERT_TRUE(collector.WaitForRequests(1));                       // and now held by the collector
  // The sender is stuck in its request; exporting more must still return at once.
  auto exporting = std::async(std::launch::async, [&] {
    for (int i = 0; i < 1000; ++i) exporter.Export(MakeSpan("more"));
  });
  ASSERT_EQ(exporting.wait_for(10s), std::future_status::ready) << "Export blocked";
  EXPECT_EQ(exporter.stats().dropped, 990);
  release = true;
  ASSERT_TRUE(exporter.Flush(10s));
  EXPECT_EQ(exporter.stats().exported, 15);
  EXPECT_EQ(exporter.stats().dropped, 990);
  EXPECT_EQ(logs.Count("the export queue is full"), 1u);
}

TEST(OtlpExporterTest, FailuresAreCountedAndLoggedAtMostOncePerInterval) {
  LogCapture logs;
  OtlpExporter exporter({.endpoint = "http://127.0.0.1:" + std::to_string(ClosedPort()),
                         .log_interval = std::chrono::hours(1)});
  for (int i = 0; i < 3; ++i) {
    exporter.Export(MakeSpan("lost"));
    ASSERT_TRUE(exporter.Flush(10s));
  }
  EXPECT_EQ(exporter.stats().failed_requests, 3);
  EXPECT_EQ(exporter.stats().dropped, 3);
  EXPECT_EQ(exporter.stats().exported, 0);
  EXPECT_EQ(logs.Count("trace export failed"), 1u);
}

TEST(OtlpExporterTest, ANon2xxAnswerIsAFailure) {
  LogCapture logs;
  TestHttpServer collector([](const TestHttpRequest&) {
    TestHttpResponse r;
    r.status = 503;
    return r;
  });
  OtlpExporter exporter({.endpoint = collector.Url("/")});
  exporter.Export(MakeSpan("refused"));
  ASSERT_TRUE(exporter.Flush(10s));
  EXPECT_EQ(exporter.stats().failed_requests, 1);
  EXPECT_EQ(logs.Count("HTTP 503"), 1u);
}

TEST(OtlpExporterTest, ShutdownKeepsItsDeadlineAgainstAHungCollector) {
  std::atomic<bool> release{false};
  TestHttpServer collector([&](const TestHttpRequest&) {
    TestHttpResponse r;
    r.hold_until = [&] { return release.load(); };
    return r;
  });
  {
    LogCapture logs;
    OtlpExporter exporter({.endpoint = collector.Url("/"), .max_batch = 2, .request_timeout = 60s});
    for (int i = 0; i < 4; ++i) exporter.Export(MakeSpan("stuck"));
    ASSERT_TRUE(collector.WaitForRequests(1));
    auto start = std::chrono::steady_clock::now();
    exporter.Shutdown(200ms);
    // The in-flight request is aborted (curl checks about once a second), not waited out for 60 s.
    EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
    EXPECT_EQ(exporter.stats().exported, 0);
    EXPECT_EQ(exporter.stats().dropped, 4);
    exporter.Export(MakeSpan("after shutdown"));
    EXPECT_EQ(exporter.stats().dropped, 5);
  }
  release = true;
}

}  // namespace
}  // namespace trellis
