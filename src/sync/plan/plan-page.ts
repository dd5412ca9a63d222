import { describe, isSyncError } from '../../core/errors';
import type { Row } from '../../core/ports/source';
import type { LedgerEntry } from '../../core/ports/state';
import type { ResolvedShardList } from '../shard-lists';
import { compareWithLedger, type RowDestination } from './compare';
import { mapAndRoute, type MapRules } from './map-rows';
import type { PlannedRun } from './planned';
import type { RowRoute } from './route';

/** Graph refusing the app's credentials or permissions: no row is to blame. */
const REFUSALS: ReadonlySet<string> = new Set(['graph_unauthorized', 'graph_forbidden']);

/** What planning a page needs from outside: the ledger and the shard lists (a test hands in Maps). */
export interface PagePorts {
  /** Ledger entries of these identities; an identity never synced is absent. */
  ledger(identityHashes: string[]): Promise<ReadonlyMap<string, LedgerEntry>>;
  /** The shard list's id, provisioning the list on first use. */
  shardList(listName: string): Promise<ResolvedShardList>;
}

/**
 * Plans one page of source rows: map and route each row, look the page up in the ledger in one
 * call, resolve each row's shard list and add what it needs to the plan. `retried` holds the
 * identities that came from the failure list.
 */
export async function planPage(rows: Row[], retried: ReadonlySet<string>, rules: MapRules, ports: PagePorts, plan: PlannedRun): Promise<void> {
  const { routed, failures } = mapAndRoute(rows, rules);
  for (const failure of failures) plan.fail(failure);
  const ledger = await ports.ledger(routed.map((r) => r.mapped.identity));
  // A page's rows go to a few shard lists: each is resolved once (the first row that needs it),
  // not awaited row by row. A list that failed is tried again for its next row, as before.
  const resolved = new Map<string, RowDestination>();
  for (const { mapped, route } of routed) {
    let destination = route.kind === 'softDeleted' ? route : resolved.get(route.listName);
    if (!destination) {
      try {
        destination = await destinationOf(route, ports, plan.listNames);
      } catch (error) {
        // A list that cannot be provisioned fails its rows; an outage, or Graph refusing the
        // app itself (401/403: an admin must grant access), stops the run instead.
        if (!isSyncError(error) || error.transient || REFUSALS.has(error.code)) throw error;
        plan.fail({ identityHash: mapped.identity, key: mapped.key, error: describe(error) });
        continue;
      }
      if (route.kind !== 'softDeleted') resolved.set(route.listName, destination);
    }
    plan.add(compareWithLedger(mapped, destination, ledger.get(mapped.identity), plan.listNames, rules.mapping.hash), retried.has(mapped.identity));
  }
}

async function destinationOf(route: RowRoute, ports: PagePorts, listNames: Map<string, string>): Promise<RowDestination> {
  if (route.kind === 'softDeleted') return route;
  const list = await ports.shardList(route.listName);
  if (list.kind === 'provisioned') listNames.set(list.listId, route.listName);
  return { kind: 'list', listName: route.listName, list };
}
