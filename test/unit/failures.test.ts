import type { FailurePageOptions, FailureRecord, Page, StateStore } from '../../src/core/ports/state';
import { failurePages, quarantinedIdentities, recordFailures, retryFailures } from '../../src/sync/failures';
import type { SyncDeps } from '../../src/sync/deps';
import { ordersDefinition } from './fixtures';

/**
 * The failure list is read in pages or by the rows at hand, never whole (finding 10): a store
 * whose whole-list read throws stands in for a list too long to hold.
 */

const at = '2026-01-01T00:00:00.000Z';
const failure = (n: number, quarantined = false): FailureRecord => ({
  definitionId: 'orders',
  identityHash: n.toString(16).padStart(64, '0'),
  key: [n],
  attempts: quarantined ? 5 : 1,
  lastError: 'too long',
  quarantined,
  firstFailedAt: at,
  lastFailedAt: at,
});

function pagedOnlyState(records: FailureRecord[]) {
  const stored = new Map(records.map((f) => [f.identityHash, f]));
  const pageSizes: number[] = [];
  const state = {
    async getFailures(): Promise<FailureRecord[]> {
      throw new Error('the whole failure list was loaded');
    },
    async pageFailures(_definitionId: string, opts: FailurePageOptions = {}): Promise<Page<FailureRecord>> {
      const after = opts.next ?? '';
      const chosen = [...stored.values()].filter((f) => f.identityHash > after && (opts.quarantined === undefined || f.quarantined === opts.quarantined)).sort((a, b) => a.identityHash.localeCompare(b.identityHash));
      const items = chosen.slice(0, opts.limit ?? 50);
      pageSizes.push(items.length);
      return chosen.length > items.length ? { items, next: items.at(-1)!.identityHash } : { items };
    },
    async getFailuresFor(_definitionId: string, hashes: string[]): Promise<Map<string, FailureRecord>> {
      return new Map(hashes.flatMap((h) => (stored.has(h) ? [[h, stored.get(h)!] as const] : [])));
    },
    async putFailure(f: FailureRecord): Promise<void> {
      stored.set(f.identityHash, f);
    },
  };
  return { state: state as unknown as StateStore, stored, pageSizes };
}

describe('reading the failure list', () => {
  it('hands out due and quarantined rows a page at a time, never more than a page', async () => {
    const { state, pageSizes } = pagedOnlyState(Array.from({ length: 23 }, (_, i) => failure(i + 1, i % 4 === 0)));
    const due: string[] = [];
    for await (const page of failurePages(state, 'orders', false, 5)) due.push(...page.map((f) => f.identityHash));
    expect(due).toHaveLength(17);
    expect(new Set(due).size).toBe(17);
    expect(Math.max(...pageSizes)).toBe(5);
    // Exactly the six quarantined identities (held as 12-byte fingerprints, so compared by membership).
    const quarantined = await quarantinedIdentities(state, 'orders');
    expect(quarantined.size).toBe(6);
    for (let i = 1; i <= 23; i++) expect([i, quarantined.has(failure(i).identityHash)]).toEqual([i, (i - 1) % 4 === 0]);
  });

  it('recording failures looks up only the rows that failed, and counts their attempts on', async () => {
    const { state, stored } = pagedOnlyState([failure(1), failure(2)]);
    const deps = { state, now: () => new Date(at) } as unknown as SyncDeps;
    await recordFailures(deps, ordersDefinition({ maxAttempts: 2 }), 'run-2', [{ identityHash: failure(1).identityHash, key: [1], error: 'still too long' }]);
    expect(stored.get(failure(1).identityHash)).toMatchObject({ attempts: 2, quarantined: true, lastError: 'still too long', lastRunId: 'run-2' });
    expect(stored.get(failure(2).identityHash)).toMatchObject({ attempts: 1 });
  });

  it('retrying all failures lifts every quarantine page by page', async () => {
    const { state, stored } = pagedOnlyState(Array.from({ length: 1203 }, (_, i) => failure(i + 1, true)));
    const deps = { state } as unknown as SyncDeps;
    expect(await retryFailures(deps, 'orders')).toBe(1203);
    expect([...stored.values()].every((f) => !f.quarantined && f.attempts === 0)).toBe(true);
    expect(await retryFailures(deps, 'orders', [failure(7).identityHash, 'f'.repeat(64)])).toBe(1);
  });
});
