import * as sql from 'mssql';
import { configError } from '../../core/errors';
import { invalidInput, MODULE, rethrowIfSyncError, stateConflict, stateUnavailable } from './common';
import type { SqlMigration } from './migrations/postgres';
import { SQLSERVER_MIGRATIONS } from './migrations/sqlserver';
import { insertParts, setList, SqlDb, type InsertSpec, type SqlDialect, type SqlDriver, type SqlValue, type SqlValues, type UpsertSpec } from './sql/db';
import { migrate, stateSchema } from './sql/migrate';
import { SqlStateStore } from './sql/store';

/**
 * StateStore on SQL Server / Azure SQL: the shared SQL storage over `mssql`. What is SQL
 * Server's own: the dialect below (upserts are `MERGE … WITH (HOLDLOCK)`, without which two
 * MERGEs can both take the insert branch; key lists travel as one JSON parameter unpacked with
 * OPENJSON, SQL Server 2016+), typed parameters, JSON kept as text, error numbers, and
 * migrations under `sp_getapplock`.
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
  /** Ledger rows this store writes or removes between two `UPDATE STATISTICS` of the ledger (default 10,000). */
  statisticsRefreshRows?: number;
}

/** 2627: PRIMARY KEY/UNIQUE constraint; 2601: unique index. */
const DUPLICATE = new Set([2627, 2601]);
/** 1205: chosen as deadlock victim; the statement was rolled back, so a retry is safe. */
const DEADLOCK = 1205;
/** 547 constraint, 8152/2628 truncation, 13609 invalid JSON, 242/241 bad date. */
const BAD_VALUE = new Set([547, 8152, 2628, 13609, 242, 241]);

interface MssqlErrorShape {
  number?: number;
  code?: string;
  originalError?: { info?: { number?: number } };
}

const errorNumber = (error: unknown): number | undefined => {
  const e = error as MssqlErrorShape | undefined;
  return e?.number ?? e?.originalError?.info?.number;
};

