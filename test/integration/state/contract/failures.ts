import { expectSyncError, uid, hash, run, type ContractContext } from './harness';

/** FailureStore: per-row failures and quarantine, paged reads, and redacted reasons. */
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

    it('failures page in identity order, due or quarantined only, and are found by hash', async () => {
      const def = `def-${uid()}`;
      const at = '2025-01-01T00:00:00.000Z';
      const hashes = Array.from({ length: 7 }, (_, i) => hash(`row-${i}`));
      await Promise.all(
        hashes.map((h, i) => ctx.store.putFailure({ definitionId: def, identityHash: h, key: [i], attempts: 1, lastError: `e${i}`, quarantined: i % 3 === 0, firstFailedAt: at, lastFailedAt: at })),
      );
      await ctx.store.putFailure({ definitionId: `${def}-other`, identityHash: hashes[1]!, key: [1], attempts: 1, lastError: 'x', quarantined: false, firstFailedAt: at, lastFailedAt: at });
      const readAll = async (quarantined?: boolean) => {
        const seen: string[] = [];
        let next: string | undefined;
        do {
          const page = await ctx.store.pageFailures(def, { quarantined, limit: 2, next });
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
      const found = await ctx.store.getFailuresFor(def, [hashes[2]!, hashes[3]!, hash('absent')]);
      expect([...found.keys()].sort()).toEqual([hashes[2]!, hashes[3]!].sort());
      expect(found.get(hashes[3]!)).toMatchObject({ key: [3], quarantined: true, lastError: 'e3' });
      expect(await ctx.store.getFailuresFor(def, [])).toEqual(new Map());
      await expectSyncError(ctx.store.pageFailures(def, { next: 'not-a-token' }), 'invalid_page_token');
    });

    it('a password or connection string in a driver error never reaches the store, in failure reasons or run errors', async () => {
      const def = `def-${uid()}`;
      const at = '2025-01-01T00:00:00.000Z';
      const driverText = 'connect failed: postgres://sync:Hunter2Secret@db.internal:5432/app (Server=db;User Id=sa;Password=Hunter2Secret;)';
      await ctx.store.putFailure({ definitionId: def, identityHash: hash('x'), key: [1], attempts: 1, lastError: driverText, quarantined: false, firstFailedAt: at, lastFailedAt: at });
      const [failure] = await ctx.store.getFailures(def);
      expect(failure!.lastError).not.toContain('Hunter2Secret');
      expect(failure!.lastError).toContain('db.internal:5432'); // the rest stays, to act on

      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date(), { error: driverText }));
      expect((await ctx.store.getRun(runId))!.error).not.toContain('Hunter2Secret');
      await ctx.store.updateRun(runId, { status: 'failed', error: `planning failed: ${driverText}` });
      const stored = await ctx.store.getRun(runId);
      expect(stored!.error).not.toContain('Hunter2Secret');
      expect(stored!.error).toContain('planning failed');
    });
  });
}
