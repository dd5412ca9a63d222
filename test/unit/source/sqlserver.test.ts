import sql from 'mssql';
import { createSourceDatabase, resolveCredentials } from '../../../src/adapters/source';
import { mapMssqlError } from '../../../src/adapters/source/errors';
import { quoteTsql, SqlServerSource, tsqlColumn, type MssqlPoolLike, type TsqlColumnRow } from '../../../src/adapters/source/sqlserver';
import { EnvSecrets } from '../../../src/adapters/secrets/env';
import type { SourceConnection } from '../../../src/core/definitions';
import type { ColumnInfo } from '../../../src/core/ports/source';
import { proposeColumn, toGraphValue } from '../../../src/core/typemap';

/**
 * The SQL Server adapter's T-SQL and type mapping, with the mssql driver replaced at its
 * boundary (ConnectionPool/Request): no SQL Server runs here. The live suite
 * (test/integration/source/sqlserver.live.test.ts) runs the same paths when MSSQL_TEST_URL is set.
 */

interface Sent {
  sql: string;
  inputs: Array<{ name: string; type: unknown; value: unknown }>;
  arrayRowMode: boolean;
}

type Responder = (sent: Sent) => unknown[][] | Promise<unknown[][]>;

function fakeDriver(respond: Responder) {
  const sent: Sent[] = [];
  const configs: sql.config[] = [];
  let connectError: unknown = null;
  const createPool = (config: sql.config): MssqlPoolLike => {
    configs.push(config);
    return {
      connect: async () => {
        if (connectError) throw connectError;
      },
      close: async () => undefined,
      request: () => {
        const s: Sent = { sql: '', inputs: [], arrayRowMode: false };
        return {
          get arrayRowMode() {
            return s.arrayRowMode;
          },
          set arrayRowMode(v: boolean) {
            s.arrayRowMode = v;
          },
          input(name: string, type: unknown, value: unknown) {
            s.inputs.push({ name, type, value });
            return this;
          },
          async query(text: string) {
            s.sql = text;
            sent.push(s);
            const recordsets = await respond(s);
            return { recordsets, recordset: recordsets[0] };
          },
        };
      },
    };
  };
  return { sent, configs, createPool, failConnect: (e: unknown) => (connectError = e) };
}

const col = (name: string, systemType: string, extra: Partial<TsqlColumnRow> = {}): TsqlColumnRow => ({
  ordinal: 0,
  name,
  systemType,
  userType: systemType,
  maxLength: 4,
  precision: 10,
  scale: 0,
  nullable: false,
  isIdentity: false,
  isComputed: false,
  defaultDefinition: null,
  ...extra,
});

const ORDERS_COLUMNS: TsqlColumnRow[] = [
  col('id', 'int', { isIdentity: true }),
  col('Region', 'nvarchar', { maxLength: 20 }),
  col('updated', 'datetime2', { maxLength: 8, precision: 27, scale: 7 }),
  col('maybe_updated', 'datetime2', { maxLength: 8, precision: 27, scale: 7, nullable: true }),
  col('rv', 'timestamp', { maxLength: 8 }),
  col('amount', 'decimal', { maxLength: 9, precision: 12, scale: 2, nullable: true }),
  col('price', 'money', { maxLength: 8, precision: 19, scale: 4, nullable: true }),
  col('note', 'nvarchar', { maxLength: -1, nullable: true }),
  col('code', 'char', { maxLength: 3, nullable: true }),
  col('guid', 'uniqueidentifier', { maxLength: 16, nullable: true }),
  col('flag', 'bit', { maxLength: 1, nullable: true }),
  col('at', 'datetimeoffset', { maxLength: 10, precision: 34, scale: 7, nullable: true }),
  col('day', 'date', { maxLength: 3, nullable: true }),
  col('blob', 'varbinary', { maxLength: -1, nullable: true }),
  col('doc', 'xml', { maxLength: -1, nullable: true }),
  col('total', 'bigint', { maxLength: 8, isComputed: true, nullable: true }),
  col('we]ird col', 'int', { nullable: true }),
];

