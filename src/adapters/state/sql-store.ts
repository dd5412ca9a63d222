import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { configError, notFound } from '../../core/errors';
import type {
  CursorRecord,
  DriftReportRecord,
  FailurePageOptions,
  FailureRecord,
  LedgerEntry,
  MoveRecord,
  Page,
  ProgressCounter,
  RunRecord,
  StateStore,
  StoredDefinition,
  StoredSharePoint,
  StoredSource,
} from '../../core/ports/state';
import {
  backoff,
  checkDeltas,
  checkTtl,
  COUNT_KEYS,
  invalidInput,
  isoOrThrow,
  keyAfterToken,
  MODULE,
  pageAfterKey,
  pageLimit,
  PROGRESS_COUNTERS,
  rethrowIfSyncError,
  stateConflict,
  stateUnavailable,
  storedErrorText,
  withoutVersion,
} from './common';
import { POSTGRES_MIGRATIONS, type SqlMigration } from './migrations/postgres';
import {
  CONFIG_TABLES,
  COUNTER_COLUMNS,
  jsonOrNull,
  keysetPage,
  keysetStart,
  LEDGER_COLUMNS,
  ledgerBatchInLockOrder,
  pendingMigrations,
  stateSchema,
  toCursor,
  toDriftReport,
  toFailure,
  toLedger,
  toMove,
  toRun,
  withVersionOf,
  type ConfigKind,
  type CursorRow,
  type DriftReportRow,
  type FailureRow,
  type LedgerRow,
  type MoveRow,
  type RunRow,
  type VersionColumns,
} from './sql-common';

/**
 * StateStore on PostgreSQL. The database enforces the ledger's two uniqueness rules itself
 * (primary key on (definition, identity) and a unique constraint on (definition, list, item)),
 * so no interleaving of writers can break them. Every write is one statement (atomic, no
 * explicit transaction) except migrations.
 */

export interface PostgresStateStoreOptions {
  /** postgres://… connection URL; it may carry a password, so it is never logged. */
  url?: string;
  /** An existing pool (shared with other components, or for tests). */
  pool?: Pool;
  /** Schema holding the state tables; created if missing. */
  schema?: string;
  /** Connections this store may open (PGlite multiplexes one, so keep it modest there). */
  poolMax?: number;
  migrations?: SqlMigration[];
}

/** Deadlocks and serialisation failures roll the statement back, so a retry is safe. */
const RETRYABLE = new Set(['40001', '40P01']);
/** Connection and resource problems an admin must fix rather than wait out. */
const CONFIG_CODES = /^(28|3D|42501)/;

interface PgError {
  code?: string;
  constraint?: string;
  message?: string;
}

function pgFail(error: unknown, what: string): never {
  rethrowIfSyncError(error);
  const e = error as PgError;
  const code = typeof e?.code === 'string' ? e.code : '';
  if (code === '23505') {
    if (e.constraint === 'ledger_item_unique') throw stateConflict(`${what}: a SharePoint item is already claimed by another identity of this definition`, error);
    throw stateConflict(`${what}: the record already exists`, error);
  }
  if (code.startsWith('22') || code.startsWith('23')) throw invalidInput(`${what}: PostgreSQL refused the values (${e.message ?? code})`);
  if (CONFIG_CODES.test(code)) throw configError(MODULE, 'state_store_config', `${what}: PostgreSQL refused access (${code}); check the state store settings`, { cause: error });
  throw stateUnavailable(`${what}: PostgreSQL is unavailable`, error);
}

/** PostgreSQL returns jsonb already parsed. */
interface ConfigRow extends VersionColumns {
  doc: Record<string, unknown>;
}

export class PostgresStateStore implements StateStore {
  private readonly pool: Pool;
  private readonly ownsPool: boolean;
  private readonly s: string;
  private readonly schema: string;
  private readonly migrations: SqlMigration[];

