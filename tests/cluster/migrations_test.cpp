// Concurrent migrations (PostgreSQL): eight `trellis migrate` processes on a fresh database all
// succeed, and between them apply each migration exactly once (the advisory lock serialises them).
#include <regex>

#include "cluster/cluster_harness.h"
#include "support/subprocess.h"

namespace trellis::cluster {
namespace {

class MigrationsTest : public ClusterTest {};

TEST_F(MigrationsTest, EightConcurrentMigrateProcessesApplyEachMigrationOnce) {
  url_ = testing::PostgresTestUrlForNewDatabase();
  ASSERT_FALSE(url_.empty());

  std::vector<std::unique_ptr<ChildProcess>> procs;
  for (int i = 0; i < 8; ++i) {
    procs.push_back(std::make_unique<ChildProcess>());
    ASSERT_TRUE(procs.back()->Spawn({TRELLIS_BINARY, "migrate", "--set", "log.format=text"},
                                    {"DATABASE_URL=" + url_},
                                    (dir_ / ("migrate-" + std::to_string(i) + ".log")).string()));
  }
  int applied_total = 0;
  std::string outputs;
  for (auto& p : procs) {
    auto code = p->Wait(60s);
    std::string log = p->ReadLog();
    outputs += "\n--- pid " + std::to_string(p->pid()) + "\n" + log;
    EXPECT_EQ(code, 0) << log;
    std::smatch m;
    if (std::regex_search(log, m, std::regex(R"(applied (\d+) migration\(s\))"))) {
      applied_total += std::stoi(m[1]);
    } else {
      EXPECT_NE(log.find("schema is current"), std::string::npos) << log;
    }
  }

  auto store = OpenStoreAt(url_, 2, /*migrate=*/false);
  ASSERT_NE(store, nullptr);
  auto status = store->MigrationStatus();
  ASSERT_TRUE(status.ok()) << status.status().message();
  ASSERT_FALSE(status->empty());
  std::set<int> versions;
  for (const auto& m : *status) {
    EXPECT_TRUE(m.applied_at.has_value()) << "migration " << m.version << " " << m.name << " is pending";
    EXPECT_TRUE(versions.insert(m.version).second) << "migration " << m.version << " listed twice";
  }
  // Between them the eight processes applied each migration once.
  EXPECT_EQ(applied_total, static_cast<int>(status->size())) << outputs;

  auto again = testing::RunProcess({TRELLIS_BINARY, "migrate", "--set", "database.url=" + url_});
  EXPECT_EQ(again.exit_code, 0) << again.err;
  EXPECT_NE(again.out.find("schema is current"), std::string::npos) << again.out << again.err;

  auto listing =
      testing::RunProcess({TRELLIS_BINARY, "migrate", "--status", "--set", "database.url=" + url_});
  EXPECT_EQ(listing.exit_code, 0) << listing.err;
  EXPECT_EQ(listing.out.find("pending"), std::string::npos) << listing.out;
  for (const auto& m : *status) {
    EXPECT_NE(listing.out.find(" " + std::to_string(m.version) + " " + m.name), std::string::npos)
        << listing.out;
  }
}

}  // namespace
}  // namespace trellis::cluster
