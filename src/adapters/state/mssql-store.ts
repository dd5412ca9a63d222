import * as sql from 'mssql';
import { configError, isSyncError, notFound } from '../../core/errors';
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
import type { SqlMigration } from './migrations/postgres';
import { SQLSERVER_MIGRATIONS } from './migrations/sqlserver';
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
 * StateStore on SQL Server / Azure SQL. Same schema shape as the PostgreSQL store; the
 * database enforces the ledger's uniqueness (primary key + filtered unique index), upserts
 * are `MERGE ... WITH (HOLDLOCK)` (without HOLDLOCK two MERGEs can both take the insert branch),
 * and batches travel as one JSON parameter unpacked with OPENJSON (SQL Server 2016+).
 */

export interface SqlParam {
  type: sql.ISqlType;
  value: unknown;
}
export type SqlParams = Record<string, SqlParam>;
export type QueryFn = <R>(text: string, params?: SqlParams) => Promise<{ recordset: R[]; rowsAffected: number }>;

/** The seam between the store and the driver: the real one wraps a pool, tests record SQL. */
export interface SqlServerExecutor {
  query: QueryFn;
  transaction<T>(work: (query: QueryFn) => Promise<T>): Promise<T>;
  close(): Promise<void>;
}

export interface SqlServerStateStoreOptions {
  /** `mssql://user:password@host:1433/db?encrypt=true` or an ADO-style connection string. */
  url?: string;
  executor?: SqlServerExecutor;
  schema?: string;
  poolMax?: number;
  migrations?: SqlMigration[];
}

/** 2627: PRIMARY KEY/UNIQUE constraint; 2601: unique index. */
const DUPLICATE = new Set([2627, 2601]);
/** 1205: chosen as deadlock victim; the statement was rolled back, so a retry is safe. */
const DEADLOCK = 1205;
/** 547 constraint, 8152/2628 truncation, 13609 invalid JSON, 242/241 bad date. */
const BAD_VALUE = new Set([547, 8152, 2628, 13609, 242, 241]);

const P = {
  key: (value: string | null): SqlParam => ({ type: sql.NVarChar(400), value }),
  text: (value: string | null): SqlParam => ({ type: sql.NVarChar(sql.MAX), value }),
  int: (value: number): SqlParam => ({ type: sql.Int(), value }),
  bigint: (value: string): SqlParam => ({ type: sql.BigInt(), value }),
  bit: (value: boolean): SqlParam => ({ type: sql.Bit(), value }),
  time: (value: Date | null): SqlParam => ({ type: sql.DateTime2(3), value }),
};

interface MssqlErrorShape {
  number?: number;
  code?: string;
  originalError?: { info?: { number?: number } };
}

const errorNumber = (error: unknown): number | undefined => {
  const e = error as MssqlErrorShape | undefined;
  return e?.number ?? e?.originalError?.info?.number;
};

export function mssqlFail(error: unknown, what: string): never {
  rethrowIfSyncError(error);
  const n = errorNumber(error);
  const code = (error as MssqlErrorShape | undefined)?.code;
  if (n !== undefined && DUPLICATE.has(n)) {
    if (String((error as Error).message).includes('UX_ledger_item')) {
      throw stateConflict(`${what}: a SharePoint item is already claimed by another identity of this definition`, error);
    }
    throw stateConflict(`${what}: the record already exists`, error);
  }
  if (n !== undefined && BAD_VALUE.has(n)) throw invalidInput(`${what}: SQL Server refused the values (error ${n})`);
  if (code === 'ELOGIN' || n === 18456 || n === 4060) {
    throw configError(MODULE, 'state_store_config', `${what}: SQL Server refused the login or database; check the state store settings`, { cause: error });
  }
  throw stateUnavailable(`${what}: SQL Server is unavailable`, error);
}

