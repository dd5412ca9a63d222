import { randomBytes } from 'node:crypto';
import { mssqlConfig, SqlServerStateStore, type SqlParams, type SqlServerExecutor } from '../../../src/adapters/state/mssql-store';
import { SQLSERVER_MIGRATIONS } from '../../../src/adapters/state/migrations/sqlserver';
import { isSyncError } from '../../../src/core/errors';
import { runStateStoreContract } from './contract/index';

const url = process.env.MSSQL_TEST_URL;

if (url) {
  const schema = `st_${randomBytes(4).toString('hex')}`;
  runStateStoreContract('SQL Server', async () => {
    const open = () => new SqlServerStateStore({ url, schema, poolMax: 5 });
    return {
      store: open(),
      open,
      cleanup: async () => {
        const admin = new SqlServerStateStore({ url, schema, poolMax: 1 });
        await admin.dropSchema();
        await admin.close();
      },
    };
  });
} else {
  describe.skip('SQL Server state store contract (skipped: set MSSQL_TEST_URL to run it against a real SQL Server)', () => {
    it('runs the shared contract', () => undefined);
  });
}

interface Call {
  text: string;
  params: SqlParams;
  inTransaction: boolean;
}

/** Records every statement and answers from a script, so the SQL shape can be checked without a server. */
class RecordingExecutor implements SqlServerExecutor {
  calls: Call[] = [];
  constructor(private readonly answer: (text: string, params: SqlParams) => { recordset?: unknown[]; rowsAffected?: number } | Error = () => ({})) {}
  private run(text: string, params: SqlParams, inTransaction: boolean) {
    this.calls.push({ text, params, inTransaction });
    const a = this.answer(text, params);
    if (a instanceof Error) return Promise.reject(a);
    return Promise.resolve({ recordset: (a.recordset ?? []) as never[], rowsAffected: a.rowsAffected ?? 0 });
  }
  query = <R,>(text: string, params: SqlParams = {}) => this.run(text, params, false) as Promise<{ recordset: R[]; rowsAffected: number }>;
  transaction<T>(work: (q: SqlServerExecutor['query']) => Promise<T>): Promise<T> {
    return work(<R,>(text: string, params: SqlParams = {}) => this.run(text, params, true) as Promise<{ recordset: R[]; rowsAffected: number }>);
  }
  close = async () => undefined;
}

const sqlError = (number: number, message = 'boom') => Object.assign(new Error(message), { number });
const runRow = {
  run_id: 'r1',
  definition_id: 'd1',
  mode: 'incremental',
  run_trigger: 'schedule',
  status: 'running',
  source_id: null,
  started_at: new Date('2025-01-01T00:00:00.000Z'),
  finished_at: null,
  high_water: null,
  n_read: 0,
  n_created: 4,
  n_updated: 0,
  n_unchanged: 0,
  n_moved: 0,
  n_deleted: 0,
  n_failed: 0,
  batches_expected: 3,
  batches_settled: 2,
  error: null,
  run_plan: '{"a":1}',
  listed_at: new Date('2025-01-01T00:00:00.000Z'),
};

