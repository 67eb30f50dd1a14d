// The metrics library: the text exposition format to the byte, escaping, histogram buckets,
// registration rules, collectors, and exact totals under concurrent increments.
#include "observability/metrics.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <thread>
#include <vector>

namespace trellis::metrics {
namespace {

TEST(MetricsFormatTest, RendersCountersGaugesAndHistogramsExactly) {
  Registry r;
  auto& requests = r.AddCounterFamily("http_requests_total", "Requests.", {"method", "code"});
  requests.WithLabels({"GET", "200"}).Inc();
  requests.WithLabels({"GET", "200"}).Inc(2);
  requests.WithLabels({"POST", "500"}).Inc();
  r.AddGauge("queue_depth", "Waiting.").Set(7.5);
  auto& h = r.AddHistogram("latency_seconds", "Latency.", {0.1, 1});
  h.Observe(0.05);
  h.Observe(0.1);  // bounds are inclusive
  h.Observe(3);

  EXPECT_EQ(r.Render(),
            "# HELP http_requests_total Requests.\n"
            "# TYPE http_requests_total counter\n"
            "http_requests_total{method=\"GET\",code=\"200\"} 3\n"
            "http_requests_total{method=\"POST\",code=\"500\"} 1\n"
            "# HELP latency_seconds Latency.\n"
            "# TYPE latency_seconds histogram\n"
            "latency_seconds_bucket{le=\"0.1\"} 2\n"
            "latency_seconds_bucket{le=\"1\"} 2\n"
            "latency_seconds_bucket{le=\"+Inf\"} 3\n"
            "latency_seconds_sum 3.15\n"
            "latency_seconds_count 3\n"
            "# HELP queue_depth Waiting.\n"
            "# TYPE queue_depth gauge\n"
            "queue_depth 7.5\n");
}

TEST(MetricsFormatTest, LabelledHistogramPutsLeLastAndSortsSamplesByLabelValues) {
  Registry r;
  auto& f = r.AddHistogramFamily("d_seconds", "D.", {"route"}, {0.5});
  f.WithLabels({"/b"}).Observe(1);
  f.WithLabels({"/a"}).Observe(0.25);
  EXPECT_EQ(r.Render(),
            "# HELP d_seconds D.\n"
            "# TYPE d_seconds histogram\n"
            "d_seconds_bucket{route=\"/a\",le=\"0.5\"} 1\n"
            "d_seconds_bucket{route=\"/a\",le=\"+Inf\"} 1\n"
            "d_seconds_sum{route=\"/a\"} 0.25\n"
            "d_seconds_count{route=\"/a\"} 1\n"
            "d_seconds_bucket{route=\"/b\",le=\"0.5\"} 0\n"
            "d_seconds_bucket{route=\"/b\",le=\"+Inf\"} 1\n"
            "d_seconds_sum{route=\"/b\"} 1\n"
            "d_seconds_count{route=\"/b\"} 1\n");
}

TEST(MetricsFormatTest, EscapesLabelValuesAndHelp) {
  EXPECT_EQ(EscapeLabelValue(R"(a\b"c)"
                             "\n"
                             "d"),
            R"(a\\b\"c\nd)");
  EXPECT_EQ(EscapeHelp("quote \" stays, back\\slash\nnew line"), "quote \" stays, back\\\\slash\\nnew line");

  Registry r;
  r.AddCounterFamily("odd_total", "Line one\nline \\two.", {"v"}).WithLabels({"say \"hi\"\\\n"}).Inc();
  EXPECT_EQ(r.Render(),
            "# HELP odd_total Line one\\nline \\\\two.\n"
            "# TYPE odd_total counter\n"
            "odd_total{v=\"say \\\"hi\\\"\\\\\\n\"} 1\n");
}

TEST(MetricsFormatTest, FormatsValuesAsPrometheusParsesThem) {
  EXPECT_EQ(FormatValue(0), "0");
  EXPECT_EQ(FormatValue(42), "42");
  EXPECT_EQ(FormatValue(-3), "-3");
  EXPECT_EQ(FormatValue(0.005), "0.005");
  EXPECT_EQ(FormatValue(2.5), "2.5");
  EXPECT_EQ(FormatValue(0.0004), "0.0004");
  EXPECT_EQ(FormatValue(-12.125), "-12.125");
  EXPECT_EQ(FormatValue(0.00001), "1e-05");
  EXPECT_EQ(FormatValue(1e300), "1e+300");
  EXPECT_EQ(FormatValue(1e15), "1e+15");
  EXPECT_EQ(FormatValue(123456789012345.0), "123456789012345");
  EXPECT_EQ(FormatValue(std::numeric_limits<double>::infinity()), "+Inf");
  EXPECT_EQ(FormatValue(-std::numeric_limits<double>::infinity()), "-Inf");
  EXPECT_EQ(FormatValue(std::nan("")), "NaN");
  EXPECT_EQ(std::stod(FormatValue(0.1 + 0.2)), 0.1 + 0.2);  // round-trips
}

TEST(MetricsFormatTest, LeavesOutALabelledFamilyWithoutChildren) {
  Registry r;
  r.AddCounterFamily("nothing_yet_total", "None.", {"x"});
  r.AddCounter("zero_total", "Zero.");
  EXPECT_EQ(r.Render(),
            "# HELP zero_total Zero.\n"
            "# TYPE zero_total counter\n"
            "zero_total 0\n");
}

TEST(HistogramTest, CountsCumulativeBucketsWithInclusiveUpperBounds) {
  Histogram h(std::make_shared<const std::vector<double>>(std::vector<double>{1, 2, 5}));
  for (double v : {0.0, 1.0, 1.5, 2.0, 4.9, 5.0, 5.1, 100.0, -1.0}) h.Observe(v);
  Histogram::Snapshot s = h.Collect();
  EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{3, 5, 7, 9}));
  EXPECT_EQ(s.count, 9u);
  EXPECT_DOUBLE_EQ(s.sum, 0 + 1 + 1.5 + 2 + 4.9 + 5 + 5.1 + 100 - 1);
}

