// Instances, the journal, claims and leases on SQLite.
#include <algorithm>
#include <unordered_map>

#include "store/sqlite/sqlite_store_impl.h"
#include "store/store_util.h"

namespace trellis {

namespace {

#define TRELLIS_INSTANCE_COLUMNS                                                                          \
  "id, workflow_id, version, status, correlation_id, parent_id, parent_bookmark, start_key, created_at, " \
  "updated_at, finished_at, wake_at, runnable, lease_owner, lease_expires, epoch, inbox_seq"
constexpr int kStateColumn = 17;

InstanceStatus StatusAt(const SqliteStmt& s, int c) {
  auto status = ParseInstanceStatus(s.View(c));
  if (!status) throw SqliteError(Internal("unknown instance status in the database: " + s.Text(c)));
  return *status;
}

// Reads TRELLIS_INSTANCE_COLUMNS (and the state after them when `with_state`).
InstanceRecord ReadInstance(const SqliteStmt& s, bool with_state) {
  InstanceRecord r;
  r.id = s.Text(0);
  r.workflow_id = s.Text(1);
  r.version = static_cast<int>(s.Int(2));
  r.status = StatusAt(s, 3);
  r.correlation_id = s.Text(4);
  r.parent_id = s.Text(5);
  r.parent_bookmark = s.Text(6);
  r.start_key = s.Text(7);
  r.created_at = s.Time(8);
  r.updated_at = s.Time(9);
  r.finished_at = s.OptTime(10);
  r.wake_at = s.OptTime(11);
  r.runnable = s.Bool(12);
  r.lease_owner = s.Text(13);
  r.lease_expires = s.OptTime(14);
  r.epoch = s.Int(15);
  r.inbox_seq = s.Int(16);
  if (with_state) r.state = s.JsonAt(kStateColumn);
  return r;
}

}  // namespace

bool SqliteStore::InsertInstance(const NewInstance& in, const std::string& owner,
                                 std::optional<TimePoint> lease_expires, int64_t epoch,
                                 const std::string* state_text) {
  auto stmt = db_->Prepare(
      "INSERT INTO workflow_instances (id, workflow_id, version, status, correlation_id, parent_id, "
      "parent_bookmark, start_key, state, created_at, updated_at, wake_at, runnable, lease_owner, "
      "lease_expires, epoch, finished_at) "
      "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, COALESCE(?16, ?10), ?11, ?12, ?13, ?14, ?15, ?16) "
      "ON CONFLICT DO NOTHING");
  stmt.Args(in.id, in.workflow_id, in.version, InstanceStatusName(in.status), in.correlation_id, in.parent_id,
            in.parent_bookmark);
  if (in.start_key.empty()) {
    stmt.Bind(8, std::nullopt);
  } else {
    stmt.Bind(8, in.start_key);
  }
  if (state_text != nullptr) {
    stmt.Bind(9, *state_text);
  } else if (!in.state_text.empty()) {
    stmt.Bind(9, in.state_text);
  } else {
    stmt.Bind(9, JsonText(in.state));
  }
  stmt.Bind(10, in.created_at).Bind(11, in.wake_at).Bind(12, in.runnable);
  if (owner.empty()) {
    stmt.Bind(13, std::nullopt);
  } else {
    stmt.Bind(13, owner);
  }
  stmt.Bind(14, lease_expires).Bind(15, epoch).Bind(16, in.finished_at);
  if (stmt.Run() != 1) return false;
  InsertJournal(in.id, in.journal);
  return true;
}

void SqliteStore::InsertJournal(const std::string& instance_id, const std::vector<JournalRecord>& journal) {
  for (const auto& r : journal) {
    auto stmt = db_->Prepare(
        "INSERT INTO activity_executions (instance_id, sequence, activity_id, activity_type, attempt, "
        "status, outcome, started_at, finished_at, output, error, truncated) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)");
    stmt.Args(instance_id, r.sequence, r.activity_id, r.activity_type, r.attempt, r.status, r.outcome,
              r.started_at, r.finished_at);
    bool truncated = false;
    if (r.output.is_null()) {
      stmt.Bind(10, std::nullopt);
    } else {
      // Serialised once; only an oversized output goes through TruncateForJournal.
      std::string text = JsonText(r.output);
      if (text.size() > options_.journal_output_limit) {
        text = JsonText(TruncateForJournal(r.output, options_.journal_output_limit, &truncated));
      }
      stmt.Bind(10, text);
    }
    stmt.Bind(11, r.error).Bind(12, truncated).Run();
  }
}

Result<std::vector<std::string>> SqliteStore::CreateInstances(const std::vector<NewInstance>& instances) {
  return CreateInstancesAndDeliveries(instances, {});
}

Result<std::vector<std::string>> SqliteStore::CreateInstancesAndDeliveries(
    const std::vector<NewInstance>& instances, const std::vector<WebhookDeliveryRecord>& deliveries) {
  // Serialised before the store's mutex is taken: the states are most of the work.
  std::vector<std::string> states;
  states.reserve(instances.size());
  for (const auto& instance : instances)
    states.push_back(instance.state_text.empty() ? JsonText(instance.state) : std::string());
  bool announce = false;  // an instance any worker may claim was created
  auto created = Run([&]() -> Result<std::vector<std::string>> {
    std::vector<std::string> ids;
    announce = false;
    SqliteTxn txn(*db_);
    for (size_t i = 0; i < instances.size(); ++i) {
      const NewInstance& n = instances[i];
      bool leased = !n.lease_owner.empty();
      if (InsertInstance(n, n.lease_owner, leased ? std::optional(n.created_at + n.lease) : std::nullopt,
                         leased ? 1 : 0, n.state_text.empty() ? &states[i] : nullptr)) {
        ids.push_back(n.id);
        announce = announce || (!leased && n.runnable);
      }
    }
    for (const auto& d : deliveries) {
      try {
        InsertDelivery(d);
      } catch (const SqliteError& e) {
        if (e.status().code() != StatusCode::kConflict) throw;
        return Conflict("webhook delivery " + d.id + " already exists");
      }
    }
    txn.Commit();
    return ids;
  });
  if (created.ok() && announce) Announce();
  return created;
}

Result<int64_t> SqliteStore::CreateClaimedInstance(const NewInstance& instance, const std::string& owner,
                                                   std::chrono::milliseconds lease, TimePoint now) {
  bool finished = instance.finished_at.has_value();
  auto epoch = Run([&]() -> Result<int64_t> {
    SqliteTxn txn(*db_);  // the row and the journal records it may carry (NewInstance::journal)
    bool inserted = finished ? InsertInstance(instance, "", std::nullopt, 0)
                             : InsertInstance(instance, owner, now + lease, 1);
    if (!inserted) {
      return Conflict("instance " + instance.id +
                      (instance.start_key.empty() ? "" : " or start key " + instance.start_key) +
                      " already exists");
    }
    txn.Commit();
    return int64_t{finished ? 0 : 1};
  });
  if (epoch.ok() && !finished) Announce();
  return epoch;
}

Result<InstanceRecord> SqliteStore::GetInstance(const std::string& id) {
  return Run([&]() -> Result<InstanceRecord> {
    auto stmt =
        db_->Prepare("SELECT " TRELLIS_INSTANCE_COLUMNS ", state FROM workflow_instances WHERE id = ?");
    if (!stmt.Args(id).Step()) return NotFound("instance " + id + " not found");
    return ReadInstance(stmt, true);
  });
}

Result<Page<InstanceRecord>> SqliteStore::ListInstances(const InstanceFilter& filter) {
  std::optional<int64_t> cursor_created;
  std::string cursor_id;
  if (!filter.cursor.empty()) {
    auto position = DecodeCursor(filter.cursor);
    if (!position.ok()) return position.status();
    const Json& p = *position;
    if (!p.contains("c") || !p["c"].is_number_integer() || !p.contains("i") || !p["i"].is_string()) {
      return InvalidArgument("invalid cursor");
    }
    cursor_created = p["c"].get<int64_t>();
    cursor_id = p["i"].get<std::string>();
  }
  size_t limit = filter.limit == 0 ? 50 : filter.limit;
  // The SQL varies with the filters present (a few dozen shapes, each prepared once). The `<> ''`
  // terms let SQLite use the partial indexes.
  std::string sql = "SELECT " TRELLIS_INSTANCE_COLUMNS " FROM workflow_instances WHERE 1";
  if (filter.status) sql += " AND status = ?1";
  if (!filter.workflow_id.empty()) sql += " AND workflow_id = ?2";
  if (!filter.correlation_id.empty()) sql += " AND correlation_id = ?3 AND correlation_id <> ''";
  if (!filter.parent_id.empty()) sql += " AND parent_id = ?4 AND parent_id <> ''";
  if (filter.created_after) sql += " AND created_at >= ?5";
  if (filter.created_before) sql += " AND created_at < ?6";
  if (cursor_created) sql += " AND (created_at < ?7 OR (created_at = ?7 AND id < ?8))";
  sql += " ORDER BY created_at DESC, id DESC LIMIT ?9";
  return Run([&]() -> Result<Page<InstanceRecord>> {
    auto stmt = db_->Prepare(sql);
    if (filter.status) stmt.Bind(1, InstanceStatusName(*filter.status));
    if (!filter.workflow_id.empty()) stmt.Bind(2, filter.workflow_id);
    if (!filter.correlation_id.empty()) stmt.Bind(3, filter.correlation_id);
    if (!filter.parent_id.empty()) stmt.Bind(4, filter.parent_id);
    if (filter.created_after) stmt.Bind(5, *filter.created_after);
    if (filter.created_before) stmt.Bind(6, *filter.created_before);
    if (cursor_created) stmt.Bind(7, *cursor_created).Bind(8, cursor_id);
    stmt.Bind(9, static_cast<int64_t>(limit + 1));
    Page<InstanceRecord> page;
    while (stmt.Step()) page.items.push_back(ReadInstance(stmt, false));
    if (page.items.size() > limit) {
      page.items.pop_back();
      const auto& last = page.items.back();
      page.next_cursor = EncodeCursor(Json{{"c", ToMillis(last.created_at)}, {"i", last.id}});
    }
    return page;
  });
}

Result<Page<JournalEntry>> SqliteStore::ListJournal(const std::string& instance_id, uint64_t after_sequence,
                                                    size_t limit) {
  if (limit == 0) limit = 100;
  return Run([&]() -> Result<Page<JournalEntry>> {
    auto stmt = db_->Prepare(
        "SELECT sequence, activity_id, activity_type, attempt, status, outcome, started_at, finished_at, "
        "output, error, truncated FROM activity_executions WHERE instance_id = ? AND sequence > ? "
        "ORDER BY sequence LIMIT ?");
    stmt.Args(instance_id, after_sequence, static_cast<int64_t>(limit + 1));
    Page<JournalEntry> page;
    while (stmt.Step()) {
      JournalEntry e;
      e.instance_id = instance_id;
      e.record.sequence = static_cast<uint64_t>(stmt.Int(0));
      e.record.activity_id = stmt.Text(1);
      e.record.activity_type = stmt.Text(2);
      e.record.attempt = static_cast<int>(stmt.Int(3));
      e.record.status = stmt.Text(4);
      e.record.outcome = stmt.Text(5);
      e.record.started_at = stmt.Time(6);
      e.record.finished_at = stmt.Time(7);
      e.record.output = stmt.JsonAt(8);
      e.record.error = stmt.Text(9);
      e.truncated = stmt.Bool(10);
      page.items.push_back(std::move(e));
    }
    if (page.items.size() > limit) {
      page.items.pop_back();
      // The cursor is the last sequence returned: pass it back as `after_sequence`.
      page.next_cursor = std::to_string(page.items.back().record.sequence);
    }
    return page;
  });
}

Status SqliteStore::DeleteInstance(const std::string& id) {
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    {
      auto exists = db_->Prepare("SELECT 1 FROM workflow_instances WHERE id = ?");
      if (!exists.Args(id).Step()) return NotFound("instance " + id + " not found");
    }
    DeleteInstanceRows(id);
    txn.Commit();
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------
// Claims and leases

Result<std::vector<ClaimedInstance>> SqliteStore::Claim(const ClaimRequest& request) {
  return Run([&]() -> Result<std::vector<ClaimedInstance>> {
    std::vector<ClaimedInstance> out;
    if (request.limit == 0) return out;
    SqliteTxn txn(*db_);
    // Three index range scans, merged by due time: unleased runnable instances by age, unleased
    // due timers, and expired leases (a worker died mid-burst). Claiming clears `runnable`, so the
    // first scan never walks past instances in flight.
    std::vector<std::pair<std::string, bool>> ids;  // id, its lease had expired
    {
      auto stmt = db_->Prepare(
          "SELECT id, MIN(due) AS due, MAX(expired) FROM ("
          "SELECT * FROM (SELECT id, created_at AS due, 0 AS expired FROM workflow_instances "
          "WHERE runnable = 1 "
          "AND lease_owner IS NULL AND status NOT IN ('Completed', 'Cancelled') ORDER BY created_at LIMIT "
          "?2) "
          "UNION ALL "
          "SELECT * FROM (SELECT id, wake_at AS due, 0 AS expired FROM workflow_instances "
          "WHERE wake_at <= ?1 "
          "AND lease_owner IS NULL AND status NOT IN ('Completed', 'Cancelled') ORDER BY wake_at LIMIT ?2) "
          "UNION ALL "
          "SELECT * FROM (SELECT id, lease_expires AS due, 1 AS expired FROM workflow_instances "
          "WHERE lease_expires < ?1 "
          "AND lease_owner IS NOT NULL AND status NOT IN ('Completed', 'Cancelled') "
          "ORDER BY lease_expires LIMIT ?2)"
          ") GROUP BY id ORDER BY due, id LIMIT ?2");
      stmt.Args(request.now, static_cast<int64_t>(request.limit));
      while (stmt.Step()) ids.emplace_back(stmt.Text(0), stmt.Int(2) != 0);
    }
    if (ids.empty()) return out;
    // One UPDATE for the whole batch (the ids as a JSON array); its rows come back in any order and
    // are put back in due order.
    std::unordered_map<std::string, size_t> position;
    Json id_list = Json::array();
    for (size_t i = 0; i < ids.size(); ++i) {
      position.emplace(ids[i].first, i);
      id_list.push_back(ids[i].first);
    }
    std::vector<std::optional<ClaimedInstance>> slots(ids.size());
    {
      auto stmt = db_->Prepare(
          "UPDATE workflow_instances SET lease_owner = ?1, lease_expires = ?2, epoch = epoch + 1, "
          "runnable = 0 WHERE id IN (SELECT value FROM json_each(?3)) RETURNING " TRELLIS_INSTANCE_COLUMNS
          ", state");
      stmt.Args(request.owner, request.now + request.lease, JsonText(id_list));
      while (stmt.Step()) {
        ClaimedInstance claimed;
        claimed.record = ReadInstance(stmt, false);
        claimed.record.state_text = stmt.Text(kStateColumn);
        size_t at = position.at(claimed.record.id);
        claimed.lease_expired = ids[at].second;
        slots[at] = std::move(claimed);
      }
    }
    out.reserve(ids.size());
    for (auto& slot : slots) {
      if (!slot) continue;
      ClaimedInstance& claimed = *slot;
      const std::string& id = claimed.record.id;
      // Every inbox write bumps inbox_seq, so an instance that never had one has none.
      if (claimed.record.inbox_seq > 0) {
        auto stmt = db_->Prepare(
            "SELECT id, kind, bookmark_id, payload, created_at FROM inbox WHERE instance_id = ? ORDER BY id");
        stmt.Args(id);
        while (stmt.Step()) {
          auto kind = ParseInboxKind(stmt.View(1));
          if (!kind) throw SqliteError(Internal("unknown inbox kind in the database: " + stmt.Text(1)));
          claimed.inbox.push_back(InboxItem{.id = stmt.Int(0),
                                            .kind = *kind,
                                            .bookmark_id = stmt.Text(2),
                                            .payload = stmt.JsonAt(3),
                                            .created_at = stmt.Time(4)});
        }
      }
      out.push_back(std::move(claimed));
    }
    txn.Commit();
    return out;
  });
}

Result<int64_t> SqliteStore::RenewLeases(const std::string& owner, std::chrono::milliseconds lease,
                                         TimePoint now) {
  return Run([&]() -> Result<int64_t> {
    return db_->Prepare("UPDATE workflow_instances SET lease_expires = ? WHERE lease_owner = ?")
        .Args(now + lease, owner)
        .Run();
  });
}

Status SqliteStore::ReleaseLeases(const std::string& owner,
                                  const std::vector<std::pair<std::string, int64_t>>& ids_and_epochs) {
  int64_t released = 0;
  Status status = Run([&]() -> Status {
    SqliteTxn txn(*db_);
    for (const auto& [id, epoch] : ids_and_epochs) {
      released += db_->Prepare(
                         "UPDATE workflow_instances SET lease_owner = NULL, lease_expires = NULL, "
                         "runnable = CASE WHEN status IN ('Completed', 'Faulted', 'Cancelled') THEN runnable "
                         "ELSE 1 END WHERE id = ? AND lease_owner = ? AND epoch = ?")
                      .Args(id, owner, epoch)
                      .Run();
    }
    txn.Commit();
    return Status::Ok();
  });
  if (status.ok() && released > 0) Announce();
  return status;
}

}  // namespace trellis