/** Accepts `mssql://` / `sqlserver://` URLs (what STATE_SQL_URL carries) or ADO strings. */
export function mssqlConfig(url: string, poolMax = 10): sql.config | string {
  if (!/^(mssql|sqlserver):\/\//i.test(url)) return url;
  const u = new URL(url);
  const query = new Map([...u.searchParams].map(([k, v]) => [k.toLowerCase(), v.toLowerCase()]));
  const flag = (name: string) => query.get(name);
  return {
    server: u.hostname,
    port: u.port ? Number(u.port) : 1433,
    user: decodeURIComponent(u.username) || undefined,
    password: decodeURIComponent(u.password) || undefined,
    database: decodeURIComponent(u.pathname.replace(/^\//, '')) || undefined,
    options: { encrypt: flag('encrypt') !== 'false', trustServerCertificate: flag('trustservercertificate') === 'true' },
    pool: { max: poolMax, min: 0 },
  };
}

class PoolExecutor implements SqlServerExecutor {
  private readonly pool: sql.ConnectionPool;
  private connecting: Promise<sql.ConnectionPool> | undefined;

  constructor(config: sql.config | string) {
    this.pool = typeof config === 'string' ? new sql.ConnectionPool(config) : new sql.ConnectionPool(config);
    // A dropped idle connection must not crash the process; the next request reconnects.
    this.pool.on('error', () => undefined);
  }

  private ready(): Promise<sql.ConnectionPool> {
    this.connecting ??= this.pool.connect().catch((error: unknown) => {
      this.connecting = undefined;
      throw error;
    });
    return this.connecting;
  }

  private static bind(request: sql.Request, params: SqlParams): sql.Request {
    for (const [name, p] of Object.entries(params)) request.input(name, p.type, p.value);
    return request;
  }

  query: QueryFn = async <R,>(text: string, params: SqlParams = {}) => {
    const pool = await this.ready();
    const res = await PoolExecutor.bind(pool.request(), params).query<R>(text);
    return { recordset: res.recordset ?? [], rowsAffected: res.rowsAffected.reduce((a, b) => a + b, 0) };
  };

  async transaction<T>(work: (query: QueryFn) => Promise<T>): Promise<T> {
    const pool = await this.ready();
    const tx = new sql.Transaction(pool);
    await tx.begin();
    const query: QueryFn = async <R,>(text: string, params: SqlParams = {}) => {
      const res = await PoolExecutor.bind(new sql.Request(tx), params).query<R>(text);
      return { recordset: res.recordset ?? [], rowsAffected: res.rowsAffected.reduce((a, b) => a + b, 0) };
    };
    try {
      const result = await work(query);
      await tx.commit();
      return result;
    } catch (error) {
      await tx.rollback().catch(() => undefined);
      throw error;
    }
  }

  async close(): Promise<void> {
    await this.pool.close();
  }
}

/** SQL Server keeps JSON as text; these are the shared rows before their JSON columns are parsed. */
interface ConfigRow extends VersionColumns {
  doc: string;
}
type RawLedgerRow = Omit<LedgerRow, 'moved_from'> & { moved_from: string | null };
type RawRunRow = Omit<RunRow, 'run_plan'> & { run_plan: string | null };
type RawFailureRow = Omit<FailureRow, 'row_key'> & { row_key: string };
/** SQL Server has no JSON column type: the row key comes back as text. */
const rawFailure = (definitionId: string, r: RawFailureRow) => toFailure(definitionId, { ...r, row_key: JSON.parse(r.row_key) as unknown[] });
type RawDriftReportRow = Omit<DriftReportRow, 'report'> & { report: string | null };

const parse = (text: string | null): unknown => (text === null ? undefined : (JSON.parse(text) as unknown));

const readLedger = (r: RawLedgerRow) => toLedger({ ...r, moved_from: (parse(r.moved_from) as LedgerEntry['movedFrom']) ?? null });

export class SqlServerStateStore implements StateStore {
  private readonly db: SqlServerExecutor;
  private readonly s: string;
  private readonly schema: string;
  private readonly migrations: SqlMigration[];

  constructor(options: SqlServerStateStoreOptions) {
    this.schema = stateSchema(options.schema);
    this.s = `[${this.schema}]`;
    this.migrations = options.migrations ?? SQLSERVER_MIGRATIONS;
    if (options.executor) this.db = options.executor;
    else if (options.url) this.db = new PoolExecutor(mssqlConfig(options.url, options.poolMax));
    else throw configError(MODULE, 'state_store_config', 'the SQL Server state store needs a connection URL (STATE_SQL_URL)');
  }

  private async q<R>(what: string, text: string, params: SqlParams = {}): Promise<{ recordset: R[]; rowsAffected: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.db.query<R>(text, params);
      } catch (error) {
        if (errorNumber(error) === DEADLOCK && attempt < 4) {
          await backoff(attempt, 10, 200);
          continue;
        }
        mssqlFail(error, what);
      }
    }
  }

  async init(): Promise<void> {
    const s = this.s;
    try {
      await this.db.transaction(async (query) => {
        // Instances starting together queue on the app lock; the first applies, the rest find nothing to do.
        const lock = await query<{ result: number }>(
          `DECLARE @result INT; EXEC @result = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 60000; SELECT @result AS result;`,
          { resource: P.key(`sync-state-migrations:${this.schema}`) },
        );
        if ((lock.recordset[0]?.result ?? -1) < 0) throw stateUnavailable('another instance is applying state migrations; retry later');
        // CREATE SCHEMA must be alone in its batch, hence EXEC.
        await query(`IF SCHEMA_ID(@schema) IS NULL EXEC(N'CREATE SCHEMA ${s}');`, { schema: P.key(this.schema) });
        await query(
          `IF OBJECT_ID(N'${s}.migrations', N'U') IS NULL CREATE TABLE ${s}.migrations (version INT NOT NULL CONSTRAINT PK_migrations PRIMARY KEY, name NVARCHAR(200) NOT NULL, applied_at DATETIME2(3) NOT NULL CONSTRAINT DF_migrations_applied DEFAULT SYSUTCDATETIME());`,
        );
        const applied = new Set((await query<{ version: number }>(`SELECT version FROM ${s}.migrations;`)).recordset.map((r) => r.version));
        for (const m of pendingMigrations(this.schema, this.migrations, applied)) {
          await query(m.sql(s));
          await query(`INSERT INTO ${s}.migrations (version, name) VALUES (@version, @name);`, { version: P.int(m.version), name: P.key(m.name) });
        }
      });
    } catch (error) {
      mssqlFail(error, 'applying state migrations');
    }
  }

  async ping(): Promise<void> {
    await this.q('ping', 'SELECT 1 AS ok;');
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Test/maintenance helper: drops every state table and the schema. */
  async dropSchema(): Promise<void> {
    await this.q(
      'dropping the state schema',
      `DECLARE @sql NVARCHAR(MAX) = N'';
       SELECT @sql += N'DROP TABLE ' + QUOTENAME(SCHEMA_NAME(schema_id)) + N'.' + QUOTENAME(name) + N'; ' FROM sys.tables WHERE schema_id = SCHEMA_ID(@schema);
       EXEC sp_executesql @sql;
       IF SCHEMA_ID(@schema) IS NOT NULL EXEC(N'DROP SCHEMA ${this.s}');`,
      { schema: P.key(this.schema) },
    );
  }

  // ---------------------------------------------------------------- configuration

  private async putConfig<T extends { etag?: string; createdAt?: string; updatedAt?: string }>(
    kind: ConfigKind,
    id: string,
    record: T,
    opts: { ifMatch?: string; mustNotExist?: boolean } = {},
  ): Promise<T> {
    const table = `${this.s}.${CONFIG_TABLES[kind]}`;
    const params = { id: P.key(id), doc: P.text(JSON.stringify(withoutVersion(record))) };
    const what = `saving ${kind} '${id}'`;
    const done = (row: ConfigRow | undefined): T => withVersionOf(record, row);
    const output = 'OUTPUT inserted.version, inserted.created_at, inserted.updated_at';
    if (opts.mustNotExist) {
      try {
        return done((await this.q<ConfigRow>(what, `INSERT INTO ${table} (id, doc) ${output} VALUES (@id, @doc);`, params)).recordset[0]);
      } catch (error) {
        if ((error as { code?: string }).code === 'state_conflict') throw stateConflict(`${kind} '${id}' already exists`, error);
        throw error;
      }
    }
    if (opts.ifMatch !== undefined) {
      const version = /^\d+$/.test(opts.ifMatch) ? opts.ifMatch : '-1';
      const res = await this.q<ConfigRow>(
        what,
        `UPDATE ${table} SET doc = @doc, version = version + 1, updated_at = SYSUTCDATETIME() ${output} WHERE id = @id AND version = @version;`,
        { ...params, version: P.bigint(version) },
      );
      if (res.recordset.length === 1) return done(res.recordset[0]);
      const exists = await this.q(what, `SELECT 1 AS found FROM ${table} WHERE id = @id;`, { id: P.key(id) });
      if (exists.recordset.length === 0) throw notFound(MODULE, kind, id);
      throw stateConflict(`${kind} '${id}' was changed by someone else; reload it and retry`);
    }
    const res = await this.q<ConfigRow>(
      what,
      `MERGE ${table} WITH (HOLDLOCK) AS t USING (SELECT @id AS id, @doc AS doc) AS x ON t.id = x.id
       WHEN MATCHED THEN UPDATE SET doc = x.doc, version = t.version + 1, updated_at = SYSUTCDATETIME()
       WHEN NOT MATCHED THEN INSERT (id, doc) VALUES (x.id, x.doc)
       ${output};`,
      params,
    );
    return done(res.recordset[0]);
  }

  private fromConfig<T>(row: ConfigRow): T {
    return withVersionOf(JSON.parse(row.doc) as T, row);
  }

  private async getConfig<T>(kind: ConfigKind, id: string): Promise<T | null> {
    const res = await this.q<ConfigRow>(`reading ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.s}.${CONFIG_TABLES[kind]} WHERE id = @id;`, { id: P.key(id) });
    const row = res.recordset[0];
    return row ? this.fromConfig<T>(row) : null;
  }

  private async listConfig<T>(kind: ConfigKind): Promise<T[]> {
    const res = await this.q<ConfigRow>(`listing ${kind}`, `SELECT doc, version, created_at, updated_at FROM ${this.s}.${CONFIG_TABLES[kind]} ORDER BY id;`);
    return res.recordset.map((row) => this.fromConfig<T>(row));
  }

  private async deleteConfig(kind: ConfigKind, id: string): Promise<boolean> {
    return (await this.q(`deleting ${kind}`, `DELETE FROM ${this.s}.${CONFIG_TABLES[kind]} WHERE id = @id;`, { id: P.key(id) })).rowsAffected > 0;
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
    const res = await this.q<RawLedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.s}.ledger
       WHERE definition_id = @definitionId AND identity_hash IN (SELECT h FROM OPENJSON(@hashes) WITH (h NVARCHAR(128) '$'));`,
      { definitionId: P.key(definitionId), hashes: P.text(JSON.stringify([...new Set(identityHashes)])) },
    );
    for (const row of res.recordset) out.set(row.identity_hash, readLedger(row));
    return out;
  }

  async getLedgerByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    const res = await this.q<RawLedgerRow>(
      'reading the ledger',
      `SELECT ${LEDGER_COLUMNS} FROM ${this.s}.ledger WHERE definition_id = @definitionId AND list_id = @listId AND item_id = @itemId;`,
      { definitionId: P.key(definitionId), listId: P.key(listId), itemId: P.key(itemId) },
    );
    const row = res.recordset[0];
    return row ? readLedger(row) : null;
  }

  async putLedger(entries: LedgerEntry[]): Promise<void> {
    const batch = ledgerBatchInLockOrder(entries);
    if (batch.length === 0) return;
    const rows = batch.map((e) => ({
      d: e.definitionId,
      h: e.identityHash,
      l: e.listId,
      i: e.itemId,
      c: e.contentHash,
      s: e.state,
      m: e.movedFrom ? JSON.stringify(e.movedFrom) : null,
    }));
    await this.q(
      'writing the ledger',
      `MERGE ${this.s}.ledger WITH (HOLDLOCK) AS t
       USING (SELECT d, h, l, i, c, s, m FROM OPENJSON(@batch) WITH (
                d NVARCHAR(128) '$.d', h NVARCHAR(128) '$.h', l NVARCHAR(256) '$.l', i NVARCHAR(128) '$.i',
                c NVARCHAR(128) '$.c', s NVARCHAR(16) '$.s', m NVARCHAR(MAX) '$.m')) AS x
       ON t.definition_id = x.d AND t.identity_hash = x.h
       WHEN MATCHED THEN UPDATE SET list_id = x.l, item_id = x.i, content_hash = x.c, state = x.s, moved_from = x.m, updated_at = SYSUTCDATETIME()
       WHEN NOT MATCHED THEN INSERT (definition_id, identity_hash, list_id, item_id, content_hash, state, moved_from) VALUES (x.d, x.h, x.l, x.i, x.c, x.s, x.m);`,
      { batch: P.text(JSON.stringify(rows)) },
    );
  }

  async deleteLedger(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length === 0) return;
    await this.q(
      'deleting ledger entries',
      `DELETE FROM ${this.s}.ledger WHERE definition_id = @definitionId AND identity_hash IN (SELECT h FROM OPENJSON(@hashes) WITH (h NVARCHAR(128) '$'));`,
      { definitionId: P.key(definitionId), hashes: P.text(JSON.stringify([...new Set(identityHashes)])) },
    );
  }

  async *scanLedger(definitionId: string, pageSize = 1000): AsyncIterable<LedgerEntry[]> {
    const size = Math.min(Math.max(1, pageSize), 10_000);
    let afterHash = '';
    while (true) {
      const res = await this.q<RawLedgerRow>(
        'scanning the ledger',
        `SELECT TOP (@size) ${LEDGER_COLUMNS} FROM ${this.s}.ledger WHERE definition_id = @definitionId AND identity_hash > @after ORDER BY identity_hash;`,
        { definitionId: P.key(definitionId), after: P.key(afterHash), size: P.int(size) },
      );
      if (res.recordset.length === 0) return;
      yield res.recordset.map(readLedger);
      if (res.recordset.length < size) return;
      afterHash = res.recordset[res.recordset.length - 1]?.identity_hash ?? '';
    }
  }

  // ---------------------------------------------------------------- cursors

  async getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null> {
    const res = await this.q<CursorRow>(
      'reading the cursor',
      `SELECT position, mapping_version, updated_at FROM ${this.s}.cursors WHERE definition_id = @definitionId AND source_id = @sourceId;`,
      { definitionId: P.key(definitionId), sourceId: P.key(sourceId) },
    );
    const row = res.recordset[0];
    return row ? toCursor(definitionId, sourceId, row) : null;
  }

  async putCursor(cursor: CursorRecord): Promise<void> {
    await this.q(
      'saving the cursor',
      `MERGE ${this.s}.cursors WITH (HOLDLOCK) AS t
       USING (SELECT @definitionId AS definition_id, @sourceId AS source_id) AS x ON t.definition_id = x.definition_id AND t.source_id = x.source_id
       WHEN MATCHED THEN UPDATE SET position = @position, mapping_version = @mappingVersion, updated_at = SYSUTCDATETIME()
       WHEN NOT MATCHED THEN INSERT (definition_id, source_id, position, mapping_version) VALUES (@definitionId, @sourceId, @position, @mappingVersion);`,
      {
        definitionId: P.key(cursor.definitionId),
        sourceId: P.key(cursor.sourceId),
        position: P.text(cursor.position),
        mappingVersion: P.int(cursor.mappingVersion),
      },
    );
  }

  // ---------------------------------------------------------------- runs

  private readRun(row: RawRunRow): RunRecord {
    return toRun({ ...row, run_plan: parse(row.run_plan) ?? null });
  }

  async createRun(run: RunRecord): Promise<void> {
    const startedAt = isoOrThrow(run.startedAt, 'startedAt');
    const params: SqlParams = {
      runId: P.key(run.runId),
      definitionId: P.key(run.definitionId),
      mode: P.key(run.mode),
      trigger: P.key(run.trigger),
      status: P.key(run.status),
      sourceId: P.key(run.sourceId ?? null),
      startedAt: P.time(startedAt),
      finishedAt: P.time(run.finishedAt ? isoOrThrow(run.finishedAt, 'finishedAt') : null),
      highWater: P.text(run.highWater ?? null),
      batchesExpected: P.int(run.batchesExpected),
      batchesSettled: P.int(run.batchesSettled),
      error: P.text(storedErrorText(run.error ?? null)),
      plan: P.text(jsonOrNull(run.plan)),
    };
    for (const k of COUNT_KEYS) params[`n_${k}`] = P.int(run.counts[k]);
    try {
      await this.q(
        `creating run '${run.runId}'`,
        `INSERT INTO ${this.s}.runs (run_id, definition_id, mode, run_trigger, status, source_id, started_at, finished_at, high_water,
           ${COUNT_KEYS.map((k) => COUNTER_COLUMNS[k]).join(', ')}, batches_expected, batches_settled, error, run_plan, listed_at)
         VALUES (@runId, @definitionId, @mode, @trigger, @status, @sourceId, @startedAt, @finishedAt, @highWater,
           ${COUNT_KEYS.map((k) => `@n_${k}`).join(', ')}, @batchesExpected, @batchesSettled, @error, @plan, @startedAt);`,
        params,
      );
    } catch (error) {
      if ((error as { code?: string }).code === 'state_conflict') throw stateConflict(`run '${run.runId}' already exists`, error);
      throw error;
    }
  }

  async getRun(runId: string): Promise<RunRecord | null> {
    const res = await this.q<RawRunRow>('reading a run', `SELECT * FROM ${this.s}.runs WHERE run_id = @runId;`, { runId: P.key(runId) });
    const row = res.recordset[0];
    return row ? this.readRun(row) : null;
  }

  async updateRun(runId: string, patch: Partial<Omit<RunRecord, 'runId' | 'definitionId'>>): Promise<RunRecord> {
    const sets: string[] = [];
    const params: SqlParams = { runId: P.key(runId) };
    const set = (column: string, param: SqlParam) => {
      const name = `p${sets.length}`;
      params[name] = param;
      sets.push(`${column} = @${name}`);
    };
    if (patch.mode !== undefined) set('mode', P.key(patch.mode));
    if (patch.trigger !== undefined) set('run_trigger', P.key(patch.trigger));
    if (patch.status !== undefined) set('status', P.key(patch.status));
    if ('sourceId' in patch) set('source_id', P.key(patch.sourceId ?? null));
    if (patch.startedAt !== undefined) set('started_at', P.time(isoOrThrow(patch.startedAt, 'startedAt')));
    if ('finishedAt' in patch) set('finished_at', P.time(patch.finishedAt ? isoOrThrow(patch.finishedAt, 'finishedAt') : null));
    if ('highWater' in patch) set('high_water', P.text(patch.highWater ?? null));
    if ('error' in patch) set('error', P.text(storedErrorText(patch.error ?? null)));
    if ('plan' in patch) set('run_plan', P.text(jsonOrNull(patch.plan)));
    if (patch.batchesExpected !== undefined) set('batches_expected', P.int(patch.batchesExpected));
    if (patch.batchesSettled !== undefined) set('batches_settled', P.int(patch.batchesSettled));
    if (patch.counts) for (const name of COUNT_KEYS) if (patch.counts[name] !== undefined) set(COUNTER_COLUMNS[name], P.int(patch.counts[name]));
    const res =
      sets.length === 0
        ? await this.q<RawRunRow>('reading a run', `SELECT * FROM ${this.s}.runs WHERE run_id = @runId;`, params)
        : await this.q<RawRunRow>(`updating run '${runId}'`, `UPDATE ${this.s}.runs SET ${sets.join(', ')} OUTPUT inserted.* WHERE run_id = @runId;`, params);
    const row = res.recordset[0];
    if (!row) throw notFound(MODULE, 'run', runId);
    return this.readRun(row);
  }

  async incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<RunRecord> {
    const checked = new Map(checkDeltas(deltas));
    const params: SqlParams = { runId: P.key(runId) };
    const sets = PROGRESS_COUNTERS.map((name) => {
      params[`d_${name}`] = P.int(checked.get(name) ?? 0);
      return `${COUNTER_COLUMNS[name]} = ${COUNTER_COLUMNS[name]} + @d_${name}`;
    });
    const res = await this.q<RawRunRow>(`updating run '${runId}'`, `UPDATE ${this.s}.runs SET ${sets.join(', ')} OUTPUT inserted.* WHERE run_id = @runId;`, params);
    const row = res.recordset[0];
    if (!row) throw notFound(MODULE, 'run', runId);
    return this.readRun(row);
  }

  async incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<{ run: RunRecord; applied: boolean }> {
    const checked = new Map(checkDeltas(deltas));
    const params: SqlParams = { runId: P.key(runId), mark: P.key(key) };
    const sets = PROGRESS_COUNTERS.map((name) => {
      params[`d_${name}`] = P.int(checked.get(name) ?? 0);
      return `${COUNTER_COLUMNS[name]} = ${COUNTER_COLUMNS[name]} + @d_${name}`;
    });
    // Marker and increment in one transaction; UPDLOCK+HOLDLOCK makes a concurrent twin wait and then see the marker.
    let res: { recordset: RawRunRow[]; rowsAffected: number };
    try {
      res = await this.q<RawRunRow>(
        `updating run '${runId}'`,
        `SET XACT_ABORT ON;
         BEGIN TRANSACTION;
         INSERT INTO ${this.s}.run_marks (run_id, mark)
           SELECT @runId, @mark WHERE EXISTS (SELECT 1 FROM ${this.s}.runs WHERE run_id = @runId)
             AND NOT EXISTS (SELECT 1 FROM ${this.s}.run_marks WITH (UPDLOCK, HOLDLOCK) WHERE run_id = @runId AND mark = @mark);
         IF @@ROWCOUNT = 1 UPDATE ${this.s}.runs SET ${sets.join(', ')} OUTPUT inserted.* WHERE run_id = @runId;
         COMMIT TRANSACTION;`,
        params,
      );
    } catch (error) {
      if (!isSyncError(error, 'state_conflict')) throw error;
      res = { recordset: [], rowsAffected: 0 };
    }
    const row = res.recordset[0];
    if (row) return { run: this.readRun(row), applied: true };
    const run = await this.getRun(runId);
    if (!run) throw notFound(MODULE, 'run', runId);
    return { run, applied: false };
  }

  async listRuns(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<RunRecord>> {
    const limit = pageLimit(opts.limit);
    const from = keysetStart(opts.next);
    const res = await this.q<RawRunRow>(
      'listing runs',
      `SELECT TOP (@take) * FROM ${this.s}.runs WHERE definition_id = @definitionId
         AND (@t IS NULL OR listed_at < @t OR (listed_at = @t AND run_id > @id))
       ORDER BY listed_at DESC, run_id;`,
      { definitionId: P.key(definitionId), t: P.time(from.at), id: P.key(from.id), take: P.int(limit + 1) },
    );
    return keysetPage(res.recordset, limit, (r) => this.readRun(r), (r) => [r.listed_at, r.run_id]);
  }

  // ---------------------------------------------------------------- failures

  async putFailure(f: FailureRecord): Promise<void> {
    await this.q(
      'saving a row failure',
      `MERGE ${this.s}.failures WITH (HOLDLOCK) AS t
       USING (SELECT @definitionId AS definition_id, @identityHash AS identity_hash) AS x ON t.definition_id = x.definition_id AND t.identity_hash = x.identity_hash
       WHEN MATCHED THEN UPDATE SET row_key = @rowKey, attempts = @attempts, last_error = @lastError, last_run_id = @lastRunId,
         quarantined = @quarantined, first_failed_at = @firstFailedAt, last_failed_at = @lastFailedAt
       WHEN NOT MATCHED THEN INSERT (definition_id, identity_hash, row_key, attempts, last_error, last_run_id, quarantined, first_failed_at, last_failed_at)
         VALUES (@definitionId, @identityHash, @rowKey, @attempts, @lastError, @lastRunId, @quarantined, @firstFailedAt, @lastFailedAt);`,
      {
        definitionId: P.key(f.definitionId),
        identityHash: P.key(f.identityHash),
        rowKey: P.text(JSON.stringify(f.key)),
        attempts: P.int(f.attempts),
        lastError: P.text(storedErrorText(f.lastError)),
        lastRunId: P.key(f.lastRunId ?? null),
        quarantined: P.bit(f.quarantined),
        firstFailedAt: P.time(isoOrThrow(f.firstFailedAt, 'firstFailedAt')),
        lastFailedAt: P.time(isoOrThrow(f.lastFailedAt, 'lastFailedAt')),
      },
    );
  }

  async getFailures(definitionId: string, opts: { includeQuarantined?: boolean } = {}): Promise<FailureRecord[]> {
    const res = await this.q<RawFailureRow>(
      'reading row failures',
      `SELECT * FROM ${this.s}.failures WHERE definition_id = @definitionId AND (@all = 1 OR quarantined = 0) ORDER BY identity_hash;`,
      { definitionId: P.key(definitionId), all: P.bit(opts.includeQuarantined === true) },
    );
    return res.recordset.map((r) => rawFailure(definitionId, r));
  }

  async pageFailures(definitionId: string, opts: FailurePageOptions = {}): Promise<Page<FailureRecord>> {
    const limit = pageLimit(opts.limit);
    const res = await this.q<RawFailureRow>(
      'reading a page of row failures',
      `SELECT TOP (@take) * FROM ${this.s}.failures WHERE definition_id = @definitionId AND (@any = 1 OR quarantined = @quarantined) AND identity_hash > @after ORDER BY identity_hash;`,
      { definitionId: P.key(definitionId), any: P.bit(opts.quarantined === undefined), quarantined: P.bit(opts.quarantined === true), after: P.key(keyAfterToken(opts.next)), take: P.int(limit + 1) },
    );
    return pageAfterKey(res.recordset, limit, (r) => rawFailure(definitionId, r), (r) => r.identity_hash);
  }

  async getFailuresFor(definitionId: string, identityHashes: string[]): Promise<Map<string, FailureRecord>> {
    if (identityHashes.length === 0) return new Map();
    const res = await this.q<RawFailureRow>(
      'reading row failures',
      `SELECT * FROM ${this.s}.failures WHERE definition_id = @definitionId AND identity_hash IN (SELECT h FROM OPENJSON(@hashes) WITH (h NVARCHAR(128) '$'));`,
      { definitionId: P.key(definitionId), hashes: P.text(JSON.stringify(identityHashes)) },
    );
    return new Map(res.recordset.map((r) => [r.identity_hash, rawFailure(definitionId, r)]));
  }

  async deleteFailures(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length === 0) return;
    await this.q(
      'deleting row failures',
      `DELETE FROM ${this.s}.failures WHERE definition_id = @definitionId AND identity_hash IN (SELECT h FROM OPENJSON(@hashes) WITH (h NVARCHAR(128) '$'));`,
      { definitionId: P.key(definitionId), hashes: P.text(JSON.stringify(identityHashes)) },
    );
  }

  // ---------------------------------------------------------------- moves

  async addMove(m: MoveRecord): Promise<void> {
    // A redelivered move records itself once; a duplicate that slips past the check is the same move.
    try {
      await this.q(
        'recording a move',
        `INSERT INTO ${this.s}.moves (definition_id, move_id, identity_hash, from_list_id, from_item_id, to_list_id, to_item_id, run_id, at)
         SELECT @definitionId, @moveId, @identityHash, @fromList, @fromItem, @toList, @toItem, @runId, @at
         WHERE NOT EXISTS (SELECT 1 FROM ${this.s}.moves WITH (UPDLOCK, HOLDLOCK) WHERE definition_id = @definitionId AND move_id = @moveId);`,
        {
          definitionId: P.key(m.definitionId),
          moveId: P.key(m.moveId),
          identityHash: P.key(m.identityHash),
          fromList: P.key(m.from.listId),
          fromItem: P.key(m.from.itemId),
          toList: P.key(m.to.listId),
          toItem: P.key(m.to.itemId),
          runId: P.key(m.runId ?? null),
          at: P.time(isoOrThrow(m.at, 'at')),
        },
      );
    } catch (error) {
      if (!isSyncError(error, 'state_conflict')) throw error;
    }
  }

  async listMoves(definitionId: string, opts: { limit?: number; next?: string } = {}): Promise<Page<MoveRecord>> {
    const limit = pageLimit(opts.limit);
    const from = keysetStart(opts.next);
    const res = await this.q<MoveRow>(
      'listing moves',
      `SELECT TOP (@take) * FROM ${this.s}.moves WHERE definition_id = @definitionId
         AND (@t IS NULL OR at < @t OR (at = @t AND move_id > @id))
       ORDER BY at DESC, move_id;`,
      { definitionId: P.key(definitionId), t: P.time(from.at), id: P.key(from.id), take: P.int(limit + 1) },
    );
    return keysetPage(res.recordset, limit, (r) => toMove(definitionId, r), (r) => [r.at, r.move_id]);
  }

  // ---------------------------------------------------------------- leases (database clock)

  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const res = await this.q(
      `acquiring lease '${name}'`,
      `MERGE ${this.s}.leases WITH (HOLDLOCK) AS t USING (SELECT @name AS name) AS x ON t.name = x.name
       WHEN MATCHED AND (t.expires_at < SYSUTCDATETIME() OR t.holder = @holder)
         THEN UPDATE SET holder = @holder, expires_at = DATEADD(millisecond, @ttl, SYSUTCDATETIME())
       WHEN NOT MATCHED THEN INSERT (name, holder, expires_at) VALUES (@name, @holder, DATEADD(millisecond, @ttl, SYSUTCDATETIME()));`,
      { name: P.key(name), holder: P.key(holder), ttl: P.int(Math.min(Math.round(ttlMs), 2_147_483_647)) },
    );
    return res.rowsAffected === 1;
  }

  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    checkTtl(ttlMs);
    const res = await this.q(
      `renewing lease '${name}'`,
      `UPDATE ${this.s}.leases SET expires_at = DATEADD(millisecond, @ttl, SYSUTCDATETIME()) WHERE name = @name AND holder = @holder;`,
      { name: P.key(name), holder: P.key(holder), ttl: P.int(Math.min(Math.round(ttlMs), 2_147_483_647)) },
    );
    return res.rowsAffected === 1;
  }

  async releaseLease(name: string, holder: string): Promise<void> {
    await this.q(`releasing lease '${name}'`, `DELETE FROM ${this.s}.leases WHERE name = @name AND holder = @holder;`, { name: P.key(name), holder: P.key(holder) });
  }

  // ---------------------------------------------------------------- schedule

  async getLastSlot(definitionId: string): Promise<string | null> {
    const res = await this.q<{ last_slot: string | null }>('reading the schedule slot', `SELECT last_slot FROM ${this.s}.schedule_slots WHERE definition_id = @definitionId;`, {
      definitionId: P.key(definitionId),
    });
    return res.recordset[0]?.last_slot ?? null;
  }

  async casLastSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean> {
    const params = { definitionId: P.key(definitionId), expected: P.key(expected), slot: P.key(slot) };
    if (expected === null) {
      const res = await this.q(
        'recording the schedule slot',
        `MERGE ${this.s}.schedule_slots WITH (HOLDLOCK) AS t USING (SELECT @definitionId AS definition_id) AS x ON t.definition_id = x.definition_id
         WHEN MATCHED AND t.last_slot IS NULL THEN UPDATE SET last_slot = @slot, updated_at = SYSUTCDATETIME()
         WHEN NOT MATCHED THEN INSERT (definition_id, last_slot) VALUES (@definitionId, @slot);`,
        params,
      );
      return res.rowsAffected === 1;
    }
    const res = await this.q(
      'recording the schedule slot',
      `UPDATE ${this.s}.schedule_slots SET last_slot = @slot, updated_at = SYSUTCDATETIME() WHERE definition_id = @definitionId AND last_slot = @expected;`,
      params,
    );
    return res.rowsAffected === 1;
  }

  // ---------------------------------------------------------------- drift reports

  async putDriftReport(r: DriftReportRecord): Promise<void> {
    await this.q(
      'saving the drift report',
      `MERGE ${this.s}.drift_reports WITH (HOLDLOCK) AS t
       USING (SELECT @definitionId AS definition_id, @reportId AS report_id) AS x ON t.definition_id = x.definition_id AND t.report_id = x.report_id
       WHEN MATCHED THEN UPDATE SET created_at = @createdAt, status = @status, report = @report
       WHEN NOT MATCHED THEN INSERT (definition_id, report_id, created_at, status, report) VALUES (@definitionId, @reportId, @createdAt, @status, @report);`,
      {
        definitionId: P.key(r.definitionId),
        reportId: P.key(r.reportId),
        createdAt: P.time(isoOrThrow(r.createdAt, 'createdAt')),
        status: P.key(r.status),
        report: P.text(jsonOrNull(r.report)),
      },
    );
  }

  async getDriftReport(definitionId: string, reportId: string): Promise<DriftReportRecord | null> {
    const res = await this.q<RawDriftReportRow>(
      'reading the drift report',
      `SELECT created_at, status, report FROM ${this.s}.drift_reports WHERE definition_id = @definitionId AND report_id = @reportId;`,
      { definitionId: P.key(definitionId), reportId: P.key(reportId) },
    );
    const row = res.recordset[0];
    return row ? toDriftReport(definitionId, reportId, { ...row, report: parse(row.report) }) : null;
  }
}
