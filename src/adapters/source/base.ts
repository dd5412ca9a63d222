import { configError, SyncError } from '../../core/errors';
import type {
  ChangeReadRequest,
  ChangeReadResult,
  ColumnInfo,
  CursorSpec,
  ExactValue,
  ReplicationStatus,
  Row,
  SourceDatabase,
  SourceHealth,
  SourceProbe,
  SourceProbeRequest,
  TableRef,
  TableSchema,
  TableSummary,
} from '../../core/ports/source';
import type { BoundParam, Dialect, Params } from './dialect';
import { MODULE } from './errors';

/** Reported for every statement (metrics, the benchmark's source-query count). Never carries parameter values. */
export interface QueryEvent {
  engine: 'postgres' | 'sqlserver';
  sql: string;
  paramCount: number;
  durationMs: number;
  rows: number;
  ok: boolean;
}

export interface SourceAdapterOptions {
  /** How long an introspected table is trusted to validate identifiers before it is read again (default 60 s). */
  schemaCacheTtlMs?: number;
  onQuery?: (event: QueryEvent) => void;
}

export const MAX_PAGE_ROWS = 100_000;
const MAX_IDENTIFIER_LENGTH = 128;
/** Column types that have no ordering or equality usable in a keyset. */
const UNORDERED_TYPES = new Set(['json', 'xml']);

const TEMPORAL_CURSOR_TYPES = new Set(['timestamp', 'timestamptz', 'date']);

/**
 * The engine-neutral half of both adapters: identifier validation against the introspected
 * table, keyset paging, cursor phases and the key stream. Engines supply the catalog queries,
 * the dialect and the driver call.
 */
export abstract class SqlSource implements SourceDatabase {
  abstract readonly engine: 'postgres' | 'sqlserver';
  protected abstract readonly dialect: Dialect;
  private readonly schemaCache = new Map<string, { schema: TableSchema; at: number }>();

  protected constructor(protected readonly adapterOptions: SourceAdapterOptions = {}) {}

  abstract listSchemas(): Promise<string[]>;
  abstract listTables(schema?: string): Promise<TableSummary[]>;
  abstract health(timeoutMs: number): Promise<SourceHealth>;
  abstract close(): Promise<void>;

  /** Reads the catalogs for one table; null when no table or view has that name. */
  protected abstract introspect(ref: TableRef): Promise<TableSchema | null>;
  /** Runs one statement and returns its rows as arrays, in select-list order. */
  protected abstract execute(sql: string, params: BoundParam[]): Promise<unknown[][]>;
  protected abstract mapError(error: unknown, what: string): SyncError;
  /** SQL returning the exact text of the rowversion high-water mark, or null when the engine has none. */
  protected abstract rowVersionHighWaterSql(): string | null;
  /** Replication state where the engine and the user's rights let us read it; throws only for a replica that must not be used. */
  protected abstract replicationStatus(): Promise<ReplicationStatus>;

  protected async run(sql: string, params: BoundParam[], what: string): Promise<unknown[][]> {
    const started = Date.now();
    let rows = 0;
    let ok = false;
    try {
      const result = await this.execute(sql, params);
      rows = result.length;
      ok = true;
      return result;
    } catch (error) {
      throw this.mapError(error, what);
    } finally {
      this.adapterOptions.onQuery?.({ engine: this.engine, sql, paramCount: params.length, durationMs: Date.now() - started, rows, ok });
    }
  }

  async describeTable(ref: TableRef): Promise<TableSchema> {
    checkTableRef(ref);
    const schema = await this.introspect(ref);
    if (!schema) {
      throw configError(MODULE, 'unknown_table', `table or view ${ref.schema}.${ref.name} does not exist or is not visible to the connection's user`, {
        status: 404,
        details: [{ path: 'table', message: `${ref.schema}.${ref.name} not found`, code: 'unknown_table' }],
      });
    }
    this.schemaCache.set(cacheKey(ref), { schema, at: Date.now() });
    return schema;
  }

