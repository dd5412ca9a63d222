import {
  clearTenantLimiters,
  limiterForTenant,
  signalFromHeaders,
  TenantLimiter,
  type Clock,
  type Permit,
} from '../../../src/adapters/sharepoint/limiter';

/** A clock that only moves when the test says so; sleeping callers wake in time order. */
class FakeClock implements Clock {
  t = 1_000_000;
  private timers: Array<{ at: number; wake: () => void }> = [];
  now(): number {
    return this.t;
  }
  sleep(ms: number): Promise<void> {
    return new Promise((wake) => this.timers.push({ at: this.t + ms, wake }));
  }
  async advance(ms: number): Promise<void> {
    const end = this.t + ms;
    for (;;) {
      await settle();
      this.timers.sort((a, b) => a.at - b.at);
      const next = this.timers[0];
      if (!next || next.at > end) break;
      this.timers.shift();
      this.t = Math.max(this.t, next.at);
      next.wake();
    }
    this.t = end;
    await settle();
  }
}

/** Lets every pending promise callback run (no wall-clock waiting is asserted). */
const settle = () => new Promise<void>((resolve) => setImmediate(resolve));

const budget = 600; // RU per minute = 10 RU/s

function limiter(clock: FakeClock, extra: Partial<ConstructorParameters<typeof TenantLimiter>[0]> = {}) {
  return new TenantLimiter({ budgetRuPerMinute: budget, maxConcurrency: 100, ...extra }, clock);
}

/** Keeps `n` 2-RU requests queued, releasing each as soon as it is granted; counts grants. */
function saturate(l: TenantLimiter, n: number) {
  const granted: number[] = [];
  for (let i = 0; i < n; i++) void l.acquire(2).then((p) => (granted.push(p.grantedAt), p.release()));
  return granted;
}

