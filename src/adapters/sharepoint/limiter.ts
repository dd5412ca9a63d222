/**
 * One limiter per tenant, shared by every Graph call in the process (DESIGN §6).
 *
 * SharePoint meters each app per tenant in resource units (RU) over a sliding minute and answers
 * 429/503 with `Retry-After` once the budget is spent; throttled requests still count against it,
 * and apps that keep going over get blocked. So the limiter keeps its own spend account over the
 * budget window and sends a request only when the account has room for its charge:
 *
 * - With nothing spent in the window, the whole budget is available at once; afterwards a charge
 *   comes back into the budget one window after its request was answered (the latest moment the
 *   server can have counted it), so our account never expires a charge before the server does.
 *   R RU at budget B per minute thus take about 60·(⌈R/B⌉−1) s plus transfer time.
 * - `RateLimit-Limit` below the configured budget lowers the budget: the server knows the
 *   tenant's real one.
 * - `RateLimit-Remaining` (sent from ~80 % use) shows spend we did not make (another process, a
 *   misjudged window): the excess over our own account is booked as unseen spend, so we slow down
 *   before a 429 instead of after one.
 * - A 429/503 pauses every caller for `Retry-After` (or `RateLimit-Reset`, whichever is larger):
 *   retrying earlier is charged and only extends the throttling.
 * - An optional `SharedBudget` (budget shares leased through the state store) caps the account at
 *   the share of the tenant's budget this process holds, so the sum over instances holds.
 *
 * The bookkeeping is synchronous over an injected clock, so tests need no wall time.
 */

