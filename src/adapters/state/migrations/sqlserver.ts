import type { SqlMigration } from './postgres';

/**
 * SQL Server state schema, as ordered migrations (T-SQL batches without `GO`). `init()`
 * applies the missing ones inside one transaction under `sp_getapplock`, recording each in
 * `<schema>.migrations`. Never edit a released migration: add the next version.
 *
 * Key columns use a binary collation so that ids compare exactly (the default collation is
 * case-insensitive, which would make `Orders` and `orders` one definition) and keyset paging
 * orders the same way as the comparisons. `s` is the bracket-quoted schema.
 */
const KEY = 'COLLATE Latin1_General_100_BIN2';

const configTable = (s: string, name: string) => `
CREATE TABLE ${s}.${name} (
  id          NVARCHAR(200) ${KEY} NOT NULL CONSTRAINT PK_${name} PRIMARY KEY,
  doc         NVARCHAR(MAX) NOT NULL,
  version     BIGINT NOT NULL CONSTRAINT DF_${name}_version DEFAULT 1,
  created_at  DATETIME2(3) NOT NULL CONSTRAINT DF_${name}_created DEFAULT SYSUTCDATETIME(),
  updated_at  DATETIME2(3) NOT NULL CONSTRAINT DF_${name}_updated DEFAULT SYSUTCDATETIME()
);`;

