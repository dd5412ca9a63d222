import { SYNC_KEY_COLUMN } from '../../../src/core/ports/list-target';
import { key, startHarness, type Harness } from './harness';

describe('throttling', () => {
  let h: Harness;
  afterEach(() => h.close());

  it('RateLimit headers near the budget lower the pace to the real budget before any 429', async () => {
    // The admin configured 60x the tenant's real budget; the server's RateLimit-Limit corrects it.
    h = await startHarness({ budgetRuPerMinute: 6_000 });
    h.emulator.state.configure({ budgetRuPerMinute: 100 });
    const { list } = await h.target.ensureList(h.siteId, { displayName: 'Paced', columns: [] });
    const results = await h.target.writeItems(
      h.siteId,
      list!.id,
      Array.from({ length: 44 }, (_, i) => ({ opId: String(i), kind: 'create' as const, fields: { [SYNC_KEY_COLUMN]: key(i) } })),
    );
    expect(results.every((r) => r.ok)).toBe(true);
    expect(h.emulator.state.metrics().throttled).toBe(0);
    const stats = h.limiter.snapshot();
    expect(stats.observedLimitRuPerMinute).toBe(100);
    expect(stats.rateRuPerMinute).toBeLessThanOrEqual(100);
  });

  it('a throttled single request waits out Retry-After and goes through', async () => {
    h = await startHarness();
    h.emulator.state.injectFault({ kind: 'status', status: 429, count: 2, retryAfter: 0, scope: { op: 'read' } });
    const site = await h.target.getSite(h.siteId);
    expect(site.id).toBe(h.siteId);
    expect(h.emulator.state.metrics().byStatus).toMatchObject({ '429': 2, '200': 1 });
    expect(h.limiter.snapshot().throttleSignals).toBe(2);
  });

  it('an outage that outlasts the retries surfaces as a transient error', async () => {
    h = await startHarness();
    h.emulator.state.injectFault({ kind: 'status', status: 500, count: 50, scope: { op: 'read' } });
    const error = await h.target.getSite(h.siteId).catch((e: unknown) => e);
    expect(error).toMatchObject({ errorClass: 'transient', code: 'graph_unavailable' });
  });

  it('a storm longer than the inline wait hands the writes back as throttled with the time to retry', async () => {
    h = await startHarness({ maxInlineWaitMs: 1_000 });
    const { list } = await h.target.ensureList(h.siteId, { displayName: 'Stormy', columns: [] });
    h.emulator.state.injectFault({ kind: 'status', status: 429, count: 100_000, retryAfter: 5, scope: { op: 'create' } });
    const started = Date.now();
    const results = await h.target.writeItems(
      h.siteId,
      list!.id,
      Array.from({ length: 3 }, (_, i) => ({ opId: String(i), kind: 'create' as const, fields: { [SYNC_KEY_COLUMN]: key(i) } })),
    );
    expect(Date.now() - started).toBeLessThan(4_000);
    for (const r of results) {
      expect(r).toMatchObject({ ok: false, code: 'throttled', errorClass: 'transient' });
      const retryAt = Date.parse((r as { retryAt?: string }).retryAt ?? '');
      // Retry-After was 5 s: the retry time is about that far ahead, not now.
      expect(retryAt).toBeGreaterThan(started + 3_000);
      expect(retryAt).toBeLessThan(Date.now() + 6_000);
    }
    h.emulator.state.clearFaults();
  });
});
