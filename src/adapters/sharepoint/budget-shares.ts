import { randomUUID } from 'node:crypto';
import { hostname } from 'node:os';
import type { LeaseStore } from '../../core/ports/state';
import { BUDGET_WINDOW_MS, type SharedBudget } from './limiter';

/**
 * One tenant budget across every instance (DESIGN §6, docs/decisions.md): the tenant's budget is
 * cut into `shares` equal shares, each a lease in the state store; a process spends at most the
 * shares it holds. The sum over instances holds because a share changes hands only when its
 * spend has left the budget window:
 *
 * - a holder frees a share only when its own account (which keeps each charge a window after
 *   its answer) fits in the shares it keeps;
 * - a holder that dies stops renewing; its lease runs out `leaseTtlMs` after the last renewal,
 *   which is longer than the window plus the renewal interval, so its spend has left the window
 *   by then.
 *
 * Shares are taken one at a time while callers wait, so busy instances end up with about equal
 * parts; an idle instance gives its shares back at the next renewal tick.
 */

export interface BudgetSharesOptions {
  leases: LeaseStore;
  tenantId: string;
  budgetRuPerMinute: number;
  shares: number;
  /** Unique per process; defaults to host, pid and a random id. */
  holder?: string;
  /** Renewal (and give-back) interval. */
  renewEveryMs?: number;
  /** How long to wait before trying again when every share is taken. */
  retryMs?: number;
  /** Told when the lease store fails; the shares already held stay in use until their lease would run out. */
  onError?: (error: unknown) => void;
}

const DEFAULT_RENEW_MS = 10_000;
const DEFAULT_RETRY_MS = 1_000;

export class LeasedBudgetShares implements SharedBudget {
  private readonly held = new Set<number>();
  private readonly shareRu: number;
  private readonly holder: string;
  private readonly renewEveryMs: number;
  private readonly leaseTtlMs: number;
  private readonly retryMs: number;
  private account: { windowRu(): number; wake(): void } = { windowRu: () => 0, wake: () => {} };
  /** Callers waited since the last acquisition attempt (or renewal tick). */
  private wanted = false;
  private wantedSinceTick = false;
  private acquiring = false;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly renewTimer: NodeJS.Timeout;
  private closed = false;

  constructor(private readonly opts: BudgetSharesOptions) {
    if (!(opts.shares >= 1 && Number.isInteger(opts.shares))) throw new RangeError('shares must be a positive integer');
    this.shareRu = opts.budgetRuPerMinute / opts.shares;
    this.holder = opts.holder ?? `${hostname()}:${process.pid}:${randomUUID()}`;
    this.renewEveryMs = opts.renewEveryMs ?? DEFAULT_RENEW_MS;
    this.leaseTtlMs = BUDGET_WINDOW_MS + 3 * this.renewEveryMs;
    this.retryMs = opts.retryMs ?? DEFAULT_RETRY_MS;
    this.renewTimer = setInterval(() => void this.tick(), this.renewEveryMs);
    this.renewTimer.unref();
  }

  bind(account: { windowRu(): number; wake(): void }): void {
    this.account = account;
  }

  heldRuPerMinute(): number {
    return this.held.size * this.shareRu;
  }

  /** Shares held now (for tests and the benchmark). */
  get heldShares(): number {
    return this.held.size;
  }

  wantMore(): void {
    if (this.closed) return;
    this.wanted = true;
    this.wantedSinceTick = true;
    if (!this.acquiring && this.retryTimer === undefined) void this.acquire();
  }

  private leaseName(share: number): string {
    return `graph-budget:${this.opts.tenantId.trim().toLowerCase()}:${share}`;
  }

  /** Takes one free share per round while callers keep waiting; backs off when none is free. */
  private async acquire(): Promise<void> {
    this.acquiring = true;
    try {
      while (this.wanted && !this.closed && this.held.size < this.opts.shares) {
        this.wanted = false;
        const share = await this.takeAnyFreeShare();
        if (share === undefined) {
          this.retryTimer = setTimeout(() => {
            this.retryTimer = undefined;
            // The limiter asks again (wantMore) if its callers still wait.
            this.account.wake();
          }, this.retryMs);
          this.retryTimer.unref();
          return;
        }
        this.held.add(share);
        this.account.wake();
      }
    } catch (error) {
      this.opts.onError?.(error);
    } finally {
      this.acquiring = false;
    }
  }

  private async takeAnyFreeShare(): Promise<number | undefined> {
    // Start at a random share so instances do not all contend for share 0.
    const start = Math.floor(Math.random() * this.opts.shares);
    for (let i = 0; i < this.opts.shares; i++) {
      const share = (start + i) % this.opts.shares;
      if (this.held.has(share)) continue;
      if (await this.opts.leases.acquireLease(this.leaseName(share), this.holder, this.leaseTtlMs)) return share;
    }
    return undefined;
  }

  /** Renews every held share, and gives back what an idle account no longer needs. */
  private async tick(): Promise<void> {
    if (this.closed) return;
    try {
      for (const share of [...this.held]) {
        if (!(await this.opts.leases.renewLease(this.leaseName(share), this.holder, this.leaseTtlMs))) this.held.delete(share);
      }
      if (!this.wantedSinceTick) {
        for (const share of [...this.held]) {
          if (this.account.windowRu() > (this.held.size - 1) * this.shareRu) break;
          this.held.delete(share);
          await this.opts.leases.releaseLease(this.leaseName(share), this.holder);
        }
      }
      this.wantedSinceTick = false;
    } catch (error) {
      this.opts.onError?.(error);
    }
  }

  /**
   * Stops renewing and frees the shares whose spend has left the window; the rest run out by
   * themselves, a window after the last renewal at most.
   */
  async close(): Promise<void> {
    this.closed = true;
    clearInterval(this.renewTimer);
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.account.windowRu() > 0) return;
    for (const share of [...this.held]) {
      this.held.delete(share);
      await this.opts.leases.releaseLease(this.leaseName(share), this.holder);
    }
  }
}
