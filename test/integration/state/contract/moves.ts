import { uid, hash, type ContractContext } from './harness';

/** MoveStore: the move audit, recorded once per move. */
export function moveContract(ctx: ContractContext): void {
  describe('moves', () => {
    it('moves are listed newest first, paged, and recording the same move twice keeps one', async () => {
      const def = `def-${uid()}`;
      const base = Date.parse('2025-01-01T00:00:00.000Z');
      for (let i = 0; i < 5; i++) {
        await ctx.store.addMove({
          definitionId: def,
          moveId: `m${i}`,
          identityHash: hash(`m${i}`),
          from: { listId: 'list-1', itemId: String(i) },
          to: { listId: 'list-2', itemId: String(100 + i) },
          runId: 'run-1',
          at: new Date(base + i * 1000).toISOString(),
        });
      }
      await ctx.store.addMove({ definitionId: def, moveId: 'm2', identityHash: hash('m2'), from: { listId: 'list-1', itemId: '2' }, to: { listId: 'list-2', itemId: '102' }, at: new Date(base + 9000).toISOString() });
      const first = await ctx.store.listMoves(def, { limit: 3 });
      expect(first.items.map((m) => m.moveId)).toEqual(['m4', 'm3', 'm2']);
      expect(first.items[0]).toMatchObject({ from: { listId: 'list-1', itemId: '4' }, to: { listId: 'list-2', itemId: '104' }, runId: 'run-1', identityHash: hash('m4') });
      const second = await ctx.store.listMoves(def, { limit: 3, next: first.next });
      expect(second.items.map((m) => m.moveId)).toEqual(['m1', 'm0']);
      expect(second.next).toBeUndefined();
    });
  });
}
