/**
 * SharePoint's per-app resource-unit budget, as a sliding 60-second window
 * (learn.microsoft.com/sharepoint/dev/general-development/how-to-avoid-getting-throttled-or-blocked-in-sharepoint-online).
 */

export type RuKind = 'read1' | 'readMany' | 'create' | 'update' | 'delete' | 'permission';

/** Resource units per Graph request, from the same Microsoft page. */
export const RU_COST: Record<RuKind, number> = {
  read1: 1,
  readMany: 2,
  create: 2,
  update: 2,
  delete: 2,
  permission: 5,
};

const WINDOW_MS = 60_000;
/** Charges within one bucket share an expiry time; keeps the window small under load. */
const BUCKET_MS = 50;

export class RuWindow {
  private times: number[] = [];
  private amounts: number[] = [];
  private head = 0;
  private sum = 0;

  private prune(now: number): void {
    while (this.head < this.times.length && (this.times[this.head] as number) + WINDOW_MS <= now) {
      this.sum -= this.amounts[this.head] as number;
      this.head++;
    }
    if (this.head > 4096 && this.head > this.times.length / 2) {
      this.times = this.times.slice(this.head);
      this.amounts = this.amounts.slice(this.head);
      this.head = 0;
    }
    if (this.head === this.times.length) this.sum = 0; // no drift from float sums
  }

  used(now: number): number {
    this.prune(now);
    return this.sum;
  }

  charge(now: number, ru: number): void {
    this.prune(now);
    const last = this.times.length - 1;
    if (last >= this.head && now - (this.times[last] as number) < BUCKET_MS) {
      this.amounts[last] = (this.amounts[last] as number) + ru;
    } else {
      this.times.push(now);
      this.amounts.push(ru);
    }
    this.sum += ru;
  }

  /** Milliseconds until the window's usage has fallen to `target` or below. */
  msUntilAtMost(now: number, target: number): number {
    this.prune(now);
    let remaining = this.sum;
    if (remaining <= target) return 0;
    for (let i = this.head; i < this.times.length; i++) {
      remaining -= this.amounts[i] as number;
      if (remaining <= target) return Math.max(0, (this.times[i] as number) + WINDOW_MS - now);
    }
    return WINDOW_MS;
  }

  clear(): void {
    this.times = [];
    this.amounts = [];
    this.head = 0;
    this.sum = 0;
  }
}

export interface Admission {
  throttled: boolean;
  /** Retry-After and RateLimit-* headers for the response. */
  headers: Record<string, string>;
}

/**
 * Charges each request its cost and decides whether it is throttled. Throttled requests are
 * charged too (Microsoft: "throttled requests count towards usage limits"), so a client that
 * ignores Retry-After stays throttled longer; one that waits Retry-After gets through, because
 * Retry-After is the time until the usage, including the throttled charge, leaves room again.
 */
export class Throttle {
  readonly window = new RuWindow();
  constructor(public budget: number) {}

  admit(now: number, cost: number): Admission {
    const before = this.window.used(now);
    this.window.charge(now, cost);
    const after = before + cost;
    if (after > this.budget) {
      const seconds = this.secondsUntil(now, this.budget - cost);
      return {
        throttled: true,
        headers: {
          'Retry-After': String(seconds),
          'RateLimit-Limit': String(this.budget),
          'RateLimit-Remaining': '0',
          'RateLimit-Reset': String(seconds),
        },
      };
    }
    if (after >= 0.8 * this.budget) {
      return {
        throttled: false,
        headers: {
          'RateLimit-Limit': String(this.budget),
          'RateLimit-Remaining': String(Math.max(0, Math.floor(this.budget - after))),
          // Seconds until usage is back under the 80 % mark where these headers start.
          'RateLimit-Reset': String(this.secondsUntil(now, 0.8 * this.budget - 1e-9)),
        },
      };
    }
    return { throttled: false, headers: {} };
  }

  private secondsUntil(now: number, target: number): number {
    if (target < 0) return 60;
    return Math.max(1, Math.ceil(this.window.msUntilAtMost(now, target) / 1000));
  }
}
