// The server's tables on PostgreSQL: sealed secrets (with the generation counter in store_meta),
// API keys, and received webhook deliveries. Raw bytes (nonces, ciphertexts, bodies) cross libpq's
// text protocol as hex: decode($n, 'hex') in, encode(col, 'hex') out, so that nothing depends on
// the server's bytea_output setting.
#include "store/postgres/postgres_store_impl.h"

namespace trellis {

namespace {

std::string ToHex(std::string_view bytes) {
  static constexpr char kHex[] = "0123456789abcdef";
  std::string out;
  out.reserve(bytes.size() * 2);
  for (unsigned char c : bytes) {
    out.push_back(kHex[c >> 4]);
    out.push_back(kHex[c & 15]);
  }
  return out;
}

int HexDigit(char c) {
  if (c >= '0' && c <= '9') return c - '0';
  if (c >= 'a' && c <= 'f') return c - 'a' + 10;
  if (c >= 'A' && c <= 'F') return c - 'A' + 10;
  return 0;  // encode() never produces anything else
}

std::string FromHex(std::string_view hex) {
  std::string out;
  out.reserve(hex.size() / 2);
  for (size_t i = 0; i + 1 < hex.size(); i += 2) {
    out.push_back(static_cast<char>(HexDigit(hex[i]) << 4 | HexDigit(hex[i + 1])));
  }
  return out;
}

std::optional<int64_t> OptMillis(const std::optional<TimePoint>& t) {
  if (!t) return std::nullopt;
  return ToMillis(*t);
}

std::optional<TimePoint> OptTime(const pg::Rows& r, int i, int col) {
  if (auto ms = r.OptInt(i, col)) return FromMillis(*ms);
  return std::nullopt;
}

constexpr const char* kSecretCols =
    "SELECT name, key_id, encode(nonce, 'hex'), encode(ciphertext, 'hex'), created_at, updated_at FROM "
    "secrets ";

constexpr const char* kApiKeyCols =
    "SELECT id, name, prefix, hash, role, created_at, expires_at, last_used_at FROM api_keys ";

constexpr const char* kDeliveryCols =
    "SELECT id, path, method, headers, query, coalesce(encode(body, 'hex'), ''), status, instance_ids, "
    "received_at FROM webhook_deliveries ";

SecretRecord SecretFromRow(const pg::Rows& r, int i) {
  return SecretRecord{.name = r.Text(i, 0),
                      .key_id = r.Text(i, 1),
                      .nonce = FromHex(r.Text(i, 2)),
                      .ciphertext = FromHex(r.Text(i, 3)),
                      .created_at = FromMillis(r.Int(i, 4)),
                      .updated_at = FromMillis(r.Int(i, 5))};
}

ApiKeyRecord ApiKeyFromRow(const pg::Rows& r, int i) {
  return ApiKeyRecord{.id = r.Text(i, 0),
                      .name = r.Text(i, 1),
                      .prefix = r.Text(i, 2),
                      .hash = r.Text(i, 3),
                      .role = r.Text(i, 4),
                      .created_at = FromMillis(r.Int(i, 5)),
                      .expires_at = OptTime(r, i, 6),
                      .last_used_at = OptTime(r, i, 7)};
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

WebhookDeliveryRecord DeliveryFromRow(const pg::Rows& r, int i) {
  return WebhookDeliveryRecord{.id = r.Text(i, 0),
                               .path = r.Text(i, 1),
                               .method = r.Text(i, 2),
                               .headers = pg::ParseJsonText(r.Text(i, 3)),
                               .query = pg::ParseJsonText(r.Text(i, 4)),
                               .body = FromHex(r.Text(i, 5)),
                               .status = static_cast<int>(r.Int(i, 6)),
                               .instance_ids = InstanceIds(pg::ParseJsonText(r.Text(i, 7))),
                               .received_at = FromMillis(r.Int(i, 8))};
}

}  // namespace

// ---------------------------------------------------------------------------------------------
// Secrets. The write and the generation bump are one statement (data-modifying CTEs always run to
// completion), so they commit together without a BEGIN/COMMIT round trip.

Status PostgresStore::PutSecret(const SecretRecord& secret) {
  TimePoint now = Now();
  int64_t created = ToMillis(secret.created_at == TimePoint{} ? now : secret.created_at);
  int64_t updated = ToMillis(secret.updated_at == TimePoint{} ? now : secret.updated_at);
  return Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "WITH s AS (INSERT INTO secrets (name, key_id, nonce, ciphertext, created_at, updated_at) "
        "VALUES ($1, $2, decode($3, 'hex'), decode($4, 'hex'), $5, $6) ON CONFLICT (name) DO UPDATE SET "
        "key_id = EXCLUDED.key_id, nonce = EXCLUDED.nonce, ciphertext = EXCLUDED.ciphertext, "
        "updated_at = EXCLUDED.updated_at) "
        "UPDATE store_meta SET value = value + 1 WHERE name = 'secrets_generation'",
        pg::Params()
            .Add(secret.name)
            .Add(secret.key_id)
            .Add(ToHex(secret.nonce))
            .Add(ToHex(secret.ciphertext))
            .Add(created)
            .Add(updated));
    return r.ok() ? Status::Ok() : r.status();
  });
}

