#include "store/sqlite/sqlite_checkpointer.h"

#include "core/log.h"

namespace trellis {

Result<std::unique_ptr<SqliteCheckpointer>> SqliteCheckpointer::Start(const std::string& path,
                                                                      SqliteDb& writer) {
  auto db = SqliteDb::Open(path);
  if (!db.ok()) return db.status();
  return std::unique_ptr<SqliteCheckpointer>(new SqliteCheckpointer(std::move(db).value(), writer));
}

SqliteCheckpointer::SqliteCheckpointer(std::unique_ptr<SqliteDb> db, SqliteDb& writer)
    : db_(std::move(db)), writer_(writer) {
  thread_ = std::thread([this] { Loop(); });
  sqlite3_wal_hook(writer_.raw(), &SqliteCheckpointer::OnCommit, this);
}

SqliteCheckpointer::~SqliteCheckpointer() {
  // Back to SQLite's automatic checkpoints for whatever the writer still commits.
  sqlite3_wal_autocheckpoint(writer_.raw(), kCheckpointPages);
  {
    std::lock_guard lock(mu_);
    stop_ = true;
  }
  cv_.notify_one();
  thread_.join();
  db_.reset();
}

int64_t SqliteCheckpointer::checkpoints() const {
  std::lock_guard lock(mu_);
  return checkpoints_;
}

int SqliteCheckpointer::OnCommit(void* self, sqlite3* writer, const char* schema, int pages) {
  auto* c = static_cast<SqliteCheckpointer*>(self);
  if (pages >= kInlinePages) {
    std::lock_guard lock(c->checkpoint_mu_);
    sqlite3_wal_checkpoint_v2(writer, schema, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
  } else if (pages >= kCheckpointPages) {
    {
      std::lock_guard lock(c->mu_);
      if (c->due_) return SQLITE_OK;
      c->due_ = true;
    }
    c->cv_.notify_one();
  }
  return SQLITE_OK;
}

void SqliteCheckpointer::Loop() {
  bool failing = false;
  std::unique_lock lock(mu_);
  for (;;) {
    cv_.wait(lock, [this] { return stop_ || due_; });
    if (stop_) return;
    due_ = false;
    lock.unlock();
    int rc;
    {
      std::lock_guard checkpointing(checkpoint_mu_);
      rc = sqlite3_wal_checkpoint_v2(db_->raw(), nullptr, SQLITE_CHECKPOINT_PASSIVE, nullptr, nullptr);
    }
    if (rc != SQLITE_OK && !failing) {
      // The writer checkpoints itself once the log reaches kInlinePages; nothing is lost.
      LogWarn("SQLite background checkpoint failed; the write-ahead log grows until it succeeds",
              {{"error", sqlite3_errmsg(db_->raw())}});
    }
    failing = rc != SQLITE_OK;
    lock.lock();
    if (rc == SQLITE_OK) ++checkpoints_;
  }
}

}  // namespace trellis
