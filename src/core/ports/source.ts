/**
 * The source database port (DESIGN §2, §5): introspection, change reads by cursor, re-reads by
 * key and the key stream for delete reconciliation. Two adapters implement it (PostgreSQL and
 * SQL Server); the core never sees a driver.
 *
 * Every identifier a caller passes (schema, table, column) is checked against the introspected
 * table before any SQL is built, and then quoted; values are always bound parameters. A name
 * that is not in the table is a `SyncError` of class `config` (`unknown_table`,
 * `unknown_column`), raised before the database sees anything built from it.
 */

export interface TableRef {
  schema: string;
  name: string;
}

/**
 * The engine-neutral type of a column. `int` covers tinyint/smallint/int (fits 32 bits);
 * `char` is fixed-length text; `timestamp` has no time zone, `timestamptz` has one
 * (timestamptz / datetimeoffset); `rowversion` is SQL Server's rowversion/timestamp.
 */
export type ColumnDataType =
  | 'int'
  | 'bigint'
  | 'decimal'
  | 'float'
  | 'money'
  | 'boolean'
  | 'text'
  | 'char'
  | 'date'
  | 'time'
  | 'timestamp'
  | 'timestamptz'
  | 'uuid'
  | 'json'
  | 'xml'
  | 'binary'
  | 'enum'
  | 'rowversion'
  | 'other';

export interface ColumnInfo {
  name: string;
  /** 1-based position in the table. */
  ordinal: number;
  dataType: ColumnDataType;
  /** The type as the engine spells it, e.g. `character varying(50)`, `nvarchar(50)`, `"Colour"`. */
  nativeType: string;
  nullable: boolean;
  /** Characters for text/char types (null = unbounded); bytes for binary types. */
  maxLength: number | null;
  /** Decimal digits for decimal/numeric; fractional-second digits for time types where known. */
  precision: number | null;
  scale: number | null;
  /** Default expression as the catalog prints it (informational only, never executed). */
  default: string | null;
  /** identity, serial/bigserial (a sequence default) or SQL Server IDENTITY. */
  isIdentity: boolean;
  /** Computed / GENERATED ALWAYS AS (...) STORED. */
  isGenerated: boolean;
  isRowVersion: boolean;
  /** Labels of a PostgreSQL enum type, in sort order; null otherwise. */
  enumValues: string[] | null;
}

export interface UniqueConstraint {
  name: string;
  columns: string[];
}

export interface IndexInfo {
  name: string;
  /** Key columns in order; an expression is shown as null. */
  columns: Array<string | null>;
  unique: boolean;
  primary: boolean;
  /** Partial (filtered) index predicate, if any. */
  predicate: string | null;
}

export interface TableSummary extends TableRef {
  kind: 'table' | 'view';
}

export interface TableSchema {
  engine: 'postgres' | 'sqlserver';
  table: TableRef;
  kind: 'table' | 'view';
  columns: ColumnInfo[];
  /** Primary key columns in key order; null when the table has none (always null for views). */
  primaryKey: string[] | null;
  uniqueConstraints: UniqueConstraint[];
  indexes: IndexInfo[];
}

export type Row = Record<string, unknown>;

export type CursorKind = 'timestamp' | 'rowversion' | 'integer' | 'full';

export interface CursorSpec {
  kind: CursorKind;
  /** Required for every kind but `full`. */
  column?: string;
  /** `timestamp` only: how far before the last high-water mark each run starts again. */
  lookbackSeconds?: number;
}

/**
 * Exact text form of a database value (`"2024-03-01 10:00:00.123456+00"`, `"42"`,
 * `"0x00000000000007D1"`). Text, not a JS value, so that microseconds, 64-bit integers and
 * decimals survive the round trip through JSON and back into a bound parameter unchanged.
 */
export type ExactValue = string;