TEST(HistogramTest, NaNGoesToTheInfBucket) {
  Histogram h(std::make_shared<const std::vector<double>>(std::vector<double>{1}));
  h.Observe(std::nan(""));
  EXPECT_EQ(h.Collect().cumulative, (std::vector<uint64_t>{0, 1}));
}

TEST(HistogramTest, BucketHelpers) {
  EXPECT_EQ(DefaultBuckets().size(), 11u);
  EXPECT_EQ(ExponentialBuckets(1, 2, 4), (std::vector<double>{1, 2, 4, 8}));
}

TEST(CounterTest, AddsWholeAndFractionalAmountsAndNeverGoesDown) {
  Counter c;
  c.Inc();
  c.Inc(2);
  c.Inc(0.5);
  c.Inc(-10);
  c.Inc(std::nan(""));
  EXPECT_DOUBLE_EQ(c.Value(), 3.5);
}

TEST(GaugeTest, SetsIncrementsAndDecrements) {
  Gauge g;
  g.Set(10);
  g.Inc();
  g.Dec(4);
  g.Inc(0.25);
  EXPECT_DOUBLE_EQ(g.Value(), 7.25);
}

TEST(RegistryTest, RegisteringTheSameFamilyAgainReturnsIt) {
  Registry r;
  auto& a = r.AddCounterFamily("a_total", "A.", {"x"});
  auto& b = r.AddCounterFamily("a_total", "A.", {"x"});
  EXPECT_EQ(&a, &b);
  EXPECT_EQ(&a.WithLabels({"1"}), &b.WithLabels({"1"}));
  EXPECT_NE(&a.WithLabels({"1"}), &a.WithLabels({"2"}));
  EXPECT_EQ(&r.AddCounter("b_total", "B."), &r.AddCounter("b_total", "B."));
}

TEST(RegistryTest, LabelValuesThatLookAlikeAreDifferentChildren) {
  Registry r;
  auto& f = r.AddCounterFamily("k_total", "K.", {"a", "b"});
  std::string nul("x\0", 2);
  EXPECT_NE(&f.WithLabels({nul, "y"}), &f.WithLabels({"x", std::string_view("\0y", 2)}));
  EXPECT_NE(&f.WithLabels({"ab", ""}), &f.WithLabels({"a", "b"}));
}

TEST(RegistryDeathTest, MisuseAborts) {
  GTEST_FLAG_SET(death_test_style, "threadsafe");
  Registry r;
  EXPECT_DEATH(r.AddCounter("no_suffix", "x"), "end in _total");
  EXPECT_DEATH(r.AddGauge("bad-name", "x"), "invalid metric name");
  EXPECT_DEATH(r.AddGauge("g", ""), "help text is empty");
  EXPECT_DEATH(r.AddCounterFamily("l_total", "x", {"__reserved"}), "invalid label name");
  EXPECT_DEATH(r.AddCounterFamily("d_total", "x", {"a", "a"}), "twice");
  EXPECT_DEATH(r.AddHistogramFamily("h", "x", {"le"}, {1}), "reserved");
  EXPECT_DEATH(r.AddHistogram("h", "x", {2, 1}), "must increase");
  EXPECT_DEATH(r.AddHistogram("h", "x", {}), "at least one");
  r.AddGaugeFamily("taken", "x", {"a"});
  EXPECT_DEATH(r.AddGaugeFamily("taken", "x", {"b"}), "different");
  EXPECT_DEATH(r.AddCounter("taken", "x"), "end in _total");
  EXPECT_DEATH(r.AddCallbackGauge("taken", "x", [] { return 1.0; }), "already registered");
  auto& f = r.AddCounterFamily("n_total", "x", {"a", "b"});
  EXPECT_DEATH(f.WithLabels({"only one"}), "1 label values for 2 label names");
}

