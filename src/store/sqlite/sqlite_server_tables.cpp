// The server's tables on SQLite: sealed secrets (with the generation counter in store_meta), API
// keys, and received webhook deliveries.
#include "store/sqlite/sqlite_store_impl.h"
#include "store/store_util.h"

namespace trellis {

namespace {

constexpr const char* kSecretColumns =
    "SELECT name, key_id, nonce, ciphertext, created_at, updated_at FROM secrets ";

constexpr const char* kApiKeyColumns =
    "SELECT id, name, prefix, hash, role, created_at, expires_at, last_used_at FROM api_keys ";

constexpr const char* kDeliveryColumns =
    "SELECT id, path, method, headers, query, body, status, instance_ids, received_at FROM "
    "webhook_deliveries ";

constexpr const char* kBumpSecretsGeneration =
    "UPDATE store_meta SET value = value + 1 WHERE name = 'secrets_generation'";

SecretRecord ReadSecret(const SqliteStmt& s) {
  return SecretRecord{.name = s.Text(0),
                      .key_id = s.Text(1),
                      .nonce = s.BlobAt(2),
                      .ciphertext = s.BlobAt(3),
                      .created_at = s.Time(4),
                      .updated_at = s.Time(5)};
}

ApiKeyRecord ReadApiKey(const SqliteStmt& s) {
  return ApiKeyRecord{.id = s.Text(0),
                      .name = s.Text(1),
                      .prefix = s.Text(2),
                      .hash = s.Text(3),
                      .role = s.Text(4),
                      .created_at = s.Time(5),
                      .expires_at = s.OptTime(6),
                      .last_used_at = s.OptTime(7)};
}

// The stored JSON array of instance ids; anything else (never written by the store) reads as none.
std::vector<std::string> InstanceIds(const Json& j) {
  std::vector<std::string> out;
  if (!j.is_array()) return out;
  for (const auto& id : j) {
    if (id.is_string()) out.push_back(id.get<std::string>());
  }
  return out;
}

WebhookDeliveryRecord ReadDelivery(const SqliteStmt& s) {
  return WebhookDeliveryRecord{.id = s.Text(0),
                               .path = s.Text(1),
                               .method = s.Text(2),
                               .headers = s.JsonAt(3),
                               .query = s.JsonAt(4),
                               .body = s.BlobAt(5),
                               .status = static_cast<int>(s.Int(6)),
                               .instance_ids = InstanceIds(s.JsonAt(7)),
                               .received_at = s.Time(8)};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Secrets

Status SqliteStore::PutSecret(const SecretRecord& secret) {
  return Run([&]() -> Status {
    TimePoint now = Now();
    TimePoint created = secret.created_at == TimePoint{} ? now : secret.created_at;
    TimePoint updated = secret.updated_at == TimePoint{} ? now : secret.updated_at;
    SqliteTxn txn(*db_);
    db_->Prepare(
           "INSERT INTO secrets (name, key_id, nonce, ciphertext, created_at, updated_at) "
           "VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (name) DO UPDATE SET key_id = excluded.key_id, "
           "nonce = excluded.nonce, ciphertext = excluded.ciphertext, updated_at = excluded.updated_at")
        .Args(secret.name, secret.key_id, SqliteBlob{secret.nonce}, SqliteBlob{secret.ciphertext}, created,
              updated)
        .Run();
    db_->Prepare(kBumpSecretsGeneration).Run();
    txn.Commit();
    return Status::Ok();
  });
}

Status SqliteStore::DeleteSecret(const std::string& name) {
  return Run([&]() -> Status {
    SqliteTxn txn(*db_);
    if (db_->Prepare("DELETE FROM secrets WHERE name = ?").Args(name).Run() == 0) {
      return NotFound("secret " + name + " not found");
    }
    db_->Prepare(kBumpSecretsGeneration).Run();
    txn.Commit();
    return Status::Ok();
  });
}

Result<std::vector<SecretRecord>> SqliteStore::ListSecrets() {
  return Run([&]() -> Result<std::vector<SecretRecord>> {
    std::vector<SecretRecord> out;
    auto stmt = db_->Prepare(std::string(kSecretColumns) + "ORDER BY name");
    while (stmt.Step()) out.push_back(ReadSecret(stmt));
    return out;
  });
}

Result<int64_t> SqliteStore::SecretsGeneration() {
  return Run([&]() -> Result<int64_t> {
    auto stmt = db_->Prepare("SELECT value FROM store_meta WHERE name = 'secrets_generation'");
    if (!stmt.Step()) return Internal("SQLite store: the secrets_generation row is missing");
    return stmt.Int(0);
  });
}

// ---------------------------------------------------------------------------------------------
// API keys

Status SqliteStore::InsertApiKey(const ApiKeyRecord& key) {
  return Run([&]() -> Status {
    TimePoint created = key.created_at == TimePoint{} ? Now() : key.created_at;
    try {
      db_->Prepare(
             "INSERT INTO api_keys (id, name, prefix, hash, role, created_at, expires_at, last_used_at) "
             "VALUES (?, ?, ?, ?, ?, ?, ?, ?)")
          .Args(key.id, key.name, key.prefix, key.hash, key.role, created, key.expires_at, key.last_used_at)
          .Run();
    } catch (const SqliteError& e) {
      if (e.status().code() != StatusCode::kConflict) throw;
      return Conflict("an API key with id " + key.id + " or the same hash already exists");
    }
    return Status::Ok();
  });
}

Result<std::optional<ApiKeyRecord>> SqliteStore::FindApiKey(const std::string& hash) {
  return Run([&]() -> Result<std::optional<ApiKeyRecord>> {
    auto stmt = db_->Prepare(std::string(kApiKeyColumns) + "WHERE hash = ?");
    if (!stmt.Args(hash).Step()) return std::optional<ApiKeyRecord>();
    return std::optional<ApiKeyRecord>(ReadApiKey(stmt));
  });
}

Result<std::vector<ApiKeyRecord>> SqliteStore::ListApiKeys() {
  return Run([&]() -> Result<std::vector<ApiKeyRecord>> {
    std::vector<ApiKeyRecord> out;
    auto stmt = db_->Prepare(std::string(kApiKeyColumns) + "ORDER BY created_at, id");
    while (stmt.Step()) out.push_back(ReadApiKey(stmt));
    return out;
  });
}

Status SqliteStore::DeleteApiKey(const std::string& id) {
  return Run([&]() -> Status {
    if (db_->Prepare("DELETE FROM api_keys WHERE id = ?").Args(id).Run() == 0) {
      return NotFound("API key " + id + " not found");
    }
    return Status::Ok();
  });
}

Status SqliteStore::TouchApiKey(const std::string& id, TimePoint now) {
  return Run([&]() -> Status {
    // max(): a node whose clock is behind never moves last_used_at back.
    int64_t changed =
        db_->Prepare("UPDATE api_keys SET last_used_at = max(coalesce(last_used_at, ?1), ?1) WHERE id = ?2")
            .Args(now, id)
            .Run();
    if (changed == 0) return NotFound("API key " + id + " not found");
    return Status::Ok();
  });
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries

void SqliteStore::InsertDelivery(const WebhookDeliveryRecord& d) {
  TimePoint received = d.received_at == TimePoint{} ? Now() : d.received_at;
  db_->Prepare(
         "INSERT INTO webhook_deliveries (id, path, method, headers, query, body, status, instance_ids, "
         "received_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)")
      .Args(d.id, d.path, d.method, JsonText(d.headers), JsonText(d.query), SqliteBlob{d.body}, d.status,
            JsonText(Json(d.instance_ids)), received)
      .Run();
}

Status SqliteStore::InsertWebhookDelivery(const WebhookDeliveryRecord& d) {
  return Run([&]() -> Status {
    try {
      InsertDelivery(d);
    } catch (const SqliteError& e) {
      if (e.status().code() != StatusCode::kConflict) throw;
      return Conflict("webhook delivery " + d.id + " already exists");
    }
    return Status::Ok();
  });
}

Status SqliteStore::UpdateWebhookDelivery(const std::string& id, int status,
                                          const std::vector<std::string>& instance_ids) {
  return Run([&]() -> Status {
    int64_t changed = db_->Prepare("UPDATE webhook_deliveries SET status = ?, instance_ids = ? WHERE id = ?")
                          .Args(status, JsonText(Json(instance_ids)), id)
                          .Run();
    if (changed == 0) return NotFound("webhook delivery " + id + " not found");
    return Status::Ok();
  });
}

Result<WebhookDeliveryRecord> SqliteStore::GetWebhookDelivery(const std::string& id) {
  return Run([&]() -> Result<WebhookDeliveryRecord> {
    auto stmt = db_->Prepare(std::string(kDeliveryColumns) + "WHERE id = ?");
    if (!stmt.Args(id).Step()) return NotFound("webhook delivery " + id + " not found");
    return ReadDelivery(stmt);
  });
}

Result<Page<WebhookDeliveryRecord>> SqliteStore::ListWebhookDeliveries(const WebhookDeliveryFilter& filter) {
  std::optional<int64_t> cursor_received;
  std::string cursor_id;
  if (!filter.cursor.empty()) {
    auto position = DecodeCursor(filter.cursor);
    if (!position.ok()) return position.status();
    const Json& p = *position;
    if (!p.contains("r") || !p["r"].is_number_integer() || !p.contains("i") || !p["i"].is_string()) {
      return InvalidArgument("invalid cursor");
    }
    cursor_received = p["r"].get<int64_t>();
    cursor_id = p["i"].get<std::string>();
  }
  size_t limit = filter.limit == 0 ? 50 : filter.limit;
  // Four shapes (path filter, cursor), each prepared once.
  std::string sql = std::string(kDeliveryColumns) + "WHERE 1";
  if (!filter.path.empty()) sql += " AND path = ?1";
  if (cursor_received) sql += " AND (received_at < ?2 OR (received_at = ?2 AND id < ?3))";
  sql += " ORDER BY received_at DESC, id DESC LIMIT ?4";
  return Run([&]() -> Result<Page<WebhookDeliveryRecord>> {
    auto stmt = db_->Prepare(sql);
    if (!filter.path.empty()) stmt.Bind(1, filter.path);
    if (cursor_received) stmt.Bind(2, *cursor_received).Bind(3, cursor_id);
    stmt.Bind(4, static_cast<int64_t>(limit + 1));
    Page<WebhookDeliveryRecord> page;
    while (stmt.Step()) page.items.push_back(ReadDelivery(stmt));
    if (page.items.size() > limit) {
      page.items.pop_back();
      const auto& last = page.items.back();
      page.next_cursor = EncodeCursor(Json{{"r", ToMillis(last.received_at)}, {"i", last.id}});
    }
    return page;
  });
}

Result<int64_t> SqliteStore::PruneWebhookDeliveries(TimePoint before, size_t batch) {
  return Run([&]() -> Result<int64_t> {
    return db_
        ->Prepare(
            "DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM webhook_deliveries "
            "WHERE received_at < ? ORDER BY received_at LIMIT ?)")
        .Args(before, static_cast<int64_t>(batch))
        .Run();
  });
}

}  // namespace trellis
