import sql from 'mssql';
import { configError, isSyncError, transientError, type SyncError } from '../../core/errors';
import type { ColumnDataType, ColumnInfo, IndexInfo, ReplicationStatus, SourceHealth, TableRef, TableSchema, TableSummary, UniqueConstraint } from '../../core/ports/source';
import { SqlSource, type SourceAdapterOptions } from './base';
import { expandTupleAfter, isoDate, isoLocal, Params, type BoundParam, type Dialect } from './dialect';
import { mapMssqlError, MODULE } from './errors';

/** SQL Server source adapter (`mssql` ConnectionPool over tedious). */

export interface SqlServerConnectionConfig {
  host: string;
  port?: number;
  database: string;
  user: string;
  password: string;
  tls?: { enabled: boolean; rejectUnauthorized: boolean; serverName?: string };
}

/** The slice of mssql the adapter uses, so tests can stand in for the driver at this boundary. */
export interface MssqlRequestLike {
  arrayRowMode: boolean;
  input(name: string, type: unknown, value: unknown): unknown;
  query(command: string): Promise<{ recordset?: unknown[]; recordsets?: unknown }>;
}
export interface MssqlPoolLike {
  connect(): Promise<unknown>;
  request(): MssqlRequestLike;
  close(): Promise<void>;
  on?(event: 'error', listener: (error: unknown) => void): unknown;
}
export type MssqlPoolFactory = (config: sql.config) => MssqlPoolLike;

export interface SqlServerSourceOptions extends SourceAdapterOptions {
  connectTimeoutMs?: number;
  /** Per-request limit (default 60 s); a timed-out request is a transient error. */
  requestTimeoutMs?: number;
  poolMax?: number;
  idleTimeoutMs?: number;
  /** Replaces the mssql driver (unit tests). */
  createPool?: MssqlPoolFactory;
}

export function quoteTsql(identifier: string): string {
  return `[${identifier.replace(/]/g, ']]')}]`;
}

/**
 * The declared type to CONVERT a text parameter into. Built from catalog facts by
 * `tsqlNativeType` and checked against this whitelist, so nothing but a plain system type with
 * numeric arguments is ever spliced into the statement.
 */
const CONVERTIBLE =
  /^(tinyint|smallint|int|bigint|bit|money|smallmoney|real|float|date|datetime|smalldatetime|uniqueidentifier|sysname|(decimal|numeric)\(\d{1,2},\d{1,2}\)|(time|datetime2|datetimeoffset)\(\d\)|n?char\(\d{1,4}\)|n?varchar\((\d{1,4}|max)\)|binary\(\d{1,4}\)|varbinary\((\d{1,4}|max)\))$/;

function convertTarget(col: ColumnInfo): string {
  if (col.isRowVersion) return 'binary(8)';
  if (!CONVERTIBLE.test(col.nativeType)) {
    throw configError(MODULE, 'key_column_type', `column "${col.name}" (${col.nativeType}) cannot be used in a key or cursor comparison`);
  }
  return col.nativeType;
}

/**
 * CONVERT styles: 126 = ISO 8601 (language-independent), 127 = ISO 8601 with zone, 1 = 0x-hex
 * binary, 3 = 17-digit float, 2 = money with 4 decimals and no separators. time needs none: its
 * default text form (hh:mm:ss.nnnnnnn) is already unambiguous.
 */
function textStyle(col: ColumnInfo): number | null {
  if (col.isRowVersion || col.dataType === 'binary') return 1;
  switch (col.dataType) {
    case 'date':
    case 'timestamp':
      return 126;
    case 'timestamptz':
      return 127;
    case 'float':
      return 3;
    case 'money':
      return 2;
    default:
      return null;
  }
}

