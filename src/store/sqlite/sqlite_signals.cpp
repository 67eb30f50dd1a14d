// Group commits and inbox deliveries (events, webhooks, child results, cancellations) on SQLite.
// The connection is the only writer, so deliveries and bookmark writes of one event name are
// serialised without further locking.
#include <strings.h>
#include <algorithm>
#include <set>

#include "store/sqlite/sqlite_store_impl.h"
#include "store/store_util.h"

namespace trellis {

namespace {

bool IsEnded(std::string_view status) {
  return status == "Completed" || status == "Cancelled";
}

// The instance's status name; nullopt when it does not exist.
std::optional<std::string> StatusOf(SqliteDb& db, const std::string& id) {
  auto stmt = db.Prepare("SELECT status FROM workflow_instances WHERE id = ?");
  if (!stmt.Args(id).Step()) return std::nullopt;
  return stmt.Text(0);
}

}  // namespace

void SqliteStore::WriteInbox(const std::string& instance_id, InboxKind kind, std::string_view bookmark_id,
                             std::string_view payload, TimePoint now) {
  db_->Prepare(
         "INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) VALUES (?, ?, ?, ?, ?)")
      .Args(instance_id, InboxKindName(kind), bookmark_id, payload, now)
      .Run();
  db_->Prepare("UPDATE workflow_instances SET inbox_seq = inbox_seq + 1, runnable = 1 WHERE id = ?")
      .Args(instance_id)
      .Run();
}

DeliveryResult SqliteStore::MatchEvent(const EventSignal& event, std::string_view payload,
                                       std::chrono::milliseconds hold, TimePoint now) {
  DeliveryResult result;
  std::vector<std::pair<std::string, std::string>> matched;  // instance id, bookmark id
  {
    auto stmt = db_->Prepare(
        "SELECT instance_id, id FROM bookmarks WHERE kind = 'Event' AND key = ?1 "
        "AND (correlation = '' OR ?2 = '' OR correlation = ?2) ORDER BY instance_id, id");
    stmt.Args(event.name, event.correlation);
    while (stmt.Step()) matched.emplace_back(stmt.Text(0), stmt.Text(1));
  }
  for (const auto& [instance_id, bookmark_id] : matched) {
    WriteInbox(instance_id, InboxKind::kEvent, bookmark_id, payload, now);
    db_->Prepare("DELETE FROM bookmarks WHERE instance_id = ? AND id = ?")
        .Args(instance_id, bookmark_id)
        .Run();
  }
  result.resumed = static_cast<int>(matched.size());
  if (matched.empty() && hold.count() > 0) {
    db_->Prepare(
           "INSERT INTO held_events (name, correlation, payload, created_at, expires_at) VALUES (?, ?, ?, ?, "
           "?)")
        .Args(event.name, event.correlation, payload, now, now + hold)
        .Run();
    result.held = true;
  }
  return result;
}

Result<DeliveryResult> SqliteStore::DeliverEvent(const EventSignal& event, std::chrono::milliseconds hold,
                                                 TimePoint now) {
  std::string payload = JsonText(event.payload);
  auto result = Run([&]() -> Result<DeliveryResult> {
    SqliteTxn txn(*db_);
    DeliveryResult r = MatchEvent(event, payload, hold, now);
    txn.Commit();
    return r;
  });
  if (result.ok() && result->resumed > 0) Announce();
  return result;
}

Result<DeliveryResult> SqliteStore::DeliverWebhook(const std::string& path, const std::string& method,
                                                   const Json& request, TimePoint now) {
  std::string_view key = path;
  while (!key.empty() && key.front() == '/') key.remove_prefix(1);
  std::string payload = JsonText(request);
  auto result = Run([&]() -> Result<DeliveryResult> {
    SqliteTxn txn(*db_);
    std::vector<std::pair<std::string, std::string>> matched;
    {
      auto stmt = db_->Prepare(
          "SELECT instance_id, id, method FROM bookmarks WHERE kind = 'Webhook' AND key = ? "
          "ORDER BY instance_id, id");
      stmt.Args(key);
      while (stmt.Step()) {
        std::string_view m = stmt.View(2);
        if (m.empty() || m == "ANY" ||
            (m.size() == method.size() && strncasecmp(m.data(), method.data(), m.size()) == 0)) {
          matched.emplace_back(stmt.Text(0), stmt.Text(1));
        }
      }
    }
    for (const auto& [instance_id, bookmark_id] : matched) {
      WriteInbox(instance_id, InboxKind::kWebhook, bookmark_id, payload, now);
      db_->Prepare("DELETE FROM bookmarks WHERE instance_id = ? AND id = ?")
          .Args(instance_id, bookmark_id)
          .Run();
    }
    txn.Commit();
    return DeliveryResult{.resumed = static_cast<int>(matched.size())};
  });
  if (result.ok() && result->resumed > 0) Announce();
  return result;
}

Status SqliteStore::Deliver(const InboxDelivery& delivery, TimePoint now) {
  std::string payload = JsonText(delivery.payload);
  Status status = Run([&]() -> Status {
    SqliteTxn txn(*db_);
    auto current = StatusOf(*db_, delivery.instance_id);
    if (!current) return NotFound("instance " + delivery.instance_id + " not found");
    if (IsEnded(*current)) return FailedPrecondition("instance " + delivery.instance_id + " is " + *current);
    if (delivery.kind == InboxKind::kRetry && *current != "Faulted") {
      return FailedPrecondition("instance " + delivery.instance_id + " is " + *current +
                                "; only a Faulted instance can be retried");
    }
    WriteInbox(delivery.instance_id, delivery.kind, delivery.bookmark_id, payload, now);
    txn.Commit();
    return Status::Ok();
  });
  if (status.ok()) Announce();
  return status;
}

// ---------------------------------------------------------------------------------------------
// Commit

void SqliteStore::WriteBookmarks(const InstanceCommit& c, bool* announce) {
  db_->Prepare("DELETE FROM bookmarks WHERE instance_id = ?").Args(c.id).Run();
  if (c.bookmarks->empty()) return;
  // A bookmark an unconsumed inbox item names was resumed already: it must not match again.
  std::set<std::string, std::less<>> resumed;
  {
    auto stmt = db_->Prepare("SELECT bookmark_id FROM inbox WHERE instance_id = ? AND bookmark_id <> ''");
    stmt.Args(c.id);
    while (stmt.Step()) resumed.insert(stmt.Text(0));
  }
  for (const auto& b : *c.bookmarks) {
    if (resumed.count(b.id) > 0) continue;
    if (b.kind == BookmarkKind::kEvent) {
      // An event that arrived before its bookmark: consume the oldest held one instead.
      std::optional<std::pair<int64_t, std::string>> found;
      {
        auto held = db_->Prepare(
            "SELECT id, payload FROM held_events WHERE name = ?1 AND expires_at > ?2 "
            "AND (correlation = '' OR ?3 = '' OR correlation = ?3) ORDER BY id LIMIT 1");
        if (held.Args(b.key, c.now, b.correlation).Step()) found.emplace(held.Int(0), held.Text(1));
      }
      if (found) {
        const auto& [held_id, payload] = *found;
        db_->Prepare("DELETE FROM held_events WHERE id = ?").Args(held_id).Run();
        WriteInbox(c.id, InboxKind::kEvent, b.id, payload, c.now);
        *announce = true;
        continue;
      }
    }
    db_->Prepare(
           "INSERT INTO bookmarks (instance_id, id, kind, activity_id, key, correlation, method, due_at) "
           "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .Args(c.id, b.id, BookmarkKindName(b.kind), b.activity_id, b.key, b.correlation, b.method, b.due_at)
        .Run();
  }
}

bool SqliteStore::CommitOne(const InstanceCommit& c, bool* announce) {
  std::string parent_id, parent_bookmark;
  bool runnable = false;
  // The instance keeps running under its lease with its status unchanged (a commit point between
  // two activities): only the state moves. SQLite rewrites an index entry whenever its column is
  // SET, even to the same value, so this statement names no indexed column of a leased row; the
  // lease itself is extended by the worker's renewer.
  if (!c.release && !c.status_changed && !IsTerminal(c.status) && !c.parent_result) {
    std::string state_json = c.state_text.empty() ? JsonText(c.state) : std::string();
    int64_t changed =
        db_->Prepare(
               "UPDATE workflow_instances SET state = ?1, updated_at = ?2, wake_at = ?3, "
               "runnable = 0 WHERE id = ?4 AND epoch = ?5")
            .Args(c.state_text.empty() ? state_json : c.state_text, c.now, c.wake_at, c.id, c.epoch)
            .Run();
    if (changed == 0) return false;  // fenced: the epoch moved on or the instance is gone
  } else {
    auto stmt = db_->Prepare(
        "UPDATE workflow_instances SET status = ?1, state = ?2, updated_at = ?3, finished_at = ?4, "
        "wake_at = ?5, runnable = CASE WHEN NOT ?8 THEN 0 WHEN ?6 THEN 1 "
        "WHEN inbox_seq <> ?7 AND ?1 NOT IN ('Completed', 'Cancelled') THEN 1 ELSE 0 END, "
        "lease_owner = CASE WHEN ?8 THEN NULL ELSE lease_owner END, "
        "lease_expires = CASE WHEN ?8 THEN NULL ELSE ?9 END "
        "WHERE id = ?10 AND epoch = ?11 RETURNING parent_id, parent_bookmark, runnable");
    // The worker may have serialised the state already (off the committer's thread).
    std::string state_json = c.state_text.empty() ? JsonText(c.state) : std::string();
    stmt.Args(InstanceStatusName(c.status), c.state_text.empty() ? state_json : c.state_text, c.now,
              c.finished_at, c.wake_at, c.has_ready, c.inbox_seq_seen, c.release, c.now + c.lease, c.id,
              c.epoch);
    if (!stmt.Step()) return false;  // fenced: the epoch moved on or the instance is gone
    parent_id = stmt.Text(0);
    parent_bookmark = stmt.Text(1);
    runnable = stmt.Bool(2);
    while (stmt.Step()) {
    }
  }
  if (runnable && c.release) *announce = true;

  InsertJournal(c.id, c.journal);

  // Consumed items go first so that the bookmarks below see only the unconsumed ones.
  for (int64_t inbox_id : c.consumed_inbox) {
    db_->Prepare("DELETE FROM inbox WHERE instance_id = ? AND id = ?").Args(c.id, inbox_id).Run();
  }
  if (IsTerminal(c.status)) {
    db_->Prepare("DELETE FROM bookmarks WHERE instance_id = ?").Args(c.id).Run();
    if (c.status != InstanceStatus::kFaulted) {
      db_->Prepare("DELETE FROM inbox WHERE instance_id = ?").Args(c.id).Run();
    }
  } else if (c.bookmarks) {
    WriteBookmarks(c, announce);
  }

  for (const auto& child : c.children) {
    if (InsertInstance(child, "", std::nullopt, 0)) *announce = true;
  }
  for (const auto& d : c.deliveries) {
    auto status = StatusOf(*db_, d.instance_id);
    if (!status || IsEnded(*status) || (d.kind == InboxKind::kRetry && *status != "Faulted")) continue;
    WriteInbox(d.instance_id, d.kind, d.bookmark_id, JsonText(d.payload), c.now);
    *announce = true;
  }
  for (const auto& e : c.events) {
    if (MatchEvent(e, JsonText(e.payload), c.event_hold, c.now).resumed > 0) *announce = true;
  }
  if (c.parent_result && !parent_id.empty() && !parent_bookmark.empty()) {
    auto status = StatusOf(*db_, parent_id);
    if (status && !IsEnded(*status)) {
      WriteInbox(parent_id, InboxKind::kChild, parent_bookmark, JsonText(*c.parent_result), c.now);
      *announce = true;
    }
  }
  return true;
}

Result<std::vector<CommitOutcome>> SqliteStore::Commit(const std::vector<InstanceCommit>& commits) {
  bool announce = false;
  auto outcomes = Run([&]() -> Result<std::vector<CommitOutcome>> {
    std::vector<CommitOutcome> out;
    out.reserve(commits.size());
    SqliteTxn txn(*db_);
    for (const auto& c : commits) {
      out.push_back(CommitOne(c, &announce) ? CommitOutcome::kCommitted : CommitOutcome::kFenced);
    }
    txn.Commit();
    return out;
  });
  if (outcomes.ok() && announce) Announce();
  return outcomes;
}

}  // namespace trellis
