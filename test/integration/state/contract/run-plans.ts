import { uid, hash, expectSyncError, run, type ContractContext } from './harness';

/** RunPlanStore and the run's RU counter: a dry run's plan stored and read a page at a time, deleted per run; RU added like any counter. */
export function runPlanContract(ctx: ContractContext): void {
  describe('run plans', () => {
    it('plan pages are stored per (list, op, page), replaced by a later save, and an unknown page is null', async () => {
      const runId = `run-${uid()}`;
      const items = [{ op: 'update', identityHash: hash('a'), key: [1], list: 'Orders 2025', changes: { Title: 'x' } }];
      expect(await ctx.store.getRunPlanPage(runId, 'Orders 2025', 'update', 0)).toBeNull();
      await ctx.store.putRunPlanPage({ runId, list: 'Orders 2025', op: 'update', page: 0, items: [] });
      await ctx.store.putRunPlanPage({ runId, list: 'Orders 2025', op: 'update', page: 0, items });
      await ctx.store.putRunPlanPage({ runId, list: 'Orders 2025', op: 'update', page: 1, items: [] });
      expect(await ctx.another().getRunPlanPage(runId, 'Orders 2025', 'update', 0)).toEqual(items);
      expect(await ctx.store.getRunPlanPage(runId, 'Orders 2025', 'update', 1)).toEqual([]);
      expect(await ctx.store.getRunPlanPage(runId, 'Orders 2025', 'create', 0)).toBeNull();
      expect(await ctx.store.getRunPlanPage(runId, 'Orders 2026', 'update', 0)).toBeNull();
      expect(await ctx.store.getRunPlanPage(`run-${uid()}`, 'Orders 2025', 'update', 0)).toBeNull();
    });

    it("deleting a run's plan removes every page of that run and no other run's", async () => {
      const runId = `run-${uid()}`;
      const other = `run-${uid()}`;
      const lists = ['Orders/2025 "a"', "Orders 2026 'b'", 'Ünïcode ✓'];
      // More than one Table Storage transaction's worth (100) of pages.
      for (const list of lists) for (let page = 0; page < 40; page++) await ctx.store.putRunPlanPage({ runId, list, op: page % 2 ? 'create' : 'delete', page, items: [{ page }] });
      await ctx.store.putRunPlanPage({ runId: other, list: lists[0]!, op: 'create', page: 0, items: [{ kept: true }] });
      expect(await ctx.store.getRunPlanPage(runId, lists[2]!, 'create', 39)).toEqual([{ page: 39 }]);
      await ctx.store.deleteRunPlan(runId);
      for (const list of lists) expect(await ctx.store.getRunPlanPage(runId, list, 'create', 1)).toBeNull();
      expect(await ctx.store.getRunPlanPage(runId, lists[1]!, 'delete', 0)).toBeNull();
      expect(await ctx.store.getRunPlanPage(other, lists[0]!, 'create', 0)).toEqual([{ kept: true }]);
      await ctx.store.deleteRunPlan(runId);
      await ctx.store.deleteRunPlan(`run-${uid()}`);
    });

    it('a plan page with an unknown operation or a page number out of range is refused before any I/O', async () => {
      const runId = `run-${uid()}`;
      await expectSyncError(ctx.store.putRunPlanPage({ runId, list: 'L', op: 'upsert' as 'create', page: 0, items: [] }), 'state_invalid');
      await expectSyncError(ctx.store.putRunPlanPage({ runId, list: 'L', op: 'create', page: -1, items: [] }), 'state_invalid');
      await expectSyncError(ctx.store.getRunPlanPage(runId, '', 'create', 0), 'state_invalid');
    });

    it("a run's RU spent starts at 0 and adds up across instances, with no increment lost", async () => {
      const def = `def-${uid()}`;
      const runId = `run-${uid()}`;
      await ctx.store.createRun(run(def, runId, new Date('2025-03-01T10:00:00.000Z')));
      expect((await ctx.store.getRun(runId))?.ruSpent).toBe(0);
      await Promise.all(Array.from({ length: 12 }, (_, i) => (i % 2 ? ctx.another() : ctx.store).incrementRun(runId, { ruSpent: i + 1 })));
      const { run: after, applied } = await ctx.store.incrementRunOnce(runId, 'batch:b1', { ruSpent: 22, batchesSettled: 1 });
      expect(applied).toBe(true);
      expect(after.ruSpent).toBe(78 + 22);
      expect((await ctx.store.incrementRunOnce(runId, 'batch:b1', { ruSpent: 22 })).run.ruSpent).toBe(100);
      expect((await ctx.store.updateRun(runId, { status: 'succeeded' })).ruSpent).toBe(100);
      expect((await ctx.store.listRuns(def)).items[0]?.ruSpent).toBe(100);
    });
  });
}
