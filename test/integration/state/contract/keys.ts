import type { StateStore } from '../../../../src/core/ports/state';
import { uid, hash, entry, run, type ContractContext } from './harness';

/** Ids with characters that Table Storage keys forbid, across aggregates. */
export function awkwardKeysContract(ctx: ContractContext): void {
  describe('keys with awkward characters', () => {
    let store: StateStore;
    beforeAll(() => {
      store = ctx.store;
    });

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
}