export const sqlServerDialect: Dialect = {
  engine: 'sqlserver',
  maxParams: 2000,
  params: () => new Params('at'),
  quote: quoteTsql,
  table: (ref) => `${quoteTsql(ref.schema)}.${quoteTsql(ref.name)}`,
  valueExpr: (col) => quoteTsql(col.name),
  exactText: (expr, col) => {
    const style = textStyle(col);
    if (col.isRowVersion || col.dataType === 'binary') return `CONVERT(varchar(max), ${expr}, 1)`;
    if (col.dataType === 'timestamptz') return `CONVERT(nvarchar(40), ${expr}, 126)`;
    return style === null ? `CONVERT(nvarchar(max), ${expr})` : `CONVERT(nvarchar(40), ${expr}, ${style})`;
  },
  fromText: (placeholder, col) => {
    const style = textStyle(col);
    const target = convertTarget(col);
    // money/float text converts back without a style; only the output side needs one
    return style === null || col.dataType === 'money' || col.dataType === 'float'
      ? `CONVERT(${target}, ${placeholder})`
      : `CONVERT(${target}, ${placeholder}, ${style})`;
  },
  minusSeconds: (value, seconds, col) => {
    // DATEADD(second, …) is not defined for date: do the arithmetic in datetime2
    const base = col.dataType === 'date' ? `CONVERT(datetime2(7), ${value}, 126)` : sqlServerDialect.fromText(value, col);
    return `DATEADD(second, -${seconds}, ${base})`;
  },
  clockMinusSeconds: (seconds, col) => {
    const clock = col.dataType === 'timestamptz' ? 'SYSDATETIMEOFFSET()' : 'IIF(SYSDATETIME() < SYSUTCDATETIME(), SYSDATETIME(), SYSUTCDATETIME())';
    // a minute's margin: CONVERT to smalldatetime rounds to the nearest minute, possibly upwards
    return `CONVERT(${convertTarget(col)}, DATEADD(minute, -1, DATEADD(second, -${seconds}, ${clock})))`;
  },
  typedValue: (placeholder, col) => sqlServerDialect.fromText(placeholder, col),
  tupleAfter: (cols, values) =>
    cols.length === 1
      ? `${cols[0]} > ${values[0]}`
      : // the leading >= lets the optimiser seek an index on the first column
        `(${cols[0]} >= ${values[0]} AND ${expandTupleAfter(cols, values)})`,
  tupleIn: (cols, rows) =>
    cols.length === 1
      ? `${cols[0]} IN (${rows.map((r) => r[0]).join(', ')})`
      : `(${rows.map((r) => `(${cols.map((c, i) => `${c} = ${r[i]}`).join(' AND ')})`).join(' OR ')})`,
  select: (list, from, where, orderBy, limit) =>
    [
      `SELECT ${limit !== null ? `TOP (${limit}) ` : ''}${list.join(', ')} FROM ${from}`,
      where.length > 0 ? `WHERE ${where.join(' AND ')}` : '',
      orderBy.length > 0 ? `ORDER BY ${orderBy.join(', ')}` : '',
    ]
      .filter((s) => s !== '')
      .join(' '),
  keyText: (value, col) => tsqlText(value, col),
  // SHA2-256 of the key text; bytes 1–7 and 8–14 as two positive bigints, summed in decimal(38,0)
  // (no overflow below 10^21 rows). NCHAR(30) stands for NULL, NCHAR(31) separates key columns.
  keySetDigest: (keyTexts, from) => {
    const k = `CONCAT(${keyTexts.map((t) => `COALESCE(${t}, NCHAR(30))`).join(', NCHAR(31), ')}${keyTexts.length === 1 ? ", N''" : ''})`;
    const sum = (start: number) => `CONVERT(nvarchar(60), COALESCE(SUM(CONVERT(decimal(38,0), CONVERT(bigint, SUBSTRING(h, ${start}, 7)))), 0))`;
    return `SELECT CONVERT(nvarchar(30), COUNT_BIG(*)), ${sum(1)}, ${sum(8)} FROM (SELECT HASHBYTES('SHA2_256', ${k}) AS h FROM ${from}) keys`;
  },
};

