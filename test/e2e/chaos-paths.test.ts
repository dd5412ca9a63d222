import { mapRow, type ResolvedMapping } from '../../src/core/mapping';
import type { MoveBatchMessage } from '../../src/core/messages';
import { SYNC_KEY_COLUMN } from '../../src/core/ports/list-target';
import { emptyRunCounts, type LedgerEntry } from '../../src/core/ports/state';
import type { FaultPoint } from '../../src/sync/deps';
import { handleMoveBatch } from '../../src/sync/move-batch';
import { stopRun } from '../../src/sync/run-lifecycle';
import { startChaosStack, type ChaosStore } from '../chaos/stores';
import { assertInvariant } from '../support/invariant';
import type { Stack } from '../support/stack';

/**
 * The last duplicate and orphan paths the chaos suite found (issue 10), each pinned with the
 * interleaving or the state a crash leaves, on a local host stack per state store: real
 * PostgreSQL or Azurite tables for the ledger, the Graph emulator for SharePoint.
 */
describe.each<ChaosStore>(['table', 'postgres'])('moves and orphans under duplicate delivery and lost batches (local host stack, %s state store)', (store) => {
  let stack: Stack;
  beforeAll(async () => {
    stack = await startChaosStack(store);
  }, 60_000);
  afterAll(() => stack?.stop());

  let n = 0;
  const LISTS = { EU: 'Europe', US: 'Rest' } as const;

  async function scenario(deletes: 'reconcile' | 'softDelete' | 'none' = 'none') {
    const k = ++n;
    const id = `cp${k}`;
    const table = `"${stack.schema}".cp_${k}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL, is_deleted boolean NOT NULL DEFAULT false, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, region) VALUES (1, 'Row 1', 'US'), (2, 'Row 2', 'EU')`);
    const listName = (region: keyof typeof LISTS) => `P${k} ${LISTS[region]}`;
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `cp_${k}` },
      title: 'name',
      fields: [{ source: 'region' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: { strategy: 'rules', rules: [{ when: { column: 'region', op: 'eq', value: 'EU' }, list: listName('EU') }], default: listName('US') },
      deletes: deletes === 'reconcile' ? { mode: 'reconcile', everyRuns: 1 } : deletes === 'softDelete' ? { mode: 'softDelete', column: 'is_deleted', value: true } : { mode: 'none' },
    });
    expect((await stack.run(id)).status).toBe('succeeded');
    const stored = (await stack.state.getDefinition(id))!;
    const listId = (region: keyof typeof LISTS) => stored.lists![listName(region)]!;
    const mapping = stored.mapping as ResolvedMapping;
    const identityOf = (key: number) => mapRow({ id: key, name: `Row ${key}`, region: 'US' }, mapping).identity;
    const entry = async (key = 1) => (await stack.state.getLedger(id, [identityOf(key)])).get(identityOf(key));
    // Only this definition's lists: other scenarios' rows share key values and so SyncKeys.
    const itemsOf = (key = 1) => stack.items().filter((i) => i.list.startsWith(`P${k} `) && i.fields[SYNC_KEY_COLUMN] === identityOf(key));
    return { id, table, listId, listName, mapping, identityOf, entry, itemsOf };
  }

  /** Row 1 now in region EU, and the move batch a run started now would send for it (Rest → Europe). */
  async function moveBatchToEurope(s: Awaited<ReturnType<typeof scenario>>): Promise<MoveBatchMessage> {
    await stack.pg.query(`UPDATE ${s.table} SET region = 'EU', updated_at = clock_timestamp() WHERE id = 1`);
    const runId = `${s.id}-move`;
    await stack.state.createRun({ runId, definitionId: s.id, mode: 'incremental', trigger: 'manual', status: 'running', startedAt: new Date().toISOString(), counts: emptyRunCounts(), batchesExpected: 1, batchesSettled: 0 });
    const row = mapRow({ id: 1, name: 'Row 1', region: 'EU' }, s.mapping);
    const before = (await s.entry())!;
    return {
      definitionId: s.id,
      runId,
      batchId: `${runId}:m0`,
      siteId: stack.siteId,
      moves: [{ identityHash: row.identity, from: { listId: before.listId, itemId: before.itemId! }, toListId: s.listId('EU'), fields: row.fields, contentHash: row.contentHash, key: row.key }],
    };
  }

  /** A delivery that stops at each of `points` in turn until resumed, as a slow worker would. */
  function stallAt(...points: FaultPoint[]) {
    const gates = points.map(() => {
      let resume!: () => void;
      const stalled = new Promise<void>((r) => (resume = r));
      let reached!: () => void;
      const there = new Promise<void>((r) => (reached = r));
      return { resume, stalled, there, reached };
    });
    const faultPoint = async (p: FaultPoint) => {
      const i = points.indexOf(p);
      if (i < 0) return;
      gates[i]!.reached();
      await gates[i]!.stalled;
    };
    return { faultPoint, at: (p: FaultPoint) => gates[points.indexOf(p)]!.there, resume: (p: FaultPoint) => gates[points.indexOf(p)]!.resume() };
  }

  async function expectMoveDone(s: Awaited<ReturnType<typeof scenario>>) {
    expect(s.itemsOf().map((i) => i.list)).toEqual([s.listName('EU')]);
    const entry = await s.entry();
    expect(entry).toMatchObject({ listId: s.listId('EU'), itemId: s.itemsOf()[0]!.id, state: 'synced', movedFrom: null });
  }

  it('two deliveries of one move batch that both create, then swap in turn, end with the row once in its new list and its entry synced (chaos seed 11019)', async () => {
    const s = await scenario();
    const msg = await moveBatchToEurope(s);
    // Both deliveries read the ledger and create (the second adopts the first's item by SyncKey) ...
    const a = stallAt('move:after-create', 'move:after-swap');
    const first = handleMoveBatch({ ...stack.deps, faultPoint: a.faultPoint }, msg);
    await a.at('move:after-create');
    const b = stallAt('move:after-create');
    const second = handleMoveBatch({ ...stack.deps, faultPoint: b.faultPoint }, msg);
    await b.at('move:after-create');
    // ... A wins the swap and stalls before deleting the old item; B's swap loses to A's identical one and B ends.
    a.resume('move:after-create');
    await a.at('move:after-swap');
    b.resume('move:after-create');
    await second;
    // A deletes the old item and finishes: nothing B did may stop it.
    a.resume('move:after-swap');
    await first;
    await expectMoveDone(s);
    const audit = await stack.state.listMoves(s.id, { limit: 10 });
    expect(audit.items.filter((m) => m.identityHash === msg.moves[0]!.identityHash)).toHaveLength(1);
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('a move batch redelivered after a crash past its swap, once its run has ended, still finishes that move (no second item left)', async () => {
    const s = await scenario();
    const msg = await moveBatchToEurope(s);
    const crash = async (p: FaultPoint) => {
      if (p === 'move:after-swap') throw new Error('worker crash');
    };
    await expect(handleMoveBatch({ ...stack.deps, faultPoint: crash }, msg)).rejects.toThrow('worker crash');
    expect(s.itemsOf()).toHaveLength(2);
    // The run is cancelled (or reaped) before the redelivery comes.
    await stopRun(stack.deps, msg.runId, { status: 'cancelled', reason: 'cancelled by an admin' });
    await handleMoveBatch(stack.deps, msg);
    await expectMoveDone(s);
    // A redelivery of a run that ended writes nothing new: the other rows were never touched.
    expect(s.itemsOf(2).map((i) => i.list)).toEqual([s.listName('EU')]);
  }, 60_000);

  it('a mover whose last ledger write loses to another writer that kept the same item still finishes the move', async () => {
    const s = await scenario();
    const msg = await moveBatchToEurope(s);
    const a = stallAt('move:after-delete');
    const mover = handleMoveBatch({ ...stack.deps, faultPoint: a.faultPoint }, msg);
    await a.at('move:after-delete');
    // The old item is gone; meanwhile another batch for the row marks its content in doubt (same item, move still remembered).
    const half = (await s.entry())!;
    expect(half).toMatchObject({ state: 'moving', listId: s.listId('EU') });
    const { etag: _etag, ...rest } = half;
    await stack.state.putLedger([{ ...rest, contentInDoubt: true } as LedgerEntry]);
    a.resume('move:after-delete');
    await mover;
    await expectMoveDone(s);
    // The other writer's doubt is kept: the next run that reads the row rewrites it.
    expect(await s.entry()).toMatchObject({ contentInDoubt: true });
  }, 60_000);

  /** Row 3 was inserted and its create reached SharePoint in `listIds`, but the batch was lost: the ledger still says `pending` with no item. Then the row is deleted. */
  async function lostCreateOfDeletedRow(s: Awaited<ReturnType<typeof scenario>>, entryList: string, itemLists: string[], movedFrom?: (items: Map<string, string>) => LedgerEntry['movedFrom']) {
    const row = mapRow({ id: 3, name: 'Row 3', region: 'US' }, s.mapping);
    const target = await stack.deps.target('sp');
    // The run that planned row 3's create read it: it is synced once, then what that run left is
    // replaced by what the lost batch left. (That run also saw row 3 in the source's key set.)
    await stack.pg.query(`INSERT INTO ${s.table} (id, name, region) VALUES (3, 'Row 3', 'US')`);
    expect((await stack.run(s.id)).status).toBe('succeeded');
    for (const item of s.itemsOf(3)) {
      const listId = stack.emulator.state.lists().find((l) => l.displayName === item.list)!.id;
      const [gone] = await target.writeItems(stack.siteId, listId, [{ opId: item.id, kind: 'delete', itemId: item.id }]);
      if (!gone?.ok) throw new Error(`setup delete failed: ${JSON.stringify(gone)}`);
    }
    const made = new Map<string, string>();
    for (const listId of itemLists) {
      const [r] = await target.writeItems(stack.siteId, listId, [{ opId: row.identity, kind: 'create', fields: { ...row.fields, [SYNC_KEY_COLUMN]: row.identity } }]);
      if (!r?.ok) throw new Error(`setup create failed: ${JSON.stringify(r)}`);
      made.set(listId, r.itemId);
    }
    const pending: LedgerEntry = { definitionId: s.id, identityHash: row.identity, listId: entryList, itemId: null, contentHash: row.contentHash, state: 'pending', movedFrom: movedFrom?.(made) ?? null, sourceReadAt: null, updatedAt: new Date().toISOString() };
    await stack.state.putLedger([pending]);
    expect(s.itemsOf(3)).toHaveLength(itemLists.length);
    await stack.pg.query(`DELETE FROM ${s.table} WHERE id = 3`);
    // The source row was there and is gone now: reconcile finds the entry as an orphan.
    await new Promise((r) => setTimeout(r, 1_200));
  }

  it('reconcile of a deleted row whose pending create reached SharePoint (batch lost) deletes its item instead of forgetting it', async () => {
    const s = await scenario('reconcile');
    await lostCreateOfDeletedRow(s, s.listId('US'), [s.listId('US')]);
    const run = await stack.run(s.id);
    expect(run.status).toBe('succeeded');
    expect(s.itemsOf(3)).toEqual([]);
    expect(await s.entry(3)).toBeUndefined();
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('reconcile of a deleted row whose pending create left items in its list and the old list of its move deletes both', async () => {
    const s = await scenario('reconcile');
    await lostCreateOfDeletedRow(s, s.listId('EU'), [s.listId('EU'), s.listId('US')], (made) => ({ listId: s.listId('US'), itemId: made.get(s.listId('US'))! }));
    expect((await stack.run(s.id)).status).toBe('succeeded');
    expect(s.itemsOf(3)).toEqual([]);
    expect(await s.entry(3)).toBeUndefined();
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('reconcile of a deleted row whose pending create never reached SharePoint just forgets the entry', async () => {
    const s = await scenario('reconcile');
    await lostCreateOfDeletedRow(s, s.listId('US'), []);
    expect((await stack.run(s.id)).status).toBe('succeeded');
    expect(await s.entry(3)).toBeUndefined();
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table}`);
  }, 60_000);

  it('a soft delete of a row whose pending create reached SharePoint (batch lost) deletes its item instead of leaving it', async () => {
    const s = await scenario('softDelete');
    await lostCreateOfDeletedRow(s, s.listId('US'), [s.listId('US')]);
    await stack.pg.query(`INSERT INTO ${s.table} (id, name, region, is_deleted) VALUES (3, 'Row 3', 'US', true)`);
    expect((await stack.run(s.id)).status).toBe('succeeded');
    expect(s.itemsOf(3)).toEqual([]);
    expect(await s.entry(3)).toBeUndefined();
    await assertInvariant(stack, s.id, `SELECT * FROM ${s.table} WHERE NOT is_deleted`);
  }, 60_000);
});
