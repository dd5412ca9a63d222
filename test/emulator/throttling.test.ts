import type { GraphEmulator } from '../../src/emulator';
import { createList, itemsPath, raw, startEmulator } from './helpers';

describe('Graph emulator: resource units and throttling', () => {
  let emulator: GraphEmulator;
  let items: string;
  let now = Date.UTC(2025, 0, 1);
  const advance = (seconds: number) => {
    now += seconds * 1000;
  };

  beforeAll(async () => {
    emulator = await startEmulator({ budgetRuPerMinute: 20, clock: () => now });
  });
  afterAll(() => emulator.close());
  beforeEach(async () => {
    emulator.state.reset();
    emulator.state.configure({ budgetRuPerMinute: 20 });
    items = itemsPath(emulator, await createList(emulator, 'Budgeted'));
    advance(61); // start each test with an empty window
    emulator.state.resetMetrics();
  });

  const list = () => raw(emulator, 'GET', items);

  it('answers requests past the budget with 429 activityLimitReached and Retry-After', async () => {
    for (let i = 0; i < 10; i++) {
      expect((await list()).status).toBe(200);
      advance(1);
    }
    const throttled = await list();
    expect(throttled.status).toBe(429);
    expect(throttled.json.error.code).toBe('activityLimitReached');
    // The two oldest charges (t=0 s and t=1 s) have to age out: at t=61 s, 51 s from now.
    expect(throttled.headers.get('retry-after')).toBe('51');
    expect(emulator.state.metrics()).toMatchObject({ throttled: 1, byStatus: { '200': 10, '429': 1 } });
  });

  it('lets a client that waits Retry-After through', async () => {
    for (let i = 0; i < 10; i++) {
      await list();
      advance(1);
    }
    const throttled = await list();
    advance(Number(throttled.headers.get('retry-after')));
    expect((await list()).status).toBe(200);
  });

  it('charges throttled requests too, so a client that ignores Retry-After waits longer', async () => {
    for (let i = 0; i < 10; i++) {
      await list();
      advance(1);
    }
    const first = Number((await list()).headers.get('retry-after'));
    for (let i = 0; i < 5; i++) await list();
    const later = Number((await list()).headers.get('retry-after'));
    expect(later).toBeGreaterThan(first);
    expect(later).toBeLessThanOrEqual(60);
    expect(emulator.state.metrics().ru.throttled).toBe(14);
  });

  it('sends RateLimit headers from 80 % of the budget', async () => {
    emulator.state.configure({ budgetRuPerMinute: 100 });
    for (let i = 0; i < 39; i++) {
      const res = await list();
      expect(res.headers.get('ratelimit-limit')).toBeNull();
    }
    const near = await list();
    expect(near.status).toBe(200);
    expect(near.headers.get('ratelimit-limit')).toBe('100');
    expect(near.headers.get('ratelimit-remaining')).toBe('20');
    expect(Number(near.headers.get('ratelimit-reset'))).toBeGreaterThanOrEqual(1);
  });

  it("charges RU by Microsoft's table", async () => {
    emulator.state.configure({ budgetRuPerMinute: 1000 });
    const site = emulator.state.defaultSiteId;
    await raw(emulator, 'POST', items, { fields: { SyncKey: 'a' } }); // create 2
    await raw(emulator, 'GET', `${items}/1`); // read1 1
    await raw(emulator, 'GET', items); // readMany 2
    await raw(emulator, 'PATCH', `${items}/1/fields`, { Title: 'x' }); // update 2
    await raw(emulator, 'DELETE', `${items}/1`); // delete 2
    await raw(emulator, 'GET', `/sites/${site}/permissions`); // permission 5
    await raw(emulator, 'GET', `/_emulator/metrics`); // control: free
    expect(emulator.state.metrics().ru).toEqual({
      total: 14,
      byKind: { read1: 1, readMany: 2, create: 2, update: 2, delete: 2, permission: 5 },
      throttled: 0,
    });
  });

  it('throttles the inner requests of a batch: 429 inside a 200 response', async () => {
    const requests = Array.from({ length: 15 }, (_, i) => ({
      id: String(i),
      method: 'POST',
      url: items,
      headers: { 'Content-Type': 'application/json' },
      body: { fields: { SyncKey: `k${i}` } },
    }));
    const res = await raw(emulator, 'POST', '/$batch', { requests });
    expect(res.status).toBe(200);
    const statuses = res.json.responses.map((r: { status: number }) => r.status);
    expect(statuses).toEqual([...Array(10).fill(201), ...Array(5).fill(429)]);
    const throttled = res.json.responses[14];
    expect(throttled.headers['Retry-After']).toMatch(/^\d+$/);
    expect(throttled.body.error.code).toBe('activityLimitReached');
    expect(emulator.state.items('Budgeted')).toHaveLength(10);
  });

  it('changes the budget at run time through PUT /_emulator/config', async () => {
    const res = await raw(emulator, 'PUT', '/_emulator/config', { budgetRuPerMinute: 4 });
    expect(res.json.budgetRuPerMinute).toBe(4);
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(200);
    expect((await list()).status).toBe(429);
    expect((await raw(emulator, 'PUT', '/_emulator/config', { budgetRuPerMinute: -1 })).status).toBe(400);
  });

  it('delays every Graph request by the configured latency', async () => {
    emulator.state.configure({ budgetRuPerMinute: 1000, latencyMs: { fixed: 80, jitter: 0 } });
    try {
      const started = performance.now();
      await list();
      expect(performance.now() - started).toBeGreaterThanOrEqual(75);
      const control = performance.now();
      await raw(emulator, 'GET', '/_emulator/metrics');
      expect(performance.now() - control).toBeLessThan(75);
    } finally {
      emulator.state.configure({ latencyMs: { fixed: 0, jitter: 0 } });
    }
  });
});
