// A small Prometheus client: counters, gauges and histograms in families with fixed label names, a
// Registry that owns them, collectors evaluated at scrape time, and the text exposition format
// 0.0.4 (https://prometheus.io/docs/instrumenting/exposition_formats/).
//
// The hot path is lock-free: `family.WithLabels({"GET", "/api/x", "200"})` finds or creates a child
// (a shared lock and a hash lookup) and returns a reference that stays valid for the registry's
// lifetime, so callers look a child up once and cache it; Inc/Set/Observe on a child are relaxed
// atomics. Rendering takes locks and allocates; it runs once per scrape.
//
// Misuse (an invalid or clashing name, the wrong number of label values) is a programmer error:
// it prints what was wrong and aborts, like an assertion that stays on in release builds.
//
// Label cardinality is the caller's responsibility: every distinct set of label values is a time
// series kept for the life of the process. Label values must come from small, bounded sets (a
// route pattern such as "/api/workflows/{id}", never the raw path; a status, never an id).
#pragma once

#include <atomic>
#include <cstdint>
#include <functional>
#include <initializer_list>
#include <map>
#include <memory>
#include <mutex>
#include <shared_mutex>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

namespace trellis::metrics {

enum class MetricType { kCounter, kGauge, kHistogram };
const char* MetricTypeName(MetricType type);  // "counter", "gauge", "histogram"

// Only goes up. Whole increments go to an integer (one fetch_add); fractional ones to a double.
class alignas(64) Counter {
 public:
  Counter() = default;
  Counter(const Counter&) = delete;
  Counter& operator=(const Counter&) = delete;

  void Inc() { whole_.fetch_add(1, std::memory_order_relaxed); }
  // A negative or NaN amount is ignored (counters never go down).
  void Inc(double amount);
  double Value() const;

 private:
  std::atomic<uint64_t> whole_{0};
  std::atomic<double> fraction_{0.0};
};

class alignas(64) Gauge {
 public:
  Gauge() = default;
  Gauge(const Gauge&) = delete;
  Gauge& operator=(const Gauge&) = delete;

  void Set(double value) { value_.store(value, std::memory_order_relaxed); }
  void Inc(double amount = 1) { value_.fetch_add(amount, std::memory_order_relaxed); }
  void Dec(double amount = 1) { value_.fetch_sub(amount, std::memory_order_relaxed); }
  double Value() const { return value_.load(std::memory_order_relaxed); }

 private:
  std::atomic<double> value_{0.0};
};

// Prometheus's default buckets (seconds): 5 ms to 10 s.
const std::vector<double>& DefaultBuckets();
// start, start*factor, ... (count bounds).
std::vector<double> ExponentialBuckets(double start, double factor, int count);

// Counts observations into buckets by upper bound (inclusive), plus their sum. The bounds are
// finite and strictly increasing; the +Inf bucket is implicit.
class Histogram {
 public:
  explicit Histogram(std::shared_ptr<const std::vector<double>> bounds);
  Histogram(const Histogram&) = delete;
  Histogram& operator=(const Histogram&) = delete;

  void Observe(double value);

  struct Snapshot {
    std::vector<uint64_t> cumulative;  // one per bound, then +Inf (== count)
    uint64_t count = 0;
    double sum = 0;
  };
  // Count is the sum of the buckets read, so the +Inf bucket and _count always agree; the sum may
  // trail an observation that is in progress.
  Snapshot Collect() const;
  const std::vector<double>& bounds() const { return *bounds_; }

 private:
  std::shared_ptr<const std::vector<double>> bounds_;
  std::unique_ptr<std::atomic<uint64_t>[]> counts_;  // per bucket (not cumulative), +Inf last
  std::atomic<double> sum_{0.0};
};

// ---------------------------------------------------------------------------------------------
// What a scrape sees: families of samples, from the registry's own families or from collectors.

struct Sample {
  std::vector<std::string> label_values;  // in the family's label_names order
  double value = 0;                       // counter, gauge
  Histogram::Snapshot histogram;          // histogram
};

struct FamilySnapshot {
  std::string name;  // counters end in _total
  std::string help;
  MetricType type = MetricType::kGauge;
  std::vector<std::string> label_names;
  std::vector<double> bounds;  // histogram
  std::vector<Sample> samples;
};

// The text format 0.0.4: families sorted by name, samples by label values; a family without
// samples is left out.
std::string RenderText(std::vector<FamilySnapshot> families);
// A sample value or bucket bound: integers as digits, "+Inf", "-Inf", "NaN", otherwise the
// shortest decimal that reads back as the same double.
std::string FormatValue(double value);
std::string EscapeLabelValue(std::string_view value);  // \ " and newline
std::string EscapeHelp(std::string_view help);         // \ and newline

// ---------------------------------------------------------------------------------------------
// Families.

namespace detail {
[[noreturn]] void Misuse(const std::string& message);
// Label values encoded as one map key (length-prefixed, so no separator can be ambiguous).
void EncodeKey(std::span<const std::string_view> values, std::string& key);
struct KeyHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};
void Fill(const Counter& c, Sample& s);
void Fill(const Gauge& g, Sample& s);
void Fill(const Histogram& h, Sample& s);
}  // namespace detail

class FamilyBase {
 public:
  virtual ~FamilyBase() = default;
  const std::string& name() const { return name_; }
  MetricType type() const { return type_; }
  const std::vector<std::string>& label_names() const { return label_names_; }
  virtual FamilySnapshot Snapshot() const = 0;

 protected:
  FamilyBase(std::string name, std::string help, MetricType type, std::vector<std::string> label_names)
      : name_(std::move(name)), help_(std::move(help)), type_(type), label_names_(std::move(label_names)) {}
  FamilySnapshot Header() const { return {name_, help_, type_, label_names_, {}, {}}; }

