#include "http_load.h"

#include <arpa/inet.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <sys/timerfd.h>
#include <unistd.h>

#include <algorithm>
#include <atomic>
#include <cerrno>
#include <cstring>
#include <deque>
#include <thread>

namespace trellis::bench {
namespace {

using Clock = std::chrono::steady_clock;

int64_t NowNs() {
  return std::chrono::duration_cast<std::chrono::nanoseconds>(Clock::now().time_since_epoch()).count();
}

std::string RenderRequest(const std::string& host, int port, const HttpTarget& t) {
  std::string r = t.method + " " + t.path + " HTTP/1.1\r\nHost: " + host + ":" + std::to_string(port) +
                  "\r\nUser-Agent: trellis-http-load\r\nAccept: */*\r\n";
  if (!t.body.empty() || t.method == "POST" || t.method == "PUT") {
    r += "Content-Type: " + t.content_type + "\r\nContent-Length: " + std::to_string(t.body.size()) + "\r\n";
  }
  r += "\r\n";
  r += t.body;
  return r;
}

// Opens a TCP connection (blocking connect: loopback answers at once), then switches to
// non-blocking when asked. Returns -1 and sets `error` on failure.
int Connect(const std::string& host, int port, bool nonblocking, std::string* error) {
  int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) {
    *error = std::string("socket: ") + std::strerror(errno);
    return -1;
  }
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_port = htons(static_cast<uint16_t>(port));
  if (inet_pton(AF_INET, host.c_str(), &addr.sin_addr) != 1) {
    *error = "not an IPv4 address: " + host;
    close(fd);
    return -1;
  }
  if (connect(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr) != 0) {
    *error = std::string("connect: ") + std::strerror(errno);
    close(fd);
    return -1;
  }
  int one = 1;
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  if (nonblocking) fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK);
  return fd;
}

bool IEquals(std::string_view a, std::string_view b) {
  if (a.size() != b.size()) return false;
  for (size_t i = 0; i < a.size(); ++i) {
    if (std::tolower(static_cast<unsigned char>(a[i])) != std::tolower(static_cast<unsigned char>(b[i])))
      return false;
  }
  return true;
}

// Incremental parser of one HTTP/1.1 response at the front of `buf` (Content-Length or chunked).
struct ParsedResponse {
  int status = 0;
  bool close = false;
  size_t size = 0;  // bytes of `buf` the response takes
  std::string body;
};

