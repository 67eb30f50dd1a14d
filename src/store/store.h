// The durable store: everything a Trellis node keeps, behind one interface with two
// implementations (SQLite for one node, PostgreSQL for a cluster) that pass one conformance suite
// (tests/unit/store/). The runtime (src/runtime/) builds the guarantees of DESIGN.md section 4 on
// the few primitives here:
//
//   * Instances carry a lease (owner, expiry) and an epoch. Claim() takes runnable instances whose
//     lease is free or expired and bumps their epoch; Commit() writes only when the epoch is still
//     the one claimed (fencing), so a worker that lost its lease cannot overwrite state.
//   * An instance is claimable when it is not Completed/Cancelled and either its lease is free and it
//     is `runnable` (it has work now) or its `wake_at` (the earliest timer) has passed, or its lease
//     has expired (its worker died mid-burst). Claim clears `runnable`, so the runnable index holds
//     only waiting work and a claim never scans the instances in flight.
//   * The inbox holds what resumes an instance (events, webhooks, child results, cancellations).
//     It is written in the transaction that makes the instance runnable, and an item is deleted in
//     the commit that applied it. Every inbox write bumps the instance's `inbox_seq`; a commit that
//     saw an older `inbox_seq` leaves the instance runnable, so a resume racing a suspension is
//     never lost.
//   * Events that match no bookmark are held for a while (`hold`); a commit that creates a matching
//     event bookmark consumes the oldest held event in the same transaction. Deliveries and
//     bookmark writes of one event name are serialised, so an event racing the suspension it is
//     meant for resumes it exactly once.
//
// Every method is safe to call from several threads. Errors: Unavailable when the database cannot
// be reached (callers retry with backoff), NotFound, Conflict, FailedPrecondition as documented.
#pragma once

#include <atomic>
#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "core/clock.h"
#include "core/json.h"
#include "core/status.h"
#include "engine/instance_state.h"

