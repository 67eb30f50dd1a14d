// Opening, Run(), migrations, definitions, schedules, nodes, retention and statistics.
#include <thread>

#include "store/postgres/postgres_admin.h"
#include "store/postgres/postgres_store_impl.h"
#include "store/postgres/schema.h"

namespace trellis {

namespace {

// pg_advisory_lock key held for a whole Migrate() run ("trellis" in ASCII).
constexpr int64_t kMigrationLockKey = 0x7472656c6c6973;

void FillDescribeFields(DatabaseSettings* s) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(s->pg_conninfo.c_str(), &err);
  if (err) PQfreemem(err);
  if (!opts) return;
  for (PQconninfoOption* o = opts; o->keyword; ++o) {
    std::string key = o->keyword;
    std::string val = o->val ? o->val : "";
    if (val.empty()) continue;
    if (key == "host" && s->host.empty())
      s->host = val;
    else if (key == "hostaddr" && s->host.empty())
      s->host = val;
    else if (key == "port" && s->port.empty())
      s->port = val;
    else if (key == "dbname" && s->dbname.empty())
      s->dbname = val;
    else if (key == "user" && s->user.empty())
      s->user = val;
    else if (key == "sslmode" && s->sslmode.empty())
      s->sslmode = val;
  }
  PQconninfoFree(opts);
}

std::string DescribeSettings(DatabaseSettings s) {
  FillDescribeFields(&s);
  auto or_default = [](const std::string& v, const char* d) { return v.empty() ? std::string(d) : v; };
  return "PostgreSQL host=" + or_default(s.host, "localhost") + " port=" + or_default(s.port, "5432") +
         " db=" + or_default(s.dbname, s.user.empty() ? "postgres" : s.user.c_str()) +
         " user=" + or_default(s.user, "(default)") + " sslmode=" + or_default(s.sslmode, "prefer");
}

DefinitionRecord DefinitionFromRow(const pg::Rows& r, int i) {
  return DefinitionRecord{.id = r.Text(i, 0),
                          .version = static_cast<int>(r.Int(i, 1)),
                          .name = r.Text(i, 2),
                          .definition = pg::ParseJsonText(r.Text(i, 3)),
                          .published = r.Bool(i, 4),
                          .frozen = r.Bool(i, 5),
                          .created_at = FromMillis(r.Int(i, 6)),
                          .updated_at = FromMillis(r.Int(i, 7))};
}
constexpr const char* kDefinitionCols =
    "id, version, name, definition, published, frozen, created_at, updated_at";

std::vector<MigrationInfo> AppliedFromRows(const pg::Rows& r) {
  std::vector<MigrationInfo> out;
  for (int i = 0; i < r.size(); ++i) {
    out.push_back(MigrationInfo{.version = static_cast<int>(r.Int(i, 0)),
                                .name = r.Text(i, 1),
                                .checksum = r.Text(i, 2),
                                .applied_at = FromMillis(r.Int(i, 3))});
  }
  return out;
}

}  // namespace

Result<DatabaseSettings> PostgresSettingsFromConninfo(const std::string& conninfo) {
  char* err = nullptr;
  PQconninfoOption* opts = PQconninfoParse(conninfo.c_str(), &err);
  if (!opts) {
    std::string message = err ? err : "cannot parse the PostgreSQL connection string";
    if (err) PQfreemem(err);
    return InvalidArgument(message);
  }
  PQconninfoFree(opts);
  DatabaseSettings s;
  s.provider = DatabaseSettings::Provider::kPostgres;
  s.pg_conninfo = conninfo;
  FillDescribeFields(&s);
  return s;
}

Status PostgresExecute(const std::string& conninfo, const std::string& sql) {
  auto settings = PostgresSettingsFromConninfo(conninfo);
  if (!settings.ok()) return settings.status();
  std::string describe = DescribeSettings(*settings);
  auto conn = pg::Connect(*settings, describe);
  if (!conn.ok()) return conn.status();
  return (*conn)->ExecScript(sql);
}

