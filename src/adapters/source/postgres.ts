import pg from 'pg';
import { configError, type SyncError } from '../../core/errors';
import type { ColumnDataType, ColumnInfo, IndexInfo, ReplicationStatus, SourceHealth, TableRef, TableSchema, TableSummary, UniqueConstraint } from '../../core/ports/source';
import { SqlSource, type SourceAdapterOptions } from './base';
import { isoDate, isoLocal, Params, type BoundParam, type Dialect } from './dialect';
import { mapPgError, MODULE } from './errors';

/** PostgreSQL source adapter (`pg` Pool). Catalog queries use pg_catalog only, so they run on PostgreSQL 11+ and PGlite alike. */

export interface PostgresConnectionConfig {
  host: string;
  port?: number;
  database: string;
  user: string;
  password?: string;
  tls?: { enabled: boolean; rejectUnauthorized: boolean; serverName?: string };
}

export interface PostgresSourceOptions extends SourceAdapterOptions {
  connectTimeoutMs?: number;
  /** Limit per statement (default 60 s), enforced by the client; a timed-out statement is a transient error. */
  statementTimeoutMs?: number;
  poolMax?: number;
  idleTimeoutMs?: number;
}

export function quotePg(identifier: string): string {
  return `"${identifier.replace(/"/g, '""')}"`;
}

/** Casts for the look-back arithmetic; fixed strings chosen by type, never from input. */
const TEMPORAL_CAST: Partial<Record<ColumnDataType, string>> = { timestamp: 'timestamp', timestamptz: 'timestamptz', date: 'date' };

function temporalCast(col: ColumnInfo): string {
  const cast = TEMPORAL_CAST[col.dataType];
  if (!cast) throw configError(MODULE, 'cursor_column_type', `column "${col.name}" is not temporal`);
  return cast;
}

/** now() is the transaction's start: never later than the read that follows it. Zone-less types take the earlier of local and UTC wall time. */
const PG_CLOCK: Record<string, string> = {
  timestamptz: 'now()',
  timestamp: `LEAST(LOCALTIMESTAMP, now() AT TIME ZONE 'UTC')`,
  date: `LEAST(LOCALTIMESTAMP, now() AT TIME ZONE 'UTC')`,
};

const PG_EXACT_FORMAT: Partial<Record<ColumnDataType, (expr: string) => string>> = {
  timestamptz: (e) => `to_char((${e}) AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS.US"Z"')`,
  timestamp: (e) => `to_char(${e}, 'YYYY-MM-DD"T"HH24:MI:SS.US')`,
  date: (e) => `to_char(${e}, 'YYYY-MM-DD')`,
};