namespace trellis {

// ---------------------------------------------------------------------------------------------
// Definitions. Versions are immutable once published; the newest version may be a draft that is
// updated in place until it is published. At most one version of an id is the published one.

struct DefinitionRecord {
  std::string id;
  int version = 0;
  std::string name;
  Json definition;         // model::DefinitionToJson form, with "version" set
  bool published = false;  // this is the published version of its id
  bool frozen = false;     // it was published at some point: it can no longer change
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct DefinitionFilter {
  std::string search;  // substring of id or name; empty: all
  size_t limit = 50;
  std::string cursor;  // opaque, from a previous page
};

// What a published definition makes the store index: cron schedules and Event/Webhook triggers.
struct ScheduleRow {
  std::string id;  // "<workflow id>#<trigger index>"
  std::string workflow_id;
  int version = 0;
  std::string cron;
  std::string timezone = "UTC";
  std::string misfire = "skip";  // skip | catch-up
  Json input = Json::object();
  TimePoint next_run_at{};
  std::optional<TimePoint> last_run_at;
};

struct TriggerRow {
  std::string workflow_id;
  int version = 0;
  std::string type;    // Event | Webhook
  std::string key;     // event name, or webhook path without leading '/'
  std::string method;  // Webhook: HTTP method or "" for any
  Json config = Json::object();
};

// A Webhook trigger whose calls must carry a valid signature before anything is resumed or started:
// its `secret` setting is present and neither null nor "" (a setting that is not a name fails the
// check closed, so it counts too).
inline bool TriggerNeedsSignature(const TriggerRow& t) {
  auto it = t.config.find("secret");
  return it != t.config.end() && !it->is_null() &&
         !(it->is_string() && it->get_ref<const std::string&>().empty());
}

// ---------------------------------------------------------------------------------------------
// Instances.

struct InstanceRecord {
  std::string id;
  std::string workflow_id;
  int version = 0;
  InstanceStatus status = InstanceStatus::kPending;
  std::string correlation_id;
  std::string parent_id;
  std::string parent_bookmark;  // the parent's RunWorkflow bookmark to resume when this ends
  Json state;                   // StateToJson; null in list results and in Claim results
  // Claim returns the state here, as stored and unparsed, so the worker parses it on its executor
  // threads instead of under the store's lock. Empty elsewhere.
  std::string state_text;
  TimePoint created_at{};
  TimePoint updated_at{};
  std::optional<TimePoint> finished_at;
  std::optional<TimePoint> wake_at;  // the earliest timer (Engine::NextDue)
  bool runnable = false;
  std::string lease_owner;  // empty: free
  std::string start_key;
  std::optional<TimePoint> lease_expires;
  int64_t epoch = 0;
  int64_t inbox_seq = 0;
};

struct NewInstance {
  std::string id;
  std::string workflow_id;
  int version = 0;
  InstanceStatus status = InstanceStatus::kRunning;
  std::string correlation_id;
  std::string parent_id;
  std::string parent_bookmark;
  std::string start_key;  // optional dedupe key (e.g. "cron:<schedule>:<tick>"): one instance per key
  Json state;
  // The state already serialised (NewInstanceFrom does it on the starting thread, off a batch
  // writer's path). When set, it is written and `state` is ignored.
  std::string state_text;
  TimePoint created_at{};
  std::optional<TimePoint> wake_at;
  // Set for an instance that finished before it was written (RunAhead): it is created in its final
  // status, not runnable and unleased.
  std::optional<TimePoint> finished_at;
  bool runnable = true;
  // Non-empty: the instance is created already leased to this owner (epoch 1, lease until
  // created_at + lease), so no other worker claims it; set `runnable` false. The API node's worker
  // adopts what it starts this way while it has room (Worker::Reserve).
  std::string lease_owner;
  std::chrono::milliseconds lease{0};
  // Journal records written with the row, in the same transaction: the instance's first pure steps
  // ran before it existed (Worker::RunAhead), so its first commit point is this insert. Written only
  // when the row is created (nothing for an id or start key that already exists).
  std::vector<JournalRecord> journal;
};

struct InstanceFilter {
  std::optional<InstanceStatus> status;
  std::string workflow_id;
  std::string correlation_id;
  std::string parent_id;
  std::optional<TimePoint> created_after;   // inclusive
  std::optional<TimePoint> created_before;  // exclusive
  size_t limit = 50;
  std::string cursor;  // opaque; newest first
};

template <typename T>
struct Page {
  std::vector<T> items;
  std::string next_cursor;  // empty on the last page
};

// A journal record as stored (the engine's JournalRecord plus where it belongs).
struct JournalEntry {
  std::string instance_id;
  JournalRecord record;
  bool truncated = false;  // the output was larger than the store's limit and was cut
};

// ---------------------------------------------------------------------------------------------
// The inbox and signals.

// kCancel and kRetry carry no bookmark. kRetry continues a Faulted instance (Engine::Retry).
enum class InboxKind { kEvent, kWebhook, kChild, kCancel, kRetry };
const char* InboxKindName(InboxKind k);

struct InboxItem {
  int64_t id = 0;
  InboxKind kind = InboxKind::kEvent;
  std::string bookmark_id;  // empty for kCancel
  Json payload;             // event payload, webhook request, child result, cancel reason
  TimePoint created_at{};
};

// An inbox item addressed to an instance (a child's result to its parent, a cancellation).
struct InboxDelivery {
  std::string instance_id;
  InboxKind kind = InboxKind::kCancel;
  std::string bookmark_id;
  Json payload;
};

// A bookmark as indexed for matching (the state holds the full bookmark).
struct BookmarkRow {
  std::string id;
  BookmarkKind kind = BookmarkKind::kTimer;
  std::string activity_id;
  std::string key;          // kEvent: event name; kWebhook: path; kChild: child instance id
  std::string correlation;  // kEvent
  std::string method;       // kWebhook
  std::optional<TimePoint> due_at;
};

struct EventSignal {
  std::string name;
  std::string correlation;  // empty: matches bookmarks of any correlation
  Json payload;
};

struct DeliveryResult {
  int resumed = 0;    // bookmarks matched (one inbox item each)
  bool held = false;  // nothing matched: kept for a bookmark that appears within the hold time
};

// ---------------------------------------------------------------------------------------------
// Claims and commits.

struct ClaimRequest {
  std::string owner;  // node id
  size_t limit = 64;
  std::chrono::milliseconds lease{30000};
  TimePoint now{};
};

struct ClaimedInstance {
  InstanceRecord record;         // with state_text (not state), the new epoch and the inbox_seq seen
  std::vector<InboxItem> inbox;  // oldest first
  bool lease_expired = false;    // claimed because its previous owner's lease had expired
};

// One instance's commit point: written atomically, and only if `epoch` is still current.
struct InstanceCommit {
  std::string id;
  int64_t epoch = 0;
  int64_t inbox_seq_seen = 0;
  InstanceStatus status = InstanceStatus::kRunning;
  Json state;
  // The state already serialised (the worker does it on its executor threads, off the committer's
  // path). When set, it is written and `state` is ignored.
  std::string state_text;
  TimePoint now{};
  std::optional<TimePoint> finished_at;
  std::optional<TimePoint> wake_at;
  bool has_ready = false;  // work remains: the instance stays runnable
  bool release = true;     // give the lease up (suspended, ended, or handed back)
  // False when `status` is the status this lease holder last committed (or claimed): the store may
  // then leave the status column, and the indexes over it, untouched.
  bool status_changed = true;
  std::chrono::milliseconds lease{30000};  // when not released: the lease is extended by this
  std::vector<JournalRecord> journal;
  std::optional<std::vector<BookmarkRow>> bookmarks;  // the full set; nullopt: unchanged
  std::vector<int64_t> consumed_inbox;
  std::vector<NewInstance> children;
  std::vector<InboxDelivery> deliveries;
  std::vector<EventSignal> events;  // published events, delivered like DeliverEvent
  std::chrono::milliseconds event_hold{60000};
  // Set when the instance ended and has a waiting parent: the result for the parent's bookmark.
  std::optional<Json> parent_result;
};

enum class CommitOutcome {
  kCommitted,
  kFenced,  // the epoch moved on (another worker owns it) or the instance is gone: nothing written
};

// ---------------------------------------------------------------------------------------------
// Cluster nodes, migrations, statistics.

struct NodeRecord {
  std::string id;
  std::string kind;  // server | worker
  std::string hostname;
  int64_t pid = 0;
  std::string version;
  int concurrency = 0;
  bool draining = false;
  TimePoint started_at{};
  TimePoint heartbeat_at{};
};

struct MigrationInfo {
  int version = 0;
  std::string name;
  std::string checksum;                 // sha256 of the SQL, hex
  std::optional<TimePoint> applied_at;  // nullopt: pending
};

// The store's database connections now (trellis_database_connections_active|idle).
struct StoreConnectionStats {
  int64_t active = 0;  // in use (or being opened)
  int64_t idle = 0;    // open, waiting in a pool
};

// Failed connects/opens and connections lost, in this process, by either provider (counted before
// a store exists too): trellis_database_connection_errors_total.
inline std::atomic<int64_t>& DatabaseConnectionErrors() {
  static std::atomic<int64_t> errors{0};
  return errors;
}

struct StoreStats {
  std::map<std::string, int64_t> instances_by_status;
  int64_t runnable = 0;                      // queue depth: runnable instances not leased
  std::optional<TimePoint> oldest_runnable;  // for queue lag
  int64_t timers_due = 0;
};

class WorkListener {
 public:
  virtual ~WorkListener() = default;
  // Blocks until work may have been added since the last call (new or runnable instances, a
  // schedule), or until `timeout`. Returns true when woken by a notification.
  virtual bool Wait(std::chrono::milliseconds timeout) = 0;
  // Wakes a Wait() in progress (graceful stop).
  virtual void Interrupt() = 0;
};

// ---------------------------------------------------------------------------------------------
// Secrets, API keys, webhook deliveries (the server's tables).

// A secret as stored: the value sealed with AES-256-GCM (security/secret_box.h) under `key_id`.
struct SecretRecord {
  std::string name;
  std::string key_id;
  std::string nonce;       // raw bytes
  std::string ciphertext;  // raw bytes, GCM tag appended
  TimePoint created_at{};
  TimePoint updated_at{};
};

struct ApiKeyRecord {
  std::string id;
  std::string name;
  std::string prefix;  // the first characters of the key, shown in listings
  std::string hash;    // hex SHA-256 of the whole key; the key itself is never stored
  std::string role;    // admin | editor | operator | viewer
  TimePoint created_at{};
  std::optional<TimePoint> expires_at;
  std::optional<TimePoint> last_used_at;
};

struct WebhookDeliveryRecord {
  std::string id;
  std::string path;  // without the leading '/'
  std::string method;
  Json headers = Json::object();
  Json query = Json::object();
  std::string body;
  int status = 0;                         // the HTTP status answered
  std::vector<std::string> instance_ids;  // started or resumed
  TimePoint received_at{};
};

struct WebhookDeliveryFilter {
  std::string path;  // empty: all
  size_t limit = 50;
  std::string cursor;  // newest first
};

class Store {
 public:
  virtual ~Store() = default;

