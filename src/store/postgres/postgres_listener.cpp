// Wake-ups over LISTEN/NOTIFY: one dedicated connection per listener (not from the pool), waited on
// with poll() together with an eventfd for Interrupt(). A broken connection is re-opened with
// backoff; meanwhile Wait() sleeps out its timeout instead of spinning, and the first Wait() after
// a reconnect reports a wake-up, since notifications sent during the gap were lost.
#include <poll.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>

#include "store/postgres/postgres_store_impl.h"

namespace trellis {

namespace {

class PostgresWorkListener final : public WorkListener {
 public:
  PostgresWorkListener(DatabaseSettings settings, std::string describe, int event_fd)
      : settings_(std::move(settings)), describe_(std::move(describe)), event_fd_(event_fd) {}
  ~PostgresWorkListener() override { close(event_fd_); }

  Status Connect() {
    auto conn = pg::Connect(settings_, describe_);
    if (!conn.ok()) return conn.status();
    Status s = (*conn)->ExecScript(std::string("LISTEN ") + pg::kWorkChannel);
    if (!s.ok()) return s;
    conn_ = std::move(conn).value();
    return Status::Ok();
  }

  bool Wait(std::chrono::milliseconds timeout) override {
    auto deadline = std::chrono::steady_clock::now() + timeout;
    for (;;) {
      if (!conn_ || !conn_->healthy()) {
        conn_.reset();
        if (std::chrono::steady_clock::now() >= next_attempt_) {
          if (Connect().ok()) {
            backoff_ = std::chrono::milliseconds(100);
            return true;  // notifications may have been missed while disconnected
          }
          next_attempt_ = std::chrono::steady_clock::now() + backoff_;
          backoff_ = std::min<std::chrono::milliseconds>(backoff_ * 2, std::chrono::seconds(5));
        }
      } else if (Drain()) {
        return true;
      }
      auto now = std::chrono::steady_clock::now();
      if (now >= deadline) return false;
      auto until = deadline;
      if (!conn_) until = std::min(until, next_attempt_);
      int wait_ms = static_cast<int>(
          std::max<int64_t>(0, std::chrono::ceil<std::chrono::milliseconds>(until - now).count()));
      pollfd fds[2] = {{.fd = event_fd_, .events = POLLIN, .revents = 0},
                       {.fd = conn_ ? PQsocket(conn_->raw()) : -1, .events = POLLIN, .revents = 0}};
      int n = poll(fds, conn_ ? 2 : 1, wait_ms);
      if (n > 0 && (fds[0].revents & POLLIN)) {
        uint64_t v;
        (void)!read(event_fd_, &v, sizeof v);
        return false;
      }
      if (n > 0 && conn_ && fds[1].revents) {
        if (!PQconsumeInput(conn_->raw())) conn_.reset();
      }
    }
  }

  void Interrupt() override {
    uint64_t one = 1;
    (void)!write(event_fd_, &one, sizeof one);
  }

 private:
  // Consumes what arrived; true when a notification was among it.
  bool Drain() {
    if (!PQconsumeInput(conn_->raw())) {
      conn_.reset();
      return false;
    }
    bool any = false;
    while (PGnotify* n = PQnotifies(conn_->raw())) {
      any = true;
      PQfreemem(n);
    }
    return any;
  }

  const DatabaseSettings settings_;
  const std::string describe_;
  const int event_fd_;
  std::unique_ptr<pg::Connection> conn_;
  std::chrono::steady_clock::time_point next_attempt_{};
  std::chrono::milliseconds backoff_{100};
};

}  // namespace

Result<std::unique_ptr<WorkListener>> PostgresStore::Listen() {
  int fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (fd < 0) return Internal("eventfd failed");
  auto listener = std::make_unique<PostgresWorkListener>(settings_, describe_, fd);
  if (Status s = listener->Connect(); !s.ok()) return s;
  return std::unique_ptr<WorkListener>(std::move(listener));
}

}  // namespace trellis
