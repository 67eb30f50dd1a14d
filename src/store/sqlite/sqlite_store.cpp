// Opening the SQLite store, migrations, nodes, retention, statistics and in-process wake-ups.
#include <filesystem>

#include "core/log.h"
#include "store/migrations.h"
#include "store/sqlite/schema.h"
#include "store/sqlite/sqlite_store.h"
#include "store/sqlite/sqlite_store_impl.h"
#include "store/store_util.h"

namespace trellis {

namespace {

class SqliteWorkListener final : public WorkListener {
 public:
  explicit SqliteWorkListener(std::shared_ptr<SqliteWorkSignal> signal) : signal_(std::move(signal)) {
    std::lock_guard<std::mutex> lock(signal_->mu);
    seen_ = signal_->generation;
  }

  bool Wait(std::chrono::milliseconds timeout) override {
    std::unique_lock<std::mutex> lock(signal_->mu);
    signal_->cv.wait_for(lock, timeout, [&] { return interrupted_ || signal_->generation != seen_; });
    bool notified = signal_->generation != seen_;
    seen_ = signal_->generation;
    if (interrupted_) {
      interrupted_ = false;
      return false;
    }
    return notified;
  }

  void Interrupt() override {
    {
      std::lock_guard<std::mutex> lock(signal_->mu);
      interrupted_ = true;
    }
    signal_->cv.notify_all();
  }

