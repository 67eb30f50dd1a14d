// Traces of real durable runs: Nodes (worker + SQLite store) in this process export through the
// OTLP exporter to a local collector (TestHttpServer), and the tests read the spans it received.
// An instance is one trace: its start span (under the caller's span), a span per burst, and a
// span per activity under its burst, across suspensions and workers. HttpRequest propagates the
// activity span's traceparent. A collector that hangs holds up nothing.
#include <gtest/gtest.h>

#include <filesystem>
#include <functional>
#include <map>
#include <random>
#include <thread>

#include "activities/builtin.h"
#include "activities/curl_http_client.h"
#include "model/parser.h"
#include "observability/otlp_exporter.h"
#include "runtime/definitions.h"
#include "runtime/node.h"
#include "store/sqlite/sqlite_store.h"
#include "support/sqlite_runtime_fixture.h"
#include "support/test_http_server.h"

namespace trellis {
namespace {

using namespace std::chrono_literals;
using test::TestHttpRequest;
using test::TestHttpResponse;
using test::TestHttpServer;

constexpr const char* kCallerTrace = "0af7651916cd43dd8448eb211c80319c";
constexpr const char* kCallerSpan = "b7ad6b7169203331";

std::string Attr(const Json& span, const std::string& key) {
  for (const auto& a : span["attributes"]) {
    if (a["key"] != key) continue;
    const Json& v = a["value"];
    if (v.contains("stringValue")) return v["stringValue"];
    if (v.contains("intValue")) return v["intValue"];
    if (v.contains("boolValue")) return v["boolValue"].get<bool>() ? "true" : "false";
  }
  return "<missing>";
}

// Two activities, each a span: the workflow most tests here run.
constexpr const char* kTwoSteps = R"(
id: two
activities:
  - {id: a, type: SetVariable, name: x, value: 1}
  - {id: b, type: SetOutput, name: result, value: "{{ vars.x + 1 }}"}
)";

std::vector<Json> Named(const std::vector<Json>& spans, std::string_view prefix) {
  std::vector<Json> out;
  for (const auto& s : spans) {
    if (s["name"].get<std::string>().rfind(prefix, 0) == 0) out.push_back(s);
  }
  return out;
}

class TracingRuntimeTest : public test::SqliteRuntimeTest {
 protected:
  void TearDown() override {
    nodes_.clear();
    tracers_.clear();
    SqliteRuntimeTest::TearDown();
  }

  // A tracer exporting to `collector` (as each process has its own).
  Tracer* NewTracer(const TestHttpServer& collector, OtlpExporterOptions options = {}) {
    options.endpoint = collector.Url("/");
    options.service_name = "trellis-test";
    tracers_.push_back(std::make_unique<Tracer>(std::make_unique<OtlpExporter>(options)));
    return tracers_.back().get();
  }

  Node& StartNode(Tracer* tracer, NodeOptions options = {}) {
    EngineServices services;
    services.clock = clock_;
    services.write_line = [](std::string_view) {};
    services.tracer = tracer;
    services.http = http_.get();
    options.worker.concurrency = 2;
    options.worker.poll_interval = 50ms;
    options.scheduler.poll_interval = 50ms;
    nodes_.push_back(std::make_unique<Node>(*store_, BuiltinActivities(), services, options));
    nodes_.back()->Start();
    return *nodes_.back();
  }

  // Every span the collector received, each checked to come with service.name.
  static std::vector<Json> Received(const TestHttpServer& collector) {
    std::vector<Json> spans;
    for (const auto& r : collector.Requests()) {
      Json body;
      std::string error;
      EXPECT_TRUE(ParseJson(r.body, &body, &error)) << error;
      for (const auto& rs : body["resourceSpans"]) {
        EXPECT_EQ(rs["resource"]["attributes"][0]["key"], "service.name");
        EXPECT_EQ(rs["resource"]["attributes"][0]["value"]["stringValue"], "trellis-test");
        for (const auto& ss : rs["scopeSpans"]) {
          for (const auto& s : ss["spans"]) spans.push_back(s);
        }
      }
    }
    return spans;
  }

  // Flushes every tracer until the received spans satisfy `done` (spans end on the committer,
  // possibly just after the commit a test waited for).
  std::vector<Json> WaitForSpans(const TestHttpServer& collector,
                                 const std::function<bool(const std::vector<Json>&)>& done) {
    auto until = std::chrono::steady_clock::now() + 20s;
    std::vector<Json> spans;
    while (std::chrono::steady_clock::now() < until) {
      for (auto& t : tracers_) t->Flush(5s);
      spans = Received(collector);
      if (done(spans)) return spans;
      std::this_thread::sleep_for(10ms);
    }
    ADD_FAILURE() << "spans never arrived; got " << Json(spans).dump(2);
    return spans;
  }