TEST(RegistryTest, CallbackMetricsAreReadAtScrapeTimeAndCanBeRemoved) {
  Registry r;
  double value = 1;
  auto id = r.AddCallbackGauge("temperature", "T.", [&] { return value; });
  r.AddCallbackCounter("things_total", "T.", [] { return 5.0; });
  EXPECT_NE(r.Render().find("temperature 1\n"), std::string::npos);
  value = 2;
  std::string text = r.Render();
  EXPECT_NE(text.find("# TYPE temperature gauge\ntemperature 2\n"), std::string::npos);
  EXPECT_NE(text.find("# TYPE things_total counter\nthings_total 5\n"), std::string::npos);
  r.RemoveCollector(id);
  EXPECT_EQ(r.Render().find("temperature"), std::string::npos);
  r.AddGauge("temperature", "Now a plain gauge.");  // the name is free again
}

TEST(RegistryTest, ACollectorReportsOnlyTheFamiliesItDeclared) {
  Registry r;
  r.AddCollector({"declared"}, [](std::vector<FamilySnapshot>& out) {
    out.push_back(
        {"declared", "D.", MetricType::kGauge, {"k"}, {}, {Sample{{"b"}, 2, {}}, Sample{{"a"}, 1, {}}}});
    out.push_back({"declared", "Twice.", MetricType::kGauge, {}, {}, {Sample{{}, 3, {}}}});
    out.push_back({"undeclared", "U.", MetricType::kGauge, {}, {}, {Sample{{}, 1, {}}}});
  });
  EXPECT_EQ(r.Render(),
            "# HELP declared D.\n"
            "# TYPE declared gauge\n"
            "declared{k=\"a\"} 1\n"
            "declared{k=\"b\"} 2\n");
}

TEST(MetricsConcurrencyTest, ManyThreadsIncrementingGiveExactTotals) {
  Registry r;
  auto& family = r.AddCounterFamily("hits_total", "Hits.", {"route"});
  auto& gauge = r.AddGauge("inflight", "In flight.");
  auto& hist = r.AddHistogramFamily("t_seconds", "T.", {"route"}, {0.5, 1.5});
  constexpr int kThreads = 8;
  constexpr int kPerThread = 50000;
  std::atomic<bool> done{false};
  // A scraper renders throughout, as Prometheus would.
  std::thread scraper([&] {
    while (!done.load()) (void)r.Render();
  });
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&, t] {
      Counter& shared = family.WithLabels({"/shared"});
      for (int i = 0; i < kPerThread; ++i) {
        shared.Inc();
        // Lookups (and first-time creation races) of children from every thread.
        family.WithLabels({"/route" + std::to_string(i % 16)}).Inc();
        gauge.Inc();
        gauge.Dec();
        hist.WithLabels({t % 2 ? "/odd" : "/even"}).Observe(i % 2 ? 1.0 : 0.25);
      }
    });
  }
  for (auto& t : threads) t.join();
  done = true;
  scraper.join();

  EXPECT_EQ(family.WithLabels({"/shared"}).Value(), double(kThreads) * kPerThread);
  double routes = 0;
  for (int i = 0; i < 16; ++i) routes += family.WithLabels({"/route" + std::to_string(i)}).Value();
  EXPECT_EQ(routes, double(kThreads) * kPerThread);
  EXPECT_EQ(gauge.Value(), 0);
  for (const char* route : {"/odd", "/even"}) {
    Histogram::Snapshot s = hist.WithLabels({route}).Collect();
    EXPECT_EQ(s.count, uint64_t(kThreads / 2) * kPerThread);
    EXPECT_EQ(s.cumulative, (std::vector<uint64_t>{s.count / 2, s.count, s.count}));
    EXPECT_DOUBLE_EQ(s.sum, (kThreads / 2) * (kPerThread / 2) * 1.25);
  }
}

TEST(MetricsConcurrencyTest, FractionalIncrementsFromManyThreadsAddUp) {
  Counter c;
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&] {
      for (int i = 0; i < 10000; ++i) c.Inc(0.5);
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_DOUBLE_EQ(c.Value(), 20000);
}

TEST(MetricsConcurrencyTest, RemovingACollectorWaitsForAScrapeInProgress) {
  Registry r;
  std::atomic<bool> entered{false};
  std::atomic<bool> release{false};
  std::atomic<bool> finished{false};
  auto id = r.AddCollector({"slow"}, [&](std::vector<FamilySnapshot>& out) {
    entered = true;
    while (!release.load()) std::this_thread::yield();
    out.push_back({"slow", "S.", MetricType::kGauge, {}, {}, {Sample{{}, 1, {}}}});
    finished = true;
  });
  std::thread scrape([&] { (void)r.Render(); });
  while (!entered.load()) std::this_thread::yield();
  std::thread remover([&] {
    r.RemoveCollector(id);
    EXPECT_TRUE(finished.load());
  });
  release = true;
  remover.join();
  scrape.join();
}

}  // namespace
}  // namespace trellis::metrics