Status PostgresStore::DeleteSecret(const std::string& name) {
  int64_t deleted = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    // The counter row is updated only when a secret was deleted: its count is the answer.
    auto r = c.Exec(
        "WITH d AS (DELETE FROM secrets WHERE name = $1 RETURNING 1) "
        "UPDATE store_meta SET value = value + 1 WHERE name = 'secrets_generation' "
        "AND EXISTS (SELECT 1 FROM d)",
        pg::Params().Add(name));
    if (!r.ok()) return r.status();
    deleted = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted > 0 ? Status::Ok() : NotFound("secret " + name + " not found");
}

Result<std::vector<SecretRecord>> PostgresStore::ListSecrets() {
  std::vector<SecretRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    // Byte order, as SQLite sorts.
    auto r = c.Exec(std::string(kSecretCols) + "ORDER BY name COLLATE \"C\"");
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) out.push_back(SecretFromRow(*r, i));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<int64_t> PostgresStore::SecretsGeneration() {
  std::optional<int64_t> generation;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("SELECT value FROM store_meta WHERE name = 'secrets_generation'");
    if (!r.ok()) return r.status();
    generation.reset();
    if (r->size() > 0) generation = r->Int(0, 0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!generation) return Internal("PostgreSQL store: the secrets_generation row is missing");
  return *generation;
}

// ---------------------------------------------------------------------------------------------
// API keys

Status PostgresStore::InsertApiKey(const ApiKeyRecord& key) {
  int64_t created = ToMillis(key.created_at == TimePoint{} ? Now() : key.created_at);
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(
        "INSERT INTO api_keys (id, name, prefix, hash, role, created_at, expires_at, last_used_at) "
        "VALUES ($1, $2, $3, $4, $5, $6, $7, $8)",
        pg::Params()
            .Add(key.id)
            .Add(key.name)
            .Add(key.prefix)
            .Add(key.hash)
            .Add(key.role)
            .Add(created)
            .Add(OptMillis(key.expires_at))
            .Add(OptMillis(key.last_used_at)));
    return r.ok() ? Status::Ok() : r.status();
  });
  if (s.code() == StatusCode::kConflict) {
    return Conflict("an API key with id " + key.id + " or the same hash already exists");
  }
  return s;
}

Result<std::optional<ApiKeyRecord>> PostgresStore::FindApiKey(const std::string& hash) {
  std::optional<ApiKeyRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string(kApiKeyCols) + "WHERE hash = $1", pg::Params().Add(hash));
    if (!r.ok()) return r.status();
    out.reset();
    if (r->size() > 0) out = ApiKeyFromRow(*r, 0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Result<std::vector<ApiKeyRecord>> PostgresStore::ListApiKeys() {
  std::vector<ApiKeyRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string(kApiKeyCols) + "ORDER BY created_at, id COLLATE \"C\"");
    if (!r.ok()) return r.status();
    out.clear();
    for (int i = 0; i < r->size(); ++i) out.push_back(ApiKeyFromRow(*r, i));
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return out;
}

Status PostgresStore::DeleteApiKey(const std::string& id) {
  int64_t deleted = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("DELETE FROM api_keys WHERE id = $1", pg::Params().Add(id));
    if (!r.ok()) return r.status();
    deleted = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return deleted > 0 ? Status::Ok() : NotFound("API key " + id + " not found");
}

Status PostgresStore::TouchApiKey(const std::string& id, TimePoint now) {
  int64_t touched = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    // GREATEST (which skips NULL): a node whose clock is behind never moves last_used_at back.
    auto r = c.Exec("UPDATE api_keys SET last_used_at = GREATEST(last_used_at, $2) WHERE id = $1",
                    pg::Params().Add(id).Add(ToMillis(now)));
    if (!r.ok()) return r.status();
    touched = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return touched > 0 ? Status::Ok() : NotFound("API key " + id + " not found");
}

// ---------------------------------------------------------------------------------------------
// Webhook deliveries

