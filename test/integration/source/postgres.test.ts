import { randomBytes } from 'node:crypto';
import pg from 'pg';
import { EnvSecrets } from '../../../src/adapters/secrets/env';
import { createSourceDatabase, SourcePoolCache } from '../../../src/adapters/source';
import type { QueryEvent } from '../../../src/adapters/source/base';
import { PostgresSource, quotePg } from '../../../src/adapters/source/postgres';
import type { SourceConnection } from '../../../src/core/definitions';
import { isSyncError } from '../../../src/core/errors';
import { positionAfterRun, type ChangeReadRequest, type CursorPosition, type Row, type TableRef } from '../../../src/core/ports/source';
import { proposeColumn, toGraphValue } from '../../../src/core/typemap';

/**
 * The PostgreSQL adapter against a real server (TEST_PG_URL: PostgreSQL in CI, PGlite on a
 * fresh machine). Everything lives in one schema with an awkward name, dropped at the end.
 */

const url = new URL(process.env.TEST_PG_URL ?? 'postgres://postgres@127.0.0.1:5432/test');
const SCHEMA = `src "it" ${randomBytes(3).toString('hex')}`;
const S = quotePg(SCHEMA);
const T = (name: string): TableRef => ({ schema: SCHEMA, name });

const connConfig = {
  host: url.hostname,
  port: Number(url.port || 5432),
  database: decodeURIComponent(url.pathname.slice(1)),
  user: decodeURIComponent(url.username),
  password: decodeURIComponent(url.password),
  tls: { enabled: false, rejectUnauthorized: true },
};

let admin: pg.Client;
let isPglite = false;
let db: PostgresSource;
const queries: QueryEvent[] = [];

async function exec(sql: string, values: unknown[] = []): Promise<void> {
  await admin.query(sql, values);
}

/** Reads a whole pass page by page, as a run and its continuations would. */
async function readPass(req: Omit<ChangeReadRequest, 'after' | 'limit'>, limit: number, after: CursorPosition | null = null): Promise<Row[]> {
  const out: Row[] = [];
  let position = after;
  for (let guard = 0; guard < 1000; guard++) {
    const page = await db.readChanges({ ...req, after: position, limit });
    expect(page.rows.length).toBeLessThanOrEqual(limit);
    out.push(...page.rows);
    if (page.next === null) return out;
    // a stored position goes through JSON between runs
    position = JSON.parse(JSON.stringify(page.next)) as CursorPosition;
  }
  throw new Error('pass did not finish');
}

const keyOf = (r: Row, key: string[]) => JSON.stringify(key.map((k) => r[k]));

beforeAll(async () => {
  admin = new pg.Client({ connectionString: url.toString() });
  await admin.connect();
  isPglite = /PGlite/i.test(String((await admin.query('SELECT version() AS v')).rows[0].v));
  await exec(`CREATE SCHEMA ${S}`);
  db = new PostgresSource(connConfig, { onQuery: (e) => queries.push(e), schemaCacheTtlMs: 60_000 });
});

afterAll(async () => {
  await db?.close();
  await exec(`DROP SCHEMA IF EXISTS ${S} CASCADE`);
  await admin?.end();
});

