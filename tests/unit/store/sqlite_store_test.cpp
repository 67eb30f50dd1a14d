// What only the SQLite provider does: the exclusive lock on its file, WAL mode, durability across
// reopen, and the parent directory it creates.
#include <sqlite3.h>

#include <thread>

#include "store/sqlite/sqlite_checkpointer.h"
#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

class SqliteStoreTest : public ::testing::Test {
 protected:
  void SetUp() override { path_ = MakeTestStoreDir() + "/sub/dir/trellis.db"; }
  void TearDown() override { RemoveTestStoreDirs(); }

  Result<std::unique_ptr<Store>> Open() {
    DatabaseSettings settings;
    settings.sqlite_path = path_;
    return OpenSqliteStore(settings, StoreOptions{});
  }

  std::string path_;
};

TEST_F(SqliteStoreTest, SecondOpenOfTheSameFileFailsWithSingleNodeMessage) {
  auto first = Open();
  ASSERT_TRUE(first.ok()) << first.status().ToString();
  auto second = Open();
  ASSERT_FALSE(second.ok());
  EXPECT_EQ(second.status().code(), StatusCode::kFailedPrecondition);
  const std::string& message = second.status().message();
  EXPECT_NE(message.find("SQLite database " + path_ + " is in use by another process (pid " +
                         std::to_string(getpid()) + ")"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("SQLite is single-node; use PostgreSQL for several replicas"), std::string::npos)
      << message;
}

TEST_F(SqliteStoreTest, ReopenAfterCloseKeepsData) {
  {
    auto store = Open();
    ASSERT_TRUE(store.ok()) << store.status().ToString();
    ASSERT_TRUE((*store)->Migrate().ok());
    NewInstance n{
        .id = "kept", .workflow_id = "wf", .version = 1, .state = Json{{"x", 1}}, .created_at = At(0)};
    ASSERT_TRUE((*store)->CreateInstances({n}).ok());
  }
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  auto migrated = (*store)->Migrate();
  ASSERT_TRUE(migrated.ok()) << migrated.status().ToString();
  auto got = (*store)->GetInstance("kept");
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_EQ(got->state, (Json{{"x", 1}}));
  EXPECT_EQ((*store)->Describe(), "SQLite path=" + path_);
  EXPECT_EQ((*store)->provider(), "sqlite");
}

TEST_F(SqliteStoreTest, UsesWriteAheadLogging) {
  auto store = Open();
  ASSERT_TRUE(store.ok()) << store.status().ToString();
  ASSERT_TRUE((*store)->Migrate().ok());
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open_v2(path_.c_str(), &db, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* stmt = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(db, "PRAGMA journal_mode", -1, &stmt, nullptr), SQLITE_OK);
  ASSERT_EQ(sqlite3_step(stmt), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(stmt, 0)), "wal");
  sqlite3_finalize(stmt);
  sqlite3_close(db);
}

TEST_F(SqliteStoreTest, MigrationStatusBeforeMigrateListsPending) {
  auto store = Open();
  ASSERT_TRUE(store.ok());
  auto status = (*store)->MigrationStatus();
  ASSERT_TRUE(status.ok()) << status.status().ToString();
  ASSERT_FALSE(status->empty());
  EXPECT_FALSE((*status)[0].applied_at.has_value());
  // Migrate reports exactly what it applied.
  auto applied = (*store)->Migrate();
  ASSERT_TRUE(applied.ok()) << applied.status().ToString();
  ASSERT_EQ(applied->size(), status->size());
  EXPECT_EQ((*applied)[0].version, (*status)[0].version);
  EXPECT_TRUE((*applied)[0].applied_at.has_value());
}

TEST_F(SqliteStoreTest, InMemoryDatabaseNeedsNoLock) {
  DatabaseSettings settings;
  settings.sqlite_path = ":memory:";
  auto a = OpenSqliteStore(settings, StoreOptions{});
  auto b = OpenSqliteStore(settings, StoreOptions{});
  ASSERT_TRUE(a.ok()) << a.status().ToString();
  ASSERT_TRUE(b.ok()) << b.status().ToString();
  ASSERT_TRUE((*a)->Migrate().ok());
  EXPECT_TRUE((*a)->Ping().ok());
}

// The write-ahead log is copied back by the checkpointer's own thread and connection: after enough
// commits it has run, every row is readable by a new connection, the log stops growing without
// bound, and once the checkpointer is gone the writer checkpoints by itself again.
TEST(SqliteCheckpointerTest, CheckpointsInTheBackgroundAndHandsBackOnStop) {
  std::string path = MakeTestStoreDir() + "/wal.db";
  auto writer = SqliteDb::Open(path);
  ASSERT_TRUE(writer.ok()) << writer.status().ToString();
  SqliteDb& db = **writer;
  db.Exec("CREATE TABLE t (id INTEGER PRIMARY KEY, v BLOB)");
  auto checkpointer = SqliteCheckpointer::Start(path, db);
  ASSERT_TRUE(checkpointer.ok()) << checkpointer.status().ToString();
  const std::string value(2000, 'x');  // about half a page per row
  int rows = 0;
  auto write = [&](int count) {
    for (int batch = 0; batch < count / 100; ++batch) {
      SqliteTxn txn(db);
      for (int i = 0; i < 100; ++i) db.Prepare("INSERT INTO t (v) VALUES (?)").Args(value).Run();
      txn.Commit();
      rows += 100;
    }
  };
  write(6000);  // ~3000 pages: the hook asks for a checkpoint at 1000
  auto deadline = std::chrono::steady_clock::now() + std::chrono::seconds(60);
  while ((*checkpointer)->checkpoints() == 0 && std::chrono::steady_clock::now() < deadline) {
    write(100);
    std::this_thread::sleep_for(std::chrono::milliseconds(5));
  }
  EXPECT_GT((*checkpointer)->checkpoints(), 0);
  // A checkpointed log is reused from its start, so it stays far smaller than all that is written
  // (~120 MB here) even though the writer never pauses.
  write(60000);
  auto wal_bytes = std::filesystem::file_size(path + "-wal");
  // The writer restarts the log once it holds kInlinePages, so it ends about that long (4 KiB pages).
  EXPECT_LT(wal_bytes, 2u * SqliteCheckpointer::kInlinePages * 4096u) << "rows=" << rows;
  EXPECT_GT(static_cast<uintmax_t>(rows) * 2000u, 3 * wal_bytes);

  checkpointer->reset();
  write(100);
  auto reader = SqliteDb::Open(path);
  ASSERT_TRUE(reader.ok());
  auto count = (*reader)->Prepare("SELECT count(*) FROM t");
  ASSERT_TRUE(count.Step());
  EXPECT_EQ(count.Int(0), rows);
  RemoveTestStoreDirs();
}

}  // namespace
}  // namespace trellis::testing