  /**
   * The introspected table, with every name in `names` checked against it. A cached snapshot
   * is used while fresh; a name missing from a cached snapshot triggers one fresh read (the
   * column may be new) before the name is refused.
   */
  protected async schemaFor(ref: TableRef, names: string[]): Promise<TableSchema> {
    checkTableRef(ref);
    for (const n of names) checkIdentifier(n, 'column');
    const ttl = this.adapterOptions.schemaCacheTtlMs ?? 60_000;
    const cached = this.schemaCache.get(cacheKey(ref));
    const fresh = cached !== undefined && Date.now() - cached.at < ttl;
    let schema = fresh ? cached.schema : await this.describeTable(ref);
    let missing = names.filter((n) => !schema.columns.some((c) => c.name === n));
    if (missing.length > 0 && fresh) {
      schema = await this.describeTable(ref);
      missing = names.filter((n) => !schema.columns.some((c) => c.name === n));
    }
    if (missing.length > 0) throw unknownColumns(schema, missing);
    return schema;
  }

  async highWaterMark(table: TableRef, cursor: CursorSpec): Promise<ExactValue | null> {
    if (cursor.kind === 'full') return null;
    const column = requireCursorColumn(cursor);
    const schema = await this.schemaFor(table, [column]);
    const col = columnOf(schema, column);
    checkCursorColumn(this.engine, cursor, col);
    if (cursor.kind === 'rowversion') {
      const sql = this.rowVersionHighWaterSql();
      if (sql === null) throw cursorKindUnsupported(this.engine);
      const rows = await this.run(sql, [], 'reading the rowversion high-water mark');
      return textOrNull(rows[0]?.[0]);
    }
    const d = this.dialect;
    const sql = `SELECT ${d.exactText(`MAX(${d.quote(col.name)})`, col)} FROM ${d.table(schema.table)}`;
    const rows = await this.run(sql, [], `reading the high-water mark of ${schema.table.schema}.${schema.table.name}`);
    return textOrNull(rows[0]?.[0]);
  }

  async visibleBefore(table: TableRef, cursor: CursorSpec): Promise<ExactValue | null> {
    if (cursor.kind !== 'timestamp') return null;
    const col = columnOf(await this.schemaFor(table, [requireCursorColumn(cursor)]), requireCursorColumn(cursor));
    checkCursorColumn(this.engine, cursor, col);
    const params = this.dialect.params();
    const clock = this.dialect.clockMinusSeconds(params.add(cursor.lookbackSeconds ?? 0, 'int'), col);
    const rows = await this.run(`SELECT ${this.dialect.exactText(clock, col)}`, params.list, 'reading the source clock');
    return textOrNull(rows[0]?.[0]);
  }