  const std::string name_;
  const std::string help_;
  const MetricType type_;
  const std::vector<std::string> label_names_;
};

// Children by label values. A child, once made, lives as long as the family (the registry).
template <typename T>
class Family final : public FamilyBase {
 public:
  using Factory = std::function<std::unique_ptr<T>()>;
  Family(std::string name, std::string help, MetricType type, std::vector<std::string> label_names,
         Factory make)
      : FamilyBase(std::move(name), std::move(help), type, std::move(label_names)), make_(std::move(make)) {}

  // The child for these label values (as many as label_names), made on first use.
  T& WithLabels(std::initializer_list<std::string_view> values) {
    return WithLabels(std::span<const std::string_view>(values.begin(), values.size()));
  }
  T& WithLabels(const std::vector<std::string>& values) {
    std::vector<std::string_view> views(values.begin(), values.end());
    return WithLabels(std::span<const std::string_view>(views));
  }
  T& WithLabels(std::span<const std::string_view> values) {
    if (values.size() != label_names_.size()) {
      detail::Misuse(name_ + ": " + std::to_string(values.size()) + " label values for " +
                     std::to_string(label_names_.size()) + " label names");
    }
    thread_local std::string key;
    detail::EncodeKey(values, key);
    {
      std::shared_lock lock(mu_);
      auto it = children_.find(std::string_view(key));
      if (it != children_.end()) return *it->second.metric;
    }
    std::unique_lock lock(mu_);
    auto [it, made] = children_.try_emplace(key);
    if (made) {
      it->second.values.assign(values.begin(), values.end());
      it->second.metric = make_();
    }
    return *it->second.metric;
  }

  FamilySnapshot Snapshot() const override {
    FamilySnapshot out = Header();
    std::shared_lock lock(mu_);
    out.samples.reserve(children_.size());
    for (const auto& [key, child] : children_) {
      Sample s;
      s.label_values = child.values;
      detail::Fill(*child.metric, s);
      out.samples.push_back(std::move(s));
      if (out.bounds.empty() && type_ == MetricType::kHistogram) out.bounds = BoundsOf(*child.metric);
    }
    return out;
  }

 private:
  struct Child {
    std::vector<std::string> values;
    std::unique_ptr<T> metric;
  };
  static std::vector<double> BoundsOf(const T& metric) {
    if constexpr (std::is_same_v<T, Histogram>) {
      return metric.bounds();
    } else {
      return {};
    }
  }

  const Factory make_;
  mutable std::shared_mutex mu_;  // guards children_ (the map; children themselves are atomics)
  std::unordered_map<std::string, Child, detail::KeyHash, std::equal_to<>> children_;
};

using CounterFamily = Family<Counter>;
using GaugeFamily = Family<Gauge>;
using HistogramFamily = Family<Histogram>;

// ---------------------------------------------------------------------------------------------
// The registry.

class Registry {
 public:
  Registry() = default;
  Registry(const Registry&) = delete;
  Registry& operator=(const Registry&) = delete;

  // The process-wide registry that RenderMetrics() (trellis_metrics.h) exposes.
  static Registry& Default();

  // Registering a name again with the same type, help, labels (and buckets) returns the existing
  // family; anything else under a taken name aborts. Counter names must end in "_total".
  CounterFamily& AddCounterFamily(const std::string& name, const std::string& help,
                                  std::vector<std::string> label_names);
  GaugeFamily& AddGaugeFamily(const std::string& name, const std::string& help,
                              std::vector<std::string> label_names);
  HistogramFamily& AddHistogramFamily(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names, std::vector<double> bounds);
  // Families without labels: their one child.
  Counter& AddCounter(const std::string& name, const std::string& help);
  Gauge& AddGauge(const std::string& name, const std::string& help);
  Histogram& AddHistogram(const std::string& name, const std::string& help, std::vector<double> bounds);

  // A collector reports the families named in `names` (and only those) at scrape time. It runs
  // without the registry's lock held, one scrape at a time; it must not render this registry or
  // remove a collector.
  using CollectorId = uint64_t;
  using Collect = std::function<void(std::vector<FamilySnapshot>& out)>;
  CollectorId AddCollector(std::vector<std::string> names, Collect collect);
  // One value read at scrape time.
  CollectorId AddCallbackGauge(const std::string& name, const std::string& help, std::function<double()> fn);
  CollectorId AddCallbackCounter(const std::string& name, const std::string& help,
                                 std::function<double()> fn);
  // Once this returns, the collector is not running and will not run again; its names are free.
  void RemoveCollector(CollectorId id);

  // Every family's samples, sorted by name.
  std::vector<FamilySnapshot> Gather() const;
  // Gather() in the text format 0.0.4.
  std::string Render() const { return RenderText(Gather()); }

 private:
  struct Entry {
    MetricType type = MetricType::kGauge;
    std::string help;
    std::vector<double> bounds;
    std::unique_ptr<FamilyBase> family;  // null for a collector's name
    CollectorId collector = 0;
  };
  struct CollectorEntry {
    std::vector<std::string> names;
    Collect collect;
  };
  // The existing family of `name` when it matches, else registers `make()`.
  FamilyBase& Register(const std::string& name, const std::string& help, MetricType type,
                       const std::vector<std::string>& label_names, const std::vector<double>& bounds,
                       const std::function<std::unique_ptr<FamilyBase>()>& make);

  mutable std::mutex collect_mu_;  // held while collectors run: RemoveCollector waits for them
  mutable std::mutex mu_;          // guards entries_, collectors_, next_id_ (taken after collect_mu_)
  std::map<std::string, Entry> entries_;
  std::map<CollectorId, CollectorEntry> collectors_;
  CollectorId next_id_ = 1;
};

}  // namespace trellis::metrics
