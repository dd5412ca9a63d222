/**
 * One adaptive limiter per tenant, shared by every Graph call in the process (DESIGN §6).
 *
 * SharePoint meters each app per tenant in resource units (RU) per minute and answers 429/503
 * with `Retry-After` once the budget is spent; throttled requests still count against it. So
 * the cheapest strategy is never to be throttled: charge each request's RU before sending it,
 * pace sends with a token bucket a little under the budget, and treat the server's signals as
 * corrections:
 *
 * - `Retry-After` (or `RateLimit-Reset`, whichever is larger) pauses every caller of the tenant;
 *   retrying before then is charged and only extends the throttling.
 * - 429/503 cut the pacing rate multiplicatively, once per window of requests (a burst of 429s
 *   from requests sent before the cut is one signal, not twenty); clean time adds back a fixed
 *   share of the budget per second (AIMD, as TCP does), so the rate settles just under the
 *   real limit even when the configured budget is wrong or other processes share it.
 * - `RateLimit-*` headers (sent from ~80 % use) slow us down before a 429 instead of after
 *   one: `RateLimit-Remaining` under a small margin of the limit is treated like an ECN mark (a
 *   gentle multiplicative cut, no pause), and `RateLimit-Limit` below the configured budget
 *   lowers the target, since the server knows the tenant's real budget. `RateLimit-Reset` is not
 *   used to spread the remainder: its meaning differs between a fixed and a sliding window, and
 *   "remaining ÷ reset" starves a client that runs steadily near the budget of a sliding one.
 *
 * The bucket allows a small debt: a request is sent when the bucket is not negative and its
 * whole charge is taken at once, so a 40-RU batch never waits for a bucket deeper than the
 * burst allowance. The maths is synchronous over an injected clock so tests need no wall time.
 */

export interface Clock {
  now(): number;
  sleep(ms: number): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms) => new Promise((resolve) => setTimeout(resolve, ms)),
};

/** Microsoft's fixed Graph costs for SharePoint (throttling guidance, 2025). */
export const RU_COST = {
  /** Single-item read, and delta with a token. */
  read: 1,
  /** Multi-item read (list items, lists, columns, site search), delta without a token. */
  list: 2,
  /** Create, update, delete. */
  write: 2,
  /** Any permission resource operation. */
  permission: 5,
} as const;
export type RequestKind = keyof typeof RU_COST;

export interface LimiterSettings {
  /** The app's budget on this tenant (1,250 to 6,250 by licence count). */
  budgetRuPerMinute: number;
  /** Requests in flight at once on this tenant. */
  maxConcurrency: number;
  /** Share of the budget the pacing rate aims at; the rest absorbs clock skew and in-flight work. */
  targetUtilisation?: number;
  /** The rate never drops below this share of the budget, so progress never stops entirely. */
  minUtilisation?: number;
  /** Multiplicative cut on 429/503. */
  decreaseFactor?: number;
  /** Additive recovery: share of the target rate regained per clean second. */
  recoveryPerSecond?: number;
  /** No recovery until this long after the last throttle. */
  cleanAfterMs?: number;
  /** Bucket depth in seconds of the current rate. */
  burstSeconds?: number;
  /** Pause when a 429/503 carries no Retry-After. */
  defaultRetryAfterMs?: number;
  /** `RateLimit-Remaining` below this share of `RateLimit-Limit` counts as congestion. */
  remainingMargin?: number;
  /** Multiplicative cut on congestion (gentler than on a 429, as nothing was refused). */
  congestionFactor?: number;
}

const DEFAULTS = {
  targetUtilisation: 0.95,
  minUtilisation: 0.05,
  decreaseFactor: 0.7,
  recoveryPerSecond: 0.02,
  cleanAfterMs: 2_000,
  burstSeconds: 1,
  defaultRetryAfterMs: 2_000,
  remainingMargin: 0.02,
  congestionFactor: 0.9,
} satisfies Required<Omit<LimiterSettings, 'budgetRuPerMinute' | 'maxConcurrency'>>;

/** What a response told us; from the outer HTTP response or from one response inside a `$batch`. */
export interface ThrottleSignal {
  status: number;
  retryAfterMs?: number;
  rateLimit?: { limit?: number; remaining?: number; resetMs?: number };
}

export interface Permit {
  readonly ru: number;
  /** When the request was cleared to go; signals about requests sent before a cut are not new. */
  readonly grantedAt: number;
  release(): void;
}