export const postgresDialect: Dialect = {
  engine: 'postgres',
  maxParams: 30_000,
  params: () => new Params('dollar'),
  quote: quotePg,
  table: (ref) => `${quotePg(ref.schema)}.${quotePg(ref.name)}`,
  // money's text form follows lc_monetary ("$1,234.50"); numeric is exact and locale-free
  valueExpr: (col) => (col.dataType === 'money' ? `${quotePg(col.name)}::numeric` : quotePg(col.name)),
  exactText: (expr, col) => {
    // Temporal text is formatted explicitly (ISO 8601, UTC, microseconds) so it does not depend on the
    // session's DateStyle or TimeZone; ::text covers infinity, which to_char turns into NULL.
    const fmt = PG_EXACT_FORMAT[col.dataType];
    return fmt ? `COALESCE(${fmt(expr)}, (${expr})::text)` : `(${expr})::text`;
  },
  // an untyped parameter compared with a column takes the column's type (and collation), so text round-trips exactly
  fromText: (placeholder) => placeholder,
  minusSeconds: (value, seconds, col) => {
    const cast = temporalCast(col);
    return `(${value}::${cast} - ${seconds}::integer * interval '1 second')`;
  },
  clockMinusSeconds: (seconds, col) => {
    const cast = temporalCast(col);
    const clock = PG_CLOCK[cast];
    return `((${clock}) - ${seconds}::integer * interval '1 second')::${cast}`;
  },
  typedValue: (placeholder, col) => `${placeholder}::${temporalCast(col)}`,
  tupleAfter: (cols, values) => `(${cols.join(', ')}) > (${values.join(', ')})`,
  tupleIn: (cols, rows) =>
    cols.length === 1 ? `${cols[0]} IN (${rows.map((r) => r[0]).join(', ')})` : `(${cols.join(', ')}) IN (${rows.map((r) => `(${r.join(', ')})`).join(', ')})`,
  select: (list, from, where, orderBy, limit) =>
    [
      `SELECT ${list.join(', ')} FROM ${from}`,
      where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
      orderBy.length > 0 ? `ORDER BY ${orderBy.join(', ')}` : '',
      limit !== null ? `LIMIT ${limit}` : '',
    ]
      .filter((s) => s !== '')
      .join(' '),
  keyText: (value, col) => pgText(value, col),
  // hashtextextended: 64-bit, seeded (two seeds, two independent sums); numeric sums never overflow.
  // chr(30) stands for NULL and chr(31) separates the columns of a composite key.
  keySetDigest: (keyTexts, from) => {
    const k = `concat_ws(chr(31), ${keyTexts.map((t) => `COALESCE(${t}, chr(30))`).join(', ')})`;
    return `SELECT count(*)::text, COALESCE(sum(hashtextextended(k, 0)::numeric), 0)::text, COALESCE(sum(hashtextextended(k, 1)::numeric), 0)::text FROM (SELECT ${k} AS k FROM ${from}) keys`;
  },
};

/** Text a PostgreSQL input function accepts for a value the caller holds (key retries). */
function pgText(value: unknown, col: ColumnInfo): string | null {
  if (value === null || value === undefined) return null;
  if (value instanceof Date) {
    if (col.dataType === 'date') return isoDate(value);
    // timestamp (no zone) holds UTC wall-clock time in this product; timestamptz takes the instant
    return col.dataType === 'timestamptz' ? value.toISOString() : isoLocal(value);
  }
  if (Buffer.isBuffer(value)) return `\\x${value.toString('hex')}`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (typeof value === 'object') return JSON.stringify(value);
  return String(value);
}

/**
 * `timestamp without time zone` is read as UTC (pg would otherwise use the Node process's
 * zone); `date` stays `YYYY-MM-DD` (pg would make a local-midnight Date). Everything else keeps
 * pg's defaults: int8 and numeric as exact strings, timestamptz as Date, json parsed, bytea Buffer.
 */
const TIMESTAMP_OID = 1114;
const DATE_OID = 1082;
function parseTimestampAsUtc(text: string): Date | string {
  const m = /^(\d{4}-\d{2}-\d{2}) (\d{2}:\d{2}:\d{2})(\.\d{1,6})?$/.exec(text);
  if (!m) return text; // infinity, BC dates, years past 9999: left as text for the mapper to refuse
  const ms = (m[3] ?? '').slice(0, 4).padEnd(4, '0');
  return new Date(`${m[1]}T${m[2]}${ms === '0000' ? '' : ms}Z`);
}
const typeParsers: pg.CustomTypesConfig = {
  getTypeParser: ((oid: number, format?: string) => {
    if (format === undefined || format === 'text') {
      if (oid === TIMESTAMP_OID) return parseTimestampAsUtc;
      if (oid === DATE_OID) return (v: string) => v;
    }
    return (pg.types.getTypeParser as (o: number, f?: string) => unknown)(oid, format);
  }) as pg.CustomTypesConfig['getTypeParser'],
};

export const REPLICATION_SQL = `SELECT pg_is_in_recovery(),
  CASE WHEN NOT pg_is_in_recovery() THEN NULL
       WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
       ELSE EXTRACT(EPOCH FROM clock_timestamp() - pg_last_xact_replay_timestamp())::float8 END`;

export class PostgresSource extends SqlSource {
  readonly engine = 'postgres' as const;
  protected readonly dialect = postgresDialect;
  private readonly pool: pg.Pool;
  private closed = false;

