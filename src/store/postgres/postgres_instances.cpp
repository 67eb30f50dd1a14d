// Instances, claims, leases and signals.
#include <algorithm>
#include <set>

#include "store/postgres/postgres_store_impl.h"

namespace trellis {

namespace pg {

Json ParseJsonText(const std::string& text) {
  Json j;
  std::string error;
  if (!ParseJson(text, &j, &error)) return Json();
  return j;
}

std::string JsonText(const Json& j) {
  return j.dump(-1, ' ', false, Json::error_handler_t::replace);
}

TriggerRow TriggerFromRow(const Rows& r, int i, int col) {
  return TriggerRow{.workflow_id = r.Text(i, col),
                    .version = static_cast<int>(r.Int(i, col + 1)),
                    .type = r.Text(i, col + 2),
                    .key = r.Text(i, col + 3),
                    .method = r.Text(i, col + 4),
                    .config = ParseJsonText(r.Text(i, col + 5))};
}

InstanceRecord InstanceFromRow(const Rows& r, int i, int state_col) {
  InstanceRecord rec{.id = r.Text(i, 0),
                     .workflow_id = r.Text(i, 1),
                     .version = static_cast<int>(r.Int(i, 2)),
                     .status = ParseInstanceStatus(r.Text(i, 3)).value_or(InstanceStatus::kPending),
                     .correlation_id = r.Text(i, 4),
                     .parent_id = r.Text(i, 5),
                     .parent_bookmark = r.Text(i, 6),
                     .created_at = FromMillis(r.Int(i, 8)),
                     .updated_at = FromMillis(r.Int(i, 9)),
                     .runnable = r.Bool(i, 12),
                     .lease_owner = r.Text(i, 13),
                     .start_key = r.Text(i, 7),
                     .epoch = r.Int(i, 15),
                     .inbox_seq = r.Int(i, 16)};
  if (auto v = r.OptInt(i, 10)) rec.finished_at = FromMillis(*v);
  if (auto v = r.OptInt(i, 11)) rec.wake_at = FromMillis(*v);
  if (auto v = r.OptInt(i, 14)) rec.lease_expires = FromMillis(*v);
  if (state_col >= 0) rec.state = ParseJsonText(r.Text(i, state_col));
  return rec;
}

// A retry only reaches a Faulted instance; nothing reaches a Completed or Cancelled one. Several
// deliveries to one instance bump its inbox_seq once and write one item each, in order.
const char* const kDeliverBatchSql =
    "WITH d AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[]) WITH ORDINALITY "
    "AS d(instance_id, kind, bookmark_id, payload, ord)), "
    "t AS (UPDATE workflow_instances w SET inbox_seq = w.inbox_seq + 1, runnable = true "
    "WHERE w.id IN (SELECT instance_id FROM d) AND w.status NOT IN ('Completed', 'Cancelled') "
    "AND EXISTS (SELECT 1 FROM d WHERE d.instance_id = w.id AND (d.kind <> 'retry' OR w.status = 'Faulted')) "
    "RETURNING w.id, w.status) "
    "INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) "
    "SELECT d.instance_id, d.kind, d.bookmark_id, d.payload, $5::bigint FROM d JOIN t ON t.id = "
    "d.instance_id "
    "WHERE d.kind <> 'retry' OR t.status = 'Faulted' ORDER BY d.ord RETURNING instance_id";

size_t AddJournalArrays(
    Params& p, const std::vector<std::pair<const std::string*, const std::vector<JournalRecord>*>>& of,
    size_t output_limit) {
  ArrayLiteral id, seq, act, type, attempt, status, outcome, start, end, out, err, trunc;
  for (const auto& [instance_id, records] : of) {
    for (const auto& rec : *records) {
      bool truncated = false;
      Json o = TruncateForJournal(rec.output, output_limit, &truncated);
      id.Add(*instance_id), seq.Add(static_cast<int64_t>(rec.sequence)), act.Add(rec.activity_id);
      type.Add(rec.activity_type), attempt.Add(int64_t{rec.attempt}), status.Add(rec.status);
      outcome.Add(rec.outcome), start.Add(ToMillis(rec.started_at)), end.Add(ToMillis(rec.finished_at));
      if (o.is_null())
        out.AddNull();
      else
        out.Add(JsonText(o));
      err.Add(rec.error), trunc.Add(truncated);
    }
  }
  size_t n = id.size();
  p.Add(id.Take()).Add(seq.Take()).Add(act.Take()).Add(type.Take()).Add(attempt.Take()).Add(status.Take());
  p.Add(outcome.Take()).Add(start.Take()).Add(end.Take()).Add(out.Take()).Add(err.Take()).Add(trunc.Take());
  return n;
}

}  // namespace pg

namespace {

#define TRELLIS_INSERT_INSTANCES                                                                             \
  "INSERT INTO workflow_instances (id, workflow_id, version, status, correlation_id, parent_id, "            \
  "parent_bookmark, start_key, state, created_at, updated_at, finished_at, wake_at, runnable, lease_owner, " \
  "lease_expires, epoch) "                                                                                   \
  "SELECT id, workflow_id, version, status, correlation_id, parent_id, parent_bookmark, start_key, state, "  \
  "created_at, COALESCE(finished_at, created_at), finished_at, wake_at, runnable, lease_owner, "             \
  "created_at + lease, CASE WHEN lease_owner IS NULL THEN 0 ELSE 1 END FROM unnest($1::text[], $2::text[], " \
  "$3::int[], $4::text[], $5::text[], $6::text[], $7::text[], $8::text[], $9::text[], $10::bigint[], "       \
  "$11::bigint[], $12::bool[], $13::text[], $14::bigint[], $15::bigint[]) AS n(id, workflow_id, version, "   \
  "status, correlation_id, parent_id, parent_bookmark, start_key, state, created_at, wake_at, runnable, "    \
  "lease_owner, lease, finished_at) "                                                                        \
  "ON CONFLICT DO NOTHING RETURNING id, lease_owner IS NULL AND runnable"

constexpr const char* kInsertInstancesSql = TRELLIS_INSERT_INSTANCES;

// Instances that ran ahead (NewInstance::journal) get their journal records in the same statement,
// for the rows it created only: an id or start key that already existed writes nothing.
constexpr const char* kInsertInstancesWithJournalSql =
    "WITH i AS (" TRELLIS_INSERT_INSTANCES "), j AS (" TRELLIS_JOURNAL_INSERT
    "SELECT r.* FROM unnest($16::text[], $17::bigint[], $18::text[], $19::text[], $20::int[], $21::text[], "
    "$22::text[], $23::bigint[], $24::bigint[], $25::text[], $26::text[], $27::bool[]) AS r(instance_id, "
    "sequence, activity_id, activity_type, attempt, status, outcome, started_at, finished_at, output, error, "
    "truncated) WHERE r.instance_id IN (SELECT id FROM i)) SELECT * FROM i";

#undef TRELLIS_INSERT_INSTANCES

std::optional<int64_t> OptMillis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToMillis(*t);
}

Status RowsStatus(const Result<pg::Rows>& r) {
  return r.ok() ? Status::Ok() : r.status();
}

}  // namespace

