import { configError } from '../../core/errors';
import type { CursorRecord, DriftReportRecord, FailureRecord, LedgerEntry, MoveRecord, Page, ProgressCounter, RunRecord } from '../../core/ports/state';
import { decodePageToken, encodePageToken, invalidInput, iso, MODULE, normaliseLedgerBatch } from './common';
import type { SqlMigration } from './migrations/postgres';

/**
 * What the PostgreSQL and SQL Server stores share: table and column names, the rows they read
 * back and how those become port records, keyset pages and migration bookkeeping. The SQL
 * itself stays in each store. JSON columns arrive here parsed: PostgreSQL's jsonb comes back
 * that way, SQL Server's text is parsed by its store first.
 */

export const CONFIG_TABLES = { source: 'sources', sharepoint: 'sharepoint_connections', definition: 'definitions' } as const;
export type ConfigKind = keyof typeof CONFIG_TABLES;

export const LEDGER_COLUMNS = 'definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from, created_at, updated_at';

/** Counter name in the port → column. */
export const COUNTER_COLUMNS: Record<ProgressCounter, string> = {
  read: 'n_read',
  created: 'n_created',
  updated: 'n_updated',
  unchanged: 'n_unchanged',
  moved: 'n_moved',
  deleted: 'n_deleted',
  failed: 'n_failed',
  batchesExpected: 'batches_expected',
  batchesSettled: 'batches_settled',
};

const SCHEMA_NAME = /^[a-z_][a-z0-9_]{0,62}$/;

/** The schema that holds the state tables, `sync_state` unless set. */
export function stateSchema(option: string | undefined): string {
  const name = option ?? 'sync_state';
  if (!SCHEMA_NAME.test(name)) throw invalidInput(`state schema '${name}' must be lower-case letters, digits and "_"`);
  return name;
}

export const jsonOrNull = (value: unknown) => (value === undefined ? null : JSON.stringify(value));

/** The migrations a schema that has `applied` still lacks, oldest first; a schema newer than this build is refused. */
export function pendingMigrations(schema: string, migrations: SqlMigration[], applied: ReadonlySet<number>): SqlMigration[] {
  const newest = Math.max(0, ...applied);
  const known = Math.max(0, ...migrations.map((m) => m.version));
  if (newest > known) {
    throw configError(MODULE, 'state_schema_newer', `state schema '${schema}' is at version ${newest}, newer than this build knows (${known}); deploy the newer build`);
  }
  return [...migrations].sort((a, b) => a.version - b.version).filter((m) => !applied.has(m.version));
}

/** The version columns of a configuration row. */
export interface VersionColumns {
  version: string | number;
  created_at: Date;
  updated_at: Date;
}

/** `record` with the etag and times of the row the database wrote or read. */
export function withVersionOf<T>(record: T, row: VersionColumns | undefined): T {
  return { ...record, etag: String(row?.version ?? ''), createdAt: iso(row?.created_at), updatedAt: iso(row?.updated_at) };
}

/** The batch as normaliseLedgerBatch leaves it, sorted so that concurrent batches lock rows in the same order and cannot deadlock. */
export function ledgerBatchInLockOrder(entries: LedgerEntry[]): LedgerEntry[] {
  return normaliseLedgerBatch(entries).sort((a, b) =>
    a.definitionId === b.definitionId ? (a.identityHash < b.identityHash ? -1 : 1) : a.definitionId < b.definitionId ? -1 : 1,
  );
}

export interface LedgerRow {
  definition_id: string;
  identity_hash: string;
  list_id: string;
  item_id: string | null;
  content_hash: string;
  state: LedgerEntry['state'];
  moved_from: LedgerEntry['movedFrom'] | null;
  created_at: Date;
  updated_at: Date;
}

export const toLedger = (r: LedgerRow): LedgerEntry => ({
  definitionId: r.definition_id,
  identityHash: r.identity_hash,
  listId: r.list_id,
  itemId: r.item_id,
  contentHash: r.content_hash,
  state: r.state,
  movedFrom: r.moved_from ?? null,
  createdAt: iso(r.created_at),
  updatedAt: iso(r.updated_at),
});

export interface CursorRow {
  position: string | null;
  mapping_version: number;
  updated_at: Date;
}

export const toCursor = (definitionId: string, sourceId: string, r: CursorRow): CursorRecord => ({
  definitionId,
  sourceId,
  position: r.position,
  mappingVersion: r.mapping_version,
  updatedAt: iso(r.updated_at),
});

