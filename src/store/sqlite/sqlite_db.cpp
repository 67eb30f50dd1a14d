#include "store/sqlite/sqlite_db.h"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <mutex>

#include "store/store_util.h"

namespace trellis {

Status SqliteStatus(sqlite3* db, int rc, std::string_view what) {
  std::string message =
      "SQLite " + std::string(what) + ": " + (db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc));
  switch (rc & 0xff) {
    case SQLITE_BUSY:
    case SQLITE_LOCKED:
    case SQLITE_IOERR:
    case SQLITE_FULL:
    case SQLITE_CANTOPEN:
    case SQLITE_PROTOCOL:
    case SQLITE_READONLY: return Unavailable(std::move(message));
    case SQLITE_CONSTRAINT: return Conflict(std::move(message));
    default: return Internal(std::move(message));
  }
}

// ---------------------------------------------------------------------------------------------
// SqliteStmt

SqliteStmt::~SqliteStmt() {
  if (stmt_ != nullptr) {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
}

SqliteStmt& SqliteStmt::Bind(int i, int64_t v) {
  sqlite3_bind_int64(stmt_, i, v);
  return *this;
}

SqliteStmt& SqliteStmt::Bind(int i, std::string_view v) {
  sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  return *this;
}

SqliteStmt& SqliteStmt::Bind(int i, SqliteBlob v) {
  // A null pointer would bind NULL; empty bytes are an empty BLOB.
  const char* data = v.bytes.data() != nullptr ? v.bytes.data() : "";
  sqlite3_bind_blob64(stmt_, i, data, v.bytes.size(), SQLITE_TRANSIENT);
  return *this;
}

SqliteStmt& SqliteStmt::Bind(int i, TimePoint t) {
  return Bind(i, ToMillis(t));
}

SqliteStmt& SqliteStmt::Bind(int i, const std::optional<TimePoint>& t) {
  if (t) return Bind(i, ToMillis(*t));
  sqlite3_bind_null(stmt_, i);
  return *this;
}

SqliteStmt& SqliteStmt::Bind(int i, std::nullopt_t) {
  sqlite3_bind_null(stmt_, i);
  return *this;
}

bool SqliteStmt::Step() {
  int rc = sqlite3_step(stmt_);
  if (rc == SQLITE_ROW) return true;
  if (rc == SQLITE_DONE) return false;
  throw SqliteError(SqliteStatus(db_, rc, "step"));
}

int64_t SqliteStmt::Run() {
  while (Step()) {
  }
  return sqlite3_changes64(db_);
}

std::string_view SqliteStmt::View(int c) const {
  const auto* text = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
  if (text == nullptr) return {};
  return {text, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))};
}

std::string SqliteStmt::BlobAt(int c) const {
  const auto* bytes = static_cast<const char*>(sqlite3_column_blob(stmt_, c));
  if (bytes == nullptr) return {};
  return {bytes, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))};
}

TimePoint SqliteStmt::Time(int c) const {
  return FromMillis(Int(c));
}

std::optional<TimePoint> SqliteStmt::OptTime(int c) const {
  if (IsNull(c)) return std::nullopt;
  return FromMillis(Int(c));
}

Json SqliteStmt::JsonAt(int c) const {
  if (IsNull(c)) return nullptr;
  Json out;
  std::string error;
  if (!ParseJson(View(c), &out, &error))
    throw SqliteError(Internal("invalid JSON in the database: " + error));
  return out;
}

// ---------------------------------------------------------------------------------------------
// SqliteDb

Result<std::unique_ptr<SqliteDb>> SqliteDb::Open(const std::string& path) {
  // Before SQLite initialises: without memory statistics, an allocation inside SQLite no longer
  // takes a process-wide mutex (they were ~10% of the durable benchmark's database time). If SQLite
  // was initialised already, the call fails with SQLITE_MISUSE and the default stays.
  static std::once_flag configured;
  std::call_once(configured, [] { sqlite3_config(SQLITE_CONFIG_MEMSTATUS, 0); });
  sqlite3* raw = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &raw,
                           SQLITE_OPEN_READWRITE | SQLITE_OPEN_CREATE | SQLITE_OPEN_NOMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    Status status = Unavailable("cannot open SQLite database " + path + ": " +
                                (raw != nullptr ? sqlite3_errmsg(raw) : sqlite3_errstr(rc)));
    sqlite3_close(raw);
    return status;
  }
  std::unique_ptr<SqliteDb> db(new SqliteDb(raw));
  sqlite3_extended_result_codes(raw, 1);
  try {
    // WAL: readers never block the writer; NORMAL sync is durable across process crashes and only
    // loses the last transactions on power loss, which the runtime's leases tolerate.
    db->Exec(
        "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA busy_timeout=5000;"
        "PRAGMA temp_store=MEMORY; PRAGMA cache_size=-65536; PRAGMA foreign_keys=OFF;");
  } catch (const SqliteError& e) {
    return Unavailable("cannot set up SQLite database " + path + ": " + e.status().message());
  }
  return db;
}