  async readChanges(req: ChangeReadRequest): Promise<ChangeReadResult> {
    checkLimit(req.limit);
    if (!Array.isArray(req.key) || req.key.length === 0) throw configError(MODULE, 'key_required', 'a change read needs at least one key column');
    const cursorColumn = req.cursor.kind === 'full' ? null : requireCursorColumn(req.cursor);
    const schema = await this.schemaFor(req.table, [...req.columns, ...req.key, ...(cursorColumn ? [cursorColumn] : [])]);
    const keyCols = req.key.map((k) => keyColumn(schema, k));
    const outCols = uniqueColumns(schema, [...req.columns, ...req.key]);
    const after = req.after;

    if (cursorColumn === null) {
      if (after !== null && !(after.at === 'row' && after.value === null)) throw positionInvalid('full', after.at);
      const params = this.dialect.params();
      const page = await this.page(schema, outCols, keyCols, after ? after.key : null, [], params, req.limit);
      return { rows: page.rows, next: page.full ? { at: 'row', value: null, key: page.last } : null };
    }

    const cursorCol = columnOf(schema, cursorColumn);
    checkCursorColumn(this.engine, req.cursor, cursorCol);
    if (after?.at === 'row' && after.value === null) throw positionInvalid(req.cursor.kind, 'row without a cursor value');
    const d = this.dialect;
    const quotedCursor = d.quote(cursorCol.name);
    let rows: Row[] = [];
    let remaining = req.limit;

    // Rows whose cursor is NULL come first, and only in a pass that starts from the beginning.
    const inNullsPhase = (after === null && cursorCol.nullable) || after?.at === 'nulls';
    if (inNullsPhase) {
      const params = d.params();
      const page = await this.page(schema, outCols, keyCols, after?.at === 'nulls' ? after.key : null, [`${quotedCursor} IS NULL`], params, remaining);
      if (page.full) return { rows: page.rows, next: { at: 'nulls', key: page.last } };
      rows = page.rows;
      remaining -= page.rows.length;
    }
    if (req.highWater === null) return { rows, next: null };

    const params = d.params();
    const where = [`${quotedCursor} <= ${d.fromText(params.add(req.highWater), cursorCol)}`];
    let afterTuple: ExactValue[] | null = null;
    if (after?.at === 'row') {
      afterTuple = [after.value as string, ...after.key];
    } else if (after?.at === 'mark') {
      where.push(...(await this.startAfterMark(req.cursor, cursorCol, after, params)));
    }
    const page = await this.page(schema, outCols, [cursorCol, ...keyCols], afterTuple, where, params, remaining);
    rows = rows.concat(page.rows);
    if (!page.full) return { rows, next: null };
    const [value, ...key] = page.last;
    return { rows, next: { at: 'row', value: value as string, key } };
  }

  /**
   * Where a run that starts from a settled mark begins. `timestamp` goes back by the look-back
   * window and includes the mark itself (a row committed late with the mark's own timestamp
   * must not be lost; re-reading the rows already seen is harmless). `integer` and `rowversion`
   * values are assigned in order, so strictly after the mark is exact. A mark's `visibleBefore`
   * bounds the window: rows stamped earlier were visible to the previous pass, so they were read;
   * past the mark it leaves nothing to re-read (decided by a scalar query first, so the page
   * query keeps a plain index range).
   */
  private async startAfterMark(cursor: CursorSpec, col: ColumnInfo, mark: { value: ExactValue; visibleBefore?: ExactValue }, params: Params): Promise<string[]> {
    const d = this.dialect;
    const quoted = d.quote(col.name);
    const strictlyAfterMark = () => [`${quoted} > ${d.fromText(params.add(mark.value), col)}`];
    if (cursor.kind !== 'timestamp') return strictlyAfterMark();
    const windowFrom: string[] = [];
    if (mark.visibleBefore !== undefined) {
      if (await this.isAfter(mark.visibleBefore, mark.value, col)) return strictlyAfterMark();
      windowFrom.push(`${quoted} >= ${d.fromText(params.add(mark.visibleBefore), col)}`);
    }
    const lookback = cursor.lookbackSeconds ?? 0;
    if (lookback === 0) return [`${quoted} >= ${d.fromText(params.add(mark.value), col)}`, ...windowFrom];
    return [`${quoted} >= ${d.minusSeconds(params.add(mark.value), params.add(lookback, 'int'), col)}`, ...windowFrom];
  }

  /** `a > b` for two exact texts of a temporal column, compared by the server in the column's type. */
  private async isAfter(a: ExactValue, b: ExactValue, col: ColumnInfo): Promise<boolean> {
    const params = this.dialect.params();
    const sql = `SELECT CASE WHEN ${this.dialect.typedValue(params.add(a), col)} > ${this.dialect.typedValue(params.add(b), col)} THEN 1 ELSE 0 END`;
    const rows = await this.run(sql, params.list, 'comparing the cursor mark with the previous read time');
    return Number(rows[0]?.[0]) === 1;
  }