export interface RunRow {
  run_id: string;
  definition_id: string;
  mode: RunRecord['mode'];
  run_trigger: RunRecord['trigger'];
  status: RunRecord['status'];
  source_id: string | null;
  started_at: Date;
  finished_at: Date | null;
  high_water: string | null;
  n_read: number;
  n_created: number;
  n_updated: number;
  n_unchanged: number;
  n_moved: number;
  n_deleted: number;
  n_failed: number;
  batches_expected: number;
  batches_settled: number;
  error: string | null;
  run_plan: unknown;
  listed_at: Date;
}

export function toRun(r: RunRow): RunRecord {
  const run: RunRecord = {
    runId: r.run_id,
    definitionId: r.definition_id,
    mode: r.mode,
    trigger: r.run_trigger,
    status: r.status,
    startedAt: iso(r.started_at) ?? '',
    finishedAt: iso(r.finished_at) ?? null,
    highWater: r.high_water,
    counts: { read: r.n_read, created: r.n_created, updated: r.n_updated, unchanged: r.n_unchanged, moved: r.n_moved, deleted: r.n_deleted, failed: r.n_failed },
    batchesExpected: r.batches_expected,
    batchesSettled: r.batches_settled,
    error: r.error,
  };
  if (r.source_id !== null) run.sourceId = r.source_id;
  if (r.run_plan !== null && r.run_plan !== undefined) run.plan = r.run_plan;
  return run;
}

export interface FailureRow {
  identity_hash: string;
  row_key: unknown[];
  attempts: number;
  last_error: string;
  last_run_id: string | null;
  quarantined: boolean;
  first_failed_at: Date;
  last_failed_at: Date;
}

export function toFailure(definitionId: string, r: FailureRow): FailureRecord {
  const f: FailureRecord = {
    definitionId,
    identityHash: r.identity_hash,
    key: r.row_key,
    attempts: r.attempts,
    lastError: r.last_error,
    quarantined: r.quarantined,
    firstFailedAt: iso(r.first_failed_at) ?? '',
    lastFailedAt: iso(r.last_failed_at) ?? '',
  };
  if (r.last_run_id !== null) f.lastRunId = r.last_run_id;
  return f;
}

export interface MoveRow {
  move_id: string;
  identity_hash: string;
  from_list_id: string;
  from_item_id: string;
  to_list_id: string;
  to_item_id: string;
  run_id: string | null;
  at: Date;
}

export function toMove(definitionId: string, r: MoveRow): MoveRecord {
  const m: MoveRecord = {
    definitionId,
    moveId: r.move_id,
    identityHash: r.identity_hash,
    from: { listId: r.from_list_id, itemId: r.from_item_id },
    to: { listId: r.to_list_id, itemId: r.to_item_id },
    at: iso(r.at) ?? '',
  };
  if (r.run_id !== null) m.runId = r.run_id;
  return m;
}

export interface DriftReportRow {
  created_at: Date;
  status: DriftReportRecord['status'];
  report: unknown;
}

export const toDriftReport = (definitionId: string, reportId: string, r: DriftReportRow): DriftReportRecord => ({
  definitionId,
  reportId,
  createdAt: iso(r.created_at) ?? '',
  status: r.status,
  report: r.report ?? null,
});

// ---------------------------------------------------------------- keyset pages (newest first, ties by id)

const isKeyset = (v: unknown): v is { t: string; id: string } =>
  typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string' && typeof (v as { id?: unknown }).id === 'string';

/** Where a listing resumes: after the row with this time and id, or from the newest when `at` is null. */
export function keysetStart(token: string | undefined): { at: Date | null; id: string } {
  const from = decodePageToken(token, isKeyset);
  return { at: from ? new Date(from.t) : null, id: from?.id ?? '' };
}

/** A page of at most `limit` items from rows fetched as `limit + 1`: a row past the limit means there are more. */
export function keysetPage<R, T>(rows: R[], limit: number, toItem: (row: R) => T, positionOf: (row: R) => [at: Date, id: string]): Page<T> {
  const kept = rows.slice(0, limit);
  const items = kept.map((row) => toItem(row));
  const last = kept[kept.length - 1];
  if (rows.length <= limit || !last) return { items };
  const [at, id] = positionOf(last);
  return { items, next: encodePageToken({ t: at.toISOString(), id }) };
}
