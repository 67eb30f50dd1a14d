// Conformance: instances (create, get, list with filters and pagination, journal, delete), claims
// and leases.
#include <set>

#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

TEST_P(StoreConformanceTest, CreateAndGetInstanceWithState) {
  NewInstance n = Instance("i-1", At(3));
  n.correlation_id = "order-7";
  n.parent_id = "p-1";
  n.parent_bookmark = "bm-1";
  n.wake_at = At(60);
  n.state = Json{{"variables", {{"x", 1}}}, {"nested", Json::array({1, "two", nullptr})}};
  Create({n});
  InstanceRecord r = Get("i-1");
  EXPECT_EQ(r.id, "i-1");
  EXPECT_EQ(r.workflow_id, "wf");
  EXPECT_EQ(r.version, 1);
  EXPECT_EQ(r.status, InstanceStatus::kRunning);
  EXPECT_EQ(r.correlation_id, "order-7");
  EXPECT_EQ(r.parent_id, "p-1");
  EXPECT_EQ(r.parent_bookmark, "bm-1");
  EXPECT_EQ(r.state, n.state);
  EXPECT_EQ(r.created_at, At(3));
  EXPECT_EQ(r.wake_at, At(60));
  EXPECT_FALSE(r.finished_at.has_value());
  EXPECT_TRUE(r.runnable);
  EXPECT_TRUE(r.lease_owner.empty());
  EXPECT_FALSE(r.lease_expires.has_value());
  EXPECT_EQ(r.epoch, 0);
  EXPECT_EQ(r.inbox_seq, 0);
  EXPECT_EQ(store_->GetInstance("missing").status().code(), StatusCode::kNotFound);
}

TEST_P(StoreConformanceTest, CreateInstancesSkipsExistingIdsAndStartKeys) {
  NewInstance a = Instance("a");
  a.start_key = "cron:s#0:100";
  Create({a, Instance("b")});
  NewInstance a2 = Instance("a2");
  a2.start_key = "cron:s#0:100";  // same key, new id
  NewInstance c = Instance("c");
  c.start_key = "cron:s#0:200";
  auto created = store_->CreateInstances({Instance("b"), a2, c});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, std::vector<std::string>{"c"});
  EXPECT_EQ(store_->GetInstance("a2").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Get("a").start_key, "cron:s#0:100");
}

TEST_P(StoreConformanceTest, CreateClaimedInstanceIsLeasedAndCommittable) {
  auto epoch = store_->CreateClaimedInstance(Instance("sync"), "node-a", std::chrono::seconds(30), At(0));
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  InstanceRecord r = Get("sync");
  EXPECT_EQ(r.lease_owner, "node-a");
  EXPECT_EQ(r.epoch, *epoch);
  EXPECT_EQ(r.lease_expires, At(30));
  EXPECT_TRUE(ClaimAll(At(1)).empty());  // leased
  InstanceCommit c = Completion("sync", *epoch, At(2));
  EXPECT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(Get("sync").status, InstanceStatus::kCompleted);
  EXPECT_FALSE(
      store_->CreateClaimedInstance(Instance("sync"), "node-a", std::chrono::seconds(30), At(0)).ok());
}