// 1: complete (in *out); 0: need more bytes; -1: malformed.
int ParseResponse(const std::string& buf, bool want_body, ParsedResponse* out) {
  size_t header_end = buf.find("\r\n\r\n");
  if (header_end == std::string::npos) return buf.size() > 64 * 1024 ? -1 : 0;
  std::string_view head(buf.data(), header_end);
  if (head.size() < 12 || head.substr(0, 5) != "HTTP/") return -1;
  size_t sp = head.find(' ');
  if (sp == std::string_view::npos || sp + 4 > head.size()) return -1;
  out->status = std::atoi(std::string(head.substr(sp + 1, 3)).c_str());
  bool http10 = head.substr(0, 8) == "HTTP/1.0";
  out->close = http10;
  int64_t content_length = -1;
  bool chunked = false;
  size_t pos = head.find("\r\n");
  while (pos != std::string_view::npos && pos < head.size()) {
    size_t next = head.find("\r\n", pos + 2);
    std::string_view line =
        head.substr(pos + 2, (next == std::string_view::npos ? head.size() : next) - pos - 2);
    size_t colon = line.find(':');
    if (colon != std::string_view::npos) {
      std::string_view name = line.substr(0, colon);
      std::string_view value = line.substr(colon + 1);
      while (!value.empty() && value.front() == ' ') value.remove_prefix(1);
      if (IEquals(name, "content-length")) {
        content_length = std::atoll(std::string(value).c_str());
      } else if (IEquals(name, "transfer-encoding")) {
        chunked = value.find("chunked") != std::string_view::npos;
      } else if (IEquals(name, "connection")) {
        if (IEquals(value, "close")) out->close = true;
        if (IEquals(value, "keep-alive")) out->close = false;
      }
    }
    pos = next;
  }
  size_t body_start = header_end + 4;
  bool no_body = (out->status >= 100 && out->status < 200) || out->status == 204 || out->status == 304;
  if (no_body || (!chunked && content_length <= 0)) {
    out->size = body_start;
    return 1;
  }
  if (!chunked) {
    size_t end = body_start + static_cast<size_t>(content_length);
    if (buf.size() < end) return 0;
    if (want_body) out->body.assign(buf, body_start, static_cast<size_t>(content_length));
    out->size = end;
    return 1;
  }
  std::string body;
  size_t p = body_start;
  while (true) {
    size_t eol = buf.find("\r\n", p);
    if (eol == std::string::npos) return 0;
    size_t n = std::strtoul(buf.substr(p, eol - p).c_str(), nullptr, 16);
    if (n == 0) {
      size_t end = buf.find("\r\n\r\n", eol);  // no trailers expected
      if (end == std::string::npos)
        return buf.size() >= eol + 4 && buf.compare(eol, 4, "\r\n\r\n") == 0 ? 1 : 0;
      out->size = end + 4;
      if (want_body) out->body = std::move(body);
      return 1;
    }
    if (buf.size() < eol + 2 + n + 2) return 0;
    if (want_body) body.append(buf, eol + 2, n);
    p = eol + 2 + n + 2;
  }
}

struct Conn {
  int fd = -1;
  bool busy = false;
  int64_t start_ns = 0;  // scheduled (open loop) or actual (closed loop) send time
  int64_t sent_ns = 0;   // actual send time
  size_t out_off = 0;    // bytes of the request written
  std::string in;
};

// Open loop: requests slower than this are listed one by one (at most kMaxSlow per thread).
constexpr int64_t kSlowNs = 5000000;
constexpr size_t kMaxSlow = 500;

struct ThreadStats {
  int64_t sent = 0, completed = 0, non_2xx = 0, transport_errors = 0, reconnects = 0, late_sends = 0;
  std::map<int, int64_t> statuses;
  std::string first_error;
  std::vector<int64_t> latencies;
  std::vector<SlowRequest> slow;
  int64_t slow_total = 0;  // listed or not
  int64_t first_send_ns = 0, last_answer_ns = 0;
};

class LoadThread {
 public:
  LoadThread(const LoadOptions& o, const std::string& request, int connections, double rate,
             int64_t offset_ns, int64_t t0_ns, int64_t own_total, std::atomic<int64_t>* shared_tickets)
      : o_(o),
        request_(request),
        conns_(static_cast<size_t>(connections)),
        rate_(rate),
        t0_(t0_ns),
        own_total_(own_total),
        tickets_(shared_tickets) {
    interval_ns_ = rate > 0 ? static_cast<int64_t>(1e9 / rate) : 0;
    next_due_ = t0_ + offset_ns;
    end_ns_ = o.duration.count() > 0 ? t0_ + o.duration.count() * 1000000 : INT64_MAX;
    warm_ns_ = t0_ + o.warmup.count() * 1000000;
  }

