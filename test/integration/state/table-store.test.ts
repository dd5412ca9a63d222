import { randomBytes } from 'node:crypto';
import { odata, TableClient } from '@azure/data-tables';
import { isSyncError } from '../../../src/core/errors';
import type { RunRecord } from '../../../src/core/ports/state';
import { TableStateStore } from '../../../src/adapters/state/table-store';
import { decodeKey, encodeKey } from '../../../src/adapters/state/table/keys';
import { runStateStoreContract } from './contract/index';

const connectionString = process.env.TEST_STORAGE_CONNECTION ?? '';
const prefix = `st${randomBytes(4).toString('hex')}`;
let opened: TableStateStore[] = [];

runStateStoreContract('Azure Table Storage (Azurite)', async () => {
  const open = () => {
    const s = new TableStateStore({ connectionString, tablePrefix: prefix });
    opened.push(s);
    return s;
  };
  return {
    store: open(),
    open,
    cleanup: async () => {
      await opened[0]?.dropAll();
      opened = [];
    },
  };
});

const runningRun = (runId: string, definitionId: string, extra: Partial<RunRecord>): RunRecord => ({
  runId,
  definitionId,
  mode: 'incremental',
  trigger: 'manual',
  status: 'running',
  startedAt: new Date().toISOString(),
  counts: { read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 },
  batchesExpected: 0,
  batchesSettled: 0,
  ...extra,
});

describe('Table Storage specifics', () => {
  const store = new TableStateStore({ connectionString, tablePrefix: `${prefix}x` });
  beforeAll(() => store.init());
  afterAll(() => store.dropAll());

  it('contention on a run row that outlasts the retries is transient (state_unavailable), never a config-class state_conflict', async () => {
    const impatient = new TableStateStore({ connectionString, tablePrefix: `${prefix}x`, counterDeadlineMs: 0 });
    const runId = `run-${randomBytes(4).toString('hex')}`;
    await store.createRun(runningRun(runId, 'def-hot', { mode: 'incremental', trigger: 'schedule' }));
    const outcomes = await Promise.allSettled(
      Array.from({ length: 24 }, (_, i) => (i % 2 ? impatient.incrementRun(runId, { batchesSettled: 1 }) : impatient.incrementRunOnce(runId, `batch-${i}`, { batchesSettled: 1 }))),
    );
    const errors = outcomes.flatMap((o) => (o.status === 'rejected' ? [o.reason] : []));
    expect(errors.length).toBeGreaterThan(0); // 24 writers on one row with no time to retry: some lose
    for (const error of errors) {
      expect(isSyncError(error, 'state_unavailable')).toBe(true);
      expect((error as { transient: boolean }).transient).toBe(true);
    }
  });

  it('key escaping is reversible and leaves no character Table Storage forbids', () => {
    for (const raw of ['a/b\\c#d?e', 'x_y~z', '\u0000\u001f\u007f\u009f', 'plain-Id.1', 'ä€😀', '~41']) {
      const key = encodeKey(raw);
      expect(key).not.toMatch(/[/\\#?_\u0000-\u001f\u007f-\u009f]/);
      expect(decodeKey(key)).toBe(raw);
    }
  });

  it('a run plan too large for one entity is refused with a clear error before any write', async () => {
    const runId = `run-${randomBytes(4).toString('hex')}`;
    const plan = { writes: 'z'.repeat(600_000) };
    let caught: unknown;
    try {
      await store.createRun(runningRun(runId, 'def-big', { mode: 'dryRun', trigger: 'manual', plan }));
    } catch (error) {
      caught = error;
    }
    expect(isSyncError(caught, 'state_record_too_large')).toBe(true);
    expect((caught as Error).message).toMatch(/run '.*' is \d+ characters/);
    expect(await store.getRun(runId)).toBeNull();
  });

  it('a tombstone left by a crash in the middle of a delete is invisible and is overwritten by a later write', async () => {
    const ledger = TableClient.fromConnectionString(connectionString, `${prefix}xLedger`, { allowInsecureConnection: true });
    const def = 'def-tomb';
    const hash = 'abc123';
    await ledger.createEntity({ partitionKey: encodeKey(def), rowKey: `k_${encodeKey(hash)}`, identityHash: hash, tombstone: true });
    expect((await store.getLedger(def, [hash])).size).toBe(0);
    const scanned: string[] = [];
    for await (const page of store.scanLedger(def)) scanned.push(...page.map((e) => e.identityHash));
    expect(scanned).toEqual([]);
    await store.putLedger([{ definitionId: def, identityHash: hash, listId: 'l', itemId: '9', contentHash: 'c', state: 'synced' }]);
    expect(await store.getLedgerByItem(def, 'l', '9')).toMatchObject({ identityHash: hash });
    await store.deleteLedger(def, [hash]);
    expect(await store.getLedgerByItem(def, 'l', '9')).toBeNull();
    const left: unknown[] = [];
    for await (const row of ledger.listEntities({ queryOptions: { filter: odata`PartitionKey eq ${encodeKey(def)}` } })) left.push(row);
    expect(left).toEqual([]);
  });

  it('OR-filter lookups find the same entries as point reads', async () => {
    const filterStore = new TableStateStore({ connectionString, tablePrefix: `${prefix}x`, lookup: 'filter' });
    const def = 'def-filter';
    const entries = Array.from({ length: 40 }, (_, i) => ({ definitionId: def, identityHash: `h${i}`, listId: 'l', itemId: String(i), contentHash: 'c', state: 'synced' as const }));
    await store.putLedger(entries);
    const hashes = [...entries.map((e) => e.identityHash), 'nope', "it's"];
    const a = await store.getLedger(def, hashes);
    const b = await filterStore.getLedger(def, hashes);
    expect([...b.keys()].sort()).toEqual([...a.keys()].sort());
    expect(b.size).toBe(40);
  });

  it('reconcile counts kept by earlier builds as reconcile~ schedule slots are carried over at init', async () => {
    const legacyPrefix = `${prefix}l`;
    const schedule = TableClient.fromConnectionString(connectionString, `${legacyPrefix}Schedule`, { allowInsecureConnection: true });
    await schedule.createTable();
    const def = 'def/legacy#1';
    await schedule.createEntity({ partitionKey: encodeKey(`reconcile~${def}`), rowKey: '', lastSlot: '2', updatedAt: new Date().toISOString() });
    await schedule.createEntity({ partitionKey: encodeKey(def), rowKey: '', lastSlot: '2025-01-01T00:00:00.000Z', updatedAt: new Date().toISOString() });
    const legacy = new TableStateStore({ connectionString, tablePrefix: legacyPrefix });
    try {
      await Promise.all([legacy.init(), legacy.init()]);
      expect(await legacy.getReconcilePasses(def)).toBe(2);
      expect(await legacy.getLastSlot(def)).toBe('2025-01-01T00:00:00.000Z');
      expect(await legacy.getLastSlot(`reconcile~${def}`)).toBeNull();
      expect(await legacy.casReconcilePasses(def, 2, 3)).toBe(true);
      await legacy.init();
      expect(await legacy.getReconcilePasses(def)).toBe(3);
    } finally {
      await legacy.dropAll();
    }
  });
});