// The API node's worker adopts what it starts: created leased in the same batch as unleased ones,
// with states the starting threads serialised.
TEST_P(StoreConformanceTest, CreateInstancesCanCreateSomeAlreadyLeased) {
  auto listener = store_->Listen();
  ASSERT_TRUE(listener.ok()) << listener.status().ToString();
  NewInstance adopted = Instance("adopted", At(5), false);
  adopted.lease_owner = "node-a";
  adopted.lease = std::chrono::seconds(30);
  adopted.state = Json{{"ignored", true}};
  adopted.state_text = R"({"from":"text","n":[1,2]})";  // serialised by the starting thread
  auto created = store_->CreateInstances({adopted, Instance("shared", At(5))});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<std::string>{"adopted", "shared"}));
  InstanceRecord r = Get("adopted");
  EXPECT_EQ(r.lease_owner, "node-a");
  EXPECT_EQ(r.epoch, 1);
  EXPECT_EQ(r.lease_expires, At(35));
  EXPECT_FALSE(r.runnable);
  EXPECT_EQ(r.state, (Json{{"from", "text"}, {"n", {1, 2}}}));
  EXPECT_TRUE(Get("shared").lease_owner.empty());
  EXPECT_EQ(Get("shared").epoch, 0);
  // Another worker claims only the unleased one.
  auto claimed = ClaimAll(At(6), 100, "node-b");
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].record.id, "shared");
  // The owner commits at epoch 1; a stale epoch is fenced.
  InstanceCommit c = Completion("adopted", 0, At(7));
  EXPECT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kFenced});
  c.epoch = 1;
  EXPECT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(Get("adopted").status, InstanceStatus::kCompleted);

  // Only leased instances created: nothing for the other workers, so no wake-up.
  while ((*listener)->Wait(std::chrono::milliseconds(50))) {
  }
  NewInstance alone = Instance("adopted-alone", At(8), false);
  alone.lease_owner = "node-a";
  alone.lease = std::chrono::seconds(30);
  ASSERT_TRUE(store_->CreateInstances({alone}).ok());
  EXPECT_FALSE((*listener)->Wait(std::chrono::milliseconds(100)));
  ASSERT_TRUE(store_->CreateInstances({Instance("claimable", At(8))}).ok());
  EXPECT_TRUE((*listener)->Wait(std::chrono::seconds(10)));
}

// A new instance that ran ahead (Worker::RunAhead) carries its first journal records: written with
// the row, in batches and in the sync insert, and not at all for a row that already existed.
TEST_P(StoreConformanceTest, CreationWritesTheJournalOfTheRowsItCreates) {
  NewInstance a = Instance("ahead-a", At(1), false);
  a.lease_owner = "node-a";
  a.lease = std::chrono::seconds(30);
  a.journal = {Record(1), Record(2, Json{{"blob", std::string(200 * 1024, 'x')}})};
  NewInstance b = Instance("ahead-b", At(1));
  b.journal = {Record(1, nullptr)};
  auto created = store_->CreateInstances({a, b, Instance("plain", At(1))});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, (std::vector<std::string>{"ahead-a", "ahead-b", "plain"}));
  auto ja = Journal("ahead-a");
  ASSERT_EQ(ja.size(), 2u);
  EXPECT_EQ(ja[0].record.activity_id, "a1");
  EXPECT_EQ(ja[0].record.output, (Json{{"ok", true}}));
  EXPECT_TRUE(ja[1].truncated);  // the journal's size limit holds here too
  auto jb = Journal("ahead-b");
  ASSERT_EQ(jb.size(), 1u);
  EXPECT_TRUE(jb[0].record.output.is_null());
  EXPECT_TRUE(Journal("plain").empty());

  // The same id again, with other records: nothing is written, the first records stay.
  NewInstance again = Instance("ahead-b", At(2));
  again.journal = {Record(1, Json{{"second", true}}), Record(2)};
  created = store_->CreateInstances({again});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_TRUE(created->empty());
  jb = Journal("ahead-b");
  ASSERT_EQ(jb.size(), 1u);
  EXPECT_TRUE(jb[0].record.output.is_null());

  // An id twice in one batch: the first occurrence is created, and only its records are written.
  NewInstance first = Instance("twice", At(3));
  NewInstance second = Instance("twice", At(3), false);
  second.lease_owner = "node-a";
  second.lease = std::chrono::seconds(30);
  second.journal = {Record(1)};
  created = store_->CreateInstances({first, second});
  ASSERT_TRUE(created.ok()) << created.status().ToString();
  EXPECT_EQ(*created, std::vector<std::string>{"twice"});
  EXPECT_TRUE(Get("twice").lease_owner.empty());
  EXPECT_TRUE(Journal("twice").empty());

  // The sync insert carries them too, and the owner's next commit continues the sequence.
  NewInstance sync = Instance("ahead-sync");
  sync.journal = {Record(1)};
  auto epoch = store_->CreateClaimedInstance(sync, "node-a", std::chrono::seconds(30), At(0));
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  InstanceCommit c = Completion("ahead-sync", *epoch, At(2));
  c.journal = {Record(2)};
  EXPECT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  auto js = Journal("ahead-sync");
  ASSERT_EQ(js.size(), 2u);
  EXPECT_EQ(js[1].record.sequence, 2u);
  sync.journal = {Record(1, Json{{"second", true}})};
  EXPECT_EQ(store_->CreateClaimedInstance(sync, "node-a", std::chrono::seconds(30), At(0)).status().code(),
            StatusCode::kConflict);
  EXPECT_EQ(Journal("ahead-sync")[0].record.output, (Json{{"ok", true}}));
}