  // "sqlite" or "postgres".
  virtual std::string provider() const = 0;
  // e.g. "PostgreSQL host=db port=5432 db=trellis user=trellis sslmode=require"; never a password.
  virtual std::string Describe() const = 0;

  // Migrations (numbered, checksummed; concurrent callers are safe). Fails with
  // FailedPrecondition naming the migration when an applied one's checksum differs. Returns the
  // migrations this call applied (empty when the schema was current).
  virtual Result<std::vector<MigrationInfo>> Migrate() = 0;
  virtual Result<std::vector<MigrationInfo>> MigrationStatus() = 0;
  // A cheap round trip for readiness.
  virtual Status Ping() = 0;

  // Definitions.
  // Adds a new version (definition["version"] and record.version must agree). Conflict when it
  // exists.
  virtual Status InsertDefinition(const DefinitionRecord& record) = 0;
  // Replaces a draft's definition. FailedPrecondition when the version is frozen.
  virtual Status UpdateDefinitionDraft(const std::string& id, int version, const Json& definition,
                                       const std::string& name, TimePoint now) = 0;
  // Makes `version` the published one (freezing it) and replaces the id's schedules and triggers in
  // the same transaction. A schedule whose id, cron, timezone are unchanged keeps its next_run_at.
  // With no version (retract), nothing is published and schedules/triggers are removed.
  virtual Status PublishDefinition(const std::string& id, std::optional<int> version,
                                   const std::vector<ScheduleRow>& schedules,
                                   const std::vector<TriggerRow>& triggers, TimePoint now) = 0;
  // A version, or without one the published version, or the newest when none is published.
  virtual Result<DefinitionRecord> GetDefinition(const std::string& id, std::optional<int> version) = 0;
  virtual Result<std::vector<DefinitionRecord>> ListDefinitionVersions(const std::string& id) = 0;
  // One record per id (the published version, or the newest), ordered by id.
  virtual Result<Page<DefinitionRecord>> ListDefinitions(const DefinitionFilter& filter) = 0;
  // Deletes every version, schedule and trigger of the id. NotFound when none exists.
  virtual Status DeleteDefinition(const std::string& id) = 0;
  virtual Result<std::vector<TriggerRow>> FindTriggers(const std::string& type, const std::string& key) = 0;

