// Schedules, cluster nodes, retention and statistics.
#include "store/postgres/postgres_store_impl.h"

namespace trellis {

namespace {

ScheduleRow ScheduleFromRow(const pg::Rows& r, int i) {
  ScheduleRow s{.id = r.Text(i, 0),
                .workflow_id = r.Text(i, 1),
                .version = static_cast<int>(r.Int(i, 2)),
                .cron = r.Text(i, 3),
                .timezone = r.Text(i, 4),
                .misfire = r.Text(i, 5),
                .input = pg::ParseJsonText(r.Text(i, 6)),
                .next_run_at = FromMillis(r.Int(i, 7))};
  if (auto last = r.OptInt(i, 8)) s.last_run_at = FromMillis(*last);
  return s;
}

constexpr const char* kScheduleCols =
    "id, workflow_id, version, cron, timezone, misfire, input, next_run_at, last_run_at";

}  // namespace

Result<int64_t> PostgresStore::FireDueSchedules(
    TimePoint now, size_t limit, const std::function<ScheduleFiring(const ScheduleRow&)>& fire) {
  int64_t created = 0;
  Status s = Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    created = 0;
    auto due = c.Exec(std::string("SELECT ") + kScheduleCols +
                          " FROM schedules WHERE next_run_at <= $1 ORDER BY next_run_at, id LIMIT $2 "
                          "FOR UPDATE SKIP LOCKED",
                      pg::Params().Add(ToMillis(now)).Add(limit));
    if (!due.ok()) return due.status();
    if (due->size() == 0) return Status::Ok();
    std::vector<NewInstance> instances;
    pg::ArrayLiteral ids, next, last;
    for (int i = 0; i < due->size(); ++i) {
      ScheduleRow row = ScheduleFromRow(*due, i);
      ScheduleFiring f = fire(row);
      for (auto& inst : f.instances) instances.push_back(std::move(inst));
      ids.Add(row.id);
      next.Add(ToMillis(f.next_run_at));
      if (f.last_run_at)
        last.Add(ToMillis(*f.last_run_at));
      else
        last.AddNull();
    }
    if (!instances.empty()) {
      auto ins = InsertInstances(c, instances);
      if (!ins.ok()) return ins.status();
      created = static_cast<int64_t>(ins->size());
    }
    auto up = c.Exec(
        "UPDATE schedules s SET next_run_at = u.next, last_run_at = coalesce(u.last, s.last_run_at) "
        "FROM unnest($1::text[], $2::bigint[], $3::bigint[]) AS u(id, next, last) WHERE s.id = u.id",
        pg::Params().Add(ids.Take()).Add(next.Take()).Add(last.Take()));
    if (!up.ok()) return up.status();
    return created > 0 ? Notify(c) : Status::Ok();
  });
  if (!s.ok()) return s;
  return created;
}

Result<std::vector<ScheduleRow>> PostgresStore::ListSchedules() {
  std::vector<ScheduleRow> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string("SELECT ") + kScheduleCols + " FROM schedules ORDER BY id");
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) out.push_back(ScheduleFromRow(*r, i));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

// ---------------------------------------------------------------------------------------------
// Nodes.

Status PostgresStore::UpsertNode(const NodeRecord& node) {
  return Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "INSERT INTO nodes (id, kind, hostname, pid, version, concurrency, draining, started_at, "
        "heartbeat_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (id) DO UPDATE SET kind = EXCLUDED.kind, "
        "hostname = EXCLUDED.hostname, pid = EXCLUDED.pid, version = EXCLUDED.version, "
        "concurrency = EXCLUDED.concurrency, draining = EXCLUDED.draining, started_at = EXCLUDED.started_at, "
        "heartbeat_at = EXCLUDED.heartbeat_at",
        pg::Params()
            .Add(node.id)
            .Add(node.kind)
            .Add(node.hostname)
            .Add(node.pid)
            .Add(node.version)
            .Add(node.concurrency)
            .Add(node.draining)
            .Add(ToMillis(node.started_at))
            .Add(ToMillis(node.heartbeat_at)));
    return r.ok() ? Status::Ok() : r.status();
  });
}

Status PostgresStore::RemoveNode(const std::string& id) {
  return Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("DELETE FROM nodes WHERE id = $1", pg::Params().Add(id));
    return r.ok() ? Status::Ok() : r.status();
  });
}