Result<std::unique_ptr<Store>> OpenPostgresStore(const DatabaseSettings& settings,
                                                 const StoreOptions& options) {
  std::string describe = DescribeSettings(settings);
  auto store = std::make_unique<PostgresStore>(settings, options, describe);
  // One connection now, so that a wrong address or password is reported at start-up.
  if (Status s = store->Ping(); !s.ok()) return s;
  return std::unique_ptr<Store>(std::move(store));
}

PostgresStore::PostgresStore(DatabaseSettings settings, StoreOptions options, std::string describe)
    : settings_(std::move(settings)), options_(options), describe_(describe), pool_(settings_, describe) {}

TimePoint PostgresStore::Now() const {
  return options_.clock ? options_.clock->Now() : std::chrono::system_clock::now();
}

Status PostgresStore::Run(Mode mode, const std::function<Status(pg::Connection&)>& fn) {
  constexpr int kAttempts = 6;
  bool reconnected = false;
  for (int attempt = 0;; ++attempt) {
    auto lease = pool_.Acquire();
    if (!lease.ok()) return lease.status();
    pg::Connection& c = **lease;
    bool committing = false;
    Status s;
    if (mode == Mode::kTx) s = c.ExecScript("BEGIN");
    if (s.ok()) s = fn(c);
    if (s.ok() && mode == Mode::kTx) {
      committing = true;
      s = c.ExecScript("COMMIT");
    }
    if (s.ok()) return s;
    std::string state = c.last_sql_state();
    if (mode == Mode::kTx && c.healthy() && PQtransactionStatus(c.raw()) != PQTRANS_IDLE) {
      (void)c.ExecScript("ROLLBACK");
    }
    if (pg::IsRetryableSqlState(state) && attempt + 1 < kAttempts) {
      std::this_thread::sleep_for(std::chrono::milliseconds(1 << attempt));
      continue;
    }
    // A connection that broke before COMMIT was sent wrote nothing, and a read or a repeatable write
    // may run again: try once more on a new one.
    if (!c.healthy() && !reconnected &&
        (mode == Mode::kRead || mode == Mode::kRepeatableWrite || (mode == Mode::kTx && !committing))) {
      reconnected = true;
      continue;
    }
    return s;
  }
}

Status PostgresStore::Notify(pg::Connection& c) {
  auto r = c.Exec("SELECT pg_notify('trellis_work', '')");
  return r.ok() ? Status::Ok() : r.status();
}

Status PostgresStore::Ping() {
  return Run(Mode::kRead, [](pg::Connection& c) {
    auto r = c.Exec("SELECT 1");
    return r.ok() ? Status::Ok() : r.status();
  });
}

// ---------------------------------------------------------------------------------------------
// Migrations.

Result<std::vector<MigrationInfo>> PostgresStore::MigrationStatus() {
  std::vector<MigrationInfo> applied;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    applied.clear();
    auto exists = c.Exec("SELECT to_regclass('schema_migrations') IS NOT NULL");
    if (!exists.ok()) return exists.status();
    if (!exists->Bool(0, 0)) return Status::Ok();
    auto r = c.Exec("SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version");
    if (!r.ok()) return r.status();
    applied = AppliedFromRows(*r);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return MigrationStatusList(PostgresMigrations(), applied);
}

