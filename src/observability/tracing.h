// Traces in the OpenTelemetry model, written small because Debian ships no OpenTelemetry C++ SDK.
//
// A TraceContext is what crosses process boundaries (the W3C `traceparent` header, and the
// traceparent stored in an instance's state). A Span measures one operation; when it ends, its
// data goes to the Tracer's SpanSink (the OTLP exporter, otlp_exporter.h, or a test double),
// which must never block. The Tracer samples root spans by ratio (deterministically from the
// trace id, as OpenTelemetry's TraceIdRatioBased); a child follows its parent's sampled flag.
//
// Cost: tracing off means no Tracer at all (a null Tracer*), and StartSpan(nullptr, ...) returns
// an empty Span: no allocation, no clock read. A span that is not sampled still gets ids (so the
// context propagates, flagged unsampled) but allocates nothing either. Only a sampled span
// allocates its SpanData.
#pragma once

#include <array>
#include <chrono>
#include <concepts>
#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace trellis {

struct TraceContext {
  std::array<uint8_t, 16> trace_id{};
  std::array<uint8_t, 8> span_id{};
  bool sampled = false;

  // Both ids non-zero; a default TraceContext is invalid (no parent, tracing off).
  bool valid() const;
  std::string trace_id_hex() const;  // 32 lower-case hex digits
  std::string span_id_hex() const;   // 16 lower-case hex digits
};

// Strict W3C Trace Context level 1 parse: "00-<32 hex>-<16 hex>-<2 hex>", lower-case hex only,
// non-zero ids, version 00 and exactly 55 characters. Anything else is nullopt (the caller then
// starts a new trace, as the spec asks).
std::optional<TraceContext> ParseTraceparent(std::string_view header);
// "00-<trace id>-<span id>-01" (or -00 when not sampled); "" for an invalid context.
std::string FormatTraceparent(const TraceContext& context);

// Values as OTLP numbers them.
enum class SpanKind { kInternal = 1, kServer = 2, kClient = 3 };

using AttributeValue = std::variant<std::string, int64_t, bool>;
struct SpanAttribute {
  std::string key;
  AttributeValue value;
};

// An ended span, as exported.
struct SpanData {
  std::string name;
  SpanKind kind = SpanKind::kInternal;
  TraceContext context;
  std::array<uint8_t, 8> parent_span_id{};  // all zero: a root span
  int64_t start_unix_nano = 0;
  int64_t end_unix_nano = 0;
  std::vector<SpanAttribute> attributes;
  bool error = false;  // OTLP status code ERROR; otherwise UNSET
  std::string status_message;

  bool has_parent() const;
  // The attribute's value, or nullptr (tests).
  const AttributeValue* attribute(std::string_view key) const;
};

// Where ended spans go. Export is called on the thread that ends the span (an executor, an I/O
// thread) and must return at once: queue or drop, never wait.
class SpanSink {
 public:
  virtual ~SpanSink() = default;
  virtual void Export(SpanData&& span) = 0;
  // Sends what is queued; false if `timeout` passed first.
  virtual bool Flush(std::chrono::milliseconds timeout) {
    (void)timeout;
    return true;
  }
};

class Tracer;

// One operation. Move-only; ends when destroyed if End was not called. Methods on a Span that
// is not recording (tracing off, or not sampled) do nothing. After End, context() and
// traceparent() still answer.
class Span {
 public:
  Span() = default;
  ~Span() { End(); }
  Span(Span&& other) noexcept;
  Span& operator=(Span&& other) noexcept;  // ends this span first
  Span(const Span&) = delete;
  Span& operator=(const Span&) = delete;

  bool recording() const { return data_ != nullptr; }
  const TraceContext& context() const { return context_; }
  // This span's W3C traceparent, to pass on (outgoing requests, new instances); "" when tracing is off.
  std::string traceparent() const { return FormatTraceparent(context_); }
  // 32 hex digits for log lines; "" when tracing is off.
  std::string trace_id() const { return context_.valid() ? context_.trace_id_hex() : std::string(); }

  void SetName(std::string_view name);
  void SetAttribute(std::string_view key, std::string_view value);
  void SetAttribute(std::string_view key, const char* value) { SetAttribute(key, std::string_view(value)); }
  void SetAttribute(std::string_view key, bool value);
  template <std::integral T>
  requires(!std::same_as<T, bool>) void SetAttribute(std::string_view key, T value) {
    SetIntAttribute(key, static_cast<int64_t>(value));
  }
  // Marks the span failed (OTLP status ERROR) with a message. Never pass secrets.
  void SetError(std::string_view message);
  void End();

 private:
  friend class Tracer;
  void SetIntAttribute(std::string_view key, int64_t value);

  Tracer* tracer_ = nullptr;
  TraceContext context_;
  std::unique_ptr<SpanData> data_;  // only while a sampled span is open
};

struct TracerOptions {
  double sample_ratio = 1.0;  // of root spans, 0 to 1
};

class Tracer {
 public:
  explicit Tracer(std::unique_ptr<SpanSink> sink, TracerOptions options = {});
  ~Tracer();  // destroys the sink, which flushes within its own deadline
  Tracer(const Tracer&) = delete;
  Tracer& operator=(const Tracer&) = delete;

  // A child of `parent` when it is valid (same trace, its sampled flag), else a new root span.
  Span StartSpan(std::string_view name, SpanKind kind, const TraceContext& parent);

  // Whether a root span of this trace is sampled: the trace id's low 63 bits against the ratio, so
  // every process decides the same for the same trace.
  bool ShouldSample(const std::array<uint8_t, 16>& trace_id) const;
  bool Flush(std::chrono::milliseconds timeout) { return sink_->Flush(timeout); }
  SpanSink& sink() { return *sink_; }

 private:
  friend class Span;
  void Export(SpanData&& span) { sink_->Export(std::move(span)); }

  std::unique_ptr<SpanSink> sink_;
  TracerOptions options_;
};

// Null-safe entry points: a null tracer (tracing off) gives an empty Span at the cost of a branch.
inline Span StartSpan(Tracer* tracer, std::string_view name, SpanKind kind, const TraceContext& parent = {}) {
  return tracer != nullptr ? tracer->StartSpan(name, kind, parent) : Span();
}
// A SERVER span for an incoming request: a child of its `traceparent` header when that parses
// (pass "" when absent), else a new root.
Span StartServerSpan(Tracer* tracer, std::string_view name, std::string_view incoming_traceparent);

}  // namespace trellis