Result<std::vector<NodeRecord>> PostgresStore::ListNodes(TimePoint since) {
  std::vector<NodeRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "SELECT id, kind, hostname, pid, version, concurrency, draining, started_at, heartbeat_at "
        "FROM nodes WHERE heartbeat_at > $1 ORDER BY id",
        pg::Params().Add(ToMillis(since)));
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) {
      out.push_back(NodeRecord{.id = r->Text(i, 0),
                               .kind = r->Text(i, 1),
                               .hostname = r->Text(i, 2),
                               .pid = r->Int(i, 3),
                               .version = r->Text(i, 4),
                               .concurrency = static_cast<int>(r->Int(i, 5)),
                               .draining = r->Bool(i, 6),
                               .started_at = FromMillis(r->Int(i, 7)),
                               .heartbeat_at = FromMillis(r->Int(i, 8))});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> PostgresStore::PruneNodes(TimePoint before) {
  int64_t n = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("DELETE FROM nodes WHERE heartbeat_at < $1", pg::Params().Add(ToMillis(before)));
    if (!r.ok()) return r.status();
    n = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Retention and statistics.

Result<int64_t> PostgresStore::PruneFinished(TimePoint before, size_t batch) {
  int64_t n = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "WITH v AS (SELECT id FROM workflow_instances WHERE finished_at < $1 AND status IN ('Completed', "
        "'Faulted', 'Cancelled') ORDER BY finished_at LIMIT $2 FOR UPDATE SKIP LOCKED), "
        "a AS (DELETE FROM activity_executions WHERE instance_id IN (SELECT id FROM v)), "
        "b AS (DELETE FROM bookmarks WHERE instance_id IN (SELECT id FROM v)), "
        "i AS (DELETE FROM inbox WHERE instance_id IN (SELECT id FROM v)), "
        "d AS (DELETE FROM workflow_instances WHERE id IN (SELECT id FROM v) RETURNING 1) "
        "SELECT count(*) FROM d",
        pg::Params().Add(ToMillis(before)).Add(batch));
    if (!r.ok()) return r.status();
    n = r->Int(0, 0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

Result<int64_t> PostgresStore::PruneHeldEvents(TimePoint now) {
  int64_t n = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("DELETE FROM held_events WHERE expires_at <= $1", pg::Params().Add(ToMillis(now)));
    if (!r.ok()) return r.status();
    n = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

StoreConnectionStats PostgresStore::ConnectionStats() const {
  auto [in_use, idle] = pool_.InUseAndIdle();
  return {.active = static_cast<int64_t>(in_use), .idle = static_cast<int64_t>(idle)};
}

Result<StoreStats> PostgresStore::Stats(TimePoint now) {
  StoreStats stats;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    stats = {};
    auto by_status = c.Exec("SELECT status, count(*) FROM workflow_instances GROUP BY status");
    if (!by_status.ok()) return by_status.status();
    for (int i = 0; i < by_status->size(); ++i)
      stats.instances_by_status[by_status->Text(i, 0)] = by_status->Int(i, 1);
    // Each count is split by lease_owner so that it is a range scan of a partial index (runnable,
    // wake, lease_expires) rather than a walk over every instance.
    auto q = c.Exec(
        "SELECT (SELECT count(*) FROM workflow_instances WHERE runnable AND lease_owner IS NULL AND status "
        "NOT IN ('Completed', 'Cancelled')) + (SELECT count(*) FROM workflow_instances WHERE runnable AND "
        "lease_owner IS NOT NULL AND lease_expires < $1 AND status NOT IN ('Completed', 'Cancelled')), "
        "(SELECT min(m) FROM (SELECT min(created_at) AS m FROM workflow_instances WHERE runnable AND "
        "lease_owner IS NULL AND status NOT IN ('Completed', 'Cancelled') UNION ALL SELECT min(created_at) "
        "FROM workflow_instances WHERE runnable AND lease_owner IS NOT NULL AND lease_expires < $1 AND "
        "status NOT IN ('Completed', 'Cancelled')) x), "
        "(SELECT count(*) FROM workflow_instances WHERE wake_at <= $1 AND NOT runnable AND lease_owner IS "
        "NULL AND status NOT IN ('Completed', 'Cancelled')) + (SELECT count(*) FROM workflow_instances WHERE "
        "wake_at <= $1 AND NOT runnable AND lease_owner IS NOT NULL AND lease_expires < $1 AND status NOT IN "
        "('Completed', 'Cancelled'))",
        pg::Params().Add(ToMillis(now)));
    if (!q.ok()) return q.status();
    stats.runnable = q->Int(0, 0);
    if (auto oldest = q->OptInt(0, 1)) stats.oldest_runnable = FromMillis(*oldest);
    stats.timers_due = q->Int(0, 2);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return stats;
}

}  // namespace trellis