/**
 * Where a change read stands. Serialisable JSON, stored as the cursor between runs.
 * - `mark`: a run finished at this high-water mark; the next run starts at `value` minus the
 *   look-back window (timestamp) or strictly after `value` (integer, rowversion).
 * - `row`: mid-way through a pass; continue strictly after the tuple (value, ...key). No
 *   look-back is applied, so a pass that is split over pages or continuation runs never loops.
 *   `value` is null for `full` (keyset on the key only).
 * - `nulls`: mid-way through the rows whose cursor column is NULL (first pass only, see
 *   `readChanges`); continue strictly after `key`.
 * - `visibleBefore` (`timestamp` only): from `visibleBefore()` when the pass started. Every row
 *   stamped before it was already visible then, so the pass read it: the next run's look-back
 *   starts no earlier (DESIGN §5), and not at all when it lies past the mark. Absent (older
 *   cursors, a cursor carried to another server): the full look-back window.
 */
export type CursorPosition =
  | { at: 'mark'; value: ExactValue; visibleBefore?: ExactValue }
  | { at: 'row'; value: ExactValue | null; key: ExactValue[]; visibleBefore?: ExactValue }
  | { at: 'nulls'; key: ExactValue[]; visibleBefore?: ExactValue };

export interface ChangeReadRequest {
  table: TableRef;
  /** Columns to return; the key columns are always returned as well. */
  columns: string[];
  /** Ordered key columns (identity of a row; the keyset tie-breaker). */
  key: string[];
  cursor: CursorSpec;
  /** null = from the beginning (first run, or a full rescan). */
  after: CursorPosition | null;
  /** From `highWaterMark` at the run's start; null for `full`, or when the table has no cursor value yet. */
  highWater: ExactValue | null;
  /** Page size (rows). */
  limit: number;
}

/**
 * How a run uses it: page with `after = next` until `next` is null. If the run stops early
 * (maxRowsPerRun), store the last non-null `next`: the continuation resumes exactly there. If
 * it reached null, store `positionAfterRun(kind, previous, highWater, visibleBefore)` once every
 * write of the run is settled.
 */
export interface ChangeReadResult {
  rows: Row[];
  /** Position after the last row returned; null = everything up to the high-water mark was read. */
  next: CursorPosition | null;
}

export interface SourceHealth {
  ok: boolean;
  latencyMs: number;
  serverVersion?: string;
  /** Safe to show: never contains a secret. */
  error?: string;
  errorCode?: string;
}

/** What a failover probe checks of a source: the table a definition reads, with these columns and this cursor. */
export interface SourceProbeRequest {
  table: TableRef;
  /** Mapped and key columns: each must exist. */
  columns: string[];
  cursor: CursorSpec;
  timeoutMs: number;
}

/** Replication as the server reports it; every field null where the engine or the user's rights do not say. */
export interface ReplicationStatus {
  /** `standby`: a read-only replica (PostgreSQL in recovery, an AG secondary). */
  serverRole: 'primary' | 'standby' | null;
  /** How far the replica's replay is behind, in seconds. */
  lagSeconds: number | null;
  /** SQL Server availability group: this database's synchronization state and health. */
  availabilityGroup: { synchronizationState: string; synchronizationHealth: string } | null;
}

export interface SourceProbe extends SourceHealth, ReplicationStatus {
  /** The first check that failed: reaching the server, the table and its columns, the cursor column, or replication. */
  failedStep?: 'connect' | 'table' | 'cursor' | 'replication';
}

/**
 * Cursor semantics (all kinds read in ascending keyset order and are bounded above by the
 * high-water mark fixed at the run's start, so rows written during a run wait for the next):
 * - `timestamp`: keyset on (column, ...key). A run starting from a `mark` re-reads from
 *   `mark - lookbackSeconds` (inclusive), so a row committed late with an older timestamp inside
 *   the window is still seen; re-reads cost nothing downstream (content hash). A mark with
 *   `visibleBefore` narrows that to rows stamped from `visibleBefore` on, and to rows strictly
 *   after the mark when `visibleBefore` lies past it (a steady state re-reads nothing).
 * - `integer`: keyset on (column, ...key), strictly after the mark. Assumes values become
 *   visible in order (insert-only tables); no look-back.
 * - `rowversion` (SQL Server): `column > mark AND column <= highWater`, where the high-water
 *   mark is `MIN_ACTIVE_ROWVERSION() - 1`, so no uncommitted version is ever passed.
 * - `full`: keyset on the key only; every run reads the whole table.
 * - NULL in the cursor column: such rows are read by a pass that starts from the beginning
 *   (`after` = null: the first run, or a rescan), before the non-NULL rows; incremental runs
 *   cannot see them until the column gets a value.
 * - NULL in a key column: such a row has no identity and is never returned.
 */