  /** One keyset page: rows ordered by `keyset`, strictly after `afterTexts` when given. */
  private async page(
    schema: TableSchema,
    outCols: ColumnInfo[],
    keyset: ColumnInfo[],
    afterTexts: ExactValue[] | null,
    where: string[],
    params: Params,
    limit: number,
  ): Promise<{ rows: Row[]; full: boolean; last: ExactValue[] }> {
    const d = this.dialect;
    const conditions = [...where, ...nullableKeyFilters(d, keyset)];
    if (afterTexts !== null) {
      if (afterTexts.length !== keyset.length || afterTexts.some((t) => typeof t !== 'string')) {
        throw positionInvalid('keyset', `expected ${keyset.length} values`);
      }
      const values = keyset.map((c, i) => d.fromText(params.add(afterTexts[i] as string), c));
      conditions.push(d.tupleAfter(keyset.map((c) => d.quote(c.name)), values));
    }
    const list = [...outCols.map((c) => d.valueExpr(c)), ...keyset.map((c) => d.exactText(d.quote(c.name), c))];
    const limitPlaceholder = params.add(limit, 'int');
    // ORDER BY names the table's columns explicitly: the exact-text copies in the select list carry the same output names
    const orderBy = keyset.map((c) => `${d.table(schema.table)}.${d.quote(c.name)}`);
    const sql = d.select(list, d.table(schema.table), conditions, orderBy, limitPlaceholder);
    const raw = await this.run(sql, params.list, `reading changes from ${schema.table.schema}.${schema.table.name}`);
    const rows = raw.map((r) => toRow(outCols, r));
    const lastRaw = raw[raw.length - 1];
    const last = lastRaw ? lastRaw.slice(outCols.length).map((v) => String(v)) : [];
    return { rows, full: raw.length >= limit && raw.length > 0, last };
  }

  async readByKeys(table: TableRef, columns: string[], key: string[], keyValues: unknown[][]): Promise<Row[]> {
    if (key.length === 0) throw configError(MODULE, 'key_required', 'reading by key needs at least one key column');
    const schema = await this.schemaFor(table, [...columns, ...key]);
    const keyCols = key.map((k) => keyColumn(schema, k));
    const outCols = uniqueColumns(schema, [...columns, ...key]);
    const d = this.dialect;
    const tuples: string[][] = [];
    for (const values of keyValues) {
      if (!Array.isArray(values) || values.length !== keyCols.length) {
        throw configError(MODULE, 'key_arity', `each key needs ${keyCols.length} value(s) (${key.join(', ')})`);
      }
      const texts = keyCols.map((c, i) => d.keyText(values[i], c));
      // a NULL key part can never equal anything: such a row has no identity to re-read
      if (texts.every((t): t is string => t !== null)) tuples.push(texts);
    }
    const perStatement = Math.max(1, Math.floor(d.maxParams / keyCols.length));
    const out: Row[] = [];
    for (let i = 0; i < tuples.length; i += perStatement) {
      const chunk = tuples.slice(i, i + perStatement);
      const params = d.params();
      const rowsOfPlaceholders = chunk.map((t) => t.map((text, j) => d.fromText(params.add(text), keyCols[j] as ColumnInfo)));
      const sql = d.select(
        outCols.map((c) => d.valueExpr(c)),
        d.table(schema.table),
        [d.tupleIn(keyCols.map((c) => d.quote(c.name)), rowsOfPlaceholders)],
        [],
        null,
      );
      const raw = await this.run(sql, params.list, `re-reading rows of ${schema.table.schema}.${schema.table.name} by key`);
      for (const r of raw) out.push(toRow(outCols, r));
    }
    return out;
  }

  async *streamKeys(table: TableRef, key: string[], pageSize: number): AsyncIterable<Row[]> {
    let after: ChangeReadRequest['after'] = null;
    for (;;) {
      const page: ChangeReadResult = await this.readChanges({ table, columns: key, key, cursor: { kind: 'full' }, after, highWater: null, limit: pageSize });
      if (page.rows.length > 0) yield page.rows;
      if (page.next === null) return;
      after = page.next;
    }
  }

