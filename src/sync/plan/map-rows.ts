import { describe, isSyncError } from '../../core/errors';
import { identityHash } from '../../core/identity';
import { mapRow, type MappedRow, type ResolvedMapping } from '../../core/mapping';
import type { SyncDefinition } from '../../core/definitions';
import type { IdentityMembership } from '../../core/identity-set';
import type { Row } from '../../core/ports/source';
import { routeRow, type RowRoute } from './route';

/** A row that failed on its own (a value SharePoint cannot hold, an unroutable row, a message too large). */
export interface RowFailure {
  identityHash: string;
  key: unknown[];
  error: string;
}

export interface RoutedRow {
  mapped: MappedRow;
  route: RowRoute;
}

export interface MapRules {
  def: SyncDefinition;
  mapping: ResolvedMapping;
  /** Identities waiting for an admin's retry: a look-back re-read must not retry them. */
  quarantined: Pick<ReadonlySet<string>, 'has' | 'size'>;
  /** Identities already planned in this run (a row is planned once); this page's are added. The planner keeps them in an IdentitySet (12 bytes each). */
  seen: IdentityMembership;
}

/** Maps and routes a page of rows, in order. A skippable error is that row's failure; any other error stops the run. */
export function mapAndRoute(rows: Row[], rules: MapRules): { routed: RoutedRow[]; failures: RowFailure[] } {
  const { def, mapping, quarantined, seen } = rules;
  const routed: RoutedRow[] = [];
  const failures: RowFailure[] = [];
  for (const row of rows) {
    if (quarantined.size && quarantined.has(identityHash(mapping.key.map((k) => row[k]), mapping.keyHints))) continue;
    let mapped: MappedRow | undefined;
    try {
      mapped = mapRow(row, mapping);
      if (seen.has(mapped.identity)) continue;
      seen.add(mapped.identity);
      routed.push({ mapped, route: routeRow(def, row, mapped.identity) });
    } catch (error) {
      if (isSyncError(error) && error.errorClass !== 'skippable') throw error;
      const key = mapping.key.map((k) => row[k]);
      const identity = mapped?.identity ?? identityHash(key, mapping.keyHints);
      // A row fails once per run, even when a look-back reads it again after its retry by key.
      if (seen.has(identity) && !mapped) continue;
      seen.add(identity);
      failures.push({ identityHash: identity, key, error: describe(error) });
    }
  }
  return { routed, failures };
}
