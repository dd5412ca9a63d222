import { identityHash } from '../../core/identity';
import type { ResolvedMapping } from '../../core/mapping';
import type { Row } from '../../core/ports/source';
import type { LedgerEntry } from '../../core/ports/state';
import { deleteOp } from './compare';
import type { PlannedRun } from './planned';

/** Ledger entries whose source row is gone (delete reconciliation): every key of the table against every entry. */
export async function findOrphans(sourceKeys: AsyncIterable<Row[]>, ledger: AsyncIterable<LedgerEntry[]>, mapping: ResolvedMapping): Promise<LedgerEntry[]> {
  const present = new Set<string>();
  for await (const keys of sourceKeys) {
    for (const k of keys) present.add(identityHash(mapping.key.map((c) => k[c]), mapping.keyHints));
  }
  const orphans: LedgerEntry[] = [];
  for await (const entries of ledger) for (const e of entries) if (!present.has(e.identityHash)) orphans.push(e);
  return orphans;
}

/**
 * Plans a delete per orphan: its item is deleted through a write batch. Returns the orphans
 * that never got an item (a create that did not happen): only their ledger entry is to drop.
 */
export function planOrphanDeletes(orphans: LedgerEntry[], plan: PlannedRun): string[] {
  const withoutItem: string[] = [];
  for (const e of orphans) {
    const list = plan.listNames.get(e.listId) ?? e.listId;
    // The source row is gone, so its key values are unknown here.
    if (e.itemId) plan.addDelete(list, e.listId, deleteOp(e.identityHash, e.itemId, []));
    else {
      plan.countDelete(list, e.identityHash, []);
      withoutItem.push(e.identityHash);
    }
  }
  return withoutItem;
}