  std::unique_ptr<HttpClient> http_ = NewCurlHttpClient(SsrfGuard({"127.0.0.1"}), {});
  std::vector<std::unique_ptr<Tracer>> tracers_;
  std::vector<std::unique_ptr<Node>> nodes_;
};

TEST_F(TracingRuntimeTest, ADurableRunIsOneTraceUnderTheCallersSpan) {
  Save(kTwoSteps);
  TestHttpServer collector;
  Node& node = StartNode(NewTracer(collector));
  StartOptions start;
  start.traceparent = std::string("00-") + kCallerTrace + "-" + kCallerSpan + "-01";
  auto id = node.StartWorkflow("two", std::nullopt, std::move(start));
  ASSERT_TRUE(id.ok()) << id.status().message();
  InstanceRecord r = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(r.state["output"]["result"], 2);

  auto spans = WaitForSpans(collector, [](const std::vector<Json>& s) {
    return Named(s, "burst ").size() == 1 && Named(s, "activity ").size() == 2;
  });
  ASSERT_EQ(spans.size(), 4u) << Json(spans).dump(2);
  for (const auto& s : spans) {
    EXPECT_EQ(s["traceId"], kCallerTrace) << s["name"];
    EXPECT_EQ(s["kind"], 1);
    EXPECT_EQ(s["status"]["code"], 0);
    EXPECT_LE(std::stoll(s["startTimeUnixNano"].get<std::string>()),
              std::stoll(s["endTimeUnixNano"].get<std::string>()));
  }
  Json start_span = Named(spans, "start ").at(0);
  Json burst = Named(spans, "burst ").at(0);
  EXPECT_EQ(start_span["name"], "start two");
  EXPECT_EQ(start_span["parentSpanId"], kCallerSpan);
  EXPECT_EQ(Attr(start_span, "trellis.instance.id"), *id);
  EXPECT_EQ(burst["name"], "burst two");
  EXPECT_EQ(burst["parentSpanId"], start_span["spanId"]);
  EXPECT_EQ(Attr(burst, "trellis.instance.id"), *id);
  EXPECT_EQ(Attr(burst, "trellis.workflow.id"), "two");
  EXPECT_EQ(Attr(burst, "trellis.workflow.version"), "1");
  EXPECT_EQ(Attr(burst, "trellis.instance.status"), "Completed");
  EXPECT_EQ(Attr(burst, "trellis.node.id"), node.id());

  std::map<std::string, Json> activities;
  for (const auto& s : Named(spans, "activity ")) activities[Attr(s, "trellis.activity.id")] = s;
  ASSERT_EQ(activities.size(), 2u);
  EXPECT_EQ(activities["a"]["name"], "activity SetVariable");
  EXPECT_EQ(activities["b"]["name"], "activity SetOutput");
  for (auto& [aid, s] : activities) {
    EXPECT_EQ(s["parentSpanId"], burst["spanId"]) << aid;
    EXPECT_EQ(Attr(s, "trellis.activity.status"), "Completed");
    EXPECT_EQ(Attr(s, "trellis.activity.attempt"), "1");
    EXPECT_EQ(Attr(s, "trellis.instance.id"), *id);
  }
  EXPECT_EQ(Attr(activities["b"], "trellis.activity.type"), "SetOutput");

  // The stored state carries the trace: the start span's traceparent.
  EXPECT_EQ(r.state["traceparent"],
            "00-" + std::string(kCallerTrace) + "-" + start_span["spanId"].get<std::string>() + "-01");
}

TEST_F(TracingRuntimeTest, ASuspendedInstanceContinuesItsTraceOnAnotherWorker) {
  Save(R"(
id: waiter
activities:
  - {id: before, type: SetVariable, name: x, value: 1}
  - {id: w, type: WaitForEvent, event: go}
  - {id: after, type: SetOutput, name: done, value: true}
)");
  TestHttpServer collector;
  Node& first = StartNode(NewTracer(collector));
  auto id = first.StartWorkflow("waiter", std::nullopt, {});
  ASSERT_TRUE(id.ok()) << id.status().message();
  InstanceRecord suspended = WaitFor(*id, InstanceStatus::kSuspended);
  std::string traceparent = suspended.state.value("traceparent", "");
  ASSERT_EQ(traceparent.size(), 55u);
  first.Stop(5s);

  // Another worker with its own tracer (another process, as far as tracing can tell).
  Node& second = StartNode(NewTracer(collector));
  auto delivered = store_->DeliverEvent({"go", "", {{"ok", true}}}, 60s, clock_->Now());
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->resumed, 1);
  InstanceRecord done = WaitFor(*id, InstanceStatus::kCompleted);
  EXPECT_EQ(done.state["traceparent"], traceparent);

