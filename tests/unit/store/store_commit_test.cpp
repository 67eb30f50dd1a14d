// Conformance: group commits (fencing, runnable, bookmarks, children, parent results, published
// events) and inbox deliveries (events, held events, webhooks, cancellations and retries).
#include "unit/store/store_fixture.h"

namespace trellis::testing {
namespace {

using std::chrono::milliseconds;
using std::chrono::seconds;

TEST_P(StoreConformanceTest, FencedCommitWritesNothingWhileOthersInTheBatchCommit) {
  Create({Instance("fenced"), Instance("fine"), Instance("target", At(0), false)});
  auto first = ClaimAll(At(0), 10, "node-a", seconds(5));
  ASSERT_EQ(first.size(), 2u);
  const ClaimedInstance& old_claim = first[0].record.id == "fenced" ? first[0] : first[1];
  const ClaimedInstance& fine_claim = first[0].record.id == "fine" ? first[0] : first[1];
  // The lease expires and another node takes "fenced" over.
  auto taken = ClaimAll(At(10), 1, "node-b", seconds(5));
  ASSERT_EQ(taken.size(), 1u);

  InstanceCommit stale = CommitFor(old_claim, At(11));
  stale.status = InstanceStatus::kCompleted;
  stale.state = Json{{"stale", true}};
  stale.finished_at = At(11);
  stale.journal.push_back(Record(1));
  stale.bookmarks = std::vector<BookmarkRow>{EventBookmark("bm", "stale-event")};
  stale.children.push_back(Instance("stale-child"));
  stale.deliveries.push_back({.instance_id = "target", .kind = InboxKind::kCancel, .payload = "x"});
  stale.events.push_back({.name = "stale-published", .payload = 1});
  InstanceCommit good = CommitFor(fine_claim, At(11));
  good.journal.push_back(Record(1));

  EXPECT_EQ(taken[0].record.id, "fenced");
  EXPECT_EQ(CommitAll({stale, good}),
            (std::vector<CommitOutcome>{CommitOutcome::kFenced, CommitOutcome::kCommitted}));

  InstanceRecord r = Get("fenced");
  EXPECT_EQ(r.status, InstanceStatus::kRunning);
  Json claimed_state;
  std::string error;
  ASSERT_TRUE(ParseJson(old_claim.record.state_text, &claimed_state, &error)) << error;
  EXPECT_EQ(r.state, claimed_state);
  EXPECT_EQ(r.lease_owner, "node-b");
  EXPECT_TRUE(Journal("fenced").empty());
  EXPECT_EQ(store_->GetInstance("stale-child").status().code(), StatusCode::kNotFound);
  EXPECT_EQ(Get("target").inbox_seq, 0);
  EXPECT_FALSE(Get("target").runnable);
  auto held = store_->DeliverEvent({.name = "stale-event", .payload = 1}, milliseconds(0), At(12));
  EXPECT_EQ(held->resumed, 0) << "the fenced commit wrote no bookmark";
  EXPECT_EQ(Journal("fine").size(), 1u);
  EXPECT_EQ(Get("fine").status, InstanceStatus::kSuspended);

  // A commit for an instance that does not exist is fenced too.
  InstanceCommit ghost = stale;
  ghost.id = "ghost";
  EXPECT_EQ(CommitAll({ghost}), std::vector<CommitOutcome>{CommitOutcome::kFenced});
}

// Plain commits (state, journal, consumed inbox items, an ending) write the same whatever the batch
// size: PostgreSQL writes a batch of up to 64 of them in one statement and a larger one in a
// transaction.
TEST_P(StoreConformanceTest, PlainCommitsWriteTheSameInSmallAndLargeBatches) {
  for (size_t n : {size_t{1}, size_t{6}, size_t{70}}) {
    SCOPED_TRACE("a batch of " + std::to_string(n));
    std::string p = "n" + std::to_string(n) + "-";
    std::vector<NewInstance> made;
    for (size_t i = 0; i < n; ++i) made.push_back(Instance(p + std::to_string(i)));
    Create(made);
    // One commit per claim, with journal record `seq`; `edit` adds what the step writes.
    auto commits_for = [&](const std::vector<ClaimedInstance>& claims, int64_t at, uint64_t seq,
                           const std::function<void(const ClaimedInstance&, InstanceCommit&)>& edit) {
      std::vector<InstanceCommit> batch;
      for (const auto& c : claims) {
        InstanceCommit s = CommitFor(c, At(at));
        s.journal.push_back(Record(seq));
        edit(c, s);
        batch.push_back(std::move(s));
      }
      return batch;
    };
    // Delivers event `name`, which must resume every instance, and claims them again.
    auto resume = [&](const std::string& name, int payload, int64_t at) {
      auto delivered = store_->DeliverEvent({.name = name, .payload = payload}, milliseconds(0), At(at));
      EXPECT_TRUE(delivered.ok()) << delivered.status().ToString();
      if (delivered.ok()) {
        EXPECT_EQ(delivered->resumed, static_cast<int>(n));
      }
      return ClaimAll(At(at + 1));
    };
    const std::vector<CommitOutcome> all_committed(n, CommitOutcome::kCommitted);

    auto claims = ClaimAll(At(0));
    ASSERT_EQ(claims.size(), n);
    auto batch = commits_for(claims, 1, 1, [&](const ClaimedInstance&, InstanceCommit& s) {
      s.bookmarks =
          std::vector<BookmarkRow>{EventBookmark("bm", p + "first"), EventBookmark("o", p + "other")};
    });
    ASSERT_EQ(CommitAll(batch), all_committed);

    // The first event resumes every instance; each consumes its item in a plain commit.
    claims = resume(p + "first", 1, 2);
    ASSERT_EQ(claims.size(), n);
    batch = commits_for(claims, 4, 2, [](const ClaimedInstance& c, InstanceCommit& s) {
      ASSERT_EQ(c.inbox.size(), 1u);
      s.consumed_inbox.push_back(c.inbox[0].id);
    });
    ASSERT_EQ(CommitAll(batch), all_committed);

    // The second event finds the other bookmarks kept, and the consumed items gone.
    claims = resume(p + "other", 2, 5);
    ASSERT_EQ(claims.size(), n);
    batch = commits_for(claims, 7, 3, [](const ClaimedInstance& c, InstanceCommit& done) {
      ASSERT_EQ(c.inbox.size(), 1u) << "the consumed item was deleted";
      EXPECT_EQ(c.inbox[0].payload, Json(2));
      done.status = InstanceStatus::kCompleted;
      done.status_changed = true;
      done.finished_at = At(7);
    });
    InstanceCommit ghost = batch.front();
    ghost.id = p + "ghost";
    batch.push_back(ghost);
    std::vector<CommitOutcome> want = all_committed;
    want.push_back(CommitOutcome::kFenced);
    ASSERT_EQ(CommitAll(batch), want);

    for (size_t i = 0; i < n; ++i) {
      InstanceRecord r = Get(p + std::to_string(i));
      EXPECT_EQ(r.status, InstanceStatus::kCompleted);
      EXPECT_EQ(r.finished_at, std::optional<TimePoint>(At(7)));
      EXPECT_TRUE(r.lease_owner.empty());
      EXPECT_FALSE(r.runnable);
      std::vector<uint64_t> sequences;
      for (const auto& j : Journal(r.id)) sequences.push_back(j.record.sequence);
      EXPECT_EQ(sequences, (std::vector<uint64_t>{1, 2, 3}));
    }
    EXPECT_TRUE(Journal(p + "ghost").empty());
    // An ended instance's bookmarks are gone: a late event is held, not delivered.
    auto late = store_->DeliverEvent({.name = p + "other", .payload = 3}, milliseconds(0), At(8));
    ASSERT_TRUE(late.ok()) << late.status().ToString();
    EXPECT_EQ(late->resumed, 0);
  }
}

TEST_P(StoreConformanceTest, CommitWritesPreSerialisedStateText) {
  Create({Instance("pre")});
  ClaimedInstance claimed = ClaimOne("pre", At(0));
  InstanceCommit c = CommitFor(claimed, At(1));
  c.state = Json{{"ignored", true}};
  c.state_text = R"({"from":"text","n":[1,2]})";
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(Get("pre").state, (Json{{"from", "text"}, {"n", {1, 2}}}));
}

// A commit point between two activities (the lease kept, the status the one last committed): the
// state and journal move, the lease and status stay, and a stale epoch is still fenced.
TEST_P(StoreConformanceTest, KeepRunningCommitWithUnchangedStatusIsWrittenAndFenced) {
  Create({Instance("steady")});
  ClaimedInstance claimed = ClaimOne("steady", At(0));
  ASSERT_EQ(claimed.record.status, InstanceStatus::kRunning);
  InstanceCommit c = CommitFor(claimed, At(1));
  c.status = InstanceStatus::kRunning;
  c.status_changed = false;
  c.release = false;
  c.has_ready = true;
  c.state = Json{{"step", 1}};
  c.wake_at = At(30);
  c.journal.push_back(Record(1));
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  InstanceRecord r = Get("steady");
  EXPECT_EQ(r.state, (Json{{"step", 1}}));
  EXPECT_EQ(r.status, InstanceStatus::kRunning);
  EXPECT_EQ(r.lease_owner, "node-a");
  EXPECT_EQ(r.epoch, claimed.record.epoch);
  EXPECT_EQ(r.updated_at, At(1));
  EXPECT_EQ(r.wake_at, At(30));
  EXPECT_FALSE(r.runnable) << "leased: not claimable";
  // The renewer extends the lease, not this commit: it changes no indexed column (PostgreSQL can
  // then update the row heap-only).
  EXPECT_EQ(r.lease_expires, claimed.record.lease_expires);
  EXPECT_EQ(Journal("steady").size(), 1u);

  InstanceCommit stale = c;
  stale.epoch = claimed.record.epoch - 1;
  stale.state = Json{{"step", "stale"}};
  stale.journal = {Record(2)};
  EXPECT_EQ(CommitAll({stale}), std::vector<CommitOutcome>{CommitOutcome::kFenced});
  EXPECT_EQ(Get("steady").state, (Json{{"step", 1}}));
  EXPECT_EQ(Journal("steady").size(), 1u);
}

TEST_P(StoreConformanceTest, CommitSetsRunnableFromReadyWorkAndInboxChanges) {
  Create({Instance("ready"), Instance("idle"), Instance("raced"), Instance("done")});
  auto claimed = ClaimAll(At(0));
  ASSERT_EQ(claimed.size(), 4u);
  std::map<std::string, ClaimedInstance> by_id;
  for (auto& c : claimed) by_id[c.record.id] = c;

  // A resume arrives between the claim and the commit of "raced" and "done".
  ASSERT_TRUE(
      store_->Deliver({.instance_id = "raced", .kind = InboxKind::kCancel, .payload = "r"}, At(1)).ok());
  ASSERT_TRUE(
      store_->Deliver({.instance_id = "done", .kind = InboxKind::kCancel, .payload = "r"}, At(1)).ok());

  InstanceCommit ready = CommitFor(by_id["ready"], At(2));
  ready.status = InstanceStatus::kRunning;
  ready.has_ready = true;
  InstanceCommit idle = CommitFor(by_id["idle"], At(2));
  idle.wake_at = At(50);
  InstanceCommit raced = CommitFor(by_id["raced"], At(2));
  InstanceCommit done = CommitFor(by_id["done"], At(2));
  done.status = InstanceStatus::kCompleted;
  done.finished_at = At(2);
  ASSERT_EQ(CommitAll({ready, idle, raced, done}), std::vector<CommitOutcome>(4, CommitOutcome::kCommitted));

  EXPECT_TRUE(Get("ready").runnable);
  InstanceRecord i = Get("idle");
  EXPECT_FALSE(i.runnable);
  EXPECT_EQ(i.wake_at, At(50));
  EXPECT_EQ(i.status, InstanceStatus::kSuspended);
  EXPECT_TRUE(i.lease_owner.empty());
  EXPECT_EQ(i.updated_at, At(2));
  EXPECT_TRUE(Get("raced").runnable) << "a resume racing the suspension is not lost";
  InstanceRecord d = Get("done");
  EXPECT_FALSE(d.runnable) << "an ended instance is never runnable";
  EXPECT_EQ(d.finished_at, At(2));

  // The timer makes "idle" claimable when due, not before.
  auto early = ClaimAll(At(49));
  std::set<std::string> early_ids;
  for (const auto& c : early) early_ids.insert(c.record.id);
  EXPECT_EQ(early_ids, (std::set<std::string>{"ready", "raced"}));
  auto due = ClaimAll(At(51));
  ASSERT_EQ(due.size(), 1u);
  EXPECT_EQ(due[0].record.id, "idle");
}

TEST_P(StoreConformanceTest, EventDeliveryResumesMatchingBookmarksOnce) {
  Create({Instance("a"), Instance("b"), Instance("c")});
  auto claimed = ClaimAll(At(0));
  ASSERT_EQ(claimed.size(), 3u);
  std::vector<InstanceCommit> commits;
  for (const auto& cl : claimed) {
    InstanceCommit c = CommitFor(cl, At(1));
    std::string corr = cl.record.id == "a" ? "order-1" : cl.record.id == "b" ? "order-2" : "";
    c.bookmarks = std::vector<BookmarkRow>{EventBookmark("wait-" + cl.record.id, "paid", corr),
                                           EventBookmark("other-" + cl.record.id, "shipped")};
    commits.push_back(c);
  }
  ASSERT_EQ(CommitAll(commits), std::vector<CommitOutcome>(3, CommitOutcome::kCommitted));
  for (const char* id : {"a", "b", "c"}) EXPECT_FALSE(Get(id).runnable);

  // Correlation order-1 resumes "a" (same correlation) and "c" (no correlation), not "b".
  auto result = store_->DeliverEvent({.name = "paid", .correlation = "order-1", .payload = {{"amount", 5}}},
                                     seconds(60), At(2));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->resumed, 2);
  EXPECT_FALSE(result->held);
  EXPECT_TRUE(Get("a").runnable);
  EXPECT_EQ(Get("a").inbox_seq, 1);
  EXPECT_FALSE(Get("b").runnable);
  EXPECT_TRUE(Get("c").runnable);

