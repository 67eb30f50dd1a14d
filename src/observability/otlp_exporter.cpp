#include "observability/otlp_exporter.h"

#include <curl/curl.h>

#include <algorithm>

#include "core/log.h"

namespace trellis {
namespace {

using SteadyClock = std::chrono::steady_clock;

// curl_global_init is not thread-safe; a function-local static runs it once (as in
// activities/curl_http_client.cpp; libcurl counts the calls).
CURLcode CurlGlobalInit() {
  static const CURLcode code = curl_global_init(CURL_GLOBAL_DEFAULT);
  return code;
}

int64_t SteadyNanos() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(SteadyClock::now().time_since_epoch()).count();
}

std::string TracesUrl(std::string endpoint) {
  while (!endpoint.empty() && endpoint.back() == '/') endpoint.pop_back();
  constexpr std::string_view kPath = "/v1/traces";
  if (endpoint.size() < kPath.size() ||
      endpoint.compare(endpoint.size() - kPath.size(), kPath.size(), kPath) != 0)
    endpoint += kPath;
  return endpoint;
}

template <size_t N>
std::string Hex(const std::array<uint8_t, N>& bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out(N * 2, '0');
  for (size_t i = 0; i < N; ++i) {
    out[2 * i] = kHex[bytes[i] >> 4];
    out[2 * i + 1] = kHex[bytes[i] & 15];
  }
  return out;
}

Json AttributeJson(const std::string& key, const AttributeValue& value) {
  Json v;
  if (const auto* s = std::get_if<std::string>(&value)) {
    v = {{"stringValue", *s}};
  } else if (const auto* i = std::get_if<int64_t>(&value)) {
    v = {{"intValue", std::to_string(*i)}};  // int64 is a string in the protobuf JSON mapping
  } else {
    v = {{"boolValue", std::get<bool>(value)}};
  }
  return {{"key", key}, {"value", std::move(v)}};
}

Json SpanJson(const SpanData& s) {
  Json attributes = Json::array();
  for (const auto& a : s.attributes) attributes.push_back(AttributeJson(a.key, a.value));
  Json status = Json::object();
  if (s.error) {
    status["code"] = 2;  // STATUS_CODE_ERROR
    if (!s.status_message.empty()) status["message"] = s.status_message;
  } else {
    status["code"] = 0;  // STATUS_CODE_UNSET
  }
  Json j = {{"traceId", Hex(s.context.trace_id)},
            {"spanId", Hex(s.context.span_id)},
            {"name", s.name},
            {"kind", static_cast<int>(s.kind)},
            {"startTimeUnixNano", std::to_string(s.start_unix_nano)},
            {"endTimeUnixNano", std::to_string(s.end_unix_nano)},
            {"attributes", std::move(attributes)},
            {"status", std::move(status)}};
  if (s.has_parent()) j["parentSpanId"] = Hex(s.parent_span_id);
  return j;
}

size_t DiscardBody(char*, size_t size, size_t nmemb, void*) {
  return size * nmemb;
}

// Aborts the transfer once the shutdown deadline has passed.
int OnProgress(void* clientp, curl_off_t, curl_off_t, curl_off_t, curl_off_t) {
  const auto* abort_at = static_cast<const std::atomic<int64_t>*>(clientp);
  return SteadyNanos() >= abort_at->load() ? 1 : 0;
}

}  // namespace

Json OtlpTracesJson(const std::vector<SpanData>& spans, std::string_view service_name) {
  Json out = Json::array();
  for (const auto& s : spans) out.push_back(SpanJson(s));
  Json resource = {{"attributes", Json::array({AttributeJson("service.name", std::string(service_name))})}};
  Json scope_spans = Json::array({{{"scope", {{"name", "trellis"}}}, {"spans", std::move(out)}}});
  return {{"resourceSpans",
           Json::array({{{"resource", std::move(resource)}, {"scopeSpans", std::move(scope_spans)}}})}};
}