  constructor(config: PostgresConnectionConfig, private readonly options: PostgresSourceOptions = {}) {
    super(options);
    const tls = config.tls ?? { enabled: true, rejectUnauthorized: true };
    this.pool = new pg.Pool({
      host: config.host,
      port: config.port ?? 5432,
      database: config.database,
      user: config.user,
      password: config.password,
      ssl: tls.enabled ? { rejectUnauthorized: tls.rejectUnauthorized, ...(tls.serverName ? { servername: tls.serverName } : {}) } : false,
      connectionTimeoutMillis: options.connectTimeoutMs ?? 15_000,
      // Client-side, not the statement_timeout/options startup parameters: PgBouncer (e.g. the one
      // built into Azure Database for PostgreSQL on port 6432) refuses those. A timed-out query's
      // connection is discarded by the pool.
      query_timeout: options.statementTimeoutMs ?? 60_000,
      idleTimeoutMillis: options.idleTimeoutMs ?? 30_000,
      max: options.poolMax ?? 5,
      application_name: 'sql-sharepoint-sync',
      types: typeParsers,
    });
    // An idle client that loses its server emits here; without a listener Node would crash.
    // The next query gets a fresh client (and a mapped error if the server is still away).
    this.pool.on('error', () => undefined);
  }

  protected mapError(error: unknown, what: string): SyncError {
    return mapPgError(error, what);
  }

  protected async execute(sql: string, params: BoundParam[]): Promise<unknown[][]> {
    const result = await this.pool.query({ text: sql, values: params.map((p) => p.value), rowMode: 'array' });
    return result.rows as unknown[][];
  }

  private async rows<T>(sql: string, values: unknown[], what: string): Promise<T[]> {
    const started = Date.now();
    let ok = false;
    let count = 0;
    try {
      const result = await this.pool.query({ text: sql, values });
      ok = true;
      count = result.rowCount ?? result.rows.length;
      return result.rows as T[];
    } catch (error) {
      throw mapPgError(error, what);
    } finally {
      this.options.onQuery?.({ engine: 'postgres', sql, paramCount: values.length, durationMs: Date.now() - started, rows: count, ok });
    }
  }

  protected rowVersionHighWaterSql(): string | null {
    return null;
  }

  async listSchemas(): Promise<string[]> {
    const rows = await this.rows<{ name: string }>(
      `SELECT n.nspname AS name FROM pg_catalog.pg_namespace n
       WHERE n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
       ORDER BY n.nspname`,
      [],
      'listing schemas',
    );
    return rows.map((r) => r.name);
  }

  async listTables(schema?: string): Promise<TableSummary[]> {
    const rows = await this.rows<{ schema: string; name: string; kind: string }>(
      `SELECT n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE c.relkind IN ('r', 'p', 'v', 'm', 'f') AND NOT c.relispartition
         AND n.nspname NOT LIKE 'pg\\_%' AND n.nspname <> 'information_schema'
         AND ($1::text IS NULL OR n.nspname = $1::text)
       ORDER BY n.nspname, c.relname`,
      [schema ?? null],
      'listing tables',
    );
    return rows.map((r) => ({ schema: r.schema, name: r.name, kind: relKind(r.kind) }));
  }

