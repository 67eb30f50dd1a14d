// libpq plumbing for the PostgreSQL store: text-format parameters (with array literals for
// unnest-based batches), results, one connection with a per-connection prepared statement cache
// keyed by SQL text, and a fixed-size pool that opens connections lazily and replaces broken ones.
#pragma once

#include <libpq-fe.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "config/database.h"
#include "core/status.h"

namespace trellis::pg {

// Positional parameters ($1, $2, ...) as text; nullopt is SQL NULL.
class Params {
 public:
  Params& Add(std::string v) {
    values_.emplace_back(std::move(v));
    return *this;
  }
  Params& Add(const char* v) { return Add(std::string(v)); }
  Params& Add(int64_t v) { return Add(std::to_string(v)); }
  Params& Add(int v) { return Add(std::to_string(v)); }
  Params& Add(size_t v) { return Add(std::to_string(v)); }
  Params& Add(bool v) { return Add(std::string(v ? "t" : "f")); }
  Params& AddNull() {
    values_.emplace_back(std::nullopt);
    return *this;
  }
  Params& Add(const std::optional<int64_t>& v) { return v ? Add(*v) : AddNull(); }
  const std::vector<std::optional<std::string>>& values() const { return values_; }

 private:
  std::vector<std::optional<std::string>> values_;
};

// Builds a PostgreSQL array literal ({"a","b",NULL}) element by element.
class ArrayLiteral {
 public:
  void Add(std::string_view text);
  void Add(const char* text) { Add(std::string_view(text)); }  // not the bool overload
  void Add(int64_t v);
  void Add(bool v) { Raw(v ? "t" : "f"); }
  void Add(const std::optional<int64_t>& v) {
    if (v)
      Add(*v);
    else
      AddNull();
  }
  void AddNull() { Raw("NULL"); }
  size_t size() const { return count_; }
  std::string Take() {
    text_.push_back('}');
    return std::move(text_);
  }

 private:
  void Raw(std::string_view s);
  std::string text_ = "{";
  size_t count_ = 0;
};

// A query result (owned PGresult).
class Rows {
 public:
  Rows() = default;
  explicit Rows(PGresult* r) : res_(r, &PQclear) {}
  int size() const { return res_ ? PQntuples(res_.get()) : 0; }
  bool IsNull(int row, int col) const { return PQgetisnull(res_.get(), row, col); }
  std::string Text(int row, int col) const {
    return std::string(PQgetvalue(res_.get(), row, col), PQgetlength(res_.get(), row, col));
  }
  int64_t Int(int row, int col) const;
  bool Bool(int row, int col) const { return PQgetvalue(res_.get(), row, col)[0] == 't'; }
  std::optional<int64_t> OptInt(int row, int col) const {
    if (IsNull(row, col)) return std::nullopt;
    return Int(row, col);
  }
  // Rows affected by INSERT/UPDATE/DELETE without RETURNING.
  int64_t Affected() const;

 private:
  std::shared_ptr<PGresult> res_;
};

// SQLSTATEs the store reacts to.
inline constexpr const char* kUniqueViolation = "23505";
bool IsRetryableSqlState(const std::string& state);  // serialization failure, deadlock

// One connection. Not thread-safe: the pool hands it to one thread at a time.
class Connection {
 public:
  explicit Connection(PGconn* conn) : conn_(conn) {}
  ~Connection();
  Connection(const Connection&) = delete;
  Connection& operator=(const Connection&) = delete;

  // Runs `sql` as a prepared statement (prepared once per connection, by its text).
  Result<Rows> Exec(const std::string& sql, const Params& params = {});
  // Runs one or more statements without parameters (simple query protocol).
  Status ExecScript(const std::string& sql);

  // False once the connection failed; the pool discards it.
  bool healthy() const { return !broken_ && PQstatus(conn_) == CONNECTION_OK; }
  // Drops a connection that the server closed while it was idle (a restart).
  bool CheckIdle();
  // The SQLSTATE of the last error ("" when none or not from the server).
  const std::string& last_sql_state() const { return last_sql_state_; }
  PGconn* raw() { return conn_; }

 private:
  Status ErrorFrom(PGresult* res, const char* what);

  PGconn* conn_;
  bool broken_ = false;
  std::string last_sql_state_;
  std::unordered_map<std::string, std::string> prepared_;  // SQL text -> statement name
};

// Opens a connection with the settings' conninfo, connect timeout and statement timeout.
// Unavailable with `describe` (never the conninfo) when it cannot connect.
Result<std::unique_ptr<Connection>> Connect(const DatabaseSettings& settings, const std::string& describe);

class Pool {
 public:
  Pool(DatabaseSettings settings, std::string describe);
  ~Pool();

  // A connection for the duration of the lease; returned (or dropped if broken) on destruction.
  class Lease {
   public:
    Lease(Pool* pool, std::unique_ptr<Connection> conn) : pool_(pool), conn_(std::move(conn)) {}
    Lease(Lease&& o) noexcept = default;
    ~Lease() {
      if (conn_) pool_->Return(std::move(conn_));
    }
    Connection* operator->() { return conn_.get(); }
    Connection& operator*() { return *conn_; }

   private:
    Pool* pool_;
    std::unique_ptr<Connection> conn_;
  };

  // Waits up to the acquire timeout for a free slot; Unavailable when none frees up or the
  // server cannot be reached.
  Result<Lease> Acquire();

  const DatabaseSettings& settings() const { return settings_; }
  const std::string& describe() const { return describe_; }
  // Connections leased (or being opened), and open ones waiting (for metrics).
  std::pair<size_t, size_t> InUseAndIdle() const;

 private:
  void Return(std::unique_ptr<Connection> conn);

  const DatabaseSettings settings_;
  const std::string describe_;
  mutable std::mutex mu_;  // guards idle_ and in_use_
  std::condition_variable freed_;
  std::vector<std::unique_ptr<Connection>> idle_;
  size_t in_use_ = 0;  // slots taken (leased or being opened)
};

}  // namespace trellis::pg