Result<std::vector<MigrationInfo>> PostgresStore::Migrate() {
  auto lease = pool_.Acquire();
  if (!lease.ok()) return lease.status();
  pg::Connection& c = **lease;
  // Held for the whole run so that concurrent migrators apply each migration once.
  auto locked = c.Exec("SELECT pg_advisory_lock($1)", pg::Params().Add(kMigrationLockKey));
  if (!locked.ok()) return locked.status();
  auto unlock = [&c] { (void)c.Exec("SELECT pg_advisory_unlock($1)", pg::Params().Add(kMigrationLockKey)); };
  auto fail = [&](Status s) -> Result<std::vector<MigrationInfo>> {
    if (c.healthy() && PQtransactionStatus(c.raw()) != PQTRANS_IDLE) (void)c.ExecScript("ROLLBACK");
    if (c.healthy()) unlock();
    return s;
  };
  Status s = c.ExecScript(
      "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, "
      "checksum TEXT NOT NULL, applied_at BIGINT NOT NULL)");
  if (!s.ok()) return fail(s);
  const char* kSelect = "SELECT version, name, checksum, applied_at FROM schema_migrations ORDER BY version";
  auto rows = c.Exec(kSelect);
  if (!rows.ok()) return fail(rows.status());
  auto plan = PlanMigrations(PostgresMigrations(), AppliedFromRows(*rows));
  if (!plan.ok()) return fail(plan.status());
  for (const Migration* m : *plan) {
    if (s = c.ExecScript("BEGIN"); !s.ok()) return fail(s);
    if (s = c.ExecScript(m->sql); !s.ok()) {
      return fail(
          Internal("migration " + std::to_string(m->version) + " (" + m->name + ") failed: " + s.message()));
    }
    auto ins =
        c.Exec("INSERT INTO schema_migrations (version, name, checksum, applied_at) VALUES ($1, $2, $3, $4)",
               pg::Params().Add(m->version).Add(m->name).Add(MigrationChecksum(*m)).Add(ToMillis(Now())));
    if (!ins.ok()) return fail(ins.status());
    if (s = c.ExecScript("COMMIT"); !s.ok()) return fail(s);
  }
  rows = c.Exec(kSelect);
  if (!rows.ok()) return fail(rows.status());
  unlock();
  // Only what this call applied (empty when the schema was current).
  std::vector<MigrationInfo> applied;
  for (auto& m : MigrationStatusList(PostgresMigrations(), AppliedFromRows(*rows))) {
    for (const Migration* p : *plan) {
      if (p->version == m.version) applied.push_back(std::move(m));
    }
  }
  return applied;
}

// ---------------------------------------------------------------------------------------------
// Definitions.

Status PostgresStore::InsertDefinition(const DefinitionRecord& record) {
  Json definition = record.definition;
  if (definition.is_object()) {
    if (definition.contains("version") && (!definition["version"].is_number_integer() ||
                                           definition["version"].get<int64_t>() != record.version)) {
      return InvalidArgument("the definition's version does not match the record's version " +
                             std::to_string(record.version));
    }
    definition["version"] = record.version;
  }
  TimePoint now = Now();
  int64_t created = ToMillis(record.created_at == TimePoint{} ? now : record.created_at);
  int64_t updated = record.updated_at == TimePoint{} ? created : ToMillis(record.updated_at);
  bool inserted = false;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "INSERT INTO workflow_definitions (id, version, name, definition, published, frozen, created_at, "
        "updated_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8) ON CONFLICT (id, version) DO NOTHING",
        pg::Params()
            .Add(record.id)
            .Add(record.version)
            .Add(record.name)
            .Add(pg::JsonText(definition))
            .Add(record.published)
            .Add(record.frozen || record.published)
            .Add(created)
            .Add(updated));
    if (!r.ok()) return r.status();
    inserted = r->Affected() == 1;
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!inserted) {
    return Conflict("workflow " + record.id + " version " + std::to_string(record.version) +
                    " already exists");
  }
  return Status::Ok();
}

Status PostgresStore::UpdateDefinitionDraft(const std::string& id, int version, const Json& definition,
                                            const std::string& name, TimePoint now) {
  Json def = definition;
  if (def.is_object()) def["version"] = version;
  return Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    auto cur = c.Exec("SELECT frozen FROM workflow_definitions WHERE id = $1 AND version = $2 FOR UPDATE",
                      pg::Params().Add(id).Add(version));
    if (!cur.ok()) return cur.status();
    if (cur->size() == 0)
      return NotFound("workflow " + id + " version " + std::to_string(version) + " not found");
    if (cur->Bool(0, 0)) {
      return FailedPrecondition("workflow " + id + " version " + std::to_string(version) +
                                " was published and can no longer change; create a new version");
    }
    auto r = c.Exec(
        "UPDATE workflow_definitions SET definition = $3, name = $4, updated_at = $5 "
        "WHERE id = $1 AND version = $2",
        pg::Params().Add(id).Add(version).Add(pg::JsonText(def)).Add(name).Add(ToMillis(now)));
    return r.ok() ? Status::Ok() : r.status();
  });
}