 private:
  std::shared_ptr<SqliteWorkSignal> signal_;
  uint64_t seen_ = 0;         // guarded by signal_->mu
  bool interrupted_ = false;  // guarded by signal_->mu
};

}  // namespace

Result<std::unique_ptr<Store>> OpenSqliteStore(const DatabaseSettings& settings,
                                               const StoreOptions& options) {
  const std::string& path = settings.sqlite_path;
  if (path.empty()) return InvalidArgument("the SQLite database path is empty");
  std::unique_ptr<SqliteFileLock> lock;
  bool memory = path == ":memory:";
  if (!memory) {
    std::error_code ec;
    std::filesystem::path parent = std::filesystem::path(path).parent_path();
    if (!parent.empty()) std::filesystem::create_directories(parent, ec);
    if (ec) {
      DatabaseConnectionErrors()++;
      return Unavailable("cannot create the directory " + parent.string() + " for " + path + ": " +
                         ec.message());
    }
    auto locked = SqliteFileLock::Acquire(path);
    if (!locked.ok()) return locked.status();
    lock = std::move(locked).value();
  }
  auto db = SqliteDb::Open(path);
  if (!db.ok()) {
    DatabaseConnectionErrors()++;
    return db.status();
  }
  return std::unique_ptr<Store>(new SqliteStore(path, std::move(lock), std::move(db).value(), options));
}

SqliteStore::SqliteStore(std::string path, std::unique_ptr<SqliteFileLock> lock, std::unique_ptr<SqliteDb> db,
                         const StoreOptions& options)
    : path_(std::move(path)),
      options_(options),
      clock_(options.clock != nullptr ? options.clock : &SystemClock::Instance()),
      lock_(std::move(lock)),
      db_(std::move(db)),
      signal_(std::make_shared<SqliteWorkSignal>()) {
  if (path_ == ":memory:") return;
  auto checkpointer = SqliteCheckpointer::Start(path_, *db_);
  if (checkpointer.ok()) {
    checkpointer_ = std::move(checkpointer).value();
  } else {
    LogWarn("SQLite checkpoints stay on the committing thread", {{"error", checkpointer.status().message()}});
  }
}

SqliteStore::~SqliteStore() {
  checkpointer_.reset();  // before the writer: closed last, it checkpoints the rest of the log
  db_.reset();            // close the connection before releasing the file lock
  lock_.reset();
}

void SqliteStore::Announce() {
  {
    std::lock_guard<std::mutex> lock(signal_->mu);
    ++signal_->generation;
  }
  signal_->cv.notify_all();
}

Result<std::unique_ptr<WorkListener>> SqliteStore::Listen() {
  return std::unique_ptr<WorkListener>(new SqliteWorkListener(signal_));
}

Status SqliteStore::Ping() {
  return Run([&]() -> Status {
    auto stmt = db_->Prepare("SELECT 1");
    stmt.Step();
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------
// Migrations

std::vector<MigrationInfo> SqliteStore::AppliedMigrations() {
  std::vector<MigrationInfo> out;
  {
    auto exists =
        db_->Prepare("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'schema_migrations'");
    if (!exists.Step()) return out;
  }
  auto stmt =
      db_->Prepare("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version");
  while (stmt.Step()) {
    out.push_back(MigrationInfo{.version = static_cast<int>(stmt.Int(0)),
                                .name = stmt.Text(1),
                                .checksum = stmt.Text(2),
                                .applied_at = stmt.Time(3)});
  }
  return out;
}

Result<std::vector<MigrationInfo>> SqliteStore::Migrate() {
  return Run([&]() -> Result<std::vector<MigrationInfo>> {
    db_->Exec(
        "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
        "checksum TEXT NOT NULL, applied_at INTEGER NOT NULL)");
    const auto& known = SqliteMigrations();
    auto plan = PlanMigrations(known, AppliedMigrations());
    if (!plan.ok()) return plan.status();
    std::vector<MigrationInfo> applied;
    for (const Migration* m : *plan) {
      SqliteTxn txn(*db_);
      {
        // Re-checked under the write lock: a concurrent Migrate (another thread) applied it already.
        auto done = db_->Prepare("SELECT 1 FROM schema_migrations WHERE version = ?");
        if (done.Args(m->version).Step()) continue;
      }
      try {
        db_->Exec(m->sql);
      } catch (const SqliteError& e) {
        return Status(e.status().code(), "migration " + std::to_string(m->version) + " (" + m->name +
                                             ") failed: " + e.status().message());
      }
      db_->Prepare("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES (?, ?, ?, ?)")
          .Args(m->version, m->name, MigrationChecksum(*m), Now())
          .Run();
      txn.Commit();
      applied.push_back(
          {.version = m->version, .name = m->name, .checksum = MigrationChecksum(*m), .applied_at = Now()});
    }
    return applied;
  });
}

Result<std::vector<MigrationInfo>> SqliteStore::MigrationStatus() {
  return Run([&]() -> Result<std::vector<MigrationInfo>> {
    return MigrationStatusList(SqliteMigrations(), AppliedMigrations());
  });
}

// ---------------------------------------------------------------------------------------------
// Nodes

Status SqliteStore::UpsertNode(const NodeRecord& node) {
  return Run([&]() -> Status {
    db_->Prepare(
           "INSERT INTO nodes (id, kind, hostname, pid, version, concurrency, draining, started_at, "
           "heartbeat_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET kind = excluded.kind, "
           "hostname = excluded.hostname, pid = excluded.pid, version = excluded.version, "
           "concurrency = excluded.concurrency, draining = excluded.draining, started_at = "
           "excluded.started_at, "
           "heartbeat_at = excluded.heartbeat_at")
        .Args(node.id, node.kind, node.hostname, node.pid, node.version, node.concurrency, node.draining,
              node.started_at, node.heartbeat_at)
        .Run();
    return Status::Ok();
  });
}

Status SqliteStore::RemoveNode(const std::string& id) {
  return Run([&]() -> Status {
    db_->Prepare("DELETE FROM nodes WHERE id = ?").Args(id).Run();
    return Status::Ok();
  });
}

Result<std::vector<NodeRecord>> SqliteStore::ListNodes(TimePoint since) {
  return Run([&]() -> Result<std::vector<NodeRecord>> {
    std::vector<NodeRecord> out;
    auto stmt = db_->Prepare(
        "SELECT id, kind, hostname, pid, version, concurrency, draining, started_at, heartbeat_at FROM nodes "
        "WHERE heartbeat_at > ? ORDER BY id");
    stmt.Args(since);
    while (stmt.Step()) {
      out.push_back(NodeRecord{.id = stmt.Text(0),
                               .kind = stmt.Text(1),
                               .hostname = stmt.Text(2),
                               .pid = stmt.Int(3),
                               .version = stmt.Text(4),
                               .concurrency = static_cast<int>(stmt.Int(5)),
                               .draining = stmt.Bool(6),
                               .started_at = stmt.Time(7),
                               .heartbeat_at = stmt.Time(8)});
    }
    return out;
  });
}

Result<int64_t> SqliteStore::PruneNodes(TimePoint before) {
  return Run([&]() -> Result<int64_t> {
    return db_->Prepare("DELETE FROM nodes WHERE heartbeat_at < ?").Args(before).Run();
  });
}

// ---------------------------------------------------------------------------------------------
// Retention and statistics

void SqliteStore::DeleteInstanceRows(const std::string& id) {
  db_->Prepare("DELETE FROM activity_executions WHERE instance_id = ?").Args(id).Run();
  db_->Prepare("DELETE FROM bookmarks WHERE instance_id = ?").Args(id).Run();
  db_->Prepare("DELETE FROM inbox WHERE instance_id = ?").Args(id).Run();
  db_->Prepare("DELETE FROM workflow_instances WHERE id = ?").Args(id).Run();
}

Result<int64_t> SqliteStore::PruneFinished(TimePoint before, size_t batch) {
  return Run([&]() -> Result<int64_t> {
    SqliteTxn txn(*db_);
    std::vector<std::string> ids;
    {
      auto stmt = db_->Prepare(
          "SELECT id FROM workflow_instances WHERE finished_at IS NOT NULL AND finished_at < ? "
          "AND status IN ('Completed', 'Faulted', 'Cancelled') ORDER BY finished_at LIMIT ?");
      stmt.Args(before, static_cast<int64_t>(batch));
      while (stmt.Step()) ids.push_back(stmt.Text(0));
    }
    for (const auto& id : ids) DeleteInstanceRows(id);
    db_->Prepare("DELETE FROM held_events WHERE expires_at <= ?").Args(Now()).Run();
    txn.Commit();
    return static_cast<int64_t>(ids.size());
  });
}

Result<int64_t> SqliteStore::PruneHeldEvents(TimePoint now) {
  return Run([&]() -> Result<int64_t> {
    return db_->Prepare("DELETE FROM held_events WHERE expires_at <= ?").Args(now).Run();
  });
}

Result<StoreStats> SqliteStore::Stats(TimePoint now) {
  return Run([&]() -> Result<StoreStats> {
    StoreStats stats;
    {
      auto stmt = db_->Prepare("SELECT status, COUNT(*) FROM workflow_instances GROUP BY status");
      while (stmt.Step()) stats.instances_by_status[stmt.Text(0)] = stmt.Int(1);
    }
    {
      auto stmt = db_->Prepare(
          "SELECT COUNT(*), MIN(created_at) FROM workflow_instances WHERE runnable = 1 "
          "AND status NOT IN ('Completed', 'Cancelled') AND (lease_owner IS NULL OR lease_expires < ?1)");
      stmt.Args(now);
      if (stmt.Step()) {
        stats.runnable = stmt.Int(0);
        stats.oldest_runnable = stmt.OptTime(1);
      }
    }
    {
      auto stmt = db_->Prepare(
          "SELECT COUNT(*) FROM workflow_instances WHERE wake_at <= ?1 "
          "AND status NOT IN ('Completed', 'Cancelled') AND (lease_owner IS NULL OR lease_expires < ?1)");
      stmt.Args(now);
      if (stmt.Step()) stats.timers_due = stmt.Int(0);
    }
    return stats;
  });
}

}  // namespace trellis