describe('PostgreSQL source: introspection', () => {
  beforeAll(async () => {
    await exec(`CREATE TYPE ${S}."Colour" AS ENUM ('red', 'green', 'blue violet')`);
    await exec(`CREATE TABLE ${S}."Order Lines" (
      "Order" int NOT NULL,
      "select" int NOT NULL,
      "Größe" varchar(50),
      "say ""hi""" text,
      c_bigint bigint,
      c_numeric numeric(12,2),
      c_real real,
      c_double double precision,
      c_money money,
      c_bool boolean,
      c_text text,
      c_varchar varchar(50),
      c_char char(3),
      c_date date,
      c_time time,
      c_ts timestamp,
      c_tstz timestamptz,
      c_uuid uuid,
      c_json json,
      c_jsonb jsonb,
      c_bytea bytea,
      c_serial serial,
      c_identity int GENERATED ALWAYS AS IDENTITY,
      c_generated numeric GENERATED ALWAYS AS (c_numeric * 2) STORED,
      colour ${S}."Colour" NOT NULL DEFAULT 'red',
      sku varchar(20) NOT NULL,
      PRIMARY KEY ("Order", "select"),
      CONSTRAINT "uq sku" UNIQUE (sku),
      CONSTRAINT uq_pair UNIQUE ("Größe", c_char)
    )`);
    await exec(`CREATE INDEX "idx ts" ON ${S}."Order Lines" (c_tstz DESC, c_ts) WHERE c_bool`);
    await exec(`CREATE VIEW ${S}."Open Orders" AS SELECT "Order", sku FROM ${S}."Order Lines"`);
  });

  it('lists the schema and its tables and views, with their kinds', async () => {
    expect(await db.listSchemas()).toContain(SCHEMA);
    expect(await db.listTables(SCHEMA)).toEqual(
      expect.arrayContaining([
        { schema: SCHEMA, name: 'Order Lines', kind: 'table' },
        { schema: SCHEMA, name: 'Open Orders', kind: 'view' },
      ]),
    );
  });

  it('describes a composite primary key, unique constraints and indexes with their column order', async () => {
    const s = await db.describeTable(T('Order Lines'));
    expect(s.kind).toBe('table');
    expect(s.primaryKey).toEqual(['Order', 'select']);
    expect(s.uniqueConstraints).toEqual(
      expect.arrayContaining([
        { name: 'uq sku', columns: ['sku'] },
        { name: 'uq_pair', columns: ['Größe', 'c_char'] },
      ]),
    );
    const idx = s.indexes.find((i) => i.name === 'idx ts');
    expect(idx).toMatchObject({ columns: ['c_tstz', 'c_ts'], unique: false, primary: false });
    expect(idx?.predicate).toMatch(/c_bool/);
    expect(s.indexes.find((i) => i.primary)?.columns).toEqual(['Order', 'select']);
  });

  it('normalises every common type with its length, precision, scale, nullability and defaults', async () => {
    const s = await db.describeTable(T('Order Lines'));
    const c = Object.fromEntries(s.columns.map((x) => [x.name, x]));
    expect(c['Order']).toMatchObject({ dataType: 'int', nullable: false, ordinal: 1 });
    expect(c['Größe']).toMatchObject({ dataType: 'text', maxLength: 50, nullable: true, nativeType: 'character varying(50)' });
    expect(c['say "hi"']).toMatchObject({ dataType: 'text', maxLength: null });
    expect(c['c_bigint']?.dataType).toBe('bigint');
    expect(c['c_numeric']).toMatchObject({ dataType: 'decimal', precision: 12, scale: 2 });
    expect(c['c_real']).toMatchObject({ dataType: 'float', precision: 24 });
    expect(c['c_double']).toMatchObject({ dataType: 'float', precision: 53 });
    expect(c['c_money']?.dataType).toBe('money');
    expect(c['c_bool']?.dataType).toBe('boolean');
    expect(c['c_char']).toMatchObject({ dataType: 'char', maxLength: 3 });
    expect(c['c_date']?.dataType).toBe('date');
    expect(c['c_time']?.dataType).toBe('time');
    expect(c['c_ts']?.dataType).toBe('timestamp');
    expect(c['c_tstz']?.dataType).toBe('timestamptz');
    expect(c['c_uuid']?.dataType).toBe('uuid');
    expect(c['c_json']?.dataType).toBe('json');
    expect(c['c_jsonb']?.dataType).toBe('json');
    expect(c['c_bytea']?.dataType).toBe('binary');
    expect(c['c_serial']).toMatchObject({ dataType: 'int', isIdentity: true, nullable: false });
    expect(c['c_serial']?.default).toMatch(/^nextval\(/);
    expect(c['c_identity']).toMatchObject({ isIdentity: true, isGenerated: false });
    expect(c['c_generated']).toMatchObject({ isGenerated: true, isIdentity: false, default: null });
    expect(c['colour']).toMatchObject({ dataType: 'enum', enumValues: ['red', 'green', 'blue violet'], nullable: false });
    expect(c['colour']?.default).toMatch(/red/);
    expect(s.columns.every((x) => !x.isRowVersion)).toBe(true);
  });

  it('describes a view as a view without a primary key', async () => {
    const v = await db.describeTable(T('Open Orders'));
    expect(v).toMatchObject({ kind: 'view', primaryKey: null });
    expect(v.columns.map((x) => x.name)).toEqual(['Order', 'sku']);
  });

  it('an unknown table is a config error, not a crash', async () => {
    await expect(db.describeTable(T('no such table'))).rejects.toMatchObject({ code: 'unknown_table', errorClass: 'config', status: 404 });
  });

  it('reads driver values that the type mapping turns into Graph field values', async () => {
    await exec(
      `INSERT INTO ${S}."Order Lines" ("Order", "select", "Größe", "say ""hi""", c_bigint, c_numeric, c_real, c_double, c_money, c_bool, c_text,
        c_varchar, c_char, c_date, c_time, c_ts, c_tstz, c_uuid, c_json, c_jsonb, c_bytea, colour, sku)
       VALUES (1, 2, 'groß', 'he said "hi"', 9007199254740993, 1234.50, 1.5, 2.25, 12.34, true, 'long text', 'short', 'ab',
        '2024-02-29', '13:14:15', '2024-03-01 10:00:00.123456', '2024-03-01 12:00:00+02', 'A0EEBC99-9C0B-4EF8-BB6D-6BB9BD380A11',
        '{"a": 1}', '{"b": [1, 2]}', '\\x0102', 'blue violet', 'SKU-1')`,
    );
    const schema = await db.describeTable(T('Order Lines'));
    const cols = schema.columns.map((c) => c.name);
    const [row] = await db.readByKeys(T('Order Lines'), cols, ['Order', 'select'], [[1, 2]]);
    expect(row).toBeDefined();
    const r = row as Row;
    expect(r['c_bigint']).toBe('9007199254740993'); // exact, as text
    expect(r['c_numeric']).toBe('1234.50');
    expect(r['c_money']).toBe('12.34'); // locale-free
    expect(r['c_date']).toBe('2024-02-29'); // no time-zone shift
    expect(r['c_ts']).toEqual(new Date('2024-03-01T10:00:00.123Z')); // zone-less read as UTC
    expect(r['c_tstz']).toEqual(new Date('2024-03-01T10:00:00Z'));
    expect(Buffer.isBuffer(r['c_bytea'])).toBe(true);

    const graph = Object.fromEntries(
      schema.columns
        .map((c) => [c, proposeColumn(c)] as const)
        .filter(([, p]) => p.supported)
        .map(([c, p]) => [c.name, toGraphValue(r[c.name], c, p)]),
    );
    expect(graph).toMatchObject({
      Order: 1,
      'Größe': 'groß',
      'say "hi"': 'he said "hi"',
      c_bigint: '9007199254740993',
      c_numeric: 1234.5,
      c_real: 1.5,
      c_double: 2.25,
      c_money: 12.34,
      c_bool: true,
      c_text: 'long text',
      c_varchar: 'short',
      c_char: 'ab',
      c_date: '2024-02-29',
      c_time: '13:14:15',
      c_ts: '2024-03-01T10:00:00Z',
      c_tstz: '2024-03-01T10:00:00Z',
      c_uuid: 'a0eebc99-9c0b-4ef8-bb6d-6bb9bd380a11',
      c_json: '{"a":1}',
      c_jsonb: '{"b":[1,2]}',
      colour: 'blue violet',
      c_generated: 2469,
    });
    expect(graph).not.toHaveProperty('c_bytea');
    expect(proposeColumn(schema.columns.find((c) => c.name === 'c_bytea')!).supported).toBe(false);
  });

  it('reads rows of a table whose every identifier needs quoting', async () => {
    const rows = await readPass(
      { table: T('Order Lines'), columns: ['Größe', 'say "hi"', 'colour'], key: ['Order', 'select'], cursor: { kind: 'full' }, highWater: null },
      10,
    );
    expect(rows).toEqual([{ Order: 1, select: 2, 'Größe': 'groß', 'say "hi"': 'he said "hi"', colour: 'blue violet' }]);
  });
});

describe('PostgreSQL source: change reads', () => {
  const events = T('Events');
  const key = ['tenant', 'id'];
  const base = { table: events, columns: ['payload', 'updated_at'], key };

  beforeAll(async () => {
    await exec(`CREATE TABLE ${S}."Events" (tenant text NOT NULL, id int NOT NULL, updated_at timestamptz, payload text, seq bigint, PRIMARY KEY (tenant, id))`);
  });
  beforeEach(async () => {
    await exec(`TRUNCATE ${S}."Events"`);
  });

  it('a pass over tied timestamps in small pages skips no row and repeats none (NULL cursors read first)', async () => {
    // 3 distinct instants (two of them a microsecond apart) shared by 24 rows, tenants that sort awkwardly, 3 NULL cursors
    const tenants = ["O'Brien", 'a', 'B', 'ä', 'Z z', '"q"'];
    const stamps = ['2024-01-01 10:00:00.123456+00', '2024-01-01 10:00:00.123457+00', '2024-01-01 11:00:00+00'];
    let n = 0;
    for (const t of tenants) for (let i = 0; i < 4; i++) await exec(`INSERT INTO ${S}."Events" VALUES ($1, $2, $3, $4)`, [t, i, stamps[n++ % 3], `p${n}`]);
    for (let i = 100; i < 103; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('nulls', $1, NULL, 'null cursor')`, [i]);

    const cursor = { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 0 };
    const highWater = await db.highWaterMark(events, cursor);
    expect(highWater).toBe('2024-01-01T11:00:00.000000Z'); // exact, zone-independent text
    for (const limit of [1, 2, 4, 5, 7]) {
      const rows = await readPass({ ...base, cursor, highWater }, limit);
      const keys = rows.map((r) => keyOf(r, key));
      expect(new Set(keys).size).toBe(keys.length); // none repeated
      expect(keys.length).toBe(27); // none skipped
      expect(rows.slice(0, 3).every((r) => r['updated_at'] === null)).toBe(true);
      const times = rows.slice(3).map((r) => (r['updated_at'] as Date).getTime());
      expect([...times].sort((a, b) => a - b)).toEqual(times); // ascending by cursor
    }
  });

  it('a row committed late with an older timestamp inside the look-back window is read by the next run', async () => {
    for (let i = 0; i < 5; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('t', $1, $2, 'early')`, [i, `2024-05-01 10:0${i}:00+00`]);
    const cursor = { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 120 };

    // A writer stamps its row 10:03:30 but commits only after run 1 has read. PGlite runs one
    // session at a time (an open transaction would block the reader), so there the row is
    // inserted after run 1 instead: to the reader both look the same.
    const late = new pg.Client({ connectionString: url.toString() });
    await late.connect();
    const lateRow = `INSERT INTO ${S}."Events" VALUES ('t', 99, '2024-05-01 10:03:30+00', 'late')`;
    try {
      if (!isPglite) {
        await late.query('BEGIN');
        await late.query(lateRow);
      }
      const hw1 = await db.highWaterMark(events, cursor);
      const run1 = await readPass({ ...base, cursor, highWater: hw1 }, 2);
      expect(run1.map((r) => r['id'])).toEqual([0, 1, 2, 3, 4]);
      const mark = positionAfterRun('timestamp', null, hw1);
      if (isPglite) await late.query(lateRow);
      else await late.query('COMMIT');

      // a row written after the run's start, but within it, waits for the next run (high-water bound)
      await exec(`INSERT INTO ${S}."Events" VALUES ('t', 5, '2024-05-01 10:05:00+00', 'new')`);
      const withinRun1 = await db.readChanges({ ...base, cursor, highWater: hw1, after: null, limit: 100 });
      expect(withinRun1.rows.map((r) => r['id'])).not.toContain(5);

      const hw2 = await db.highWaterMark(events, cursor);
      const run2 = await readPass({ ...base, cursor, highWater: hw2 }, 2, mark);
      const ids = run2.map((r) => r['id']);
      expect(ids).toContain(99); // the late row, inside the window
      expect(ids).toContain(5); // the new row
      expect(ids).not.toContain(0); // 10:00 is outside 10:04 − 120 s
      expect(new Set(ids).size).toBe(ids.length);

      // without a look-back window the late row would be lost: the reason the window exists
      const noLookback = await readPass({ ...base, cursor: { ...cursor, lookbackSeconds: 0 }, highWater: hw2 }, 10, mark);
      expect(noLookback.map((r) => r['id'])).not.toContain(99);
    } finally {
      await late.end();
    }
  });

  it('a bulk-loaded table whose rows share one timestamp is not re-read once the read time is past the window', async () => {
    // 30 rows stamped an hour ago, as a bulk load leaves them; a look-back of two minutes
    for (let i = 0; i < 30; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('bulk', $1, now() - interval '1 hour', 'loaded')`, [i]);
    const cursor = { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 120 };
    const visibleBefore1 = await db.visibleBefore(events, cursor);
    const hw1 = await db.highWaterMark(events, cursor);
    expect(await readPass({ ...base, cursor, highWater: hw1 }, 7)).toHaveLength(30);
    const mark = JSON.parse(JSON.stringify(positionAfterRun('timestamp', null, hw1, visibleBefore1))) as CursorPosition;

    // the next run: nothing changed, nothing read
    const hw2 = await db.highWaterMark(events, cursor);
    expect(await readPass({ ...base, cursor, highWater: hw2 }, 7, mark)).toHaveLength(0);

    // a new row is read, and only it
    await exec(`INSERT INTO ${S}."Events" VALUES ('bulk', 100, now(), 'new')`);
    const hw3 = await db.highWaterMark(events, cursor);
    expect((await readPass({ ...base, cursor, highWater: hw3 }, 7, mark)).map((r) => r['id'])).toEqual([100]);
  });

  it('a row committed late inside the window of the previous read time is still read', async () => {
    // rows stamped 30 s ago: the look-back (120 s) reaches past them, so the next run re-reads from the read time on
    for (let i = 0; i < 3; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('recent', $1, now() - interval '30 seconds', 'x')`, [i]);
    const cursor = { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 120 };
    const late = new pg.Client({ connectionString: url.toString() });
    await late.connect();
    const lateRow = `INSERT INTO ${S}."Events" VALUES ('recent', 99, now() - interval '40 seconds', 'late')`;
    try {
      if (!isPglite) {
        await late.query('BEGIN');
        await late.query(lateRow);
      }
      const visibleBefore1 = await db.visibleBefore(events, cursor);
      const hw1 = await db.highWaterMark(events, cursor);
      expect((await readPass({ ...base, cursor, highWater: hw1 }, 2)).map((r) => r['id'])).toEqual([0, 1, 2]);
      const mark = positionAfterRun('timestamp', null, hw1, visibleBefore1);
      if (isPglite) await late.query(lateRow);
      else await late.query('COMMIT');

      const hw2 = await db.highWaterMark(events, cursor);
      const ids = (await readPass({ ...base, cursor, highWater: hw2 }, 2, mark)).map((r) => r['id']);
      expect(ids).toContain(99);
    } finally {
      await late.end();
    }
  });

  it('a run that stops part-way continues from its position without re-reading or skipping', async () => {
    for (let i = 0; i < 10; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('t', $1, '2024-06-01 00:00:00+00', 'same instant')`, [i]);
    const cursor = { kind: 'timestamp' as const, column: 'updated_at', lookbackSeconds: 3600 };
    const hw = await db.highWaterMark(events, cursor);
    const first = await db.readChanges({ ...base, cursor, highWater: hw, after: null, limit: 4 });
    expect(first.next).toMatchObject({ at: 'row' });
    // the continuation run fixes a new high-water mark and starts from the stored position: no look-back loop
    const hw2 = await db.highWaterMark(events, cursor);
    const rest = await readPass({ ...base, cursor, highWater: hw2 }, 4, first.next);
    expect([...first.rows, ...rest].map((r) => r['id'])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
  });

  it('an integer cursor reads each new row once, ties included', async () => {
    const cursor = { kind: 'integer' as const, column: 'seq' };
    for (let i = 0; i < 9; i++) await exec(`INSERT INTO ${S}."Events" VALUES ('t', $1, NULL, 'x', $2)`, [i, Math.floor(i / 3)]);
    const hw1 = await db.highWaterMark(events, cursor);
    expect(hw1).toBe('2');
    const run1 = await readPass({ ...base, columns: ['seq'], cursor, highWater: hw1 }, 2);
    expect(run1.map((r) => r['id'])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8]);
    await exec(`INSERT INTO ${S}."Events" VALUES ('t', 9, NULL, 'x', 3), ('t', 10, NULL, 'x', 3)`);
    const hw2 = await db.highWaterMark(events, cursor);
    const run2 = await readPass({ ...base, columns: ['seq'], cursor, highWater: hw2 }, 1, positionAfterRun('integer', null, hw1));
    expect(run2.map((r) => r['id'])).toEqual([9, 10]);
    expect(run2[0]?.['seq']).toBe('3'); // int8 stays exact text
  });

  it('a full pass reads every row once in key order; the key stream yields only keys', async () => {
    const tenants = ['b', 'A', 'a', 'ß', 'é'];
    for (const t of tenants) for (let i = 0; i < 3; i++) await exec(`INSERT INTO ${S}."Events" VALUES ($1, $2, now(), 'x')`, [t, i]);
    const rows = await readPass({ ...base, cursor: { kind: 'full' }, highWater: null }, 4);
    expect(rows).toHaveLength(15);
    expect(new Set(rows.map((r) => keyOf(r, key))).size).toBe(15);

    const pages: Row[][] = [];
    for await (const page of db.streamKeys(events, key, 4)) pages.push(page);
    expect(pages.map((p) => p.length)).toEqual([4, 4, 4, 3]);
    expect(pages.flat().every((r) => Object.keys(r).sort().join() === 'id,tenant')).toBe(true);
    expect(pages.flat().map((r) => keyOf(r, key))).toEqual(rows.map((r) => keyOf(r, key)));
  });

  it('the key-set digest changes with every insert or delete of a key, and only with those', async () => {
    const empty = await db.keySetDigest(events, key);
    expect(empty).toBe('0:0:0');
    await exec(`INSERT INTO ${S}."Events" VALUES ('a', 1, now(), 'one'), ('a', 2, now(), 'two'), ('b', 1, now(), 'three')`);
    const three = await db.keySetDigest(events, key);
    expect(three).toMatch(/^3:-?\d+:-?\d+$/);
    // content and cursor changes leave the key set alone
    await exec(`UPDATE ${S}."Events" SET payload = 'changed', updated_at = now() + interval '1 day'`);
    expect(await db.keySetDigest(events, key)).toBe(three);
    // one key deleted and another inserted: the count stays, the digest does not
    await exec(`DELETE FROM ${S}."Events" WHERE tenant = 'a' AND id = 2`);
    await exec(`INSERT INTO ${S}."Events" VALUES ('a', 3, now(), 'three again')`);
    const swapped = await db.keySetDigest(events, key);
    expect(swapped.split(':')[0]).toBe('3');
    expect(swapped).not.toBe(three);
    // the composite key's columns are not concatenated ambiguously: ('a', 12) and ('a1', 2) differ
    await exec(`DELETE FROM ${S}."Events"`);
    await exec(`INSERT INTO ${S}."Events" VALUES ('a', 12, now(), 'x')`);
    const first = await db.keySetDigest(events, key);
    await exec(`DELETE FROM ${S}."Events"`);
    await exec(`INSERT INTO ${S}."Events" VALUES ('a1', 2, now(), 'x')`);
    expect(await db.keySetDigest(events, key)).not.toBe(first);
    // the same keys again give the same digest
    await exec(`DELETE FROM ${S}."Events"`);
    await exec(`INSERT INTO ${S}."Events" VALUES ('a', 12, now(), 'y')`);
    expect(await db.keySetDigest(events, key)).toBe(first);
    await expect(db.keySetDigest(events, ['nope'])).rejects.toThrow(/nope/);
  });

  it('re-reads failed rows by composite key, ignoring keys that no longer exist', async () => {
    await exec(`INSERT INTO ${S}."Events" VALUES ('a', 1, now(), 'one'), ('a', 2, now(), 'two'), ('b', 1, now(), 'three')`);
    const rows = await db.readByKeys(events, ['payload'], key, [
      ['a', 2],
      ['b', 1],
      ['zz', 9],
      ['a', null],
    ]);
    expect(rows.map((r) => r['payload']).sort()).toEqual(['three', 'two']);
  });

  it('refuses cursor kinds and columns that cannot work, naming the column', async () => {
    await expect(db.highWaterMark(events, { kind: 'rowversion', column: 'seq' })).rejects.toMatchObject({ code: 'cursor_kind_unsupported', errorClass: 'config' });
    await expect(db.highWaterMark(events, { kind: 'timestamp', column: 'payload' })).rejects.toMatchObject({ code: 'cursor_column_type' });
    await expect(db.readChanges({ ...base, cursor: { kind: 'timestamp', column: 'updated_at' }, after: { at: 'row', value: null, key: ['a', '1'] }, highWater: null, limit: 5 })).rejects.toMatchObject({
      code: 'cursor_position_invalid',
    });
  });
});

describe('PostgreSQL source: identifiers from requests never reach SQL unchecked', () => {
  const injections = [`Events"; DROP TABLE ${SCHEMA}."Events"; --`, 'x" OR "1"="1', "'; SELECT pg_sleep(10); --", 'payload"--'];

  beforeAll(async () => {
    await exec(`CREATE TABLE IF NOT EXISTS ${S}."Events" (tenant text NOT NULL, id int NOT NULL, updated_at timestamptz, payload text, seq bigint, PRIMARY KEY (tenant, id))`);
  });

  it.each(injections)('refuses %j as a table, schema or column name before any SQL is built from it', async (bad) => {
    queries.length = 0;
    await expect(db.describeTable({ schema: SCHEMA, name: bad })).rejects.toMatchObject({ code: 'unknown_table' });
    await expect(db.describeTable({ schema: bad, name: 'Events' })).rejects.toMatchObject({ code: 'unknown_table' });
    await expect(
      db.readChanges({ table: T('Events'), columns: [bad], key: ['tenant', 'id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 }),
    ).rejects.toMatchObject({ code: 'unknown_column', errorClass: 'config' });
    await expect(
      db.readChanges({ table: T('Events'), columns: ['payload'], key: ['tenant', 'id'], cursor: { kind: 'timestamp', column: bad }, after: null, highWater: null, limit: 5 }),
    ).rejects.toMatchObject({ code: 'unknown_column' });
    await expect(db.readByKeys(T('Events'), ['payload'], [bad], [['x']])).rejects.toMatchObject({ code: 'unknown_column' });
    // the names only ever travelled as bound parameters of catalog lookups
    expect(queries.every((q) => !q.sql.includes(bad))).toBe(true);
    const still = await admin.query(`SELECT to_regclass($1) AS t`, [`${S}."Events"`]);
    expect(still.rows[0].t).not.toBeNull();
  });

  it('a mis-cased column name is refused with a hint', async () => {
    const err = await db
      .readChanges({ table: T('Events'), columns: ['PAYLOAD'], key: ['tenant', 'id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 })
      .catch((e: unknown) => e);
    expect(isSyncError(err, 'unknown_column')).toBe(true);
    expect((err as Error).message).toMatch(/did you mean "payload"/);
  });
});

describe('PostgreSQL source: connections', () => {
  it('reports a healthy server with its version and an unreachable one without throwing', async () => {
    const ok = await db.health(5000);
    expect(ok).toMatchObject({ ok: true });
    expect(ok.serverVersion).toMatch(/PostgreSQL/);
    const dead = new PostgresSource({ ...connConfig, host: '127.0.0.1', port: 1 }, { connectTimeoutMs: 1000 });
    try {
      const bad = await dead.health(3000);
      expect(bad).toMatchObject({ ok: false });
      expect(bad.errorCode).toMatch(/source_unreachable|source_timeout/);
    } finally {
      await dead.close();
    }
  });

  it('a statement that runs past the timeout fails as transient, so the run is retried', async () => {
    await exec(`CREATE VIEW ${S}."Slow" AS SELECT 1 AS id, pg_sleep(1)::text AS s`);
    const impatient = new PostgresSource(connConfig, { statementTimeoutMs: 200 });
    try {
      // without the timeout the read would succeed after a second
      await expect(
        impatient.readChanges({ table: T('Slow'), columns: ['s'], key: ['id'], cursor: { kind: 'full' }, after: null, highWater: null, limit: 5 }),
      ).rejects.toMatchObject({ code: 'source_timeout', errorClass: 'transient' });
    } finally {
      await impatient.close();
    }
  });

  it('builds a pool from the connection record and its secret, and reuses it until the secret rotates', async () => {
    const env: NodeJS.ProcessEnv = { SECRET_IT_PG_PASSWORD: connConfig.password };
    const secrets = new EnvSecrets(env);
    const cache = new SourcePoolCache();
    const conn: SourceConnection = {
      id: 'it-pg',
      engine: 'postgres',
      host: connConfig.host,
      port: connConfig.port,
      database: connConfig.database,
      user: connConfig.user,
      secretRef: 'it-pg-password',
      tls: { enabled: false, rejectUnauthorized: true },
    };
    try {
      const a = await createSourceDatabase(conn, secrets, { cache });
      const b = await createSourceDatabase(conn, secrets, { cache });
      expect(b).toBe(a);
      expect((await a.health(5000)).ok).toBe(true);
      await secrets.set('it-pg-password', `${connConfig.password}`); // same value: same pool
      expect(await createSourceDatabase(conn, secrets, { cache })).toBe(a);
      await secrets.set('it-pg-password', 'rotated-password');
      const rotated = await createSourceDatabase(conn, secrets, { cache });
      expect(rotated).not.toBe(a); // a rotated secret gets a new pool (the old one is closed)
      const c = await createSourceDatabase({ ...conn, options: { poolMax: 2 } }, secrets, { cache });
      expect(c).not.toBe(rotated); // so does a changed record
      expect(cache.size).toBe(1);
    } finally {
      await cache.closeAll();
    }
  });

  it('a missing secret is a config error naming the reference', async () => {
    const conn: SourceConnection = { id: 'x', engine: 'postgres', host: 'h', database: 'd', user: 'u', secretRef: 'nope-secret' };
    await expect(createSourceDatabase(conn, new EnvSecrets({}), { cache: false })).rejects.toMatchObject({ code: 'secret_missing', errorClass: 'config' });
  });
});