  // Instances.
  // Inserts instances (and announces them). An instance whose start_key already exists is skipped;
  // the result holds the ids actually created.
  virtual Result<std::vector<std::string>> CreateInstances(const std::vector<NewInstance>& instances) = 0;
  // The same, and records webhook deliveries (with their final status and instance ids) in the
  // same transaction: what a batch of API requests commits at once. A delivery id that exists
  // already is a Conflict, and nothing of the batch is written.
  virtual Result<std::vector<std::string>> CreateInstancesAndDeliveries(
      const std::vector<NewInstance>& instances, const std::vector<WebhookDeliveryRecord>& deliveries) = 0;
  // Inserts one instance already leased by `owner` (sync execution: no queue round trip). Returns
  // the epoch to commit with. An instance that finished before it was written (finished_at set) is
  // inserted in its final status without a lease, and the epoch is 0: there is nothing to commit.
  virtual Result<int64_t> CreateClaimedInstance(const NewInstance& instance, const std::string& owner,
                                                std::chrono::milliseconds lease, TimePoint now) = 0;
  virtual Result<InstanceRecord> GetInstance(const std::string& id) = 0;
  virtual Result<Page<InstanceRecord>> ListInstances(const InstanceFilter& filter) = 0;
  // Journal records with sequence > after_sequence, in order.
  virtual Result<Page<JournalEntry>> ListJournal(const std::string& instance_id, uint64_t after_sequence,
                                                 size_t limit) = 0;
  // Deletes an instance with its journal, bookmarks and inbox. NotFound when absent.
  virtual Status DeleteInstance(const std::string& id) = 0;

