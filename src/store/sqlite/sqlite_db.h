// A thin wrapper over one sqlite3 connection for the SQLite store: a cache of persistent prepared
// statements keyed by their SQL, a statement handle that resets itself, BEGIN IMMEDIATE
// transactions, and the exclusive lock on the database file's sidecar.
//
// Inside this provider, SQLite errors are thrown as SqliteError so that multi-statement
// transactions read straight; every Store method catches it and returns its Status
// (SqliteStore::Run). Nothing thrown here leaves the provider.
#pragma once

#include <sqlite3.h>

#include <exception>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"

namespace trellis {

class SqliteError : public std::exception {
 public:
  explicit SqliteError(Status status) : status_(std::move(status)) {}
  const Status& status() const { return status_; }
  const char* what() const noexcept override { return status_.message().c_str(); }

 private:
  Status status_;
};

// JSON as stored: compact, with invalid UTF-8 replaced rather than thrown on.
inline std::string JsonText(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

// The Status for a failed SQLite call: busy/locked and I/O failures are Unavailable (retried by
// the runtime), constraint violations Conflict, the rest Internal.
Status SqliteStatus(sqlite3* db, int rc, std::string_view what);

// Raw bytes to bind as a BLOB (a string binds as TEXT).
struct SqliteBlob {
  std::string_view bytes;
};

// A prepared statement borrowed from the cache. Resets and clears its bindings when it goes out of
// scope, so the cached statement is ready for the next user.
class SqliteStmt {
 public:
  SqliteStmt(sqlite3* db, sqlite3_stmt* stmt) : db_(db), stmt_(stmt) {}
  SqliteStmt(SqliteStmt&& other) noexcept : db_(other.db_), stmt_(other.stmt_) { other.stmt_ = nullptr; }
  SqliteStmt(const SqliteStmt&) = delete;
  SqliteStmt& operator=(const SqliteStmt&) = delete;
  SqliteStmt& operator=(SqliteStmt&&) = delete;
  ~SqliteStmt();

  SqliteStmt& Bind(int i, int64_t v);
  SqliteStmt& Bind(int i, int v) { return Bind(i, static_cast<int64_t>(v)); }
  SqliteStmt& Bind(int i, uint64_t v) { return Bind(i, static_cast<int64_t>(v)); }
  SqliteStmt& Bind(int i, bool v) { return Bind(i, static_cast<int64_t>(v ? 1 : 0)); }
  SqliteStmt& Bind(int i, std::string_view v);
  SqliteStmt& Bind(int i, const std::string& v) { return Bind(i, std::string_view(v)); }
  SqliteStmt& Bind(int i, const char* v) { return Bind(i, std::string_view(v)); }
  SqliteStmt& Bind(int i, SqliteBlob v);
  SqliteStmt& Bind(int i, TimePoint t);
  SqliteStmt& Bind(int i, const std::optional<TimePoint>& t);
  SqliteStmt& Bind(int i, std::nullopt_t);
  // Binds 1..N in order.
  template <typename... Ts>
  SqliteStmt& Args(const Ts&... args) {
    int i = 0;
    (Bind(++i, args), ...);
    return *this;
  }

  // Advances: true when a row is available, false when done. Throws SqliteError.
  bool Step();
  // Steps to the end (a write); returns the rows changed.
  int64_t Run();

  bool IsNull(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t Int(int c) const { return sqlite3_column_int64(stmt_, c); }
  bool Bool(int c) const { return sqlite3_column_int64(stmt_, c) != 0; }
  std::string_view View(int c) const;
  std::string Text(int c) const { return std::string(View(c)); }
  // A BLOB column's bytes (NULL: empty).
  std::string BlobAt(int c) const;
  TimePoint Time(int c) const;
  std::optional<TimePoint> OptTime(int c) const;
  // Parses a JSON text column; NULL is null. Throws SqliteError (Internal) on invalid JSON.
  Json JsonAt(int c) const;

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_;
};

// One connection and its statement cache. Not thread-safe: the store serialises access.
class SqliteDb {
 public:
  // Opens (creating) the file and sets the pragmas. Unavailable when it cannot be opened.
  static Result<std::unique_ptr<SqliteDb>> Open(const std::string& path);
  ~SqliteDb();
  SqliteDb(const SqliteDb&) = delete;
  SqliteDb& operator=(const SqliteDb&) = delete;

  // A cached statement for `sql` (prepared once, SQLITE_PREPARE_PERSISTENT). Throws SqliteError.
  SqliteStmt Prepare(std::string_view sql);
  // Runs one or more statements without caching (migrations, pragmas). Throws SqliteError.
  void Exec(const std::string& sql);
  int64_t LastInsertId() const { return sqlite3_last_insert_rowid(db_); }
  sqlite3* raw() const { return db_; }

 private:
  explicit SqliteDb(sqlite3* db) : db_(db) {}

  struct SqlHash {
    using is_transparent = void;
    size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
  };
  sqlite3* db_;
  std::unordered_map<std::string, sqlite3_stmt*, SqlHash, std::equal_to<>> cache_;
};

// BEGIN IMMEDIATE (the write lock up front, so a transaction never fails to upgrade); rolls back
// unless Commit() was called.
class SqliteTxn {
 public:
  explicit SqliteTxn(SqliteDb& db);
  ~SqliteTxn();
  SqliteTxn(const SqliteTxn&) = delete;
  SqliteTxn& operator=(const SqliteTxn&) = delete;
  void Commit();

 private:
  SqliteDb& db_;
  bool done_ = false;
};

// An exclusive flock on "<path>.lock" holding the owner's pid, so that one process (one open)
// uses a database file at a time.
class SqliteFileLock {
 public:
  // FailedPrecondition naming the holder's pid when another open holds it.
  static Result<std::unique_ptr<SqliteFileLock>> Acquire(const std::string& db_path);
  ~SqliteFileLock();
  SqliteFileLock(const SqliteFileLock&) = delete;
  SqliteFileLock& operator=(const SqliteFileLock&) = delete;

 private:
  explicit SqliteFileLock(int fd) : fd_(fd) {}
  int fd_;
};

}  // namespace trellis