  ThreadStats Run() {
    ep_ = epoll_create1(EPOLL_CLOEXEC);
    if (rate_ > 0) {
      timer_ = timerfd_create(CLOCK_MONOTONIC, TFD_NONBLOCK | TFD_CLOEXEC);
      epoll_event ev{};
      ev.events = EPOLLIN;
      ev.data.u64 = UINT64_MAX;
      epoll_ctl(ep_, EPOLL_CTL_ADD, timer_, &ev);
    }
    for (size_t i = 0; i < conns_.size(); ++i) {
      if (!Open(i)) {
        stats_.transport_errors++;
        continue;
      }
      idle_.push_back(i);
    }
    // Everyone waits for the common start so that threads begin together.
    while (NowNs() < t0_) std::this_thread::sleep_for(std::chrono::microseconds(100));
    Pump();
    epoll_event events[256];
    while (true) {
      bool done_sending = !MoreToSend(NowNs()) && backlog_.empty();
      if (done_sending && in_flight_ == 0) break;
      if (done_sending && drain_deadline_ == 0)
        drain_deadline_ = NowNs() + o_.drain_timeout.count() * 1000000;
      if (drain_deadline_ != 0 && NowNs() > drain_deadline_) {
        stats_.transport_errors += in_flight_;
        Note("timed out waiting for " + std::to_string(in_flight_) + " answers");
        break;
      }
      if (idle_.size() == conns_.size() && backlog_.empty() && rate_ == 0 && !MoreToSend(NowNs())) break;
      if (idle_.empty() && in_flight_ == 0) {
        Note("no usable connection");
        break;
      }
      int timeout_ms = 50;
      if (rate_ > 0) ArmTimer();
      int n = epoll_wait(ep_, events, 256, timeout_ms);
      for (int k = 0; k < n; ++k) {
        if (events[k].data.u64 == UINT64_MAX) {
          uint64_t expirations;
          [[maybe_unused]] auto r = read(timer_, &expirations, sizeof expirations);
          continue;
        }
        size_t i = events[k].data.u64;
        if (events[k].events & EPOLLOUT) Flush(i);
        if (events[k].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) Receive(i);
      }
      Pump();
    }
    for (auto& c : conns_) {
      if (c.fd >= 0) close(c.fd);
    }
    if (timer_ >= 0) close(timer_);
    close(ep_);
    return std::move(stats_);
  }

 private:
  void Note(const std::string& e) {
    if (stats_.first_error.empty()) stats_.first_error = e;
  }