/** Answers the introspection batch for dbo.Orders and records everything else. */
function ordersResponder(onData?: (s: Sent) => unknown[][]): Responder {
  return (s) => {
    if (s.sql.includes('DECLARE @oid')) {
      const found = s.inputs[0]?.value === 'dbo' && s.inputs[1]?.value === 'Orders';
      if (!found) return [[], [], [], []];
      return [
        [{ schema: 'dbo', name: 'Orders', type: 'U' }],
        ORDERS_COLUMNS,
        [
          { name: 'PK_Orders', type: 'PK', columnName: 'Region' },
          { name: 'PK_Orders', type: 'PK', columnName: 'id' },
          { name: 'UQ_guid', type: 'UQ', columnName: 'guid' },
        ],
        [
          { name: 'PK_Orders', isUnique: true, isPrimary: true, predicate: null, columnName: 'Region' },
          { name: 'PK_Orders', isUnique: true, isPrimary: true, predicate: null, columnName: 'id' },
          { name: 'IX_updated', isUnique: false, isPrimary: false, predicate: '([flag]=(1))', columnName: 'updated' },
        ],
      ];
    }
    return onData ? onData(s) : [[]];
  };
}

function source(respond: Responder) {
  const driver = fakeDriver(respond);
  const db = new SqlServerSource(
    { host: 'sql.example', database: 'shop', user: 'sync', password: 'pw', tls: { enabled: true, rejectUnauthorized: false, serverName: 'sql.example' } },
    { createPool: driver.createPool },
  );
  return { db, driver };
}

const ORDERS = { schema: 'dbo', name: 'Orders' };
const dataStatements = (sent: Sent[]) => sent.filter((s) => !s.sql.includes('DECLARE @oid'));

