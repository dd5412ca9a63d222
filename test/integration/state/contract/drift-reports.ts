import { uid, hash, type ContractContext } from './harness';

/** DriftReportStore: reports replaced by id. */
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
  });
}