Result<std::vector<std::string>> PostgresStore::InsertInstances(pg::Connection& c,
                                                                const std::vector<NewInstance>& instances,
                                                                bool* claimable) {
  pg::ArrayLiteral id, wf, ver, status, corr, parent, pbm, start, state, created, wake, runnable, owner,
      lease, finished;
  int64_t now = ToMillis(Now());
  for (const auto& n : instances) {
    id.Add(n.id), wf.Add(n.workflow_id), ver.Add(int64_t{n.version}),
        status.Add(InstanceStatusName(n.status));
    corr.Add(n.correlation_id), parent.Add(n.parent_id), pbm.Add(n.parent_bookmark);
    if (n.start_key.empty())
      start.AddNull();
    else
      start.Add(n.start_key);
    if (n.state_text.empty())
      state.Add(pg::JsonText(n.state));
    else
      state.Add(n.state_text);
    created.Add(n.created_at == TimePoint{} ? now : ToMillis(n.created_at));
    wake.Add(OptMillis(n.wake_at)), runnable.Add(n.runnable), finished.Add(OptMillis(n.finished_at));
    if (n.lease_owner.empty()) {
      owner.AddNull(), lease.AddNull();
    } else {
      owner.Add(n.lease_owner), lease.Add(static_cast<int64_t>(n.lease.count()));
    }
  }
  pg::Params params;
  params.Add(id.Take()).Add(wf.Take()).Add(ver.Take()).Add(status.Take()).Add(corr.Take()).Add(parent.Take());
  params.Add(pbm.Take()).Add(start.Take()).Add(state.Take()).Add(created.Take()).Add(wake.Take());
  params.Add(runnable.Take()).Add(owner.Take()).Add(lease.Take()).Add(finished.Take());
  // An id twice in one batch creates its first row only (as CreationBatcher credits it): only that
  // occurrence's records may be written, or a skipped duplicate's would land on the created row.
  bool with_journal = std::any_of(instances.begin(), instances.end(),
                                  [](const NewInstance& n) { return !n.journal.empty(); });
  if (with_journal) {
    std::vector<std::pair<const std::string*, const std::vector<JournalRecord>*>> journals;
    std::set<std::string_view> seen;
    for (const auto& n : instances) {
      if (seen.insert(n.id).second && !n.journal.empty()) journals.emplace_back(&n.id, &n.journal);
    }
    pg::AddJournalArrays(params, journals, options_.journal_output_limit);
  }
  auto r = c.Exec(with_journal ? kInsertInstancesWithJournalSql : kInsertInstancesSql, params);
  if (!r.ok()) return r.status();
  std::set<std::string> made;
  if (claimable != nullptr) *claimable = false;
  for (int i = 0; i < r->size(); ++i) {
    made.insert(r->Text(i, 0));
    if (claimable != nullptr && r->Bool(i, 1)) *claimable = true;
  }
  std::vector<std::string> out;
  for (const auto& n : instances) {
    if (made.erase(n.id)) out.push_back(n.id);
  }
  return out;
}

