import { SYNC_KEY_COLUMN, type WriteOp } from '../../../src/core/ports/list-target';
import { meterSpend } from '../../../src/core/spend-meter';
import { key, ordersSpec, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => (h = await startHarness()));
afterAll(() => h.close());

const creates = (from: number, n: number): WriteOp[] =>
  Array.from({ length: n }, (_, i) => ({ opId: `op-${from + i}`, kind: 'create' as const, fields: { [SYNC_KEY_COLUMN]: key(from + i), Title: `Order ${from + i}` } }));

describe('the spend meter counts what the adapter sent, as SharePoint charged it', () => {
  it('writes and reads add up to the emulator’s own RU and request counts', async () => {
    const { list } = await h.target.ensureList(h.siteId, ordersSpec('Metered'));
    h.emulator.state.resetMetrics();
    const { spend } = await meterSpend(async () => {
      await h.target.writeItems(h.siteId, list!.id, creates(0, 25));
      for await (const page of h.target.pageItems(h.siteId, list!.id, { select: [SYNC_KEY_COLUMN] })) void page;
    });
    const m = h.emulator.state.metrics();
    expect(spend.ru).toBe(m.ru.total);
    expect(spend.requests).toBe(m.httpRequests);
    expect(spend.ru).toBeGreaterThan(25);
  });

  it('meters nest, and spend outside a meter is not counted in it', async () => {
    const { list } = await h.target.ensureList(h.siteId, ordersSpec('Nested'));
    const outer = await meterSpend(async () => {
      const inner = await meterSpend(() => h.target.writeItems(h.siteId, list!.id, creates(100, 3)));
      await h.target.writeItems(h.siteId, list!.id, creates(200, 2));
      return inner.spend;
    });
    expect(outer.result.ru).toBeGreaterThan(0);
    expect(outer.spend.ru).toBeGreaterThan(outer.result.ru);
    expect(outer.spend.requests).toBe(outer.result.requests + 1);
  });
});
