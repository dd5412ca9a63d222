import { uid, type ContractContext } from './harness';

/** LeaseStore: one holder at a time, expiry and takeover. */
export function leaseContract(ctx: ContractContext): void {
  describe('leases', () => {
    it('of 20 concurrent lease attempts exactly one wins', async () => {
      const name = `run:def-${uid()}`;
      const stores = [ctx.store, ctx.another(), ctx.another()];
      const results = await Promise.all(Array.from({ length: 20 }, (_, i) => stores[i % 3]!.acquireLease(name, `holder-${i}`, 30_000)));
      expect(results.filter(Boolean)).toHaveLength(1);
    });

    it('a live lease cannot be taken over and an expired one can', async () => {
      const name = `run:def-${uid()}`;
      expect(await ctx.store.acquireLease(name, 'a', 300)).toBe(true);
      expect(await ctx.store.acquireLease(name, 'b', 30_000)).toBe(false);
      await new Promise((r) => setTimeout(r, 450));
      const takers = await Promise.all(['b', 'c', 'd', 'e'].map((h) => ctx.store.acquireLease(name, h, 30_000)));
      expect(takers.filter(Boolean)).toHaveLength(1);
      expect(await ctx.store.renewLease(name, 'a', 30_000)).toBe(false);
    });

    it('only the holder renews or releases a lease, and the holder may re-acquire its own', async () => {
      const name = `run:def-${uid()}`;
      expect(await ctx.store.acquireLease(name, 'a', 30_000)).toBe(true);
      expect(await ctx.store.acquireLease(name, 'a', 30_000)).toBe(true);
      expect(await ctx.store.renewLease(name, 'a', 30_000)).toBe(true);
      expect(await ctx.store.renewLease(name, 'b', 30_000)).toBe(false);
      await ctx.store.releaseLease(name, 'b');
      expect(await ctx.store.acquireLease(name, 'b', 30_000)).toBe(false);
      await ctx.store.releaseLease(name, 'a');
      expect(await ctx.store.renewLease(name, 'a', 30_000)).toBe(false);
      expect(await ctx.store.acquireLease(name, 'b', 30_000)).toBe(true);
    });

    it('a release racing the holder\'s own renewal still frees the lease', async () => {
      // A late batch of a finished run renews while its finalizer releases: the run is over,
      // so the lease must not survive the race.
      for (let i = 0; i < 15; i++) {
        const name = `run:def-${uid()}`;
        expect(await ctx.store.acquireLease(name, 'run-1', 30_000)).toBe(true);
        await Promise.all([ctx.another().renewLease(name, 'run-1', 30_000), ctx.store.releaseLease(name, 'run-1'), ctx.another().renewLease(name, 'run-1', 30_000)]);
        // Either the renewals came first and the release removed them, or they found nothing.
        const released = await ctx.store.acquireLease(name, 'run-2', 30_000);
        if (!released) await ctx.store.releaseLease(name, 'run-1');
        expect({ iteration: i, released }).toEqual({ iteration: i, released: true });
      }
    });
  });
}
