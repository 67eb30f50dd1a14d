// Definitions, schedules and triggers on SQLite.
#include <map>

#include "store/sqlite/sqlite_store_impl.h"
#include "store/store_util.h"

namespace trellis {

namespace {

constexpr const char* kDefinitionColumns =
    "SELECT id, version, name, definition, published, frozen, created_at, updated_at FROM "
    "workflow_definitions ";

DefinitionRecord ReadDefinition(const SqliteStmt& s) {
  return DefinitionRecord{.id = s.Text(0),
                          .version = static_cast<int>(s.Int(1)),
                          .name = s.Text(2),
                          .definition = s.JsonAt(3),
                          .published = s.Bool(4),
                          .frozen = s.Bool(5),
                          .created_at = s.Time(6),
                          .updated_at = s.Time(7)};
}

ScheduleRow ReadSchedule(const SqliteStmt& s) {
  return ScheduleRow{.id = s.Text(0),
                     .workflow_id = s.Text(1),
                     .version = static_cast<int>(s.Int(2)),
                     .cron = s.Text(3),
                     .timezone = s.Text(4),
                     .misfire = s.Text(5),
                     .input = s.JsonAt(6),
                     .next_run_at = s.Time(7),
                     .last_run_at = s.OptTime(8)};
}

constexpr const char* kScheduleColumns =
    "SELECT id, workflow_id, version, cron, timezone, misfire, input, next_run_at, last_run_at FROM "
    "schedules ";

// The definition as stored: with "version" set to the record's version. InvalidArgument when it
// says another version.
Result<std::string> DefinitionText(const Json& definition, int version) {
  if (!definition.is_object()) return InvalidArgument("a definition must be a JSON object");
  auto it = definition.find("version");
  if (it != definition.end() && !(it->is_number_integer() && it->get<int64_t>() == version)) {
    return InvalidArgument("the definition's version " + it->dump() + " differs from version " +
                           std::to_string(version));
  }
  if (it != definition.end()) return JsonText(definition);
  Json copy = definition;
  copy["version"] = version;
  return JsonText(copy);
}

}  // namespace

Status SqliteStore::InsertDefinition(const DefinitionRecord& record) {
  auto text = DefinitionText(record.definition, record.version);
  if (!text.ok()) return text.status();
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    {
      auto exists = db_->Prepare("SELECT 1 FROM workflow_definitions WHERE id = ? AND version = ?");
      if (exists.Args(record.id, record.version).Step()) {
        return Conflict("definition " + record.id + " version " + std::to_string(record.version) +
                        " already exists");
      }
    }
    if (record.published) {
      db_->Prepare("UPDATE workflow_definitions SET published = 0 WHERE id = ? AND published = 1")
          .Args(record.id)
          .Run();
    }
    TimePoint created = record.created_at == TimePoint{} ? Now() : record.created_at;
    TimePoint updated = record.updated_at == TimePoint{} ? created : record.updated_at;
    db_->Prepare(
           "INSERT INTO workflow_definitions (id, version, name, definition, published, frozen, created_at, "
           "updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
        .Args(record.id, record.version, record.name, *text, record.published,
              record.frozen || record.published, created, updated)
        .Run();
    txn.Commit();
    return Status::Ok();
  });
}

Status SqliteStore::UpdateDefinitionDraft(const std::string& id, int version, const Json& definition,
                                          const std::string& name, TimePoint now) {
  auto text = DefinitionText(definition, version);
  if (!text.ok()) return text.status();
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    {
      auto stmt = db_->Prepare("SELECT frozen FROM workflow_definitions WHERE id = ? AND version = ?");
      if (!stmt.Args(id, version).Step()) {
        return NotFound("definition " + id + " version " + std::to_string(version) + " not found");
      }
      if (stmt.Bool(0)) {
        return FailedPrecondition("definition " + id + " version " + std::to_string(version) +
                                  " was published and can no longer change; create a new version");
      }
    }
    db_->Prepare(
           "UPDATE workflow_definitions SET definition = ?, name = ?, updated_at = ? WHERE id = ? AND "
           "version = ?")
        .Args(*text, name, now, id, version)
        .Run();
    txn.Commit();
    return Status::Ok();
  });
}