Status PostgresStore::PublishDefinition(const std::string& id, std::optional<int> version,
                                        const std::vector<ScheduleRow>& schedules,
                                        const std::vector<TriggerRow>& triggers, TimePoint now) {
  return Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    pg::Params p;
    p.Add(id);
    if (version) {
      // Cleared first: the unique index on the published version is checked row by row.
      auto clear = c.Exec(
          "UPDATE workflow_definitions SET published = false WHERE id = $1 AND published "
          "AND version <> $2",
          pg::Params().Add(id).Add(*version));
      if (!clear.ok()) return clear.status();
      auto set = c.Exec(
          "UPDATE workflow_definitions SET published = true, frozen = true, updated_at = $3 "
          "WHERE id = $1 AND version = $2",
          pg::Params().Add(id).Add(*version).Add(ToMillis(now)));
      if (!set.ok()) return set.status();
      bool found = set->Affected() == 1;
      if (!found) return NotFound("workflow " + id + " version " + std::to_string(*version) + " not found");
    } else {
      auto any = c.Exec("SELECT 1 FROM workflow_definitions WHERE id = $1 LIMIT 1", p);
      if (!any.ok()) return any.status();
      if (any->size() == 0) return NotFound("workflow " + id + " not found");
      auto clear = c.Exec("UPDATE workflow_definitions SET published = false WHERE id = $1 AND published", p);
      if (!clear.ok()) return clear.status();
    }
    auto old = c.Exec(
        "DELETE FROM schedules WHERE workflow_id = $1 RETURNING id, cron, timezone, next_run_at, "
        "last_run_at",
        p);
    if (!old.ok()) return old.status();
    pg::ArrayLiteral ids, wf, ver, cron, tz, misfire, input, next, last;
    for (const auto& s : version ? schedules : std::vector<ScheduleRow>{}) {
      std::optional<int64_t> next_ms = ToMillis(s.next_run_at), last_ms;
      if (s.last_run_at) last_ms = ToMillis(*s.last_run_at);
      for (int i = 0; i < old->size(); ++i) {
        if (old->Text(i, 0) == s.id && old->Text(i, 1) == s.cron && old->Text(i, 2) == s.timezone) {
          next_ms = old->Int(i, 3);
          last_ms = old->OptInt(i, 4);
        }
      }
      ids.Add(s.id), wf.Add(id), ver.Add(int64_t{*version});  // the published version's rows
      cron.Add(s.cron), tz.Add(s.timezone), misfire.Add(s.misfire), input.Add(pg::JsonText(s.input));
      next.Add(next_ms), last.Add(last_ms);
    }
    if (ids.size() > 0) {
      auto r = c.Exec(
          "INSERT INTO schedules (id, workflow_id, version, cron, timezone, misfire, input, "
          "next_run_at, last_run_at) SELECT * FROM unnest($1::text[], $2::text[], $3::int[], "
          "$4::text[], $5::text[], $6::text[], $7::text[], $8::bigint[], $9::bigint[])",
          pg::Params()
              .Add(ids.Take())
              .Add(wf.Take())
              .Add(ver.Take())
              .Add(cron.Take())
              .Add(tz.Take())
              .Add(misfire.Take())
              .Add(input.Take())
              .Add(next.Take())
              .Add(last.Take()));
      if (!r.ok()) return r.status();
    }
    auto del = c.Exec("DELETE FROM triggers WHERE workflow_id = $1", p);
    if (!del.ok()) return del.status();
    pg::ArrayLiteral twf, tver, ttype, tkey, tmethod, tconfig;
    for (const auto& t : version ? triggers : std::vector<TriggerRow>{}) {
      twf.Add(id), tver.Add(int64_t{*version}), ttype.Add(t.type);
      tkey.Add(t.key), tmethod.Add(t.method), tconfig.Add(pg::JsonText(t.config));
    }
    if (twf.size() > 0) {
      auto r = c.Exec(
          "INSERT INTO triggers (workflow_id, version, type, key, method, config) SELECT * FROM "
          "unnest($1::text[], $2::int[], $3::text[], $4::text[], $5::text[], $6::text[])",
          pg::Params()
              .Add(twf.Take())
              .Add(tver.Take())
              .Add(ttype.Take())
              .Add(tkey.Take())
              .Add(tmethod.Take())
              .Add(tconfig.Take()));
      if (!r.ok()) return r.status();
    }
    return schedules.empty() || !version ? Status::Ok() : Notify(c);  // a schedule may be due now
  });
}

