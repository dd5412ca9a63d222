import { bucketOf } from '../../../src/core/bucket-digest';
import type { Row } from '../../../src/core/ports/source';
import type { LedgerEntry } from '../../../src/core/ports/state';
import { PlannedRun } from '../../../src/sync/plan/planned';
import { findOrphans, forEachOrphanPage, planOrphanDeletes } from '../../../src/sync/plan/reconcile';
import { identityOf, mapped, order, ordersMapping, syncedEntry } from './fixtures';

/** Delete reconciliation: ledger entries whose source row is gone lose their item. */

async function* pages<T>(...items: T[][]): AsyncIterable<T[]> {
  yield* items;
}

const entry = (id: number, extra: Partial<LedgerEntry> = {}) => syncedEntry(mapped(order(id)), 'list-eu', `item-${id}`, extra);
const bareEntry = (id: number): LedgerEntry => ({ definitionId: 'orders', identityHash: identityOf(id), listId: 'list-eu', itemId: `item-${id}`, contentHash: 'c', state: 'synced' });
const chunk = <T>(items: T[], size: number): T[][] => Array.from({ length: Math.ceil(items.length / size) }, (_, i) => items.slice(i * size, (i + 1) * size));

describe('reconciling deletes', () => {
  it('entries whose key is no longer in the source are orphans, across pages of both', async () => {
    const keys: Row[][] = [[{ id: 1 }, { id: 2 }], [{ id: 4 }]];
    const { orphans } = await findOrphans(() => pages(...keys), () => pages([entry(1), entry(3)], [entry(4), entry(5)]), ordersMapping());
    expect(orphans.map((e) => e.identityHash)).toEqual([identityOf(3), identityOf(5)]);
  });

  it('holds only the identities of the buckets whose digests differ, never every key', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => i + 1);
    const keyPages = () => pages(...chunk(ids.map((id) => ({ id }) as Row), 1000));
    const ledger = [...ids.map((id) => bareEntry(id)), bareEntry(20_001), bareEntry(20_002), bareEntry(20_003)];
    let sourceReads = 0;
    const { orphans, stats } = await findOrphans(
      () => (sourceReads++, keyPages()),
      () => pages(...chunk(ledger, 1000)),
      ordersMapping(),
    );
    expect(orphans.map((e) => e.identityHash)).toEqual([identityOf(20_001), identityOf(20_002), identityOf(20_003)]);
    const orphanBuckets = new Set([20_001, 20_002, 20_003].map((id) => bucketOf(identityOf(id))));
    expect(stats.differingBuckets).toBe(orphanBuckets.size);
    const inThoseBuckets = ids.filter((id) => orphanBuckets.has(bucketOf(identityOf(id)))).length;
    expect(stats.heldSourceIdentities).toBe(inThoseBuckets);
    expect(stats.heldSourceIdentities).toBeLessThan(300); // about 40 per bucket, not 10,000
    expect(sourceReads).toBe(2); // digests, then one group of differing buckets
  });

  it('a table known to be within the bound is compared in one exact pass of each side, without the digest pass', async () => {
    const ids = Array.from({ length: 3000 }, (_, i) => i + 1);
    const live = ids.filter((id) => id % 7 !== 0);
    let sourceReads = 0;
    let ledgerReads = 0;
    const { orphans, stats } = await findOrphans(
      () => (sourceReads++, pages(...chunk(live.map((id) => ({ id }) as Row), 500))),
      () => (ledgerReads++, pages(...chunk(ids.map((id) => bareEntry(id)), 500))),
      ordersMapping(),
      { sourceRows: live.length, maxHeldPerPass: 5000 },
    );
    expect(orphans.map((e) => e.identityHash)).toEqual(ids.filter((id) => id % 7 === 0).map((id) => identityOf(id)));
    expect([sourceReads, ledgerReads, stats.passes]).toEqual([1, 1, 1]);
    expect(stats.heldSourceIdentities).toBe(live.length);
    // over the bound: the digests first, and no pass holds more than the bound
    sourceReads = 0;
    const big = await findOrphans(
      () => (sourceReads++, pages(...chunk(live.map((id) => ({ id }) as Row), 500))),
      () => pages(...chunk(ids.map((id) => bareEntry(id)), 500)),
      ordersMapping(),
      { sourceRows: live.length, maxHeldPerPass: 1000 },
    );
    expect(big.orphans).toEqual(orphans);
    expect(sourceReads).toBeGreaterThan(2);
    expect(big.stats.heldSourceIdentities).toBeLessThanOrEqual(1000);
  });

  it('compares differing buckets a group at a time when most of them differ (a rebuild)', async () => {
    const ids = Array.from({ length: 4000 }, (_, i) => i + 1);
    const { orphans, stats } = await findOrphans(
      () => pages(...chunk(ids.map((id) => ({ id }) as Row), 500)),
      () => pages(ids.map((id) => bareEntry(id + 100_000))),
      ordersMapping(),
      { bucketsPerPass: 32 },
    );
    expect(orphans).toHaveLength(4000);
    expect(stats.differingBuckets).toBe(256);
    expect(stats.passes).toBe(1 + 256 / 32);
    expect(stats.heldSourceIdentities).toBeLessThan(4000 / 4);
  });

  it('a pass holds no more identities than its bound however large the table, and orphans are handed on a page at a time', async () => {
    const ids = Array.from({ length: 10_000 }, (_, i) => i + 1);
    // Every 5th row is gone from the source: orphans in every bucket.
    const live = ids.filter((id) => id % 5 !== 0);
    const expected = new Set(ids.filter((id) => id % 5 === 0).map((id) => identityOf(id)));
    const received: string[] = [];
    let largestPage = 0;
    const stats = await forEachOrphanPage(
      () => pages(...chunk(live.map((id) => ({ id }) as Row), 1000)),
      () => pages(...chunk(ids.map((id) => bareEntry(id)), 500)),
      ordersMapping(),
      async (orphans) => {
        largestPage = Math.max(largestPage, orphans.length);
        received.push(...orphans.map((e) => e.identityHash));
      },
      { maxHeldPerPass: 1000, orphanPageSize: 300 },
    );
    expect(received).toHaveLength(expected.size);
    expect(new Set(received)).toEqual(expected);
    expect(stats.differingBuckets).toBe(256);
    expect(stats.heldSourceIdentities).toBeLessThanOrEqual(1000);
    expect(stats.passes).toBeGreaterThanOrEqual(1 + 10_000 / 1000);
    // At most a page of orphans plus the ledger page that crossed it.
    expect(largestPage).toBeLessThanOrEqual(300 + 500);
    expect(stats.heldLedgerEntries).toBe(largestPage);
  });

  it('an orphan with an item becomes a delete of that item; one without only drops its ledger entry', () => {
    const plan = new PlannedRun({ 'Orders Europe': 'list-eu' });
    const withoutItem = planOrphanDeletes([entry(3), entry(5, { itemId: null, state: 'pending' })], plan);
    expect(withoutItem).toEqual([identityOf(5)]);
    expect(plan.writes.get('list-eu')).toEqual([{ identityHash: identityOf(3), kind: 'delete', itemId: 'item-3', contentHash: '', key: [] }]);
    expect(plan.byList['Orders Europe']!.delete).toBe(2);
    expect(plan.sample).toEqual([
      { op: 'delete', identityHash: identityOf(3), key: [], list: 'Orders Europe' },
      { op: 'delete', identityHash: identityOf(5), key: [], list: 'Orders Europe' },
    ]);
  });
});