  // Claims up to `limit` claimable instances, oldest due first (SKIP LOCKED on PostgreSQL).
  virtual Result<std::vector<ClaimedInstance>> Claim(const ClaimRequest& request) = 0;
  // Writes many commit points in one transaction (group commit). A fenced instance writes nothing
  // and does not affect the others. A Status error means nothing was written.
  virtual Result<std::vector<CommitOutcome>> Commit(const std::vector<InstanceCommit>& commits) = 0;
  // Extends every lease `owner` holds to now + lease. Returns how many.
  virtual Result<int64_t> RenewLeases(const std::string& owner, std::chrono::milliseconds lease,
                                      TimePoint now) = 0;
  // Gives leases back (graceful stop, dropped bursts) without writing state: each instance becomes
  // runnable for the next claim. Only where owner and epoch still match.
  virtual Status ReleaseLeases(const std::string& owner,
                               const std::vector<std::pair<std::string, int64_t>>& ids_and_epochs) = 0;

  // Signals.
  // Matches event bookmarks (name, and correlation when both sides have one), writes one inbox item
  // per matched bookmark and makes those instances runnable; the matched bookmarks stop matching.
  // With no match the event is held for `hold`.
  virtual Result<DeliveryResult> DeliverEvent(const EventSignal& event, std::chrono::milliseconds hold,
                                              TimePoint now) = 0;
  // Matches webhook bookmarks by path and method (empty bookmark method: any).
  virtual Result<DeliveryResult> DeliverWebhook(const std::string& path, const std::string& method,
                                                const Json& request, TimePoint now) = 0;
  // A webhook call's first step: the Webhook triggers on `path` (as FindTriggers), and the
  // resumption of its bookmarks (as DeliverWebhook) unless a trigger that matches the method
  // needs a signature (TriggerNeedsSignature): then `delivered` is false, nothing was resumed, and
  // the caller checks the signature before calling DeliverWebhook itself. One round trip on
  // PostgreSQL; this default makes the two calls.
  struct WebhookReceipt {
    std::vector<TriggerRow> triggers;
    bool delivered = false;
    DeliveryResult delivery;
  };
  virtual Result<WebhookReceipt> ReceiveWebhook(const std::string& path, const std::string& method,
                                                const Json& request, TimePoint now);
  // ReceiveWebhook for several calls at once, with the outcome of making them one after the other
  // in this order (a bookmark that two calls match is resumed by the first). One answer per call.
  // One statement on PostgreSQL, so all succeed or all fail with the same error; this default
  // makes the calls one by one.
  struct WebhookArrival {
    std::string path;
    std::string method;
    const Json* request = nullptr;  // not owned; valid for the call
    TimePoint now;
  };
  virtual std::vector<Result<WebhookReceipt>> ReceiveWebhooks(const std::vector<WebhookArrival>& calls);
  // Writes an inbox item (e.g. a cancellation) and makes the instance runnable. NotFound when the
  // instance does not exist; FailedPrecondition when it is Completed or Cancelled, or when a kRetry
  // targets an instance that is not Faulted. (A Faulted instance accepts kCancel and kRetry.)
  virtual Status Deliver(const InboxDelivery& delivery, TimePoint now) = 0;

  // Schedules. Claims due schedules (SKIP LOCKED), and for each, in one transaction per batch,
  // inserts the instances `fire` returns (skipping start_keys that exist) and sets next_run_at and
  // last_run_at as `fire` says. Returns the number of instances created.
  struct ScheduleFiring {
    std::vector<NewInstance> instances;
    TimePoint next_run_at{};
    std::optional<TimePoint> last_run_at;
  };
  virtual Result<int64_t> FireDueSchedules(TimePoint now, size_t limit,
                                           const std::function<ScheduleFiring(const ScheduleRow&)>& fire) = 0;
  virtual Result<std::vector<ScheduleRow>> ListSchedules() = 0;