export interface SourceDatabase {
  readonly engine: 'postgres' | 'sqlserver';

  listSchemas(): Promise<string[]>;
  /** Tables and views, optionally of one schema, sorted by schema then name. */
  listTables(schema?: string): Promise<TableSummary[]>;
  /** Always reads the catalogs afresh (and refreshes the adapter's own cache). */
  describeTable(table: TableRef): Promise<TableSchema>;

  /** Upper bound for this run: max(column); rowversion: MIN_ACTIVE_ROWVERSION() - 1; full: null. */
  highWaterMark(table: TableRef, cursor: CursorSpec): Promise<ExactValue | null>;
  /**
   * `timestamp` only (else null): the source's clock minus the look-back, in the cursor column's
   * type. A row stamped before it is visible now (a writer commits within the look-back of its
   * stamp). Read it before `highWaterMark`; see `CursorPosition.visibleBefore`.
   */
  visibleBefore(table: TableRef, cursor: CursorSpec): Promise<ExactValue | null>;
  readChanges(request: ChangeReadRequest): Promise<ChangeReadResult>;
  /** Re-reads the rows with these key values (failure-list retries); missing rows are absent from the result. */
  readByKeys(table: TableRef, columns: string[], key: string[], keyValues: unknown[][]): Promise<Row[]>;
  /** Every key of the table, in keyset pages (delete reconciliation). */
  streamKeys(table: TableRef, key: string[], pageSize: number): AsyncIterable<Row[]>;
  /**
   * A digest of the table's set of keys, in one aggregate statement that returns one row: the
   * row count and two independent sums of a 64-bit (PostgreSQL) or 56-bit (SQL Server) hash of
   * each key's exact text. Equal digests mean, but for a hash collision, that the same keys are
   * there; any insert or delete of a key changes it. Opaque text, comparable only with a digest
   * of the same table, key and engine. Delete reconciliation skips its key compare while the
   * digest stands still (src/sync/plan/reconcile-mark.ts). The text is `count:sum1:sum2`, so
   * its first part is the row count.
   */
  keySetDigest(table: TableRef, key: string[]): Promise<string>;

  /** Never throws: a failure is reported in the result. */
  health(timeoutMs: number): Promise<SourceHealth>;
  /**
   * The failover probe (DESIGN §7): connect, the table with the given columns, the cursor
   * column readable, and replication state where readable. Never throws.
   */
  probe(request: SourceProbeRequest): Promise<SourceProbe>;
  close(): Promise<void>;
}

/**
 * The position to store once every write of a run is settled: the run's high-water mark. When
 * the run had none (empty table, or only NULL cursor values) the previous position stands.
 * `full` runs always start again from the beginning.
 */
export function positionAfterRun(kind: CursorKind, previous: CursorPosition | null, highWater: ExactValue | null, visibleBefore: ExactValue | null = null): CursorPosition | null {
  if (kind === 'full') return null;
  if (highWater === null) return previous;
  return visibleBefore === null ? { at: 'mark', value: highWater } : { at: 'mark', value: highWater, visibleBefore };
}

/** The key a definition uses when it names none: the primary key, else the first unique constraint whose columns are all NOT NULL. */
export function defaultKey(schema: TableSchema): string[] | null {
  if (schema.primaryKey && schema.primaryKey.length > 0) return [...schema.primaryKey];
  const byName = new Map(schema.columns.map((c) => [c.name, c]));
  const usable = schema.uniqueConstraints.find((u) => u.columns.every((c) => byName.get(c)?.nullable === false));
  return usable ? [...usable.columns] : null;
}