// An instance that ran to its end before it was written (RunAhead) is created finished, with its
// journal: not runnable, unleased, never claimed, its updated_at its finish, pruned by retention.
TEST_P(StoreConformanceTest, AnInstanceCanBeCreatedFinished) {
  auto finished = [](const std::string& id) {
    NewInstance n = Instance(id, At(1), false);
    n.status = InstanceStatus::kCompleted;
    n.finished_at = At(3);
    n.journal = {Record(1), Record(2)};
    return n;
  };
  Create({finished("done-batch"), Instance("running", At(1))});
  auto epoch =
      store_->CreateClaimedInstance(finished("done-sync"), "node-a", std::chrono::seconds(30), At(2));
  ASSERT_TRUE(epoch.ok()) << epoch.status().ToString();
  EXPECT_EQ(*epoch, 0);  // nothing to commit
  for (const std::string id : {"done-batch", "done-sync"}) {
    SCOPED_TRACE(id);
    InstanceRecord r = Get(id);
    EXPECT_EQ(r.status, InstanceStatus::kCompleted);
    EXPECT_EQ(r.finished_at, At(3));
    EXPECT_EQ(r.updated_at, At(3));
    EXPECT_EQ(r.created_at, At(1));
    EXPECT_FALSE(r.runnable);
    EXPECT_TRUE(r.lease_owner.empty());
    EXPECT_FALSE(r.lease_expires.has_value());
    EXPECT_EQ(r.epoch, 0);
    ASSERT_EQ(Journal(id).size(), 2u);
  }
  // Only the running one is claimed; the finished ones are pruned with the other finished rows.
  auto claimed = ClaimAll(At(4));
  ASSERT_EQ(claimed.size(), 1u);
  EXPECT_EQ(claimed[0].record.id, "running");
  auto pruned = store_->PruneFinished(At(4), 100);
  ASSERT_TRUE(pruned.ok()) << pruned.status().ToString();
  EXPECT_EQ(*pruned, 2);
  EXPECT_EQ(store_->GetInstance("done-sync").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Journal("done-batch").empty());
}

TEST_P(StoreConformanceTest, ListInstancesFiltersAndPaginatesNewestFirst) {
  std::vector<NewInstance> all;
  for (int i = 0; i < 12; ++i) {
    NewInstance n = Instance("i-" + std::to_string(100 + i), At(i / 2));  // pairs share created_at
    n.workflow_id = i % 3 == 0 ? "alpha" : "beta";
    n.status = i % 4 == 0 ? InstanceStatus::kSuspended : InstanceStatus::kRunning;
    n.correlation_id = i % 2 == 0 ? "even" : "";
    n.parent_id = i == 5 ? "parent-x" : "";
    all.push_back(n);
  }
  Create(all);

  // Pages of 5: 5 + 5 + 2, newest first, ties broken by id descending.
  std::vector<std::string> seen;
  InstanceFilter filter{.limit = 5};
  int pages = 0;
  do {
    auto page = store_->ListInstances(filter);
    ASSERT_TRUE(page.ok()) << page.status().ToString();
    for (const auto& r : page->items) {
      EXPECT_TRUE(r.state.is_null()) << "list items carry no state";
      seen.push_back(r.id);
    }
    filter.cursor = page->next_cursor;
    ++pages;
  } while (!filter.cursor.empty() && pages < 10);
  EXPECT_EQ(pages, 3);
  ASSERT_EQ(seen.size(), 12u);
  for (int i = 0; i < 12; ++i) EXPECT_EQ(seen[i], "i-" + std::to_string(111 - i));

  auto count = [&](InstanceFilter f) {
    f.limit = 100;
    auto page = store_->ListInstances(f);
    EXPECT_TRUE(page.ok()) << page.status().ToString();
    return page.ok() ? page->items.size() : 0u;
  };
  EXPECT_EQ(count({.status = InstanceStatus::kSuspended}), 3u);
  EXPECT_EQ(count({.workflow_id = "alpha"}), 4u);
  EXPECT_EQ(count({.correlation_id = "even"}), 6u);
  EXPECT_EQ(count({.parent_id = "parent-x"}), 1u);
  EXPECT_EQ(count({.created_after = At(2)}), 8u);   // inclusive
  EXPECT_EQ(count({.created_before = At(2)}), 4u);  // exclusive
  EXPECT_EQ(count({.created_after = At(1), .created_before = At(3)}), 4u);
  EXPECT_EQ(count({.status = InstanceStatus::kRunning, .workflow_id = "beta", .correlation_id = "even"}), 2u);
  EXPECT_EQ(count({.workflow_id = "none"}), 0u);

  // Pagination with a filter.
  InstanceFilter beta{.workflow_id = "beta", .limit = 3};
  std::vector<std::string> betas;
  do {
    auto page = store_->ListInstances(beta);
    ASSERT_TRUE(page.ok());
    for (const auto& r : page->items) betas.push_back(r.id);
    beta.cursor = page->next_cursor;
  } while (!beta.cursor.empty() && betas.size() < 100);
  EXPECT_EQ(betas.size(), 8u);
  EXPECT_EQ(std::set<std::string>(betas.begin(), betas.end()).size(), 8u);

  EXPECT_EQ(store_->ListInstances({.cursor = "not a cursor"}).status().code(), StatusCode::kInvalidArgument);
}