export const SQLSERVER_MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    name: 'initial state schema',
    sql: (s) => `
${configTable(s, 'sources')}
${configTable(s, 'sharepoint_connections')}
${configTable(s, 'definitions')}

CREATE TABLE ${s}.ledger (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  identity_hash  NVARCHAR(128) ${KEY} NOT NULL,
  list_id        NVARCHAR(256) ${KEY} NOT NULL,
  item_id        NVARCHAR(128) ${KEY} NULL,
  content_hash   NVARCHAR(128) NOT NULL,
  state          NVARCHAR(16) NOT NULL CONSTRAINT CK_ledger_state CHECK (state IN (N'pending', N'synced', N'moving', N'deleted')),
  moved_from     NVARCHAR(MAX) NULL,
  created_at     DATETIME2(3) NOT NULL CONSTRAINT DF_ledger_created DEFAULT SYSUTCDATETIME(),
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_ledger_updated DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_ledger PRIMARY KEY (definition_id, identity_hash)
);
-- The reverse index: one identity per SharePoint item; pending creates (no item yet) are exempt.
CREATE UNIQUE INDEX UX_ledger_item ON ${s}.ledger (definition_id, list_id, item_id) WHERE item_id IS NOT NULL;

CREATE TABLE ${s}.cursors (
  definition_id    NVARCHAR(128) ${KEY} NOT NULL,
  source_id        NVARCHAR(200) ${KEY} NOT NULL,
  position         NVARCHAR(MAX) NULL,
  mapping_version  INT NOT NULL,
  updated_at       DATETIME2(3) NOT NULL CONSTRAINT DF_cursors_updated DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_cursors PRIMARY KEY (definition_id, source_id)
);

CREATE TABLE ${s}.runs (
  run_id            NVARCHAR(200) ${KEY} NOT NULL CONSTRAINT PK_runs PRIMARY KEY,
  definition_id     NVARCHAR(128) ${KEY} NOT NULL,
  mode              NVARCHAR(32) NOT NULL,
  run_trigger       NVARCHAR(32) NOT NULL,
  status            NVARCHAR(32) NOT NULL,
  source_id         NVARCHAR(200) NULL,
  started_at        DATETIME2(3) NOT NULL,
  finished_at       DATETIME2(3) NULL,
  high_water        NVARCHAR(MAX) NULL,
  n_read            INT NOT NULL CONSTRAINT DF_runs_read DEFAULT 0,
  n_created         INT NOT NULL CONSTRAINT DF_runs_created DEFAULT 0,
  n_updated         INT NOT NULL CONSTRAINT DF_runs_updated DEFAULT 0,
  n_unchanged       INT NOT NULL CONSTRAINT DF_runs_unchanged DEFAULT 0,
  n_moved           INT NOT NULL CONSTRAINT DF_runs_moved DEFAULT 0,
  n_deleted         INT NOT NULL CONSTRAINT DF_runs_deleted DEFAULT 0,
  n_failed          INT NOT NULL CONSTRAINT DF_runs_failed DEFAULT 0,
  batches_expected  INT NOT NULL CONSTRAINT DF_runs_expected DEFAULT 0,
  batches_settled   INT NOT NULL CONSTRAINT DF_runs_settled DEFAULT 0,
  error             NVARCHAR(MAX) NULL,
  run_plan          NVARCHAR(MAX) NULL,
  listed_at         DATETIME2(3) NOT NULL
);
CREATE INDEX IX_runs_newest_first ON ${s}.runs (definition_id, listed_at DESC, run_id);

CREATE TABLE ${s}.failures (
  definition_id    NVARCHAR(128) ${KEY} NOT NULL,
  identity_hash    NVARCHAR(128) ${KEY} NOT NULL,
  row_key          NVARCHAR(MAX) NOT NULL,
  attempts         INT NOT NULL,
  last_error       NVARCHAR(MAX) NOT NULL,
  last_run_id      NVARCHAR(200) NULL,
  quarantined      BIT NOT NULL,
  first_failed_at  DATETIME2(3) NOT NULL,
  last_failed_at   DATETIME2(3) NOT NULL,
  CONSTRAINT PK_failures PRIMARY KEY (definition_id, identity_hash)
);

CREATE TABLE ${s}.moves (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  move_id        NVARCHAR(200) ${KEY} NOT NULL,
  identity_hash  NVARCHAR(128) NOT NULL,
  from_list_id   NVARCHAR(256) NOT NULL,
  from_item_id   NVARCHAR(128) NOT NULL,
  to_list_id     NVARCHAR(256) NOT NULL,
  to_item_id     NVARCHAR(128) NOT NULL,
  run_id         NVARCHAR(200) NULL,
  at             DATETIME2(3) NOT NULL,
  CONSTRAINT PK_moves PRIMARY KEY (definition_id, move_id)
);
CREATE INDEX IX_moves_newest_first ON ${s}.moves (definition_id, at DESC, move_id);

CREATE TABLE ${s}.leases (
  name        NVARCHAR(400) ${KEY} NOT NULL CONSTRAINT PK_leases PRIMARY KEY,
  holder      NVARCHAR(400) ${KEY} NOT NULL,
  expires_at  DATETIME2(3) NOT NULL
);

CREATE TABLE ${s}.schedule_slots (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL CONSTRAINT PK_schedule_slots PRIMARY KEY,
  last_slot      NVARCHAR(200) ${KEY} NULL,
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_schedule_updated DEFAULT SYSUTCDATETIME()
);

CREATE TABLE ${s}.drift_reports (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  report_id      NVARCHAR(200) ${KEY} NOT NULL,
  created_at     DATETIME2(3) NOT NULL,
  status         NVARCHAR(16) NOT NULL,
  report         NVARCHAR(MAX) NULL,
  CONSTRAINT PK_drift_reports PRIMARY KEY (definition_id, report_id)
);
`,
  },
  {
    version: 2,
    name: 'run increment markers',
    sql: (s) => `
-- Keys already counted by incrementRunOnce; inserted in the same transaction as the increment.
CREATE TABLE ${s}.run_marks (
  run_id      NVARCHAR(200) ${KEY} NOT NULL,
  mark        NVARCHAR(400) ${KEY} NOT NULL,
  created_at  DATETIME2(3) NOT NULL CONSTRAINT DF_run_marks_created DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_run_marks PRIMARY KEY (run_id, mark)
);
`,
  },
  {
    version: 3,
    name: 'reconcile pass counts',
    sql: (s) => `
-- Runs counted towards each definition's next reconcile pass (deletes.everyRuns).
CREATE TABLE ${s}.reconcile_passes (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL CONSTRAINT PK_reconcile_passes PRIMARY KEY,
  passes         INT NOT NULL CONSTRAINT CK_reconcile_passes CHECK (passes >= 0),
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_reconcile_passes_updated DEFAULT SYSUTCDATETIME()
);
-- Earlier builds kept these counts as the schedule slot of a definition named 'reconcile~<id>'.
INSERT INTO ${s}.reconcile_passes (definition_id, passes)
  SELECT SUBSTRING(definition_id, 11, 128), TRY_CAST(last_slot AS INT) FROM ${s}.schedule_slots
  WHERE definition_id LIKE N'reconcile~%' AND TRY_CAST(last_slot AS INT) >= 0;
DELETE FROM ${s}.schedule_slots WHERE definition_id LIKE N'reconcile~%';
`,
  },
  {
    version: 4,
    name: 'source health and failover events',
    sql: (s) => `
-- What the probes last saw of each source of a definition (consecutive failures, lag, last error).
CREATE TABLE ${s}.source_health (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  source_id      NVARCHAR(128) ${KEY} NOT NULL,
  doc            NVARCHAR(MAX) NOT NULL,
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_source_health_updated DEFAULT SYSUTCDATETIME(),
  CONSTRAINT PK_source_health PRIMARY KEY (definition_id, source_id)
);
CREATE TABLE ${s}.failover_events (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  event_id       NVARCHAR(200) ${KEY} NOT NULL,
  at             DATETIME2(3) NOT NULL,
  doc            NVARCHAR(MAX) NOT NULL,
  CONSTRAINT PK_failover_events PRIMARY KEY (definition_id, event_id)
);
CREATE INDEX IX_failover_events_newest_first ON ${s}.failover_events (definition_id, at DESC, event_id);
`,
  },
  {
    version: 5,
    name: 'drift differences',
    sql: (s) => `
-- A drift report's differences, a page per (kind, page number); the report row keeps the summary.
CREATE TABLE ${s}.drift_differences (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL,
  report_id      NVARCHAR(200) ${KEY} NOT NULL,
  kind           NVARCHAR(64) ${KEY} NOT NULL,
  page_no        INT NOT NULL,
  items          NVARCHAR(MAX) NOT NULL,
  CONSTRAINT PK_drift_differences PRIMARY KEY (definition_id, report_id, kind, page_no)
);
CREATE INDEX IX_drift_reports_newest_first ON ${s}.drift_reports (definition_id, created_at DESC, report_id);
`,
  },
  {
    version: 6,
    name: 'run waits and progress',
    sql: (s) => `
-- While a run waits out throttling or a planning retry: until when and why; and when it last
-- moved, which the reaper measures a stalled run by.
ALTER TABLE ${s}.runs ADD waiting_until DATETIME2(3) NULL, waiting_reason NVARCHAR(MAX) NULL, progress_at DATETIME2(3) NULL;
`,
  },
  {
    version: 7,
    name: 'conditional ledger writes',
    sql: (s) => `
-- version: the entry's etag for compare-and-set; source_read_at orders writes for one row;
-- content_in_doubt: SharePoint may hold other content than content_hash (the next run rewrites).
ALTER TABLE ${s}.ledger ADD
  version           BIGINT NOT NULL CONSTRAINT DF_ledger_version DEFAULT 1,
  source_read_at    NVARCHAR(40) NULL,
  content_in_doubt  BIT NOT NULL CONSTRAINT DF_ledger_content_in_doubt DEFAULT 0;
`,
  },
  {
    version: 8,
    name: 'drift schedule and watch',
    sql: (s) => `
-- The last slot of a definition's drift schedule, changed by compare-and-set like schedule_slots.
CREATE TABLE ${s}.drift_slots (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL CONSTRAINT PK_drift_slots PRIMARY KEY,
  last_slot      NVARCHAR(200) ${KEY} NULL,
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_drift_slots_updated DEFAULT SYSUTCDATETIME()
);
-- The drift watch's delta token per list, as JSON.
CREATE TABLE ${s}.drift_watch_tokens (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL CONSTRAINT PK_drift_watch_tokens PRIMARY KEY,
  tokens         NVARCHAR(MAX) NULL,
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_drift_watch_tokens_updated DEFAULT SYSUTCDATETIME()
);
`,
  },
  {
    version: 9,
    name: 'per-field hashes',
    sql: (s) => `
-- field_hashes: JSON {contentHash, byField}, a short hash per mapped field, so an update sends
-- only the fields that changed; null = unknown (the next update sends every field).
ALTER TABLE ${s}.ledger ADD field_hashes NVARCHAR(MAX) NULL;
`,
  },
  {
    version: 11,
    name: 'run RU and dry-run plan pages',
    sql: (s) => `
-- ru_spent: the SharePoint resource units a run's Graph requests cost (a counter like n_read).
ALTER TABLE ${s}.runs ADD ru_spent INT NOT NULL CONSTRAINT DF_runs_ru_spent DEFAULT 0;
-- A dry run's plan, a page per (shard list, operation, page number); deleted with the run's plan.
CREATE TABLE ${s}.run_plan_pages (
  run_id     NVARCHAR(200) ${KEY} NOT NULL,
  list_name  NVARCHAR(255) ${KEY} NOT NULL,
  op         NVARCHAR(16) ${KEY} NOT NULL,
  page_no    INT NOT NULL,
  items      NVARCHAR(MAX) NOT NULL,
  CONSTRAINT PK_run_plan_pages PRIMARY KEY (run_id, list_name, op, page_no)
);
`,
  },
  {
    version: 12,
    name: 'reconcile mark',
    sql: (s) => `
-- What the last reconciling run established (JSON of a ReconcileMark; '' once cleared).
CREATE TABLE ${s}.reconcile_marks (
  definition_id  NVARCHAR(128) ${KEY} NOT NULL CONSTRAINT PK_reconcile_marks PRIMARY KEY,
  mark           NVARCHAR(MAX) NULL,
  updated_at     DATETIME2(3) NOT NULL CONSTRAINT DF_reconcile_marks_updated DEFAULT SYSUTCDATETIME()
);
`,
  },
];
