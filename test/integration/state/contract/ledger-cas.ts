import { uid, hash, expectSyncError, entry, type ContractContext } from './harness';

/** LedgerStore.putLedgerIfMatch: compare-and-set per entry, so an older batch never overwrites a newer one. */
export function ledgerCasContract(ctx: ContractContext): void {
  describe('ledger compare-and-set', () => {
    const read = async (def: string, key: string) => (await ctx.store.getLedger(def, [hash(key)])).get(hash(key));

    it('a write expecting no entry creates it once; a second such write loses and changes nothing', async () => {
      const def = `def-${uid()}`;
      const first = await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { sourceReadAt: '2030-01-01T00:00:00.000Z' }), ifMatch: null }]);
      expect([...first.keys()]).toEqual([hash('a')]);
      const stored = await read(def, 'a');
      expect(stored).toMatchObject({ itemId: '1', sourceReadAt: '2030-01-01T00:00:00.000Z', contentInDoubt: false });
      expect(stored?.etag).toBeTruthy();
      const second = await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '2'), ifMatch: null }]);
      expect(second.size).toBe(0);
      expect(await read(def, 'a')).toMatchObject({ itemId: '1' });
    });

    it('a write expecting the version it read succeeds and moves the version; one holding an older version loses', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1')]);
      const v1 = (await read(def, 'a'))!.etag!;
      const won = await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { contentHash: 'newer', contentInDoubt: true }), ifMatch: v1 }]);
      const v2 = won.get(hash('a'));
      expect(v2).toBeTruthy();
      expect(await read(def, 'a')).toMatchObject({ contentHash: 'newer', contentInDoubt: true });
      // The version handed back is the one a later read shows: it can be the next precondition.
      const again = await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { contentHash: 'newest' }), ifMatch: v2! }]);
      expect(again.has(hash('a'))).toBe(true);
      const lost = await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { contentHash: 'older' }), ifMatch: v1 }]);
      expect(lost.size).toBe(0);
      expect(await read(def, 'a')).toMatchObject({ contentHash: 'newest', contentInDoubt: false });
    });

    it('per-field hashes round-trip through both writes, and a write without them clears them', async () => {
      const def = `def-${uid()}`;
      const fieldHashes = { contentHash: 'c1', byField: { Title: '0123456789abcdef', Amount: 'fedcba9876543210' } };
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1', { contentHash: 'c1', fieldHashes })]);
      const stored = await read(def, 'a');
      expect(stored?.fieldHashes).toEqual(fieldHashes);
      const next = { contentHash: 'c2', byField: { Title: '1111111111111111', Amount: 'fedcba9876543210' } };
      await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { contentHash: 'c2', fieldHashes: next }), ifMatch: stored!.etag! }]);
      expect((await read(def, 'a'))?.fieldHashes).toEqual(next);
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1', { contentHash: 'c3' })]);
      expect((await read(def, 'a'))?.fieldHashes ?? null).toBeNull();
      await ctx.store.putLedgerIfMatch([{ entry: entry(def, 'b', 'list-1', '2', { fieldHashes }), ifMatch: null }]);
      expect((await read(def, 'b'))?.fieldHashes).toEqual(fieldHashes);
    });

    it('a plain putLedger moves the version too, and a deleted entry matches no version', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
      const va = (await read(def, 'a'))!.etag!;
      const vb = (await read(def, 'b'))!.etag!;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1', { contentHash: 'plain' })]);
      await ctx.store.deleteLedger(def, [hash('b')]);
      const result = await ctx.store.putLedgerIfMatch([
        { entry: entry(def, 'a', 'list-1', '1', { contentHash: 'late' }), ifMatch: va },
        { entry: entry(def, 'b', 'list-1', '2', { contentHash: 'late' }), ifMatch: vb },
      ]);
      expect(result.size).toBe(0);
      expect(await read(def, 'a')).toMatchObject({ contentHash: 'plain' });
      expect(await read(def, 'b')).toBeUndefined();
    });

    it('one lost race does not stop the other entries of the call, and the reverse index follows the winners', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
      const vb = (await read(def, 'b'))!.etag!;
      const result = await ctx.store.putLedgerIfMatch([
        { entry: entry(def, 'a', 'list-2', '5', { state: 'moving', movedFrom: { listId: 'list-1', itemId: '1' } }), ifMatch: 'not-a-version-of-this-store' },
        { entry: entry(def, 'b', 'list-2', '6'), ifMatch: vb },
        { entry: entry(def, 'c', 'list-2', null), ifMatch: null },
      ]);
      expect([...result.keys()].sort()).toEqual([hash('b'), hash('c')].sort());
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '2')).toBeNull();
      expect(await ctx.store.getLedgerByItem(def, 'list-2', '6')).toMatchObject({ identityHash: hash('b') });
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('a') });
    });

    it('an item claimed by another identity is refused with state_conflict, as by putLedger', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1'), entry(def, 'b', 'list-1', '2')]);
      const vb = (await read(def, 'b'))!.etag!;
      await expectSyncError(ctx.store.putLedgerIfMatch([{ entry: entry(def, 'b', 'list-1', '1'), ifMatch: vb }]), 'state_conflict');
      expect(await ctx.store.getLedgerByItem(def, 'list-1', '1')).toMatchObject({ identityHash: hash('a') });
    });

    it('of writers that all read one version and write at once, exactly one wins', async () => {
      const def = `def-${uid()}`;
      await ctx.store.putLedger([entry(def, 'a', 'list-1', '1')]);
      const v = (await read(def, 'a'))!.etag!;
      const outcomes = await Promise.all(
        Array.from({ length: 6 }, (_, n) => (n % 2 ? ctx.another() : ctx.store).putLedgerIfMatch([{ entry: entry(def, 'a', 'list-1', '1', { contentHash: `w${n}` }), ifMatch: v }])),
      );
      const winners = outcomes.map((o, n) => (o.has(hash('a')) ? n : -1)).filter((n) => n >= 0);
      expect(winners).toHaveLength(1);
      expect(await read(def, 'a')).toMatchObject({ contentHash: `w${winners[0]}` });
    });
  });
}
