import { bucketOf } from '../../../src/core/bucket-digest';
import type { Row } from '../../../src/core/ports/source';
import type { LedgerEntry } from '../../../src/core/ports/state';
import { PlannedRun } from '../../../src/sync/plan/planned';
import { findOrphans, planOrphanDeletes } from '../../../src/sync/plan/reconcile';
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