describe('tenant limiter', () => {
  it('with nothing spent in the window, the whole budget is available at once', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const granted = saturate(l, 2000);
    await clock.advance(0);
    expect(granted.length * 2).toBeGreaterThanOrEqual(0.97 * budget);
    expect(granted.length * 2).toBeLessThanOrEqual(budget);
  });

  it('never holds more than the budget in one window, and the next window opens a minute after the answers', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const granted = saturate(l, 2000);
    await clock.advance(59_999);
    const firstWindow = granted.length * 2;
    expect(firstWindow).toBeLessThanOrEqual(budget);
    await clock.advance(1);
    expect(granted.length * 2).toBeGreaterThan(firstWindow);
    expect(granted.length * 2 - firstWindow).toBeLessThanOrEqual(budget);
  });

  it('R RU at budget B per minute take 60·(⌈R/B⌉−1) s', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const started = clock.now();
    const granted = saturate(l, 750); // 1,500 RU at 600 RU/min (588 usable per window): 2 full windows, then the rest
    await clock.advance(119_999);
    expect(granted.length).toBeLessThan(750);
    await clock.advance(1);
    expect(granted.length).toBe(750);
    expect(Math.max(...granted) - started).toBe(120_000);
  });

  it('a charge comes back into the budget one window after its answer, not after its send', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const slow = await l.acquire(588); // the whole usable window, answered 5 s later
    await clock.advance(5_000);
    slow.release();
    await clock.advance(59_999);
    expect(l.delayBeforeSend(clock.now(), 2)).toBe(1);
    await clock.advance(1);
    expect(l.delayBeforeSend(clock.now(), 2)).toBe(0);
  });

  it('a 429 pauses every caller of the tenant for the larger of Retry-After and RateLimit-Reset', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const p = await l.acquire(2);
    p.release();
    l.observe({ status: 429, retryAfterMs: 5_000, rateLimit: { limit: budget, remaining: 0, resetMs: 8_000 } });
    let sent = false;
    void l.acquire(2).then(() => (sent = true));
    await clock.advance(7_900);
    expect(sent).toBe(false);
    await clock.advance(1_000);
    expect(sent).toBe(true);
    expect(l.snapshot().throttleSignals).toBe(1);
  });

  it('RateLimit-Remaining showing spend beyond our own account books it, so we slow down before a 429', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const p = await l.acquire(2);
    p.release();
    l.observe({ status: 200, rateLimit: { limit: budget, remaining: 300, resetMs: 10_000 } });
    const stats = l.snapshot();
    expect(stats.unseenRu).toBe(298);
    expect(stats.windowRu).toBe(300);
    expect(stats.congestionSignals).toBe(1);
    expect(stats.pausedForMs).toBe(0);
    expect(l.delayBeforeSend(clock.now(), 288)).toBe(0);
    expect(l.delayBeforeSend(clock.now(), 290)).toBeGreaterThan(59_000);
    // A report that matches our account is no news.
    l.observe({ status: 200, rateLimit: { limit: budget, remaining: 400, resetMs: 10_000 } });
    expect(l.snapshot().unseenRu).toBe(298);
  });

  it('a RateLimit-Limit below the configured budget lowers the budget to the real one', () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    l.observe({ status: 200, rateLimit: { limit: 300, remaining: 300, resetMs: 5_000 } });
    expect(l.capacity).toBeCloseTo(300 * 0.98);
    expect(l.snapshot().observedLimitRuPerMinute).toBe(300);
    expect(l.snapshot().rateRuPerMinute).toBeLessThanOrEqual(300);
  });

  it('caps the requests in flight and hands a freed slot to the next caller', async () => {
    const clock = new FakeClock();
    const l = limiter(clock, { maxConcurrency: 2, budgetRuPerMinute: 60_000 });
    const a = await l.acquire(1);
    await l.acquire(1);
    let third: Permit | undefined;
    void l.acquire(1).then((p) => (third = p));
    await clock.advance(5_000);
    expect(third).toBeUndefined();
    a.release();
    await settle();
    expect(third).toBeDefined();
  });

  it('a charge larger than the whole budget still goes when the account is empty, and holds it a window', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const big = await l.acquire(budget + 100);
    big.release();
    expect(l.delayBeforeSend(clock.now(), 2)).toBe(60_000);
  });

  it('with a shared budget it spends only the share it holds, and asks for more while callers wait', async () => {
    const clock = new FakeClock();
    let held = 0;
    let wanted = 0;
    let wake = () => {};
    const shared = {
      heldRuPerMinute: () => held,
      wantMore: () => void (wanted += 1),
      bind: (account: { wake(): void }) => void (wake = () => account.wake()),
    };
    const l = limiter(clock, { sharedBudget: shared });
    const granted = saturate(l, 200);
    await clock.advance(1_000);
    expect(granted).toHaveLength(0);
    expect(wanted).toBeGreaterThan(0);
    held = 100;
    wake();
    await clock.advance(0);
    expect(granted).toHaveLength(49); // 98 RU of the 100 held
  });

  it('with a shared budget, spend of the other share holders counts against the tenant budget, not against our share', async () => {
    const clock = new FakeClock();
    let wake = () => {};
    const shared = { heldRuPerMinute: () => 300, wantMore: () => {}, bind: (account: { wake(): void }) => void (wake = () => account.wake()) };
    const l = limiter(clock, { sharedBudget: shared });
    const p = await l.acquire(100);
    p.release();
    // The server has counted 400 RU: 300 of other holders beyond our 100.
    l.observe({ status: 200, rateLimit: { limit: budget, remaining: 200 } });
    expect(l.delayBeforeSend(clock.now(), 150)).toBe(0); // 250 of our 294, 550 of the tenant's 588
    expect(l.delayBeforeSend(clock.now(), 200)).toBeGreaterThan(59_000); // our share would overflow
    // A share taken while a caller sleeps on the window wakes it at once.
    let held = 300;
    const growing = { heldRuPerMinute: () => held, wantMore: () => {}, bind: (account: { wake(): void }) => void (wake = () => account.wake()) };
    const m = limiter(clock, { sharedBudget: growing });
    (await m.acquire(290)).release();
    let sent = false;
    void m.acquire(100).then(() => (sent = true));
    await clock.advance(1_000);
    expect(sent).toBe(false);
    held = 600;
    wake();
    await clock.advance(0);
    expect(sent).toBe(true);
  });
});

describe('throttle headers', () => {
  it('reads Retry-After as seconds or as an HTTP date, and the RateLimit draft headers', () => {
    const now = Date.parse('2025-01-01T00:00:00Z');
    const h = (m: Record<string, string>) => (name: string) => m[name];
    expect(signalFromHeaders(429, h({ 'retry-after': '7' }), now).retryAfterMs).toBe(7_000);
    expect(signalFromHeaders(503, h({ 'retry-after': 'Wed, 01 Jan 2025 00:00:30 GMT' }), now).retryAfterMs).toBe(30_000);
    expect(signalFromHeaders(200, h({ 'ratelimit-limit': '1250', 'ratelimit-remaining': '40', 'ratelimit-reset': '12' }), now).rateLimit).toEqual({
      limit: 1250,
      remaining: 40,
      resetMs: 12_000,
    });
    expect(signalFromHeaders(200, h({}), now).rateLimit).toBeUndefined();
  });
});

describe('limiter registry', () => {
  afterEach(() => clearTenantLimiters());
  it('shares one limiter per tenant across every caller in the process', () => {
    const a = limiterForTenant('Contoso-Tenant', { budgetRuPerMinute: 1250, maxConcurrency: 4 });
    const b = limiterForTenant('contoso-tenant ', { budgetRuPerMinute: 1250, maxConcurrency: 4 });
    const c = limiterForTenant('other', { budgetRuPerMinute: 1250, maxConcurrency: 4 });
    expect(a).toBe(b);
    expect(c).not.toBe(a);
  });
});
