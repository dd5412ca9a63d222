import type { ReconcileMark, StateStore } from '../../core/ports/state';

/**
 * A delete reconciliation compares every source key with every ledger entry: O(table) each
 * time, though on most runs nothing was deleted. The reconcile mark makes the unchanged case
 * one aggregate query. A mark says: every ledger entry named a row whose key was in the source
 * when its key set had this digest (`SourceDatabase.keySetDigest`). While the digest at a
 * run's start equals the mark's, the ledger's keys are a subset of the source's, so there is no
 * orphan to find and the compare is skipped.
 *
 * A run may keep or set the mark when the ledger held no orphan at its start — the mark held,
 * the ledger was empty, or its own full compare found none — and it planned no orphan delete,
 * and either it planned no create and compared nothing (the ledger gained nothing: the start
 * digest still holds) or the digest at its end equals the one at its start (the rows it created,
 * and the keys its compare saw, were there at the start and still are). Anything else clears it. A drift repair clears it, since it may add entries.
 *
 * The digest changes with any insert or delete of a key, but not with a key inserted and
 * deleted again within one run that also read and created it: such an orphan (and one from a
 * stale write batch landing after the next run's compare) is left to the next compare.
 * So that "next" is never far, a mark is trusted for `MARK_TRUSTED_MS` after the full compare
 * (or empty ledger) that grounded it; then a full compare runs again.
 */
export const MARK_TRUSTED_MS = 60 * 60_000;

export interface MarkFacts {
  key: string[];
  mappingVersion: number;
}

/** The row count a key digest begins with; undefined when it does not parse. */
export function digestRowCount(digest: string | null): number | undefined {
  const count = digest === null ? NaN : Number(digest.split(':')[0]);
  return Number.isSafeInteger(count) && count >= 0 ? count : undefined;
}

/** Does the stored mark stand for this start digest, key and mapping, within its trusted time? */
export function markHolds(mark: ReconcileMark | null, startDigest: string | null, facts: MarkFacts, now: Date): mark is ReconcileMark {
  if (!mark || startDigest === null) return false;
  if (mark.digest !== startDigest || mark.mappingVersion !== facts.mappingVersion) return false;
  if (mark.key.length !== facts.key.length || mark.key.some((k, i) => k !== facts.key[i])) return false;
  const grounded = Date.parse(mark.groundedAt);
  return Number.isFinite(grounded) && now.getTime() - grounded < MARK_TRUSTED_MS && grounded <= now.getTime() + 60_000;
}

export interface RunFacts {
  /** How the ledger was known to hold no orphan at the run's start; null when it was not. */
  basis: { kind: 'mark'; mark: ReconcileMark } | { kind: 'emptyLedger' } | { kind: 'compared'; orphans: number } | null;
  startDigest: string | null;
  /** Creates the run planned (rows without a ledger entry, or with a pending one). */
  creates: number;
  /** Orphan deletes it planned (reconcile) — the ledger still names rows that are gone until they settle. */
  orphanDeletes: number;
  /** Taken only when needed (creates planned, or a full compare): the digest after the run's reads. */
  endDigest: () => Promise<string>;
}

/** The mark this run leaves: the stored one kept, a new one, or null (cleared). */
export async function nextMark(facts: RunFacts, mark: MarkFacts, now: Date): Promise<ReconcileMark | null> {
  const { basis, startDigest } = facts;
  if (!basis || startDigest === null || facts.orphanDeletes > 0) return null;
  if (basis.kind === 'compared' && basis.orphans > 0) return null;
  // A compare saw the keys of its own moment, not the start's; creates add keys read after the start.
  if ((facts.creates > 0 || basis.kind === 'compared') && (await facts.endDigest()) !== startDigest) return null;
  const groundedAt = basis.kind === 'mark' ? basis.mark.groundedAt : now.toISOString();
  return { digest: startDigest, key: [...mark.key], mappingVersion: mark.mappingVersion, groundedAt };
}

/** Writes the run's mark when it differs from the stored one (most idle runs write nothing). */
export async function storeMark(state: Pick<StateStore, 'putReconcileMark'>, definitionId: string, stored: ReconcileMark | null, next: ReconcileMark | null): Promise<void> {
  if (stored === null && next === null) return;
  if (stored && next && JSON.stringify(stored) === JSON.stringify(next)) return;
  await state.putReconcileMark(definitionId, next);
}
