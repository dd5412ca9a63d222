import { conflict, skippableError, SyncError, transientError } from '../../../src/core/errors';
import type { LedgerEntry } from '../../../src/core/ports/state';
import type { ResolvedShardList } from '../../../src/sync/shard-lists';
import type { MapRules } from '../../../src/sync/plan/map-rows';
import { planPage, type PagePorts } from '../../../src/sync/plan/plan-page';
import { PlannedRun } from '../../../src/sync/plan/planned';
import { identityOf, mapped, order, ordersDefinition, ordersMapping, syncedEntry } from './fixtures';

/** One page through map → route → ledger → plan, with the ledger and shard lists handed in as Maps. */

const def = ordersDefinition({ deletes: { mode: 'softDelete', column: 'removed' } });
const rules = (): MapRules => ({ def, mapping: ordersMapping(def), quarantined: new Set(), seen: new Set() });

/** Ports over a ledger Map and shard lists by name; a list mapped to an Error fails to resolve with it. */
function ports(ledger: Map<string, LedgerEntry>, lists: Record<string, ResolvedShardList | Error>) {
  const ledgerCalls: string[][] = [];
  const port: PagePorts = {
    async ledger(hashes) {
      ledgerCalls.push(hashes);
      return new Map(hashes.flatMap((h) => (ledger.has(h) ? [[h, ledger.get(h)!] as const] : [])));
    },
    async shardList(name) {
      const list = lists[name];
      if (list instanceof Error) throw list;
      if (!list) throw new Error(`unexpected list ${name}`);
      return list;
    },
  };
  return { port, ledgerCalls };
}

const europe: ResolvedShardList = { kind: 'provisioned', listId: 'list-eu' };
const other: ResolvedShardList = { kind: 'provisioned', listId: 'list-other' };

describe('planning a page', () => {
  it('looks the whole page up in the ledger at once and plans each row', async () => {
    const moved = mapped(order(2, { region: 'US' }));
    const ledger = new Map([[moved.identity, syncedEntry(moved, 'list-eu', 'item-2')]]);
    const { port, ledgerCalls } = ports(ledger, { 'Orders Europe': europe, 'Orders Other': other });
    const plan = new PlannedRun({ 'Orders Europe': 'list-eu', 'Orders Other': 'list-other' });
    await planPage([order(1), order(2, { region: 'US' })], new Set(), rules(), port, plan);
    expect(ledgerCalls).toEqual([[identityOf(1), identityOf(2)]]);
    expect(plan.writes.get('list-eu')!.map((w) => [w.kind, w.identityHash])).toEqual([['create', identityOf(1)]]);
    expect(plan.moves).toEqual([expect.objectContaining({ identityHash: identityOf(2), from: { listId: 'list-eu', itemId: 'item-2' }, toListId: 'list-other' })]);
  });

  it('a soft-deleted row with an item becomes a delete there, without resolving a shard list', async () => {
    const gone = mapped(order(1, { removed: true }), ordersMapping(def));
    const { port } = ports(new Map([[gone.identity, syncedEntry(gone, 'list-other', 'item-1')]]), {});
    const plan = new PlannedRun({ 'Orders Other': 'list-other' });
    await planPage([order(1, { removed: true })], new Set(), rules(), port, plan);
    expect(plan.writes.get('list-other')).toEqual([{ identityHash: gone.identity, kind: 'delete', itemId: 'item-1', contentHash: '', key: [1] }]);
    expect(plan.byList).toEqual({ 'Orders Other': { create: 0, update: 0, delete: 1, move: 0, unchanged: 0 } });
  });

  it('a newly provisioned shard list is named in the plan from then on', async () => {
    const { port } = ports(new Map(), { 'Orders Europe': { kind: 'provisioned', listId: 'list-new' } });
    const plan = new PlannedRun({});
    await planPage([order(1)], new Set(), rules(), port, plan);
    expect(plan.listNames.get('list-new')).toBe('Orders Europe');
  });

  it('rows bound for a list that cannot be provisioned fail with the reason; other rows go on', async () => {
    const missing = skippableError('sync', 'shard_list_missing', 'the shard list "Orders Europe" is not provisioned and autoProvision is off');
    const { port } = ports(new Map(), { 'Orders Europe': missing, 'Orders Other': other });
    const plan = new PlannedRun({});
    await planPage([order(1), order(2, { region: 'US' })], new Set(), rules(), port, plan);
    expect(plan.failures).toEqual([{ identityHash: identityOf(1), key: [1], error: missing.message }]);
    expect([...plan.writes.keys()]).toEqual(['list-other']);
  });

  it('a list with incompatible columns fails its rows too', async () => {
    const { port } = ports(new Map(), { 'Orders Europe': conflict('sync', 'shard_list_conflict', 'incompatible columns') });
    const plan = new PlannedRun({});
    await planPage([order(1)], new Set(), rules(), port, plan);
    expect(plan.failures.map((f) => f.error)).toEqual(['incompatible columns']);
  });

  it('Graph refusing the app (403) while provisioning a list stops the run instead of failing every row', async () => {
    const forbidden = new SyncError('provisioning: Graph answered 403', { code: 'graph_forbidden', module: 'sharepoint', errorClass: 'config', status: 403 });
    const { port } = ports(new Map(), { 'Orders Europe': forbidden });
    const plan = new PlannedRun({});
    await expect(planPage([order(1)], new Set(), rules(), port, plan)).rejects.toBe(forbidden);
    expect(plan.failures).toEqual([]);
  });

  it('an outage while resolving a list stops the run', async () => {
    const { port } = ports(new Map(), { 'Orders Europe': transientError('graph', 'unavailable', 'Graph is down') });
    await expect(planPage([order(1)], new Set(), rules(), port, new PlannedRun({}))).rejects.toThrow('Graph is down');
    const { port: plainError } = ports(new Map(), { 'Orders Europe': new Error('socket hang up') });
    await expect(planPage([order(1)], new Set(), rules(), plainError, new PlannedRun({}))).rejects.toThrow('socket hang up');
  });

  it('mapping failures come before list failures, and a retried row that is in step leaves the failure list', async () => {
    const inStep = mapped(order(3), ordersMapping(def));
    const { port } = ports(new Map([[inStep.identity, syncedEntry(inStep, 'list-eu', 'item-3')]]), { 'Orders Europe': europe, 'Orders Other': skippableError('sync', 'shard_list_missing', 'no list') });
    const plan = new PlannedRun({ 'Orders Europe': 'list-eu' });
    await planPage([order(1, { region: 'US' }), order(2, { customer: 'far too long a name' }), order(3)], new Set([identityOf(3)]), rules(), port, plan);
    expect(plan.failures.map((f) => f.identityHash)).toEqual([identityOf(2), identityOf(1)]);
    expect(plan.clearFailures).toEqual([identityOf(3)]);
  });
});