export interface LimiterStats {
  budgetRuPerMinute: number;
  /** The budget the server reported (RateLimit-Limit), when lower than the configured one. */
  observedLimitRuPerMinute?: number;
  /** Current pacing rate, RU per minute. */
  rateRuPerMinute: number;
  chargedRu: number;
  granted: number;
  throttleSignals: number;
  congestionSignals: number;
  decreases: number;
  inFlight: number;
  pausedForMs: number;
}

export class TenantLimiter {
  private readonly s: Required<LimiterSettings>;
  /** AIMD rate, RU per second. */
  private rate: number;
  private tokens: number;
  private lastRefillAt: number;
  private pausedUntil = 0;
  /** RateLimit-Limit when the server reports less than the configured budget. */
  private observedLimit: number | undefined;
  private lastDecreaseAt = Number.NEGATIVE_INFINITY;
  private lastThrottleAt = Number.NEGATIVE_INFINITY;
  private inFlight = 0;
  private queueTail: Promise<void> = Promise.resolve();
  private slotWaiters: Array<() => void> = [];
  private stats = { chargedRu: 0, granted: 0, throttleSignals: 0, congestionSignals: 0, decreases: 0 };

  constructor(
    settings: LimiterSettings,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(settings.budgetRuPerMinute > 0)) throw new RangeError('budgetRuPerMinute must be positive');
    if (!(settings.maxConcurrency >= 1)) throw new RangeError('maxConcurrency must be at least 1');
    this.s = { ...DEFAULTS, ...settings };
    this.rate = this.ceiling;
    this.tokens = this.capacity(this.rate);
    this.lastRefillAt = clock.now();
  }

  /** RU per second the limiter aims at when nothing pushes back. */
  get ceiling(): number {
    return (this.budget / 60) * this.s.targetUtilisation;
  }

  private get budget(): number {
    return Math.min(this.s.budgetRuPerMinute, this.observedLimit ?? Number.POSITIVE_INFINITY);
  }

  private get floor(): number {
    return (this.budget / 60) * this.s.minUtilisation;
  }

  /** The limiter's clock: what `resumesAt` is measured against. */
  now(): number {
    return this.clock.now();
  }

  /** When the tenant's throttling pause ends (a time in the past when there is none). */
  resumesAt(): number {
    return this.pausedUntil;
  }

  /** Current AIMD rate in RU per second. */
  get currentRate(): number {
    return this.rate;
  }

  private capacity(rate: number): number {
    return rate * this.s.burstSeconds;
  }

  /** Advances the bucket and the additive recovery to `now`. */
  private refill(now: number): void {
    const from = this.lastRefillAt;
    if (now <= from) return;
    // Additive increase only over clean time: none until cleanAfterMs after the last throttle.
    const cleanFrom = Math.max(from, this.lastThrottleAt + this.s.cleanAfterMs);
    if (now > cleanFrom && this.rate < this.ceiling) {
      this.rate = Math.min(this.ceiling, this.rate + (this.ceiling * this.s.recoveryPerSecond * (now - cleanFrom)) / 1000);
    }
    // Tokens do not accrue while paused: a pause must not turn into a burst when it ends.
    const accrueFrom = Math.max(from, Math.min(now, this.pausedUntil));
    this.tokens = Math.min(this.capacity(this.rate), this.tokens + (this.rate * (now - accrueFrom)) / 1000);
    this.lastRefillAt = now;
  }

  /**
   * Milliseconds to wait before a request may go at `now`: 0 = go, Infinity = wait for a free
   * concurrency slot. Pure bookkeeping, no waiting; `acquire` loops on it.
   */
  delayBeforeSend(now: number): number {
    this.refill(now);
    if (now < this.pausedUntil) return this.pausedUntil - now;
    if (this.inFlight >= this.s.maxConcurrency) return Number.POSITIVE_INFINITY;
    if (this.tokens >= 0) return 0;
    return Math.max(1, Math.ceil((-this.tokens / this.rate) * 1000));
  }

  /** Waits (first come, first served) until `ru` may be spent, charges it and takes a concurrency slot. */
  async acquire(ru: number): Promise<Permit> {
    const previous = this.queueTail;
    let leave!: () => void;
    this.queueTail = new Promise((resolve) => (leave = resolve));
    await previous;
    try {
      for (;;) {
        const wait = this.delayBeforeSend(this.clock.now());
        if (wait === 0) break;
        if (wait === Number.POSITIVE_INFINITY) await new Promise<void>((resolve) => this.slotWaiters.push(resolve));
        else await this.clock.sleep(wait);
      }
      return this.take(ru, this.clock.now());
    } finally {
      leave();
    }
  }

  private take(ru: number, now: number): Permit {
    this.tokens -= ru;
    this.inFlight += 1;
    this.stats.chargedRu += ru;
    this.stats.granted += 1;
    let released = false;
    return {
      ru,
      grantedAt: now,
      release: () => {
        if (released) return;
        released = true;
        this.inFlight -= 1;
        this.slotWaiters.shift()?.();
      },
    };
  }

  /** Feeds what a response said back into the pacing. `permit` is the request it answered, when known. */
  observe(signal: ThrottleSignal, permit?: Permit): void {
    const now = this.clock.now();
    this.refill(now);
    const { limit, remaining, resetMs } = signal.rateLimit ?? {};
    if (limit !== undefined && limit > 0 && limit < this.s.budgetRuPerMinute && limit !== this.observedLimit) {
      this.observedLimit = limit;
      this.rate = Math.min(this.rate, this.ceiling);
    }
    const throttled = signal.status === 429 || signal.status === 503;
    if (throttled) {
      this.stats.throttleSignals += 1;
      this.lastThrottleAt = now;
      const wait = Math.max(signal.retryAfterMs ?? this.s.defaultRetryAfterMs, resetMs ?? 0);
      this.pausedUntil = Math.max(this.pausedUntil, now + wait);
      // Whatever the bucket held was evidently too much; start from empty after the pause.
      this.tokens = Math.min(this.tokens, 0);
      this.cut(this.s.decreaseFactor, now, permit);
      return;
    }
    const margin = this.s.remainingMargin * (limit ?? this.budget);
    if (remaining !== undefined && remaining < margin) {
      this.stats.congestionSignals += 1;
      this.lastThrottleAt = now;
      this.cut(this.s.congestionFactor, now, permit);
    }
  }

  /** One multiplicative cut per window: a signal about a request sent before the last cut is old news. */
  private cut(factor: number, now: number, permit: Permit | undefined): void {
    if (permit !== undefined && permit.grantedAt < this.lastDecreaseAt) return;
    this.rate = Math.max(this.floor, this.rate * factor);
    this.lastDecreaseAt = now;
    this.stats.decreases += 1;
  }

  snapshot(): LimiterStats {
    const now = this.clock.now();
    this.refill(now);
    return {
      budgetRuPerMinute: this.s.budgetRuPerMinute,
      observedLimitRuPerMinute: this.observedLimit,
      rateRuPerMinute: this.rate * 60,
      ...this.stats,
      inFlight: this.inFlight,
      pausedForMs: Math.max(0, this.pausedUntil - now),
    };
  }
}