  auto spans = WaitForSpans(collector, [](const std::vector<Json>& s) {
    return Named(s, "burst ").size() == 2 && Named(s, "activity ").size() == 4;
  });
  auto tp = *ParseTraceparent(traceparent);
  Json start_span = Named(spans, "start ").at(0);
  EXPECT_FALSE(start_span.contains("parentSpanId"));  // no caller: the instance roots its trace
  EXPECT_EQ(start_span["spanId"], tp.span_id_hex());
  std::map<std::string, Json> bursts;  // by node
  for (const auto& s : spans) EXPECT_EQ(s["traceId"], tp.trace_id_hex()) << s["name"];
  for (const auto& b : Named(spans, "burst ")) {
    EXPECT_EQ(b["parentSpanId"], start_span["spanId"]);
    bursts[Attr(b, "trellis.node.id")] = b;
  }
  ASSERT_EQ(bursts.size(), 2u);
  EXPECT_EQ(Attr(bursts[first.id()], "trellis.instance.status"), "Suspended");
  EXPECT_EQ(Attr(bursts[second.id()], "trellis.instance.status"), "Completed");

  // The wait ran twice: it suspended in the first burst and resumed in the second.
  std::multimap<std::string, Json> activities;
  for (const auto& s : Named(spans, "activity ")) activities.emplace(Attr(s, "trellis.activity.id"), s);
  EXPECT_EQ(activities.find("before")->second["parentSpanId"], bursts[first.id()]["spanId"]);
  EXPECT_EQ(activities.find("after")->second["parentSpanId"], bursts[second.id()]["spanId"]);
  std::map<std::string, std::string> wait_status;
  for (auto [it, end] = activities.equal_range("w"); it != end; ++it)
    wait_status[it->second["parentSpanId"]] = Attr(it->second, "trellis.activity.status");
  EXPECT_EQ(wait_status[bursts[first.id()]["spanId"]], "Suspended");
  EXPECT_EQ(wait_status[bursts[second.id()]["spanId"]], "Completed");
}

TEST_F(TracingRuntimeTest, HttpRequestSendsItsActivitySpansTraceparentUnlessTheUserSetOne) {
  Save(R"(
id: caller
inputs: {url: {type: string, required: true}}
activities:
  - {id: call, type: HttpRequest, url: "{{ input.url }}"}
  - {id: own, type: HttpRequest, url: "{{ input.url }}",
     headers: {TraceParent: "00-11111111111111111111111111111111-2222222222222222-01"}}
)");
  TestHttpServer collector;
  TestHttpServer target;
  Node& node = StartNode(NewTracer(collector));
  auto id = node.StartWorkflow("caller", std::nullopt, {.input = {{"url", target.Url("/hook")}}});
  ASSERT_TRUE(id.ok()) << id.status().message();
  WaitFor(*id, InstanceStatus::kCompleted);
  ASSERT_TRUE(target.WaitForRequests(2));
  auto requests = target.Requests();

  auto spans =
      WaitForSpans(collector, [](const std::vector<Json>& s) { return Named(s, "activity ").size() == 2; });
  std::map<std::string, Json> activities;
  for (const auto& s : Named(spans, "activity ")) activities[Attr(s, "trellis.activity.id")] = s;
  const Json& call = activities["call"];
  EXPECT_EQ(call["name"], "activity HttpRequest");
  EXPECT_EQ(requests[0].Header("traceparent").value_or("<none>"),
            "00-" + call["traceId"].get<std::string>() + "-" + call["spanId"].get<std::string>() + "-01");
  EXPECT_EQ(requests[1].Header("traceparent").value_or("<none>"),
            "00-11111111111111111111111111111111-2222222222222222-01");
  size_t sent = 0;
  for (const auto& [k, v] : requests[1].headers) sent += (k == "traceparent" || k == "TraceParent") ? 1 : 0;
  EXPECT_EQ(sent, 1u);
}

TEST_F(TracingRuntimeTest, WithTracingOffNoTraceparentIsSentOrStored) {
  Save(R"(
id: plain
inputs: {url: {type: string, required: true}}
activities:
  - {id: call, type: HttpRequest, url: "{{ input.url }}"}
)");
  TestHttpServer target;
  Node& node = StartNode(nullptr);
  auto id = node.StartWorkflow("plain", std::nullopt, {.input = {{"url", target.Url("/")}}});
  ASSERT_TRUE(id.ok()) << id.status().message();
  InstanceRecord r = WaitFor(*id, InstanceStatus::kCompleted);
  ASSERT_TRUE(target.WaitForRequests(1));
  EXPECT_FALSE(target.Requests()[0].Header("traceparent").has_value());
  EXPECT_FALSE(r.state.contains("traceparent"));
}