SqliteDb::~SqliteDb() {
  for (auto& [sql, stmt] : cache_) sqlite3_finalize(stmt);
  sqlite3_close(db_);
}

SqliteStmt SqliteDb::Prepare(std::string_view sql) {
  auto it = cache_.find(sql);
  if (it != cache_.end()) return SqliteStmt(db_, it->second);
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v3(db_, sql.data(), static_cast<int>(sql.size()), SQLITE_PREPARE_PERSISTENT, &stmt,
                              nullptr);
  if (rc != SQLITE_OK) throw SqliteError(SqliteStatus(db_, rc, "prepare"));
  cache_.emplace(std::string(sql), stmt);
  return SqliteStmt(db_, stmt);
}

void SqliteDb::Exec(const std::string& sql) {
  char* error = nullptr;
  int rc = sqlite3_exec(db_, sql.c_str(), nullptr, nullptr, &error);
  if (rc != SQLITE_OK) {
    std::string message = error != nullptr ? error : sqlite3_errstr(rc);
    sqlite3_free(error);
    Status status = SqliteStatus(nullptr, rc, "exec");
    throw SqliteError(Status(status.code(), "SQLite: " + message));
  }
}

// ---------------------------------------------------------------------------------------------
// SqliteTxn

SqliteTxn::SqliteTxn(SqliteDb& db) : db_(db) {
  db_.Prepare("BEGIN IMMEDIATE").Run();
}

SqliteTxn::~SqliteTxn() {
  if (!done_ && sqlite3_get_autocommit(db_.raw()) == 0) {
    sqlite3_exec(db_.raw(), "ROLLBACK", nullptr, nullptr, nullptr);
  }
}

void SqliteTxn::Commit() {
  db_.Prepare("COMMIT").Run();
  done_ = true;
}

// ---------------------------------------------------------------------------------------------
// SqliteFileLock

Result<std::unique_ptr<SqliteFileLock>> SqliteFileLock::Acquire(const std::string& db_path) {
  std::string lock_path = db_path + ".lock";
  int fd = ::open(lock_path.c_str(), O_RDWR | O_CREAT | O_CLOEXEC, 0644);
  if (fd < 0) {
    return Unavailable("cannot open lock file " + lock_path + ": " + std::strerror(errno));
  }
  if (::flock(fd, LOCK_EX | LOCK_NB) != 0) {
    int err = errno;
    std::string holder = "unknown";
    if (err == EWOULDBLOCK) {
      char buf[32] = {};
      ssize_t n = ::pread(fd, buf, sizeof(buf) - 1, 0);
      if (n > 0) {
        holder.assign(buf, static_cast<size_t>(n));
        while (!holder.empty() && (holder.back() == '\n' || holder.back() == ' ')) holder.pop_back();
      }
    }
    ::close(fd);
    if (err != EWOULDBLOCK) {
      return Unavailable("cannot lock " + lock_path + ": " + std::strerror(err));
    }
    return FailedPrecondition("SQLite database " + db_path + " is in use by another process (pid " + holder +
                              "). SQLite is single-node; use PostgreSQL for several replicas");
  }
  std::string pid = std::to_string(::getpid()) + "\n";
  if (::ftruncate(fd, 0) != 0 || ::pwrite(fd, pid.data(), pid.size(), 0) < 0) {
    // The pid is only informative; the lock itself is held.
  }
  return std::unique_ptr<SqliteFileLock>(new SqliteFileLock(fd));
}

SqliteFileLock::~SqliteFileLock() {
  ::flock(fd_, LOCK_UN);
  ::close(fd_);
}

}  // namespace trellis
