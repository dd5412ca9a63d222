import { expectSyncError, uid, type ContractContext } from './harness';

/** ScheduleStore: compare-and-set of the last slot, the drift slot and the reconcile pass count; the watch tokens. */
export function scheduleContract(ctx: ContractContext): void {
  describe('schedule bookkeeping', () => {
    it('casLastSlot lets exactly one of concurrent callers win, from empty and from a slot', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getLastSlot(def)).toBeNull();
      const stores = [ctx.store, ctx.another()];
      const first = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casLastSlot(def, null, `2025-01-01T00:0${i}:00Z`)));
      expect(first.filter(Boolean)).toHaveLength(1);
      const winner = `2025-01-01T00:0${first.indexOf(true)}:00Z`;
      expect(await ctx.store.getLastSlot(def)).toBe(winner);
      const second = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casLastSlot(def, winner, `2025-01-01T01:0${i}:00Z`)));
      expect(second.filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.getLastSlot(def)).toBe(`2025-01-01T01:0${second.indexOf(true)}:00Z`);
    });

    it('casLastSlot refuses a stale expected slot', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.casLastSlot(def, null, 's1')).toBe(true);
      expect(await ctx.store.casLastSlot(def, null, 's2')).toBe(false);
      expect(await ctx.store.casLastSlot(def, 's0', 's2')).toBe(false);
      expect(await ctx.store.casLastSlot(def, 's1', 's2')).toBe(true);
      expect(await ctx.store.getLastSlot(def)).toBe('s2');
    });

    it('the drift slot is its own value, changed by compare-and-set beside the run slot', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getDriftSlot(def)).toBeNull();
      expect(await ctx.store.casLastSlot(def, null, 'run-slot')).toBe(true);
      expect(await ctx.store.casDriftSlot(def, null, 'd1')).toBe(true);
      expect(await ctx.store.casDriftSlot(def, null, 'd2')).toBe(false);
      expect(await ctx.store.casDriftSlot(def, 'd1', 'd2')).toBe(true);
      expect([await ctx.store.getDriftSlot(def), await ctx.store.getLastSlot(def)]).toEqual(['d2', 'run-slot']);
    });

    it('the drift watch keeps a delta token per list, replaced whole', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getWatchTokens(def)).toEqual({});
      const long = 'x'.repeat(1500);
      await ctx.store.putWatchTokens(def, { listA: long, listB: 'b1' });
      await ctx.store.putWatchTokens(def, { listA: long, listB: 'b2' });
      expect(await ctx.another().getWatchTokens(def)).toEqual({ listA: long, listB: 'b2' });
    });

    it('the reconcile mark is replaced whole, cleared, and kept per definition apart from the pass count', async () => {
      const def = `def-${uid()}`;
      const other = `def-${uid()}`;
      expect(await ctx.store.getReconcileMark(def)).toBeNull();
      const mark = { digest: '200000:184386544056771788154:-3659581467193089398493', key: ['tenant', 'id'], mappingVersion: 3, groundedAt: '2026-12-01T10:00:00.000Z' };
      await ctx.store.putReconcileMark(def, mark);
      await ctx.store.putReconcileMark(other, { ...mark, digest: '1:2:3' });
      expect(await ctx.another().getReconcileMark(def)).toEqual(mark);
      await ctx.store.putReconcileMark(def, { ...mark, digest: '0:0:0' });
      expect(await ctx.store.getReconcileMark(def)).toEqual({ ...mark, digest: '0:0:0' });
      expect(await ctx.store.casReconcilePasses(def, 0, 1)).toBe(true);
      await ctx.another().putReconcileMark(def, null);
      expect(await ctx.store.getReconcileMark(def)).toBeNull();
      await ctx.store.putReconcileMark(def, null); // clearing what is clear changes nothing
      expect(await ctx.store.getReconcileMark(def)).toBeNull();
      expect(await ctx.store.getReconcilePasses(def)).toBe(1);
      expect((await ctx.store.getReconcileMark(other))?.digest).toBe('1:2:3');
      // a mark written after a clear is there again
      await ctx.store.putReconcileMark(def, mark);
      expect(await ctx.store.getReconcileMark(def)).toEqual(mark);
    });

    it('the reconcile pass count starts at zero and changes only by compare-and-set', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getReconcilePasses(def)).toBe(0);
      expect(await ctx.store.casReconcilePasses(def, 0, 1)).toBe(true);
      expect(await ctx.store.casReconcilePasses(def, 0, 2)).toBe(false);
      expect(await ctx.store.casReconcilePasses(def, 1, 2)).toBe(true);
      expect(await ctx.store.getReconcilePasses(def)).toBe(2);
      // A reset to zero, and counting on from the stored zero.
      expect(await ctx.store.casReconcilePasses(def, 2, 0)).toBe(true);
      expect(await ctx.store.getReconcilePasses(def)).toBe(0);
      expect(await ctx.store.casReconcilePasses(def, 0, 1)).toBe(true);
      expect(await ctx.store.getReconcilePasses(def)).toBe(1);
    });

    it('of concurrent reconcile counters exactly one wins, from none counted and from a count', async () => {
      const def = `def-${uid()}`;
      const stores = [ctx.store, ctx.another()];
      const first = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casReconcilePasses(def, 0, i + 1)));
      expect(first.filter(Boolean)).toHaveLength(1);
      const winner = first.indexOf(true) + 1;
      expect(await ctx.store.getReconcilePasses(def)).toBe(winner);
      const second = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.casReconcilePasses(def, winner, 100 + i)));
      expect(second.filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.getReconcilePasses(def)).toBe(100 + second.indexOf(true));
    });

    it('the reconcile pass count is kept per definition and apart from the last slot', async () => {
      const def = `def-${uid()}`;
      const other = `def-${uid()}`;
      expect(await ctx.store.casLastSlot(def, null, '2025-01-01T00:00:00Z')).toBe(true);
      expect(await ctx.store.getReconcilePasses(def)).toBe(0);
      expect(await ctx.store.casReconcilePasses(def, 0, 3)).toBe(true);
      expect(await ctx.store.casLastSlot(def, '2025-01-01T00:00:00Z', '2025-01-01T00:01:00Z')).toBe(true);
      expect(await ctx.store.getReconcilePasses(def)).toBe(3);
      expect(await ctx.store.getLastSlot(def)).toBe('2025-01-01T00:01:00Z');
      expect(await ctx.store.getReconcilePasses(other)).toBe(0);
      expect(await ctx.store.getLastSlot(other)).toBeNull();
    });

    it('a reconcile pass count that is not a whole number of 0 or more is refused', async () => {
      const def = `def-${uid()}`;
      await expectSyncError(ctx.store.casReconcilePasses(def, 0, -1), 'state_invalid');
      await expectSyncError(ctx.store.casReconcilePasses(def, 0, 1.5), 'state_invalid');
      await expectSyncError(ctx.store.casReconcilePasses(def, -2, 1), 'state_invalid');
      expect(await ctx.store.getReconcilePasses(def)).toBe(0);
    });
  });
}
