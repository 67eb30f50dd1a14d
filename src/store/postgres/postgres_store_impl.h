// The PostgreSQL Store (private to src/store/postgres/). Methods are split by area:
// postgres_store.cpp (open, Run(), migrations, definitions), postgres_maintenance.cpp (schedules,
// nodes, retention, stats), postgres_instances.cpp (instances, claims, leases, signals),
// postgres_commit.cpp (group commit), postgres_listener.cpp (LISTEN/NOTIFY) and
// postgres_server_tables.cpp (secrets, API keys, webhook deliveries). Every operation runs through
// Run(), which acquires a pooled connection, wraps the work in a transaction when asked, and
// retries serialization failures, deadlocks, and a connection that broke before anything was
// committed.
#pragma once

#include <functional>
#include <string>
#include <vector>

#include "store/postgres/pg_connection.h"
#include "store/postgres/postgres_store.h"
#include "store/store_util.h"

namespace trellis {

namespace pg {
inline constexpr const char* kWorkChannel = "trellis_work";
// Columns of workflow_instances in InstanceFromRow's order, without and with the state.
inline constexpr const char* kInstanceCols =
    "id, workflow_id, version, status, correlation_id, parent_id, parent_bookmark, coalesce(start_key, ''), "
    "created_at, updated_at, finished_at, wake_at, runnable, coalesce(lease_owner, ''), lease_expires, "
    "epoch, "
    "inbox_seq";
InstanceRecord InstanceFromRow(const Rows& rows, int row, int state_col);  // state_col < 0: no state
Json ParseJsonText(const std::string& text);
std::string JsonText(const Json& j);
// A trigger from the columns workflow_id, version, type, key, method, config starting at `col`.
TriggerRow TriggerFromRow(const Rows& r, int i, int col);
// The SQL that bumps inbox_seq and writes inbox items for a batch of deliveries (unnest arrays:
// $1 instance ids, $2 kinds, $3 bookmark ids, $4 payloads; $5 now). Returns one row per delivered item.
extern const char* const kDeliverBatchSql;
// Columns of activity_executions, and the 12 unnest() arrays of journal records for them.
#define TRELLIS_JOURNAL_INSERT                                                                    \
  "INSERT INTO activity_executions (instance_id, sequence, activity_id, activity_type, attempt, " \
  "status, outcome, started_at, finished_at, output, error, truncated) "
// Appends the 12 arrays (instance id, sequence, activity id, type, attempt, status, outcome, started,
// finished, output, error, truncated) for the records of each (instance id, records) pair; outputs
// over `output_limit` are truncated and flagged. Returns the number of records.
size_t AddJournalArrays(
    Params& p, const std::vector<std::pair<const std::string*, const std::vector<JournalRecord>*>>& of,
    size_t output_limit);
}  // namespace pg

class PostgresStore final : public Store {
 public:
  PostgresStore(DatabaseSettings settings, StoreOptions options, std::string describe);

  std::string provider() const override { return "postgres"; }
  std::string Describe() const override { return describe_; }
  Result<std::vector<MigrationInfo>> Migrate() override;
  Result<std::vector<MigrationInfo>> MigrationStatus() override;
  Status Ping() override;

  Status InsertDefinition(const DefinitionRecord& record) override;
  Status UpdateDefinitionDraft(const std::string& id, int version, const Json& definition,
                               const std::string& name, TimePoint now) override;
  Status PublishDefinition(const std::string& id, std::optional<int> version,
                           const std::vector<ScheduleRow>& schedules, const std::vector<TriggerRow>& triggers,
                           TimePoint now) override;
  Result<DefinitionRecord> GetDefinition(const std::string& id, std::optional<int> version) override;
  Result<std::vector<DefinitionRecord>> ListDefinitionVersions(const std::string& id) override;
  Result<Page<DefinitionRecord>> ListDefinitions(const DefinitionFilter& filter) override;
  Status DeleteDefinition(const std::string& id) override;
  Result<std::vector<TriggerRow>> FindTriggers(const std::string& type, const std::string& key) override;

  Result<std::vector<std::string>> CreateInstances(const std::vector<NewInstance>& instances) override;
  Result<std::vector<std::string>> CreateInstancesAndDeliveries(
      const std::vector<NewInstance>& instances,
      const std::vector<WebhookDeliveryRecord>& deliveries) override;
  Result<int64_t> CreateClaimedInstance(const NewInstance& instance, const std::string& owner,
                                        std::chrono::milliseconds lease, TimePoint now) override;
  Result<InstanceRecord> GetInstance(const std::string& id) override;
  Result<Page<InstanceRecord>> ListInstances(const InstanceFilter& filter) override;
  Result<Page<JournalEntry>> ListJournal(const std::string& instance_id, uint64_t after_sequence,
                                         size_t limit) override;
  Status DeleteInstance(const std::string& id) override;