TEST_F(TracingRuntimeTest, AnInstanceCreatedWithTracingOffIsTracedByATracingWorker) {
  Save(R"(
id: one
activities:
  - {id: a, type: SetOutput, name: ok, value: true}
)");
  // The creating process (an API server without tracing) stores the caller's traceparent as is;
  // a second instance has none. Neither is run there.
  NodeOptions creator_options;
  creator_options.run_worker = false;
  creator_options.run_scheduler = false;
  Node& creator = StartNode(nullptr, creator_options);
  std::string caller = std::string("00-") + kCallerTrace + "-" + kCallerSpan + "-01";
  auto with = creator.StartWorkflow("one", std::nullopt, {.traceparent = caller});
  auto without = creator.StartWorkflow("one", std::nullopt, {.traceparent = "not a traceparent"});
  ASSERT_TRUE(with.ok() && without.ok());
  auto stored = store_->GetInstance(*with);
  ASSERT_TRUE(stored.ok());
  EXPECT_EQ(stored->state["traceparent"], caller);
  auto stored_without = store_->GetInstance(*without);
  ASSERT_TRUE(stored_without.ok());
  EXPECT_FALSE(stored_without->state.contains("traceparent"));

  TestHttpServer collector;
  StartNode(NewTracer(collector));
  WaitFor(*with, InstanceStatus::kCompleted);
  InstanceRecord rooted = WaitFor(*without, InstanceStatus::kCompleted);
  auto spans =
      WaitForSpans(collector, [](const std::vector<Json>& s) { return Named(s, "burst ").size() == 2; });
  std::map<std::string, Json> bursts;
  for (const auto& b : Named(spans, "burst ")) bursts[Attr(b, "trellis.instance.id")] = b;
  EXPECT_EQ(bursts[*with]["traceId"], kCallerTrace);
  EXPECT_EQ(bursts[*with]["parentSpanId"], kCallerSpan);
  // No trace yet: the first traced burst roots it, and the state remembers it for later bursts.
  EXPECT_FALSE(bursts[*without].contains("parentSpanId"));
  EXPECT_EQ(rooted.state["traceparent"], "00-" + bursts[*without]["traceId"].get<std::string>() + "-" +
                                             bursts[*without]["spanId"].get<std::string>() + "-01");
}

TEST_F(TracingRuntimeTest, AHungCollectorHoldsUpNoWorkflow) {
  Save(kTwoSteps);
  std::atomic<bool> release{false};
  TestHttpServer collector([&](const TestHttpRequest&) {
    TestHttpResponse r;
    r.hold_until = [&] { return release.load(); };
    return r;
  });
  OtlpExporterOptions options;
  options.max_queue = 8;
  options.max_batch = 4;
  options.request_timeout = 60s;
  options.shutdown_timeout = 200ms;
  Tracer* tracer = NewTracer(collector, options);
  Node& node = StartNode(tracer);
  std::vector<std::string> ids;
  for (int i = 0; i < 50; ++i) {
    auto id = node.StartWorkflow("two", std::nullopt, {});
    ASSERT_TRUE(id.ok()) << id.status().message();
    ids.push_back(*id);
  }
  for (const auto& id : ids) EXPECT_EQ(WaitFor(id, InstanceStatus::kCompleted).state["output"]["result"], 2);
  ASSERT_TRUE(collector.WaitForRequests(1));  // the exporter is stuck in its first request
  auto& exporter = static_cast<OtlpExporter&>(tracer->sink());
  EXPECT_GT(exporter.stats().dropped, 0);
  node.Stop(5s);
  auto start = std::chrono::steady_clock::now();
  tracers_.clear();  // shutting down keeps its 200 ms deadline (plus curl's abort check)
  EXPECT_LT(std::chrono::steady_clock::now() - start, 10s);
  release = true;
}

TEST(TracingStateTest, TheTraceparentRoundTripsAndOldStatesWithoutItStillLoad) {
  InstanceState s;
  s.id = "i-1";
  s.workflow_id = "wf";
  s.version = 1;
  s.status = InstanceStatus::kSuspended;
  s.traceparent = "00-0af7651916cd43dd8448eb211c80319c-b7ad6b7169203331-01";
  Json j = StateToJson(s, {});
  EXPECT_EQ(j["traceparent"], s.traceparent);
  auto back = StateFromJson(j, {});
  ASSERT_TRUE(back.ok()) << back.status().message();
  EXPECT_EQ(back->traceparent, s.traceparent);
  EXPECT_EQ(StateToJson(*back, {}), j);

  j.erase("traceparent");  // a state stored before tracing existed
  auto old = StateFromJson(j, {});
  ASSERT_TRUE(old.ok()) << old.status().message();
  EXPECT_EQ(old->traceparent, "");
  EXPECT_FALSE(StateToJson(*old, {}).contains("traceparent"));
}

}  // namespace
}  // namespace trellis
