import { uid, hash, type ContractContext } from './harness';

/** FailureStore: per-row failures and quarantine. */
export function failureContract(ctx: ContractContext): void {
  describe('failures', () => {
    it('failures are upserted per row, quarantined ones hidden unless asked, and deleted by hash', async () => {
      const def = `def-${uid()}`;
      const at = '2025-01-01T00:00:00.000Z';
      const base = { definitionId: def, key: [1, 'a'], attempts: 1, lastError: 'Title too long', quarantined: false, firstFailedAt: at, lastFailedAt: at };
      await ctx.store.putFailure({ ...base, identityHash: hash('a'), lastRunId: 'run-1' });
      await ctx.store.putFailure({ ...base, identityHash: hash('b'), key: [2, 'b'] });
      await ctx.store.putFailure({ ...base, identityHash: hash('a'), attempts: 5, quarantined: true, lastError: 'still too long' });
      expect((await ctx.store.getFailures(def)).map((f) => f.identityHash)).toEqual([hash('b')]);
      const all = await ctx.store.getFailures(def, { includeQuarantined: true });
      expect(all).toHaveLength(2);
      expect(all.find((f) => f.identityHash === hash('a'))).toMatchObject({ attempts: 5, quarantined: true, lastError: 'still too long', key: [1, 'a'] });
      expect(all.find((f) => f.identityHash === hash('b'))).toMatchObject({ key: [2, 'b'], firstFailedAt: at });
      await ctx.store.deleteFailures(def, [hash('a'), hash('b'), hash('zzz')]);
      expect(await ctx.store.getFailures(def, { includeQuarantined: true })).toEqual([]);
    });
  });
}
