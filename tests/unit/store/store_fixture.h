// The store conformance suite's fixture: one parameterized test suite (StoreConformanceTest) runs
// every contract test against each provider ("sqlite": a file in a fresh temp dir; "postgres": a
// fresh database on the throwaway server that `make test` starts).
//
// Header-only because the test target globs only *_test.cpp files.
#pragma once

#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <sqlite3.h>
#include <stdlib.h>

#include <filesystem>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "config/database.h"
#include "store/postgres/postgres_store.h"
#include "store/sqlite/sqlite_store.h"
#include "store/store.h"
#include "store/store_util.h"
#include "support/postgres_fixture.h"

namespace trellis::testing {

// Temp directories made by MakeTestStore, removed by RemoveTestStoreDirs.
inline std::vector<std::string>& TestStoreDirs() {
  static std::vector<std::string> dirs;
  return dirs;
}

inline std::string MakeTestStoreDir() {
  std::string pattern = (std::filesystem::temp_directory_path() / "trellis-store-XXXXXX").string();
  char* made = mkdtemp(pattern.data());
  EXPECT_NE(made, nullptr) << "mkdtemp failed";
  TestStoreDirs().push_back(pattern);
  return pattern;
}

inline void RemoveTestStoreDirs() {
  for (const auto& dir : TestStoreDirs()) {
    std::error_code ec;
    std::filesystem::remove_all(dir, ec);
  }
  TestStoreDirs().clear();
}

// Opens a fresh, migrated SQLite store at `path`.
inline std::unique_ptr<Store> OpenMigratedSqlite(const std::string& path) {
  DatabaseSettings settings;
  settings.provider = DatabaseSettings::Provider::kSqlite;
  settings.sqlite_path = path;
  auto store = OpenSqliteStore(settings, StoreOptions{});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  if (!store.ok()) return nullptr;
  auto migrated = (*store)->Migrate();
  EXPECT_TRUE(migrated.ok()) << migrated.status().ToString();
  return std::move(store).value();
}

// A fresh, migrated store of `provider`. Fails the test (and returns nullptr) when it cannot.
inline std::unique_ptr<Store> MakeTestStore(const std::string& provider) {
  if (provider == "sqlite") return OpenMigratedSqlite(MakeTestStoreDir() + "/trellis.db");
  if (provider == "postgres") return MakePostgresTestStore();
  ADD_FAILURE() << "unknown provider " << provider;
  return nullptr;
}

// A fresh, migrated store plus a way to run raw SQL on its database (to tamper with it).
struct RawTestStore {
  std::unique_ptr<Store> store;
  std::function<bool(const std::string& sql)> exec;
};

inline RawTestStore MakeRawTestStore(const std::string& provider) {
  RawTestStore out;
  if (provider == "sqlite") {
    std::string path = MakeTestStoreDir() + "/trellis.db";
    out.store = OpenMigratedSqlite(path);
    // A second plain connection: the store's lock is on "<path>.lock", not on the file itself.
    out.exec = [path](const std::string& sql) {
      sqlite3* db = nullptr;
      bool ok = sqlite3_open(path.c_str(), &db) == SQLITE_OK &&
                sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr) == SQLITE_OK;
      sqlite3_close(db);
      return ok;
    };
  } else if (provider == "postgres") {
    std::string url = PostgresTestUrlForNewDatabase();
    if (url.empty()) return out;
    DatabaseSettings settings;
    settings.provider = DatabaseSettings::Provider::kPostgres;
    settings.pg_conninfo = url;
    settings.pool_size = 2;
    auto store = OpenPostgresStore(settings, StoreOptions{});
    EXPECT_TRUE(store.ok()) << store.status().ToString();
    if (!store.ok()) return out;
    auto migrated = (*store)->Migrate();
    EXPECT_TRUE(migrated.ok()) << migrated.status().ToString();
    out.store = std::move(store).value();
    out.exec = [url](const std::string& sql) {
      PGconn* conn = PQconnectdb(url.c_str());
      bool ok = false;
      if (PQstatus(conn) == CONNECTION_OK) {
        PGresult* res = PQexec(conn, sql.c_str());
        ok = PQresultStatus(res) == PGRES_COMMAND_OK || PQresultStatus(res) == PGRES_TUPLES_OK;
        PQclear(res);
      }
      PQfinish(conn);
      return ok;
    };
  } else {
    ADD_FAILURE() << "unknown provider " << provider;
  }
  return out;
}

