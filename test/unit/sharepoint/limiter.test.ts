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
  it('paces a saturating caller to just under the budget, never over it', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const granted = saturate(l, 2000);
    await clock.advance(60_000);
    const ru = granted.length * 2;
    expect(ru).toBeLessThanOrEqual(budget);
    expect(ru).toBeGreaterThanOrEqual(0.92 * budget);
  });

  it('a 429 pauses every caller of the tenant for the larger of Retry-After and RateLimit-Reset', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const p = await l.acquire(2);
    p.release();
    l.observe({ status: 429, retryAfterMs: 5_000, rateLimit: { limit: budget, remaining: 0, resetMs: 8_000 } }, p);
    let sent = false;
    void l.acquire(2).then(() => (sent = true));
    await clock.advance(7_900);
    expect(sent).toBe(false);
    await clock.advance(1_000);
    expect(sent).toBe(true);
  });

  it('a burst of 429s about requests sent before a cut cuts the rate only once', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const full = l.currentRate;
    const early: Permit[] = [await l.acquire(2), await l.acquire(2)];
    early.forEach((p) => p.release());
    clock.t += 10;
    l.observe({ status: 429, retryAfterMs: 1_000 }, early[0]);
    l.observe({ status: 429, retryAfterMs: 1_000 }, early[1]);
    expect(l.currentRate).toBeCloseTo(full * 0.7);
    // A request sent after the cut that is throttled again is new evidence: cut again.
    const later = l.acquire(2);
    await clock.advance(1_000);
    const p = await later;
    p.release();
    l.observe({ status: 429, retryAfterMs: 1_000 }, p);
    expect(l.currentRate).toBeCloseTo(full * 0.49);
    expect(l.snapshot().decreases).toBe(2);
  });

  it('clean time restores the rate additively, up to the target and no further', async () => {
    const clock = new FakeClock();
    const l = limiter(clock); // recovery 2 % of the target per clean second, clean after 2 s
    const target = l.ceiling;
    l.observe({ status: 503, retryAfterMs: 1_000 });
    expect(l.currentRate).toBeCloseTo(target * 0.7);
    await clock.advance(2_000 + 10_000);
    l.snapshot(); // the bookkeeping advances on use
    expect(l.currentRate).toBeCloseTo(target * 0.9);
    await clock.advance(60_000);
    l.snapshot();
    expect(l.currentRate).toBeCloseTo(target);
  });

  it('a low RateLimit-Remaining slows down before a 429, without pausing', async () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    const full = l.currentRate;
    const p = await l.acquire(2);
    p.release();
    l.observe({ status: 200, rateLimit: { limit: budget, remaining: 5, resetMs: 10_000 } }, p);
    expect(l.currentRate).toBeCloseTo(full * 0.9);
    expect(l.snapshot().pausedForMs).toBe(0);
    // Plenty remaining is no signal at all.
    l.observe({ status: 200, rateLimit: { limit: budget, remaining: 200, resetMs: 10_000 } }, p);
    expect(l.currentRate).toBeCloseTo(full * 0.9);
  });

  it('a RateLimit-Limit below the configured budget lowers the target to the real budget', () => {
    const clock = new FakeClock();
    const l = limiter(clock);
    l.observe({ status: 200, rateLimit: { limit: 300, remaining: 250, resetMs: 5_000 } });
    expect(l.ceiling).toBeCloseTo((300 / 60) * 0.95);
    expect(l.currentRate).toBeLessThanOrEqual(l.ceiling);
    expect(l.snapshot().observedLimitRuPerMinute).toBe(300);
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

  it('a charge larger than the bucket still goes, and the bucket owes it afterwards', async () => {
    const clock = new FakeClock();
    const l = limiter(clock); // 9.5 RU/s target, 1 s burst
    const first = await l.acquire(40);
    first.release();
    expect(l.delayBeforeSend(clock.now())).toBeGreaterThan(3_000);
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
