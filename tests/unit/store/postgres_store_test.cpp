// PostgreSQL-only behaviour of the store (the shared contract is in the conformance suite):
// concurrent migrations, checksums, what Describe() shows, an unreachable or restarted server,
// LISTEN/NOTIFY wake-ups and the secrets generation across store objects, and pool exhaustion.
#include <gtest/gtest.h>
#include <libpq-fe.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <thread>

#include "store/postgres/postgres_admin.h"
#include "store/postgres/postgres_store.h"
#include "store/postgres/schema.h"
#include "store/store_util.h"
#include "support/postgres_fixture.h"

namespace trellis {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;
using std::chrono::steady_clock;

std::string Env(const char* name) {
  const char* v = std::getenv(name);
  return v ? v : "";
}

std::unique_ptr<Store> Open(const std::string& url, size_t pool_size = 4,
                            milliseconds acquire_timeout = milliseconds(5000)) {
  auto settings = PostgresSettingsFromConninfo(url);
  EXPECT_TRUE(settings.ok()) << settings.status().ToString();
  if (!settings.ok()) return nullptr;
  settings->pool_size = pool_size;
  settings->acquire_timeout = acquire_timeout;
  settings->connect_timeout = seconds(2);
  auto store = OpenPostgresStore(*settings, StoreOptions{});
  EXPECT_TRUE(store.ok()) << store.status().ToString();
  return store.ok() ? std::move(store).value() : nullptr;
}

// One row, one column, as text ("" on error).
std::string QueryOne(const std::string& url, const std::string& sql) {
  PGconn* conn = PQconnectdb(url.c_str());
  std::string out;
  if (PQstatus(conn) == CONNECTION_OK) {
    PGresult* res = PQexec(conn, sql.c_str());
    if (PQresultStatus(res) == PGRES_TUPLES_OK && PQntuples(res) > 0) out = PQgetvalue(res, 0, 0);
    PQclear(res);
  }
  PQfinish(conn);
  return out;
}

int FreePort() {
  int fd = socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  addr.sin_port = 0;
  bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr);
  socklen_t len = sizeof addr;
  getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  close(fd);
  return ntohs(addr.sin_port);
}

NewInstance Instance(const std::string& id) {
  NewInstance n;
  n.id = id;
  n.workflow_id = "wf";
  n.version = 1;
  n.state = Json{{"id", id}};
  n.created_at = FromMillis(1'800'000'000'000);
  return n;
}

// A private PostgreSQL server (same binaries as the shared one) for tests that stop and restart it,
// so that other test processes using the shared server are not disturbed.
class PrivateServer {
 public:
  bool Start() {
    std::string pg_ctl = Env("TRELLIS_TEST_PG_CTL");
    if (pg_ctl.empty()) {
      ADD_FAILURE()
          << "TRELLIS_TEST_PG_CTL is not set: run the tests through `make test` or scripts/with-postgres";
      return false;
    }
    std::string runas = Env("TRELLIS_TEST_PG_RUNAS");
    prefix_ = runas.empty() ? "" : "runuser -u " + runas + " -- ";
    bin_ = std::filesystem::path(pg_ctl).parent_path().string();
    std::string pattern = (std::filesystem::temp_directory_path() / "trellis-pg-private-XXXXXX").string();
    if (!mkdtemp(pattern.data())) return false;
    dir_ = pattern;
    if (!runas.empty() && std::system(("chown " + runas + " " + dir_).c_str()) != 0) return false;
    port_ = FreePort();
    std::string init = prefix_ + bin_ + "/initdb --no-sync -D " + dir_ + "/data -U postgres -A trust >" +
                       dir_ + "/initdb.log 2>&1";
    if (std::system(init.c_str()) != 0) {
      ADD_FAILURE() << "initdb failed (" << dir_ << "/initdb.log)";
      return false;
    }
    std::string conf = "printf \"port = " + std::to_string(port_) +
                       "\\nlisten_addresses = '127.0.0.1'\\nunix_socket_directories = '" + dir_ +
                       "'\\n\" >> " + dir_ + "/data/postgresql.conf";
    if (std::system(conf.c_str()) != 0) return false;
    return Ctl("start");
  }
  bool Ctl(const std::string& action) {
    std::string cmd = prefix_ + bin_ + "/pg_ctl -D " + dir_ + "/data -l " + dir_ + "/server.log -w -m fast " +
                      action + " >/dev/null 2>&1";
    return std::system(cmd.c_str()) == 0;
  }
  std::string Url() const { return "postgresql://postgres@127.0.0.1:" + std::to_string(port_) + "/postgres"; }
  ~PrivateServer() {
    if (dir_.empty()) return;
    (void)std::system(
        (prefix_ + bin_ + "/pg_ctl -D " + dir_ + "/data -m immediate -w stop >/dev/null 2>&1").c_str());
    std::error_code ec;
    std::filesystem::remove_all(dir_, ec);
  }

