import { backoff } from '../common';

/**
 * The seam between the SQL storage, written once per aggregate, and an engine (PostgreSQL or
 * SQL Server). Statements name their values as `@placeholders` (PostgreSQL's driver turns them
 * into `$n`); each value carries the type SQL Server needs to declare it. What the two
 * dialects write differently is `SqlDialect`, small and named; the few statements that differ
 * as a whole sit beside their aggregate, one per engine.
 */

export type SqlEngine = 'postgres' | 'sqlserver';

export type SqlValue =
  | { type: 'key' | 'text'; value: string | null }
  | { type: 'int'; value: number }
  | { type: 'bigint'; value: string }
  | { type: 'bit'; value: boolean }
  | { type: 'time'; value: Date | null }
  /** A list of keys, for `keyIn`. */
  | { type: 'keys'; value: string[] }
  /** Serialised to JSON text; undefined becomes SQL NULL. */
  | { type: 'json'; value: unknown };

export type SqlValues = Record<string, SqlValue>;

export const bind = {
  /** Ids and other short strings that take part in keys and comparisons. */
  key: (value: string | null): SqlValue => ({ type: 'key', value }),
  text: (value: string | null): SqlValue => ({ type: 'text', value }),
  int: (value: number): SqlValue => ({ type: 'int', value }),
  bigint: (value: string): SqlValue => ({ type: 'bigint', value }),
  bit: (value: boolean): SqlValue => ({ type: 'bit', value }),
  time: (value: Date | null): SqlValue => ({ type: 'time', value }),
  keys: (value: string[]): SqlValue => ({ type: 'keys', value }),
  json: (value: unknown): SqlValue => ({ type: 'json', value }),
};

/** Column → SQL expression (usually a placeholder). */
export type Assignments = Record<string, string>;

export interface UpsertSpec {
  /** The primary-key columns and their values. */
  key: Assignments;
  /** Written on insert and on update. */
  values: Assignments;
  /** Further assignments on update only; the existing row is `t`. */
  onUpdate?: Assignments;
  /** Update only when this holds for the existing row `t`; otherwise nothing changes (0 rows). */
  when?: string;
  /** Columns of the written row to return (`*`: all). */
  returning?: readonly string[];
}

export interface InsertSpec {
  key: Assignments;
  values: Assignments;
  returning?: readonly string[];
}

export interface SelectSpec {
  columns: string;
  from: string;
  where: string;
  orderBy: string;
}

export interface SqlDialect {
  /** The state schema, quoted for this engine. */
  readonly schema: string;
  /** The database's current time, so that lease expiry never depends on instance clocks. */
  readonly now: string;
  /** The time `ms` (an expression) milliseconds from now. */
  later(ms: string): string;
  /** `column` is one of the keys bound to `param` (a `keys` value). */
  keyIn(column: string, param: string): string;
  /** The first `take` rows of a query. */
  selectFirst(take: string, query: SelectSpec): string;
  /** An UPDATE that returns the rows it changed. */
  updateReturning(table: string, sets: string, where: string, returning: readonly string[]): string;
  /** Insert or update in one atomic statement, safe against a concurrent insert of the same key. */
  upsert(table: string, spec: UpsertSpec): string;
  /** Insert unless a row with the key exists (then nothing changes and nothing is returned). */
  insertIfAbsent(table: string, spec: InsertSpec): string;
}

/** What an engine supplies to run statements. */
export interface SqlDriver {
  readonly engine: SqlEngine;
  readonly dialect: SqlDialect;
  /** Runs one statement with its named values; `count` is the number of rows it affected. */
  execute<R>(text: string, values: SqlValues): Promise<{ rows: R[]; count: number }>;
  /** True when the engine rolled the statement back as a deadlock or serialisation victim. */
  rolledBack(error: unknown): boolean;
  /** The store's SyncError for an error of the driver. */
  fail(error: unknown, what: string): never;
  /** A JSON column as the driver returns it, parsed (PostgreSQL's jsonb arrives parsed, SQL Server's text does not). */
  json(raw: unknown): unknown;
}

/** Statements for the SQL storage: run through the engine's driver, retried when the engine rolled them back, failures as SyncErrors. */
export class SqlDb {
  readonly engine: SqlEngine;
  readonly dialect: SqlDialect;

  constructor(private readonly driver: SqlDriver) {
    this.engine = driver.engine;
    this.dialect = driver.dialect;
  }

  /** A rolled-back statement left nothing behind, so it is retried (after a backoff, at most four times). */
  async query<R>(what: string, text: string, values: SqlValues = {}): Promise<{ rows: R[]; count: number }> {
    for (let attempt = 0; ; attempt++) {
      try {
        return await this.driver.execute<R>(text, values);
      } catch (error) {
        if (!this.driver.rolledBack(error) || attempt >= 4) this.driver.fail(error, what);
        await backoff(attempt, 10, 200);
      }
    }
  }

  json(raw: unknown): unknown {
    return this.driver.json(raw);
  }
}

/** Each column set from the value bound under its own name: `{ attempts: … }` → `attempts = @attempts`. */
export const placeholders = (values: SqlValues): Assignments => Object.fromEntries(Object.keys(values).map((column) => [column, `@${column}`]));

export const setList = (assignments: Assignments) => Object.entries(assignments).map(([column, value]) => `${column} = ${value}`);

/** The parts of an INSERT of `key` and `values`, for the dialects. */
export function insertParts(spec: InsertSpec): { columns: string; values: string; keyColumns: string } {
  const row = { ...spec.key, ...spec.values };
  return { columns: Object.keys(row).join(', '), values: Object.values(row).join(', '), keyColumns: Object.keys(spec.key).join(', ') };
}