const ISO_WITH_ZONE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2})$/;

/** Text CONVERT accepts (with the styles above) for a value the caller holds (key retries). */
function tsqlText(value: unknown, col: ColumnInfo): string | null {
  if (value === null || value === undefined) return null;
  let v = value;
  // an ISO string with a zone for a zone-less column: take its UTC wall-clock time (style 126 refuses a zone)
  if (typeof v === 'string' && (col.dataType === 'timestamp' || col.dataType === 'date') && ISO_WITH_ZONE.test(v)) v = new Date(v);
  if (v instanceof Date) {
    if (col.dataType === 'date') return isoDate(v);
    if (col.dataType === 'timestamptz') return v.toISOString();
    if (col.dataType === 'time') return v.toISOString().slice(11, 23);
    return isoLocal(v);
  }
  if (Buffer.isBuffer(v)) return `0x${v.toString('hex')}`;
  if (typeof v === 'boolean') return v ? '1' : '0';
  if (typeof v === 'object') return JSON.stringify(v);
  return String(v);
}

export class SqlServerSource extends SqlSource {
  readonly engine = 'sqlserver' as const;
  protected readonly dialect = sqlServerDialect;
  private readonly pool: MssqlPoolLike;
  private connecting: Promise<unknown> | null = null;
  private closed = false;

  constructor(config: SqlServerConnectionConfig, options: SqlServerSourceOptions = {}) {
    super(options);
    const tls = config.tls ?? { enabled: true, rejectUnauthorized: true };
    const driverConfig: sql.config = {
      server: config.host,
      port: config.port ?? 1433,
      database: config.database,
      user: config.user,
      password: config.password,
      connectionTimeout: options.connectTimeoutMs ?? 15_000,
      requestTimeout: options.requestTimeoutMs ?? 60_000,
      pool: { max: options.poolMax ?? 5, min: 0, idleTimeoutMillis: options.idleTimeoutMs ?? 30_000 },
      options: {
        encrypt: tls.enabled,
        trustServerCertificate: !tls.rejectUnauthorized,
        ...(tls.serverName ? { serverName: tls.serverName } : {}),
        appName: 'sql-sharepoint-sync',
        // datetime/datetime2 are read as UTC wall-clock time, the product's rule for zone-less timestamps
        useUTC: true,
      },
    };
    this.pool = (options.createPool ?? ((c) => new sql.ConnectionPool(c) as unknown as MssqlPoolLike))(driverConfig);
    // as with pg: a dropped idle connection must not crash the process
    this.pool.on?.('error', () => undefined);
  }

  protected mapError(error: unknown, what: string): SyncError {
    return mapMssqlError(error, what);
  }

  private async connected(): Promise<void> {
    if (this.closed) throw configError(MODULE, 'source_closed', 'the source connection was closed');
    if (!this.connecting) {
      this.connecting = this.pool.connect().catch((error: unknown) => {
        this.connecting = null; // the next call tries again
        throw error;
      });
    }
    await this.connecting;
  }

  private async request(text: string, params: BoundParam[], arrayRowMode: boolean): Promise<unknown[][]> {
    await this.connected();
    const req = this.pool.request();
    req.arrayRowMode = arrayRowMode;
    for (const p of params) req.input(p.name, p.type === 'int' ? sql.Int : sql.NVarChar(sql.MAX), p.value);
    const result = await req.query(text);
    const sets = Array.isArray(result.recordsets) ? (result.recordsets as unknown[][]) : [result.recordset ?? []];
    return sets;
  }

  protected async execute(text: string, params: BoundParam[]): Promise<unknown[][]> {
    const [first] = await this.request(text, params, true);
    return (first ?? []) as unknown[][];
  }