  auto resumed = ClaimAll(At(3));
  ASSERT_EQ(resumed.size(), 2u);
  for (const auto& r : resumed) {
    ASSERT_EQ(r.inbox.size(), 1u);
    EXPECT_EQ(r.inbox[0].kind, InboxKind::kEvent);
    EXPECT_EQ(r.inbox[0].bookmark_id, "wait-" + r.record.id);
    EXPECT_EQ(r.inbox[0].payload, (Json{{"amount", 5}}));
    EXPECT_EQ(r.inbox[0].created_at, At(2));
    EXPECT_EQ(r.record.inbox_seq, 1);
  }

  // The matched rows are gone: a second delivery with the same correlation is held.
  auto second =
      store_->DeliverEvent({.name = "paid", .correlation = "order-1", .payload = 2}, seconds(60), At(4));
  ASSERT_TRUE(second.ok());
  EXPECT_EQ(second->resumed, 0);
  EXPECT_TRUE(second->held);
  // Without a hold nothing is kept.
  auto dropped = store_->DeliverEvent({.name = "never", .payload = 2}, milliseconds(0), At(4));
  EXPECT_FALSE(dropped->held);
}

TEST_P(StoreConformanceTest, CommitRewritesBookmarksButNotResumedOnes) {
  Create({Instance("w")});
  ClaimedInstance claimed = ClaimOne("w", At(0));
  InstanceCommit c = CommitFor(claimed, At(1));
  c.bookmarks = std::vector<BookmarkRow>{EventBookmark("e1", "one"), EventBookmark("e2", "two")};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  ASSERT_EQ(store_->DeliverEvent({.name = "one", .payload = 1}, milliseconds(0), At(2))->resumed, 1);
  // A commit from a claim taken before the delivery still lists e1: it must not match again
  // while its inbox item is unconsumed.
  claimed = ClaimOne("w", At(3));
  ASSERT_EQ(claimed.inbox.size(), 1u);
  InstanceCommit keep = CommitFor(claimed, At(4));
  keep.has_ready = true;
  keep.bookmarks = std::vector<BookmarkRow>{EventBookmark("e1", "one"), EventBookmark("e2", "two")};
  ASSERT_EQ(CommitAll({keep}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(store_->DeliverEvent({.name = "one", .payload = 2}, milliseconds(0), At(5))->resumed, 0);

  // Consumed: the next commit may add e1 again; a replaced set drops e2.
  claimed = ClaimOne("w", At(6));
  ASSERT_EQ(claimed.inbox.size(), 1u);
  InstanceCommit consume = CommitFor(claimed, At(7));
  consume.consumed_inbox = {claimed.inbox[0].id};
  consume.bookmarks = std::vector<BookmarkRow>{EventBookmark("e1", "one")};
  ASSERT_EQ(CommitAll({consume}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_FALSE(Get("w").runnable);
  EXPECT_EQ(store_->DeliverEvent({.name = "two", .payload = 3}, milliseconds(0), At(8))->resumed, 0);
  EXPECT_EQ(store_->DeliverEvent({.name = "one", .payload = 4}, milliseconds(0), At(8))->resumed, 1);

  // Unchanged bookmarks (nullopt) stay as they are.
  claimed = ClaimOne("w", At(9));
  InstanceCommit replace = CommitFor(claimed, At(10));
  replace.consumed_inbox = {claimed.inbox[0].id};
  replace.bookmarks = std::vector<BookmarkRow>{EventBookmark("e3", "three")};
  ASSERT_EQ(CommitAll({replace}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  ASSERT_TRUE(store_->Deliver({.instance_id = "w", .kind = InboxKind::kCancel, .payload = "c"}, At(11)).ok());
  claimed = ClaimOne("w", At(12));
  InstanceCommit unchanged = CommitFor(claimed, At(13));
  unchanged.consumed_inbox = {claimed.inbox[0].id};
  ASSERT_EQ(CommitAll({unchanged}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(store_->DeliverEvent({.name = "three", .payload = 5}, milliseconds(0), At(14))->resumed, 1);

  // A terminal status removes every bookmark, even ones the commit lists.
  claimed = ClaimOne("w", At(15));
  InstanceCommit end = CommitFor(claimed, At(16));
  end.status = InstanceStatus::kCancelled;
  end.finished_at = At(16);
  end.bookmarks = std::vector<BookmarkRow>{EventBookmark("e4", "four")};
  ASSERT_EQ(CommitAll({end}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_EQ(store_->DeliverEvent({.name = "four", .payload = 6}, milliseconds(0), At(17))->resumed, 0);
  EXPECT_FALSE(Get("w").runnable);
}

TEST_P(StoreConformanceTest, HeldEventIsConsumedByTheCommitThatCreatesItsBookmark) {
  Create({Instance("late")});
  auto held = store_->DeliverEvent({.name = "approved", .correlation = "req-9", .payload = {{"by", "ann"}}},
                                   seconds(60), At(0));
  ASSERT_TRUE(held.ok());
  EXPECT_TRUE(held->held);

  ClaimedInstance claimed = ClaimOne("late", At(1));
  InstanceCommit c = CommitFor(claimed, At(2));
  c.bookmarks =
      std::vector<BookmarkRow>{EventBookmark("wait", "approved", "req-9"), EventBookmark("t", "other")};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  InstanceRecord r = Get("late");
  EXPECT_TRUE(r.runnable);
  EXPECT_EQ(r.inbox_seq, 1);
  auto resumed = ClaimAll(At(3));
  ASSERT_EQ(resumed.size(), 1u);
  ASSERT_EQ(resumed[0].inbox.size(), 1u);
  EXPECT_EQ(resumed[0].inbox[0].bookmark_id, "wait");
  EXPECT_EQ(resumed[0].inbox[0].payload, (Json{{"by", "ann"}}));
  // The bookmark row was not written, and the held event is gone.
  EXPECT_EQ(
      store_->DeliverEvent({.name = "approved", .correlation = "req-9", .payload = 1}, milliseconds(0), At(4))
          ->resumed,
      0);
}

TEST_P(StoreConformanceTest, HeldEventsExpireAndArePruned) {
  Create({Instance("slow"), Instance("mismatch")});
  ASSERT_TRUE(store_->DeliverEvent({.name = "ping", .payload = 1}, seconds(10), At(0))->held);
  ASSERT_TRUE(
      store_->DeliverEvent({.name = "keyed", .correlation = "k1", .payload = 1}, seconds(100), At(0))->held);
  auto claimed = ClaimAll(At(20));
  ASSERT_EQ(claimed.size(), 2u);
  std::vector<InstanceCommit> commits;
  for (const auto& cl : claimed) {
    InstanceCommit c = CommitFor(cl, At(20));
    c.bookmarks = cl.record.id == "slow" ? std::vector<BookmarkRow>{EventBookmark("w", "ping")}
                                         : std::vector<BookmarkRow>{EventBookmark("w", "keyed", "k2")};
    commits.push_back(c);
  }
  ASSERT_EQ(CommitAll(commits), std::vector<CommitOutcome>(2, CommitOutcome::kCommitted));
  EXPECT_FALSE(Get("slow").runnable) << "the held event expired at 10s";
  EXPECT_FALSE(Get("mismatch").runnable) << "correlation k1 does not match k2";

  auto pruned = store_->PruneHeldEvents(At(50));
  ASSERT_TRUE(pruned.ok());
  EXPECT_EQ(*pruned, 1);  // "ping"; "keyed" lives until 100s
  pruned = store_->PruneHeldEvents(At(200));
  EXPECT_EQ(*pruned, 1);
}

TEST_P(StoreConformanceTest, WebhookDeliveryMatchesPathAndMethod) {
  Create({Instance("post"), Instance("any"), Instance("get")});
  auto claimed = ClaimAll(At(0));
  ASSERT_EQ(claimed.size(), 3u);
  std::vector<InstanceCommit> commits;
  for (const auto& cl : claimed) {
    InstanceCommit c = CommitFor(cl, At(1));
    BookmarkRow b{.id = "hook", .kind = BookmarkKind::kWebhook, .activity_id = "hook", .key = "orders/new"};
    if (cl.record.id == "post") b.method = "POST";
    if (cl.record.id == "get") b.method = "GET";
    c.bookmarks = std::vector<BookmarkRow>{b};
    commits.push_back(c);
  }
  ASSERT_EQ(CommitAll(commits), std::vector<CommitOutcome>(3, CommitOutcome::kCommitted));

  auto none = store_->DeliverWebhook("orders/old", "POST", Json{{"body", 1}}, At(2));
  ASSERT_TRUE(none.ok());
  EXPECT_EQ(none->resumed, 0);
  EXPECT_FALSE(none->held) << "webhooks are never held";
  auto result = store_->DeliverWebhook("orders/new", "post", Json{{"body", 2}}, At(2));
  ASSERT_TRUE(result.ok()) << result.status().ToString();
  EXPECT_EQ(result->resumed, 2);
  EXPECT_TRUE(Get("post").runnable);
  EXPECT_TRUE(Get("any").runnable);
  EXPECT_FALSE(Get("get").runnable);
  auto resumed = ClaimAll(At(3));
  ASSERT_EQ(resumed.size(), 2u);
  EXPECT_EQ(resumed[0].inbox.at(0).kind, InboxKind::kWebhook);
  EXPECT_EQ(resumed[0].inbox.at(0).payload, (Json{{"body", 2}}));
  EXPECT_EQ(store_->DeliverWebhook("orders/new", "POST", Json{{"body", 3}}, At(4))->resumed, 0);
}

TEST_P(StoreConformanceTest, DeliverCancelAndRetryRules) {
  NewInstance running = Instance("running", At(0), false);
  NewInstance faulted = Instance("faulted", At(0), false);
  faulted.status = InstanceStatus::kFaulted;
  NewInstance completed = Instance("completed", At(0), false);
  completed.status = InstanceStatus::kCompleted;
  NewInstance cancelled = Instance("cancelled", At(0), false);
  cancelled.status = InstanceStatus::kCancelled;
  Create({running, faulted, completed, cancelled});

  auto deliver = [&](const std::string& id, InboxKind kind) {
    return store_->Deliver({.instance_id = id, .kind = kind, .payload = {{"reason", "test"}}}, At(1)).code();
  };
  EXPECT_EQ(deliver("missing", InboxKind::kCancel), StatusCode::kNotFound);
  EXPECT_EQ(deliver("completed", InboxKind::kCancel), StatusCode::kFailedPrecondition);
  EXPECT_EQ(deliver("cancelled", InboxKind::kCancel), StatusCode::kFailedPrecondition);
  EXPECT_EQ(deliver("running", InboxKind::kRetry), StatusCode::kFailedPrecondition);
  EXPECT_EQ(deliver("completed", InboxKind::kRetry), StatusCode::kFailedPrecondition);
  EXPECT_EQ(deliver("running", InboxKind::kCancel), StatusCode::kOk);
  EXPECT_EQ(deliver("faulted", InboxKind::kRetry), StatusCode::kOk);
  EXPECT_EQ(deliver("faulted", InboxKind::kCancel), StatusCode::kOk);

  EXPECT_FALSE(Get("completed").runnable);
  InstanceRecord f = Get("faulted");
  EXPECT_TRUE(f.runnable);
  EXPECT_EQ(f.inbox_seq, 2);
  auto claimed = ClaimAll(At(2));
  ASSERT_EQ(claimed.size(), 2u);
  for (const auto& c : claimed) {
    if (c.record.id != "faulted") continue;
    ASSERT_EQ(c.inbox.size(), 2u);
    EXPECT_EQ(c.inbox[0].kind, InboxKind::kRetry);
    EXPECT_EQ(c.inbox[1].kind, InboxKind::kCancel);
    EXPECT_LT(c.inbox[0].id, c.inbox[1].id);
    EXPECT_EQ(c.inbox[1].payload, (Json{{"reason", "test"}}));
    EXPECT_TRUE(c.inbox[1].bookmark_id.empty());
  }
}

TEST_P(StoreConformanceTest, CommitCreatesChildrenAndDeliversParentResult) {
  Create({Instance("parent")});
  ClaimedInstance p = ClaimOne("parent", At(0));
  InstanceCommit c = CommitFor(p, At(1));
  NewInstance child = Instance("child", At(1));
  child.parent_id = "parent";
  child.parent_bookmark = "run-child";
  NewInstance dup = Instance("parent");  // an existing id is skipped, not an error
  c.children = {child, dup};
  c.bookmarks = std::vector<BookmarkRow>{
      BookmarkRow{.id = "run-child", .kind = BookmarkKind::kChild, .activity_id = "run", .key = "child"}};
  ASSERT_EQ(CommitAll({c}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  InstanceRecord kid = Get("child");
  EXPECT_EQ(kid.parent_id, "parent");
  EXPECT_TRUE(kid.runnable);
  EXPECT_FALSE(Get("parent").runnable);

  ClaimedInstance k = ClaimOne("child", At(2));
  InstanceCommit end = CommitFor(k, At(3));
  end.status = InstanceStatus::kCompleted;
  end.finished_at = At(3);
  end.parent_result = Json{{"output", 42}};
  ASSERT_EQ(CommitAll({end}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  InstanceRecord parent = Get("parent");
  EXPECT_TRUE(parent.runnable);
  EXPECT_EQ(parent.inbox_seq, 1);
  ClaimedInstance resumed = ClaimOne("parent", At(4));
  ASSERT_EQ(resumed.inbox.size(), 1u);
  EXPECT_EQ(resumed.inbox[0].kind, InboxKind::kChild);
  EXPECT_EQ(resumed.inbox[0].bookmark_id, "run-child");
  EXPECT_EQ(resumed.inbox[0].payload, (Json{{"output", 42}}));
}

TEST_P(StoreConformanceTest, CommitDeliveriesSkipMissingOrEndedTargets) {
  NewInstance done = Instance("done", At(0), false);
  done.status = InstanceStatus::kCompleted;
  Create({Instance("canceller"), Instance("victim", At(0), false), done});
  ClaimedInstance c = ClaimOne("canceller", At(1));
  InstanceCommit commit = CommitFor(c, At(2));
  commit.deliveries = {{.instance_id = "victim", .kind = InboxKind::kCancel, .payload = "parent cancelled"},
                       {.instance_id = "done", .kind = InboxKind::kCancel, .payload = "x"},
                       {.instance_id = "nobody", .kind = InboxKind::kCancel, .payload = "x"}};
  ASSERT_EQ(CommitAll({commit}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  EXPECT_TRUE(Get("victim").runnable);
  EXPECT_EQ(Get("victim").inbox_seq, 1);
  EXPECT_EQ(Get("done").inbox_seq, 0);
}

TEST_P(StoreConformanceTest, PublishedEventsAreDeliveredInTheCommit) {
  Create({Instance("waiter"), Instance("publisher")});
  auto claimed = ClaimAll(At(0));
  ASSERT_EQ(claimed.size(), 2u);
  const ClaimedInstance& w = claimed[0].record.id == "waiter" ? claimed[0] : claimed[1];
  const ClaimedInstance& p = claimed[0].record.id == "publisher" ? claimed[0] : claimed[1];
  InstanceCommit wait = CommitFor(w, At(1));
  wait.bookmarks = std::vector<BookmarkRow>{EventBookmark("wait", "ready")};
  ASSERT_EQ(CommitAll({wait}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});

  InstanceCommit publish = CommitFor(p, At(3));
  publish.status = InstanceStatus::kCompleted;
  publish.finished_at = At(3);
  publish.events = {{.name = "ready", .payload = {{"v", 1}}}, {.name = "unheard", .payload = 2}};
  publish.event_hold = seconds(30);
  ASSERT_EQ(CommitAll({publish}), std::vector<CommitOutcome>{CommitOutcome::kCommitted});
  ClaimedInstance resumed = ClaimOne("waiter", At(4));
  ASSERT_EQ(resumed.inbox.size(), 1u);
  EXPECT_EQ(resumed.inbox[0].payload, (Json{{"v", 1}}));
  // The unmatched one was held with the commit's event_hold.
  EXPECT_EQ(*store_->PruneHeldEvents(At(32)), 0);
  EXPECT_EQ(*store_->PruneHeldEvents(At(34)), 1);
}

}  // namespace
}  // namespace trellis::testing