  bool Open(size_t i) {
    std::string error;
    int fd = Connect(o_.host, o_.port, true, &error);
    if (fd < 0) {
      Note(error);
      conns_[i].fd = -1;
      return false;
    }
    conns_[i] = Conn{};
    conns_[i].fd = fd;
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_ADD, fd, &ev);
    return true;
  }

  // Replaces a broken or closed connection; the request on it (if any) is lost.
  void Reopen(size_t i, bool failed) {
    Conn& c = conns_[i];
    if (c.busy) {
      in_flight_--;
      if (failed) stats_.transport_errors++;
    }
    epoll_ctl(ep_, EPOLL_CTL_DEL, c.fd, nullptr);
    close(c.fd);
    stats_.reconnects++;
    if (Open(i)) idle_.push_back(i);
  }

  // Whether the schedule (open loop) or the budget (closed loop) has another request.
  bool MoreToSend(int64_t now) {
    if (now >= end_ns_) return false;
    if (rate_ > 0) return own_total_ <= 0 || scheduled_ < own_total_;
    if (o_.total > 0) return tickets_->load(std::memory_order_relaxed) > 0;
    return true;
  }

  bool TakeTicket() {
    if (o_.total <= 0) return true;
    return tickets_->fetch_sub(1, std::memory_order_relaxed) > 0;
  }

  void Pump() {
    int64_t now = NowNs();
    if (rate_ > 0) {
      while (next_due_ <= now && MoreToSend(next_due_)) {
        backlog_.push_back(next_due_);
        scheduled_++;
        next_due_ += interval_ns_;
      }
      while (!backlog_.empty() && !idle_.empty()) {
        size_t i = idle_.back();
        idle_.pop_back();
        int64_t due = backlog_.front();
        backlog_.pop_front();
        if (NowNs() - due > 1000000) stats_.late_sends++;
        Send(i, due);
      }
      return;
    }
    while (!idle_.empty() && MoreToSend(now) && TakeTicket()) {
      size_t i = idle_.back();
      idle_.pop_back();
      Send(i, NowNs());
    }
  }

  void ArmTimer() {
    if (!MoreToSend(next_due_)) return;
    itimerspec spec{};
    spec.it_value.tv_sec = next_due_ / 1000000000;
    spec.it_value.tv_nsec = next_due_ % 1000000000;
    timerfd_settime(timer_, TFD_TIMER_ABSTIME, &spec, nullptr);
  }

  void Send(size_t i, int64_t start_ns) {
    Conn& c = conns_[i];
    c.busy = true;
    c.start_ns = start_ns;
    c.sent_ns = NowNs();
    c.out_off = 0;
    c.in.clear();
    in_flight_++;
    stats_.sent++;
    if (stats_.first_send_ns == 0) stats_.first_send_ns = NowNs();
    Flush(i);
  }

  void Flush(size_t i) {
    Conn& c = conns_[i];
    while (c.out_off < request_.size()) {
      ssize_t n = send(c.fd, request_.data() + c.out_off, request_.size() - c.out_off, MSG_NOSIGNAL);
      if (n > 0) {
        c.out_off += static_cast<size_t>(n);
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) {
        epoll_event ev{};
        ev.events = EPOLLIN | EPOLLOUT;
        ev.data.u64 = i;
        epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
        return;
      }
      Note(std::string("send: ") + std::strerror(errno));
      return Reopen(i, true);
    }
    epoll_event ev{};
    ev.events = EPOLLIN;
    ev.data.u64 = i;
    epoll_ctl(ep_, EPOLL_CTL_MOD, c.fd, &ev);
  }

  void Receive(size_t i) {
    Conn& c = conns_[i];
    char buf[16384];
    while (true) {
      ssize_t n = recv(c.fd, buf, sizeof buf, 0);
      if (n > 0) {
        c.in.append(buf, static_cast<size_t>(n));
        continue;
      }
      if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK)) break;
      // EOF or error: an idle keep-alive connection the server closed is replaced quietly.
      if (c.busy) Note(n == 0 ? "the server closed a connection mid-request" : std::strerror(errno));
      bool was_busy = c.busy;
      Reopen(i, was_busy);
      return;
    }
    if (!c.busy) {
      c.in.clear();
      return;
    }
    ParsedResponse r;
    int state = ParseResponse(c.in, stats_.first_error.empty(), &r);
    if (state == 0) return;
    if (state < 0) {
      Note("malformed response");
      return Reopen(i, true);
    }
    int64_t now = NowNs();
    c.busy = false;
    in_flight_--;
    stats_.completed++;
    stats_.last_answer_ns = now;
    stats_.statuses[r.status]++;
    if (r.status < 200 || r.status > 299) {
      stats_.non_2xx++;
      Note("HTTP " + std::to_string(r.status) + ": " + r.body.substr(0, 300));
    }
    if (c.start_ns >= warm_ns_) {
      stats_.latencies.push_back(now - c.start_ns);
      if (rate_ > 0 && now - c.start_ns > kSlowNs && stats_.slow_total++ < static_cast<int64_t>(kMaxSlow))
        stats_.slow.push_back({.at_ms = static_cast<double>(c.start_ns - t0_) / 1e6,
                               .latency_ms = static_cast<double>(now - c.start_ns) / 1e6,
                               .send_delay_ms = static_cast<double>(c.sent_ns - c.start_ns) / 1e6});
    }
    if (r.close) return Reopen(i, false);
    c.in.erase(0, r.size);
    idle_.push_back(i);
  }

  const LoadOptions& o_;
  const std::string& request_;
  std::vector<Conn> conns_;
  std::vector<size_t> idle_;
  std::deque<int64_t> backlog_;  // open loop: scheduled send times not sent yet
  double rate_;
  int64_t interval_ns_ = 0, next_due_ = 0, end_ns_ = 0, warm_ns_ = 0, t0_ = 0, drain_deadline_ = 0;
  int64_t own_total_, scheduled_ = 0, in_flight_ = 0;
  std::atomic<int64_t>* tickets_;
  int ep_ = -1, timer_ = -1;
  ThreadStats stats_;
};

}  // namespace