Result<std::vector<std::string>> PostgresStore::CreateInstances(const std::vector<NewInstance>& instances) {
  return CreateInstancesAndDeliveries(instances, {});
}

Result<std::vector<std::string>> PostgresStore::CreateInstancesAndDeliveries(
    const std::vector<NewInstance>& instances, const std::vector<WebhookDeliveryRecord>& deliveries) {
  std::vector<std::string> out;
  if (instances.empty() && deliveries.empty()) return out;
  Status s = Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    out.clear();             // a retried transaction starts over
    bool claimable = false;  // an instance any worker may claim was created: wake them
    if (!instances.empty()) {
      auto r = InsertInstances(c, instances, &claimable);
      if (!r.ok()) return r.status();
      out = std::move(r).value();
    }
    if (!deliveries.empty()) {
      if (Status inserted = InsertDeliveries(c, deliveries); !inserted.ok()) return inserted;
    }
    return claimable ? Notify(c) : Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> PostgresStore::CreateClaimedInstance(const NewInstance& n, const std::string& owner,
                                                     std::chrono::milliseconds lease, TimePoint now) {
  std::vector<NewInstance> one{n};
  if (one[0].created_at == TimePoint{}) one[0].created_at = now;
  bool finished = n.finished_at.has_value();
  if (!finished) {
    one[0].lease_owner = owner;
    // The lease runs from `now` (the insert stores created_at + lease).
    one[0].lease = lease + std::chrono::duration_cast<std::chrono::milliseconds>(now - one[0].created_at);
  }
  bool created = false;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = InsertInstances(c, one);
    if (!r.ok()) return r.status();
    created = !r->empty();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!created) return Conflict("instance " + n.id + " (or its start key) already exists");
  return int64_t{finished ? 0 : 1};
}

