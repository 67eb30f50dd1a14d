// W3C traceparent parsing and formatting, spans, and sampling, with an in-memory sink. The global
// operator new is counted here so that "tracing off costs no allocation" is checked, not assumed.
#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <mutex>
#include <new>
#include <set>
#include <thread>

#include "observability/tracing.h"

namespace {
thread_local int64_t g_allocations = 0;
}  // namespace

// The replacements pair malloc with free; g++ sees only the inlined `new` expression and warns.
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"

void* operator new(std::size_t n) {
  ++g_allocations;
  if (void* p = std::malloc(n == 0 ? 1 : n)) return p;
  throw std::bad_alloc();
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}

namespace trellis {
namespace {

constexpr const char* kValid = "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01";

class MemorySink final : public SpanSink {
 public:
  void Export(SpanData&& span) override {
    std::lock_guard lock(mu_);
    spans_.push_back(std::move(span));
  }
  std::vector<SpanData> spans() const {
    std::lock_guard lock(mu_);
    return spans_;
  }
  size_t size() const {
    std::lock_guard lock(mu_);
    return spans_.size();
  }

 private:
  mutable std::mutex mu_;
  std::vector<SpanData> spans_;
};

struct TestTracer {
  explicit TestTracer(double ratio = 1.0) {
    auto owned = std::make_unique<MemorySink>();
    sink = owned.get();
    tracer = std::make_unique<Tracer>(std::move(owned), TracerOptions{.sample_ratio = ratio});
  }
  MemorySink* sink;
  std::unique_ptr<Tracer> tracer;
};

std::string StringAttr(const SpanData& s, std::string_view key) {
  const AttributeValue* v = s.attribute(key);
  return v != nullptr && std::holds_alternative<std::string>(*v) ? std::get<std::string>(*v) : "<missing>";
}

TEST(TraceparentTest, ParsesAValidHeader) {
  auto c = ParseTraceparent(kValid);
  ASSERT_TRUE(c.has_value());
  EXPECT_TRUE(c->valid());
  EXPECT_EQ(c->trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(c->span_id_hex(), "00f067aa0ba902b7");
  EXPECT_EQ(c->trace_id[0], 0x4b);
  EXPECT_EQ(c->span_id[7], 0xb7);
  EXPECT_TRUE(c->sampled);
  EXPECT_EQ(FormatTraceparent(*c), kValid);
}

TEST(TraceparentTest, ReadsTheSampledFlagAndIgnoresOtherFlagBits) {
  auto unsampled = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  ASSERT_TRUE(unsampled.has_value());
  EXPECT_FALSE(unsampled->sampled);
  EXPECT_EQ(FormatTraceparent(*unsampled), "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-00");
  auto other_bits = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-03");
  ASSERT_TRUE(other_bits.has_value());
  EXPECT_TRUE(other_bits->sampled);
  auto unsampled_other = ParseTraceparent("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-fe");
  ASSERT_TRUE(unsampled_other.has_value());
  EXPECT_FALSE(unsampled_other->sampled);
}

TEST(TraceparentTest, RejectsEveryMalformedHeader) {
  const char* bad[] = {
      "",
      "00",
      "garbage",
      // upper-case hex
      "00-4BF92F3577B34DA6A3CE929D0E0E4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00F067AA0BA902B7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0A",
      // other versions (strict: only 00), including the forbidden ff
      "01-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "ff-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // zero ids
      "00-00000000000000000000000000000000-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-0000000000000000-01",
      // wrong lengths
      "00-4bf92f3577b34da6a3ce929d0e0e473-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e47366-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b77-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-1",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-001",
      "0-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // non-hex characters
      "00-4bf92f3577b34da6a3ce929d0e0e473g-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902bz-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-0x",
      "0x-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      // separators
      "00_4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736_00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7_01",
      "004bf92f3577b34da6a3ce929d0e0e473600f067aa0ba902b701xxx",
      // extra text, whitespace
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01-extra",
      " 00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01",
      "00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-01 ",
  };
  for (const char* header : bad) EXPECT_FALSE(ParseTraceparent(header).has_value()) << "'" << header << "'";
  EXPECT_FALSE(
      ParseTraceparent(std::string_view("00-4bf92f3577b34da6a3ce929d0e0e4736-00f067aa0ba902b7-\0\0", 55))
          .has_value());
}

TEST(TraceparentTest, AnInvalidContextFormatsAsNothing) {
  EXPECT_EQ(FormatTraceparent(TraceContext{}), "");
  TraceContext only_trace;
  only_trace.trace_id[3] = 1;
  EXPECT_FALSE(only_trace.valid());
  EXPECT_EQ(FormatTraceparent(only_trace), "");
}

TEST(SpanTest, ARootSpanAndItsChildShareATraceAndLinkByParentId) {
  TestTracer t;
  Span root = t.tracer->StartSpan("root", SpanKind::kServer, TraceContext{});
  ASSERT_TRUE(root.recording());
  Span child = t.tracer->StartSpan("child", SpanKind::kClient, root.context());
  EXPECT_EQ(child.context().trace_id, root.context().trace_id);
  EXPECT_NE(child.context().span_id, root.context().span_id);
  child.SetAttribute("s", "text");
  child.SetAttribute("s2", std::string("owned"));
  child.SetAttribute("i", 42);
  child.SetAttribute("big", int64_t{1} << 40);
  child.SetAttribute("u", size_t{7});
  child.SetAttribute("b", true);
  child.SetAttribute("i", 43);  // replaces
  child.SetError("it broke");
  child.End();
  child.End();  // idempotent
  EXPECT_FALSE(child.recording());
  EXPECT_TRUE(child.context().valid());  // still answers after End
  root.End();

  auto spans = t.sink->spans();
  ASSERT_EQ(spans.size(), 2u);
  const SpanData& c = spans[0];
  const SpanData& r = spans[1];
  EXPECT_EQ(c.name, "child");
  EXPECT_EQ(c.kind, SpanKind::kClient);
  EXPECT_EQ(r.kind, SpanKind::kServer);
  EXPECT_FALSE(r.has_parent());
  EXPECT_TRUE(c.has_parent());
  EXPECT_EQ(c.parent_span_id, r.context.span_id);
  EXPECT_EQ(StringAttr(c, "s"), "text");
  EXPECT_EQ(StringAttr(c, "s2"), "owned");
  EXPECT_EQ(std::get<int64_t>(*c.attribute("i")), 43);
  EXPECT_EQ(std::get<int64_t>(*c.attribute("big")), int64_t{1} << 40);
  EXPECT_EQ(std::get<int64_t>(*c.attribute("u")), 7);
  EXPECT_EQ(std::get<bool>(*c.attribute("b")), true);
  EXPECT_EQ(c.attributes.size(), 6u);
  EXPECT_TRUE(c.error);
  EXPECT_EQ(c.status_message, "it broke");
  EXPECT_FALSE(r.error);
  EXPECT_GT(r.start_unix_nano, 0);
  EXPECT_LE(r.start_unix_nano, c.start_unix_nano);
  EXPECT_LE(c.start_unix_nano, c.end_unix_nano);
  EXPECT_LE(c.end_unix_nano, r.end_unix_nano);
}

TEST(SpanTest, DestroyingOrReplacingASpanEndsIt) {
  TestTracer t;
  { Span s = t.tracer->StartSpan("scoped", SpanKind::kInternal, TraceContext{}); }
  EXPECT_EQ(t.sink->size(), 1u);
  Span a = t.tracer->StartSpan("a", SpanKind::kInternal, TraceContext{});
  a = t.tracer->StartSpan("b", SpanKind::kInternal, TraceContext{});
  EXPECT_EQ(t.sink->size(), 2u);
  Span moved = std::move(a);
  EXPECT_FALSE(a.recording());  // NOLINT(bugprone-use-after-move): a moved-from span is empty
  EXPECT_FALSE(a.context().valid());
  moved = Span();
  EXPECT_EQ(t.sink->size(), 3u);
  EXPECT_EQ(t.sink->spans()[2].name, "b");
}

TEST(SpanTest, ServerSpansContinueAValidIncomingTraceparentAndOtherwiseStartANewTrace) {
  TestTracer t;
  Span s = StartServerSpan(t.tracer.get(), "GET /api", kValid);
  EXPECT_EQ(s.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
  EXPECT_EQ(s.traceparent().substr(0, 36), "00-4bf92f3577b34da6a3ce929d0e0e4736-");
  s.End();
  Span fresh = StartServerSpan(t.tracer.get(), "GET /api", "00-nonsense");
  EXPECT_TRUE(fresh.context().valid());
  EXPECT_NE(fresh.trace_id(), "4bf92f3577b34da6a3ce929d0e0e4736");
  fresh.End();
  Span none = StartServerSpan(t.tracer.get(), "GET /api", "");
  none.End();
  auto spans = t.sink->spans();
  ASSERT_EQ(spans.size(), 3u);
  EXPECT_EQ(spans[0].kind, SpanKind::kServer);
  EXPECT_EQ(spans[0].context.trace_id_hex(), "4bf92f3577b34da6a3ce929d0e0e4736");
  std::array<uint8_t, 8> parent = ParseTraceparent(kValid)->span_id;
  EXPECT_EQ(spans[0].parent_span_id, parent);
  EXPECT_FALSE(spans[1].has_parent());
  EXPECT_FALSE(spans[2].has_parent());
}

TEST(SpanTest, TracingOffCostsNoAllocation) {
  // No assertion runs inside the counted regions: only the tracing calls are counted.
  bool recording = true, valid = true, server_recording = true;
  int64_t before = g_allocations;
  {
    Span s = StartSpan(nullptr, "activity", SpanKind::kInternal);
    s.SetName("activity HttpRequest with a long name that would not fit in a small string");
    s.SetAttribute("trellis.instance.id", "0190b3c4-6a7e-7c1d-9b1e-0123456789ab");
    s.SetAttribute("trellis.activity.attempt", 3);
    s.SetAttribute("ok", true);
    s.SetError("an error message long enough to need the heap if it were copied");
    recording = s.recording();
    valid = s.context().valid();
    Span server = StartServerSpan(nullptr, "GET /x", kValid);
    server_recording = server.recording();
    s.End();
  }
  int64_t off = g_allocations - before;
  EXPECT_EQ(off, 0);
  EXPECT_FALSE(recording);
  EXPECT_FALSE(valid);
  EXPECT_FALSE(server_recording);

  // A span that is not sampled gets ids to propagate, but allocates nothing either.
  TestTracer unsampled(0.0);
  bool sampled = true;
  before = g_allocations;
  {
    Span s = unsampled.tracer->StartSpan("activity", SpanKind::kInternal, TraceContext{});
    s.SetAttribute("trellis.instance.id", "0190b3c4-6a7e-7c1d-9b1e-0123456789ab");
    valid = s.context().valid();
    sampled = s.context().sampled;
  }
  int64_t not_sampled = g_allocations - before;
  EXPECT_EQ(not_sampled, 0);
  EXPECT_TRUE(valid);
  EXPECT_FALSE(sampled);
  EXPECT_EQ(unsampled.sink->size(), 0u);
}

TEST(SamplingTest, RatioOneSamplesEveryRootAndRatioZeroNone) {
  TestTracer all(1.0), none(0.0);
  for (int i = 0; i < 1000; ++i) {
    Span a = all.tracer->StartSpan("a", SpanKind::kInternal, TraceContext{});
    EXPECT_TRUE(a.context().sampled);
    Span n = none.tracer->StartSpan("n", SpanKind::kInternal, TraceContext{});
    EXPECT_FALSE(n.context().sampled);
    EXPECT_TRUE(n.context().valid());
    EXPECT_EQ(n.traceparent().substr(53), "00");
  }
  EXPECT_EQ(all.sink->size(), 1000u);
  EXPECT_EQ(none.sink->size(), 0u);
}

TEST(SamplingTest, AChildFollowsItsParentsFlagWhateverTheRatio) {
  TestTracer none(0.0), all(1.0);
  TraceContext sampled_parent = *ParseTraceparent(kValid);
  TraceContext unsampled_parent = sampled_parent;
  unsampled_parent.sampled = false;
  Span a = none.tracer->StartSpan("a", SpanKind::kInternal, sampled_parent);
  EXPECT_TRUE(a.recording());
  a.End();
  Span b = all.tracer->StartSpan("b", SpanKind::kInternal, unsampled_parent);
  EXPECT_FALSE(b.recording());
  EXPECT_EQ(b.context().trace_id, unsampled_parent.trace_id);
  EXPECT_EQ(b.traceparent().substr(53), "00");
  EXPECT_EQ(none.sink->size(), 1u);
  EXPECT_EQ(all.sink->size(), 0u);
}

TEST(SamplingTest, ARatioSamplesAboutThatShareOfRootsAndDecidesByTraceId) {
  TestTracer quarter(0.25);
  TestTracer other(0.25);
  int sampled = 0;
  constexpr int kRoots = 20000;
  for (int i = 0; i < kRoots; ++i) {
    Span s = quarter.tracer->StartSpan("r", SpanKind::kInternal, TraceContext{});
    if (s.context().sampled) ++sampled;
    // Another process with the same ratio decides the same for the same trace.
    EXPECT_EQ(other.tracer->ShouldSample(s.context().trace_id), s.context().sampled);
  }
  EXPECT_GT(sampled, kRoots * 22 / 100);
  EXPECT_LT(sampled, kRoots * 28 / 100);
  EXPECT_EQ(quarter.sink->size(), static_cast<size_t>(sampled));
}

TEST(SpanTest, IdsAreUniqueAcrossThreads) {
  TestTracer t;
  std::vector<std::thread> threads;
  std::mutex mu;
  std::set<std::string> ids;
  for (int i = 0; i < 4; ++i) {
    threads.emplace_back([&] {
      for (int k = 0; k < 500; ++k) {
        Span s = t.tracer->StartSpan("x", SpanKind::kInternal, TraceContext{});
        std::lock_guard lock(mu);
        ids.insert(s.context().span_id_hex());
      }
    });
  }
  for (auto& th : threads) th.join();
  EXPECT_EQ(ids.size(), 2000u);
  EXPECT_EQ(t.sink->size(), 2000u);
}

}  // namespace
}  // namespace trellis