export interface Clock {
  now(): number;
  /** Resolves after `ms`, or early once `cancel` aborts. */
  sleep(ms: number, cancel?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = {
  now: () => Date.now(),
  sleep: (ms, cancel) =>
    new Promise((resolve) => {
      const timer = setTimeout(resolve, ms);
      cancel?.addEventListener('abort', () => (clearTimeout(timer), resolve()), { once: true });
    }),
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

/** SharePoint's budget window. */
export const BUDGET_WINDOW_MS = 60_000;

/**
 * The part of a tenant's budget this process may spend, when several processes share it
 * (budget-shares.ts). The limiter asks for more while callers wait; the shared budget gives back
 * what the account no longer needs, reading it through `bind`.
 */
export interface SharedBudget {
  /** RU per minute this process holds right now. */
  heldRuPerMinute(): number;
  /** Callers are waiting for budget: take more shares if any are free (never blocks). */
  wantMore(): void;
  /** Called once by the limiter: what its account holds now, and how to wake its waiting callers. */
  bind(account: { windowRu(): number; wake(): void }): void;
}

export interface LimiterSettings {
  /** The app's budget on this tenant (1,250 to 6,250 by licence count). */
  budgetRuPerMinute: number;
  /** Requests in flight at once on this tenant. */
  maxConcurrency: number;
  /** Share of the budget the account may fill; the rest absorbs clock skew between us and the server. */
  targetUtilisation?: number;
  /** Pause when a 429/503 carries no Retry-After. */
  defaultRetryAfterMs?: number;
  /** Budget shares leased with other processes; without it this process owns the whole budget. */
  sharedBudget?: SharedBudget;
}

const DEFAULTS = {
  targetUtilisation: 0.98,
  defaultRetryAfterMs: 2_000,
} satisfies Required<Omit<LimiterSettings, 'budgetRuPerMinute' | 'maxConcurrency' | 'sharedBudget'>>;

/** What a response told us; from the outer HTTP response or from one response inside a `$batch`. */
export interface ThrottleSignal {
  status: number;
  retryAfterMs?: number;
  rateLimit?: { limit?: number; remaining?: number; resetMs?: number };
}

export interface Permit {
  readonly ru: number;
  /** When the request was cleared to go. */
  readonly grantedAt: number;
  release(): void;
}

export interface LimiterStats {
  budgetRuPerMinute: number;
  /** The budget the server reported (RateLimit-Limit), when lower than the configured one. */
  observedLimitRuPerMinute?: number;
  /** RU per minute the account may hold now (budget × target, or the held share of it). */
  rateRuPerMinute: number;
  /** RU the account holds: in flight, answered within the window, and unseen spend. */
  windowRu: number;
  chargedRu: number;
  /** Spend the server reported that was not ours (RateLimit-Remaining). */
  unseenRu: number;
  granted: number;
  throttleSignals: number;
  /** Responses whose RateLimit-Remaining showed spend beyond our own account. */
  congestionSignals: number;
  inFlight: number;
  pausedForMs: number;
}

/** Charges that have left flight, in the order they leave the window. */
class SpendWindow {
  private expiries: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private sum = 0;

  /** Books `ru` until `expiresAt`; callers book in non-decreasing expiry order (the clock's). */
  book(expiresAt: number, ru: number): void {
    this.expiries.push(expiresAt);
    this.amounts.push(ru);
    this.sum += ru;
  }

  held(now: number): number {
    while (this.head < this.expiries.length && this.expiries[this.head]! <= now) {
      this.sum -= this.amounts[this.head]!;
      this.head++;
    }
    if (this.head === this.expiries.length) {
      this.expiries = [];
      this.amounts = [];
      this.head = 0;
      this.sum = 0; // no drift from float sums
    } else if (this.head > 4096 && this.head > this.expiries.length / 2) {
      this.expiries = this.expiries.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
    return this.sum;
  }

  /** Milliseconds from `now` until this window and `other` together hold at most `target`; undefined when expiries alone never get there. */
  msUntilAtMost(now: number, target: number, other?: SpendWindow): number | undefined {
    let remaining = this.held(now) + (other?.held(now) ?? 0);
    if (remaining <= target) return 0;
    let i = this.head;
    let j = other?.head ?? 0;
    const otherLength = other?.expiries.length ?? 0;
    while (i < this.expiries.length || j < otherLength) {
      // Merge the two expiry queues in time order.
      const fromThis = j >= otherLength || (i < this.expiries.length && this.expiries[i]! <= other!.expiries[j]!);
      const expiry = fromThis ? this.expiries[i]! : other!.expiries[j]!;
      remaining -= fromThis ? this.amounts[i++]! : other!.amounts[j++]!;
      if (remaining <= target) return expiry - now;
    }
    return undefined;
  }
}

export class TenantLimiter {
  private readonly s: Required<Omit<LimiterSettings, 'sharedBudget'>>;
  private readonly shared: SharedBudget | undefined;
  /** Our own answered charges. */
  private readonly window = new SpendWindow();
  /** Spend the server reported beyond ours (other apps' instances, a misjudged window). */
  private readonly unseen = new SpendWindow();
  /** RU of requests sent and not answered yet: they hold budget until a window after their answer. */
  private inFlightRu = 0;
  private inFlight = 0;
  private pausedUntil = 0;
  /** RateLimit-Limit when the server reports less than the configured budget. */
  private observedLimit: number | undefined;
  private queueTail: Promise<void> = Promise.resolve();
  private changeWaiters: Array<() => void> = [];
  private stats = { chargedRu: 0, unseenRu: 0, granted: 0, throttleSignals: 0, congestionSignals: 0 };

  constructor(
    settings: LimiterSettings,
    private readonly clock: Clock = systemClock,
  ) {
    if (!(settings.budgetRuPerMinute > 0)) throw new RangeError('budgetRuPerMinute must be positive');
    if (!(settings.maxConcurrency >= 1)) throw new RangeError('maxConcurrency must be at least 1');
    const { sharedBudget, ...rest } = settings;
    this.s = { ...DEFAULTS, ...rest };
    this.shared = sharedBudget;
    this.shared?.bind({ windowRu: () => this.held(this.clock.now()), wake: () => this.wakeWaiters() });
  }

  /** The tenant's budget per minute as far as we know it (configured, or lower as the server reports). */
  private get tenantBudget(): number {
    return Math.min(this.s.budgetRuPerMinute, this.observedLimit ?? Number.POSITIVE_INFINITY);
  }

  /** RU our own spend may hold at once: the tenant's budget, or the shares of it this process holds. */
  get capacity(): number {
    const mine = this.shared ? Math.min(this.tenantBudget, this.shared.heldRuPerMinute()) : this.tenantBudget;
    return mine * this.s.targetUtilisation;
  }

  /** RU our own and the unseen spend together may hold at once. */
  private get tenantCapacity(): number {
    return this.tenantBudget * this.s.targetUtilisation;
  }

  /** The limiter's clock: what `resumesAt` is measured against. */
  now(): number {
    return this.clock.now();
  }

  /** When the tenant's throttling pause ends (a time in the past when there is none). */
  resumesAt(): number {
    return this.pausedUntil;
  }

  /** Our own spend in the window, in flight included. */
  private held(now: number): number {
    return this.inFlightRu + this.window.held(now);
  }

  /**
   * Milliseconds to wait before `ru` may be spent at `now`: 0 = go, Infinity = wait for an answer,
   * a freed concurrency slot or more budget. Pure bookkeeping, no waiting; `acquire` loops on it.
   */
  delayBeforeSend(now: number, ru: number): number {
    if (now < this.pausedUntil) return this.pausedUntil - now;
    if (this.inFlight >= this.s.maxConcurrency) return Number.POSITIVE_INFINITY;
    const capacity = this.capacity;
    const tenantCapacity = this.tenantCapacity;
    const held = this.held(now);
    const total = held + this.unseen.held(now);
    if (held + ru <= capacity && total + ru <= tenantCapacity) return 0;
    // A charge larger than the whole capacity goes when the account is empty, or it never would.
    if (total === 0 && capacity > 0) return 0;
    if (capacity <= 0) return Number.POSITIVE_INFINITY;
    // Expiries free room at known times; in-flight charges and missing shares only on an event.
    const ownTarget = Math.max(0, capacity - ru) - this.inFlightRu;
    const totalTarget = Math.max(0, tenantCapacity - ru) - this.inFlightRu;
    const own = ownTarget < 0 ? undefined : this.window.msUntilAtMost(now, ownTarget);
    const both = totalTarget < 0 ? undefined : this.window.msUntilAtMost(now, totalTarget, this.unseen);
    if (own === undefined || both === undefined) return Number.POSITIVE_INFINITY;
    const ms = Math.max(own, both);
    return ms === 0 ? Number.POSITIVE_INFINITY : ms;
  }

  /** Waits (first come, first served) until `ru` may be spent, charges it and takes a concurrency slot. */
  async acquire(ru: number): Promise<Permit> {
    const previous = this.queueTail;
    let leave!: () => void;
    this.queueTail = new Promise((resolve) => (leave = resolve));
    await previous;
    try {
      for (;;) {
        const now = this.clock.now();
        const wait = this.delayBeforeSend(now, ru);
        if (wait === 0) break;
        if (now >= this.pausedUntil && this.held(now) + ru > this.capacity) this.shared?.wantMore();
        // A change (an answer, a share taken, a 429) may shorten the wait: re-check on either.
        const changed = new Promise<void>((resolve) => this.changeWaiters.push(resolve));
        if (wait === Number.POSITIVE_INFINITY) await changed;
        else {
          const cancel = new AbortController();
          await Promise.race([this.clock.sleep(wait, cancel.signal), changed]);
          cancel.abort();
        }
      }
      return this.take(ru, this.clock.now());
    } finally {
      leave();
    }
  }

  private take(ru: number, now: number): Permit {
    this.inFlightRu += ru;
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
        this.inFlightRu -= ru;
        this.window.book(this.clock.now() + BUDGET_WINDOW_MS, ru);
        this.wakeWaiters();
      },
    };
  }

  private wakeWaiters(): void {
    const waiters = this.changeWaiters;
    this.changeWaiters = [];
    for (const wake of waiters) wake();
  }

  /** Books spend the server counted and we did not, so the account matches the server's. */
  private bookUnseen(now: number, serverUsed: number): void {
    const unseen = serverUsed - this.held(now) - this.unseen.held(now);
    if (unseen <= 0) return;
    this.unseen.book(now + BUDGET_WINDOW_MS, unseen);
    this.stats.unseenRu += unseen;
  }

  /** Feeds what a response said back into the account. */
  observe(signal: ThrottleSignal): void {
    const now = this.clock.now();
    const { limit, remaining, resetMs } = signal.rateLimit ?? {};
    if (limit !== undefined && limit > 0 && limit < this.s.budgetRuPerMinute && limit !== this.observedLimit) {
      this.observedLimit = limit;
    }
    const throttled = signal.status === 429 || signal.status === 503;
    if (throttled) {
      this.stats.throttleSignals += 1;
      const wait = Math.max(signal.retryAfterMs ?? this.s.defaultRetryAfterMs, resetMs ?? 0);
      // Retry-After is when the server has room again; its RateLimit-Remaining (0) is no news
      // about spend beyond that, so nothing is booked: booking a full window would idle 60 s.
      this.pausedUntil = Math.max(this.pausedUntil, now + wait);
      this.wakeWaiters();
      return;
    }
    if (remaining !== undefined) {
      const serverUsed = (limit ?? this.tenantBudget) - remaining;
      if (serverUsed > this.held(now) + this.unseen.held(now)) this.stats.congestionSignals += 1;
      this.bookUnseen(now, serverUsed);
    }
  }

  snapshot(): LimiterStats {
    const now = this.clock.now();
    return {
      budgetRuPerMinute: this.s.budgetRuPerMinute,
      observedLimitRuPerMinute: this.observedLimit,
      rateRuPerMinute: this.capacity,
      windowRu: this.held(now) + this.unseen.held(now),
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
