// The PostgreSQL schema, as numbered migrations. Applied migrations are immutable (their checksum is
// recorded): change the schema by appending a migration. The tables and columns are SQLite's:
// times are Unix milliseconds (BIGINT), flags are booleans, JSON is text (stored and returned
// byte for byte, no re-encoding).
#include "store/postgres/schema.h"

namespace trellis {

const std::vector<Migration>& PostgresMigrations() {
  static const std::vector<Migration> kMigrations = {
      {1, "init", R"sql(
CREATE TABLE workflow_definitions (
  id          TEXT    NOT NULL,
  version     INTEGER NOT NULL,
  name        TEXT    NOT NULL DEFAULT '',
  definition  TEXT    NOT NULL,
  published   BOOLEAN NOT NULL DEFAULT false,
  frozen      BOOLEAN NOT NULL DEFAULT false,
  created_at  BIGINT  NOT NULL,
  updated_at  BIGINT  NOT NULL,
  PRIMARY KEY (id, version)
);
CREATE UNIQUE INDEX workflow_definitions_published ON workflow_definitions (id) WHERE published;

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
  created_at       BIGINT  NOT NULL,
  updated_at       BIGINT  NOT NULL,
  finished_at      BIGINT,
  wake_at          BIGINT,
  runnable         BOOLEAN NOT NULL DEFAULT false,
  lease_owner      TEXT,
  lease_expires    BIGINT,
  epoch            BIGINT  NOT NULL DEFAULT 0,
  inbox_seq        BIGINT  NOT NULL DEFAULT 0
);
CREATE UNIQUE INDEX workflow_instances_start_key ON workflow_instances (start_key) WHERE start_key IS NOT NULL;
CREATE INDEX workflow_instances_created ON workflow_instances (created_at DESC, id DESC);
CREATE INDEX workflow_instances_status ON workflow_instances (status, created_at DESC, id DESC);
CREATE INDEX workflow_instances_workflow ON workflow_instances (workflow_id, created_at DESC, id DESC);
CREATE INDEX workflow_instances_correlation ON workflow_instances (correlation_id, created_at DESC, id DESC)
  WHERE correlation_id <> '';
CREATE INDEX workflow_instances_parent ON workflow_instances (parent_id) WHERE parent_id <> '';
CREATE INDEX workflow_instances_runnable ON workflow_instances (created_at) WHERE runnable AND lease_owner IS NULL;
CREATE INDEX workflow_instances_wake ON workflow_instances (wake_at) WHERE wake_at IS NOT NULL AND lease_owner IS NULL;
CREATE INDEX workflow_instances_lease_expires ON workflow_instances (lease_expires) WHERE lease_owner IS NOT NULL;
CREATE INDEX workflow_instances_finished ON workflow_instances (finished_at) WHERE finished_at IS NOT NULL;
CREATE INDEX workflow_instances_lease_owner ON workflow_instances (lease_owner) WHERE lease_owner IS NOT NULL;

CREATE TABLE activity_executions (
  instance_id    TEXT    NOT NULL,
  sequence       BIGINT  NOT NULL,
  activity_id    TEXT    NOT NULL,
  activity_type  TEXT    NOT NULL,
  attempt        INTEGER NOT NULL,
  status         TEXT    NOT NULL,
  outcome        TEXT    NOT NULL DEFAULT '',
  started_at     BIGINT  NOT NULL,
  finished_at    BIGINT  NOT NULL,
  output         TEXT,
  error          TEXT    NOT NULL DEFAULT '',
  truncated      BOOLEAN NOT NULL DEFAULT false,
  PRIMARY KEY (instance_id, sequence)
);

CREATE TABLE bookmarks (
  instance_id  TEXT   NOT NULL,
  id           TEXT   NOT NULL,
  kind         TEXT   NOT NULL,
  activity_id  TEXT   NOT NULL,
  key          TEXT   NOT NULL DEFAULT '',
  correlation  TEXT   NOT NULL DEFAULT '',
  method       TEXT   NOT NULL DEFAULT '',
  due_at       BIGINT,
  PRIMARY KEY (instance_id, id)
);
CREATE INDEX bookmarks_match ON bookmarks (kind, key, correlation);

CREATE TABLE inbox (
  id           BIGSERIAL PRIMARY KEY,
  instance_id  TEXT    NOT NULL,
  kind         TEXT    NOT NULL,
  bookmark_id  TEXT    NOT NULL DEFAULT '',
  payload      TEXT    NOT NULL,
  created_at   BIGINT  NOT NULL
);
CREATE INDEX inbox_instance ON inbox (instance_id, id);

CREATE TABLE held_events (
  id           BIGSERIAL PRIMARY KEY,
  name         TEXT    NOT NULL,
  correlation  TEXT    NOT NULL DEFAULT '',
  payload      TEXT    NOT NULL,
  created_at   BIGINT  NOT NULL,
  expires_at   BIGINT  NOT NULL
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
  next_run_at  BIGINT  NOT NULL,
  last_run_at  BIGINT
);
CREATE INDEX schedules_due ON schedules (next_run_at);
CREATE INDEX schedules_workflow ON schedules (workflow_id);

CREATE TABLE webhook_deliveries (
  id           TEXT    PRIMARY KEY,
  path         TEXT    NOT NULL,
  method       TEXT    NOT NULL,
  headers      TEXT    NOT NULL DEFAULT '{}',
  query        TEXT    NOT NULL DEFAULT '{}',
  body         BYTEA,
  status       INTEGER NOT NULL DEFAULT 0,
  instance_ids TEXT    NOT NULL DEFAULT '[]',
  received_at  BIGINT  NOT NULL
);
CREATE INDEX webhook_deliveries_received ON webhook_deliveries (received_at DESC, id DESC);

CREATE TABLE secrets (
  name        TEXT    PRIMARY KEY,
  key_id      TEXT    NOT NULL,
  nonce       BYTEA   NOT NULL,
  ciphertext  BYTEA   NOT NULL,
  created_at  BIGINT  NOT NULL,
  updated_at  BIGINT  NOT NULL
);

CREATE TABLE api_keys (
  id            TEXT    PRIMARY KEY,
  name          TEXT    NOT NULL DEFAULT '',
  prefix        TEXT    NOT NULL,
  hash          TEXT    NOT NULL UNIQUE,
  role          TEXT    NOT NULL,
  created_at    BIGINT  NOT NULL,
  expires_at    BIGINT,
  last_used_at  BIGINT
);

CREATE TABLE nodes (
  id            TEXT    PRIMARY KEY,
  kind          TEXT    NOT NULL,
  hostname      TEXT    NOT NULL DEFAULT '',
  pid           BIGINT  NOT NULL DEFAULT 0,
  version       TEXT    NOT NULL DEFAULT '',
  concurrency   INTEGER NOT NULL DEFAULT 0,
  draining      BOOLEAN NOT NULL DEFAULT false,
  started_at    BIGINT  NOT NULL,
  heartbeat_at  BIGINT  NOT NULL
);
)sql"},
      // Counters every process sees (secrets_generation: bumped by each secret put or delete, in the
      // same transaction), and the path filter of the webhook delivery listing.
      {2, "store_meta", R"sql(
CREATE TABLE store_meta (
  name   TEXT    PRIMARY KEY,
  value  BIGINT  NOT NULL
);
INSERT INTO store_meta (name, value) VALUES ('secrets_generation', 0);
CREATE INDEX webhook_deliveries_path ON webhook_deliveries (path, received_at DESC, id DESC);
)sql"},
      // Room on each page for heap-only (HOT) updates: a commit between two activities changes no
      // indexed column, so with free space on the row's page PostgreSQL writes no index entry for
      // it. At the default fillfactor (100) every page is full and each such commit added an entry
      // to all twelve indexes of the table. Applies to pages written from now on.
      {3, "instances_fillfactor", R"sql(
ALTER TABLE workflow_instances SET (fillfactor = 70);
)sql"},
  };
  return kMigrations;
}

}  // namespace trellis