  Result<std::vector<ClaimedInstance>> Claim(const ClaimRequest& request) override;
  Result<std::vector<CommitOutcome>> Commit(const std::vector<InstanceCommit>& commits) override;
  Result<int64_t> RenewLeases(const std::string& owner, std::chrono::milliseconds lease,
                              TimePoint now) override;
  Status ReleaseLeases(const std::string& owner,
                       const std::vector<std::pair<std::string, int64_t>>& ids_and_epochs) override;

  Result<DeliveryResult> DeliverEvent(const EventSignal& event, std::chrono::milliseconds hold,
                                      TimePoint now) override;
  Result<DeliveryResult> DeliverWebhook(const std::string& path, const std::string& method,
                                        const Json& request, TimePoint now) override;
  Result<WebhookReceipt> ReceiveWebhook(const std::string& path, const std::string& method,
                                        const Json& request, TimePoint now) override;
  std::vector<Result<WebhookReceipt>> ReceiveWebhooks(const std::vector<WebhookArrival>& calls) override;
  Status Deliver(const InboxDelivery& delivery, TimePoint now) override;

  Result<int64_t> FireDueSchedules(TimePoint now, size_t limit,
                                   const std::function<ScheduleFiring(const ScheduleRow&)>& fire) override;
  Result<std::vector<ScheduleRow>> ListSchedules() override;

  Status UpsertNode(const NodeRecord& node) override;
  Status RemoveNode(const std::string& id) override;
  Result<std::vector<NodeRecord>> ListNodes(TimePoint since) override;
  Result<int64_t> PruneNodes(TimePoint before) override;
  Result<int64_t> PruneFinished(TimePoint before, size_t batch) override;
  Result<int64_t> PruneHeldEvents(TimePoint now) override;
  Result<StoreStats> Stats(TimePoint now) override;
  StoreConnectionStats ConnectionStats() const override;

  Status PutSecret(const SecretRecord& secret) override;
  Status DeleteSecret(const std::string& name) override;
  Result<std::vector<SecretRecord>> ListSecrets() override;
  Result<int64_t> SecretsGeneration() override;

  Status InsertApiKey(const ApiKeyRecord& key) override;
  Result<std::optional<ApiKeyRecord>> FindApiKey(const std::string& hash) override;
  Result<std::vector<ApiKeyRecord>> ListApiKeys() override;
  Status DeleteApiKey(const std::string& id) override;
  Status TouchApiKey(const std::string& id, TimePoint now) override;

  Status InsertWebhookDelivery(const WebhookDeliveryRecord& delivery) override;
  Status UpdateWebhookDelivery(const std::string& id, int status,
                               const std::vector<std::string>& instance_ids) override;
  Result<WebhookDeliveryRecord> GetWebhookDelivery(const std::string& id) override;
  Result<Page<WebhookDeliveryRecord>> ListWebhookDeliveries(const WebhookDeliveryFilter& filter) override;
  Result<int64_t> PruneWebhookDeliveries(TimePoint before, size_t batch) override;
  Result<std::unique_ptr<WorkListener>> Listen() override;

 private:
  enum class Mode {
    kRead,             // autocommit reads: safe to repeat on a fresh connection
    kWrite,            // one autocommit write: a lost connection is reported, not repeated
    kRepeatableWrite,  // one autocommit write that is harmless to repeat: retried like a read
    kTx,               // BEGIN ... COMMIT around the work
  };
  // Runs `fn` on a pooled connection. `fn` must (re)initialise what it outputs: it may run again.
  Status Run(Mode mode, const std::function<Status(pg::Connection&)>& fn);

  // Inserts instances (CreateInstances, commit children, schedule firings) on `c`; returns ids
  // created. `claimable`, when given, is set when one of them was created runnable and unleased.
  Result<std::vector<std::string>> InsertInstances(pg::Connection& c,
                                                   const std::vector<NewInstance>& instances,
                                                   bool* claimable = nullptr);
  // Matches and consumes event bookmarks of one name (its advisory lock held); holds the event when
  // nothing matched and hold > 0.
  Result<DeliveryResult> DeliverEventOn(pg::Connection& c, const EventSignal& event,
                                        std::chrono::milliseconds hold, TimePoint now);
  // Takes the per-event-name advisory locks, sorted, in the current transaction.
  Status LockEventNames(pg::Connection& c, std::vector<std::string> names);
  static Status Notify(pg::Connection& c);
  Status InsertDeliveries(pg::Connection& c, const std::vector<WebhookDeliveryRecord>& deliveries);

  TimePoint Now() const;

  DatabaseSettings settings_;
  StoreOptions options_;
  std::string describe_;
  pg::Pool pool_;
};

}  // namespace trellis