  protected async introspect(ref: TableRef): Promise<TableSchema | null> {
    const rel = await this.rows<{ oid: number; schema: string; name: string; kind: string }>(
      `SELECT c.oid, n.nspname AS schema, c.relname AS name, c.relkind::text AS kind
       FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace
       WHERE n.nspname = $1 AND c.relname = $2 AND c.relkind IN ('r', 'p', 'v', 'm', 'f')`,
      [ref.schema, ref.name],
      `describing ${ref.schema}.${ref.name}`,
    );
    const table = rel[0];
    if (!table) return null;
    const what = `describing ${table.schema}.${table.name}`;

    const attrs = await this.rows<PgAttributeRow>(
      `SELECT a.attnum AS attnum, a.attname AS name,
              format_type(a.atttypid, a.atttypmod) AS native_type,
              (a.attnotnull OR (t.typtype = 'd' AND t.typnotnull)) AS not_null,
              pg_get_expr(d.adbin, d.adrelid) AS default_expr,
              a.attidentity::text AS identity, a.attgenerated::text AS generated,
              bt.oid AS base_oid, bt.typname AS base_name, bt.typtype::text AS base_typtype, bt.typcategory::text AS base_category,
              CASE WHEN t.typtype = 'd' THEN t.typtypmod ELSE a.atttypmod END AS typmod
       FROM pg_catalog.pg_attribute a
       JOIN pg_catalog.pg_type t ON t.oid = a.atttypid
       JOIN pg_catalog.pg_type bt ON bt.oid = CASE WHEN t.typtype = 'd' THEN t.typbasetype ELSE t.oid END
       LEFT JOIN pg_catalog.pg_attrdef d ON d.adrelid = a.attrelid AND d.adnum = a.attnum
       WHERE a.attrelid = $1 AND a.attnum > 0 AND NOT a.attisdropped
       ORDER BY a.attnum`,
      [table.oid],
      what,
    );
    const enumOids = [...new Set(attrs.filter((a) => a.base_typtype === 'e').map((a) => a.base_oid))];
    const labels = new Map<number, string[]>();
    if (enumOids.length > 0) {
      const enumRows = await this.rows<{ oid: number; label: string }>(
        `SELECT e.enumtypid AS oid, e.enumlabel AS label FROM pg_catalog.pg_enum e
         WHERE e.enumtypid = ANY($1::oid[]) ORDER BY e.enumtypid, e.enumsortorder`,
        [enumOids],
        what,
      );
      for (const r of enumRows) labels.set(r.oid, [...(labels.get(r.oid) ?? []), r.label]);
    }
    const columns = attrs.map((a, i) => pgColumn(a, i + 1, labels.get(a.base_oid) ?? null));
    const byAttnum = new Map(attrs.map((a) => [a.attnum, a.name]));
    const names = (nums: number[]) => nums.map((n) => byAttnum.get(n) ?? null);

    const constraints = await this.rows<{ name: string; type: string; cols: number[] }>(
      `SELECT con.conname AS name, con.contype::text AS type, con.conkey::int[] AS cols
       FROM pg_catalog.pg_constraint con WHERE con.conrelid = $1 AND con.contype IN ('p', 'u')
       ORDER BY con.conname`,
      [table.oid],
      what,
    );
    const pk = constraints.find((c) => c.type === 'p');
    const uniqueConstraints: UniqueConstraint[] = constraints
      .filter((c) => c.type === 'u')
      .map((c) => ({ name: c.name, columns: names(c.cols).filter((n): n is string => n !== null) }));

    const indexRows = await this.rows<{ name: string; is_unique: boolean; is_primary: boolean; keys: number[]; nkey: number; predicate: string | null }>(
      `SELECT i.relname AS name, x.indisunique AS is_unique, x.indisprimary AS is_primary,
              string_to_array(x.indkey::text, ' ')::int[] AS keys, x.indnkeyatts AS nkey,
              pg_get_expr(x.indpred, x.indrelid) AS predicate
       FROM pg_catalog.pg_index x JOIN pg_catalog.pg_class i ON i.oid = x.indexrelid
       WHERE x.indrelid = $1 ORDER BY i.relname`,
      [table.oid],
      what,
    );
    const indexes: IndexInfo[] = indexRows.map((x) => ({
      name: x.name,
      columns: names(x.keys.slice(0, x.nkey)),
      unique: x.is_unique,
      primary: x.is_primary,
      predicate: x.predicate,
    }));

    return {
      engine: 'postgres',
      table: { schema: table.schema, name: table.name },
      kind: relKind(table.kind),
      columns,
      primaryKey: pk ? names(pk.cols).filter((n): n is string => n !== null) : null,
      uniqueConstraints,
      indexes,
    };
  }

