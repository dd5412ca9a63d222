import { uid, hash, type ContractContext } from './harness';

/** DriftReportStore: reports replaced by id, listed newest first, differences stored and read a page at a time. */
export function driftReportContract(ctx: ContractContext): void {
  describe('drift reports', () => {
    it('a drift report round-trips and is replaced by a later save with the same id', async () => {
      const def = `def-${uid()}`;
      const createdAt = '2025-01-01T00:00:00.000Z';
      expect(await ctx.store.getDriftReport(def, 'r1')).toBeNull();
      await ctx.store.putDriftReport({ definitionId: def, reportId: 'r1', createdAt, status: 'running', report: { counts: {} } });
      const findings = { counts: { missingInSharePoint: 1 }, missingInSharePoint: [{ identityHash: hash('x'), listId: 'list-1', itemId: '5' }] };
      await ctx.store.putDriftReport({ definitionId: def, reportId: 'r1', createdAt, status: 'done', report: findings });
      expect(await ctx.store.getDriftReport(def, 'r1')).toEqual({ definitionId: def, reportId: 'r1', createdAt, status: 'done', report: findings });
    });

    it("a definition's drift reports are listed newest first, page by page, each once in its latest state", async () => {
      const def = `def-${uid()}`;
      const times = ['2025-01-01T00:00:00.000Z', '2025-01-03T00:00:00.000Z', '2025-01-02T00:00:00.000Z'];
      for (const [n, createdAt] of times.entries()) await ctx.store.putDriftReport({ definitionId: def, reportId: `r${n}`, createdAt, status: 'queued', report: null });
      await ctx.store.putDriftReport({ definitionId: def, reportId: 'r0', createdAt: times[0]!, status: 'done', report: { counts: { itemsScanned: 3 } } });
      await ctx.store.putDriftReport({ definitionId: `other-${uid()}`, reportId: 'r9', createdAt: times[1]!, status: 'queued', report: null });
      const first = await ctx.store.listDriftReports(def, { limit: 2 });
      expect(first.items.map((r) => r.reportId)).toEqual(['r1', 'r2']);
      expect(first.next).toBeDefined();
      const second = await ctx.store.listDriftReports(def, { limit: 2, next: first.next });
      expect(second.items).toEqual([{ definitionId: def, reportId: 'r0', createdAt: times[0], status: 'done', report: { counts: { itemsScanned: 3 } } }]);
      expect(second.next).toBeUndefined();
    });

    it('differences are stored per (kind, page), replaced by a later save, and an unknown page is null', async () => {
      const def = `def-${uid()}`;
      const items = [{ kind: 'orphanInSharePoint', listId: 'l/1', itemId: '7', identityHash: hash('a') }];
      expect(await ctx.store.getDriftDifferences(def, 'r1', 'orphanInSharePoint', 0)).toBeNull();
      await ctx.store.putDriftDifferences({ definitionId: def, reportId: 'r1', kind: 'orphanInSharePoint', page: 0, items: [] });
      await ctx.store.putDriftDifferences({ definitionId: def, reportId: 'r1', kind: 'orphanInSharePoint', page: 0, items });
      await ctx.store.putDriftDifferences({ definitionId: def, reportId: 'r1', kind: 'orphanInSharePoint', page: 1, items: [] });
      expect(await ctx.store.getDriftDifferences(def, 'r1', 'orphanInSharePoint', 0)).toEqual(items);
      expect(await ctx.store.getDriftDifferences(def, 'r1', 'orphanInSharePoint', 1)).toEqual([]);
      expect(await ctx.store.getDriftDifferences(def, 'r1', 'missingInSharePoint', 0)).toBeNull();
      expect(await ctx.store.getDriftDifferences(def, 'r2', 'orphanInSharePoint', 0)).toBeNull();
    });
  });
}