describe('SQL Server adapter (driver mocked at the boundary)', () => {
  it('connects with encryption and certificate trust taken from the TLS options', () => {
    const { driver } = source(ordersResponder());
    expect(driver.configs[0]).toMatchObject({
      server: 'sql.example',
      port: 1433,
      database: 'shop',
      user: 'sync',
      options: { encrypt: true, trustServerCertificate: true, serverName: 'sql.example', useUTC: true },
    });
  });

  it('introspects columns, composite primary key, unique constraints and filtered indexes from the catalog', async () => {
    const { db, driver } = source(ordersResponder());
    const s = await db.describeTable(ORDERS);
    expect(driver.sent[0]?.inputs.map((i) => i.value)).toEqual(['dbo', 'Orders']); // names are bound, never spliced
    expect(driver.sent[0]?.sql).not.toContain('Orders');
    expect(s.primaryKey).toEqual(['Region', 'id']);
    expect(s.uniqueConstraints).toEqual([{ name: 'UQ_guid', columns: ['guid'] }]);
    expect(s.indexes).toContainEqual({ name: 'IX_updated', columns: ['updated'], unique: false, primary: false, predicate: '([flag]=(1))' });
    const c = Object.fromEntries(s.columns.map((x) => [x.name, x]));
    expect(c['id']).toMatchObject({ dataType: 'int', isIdentity: true, nativeType: 'int' });
    expect(c['Region']).toMatchObject({ dataType: 'text', maxLength: 10, nativeType: 'nvarchar(10)' }); // bytes → characters
    expect(c['updated']).toMatchObject({ dataType: 'timestamp', precision: 7, nativeType: 'datetime2(7)' });
    expect(c['rv']).toMatchObject({ dataType: 'rowversion', isRowVersion: true, nativeType: 'rowversion' });
    expect(c['amount']).toMatchObject({ dataType: 'decimal', precision: 12, scale: 2, nativeType: 'decimal(12,2)' });
    expect(c['price']).toMatchObject({ dataType: 'money', scale: 4 });
    expect(c['note']).toMatchObject({ dataType: 'text', maxLength: null, nativeType: 'nvarchar(max)' });
    expect(c['code']).toMatchObject({ dataType: 'char', maxLength: 3 });
    expect(c['guid']?.dataType).toBe('uuid');
    expect(c['flag']?.dataType).toBe('boolean');
    expect(c['at']).toMatchObject({ dataType: 'timestamptz', nativeType: 'datetimeoffset(7)' });
    expect(c['day']?.dataType).toBe('date');
    expect(c['blob']).toMatchObject({ dataType: 'binary', nativeType: 'varbinary(max)' });
    expect(c['doc']?.dataType).toBe('xml');
    expect(c['total']).toMatchObject({ isGenerated: true });
  });

  it('an unknown table is a config error', async () => {
    const { db } = source(ordersResponder());
    await expect(db.describeTable({ schema: 'dbo', name: 'Nope' })).rejects.toMatchObject({ code: 'unknown_table', errorClass: 'config' });
  });

  it('maps SQL Server types to SharePoint columns and driver values to Graph values', async () => {
    const { db } = source(ordersResponder());
    const s = await db.describeTable(ORDERS);
    const c = Object.fromEntries(s.columns.map((x) => [x.name, x])) as Record<string, ColumnInfo>;
    const p = (n: string) => proposeColumn(c[n] as ColumnInfo);
    expect(p('Region')).toMatchObject({ spType: 'text', maxLength: 10 });
    expect(p('note').spType).toBe('note');
    expect(p('flag').spType).toBe('boolean');
    expect(p('price').spType).toBe('currency');
    expect(p('amount')).toMatchObject({ spType: 'number', decimalPlaces: 2 });
    expect(p('guid')).toMatchObject({ spType: 'text', maxLength: 36 });
    expect(p('at').spType).toBe('dateTime');
    expect(p('day').spType).toBe('dateOnly');
    expect(p('total').spType).toBe('text'); // bigint
    expect(p('rv').supported).toBe(false);
    expect(p('blob').supported).toBe(false);
    expect(p('doc').spType).toBe('note');
    // tedious: uniqueidentifier upper case, date as UTC midnight, datetimeoffset as an instant, bigint as text
    expect(toGraphValue('A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11', c['guid'] as ColumnInfo, p('guid'))).toBe('a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11');
    expect(toGraphValue(new Date('2024-02-29T00:00:00Z'), c['day'] as ColumnInfo, p('day'))).toBe('2024-02-29');
    expect(toGraphValue(new Date('2024-03-01T08:00:00Z'), c['at'] as ColumnInfo, p('at'))).toBe('2024-03-01T08:00:00Z');
    expect(toGraphValue('9223372036854775807', c['total'] as ColumnInfo, p('total'))).toBe('9223372036854775807');
    expect(toGraphValue(12.3456, c['price'] as ColumnInfo, p('price'))).toBe(12.3456);
    expect(toGraphValue(true, c['flag'] as ColumnInfo, p('flag'))).toBe(true);
    expect(toGraphValue('ab ', c['code'] as ColumnInfo, p('code'))).toBe('ab');
  });

  it('a timestamp run from a mark reads back the look-back window with bound, typed parameters', async () => {
    const { db, driver } = source(ordersResponder(() => [[[1, new Date('2024-01-01T10:00:00Z'), 'EU', '2024-01-01T10:00:00.1234567', 'EU', '1']]]));
    const page = await db.readChanges({
      table: ORDERS,
      columns: ['id', 'updated'],
      key: ['Region', 'id'],
      cursor: { kind: 'timestamp', column: 'updated', lookbackSeconds: 300 },
      after: { at: 'mark', value: '2024-01-01T09:00:00.0000000' },
      highWater: '2024-01-01T10:00:00.1234567',
      limit: 1,
    });
    const [q] = dataStatements(driver.sent);
    expect(q?.sql).toBe(
      'SELECT TOP (@p3) [id], [updated], [Region], CONVERT(nvarchar(40), [updated], 126), CONVERT(nvarchar(max), [Region]), CONVERT(nvarchar(max), [id]) ' +
        'FROM [dbo].[Orders] ' +
        'WHERE [updated] <= CONVERT(datetime2(7), @p0, 126) AND [updated] >= DATEADD(second, -@p2, CONVERT(datetime2(7), @p1, 126)) ' +
        'ORDER BY [dbo].[Orders].[updated], [dbo].[Orders].[Region], [dbo].[Orders].[id]',
    );
    expect(q?.arrayRowMode).toBe(true);
    expect(q?.inputs.map((i) => [i.name, i.value])).toEqual([
      ['p0', '2024-01-01T10:00:00.1234567'],
      ['p1', '2024-01-01T09:00:00.0000000'],
      ['p2', 300],
      ['p3', 1],
    ]);
    expect(q?.inputs[2]?.type).toBe(sql.Int);
    expect(page.rows).toEqual([{ id: 1, updated: new Date('2024-01-01T10:00:00Z'), Region: 'EU' }]);
    // the position keeps the exact text (100 ns precision), not the millisecond Date
    expect(page.next).toEqual({ at: 'row', value: '2024-01-01T10:00:00.1234567', key: ['EU', '1'] });
  });

  it('a continued page compares the whole (cursor, key) tuple, so ties on the cursor are neither skipped nor repeated', async () => {
    const { db, driver } = source(ordersResponder(() => [[]]));
    const page = await db.readChanges({
      table: ORDERS,
      columns: ['id'],
      key: ['Region', 'id'],
      cursor: { kind: 'timestamp', column: 'updated' },
      after: { at: 'row', value: '2024-01-01T10:00:00.1234567', key: ['EU', '7'] },
      highWater: '2024-01-02T00:00:00.0000000',
      limit: 100,
    });
    expect(page).toEqual({ rows: [], next: null });
    const [q] = dataStatements(driver.sent);
    expect(q?.sql).toContain(
      'WHERE [updated] <= CONVERT(datetime2(7), @p0, 126) AND ([updated] >= CONVERT(datetime2(7), @p1, 126) AND (' +
        '([updated] > CONVERT(datetime2(7), @p1, 126)) OR ' +
        '([updated] = CONVERT(datetime2(7), @p1, 126) AND [Region] > CONVERT(nvarchar(10), @p2)) OR ' +
        '([updated] = CONVERT(datetime2(7), @p1, 126) AND [Region] = CONVERT(nvarchar(10), @p2) AND [id] > CONVERT(int, @p3))))',
    );
    expect(q?.inputs.map((i) => i.value)).toEqual(['2024-01-02T00:00:00.0000000', '2024-01-01T10:00:00.1234567', 'EU', '7', 100]);
  });

  it('a first pass reads rows whose cursor is NULL before the others', async () => {
    let call = 0;
    const { db, driver } = source(
      ordersResponder(() => {
        call++;
        return call === 1 ? [[[5, 'EU', 'EU', '5']]] : [[]];
      }),
    );
    const page = await db.readChanges({
      table: ORDERS,
      columns: ['id'],
      key: ['Region', 'id'],
      cursor: { kind: 'timestamp', column: 'maybe_updated', lookbackSeconds: 60 },
      after: null,
      highWater: '2024-01-02T00:00:00.0000000',
      limit: 10,
    });
    const [nulls, values] = dataStatements(driver.sent);
    expect(nulls?.sql).toContain('WHERE [maybe_updated] IS NULL ORDER BY [dbo].[Orders].[Region], [dbo].[Orders].[id]');
    expect(values?.sql).toContain('WHERE [maybe_updated] <= CONVERT(datetime2(7), @p0, 126) AND [maybe_updated] IS NOT NULL ORDER BY [dbo].[Orders].[maybe_updated]');
    expect(values?.inputs.at(-1)?.value).toBe(9); // the page's remaining room
    expect(page.rows).toEqual([{ id: 5, Region: 'EU' }]);
    expect(page.next).toBeNull();
  });

  it('rowversion reads are bounded by MIN_ACTIVE_ROWVERSION() so no uncommitted version is passed', async () => {
    const { db, driver } = source(
      ordersResponder((s) => (s.sql.includes('MIN_ACTIVE_ROWVERSION') ? [[['0x00000000000007D0']]] : [[[1, 'EU', '0x00000000000007CF', 'EU', '1']]])),
    );
    const hw = await db.highWaterMark(ORDERS, { kind: 'rowversion', column: 'rv' });
    expect(hw).toBe('0x00000000000007D0');
    const page = await db.readChanges({
      table: ORDERS,
      columns: ['id'],
      key: ['Region', 'id'],
      cursor: { kind: 'rowversion', column: 'rv' },
      after: { at: 'mark', value: '0x00000000000007C0' },
      highWater: hw,
      limit: 1,
    });
    const [hwq, q] = dataStatements(driver.sent);
    expect(hwq?.sql).toBe('SELECT CONVERT(varchar(20), CAST(CAST(MIN_ACTIVE_ROWVERSION() AS bigint) - 1 AS binary(8)), 1)');
    expect(q?.sql).toContain('CONVERT(varchar(max), [rv], 1)');
    expect(q?.sql).toContain('WHERE [rv] <= CONVERT(binary(8), @p0, 1) AND [rv] > CONVERT(binary(8), @p1, 1)');
    expect(page.next).toEqual({ at: 'row', value: '0x00000000000007CF', key: ['EU', '1'] });
  });

  it('a rowversion cursor on a non-rowversion column is refused', async () => {
    const { db } = source(ordersResponder());
    await expect(db.highWaterMark(ORDERS, { kind: 'rowversion', column: 'id' })).rejects.toMatchObject({ code: 'cursor_column_type', errorClass: 'config' });
  });

  it('timestamp and integer high-water marks are the exact text of MAX(column)', async () => {
    const { db, driver } = source(ordersResponder(() => [[['2024-01-01T10:00:00.1234567']]]));
    expect(await db.highWaterMark(ORDERS, { kind: 'timestamp', column: 'updated' })).toBe('2024-01-01T10:00:00.1234567');
    expect(dataStatements(driver.sent)[0]?.sql).toBe('SELECT CONVERT(nvarchar(40), MAX([updated]), 126) FROM [dbo].[Orders]');
    expect(await db.highWaterMark(ORDERS, { kind: 'full' })).toBeNull();
  });

  it('the key-set digest is one aggregate over SHA2-256 of each key text, summed without overflow', async () => {
    const { db, driver } = source(ordersResponder(() => [[['3', '1234', '5678']]]));
    expect(await db.keySetDigest(ORDERS, ['Region', 'id'])).toBe('3:1234:5678');
    const [q] = dataStatements(driver.sent);
    const k = "CONCAT(COALESCE(CONVERT(nvarchar(max), [Region]), NCHAR(30)), NCHAR(31), COALESCE(CONVERT(nvarchar(max), [id]), NCHAR(30)))";
    const sum = (start: number) => `CONVERT(nvarchar(60), COALESCE(SUM(CONVERT(decimal(38,0), CONVERT(bigint, SUBSTRING(h, ${start}, 7)))), 0))`;
    expect(q?.sql).toBe(`SELECT CONVERT(nvarchar(30), COUNT_BIG(*)), ${sum(1)}, ${sum(8)} FROM (SELECT HASHBYTES('SHA2_256', ${k}) AS h FROM [dbo].[Orders]) keys`);
    expect(q?.inputs).toEqual([]);
    // CONCAT needs two arguments: a one-column key gets an empty second one
    await db.keySetDigest(ORDERS, ['id']);
    expect(dataStatements(driver.sent)[1]?.sql).toContain("HASHBYTES('SHA2_256', CONCAT(COALESCE(CONVERT(nvarchar(max), [id]), NCHAR(30)), N''))");
    await expect(db.keySetDigest(ORDERS, ['nope'])).rejects.toMatchObject({ code: 'unknown_column' });
  });

  it('quotes identifiers with brackets, doubling a closing bracket', async () => {
    expect(quoteTsql('we]ird col')).toBe('[we]]ird col]');
    expect(quoteTsql('a]]b')).toBe('[a]]]]b]');
    const { db, driver } = source(ordersResponder(() => [[]]));
    await db.readChanges({ table: ORDERS, columns: ['we]ird col'], key: ['id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 });
    expect(dataStatements(driver.sent)[0]?.sql).toBe('SELECT TOP (@p0) [we]]ird col], [id], CONVERT(nvarchar(max), [id]) FROM [dbo].[Orders] ORDER BY [dbo].[Orders].[id]');
  });

  it('refuses a column that is not in the table before sending any statement built from it', async () => {
    const { db, driver } = source(ordersResponder());
    const bad = 'id]; DROP TABLE [dbo].[Orders]; --';
    await expect(db.readChanges({ table: ORDERS, columns: [bad], key: ['id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 })).rejects.toMatchObject({
      code: 'unknown_column',
    });
    expect(driver.sent.every((s) => !s.sql.includes('DROP'))).toBe(true);
  });

  it('re-reads composite keys with each value converted to its column type', async () => {
    const { db, driver } = source(ordersResponder(() => [[[3, 'EU']]]));
    const rows = await db.readByKeys(ORDERS, ['id'], ['Region', 'id'], [
      ['EU', 3],
      ['US', 4],
      [null, 5],
    ]);
    const [q] = dataStatements(driver.sent);
    expect(q?.sql).toBe(
      'SELECT [id], [Region] FROM [dbo].[Orders] WHERE (([Region] = CONVERT(nvarchar(10), @p0) AND [id] = CONVERT(int, @p1)) OR ([Region] = CONVERT(nvarchar(10), @p2) AND [id] = CONVERT(int, @p3)))',
    );
    expect(q?.inputs.map((i) => i.value)).toEqual(['EU', '3', 'US', '4']);
    expect(rows).toEqual([{ id: 3, Region: 'EU' }]);
  });

  it('binds temporal and binary key values in forms CONVERT reads the same in every language setting', async () => {
    const { db, driver } = source(ordersResponder(() => [[]]));
    await db.readByKeys(ORDERS, ['id'], ['updated', 'at', 'day', 'flag'], [[new Date('2024-01-01T10:00:00.5Z'), '2024-01-01T10:00:00+02:00', '2024-01-31T00:00:00.000Z', true]]);
    const [q] = dataStatements(driver.sent);
    expect(q?.inputs.map((i) => i.value)).toEqual(['2024-01-01T10:00:00.500', '2024-01-01T10:00:00+02:00', '2024-01-31', '1']);
    expect(q?.sql).toContain('[at] = CONVERT(datetimeoffset(7), @p1, 127)');
  });

  it('a health check that cannot connect reports the failure instead of throwing', async () => {
    const { db, driver } = source(ordersResponder());
    driver.failConnect(Object.assign(new Error('Failed to connect to sql.example:1433 - getaddrinfo'), { code: 'ESOCKET' }));
    const h = await db.health(1000);
    expect(h).toMatchObject({ ok: false, errorCode: 'source_unreachable' });
    expect(h.error).not.toContain('pw');
  });

  it('a healthy server reports its version', async () => {
    const { db } = source(ordersResponder(() => [[['Microsoft SQL Server 2022']]]));
    expect(await db.health(1000)).toMatchObject({ ok: true, serverVersion: 'Microsoft SQL Server 2022' });
  });

  it('classifies driver errors: login and missing objects are config, deadlocks and timeouts are transient', () => {
    expect(mapMssqlError(Object.assign(new Error('Login failed'), { code: 'ELOGIN' }), 'x')).toMatchObject({ errorClass: 'config', code: 'source_auth_failed' });
    expect(mapMssqlError(Object.assign(new Error('timeout'), { code: 'ETIMEOUT' }), 'x')).toMatchObject({ errorClass: 'transient', code: 'source_timeout' });
    expect(mapMssqlError(Object.assign(new Error('deadlock'), { code: 'EREQUEST', number: 1205 }), 'x')).toMatchObject({ errorClass: 'transient' });
    expect(mapMssqlError(Object.assign(new Error('Invalid object name'), { code: 'EREQUEST', number: 208 }), 'x')).toMatchObject({ errorClass: 'config', code: 'unknown_table' });
  });

  it('normalises catalog rows for alias-free system types, including (max) lengths', () => {
    expect(tsqlColumn(col('v', 'varchar', { maxLength: -1 }), 1)).toMatchObject({ dataType: 'text', maxLength: null, nativeType: 'varchar(max)' });
    expect(tsqlColumn(col('n', 'nchar', { maxLength: 20 }), 1)).toMatchObject({ dataType: 'char', maxLength: 10, nativeType: 'nchar(10)' });
    expect(tsqlColumn(col('s', 'smallint'), 1).dataType).toBe('int');
    expect(tsqlColumn(col('t', 'time', { scale: 3 }), 1)).toMatchObject({ dataType: 'time', nativeType: 'time(3)', precision: 3 });
    expect(tsqlColumn(col('g', 'geography'), 1).dataType).toBe('other');
  });
});

describe('SQL Server connection secrets (driver mocked at the boundary)', () => {
  const conn: SourceConnection = { id: 'ms', engine: 'sqlserver', host: 'sql.example', port: 1433, database: 'shop', user: 'sync', secretRef: 'ms-secret' };

  it('accepts a plain password or a full connection string, using only its password', () => {
    expect(resolveCredentials(conn, 'p@ss;word')).toEqual({ user: 'sync', password: 'p@ss;word' });
    expect(resolveCredentials(conn, 'Server=tcp:sql.example,1433;Database=shop;User Id=sync;Password=s3cr=t;Encrypt=true')).toEqual({ user: 'sync', password: 's3cr=t' });
  });

  it('refuses a connection string that points elsewhere, without echoing it', () => {
    const secret = 'Server=other.example;Database=shop;User Id=sync;Password=hunter2';
    let err: unknown;
    try {
      resolveCredentials(conn, secret);
    } catch (e) {
      err = e;
    }
    expect(err).toMatchObject({ code: 'secret_mismatch', errorClass: 'config' });
    expect(String((err as Error).message)).not.toContain('hunter2');
  });

  it('the factory reads the password through the Secrets port and hands it to the driver', async () => {
    const driver = fakeDriver(() => [[['Microsoft SQL Server']]]);
    const secrets = new EnvSecrets({ SECRET_MS_SECRET: 'Server=sql.example;Database=shop;Password=from-vault' });
    const db = await createSourceDatabase({ ...conn, tls: { enabled: true, rejectUnauthorized: true } }, secrets, { cache: false, createPool: driver.createPool });
    expect(db.engine).toBe('sqlserver');
    expect(driver.configs[0]).toMatchObject({ password: 'from-vault', user: 'sync', options: { encrypt: true, trustServerCertificate: false } });
    await db.close();
  });
});
