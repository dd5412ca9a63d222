/**
 * PostgreSQL state schema, as ordered migrations. `init()` applies the ones a database lacks,
 * under an advisory lock, and records each in `<schema>.migrations`. Never edit a released
 * migration: add the next version instead.
 *
 * `s` is the already-quoted schema identifier.
 */
export interface SqlMigration {
  version: number;
  name: string;
  sql: (s: string) => string;
}

const configTable = (s: string, name: string) => `
CREATE TABLE ${s}.${name} (
  id          text PRIMARY KEY,
  doc         jsonb NOT NULL,
  version     bigint NOT NULL DEFAULT 1,
  created_at  timestamptz NOT NULL DEFAULT now(),
  updated_at  timestamptz NOT NULL DEFAULT now()
);`;

export const POSTGRES_MIGRATIONS: SqlMigration[] = [
  {
    version: 1,
    name: 'initial state schema',
    sql: (s) => `
${configTable(s, 'sources')}
${configTable(s, 'sharepoint_connections')}
${configTable(s, 'definitions')}

CREATE TABLE ${s}.ledger (
  definition_id  text NOT NULL,
  identity_hash  text NOT NULL,
  list_id        text NOT NULL,
  item_id        text,
  content_hash   text NOT NULL,
  state          text NOT NULL CHECK (state IN ('pending', 'synced', 'moving', 'deleted')),
  moved_from     jsonb,
  created_at     timestamptz NOT NULL DEFAULT now(),
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, identity_hash),
  -- One identity per item. NULL item ids (pending creates) never collide, so this equals a
  -- unique index WHERE item_id IS NOT NULL; DEFERRABLE makes PostgreSQL check it at the end of
  -- the statement instead of per row, so a batch that swaps two items is accepted.
  CONSTRAINT ledger_item_unique UNIQUE (definition_id, list_id, item_id) DEFERRABLE INITIALLY IMMEDIATE
);

CREATE TABLE ${s}.cursors (
  definition_id    text NOT NULL,
  source_id        text NOT NULL,
  position         text,
  mapping_version  integer NOT NULL,
  updated_at       timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, source_id)
);

CREATE TABLE ${s}.runs (
  run_id            text PRIMARY KEY,
  definition_id     text NOT NULL,
  mode              text NOT NULL,
  run_trigger       text NOT NULL,
  status            text NOT NULL,
  source_id         text,
  started_at        timestamptz NOT NULL,
  finished_at       timestamptz,
  high_water        text,
  n_read            integer NOT NULL DEFAULT 0,
  n_created         integer NOT NULL DEFAULT 0,
  n_updated         integer NOT NULL DEFAULT 0,
  n_unchanged       integer NOT NULL DEFAULT 0,
  n_moved           integer NOT NULL DEFAULT 0,
  n_deleted         integer NOT NULL DEFAULT 0,
  n_failed          integer NOT NULL DEFAULT 0,
  batches_expected  integer NOT NULL DEFAULT 0,
  batches_settled   integer NOT NULL DEFAULT 0,
  error             text,
  run_plan          jsonb,
  -- The start time at creation: listing order never shifts when a run is patched later.
  listed_at         timestamptz NOT NULL
);
CREATE INDEX runs_newest_first ON ${s}.runs (definition_id, listed_at DESC, run_id);

CREATE TABLE ${s}.failures (
  definition_id    text NOT NULL,
  identity_hash    text NOT NULL,
  row_key          jsonb NOT NULL,
  attempts         integer NOT NULL,
  last_error       text NOT NULL,
  last_run_id      text,
  quarantined      boolean NOT NULL,
  first_failed_at  timestamptz NOT NULL,
  last_failed_at   timestamptz NOT NULL,
  PRIMARY KEY (definition_id, identity_hash)
);

CREATE TABLE ${s}.moves (
  definition_id  text NOT NULL,
  move_id        text NOT NULL,
  identity_hash  text NOT NULL,
  from_list_id   text NOT NULL,
  from_item_id   text NOT NULL,
  to_list_id     text NOT NULL,
  to_item_id     text NOT NULL,
  run_id         text,
  at             timestamptz NOT NULL,
  PRIMARY KEY (definition_id, move_id)
);
CREATE INDEX moves_newest_first ON ${s}.moves (definition_id, at DESC, move_id);

CREATE TABLE ${s}.leases (
  name        text PRIMARY KEY,
  holder      text NOT NULL,
  expires_at  timestamptz NOT NULL
);

CREATE TABLE ${s}.schedule_slots (
  definition_id  text PRIMARY KEY,
  last_slot      text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE ${s}.drift_reports (
  definition_id  text NOT NULL,
  report_id      text NOT NULL,
  created_at     timestamptz NOT NULL,
  status         text NOT NULL,
  report         jsonb,
  PRIMARY KEY (definition_id, report_id)
);
`,
  },
  {
    version: 2,
    name: 'run increment markers',
    sql: (s) => `
-- Keys already counted by incrementRunOnce; inserted in the same statement as the increment.
CREATE TABLE ${s}.run_marks (
  run_id      text NOT NULL,
  mark        text NOT NULL,
  created_at  timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (run_id, mark)
);
`,
  },
  {
    version: 3,
    name: 'reconcile pass counts',
    sql: (s) => `
-- Runs counted towards each definition's next reconcile pass (deletes.everyRuns).
CREATE TABLE ${s}.reconcile_passes (
  definition_id  text PRIMARY KEY,
  passes         integer NOT NULL CHECK (passes >= 0),
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- Earlier builds kept these counts as the schedule slot of a definition named 'reconcile~<id>'.
INSERT INTO ${s}.reconcile_passes (definition_id, passes)
  SELECT substr(definition_id, 11), CAST(last_slot AS integer) FROM ${s}.schedule_slots
  WHERE definition_id LIKE 'reconcile~%' AND last_slot ~ '^[0-9]{1,9}$';
DELETE FROM ${s}.schedule_slots WHERE definition_id LIKE 'reconcile~%';
`,
  },
  {
    version: 4,
    name: 'source health and failover events',
    sql: (s) => `
-- What the probes last saw of each source of a definition (consecutive failures, lag, last error).
CREATE TABLE ${s}.source_health (
  definition_id  text NOT NULL,
  source_id      text NOT NULL,
  doc            jsonb NOT NULL,
  updated_at     timestamptz NOT NULL DEFAULT now(),
  PRIMARY KEY (definition_id, source_id)
);
CREATE TABLE ${s}.failover_events (
  definition_id  text NOT NULL,
  event_id       text NOT NULL,
  at             timestamptz NOT NULL,
  doc            jsonb NOT NULL,
  PRIMARY KEY (definition_id, event_id)
);
CREATE INDEX failover_events_newest_first ON ${s}.failover_events (definition_id, at DESC, event_id);
`,
  },
  {
    version: 5,
    name: 'drift differences',
    sql: (s) => `
-- A drift report's differences, a page per (kind, page number); the report row keeps the summary.
CREATE TABLE ${s}.drift_differences (
  definition_id  text NOT NULL,
  report_id      text NOT NULL,
  kind           text NOT NULL,
  page_no        integer NOT NULL,
  items          jsonb NOT NULL,
  PRIMARY KEY (definition_id, report_id, kind, page_no)
);
CREATE INDEX drift_reports_newest_first ON ${s}.drift_reports (definition_id, created_at DESC, report_id);
`,
  },
  {
    version: 6,
    name: 'run waits and progress',
    sql: (s) => `
-- While a run waits out throttling or a planning retry: until when and why; and when it last
-- moved, which the reaper measures a stalled run by.
ALTER TABLE ${s}.runs ADD COLUMN waiting_until timestamptz, ADD COLUMN waiting_reason text, ADD COLUMN progress_at timestamptz;
`,
  },
  {
    version: 7,
    name: 'conditional ledger writes',
    sql: (s) => `
-- version: the entry's etag for compare-and-set; source_read_at orders writes for one row;
-- content_in_doubt: SharePoint may hold other content than content_hash (the next run rewrites).
ALTER TABLE ${s}.ledger ADD COLUMN version bigint NOT NULL DEFAULT 1;
ALTER TABLE ${s}.ledger ADD COLUMN source_read_at text;
ALTER TABLE ${s}.ledger ADD COLUMN content_in_doubt boolean NOT NULL DEFAULT false;
`,
  },
  {
    version: 8,
    name: 'drift schedule and watch',
    sql: (s) => `
-- The last slot of a definition's drift schedule, changed by compare-and-set like schedule_slots.
CREATE TABLE ${s}.drift_slots (
  definition_id  text PRIMARY KEY,
  last_slot      text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
-- The drift watch's delta token per list, as JSON.
CREATE TABLE ${s}.drift_watch_tokens (
  definition_id  text PRIMARY KEY,
  tokens         text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
`,
  },
  {
    version: 9,
    name: 'per-field hashes',
    sql: (s) => `
-- field_hashes: JSON {contentHash, byField}, a short hash per mapped field, so an update sends
-- only the fields that changed; null = unknown (the next update sends every field).
ALTER TABLE ${s}.ledger ADD COLUMN field_hashes jsonb;
`,
  },
  {
    version: 11,
    name: 'run RU and dry-run plan pages',
    sql: (s) => `
-- ru_spent: the SharePoint resource units a run's Graph requests cost (a counter like n_read).
ALTER TABLE ${s}.runs ADD COLUMN ru_spent integer NOT NULL DEFAULT 0;
-- A dry run's plan, a page per (shard list, operation, page number); deleted with the run's plan.
CREATE TABLE ${s}.run_plan_pages (
  run_id     text NOT NULL,
  list_name  text NOT NULL,
  op         text NOT NULL,
  page_no    integer NOT NULL,
  items      jsonb NOT NULL,
  PRIMARY KEY (run_id, list_name, op, page_no)
);
`,
  },
  {
    version: 12,
    name: 'reconcile mark',
    sql: (s) => `
-- What the last reconciling run established (JSON of a ReconcileMark; '' once cleared).
CREATE TABLE ${s}.reconcile_marks (
  definition_id  text PRIMARY KEY,
  mark           text,
  updated_at     timestamptz NOT NULL DEFAULT now()
);
`,
  },
];