  /** Object-mode statement (catalog queries), instrumented like `run`. */
  private async objects(text: string, values: Array<string | null>, what: string): Promise<Array<Array<Record<string, unknown>>>> {
    const params: BoundParam[] = values.map((v, i) => ({ name: `p${i}`, value: v, type: 'text' }));
    const started = Date.now();
    let ok = false;
    let rows = 0;
    try {
      const sets = (await this.request(text, params, false)) as Array<Array<Record<string, unknown>>>;
      ok = true;
      rows = sets.reduce((n, s) => n + s.length, 0);
      return sets;
    } catch (error) {
      throw mapMssqlError(error, what);
    } finally {
      this.adapterOptions.onQuery?.({ engine: 'sqlserver', sql: text, paramCount: params.length, durationMs: Date.now() - started, rows, ok });
    }
  }

  protected rowVersionHighWaterSql(): string {
    // everything below the oldest active (uncommitted) version is committed: stop one short of it
    return 'SELECT CONVERT(varchar(20), CAST(CAST(MIN_ACTIVE_ROWVERSION() AS bigint) - 1 AS binary(8)), 1)';
  }

  async listSchemas(): Promise<string[]> {
    // dbo (1) and user schemas (5..16383); guest, INFORMATION_SCHEMA, sys and the db_* role schemas are left out
    const [rows = []] = await this.objects(
      'SELECT s.name AS name FROM sys.schemas s WHERE s.schema_id = 1 OR (s.schema_id > 4 AND s.schema_id < 16384) ORDER BY s.name',
      [],
      'listing schemas',
    );
    return rows.map((r) => String(r.name));
  }

  async listTables(schema?: string): Promise<TableSummary[]> {
    const [rows = []] = await this.objects(
      `SELECT s.name AS [schema], o.name AS name, RTRIM(o.type) AS type
       FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
       WHERE o.type IN ('U', 'V') AND o.is_ms_shipped = 0 AND (@p0 IS NULL OR s.name = @p0)
       ORDER BY s.name, o.name`,
      [schema ?? null],
      'listing tables',
    );
    return rows.map((r) => ({ schema: String(r.schema), name: String(r.name), kind: r.type === 'V' ? 'view' : 'table' }));
  }

  protected async introspect(ref: TableRef): Promise<TableSchema | null> {
    const sets = await this.objects(INTROSPECT_SQL, [ref.schema, ref.name], `describing ${ref.schema}.${ref.name}`);
    const [objectRows = [], columnRows = [], constraintRows = [], indexRows = []] = sets;
    const object = objectRows[0];
    if (!object) return null;
    const columns = columnRows.map((r, i) => tsqlColumn(r as unknown as TsqlColumnRow, i + 1));

    const groups = <T extends Record<string, unknown>>(rows: T[]) => {
      const out = new Map<string, T[]>();
      for (const r of rows) out.set(String(r.name), [...(out.get(String(r.name)) ?? []), r]);
      return out;
    };
    let primaryKey: string[] | null = null;
    const uniqueConstraints: UniqueConstraint[] = [];
    for (const [name, rows] of groups(constraintRows)) {
      const cols = rows.map((r) => String(r.columnName));
      if (rows[0]?.type === 'PK') primaryKey = cols;
      else uniqueConstraints.push({ name, columns: cols });
    }
    const indexes: IndexInfo[] = [...groups(indexRows)].map(([name, rows]) => ({
      name,
      columns: rows.map((r) => String(r.columnName)),
      unique: rows[0]?.isUnique === true,
      primary: rows[0]?.isPrimary === true,
      predicate: typeof rows[0]?.predicate === 'string' ? (rows[0].predicate as string) : null,
    }));
    return {
      engine: 'sqlserver',
      table: { schema: String(object.schema), name: String(object.name) },
      kind: object.type === 'V' ? 'view' : 'table',
      columns,
      primaryKey,
      uniqueConstraints,
      indexes,
    };
  }