 private:
  std::string prefix_, bin_, dir_;
  int port_ = 0;
};

TEST(PostgresStoreTest, TestsFailWithoutTheServerVariable) {
  ASSERT_FALSE(Env("TRELLIS_TEST_POSTGRES_URL").empty())
      << "TRELLIS_TEST_POSTGRES_URL is not set: run the tests through `make test` or scripts/with-postgres";
}

TEST(PostgresStoreTest, EightConcurrentMigratorsApplyEachMigrationOnce) {
  std::string url = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url.empty());
  std::vector<std::unique_ptr<Store>> stores;
  for (int i = 0; i < 8; ++i) {
    stores.push_back(Open(url, 2));
    ASSERT_NE(stores.back(), nullptr);
  }
  std::vector<Status> results(8);
  std::vector<std::thread> threads;
  for (int i = 0; i < 8; ++i) {
    threads.emplace_back([&, i] {
      auto r = stores[i]->Migrate();
      results[i] = r.ok() ? Status::Ok() : r.status();
    });
  }
  for (auto& t : threads) t.join();
  for (const auto& s : results) EXPECT_TRUE(s.ok()) << s.ToString();
  EXPECT_EQ(QueryOne(url, "SELECT count(*) FROM schema_migrations"),
            std::to_string(PostgresMigrations().size()));
  auto status = stores[0]->MigrationStatus();
  ASSERT_TRUE(status.ok());
  for (const auto& m : *status) EXPECT_TRUE(m.applied_at.has_value()) << m.name;
}

TEST(PostgresStoreTest, SecretsGenerationChangeIsSeenByAnotherStore) {
  // Two store objects with their own pools stand for two processes sharing the database.
  std::string url = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url.empty());
  auto a = Open(url, 2);
  auto b = Open(url, 2);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Migrate().ok());
  auto g0 = b->SecretsGeneration();
  ASSERT_TRUE(g0.ok()) << g0.status().ToString();
  ASSERT_TRUE(a->PutSecret(SecretRecord{.name = "s", .key_id = "k", .nonce = "n", .ciphertext = "c"}).ok());
  auto g1 = b->SecretsGeneration();
  ASSERT_TRUE(g1.ok());
  EXPECT_NE(*g1, *g0);
  auto listed = b->ListSecrets();
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_NE(listed->front().created_at, TimePoint{}) << "a zero created_at is stamped";
  ASSERT_TRUE(b->DeleteSecret("s").ok());
  auto g2 = a->SecretsGeneration();
  ASSERT_TRUE(g2.ok());
  EXPECT_NE(*g2, *g1);
}

TEST(PostgresStoreTest, TamperedChecksumFailsMigrateNamingTheMigration) {
  std::string url = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url.empty());
  auto store = Open(url);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  ASSERT_TRUE(PostgresExecute(url, "UPDATE schema_migrations SET checksum = 'abc' WHERE version = 1").ok());
  auto again = store->Migrate();
  ASSERT_FALSE(again.ok());
  EXPECT_EQ(again.status().code(), StatusCode::kFailedPrecondition);
  EXPECT_NE(again.status().message().find("migration 1 (init)"), std::string::npos)
      << again.status().message();
  // The advisory lock was released: another store can still run Migrate (and fail the same way).
  auto other = Open(url);
  ASSERT_NE(other, nullptr);
  EXPECT_EQ(other->Migrate().status().code(), StatusCode::kFailedPrecondition);
}

