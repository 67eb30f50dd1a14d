// SqliteStore: the Store on one SQLite connection. Its methods live in several files:
// sqlite_store.cpp (opening, migrations, nodes, retention, stats, wake-ups),
// sqlite_definitions.cpp (definitions, schedules, triggers), sqlite_instances.cpp (instances,
// journal, claims, leases), sqlite_signals.cpp (commits and inbox deliveries) and
// sqlite_server_tables.cpp (secrets, API keys, webhook deliveries).
#pragma once

#include <condition_variable>
#include <mutex>

#include "store/sqlite/sqlite_checkpointer.h"
#include "store/sqlite/sqlite_db.h"
#include "store/store.h"

namespace trellis {

// Wake-ups in process: a generation counter bumped by every announcement.
struct SqliteWorkSignal {
  std::mutex mu;  // guards generation and the listeners' interrupt flags
  std::condition_variable cv;
  uint64_t generation = 0;
};

class SqliteStore final : public Store {
 public:
  SqliteStore(std::string path, std::unique_ptr<SqliteFileLock> lock, std::unique_ptr<SqliteDb> db,
              const StoreOptions& options);
  ~SqliteStore() override;

  std::string provider() const override { return "sqlite"; }
  std::string Describe() const override { return "SQLite path=" + path_; }

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
  // One connection, always open: reported as active.
  StoreConnectionStats ConnectionStats() const override { return {.active = 1, .idle = 0}; }

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
  // Runs `body` holding mu_, turning a SqliteError (or corrupt JSON) into the returned Status.
  template <typename F>
  auto Run(F&& body) -> decltype(body()) {
    std::lock_guard<std::mutex> lock(mu_);
    try {
      return body();
    } catch (const SqliteError& e) {
      return e.status();
    } catch (const Json::exception& e) {
      return Internal(std::string("SQLite store: JSON: ") + e.what());
    }
  }

  // Wakes every listener.
  void Announce();

  // Helpers that run inside a transaction (mu_ held).
  std::vector<MigrationInfo> AppliedMigrations();
  // Inserts unless the id or start_key exists, with its journal records; true when inserted.
  bool InsertInstance(const NewInstance& instance, const std::string& owner,
                      std::optional<TimePoint> lease_expires, int64_t epoch,
                      const std::string* state_text = nullptr);
  void InsertJournal(const std::string& instance_id, const std::vector<JournalRecord>& journal);
  void InsertDelivery(const WebhookDeliveryRecord& delivery);  // Conflict (SqliteError) on a duplicate id
  // Writes an inbox item, bumps inbox_seq and makes the instance runnable.
  void WriteInbox(const std::string& instance_id, InboxKind kind, std::string_view bookmark_id,
                  std::string_view payload, TimePoint now);
  // DeliverEvent's matching and holding; returns what happened.
  DeliveryResult MatchEvent(const EventSignal& event, std::string_view payload,
                            std::chrono::milliseconds hold, TimePoint now);
  // Applies one commit item; false when fenced. Sets *announce when it made work.
  bool CommitOne(const InstanceCommit& c, bool* announce);
  void WriteBookmarks(const InstanceCommit& c, bool* announce);
  void DeleteInstanceRows(const std::string& id);
  TimePoint Now() const { return clock_->Now(); }

  const std::string path_;
  const StoreOptions options_;
  Clock* const clock_;
  std::unique_ptr<SqliteFileLock> lock_;
  std::mutex mu_;                 // guards db_: the one connection, its statement cache and transactions
  std::unique_ptr<SqliteDb> db_;  // guarded by mu_
  std::unique_ptr<SqliteCheckpointer> checkpointer_;  // none for ":memory:"
  std::shared_ptr<SqliteWorkSignal> signal_;
};

}  // namespace trellis
