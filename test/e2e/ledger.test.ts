import { mapRow, type ResolvedMapping } from '../../src/core/mapping';
import type { WriteBatchMessage } from '../../src/core/messages';
import { SYNC_KEY_COLUMN } from '../../src/core/ports/list-target';
import { emptyRunCounts, type LedgerEntry } from '../../src/core/ports/state';
import { handleWriteBatch } from '../../src/sync/write-batch';
import { assertInvariant } from '../support/invariant';
import { startStack, type Stack } from '../support/stack';

/**
 * The ledger's correctness under half-done work and races (issue 10, findings 4 and 5), on one
 * local host stack: each test puts the ledger and SharePoint in the state a crash or an
 * interleaving leaves, lets the pipeline go on, and checks the items from the emulator's side.
 */
let stack: Stack;
beforeAll(async () => {
  stack = await startStack();
}, 60_000);
afterAll(() => stack?.stop());

/**
 * The three paths that used to leave a duplicate item (issue 10, finding 5). Each test puts the
 * ledger and SharePoint in the state a crash leaves at a step boundary, changes the row as a
 * user would, runs, and counts the items that carry the row's SyncKey across every list.
 */
describe('no duplicate item survives a half-done create or move (local host stack)', () => {
  let n = 0;

  const LISTS = { EU: 'Europe', APAC: 'Asia', US: 'Rest' } as const;

  async function scenario(deletes: 'softDelete' | 'reconcile' | 'none' = 'none') {
    const k = ++n;
    const id = `dup${k}`;
    const table = `"${stack.schema}".dup_${k}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL, is_deleted boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, region) VALUES (1, 'Row 1', 'US'), (2, 'Row 2', 'EU'), (3, 'Row 3', 'APAC')`);
    const listName = (region: keyof typeof LISTS) => `D${k} ${LISTS[region]}`;
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `dup_${k}` },
      title: 'name',
      fields: [{ source: 'region' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: {
        strategy: 'rules',
        rules: [
          { when: { column: 'region', op: 'eq', value: 'EU' }, list: listName('EU') },
          { when: { column: 'region', op: 'eq', value: 'APAC' }, list: listName('APAC') },
        ],
        default: listName('US'),
      },
      deletes: deletes === 'softDelete' ? { mode: 'softDelete', column: 'is_deleted', value: true } : deletes === 'reconcile' ? { mode: 'reconcile', everyRuns: 1 } : { mode: 'none' },
    });
    expect((await stack.run(id)).status).toBe('succeeded');
    const lists = (await stack.state.getDefinition(id))!.lists!;
    const listId = (region: keyof typeof LISTS) => lists[listName(region)]!;
    const syncKey = String(stack.items().find((i) => i.list === listName('US') && i.fields.Title === 'Row 1')!.fields[SYNC_KEY_COLUMN]);
    const entry = async () => (await stack.state.getLedger(id, [syncKey])).get(syncKey)!;
    // Only this definition's lists: other scenarios' rows share the key value and so the SyncKey.
    const itemsOfRow = () => stack.items().filter((i) => i.list.startsWith(`D${k} `) && i.fields[SYNC_KEY_COLUMN] === syncKey);
    const setRow = (assignment: string) => stack.pg.query(`UPDATE ${table} SET ${assignment}, updated_at = clock_timestamp() WHERE id = 1`);
    return { id, table, listId, listName, syncKey, entry, itemsOfRow, setRow };
  }

  /** Row 1's state after a crash at `move:after-swap` of a move Rest → Europe: a new item in Europe, the ledger `moving` with the old item in `movedFrom`. */
  async function halfDoneMoveToEurope(s: Awaited<ReturnType<typeof scenario>>): Promise<LedgerEntry> {
    const old = await s.entry();
    const target = await stack.deps.target('sp');
    const [made] = await target.writeItems(stack.siteId, s.listId('EU'), [{ opId: s.syncKey, kind: 'create', fields: { Title: 'Row 1', region: 'EU', [SYNC_KEY_COLUMN]: s.syncKey } }]);
    if (!made?.ok) throw new Error(`setup create failed: ${JSON.stringify(made)}`);
    const moving: LedgerEntry = { ...old, listId: s.listId('EU'), itemId: made.itemId, state: 'moving', movedFrom: { listId: old.listId, itemId: old.itemId! } };
    await stack.state.putLedger([moving]);
    expect(s.itemsOfRow()).toHaveLength(2);
    return moving;
  }

  it('5a: a pending create re-planned into the row\'s new shard list removes the item the earlier attempt made in the old list', async () => {
    const s = await scenario();
    // A crash after Graph created the item and before the ledger recorded it: the entry is still pending.
    const synced = await s.entry();
    await stack.state.putLedger([{ ...synced, itemId: null, state: 'pending' }]);
    await s.setRow(`region = 'EU'`);
    await stack.run(s.id);
    expect(s.itemsOfRow().map((i) => i.list)).toEqual([s.listName('EU')]);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('5b: a soft delete of a row whose move is half done deletes the old item too', async () => {
    const s = await scenario('softDelete');
    await halfDoneMoveToEurope(s);
    await s.setRow('is_deleted = true');
    await stack.run(s.id);
    expect(s.itemsOfRow()).toEqual([]);
    expect(await stack.state.getLedger(s.id, [s.syncKey])).toEqual(new Map());
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table} WHERE NOT is_deleted`);
  }, 60_000);

  it('5b: reconcile of a deleted row whose move is half done deletes the old item too', async () => {
    const s = await scenario('reconcile');
    await halfDoneMoveToEurope(s);
    await stack.pg.query(`DELETE FROM ${s.table} WHERE id = 1`);
    await stack.run(s.id, 'full');
    expect(s.itemsOfRow()).toEqual([]);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('5c: a second shard change while a move is half done leaves neither the original nor the intermediate item', async () => {
    const s = await scenario();
    await halfDoneMoveToEurope(s);
    await s.setRow(`region = 'APAC'`);
    await stack.run(s.id);
    expect(s.itemsOfRow().map((i) => i.list)).toEqual([s.listName('APAC')]);
    expect(await s.entry()).toMatchObject({ listId: s.listId('APAC'), state: 'synced', movedFrom: null });
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);
});

/**
 * Two write batches for one row at once (issue 10, finding 4): a superseded planner's batch, a
 * run whose lease expired. Whatever order their Graph writes and ledger writes land in, an
 * older batch never overwrites a newer one, and SharePoint never ends up holding older content
 * than the ledger claims without the next run rewriting it.
 */
describe('overlapping batches for one row (local host stack)', () => {
  let n = 0;

  async function scenario(deletes: 'reconcile' | 'none' = 'none') {
    const k = ++n;
    const id = `race${k}`;
    const table = `"${stack.schema}".race_${k}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, qty) VALUES (1, 'Row 1', 1)`);
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `race_${k}` },
      title: 'name',
      fields: [{ source: 'qty' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: { strategy: 'none', list: `Race ${k}` },
      deletes: deletes === 'reconcile' ? { mode: 'reconcile', everyRuns: 1 } : { mode: 'none' },
    });
    expect((await stack.run(id)).status).toBe('succeeded');
    const stored = (await stack.state.getDefinition(id))!;
    const listId = stored.lists![`Race ${k}`]!;
    const mapping = stored.mapping as ResolvedMapping;
    const item = () => stack.items().find((i) => i.list === `Race ${k}`)!;

    /** A running run started at `startedAt`, with one write batch updating row 1 to `qty`. */
    async function batchOf(runId: string, startedAt: string, qty: number): Promise<WriteBatchMessage> {
      await stack.state.createRun({ runId, definitionId: id, mode: 'incremental', trigger: 'manual', status: 'running', startedAt, counts: emptyRunCounts(), batchesExpected: 1, batchesSettled: 0 });
      const row = mapRow({ id: 1, name: 'Row 1', qty }, mapping);
      const entry = (await stack.state.getLedger(id, [row.identity])).get(row.identity)!;
      return { definitionId: id, runId, batchId: `${runId}:w0`, siteId: stack.siteId, listId, ops: [{ identityHash: row.identity, kind: 'update', itemId: entry.itemId!, fields: row.fields, contentHash: row.contentHash, key: row.key }] };
    }
    /**
     * A running run started at `startedAt`, with one write batch creating row `key` (already in
     * the table). That run read the row, so it saw it in the source's key set, and the reconcile
     * mark (if any) says so.
     */
    async function createBatchOf(runId: string, startedAt: string, key: number): Promise<WriteBatchMessage> {
      await stack.state.createRun({ runId, definitionId: id, mode: 'incremental', trigger: 'manual', status: 'running', startedAt, counts: emptyRunCounts(), batchesExpected: 1, batchesSettled: 0 });
      const mark = await stack.state.getReconcileMark(id);
      if (mark) await stack.state.putReconcileMark(id, { ...mark, digest: await (await stack.deps.source('pg')).keySetDigest({ schema: stack.schema, name: `race_${k}` }, mark.key) });
      const row = mapRow({ id: key, name: `Row ${key}`, qty: key }, mapping);
      return { definitionId: id, runId, batchId: `${runId}:w0`, siteId: stack.siteId, listId, ops: [{ identityHash: row.identity, kind: 'create', fields: row.fields, contentHash: row.contentHash, key: row.key }] };
    }
    return { id, table, item, batchOf, createBatchOf };
  }

  // Both runs start after the scenario's first run, the older one first.
  const earlier = () => new Date(Date.now() + 1_000).toISOString();
  const later = () => new Date(Date.now() + 2_000).toISOString();

  it('an older batch arriving after a newer one writes nothing', async () => {
    const s = await scenario();
    await stack.pg.query(`UPDATE ${s.table} SET qty = 3, updated_at = clock_timestamp()`);
    const older = await s.batchOf(`${s.id}-old`, earlier(), 2);
    const newer = await s.batchOf(`${s.id}-new`, later(), 3);
    await handleWriteBatch(stack.deps, newer);
    await handleWriteBatch(stack.deps, older);
    expect(s.item().fields.qty).toBe(3);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('when the older batch reaches SharePoint last but the ledger first, the next run rewrites the item', async () => {
    const s = await scenario();
    await stack.pg.query(`UPDATE ${s.table} SET qty = 3, updated_at = clock_timestamp()`);
    const older = await s.batchOf(`${s.id}-old`, earlier(), 2);
    const newer = await s.batchOf(`${s.id}-new`, later(), 3);
    // The newer batch writes SharePoint, then stalls before its ledger write ...
    let resume!: () => void;
    const stalled = new Promise<void>((resolve) => (resume = resolve));
    let reachedGraph!: () => void;
    const wroteGraph = new Promise<void>((resolve) => (reachedGraph = resolve));
    const newerDone = handleWriteBatch({ ...stack.deps, faultPoint: async (p) => (p === 'write:after-graph' ? (reachedGraph(), stalled) : undefined) }, newer);
    await wroteGraph;
    // ... while the older batch writes SharePoint and the ledger in full.
    await handleWriteBatch(stack.deps, older);
    resume();
    await newerDone;
    // SharePoint holds the older content now; the ledger must not claim the newer one.
    expect(s.item().fields.qty).toBe(2);
    // The next run starts after both (their start times were set a little ahead).
    await new Promise((resolve) => setTimeout(resolve, 2_500));
    await stack.run(s.id);
    expect(s.item().fields.qty).toBe(3);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('two deliveries of one create whose ledger writes interleave leave the ledger pointing at the item (chaos seed 7009)', async () => {
    const s = await scenario('reconcile');
    await stack.pg.query(`INSERT INTO ${s.table} (id, name, qty) VALUES (2, 'Row 2', 2)`);
    const msg = await s.createBatchOf(`${s.id}-dup`, earlier(), 2);
    const stallAfterPending = () => {
      let resume!: () => void;
      const stalled = new Promise<void>((resolve) => (resume = resolve));
      let reached!: () => void;
      const reachedPending = new Promise<void>((resolve) => (reached = resolve));
      const faultPoint = async (p: string) => (p === 'write:after-pending' ? (reached(), stalled) : undefined);
      return { faultPoint, resume, reachedPending };
    };
    // Delivery A writes `pending` and stalls; delivery B (the duplicate) reads A's entry and writes `pending` over it, then stalls.
    const a = stallAfterPending();
    const first = handleWriteBatch({ ...stack.deps, faultPoint: a.faultPoint }, msg);
    await a.reachedPending;
    const b = stallAfterPending();
    const second = handleWriteBatch({ ...stack.deps, faultPoint: b.faultPoint }, msg);
    await b.reachedPending;
    // A creates the item, and its `synced` write loses to B's `pending`; then B adopts the item, and its write loses to A's.
    a.resume();
    await first;
    b.resume();
    await second;
    const rowTwo = stack.items().filter((i) => i.fields.Title === 'Row 2' && i.list === s.item().list);
    expect(rowTwo).toHaveLength(1);
    const entry = (await stack.state.getLedger(s.id, [msg.ops[0]!.identityHash])).get(msg.ops[0]!.identityHash);
    expect(entry).toMatchObject({ itemId: rowTwo[0]!.id, state: 'synced' });
    // Once the row is gone, reconcile finds the entry and deletes its item: no orphan is left.
    await stack.pg.query(`DELETE FROM ${s.table} WHERE id = 2`);
    await new Promise((resolve) => setTimeout(resolve, 1_500));
    expect((await stack.run(s.id)).status).toBe('succeeded');
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);
});
