import { isSyncError } from '../../../../src/core/errors';
import { uid, hash, expectSyncError, entry, collect, shuffle, type ContractContext } from './harness';

/** LedgerStore: both uniqueness rules, batches, deletes and scans, under concurrent writers. */
export function ledgerContract(ctx: ContractContext): void {
  describe('ledger', () => {
    it('entries round-trip and are found by hash and by item', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2', { movedFrom: { listId: 'list-0', itemId: '9' }, state: 'moving' })]);
      const found = await ctx.store.getLedger(def, [hash('a'), hash('b'), hash('nope')]);
      expect([...found.keys()].sort()).toEqual([hash('a'), hash('b')].sort());
      expect(found.get(hash('b'))).toMatchObject({ listId: 'list-1', itemId: '2', state: 'moving', movedFrom: { listId: 'list-0', itemId: '9' }, contentHash: 'c-b' });
      expect(found.get(hash('a'))?.createdAt).toBeTruthy();
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('b') });
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '3')).toBeNull();
      expect(await ctx.store.getLedger(def, [])).toEqual(new Map());
    });

    it('a page of items of one list is looked up at once; pending, moved-away and other lists\' entries are absent', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2'), entry(def, 'c', 'list-2', '3'), entry(def, 'd', 'list-1', null)]);
      await ctx.store.putLedger([entry(def, 'b', 'list-1', '5')]);
      const found = await ctx.store.getLedgerByItems(def, 'list-1', ['1', '2', '3', '5', '9', '1']);
      expect([...found.keys()].sort()).toEqual(['1', '5']);
      expect(found.get('1')).toMatchObject({ identityHash: hash('a'), listId: 'list-1', itemId: '1' });
      expect(found.get('5')).toMatchObject({ identityHash: hash('b') });
      expect(await ctx.store.getLedgerByItems(def, 'list-1', [])).toEqual(new Map());
      expect((await ctx.store.getLedgerByItems(`other-${uid()}`, 'list-1', ['1'])).size).toBe(0);
    });

    it('a pending entry gains its item later and is then found by item', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', null), entry(def, 'b', 'list-1', null)]);
      expect((await ctx.store.getLedger(def, [hash('a')])).get(hash('a'))).toMatchObject({ itemId: null, state: 'pending' });
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '10')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '10')).toMatchObject({ identityHash: hash('a'), state: 'synced' });
    });

    it('an entry that moves to another item frees the old one and keeps createdAt', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1')]);
      const before = (await ctx.store.getLedger(def, [hash('a')])).get(hash('a'));
      await ctx.store.putLedger([entry(def, 'a', 'list-2', '7', { movedFrom: { listId: 'list-1', itemId: '1' }, state: 'moving' })]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
      expect(await ctx.store.getLedgerByItem(def, 'list-2', '7')).toMatchObject({ identityHash: hash('a'), movedFrom: { listId: 'list-1', itemId: '1' } });
      // The freed item may now be claimed by another identity.
      await ctx.store.putLedger([entry(def, 'b', 'list-1', '1')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('b') });
      const after = (await ctx.store.getLedger(def, [hash('a')])).get(hash('a'));
      expect(after?.createdAt).toBe(before?.createdAt);
      expect(after?.movedFrom).toEqual({ listId: 'list-1', itemId: '1' });
      await ctx.store.putLedger([{ ...after!, movedFrom: null, state: 'synced' }]);
      expect((await ctx.store.getLedger(def, [hash('a')])).get(hash('a'))?.movedFrom ?? null).toBeNull();
    });

    it('an item already claimed by another identity is refused with state_conflict and nothing changes', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
      await expectSyncError(ctx.store.putLedger([entry(def, 'b', 'list-1', '1')]), 'state_conflict');
      await expectSyncError(ctx.store.putLedger([entry(def, 'c', 'list-1', '1')]), 'state_conflict');
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('a') });
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('b') });
      expect((await ctx.store.getLedger(def, [hash('c')])).size).toBe(0);
    });

    it('the same item id in different lists, or in different definitions, is not a conflict', async () => {
      const def = `def-${uid()}`;
      const other = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-2', '1'), entry(other, 'c', 'list-1', '1')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-2', '1')).toMatchObject({ identityHash: hash('b') });
      expect(await ctx.store.getLedgerByItem(other, 'list-1', '1')).toMatchObject({ identityHash: hash('c') });
    });

    it('a batch that claims one item for two identities is refused', async () => {
      const def = `def-${uid()}`;
      await expectSyncError(ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '1')]), 'state_conflict');
    });

    it('an entry in a state the ledger does not know (deleted entries are removed, not marked) is refused before anything is written', async () => {
      const def = `def-${uid()}`;
      for (const state of ['deleted', 'gone']) {
        await expectSyncError(ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2', { state: state as never })]), 'state_invalid');
      }
      expect((await ctx.store.getLedger(def, [hash('a'), hash('b')])).size).toBe(0);
    });

    it('two identities swapping items in one batch keep the index exact', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '2'), entry(def, 'b', 'list-1', '1')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('b') });
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '2')).toMatchObject({ identityHash: hash('a') });
    });

    it('a later entry for the same identity in one batch wins', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'a', 'list-1', '2', { contentHash: 'newer' })]);
      expect((await ctx.store.getLedger(def, [hash('a')])).get(hash('a'))).toMatchObject({ itemId: '2', contentHash: 'newer' });
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
    });

    it('deleted entries disappear together with their reverse index', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', null), entry(def, 'c', 'list-1', '3')]);
      await ctx.store.deleteLedger(def, [hash('a'), hash('b'), hash('missing')]);
      expect([...(await ctx.store.getLedger(def, [hash('a'), hash('b'), hash('c')])).keys()]).toEqual([hash('c')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toBeNull();
      await ctx.store.putLedger([entry(def, 'd', 'list-1', '1')]);
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('d') });
    });

    it('a batch of 250 entries is written and scanLedger returns every entry exactly once', async () => {
      const def = `def-${uid()}`;
      const entries = Array.from({ length: 250 }, (_, i) => entry(def, `e${i}`, `list-${i % 3}`, i % 10 === 0 ? null : String(i)));
      await ctx.store.putLedger(entries);
      const pages = await collect(ctx.store.scanLedger(def, 100));
      const seen = pages.flat().map((e) => e.identityHash);
      expect(seen).toHaveLength(250);
      expect(new Set(seen).size).toBe(250);
      expect(pages.every((p) => p.length <= 100)).toBe(true);
      const found = await ctx.store.getLedger(def, entries.map((e) => e.identityHash));
      expect(found.size).toBe(250);
      expect(await collect(ctx.store.scanLedger(`def-${uid()}`))).toEqual([]);
    });

    it('the ledger and its reverse index stay consistent under concurrent writers', async () => {
      const def = `def-${uid()}`;
      const identities = Array.from({ length: 30 }, (_, i) => `k${i}`);
      const writers = 5;
      const stores = [ctx.store, ctx.another(), ctx.another()];
      // Every writer points every identity at its own items, in shuffled batches, all at once.
      await Promise.all(
        Array.from({ length: writers }, async (_, w) => {
          const mine = shuffle(identities.map((k) => entry(def, k, 'list-1', `${w}-${k}`)));
          const s = stores[w % stores.length]!;
          for (let i = 0; i < mine.length; i += 10) await s.putLedger(mine.slice(i, i + 10));
        }),
      );
      const all = (await collect(ctx.store.scanLedger(def))).flat();
      expect(all).toHaveLength(identities.length);
      const byItem = new Map(all.map((e) => [e.itemId, e.identityHash]));
      // Every item any writer ever used maps back to the identity that holds it now, or to nothing.
      const items = Array.from({ length: writers }, (_, w) => identities.map((k) => `${w}-${k}`)).flat();
      const found = await Promise.all(items.map((item) => ctx.store.getLedgerByItem(def, 'list-1', item)));
      expect(found.map((f) => f?.identityHash ?? null)).toEqual(items.map((item) => byItem.get(item) ?? null));
      expect(found.filter(Boolean)).toHaveLength(identities.length);
    });

    it('of two identities claiming one item at the same time exactly one wins', async () => {
      const def = `def-${uid()}`;
      const stores = [ctx.store, ctx.another()];
      const results = await Promise.allSettled(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.putLedger([entry(def, `c${i}`, 'list-1', '42')])));
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(1);
      for (const r of results) if (r.status === 'rejected') expect(isSyncError(r.reason, 'state_conflict')).toBe(true);
      const winner = await ctx.store.getLedgerByItem(def, 'list-1', '42');
      expect(winner).not.toBeNull();
      expect((await collect(ctx.store.scanLedger(def))).flat().map((e) => e.identityHash)).toEqual([winner!.identityHash]);
    });
  });
}
