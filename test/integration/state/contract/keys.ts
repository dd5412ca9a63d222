import { uid, hash, entry, run, type ContractContext } from './harness';

/** Ids with characters that Table Storage keys forbid, across aggregates. */
export function awkwardKeysContract(ctx: ContractContext): void {
  describe('keys with awkward characters', () => {
    it('list, item, lease, source and report ids with / \\ # ? _ ~ % and control characters round-trip', async () => {
      const def = `def_${uid()}`;
      const list = 'Orders/2024#Q1?x\\y_z~%\u0001';
      const item = "it'em_/1";
      await ctx.store.putLedger([entry(def, 'a', list, item), entry(def, 'b', 'Orders', '2024#Q1?x\\y_z~%\u0001_it\'em_/1')]);
      expect(await ctx.store.getLedgerByItem(def, list, item)).toMatchObject({ identityHash: hash('a'), listId: list, itemId: item });
      expect(await ctx.store.getLedgerByItem(def, 'Orders', '2024#Q1?x\\y_z~%\u0001_it\'em_/1')).toMatchObject({ identityHash: hash('b') });
      await ctx.store.putCursor({ definitionId: def, sourceId: 'src/#?', position: 'p', mappingVersion: 1 });
      expect(await ctx.store.getCursor(def, 'src/#?')).toMatchObject({ sourceId: 'src/#?', position: 'p' });
      expect(await ctx.store.acquireLease(`lease/${def}#?`, 'h', 10_000)).toBe(true);
      await ctx.store.putDriftReport({ definitionId: def, reportId: 'r/1#?', createdAt: new Date().toISOString(), status: 'done', report: null });
      expect((await ctx.store.getDriftReport(def, 'r/1#?'))?.reportId).toBe('r/1#?');
      const runId = `run/${uid()}#?`;
      await ctx.store.createRun(run(def, runId, new Date()));
      expect((await ctx.store.getRun(runId))?.runId).toBe(runId);
      expect((await ctx.store.listRuns(def)).items.map((r) => r.runId)).toEqual([runId]);
    });
  });
}