Status SqliteStore::PublishDefinition(const std::string& id, std::optional<int> version,
                                      const std::vector<ScheduleRow>& schedules,
                                      const std::vector<TriggerRow>& triggers, TimePoint now) {
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    if (version) {
      auto exists = db_->Prepare("SELECT 1 FROM workflow_definitions WHERE id = ? AND version = ?");
      if (!exists.Args(id, *version).Step()) {
        return NotFound("definition " + id + " version " + std::to_string(*version) + " not found");
      }
    } else {
      auto exists = db_->Prepare("SELECT 1 FROM workflow_definitions WHERE id = ?");
      if (!exists.Args(id).Step()) return NotFound("definition " + id + " not found");
    }
    db_->Prepare(
           "UPDATE workflow_definitions SET published = 0, updated_at = ? WHERE id = ? AND published = 1")
        .Args(now, id)
        .Run();
    if (version) {
      db_->Prepare(
             "UPDATE workflow_definitions SET published = 1, frozen = 1, updated_at = ? WHERE id = ? AND "
             "version = ?")
          .Args(now, id, *version)
          .Run();
    }

    // Schedules whose id, cron and timezone are unchanged keep their next and last run.
    struct Kept {
      std::string cron, timezone;
      TimePoint next_run_at;
      std::optional<TimePoint> last_run_at;
    };
    std::map<std::string, Kept> existing;
    {
      auto stmt = db_->Prepare(
          "SELECT id, cron, timezone, next_run_at, last_run_at FROM schedules WHERE workflow_id = ?");
      stmt.Args(id);
      while (stmt.Step())
        existing[stmt.Text(0)] = Kept{stmt.Text(1), stmt.Text(2), stmt.Time(3), stmt.OptTime(4)};
    }
    db_->Prepare("DELETE FROM schedules WHERE workflow_id = ?").Args(id).Run();
    db_->Prepare("DELETE FROM triggers WHERE workflow_id = ?").Args(id).Run();
    if (version) {
      for (const auto& s : schedules) {
        TimePoint next = s.next_run_at;
        std::optional<TimePoint> last = s.last_run_at;
        if (auto it = existing.find(s.id);
            it != existing.end() && it->second.cron == s.cron && it->second.timezone == s.timezone) {
          next = it->second.next_run_at;
          last = it->second.last_run_at;
        }
        db_->Prepare(
               "INSERT INTO schedules (id, workflow_id, version, cron, timezone, misfire, input, "
               "next_run_at, last_run_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (id) DO UPDATE SET "
               "workflow_id = excluded.workflow_id, version = excluded.version, cron = excluded.cron, "
               "timezone = excluded.timezone, misfire = excluded.misfire, input = excluded.input, "
               "next_run_at = excluded.next_run_at, last_run_at = excluded.last_run_at")
            .Args(s.id, id, s.version, s.cron, s.timezone, s.misfire, JsonText(s.input), next, last)
            .Run();
      }
      for (const auto& t : triggers) {
        db_->Prepare(
               "INSERT INTO triggers (workflow_id, version, type, key, method, config) "
               "VALUES (?, ?, ?, ?, ?, ?)")
            .Args(id, t.version, t.type, t.key, t.method, JsonText(t.config))
            .Run();
      }
    }
    txn.Commit();
    Announce();  // a schedule may be due now
    return Status::Ok();
  });
}

Result<DefinitionRecord> SqliteStore::GetDefinition(const std::string& id, std::optional<int> version) {
  return Run([&]() -> Result<DefinitionRecord> {
    if (version) {
      auto stmt = db_->Prepare(std::string(kDefinitionColumns) + "WHERE id = ? AND version = ?");
      if (!stmt.Args(id, *version).Step()) {
        return NotFound("definition " + id + " version " + std::to_string(*version) + " not found");
      }
      return ReadDefinition(stmt);
    }
    auto stmt = db_->Prepare(std::string(kDefinitionColumns) +
                             "WHERE id = ? ORDER BY published DESC, version DESC LIMIT 1");
    if (!stmt.Args(id).Step()) return NotFound("definition " + id + " not found");
    return ReadDefinition(stmt);
  });
}

Result<std::vector<DefinitionRecord>> SqliteStore::ListDefinitionVersions(const std::string& id) {
  return Run([&]() -> Result<std::vector<DefinitionRecord>> {
    std::vector<DefinitionRecord> out;
    auto stmt = db_->Prepare(std::string(kDefinitionColumns) + "WHERE id = ? ORDER BY version");
    stmt.Args(id);
    while (stmt.Step()) out.push_back(ReadDefinition(stmt));
    return out;
  });
}