function mssqlFail(error: unknown, what: string): never {
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

  private static async run<R>(request: sql.Request, text: string, params: SqlParams): Promise<{ recordset: R[]; rowsAffected: number }> {
    for (const [name, p] of Object.entries(params)) request.input(name, p.type, p.value);
    const res = await request.query<R>(text);
    return { recordset: res.recordset ?? [], rowsAffected: res.rowsAffected.reduce((a, b) => a + b, 0) };
  }

  query: QueryFn = async <R,>(text: string, params: SqlParams = {}) => PoolExecutor.run<R>((await this.ready()).request(), text, params);

  async transaction<T>(work: (query: QueryFn) => Promise<T>): Promise<T> {
    const tx = new sql.Transaction(await this.ready());
    await tx.begin();
    try {
      const result = await work(<R,>(text: string, params: SqlParams = {}) => PoolExecutor.run<R>(new sql.Request(tx), text, params));
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

/** The driver type each value is declared with. */
function toParam(value: SqlValue): SqlParam {
  switch (value.type) {
    case 'key':
      return { type: sql.NVarChar(400), value: value.value };
    case 'text':
      return { type: sql.NVarChar(sql.MAX), value: value.value };
    case 'int':
      return { type: sql.Int(), value: value.value };
    case 'bigint':
      return { type: sql.BigInt(), value: value.value };
    case 'bit':
      return { type: sql.Bit(), value: value.value };
    case 'time':
      return { type: sql.DateTime2(3), value: value.value };
    case 'keys':
      return { type: sql.NVarChar(sql.MAX), value: JSON.stringify(value.value) };
    case 'json':
      return { type: sql.NVarChar(sql.MAX), value: value.value === undefined ? null : JSON.stringify(value.value) };
  }
}

const toParams = (values: SqlValues): SqlParams => Object.fromEntries(Object.entries(values).map(([name, value]) => [name, toParam(value)]));

const output = (columns: readonly string[] | undefined) => (columns ? ` OUTPUT ${columns.map((c) => `inserted.${c}`).join(', ')}` : '');

function sqlServerDialect(schema: string): SqlDialect {
  const now = 'SYSUTCDATETIME()';
  return {
    schema,
    now,
    later: (ms) => `DATEADD(millisecond, ${ms}, ${now})`,
    keyIn: (column, param) => `${column} IN (SELECT h FROM OPENJSON(${param}) WITH (h NVARCHAR(128) '$'))`,
    selectFirst: (take, q) => `SELECT TOP (${take}) ${q.columns} FROM ${q.from} WHERE ${q.where} ORDER BY ${q.orderBy};`,
    updateReturning: (table, sets, where, columns) => `UPDATE ${table} SET ${sets}${output(columns)} WHERE ${where};`,
    upsert: (table: string, spec: UpsertSpec) => {
      const row = insertParts(spec);
      const source = Object.entries(spec.key).map(([column, value]) => `${value} AS ${column}`);
      const match = Object.keys(spec.key).map((c) => `t.${c} = x.${c}`);
      const sets = [...setList(spec.values), ...setList(spec.onUpdate ?? {})];
      return `MERGE ${table} WITH (HOLDLOCK) AS t USING (SELECT ${source.join(', ')}) AS x ON ${match.join(' AND ')}
       WHEN MATCHED${spec.when ? ` AND ${spec.when}` : ''} THEN UPDATE SET ${sets.join(', ')}
       WHEN NOT MATCHED THEN INSERT (${row.columns}) VALUES (${row.values})${output(spec.returning)};`;
    },
    insertIfAbsent: (table: string, spec: InsertSpec) => {
      const row = insertParts(spec);
      return `INSERT INTO ${table} (${row.columns})${output(spec.returning)} SELECT ${row.values}
       WHERE NOT EXISTS (SELECT 1 FROM ${table} WITH (UPDLOCK, HOLDLOCK) WHERE ${setList(spec.key).join(' AND ')});`;
    },
  };
}

function sqlServerDriver(executor: SqlServerExecutor, quotedSchema: string): SqlDriver {
  return {
    engine: 'sqlserver',
    dialect: sqlServerDialect(quotedSchema),
    execute: async <R,>(text: string, values: SqlValues) => {
      const res = await executor.query<R>(text, toParams(values));
      return { rows: res.recordset, count: res.rowsAffected };
    },
    rolledBack: (error) => errorNumber(error) === DEADLOCK,
    fail: mssqlFail,
    json: (raw) => (typeof raw === 'string' ? (JSON.parse(raw) as unknown) : raw),
  };
}

export class SqlServerStateStore extends SqlStateStore {
  private readonly executor: SqlServerExecutor;

  constructor(options: SqlServerStateStoreOptions) {
    const schema = stateSchema(options.schema);
    const executor = options.executor ?? SqlServerStateStore.openPool(options);
    super(new SqlDb(sqlServerDriver(executor, `[${schema}]`)), schema, options.migrations ?? SQLSERVER_MIGRATIONS, options.statisticsRefreshRows);
    this.executor = executor;
  }

  private static openPool(options: SqlServerStateStoreOptions): SqlServerExecutor {
    if (!options.url) throw configError(MODULE, 'state_store_config', 'the SQL Server state store needs a connection URL (STATE_SQL_URL)');
    return new PoolExecutor(mssqlConfig(options.url, options.poolMax));
  }

  async init(): Promise<void> {
    const s = this.db.dialect.schema;
    const key = (value: string): SqlParam => ({ type: sql.NVarChar(400), value });
    try {
      await this.executor.transaction((query) =>
        migrate(
          {
            lock: async () => {
              const lock = await query<{ result: number }>(
                `DECLARE @result INT; EXEC @result = sp_getapplock @Resource = @resource, @LockMode = 'Exclusive', @LockOwner = 'Transaction', @LockTimeout = 60000; SELECT @result AS result;`,
                { resource: key(`sync-state-migrations:${this.schemaName}`) },
              );
              if ((lock.recordset[0]?.result ?? -1) < 0) throw stateUnavailable('another instance is applying state migrations; retry later');
            },
            prepare: async () => {
              // CREATE SCHEMA must be alone in its batch, hence EXEC.
              await query(`IF SCHEMA_ID(@schema) IS NULL EXEC(N'CREATE SCHEMA ${s}');`, { schema: key(this.schemaName) });
              await query(
                `IF OBJECT_ID(N'${s}.migrations', N'U') IS NULL CREATE TABLE ${s}.migrations (version INT NOT NULL CONSTRAINT PK_migrations PRIMARY KEY, name NVARCHAR(200) NOT NULL, applied_at DATETIME2(3) NOT NULL CONSTRAINT DF_migrations_applied DEFAULT SYSUTCDATETIME());`,
              );
            },
            appliedVersions: async () => new Set((await query<{ version: number }>(`SELECT version FROM ${s}.migrations;`)).recordset.map((r) => r.version)),
            apply: async (m) => {
              await query(m.sql(s));
              await query(`INSERT INTO ${s}.migrations (version, name) VALUES (@version, @name);`, { version: { type: sql.Int(), value: m.version }, name: key(m.name) });
            },
          },
          this.schemaName,
          this.migrations,
        ),
      );
    } catch (error) {
      mssqlFail(error, 'applying state migrations');
    }
  }

  async close(): Promise<void> {
    await this.executor.close();
  }

  /** Test/maintenance helper: drops every state table and the schema. */
  async dropSchema(): Promise<void> {
    await this.db.query(
      'dropping the state schema',
      `DECLARE @sql NVARCHAR(MAX) = N'';
       SELECT @sql += N'DROP TABLE ' + QUOTENAME(SCHEMA_NAME(schema_id)) + N'.' + QUOTENAME(name) + N'; ' FROM sys.tables WHERE schema_id = SCHEMA_ID(@schema);
       EXEC sp_executesql @sql;
       IF SCHEMA_ID(@schema) IS NOT NULL EXEC(N'DROP SCHEMA ${this.db.dialect.schema}');`,
      { schema: { type: 'key', value: this.schemaName } },
    );
  }
}
