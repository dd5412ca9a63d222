import { Pool, type PoolClient, type QueryResultRow } from 'pg';
import { configError } from '../../core/errors';
import { invalidInput, MODULE, rethrowIfSyncError, stateConflict, stateUnavailable } from './common';
import { POSTGRES_MIGRATIONS, type SqlMigration } from './migrations/postgres';
import { insertParts, setList, SqlDb, type InsertSpec, type SqlDialect, type SqlDriver, type SqlValue, type SqlValues, type UpsertSpec } from './sql/db';
import { migrate, stateSchema } from './sql/migrate';
import { SqlStateStore } from './sql/store';

/**
 * StateStore on PostgreSQL: the shared SQL storage over `pg`. What is PostgreSQL's own: the
 * dialect below, `$n` parameters, jsonb arriving parsed, error codes, and migrations under an
 * advisory lock. Every write is one statement (atomic, no explicit transaction) except migrations.
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
  /** Ledger rows this store writes or removes between two `ANALYZE`s of the ledger (default 10,000). */
  statisticsRefreshRows?: number;
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

const returning = (columns: readonly string[] | undefined) => (columns ? ` RETURNING ${columns.join(', ')}` : '');

function postgresDialect(schema: string): SqlDialect {
  return {
    schema,
    now: 'now()',
    later: (ms) => `now() + ${ms} * interval '1 millisecond'`,
    keyIn: (column, param) => `${column} = ANY(${param}::text[])`,
    selectFirst: (take, q) => `SELECT ${q.columns} FROM ${q.from} WHERE ${q.where} ORDER BY ${q.orderBy} LIMIT ${take}`,
    updateReturning: (table, sets, where, columns) => `UPDATE ${table} SET ${sets} WHERE ${where}${returning(columns)}`,
    upsert: (table: string, spec: UpsertSpec) => {
      const row = insertParts(spec);
      const sets = [...Object.keys(spec.values).map((c) => `${c} = excluded.${c}`), ...setList(spec.onUpdate ?? {})];
      return `INSERT INTO ${table} AS t (${row.columns}) VALUES (${row.values})
       ON CONFLICT (${row.keyColumns}) DO UPDATE SET ${sets.join(', ')}${spec.when ? ` WHERE ${spec.when}` : ''}${returning(spec.returning)}`;
    },
    insertIfAbsent: (table: string, spec: InsertSpec) => {
      const row = insertParts(spec);
      return `INSERT INTO ${table} (${row.columns}) VALUES (${row.values}) ON CONFLICT (${row.keyColumns}) DO NOTHING${returning(spec.returning)}`;
    },
  };
}

const toParam = (value: SqlValue): unknown => (value.type === 'json' ? (value.value === undefined ? null : JSON.stringify(value.value)) : value.value);

/** `@name` placeholders as `$n`, each name bound once however often it appears. */
function positional(text: string, values: SqlValues): { text: string; params: unknown[] } {
  const index = new Map<string, number>();
  const params: unknown[] = [];
  const out = text.replace(/@([A-Za-z_][A-Za-z0-9_]*)/g, (_, name: string) => {
    let n = index.get(name);
    if (n === undefined) {
      const value = values[name];
      if (!value) throw new Error(`the statement uses @${name} but binds no value of that name`);
      params.push(toParam(value));
      n = params.length;
      index.set(name, n);
    }
    return `$${n}`;
  });
  return { text: out, params };
}

function postgresDriver(pool: Pool, quotedSchema: string): SqlDriver {
  return {
    engine: 'postgres',
    dialect: postgresDialect(quotedSchema),
    execute: async <R,>(text: string, values: SqlValues) => {
      const statement = positional(text, values);
      const res = await pool.query<R & QueryResultRow>(statement.text, statement.params);
      return { rows: res.rows, count: res.rowCount ?? 0 };
    },
    rolledBack: (error) => RETRYABLE.has((error as PgError)?.code ?? ''),
    fail: pgFail,
    json: (raw) => raw,
  };
}

export class PostgresStateStore extends SqlStateStore {
  private readonly pool: Pool;
  private readonly ownsPool: boolean;

  constructor(options: PostgresStateStoreOptions) {
    const schema = stateSchema(options.schema);
    const pool = options.pool ?? PostgresStateStore.openPool(options);
    super(new SqlDb(postgresDriver(pool, `"${schema}"`)), schema, options.migrations ?? POSTGRES_MIGRATIONS, options.statisticsRefreshRows);
    this.pool = pool;
    this.ownsPool = options.pool === undefined;
  }

  private static openPool(options: PostgresStateStoreOptions): Pool {
    if (!options.url) throw configError(MODULE, 'state_store_config', 'the PostgreSQL state store needs a connection URL (STATE_SQL_URL)');
    const pool = new Pool({ connectionString: options.url, max: options.poolMax ?? 10 });
    // An idle connection dropped by the server must not crash the process; the next query reconnects.
    pool.on('error', () => undefined);
    return pool;
  }

  async init(): Promise<void> {
    const s = this.db.dialect.schema;
    let client: PoolClient | undefined;
    try {
      client = await this.pool.connect();
      const tx = client;
      await tx.query('BEGIN');
      await migrate(
        {
          lock: async () => void (await tx.query('SELECT pg_advisory_xact_lock(hashtext($1))', [`sync-state-migrations:${this.schemaName}`])),
          prepare: async () => {
            await tx.query(`CREATE SCHEMA IF NOT EXISTS ${s}`);
            await tx.query(`CREATE TABLE IF NOT EXISTS ${s}.migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())`);
          },
          appliedVersions: async () => new Set((await tx.query<{ version: number }>(`SELECT version FROM ${s}.migrations`)).rows.map((r) => r.version)),
          apply: async (m) => {
            await tx.query(m.sql(s));
            await tx.query(`INSERT INTO ${s}.migrations (version, name) VALUES ($1, $2)`, [m.version, m.name]);
          },
        },
        this.schemaName,
        this.migrations,
      );
      await tx.query('COMMIT');
    } catch (error) {
      await client?.query('ROLLBACK').catch(() => undefined);
      pgFail(error, 'applying state migrations');
    } finally {
      client?.release();
    }
  }

  async close(): Promise<void> {
    if (this.ownsPool) await this.pool.end();
  }

  /** Test/maintenance helper: drops the whole state schema. */
  async dropSchema(): Promise<void> {
    await this.db.query('dropping the state schema', `DROP SCHEMA IF EXISTS ${this.db.dialect.schema} CASCADE`);
  }
}