OtlpExporter::OtlpExporter(OtlpExporterOptions options)
    : options_(std::move(options)), url_(TracesUrl(options_.endpoint)) {
  CurlGlobalInit();
  thread_ = std::thread([this] { Run(); });
}

OtlpExporter::~OtlpExporter() {
  Shutdown(options_.shutdown_timeout);
}

void OtlpExporter::Export(SpanData&& span) {
  bool wake = false;
  {
    std::lock_guard lock(mu_);
    if (stop_ || queue_.size() >= options_.max_queue) {
      dropped_.fetch_add(1, std::memory_order_relaxed);
      if (!stop_) queue_full_.fetch_add(1, std::memory_order_relaxed);
      return;
    }
    queue_.push_back(std::move(span));
    // Only a full batch wakes the sender early; otherwise it wakes on its interval.
    wake = queue_.size() == options_.max_batch;
  }
  if (wake) cv_.notify_one();
}

bool OtlpExporter::Flush(std::chrono::milliseconds timeout) {
  std::unique_lock lock(mu_);
  flush_requested_ = true;
  cv_.notify_one();
  return idle_cv_.wait_for(lock, timeout, [this] { return queue_.empty() && !in_flight_; });
}

void OtlpExporter::Shutdown(std::chrono::milliseconds deadline) {
  {
    std::lock_guard lock(mu_);
    if (stop_) return;
    stop_ = true;
    abort_at_ = SteadyNanos() + std::chrono::duration_cast<std::chrono::nanoseconds>(deadline).count();
  }
  cv_.notify_one();
  if (thread_.joinable()) thread_.join();
}

OtlpExporter::Stats OtlpExporter::stats() const {
  return {exported_.load(), dropped_.load(), failed_.load()};
}

void OtlpExporter::Run() {
  auto next_send = SteadyClock::now() + options_.interval;
  while (true) {
    std::vector<SpanData> batch;
    {
      std::unique_lock lock(mu_);
      cv_.wait_until(lock, next_send,
                     [this] { return stop_ || flush_requested_ || queue_.size() >= options_.max_batch; });
      bool flushing = flush_requested_ || stop_;
      flush_requested_ = false;
      if (stop_ && (queue_.empty() || SteadyNanos() >= abort_at_.load())) {
        dropped_ += static_cast<int64_t>(queue_.size());
        queue_.clear();
        idle_cv_.notify_all();
        break;
      }
      if (queue_.empty()) {
        idle_cv_.notify_all();
        next_send = SteadyClock::now() + options_.interval;
        continue;
      }
      size_t n = std::min(queue_.size(), options_.max_batch);
      batch.reserve(n);
      for (size_t i = 0; i < n; ++i) batch.push_back(std::move(queue_[i]));
      queue_.erase(queue_.begin(), queue_.begin() + static_cast<std::ptrdiff_t>(n));
      in_flight_ = true;
      // A flush sends everything at once; otherwise a partial batch waits for the next interval.
      if (flushing && !queue_.empty())
        flush_requested_ = true;
      else if (queue_.size() < options_.max_batch)
        next_send = SteadyClock::now() + options_.interval;
    }
    std::string error;
    bool ok = Post(batch, &error);
    if (ok) {
      exported_ += static_cast<int64_t>(batch.size());
    } else {
      failed_++;
      dropped_ += static_cast<int64_t>(batch.size());
    }
    ReportProblems(ok, error);
    {
      std::lock_guard lock(mu_);
      in_flight_ = false;
      if (queue_.empty()) idle_cv_.notify_all();
    }
  }
}

