import { deleteOp } from '../../../src/sync/plan/compare';
import { PlannedRun, SAMPLE_SIZE } from '../../../src/sync/plan/planned';
import { identityOf, mapped, order } from './fixtures';

/** The plan a run builds up: ops per list, counts and a bounded sample for the admin. */

const lists = { 'Orders Europe': 'list-eu', 'Orders Other': 'list-other' };
const create = (id: number) => {
  const row = mapped(order(id));
  return { op: 'create' as const, list: 'Orders Europe', to: { kind: 'provisioned' as const, listId: 'list-eu' }, write: { identityHash: row.identity, kind: 'create' as const, fields: row.fields, contentHash: row.contentHash, key: row.key } };
};

describe('the planned run', () => {
  it('knows the definition\'s lists by id', () => {
    expect(new PlannedRun(lists).listNames).toEqual(new Map([['list-eu', 'Orders Europe'], ['list-other', 'Orders Other']]));
  });

  it('queues writes per list id and counts them per shard list', () => {
    const plan = new PlannedRun(lists);
    plan.add(create(1), false);
    plan.add(create(2), false);
    plan.add({ op: 'delete', list: 'Orders Other', listId: 'list-other', write: deleteOp(identityOf(3), 'item-3', [3]) }, false);
    expect([...plan.writes.keys()]).toEqual(['list-eu', 'list-other']);
    expect(plan.writes.get('list-eu')!.map((w) => w.identityHash)).toEqual([identityOf(1), identityOf(2)]);
    expect(plan.byList).toEqual({
      'Orders Europe': { create: 2, update: 0, delete: 0, move: 0, unchanged: 0 },
      'Orders Other': { create: 0, update: 0, delete: 1, move: 0, unchanged: 0 },
    });
  });

  it('the sample shows the first ops only, while the counts cover every row', () => {
    const plan = new PlannedRun(lists);
    for (let id = 1; id <= SAMPLE_SIZE + 5; id++) plan.add(create(id), false);
    expect(plan.sample).toHaveLength(SAMPLE_SIZE);
    expect(plan.sample[0]).toEqual({ op: 'create', identityHash: identityOf(1), key: [1], list: 'Orders Europe' });
    expect(plan.byList['Orders Europe']!.create).toBe(SAMPLE_SIZE + 5);
  });

  it('a move carries the row to the new list\'s id and names both lists in the sample', () => {
    const plan = new PlannedRun(lists);
    const row = mapped(order(1));
    plan.add({ op: 'move', list: 'Orders Europe', fromList: 'Orders Other', from: { listId: 'list-other', itemId: 'item-1' }, to: { kind: 'provisioned', listId: 'list-eu' }, row }, false);
    expect(plan.moves).toEqual([{ identityHash: row.identity, from: { listId: 'list-other', itemId: 'item-1' }, toListId: 'list-eu', fields: row.fields, contentHash: row.contentHash, key: [1] }]);
    expect(plan.sample).toEqual([{ op: 'move', identityHash: row.identity, key: [1], list: 'Orders Europe', fromList: 'Orders Other' }]);
  });

  it('a dry run counts ops bound for a list it would provision, with nothing to send there', () => {
    const plan = new PlannedRun(lists);
    const row = mapped(order(1));
    plan.add({ ...create(1), list: 'Orders Asia', to: { kind: 'wouldProvision' } }, false);
    plan.add({ op: 'move', list: 'Orders Asia', fromList: 'Orders Europe', from: { listId: 'list-eu', itemId: 'item-1' }, to: { kind: 'wouldProvision' }, row }, false);
    expect(plan.writes.size).toBe(0);
    expect(plan.moves).toEqual([]);
    expect(plan.byList['Orders Asia']).toEqual({ create: 1, update: 0, delete: 0, move: 1, unchanged: 0 });
  });

  it('a retried row that needs no write leaves the failure list; a fresh one does not touch it', () => {
    const plan = new PlannedRun(lists);
    plan.add({ op: 'unchanged', list: 'Orders Europe', identityHash: identityOf(1) }, true);
    plan.add({ op: 'nothingToDelete', identityHash: identityOf(2) }, true);
    plan.add({ op: 'unchanged', list: 'Orders Europe', identityHash: identityOf(3) }, false);
    expect(plan.clearFailures).toEqual([identityOf(1), identityOf(2)]);
    expect(plan.unchanged).toBe(2);
    expect(plan.byList['Orders Europe']!.unchanged).toBe(2);
  });
});
