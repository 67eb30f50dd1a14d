// Group commit: many instances' commit points in one transaction, each fenced by its epoch
// (src/store/README.md, "Commit"). A small batch of plain commits (rows, journal, consumed inbox,
// ended instances) is one autocommit statement: one round trip instead of four to six. Otherwise it
// is a transaction in which every step is one statement over unnest() arrays for the whole batch, except
// the rare per-bookmark match against held events.
#include <algorithm>
#include <map>
#include <set>

#include "store/postgres/postgres_store_impl.h"

namespace trellis {

namespace {

// The batch, materialised in id order; the UPDATE probes the primary key once per item, in that
// order, so concurrent group commits (several workers) lock shared rows in the same order. (An
// explicit SELECT ... FOR UPDATE first cost a quarter of this statement: every row was written
// twice, once to lock it and once to update it. A deadlock that an unusual plan could still cause
// is detected by PostgreSQL and the transaction retried.) The planner cannot estimate unnest() of a
// parameter, and a join of two such inputs can turn quadratic: the UPDATE reads only this CTE.
#define TRELLIS_COMMIT_BATCH                                                                          \
  "c AS MATERIALIZED (SELECT c.* FROM unnest($1::text[], $2::bigint[], $3::bigint[], $4::text[], "    \
  "$5::text[], $6::bigint[], $7::bigint[], $8::bigint[], $9::bool[], $10::bool[], $11::bigint[], "    \
  "$12::bool[]) AS c(id, epoch, seen, status, state, now, finished_at, wake_at, has_ready, release, " \
  "lease, status_changed) ORDER BY c.id) "

// The column inbox_seq: under READ COMMITTED it is re-read from the newest row version after a
// concurrent delivery, so a resume racing this commit leaves the instance runnable. An instance
// that stays leased is never runnable: its worker goes on with it. A commit that keeps the lease
// and the status (between two activities) leaves lease_expires to the worker's renewer: with no
// indexed column changed the update is heap-only (HOT), and writes no index entry.
#define TRELLIS_COMMIT_UPDATE                                                                          \
  "UPDATE workflow_instances w SET status = c.status, state = c.state, updated_at = c.now, "           \
  "finished_at = c.finished_at, wake_at = c.wake_at, "                                                 \
  "runnable = c.release AND (c.has_ready OR (w.inbox_seq <> c.seen AND c.status NOT IN ('Completed', " \
  "'Cancelled'))), "                                                                                   \
  "lease_owner = CASE WHEN c.release THEN NULL ELSE w.lease_owner END, "                               \
  "lease_expires = CASE WHEN c.release THEN NULL WHEN c.status_changed THEN c.now + c.lease ELSE "     \
  "w.lease_expires END "                                                                               \
  "FROM c WHERE w.id = c.id AND w.epoch = c.epoch "

constexpr const char* kCommitSql = "WITH " TRELLIS_COMMIT_BATCH TRELLIS_COMMIT_UPDATE
                                   "RETURNING w.id, w.parent_id, w.parent_bookmark, w.runnable";

constexpr const char* kJournalSql = TRELLIS_JOURNAL_INSERT
    "SELECT * FROM unnest($1::text[], $2::bigint[], $3::text[], $4::text[], $5::int[], $6::text[], "
    "$7::text[], $8::bigint[], $9::bigint[], $10::text[], $11::text[], $12::bool[])";

// The common batch in one autocommit statement (Commit(), "one statement"): the instance rows, the
// journal records of the rows the fence let through, consumed inbox items, the inbox and bookmarks
// of instances that ended, and the wake-up (its CTE runs only because the last output column reads
// it; an unreferenced SELECT CTE is skipped). A connection lost under it is retried like a read:
// if the lost attempt was applied, the repeat either changes nothing or fails on the journal's
// primary key, and the worker goes on from what was committed.
constexpr const char* kOneStatementCommitSql =
    "WITH " TRELLIS_COMMIT_BATCH ", u AS (" TRELLIS_COMMIT_UPDATE
    "RETURNING w.id, w.parent_id, w.parent_bookmark, w.runnable, c.release AS released, c.wake_at AS "
    "wakes), "
    "j AS (" TRELLIS_JOURNAL_INSERT
    "SELECT r.* FROM unnest($13::text[], $14::bigint[], $15::text[], $16::text[], $17::int[], "
    "$18::text[], $19::text[], $20::bigint[], $21::bigint[], $22::text[], $23::text[], $24::bool[]) AS "
    "r(instance_id, sequence, activity_id, activity_type, attempt, status, outcome, started_at, "
    "finished_at, output, error, truncated) WHERE r.instance_id IN (SELECT id FROM u)), "
    "k AS (DELETE FROM inbox i USING unnest($25::text[], $26::bigint[]) AS k(instance_id, id) WHERE "
    "i.instance_id = k.instance_id AND i.id = k.id AND k.instance_id IN (SELECT id FROM u)), "
    "e AS (DELETE FROM inbox WHERE instance_id = ANY($27::text[]) AND instance_id IN (SELECT id FROM u)), "
    "b AS (DELETE FROM bookmarks WHERE instance_id = ANY($28::text[]) AND instance_id IN (SELECT id FROM "
    "u)), "
    "n AS (SELECT pg_notify('trellis_work', '') WHERE EXISTS (SELECT 1 FROM u WHERE released AND "
    "(runnable OR wakes IS NOT NULL))) "
    "SELECT u.id, u.parent_id, u.parent_bookmark, u.runnable, (SELECT count(*) FROM n) FROM u";

#undef TRELLIS_COMMIT_BATCH
#undef TRELLIS_COMMIT_UPDATE

constexpr const char* kConsumeSql =
    "WITH e AS (DELETE FROM inbox WHERE instance_id = ANY($3::text[])) "
    "DELETE FROM inbox i USING unnest($1::text[], $2::bigint[]) AS c(instance_id, id) "
    "WHERE i.instance_id = c.instance_id AND i.id = c.id";

// Rows of the replaced instances that are not in their new sets.
constexpr const char* kDropBookmarksSql =
    "DELETE FROM bookmarks b WHERE b.instance_id = ANY($1::text[]) AND NOT EXISTS (SELECT 1 FROM "
    "unnest($2::text[], $3::text[]) AS n(instance_id, id) WHERE n.instance_id = b.instance_id AND n.id = "
    "b.id)";

constexpr const char* kHeldNamesSql =
    "SELECT DISTINCT name FROM held_events WHERE name = ANY($1::text[]) AND expires_at > $2::bigint";

// One new event bookmark against the oldest matching held event.
constexpr const char* kMatchHeldSql =
    "WITH h AS (DELETE FROM held_events WHERE id = (SELECT id FROM held_events WHERE name = $1::text AND "
    "expires_at > $4::bigint AND ($2::text = '' OR correlation = '' OR correlation = $2::text) ORDER BY id "
    "LIMIT 1 FOR UPDATE SKIP LOCKED) RETURNING payload), "
    "i AS (INSERT INTO inbox (instance_id, kind, bookmark_id, payload, created_at) "
    "SELECT $3::text, 'event', $5::text, payload, $4::bigint FROM h), "
    "b AS (DELETE FROM bookmarks WHERE instance_id = $3::text AND id = $5::text AND EXISTS (SELECT 1 FROM "
    "h)), "
    "u AS (UPDATE workflow_instances SET inbox_seq = inbox_seq + 1, runnable = true WHERE id = $3::text "
    "AND EXISTS (SELECT 1 FROM h)) SELECT count(*) FROM h";

// A bookmark an unconsumed inbox item already names was resumed: it does not match again.
constexpr const char* kInsertBookmarksSql =
    "INSERT INTO bookmarks (instance_id, id, kind, activity_id, key, correlation, method, due_at) "
    "SELECT * FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
    "$7::text[], "
    "$8::bigint[]) AS n(instance_id, id, kind, activity_id, key, correlation, method, due_at) "
    "WHERE NOT EXISTS (SELECT 1 FROM inbox i WHERE i.instance_id = n.instance_id AND i.bookmark_id = n.id) "
    "ON CONFLICT (instance_id, id) DO NOTHING";

std::optional<int64_t> OptMillis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToMillis(*t);
}

bool EndsInbox(InstanceStatus s) {
  return s == InstanceStatus::kCompleted || s == InstanceStatus::kCancelled;
}

// The journal records of commits[i] for each i in `which`, as the 12 arrays of kJournalSql.
size_t AddJournal(pg::Params& p, const std::vector<InstanceCommit>& commits, const std::vector<size_t>& which,
                  size_t output_limit) {
  std::vector<std::pair<const std::string*, const std::vector<JournalRecord>*>> of;
  of.reserve(which.size());
  for (size_t i : which) of.emplace_back(&commits[i].id, &commits[i].journal);
  return pg::AddJournalArrays(p, of, output_limit);
}

// The largest batch written by kOneStatementCommitSql (see Commit()).
constexpr size_t kOneStatementBatch = 64;

// A commit kOneStatementCommitSql covers: nothing but the row, the journal, consumed inbox items
// and, for an instance that ended, the cleanup. New bookmarks (matched against held events),
// children, deliveries, parent results and published events take the transaction.
bool FitsOneStatement(const InstanceCommit& c) {
  if (!c.children.empty() || !c.deliveries.empty() || !c.events.empty() || c.parent_result) return false;
  return IsTerminal(c.status) || !c.bookmarks || c.bookmarks->empty();
}

}  // namespace