TEST(PostgresStoreTest, DescribeNamesTheServerButNeverThePassword) {
  std::string url = Env("TRELLIS_TEST_POSTGRES_URL");
  ASSERT_FALSE(url.empty());
  auto settings = PostgresSettingsFromConninfo(url);
  ASSERT_TRUE(settings.ok());
  auto store = Open(url);
  ASSERT_NE(store, nullptr);
  std::string d = store->Describe();
  EXPECT_EQ(d.rfind("PostgreSQL host=127.0.0.1 port=", 0), 0u) << d;
  EXPECT_NE(d.find(" db=trellis user=trellis sslmode="), std::string::npos) << d;
  std::string password = url.substr(url.find(':', 12) + 1);
  password = password.substr(0, password.find('@'));
  ASSERT_FALSE(password.empty());
  EXPECT_EQ(d.find(password), std::string::npos);
  EXPECT_EQ(store->provider(), "postgres");
}

TEST(PostgresStoreTest, UnreachableServerIsUnavailableQuicklyWithoutThePassword) {
  int port = FreePort();
  auto settings =
      PostgresSettingsFromConninfo("postgresql://app:s3cretpw@127.0.0.1:" + std::to_string(port) + "/db");
  ASSERT_TRUE(settings.ok());
  settings->connect_timeout = seconds(2);
  auto start = steady_clock::now();
  auto store = OpenPostgresStore(*settings, StoreOptions{});
  ASSERT_FALSE(store.ok());
  EXPECT_LT(steady_clock::now() - start, seconds(3));
  EXPECT_EQ(store.status().code(), StatusCode::kUnavailable);
  const std::string& m = store.status().message();
  EXPECT_NE(m.find("PostgreSQL host=127.0.0.1 port=" + std::to_string(port) + " db=db user=app"),
            std::string::npos)
      << m;
  EXPECT_EQ(m.find("s3cretpw"), std::string::npos) << m;
}

TEST(PostgresStoreTest, ServerRestartAndOutageRecoverWithoutReopening) {
  PrivateServer server;
  ASSERT_TRUE(server.Start());
  auto store = Open(server.Url(), 4);
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());
  ASSERT_TRUE(store->CreateInstances({Instance("i1")}).ok());
  auto listener = store->Listen();
  ASSERT_TRUE(listener.ok());

  ASSERT_TRUE(server.Ctl("restart"));
  // The idle pooled connections died with the restart: the next operations reconnect.
  auto got = store->GetInstance("i1");
  EXPECT_TRUE(got.ok() || got.status().code() == StatusCode::kUnavailable) << got.status().ToString();
  auto deadline = steady_clock::now() + seconds(10);
  while (!(got = store->GetInstance("i1")).ok() && steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(50));
  }
  ASSERT_TRUE(got.ok()) << got.status().ToString();
  EXPECT_TRUE(store->CreateInstances({Instance("i2")}).ok());

  // A server that is down: Unavailable, quickly.
  ASSERT_TRUE(server.Ctl("stop"));
  auto start = steady_clock::now();
  EXPECT_EQ(store->GetInstance("i1").status().code(), StatusCode::kUnavailable);
  EXPECT_EQ(store->Ping().code(), StatusCode::kUnavailable);
  EXPECT_LT(steady_clock::now() - start, seconds(5));
  // The listener does not spin while the server is down: it sleeps out its timeout.
  start = steady_clock::now();
  (void)(*listener)->Wait(milliseconds(300));
  (void)(*listener)->Wait(milliseconds(300));
  EXPECT_GE(steady_clock::now() - start, milliseconds(250));

  ASSERT_TRUE(server.Ctl("start"));
  deadline = steady_clock::now() + seconds(10);
  Status ping;
  while (!(ping = store->Ping()).ok() && steady_clock::now() < deadline)
    std::this_thread::sleep_for(milliseconds(50));
  ASSERT_TRUE(ping.ok()) << ping.ToString();
  EXPECT_TRUE(store->GetInstance("i2").ok());

  // The listener reconnects and hears notifications again.
  // The listener reports its reconnection (notifications may have been missed), then is quiet.
  deadline = steady_clock::now() + seconds(15);
  bool reconnected = false;
  while (!reconnected && steady_clock::now() < deadline) reconnected = (*listener)->Wait(milliseconds(200));
  ASSERT_TRUE(reconnected);
  while ((*listener)->Wait(milliseconds(100)) && steady_clock::now() < deadline) {
  }
  ASSERT_TRUE(store->CreateInstances({Instance("i3")}).ok());
  EXPECT_TRUE((*listener)->Wait(seconds(5)));
}