// All of `deliveries` in one statement (a batch of API requests commits several).
Status PostgresStore::InsertDeliveries(pg::Connection& c,
                                       const std::vector<WebhookDeliveryRecord>& deliveries) {
  pg::ArrayLiteral id, path, method, headers, query, body, status, instance_ids, received;
  for (const auto& d : deliveries) {
    id.Add(d.id);
    path.Add(d.path);
    method.Add(d.method);
    headers.Add(pg::JsonText(d.headers));
    query.Add(pg::JsonText(d.query));
    body.Add(ToHex(d.body));
    status.Add(int64_t{d.status});
    instance_ids.Add(pg::JsonText(Json(d.instance_ids)));
    received.Add(ToMillis(d.received_at == TimePoint{} ? Now() : d.received_at));
  }
  auto r = c.Exec(
      "INSERT INTO webhook_deliveries (id, path, method, headers, query, body, status, instance_ids, "
      "received_at) SELECT id, path, method, headers, query, decode(body, 'hex'), status::int, instance_ids, "
      "received_at FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], "
      "$7::bigint[], $8::text[], $9::bigint[]) AS d(id, path, method, headers, query, body, status, "
      "instance_ids, received_at)",
      pg::Params()
          .Add(id.Take())
          .Add(path.Take())
          .Add(method.Take())
          .Add(headers.Take())
          .Add(query.Take())
          .Add(body.Take())
          .Add(status.Take())
          .Add(instance_ids.Take())
          .Add(received.Take()));
  if (!r.ok() && r.status().code() == StatusCode::kConflict) {
    return Conflict(deliveries.size() == 1 ? "webhook delivery " + deliveries[0].id + " already exists"
                                           : "a webhook delivery of the batch already exists");
  }
  return r.ok() ? Status::Ok() : r.status();
}

Status PostgresStore::InsertWebhookDelivery(const WebhookDeliveryRecord& d) {
  return Run(Mode::kWrite, [&](pg::Connection& c) { return InsertDeliveries(c, {d}); });
}

Status PostgresStore::UpdateWebhookDelivery(const std::string& id, int status,
                                            const std::vector<std::string>& instance_ids) {
  int64_t updated = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    auto r = c.Exec("UPDATE webhook_deliveries SET status = $2, instance_ids = $3 WHERE id = $1",
                    pg::Params().Add(id).Add(status).Add(pg::JsonText(Json(instance_ids))));
    if (!r.ok()) return r.status();
    updated = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return updated > 0 ? Status::Ok() : NotFound("webhook delivery " + id + " not found");
}

Result<WebhookDeliveryRecord> PostgresStore::GetWebhookDelivery(const std::string& id) {
  std::optional<WebhookDeliveryRecord> out;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(std::string(kDeliveryCols) + "WHERE id = $1", pg::Params().Add(id));
    if (!r.ok()) return r.status();
    out.reset();
    if (r->size() > 0) out = DeliveryFromRow(*r, 0);
    return Status::Ok();
  });
  if (!s.ok()) return s;
  if (!out) return NotFound("webhook delivery " + id + " not found");
  return std::move(*out);
}

Result<Page<WebhookDeliveryRecord>> PostgresStore::ListWebhookDeliveries(const WebhookDeliveryFilter& f) {
  std::string sql = std::string(kDeliveryCols) + "WHERE true";
  pg::Params p;
  int n = 0;
  auto arg = [&n] { return " $" + std::to_string(++n); };
  if (!f.path.empty()) sql += " AND path =" + arg(), p.Add(f.path);
  if (!f.cursor.empty()) {
    auto pos = DecodeCursor(f.cursor);
    if (!pos.ok()) return pos.status();
    if (!pos->contains("r") || !pos->contains("i") || !(*pos)["r"].is_number_integer() ||
        !(*pos)["i"].is_string()) {
      return InvalidArgument("invalid cursor");
    }
    sql += " AND (received_at, id) < (" + arg() + "::bigint,";
    sql += arg() + "::text)";
    p.Add((*pos)["r"].get<int64_t>()).Add((*pos)["i"].get<std::string>());
  }
  size_t limit = f.limit == 0 ? 50 : f.limit;
  sql += " ORDER BY received_at DESC, id DESC LIMIT" + arg();
  p.Add(limit + 1);
  Page<WebhookDeliveryRecord> page;
  Status s = Run(Mode::kRead, [&](pg::Connection& c) -> Status {
    auto r = c.Exec(sql, p);
    if (!r.ok()) return r.status();
    page = {};
    for (int i = 0; i < r->size() && page.items.size() < limit; ++i)
      page.items.push_back(DeliveryFromRow(*r, i));
    if (static_cast<size_t>(r->size()) > limit) {
      const auto& last = page.items.back();
      page.next_cursor = EncodeCursor(Json{{"r", ToMillis(last.received_at)}, {"i", last.id}});
    }
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return page;
}

Result<int64_t> PostgresStore::PruneWebhookDeliveries(TimePoint before, size_t batch) {
  int64_t n = 0;
  Status s = Run(Mode::kWrite, [&](pg::Connection& c) -> Status {
    // SKIP LOCKED: two nodes pruning at once take different rows instead of waiting on each other.
    auto r = c.Exec(
        "WITH v AS (SELECT id FROM webhook_deliveries WHERE received_at < $1 ORDER BY received_at LIMIT $2 "
        "FOR UPDATE SKIP LOCKED) DELETE FROM webhook_deliveries WHERE id IN (SELECT id FROM v)",
        pg::Params().Add(ToMillis(before)).Add(batch));
    if (!r.ok()) return r.status();
    n = r->Affected();
    return Status::Ok();
  });
  if (!s.ok()) return s;
  return n;
}

}  // namespace trellis