Result<std::vector<CommitOutcome>> PostgresStore::Commit(const std::vector<InstanceCommit>& commits) {
  std::vector<CommitOutcome> outcomes(commits.size(), CommitOutcome::kFenced);
  if (commits.empty()) return outcomes;

  // Built once, outside the retry loop.
  std::vector<std::string> names;
  pg::ArrayLiteral ids, epochs, seen, status, state, now, finished, wake, ready, release, lease, changed;
  for (const auto& c : commits) {
    ids.Add(c.id), epochs.Add(c.epoch), seen.Add(c.inbox_seq_seen), status.Add(InstanceStatusName(c.status));
    if (c.state_text.empty())
      state.Add(pg::JsonText(c.state));
    else
      state.Add(c.state_text);
    now.Add(ToMillis(c.now)), finished.Add(OptMillis(c.finished_at));
    wake.Add(OptMillis(c.wake_at)), ready.Add(c.has_ready), release.Add(c.release);
    lease.Add(static_cast<int64_t>(c.lease.count())), changed.Add(c.status_changed);
    if (c.bookmarks && !IsTerminal(c.status)) {
      for (const auto& b : *c.bookmarks) {
        if (b.kind == BookmarkKind::kEvent) names.push_back(b.key);
      }
    }
    for (const auto& e : c.events) names.push_back(e.name);
  }
  std::sort(names.begin(), names.end());
  names.erase(std::unique(names.begin(), names.end()), names.end());
  pg::Params step1;
  step1.Add(ids.Take()).Add(epochs.Take()).Add(seen.Take()).Add(status.Take()).Add(state.Take());
  step1.Add(now.Take())
      .Add(finished.Take())
      .Add(wake.Take())
      .Add(ready.Take())
      .Add(release.Take())
      .Add(lease.Take())
      .Add(changed.Take());
  std::map<std::string, size_t> index;
  for (size_t i = 0; i < commits.size(); ++i) index.emplace(commits[i].id, i);

  // Plain batches up to kOneStatementBatch take the one statement; larger ones (heavy load) the
  // transaction, which lets them grow. The cap was 4: before instances ran ahead (three commits per
  // benchmark workflow), one statement for every batch kept batches near 9 commits and cut webhook
  // throughput by a quarter. With two commits per workflow, three interleaved pairs of HTTP
  // benchmark runs (cap 4 / cap 64) gave sync executes 1,180-1,585 / 1,575-1,807 per second and
  // PostgreSQL 0.56-0.75 / 0.52-0.59 ms of CPU per execute, webhooks within noise of each other;
  // a sync execute's commit is then one round trip instead of six.
  if (commits.size() <= kOneStatementBatch && std::all_of(commits.begin(), commits.end(), FitsOneStatement)) {
    std::vector<size_t> all(commits.size());
    for (size_t i = 0; i < all.size(); ++i) all[i] = i;
    AddJournal(step1, commits, all, options_.journal_output_limit);
    pg::ArrayLiteral c_inst, c_id, ended, replaced;
    for (const auto& c : commits) {
      for (int64_t item : c.consumed_inbox) c_inst.Add(c.id), c_id.Add(item);
      if (EndsInbox(c.status)) ended.Add(c.id);
      if (c.bookmarks || IsTerminal(c.status)) replaced.Add(c.id);
    }
    step1.Add(c_inst.Take()).Add(c_id.Take()).Add(ended.Take()).Add(replaced.Take());
    Status s = Run(Mode::kRepeatableWrite, [&](pg::Connection& conn) -> Status {
      std::fill(outcomes.begin(), outcomes.end(), CommitOutcome::kFenced);
      auto updated = conn.Exec(kOneStatementCommitSql, step1);
      if (!updated.ok()) return updated.status();
      for (int r = 0; r < updated->size(); ++r)
        outcomes[index.at(updated->Text(r, 0))] = CommitOutcome::kCommitted;
      return Status::Ok();
    });
    if (!s.ok()) return s;
    return outcomes;
  }

  Status s = Run(Mode::kTx, [&](pg::Connection& conn) -> Status {
    std::fill(outcomes.begin(), outcomes.end(), CommitOutcome::kFenced);
    // Event-name locks first (as DeliverEvent takes them), before any instance row lock.
    if (Status l = LockEventNames(conn, names); !l.ok()) return l;
    auto updated = conn.Exec(kCommitSql, step1);
    if (!updated.ok()) return updated.status();
    if (updated->size() == 0) return Status::Ok();
    bool notify = false;
    struct Parent {
      std::string id, bookmark;
    };
    std::vector<std::pair<size_t, Parent>> done;
    for (int r = 0; r < updated->size(); ++r) {
      size_t i = index.at(updated->Text(r, 0));
      outcomes[i] = CommitOutcome::kCommitted;
      done.emplace_back(i, Parent{updated->Text(r, 1), updated->Text(r, 2)});
      if (commits[i].release && (updated->Bool(r, 3) || commits[i].wake_at)) notify = true;
    }
    std::sort(done.begin(), done.end(), [](const auto& a, const auto& b) { return a.first < b.first; });

    // 2. The journal.
    std::vector<size_t> committed;
    for (const auto& d : done) committed.push_back(d.first);
    pg::Params journal;
    if (AddJournal(journal, commits, committed, options_.journal_output_limit) > 0) {
      auto r = conn.Exec(kJournalSql, journal);
      if (!r.ok()) return r.status();
    }

    // 4 (before 3, so that "unconsumed" below means what remains): consumed inbox items, and every
    // item of an instance that ended Completed or Cancelled.
    pg::ArrayLiteral c_inst, c_id, ended;
    for (const auto& [i, parent] : done) {
      for (int64_t item : commits[i].consumed_inbox) c_inst.Add(commits[i].id), c_id.Add(item);
      if (EndsInbox(commits[i].status)) ended.Add(commits[i].id);
    }
    if (c_inst.size() > 0 || ended.size() > 0) {
      auto r = conn.Exec(kConsumeSql, pg::Params().Add(c_inst.Take()).Add(c_id.Take()).Add(ended.Take()));
      if (!r.ok()) return r.status();
    }

    // 3. Bookmark rows.
    pg::ArrayLiteral replaced, keep_inst, keep_id;
    std::vector<std::pair<size_t, const BookmarkRow*>> rows;
    std::vector<std::string> event_names;
    for (const auto& [i, parent] : done) {
      const auto& c = commits[i];
      if (!c.bookmarks && !IsTerminal(c.status)) continue;
      replaced.Add(c.id);
      if (IsTerminal(c.status)) continue;
      for (const auto& b : *c.bookmarks) {
        keep_inst.Add(c.id), keep_id.Add(b.id);
        rows.emplace_back(i, &b);
        if (b.kind == BookmarkKind::kEvent) event_names.push_back(b.key);
      }
    }
    if (replaced.size() > 0) {
      auto r = conn.Exec(kDropBookmarksSql,
                         pg::Params().Add(replaced.Take()).Add(keep_inst.Take()).Add(keep_id.Take()));
      if (!r.ok()) return r.status();
    }
    std::set<std::pair<std::string, std::string>> matched;  // (instance, bookmark) resumed by a held event
    if (!event_names.empty()) {
      pg::ArrayLiteral arr;
      for (const auto& n : event_names) arr.Add(n);
      int64_t now_ms = ToMillis(commits[done.front().first].now);
      auto held = conn.Exec(kHeldNamesSql, pg::Params().Add(arr.Take()).Add(now_ms));
      if (!held.ok()) return held.status();
      std::set<std::string> held_names;
      for (int r = 0; r < held->size(); ++r) held_names.insert(held->Text(r, 0));
      for (const auto& [i, b] : rows) {
        if (b->kind != BookmarkKind::kEvent || !held_names.count(b->key)) continue;
        auto m = conn.Exec(kMatchHeldSql, pg::Params()
                                              .Add(b->key)
                                              .Add(b->correlation)
                                              .Add(commits[i].id)
                                              .Add(ToMillis(commits[i].now))
                                              .Add(b->id));
        if (!m.ok()) return m.status();
        if (m->Int(0, 0) > 0) {
          matched.emplace(commits[i].id, b->id);
          notify = true;
        }
      }
    }
    pg::ArrayLiteral b_inst, b_id, b_kind, b_act, b_key, b_corr, b_method, b_due;
    for (const auto& [i, b] : rows) {
      if (matched.count({commits[i].id, b->id})) continue;
      b_inst.Add(commits[i].id), b_id.Add(b->id), b_kind.Add(BookmarkKindName(b->kind)),
          b_act.Add(b->activity_id);
      b_key.Add(b->key), b_corr.Add(b->correlation), b_method.Add(b->method), b_due.Add(OptMillis(b->due_at));
    }
    if (b_inst.size() > 0) {
      auto r = conn.Exec(kInsertBookmarksSql, pg::Params()
                                                  .Add(b_inst.Take())
                                                  .Add(b_id.Take())
                                                  .Add(b_kind.Take())
                                                  .Add(b_act.Take())
                                                  .Add(b_key.Take())
                                                  .Add(b_corr.Take())
                                                  .Add(b_method.Take())
                                                  .Add(b_due.Take()));
      if (!r.ok()) return r.status();
    }

    // 5. Children.
    std::vector<NewInstance> children;
    for (const auto& [i, parent] : done) {
      for (const auto& child : commits[i].children) children.push_back(child);
    }
    if (!children.empty()) {
      auto r = InsertInstances(conn, children);
      if (!r.ok()) return r.status();
      if (!r->empty()) notify = true;
    }

    // 6 and 8. Deliveries and results to waiting parents; a missing or ended target is skipped.
    pg::ArrayLiteral d_inst, d_kind, d_bm, d_payload;
    int64_t now_ms = 0;
    for (const auto& [i, parent] : done) {
      now_ms = ToMillis(commits[i].now);
      for (const auto& d : commits[i].deliveries) {
        d_inst.Add(d.instance_id), d_kind.Add(InboxKindName(d.kind)), d_bm.Add(d.bookmark_id);
        d_payload.Add(pg::JsonText(d.payload));
      }
    }
    for (const auto& [i, parent] : done) {
      if (!commits[i].parent_result || parent.id.empty() || parent.bookmark.empty()) continue;
      d_inst.Add(parent.id), d_kind.Add(InboxKindName(InboxKind::kChild)), d_bm.Add(parent.bookmark);
      d_payload.Add(pg::JsonText(*commits[i].parent_result));
    }
    if (d_inst.size() > 0) {
      auto r = conn.Exec(pg::kDeliverBatchSql, pg::Params()
                                                   .Add(d_inst.Take())
                                                   .Add(d_kind.Take())
                                                   .Add(d_bm.Take())
                                                   .Add(d_payload.Take())
                                                   .Add(now_ms));
      if (!r.ok()) return r.status();
      if (r->size() > 0) notify = true;
    }

    // 7. Published events.
    for (const auto& [i, parent] : done) {
      for (const auto& e : commits[i].events) {
        auto r = DeliverEventOn(conn, e, commits[i].event_hold, commits[i].now);
        if (!r.ok()) return r.status();
        if (r->resumed > 0) notify = true;
      }
    }
    return notify ? Notify(conn) : Status::Ok();
  });
  if (!s.ok()) return s;
  return outcomes;
}

}  // namespace trellis