  async keySetDigest(table: TableRef, key: string[]): Promise<string> {
    if (!Array.isArray(key) || key.length === 0) throw configError(MODULE, 'key_required', 'a key digest needs at least one key column');
    const schema = await this.schemaFor(table, key);
    const d = this.dialect;
    const texts = key.map((k) => {
      const col = keyColumn(schema, k);
      return d.exactText(d.quote(col.name), col);
    });
    const rows = await this.run(d.keySetDigest(texts, d.table(schema.table)), [], `reading the key digest of ${schema.table.schema}.${schema.table.name}`);
    const [count, first, second] = rows[0] ?? [];
    return `${String(count)}:${String(first)}:${String(second)}`;
  }

  async probe(request: SourceProbeRequest): Promise<SourceProbe> {
    const unknownReplication: ReplicationStatus = { serverRole: null, lagSeconds: null, availabilityGroup: null };
    const connect = await this.health(request.timeoutMs);
    if (!connect.ok) return { ...connect, ...unknownReplication, failedStep: 'connect' };
    let step: NonNullable<SourceProbe['failedStep']> = 'table';
    try {
      return await withinTimeout(request.timeoutMs, async () => {
        // a fresh read of the catalogs: the question is whether the table is there now
        const schema = await this.describeTable(request.table);
        const cursorColumn = request.cursor.kind === 'full' ? null : requireCursorColumn(request.cursor);
        const missing = [...new Set(request.columns)].filter((n) => !schema.columns.some((c) => c.name === n));
        if (missing.length > 0) throw unknownColumns(schema, missing);
        if (cursorColumn) {
          step = 'cursor';
          const col = columnOf(schema, cursorColumn);
          checkCursorColumn(this.engine, request.cursor, col);
          const d = this.dialect;
          const params = d.params();
          const sql = d.select([d.exactText(d.quote(col.name), col)], d.table(schema.table), [], [], params.add(1, 'int'));
          await this.run(sql, params.list, `reading the cursor column of ${schema.table.schema}.${schema.table.name}`);
        }
        step = 'replication';
        const replication = await this.replicationStatus();
        return { ...connect, ...replication, latencyMs: connect.latencyMs };
      });
    } catch (error) {
      const mapped = error instanceof SyncError ? error : this.mapError(error, 'probe');
      return { ...connect, ...unknownReplication, ok: false, error: mapped.message, errorCode: mapped.code, failedStep: step };
    }
  }

  /** Shared health check: a trivial statement raced against the timeout; never throws. */
  protected async ping(sql: string, timeoutMs: number): Promise<SourceHealth> {
    const started = Date.now();
    try {
      const rows = await withinTimeout(timeoutMs, () => this.run(sql, [], 'health check'));
      return { ok: true, latencyMs: Date.now() - started, serverVersion: textOrNull(rows[0]?.[0]) ?? undefined };
    } catch (error) {
      const mapped = error instanceof SyncError ? error : this.mapError(error, 'health check');
      return { ok: false, latencyMs: Date.now() - started, error: mapped.message, errorCode: mapped.code };
    }
  }
}

