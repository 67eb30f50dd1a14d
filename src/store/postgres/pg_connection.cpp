#include "store/postgres/pg_connection.h"

#include <poll.h>

#include <algorithm>
#include <charconv>
#include <cstring>

#include "store/store.h"

namespace trellis::pg {

namespace {

std::string Trimmed(const char* message) {
  std::string s = message ? message : "";
  for (char& c : s) {
    if (c == '\n' || c == '\t') c = ' ';
  }
  while (!s.empty() && s.back() == ' ') s.pop_back();
  return s;
}

bool IsConnectionSqlState(const std::string& state) {
  return state.rfind("08", 0) == 0 || state == "57P01" || state == "57P02" || state == "57P03";
}

std::string DurationText(std::chrono::milliseconds d) {
  if (d.count() % 1000 == 0) return std::to_string(d.count() / 1000) + "s";
  return std::to_string(d.count()) + "ms";
}

}  // namespace

void ArrayLiteral::Raw(std::string_view s) {
  if (count_++ > 0) text_.push_back(',');
  text_.append(s);
}

void ArrayLiteral::Add(std::string_view v) {
  if (count_++ > 0) text_.push_back(',');
  text_.push_back('"');
  // Runs of plain characters are appended at once (states are hundreds of bytes, a batch thousands).
  while (!v.empty()) {
    size_t special = v.find_first_of("\"\\");
    text_.append(v.substr(0, special));
    if (special == std::string_view::npos) break;
    text_.push_back('\\');
    text_.push_back(v[special]);
    v.remove_prefix(special + 1);
  }
  text_.push_back('"');
}

void ArrayLiteral::Add(int64_t v) {
  char buf[24];
  auto [end, ec] = std::to_chars(buf, buf + sizeof buf, v);
  (void)ec;
  Raw(std::string_view(buf, static_cast<size_t>(end - buf)));
}

int64_t Rows::Int(int row, int col) const {
  const char* s = PQgetvalue(res_.get(), row, col);
  int64_t v = 0;
  std::from_chars(s, s + PQgetlength(res_.get(), row, col), v);
  return v;
}

int64_t Rows::Affected() const {
  const char* s = res_ ? PQcmdTuples(res_.get()) : "";
  int64_t v = 0;
  std::from_chars(s, s + strlen(s), v);
  return v;
}

bool IsRetryableSqlState(const std::string& state) {
  return state == "40001" || state == "40P01";
}

Connection::~Connection() {
  if (conn_) PQfinish(conn_);
}

Status Connection::ErrorFrom(PGresult* res, const char* what) {
  const char* state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : nullptr;
  last_sql_state_ = state ? state : "";
  std::string message = Trimmed(res ? PQresultErrorMessage(res) : PQerrorMessage(conn_));
  if (message.empty()) message = Trimmed(PQerrorMessage(conn_));
  if (res) PQclear(res);
  if (PQstatus(conn_) != CONNECTION_OK || IsConnectionSqlState(last_sql_state_) || (!state && !res)) {
    if (!broken_) DatabaseConnectionErrors()++;
    broken_ = true;
    return Unavailable(std::string("PostgreSQL connection lost (") + what + "): " + message);
  }
  if (last_sql_state_ == kUniqueViolation) return Conflict(message);
  if (IsRetryableSqlState(last_sql_state_) || last_sql_state_ == "57014" || last_sql_state_ == "55P03") {
    return Unavailable("PostgreSQL: " + message);
  }
  return Internal(std::string("PostgreSQL ") + what + ": " + message);
}

Result<Rows> Connection::Exec(const std::string& sql, const Params& params) {
  last_sql_state_.clear();
  auto it = prepared_.find(sql);
  if (it == prepared_.end()) {
    std::string name = "s" + std::to_string(prepared_.size());
    PGresult* res = PQprepare(conn_, name.c_str(), sql.c_str(), 0, nullptr);
    if (!res || PQresultStatus(res) != PGRES_COMMAND_OK) return ErrorFrom(res, "prepare");
    PQclear(res);
    it = prepared_.emplace(sql, std::move(name)).first;
  }
  const auto& values = params.values();
  std::vector<const char*> ptrs(values.size());
  for (size_t i = 0; i < values.size(); ++i) ptrs[i] = values[i] ? values[i]->c_str() : nullptr;
  PGresult* res = PQexecPrepared(conn_, it->second.c_str(), static_cast<int>(ptrs.size()), ptrs.data(),
                                 nullptr, nullptr, 0);
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorFrom(res, "query");
  return Rows(res);
}

Status Connection::ExecScript(const std::string& sql) {
  last_sql_state_.clear();
  PGresult* res = PQexec(conn_, sql.c_str());
  ExecStatusType st = res ? PQresultStatus(res) : PGRES_FATAL_ERROR;
  if (st != PGRES_COMMAND_OK && st != PGRES_TUPLES_OK) return ErrorFrom(res, "statement");
  PQclear(res);
  // A script may return several results; libpq gives the last one to PQexec.
  return Status::Ok();
}

bool Connection::CheckIdle() {
  if (broken_ || PQstatus(conn_) != CONNECTION_OK) return false;
  pollfd p{.fd = PQsocket(conn_), .events = POLLIN, .revents = 0};
  if (p.fd < 0) return false;
  if (poll(&p, 1, 0) > 0) {
    // An idle connection has nothing to read unless the server is closing it.
    if (!PQconsumeInput(conn_) || PQstatus(conn_) != CONNECTION_OK) {
      DatabaseConnectionErrors()++;
      broken_ = true;
      return false;
    }
    while (PGnotify* n = PQnotifies(conn_)) PQfreemem(n);
  }
  return true;
}

Result<std::unique_ptr<Connection>> Connect(const DatabaseSettings& settings, const std::string& describe) {
  auto secs = std::max<int64_t>(1, (settings.connect_timeout.count() + 999) / 1000);
  std::string timeout = std::to_string(secs);
  const char* keys[] = {"dbname", "connect_timeout", "fallback_application_name", nullptr};
  const char* values[] = {settings.pg_conninfo.c_str(), timeout.c_str(), "trellis", nullptr};
  PGconn* raw = PQconnectdbParams(keys, values, /*expand_dbname=*/1);
  if (!raw) {
    DatabaseConnectionErrors()++;
    return Unavailable("cannot connect to " + describe + ": out of memory");
  }
  auto conn = std::make_unique<Connection>(raw);
  if (PQstatus(raw) != CONNECTION_OK) {
    DatabaseConnectionErrors()++;
    return Unavailable("cannot connect to " + describe + ": " + Trimmed(PQerrorMessage(raw)));
  }
  PQsetNoticeProcessor(
      raw, [](void*, const char*) {}, nullptr);  // NOTICEs are not errors
  if (settings.statement_timeout.count() > 0) {
    Status s =
        conn->ExecScript("SET statement_timeout = " + std::to_string(settings.statement_timeout.count()));
    if (!s.ok()) {
      if (conn->healthy()) DatabaseConnectionErrors()++;  // else ErrorFrom counted the lost connection
      return Unavailable("cannot set up a connection to " + describe + ": " + s.message());
    }
  }
  return conn;
}

Pool::Pool(DatabaseSettings settings, std::string describe)
    : settings_(std::move(settings)), describe_(std::move(describe)) {}

Pool::~Pool() = default;

Result<Pool::Lease> Pool::Acquire() {
  size_t size = std::max<size_t>(1, settings_.pool_size);
  std::unique_ptr<Connection> conn;
  {
    std::unique_lock lock(mu_);
    auto deadline = std::chrono::steady_clock::now() + settings_.acquire_timeout;
    while (idle_.empty() && in_use_ >= size) {
      if (freed_.wait_until(lock, deadline) == std::cv_status::timeout && idle_.empty() && in_use_ >= size) {
        return Unavailable("no PostgreSQL connection free within " + DurationText(settings_.acquire_timeout) +
                           " (pool size " + std::to_string(size) + ")");
      }
    }
    ++in_use_;
    if (!idle_.empty()) {
      conn = std::move(idle_.back());
      idle_.pop_back();
    }
  }
  if (conn && !conn->CheckIdle()) conn.reset();
  if (!conn) {
    auto opened = Connect(settings_, describe_);
    if (!opened.ok()) {
      std::lock_guard lock(mu_);
      --in_use_;
      freed_.notify_one();
      return opened.status();
    }
    conn = std::move(opened).value();
  }
  return Lease(this, std::move(conn));
}

std::pair<size_t, size_t> Pool::InUseAndIdle() const {
  std::lock_guard lock(mu_);
  return {in_use_, idle_.size()};
}

void Pool::Return(std::unique_ptr<Connection> conn) {
  // A connection left inside a transaction (an error path that could not roll back) is dropped.
  if (conn->healthy() && PQtransactionStatus(conn->raw()) != PQTRANS_IDLE) conn.reset();
  std::unique_ptr<Connection> drop;
  {
    std::lock_guard lock(mu_);
    --in_use_;
    if (conn && conn->healthy())
      idle_.push_back(std::move(conn));
    else
      drop = std::move(conn);
    freed_.notify_one();
  }
}

}  // namespace trellis::pg
