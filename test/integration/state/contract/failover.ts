import type { FailoverEvent, SourceHealthRecord, StoredDefinition } from '../../../../src/core/ports/state';
import { definition, expectSyncError, uid, type ContractContext } from './harness';

/** FailoverStore: source health, failover events newest first, and the one-primary compare-and-set. */
export function failoverContract(ctx: ContractContext): void {
  const withSecondaries = (id: string): StoredDefinition => {
    const stored = definition(id);
    return {
      ...stored,
      definition: {
        ...stored.definition,
        sources: [
          { connectionId: 'src-a', role: 'primary', priority: 0 },
          { connectionId: 'src-b', role: 'secondary', priority: 1 },
          { connectionId: 'src-c', role: 'secondary', priority: 2 },
        ],
      },
    };
  };
  const health = (definitionId: string, sourceId: string, extra: Partial<SourceHealthRecord> = {}): SourceHealthRecord => ({
    definitionId,
    sourceId,
    consecutiveFailures: 0,
    lastProbeAt: '2025-01-01T00:00:00.000Z',
    lastSuccessAt: '2025-01-01T00:00:00.000Z',
    lastFailureAt: null,
    lastError: null,
    lastErrorCode: null,
    lagSeconds: null,
    serverRole: 'primary',
    ...extra,
  });

  describe('failover', () => {
    it('source health is kept per definition and source, and the last write wins', async () => {
      const def = `def-${uid()}`;
      expect(await ctx.store.getSourceHealth(def)).toEqual([]);
      await ctx.store.putSourceHealth(health(def, 'src-a'));
      await ctx.store.putSourceHealth(health(def, 'src-b', { serverRole: 'standby', lagSeconds: 1.5 }));
      await ctx.store.putSourceHealth(health(`${def}-other`, 'src-a', { consecutiveFailures: 9 }));
      const failing = health(def, 'src-a', { consecutiveFailures: 2, lastFailureAt: '2025-01-01T00:02:00.000Z', lastError: 'connection refused', lastErrorCode: 'source_unavailable' });
      await ctx.another().putSourceHealth(failing);
      const records = await ctx.store.getSourceHealth(def);
      expect([...records].sort((a, b) => a.sourceId.localeCompare(b.sourceId))).toEqual([failing, health(def, 'src-b', { serverRole: 'standby', lagSeconds: 1.5 })]);
      await expectSyncError(ctx.store.putSourceHealth(health(def, 'src-a', { lastProbeAt: 'yesterday' })), 'state_invalid');
    });

    it('failover events are listed newest first, paged, and recording one twice keeps one', async () => {
      const def = `def-${uid()}`;
      const base = Date.parse('2025-02-01T00:00:00.000Z');
      const event = (i: number): FailoverEvent => ({
        definitionId: def,
        eventId: `f${i}`,
        at: new Date(base + i * 60_000).toISOString(),
        trigger: i % 2 ? 'automatic' : 'manual',
        by: i % 2 ? 'automatic' : 'admin@contoso',
        from: i % 2 ? 'src-a' : 'src-b',
        to: i % 2 ? 'src-b' : 'src-a',
        cursorPolicy: 'carry',
        appliedPolicy: 'carry',
        cursorBefore: JSON.stringify({ at: 'mark', value: String(i) }),
        cursorAfter: null,
        reason: `event ${i}`,
      });
      for (let i = 0; i < 4; i++) await ctx.store.addFailoverEvent(event(i));
      await ctx.another().addFailoverEvent(event(2));
      const first = await ctx.store.listFailoverEvents(def, { limit: 3 });
      expect(first.items.map((e) => e.eventId)).toEqual(['f3', 'f2', 'f1']);
      expect(first.items[0]).toEqual(event(3));
      const second = await ctx.store.listFailoverEvents(def, { limit: 3, next: first.next });
      expect(second.items.map((e) => e.eventId)).toEqual(['f0']);
      expect(second.next).toBeUndefined();
    });

    it('swapPrimary flips the roles, and of concurrent failovers from one primary exactly one wins', async () => {
      const id = `def-${uid()}`;
      await ctx.store.putDefinition(withSecondaries(id));
      const stores = [ctx.store, ctx.another()];
      const results = await Promise.all(Array.from({ length: 6 }, (_, i) => stores[i % 2]!.swapPrimary(id, 'src-a', i % 3 === 0 ? 'src-b' : 'src-c')));
      const winners = results.filter((r): r is StoredDefinition => r !== null);
      expect(winners).toHaveLength(1);
      const stored = (await ctx.store.getDefinition(id))!;
      const primaries = stored.definition.sources.filter((s) => s.role === 'primary');
      expect(primaries).toHaveLength(1);
      expect(stored.activeSourceId).toBe(primaries[0]!.connectionId);
      expect(stored.activeSourceId).toBe(winners[0]!.activeSourceId);
      expect(stored.definition.sources.find((s) => s.connectionId === 'src-a')).toMatchObject({ role: 'secondary', priority: 0 });
      // From a primary that is no longer the primary, nothing changes.
      expect(await ctx.store.swapPrimary(id, 'src-a', 'src-b')).toBeNull();
      expect((await ctx.store.getDefinition(id))!.activeSourceId).toBe(stored.activeSourceId);
    });

    it('swapPrimary keeps an unrelated concurrent edit and refuses a target that is not a source', async () => {
      const id = `def-${uid()}`;
      const saved = await ctx.store.putDefinition(withSecondaries(id));
      const [, edited] = await Promise.all([ctx.store.swapPrimary(id, 'src-a', 'src-b'), ctx.another().putDefinition({ ...saved, lists: { Orders: 'list-1', More: 'list-2' } }, { ifMatch: saved.etag! }).catch(() => null)]);
      const stored = (await ctx.store.getDefinition(id))!;
      // Whichever wrote first, an edit that was accepted is not undone by the swap.
      if (edited) expect(stored.lists).toEqual({ Orders: 'list-1', More: 'list-2' });
      expect(stored.activeSourceId).toBe('src-b');
      expect(stored.definition.sources.filter((s) => s.role === 'primary').map((s) => s.connectionId)).toEqual(['src-b']);
      await expectSyncError(ctx.store.swapPrimary(id, 'src-b', 'src-z'), 'state_invalid');
      await expectSyncError(ctx.store.swapPrimary(`def-${uid()}`, 'src-a', 'src-b'), 'not_found');
    });
  });
}
