#include "observability/metrics.h"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <set>

#include "core/log.h"

namespace trellis::metrics {

const char* MetricTypeName(MetricType type) {
  switch (type) {
    case MetricType::kCounter: return "counter";
    case MetricType::kGauge: return "gauge";
    case MetricType::kHistogram: return "histogram";
  }
  return "untyped";
}

// ---------------------------------------------------------------------------------------------
// Counter, Histogram

namespace {

// Whole amounts below 2^53 are exact in a double and go to the integer part.
constexpr double kMaxExactWhole = 9007199254740992.0;

}  // namespace

void Counter::Inc(double amount) {
  if (!(amount > 0)) return;  // negative, zero, NaN
  if (amount < kMaxExactWhole && amount == std::floor(amount)) {
    whole_.fetch_add(static_cast<uint64_t>(amount), std::memory_order_relaxed);
  } else {
    fraction_.fetch_add(amount, std::memory_order_relaxed);
  }
}

double Counter::Value() const {
  return static_cast<double>(whole_.load(std::memory_order_relaxed)) +
         fraction_.load(std::memory_order_relaxed);
}

const std::vector<double>& DefaultBuckets() {
  static const std::vector<double> kBuckets = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10};
  return kBuckets;
}

std::vector<double> ExponentialBuckets(double start, double factor, int count) {
  if (!(start > 0) || !(factor > 1) || count < 1) {
    detail::Misuse("ExponentialBuckets needs start > 0, factor > 1 and count >= 1");
  }
  std::vector<double> out;
  out.reserve(static_cast<size_t>(count));
  for (double b = start; count-- > 0; b *= factor) out.push_back(b);
  return out;
}

Histogram::Histogram(std::shared_ptr<const std::vector<double>> bounds)
    : bounds_(std::move(bounds)), counts_(new std::atomic<uint64_t>[bounds_->size() + 1]) {
  for (size_t i = 0; i <= bounds_->size(); ++i) counts_[i].store(0, std::memory_order_relaxed);
}

void Histogram::Observe(double value) {
  const std::vector<double>& b = *bounds_;
  // The first bound >= value (bounds are inclusive upper limits); NaN lands in +Inf.
  size_t i = std::isnan(value) ? b.size()
                               : static_cast<size_t>(std::lower_bound(b.begin(), b.end(), value) - b.begin());
  counts_[i].fetch_add(1, std::memory_order_relaxed);
  sum_.fetch_add(value, std::memory_order_relaxed);
}

Histogram::Snapshot Histogram::Collect() const {
  Snapshot s;
  s.cumulative.resize(bounds_->size() + 1);
  uint64_t total = 0;
  for (size_t i = 0; i <= bounds_->size(); ++i) {
    total += counts_[i].load(std::memory_order_relaxed);
    s.cumulative[i] = total;
  }
  s.count = total;
  s.sum = sum_.load(std::memory_order_relaxed);
  return s;
}

// ---------------------------------------------------------------------------------------------
// detail

namespace detail {

void Misuse(const std::string& message) {
  std::fprintf(stderr, "metrics misuse: %s\n", message.c_str());
  std::fflush(stderr);
  std::abort();
}

void EncodeKey(std::span<const std::string_view> values, std::string& key) {
  key.clear();
  for (std::string_view v : values) {
    auto n = static_cast<uint32_t>(v.size());
    key.append(reinterpret_cast<const char*>(&n), sizeof n);
    key.append(v);
  }
}

void Fill(const Counter& c, Sample& s) {
  s.value = c.Value();
}
void Fill(const Gauge& g, Sample& s) {
  s.value = g.Value();
}
void Fill(const Histogram& h, Sample& s) {
  s.histogram = h.Collect();
}

}  // namespace detail

// ---------------------------------------------------------------------------------------------
// Text format

