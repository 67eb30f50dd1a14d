#include "observability/tracing.h"

#include <algorithm>
#include <random>
#include <thread>

namespace trellis {
namespace {

constexpr char kHex[] = "0123456789abcdef";

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  std::string out(N * 2, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

template <size_t N>
bool AllZero(const std::array<uint8_t, N>& bytes) {
  for (uint8_t b : bytes) {
    if (b != 0) return false;
  }
  return true;
}

// Lower-case hex only: the spec forbids upper case in version 00.
int HexValue(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  return -1;
}

template <size_t N>
bool ParseHex(std::string_view text, std::array<uint8_t, N>* out) {
  if (text.size() != N * 2) return false;
  for (size_t i = 0; i < N; ++i) {
    int hi = HexValue(text[2 * i]);
    int lo = HexValue(text[2 * i + 1]);
    if (hi < 0 || lo < 0) return false;
    (*out)[i] = static_cast<uint8_t>(hi << 4 | lo);
  }
  return true;
}

// Span and trace ids: a per-thread generator, so executors never contend on it.
std::mt19937_64& Rng() {
  thread_local std::mt19937_64 rng([] {
    std::random_device rd;
    std::seed_seq seq{rd(), rd(), rd(), rd(),
                      static_cast<unsigned>(std::hash<std::thread::id>{}(std::this_thread::get_id()))};
    return std::mt19937_64(seq);
  }());
  return rng;
}

template <size_t N>
void RandomId(std::array<uint8_t, N>* out) {
  auto& rng = Rng();
  do {
    for (size_t i = 0; i < N; i += 8) {
      uint64_t v = rng();
      for (size_t k = 0; k < 8 && i + k < N; ++k) (*out)[i + k] = static_cast<uint8_t>(v >> (8 * k));
    }
  } while (AllZero(*out));
}

int64_t NowUnixNano() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(
             std::chrono::system_clock::now().time_since_epoch())
      .count();
}

void Upsert(std::vector<SpanAttribute>& attributes, std::string_view key, AttributeValue value) {
  for (auto& a : attributes) {
    if (a.key == key) {
      a.value = std::move(value);
      return;
    }
  }
  attributes.push_back({std::string(key), std::move(value)});
}

}  // namespace

bool TraceContext::valid() const {
  return !AllZero(trace_id) && !AllZero(span_id);
}
std::string TraceContext::trace_id_hex() const {
  return Hex(trace_id);
}
std::string TraceContext::span_id_hex() const {
  return Hex(span_id);
}

std::optional<TraceContext> ParseTraceparent(std::string_view h) {
  // 2 + 1 + 32 + 1 + 16 + 1 + 2
  if (h.size() != 55 || h[2] != '-' || h[35] != '-' || h[52] != '-') return std::nullopt;
  if (h.substr(0, 2) != "00") return std::nullopt;
  TraceContext c;
  std::array<uint8_t, 1> flags{};
  if (!ParseHex(h.substr(3, 32), &c.trace_id) || !ParseHex(h.substr(36, 16), &c.span_id) ||
      !ParseHex(h.substr(53, 2), &flags)) {
    return std::nullopt;
  }
  if (!c.valid()) return std::nullopt;
  c.sampled = (flags[0] & 1) != 0;
  return c;
}

std::string FormatTraceparent(const TraceContext& c) {
  if (!c.valid()) return "";
  std::string out;
  out.reserve(55);
  out += "00-";
  out += Hex(c.trace_id);
  out += '-';
  out += Hex(c.span_id);
  out += c.sampled ? "-01" : "-00";
  return out;
}

bool SpanData::has_parent() const {
  return !AllZero(parent_span_id);
}

const AttributeValue* SpanData::attribute(std::string_view key) const {
  for (const auto& a : attributes) {
    if (a.key == key) return &a.value;
  }
  return nullptr;
}

// ---------------------------------------------------------------------------------------------
// Span

Span::Span(Span&& other) noexcept
    : tracer_(other.tracer_), context_(other.context_), data_(std::move(other.data_)) {
  other.tracer_ = nullptr;
  other.context_ = {};
}

Span& Span::operator=(Span&& other) noexcept {
  if (this != &other) {
    End();
    tracer_ = other.tracer_;
    context_ = other.context_;
    data_ = std::move(other.data_);
    other.tracer_ = nullptr;
    other.context_ = {};
  }
  return *this;
}

void Span::SetName(std::string_view name) {
  if (data_) data_->name.assign(name);
}

void Span::SetAttribute(std::string_view key, std::string_view value) {
  if (data_) Upsert(data_->attributes, key, std::string(value));
}

void Span::SetAttribute(std::string_view key, bool value) {
  if (data_) Upsert(data_->attributes, key, value);
}

void Span::SetIntAttribute(std::string_view key, int64_t value) {
  if (data_) Upsert(data_->attributes, key, value);
}

void Span::SetError(std::string_view message) {
  if (!data_) return;
  data_->error = true;
  data_->status_message.assign(message);
}

void Span::End() {
  if (!data_) return;
  data_->end_unix_nano = std::max(NowUnixNano(), data_->start_unix_nano);
  std::unique_ptr<SpanData> data = std::move(data_);
  tracer_->Export(std::move(*data));
}

// ---------------------------------------------------------------------------------------------
// Tracer

Tracer::Tracer(std::unique_ptr<SpanSink> sink, TracerOptions options)
    : sink_(std::move(sink)), options_(options) {}

Tracer::~Tracer() = default;

bool Tracer::ShouldSample(const std::array<uint8_t, 16>& trace_id) const {
  if (options_.sample_ratio >= 1.0) return true;
  if (options_.sample_ratio <= 0.0) return false;
  uint64_t low = 0;
  for (size_t i = 8; i < 16; ++i) low = low << 8 | trace_id[i];
  low >>= 1;  // 63 bits, compared with ratio * 2^63
  return static_cast<double>(low) < options_.sample_ratio * 9223372036854775808.0;
}

Span Tracer::StartSpan(std::string_view name, SpanKind kind, const TraceContext& parent) {
  Span span;
  span.tracer_ = this;
  if (parent.valid()) {
    span.context_.trace_id = parent.trace_id;
    span.context_.sampled = parent.sampled;
  } else {
    RandomId(&span.context_.trace_id);
    span.context_.sampled = ShouldSample(span.context_.trace_id);
  }
  RandomId(&span.context_.span_id);
  if (!span.context_.sampled) return span;
  span.data_ = std::make_unique<SpanData>();
  SpanData& d = *span.data_;
  d.name.assign(name);
  d.kind = kind;
  d.context = span.context_;
  if (parent.valid()) d.parent_span_id = parent.span_id;
  d.start_unix_nano = NowUnixNano();
  return span;
}

Span StartServerSpan(Tracer* tracer, std::string_view name, std::string_view incoming_traceparent) {
  if (tracer == nullptr) return Span();
  TraceContext parent;
  if (!incoming_traceparent.empty()) parent = ParseTraceparent(incoming_traceparent).value_or(TraceContext{});
  return tracer->StartSpan(name, SpanKind::kServer, parent);
}

}  // namespace trellis
