// OtlpExporter: the SpanSink that sends spans to an OpenTelemetry collector over OTLP/HTTP with
// JSON bodies (POST <endpoint>/v1/traces, Content-Type: application/json), using libcurl.
//
// Ended spans go into a bounded queue; one background thread sends them in batches (max_batch
// spans, or whatever is queued every `interval`). Export never blocks the caller: when the queue
// is full the span is dropped and counted. A failed POST drops its batch (no retry: traces are
// best effort, and retrying would only grow the backlog behind a dead collector); failures and
// drops are logged at most once per `log_interval`. Shutdown (and the destructor) sends what is
// queued within a deadline, aborting an in-flight request when the deadline passes.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <mutex>
#include <string>
#include <string_view>
#include <thread>
#include <vector>

#include "core/json.h"
#include "observability/tracing.h"

namespace trellis {

struct OtlpExporterOptions {
  // The collector's base URL ("http://otel-collector:4318"); "/v1/traces" is appended unless the
  // URL already ends with it.
  std::string endpoint;
  std::string service_name = "trellis";
  size_t max_queue = 4096;  // spans waiting to be sent; more are dropped
  size_t max_batch = 512;   // spans per request
  std::chrono::milliseconds interval{1000};
  std::chrono::milliseconds request_timeout{10000};
  std::chrono::milliseconds shutdown_timeout{5000};  // the destructor's deadline
  std::chrono::milliseconds log_interval{60000};     // at most one failure (and one drop) warning per
};

class OtlpExporter final : public SpanSink {
 public:
  explicit OtlpExporter(OtlpExporterOptions options);
  ~OtlpExporter() override;
  OtlpExporter(const OtlpExporter&) = delete;
  OtlpExporter& operator=(const OtlpExporter&) = delete;

  void Export(SpanData&& span) override;
  // Sends everything queued now; false if the queue is not empty (or a request still runs) when
  // `timeout` passes.
  bool Flush(std::chrono::milliseconds timeout) override;
  // Sends what is queued until `deadline`, then drops the rest and stops the thread. Idempotent;
  // spans exported afterwards are dropped.
  void Shutdown(std::chrono::milliseconds deadline);

  struct Stats {
    int64_t exported = 0;         // spans the collector accepted
    int64_t dropped = 0;          // queue full, failed requests, or left at shutdown
    int64_t failed_requests = 0;  // POSTs without a 2xx answer
  };
  Stats stats() const;
  const std::string& url() const { return url_; }

 private:
  void Run();
  bool Post(const std::vector<SpanData>& batch, std::string* error);
  void ReportProblems(bool ok, const std::string& error);

  const OtlpExporterOptions options_;
  const std::string url_;

  mutable std::mutex mu_;            // guards queue_, stop_, in_flight_, flush_requested_
  std::condition_variable cv_;       // wakes the sender
  std::condition_variable idle_cv_;  // wakes Flush: the queue drained
  std::deque<SpanData> queue_;
  bool stop_ = false;
  bool in_flight_ = false;
  bool flush_requested_ = false;

  // Steady-clock nanoseconds after which an in-flight request is aborted (shutdown deadline).
  std::atomic<int64_t> abort_at_{INT64_MAX};
  std::atomic<int64_t> exported_{0};
  std::atomic<int64_t> dropped_{0};
  std::atomic<int64_t> failed_{0};
  std::atomic<int64_t> queue_full_{0};  // the part of dropped_ the full queue turned away

  // The sender thread's own bookkeeping for rate-limited warnings.
  std::chrono::steady_clock::time_point last_failure_log_{};
  std::chrono::steady_clock::time_point last_drop_log_{};
  int64_t failures_unlogged_ = 0;
  int64_t queue_full_logged_ = 0;

  std::thread thread_;
};

// The OTLP/HTTP JSON request body for `spans`: one resourceSpans with service.name, one scopeSpans.
Json OtlpTracesJson(const std::vector<SpanData>& spans, std::string_view service_name);

}  // namespace trellis
