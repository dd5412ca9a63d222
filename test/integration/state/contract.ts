import { createHash, randomUUID } from 'node:crypto';
import { SyncDefinitionInput } from '../../../src/core/definitions';
import { isSyncError } from '../../../src/core/errors';
import type { LedgerEntry, RunRecord, StateStore, StoredDefinition } from '../../../src/core/ports/state';

/**
 * One behavioural contract for every StateStore adapter (Table Storage, PostgreSQL, SQL
 * Server). Each adapter's test file supplies a factory that opens an isolated store (own table
 * prefix or schema) and can open more instances on the same storage, as separate Function
 * instances would.
 */

export interface StoreUnderTest {
  store: StateStore;
  /** Another instance over the same storage (as a second process would have). */
  open(): StateStore;
  /** Drops what the factory created. */
  cleanup(): Promise<void>;
}

const uid = () => randomUUID().slice(0, 8);
const hash = (s: string) => createHash('sha256').update(s).digest('hex');

async function expectSyncError(promise: Promise<unknown>, code: string): Promise<void> {
  let caught: unknown;
  try {
    await promise;
  } catch (error) {
    caught = error;
  }
  if (!isSyncError(caught, code)) throw new Error(`expected SyncError '${code}', got ${caught instanceof Error ? `${caught.name}: ${caught.message}` : String(caught)}`);
}

function definition(id: string): StoredDefinition {
  return {
    definition: SyncDefinitionInput.parse({
      id,
      sources: [{ connectionId: 'src-a', role: 'primary' }],
      table: { schema: 'dbo', name: 'Orders' },
      fields: [{ source: 'Title' }, { source: 'Amount', type: 'currency' }],
      cursor: { kind: 'timestamp', column: 'UpdatedAt' },
      target: { connectionId: 'sp-a', siteId: 'contoso.sharepoint.com,1,2' },
      sharding: { strategy: 'none', list: 'Orders' },
    }),
    mappingVersion: 1,
    activeSourceId: 'src-a',
    lists: { Orders: 'list-1' },
  };
}

function entry(definitionId: string, key: string, listId: string, itemId: string | null, extra: Partial<LedgerEntry> = {}): LedgerEntry {
  return { definitionId, identityHash: hash(key), listId, itemId, contentHash: `c-${key}`, state: itemId === null ? 'pending' : 'synced', ...extra };
}

function run(definitionId: string, runId: string, startedAt: Date, extra: Partial<RunRecord> = {}): RunRecord {
  return {
    runId,
    definitionId,
    mode: 'incremental',
    trigger: 'schedule',
    status: 'running',
    startedAt: startedAt.toISOString(),
    counts: { read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 },
    batchesExpected: 0,
    batchesSettled: 0,
    ...extra,
  };
}

async function collect(iter: AsyncIterable<LedgerEntry[]>): Promise<LedgerEntry[][]> {
  const pages: LedgerEntry[][] = [];
  for await (const page of iter) pages.push(page);
  return pages;
}

function shuffle<T>(items: T[]): T[] {
  const out = [...items];
  for (let i = out.length - 1; i > 0; i--) {
    const j = Math.floor(Math.random() * (i + 1));
    [out[i], out[j]] = [out[j] as T, out[i] as T];
  }
  return out;
}