TEST_P(StoreConformanceTest, JournalIsWrittenByCommitAndPagedBySequence) {
  Create({Instance("j")});
  ClaimedInstance claimed = ClaimOne("j", At(1));
  InstanceCommit c = CommitFor(claimed, At(2));
  for (uint64_t s = 1; s <= 5; ++s) c.journal.push_back(Record(s));
  c.journal[1].output = nullptr;
  c.journal[2].status = "Faulted";
  c.journal[2].error = "boom";
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  auto page = store_->ListJournal("j", 0, 2);
  ASSERT_TRUE(page.ok()) << page.status().ToString();
  ASSERT_EQ(page->items.size(), 2u);
  EXPECT_EQ(page->items[0].instance_id, "j");
  EXPECT_EQ(page->items[0].record.sequence, 1u);
  EXPECT_EQ(page->items[0].record.activity_id, "a1");
  EXPECT_EQ(page->items[0].record.activity_type, "SetVariable");
  EXPECT_EQ(page->items[0].record.outcome, "Done");
  EXPECT_EQ(page->items[0].record.started_at, At(1));
  EXPECT_EQ(page->items[0].record.finished_at, At(2));
  EXPECT_EQ(page->items[0].record.output, (Json{{"ok", true}}));
  EXPECT_TRUE(page->items[1].record.output.is_null());
  ASSERT_FALSE(page->next_cursor.empty());
  // The cursor is the last sequence returned.
  EXPECT_EQ(page->next_cursor, "2");

  auto rest = store_->ListJournal("j", 2, 10);
  ASSERT_TRUE(rest.ok());
  ASSERT_EQ(rest->items.size(), 3u);
  EXPECT_EQ(rest->items[0].record.sequence, 3u);
  EXPECT_EQ(rest->items[0].record.status, "Faulted");
  EXPECT_EQ(rest->items[0].record.error, "boom");
  EXPECT_TRUE(rest->next_cursor.empty());
  EXPECT_TRUE(store_->ListJournal("j", 5, 10)->items.empty());
}

TEST_P(StoreConformanceTest, LargeJournalOutputIsTruncatedAndFlagged) {
  Create({Instance("big")});
  ClaimedInstance claimed = ClaimOne("big", At(1));
  InstanceCommit c = CommitFor(claimed, At(2));
  c.journal.push_back(Record(1, Json{{"blob", std::string(200 * 1024, 'x')}}));
  c.journal.push_back(Record(2));
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  auto entries = Journal("big");
  ASSERT_EQ(entries.size(), 2u);
  EXPECT_TRUE(entries[0].truncated);
  EXPECT_EQ(entries[0].record.output["truncated"], true);
  EXPECT_GT(entries[0].record.output["bytes"].get<int64_t>(), 200 * 1024);
  EXPECT_FALSE(entries[1].truncated);
}