/** Parses `Retry-After` (delta-seconds or an HTTP date) and the RateLimit-* draft headers. */
export function signalFromHeaders(status: number, get: (name: string) => string | null | undefined, now: number = Date.now()): ThrottleSignal {
  const signal: ThrottleSignal = { status };
  const retryAfter = get('retry-after');
  if (retryAfter) {
    const seconds = Number(retryAfter);
    const ms = Number.isFinite(seconds) ? seconds * 1000 : Date.parse(retryAfter) - now;
    if (Number.isFinite(ms)) signal.retryAfterMs = Math.max(0, ms);
  }
  const num = (name: string) => {
    const raw = get(name);
    if (raw === null || raw === undefined || raw === '') return undefined;
    // draft-03 allows a policy suffix ("1200, 1200;w=60"): the first number is the value.
    const n = Number.parseFloat(raw);
    return Number.isFinite(n) ? n : undefined;
  };
  const limit = num('ratelimit-limit');
  const remaining = num('ratelimit-remaining');
  const reset = num('ratelimit-reset');
  if (limit !== undefined || remaining !== undefined || reset !== undefined) {
    signal.rateLimit = { limit, remaining, resetMs: reset === undefined ? undefined : reset * 1000 };
  }
  return signal;
}

const registry = new Map<string, TenantLimiter>();

/**
 * The process-wide limiter of a tenant. Every Graph client for that tenant must share it, since
 * SharePoint's budget is per app per tenant, not per connection or per list.
 */
export function limiterForTenant(tenantId: string, settings: LimiterSettings, clock?: Clock): TenantLimiter {
  const key = tenantId.trim().toLowerCase();
  let limiter = registry.get(key);
  if (!limiter) {
    limiter = new TenantLimiter(settings, clock);
    registry.set(key, limiter);
  }
  return limiter;
}

/** Tests and the benchmark start each scenario with fresh limiters. */
export function clearTenantLimiters(): void {
  registry.clear();
}
