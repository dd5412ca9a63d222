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

describe('reconciling deletes', () => {
  it('entries whose key is no longer in the source are orphans, across pages of both', async () => {
    const keys: Row[][] = [[{ id: 1 }, { id: 2 }], [{ id: 4 }]];
    const orphans = await findOrphans(pages(...keys), pages([entry(1), entry(3)], [entry(4), entry(5)]), ordersMapping());
    expect(orphans.map((e) => e.identityHash)).toEqual([identityOf(3), identityOf(5)]);
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