TEST(PostgresStoreTest, ListenerIsWokenByAnotherStoreAndCanBeInterrupted) {
  std::string url = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url.empty());
  auto a = Open(url);
  auto b = Open(url);
  ASSERT_NE(a, nullptr);
  ASSERT_NE(b, nullptr);
  ASSERT_TRUE(a->Migrate().ok());
  auto listener = a->Listen();
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();

  auto start = steady_clock::now();
  EXPECT_FALSE((*listener)->Wait(milliseconds(100)));
  EXPECT_GE(steady_clock::now() - start, milliseconds(90));

  std::thread creator([&] {
    std::this_thread::sleep_for(milliseconds(100));
    EXPECT_TRUE(b->CreateInstances({Instance("woken")}).ok());
  });
  start = steady_clock::now();
  EXPECT_TRUE((*listener)->Wait(seconds(10)));
  EXPECT_LT(steady_clock::now() - start, seconds(5));
  creator.join();

  std::thread interrupter([&] {
    std::this_thread::sleep_for(milliseconds(100));
    (*listener)->Interrupt();
  });
  start = steady_clock::now();
  EXPECT_FALSE((*listener)->Wait(seconds(10)));
  EXPECT_LT(steady_clock::now() - start, seconds(5));
  interrupter.join();
}

TEST(PostgresStoreTest, ExhaustedPoolIsUnavailableAfterTheAcquireTimeout) {
  std::string url = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url.empty());
  auto store = Open(url, 1, milliseconds(200));
  ASSERT_NE(store, nullptr);
  ASSERT_TRUE(store->Migrate().ok());

  // Hold the only pooled connection: an UpsertNode blocked behind a table lock taken elsewhere.
  PGconn* locker = PQconnectdb(url.c_str());
  ASSERT_EQ(PQstatus(locker), CONNECTION_OK);
  PQclear(PQexec(locker, "BEGIN"));
  PQclear(PQexec(locker, "LOCK TABLE nodes IN ACCESS EXCLUSIVE MODE"));
  std::atomic<bool> done{false};
  std::thread blocked([&] {
    EXPECT_TRUE(store->UpsertNode(NodeRecord{.id = "n1", .kind = "worker"}).ok());
    done = true;
  });
  // Wait until the blocked statement is in the server.
  auto deadline = steady_clock::now() + seconds(10);
  while (QueryOne(url, "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'") != "1" &&
         steady_clock::now() < deadline) {
    std::this_thread::sleep_for(milliseconds(10));
  }
  auto start = steady_clock::now();
  Status s = store->Ping();
  auto waited = steady_clock::now() - start;
  EXPECT_EQ(s.code(), StatusCode::kUnavailable);
  EXPECT_NE(s.message().find("no PostgreSQL connection free within 200ms (pool size 1)"), std::string::npos)
      << s.message();
  EXPECT_GE(waited, milliseconds(180));
  EXPECT_LT(waited, seconds(3));

  PQclear(PQexec(locker, "COMMIT"));
  PQfinish(locker);
  blocked.join();
  EXPECT_TRUE(done);
  EXPECT_TRUE(store->Ping().ok());
}

}  // namespace
}  // namespace trellis