  constructor(options: PostgresStateStoreOptions) {
    this.schema = stateSchema(options.schema);
    this.s = `"${this.schema}"`;
    this.migrations = options.migrations ?? POSTGRES_MIGRATIONS;
    if (options.pool) {
      this.pool = options.pool;
      this.ownsPool = false;
    } else {
      if (!options.url) throw configError(MODULE, 'state_store_config', 'the PostgreSQL state store needs a connection URL (STATE_SQL_URL)');
      this.pool = new Pool({ connectionString: options.url, max: options.poolMax ?? 10 });
      this.ownsPool = true;
      // An idle connection dropped by the server must not crash the process; the next query reconnects.
      this.pool.on('error', () => undefined);
    }
  }

  private async q<R extends QueryResultRow>(what: string, text: string, params: unknown[] = []): Promise<{ rows: R[]; rowCount: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        const res = await this.pool.query<R>(text, params);
        return { rows: res.rows, rowCount: res.rowCount ?? 0 };
      } catch (error) {
        const code = (error as PgError)?.code ?? '';
        if (RETRYABLE.has(code) && attempt < 4) {
          await backoff(attempt, 10, 200);
          continue;
        }
        pgFail(error, what);
      }
    }
  }

  async init(): Promise<void> {
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      await client.query('BEGIN');
      // Instances starting together queue here; the first applies, the rest find nothing to do.
      await client.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sync-state-migrations:${this.schema}`]);
      await client.query(`CREATE SCHEMA IF NOT EXISTS ${this.s}`);
      await client.query(
        `CREATE TABLE IF NOT EXISTS ${this.s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`,
      );
      const applied = new Set((await client.query<{ version: number }>(`SELECT version FROM ${this.s}.migrations`)).rows.map((r) => r.version));
      for (const m of pendingMigrations(this.schema, this.migrations, applied)) {
        await client.query(m.sql(this.s));
        await client.query(`INSERT INTO ${this.s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
      }
      await client.query('COMMIT');
    } catch (error) {
      await client?.query('ROLLBACK').catch(() => undefined);
      pgFail(error, 'applying state migrations');
    } finally {
      client?.release();
    }
  }

  async ping(): Promise<void> {
    await this.q('ping', 'SELECT 1');
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  /** Test/maintenance helper: drops the whole state schema. */
  async dropSchema(): Promise<void> {
    await this.q('dropping the state schema', `DROP SCHEMA IF EXISTS ${this.s} CASCADE`);
  }

  // ---------------------------------------------------------------- configuration

  private async putConfig<T extends { etag?: string; createdAt?: string; updatedAt?: string }>(
    kind: ConfigKind,
    id: string,
    record: T,
    opts: { ifMatch?: string; mustNotExist?: boolean } = {},
  ): Promise<T> {
    const table = `${this.s}.${CONFIG_TABLES[kind]}`;
    const doc = JSON.stringify(withoutVersion(record));
    const what = `saving ${kind} '${id}'`;
    const done = (row: ConfigRow | undefined): T => withVersionOf(record, row);
    if (opts.mustNotExist) {
      try {
        const res = await this.q<ConfigRow>(what, `INSERT INTO ${table} (id, doc) VALUES ($1, $2::jsonb) RETURNING version, created_at, updated_at`, [id, doc]);
        return done(res.rows[0]);
      } catch (error) {
        if ((error as { code?: string }).code === 'state_conflict') throw stateConflict(`${kind} '${id}' already exists`, error);
        throw error;
      }
    }
    if (opts.ifMatch !== undefined) {
      const version = /^\d+$/.test(opts.ifMatch) ? opts.ifMatch : '-1';
      const res = await this.q<ConfigRow>(
        what,
        `UPDATE ${table} SET doc = $2::jsonb, version = version + 1, updated_at = now() WHERE id = $1 AND version = $3::bigint RETURNING version, created_at, updated_at`,
        [id, doc, version],
      );
      if (res.rowCount === 1) return done(res.rows[0]);
      const exists = await this.q(what, `SELECT 1 FROM ${table} WHERE id = $1`, [id]);
      if (exists.rowCount === 0) throw notFound(MODULE, kind, id);
      throw stateConflict(`${kind} '${id}' was changed by someone else; reload it and retry`);
    }
    const res = await this.q<ConfigRow>(
      what,
      `INSERT INTO ${table} AS t (id, doc) VALUES ($1, $2::jsonb)
       ON CONFLICT (id) DO UPDATE SET doc = excluded.doc, version = t.version + 1, updated_at = now()
       RETURNING version, created_at, updated_at`,
      [id, doc],
    );
    return done(res.rows[0]);
  }

  private fromConfig<T>(row: ConfigRow): T {
    return withVersionOf(row.doc as T, row);
  }

  private async getConfig<T>(kind: ConfigKind, id: string): Promise<T | null> {
    const res = await this.q<ConfigRow>(`reading ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.s}.${CONFIG_TABLES[kind]} WHERE id = $1`, [id]);
    const row = res.rows[0];
    return row ? this.fromConfig<T>(row) : null;
  }

  private async listConfig<T>(kind: ConfigKind): Promise<T[]> {
    const res = await this.q<ConfigRow>(`listing ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.s}.${CONFIG_TABLES[kind]} ORDER BY id`);
    return res.rows.map((row) => this.fromConfig<T>(row));
  }

  private async deleteConfig(kind: ConfigKind, id: string): Promise<boolean> {
    return (await this.q(`deleting ${kind}`, `DELETE FROM ${this.s}.${CONFIG_TABLES[kind]} WHERE id = $1`, [id])).rowCount > 0;
  }

  putSource(source: StoredSource, opts?: { ifMatch?: string; mustNotExist?: boolean }) {
    return this.putConfig('source', source.id, source, opts);
  }
  getSource(id: string) {
    return this.getConfig<StoredSource>('source', id);
  }
  listSources() {
    return this.listConfig<StoredSource>('source');
  }
  deleteSource(id: string) {
    return this.deleteConfig('source', id);
  }
  putSharePoint(conn: StoredSharePoint, opts?: { ifMatch?: string; mustNotExist?: boolean }) {
    return this.putConfig('sharepoint', conn.id, conn, opts);
  }
  getSharePoint(id: string) {
    return this.getConfig<StoredSharePoint>('sharepoint', id);
  }
  listSharePoint() {
    return this.listConfig<StoredSharePoint>('sharepoint');
  }
  deleteSharePoint(id: string) {
    return this.deleteConfig('sharepoint', id);
  }
  putDefinition(def: StoredDefinition, opts?: { ifMatch?: string; mustNotExist?: boolean }) {
    return this.putConfig('definition', def.definition.id, def, opts);
  }
  getDefinition(id: string) {
    return this.getConfig<StoredDefinition>('definition', id);
  }
  listDefinitions() {
    return this.listConfig<StoredDefinition>('definition');
  }
  deleteDefinition(id: string) {
    return this.deleteConfig('definition', id);
  }

  // ---------------------------------------------------------------- ledger

  async getLedger(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    if (identityHashes.length === 0) return out;
    const res = await this.q<LedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.s}.ledger WHERE definition_id = $1 AND identity_hash = ANY($2::text[])`,
      [definitionId, [...new Set(identityHashes)]],
    );
    for (const row of res.rows) out.set(row.identity_hash, toLedger(row));
    return out;
  }

  async getLedgerByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    const res = await this.q<LedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.s}.ledger WHERE definition_id = $1 AND list_id = $2 AND item_id = $3`,
      [definitionId, listId, itemId],
    );
    const row = res.rows[0];
    return row ? toLedger(row) : null;
  }

  async putLedger(entries: LedgerEntry[]): Promise<void> {
    const batch = ledgerBatchInLockOrder(entries);
    if (batch.length === 0) return;
    await this.q(
      'writing the ledger',
      `INSERT INTO ${this.s}.ledger AS t (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from)
       SELECT d, h, l, i, c, st, m::jsonb FROM unnest($1::text[], $2::text[], $3::text[], $4::text[], $5::text[], $6::text[], $7::text[]) AS x(d, h, l, i, c, st, m)
       ON CONFLICT (definition_id, identity_hash) DO UPDATE SET
         list_id = excluded.list_id, item_id = excluded.item_id, content_hash = excluded.content_hash,
         state = excluded.state, moved_from = excluded.moved_from, updated_at = now()`,
      [
        batch.map((e) => e.definitionId),
        batch.map((e) => e.identityHash),
        batch.map((e) => e.listId),
        batch.map((e) => e.itemId),
        batch.map((e) => e.contentHash),
        batch.map((e) => e.state),
        batch.map((e) => (e.movedFrom ? JSON.stringify(e.movedFrom) : null)),
      ],
    );
  }

  async deleteLedger(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length === 0) return;
    await this.q('deleting ledger entries', `DELETE FROM ${this.s}.ledger WHERE definition_id = $1 AND identity_hash = ANY($2::text[])`, [
      definitionId,
      [...new Set(identityHashes)],
    ]);
  }

  async *scanLedger(definitionId: string, pageSize = 1000): AsyncIterable<LedgerEntry[]> {
    const size = Math.min(Math.max(1, pageSize), 10_000);
    // Keyset paging: '' sorts before every (non-empty) hash.
    let afterHash = '';
    while (true) {
      const res = await this.q<LedgerRow>(
        'scanning the ledger',
        `SELECT ${LEDGER_COLUMNS} FROM ${this.s}.ledger WHERE definition_id = $1 AND identity_hash > $2 ORDER BY identity_hash LIMIT $3`,
        [definitionId, afterHash, size],
      );
      if (res.rows.length === 0) return;
      yield res.rows.map(toLedger);
      if (res.rows.length < size) return;
      afterHash = res.rows[res.rows.length - 1]?.identity_hash ?? '';
    }
  }

  // ---------------------------------------------------------------- cursors

  async getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null> {
    const res = await this.q<CursorRow>(
      'reading the cursor',
      `SELECT position, mapping_version, updated_at FROM ${this.s}.cursors WHERE definition_id = $1 AND source_id = $2`,
      [definitionId, sourceId],
    );
    const row = res.rows[0];
    return row ? toCursor(definitionId, sourceId, row) : null;
  }

  async putCursor(cursor: CursorRecord): Promise<void> {
    await this.q(
      'saving the cursor',
      `INSERT INTO ${this.s}.cursors (definition_id, source_id, position, mapping_version) VALUES ($1, $2, $3, $4)
       ON CONFLICT (definition_id, source_id) DO UPDATE SET position = excluded.position, mapping_version = excluded.mapping_version, updated_at = now()`,
      [cursor.definitionId, cursor.sourceId, cursor.position, cursor.mappingVersion],
    );
  }

  // ---------------------------------------------------------------- runs

  async createRun(run: RunRecord): Promise<void> {
    const startedAt = isoOrThrow(run.startedAt, 'startedAt');
    try {
      await this.q(
        `creating run '${run.runId}'`,
        `INSERT INTO ${this.s}.runs (run_id, definition_id, mode, run_trigger, status, source_id, started_at, finished_at, high_water,
           n_read, n_created, n_updated, n_unchanged, n_moved, n_deleted, n_failed, batches_expected, batches_settled, error, run_plan, listed_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16, $17, $18, $19, $20::jsonb, $7)`,
        [
          run.runId,
          run.definitionId,
          run.mode,
          run.trigger,
          run.status,
          run.sourceId ?? null,
          startedAt,
          run.finishedAt ? isoOrThrow(run.finishedAt, 'finishedAt') : null,
          run.highWater ?? null,
          run.counts.read,
          run.counts.created,
          run.counts.updated,
          run.counts.unchanged,
          run.counts.moved,
          run.counts.deleted,
          run.counts.failed,
          run.batchesExpected,
          run.batchesSettled,
          storedErrorText(run.error ?? null),
          jsonOrNull(run.plan),
        ],
      );
    } catch (error) {
      if ((error as { code?: string }).code === 'state_conflict') throw stateConflict(`run '${run.runId}' already exists`, error);
      throw error;
    }
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const res = await this.q<RunRow>('reading a run', `SELECT * FROM ${this.s}.runs WHERE run_id = $1`, [runId]);
    const row = res.rows[0];
    return row ? toRun(row) : null;
  }

  async updateRun(runId: string, patch: Partial<Omit<RunRecord, 'runId' | 'definitionId'>>): Promise<RunRecord> {
    const sets: string[] = [];
    const params: unknown[] = [runId];
    const set = (column: string, value: unknown, cast = '') => {
      params.push(value);
      sets.push(`${column} = $${params.length}${cast}`);
    };
    if (patch.mode !== undefined) set('mode', patch.mode);
    if (patch.trigger !== undefined) set('run_trigger', patch.trigger);
    if (patch.status !== undefined) set('status', patch.status);
    if ('sourceId' in patch) set('source_id', patch.sourceId ?? null);
    if (patch.startedAt !== undefined) set('started_at', isoOrThrow(patch.startedAt, 'startedAt'));
    if ('finishedAt' in patch) set('finished_at', patch.finishedAt ? isoOrThrow(patch.finishedAt, 'finishedAt') : null);
    if ('highWater' in patch) set('high_water', patch.highWater ?? null);
    if ('error' in patch) set('error', storedErrorText(patch.error ?? null));
    if ('plan' in patch) set('run_plan', jsonOrNull(patch.plan), '::jsonb');
    if (patch.batchesExpected !== undefined) set('batches_expected', patch.batchesExpected);
    if (patch.batchesSettled !== undefined) set('batches_settled', patch.batchesSettled);
    if (patch.counts) for (const name of COUNT_KEYS) if (patch.counts[name] !== undefined) set(COUNTER_COLUMNS[name], patch.counts[name]);
    const res =
      sets.length === 0
        ? await this.q<RunRow>('reading a run', `SELECT * FROM ${this.s}.runs WHERE run_id = $1`, params)
        : await this.q<RunRow>(`updating run '${runId}'`, `UPDATE ${this.s}.runs SET ${sets.join(', ')} WHERE run_id = $1 RETURNING *`, params);
    const row = res.rows[0];
    if (!row) throw notFound(MODULE, 'run', runId);
    return toRun(row);
  }

  async incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<RunRecord> {
    const checked = new Map(checkDeltas(deltas));
    const sets = PROGRESS_COUNTERS.map((name, i) => `${COUNTER_COLUMNS[name]} = ${COUNTER_COLUMNS[name]} + $${i + 2}`);
    const res = await this.q<RunRow>(`updating run '${runId}'`, `UPDATE ${this.s}.runs SET ${sets.join(', ')} WHERE run_id = $1 RETURNING *`, [
      runId,
      ...PROGRESS_COUNTERS.map((name) => checked.get(name) ?? 0),
    ]);
    const row = res.rows[0];
    if (!row) throw notFound(MODULE, 'run', runId);
    return toRun(row);
  }

  async incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<{ run: RunRecord; applied: boolean }> {
    const checked = new Map(checkDeltas(deltas));
    const sets = PROGRESS_COUNTERS.map((name, i) => `${COUNTER_COLUMNS[name]} = r.${COUNTER_COLUMNS[name]} + $${i + 3}`);
    // One statement: the marker insert and the increment commit together or not at all. A
    // concurrent twin waits on the marker's key, then finds it and changes nothing.
    const res = await this.q<RunRow>(
      `updating run '${runId}'`,
      `WITH mark AS (
         INSERT INTO ${this.s}.run_marks (run_id, mark) SELECT $1, $2 WHERE EXISTS (SELECT 1 FROM ${this.s}.runs WHERE run_id = $1)
         ON CONFLICT (run_id, mark) DO NOTHING RETURNING run_id)
       UPDATE ${this.s}.runs AS r SET ${sets.join(', ')} FROM mark WHERE r.run_id = mark.run_id RETURNING r.*`,
      [runId, key, ...PROGRESS_COUNTERS.map((name) => checked.get(name) ?? 0)],
    );
    const row = res.rows[0];
    if (row) return { run: toRun(row), applied: true };
    const run = await this.getRun(runId);
    if (!run) throw notFound(MODULE, 'run', runId);
    return { run, applied: false };
  }

  async listRuns(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<RunRecord>> {
    const limit = pageLimit(opts.limit);
    const from = keysetStart(opts.next);
    const res = await this.q<RunRow>(
      'listing runs',
      `SELECT * FROM ${this.s}.runs WHERE definition_id = $1
         AND ($2::timestamptz IS NULL OR listed_at < $2 OR (listed_at = $2 AND run_id > $3))
       ORDER BY listed_at DESC, run_id LIMIT $4`,
      [definitionId, from.at, from.id, limit + 1],
    );
    return keysetPage(res.rows, limit, toRun, (r) => [r.listed_at, r.run_id]);
  }

  // ---------------------------------------------------------------- failures

  async putFailure(f: FailureRecord): Promise<void> {
    await this.q(
      'saving a row failure',
      `INSERT INTO ${this.s}.failures (definition_id, identity_hash, row_key, attempts, last_error, last_run_id, quarantined, first_failed_at, last_failed_at)
       VALUES ($1, $2, $3::jsonb, $4, $5, $6, $7, $8, $9)
       ON CONFLICT (definition_id, identity_hash) DO UPDATE SET row_key = excluded.row_key, attempts = excluded.attempts, last_error = excluded.last_error,
         last_run_id = excluded.last_run_id, quarantined = excluded.quarantined, first_failed_at = excluded.first_failed_at, last_failed_at = excluded.last_failed_at`,
      [
        f.definitionId,
        f.identityHash,
        JSON.stringify(f.key),
        f.attempts,
        storedErrorText(f.lastError),
        f.lastRunId ?? null,
        f.quarantined,
        isoOrThrow(f.firstFailedAt, 'firstFailedAt'),
        isoOrThrow(f.lastFailedAt, 'lastFailedAt'),
      ],
    );
  }

  async getFailures(definitionId: string, opts: { includeQuarantined?: boolean } = {}): Promise<FailureRecord[]> {
    const res = await this.q<FailureRow>('reading row failures', `SELECT * FROM ${this.s}.failures WHERE definition_id = $1 AND ($2::boolean OR NOT quarantined) ORDER BY identity_hash`, [
      definitionId,
      opts.includeQuarantined === true,
    ]);
    return res.rows.map((r) => toFailure(definitionId, r));
  }

  async pageFailures(definitionId: string, opts: FailurePageOptions = {}): Promise<Page<FailureRecord>> {
    const limit = pageLimit(opts.limit);
    const res = await this.q<FailureRow>(
      'reading a page of row failures',
      `SELECT * FROM ${this.s}.failures WHERE definition_id = $1 AND ($2::boolean IS NULL OR quarantined = $2) AND identity_hash > $3 ORDER BY identity_hash LIMIT $4`,
      [definitionId, opts.quarantined ?? null, keyAfterToken(opts.next), limit + 1],
    );
    return pageAfterKey(res.rows, limit, (r) => toFailure(definitionId, r), (r) => r.identity_hash);
  }

  async getFailuresFor(definitionId: string, identityHashes: string[]): Promise<Map<string, FailureRecord>> {
    if (identityHashes.length === 0) return new Map();
    const res = await this.q<FailureRow>('reading row failures', `SELECT * FROM ${this.s}.failures WHERE definition_id = $1 AND identity_hash = ANY($2::text[])`, [definitionId, identityHashes]);
    return new Map(res.rows.map((r) => [r.identity_hash, toFailure(definitionId, r)]));
  }

  async deleteFailures(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length === 0) return;
    await this.q('deleting row failures', `DELETE FROM ${this.s}.failures WHERE definition_id = $1 AND identity_hash = ANY($2::text[])`, [definitionId, identityHashes]);
  }

  // ---------------------------------------------------------------- moves

  async addMove(m: MoveRecord): Promise<void> {
    // A redelivered move records itself once.
    await this.q(
      'recording a move',
      `INSERT INTO ${this.s}.moves (definition_id, move_id, identity_hash, from_list_id, from_item_id, to_list_id, to_item_id, run_id, at)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) ON CONFLICT (definition_id, move_id) DO NOTHING`,
      [m.definitionId, m.moveId, m.identityHash, m.from.listId, m.from.itemId, m.to.listId, m.to.itemId, m.runId ?? null, isoOrThrow(m.at, 'at')],
    );
  }

  async listMoves(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<MoveRecord>> {
    const limit = pageLimit(opts.limit);
    const from = keysetStart(opts.next);
    const res = await this.q<MoveRow>(
      'listing moves',
      `SELECT * FROM ${this.s}.moves WHERE definition_id = $1
         AND ($2::timestamptz IS NULL OR at < $2 OR (at = $2 AND move_id > $3))
       ORDER BY at DESC, move_id LIMIT $4`,
      [definitionId, from.at, from.id, limit + 1],
    );
    return keysetPage(res.rows, limit, (r) => toMove(definitionId, r), (r) => [r.at, r.move_id]);
  }

  // ---------------------------------------------------------------- leases (database clock, so instance clock skew is irrelevant)

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const res = await this.q(
      `acquiring lease '${name}'`,
      `INSERT INTO ${this.s}.leases AS l (name, holder, expires_at) VALUES ($1, $2, now() + $3 * interval '1 millisecond')
       ON CONFLICT (name) DO UPDATE SET holder = excluded.holder, expires_at = excluded.expires_at
       WHERE l.expires_at < now() OR l.holder = excluded.holder`,
      [name, holder, ttlMs],
    );
    return res.rowCount === 1;
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const res = await this.q(`renewing lease '${name}'`, `UPDATE ${this.s}.leases SET expires_at = now() + $3 * interval '1 millisecond' WHERE name = $1 AND holder = $2`, [
      name,
      holder,
      ttlMs,
    ]);
    return res.rowCount === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.q(`releasing lease '${name}'`, `DELETE FROM ${this.s}.leases WHERE name = $1 AND holder = $2`, [name, holder]);
  }

  // ---------------------------------------------------------------- schedule

  async getLastSlot(definitionId: string): Promise<string | null> {
    const res = await this.q<{ last_slot: string | null }>('reading the schedule slot', `SELECT last_slot FROM ${this.s}.schedule_slots WHERE definition_id = $1`, [definitionId]);
    return res.rows[0]?.last_slot ?? null;
  }

  async casLastSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean> {
    if (expected === null) {
      // Losers of a concurrent first insert see the winner's committed row and fail the WHERE.
      const res = await this.q(
        'recording the schedule slot',
        `INSERT INTO ${this.s}.schedule_slots AS t (definition_id, last_slot) VALUES ($1, $2)
         ON CONFLICT (definition_id) DO UPDATE SET last_slot = excluded.last_slot, updated_at = now() WHERE t.last_slot IS NULL`,
        [definitionId, slot],
      );
      return res.rowCount === 1;
    }
    const res = await this.q(
      'recording the schedule slot',
      `UPDATE ${this.s}.schedule_slots SET last_slot = $3, updated_at = now() WHERE definition_id = $1 AND last_slot = $2`,
      [definitionId, expected, slot],
    );
    return res.rowCount === 1;
  }

  // ---------------------------------------------------------------- drift reports

  async putDriftReport(r: DriftReportRecord): Promise<void> {
    await this.q(
      'saving the drift report',
      `INSERT INTO ${this.s}.drift_reports (definition_id, report_id, created_at, status, report) VALUES ($1, $2, $3, $4, $5::jsonb)
       ON CONFLICT (definition_id, report_id) DO UPDATE SET created_at = excluded.created_at, status = excluded.status, report = excluded.report`,
      [r.definitionId, r.reportId, isoOrThrow(r.createdAt, 'createdAt'), r.status, jsonOrNull(r.report)],
    );
  }

  async getDriftReport(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const res = await this.q<DriftReportRow>(
      'reading the drift report',
      `SELECT created_at, status, report FROM ${this.s}.drift_reports WHERE definition_id = $1 AND report_id = $2`,
      [definitionId, reportId],
    );
    const row = res.rows[0];
    return row ? toDriftReport(definitionId, reportId, row) : null;
  }
}
