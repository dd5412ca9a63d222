import { LeasedBudgetShares } from '../../../src/adapters/sharepoint/budget-shares';
import type { LeaseStore } from '../../../src/core/ports/state';

/** Leases in memory, with the state store's rules (free when unheld or expired; only the holder extends or frees). */
class MemoryLeases implements LeaseStore {
  private readonly leases = new Map<string, { holder: string; until: number }>();
  async acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const lease = this.leases.get(name);
    if (lease && lease.holder !== holder && lease.until > Date.now()) return false;
    this.leases.set(name, { holder, until: Date.now() + ttlMs });
    return true;
  }
  async renewLease(name: string, holder: string, ttlMs: number): Promise<boolean> {
    const lease = this.leases.get(name);
    if (!lease || lease.holder !== holder) return false;
    lease.until = Date.now() + ttlMs;
    return true;
  }
  async releaseLease(name: string, holder: string): Promise<void> {
    if (this.leases.get(name)?.holder === holder) this.leases.delete(name);
  }
}

const until = async (done: () => boolean) => {
  for (let i = 0; i < 200 && !done(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
};

/** An account as the limiter binds it: `spent` RU in the window, callers waiting while `waiting`. */
function account(shares: LeasedBudgetShares, state: { spent: number; waiting: boolean }) {
  shares.bind({ windowRu: () => state.spent, wake: () => state.waiting && shares.wantMore() });
}

describe('leased budget shares', () => {
  it('two busy instances split the tenant budget and together never hold more than it', async () => {
    const leases = new MemoryLeases();
    const opts = { leases, tenantId: 'contoso', budgetRuPerMinute: 8_000, shares: 8, retryMs: 5 };
    const a = new LeasedBudgetShares({ ...opts, holder: 'a' });
    const b = new LeasedBudgetShares({ ...opts, holder: 'b' });
    account(a, { spent: 0, waiting: true });
    account(b, { spent: 0, waiting: true });
    a.wantMore();
    b.wantMore();
    await until(() => a.heldShares + b.heldShares === 8);
    expect(a.heldShares + b.heldShares).toBe(8);
    expect(a.heldShares).toBeGreaterThanOrEqual(2);
    expect(b.heldShares).toBeGreaterThanOrEqual(2);
    expect(a.heldRuPerMinute() + b.heldRuPerMinute()).toBe(8_000);
    await Promise.all([a.close(), b.close()]);
  });

  it('an idle instance gives back only the shares whose spend has left the window', async () => {
    const leases = new MemoryLeases();
    const a = new LeasedBudgetShares({ leases, tenantId: 'contoso', budgetRuPerMinute: 8_000, shares: 8, holder: 'a', renewEveryMs: 20, retryMs: 5 });
    const state = { spent: 0, waiting: true };
    account(a, state);
    a.wantMore();
    await until(() => a.heldShares === 8);
    // Idle now, but 2,500 RU are still in the window: three shares (3,000 RU) stay.
    state.waiting = false;
    state.spent = 2_500;
    await until(() => a.heldShares === 3);
    await new Promise((resolve) => setTimeout(resolve, 60));
    expect(a.heldShares).toBe(3);
    // Another instance can take what was given back, and no more.
    const b = new LeasedBudgetShares({ leases, tenantId: 'contoso', budgetRuPerMinute: 8_000, shares: 8, holder: 'b', retryMs: 5 });
    account(b, { spent: 0, waiting: true });
    b.wantMore();
    await until(() => b.heldShares === 5);
    await new Promise((resolve) => setTimeout(resolve, 30));
    expect(b.heldShares).toBe(5);
    state.spent = 0;
    await Promise.all([a.close(), b.close()]);
  });
});