Result<DefinitionRecord> PostgresStore::GetDefinition(const std::string& id, std::optional<int> version) {
  std::optional<DefinitionRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    std::string sql = std::string("SELECT ") + kDefinitionCols + " FROM workflow_definitions WHERE id = $1 ";
    pg::Params p;
    p.Add(id);
    if (version) {
      sql += "AND version = $2";
      p.Add(*version);
    } else {
      sql += "ORDER BY published DESC, version DESC LIMIT 1";
    }
    auto r = c.Exec(sql, p);
    if (!r.ok()) return r.status();
    out.reset();
    if (r->size() > 0) out = DefinitionFromRow(*r, 0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!out) {
    return NotFound("workflow " + id + (version ? " version " + std::to_string(*version) : std::string()) +
                    " not found");
  }
  return std::move(*out);
}

Result<std::vector<DefinitionRecord>> PostgresStore::ListDefinitionVersions(const std::string& id) {
  std::vector<DefinitionRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string("SELECT ") + kDefinitionCols +
                        " FROM workflow_definitions WHERE id = $1 ORDER BY version",
                    pg::Params().Add(id));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) out.push_back(DefinitionFromRow(*r, i));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<Page<DefinitionRecord>> PostgresStore::ListDefinitions(const DefinitionFilter& filter) {
  std::string after;
  if (!filter.cursor.empty()) {
    auto pos = DecodeCursor(filter.cursor);
    if (!pos.ok()) return pos.status();
    if (!pos->contains("id") || !(*pos)["id"].is_string()) return InvalidArgument("invalid cursor");
    after = (*pos)["id"].get<std::string>();
  }
  size_t limit = filter.limit == 0 ? 50 : filter.limit;
  Page<DefinitionRecord> page;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string("SELECT ") + kDefinitionCols +
                        " FROM (SELECT DISTINCT ON (id) * FROM workflow_definitions WHERE id > $1 "
                        "ORDER BY id, published DESC, version DESC) d WHERE $2 = '' OR "
                        "strpos(lower(id), lower($2)) > 0 OR strpos(lower(name), lower($2)) > 0 "
                        "ORDER BY id LIMIT $3",
                    pg::Params().Add(after).Add(filter.search).Add(limit + 1));
    if (!r.ok()) return r.status();
    page = {};
    for (int i = 0; i < r->size() && page.items.size() < limit; ++i)
      page.items.push_back(DefinitionFromRow(*r, i));
    if (static_cast<size_t>(r->size()) > limit)
      page.next_cursor = EncodeCursor(Json{{"id", page.items.back().id}});
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Status PostgresStore::DeleteDefinition(const std::string& id) {
  int64_t deleted = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "WITH s AS (DELETE FROM schedules WHERE workflow_id = $1), t AS (DELETE FROM triggers WHERE "
        "workflow_id = $1) DELETE FROM workflow_definitions WHERE id = $1",
        pg::Params().Add(id));
    if (!r.ok()) return r.status();
    deleted = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted > 0 ? Status::Ok() : NotFound("workflow " + id + " not found");
}

Result<std::vector<TriggerRow>> PostgresStore::FindTriggers(const std::string& type, const std::string& key) {
  std::vector<TriggerRow> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "SELECT workflow_id, version, type, key, method, config FROM triggers WHERE type = $1 AND "
        "key = $2 ORDER BY workflow_id, version",
        pg::Params().Add(type).Add(key));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) {
      out.push_back(TriggerFromRow(*r, i, 0));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

}  // namespace trellis