LatencySummary Summarise(std::vector<int64_t> ns) {
  LatencySummary s;
  s.count = static_cast<int64_t>(ns.size());
  if (ns.empty()) return s;
  std::sort(ns.begin(), ns.end());
  auto at = [&](double q) {
    size_t idx = static_cast<size_t>(q * static_cast<double>(ns.size() - 1) + 0.5);
    return static_cast<double>(ns[std::min(idx, ns.size() - 1)]) / 1e6;
  };
  s.p50_ms = at(0.50);
  s.p90_ms = at(0.90);
  s.p99_ms = at(0.99);
  s.p999_ms = at(0.999);
  s.max_ms = static_cast<double>(ns.back()) / 1e6;
  double sum = 0;
  for (int64_t v : ns) sum += static_cast<double>(v);
  s.mean_ms = sum / static_cast<double>(ns.size()) / 1e6;
  const std::vector<std::pair<std::string, double>> bounds = {{"0.5", 0.5}, {"1", 1},     {"2", 2},
                                                              {"5", 5},     {"10", 10},   {"20", 20},
                                                              {"50", 50},   {"100", 100}, {"1000", 1000}};
  size_t k = 0;
  for (const auto& [name, ms] : bounds) {
    int64_t limit = static_cast<int64_t>(ms * 1e6);
    size_t upto = static_cast<size_t>(std::upper_bound(ns.begin(), ns.end(), limit) - ns.begin());
    s.histogram.emplace_back(name, static_cast<int64_t>(upto - k));
    k = upto;
  }
  s.histogram.emplace_back("inf", static_cast<int64_t>(ns.size() - k));
  return s;
}

LoadResult RunLoad(const LoadOptions& options, const HttpTarget& target) {
  std::string request = RenderRequest(options.host, options.port, target);
  int threads = std::max(1, std::min(options.threads, options.connections));
  std::atomic<int64_t> tickets{options.total};
  // Start a little in the future so that every thread has its connections open.
  int64_t t0 = NowNs() + 20000000;
  std::vector<ThreadStats> stats(static_cast<size_t>(threads));
  std::vector<std::thread> pool;
  for (int t = 0; t < threads; ++t) {
    int conns = options.connections / threads + (t < options.connections % threads ? 1 : 0);
    double rate = options.rate / threads;
    int64_t offset = options.rate > 0 ? static_cast<int64_t>(1e9 * t / options.rate) : 0;
    int64_t own_total =
        options.total > 0 ? options.total / threads + (t < options.total % threads ? 1 : 0) : 0;
    pool.emplace_back([&, t, conns, rate, offset, own_total] {
      LoadThread lt(options, request, conns, rate, offset, t0, own_total, &tickets);
      stats[static_cast<size_t>(t)] = lt.Run();
    });
  }
  for (auto& th : pool) th.join();

  LoadResult r;
  r.start_unix_ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                        std::chrono::system_clock::now().time_since_epoch())
                        .count() -
                    (NowNs() - t0) / 1000000;
  std::vector<int64_t> all;
  int64_t first = INT64_MAX, last = 0;
  for (auto& s : stats) {
    r.sent += s.sent;
    r.completed += s.completed;
    r.non_2xx += s.non_2xx;
    r.transport_errors += s.transport_errors;
    r.reconnects += s.reconnects;
    r.late_sends += s.late_sends;
    for (const auto& [code, n] : s.statuses) r.statuses[code] += n;
    if (r.first_error.empty()) r.first_error = s.first_error;
    all.insert(all.end(), s.latencies.begin(), s.latencies.end());
    r.slow.insert(r.slow.end(), s.slow.begin(), s.slow.end());
    r.slow_total += s.slow_total;
    if (s.first_send_ns != 0) first = std::min(first, s.first_send_ns);
    last = std::max(last, s.last_answer_ns);
  }
  if (first != INT64_MAX && last > first) r.seconds = static_cast<double>(last - first) / 1e9;
  int64_t warm = t0 + options.warmup.count() * 1000000;
  if (last > warm) r.recorded_seconds = static_cast<double>(last - std::max(warm, first)) / 1e9;
  r.latency = Summarise(std::move(all));
  std::sort(r.slow.begin(), r.slow.end(),
            [](const SlowRequest& a, const SlowRequest& b) { return a.at_ms < b.at_ms; });
  if (r.recorded_seconds > 0) r.requests_per_sec = static_cast<double>(r.latency.count) / r.recorded_seconds;
  return r;
}