Result<Page<DefinitionRecord>> SqliteStore::ListDefinitions(const DefinitionFilter& filter) {
  std::string after;
  if (!filter.cursor.empty()) {
    auto position = DecodeCursor(filter.cursor);
    if (!position.ok()) return position.status();
    if (!position->contains("id") || !(*position)["id"].is_string()) return InvalidArgument("invalid cursor");
    after = (*position)["id"].get<std::string>();
  }
  size_t limit = filter.limit == 0 ? 50 : filter.limit;
  return Run([&]() -> Result<Page<DefinitionRecord>> {
    // One row per id: the published version, else the newest.
    auto stmt = db_->Prepare(
        "SELECT id, version, name, definition, published, frozen, created_at, updated_at FROM ("
        "SELECT *, ROW_NUMBER() OVER (PARTITION BY id ORDER BY published DESC, version DESC) AS rn "
        "FROM workflow_definitions WHERE id > ?1) WHERE rn = 1 "
        "AND (?2 = '' OR instr(lower(id), lower(?2)) > 0 OR instr(lower(name), lower(?2)) > 0) "
        "ORDER BY id LIMIT ?3");
    stmt.Args(after, filter.search, static_cast<int64_t>(limit + 1));
    Page<DefinitionRecord> page;
    while (stmt.Step()) page.items.push_back(ReadDefinition(stmt));
    if (page.items.size() > limit) {
      page.items.pop_back();
      page.next_cursor = EncodeCursor(Json{{"id", page.items.back().id}});
    }
    return page;
  });
}

Status SqliteStore::DeleteDefinition(const std::string& id) {
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    int64_t deleted = db_->Prepare("DELETE FROM workflow_definitions WHERE id = ?").Args(id).Run();
    if (deleted == 0) return NotFound("definition " + id + " not found");
    db_->Prepare("DELETE FROM schedules WHERE workflow_id = ?").Args(id).Run();
    db_->Prepare("DELETE FROM triggers WHERE workflow_id = ?").Args(id).Run();
    txn.Commit();
    return Status::Ok();
  });
}

Result<std::vector<TriggerRow>> SqliteStore::FindTriggers(const std::string& type, const std::string& key) {
  return Run([&]() -> Result<std::vector<TriggerRow>> {
    std::vector<TriggerRow> out;
    auto stmt = db_->Prepare(
        "SELECT workflow_id, version, type, key, method, config FROM triggers WHERE type = ? AND key = ? "
        "ORDER BY workflow_id, rowid");
    stmt.Args(type, key);
    while (stmt.Step()) {
      out.push_back(TriggerRow{.workflow_id = stmt.Text(0),
                               .version = static_cast<int>(stmt.Int(1)),
                               .type = stmt.Text(2),
                               .key = stmt.Text(3),
                               .method = stmt.Text(4),
                               .config = stmt.JsonAt(5)});
    }
    return out;
  });
}

// ---------------------------------------------------------------------------------------------
// Schedules

Result<int64_t> SqliteStore::FireDueSchedules(TimePoint now, size_t limit,
                                              const std::function<ScheduleFiring(const ScheduleRow&)>& fire) {
  int64_t created = 0;
  Status status = Run([&]() -> Status {
    SqliteTxn txn(*db_);
    std::vector<ScheduleRow> due;
    {
      auto stmt = db_->Prepare(std::string(kScheduleColumns) +
                               "WHERE next_run_at <= ? ORDER BY next_run_at, id LIMIT ?");
      stmt.Args(now, static_cast<int64_t>(limit));
      while (stmt.Step()) due.push_back(ReadSchedule(stmt));
    }
    for (const auto& row : due) {
      ScheduleFiring firing = fire(row);
      for (const auto& instance : firing.instances) {
        if (InsertInstance(instance, "", std::nullopt, 0)) ++created;
      }
      db_->Prepare("UPDATE schedules SET next_run_at = ?, last_run_at = ? WHERE id = ?")
          .Args(firing.next_run_at, firing.last_run_at, row.id)
          .Run();
    }
    txn.Commit();
    return Status::Ok();
  });
  if (!status.ok()) return status;
  if (created > 0) Announce();
  return created;
}

Result<std::vector<ScheduleRow>> SqliteStore::ListSchedules() {
  return Run([&]() -> Result<std::vector<ScheduleRow>> {
    std::vector<ScheduleRow> out;
    auto stmt = db_->Prepare(std::string(kScheduleColumns) + "ORDER BY id");
    while (stmt.Step()) out.push_back(ReadSchedule(stmt));
    return out;
  });
}

}  // namespace trellis