std::string FormatValue(double value) {
  if (std::isnan(value)) return "NaN";
  if (std::isinf(value)) return value > 0 ? "+Inf" : "-Inf";
  if (value == std::floor(value) && std::fabs(value) < 1e15) {
    char buf[32];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, static_cast<int64_t>(value));
    (void)ec;
    return std::string(buf, end);
  }
  // The shortest text that reads back as the same double; plain decimals where that is how people
  // write them (0.0004, not 4e-04), as the Go client does.
  char buf[64];
  double magnitude = std::fabs(value);
  auto format = magnitude >= 1e-4 && magnitude < 1e15 ? std::chars_format::fixed : std::chars_format::general;
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, value, format);
  (void)ec;
  return std::string(buf, end);
}

std::string EscapeLabelValue(std::string_view value) {
  std::string out;
  out.reserve(value.size());
  for (char c : value) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '"': out += "\\\""; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

std::string EscapeHelp(std::string_view help) {
  std::string out;
  out.reserve(help.size());
  for (char c : help) {
    switch (c) {
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      default: out.push_back(c);
    }
  }
  return out;
}

namespace {

// name{a="x",b="y",le="0.5"} value
void AppendSample(std::string& out, std::string_view name, std::string_view suffix,
                  const std::vector<std::string>& label_names, const std::vector<std::string>& label_values,
                  const char* extra_name, std::string_view extra_value, double value) {
  out.append(name);
  out.append(suffix);
  bool any = !label_names.empty() || extra_name != nullptr;
  if (any) {
    out.push_back('{');
    bool first = true;
    for (size_t i = 0; i < label_names.size(); ++i) {
      if (!first) out.push_back(',');
      first = false;
      out += label_names[i];
      out += "=\"";
      out += EscapeLabelValue(i < label_values.size() ? label_values[i] : std::string_view());
      out.push_back('"');
    }
    if (extra_name != nullptr) {
      if (!first) out.push_back(',');
      out += extra_name;
      out += "=\"";
      out.append(extra_value);
      out.push_back('"');
    }
    out.push_back('}');
  }
  out.push_back(' ');
  out += FormatValue(value);
  out.push_back('\n');
}

void AppendFamily(std::string& out, FamilySnapshot& f) {
  if (f.samples.empty()) return;
  std::sort(f.samples.begin(), f.samples.end(),
            [](const Sample& a, const Sample& b) { return a.label_values < b.label_values; });
  out += "# HELP ";
  out += f.name;
  out.push_back(' ');
  out += EscapeHelp(f.help);
  out += "\n# TYPE ";
  out += f.name;
  out.push_back(' ');
  out += MetricTypeName(f.type);
  out.push_back('\n');
  if (f.type != MetricType::kHistogram) {
    for (const Sample& s : f.samples)
      AppendSample(out, f.name, "", f.label_names, s.label_values, nullptr, "", s.value);
    return;
  }
  std::vector<std::string> les;
  les.reserve(f.bounds.size());
  for (double b : f.bounds) les.push_back(FormatValue(b));
  for (const Sample& s : f.samples) {
    const Histogram::Snapshot& h = s.histogram;
    for (size_t i = 0; i < les.size(); ++i) {
      double v = i < h.cumulative.size() ? static_cast<double>(h.cumulative[i]) : 0;
      AppendSample(out, f.name, "_bucket", f.label_names, s.label_values, "le", les[i], v);
    }
    AppendSample(out, f.name, "_bucket", f.label_names, s.label_values, "le", "+Inf",
                 static_cast<double>(h.count));
    AppendSample(out, f.name, "_sum", f.label_names, s.label_values, nullptr, "", h.sum);
    AppendSample(out, f.name, "_count", f.label_names, s.label_values, nullptr, "",
                 static_cast<double>(h.count));
  }
}

}  // namespace

std::string RenderText(std::vector<FamilySnapshot> families) {
  std::sort(families.begin(), families.end(),
            [](const FamilySnapshot& a, const FamilySnapshot& b) { return a.name < b.name; });
  std::string out;
  for (auto& f : families) AppendFamily(out, f);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Registry

namespace {

bool IsMetricName(std::string_view n) {
  if (n.empty()) return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || c == ':' ||
              (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool IsLabelName(std::string_view n) {
  if (n.empty() || n.substr(0, 2) == "__") return false;
  for (size_t i = 0; i < n.size(); ++i) {
    char c = n[i];
    bool ok = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (i > 0 && c >= '0' && c <= '9');
    if (!ok) return false;
  }
  return true;
}

bool EndsWith(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && s.substr(s.size() - suffix.size()) == suffix;
}

void CheckFamily(const std::string& name, const std::string& help, MetricType type,
                 const std::vector<std::string>& label_names, const std::vector<double>& bounds) {
  if (!IsMetricName(name)) detail::Misuse("invalid metric name '" + name + "'");
  if (help.empty()) detail::Misuse(name + ": the help text is empty");
  if (type == MetricType::kCounter && !EndsWith(name, "_total"))
    detail::Misuse(name + ": counter names end in _total");
  std::set<std::string_view> seen;
  for (const auto& l : label_names) {
    if (!IsLabelName(l)) detail::Misuse(name + ": invalid label name '" + l + "'");
    if (type == MetricType::kHistogram && l == "le")
      detail::Misuse(name + ": 'le' is reserved in histograms");
    if (!seen.insert(l).second) detail::Misuse(name + ": label '" + l + "' twice");
  }
  if (type == MetricType::kHistogram) {
    if (bounds.empty()) detail::Misuse(name + ": a histogram needs at least one bucket bound");
    for (size_t i = 0; i < bounds.size(); ++i) {
      if (!std::isfinite(bounds[i]))
        detail::Misuse(name + ": bucket bounds must be finite (+Inf is implicit)");
      if (i > 0 && !(bounds[i] > bounds[i - 1])) detail::Misuse(name + ": bucket bounds must increase");
    }
  }
}

}  // namespace

Registry& Registry::Default() {
  static Registry* registry = new Registry();  // never destroyed: metrics outlive static teardown
  return *registry;
}

FamilyBase& Registry::Register(const std::string& name, const std::string& help, MetricType type,
                               const std::vector<std::string>& label_names, const std::vector<double>& bounds,
                               const std::function<std::unique_ptr<FamilyBase>()>& make) {
  CheckFamily(name, help, type, label_names, bounds);
  std::lock_guard lock(mu_);
  auto it = entries_.find(name);
  if (it != entries_.end()) {
    const Entry& e = it->second;
    if (e.family == nullptr) detail::Misuse(name + ": the name is taken by a collector");
    if (e.type != type || e.help != help || e.family->label_names() != label_names || e.bounds != bounds) {
      detail::Misuse(name + ": registered again with a different type, help, labels or buckets");
    }
    return *e.family;
  }
  Entry e;
  e.type = type;
  e.help = help;
  e.bounds = bounds;
  e.family = make();
  FamilyBase& f = *e.family;
  entries_.emplace(name, std::move(e));
  return f;
}

CounterFamily& Registry::AddCounterFamily(const std::string& name, const std::string& help,
                                          std::vector<std::string> label_names) {
  auto make = [&]() -> std::unique_ptr<FamilyBase> {
    return std::make_unique<CounterFamily>(name, help, MetricType::kCounter, label_names,
                                           [] { return std::make_unique<Counter>(); });
  };
  return static_cast<CounterFamily&>(Register(name, help, MetricType::kCounter, label_names, {}, make));
}

GaugeFamily& Registry::AddGaugeFamily(const std::string& name, const std::string& help,
                                      std::vector<std::string> label_names) {
  auto make = [&]() -> std::unique_ptr<FamilyBase> {
    return std::make_unique<GaugeFamily>(name, help, MetricType::kGauge, label_names,
                                         [] { return std::make_unique<Gauge>(); });
  };
  return static_cast<GaugeFamily&>(Register(name, help, MetricType::kGauge, label_names, {}, make));
}

HistogramFamily& Registry::AddHistogramFamily(const std::string& name, const std::string& help,
                                              std::vector<std::string> label_names,
                                              std::vector<double> bounds) {
  auto make = [&]() -> std::unique_ptr<FamilyBase> {
    auto shared = std::make_shared<const std::vector<double>>(bounds);
    return std::make_unique<HistogramFamily>(name, help, MetricType::kHistogram, label_names,
                                             [shared] { return std::make_unique<Histogram>(shared); });
  };
  return static_cast<HistogramFamily&>(
      Register(name, help, MetricType::kHistogram, label_names, bounds, make));
}

Counter& Registry::AddCounter(const std::string& name, const std::string& help) {
  return AddCounterFamily(name, help, {}).WithLabels({});
}

Gauge& Registry::AddGauge(const std::string& name, const std::string& help) {
  return AddGaugeFamily(name, help, {}).WithLabels({});
}

Histogram& Registry::AddHistogram(const std::string& name, const std::string& help,
                                  std::vector<double> bounds) {
  return AddHistogramFamily(name, help, {}, std::move(bounds)).WithLabels({});
}

Registry::CollectorId Registry::AddCollector(std::vector<std::string> names, Collect collect) {
  for (const auto& n : names) {
    if (!IsMetricName(n)) detail::Misuse("invalid metric name '" + n + "'");
  }
  std::lock_guard lock(mu_);
  for (const auto& n : names) {
    if (entries_.count(n)) detail::Misuse(n + ": the name is already registered");
  }
  CollectorId id = next_id_++;
  for (const auto& n : names) {
    Entry e;
    e.collector = id;
    entries_.emplace(n, std::move(e));
  }
  collectors_.emplace(id, CollectorEntry{std::move(names), std::move(collect)});
  return id;
}

Registry::CollectorId Registry::AddCallbackGauge(const std::string& name, const std::string& help,
                                                 std::function<double()> fn) {
  CheckFamily(name, help, MetricType::kGauge, {}, {});
  return AddCollector({name}, [name, help, fn = std::move(fn)](std::vector<FamilySnapshot>& out) {
    out.push_back({name, help, MetricType::kGauge, {}, {}, {Sample{{}, fn(), {}}}});
  });
}

Registry::CollectorId Registry::AddCallbackCounter(const std::string& name, const std::string& help,
                                                   std::function<double()> fn) {
  CheckFamily(name, help, MetricType::kCounter, {}, {});
  return AddCollector({name}, [name, help, fn = std::move(fn)](std::vector<FamilySnapshot>& out) {
    out.push_back({name, help, MetricType::kCounter, {}, {}, {Sample{{}, fn(), {}}}});
  });
}

void Registry::RemoveCollector(CollectorId id) {
  std::lock_guard collecting(collect_mu_);
  std::lock_guard lock(mu_);
  auto it = collectors_.find(id);
  if (it == collectors_.end()) return;
  for (const auto& n : it->second.names) {
    auto e = entries_.find(n);
    if (e != entries_.end() && e->second.collector == id) entries_.erase(e);
  }
  collectors_.erase(it);
}

std::vector<FamilySnapshot> Registry::Gather() const {
  std::lock_guard collecting(collect_mu_);
  std::vector<const FamilyBase*> families;
  std::vector<std::pair<std::set<std::string>, Collect>> collectors;
  {
    std::lock_guard lock(mu_);
    for (const auto& [name, e] : entries_) {
      if (e.family) families.push_back(e.family.get());
    }
    for (const auto& [id, c] : collectors_) {
      collectors.emplace_back(std::set<std::string>(c.names.begin(), c.names.end()), c.collect);
    }
  }
  std::vector<FamilySnapshot> out;
  out.reserve(families.size() + collectors.size());
  // Families are never removed, so the pointers stay valid without the lock.
  for (const FamilyBase* f : families) out.push_back(f->Snapshot());
  for (auto& [names, collect] : collectors) {
    std::vector<FamilySnapshot> got;
    collect(got);
    for (auto& f : got) {
      // Each declared name once: a second family under one name would make the output invalid.
      if (names.erase(f.name) == 0) {
        LogWarn("a metrics collector reported an undeclared or repeated family; dropped", {{"name", f.name}});
        continue;
      }
      out.push_back(std::move(f));
    }
  }
  std::sort(out.begin(), out.end(),
            [](const FamilySnapshot& a, const FamilySnapshot& b) { return a.name < b.name; });
  return out;
}

}  // namespace trellis::metrics