  /**
   * Availability-group state of this database's local replica. Without VIEW SERVER STATE, or
   * for a database in no group, the state is unknown rather than a failed probe; a replica that
   * is not synchronizing is not one to fail over to.
   */
  protected async replicationStatus(): Promise<ReplicationStatus> {
    let rows: Array<Record<string, unknown>>;
    try {
      [rows = []] = await this.objects(AG_STATE_SQL, [], 'reading the availability group state');
    } catch (error) {
      if (isSyncError(error, 'source_permission_denied')) return { serverRole: null, lagSeconds: null, availabilityGroup: null };
      throw error;
    }
    const row = rows[0];
    if (!row) return { serverRole: null, lagSeconds: null, availabilityGroup: null };
    const synchronizationState = String(row.synchronizationState);
    const synchronizationHealth = String(row.synchronizationHealth);
    if (synchronizationHealth === 'NOT_HEALTHY' || synchronizationState === 'NOT SYNCHRONIZING') {
      throw transientError(MODULE, 'replica_not_synchronizing', `the availability group replica is ${synchronizationState.toLowerCase()} (${synchronizationHealth.toLowerCase()})`);
    }
    const lag = row.lagSeconds;
    return {
      serverRole: row.role === 'PRIMARY' ? 'primary' : 'standby',
      lagSeconds: lag === null || lag === undefined ? null : Number(lag),
      availabilityGroup: { synchronizationState, synchronizationHealth },
    };
  }

  async health(timeoutMs: number): Promise<SourceHealth> {
    return this.ping('SELECT @@VERSION', timeoutMs);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.pool.close();
  }
}

/**
 * The local replica of the connected database in its availability group (no row: not in one).
 * Lag: `secondary_lag_seconds` (SQL Server 2016+), where the server reports it.
 */
export const AG_STATE_SQL = `SELECT TOP (1) ars.role_desc AS role, drs.synchronization_state_desc AS synchronizationState,
  drs.synchronization_health_desc AS synchronizationHealth,
  drs.secondary_lag_seconds AS lagSeconds
FROM sys.dm_hadr_database_replica_states drs
JOIN sys.dm_hadr_availability_replica_states ars ON ars.replica_id = drs.replica_id AND ars.group_id = drs.group_id
WHERE drs.database_id = DB_ID() AND drs.is_local = 1`;

/** One batch, four result sets: the object, its columns, its PK/unique constraints, its indexes. */
export const INTROSPECT_SQL = `DECLARE @oid int;
SELECT @oid = o.object_id FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id
 WHERE s.name = @p0 AND o.name = @p1 AND o.type IN ('U', 'V');
SELECT s.name AS [schema], o.name AS name, RTRIM(o.type) AS type
 FROM sys.objects o JOIN sys.schemas s ON s.schema_id = o.schema_id WHERE o.object_id = @oid;
SELECT c.column_id AS ordinal, c.name AS name, TYPE_NAME(c.system_type_id) AS systemType, TYPE_NAME(c.user_type_id) AS userType,
       c.max_length AS maxLength, c.precision AS [precision], c.scale AS scale, c.is_nullable AS nullable,
       c.is_identity AS isIdentity, c.is_computed AS isComputed, OBJECT_DEFINITION(c.default_object_id) AS defaultDefinition
 FROM sys.columns c WHERE c.object_id = @oid ORDER BY c.column_id;
SELECT kc.name AS name, RTRIM(kc.type) AS type, c.name AS columnName
 FROM sys.key_constraints kc
 JOIN sys.index_columns ic ON ic.object_id = kc.parent_object_id AND ic.index_id = kc.unique_index_id
 JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE kc.parent_object_id = @oid ORDER BY kc.name, ic.key_ordinal;
SELECT i.name AS name, i.is_unique AS isUnique, i.is_primary_key AS isPrimary, i.filter_definition AS predicate, c.name AS columnName
 FROM sys.indexes i
 JOIN sys.index_columns ic ON ic.object_id = i.object_id AND ic.index_id = i.index_id AND ic.is_included_column = 0
 JOIN sys.columns c ON c.object_id = ic.object_id AND c.column_id = ic.column_id
 WHERE i.object_id = @oid AND i.index_id > 0 AND i.is_hypothetical = 0 ORDER BY i.name, ic.key_ordinal;`;