async function withinTimeout<T>(timeoutMs: number, fn: () => Promise<T>): Promise<T> {
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new SyncError(`no answer within ${timeoutMs} ms`, { code: 'source_timeout', errorClass: 'transient', module: MODULE })), timeoutMs);
  });
  try {
    return await Promise.race([fn(), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

function cacheKey(ref: TableRef): string {
  return JSON.stringify([ref.schema, ref.name]);
}

export function checkIdentifier(name: unknown, what: string): asserts name is string {
  if (typeof name !== 'string' || name.length === 0 || name.length > MAX_IDENTIFIER_LENGTH || name.includes('\u0000')) {
    throw configError(MODULE, 'invalid_identifier', `${what} name must be 1–${MAX_IDENTIFIER_LENGTH} characters without NUL`, {
      details: [{ path: what, message: 'invalid identifier', code: 'invalid_identifier' }],
    });
  }
}

function checkTableRef(ref: TableRef): void {
  if (typeof ref !== 'object' || ref === null) throw configError(MODULE, 'invalid_identifier', 'table must be { schema, name }');
  checkIdentifier(ref.schema, 'schema');
  checkIdentifier(ref.name, 'table');
}

function unknownColumns(schema: TableSchema, missing: string[]): SyncError {
  const where = `${schema.table.schema}.${schema.table.name}`;
  const details = missing.map((m) => {
    const near = schema.columns.find((c) => c.name.toLowerCase() === m.toLowerCase());
    return { path: 'columns', message: `column "${m}" is not in ${where}${near ? ` (did you mean "${near.name}"?)` : ''}`, code: 'unknown_column' };
  });
  return configError(MODULE, 'unknown_column', details.map((x) => x.message).join('; '), { details });
}

function columnOf(schema: TableSchema, name: string): ColumnInfo {
  const col = schema.columns.find((c) => c.name === name);
  if (!col) throw unknownColumns(schema, [name]);
  return col;
}

function keyColumn(schema: TableSchema, name: string): ColumnInfo {
  const col = columnOf(schema, name);
  if (UNORDERED_TYPES.has(col.dataType)) {
    throw configError(MODULE, 'key_column_type', `column "${name}" (${col.nativeType}) cannot be part of a key: it has no ordering`);
  }
  return col;
}

function uniqueColumns(schema: TableSchema, names: string[]): ColumnInfo[] {
  return [...new Set(names)].map((n) => columnOf(schema, n));
}

function requireCursorColumn(cursor: CursorSpec): string {
  if (!cursor.column) throw configError(MODULE, 'cursor_column_required', `cursor kind '${cursor.kind}' needs a column`);
  return cursor.column;
}

function cursorKindUnsupported(engine: string): SyncError {
  return configError(MODULE, 'cursor_kind_unsupported', `cursor kind 'rowversion' exists only on SQL Server, not on ${engine}`);
}

export function checkCursorColumn(engine: string, cursor: CursorSpec, col: ColumnInfo): void {
  const bad = (expected: string) =>
    configError(MODULE, 'cursor_column_type', `cursor column "${col.name}" is ${col.nativeType}; cursor kind '${cursor.kind}' needs ${expected}`, {
      details: [{ path: 'cursor.column', message: `needs ${expected}`, code: 'cursor_column_type' }],
    });
  switch (cursor.kind) {
    case 'timestamp':
      if (!TEMPORAL_CURSOR_TYPES.has(col.dataType)) throw bad('a date or timestamp column');
      return;
    case 'integer':
      if (!(col.dataType === 'int' || col.dataType === 'bigint' || (col.dataType === 'decimal' && col.scale === 0))) throw bad('an integer column');
      return;
    case 'rowversion':
      if (engine !== 'sqlserver') throw cursorKindUnsupported(engine);
      if (!col.isRowVersion) throw bad('a rowversion column');
      return;
    case 'full':
      return;
  }
}

function checkLimit(limit: number): void {
  if (!Number.isInteger(limit) || limit < 1 || limit > MAX_PAGE_ROWS) {
    throw configError(MODULE, 'invalid_limit', `page size must be a whole number from 1 to ${MAX_PAGE_ROWS}`);
  }
}

function positionInvalid(kind: string, got: string): SyncError {
  return configError(MODULE, 'cursor_position_invalid', `the stored cursor position (${got}) does not fit cursor kind '${kind}'; reset the cursor to rescan`);
}

function nullableKeyFilters(d: Dialect, keyset: ColumnInfo[]): string[] {
  return keyset.filter((c) => c.nullable).map((c) => `${d.quote(c.name)} IS NOT NULL`);
}

function toRow(cols: ColumnInfo[], raw: unknown[]): Row {
  const row: Row = {};
  cols.forEach((c, i) => {
    // defineProperty, not assignment: a column may legitimately be called "__proto__"
    Object.defineProperty(row, c.name, { value: raw[i] === undefined ? null : raw[i], enumerable: true, writable: true, configurable: true });
  });
  return row;
}

function textOrNull(v: unknown): string | null {
  return v === null || v === undefined ? null : String(v);
}