  // Nodes.
  virtual Status UpsertNode(const NodeRecord& node) = 0;
  virtual Status RemoveNode(const std::string& id) = 0;
  // Nodes whose heartbeat is newer than `since`.
  virtual Result<std::vector<NodeRecord>> ListNodes(TimePoint since) = 0;
  // Removes nodes whose heartbeat is older than `before`.
  virtual Result<int64_t> PruneNodes(TimePoint before) = 0;

  // Retention: deletes up to `batch` terminal instances finished before `before` (with journal,
  // bookmarks, inbox), and held events that expired. Returns how many instances.
  virtual Result<int64_t> PruneFinished(TimePoint before, size_t batch) = 0;
  virtual Result<int64_t> PruneHeldEvents(TimePoint now) = 0;

  virtual Result<StoreStats> Stats(TimePoint now) = 0;
  // Cheap (no query): for metrics on every scrape.
  virtual StoreConnectionStats ConnectionStats() const { return {}; }

  // Secrets. PutSecret inserts or replaces (a replacement keeps the stored created_at; a zero
  // created_at or updated_at is stamped with now). ListSecrets returns every record, sealed,
  // ordered by name (byte order). SecretsGeneration changes whenever a secret is put or deleted (by any
  // process sharing the database) and never on reads, so a cache can tell cheaply that it is stale.
  virtual Status PutSecret(const SecretRecord& secret) = 0;
  virtual Status DeleteSecret(const std::string& name) = 0;  // NotFound when absent
  virtual Result<std::vector<SecretRecord>> ListSecrets() = 0;
  virtual Result<int64_t> SecretsGeneration() = 0;

  // API keys (stored hashed). A zero created_at is stamped with now.
  virtual Status InsertApiKey(const ApiKeyRecord& key) = 0;  // Conflict on a duplicate id or hash
  // The key with this hash, expired or not (the caller checks expires_at); nullopt when none.
  virtual Result<std::optional<ApiKeyRecord>> FindApiKey(const std::string& hash) = 0;
  virtual Result<std::vector<ApiKeyRecord>> ListApiKeys() = 0;  // ordered by created_at, then id
  virtual Status DeleteApiKey(const std::string& id) = 0;       // NotFound when absent
  // Sets last_used_at to `now` (never moves it back). NotFound when absent.
  virtual Status TouchApiKey(const std::string& id, TimePoint now) = 0;

  // Webhook deliveries (kept for inspection and replay; pruned with retention). Insert: Conflict on
  // a duplicate id; a zero received_at is stamped with now. Update sets the answered status and the
  // instances started or resumed; NotFound when absent.
  virtual Status InsertWebhookDelivery(const WebhookDeliveryRecord& delivery) = 0;
  virtual Status UpdateWebhookDelivery(const std::string& id, int status,
                                       const std::vector<std::string>& instance_ids) = 0;
  virtual Result<WebhookDeliveryRecord> GetWebhookDelivery(const std::string& id) = 0;  // NotFound
  // Newest first (received_at, then id, descending), optionally only one path; InvalidArgument on a
  // bad cursor.
  virtual Result<Page<WebhookDeliveryRecord>> ListWebhookDeliveries(const WebhookDeliveryFilter& filter) = 0;
  // Deletes up to `batch` deliveries received before `before`, oldest first. Returns how many.
  virtual Result<int64_t> PruneWebhookDeliveries(TimePoint before, size_t batch) = 0;

  // Wake-ups: a listener that is signalled when instances are created or made runnable (NOTIFY on
  // PostgreSQL, in-process on SQLite).
  virtual Result<std::unique_ptr<WorkListener>> Listen() = 0;
};

// Options common to both providers.
struct StoreOptions {
  size_t journal_output_limit = 64 * 1024;  // bytes of JSON; larger outputs are truncated and flagged
  Clock* clock = nullptr;                   // for created/updated stamps the store adds itself
};

}  // namespace trellis