export interface TsqlColumnRow {
  ordinal: number;
  name: string;
  systemType: string;
  userType: string;
  /** Bytes; -1 for (max). */
  maxLength: number;
  precision: number;
  scale: number;
  nullable: boolean;
  isIdentity: boolean;
  isComputed: boolean;
  defaultDefinition: string | null;
}

const TSQL_TYPES: Record<string, ColumnDataType> = {
  tinyint: 'int',
  smallint: 'int',
  int: 'int',
  bigint: 'bigint',
  decimal: 'decimal',
  numeric: 'decimal',
  real: 'float',
  float: 'float',
  money: 'money',
  smallmoney: 'money',
  bit: 'boolean',
  char: 'char',
  nchar: 'char',
  varchar: 'text',
  nvarchar: 'text',
  text: 'text',
  ntext: 'text',
  sysname: 'text',
  date: 'date',
  time: 'time',
  datetime: 'timestamp',
  datetime2: 'timestamp',
  smalldatetime: 'timestamp',
  datetimeoffset: 'timestamptz',
  uniqueidentifier: 'uuid',
  xml: 'xml',
  json: 'json',
  binary: 'binary',
  varbinary: 'binary',
  image: 'binary',
  timestamp: 'rowversion',
};

/** The declared type as T-SQL spells it, from catalog facts (`nvarchar(50)`, `decimal(12,2)`, `datetime2(7)`). */
export function tsqlNativeType(systemType: string, maxLengthBytes: number, precision: number, scale: number): string {
  switch (systemType) {
    case 'char':
    case 'varchar':
    case 'binary':
    case 'varbinary':
      return `${systemType}(${maxLengthBytes === -1 ? 'max' : maxLengthBytes})`;
    case 'nchar':
    case 'nvarchar':
      return `${systemType}(${maxLengthBytes === -1 ? 'max' : maxLengthBytes / 2})`;
    case 'decimal':
    case 'numeric':
      return `${systemType}(${precision},${scale})`;
    case 'time':
    case 'datetime2':
    case 'datetimeoffset':
      return `${systemType}(${scale})`;
    case 'timestamp':
      return 'rowversion';
    default:
      return systemType;
  }
}

export function tsqlColumn(r: TsqlColumnRow, ordinal: number): ColumnInfo {
  const systemType = String(r.systemType).toLowerCase();
  const dataType: ColumnDataType = TSQL_TYPES[systemType] ?? 'other';
  const chars = (bytes: number, perChar: number) => (bytes === -1 ? null : bytes / perChar);
  let maxLength: number | null = null;
  let precision: number | null = null;
  let scale: number | null = null;
  switch (systemType) {
    case 'char':
    case 'varchar':
    case 'binary':
    case 'varbinary':
      maxLength = chars(r.maxLength, 1);
      break;
    case 'nchar':
    case 'nvarchar':
    case 'sysname':
      maxLength = chars(r.maxLength, 2);
      break;
    case 'decimal':
    case 'numeric':
    case 'money':
    case 'smallmoney':
      precision = r.precision;
      scale = r.scale;
      break;
    case 'real':
    case 'float':
      precision = r.precision;
      break;
    case 'time':
    case 'datetime2':
    case 'datetimeoffset':
      precision = r.scale; // fractional-second digits
      break;
  }
  return {
    name: r.name,
    ordinal,
    dataType,
    nativeType: tsqlNativeType(systemType, r.maxLength, r.precision, r.scale),
    nullable: r.nullable === true,
    maxLength,
    precision,
    scale,
    default: r.defaultDefinition ?? null,
    isIdentity: r.isIdentity === true,
    isGenerated: r.isComputed === true,
    isRowVersion: systemType === 'timestamp',
    enumValues: null,
  };
}
