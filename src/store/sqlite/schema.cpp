// The SQLite schema, as numbered migrations. Applied migrations are immutable (their checksum is
// recorded): change the schema by appending a migration. Times are Unix milliseconds (INTEGER).
#include "store/sqlite/schema.h"

namespace trellis {

const std::vector<Migration>& SqliteMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "init", R"sql(
CREATE TABLE workflow_definitions (
  id          TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  name        TEXT    NOT NULL DEFAULT '',
  definition  TEXT    NOT NULL,
  published   INTEGER NOT NULL DEFAULT 0,
  frozen      INTEGER NOT NULL DEFAULT 0,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL,
  PRIMARY KEY (id, version)
);
CREATE UNIQUE INDEX workflow_definitions_published ON workflow_definitions (id) WHERE published = 1;

CREATE TABLE workflow_instances (
  id               TEXT    PRIMARY KEY,
  workflow_id      TEXT    NOT NULL,
  version          INTEGER NOT NULL,
  status           TEXT    NOT NULL,
  correlation_id   TEXT    NOT NULL DEFAULT '',
  parent_id        TEXT    NOT NULL DEFAULT '',
  parent_bookmark  TEXT    NOT NULL DEFAULT '',
  start_key        TEXT,
  state            TEXT    NOT NULL,
  created_at       INTEGER NOT NULL,
  updated_at       INTEGER NOT NULL,
  finished_at      INTEGER,
  wake_at          INTEGER,
  runnable         INTEGER NOT NULL DEFAULT 0,
  lease_owner      TEXT,
  lease_expires    INTEGER,
  epoch            INTEGER NOT NULL DEFAULT 0,
  inbox_seq        INTEGER NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX workflow_instances_start_key ON workflow_instances (start_key) WHERE start_key IS NOT NULL;
CREATE INDEX workflow_instances_created ON workflow_instances (created_at DESC, id DESC);
CREATE INDEX workflow_instances_status ON workflow_instances (status, created_at DESC, id DESC);
CREATE INDEX workflow_instances_workflow ON workflow_instances (workflow_id, created_at DESC, id DESC);
CREATE INDEX workflow_instances_correlation ON workflow_instances (correlation_id, created_at DESC, id DESC)
  WHERE correlation_id <> '';
CREATE INDEX workflow_instances_parent ON workflow_instances (parent_id, created_at DESC, id DESC)
  WHERE parent_id <> '';
CREATE INDEX workflow_instances_lease_owner ON workflow_instances (lease_owner) WHERE lease_owner IS NOT NULL;
CREATE INDEX workflow_instances_lease_expires ON workflow_instances (lease_expires) WHERE lease_owner IS NOT NULL;
CREATE INDEX workflow_instances_runnable ON workflow_instances (created_at) WHERE runnable = 1 AND lease_owner IS NULL;
CREATE INDEX workflow_instances_wake ON workflow_instances (wake_at) WHERE wake_at IS NOT NULL AND lease_owner IS NULL;
CREATE INDEX workflow_instances_finished ON workflow_instances (finished_at) WHERE finished_at IS NOT NULL;

CREATE TABLE activity_executions (
  instance_id    TEXT    NOT NULL,
  sequence       INTEGER NOT NULL,
  activity_id    TEXT    NOT NULL,
  activity_type  TEXT    NOT NULL,
  attempt        INTEGER NOT NULL,
  status         TEXT    NOT NULL,
  outcome        TEXT    NOT NULL DEFAULT '',
  started_at     INTEGER NOT NULL,
  finished_at    INTEGER NOT NULL,
  output         TEXT,
  error          TEXT    NOT NULL DEFAULT '',
  truncated      INTEGER NOT NULL DEFAULT 0,
  PRIMARY KEY (instance_id, sequence)
) WITHOUT ROWID;

CREATE TABLE bookmarks (
  instance_id  TEXT NOT NULL,
  id           TEXT NOT NULL,
  kind         TEXT NOT NULL,
  activity_id  TEXT NOT NULL,
  key          TEXT NOT NULL DEFAULT '',
  correlation  TEXT NOT NULL DEFAULT '',
  method       TEXT NOT NULL DEFAULT '',
  due_at       INTEGER,
  PRIMARY KEY (instance_id, id)
) WITHOUT ROWID;
CREATE INDEX bookmarks_match ON bookmarks (kind, key, correlation);

CREATE TABLE inbox (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  instance_id  TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  bookmark_id  TEXT    NOT NULL DEFAULT '',
  payload      TEXT    NOT NULL,
  created_at   INTEGER NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, id);

CREATE TABLE held_events (
  id           INTEGER PRIMARY KEY AUTOINCREMENT,
  name         TEXT    NOT NULL,
  correlation  TEXT    NOT NULL DEFAULT '',
  payload      TEXT    NOT NULL,
  created_at   INTEGER NOT NULL,
  expires_at   INTEGER NOT NULL
);
CREATE INDEX held_events_name ON held_events (name, id);
CREATE INDEX held_events_expiry ON held_events (expires_at);

CREATE TABLE triggers (
  workflow_id  TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  type         TEXT    NOT NULL,
  key          TEXT    NOT NULL,
  method       TEXT    NOT NULL DEFAULT '',
  config       TEXT    NOT NULL DEFAULT '{}'
);
CREATE INDEX triggers_match ON triggers (type, key);
CREATE INDEX triggers_workflow ON triggers (workflow_id);

CREATE TABLE schedules (
  id           TEXT    PRIMARY KEY,
  workflow_id  TEXT    NOT NULL,
  version      INTEGER NOT NULL,
  cron         TEXT    NOT NULL,
  timezone     TEXT    NOT NULL DEFAULT 'UTC',
  misfire      TEXT    NOT NULL DEFAULT 'skip',
  input        TEXT    NOT NULL DEFAULT '{}',
  next_run_at  INTEGER NOT NULL,
  last_run_at  INTEGER
);
CREATE INDEX schedules_due ON schedules (next_run_at);
CREATE INDEX schedules_workflow ON schedules (workflow_id);

CREATE TABLE webhook_deliveries (
  id           TEXT    PRIMARY KEY,
  path         TEXT    NOT NULL,
  method       TEXT    NOT NULL,
  headers      TEXT    NOT NULL DEFAULT '{}',
  query        TEXT    NOT NULL DEFAULT '{}',
  body         BLOB,
  status       INTEGER NOT NULL DEFAULT 0,
  instance_ids TEXT    NOT NULL DEFAULT '[]',
  received_at  INTEGER NOT NULL
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at DESC, id DESC);

CREATE TABLE secrets (
  name        TEXT    PRIMARY KEY,
  key_id      TEXT    NOT NULL,
  nonce       BLOB    NOT NULL,
  ciphertext  BLOB    NOT NULL,
  created_at  INTEGER NOT NULL,
  updated_at  INTEGER NOT NULL
);

CREATE TABLE api_keys (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL DEFAULT '',
  prefix        TEXT    NOT NULL,
  hash          TEXT    NOT NULL UNIQUE,
  role          TEXT    NOT NULL,
  created_at    INTEGER NOT NULL,
  expires_at    INTEGER,
  last_used_at  INTEGER
);

CREATE TABLE nodes (
  id            TEXT    PRIMARY KEY,
  kind          TEXT    NOT NULL,
  hostname      TEXT    NOT NULL DEFAULT '',
  pid           INTEGER NOT NULL DEFAULT 0,
  version       TEXT    NOT NULL DEFAULT '',
  concurrency   INTEGER NOT NULL DEFAULT 0,
  draining      INTEGER NOT NULL DEFAULT 0,
  started_at    INTEGER NOT NULL,
  heartbeat_at  INTEGER NOT NULL
);
)sql"},
      // Counters every process sees (secrets_generation: bumped by each secret put or delete, in the
      // same transaction), and the path filter of the webhook delivery listing.
      {2, "store_meta", R"sql(
CREATE TABLE store_meta (
  name   TEXT    PRIMARY KEY,
  value  INTEGER NOT NULL
);
INSERT INTO store_meta (name, value) VALUES ('secrets_generation', 0);
CREATE INDEX webhook_deliveries_path ON webhook_deliveries (path, received_at DESC, id DESC);
)sql"},
  };
  return kMigrations;
}

}  // namespace trellis