describe('SQL Server state store: statement shape (no server needed)', () => {
  it('migrations run in one transaction under an app lock, create the filtered unique reverse index and are recorded', async () => {
    const db = new RecordingExecutor((text) => (text.includes('sp_getapplock') ? { recordset: [{ result: 0 }] } : {}));
    await new SqlServerStateStore({ executor: db, schema: 'st' }).init();
    expect(db.calls.every((c) => c.inTransaction)).toBe(true);
    expect(db.calls[0]?.text).toMatch(/sp_getapplock/);
    const ddl = db.calls.map((c) => c.text).join('\n');
    expect(ddl).toMatch(/CREATE UNIQUE INDEX UX_ledger_item ON \[st\]\.ledger \(definition_id, list_id, item_id\) WHERE item_id IS NOT NULL/);
    expect(ddl).toMatch(/CONSTRAINT PK_ledger PRIMARY KEY \(definition_id, identity_hash\)/);
    const recorded = db.calls.filter((c) => c.text.startsWith('INSERT INTO [st].migrations'));
    expect(recorded.map((c) => c.params.version?.value)).toEqual(SQLSERVER_MIGRATIONS.map((m) => m.version));
  });

  it('init applies nothing when every migration is recorded, and refuses a newer schema', async () => {
    const current = new RecordingExecutor((text) =>
      text.includes('sp_getapplock') ? { recordset: [{ result: 0 }] } : text.startsWith('SELECT version') ? { recordset: SQLSERVER_MIGRATIONS.map((m) => ({ version: m.version })) } : {},
    );
    await new SqlServerStateStore({ executor: current, schema: 'st' }).init();
    expect(current.calls.some((c) => /CREATE TABLE \[st\]\.(?!migrations)/.test(c.text))).toBe(false);
    const newer = new RecordingExecutor((text) =>
      text.includes('sp_getapplock') ? { recordset: [{ result: 0 }] } : text.startsWith('SELECT version') ? { recordset: [{ version: Math.max(...SQLSERVER_MIGRATIONS.map((m) => m.version)) + 1 }] } : {},
    );
    await expect(new SqlServerStateStore({ executor: newer, schema: 'st' }).init()).rejects.toMatchObject({ code: 'state_schema_newer' });
  });

  it('the ledger statistics are updated once the store has written or removed enough ledger rows since the last update', async () => {
    const db = new RecordingExecutor();
    const store = new SqlServerStateStore({ executor: db, schema: 'st', statisticsRefreshRows: 3 });
    const e = (h: string) => ({ definitionId: 'd', identityHash: h, listId: 'l', itemId: h, contentHash: 'c', state: 'synced' as const });
    const refreshes = () => db.calls.filter((c) => c.text === 'UPDATE STATISTICS [st].ledger').length;
    await store.putLedger([e('a'), e('b')]);
    expect(refreshes()).toBe(0);
    await store.deleteLedger('d', ['a']);
    expect(refreshes()).toBe(1);
    await store.putLedger([e('c'), e('d')]);
    expect(refreshes()).toBe(1);
  });

  it('a ledger batch is one MERGE WITH (HOLDLOCK) whose rows travel as one JSON parameter, sorted, the later duplicate winning', async () => {
    const db = new RecordingExecutor();
    const e = (h: string, item: string | null) => ({ definitionId: 'd', identityHash: h, listId: 'l', itemId: item, contentHash: `c${item}`, state: 'synced' as const });
    await new SqlServerStateStore({ executor: db, schema: 'st' }).putLedger([e('b', '2'), e('a', '1'), e('b', '3')]);
    expect(db.calls).toHaveLength(1);
    const call = db.calls[0]!;
    expect(call.text).toMatch(/^MERGE \[st\]\.ledger WITH \(HOLDLOCK\) AS t/);
    expect(call.text).toMatch(/OPENJSON\(@batch\)/);
    expect(JSON.parse(String(call.params.batch?.value)).map((r: { h: string; i: string }) => [r.h, r.i])).toEqual([
      ['a', '1'],
      ['b', '3'],
    ]);
  });

  it('a page of 500 hashes is looked up in one round trip', async () => {
    const db = new RecordingExecutor(() => ({ recordset: [] }));
    await new SqlServerStateStore({ executor: db, schema: 'st' }).getLedger(
      'd',
      Array.from({ length: 500 }, (_, i) => `h${i}`),
    );
    expect(db.calls).toHaveLength(1);
    expect(db.calls[0]?.text).toMatch(/identity_hash IN \(SELECT h FROM OPENJSON\(@hashes\)/);
    expect(JSON.parse(String(db.calls[0]?.params.hashes?.value))).toHaveLength(500);
  });

  it('a progress increment is one atomic UPDATE … OUTPUT inserted.* and returns the run after it', async () => {
    const db = new RecordingExecutor(() => ({ recordset: [runRow], rowsAffected: 1 }));
    const run = await new SqlServerStateStore({ executor: db, schema: 'st' }).incrementRun('r1', { batchesSettled: 1, created: 2 });
    const text = db.calls[0]?.text ?? '';
    expect(text).toMatch(/batches_settled = batches_settled \+ @d_batchesSettled/);
    expect(text).toMatch(/OUTPUT inserted\.\* WHERE run_id = @runId/);
    expect(db.calls[0]?.params.d_created?.value).toBe(2);
    expect(run).toMatchObject({ runId: 'r1', batchesSettled: 2, counts: { created: 4 }, plan: { a: 1 } });
  });

  it('a keyed increment inserts its marker and increments in one transaction, and reports a repeat as not applied', async () => {
    let first = true;
    const db = new RecordingExecutor((text) => {
      if (text.includes('INSERT INTO [st].run_marks')) {
        const applied = first;
        first = false;
        return applied ? { recordset: [runRow], rowsAffected: 2 } : { recordset: [], rowsAffected: 0 };
      }
      return { recordset: [runRow] };
    });
    const store = new SqlServerStateStore({ executor: db, schema: 'st' });
    expect((await store.incrementRunOnce('r1', 'batch-1', { batchesSettled: 1 })).applied).toBe(true);
    expect(await store.incrementRunOnce('r1', 'batch-1', { batchesSettled: 1 })).toMatchObject({ applied: false, run: { runId: 'r1' } });
    const text = db.calls[0]?.text ?? '';
    expect(text).toMatch(/BEGIN TRANSACTION;[\s\S]*INSERT INTO \[st\]\.run_marks[\s\S]*WITH \(UPDLOCK, HOLDLOCK\)[\s\S]*IF @@ROWCOUNT = 1 UPDATE \[st\]\.runs[\s\S]*COMMIT TRANSACTION;/);
  });

  it('a lease is taken by one MERGE that replaces only an expired or own lease', async () => {
    let affected = 1;
    const db = new RecordingExecutor(() => ({ rowsAffected: affected }));
    const store = new SqlServerStateStore({ executor: db, schema: 'st' });
    expect(await store.acquireLease('run:d', 'me', 1000)).toBe(true);
    affected = 0;
    expect(await store.acquireLease('run:d', 'me', 1000)).toBe(false);
    expect(db.calls[0]?.text).toMatch(/MERGE \[st\]\.leases WITH \(HOLDLOCK\)/);
    expect(db.calls[0]?.text).toMatch(/WHEN MATCHED AND \(t\.expires_at < SYSUTCDATETIME\(\) OR t\.holder = @holder\)/);
  });

  it('a reconcile count is compared and set in its own table, from none counted by one MERGE that adds no second row', async () => {
    const db = new RecordingExecutor(() => ({ rowsAffected: 1 }));
    const store = new SqlServerStateStore({ executor: db, schema: 'st' });
    expect(await store.casReconcilePasses('d', 0, 1)).toBe(true);
    expect(await store.casReconcilePasses('d', 1, 2)).toBe(true);
    expect(db.calls[0]?.text).toMatch(/^MERGE \[st\]\.reconcile_passes WITH \(HOLDLOCK\)[\s\S]*WHEN MATCHED AND t\.passes IS NULL[\s\S]*WHEN NOT MATCHED THEN INSERT/);
    expect(db.calls[1]?.text).toMatch(/^UPDATE \[st\]\.reconcile_passes SET passes = @value, .* WHERE definition_id = @definitionId AND passes = @expected$/);
    expect(db.calls[1]?.params.expected?.value).toBe(1);
  });

  it('duplicate keys become state_conflict, deadlocks are retried, login failures are config errors', async () => {
    let deadlocks = 2;
    const db = new RecordingExecutor((text) => {
      if (text.startsWith('MERGE [st].ledger')) return sqlError(2601, "Cannot insert duplicate key row in object 'st.ledger' with unique index 'UX_ledger_item'.");
      if (text.startsWith('INSERT INTO [st].definitions')) return sqlError(2627);
      if (text.startsWith('UPDATE [st].runs')) return deadlocks-- > 0 ? sqlError(1205) : { recordset: [runRow], rowsAffected: 1 };
      return Object.assign(new Error('Login failed'), { code: 'ELOGIN' });
    });
    const store = new SqlServerStateStore({ executor: db, schema: 'st' });
    const caught = await store.putLedger([{ definitionId: 'd', identityHash: 'h', listId: 'l', itemId: '1', contentHash: 'c', state: 'synced' }]).catch((e: unknown) => e);
    expect(isSyncError(caught, 'state_conflict')).toBe(true);
    expect((caught as Error).message).toMatch(/already claimed by another identity/);
    const dup = await store
      .putDefinition({ definition: { id: 'd' } as never, mappingVersion: 1, activeSourceId: 's' }, { mustNotExist: true })
      .catch((e: unknown) => e);
    expect(isSyncError(dup, 'state_conflict')).toBe(true);
    expect((await store.incrementRun('r1', { read: 1 })).runId).toBe('r1');
    const login = await store.ping().catch((e: unknown) => e);
    expect(isSyncError(login, 'state_store_config')).toBe(true);
  });

  it('ids never appear in SQL text: every value is a parameter', async () => {
    const evil = "x'; DROP TABLE users; --";
    const db = new RecordingExecutor(() => ({ recordset: [] }));
    const store = new SqlServerStateStore({ executor: db, schema: 'st' });
    await store.getLedger(evil, [evil]);
    await store.getLedgerByItem(evil, evil, evil);
    await store.acquireLease(evil, evil, 1000);
    await store.casLastSlot(evil, evil, evil);
    await store.getReconcilePasses(evil);
    await store.casReconcilePasses(evil, 0, 1);
    await store.getCursor(evil, evil);
    await store.listRuns(evil);
    expect(db.calls.some((c) => c.text.includes('DROP TABLE users'))).toBe(false);
  });

  it('an mssql:// URL becomes driver settings, with encryption on unless switched off', () => {
    expect(mssqlConfig('mssql://sync:p%40ss@db.example:1444/state?trustServerCertificate=true', 4)).toMatchObject({
      server: 'db.example',
      port: 1444,
      user: 'sync',
      password: 'p@ss',
      database: 'state',
      options: { encrypt: true, trustServerCertificate: true },
      pool: { max: 4 },
    });
    expect(mssqlConfig('Server=db;Database=state;User Id=sync;Password=x')).toBe('Server=db;Database=state;User Id=sync;Password=x');
  });
});
