import { uid, expectSyncError, run, shuffle, type ContractContext } from './harness';

/** RunStore: runs, counters that lose no increment, keyed increments that count once, newest-first pages. */
export function runContract(ctx: ContractContext): void {
  describe('runs', () => {
    it('a run round-trips and updates keep its counters', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date('2025-03-01T10:00:00.000Z'), { sourceId: 'src-a', highWater: '{"ts":"x"}' }));
      expect(await ctx.store.getRun(runId)).toMatchObject({ runId, definitionId: def, status: 'running', sourceId: 'src-a', highWater: '{"ts":"x"}', startedAt: '2025-03-01T10:00:00.000Z' });
      await ctx.store.incrementRun(runId, { read: 10, batchesExpected: 2 });
      const done = await ctx.store.updateRun(runId, { status: 'succeeded', finishedAt: '2025-03-01T10:05:00.000Z', error: null });
      expect(done).toMatchObject({ status: 'succeeded', batchesExpected: 2, counts: { read: 10 } });
      expect(await ctx.store.getRun(runId)).toMatchObject({ status: 'succeeded', finishedAt: '2025-03-01T10:05:00.000Z', counts: { read: 10, created: 0 }, batchesExpected: 2 });
      expect(await ctx.store.getRun(`run-${uid()}`)).toBeNull();
      await expectSyncError(ctx.store.updateRun(`run-${uid()}`, { status: 'failed' }), 'not_found');
      await expectSyncError(ctx.store.incrementRun(`run-${uid()}`, { read: 1 }), 'not_found');
    });

    it('a run\'s wait and progress marks round-trip, are cleared with null, and a cancelled run reads back cancelled', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date('2025-03-01T10:00:00.000Z'), { progressAt: '2025-03-01T10:00:00.000Z' }));
      expect(await ctx.store.getRun(runId)).toMatchObject({ progressAt: '2025-03-01T10:00:00.000Z', waitingUntil: null, waitingReason: null });
      const reason = `throttled: SharePoint asked to wait ${'z'.repeat(40_000)}`;
      await ctx.store.updateRun(runId, { waitingUntil: '2025-03-01T10:07:30.000Z', waitingReason: reason, progressAt: '2025-03-01T10:02:00.000Z' });
      // Counters change without touching the marks, from any instance.
      await ctx.another().incrementRun(runId, { batchesSettled: 1 });
      expect(await ctx.store.getRun(runId)).toMatchObject({ waitingUntil: '2025-03-01T10:07:30.000Z', waitingReason: reason, progressAt: '2025-03-01T10:02:00.000Z', batchesSettled: 1 });
      await ctx.store.updateRun(runId, { waitingUntil: null, waitingReason: null });
      expect(await ctx.store.getRun(runId)).toMatchObject({ waitingUntil: null, waitingReason: null, progressAt: '2025-03-01T10:02:00.000Z' });
      await ctx.store.updateRun(runId, { status: 'cancelled', finishedAt: '2025-03-01T10:09:00.000Z', error: 'cancelled by an admin' });
      expect((await ctx.store.listRuns(def)).items).toEqual([expect.objectContaining({ runId, status: 'cancelled', finishedAt: '2025-03-01T10:09:00.000Z', progressAt: '2025-03-01T10:02:00.000Z' })]);
      await expectSyncError(ctx.store.updateRun(runId, { waitingUntil: 'soon' }), 'state_invalid');
    });

    it('creating a run with an id already used is refused with state_conflict', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date()));
      await expectSyncError(ctx.store.createRun(run(def, runId, new Date())), 'state_conflict');
    });

    it('a dry-run plan (300 KB) and a long error round-trip', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      const plan = { writes: Array.from({ length: 2000 }, (_, i) => ({ op: 'create', key: [i], fields: { Title: `Row ${i} ${'y'.repeat(120)}` } })) };
      await ctx.store.createRun(run(def, runId, new Date(), { mode: 'dryRun', plan }));
      await ctx.store.updateRun(runId, { error: 'e'.repeat(50_000) });
      const got = await ctx.store.getRun(runId);
      expect(got?.plan).toEqual(plan);
      expect(got?.error).toHaveLength(50_000);
    });

    it('50 concurrent progress increments lose none', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date(), { batchesExpected: 50 }));
      const stores = [ctx.store, ctx.another()];
      const after = await Promise.all(Array.from({ length: 50 }, (_, i) => stores[i % 2]!.incrementRun(runId, { batchesSettled: 1, created: 2 })));
      const final = await ctx.store.getRun(runId);
      expect(final).toMatchObject({ batchesSettled: 50, batchesExpected: 50, counts: { created: 100 } });
      // Each caller saw its own increment applied: 1..50, each once.
      expect(after.map((r) => r.batchesSettled).sort((a, b) => a - b)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    });

    it('a keyed increment counts once however often and however concurrently it is delivered', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date(), { batchesExpected: 3 }));
      const stores = [ctx.store, ctx.another()];
      const twins = await Promise.all(Array.from({ length: 10 }, (_, i) => stores[i % 2]!.incrementRunOnce(runId, 'batch-1', { batchesSettled: 1, updated: 5 })));
      expect(twins.filter((r) => r.applied)).toHaveLength(1);
      for (const r of twins) expect(r.run.batchesSettled).toBeGreaterThanOrEqual(r.applied ? 1 : 0);
      const others = await Promise.all(['batch-2', 'batch-3'].map((k) => ctx.store.incrementRunOnce(runId, k, { batchesSettled: 1 })));
      expect(others.every((r) => r.applied)).toBe(true);
      const again = await ctx.store.incrementRunOnce(runId, 'batch-2', { batchesSettled: 1 });
      expect(again).toMatchObject({ applied: false, run: { batchesSettled: 3, counts: { updated: 5 } } });
      expect(await ctx.store.getRun(runId)).toMatchObject({ batchesSettled: 3, batchesExpected: 3, counts: { updated: 5 } });
      // A marker is per run: the same key on another run counts there.
      const otherRun = `run-${uid()}`;
      await ctx.store.createRun(run(def, otherRun, new Date()));
      expect((await ctx.store.incrementRunOnce(otherRun, 'batch-1', { batchesSettled: 1 })).applied).toBe(true);
      await expectSyncError(ctx.store.incrementRunOnce(`run-${uid()}`, 'batch-1', { batchesSettled: 1 }), 'not_found');
      expect((await ctx.store.listRuns(def)).items.map((r) => r.runId).sort()).toEqual([runId, otherRun].sort());
    });

    it('an unknown counter name is refused before anything is written', async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date()));
      await expectSyncError(ctx.store.incrementRun(runId, { nonsense: 1 } as never), 'state_invalid');
    });

    it('runs page newest first across pages and only for their definition', async () => {
      const def = `def-${uid()}`;
      const base = Date.parse('2025-01-01T00:00:00.000Z');
      await Promise.all(shuffle(Array.from({ length: 7 }, (_, i) => i)).map((i) => ctx.store.createRun(run(def, `${def}-r${i}`, new Date(base + i * 60_000)))));
      await ctx.store.createRun(run(`def-${uid()}`, `other-${uid()}`, new Date(base + 3 * 60_000)));
      const seen: string[] = [];
      let next: string | undefined;
      let pages = 0;
      do {
        const page = await ctx.store.listRuns(def, { limit: 3, next });
        seen.push(...page.items.map((r) => r.runId));
        next = page.next;
        pages++;
      } while (next);
      expect(pages).toBe(3);
      expect(seen).toEqual([6, 5, 4, 3, 2, 1, 0].map((i) => `${def}-r${i}`));
      expect((await ctx.store.listRuns(def)).items).toHaveLength(7);
      expect(await ctx.store.listRuns(`def-${uid()}`)).toEqual({ items: [] });
    });

    it('a page token that was not issued by the store is refused', async () => {
      await expectSyncError(ctx.store.listRuns('def-x', { next: 'not-a-token' }), 'invalid_page_token');
    });
  });
}
