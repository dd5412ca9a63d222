import { randomBytes } from 'node:crypto';
import sql from 'mssql';
import { SqlServerSource, quoteTsql } from '../../../src/adapters/source/sqlserver';
import type { QueryEvent } from '../../../src/adapters/source/base';
import { positionAfterRun, type ChangeReadRequest, type CursorPosition, type Row, type TableRef } from '../../../src/core/ports/source';

/**
 * The SQL Server adapter against a real server. Runs only when MSSQL_TEST_URL is set, as
 * `mssql://user:password@host:1433/database` or an ADO connection string
 * (`Server=…;Database=…;User Id=…;Password=…;TrustServerCertificate=true`). Everything lives in
 * a fresh schema that is dropped at the end.
 */

const RAW = process.env.MSSQL_TEST_URL;
const suite = RAW ? describe : describe.skip;

interface Target {
  host: string;
  port: number;
  database: string;
  user: string;
  password: string;
  encrypt: boolean;
  trust: boolean;
}

function parseTarget(raw: string): Target {
  if (/^(mssql|sqlserver):\/\//i.test(raw)) {
    const u = new URL(raw);
    return {
      host: u.hostname,
      port: Number(u.port || 1433),
      database: decodeURIComponent(u.pathname.slice(1)) || 'master',
      user: decodeURIComponent(u.username),
      password: decodeURIComponent(u.password),
      encrypt: u.searchParams.get('encrypt') !== 'false',
      trust: u.searchParams.get('trustServerCertificate') !== 'false',
    };
  }
  const p = sql.ConnectionPool.parseConnectionString(raw);
  return {
    host: String(p.server),
    port: Number(p.port ?? 1433),
    database: String(p.database ?? 'master'),
    user: String(p.user ?? ''),
    password: String(p.password ?? ''),
    encrypt: p.options?.encrypt !== false,
    trust: p.options?.trustServerCertificate !== false,
  };
}