TEST_P(StoreConformanceTest, DuplicateJournalSequenceFailsTheWholeCommit) {
  Create({Instance("dup"), Instance("other")});
  auto claimed = ClaimAll(At(1));
  ASSERT_EQ(claimed.size(), 2u);
  InstanceCommit first = CommitFor(claimed[0].record.id == "dup" ? claimed[0] : claimed[1], At(2));
  first.journal.push_back(Record(1));
  ASSERT_EQ(CommitAll({first}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  ClaimedInstance other = claimed[0].record.id == "other" ? claimed[0] : claimed[1];
  InstanceCommit ok = CommitFor(other, At(3));
  ok.status = InstanceStatus::kCompleted;
  InstanceCommit again = first;
  again.now = At(3);
  auto outcome = store_->Commit({ok, again});
  EXPECT_FALSE(outcome.ok());
  EXPECT_EQ(Get("other").status, InstanceStatus::kRunning) << "nothing of the failed batch is written";
  EXPECT_EQ(Journal("dup").size(), 1u);
}

TEST_P(StoreConformanceTest, DeleteInstanceCascades) {
  Create({Instance("d"), Instance("keep")});
  ClaimedInstance claimed = ClaimOne("d", At(1));
  InstanceCommit c = CommitFor(claimed, At(2));
  c.journal.push_back(Record(1));
  c.bookmarks = std::vector<BookmarkRow>{EventBookmark("bm", "evt")};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  ASSERT_TRUE(
      store_->Deliver({.instance_id = "d", .kind = InboxKind::kCancel, .payload = "stop"}, At(3)).ok());

  ASSERT_TRUE(store_->DeleteInstance("d").ok());
  EXPECT_EQ(store_->GetInstance("d").status().code(), StatusCode::kNotFound);
  EXPECT_TRUE(Journal("d").empty());
  auto delivered = store_->DeliverEvent({.name = "evt", .payload = 1}, std::chrono::milliseconds(0), At(4));
  ASSERT_TRUE(delivered.ok());
  EXPECT_EQ(delivered->resumed, 0) << "the bookmark went with the instance";
  EXPECT_EQ(store_->DeleteInstance("d").code(), StatusCode::kNotFound);
  EXPECT_TRUE(store_->GetInstance("keep").ok());
}

TEST_P(StoreConformanceTest, ClaimTakesRunnableAndDueTimersOnly) {
  NewInstance runnable = Instance("runnable", At(0));
  NewInstance due = Instance("due-timer", At(0), false);
  due.wake_at = At(5);
  NewInstance future = Instance("future-timer", At(0), false);
  future.wake_at = At(500);
  NewInstance idle = Instance("idle", At(0), false);
  NewInstance done = Instance("completed", At(0));
  done.status = InstanceStatus::kCompleted;
  NewInstance cancelled = Instance("cancelled", At(0));
  cancelled.status = InstanceStatus::kCancelled;
  Create({runnable, due, future, idle, done, cancelled});

  auto claimed = ClaimAll(At(10), 100, "node-a", std::chrono::seconds(20));
  std::set<std::string> ids;
  for (const auto& c : claimed) {
    ids.insert(c.record.id);
    EXPECT_EQ(c.record.lease_owner, "node-a");
    EXPECT_EQ(c.record.lease_expires, At(30));
    EXPECT_EQ(c.record.epoch, 1);
    EXPECT_TRUE(c.record.state.is_null());  // returned unparsed, as state_text
    Json parsed;
    std::string error;
    EXPECT_TRUE(ParseJson(c.record.state_text, &parsed, &error)) << error;
    EXPECT_EQ(parsed, Get(c.record.id).state);
    EXPECT_TRUE(c.inbox.empty());
  }
  EXPECT_EQ(ids, (std::set<std::string>{"runnable", "due-timer"}));
  // Leased now: not claimable again. Claim clears runnable (only waiting work is indexed).
  EXPECT_TRUE(ClaimAll(At(11), 100, "node-b").empty());
  EXPECT_FALSE(Get("runnable").runnable);
}

TEST_P(StoreConformanceTest, ClaimHonoursLimitOldestFirst) {
  std::vector<NewInstance> batch;
  for (int i = 0; i < 10; ++i) batch.push_back(Instance("c" + std::to_string(i), At(10 - i)));
  Create(batch);
  auto first = ClaimAll(At(100), 4);
  ASSERT_EQ(first.size(), 4u);
  EXPECT_EQ(first[0].record.id, "c9");
  EXPECT_EQ(first[3].record.id, "c6");
  EXPECT_EQ(ClaimAll(At(100), 4, "node-b").size(), 4u);
  EXPECT_EQ(ClaimAll(At(100), 4, "node-c").size(), 2u);
  EXPECT_TRUE(ClaimAll(At(100), 4, "node-d").empty());
}

TEST_P(StoreConformanceTest, ExpiredLeaseIsReclaimableWithEpochBump) {
  Create({Instance("x")});
  auto first = ClaimAll(At(0), 10, "node-a", std::chrono::seconds(5));
  ASSERT_EQ(first.size(), 1u);
  EXPECT_TRUE(ClaimAll(At(4), 10, "node-b").empty());
  auto second = ClaimAll(At(6), 10, "node-b", std::chrono::seconds(5));
  ASSERT_EQ(second.size(), 1u);
  EXPECT_EQ(second[0].record.lease_owner, "node-b");
  EXPECT_EQ(second[0].record.epoch, first[0].record.epoch + 1);
}

TEST_P(StoreConformanceTest, RenewAndReleaseLeases) {
  Create({Instance("r1"), Instance("r2"), Instance("r3")});
  auto claimed = ClaimAll(At(0), 2, "node-a", std::chrono::seconds(5));
  ASSERT_EQ(claimed.size(), 2u);
  auto b = ClaimAll(At(0), 1, "node-b", std::chrono::seconds(5));
  ASSERT_EQ(b.size(), 1u);

  auto renewed = store_->RenewLeases("node-a", std::chrono::seconds(60), At(4));
  ASSERT_TRUE(renewed.ok());
  EXPECT_EQ(*renewed, 2);
  EXPECT_EQ(Get(claimed[0].record.id).lease_expires, At(64));
  EXPECT_EQ(Get(b[0].record.id).lease_expires, At(5));
  EXPECT_TRUE(ClaimAll(At(10), 10, "node-c").size() == 1u) << "only node-b's expired lease";

  // Release only where owner and epoch match.
  ASSERT_TRUE(store_
                  ->ReleaseLeases("node-a", {{claimed[0].record.id, claimed[0].record.epoch},
                                             {claimed[1].record.id, claimed[1].record.epoch + 7}})
                  .ok());
  InstanceRecord released = Get(claimed[0].record.id);
  EXPECT_TRUE(released.lease_owner.empty());
  EXPECT_FALSE(released.lease_expires.has_value());
  EXPECT_TRUE(released.runnable);
  EXPECT_EQ(Get(claimed[1].record.id).lease_owner, "node-a");
  ASSERT_TRUE(store_->ReleaseLeases("node-z", {{claimed[1].record.id, claimed[1].record.epoch}}).ok());
  EXPECT_EQ(Get(claimed[1].record.id).lease_owner, "node-a");

  auto again = ClaimAll(At(11), 10, "node-d");
  ASSERT_EQ(again.size(), 1u);
  EXPECT_EQ(again[0].record.id, claimed[0].record.id);
}

TEST_P(StoreConformanceTest, ReleasedSuspendedInstanceBecomesRunnable) {
  Create({Instance("s", At(0), false)});
  ASSERT_TRUE(store_->Deliver({.instance_id = "s", .kind = InboxKind::kCancel, .payload = "x"}, At(0)).ok());
  ClaimedInstance claimed = ClaimOne("s", At(1));
  InstanceCommit c = CommitFor(claimed, At(2));
  c.release = false;  // keep the lease
  c.lease = std::chrono::seconds(100);
  c.consumed_inbox = {claimed.inbox[0].id};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  InstanceRecord r = Get("s");
  EXPECT_EQ(r.lease_owner, "node-a");
  EXPECT_EQ(r.lease_expires, At(102));
  EXPECT_FALSE(r.runnable);
  EXPECT_TRUE(ClaimAll(At(3), 10, "node-b").empty());
  ASSERT_TRUE(store_->ReleaseLeases("node-a", {{"s", claimed.record.epoch}}).ok());
  EXPECT_TRUE(Get("s").runnable);
  EXPECT_EQ(ClaimAll(At(4), 10, "node-b").size(), 1u);
}

}  // namespace
}  // namespace trellis::testing