bool OtlpExporter::Post(const std::vector<SpanData>& batch, std::string* error) {
  if (CurlGlobalInit() != CURLE_OK) {
    *error = "curl_global_init failed";
    return false;
  }
  // One handle for the thread's life keeps the connection to the collector open between batches.
  thread_local struct Handle {
    CURL* easy = curl_easy_init();
    ~Handle() {
      if (easy != nullptr) curl_easy_cleanup(easy);
    }
  } handle;
  if (handle.easy == nullptr) {
    *error = "curl_easy_init failed";
    return false;
  }
  auto timeout = options_.request_timeout;
  int64_t abort_at = abort_at_.load();
  if (abort_at != INT64_MAX) {
    auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
        std::chrono::nanoseconds(abort_at - SteadyNanos()));
    timeout = std::min(timeout, std::max(left, std::chrono::milliseconds(1)));
  }
  std::string body =
      OtlpTracesJson(batch, options_.service_name).dump(-1, ' ', false, Json::error_handler_t::replace);
  curl_slist* headers = curl_slist_append(nullptr, "Content-Type: application/json");
  char error_buffer[CURL_ERROR_SIZE] = {};
  CURL* easy = handle.easy;
  curl_easy_reset(easy);
  curl_easy_setopt(easy, CURLOPT_URL, url_.c_str());
  curl_easy_setopt(easy, CURLOPT_PROTOCOLS_STR, "http,https");
  curl_easy_setopt(easy, CURLOPT_NOSIGNAL, 1L);
  curl_easy_setopt(easy, CURLOPT_TIMEOUT_MS, static_cast<long>(timeout.count()));
  curl_easy_setopt(easy, CURLOPT_ERRORBUFFER, error_buffer);
  curl_easy_setopt(easy, CURLOPT_HTTPHEADER, headers);
  curl_easy_setopt(easy, CURLOPT_POSTFIELDSIZE_LARGE, static_cast<curl_off_t>(body.size()));
  curl_easy_setopt(easy, CURLOPT_POSTFIELDS, body.data());
  curl_easy_setopt(easy, CURLOPT_WRITEFUNCTION, &DiscardBody);
  curl_easy_setopt(easy, CURLOPT_NOPROGRESS, 0L);
  curl_easy_setopt(easy, CURLOPT_XFERINFOFUNCTION, &OnProgress);
  curl_easy_setopt(easy, CURLOPT_XFERINFODATA, &abort_at_);
  curl_easy_setopt(easy, CURLOPT_USERAGENT, "Trellis");
  CURLcode code = curl_easy_perform(easy);
  long status = 0;
  curl_easy_getinfo(easy, CURLINFO_RESPONSE_CODE, &status);
  curl_easy_reset(easy);
  curl_slist_free_all(headers);
  if (code != CURLE_OK) {
    *error = code == CURLE_ABORTED_BY_CALLBACK
                 ? "aborted at shutdown"
                 : (error_buffer[0] != '\0' ? error_buffer : curl_easy_strerror(code));
    return false;
  }
  if (status < 200 || status >= 300) {
    *error = "the collector answered HTTP " + std::to_string(status);
    return false;
  }
  return true;
}

void OtlpExporter::ReportProblems(bool ok, const std::string& error) {
  auto now = SteadyClock::now();
  if (!ok) {
    failures_unlogged_++;
    if (last_failure_log_ == SteadyClock::time_point{} || now - last_failure_log_ >= options_.log_interval) {
      LogWarn("trace export failed; spans are dropped until the collector answers",
              {{"url", url_},
               {"error", error},
               {"failedRequests", failures_unlogged_},
               {"droppedSpans", dropped_.load()}});
      failures_unlogged_ = 0;
      last_failure_log_ = now;
    }
  }
  int64_t full = queue_full_.load();
  if (full > queue_full_logged_ &&
      (last_drop_log_ == SteadyClock::time_point{} || now - last_drop_log_ >= options_.log_interval)) {
    LogWarn("trace spans dropped: the export queue is full",
            {{"url", url_}, {"droppedSpans", full - queue_full_logged_}, {"maxQueue", options_.max_queue}});
    queue_full_logged_ = full;
    last_drop_log_ = now;
  }
}

}  // namespace trellis