// Fixed times, so that tests control "now" (stores take it as an argument).
inline TimePoint At(int64_t seconds) {
  return FromMillis(1'800'000'000'000 + seconds * 1000);
}

class StoreConformanceTest : public ::testing::TestWithParam<std::string> {
 protected:
  void SetUp() override {
    store_ = MakeTestStore(GetParam());
    ASSERT_NE(store_, nullptr);
  }
  void TearDown() override {
    store_.reset();
    RemoveTestStoreDirs();
  }

  static NewInstance Instance(const std::string& id, TimePoint created = At(0), bool runnable = true) {
    NewInstance n;
    n.id = id;
    n.workflow_id = "wf";
    n.version = 1;
    n.status = InstanceStatus::kRunning;
    n.state = Json{{"id", id}, {"step", 0}};
    n.created_at = created;
    n.runnable = runnable;
    return n;
  }

  void Create(const std::vector<NewInstance>& instances) {
    auto created = store_->CreateInstances(instances);
    ASSERT_TRUE(created.ok()) << created.status().ToString();
    ASSERT_EQ(created->size(), instances.size());
  }

  std::vector<ClaimedInstance> ClaimAll(TimePoint now, size_t limit = 100,
                                        const std::string& owner = "node-a",
                                        std::chrono::milliseconds lease = std::chrono::seconds(30)) {
    auto claimed = store_->Claim(ClaimRequest{.owner = owner, .limit = limit, .lease = lease, .now = now});
    EXPECT_TRUE(claimed.ok()) << claimed.status().ToString();
    return claimed.ok() ? std::move(claimed).value() : std::vector<ClaimedInstance>{};
  }

  // Claims exactly `id` (fails the test otherwise).
  ClaimedInstance ClaimOne(const std::string& id, TimePoint now, const std::string& owner = "node-a") {
    auto claimed = ClaimAll(now, 100, owner);
    for (auto& c : claimed) {
      if (c.record.id == id) return c;
    }
    ADD_FAILURE() << "instance " << id << " was not claimed";
    return {};
  }

  // A commit point for a claimed instance that keeps it Running and suspended.
  static InstanceCommit CommitFor(const ClaimedInstance& claimed, TimePoint now) {
    InstanceCommit c;
    c.id = claimed.record.id;
    c.epoch = claimed.record.epoch;
    c.inbox_seq_seen = claimed.record.inbox_seq;
    c.status = InstanceStatus::kSuspended;
    c.state = claimed.record.state;
    c.now = now;
    return c;
  }

  // The commit that completes instance `id` at `at`, by the holder of `epoch`.
  static InstanceCommit Completion(const std::string& id, int64_t epoch, TimePoint at) {
    InstanceCommit c;
    c.id = id;
    c.epoch = epoch;
    c.status = InstanceStatus::kCompleted;
    c.state = Json{{"done", true}};
    c.now = at;
    c.finished_at = at;
    return c;
  }

  std::vector<CommitOutcome> CommitAll(const std::vector<InstanceCommit>& commits) {
    auto outcomes = store_->Commit(commits);
    EXPECT_TRUE(outcomes.ok()) << outcomes.status().ToString();
    return outcomes.ok() ? std::move(outcomes).value() : std::vector<CommitOutcome>{};
  }

  InstanceRecord Get(const std::string& id) {
    auto r = store_->GetInstance(id);
    EXPECT_TRUE(r.ok()) << r.status().ToString();
    return r.ok() ? std::move(r).value() : InstanceRecord{};
  }

  std::vector<JournalEntry> Journal(const std::string& id) {
    auto page = store_->ListJournal(id, 0, 1000);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items : std::vector<JournalEntry>{};
  }

  static BookmarkRow EventBookmark(const std::string& id, const std::string& name,
                                   const std::string& correlation = "") {
    return BookmarkRow{.id = id,
                       .kind = BookmarkKind::kEvent,
                       .activity_id = "wait",
                       .key = name,
                       .correlation = correlation};
  }

  static JournalRecord Record(uint64_t sequence, Json output = Json{{"ok", true}}) {
    return JournalRecord{.sequence = sequence,
                         .activity_id = "a" + std::to_string(sequence),
                         .activity_type = "SetVariable",
                         .attempt = 1,
                         .status = "Completed",
                         .outcome = "Done",
                         .started_at = At(1),
                         .finished_at = At(2),
                         .output = std::move(output)};
  }

  std::unique_ptr<Store> store_;
};

}  // namespace trellis::testing