export function runStateStoreContract(name: string, factory: () => Promise<StoreUnderTest>): void {
  describe(`${name} state store contract`, () => {
    let sut: StoreUnderTest;
    let store: StateStore;
    // Two more instances, shared by the tests, stand in for other Function instances; a fixed
    // few keeps connection counts low (PGlite's socket server takes ten at most).
    const extra: StateStore[] = [];
    let turn = 0;
    const another = () => {
      if (extra.length < 2) extra.push(sut.open());
      return extra[turn++ % extra.length]!;
    };

    beforeAll(async () => {
      sut = await factory();
      store = sut.store;
      await store.init();
    });

    afterAll(async () => {
      await Promise.all(extra.map((s) => s.close()));
      await store?.close();
      await sut?.cleanup();
    });

    describe('start-up', () => {
      it('init is idempotent and safe when several instances start at once', async () => {
        const others = [sut.open(), sut.open()];
        await Promise.all([store.init(), ...others.map((s) => s.init())]);
        await Promise.all(others.map((s) => s.close()));
        await store.ping();
      });
    });

    describe('configuration', () => {
      it('a source connection round-trips, lists, updates and deletes', async () => {
        const id = `src-${uid()}`;
        const saved = await store.putSource({ id, engine: 'postgres', host: 'db.example', database: 'sales', user: 'sync', secretRef: 'pg-password' });
        expect(saved.etag).toBeTruthy();
        expect(saved.createdAt).toBeTruthy();
        const got = await store.getSource(id);
        expect(got).toMatchObject({ id, engine: 'postgres', host: 'db.example', secretRef: 'pg-password', etag: saved.etag });
        expect((await store.listSources()).map((s) => s.id)).toContain(id);
        const updated = await store.putSource({ ...got!, host: 'db2.example' }, { ifMatch: got!.etag });
        expect(updated.etag).not.toBe(saved.etag);
        expect((await store.getSource(id))?.host).toBe('db2.example');
        expect((await store.getSource(id))?.createdAt).toBe(got!.createdAt);
        expect(await store.deleteSource(id)).toBe(true);
        expect(await store.deleteSource(id)).toBe(false);
        expect(await store.getSource(id)).toBeNull();
      });

      it('a SharePoint connection round-trips, lists and deletes', async () => {
        const id = `sp-${uid()}`;
        await store.putSharePoint({ id, tenantId: 't', clientId: 'c', auth: { kind: 'clientSecret', secretRef: 'sp-secret' }, defaultSiteId: 'site-1' });
        expect(await store.getSharePoint(id)).toMatchObject({ id, auth: { kind: 'clientSecret', secretRef: 'sp-secret' }, defaultSiteId: 'site-1' });
        expect((await store.listSharePoint()).map((s) => s.id)).toContain(id);
        expect(await store.deleteSharePoint(id)).toBe(true);
        expect(await store.getSharePoint(id)).toBeNull();
      });

      it('a definition round-trips with its mapping version, bound source, lists and snapshot', async () => {
        const id = `def-${uid()}`;
        const def = { ...definition(id), mapping: { Title: { target: 'Title' } }, schemaSnapshot: { columns: [{ name: 'Title', type: 'nvarchar' }] } };
        await store.putDefinition(def, { mustNotExist: true });
        const got = await store.getDefinition(id);
        expect(got).toMatchObject({ definition: def.definition, mappingVersion: 1, activeSourceId: 'src-a', lists: { Orders: 'list-1' }, mapping: def.mapping, schemaSnapshot: def.schemaSnapshot });
        expect((await store.listDefinitions()).map((d) => d.definition.id)).toContain(id);
        expect(await store.deleteDefinition(id)).toBe(true);
        expect(await store.getDefinition(id)).toBeNull();
      });

      it('creating a definition that already exists is refused with state_conflict', async () => {
        const id = `def-${uid()}`;
        await store.putDefinition(definition(id), { mustNotExist: true });
        await expectSyncError(store.putDefinition(definition(id), { mustNotExist: true }), 'state_conflict');
      });

      it('of concurrent creates of one definition exactly one succeeds', async () => {
        const id = `def-${uid()}`;
        const results = await Promise.allSettled(Array.from({ length: 8 }, () => store.putDefinition(definition(id), { mustNotExist: true })));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isSyncError(r.reason, 'state_conflict')).toBe(true);
      });

      it('saving with a stale ETag is refused with state_conflict and keeps the newer version', async () => {
        const id = `def-${uid()}`;
        const first = await store.putDefinition(definition(id), { mustNotExist: true });
        const second = await store.putDefinition({ ...first, mappingVersion: 2 }, { ifMatch: first.etag });
        await expectSyncError(store.putDefinition({ ...first, mappingVersion: 3 }, { ifMatch: first.etag }), 'state_conflict');
        const got = await store.getDefinition(id);
        expect(got?.mappingVersion).toBe(2);
        expect(got?.etag).toBe(second.etag);
      });

      it('saving with an ETag for a record that is gone is refused with not_found', async () => {
        const id = `src-${uid()}`;
        const saved = await store.putSource({ id, engine: 'sqlserver', host: 'h', database: 'd', user: 'u', secretRef: 's' });
        await store.deleteSource(id);
        await expectSyncError(store.putSource(saved, { ifMatch: saved.etag }), 'not_found');
      });

      it('a large schema snapshot (300 KB) round-trips', async () => {
        const id = `def-${uid()}`;
        const columns = Array.from({ length: 3000 }, (_, i) => ({ name: `Column_${i}_${'x'.repeat(60)}`, type: 'nvarchar', note: 'é😀' }));
        await store.putDefinition({ ...definition(id), schemaSnapshot: { columns } });
        expect((await store.getDefinition(id))?.schemaSnapshot).toEqual({ columns });
      });
    });

    describe('ledger', () => {
      it('entries round-trip and are found by hash and by item', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2', { movedFrom: { listId: 'list-0', itemId: '9' }, state: 'moving' })]);
        const found = await store.getLedger(def, [hash('a'), hash('b'), hash('nope')]);
        expect([...found.keys()].sort()).toEqual([hash('a'), hash('b')].sort());
        expect(found.get(hash('b'))).toMatchObject({ listId: 'list-1', itemId: '2', state: 'moving', movedFrom: { listId: 'list-0', itemId: '9' }, contentHash: 'c-b' });
        expect(found.get(hash('a'))?.createdAt).toBeTruthy();
        expect(await store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('b') });
        expect(await store.getLedgerByItem(def, 'list-1', '3')).toBeNull();
        expect(await store.getLedger(def, [])).toEqual(new Map());
      });

      it('a pending entry gains its item later and is then found by item', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', null), entry(def, 'b', 'list-1', null)]);
        expect((await store.getLedger(def, [hash('a')])).get(hash('a'))).toMatchObject({ itemId: null, state: 'pending' });
        await store.putLedger([entry(def, 'a', 'list-1', '10')]);
        expect(await store.getLedgerByItem(def, 'list-1', '10')).toMatchObject({ identityHash: hash('a'), state: 'synced' });
      });

      it('an entry that moves to another item frees the old one and keeps createdAt', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1')]);
        const before = (await store.getLedger(def, [hash('a')])).get(hash('a'));
        await store.putLedger([entry(def, 'a', 'list-2', '7', { movedFrom: { listId: 'list-1', itemId: '1' }, state: 'moving' })]);
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
        expect(await store.getLedgerByItem(def, 'list-2', '7')).toMatchObject({ identityHash: hash('a'), movedFrom: { listId: 'list-1', itemId: '1' } });
        // The freed item may now be claimed by another identity.
        await store.putLedger([entry(def, 'b', 'list-1', '1')]);
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('b') });
        const after = (await store.getLedger(def, [hash('a')])).get(hash('a'));
        expect(after?.createdAt).toBe(before?.createdAt);
        expect(after?.movedFrom).toEqual({ listId: 'list-1', itemId: '1' });
        await store.putLedger([{ ...after!, movedFrom: null, state: 'synced' }]);
        expect((await store.getLedger(def, [hash('a')])).get(hash('a'))?.movedFrom ?? null).toBeNull();
      });

      it('an item already claimed by another identity is refused with state_conflict and nothing changes', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
        await expectSyncError(store.putLedger([entry(def, 'b', 'list-1', '1')]), 'state_conflict');
        await expectSyncError(store.putLedger([entry(def, 'c', 'list-1', '1')]), 'state_conflict');
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('a') });
        expect(await store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('b') });
        expect((await store.getLedger(def, [hash('c')])).size).toBe(0);
      });

      it('the same item id in different lists, or in different definitions, is not a conflict', async () => {
        const def = `def-${uid()}`;
        const other = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-2', '1'), entry(other, 'c', 'list-1', '1')]);
        expect(await store.getLedgerByItem(def, 'list-2', '1')).toMatchObject({ identityHash: hash('b') });
        expect(await store.getLedgerByItem(other, 'list-1', '1')).toMatchObject({ identityHash: hash('c') });
      });

      it('a batch that claims one item for two identities is refused', async () => {
        const def = `def-${uid()}`;
        await expectSyncError(store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '1')]), 'state_conflict');
      });

      it('two identities swapping items in one batch keep the index exact', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
        await store.putLedger([entry(def, 'a', 'list-1', '2'), entry(def, 'b', 'list-1', '1')]);
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('b') });
        expect(await store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('a') });
      });

      it('a later entry for the same identity in one batch wins', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'a', 'list-1', '2', { contentHash: 'newer' })]);
        expect((await store.getLedger(def, [hash('a')])).get(hash('a'))).toMatchObject({ itemId: '2', contentHash: 'newer' });
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
      });

      it('deleted entries disappear together with their reverse index', async () => {
        const def = `def-${uid()}`;
        await store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', null), entry(def, 'c', 'list-1', '3')]);
        await store.deleteLedger(def, [hash('a'), hash('b'), hash('missing')]);
        expect([...(await store.getLedger(def, [hash('a'), hash('b'), hash('c')])).keys()]).toEqual([hash('c')]);
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
        await store.putLedger([entry(def, 'd', 'list-1', '1')]);
        expect(await store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('d') });
      });

      it('a batch of 250 entries is written and scanLedger returns every entry exactly once', async () => {
        const def = `def-${uid()}`;
        const entries = Array.from({ length: 250 }, (_, i) => entry(def, `e${i}`, `list-${i % 3}`, i % 10 === 0 ? null : String(i)));
        await store.putLedger(entries);
        const pages = await collect(store.scanLedger(def, 100));
        const seen = pages.flat().map((e) => e.identityHash);
        expect(seen).toHaveLength(250);
        expect(new Set(seen).size).toBe(250);
        expect(pages.every((p) => p.length <= 100)).toBe(true);
        const found = await store.getLedger(def, entries.map((e) => e.identityHash));
        expect(found.size).toBe(250);
        expect(await collect(store.scanLedger(`def-${uid()}`))).toEqual([]);
      });

      it('the ledger and its reverse index stay consistent under concurrent writers', async () => {
        const def = `def-${uid()}`;
        const identities = Array.from({ length: 30 }, (_, i) => `k${i}`);
        const writers = 5;
        const stores = [store, another(), another()];
        // Every writer points every identity at its own items, in shuffled batches, all at once.
        await Promise.all(
          Array.from({ length: writers }, async (_, w) => {
            const mine = shuffle(identities.map((k) => entry(def, k, 'list-1', `${w}-${k}`)));
            const s = stores[w % stores.length]!;
            for (let i = 0; i < mine.length; i += 10) await s.putLedger(mine.slice(i, i + 10));
          }),
        );
        const all = (await collect(store.scanLedger(def))).flat();
        expect(all).toHaveLength(identities.length);
        const byItem = new Map(all.map((e) => [e.itemId, e.identityHash]));
        // Every item any writer ever used maps back to the identity that holds it now, or to nothing.
        const items = Array.from({ length: writers }, (_, w) => identities.map((k) => `${w}-${k}`)).flat();
        const found = await Promise.all(items.map((item) => store.getLedgerByItem(def, 'list-1', item)));
        expect(found.map((f) => f?.identityHash ?? null)).toEqual(items.map((item) => byItem.get(item) ?? null));
        expect(found.filter(Boolean)).toHaveLength(identities.length);
      });

      it('of two identities claiming one item at the same time exactly one wins', async () => {
        const def = `def-${uid()}`;
        const stores = [store, another()];
        const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.putLedger([entry(def, `c${i}`, 'list-1', '42')])));
        expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
        for (const r of results) if (r.status === 'rejected') expect(isSyncError(r.reason, 'state_conflict')).toBe(true);
        const winner = await store.getLedgerByItem(def, 'list-1', '42');
        expect(winner).not.toBeNull();
        expect((await collect(store.scanLedger(def))).flat().map((e) => e.identityHash)).toEqual([winner!.identityHash]);
      });
    });

    describe('cursors', () => {
      it('a cursor is kept per definition and source with its mapping version', async () => {
        const def = `def-${uid()}`;
        expect(await store.getCursor(def, 'src-a')).toBeNull();
        await store.putCursor({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-01-01T00:00:00Z","key":[1]}', mappingVersion: 2 });
        await store.putCursor({ definitionId: def, sourceId: 'src-b', position: null, mappingVersion: 1 });
        expect(await store.getCursor(def, 'src-a')).toMatchObject({ position: '{"ts":"2024-01-01T00:00:00Z","key":[1]}', mappingVersion: 2 });
        expect(await store.getCursor(def, 'src-b')).toMatchObject({ position: null, mappingVersion: 1 });
        await store.putCursor({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-02-01T00:00:00Z"}', mappingVersion: 3 });
        const got = await store.getCursor(def, 'src-a');
        expect(got).toMatchObject({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-02-01T00:00:00Z"}', mappingVersion: 3 });
        expect(got?.updatedAt).toBeTruthy();
      });
    });

    describe('runs', () => {
      it('a run round-trips and updates keep its counters', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date('2025-03-01T10:00:00.000Z'), { sourceId: 'src-a', highWater: '{"ts":"x"}' }));
        expect(await store.getRun(runId)).toMatchObject({ runId, definitionId: def, status: 'running', sourceId: 'src-a', highWater: '{"ts":"x"}', startedAt: '2025-03-01T10:00:00.000Z' });
        await store.incrementRun(runId, { read: 10, batchesExpected: 2 });
        const done = await store.updateRun(runId, { status: 'succeeded', finishedAt: '2025-03-01T10:05:00.000Z', error: null });
        expect(done).toMatchObject({ status: 'succeeded', batchesExpected: 2, counts: { read: 10 } });
        expect(await store.getRun(runId)).toMatchObject({ status: 'succeeded', finishedAt: '2025-03-01T10:05:00.000Z', counts: { read: 10, created: 0 }, batchesExpected: 2 });
        expect(await store.getRun(`run-${uid()}`)).toBeNull();
        await expectSyncError(store.updateRun(`run-${uid()}`, { status: 'failed' }), 'not_found');
        await expectSyncError(store.incrementRun(`run-${uid()}`, { read: 1 }), 'not_found');
      });

      it('creating a run with an id already used is refused with state_conflict', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date()));
        await expectSyncError(store.createRun(run(def, runId, new Date())), 'state_conflict');
      });

      it('a dry-run plan (300 KB) and a long error round-trip', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        const plan = { writes: Array.from({ length: 2000 }, (_, i) => ({ op: 'create', key: [i], fields: { Title: `Row ${i} ${'y'.repeat(120)}` } })) };
        await store.createRun(run(def, runId, new Date(), { mode: 'dryRun', plan }));
        await store.updateRun(runId, { error: 'e'.repeat(50_000) });
        const got = await store.getRun(runId);
        expect(got?.plan).toEqual(plan);
        expect(got?.error).toHaveLength(50_000);
      });

      it('50 concurrent progress increments lose none', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date(), { batchesExpected: 50 }));
        const stores = [store, another()];
        const after = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 2]!.incrementRun(runId, { batchesSettled: 1, created: 2 })));
        const final = await store.getRun(runId);
        expect(final).toMatchObject({ batchesSettled: 50, batchesExpected: 50, counts: { created: 100 } });
        // Each caller saw its own increment applied: 1..50, each once.
        expect(after.map((r) => r.batchesSettled).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
      });

      it('a keyed increment counts once however often and however concurrently it is delivered', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date(), { batchesExpected: 3 }));
        const stores = [store, another()];
        const twins = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.incrementRunOnce(runId, 'batch-1', { batchesSettled: 1, updated: 5 })));
        expect(twins.filter((r) => r.applied)).toHaveLength(1);
        for (const r of twins) expect(r.run.batchesSettled).toBeGreaterThanOrEqual(r.applied ? 1 : 0);
        const others = await Promise.all(['batch-2', 'batch-3'].map((k) => store.incrementRunOnce(runId, k, { batchesSettled: 1 })));
        expect(others.every((r) => r.applied)).toBe(true);
        const again = await store.incrementRunOnce(runId, 'batch-2', { batchesSettled: 1 });
        expect(again).toMatchObject({ applied: false, run: { batchesSettled: 3, counts: { updated: 5 } } });
        expect(await store.getRun(runId)).toMatchObject({ batchesSettled: 3, batchesExpected: 3, counts: { updated: 5 } });
        // A marker is per run: the same key on another run counts there.
        const otherRun = `run-${uid()}`;
        await store.createRun(run(def, otherRun, new Date()));
        expect((await store.incrementRunOnce(otherRun, 'batch-1', { batchesSettled: 1 })).applied).toBe(true);
        await expectSyncError(store.incrementRunOnce(`run-${uid()}`, 'batch-1', { batchesSettled: 1 }), 'not_found');
        expect((await store.listRuns(def)).items.map((r) => r.runId).sort()).toEqual([runId, otherRun].sort());
      });

      it('an unknown counter name is refused before anything is written', async () => {
        const def = `def-${uid()}`;
        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date()));
        await expectSyncError(store.incrementRun(runId, { nonsense: 1 } as never), 'state_invalid');
      });

      it('runs page newest first across pages and only for their definition', async () => {
        const def = `def-${uid()}`;
        const base = Date.parse('2025-01-01T00:00:00.000Z');
        await Promise.all(shuffle(Array.from({ length: 7 }, (_, i) => i)).map((i) => store.createRun(run(def, `${def}-r${i}`, new Date(base + i * 60_000)))));
        await store.createRun(run(`def-${uid()}`, `other-${uid()}`, new Date(base + 3 * 60_000)));
        const seen: string[] = [];
        let next: string | undefined;
        let pages = 0;
        do {
          const page = await store.listRuns(def, { limit: 3, next });
          seen.push(...page.items.map((r) => r.runId));
          next = page.next;
          pages++;
        } while (next);
        expect(pages).toBe(3);
        expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `${def}-r${i}`));
        expect((await store.listRuns(def)).items).toHaveLength(7);
        expect(await store.listRuns(`def-${uid()}`)).toEqual({ items: [] });
      });

      it('a page token that was not issued by the store is refused', async () => {
        await expectSyncError(store.listRuns('def-x', { next: 'not-a-token' }), 'invalid_page_token');
      });
    });

    describe('failures', () => {
      it('failures are upserted per row, quarantined ones hidden unless asked, and deleted by hash', async () => {
        const def = `def-${uid()}`;
        const at = '2025-01-01T00:00:00.000Z';
        const base = { definitionId: def, key: [1, 'a'], attempts: 1, lastError: 'Title too long', quarantined: false, firstFailedAt: at, lastFailedAt: at };
        await store.putFailure({ ...base, identityHash: hash('a'), lastRunId: 'run-1' });
        await store.putFailure({ ...base, identityHash: hash('b'), key: [2, 'b'] });
        await store.putFailure({ ...base, identityHash: hash('a'), attempts: 5, quarantined: true, lastError: 'still too long' });
        expect((await store.getFailures(def)).map((f) => f.identityHash)).toEqual([hash('b')]);
        const all = await store.getFailures(def, { includeQuarantined: true });
        expect(all).toHaveLength(2);
        expect(all.find((f) => f.identityHash === hash('a'))).toMatchObject({ attempts: 5, quarantined: true, lastError: 'still too long', key: [1, 'a'] });
        expect(all.find((f) => f.identityHash === hash('b'))).toMatchObject({ key: [2, 'b'], firstFailedAt: at });
        await store.deleteFailures(def, [hash('a'), hash('b'), hash('zzz')]);
        expect(await store.getFailures(def, { includeQuarantined: true })).toEqual([]);
      });

      it('failures page in identity order, due or quarantined only, and are found by hash', async () => {
        const def = `def-${uid()}`;
        const at = '2025-01-01T00:00:00.000Z';
        const hashes = Array.from({ length: 7 }, (_, i) => hash(`row-${i}`));
        await Promise.all(
          hashes.map((h, i) => store.putFailure({ definitionId: def, identityHash: h, key: [i], attempts: 1, lastError: `e${i}`, quarantined: i % 3 === 0, firstFailedAt: at, lastFailedAt: at })),
        );
        await store.putFailure({ definitionId: `${def}-other`, identityHash: hashes[1]!, key: [1], attempts: 1, lastError: 'x', quarantined: false, firstFailedAt: at, lastFailedAt: at });
        const readAll = async (quarantined?: boolean) => {
          const seen: string[] = [];
          let next: string | undefined;
          do {
            const page = await store.pageFailures(def, { quarantined, limit: 2, next });
            expect(page.items.length).toBeLessThanOrEqual(2);
            seen.push(...page.items.map((f) => f.identityHash));
            next = page.next;
          } while (next);
          return seen;
        };
        const sorted = [...hashes].sort();
        expect(await readAll()).toEqual(sorted);
        expect(await readAll(true)).toEqual(sorted.filter((h) => hashes.indexOf(h) % 3 === 0));
        expect(await readAll(false)).toEqual(sorted.filter((h) => hashes.indexOf(h) % 3 !== 0));
        const found = await store.getFailuresFor(def, [hashes[2]!, hashes[3]!, hash('absent')]);
        expect([...found.keys()].sort()).toEqual([hashes[2]!, hashes[3]!].sort());
        expect(found.get(hashes[3]!)).toMatchObject({ key: [3], quarantined: true, lastError: 'e3' });
        expect(await store.getFailuresFor(def, [])).toEqual(new Map());
        await expectSyncError(store.pageFailures(def, { next: 'not-a-token' }), 'invalid_page_token');
      });

      it('a password or connection string in a driver error never reaches the store, in failure reasons or run errors', async () => {
        const def = `def-${uid()}`;
        const at = '2025-01-01T00:00:00.000Z';
        const driverText = 'connect failed: postgres://sync:Hunter2Secret@db.internal:5432/app (Server=db;User Id=sa;Password=Hunter2Secret;)';
        await store.putFailure({ definitionId: def, identityHash: hash('x'), key: [1], attempts: 1, lastError: driverText, quarantined: false, firstFailedAt: at, lastFailedAt: at });
        const [failure] = await store.getFailures(def);
        expect(failure!.lastError).not.toContain('Hunter2Secret');
        expect(failure!.lastError).toContain('db.internal:5432'); // the rest stays, to act on

        const runId = `run-${uid()}`;
        await store.createRun(run(def, runId, new Date(), { error: driverText }));
        expect((await store.getRun(runId))!.error).not.toContain('Hunter2Secret');
        await store.updateRun(runId, { status: 'failed', error: `planning failed: ${driverText}` });
        const stored = await store.getRun(runId);
        expect(stored!.error).not.toContain('Hunter2Secret');
        expect(stored!.error).toContain('planning failed');
      });
    });

    describe('moves', () => {
      it('moves are listed newest first, paged, and recording the same move twice keeps one', async () => {
        const def = `def-${uid()}`;
        const base = Date.parse('2025-01-01T00:00:00.000Z');
        for (let i = 0; i < 5; i++) {
          await store.addMove({
            definitionId: def,
            moveId: `m${i}`,
            identityHash: hash(`m${i}`),
            from: { listId: 'list-1', itemId: String(i) },
            to: { listId: 'list-2', itemId: String(100 + i) },
            runId: 'run-1',
            at: new Date(base + i * 1000).toISOString(),
          });
        }
        await store.addMove({ definitionId: def, moveId: 'm2', identityHash: hash('m2'), from: { listId: 'list-1', itemId: '2' }, to: { listId: 'list-2', itemId: '102' }, at: new Date(base + 9000).toISOString() });
        const first = await store.listMoves(def, { limit: 3 });
        expect(first.items.map((m) => m.moveId)).toEqual(['m4', 'm3', 'm2']);
        expect(first.items[0]).toMatchObject({ from: { listId: 'list-1', itemId: '4' }, to: { listId: 'list-2', itemId: '104' }, runId: 'run-1', identityHash: hash('m4') });
        const second = await store.listMoves(def, { limit: 3, next: first.next });
        expect(second.items.map((m) => m.moveId)).toEqual(['m1', 'm0']);
        expect(second.next).toBeUndefined();
      });
    });

    describe('leases', () => {
      it('of 20 concurrent lease attempts exactly one wins', async () => {
        const name = `run:def-${uid()}`;
        const stores = [store, another(), another()];
        const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 3]!.acquireLease(name, `holder-${i}`, 30_000)));
        expect(results.filter(Boolean)).toHaveLength(1);
      });

      it('a live lease cannot be taken over and an expired one can', async () => {
        const name = `run:def-${uid()}`;
        expect(await store.acquireLease(name, 'a', 300)).toBe(true);
        expect(await store.acquireLease(name, 'b', 30_000)).toBe(false);
        await new Promise((r) => setTimeout(r, 450));
        const takers = await Promise.all(['b', 'c', 'd', 'e'].map((h) => store.acquireLease(name, h, 30_000)));
        expect(takers.filter(Boolean)).toHaveLength(1);
        expect(await store.renewLease(name, 'a', 30_000)).toBe(false);
      });

      it('only the holder renews or releases a lease, and the holder may re-acquire its own', async () => {
        const name = `run:def-${uid()}`;
        expect(await store.acquireLease(name, 'a', 30_000)).toBe(true);
        expect(await store.acquireLease(name, 'a', 30_000)).toBe(true);
        expect(await store.renewLease(name, 'a', 30_000)).toBe(true);
        expect(await store.renewLease(name, 'b', 30_000)).toBe(false);
        await store.releaseLease(name, 'b');
        expect(await store.acquireLease(name, 'b', 30_000)).toBe(false);
        await store.releaseLease(name, 'a');
        expect(await store.renewLease(name, 'a', 30_000)).toBe(false);
        expect(await store.acquireLease(name, 'b', 30_000)).toBe(true);
      });

      it('a release racing the holder\'s own renewal still frees the lease', async () => {
        // A late batch of a finished run renews while its finalizer releases: the run is over,
        // so the lease must not survive the race.
        for (let i = 0; i < 15; i++) {
          const name = `run:def-${uid()}`;
          expect(await store.acquireLease(name, 'run-1', 30_000)).toBe(true);
          await Promise.all([another().renewLease(name, 'run-1', 30_000), store.releaseLease(name, 'run-1'), another().renewLease(name, 'run-1', 30_000)]);
          // Either the renewals came first and the release removed them, or they found nothing.
          const released = await store.acquireLease(name, 'run-2', 30_000);
          if (!released) await store.releaseLease(name, 'run-1');
          expect({ iteration: i, released }).toEqual({ iteration: i, released: true });
        }
      });
    });

    describe('schedule bookkeeping', () => {
      it('casLastSlot lets exactly one of concurrent callers win, from empty and from a slot', async () => {
        const def = `def-${uid()}`;
        expect(await store.getLastSlot(def)).toBeNull();
        const stores = [store, another()];
        const first = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casLastSlot(def, null, `2025-01-01T00:0${i}:00Z`)));
        expect(first.filter(Boolean)).toHaveLength(1);
        const winner = `2025-01-01T00:0${first.indexOf(true)}:00Z`;
        expect(await store.getLastSlot(def)).toBe(winner);
        const second = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casLastSlot(def, winner, `2025-01-01T01:0${i}:00Z`)));
        expect(second.filter(Boolean)).toHaveLength(1);
        expect(await store.getLastSlot(def)).toBe(`2025-01-01T01:0${second.indexOf(true)}:00Z`);
      });

      it('casLastSlot refuses a stale expected slot', async () => {
        const def = `def-${uid()}`;
        expect(await store.casLastSlot(def, null, 's1')).toBe(true);
        expect(await store.casLastSlot(def, null, 's2')).toBe(false);
        expect(await store.casLastSlot(def, 's0', 's2')).toBe(false);
        expect(await store.casLastSlot(def, 's1', 's2')).toBe(true);
        expect(await store.getLastSlot(def)).toBe('s2');
      });
    });

    describe('drift reports', () => {
      it('a drift report round-trips and is replaced by a later save with the same id', async () => {
        const def = `def-${uid()}`;
        const createdAt = '2025-01-01T00:00:00.000Z';
        expect(await store.getDriftReport(def, 'r1')).toBeNull();
        await store.putDriftReport({ definitionId: def, reportId: 'r1', createdAt, status: 'running', report: { counts: {} } });
        const findings = { counts: { missingInSharePoint: 1 }, missingInSharePoint: [{ identityHash: hash('x'), listId: 'list-1', itemId: '5' }] };
        await store.putDriftReport({ definitionId: def, reportId: 'r1', createdAt, status: 'done', report: findings });
        expect(await store.getDriftReport(def, 'r1')).toEqual({ definitionId: def, reportId: 'r1', createdAt, status: 'done', report: findings });
      });
    });

    describe('keys with awkward characters', () => {
      it('list, item, lease, source and report ids with / \\ # ? _ ~ % and control characters round-trip', async () => {
        const def = `def_${uid()}`;
        const list = 'Orders/2024#Q1?x\\y_z~%\u0001';
        const item = "it'em_/1";
        await store.putLedger([entry(def, 'a', list, item), entry(def, 'b', 'Orders', '2024#Q1?x\\y_z~%\u0001_it\'em_/1')]);
        expect(await store.getLedgerByItem(def, list, item)).toMatchObject({ identityHash: hash('a'), listId: list, itemId: item });
        expect(await store.getLedgerByItem(def, 'Orders', '2024#Q1?x\\y_z~%\u0001_it\'em_/1')).toMatchObject({ identityHash: hash('b') });
        await store.putCursor({ definitionId: def, sourceId: 'src/#?', position: 'p', mappingVersion: 1 });
        expect(await store.getCursor(def, 'src/#?')).toMatchObject({ sourceId: 'src/#?', position: 'p' });
        expect(await store.acquireLease(`lease/${def}#?`, 'h', 10_000)).toBe(true);
        await store.putDriftReport({ definitionId: def, reportId: 'r/1#?', createdAt: new Date().toISOString(), status: 'done', report: null });
        expect((await store.getDriftReport(def, 'r/1#?'))?.reportId).toBe('r/1#?');
        const runId = `run/${uid()}#?`;
        await store.createRun(run(def, runId, new Date()));
        expect((await store.getRun(runId))?.runId).toBe(runId);
        expect((await store.listRuns(def)).items.map((r) => r.runId)).toEqual([runId]);
      });
    });
  });
}
