// Fencing (PostgreSQL): a worker that is paused (SIGSTOP) while it holds an instance loses its
// lease; another worker takes the instance over and completes it. When the first one resumes, its
// commit is rejected by the epoch check: the final state and the journal are the second worker's,
// the first logs that it lost the lease, and it keeps running normally.
#include <csignal>

#include "cluster/cluster_harness.h"
#include "support/test_http_server.h"

namespace trellis::cluster {
namespace {

class FencingTest : public ClusterTest {};

TEST_F(FencingTest, APausedWorkersCommitIsRejectedAfterAnotherTookTheInstanceOver) {
  UseFreshPostgres();
  std::atomic<bool> release_first{false};
  std::atomic<int> served{0};
  test::TestHttpServer server([&](const test::TestHttpRequest&) {
    test::TestHttpResponse r;
    r.headers = {{"Content-Type", "application/json"}};
    if (served++ == 0) {
      r.body = R"({"who":"A"})";
      r.hold_until = [&] { return release_first.load(); };
    } else {
      r.body = R"({"who":"B"})";
    }
    return r;
  });
  // Whatever happens, let the held request go before the server is destroyed.
  struct Release {
    std::atomic<bool>& flag;
    ~Release() { flag = true; }
  } release_guard{release_first};

  ASSERT_NO_FATAL_FAILURE(SaveYaml(*store_, R"(
id: fenced
activities:
  - {id: call, type: HttpRequest, url: ")" + server.Url("/work") +
                                                R"("}
  - {id: out, type: SetOutput, name: who, value: "{{ outputs.call.body.who }}"}
)"));
  auto ids = CreateInstances(*store_, "fenced", 1, nullptr);
  ASSERT_EQ(ids.size(), 1u);
  const std::string id = ids[0];

  auto& fleet = Fleet({"worker.lease=1s", "worker.heartbeat=300ms", "worker.poll_interval=100ms",
                       "http.allow_hosts=127.0.0.1", "worker.concurrency=2", "schedules.enabled=false"});
  ChildProcess* a = fleet.Start({}, "worker-A");
  ASSERT_NE(a, nullptr);
  ASSERT_TRUE(server.WaitForRequests(1, 30s)) << "worker A never sent its request";
  ASSERT_TRUE(a->Signal(SIGSTOP));

  auto claimed_by_a = store_->GetInstance(id);
  ASSERT_TRUE(claimed_by_a.ok());
  ASSERT_FALSE(claimed_by_a->lease_owner.empty());
  const std::string a_owner = claimed_by_a->lease_owner;
  EXPECT_NE(a_owner.find("-" + std::to_string(a->pid()) + "-"), std::string::npos) << a_owner;

  // A's lease expires: nobody renews it while A is stopped.
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = store_->GetInstance(id);
        return r.ok() && r->lease_expires && *r->lease_expires < SystemClock::Instance().Now();
      },
      20s))
      << "A's lease never expired";

  ChildProcess* b = fleet.Start({}, "worker-B");
  ASSERT_NE(b, nullptr);
  InstanceRecord done;
  ASSERT_TRUE(WaitUntil(
      [&] {
        auto r = store_->GetInstance(id);
        if (r.ok()) done = *r;
        return r.ok() && r->status == InstanceStatus::kCompleted;
      },
      30s))
      << "B did not complete the instance; status " << InstanceStatusName(done.status);
  EXPECT_EQ(done.state["output"]["who"], "B") << done.state.dump();
  ASSERT_EQ(server.RequestCount(), 2u);
  auto requests = server.Requests();
  // Both copies sent the same Idempotency-Key (same instance, activity and attempt).
  EXPECT_TRUE(requests[0].Header("Idempotency-Key").has_value());
  EXPECT_EQ(requests[0].Header("Idempotency-Key"), requests[1].Header("Idempotency-Key"));

  // A wakes up, gets its (late) response and tries to commit: fenced.
  ASSERT_TRUE(a->Signal(SIGCONT));
  release_first = true;
  EXPECT_TRUE(WaitUntil([&] { return a->ReadLog().find("lost the lease") != std::string::npos; }, 30s))
      << "A never logged that it was fenced";

  auto final_record = store_->GetInstance(id);
  ASSERT_TRUE(final_record.ok());
  EXPECT_EQ(final_record->status, InstanceStatus::kCompleted);
  EXPECT_EQ(final_record->state["output"]["who"], "B");
  EXPECT_EQ(final_record->epoch, done.epoch);
  EXPECT_EQ(final_record->updated_at, done.updated_at);
  std::string error;
  auto journal = FullJournal(*store_, id, &error);
  ASSERT_TRUE(error.empty()) << error;
  EXPECT_EQ(CheckJournalExactlyOnce(journal, {"call", "out"}), "");
  int http_records = 0;
  for (const auto& r : journal) {
    if (r.activity_type == "HttpRequest") {
      ++http_records;
      EXPECT_EQ(r.output["body"]["who"], "B") << r.output.dump();
    }
  }
  EXPECT_EQ(http_records, 1);

  // A is healthy: still running, and a graceful stop exits 0.
  EXPECT_TRUE(a->Running());
  EXPECT_TRUE(fleet.StopAll());
}

}  // namespace
}  // namespace trellis::cluster
