import { uid, type ContractContext } from './harness';

/** CursorStore: one cursor per definition and source. */
export function cursorContract(ctx: ContractContext): void {
  describe('cursors', () => {
    it('a cursor is kept per definition and source with its mapping version', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getCursor(def, 'src-a')).toBeNull();
      await ctx.store.putCursor({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-01-01T00:00:00Z","key":[1]}', mappingVersion: 2 });
      await ctx.store.putCursor({ definitionId: def, sourceId: 'src-b', position: null, mappingVersion: 1 });
      expect(await ctx.store.getCursor(def, 'src-a')).toMatchObject({ position: '{"ts":"2024-01-01T00:00:00Z","key":[1]}', mappingVersion: 2 });
      expect(await ctx.store.getCursor(def, 'src-b')).toMatchObject({ position: null, mappingVersion: 1 });
      await ctx.store.putCursor({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-02-01T00:00:00Z"}', mappingVersion: 3 });
      const got = await ctx.store.getCursor(def, 'src-a');
      expect(got).toMatchObject({ definitionId: def, sourceId: 'src-a', position: '{"ts":"2024-02-01T00:00:00Z"}', mappingVersion: 3 });
      expect(got?.updatedAt).toBeTruthy();
    });
  });
}