namespace {

// Reads one response from a blocking socket.
HttpReply ReadReply(int fd, Clock::time_point deadline, bool* close_after) {
  HttpReply reply;
  std::string in;
  char buf[16384];
  while (true) {
    ParsedResponse r;
    int state = ParseResponse(in, true, &r);
    if (state == 1) {
      reply.status = r.status;
      reply.body = std::move(r.body);
      *close_after = r.close;
      return reply;
    }
    if (state < 0) {
      reply.error = "malformed response";
      return reply;
    }
    if (Clock::now() > deadline) {
      reply.error = "timed out";
      return reply;
    }
    ssize_t n = recv(fd, buf, sizeof buf, 0);
    if (n > 0) {
      in.append(buf, static_cast<size_t>(n));
    } else if (n == 0) {
      reply.error = "connection closed";
      return reply;
    } else if (errno != EINTR && errno != EAGAIN) {
      reply.error = std::string("recv: ") + std::strerror(errno);
      return reply;
    }
  }
}

void SetTimeouts(int fd, std::chrono::milliseconds timeout) {
  timeval tv{};
  tv.tv_sec = static_cast<time_t>(timeout.count() / 1000);
  tv.tv_usec = static_cast<suseconds_t>((timeout.count() % 1000) * 1000);
  setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
  setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

bool SendAll(int fd, const std::string& data, std::string* error) {
  size_t off = 0;
  while (off < data.size()) {
    ssize_t n = send(fd, data.data() + off, data.size() - off, MSG_NOSIGNAL);
    if (n <= 0) {
      if (n < 0 && errno == EINTR) continue;
      *error = std::string("send: ") + std::strerror(errno);
      return false;
    }
    off += static_cast<size_t>(n);
  }
  return true;
}

}  // namespace

HttpReply HttpCall(const std::string& host, int port, const HttpTarget& target,
                   std::chrono::milliseconds timeout) {
  HttpReply reply;
  int fd = Connect(host, port, false, &reply.error);
  if (fd < 0) return reply;
  SetTimeouts(fd, timeout);
  if (!SendAll(fd, RenderRequest(host, port, target), &reply.error)) {
    close(fd);
    return reply;
  }
  bool close_after = false;
  reply = ReadReply(fd, Clock::now() + timeout, &close_after);
  close(fd);
  return reply;
}

HttpClient::~HttpClient() {
  if (fd_ >= 0) close(fd_);
}

HttpReply HttpClient::Call(const HttpTarget& target, std::chrono::milliseconds timeout) {
  for (int attempt = 0; attempt < 2; ++attempt) {
    HttpReply reply;
    if (fd_ < 0) {
      fd_ = Connect(host_, port_, false, &reply.error);
      if (fd_ < 0) return reply;
      SetTimeouts(fd_, timeout);
    }
    if (!SendAll(fd_, RenderRequest(host_, port_, target), &reply.error)) {
      close(fd_);
      fd_ = -1;
      continue;  // a keep-alive connection the server closed: retry once on a new one
    }
    bool close_after = false;
    reply = ReadReply(fd_, Clock::now() + timeout, &close_after);
    if (reply.status == 0 || close_after) {
      close(fd_);
      fd_ = -1;
    }
    if (reply.status != 0 || attempt == 1) return reply;
  }
  return {};
}

}  // namespace trellis::bench