suite('SQL Server source (live, MSSQL_TEST_URL)', () => {
  const target = RAW ? parseTarget(RAW) : (null as unknown as Target);
  const SCHEMA = `src it ${randomBytes(3).toString('hex')}`;
  const S = quoteTsql(SCHEMA);
  const T = (name: string): TableRef => ({ schema: SCHEMA, name });
  const queries: QueryEvent[] = [];
  let admin: sql.ConnectionPool;
  let db: SqlServerSource;

  const driverConfig = (): sql.config => ({
    server: target.host,
    port: target.port,
    database: target.database,
    user: target.user,
    password: target.password,
    options: { encrypt: target.encrypt, trustServerCertificate: target.trust },
  });
  const exec = async (text: string) => {
    await admin.request().batch(text);
  };

  async function readPass(req: Omit<ChangeReadRequest, 'after' | 'limit'>, limit: number, after: CursorPosition | null = null): Promise<Row[]> {
    const out: Row[] = [];
    let position = after;
    for (let guard = 0; guard < 1000; guard++) {
      const page = await db.readChanges({ ...req, after: position, limit });
      out.push(...page.rows);
      if (page.next === null) return out;
      position = JSON.parse(JSON.stringify(page.next)) as CursorPosition;
    }
    throw new Error('pass did not finish');
  }

  beforeAll(async () => {
    admin = await new sql.ConnectionPool(driverConfig()).connect();
    await exec(`CREATE SCHEMA ${S}`);
    await exec(`CREATE TABLE ${S}.[Order Lines] (
      [Order] int NOT NULL, [select] int NOT NULL, [Größe] nvarchar(50) NULL, [say "hi"] nvarchar(max) NULL, [we]]ird] int NULL,
      amount decimal(12,2) NULL, price money NULL, flag bit NULL, guid uniqueidentifier NULL, at datetimeoffset(7) NULL,
      updated datetime2(7) NULL, day date NULL, rv rowversion, blob varbinary(max) NULL, doc xml NULL, total AS ([Order] * 2),
      CONSTRAINT [PK OL] PRIMARY KEY ([Order], [select]), CONSTRAINT [UQ guid] UNIQUE (guid))`);
    await exec(`CREATE TABLE ${S}.[Events] (tenant nvarchar(20) NOT NULL, id int NOT NULL, updated datetime2(7) NULL, payload nvarchar(100) NULL, seq bigint NULL, rv rowversion, CONSTRAINT [PK Events] PRIMARY KEY (tenant, id))`);
    db = new SqlServerSource(
      { host: target.host, port: target.port, database: target.database, user: target.user, password: target.password, tls: { enabled: target.encrypt, rejectUnauthorized: !target.trust } },
      { onQuery: (e) => queries.push(e) },
    );
  });

  afterAll(async () => {
    await db?.close();
    if (admin) {
      await exec(`DROP TABLE IF EXISTS ${S}.[Order Lines]; DROP TABLE IF EXISTS ${S}.[Events];`);
      await exec(`DROP SCHEMA ${S}`);
      await admin.close();
    }
  });

  it('introspects keys, computed and rowversion columns, with awkward names', async () => {
    const s = await db.describeTable(T('Order Lines'));
    expect(s.primaryKey).toEqual(['Order', 'select']);
    expect(s.uniqueConstraints).toEqual([{ name: 'UQ guid', columns: ['guid'] }]);
    const c = Object.fromEntries(s.columns.map((x) => [x.name, x]));
    expect(c['Größe']).toMatchObject({ dataType: 'text', maxLength: 50 });
    expect(c['we]ird']?.dataType).toBe('int');
    expect(c['rv']).toMatchObject({ isRowVersion: true, dataType: 'rowversion' });
    expect(c['total']).toMatchObject({ isGenerated: true });
    expect(c['at']?.dataType).toBe('timestamptz');
    expect((await db.listTables(SCHEMA)).map((t) => t.name)).toEqual(['Events', 'Order Lines']);
  });

  it('a pass over tied datetime2 values (100 ns apart) in small pages skips no row and repeats none', async () => {
    await exec(`DELETE FROM ${S}.[Events]`);
    const stamps = ['2024-01-01T10:00:00.1234567', '2024-01-01T10:00:00.1234568', '2024-01-01T11:00:00'];
    const values: string[] = [];
    let n = 0;
    for (const t of ["O'Brien", 'a', 'B', 'ä', 'Z z']) for (let i = 0; i < 4; i++) values.push(`(N'${t.replace(/'/g, "''")}', ${i}, '${stamps[n++ % 3]}', N'p')`);
    values.push(`(N'nulls', 100, NULL, N'n')`, `(N'nulls', 101, NULL, N'n')`);
    await exec(`INSERT INTO ${S}.[Events] (tenant, id, updated, payload) VALUES ${values.join(', ')}`);
    const cursor = { kind: 'timestamp' as const, column: 'updated', lookbackSeconds: 0 };
    const highWater = await db.highWaterMark(T('Events'), cursor);
    for (const limit of [1, 3, 7]) {
      const rows = await readPass({ table: T('Events'), columns: ['payload'], key: ['tenant', 'id'], cursor, highWater }, limit);
      const keys = rows.map((r) => JSON.stringify([r['tenant'], r['id']]));
      expect(new Set(keys).size).toBe(keys.length);
      expect(keys).toHaveLength(22);
    }
  });

  it('rowversion reads stop below an open transaction and pick its row up once it commits', async () => {
    await exec(`DELETE FROM ${S}.[Events]`);
    await exec(`INSERT INTO ${S}.[Events] (tenant, id, payload) VALUES (N't', 1, N'a'), (N't', 2, N'b')`);
    const cursor = { kind: 'rowversion' as const, column: 'rv' };
    const writer = await new sql.ConnectionPool(driverConfig()).connect();
    const tx = new sql.Transaction(writer);
    try {
      await tx.begin();
      await new sql.Request(tx).batch(`INSERT INTO ${S}.[Events] (tenant, id, payload) VALUES (N't', 3, N'open')`);
      const hw1 = await db.highWaterMark(T('Events'), cursor);
      const run1 = await readPass({ table: T('Events'), columns: ['payload'], key: ['tenant', 'id'], cursor, highWater: hw1 }, 1);
      expect(run1.map((r) => r['id'])).toEqual([1, 2]);
      await tx.commit();
      const hw2 = await db.highWaterMark(T('Events'), cursor);
      const run2 = await readPass({ table: T('Events'), columns: ['payload'], key: ['tenant', 'id'], cursor, highWater: hw2 }, 5, positionAfterRun('rowversion', null, hw1));
      expect(run2.map((r) => r['id'])).toEqual([3]);
    } finally {
      await writer.close();
    }
  });

  it('integer and full passes, the key stream and re-reads by key', async () => {
    await exec(`DELETE FROM ${S}.[Events]`);
    await exec(`INSERT INTO ${S}.[Events] (tenant, id, seq, payload) VALUES (N'a', 1, 1, N'x'), (N'a', 2, 1, N'y'), (N'b', 1, 2, N'z')`);
    const cursor = { kind: 'integer' as const, column: 'seq' };
    const hw = await db.highWaterMark(T('Events'), cursor);
    expect(hw).toBe('2');
    expect(await readPass({ table: T('Events'), columns: ['seq'], key: ['tenant', 'id'], cursor, highWater: hw }, 1)).toHaveLength(3);
    const full = await readPass({ table: T('Events'), columns: ['payload'], key: ['tenant', 'id'], cursor: { kind: 'full' }, highWater: null }, 2);
    expect(full.map((r) => r['payload'])).toEqual(['x', 'y', 'z']);
    const pages: Row[][] = [];
    for await (const p of db.streamKeys(T('Events'), ['tenant', 'id'], 2)) pages.push(p);
    expect(pages.map((p) => p.length)).toEqual([2, 1]);
    const digest = await db.keySetDigest(T('Events'), ['tenant', 'id']);
    expect(digest).toMatch(/^3:\d+:\d+$/);
    expect(await db.keySetDigest(T('Events'), ['tenant', 'id'])).toBe(digest);
    const again = await db.readByKeys(T('Events'), ['payload'], ['tenant', 'id'], [['b', 1], ['zz', 9]]);
    expect(again).toEqual([{ payload: 'z', tenant: 'b', id: 1 }]);
  });

  it('injection attempts in names are refused before any statement is built from them', async () => {
    const bad = `Events]; DROP TABLE ${S}.[Events]; --`;
    queries.length = 0;
    await expect(db.describeTable(T(bad))).rejects.toMatchObject({ code: 'unknown_table' });
    await expect(db.readChanges({ table: T('Events'), columns: [bad], key: ['tenant', 'id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 })).rejects.toMatchObject({
      code: 'unknown_column',
    });
    expect(queries.every((q) => !q.sql.includes('DROP'))).toBe(true);
    expect((await db.health(5000)).ok).toBe(true);
  });
});