Result<InstanceRecord> PostgresStore::GetInstance(const std::string& id) {
  std::optional<InstanceRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r =
        c.Exec(std::string("SELECT ") + pg::kInstanceCols + ", state FROM workflow_instances WHERE id = $1",
               pg::Params().Add(id));
    if (!r.ok()) return r.status();
    out.reset();
    if (r->size() > 0) out = pg::InstanceFromRow(*r, 0, 17);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!out) return NotFound("instance " + id + " not found");
  return std::move(*out);
}

Result<Page<InstanceRecord>> PostgresStore::ListInstances(const InstanceFilter& f) {
  std::string sql = std::string("SELECT ") + pg::kInstanceCols + " FROM workflow_instances WHERE true";
  pg::Params p;
  int n = 0;
  auto arg = [&n] { return " $" + std::to_string(++n); };
  if (f.status) sql += " AND status =" + arg(), p.Add(InstanceStatusName(*f.status));
  if (!f.workflow_id.empty()) sql += " AND workflow_id =" + arg(), p.Add(f.workflow_id);
  if (!f.correlation_id.empty()) sql += " AND correlation_id =" + arg(), p.Add(f.correlation_id);
  if (!f.parent_id.empty()) sql += " AND parent_id =" + arg(), p.Add(f.parent_id);
  if (f.created_after) sql += " AND created_at >=" + arg(), p.Add(ToMillis(*f.created_after));
  if (f.created_before) sql += " AND created_at <" + arg(), p.Add(ToMillis(*f.created_before));
  if (!f.cursor.empty()) {
    auto pos = DecodeCursor(f.cursor);
    if (!pos.ok()) return pos.status();
    if (!pos->contains("c") || !pos->contains("i") || !(*pos)["c"].is_number_integer() ||
        !(*pos)["i"].is_string()) {
      return InvalidArgument("invalid cursor");
    }
    sql += " AND (created_at, id) < (" + arg() + "::bigint,";
    sql += arg() + "::text)";
    p.Add((*pos)["c"].get<int64_t>()).Add((*pos)["i"].get<std::string>());
  }
  size_t limit = f.limit == 0 ? 50 : f.limit;
  sql += " ORDER BY created_at DESC, id DESC LIMIT" + arg();
  p.Add(limit + 1);
  Page<InstanceRecord> page;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(sql, p);
    if (!r.ok()) return r.status();
    page = {};
    for (int i = 0; i < r->size() && page.items.size() < limit; ++i)
      page.items.push_back(pg::InstanceFromRow(*r, i, -1));
    if (static_cast<size_t>(r->size()) > limit) {
      const auto& last = page.items.back();
      page.next_cursor = EncodeCursor(Json{{"c", ToMillis(last.created_at)}, {"i", last.id}});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Result<Page<JournalEntry>> PostgresStore::ListJournal(const std::string& instance_id, uint64_t after_sequence,
                                                      size_t limit) {
  if (limit == 0) limit = 100;
  Page<JournalEntry> page;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "SELECT sequence, activity_id, activity_type, attempt, status, outcome, started_at, finished_at, "
        "output, "
        "error, truncated FROM activity_executions WHERE instance_id = $1 AND sequence > $2 ORDER BY "
        "sequence "
        "LIMIT $3",
        pg::Params().Add(instance_id).Add(static_cast<int64_t>(after_sequence)).Add(limit + 1));
    if (!r.ok()) return r.status();
    page = {};
    for (int i = 0; i < r->size() && page.items.size() < limit; ++i) {
      JournalEntry e{.instance_id = instance_id, .truncated = r->Bool(i, 10)};
      e.record = JournalRecord{.sequence = static_cast<uint64_t>(r->Int(i, 0)),
                               .activity_id = r->Text(i, 1),
                               .activity_type = r->Text(i, 2),
                               .attempt = static_cast<int>(r->Int(i, 3)),
                               .status = r->Text(i, 4),
                               .outcome = r->Text(i, 5),
                               .started_at = FromMillis(r->Int(i, 6)),
                               .finished_at = FromMillis(r->Int(i, 7)),
                               .output = r->IsNull(i, 8) ? Json() : pg::ParseJsonText(r->Text(i, 8)),
                               .error = r->Text(i, 9)};
      page.items.push_back(std::move(e));
    }
    if (static_cast<size_t>(r->size()) > limit)
      page.next_cursor = std::to_string(page.items.back().record.sequence);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Status PostgresStore::DeleteInstance(const std::string& id) {
  int64_t deleted = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "WITH a AS (DELETE FROM activity_executions WHERE instance_id = $1), "
        "b AS (DELETE FROM bookmarks WHERE instance_id = $1), i AS (DELETE FROM inbox WHERE instance_id = "
        "$1) "
        "DELETE FROM workflow_instances WHERE id = $1",
        pg::Params().Add(id));
    if (!r.ok()) return r.status();
    deleted = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted > 0 ? Status::Ok() : NotFound("instance " + id + " not found");
}

// ---------------------------------------------------------------------------------------------
// Claims and leases.

Result<std::vector<ClaimedInstance>> PostgresStore::Claim(const ClaimRequest& req) {
  // Three index range scans, each skipping rows other claimers hold, merged by due time: unleased
  // runnable instances by age, unleased due timers, and expired leases (a worker died mid-burst).
  // Claiming clears `runnable`, so the first scan never walks past instances in flight. The inbox
  // comes back in the same statement, read only for instances that ever had one (every inbox
  // write bumps inbox_seq).
  static const std::string kSql =
      std::string(
          "WITH r AS (SELECT id, created_at AS due, false AS expired FROM workflow_instances WHERE runnable "
          "AND lease_owner IS NULL AND status NOT IN ('Completed', 'Cancelled') "
          "ORDER BY created_at LIMIT $3 FOR UPDATE SKIP LOCKED), "
          "t AS (SELECT id, wake_at AS due, false AS expired FROM workflow_instances "
          "WHERE wake_at <= $2::bigint "
          "AND wake_at IS NOT NULL AND lease_owner IS NULL AND NOT runnable "
          "AND status NOT IN ('Completed', 'Cancelled') ORDER BY wake_at LIMIT $3 FOR UPDATE SKIP LOCKED), "
          "e AS (SELECT id, lease_expires AS due, true AS expired FROM workflow_instances "
          "WHERE lease_expires < $2::bigint "
          "AND lease_owner IS NOT NULL AND status NOT IN ('Completed', 'Cancelled') "
          "ORDER BY lease_expires LIMIT $3 FOR UPDATE SKIP LOCKED), "
          "p AS (SELECT id, due, expired FROM (SELECT id, due, expired FROM r UNION ALL "
          "SELECT id, due, expired FROM t UNION ALL SELECT id, due, expired FROM e) x "
          "ORDER BY due, id LIMIT $3), "
          "u AS (UPDATE workflow_instances w SET lease_owner = $1, lease_expires = $2::bigint + $4::bigint, "
          "epoch = w.epoch + 1, runnable = false FROM p WHERE w.id = p.id "
          "RETURNING w.*, p.due, p.expired) SELECT ") +
      pg::kInstanceCols +
      ", state, CASE WHEN u.inbox_seq > 0 THEN (SELECT coalesce(json_agg(json_build_array(i.id, i.kind, "
      "i.bookmark_id, i.payload, i.created_at) ORDER BY i.id), '[]') FROM inbox i WHERE i.instance_id = "
      "u.id) END, expired FROM u ORDER BY due, id";
  std::vector<ClaimedInstance> out;
  if (req.limit == 0) return out;
  // kWrite: a claim whose answer was lost is not repeated; its leases expire.
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(kSql, pg::Params()
                              .Add(req.owner)
                              .Add(ToMillis(req.now))
                              .Add(req.limit)
                              .Add(static_cast<int64_t>(req.lease.count())));
    if (!r.ok()) return r.status();
    out.clear();
    out.reserve(static_cast<size_t>(r->size()));
    for (int i = 0; i < r->size(); ++i) {
      ClaimedInstance ci{.record = pg::InstanceFromRow(*r, i, -1)};
      ci.record.state_text = r->Text(i, 17);
      ci.lease_expired = r->Bool(i, 19);
      if (r->IsNull(i, 18)) {
        out.push_back(std::move(ci));
        continue;
      }
      Json items = pg::ParseJsonText(r->Text(i, 18));
      for (const auto& it : items) {
        ci.inbox.push_back(InboxItem{
            .id = it[0].get<int64_t>(),
            .kind = ParseInboxKind(it[1].get<std::string>()).value_or(InboxKind::kEvent),
            .bookmark_id = it[2].get<std::string>(),
            .payload = pg::ParseJsonText(it[3].get<std::string>()),
            .created_at = FromMillis(it[4].get<int64_t>()),
        });
      }
      out.push_back(std::move(ci));
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> PostgresStore::RenewLeases(const std::string& owner, std::chrono::milliseconds lease,
                                           TimePoint now) {
  int64_t n = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("UPDATE workflow_instances SET lease_expires = $2 WHERE lease_owner = $1",
                    pg::Params().Add(owner).Add(ToMillis(now) + lease.count()));
    if (!r.ok()) return r.status();
    n = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

Status PostgresStore::ReleaseLeases(const std::string& owner,
                                    const std::vector<std::pair<std::string, int64_t>>& ids_and_epochs) {
  if (ids_and_epochs.empty()) return Status::Ok();
  pg::ArrayLiteral ids, epochs;
  for (const auto& [id, epoch] : ids_and_epochs) ids.Add(id), epochs.Add(epoch);
  std::string ids_text = ids.Take(), epochs_text = epochs.Take();
  return Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "UPDATE workflow_instances w SET lease_owner = NULL, lease_expires = NULL, "
        // The claim cleared runnable; the work it was claimed for remains.
        "runnable = w.status NOT IN ('Completed', 'Cancelled') "
        "FROM unnest($2::text[], $3::bigint[]) AS r(id, epoch) "
        "WHERE w.id = r.id AND w.epoch = r.epoch AND w.lease_owner = $1",
        pg::Params().Add(owner).Add(ids_text).Add(epochs_text));
    if (!r.ok()) return r.status();
    return r->Affected() > 0 ? Notify(c) : Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------
// Signals.

Status PostgresStore::LockEventNames(pg::Connection& c, std::vector<std::string> names) {
  if (names.empty()) return Status::Ok();
  pg::ArrayLiteral arr;
  for (const auto& n : names) arr.Add(n);
  // Ordered by the lock key itself, so that every transaction takes its locks in one order.
  auto r = c.Exec(
      "SELECT pg_advisory_xact_lock(h) FROM (SELECT DISTINCT hashtext('trellis.event.' || n) AS h "
      "FROM unnest($1::text[]) AS n ORDER BY h) s",
      pg::Params().Add(arr.Take()));
  return RowsStatus(r);
}

Result<DeliveryResult> PostgresStore::DeliverEventOn(pg::Connection& c, const EventSignal& event,
                                                     std::chrono::milliseconds hold, TimePoint now) {
  auto r = c.Exec(
      "WITH m AS (DELETE FROM bookmarks WHERE kind = 'Event' AND key = $1::text AND ($2::text = '' OR "
      "correlation = '' OR correlation = $2::text) RETURNING instance_id, id), "
      "i AS (INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) "
      "SELECT instance_id, 'event', id, $3::text, $4::bigint FROM m ORDER BY instance_id, id), "
      "u AS (UPDATE workflow_instances SET inbox_seq = inbox_seq + 1, runnable = true "
      "WHERE id IN (SELECT instance_id FROM m)), "
      "h AS (INSERT INTO held_events (name, correlation, payload, created_at, expires_at) "
      "SELECT $1::text, $2::text, $3::text, $4::bigint, $4::bigint + $5::bigint "
      "WHERE $5::bigint > 0 AND NOT EXISTS (SELECT 1 FROM m) RETURNING 1) "
      "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM h)",
      pg::Params()
          .Add(event.name)
          .Add(event.correlation)
          .Add(pg::JsonText(event.payload))
          .Add(ToMillis(now))
          .Add(static_cast<int64_t>(hold.count())));
  if (!r.ok()) return r.status();
  return DeliveryResult{.resumed = static_cast<int>(r->Int(0, 0)), .held = r->Int(0, 1) > 0};
}

Result<DeliveryResult> PostgresStore::DeliverEvent(const EventSignal& event, std::chrono::milliseconds hold,
                                                   TimePoint now) {
  DeliveryResult result;
  Status s = Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    if (Status l = LockEventNames(c, {event.name}); !l.ok()) return l;
    auto r = DeliverEventOn(c, event, hold, now);
    if (!r.ok()) return r.status();
    result = *r;
    return result.resumed > 0 ? Notify(c) : Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

// Resumes the webhook bookmarks of a path ($1 path, $2 method, $3 payload, $4 now): `m` holds the
// bookmarks taken, each gets an inbox item, its instance is made runnable, and `n` sends the
// wake-up when any was. kReceiveWebhooksSql does the same for many calls, after a trigger lookup.
constexpr const char* kDeliverWebhookSql =
    "WITH m AS (DELETE FROM bookmarks WHERE kind = 'Webhook' AND key = $1::text AND (method = '' OR "
    "upper(method) = upper($2::text)) RETURNING instance_id, id), "
    "i AS (INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) "
    "SELECT instance_id, 'webhook', id, $3::text, $4::bigint FROM m ORDER BY instance_id, id), "
    "u AS (UPDATE workflow_instances SET inbox_seq = inbox_seq + 1, runnable = true "
    "WHERE id IN (SELECT instance_id FROM m)), "
    "n AS (SELECT pg_notify('trellis_work', '') WHERE EXISTS (SELECT 1 FROM m)) "
    "SELECT (SELECT count(*) FROM m), (SELECT count(*) FROM n)";

Result<DeliveryResult> PostgresStore::DeliverWebhook(const std::string& path, const std::string& method,
                                                     const Json& request, TimePoint now) {
  DeliveryResult result;
  // One autocommit statement (atomic on its own), with the wake-up notification inside it: most
  // webhook calls resume nothing, and then this is a single round trip that writes nothing.
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(kDeliverWebhookSql,
                    pg::Params().Add(path).Add(method).Add(pg::JsonText(request)).Add(ToMillis(now)));
    if (!r.ok()) return r.status();
    result = DeliveryResult{.resumed = static_cast<int>(r->Int(0, 0))};
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return result;
}

// ReceiveWebhook's statement for many calls ($1 paths, $2 methods, $3 payloads, $4 times; `ord` is
// a call's place, from 1). Each bookmark goes to the first call that matches it and is not held
// back by a signature (DISTINCT ON ... ORDER BY ord), as if the calls had been made in turn. One
// row per call and trigger (trigger columns NULL for a call without any), in call order.
constexpr const char* kReceiveWebhooksSql =
    "WITH r AS (SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::bigint[]) WITH ORDINALITY "
    "AS r(path, method, payload, at, ord)), "
    "t AS (SELECT r.ord, tr.workflow_id, tr.version, tr.type, tr.key, tr.method, tr.config FROM r JOIN "
    "triggers tr ON tr.type = 'Webhook' AND tr.key = r.path), "
    "g AS (SELECT r.ord, EXISTS (SELECT 1 FROM t WHERE t.ord = r.ord AND (t.method = '' OR t.method = "
    "r.method) AND (t.config::jsonb -> 'secret') IS NOT NULL AND (t.config::jsonb -> 'secret') NOT IN "
    "('null'::jsonb, '\"\"'::jsonb)) AS guarded FROM r), "
    "c AS (SELECT DISTINCT ON (b.instance_id, b.id) b.instance_id, b.id, r.ord, r.payload, r.at FROM "
    "bookmarks b JOIN r ON b.kind = 'Webhook' AND b.key = r.path AND (b.method = '' OR upper(b.method) = "
    "upper(r.method)) JOIN g ON g.ord = r.ord AND NOT g.guarded ORDER BY b.instance_id, b.id, r.ord), "
    "m AS (DELETE FROM bookmarks b USING c WHERE b.instance_id = c.instance_id AND b.id = c.id "
    "RETURNING b.instance_id, b.id), "
    "mc AS (SELECT c.* FROM c JOIN m ON m.instance_id = c.instance_id AND m.id = c.id), "
    "i AS (INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) "
    "SELECT instance_id, 'webhook', id, payload, at FROM mc ORDER BY instance_id, id), "
    "u AS (UPDATE workflow_instances SET inbox_seq = inbox_seq + 1, runnable = true "
    "WHERE id IN (SELECT instance_id FROM m)), "
    "n AS (SELECT pg_notify('trellis_work', '') WHERE EXISTS (SELECT 1 FROM m)) "
    "SELECT r.ord, (SELECT count(*) FROM mc WHERE mc.ord = r.ord), g.guarded, (SELECT count(*) FROM n), "
    "t.workflow_id, t.version, t.type, t.key, t.method, t.config FROM r JOIN g ON g.ord = r.ord "
    "LEFT JOIN t ON t.ord = r.ord ORDER BY r.ord, t.workflow_id, t.version";

std::vector<Result<Store::WebhookReceipt>> PostgresStore::ReceiveWebhooks(
    const std::vector<WebhookArrival>& calls) {
  if (calls.empty()) return {};
  pg::ArrayLiteral paths, methods, payloads, times;
  for (const auto& c : calls) {
    paths.Add(c.path);
    methods.Add(c.method);
    payloads.Add(pg::JsonText(*c.request));
    times.Add(ToMillis(c.now));
  }
  pg::Params p;
  p.Add(paths.Take()).Add(methods.Take()).Add(payloads.Take()).Add(times.Take());
  std::vector<WebhookReceipt> receipts;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(kReceiveWebhooksSql, p);
    if (!r.ok()) return r.status();
    receipts.assign(calls.size(), WebhookReceipt{});
    for (int i = 0; i < r->size(); ++i) {
      int64_t ord = r->Int(i, 0);
      if (ord < 1 || ord > static_cast<int64_t>(calls.size())) return Internal("webhook receipt for no call");
      WebhookReceipt& out = receipts[static_cast<size_t>(ord - 1)];
      out.delivery.resumed = static_cast<int>(r->Int(i, 1));
      out.delivered = !r->Bool(i, 2);
      if (!r->IsNull(i, 4)) out.triggers.push_back(TriggerFromRow(*r, i, 4));
    }
    return Status::Ok();
  });
  std::vector<Result<WebhookReceipt>> out;
  out.reserve(calls.size());
  for (auto& receipt : receipts) out.emplace_back(std::move(receipt));
  if (!s.ok()) out.assign(calls.size(), Result<WebhookReceipt>(s));
  return out;
}

// A single call is a batch of one: one statement for both, so there is one copy of its logic.
Result<Store::WebhookReceipt> PostgresStore::ReceiveWebhook(const std::string& path,
                                                            const std::string& method, const Json& request,
                                                            TimePoint now) {
  return std::move(
      ReceiveWebhooks({{.path = path, .method = method, .request = &request, .now = now}}).front());
}

Status PostgresStore::Deliver(const InboxDelivery& d, TimePoint now) {
  pg::ArrayLiteral id, kind, bookmark, payload;
  id.Add(d.instance_id), kind.Add(InboxKindName(d.kind)), bookmark.Add(d.bookmark_id);
  payload.Add(pg::JsonText(d.payload));
  pg::Params p;
  p.Add(id.Take()).Add(kind.Take()).Add(bookmark.Take()).Add(payload.Take()).Add(ToMillis(now));
  return Run(Mode::kTx, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(pg::kDeliverBatchSql, p);
    if (!r.ok()) return r.status();
    if (r->size() > 0) return Notify(c);
    auto st = c.Exec("SELECT status FROM workflow_instances WHERE id = $1", pg::Params().Add(d.instance_id));
    if (!st.ok()) return st.status();
    if (st->size() == 0) return NotFound("instance " + d.instance_id + " not found");
    return FailedPrecondition(
        "instance " + d.instance_id + " is " + st->Text(0, 0) + ": it cannot take a " +
        InboxKindName(d.kind) +
        (d.kind == InboxKind::kRetry ? " (only a Faulted instance can be retried)" : ""));
  });
}

}  // namespace trellis
