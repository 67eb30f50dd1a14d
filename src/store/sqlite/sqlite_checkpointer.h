#ifndef TRELLIS_STORE_SQLITE_SQLITE_CHECKPOINTER_H_
#define TRELLIS_STORE_SQLITE_SQLITE_CHECKPOINTER_H_

#include <condition_variable>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "core/status.h"
#include "store/sqlite/sqlite_db.h"

namespace trellis {

// Copies the write-ahead log back into the database file on a connection and thread of its own, so
// that a commit on the store's connection never waits for a checkpoint (the page copies and the
// fsync were about half of the time a commit held the store's mutex).
//
// The writer's WAL hook (replacing SQLite's automatic checkpoint) wakes this thread once the log
// holds kCheckpointPages; the thread runs a PASSIVE checkpoint, which never blocks the writer.
// SQLite only starts the log over when a write begins with every frame copied back, which a
// writer that never pauses would not give it: at kInlinePages the writer checkpoints itself after
// its commit (the tail the thread has not copied yet, so little work), and the log restarts.
// Destroy it before the writer's connection: the writer, closed last, then checkpoints what is
// left and removes the log.
class SqliteCheckpointer {
 public:
  static constexpr int kCheckpointPages = 1000;  // SQLite's own autocheckpoint threshold
  static constexpr int kInlinePages = 4 * kCheckpointPages;

  // Opens the second connection to `path` and installs the hook on `writer`.
  static Result<std::unique_ptr<SqliteCheckpointer>> Start(const std::string& path, SqliteDb& writer);
  ~SqliteCheckpointer();
  SqliteCheckpointer(const SqliteCheckpointer&) = delete;
  SqliteCheckpointer& operator=(const SqliteCheckpointer&) = delete;

  int64_t checkpoints() const;  // completed by the thread, for tests

 private:
  SqliteCheckpointer(std::unique_ptr<SqliteDb> db, SqliteDb& writer);
  static int OnCommit(void* self, sqlite3* writer, const char* schema, int pages);
  void Loop();

  std::unique_ptr<SqliteDb> db_;  // used by the thread only
  SqliteDb& writer_;
  // Held while either connection checkpoints: SQLite runs one checkpoint at a time and answers a
  // second with SQLITE_BUSY, so the writer's own checkpoint waits for the thread's instead.
  std::mutex checkpoint_mu_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  bool due_ = false;         // guarded by mu_
  bool stop_ = false;        // guarded by mu_
  int64_t checkpoints_ = 0;  // guarded by mu_
  std::thread thread_;
};

}  // namespace trellis

#endif  // TRELLIS_STORE_SQLITE_SQLITE_CHECKPOINTER_H_