  /**
   * A server in recovery is a standby. Its lag is the age of the last replayed transaction, or
   * 0 when it has replayed all it received (an idle primary would otherwise look like lag).
   */
  protected async replicationStatus(): Promise<ReplicationStatus> {
    const [row] = await this.run(REPLICATION_SQL, [], 'reading the replication state');
    const standby = row?.[0] === true;
    const lag = row?.[1];
    return { serverRole: standby ? 'standby' : 'primary', lagSeconds: standby && lag !== null && lag !== undefined ? Number(lag) : null, availabilityGroup: null };
  }

  async health(timeoutMs: number): Promise<SourceHealth> {
    return this.ping('SELECT version()', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.end();
  }
}

interface PgAttributeRow {
  attnum: number;
  name: string;
  native_type: string;
  not_null: boolean;
  default_expr: string | null;
  identity: string;
  generated: string;
  base_oid: number;
  base_name: string;
  base_typtype: string;
  base_category: string;
  typmod: number;
}

function relKind(kind: string): 'table' | 'view' {
  return kind === 'v' || kind === 'm' ? 'view' : 'table';
}

/** Maps a PostgreSQL base type (after unwrapping one level of domain) to the neutral type. */
export function pgColumn(a: PgAttributeRow, ordinal: number, enumValues: string[] | null): ColumnInfo {
  const typmod = a.typmod;
  let dataType: ColumnDataType = 'other';
  let maxLength: number | null = null;
  let precision: number | null = null;
  let scale: number | null = null;
  switch (a.base_typtype === 'e' ? '__enum' : a.base_category === 'A' ? '__array' : a.base_name) {
    case '__enum':
      dataType = 'enum';
      break;
    case 'int2':
    case 'int4':
      dataType = 'int';
      break;
    case 'int8':
      dataType = 'bigint';
      break;
    case 'numeric':
      dataType = 'decimal';
      if (typmod >= 4) {
        precision = ((typmod - 4) >> 16) & 0xffff;
        scale = (typmod - 4) & 0xffff;
        if (scale > 1000) scale = null; // PostgreSQL 15+ negative scale: not meaningful for SharePoint
      }
      break;
    case 'float4':
      dataType = 'float';
      precision = 24;
      break;
    case 'float8':
      dataType = 'float';
      precision = 53;
      break;
    case 'money':
      dataType = 'money';
      scale = 2;
      break;
    case 'bool':
      dataType = 'boolean';
      break;
    case 'varchar':
      dataType = 'text';
      maxLength = typmod >= 4 ? typmod - 4 : null;
      break;
    case 'bpchar':
      dataType = 'char';
      maxLength = typmod >= 4 ? typmod - 4 : null;
      break;
    case 'char':
      dataType = 'char';
      maxLength = 1;
      break;
    case 'text':
    case 'citext':
      dataType = 'text';
      break;
    case 'name':
      dataType = 'text';
      maxLength = 63;
      break;
    case 'date':
      dataType = 'date';
      break;
    case 'time':
    case 'timetz':
      dataType = 'time';
      precision = typmod >= 0 ? typmod : null;
      break;
    case 'timestamp':
      dataType = 'timestamp';
      precision = typmod >= 0 ? typmod : null;
      break;
    case 'timestamptz':
      dataType = 'timestamptz';
      precision = typmod >= 0 ? typmod : null;
      break;
    case 'uuid':
      dataType = 'uuid';
      break;
    case 'json':
    case 'jsonb':
      dataType = 'json';
      break;
    case 'xml':
      dataType = 'xml';
      break;
    case 'bytea':
      dataType = 'binary';
      break;
  }
  const defaultExpr = a.default_expr;
  return {
    name: a.name,
    ordinal,
    dataType,
    nativeType: a.native_type,
    nullable: !a.not_null,
    maxLength,
    precision,
    scale,
    // a generated column's expression is not a default: it cannot be overridden
    default: a.generated === '' ? defaultExpr : null,
    // identity columns, and serial/bigserial (a default drawing from a sequence)
    isIdentity: a.identity === 'a' || a.identity === 'd' || (defaultExpr !== null && /^nextval\(/i.test(defaultExpr)),
    isGenerated: a.generated === 's' || a.generated === 'v',
    isRowVersion: false,
    enumValues: dataType === 'enum' ? enumValues ?? [] : null,
  };
}
