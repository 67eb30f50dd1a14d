// An HTTP/1.1 load generator for the benchmarks: N keep-alive connections driven by one or more
// epoll threads, no Asio, one request in flight per connection.
//
// Two modes:
//   - closed loop (rate == 0): every connection sends its next request as soon as the previous
//     answer arrives; measures the most the server sustains with that many clients;
//   - open loop (rate > 0): requests are due on a fixed schedule (one every 1/rate seconds). A due
//     request waits for a free connection if all are busy, and its latency runs from the scheduled
//     send time, not the actual one, so a stalled server shows up as queueing (no coordinated
//     omission, as in wrk2).
// Latencies are kept exactly (a sample per request) and summarised as p50/p90/p99/p99.9/max with a
// coarse histogram.
#pragma once

#include <chrono>
#include <cstdint>
#include <map>
#include <string>
#include <vector>

namespace trellis::bench {

// A request rendered once and sent as is on every connection.
struct HttpTarget {
  std::string method = "GET";
  std::string path = "/";
  std::string body;
  std::string content_type = "application/json";
};

struct LoadOptions {
  std::string host = "127.0.0.1";
  int port = 0;
  int connections = 16;
  int threads = 1;  // epoll threads; connections are spread over them
  double rate = 0;  // requests per second over all connections; 0: closed loop
  // The run ends after `total` requests (when > 0) or after `duration`, whichever comes first;
  // requests in flight at that point are awaited (up to `drain_timeout`).
  int64_t total = 0;
  std::chrono::milliseconds duration{0};
  std::chrono::milliseconds drain_timeout{30000};
  // Requests answered in the first `warmup` are not recorded (their answers still count in
  // `completed`).
  std::chrono::milliseconds warmup{0};
};

struct LatencySummary {
  int64_t count = 0;
  double p50_ms = 0, p90_ms = 0, p99_ms = 0, p999_ms = 0, max_ms = 0, mean_ms = 0;
  // Upper bound in ms (the last is +inf, written as "inf") -> requests at or below it.
  std::vector<std::pair<std::string, int64_t>> histogram;
};

// A recorded request that took more than 5 ms.
struct SlowRequest {
  double at_ms = 0;          // its start (scheduled send time in open loop) after the run began
  double latency_ms = 0;     // start to answer
  double send_delay_ms = 0;  // start to the actual send (the generator's own lateness)
};

struct LoadResult {
  int64_t sent = 0;
  int64_t completed = 0;         // answers received
  int64_t non_2xx = 0;           // answers with another status
  int64_t transport_errors = 0;  // connect/read/write failures and malformed answers
  int64_t reconnects = 0;
  int64_t late_sends = 0;  // open loop: requests sent more than 1 ms after their scheduled time
  std::map<int, int64_t> statuses;
  std::string first_error;      // the first transport error or non-2xx body, for the report
  double seconds = 0;           // from the first send to the last answer
  double recorded_seconds = 0;  // the part after the warm-up
  double requests_per_sec = 0;  // recorded answers / recorded_seconds
  LatencySummary latency;
  std::vector<SlowRequest> slow;  // by start time; the first 500 of each generator thread
  int64_t slow_total = 0;         // all requests over 5 ms, listed or not
  int64_t start_unix_ms = 0;      // wall-clock time of the run's start (to line up with other logs)
};

// Runs the load; blocks until done.
LoadResult RunLoad(const LoadOptions& options, const HttpTarget& target);

struct HttpReply {
  int status = 0;  // 0: transport failure (see `error`)
  std::string body;
  std::string error;
};

// One request on a fresh connection (for set-up and polling, not for load).
HttpReply HttpCall(const std::string& host, int port, const HttpTarget& target,
                   std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

// A reusable keep-alive connection for polling (reconnects on failure).
class HttpClient {
 public:
  HttpClient(std::string host, int port) : host_(std::move(host)), port_(port) {}
  ~HttpClient();
  HttpClient(const HttpClient&) = delete;
  HttpClient& operator=(const HttpClient&) = delete;
  HttpReply Call(const HttpTarget& target,
                 std::chrono::milliseconds timeout = std::chrono::milliseconds(10000));

 private:
  std::string host_;
  int port_;
  int fd_ = -1;
};

LatencySummary Summarise(std::vector<int64_t> latencies_ns);

}  // namespace trellis::bench
