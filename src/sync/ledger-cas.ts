import { transientError } from '../core/errors';
import type { ListTarget } from '../core/ports/list-target';
import type { LedgerEntry, LedgerStore, LedgerWrite } from '../core/ports/state';
import type { SyncDeps } from './deps';

/**
 * Conditional ledger writes (issue 10, finding 4). Two batches may write one row at once (a
 * superseded planner's, a redelivery, a run whose lease expired): whichever reaches SharePoint
 * last decides what the item holds, whichever reaches the ledger last decides what the ledger
 * claims, and the two orders need not agree. So every ledger write after a Graph write is a
 * compare-and-set on the entry's version as this writer last saw it. A writer that loses the
 * race cannot know which Graph write landed last, so it never claims its own content: it marks
 * the entry `contentInDoubt` (the next run rewrites the item), or, when the ledger now puts the
 * row in another list or nowhere, hands back its own item as a stray for the caller to delete.
 */

/** How often a lost race is re-read and retried before the batch is retried as a whole. */
const MAX_ROUNDS = 5;

/** True when the ledger already holds a write planned later than `plannedAt`: an older op must not undo it. */
export function isSuperseded(entry: LedgerEntry | undefined, plannedAt: string | null): boolean {
  return entry?.sourceReadAt != null && plannedAt !== null && entry.sourceReadAt > plannedAt;
}

export interface RecordedWrites {
  /** New version (etag) of each entry written as asked. */
  etags: Map<string, string>;
  /** Items this writer made or wrote that the ledger no longer points at: to be deleted. */
  strays: LedgerEntry[];
}

/**
 * Writes `writes` (each conditional on `ifMatch`, the version the writer saw) and settles every
 * lost race as described above. Throws a transient error when contention outlasts the rounds.
 */
export async function recordWrites(ledger: Pick<LedgerStore, 'getLedger' | 'putLedgerIfMatch'>, writes: LedgerWrite[], now: () => string): Promise<RecordedWrites> {
  const etags = new Map<string, string>();
  const strays: LedgerEntry[] = [];
  let round = writes;
  for (let attempt = 0; round.length > 0; attempt++) {
    if (attempt >= MAX_ROUNDS) throw transientError('sync', 'ledger_contention', `${round.length} ledger entries kept changing under this batch; it is retried`);
    const written = await ledger.putLedgerIfMatch(round);
    const lost = round.filter((w) => !written.has(w.entry.identityHash));
    for (const w of round) {
      const etag = written.get(w.entry.identityHash);
      if (etag !== undefined && attempt === 0) etags.set(w.entry.identityHash, etag);
    }
    if (lost.length === 0) break;
    const definitionId = lost[0]!.entry.definitionId;
    const current = await ledger.getLedger(definitionId, lost.map((w) => w.entry.identityHash));
    round = [];
    for (const w of lost) {
      const mine = w.entry;
      const theirs = current.get(mine.identityHash);
      // Gone (a delete won) or placed in another list (a newer move or create): our item is left over.
      if (!theirs || theirs.listId !== mine.listId) {
        if (mine.itemId) strays.push(mine);
        continue;
      }
      // Theirs is a create still in flight (`pending`, no item yet) in our list: SyncKey is unique
      // there, so our item is the one it will adopt. Record it, or a writer that never finishes
      // (or itself loses to us) leaves an item no ledger entry names.
      if (theirs.itemId === null && mine.itemId) {
        round.push({ entry: { ...theirs, itemId: mine.itemId, state: 'synced', contentInDoubt: true, updatedAt: now() }, ifMatch: theirs.etag ?? null });
        continue;
      }
      if (sameOutcome(theirs, mine) || theirs.contentInDoubt) continue;
      round.push({ entry: { ...theirs, contentInDoubt: true, updatedAt: now() }, ifMatch: theirs.etag ?? null });
    }
  }
  return { etags, strays };
}

/**
 * Another delivery wrote what we wrote, or already finished the move we were recording (same
 * item, same content, its old item gone): nothing is in doubt.
 */
function sameOutcome(theirs: LedgerEntry, mine: LedgerEntry): boolean {
  if (theirs.itemId !== mine.itemId || theirs.contentHash !== mine.contentHash) return false;
  if (theirs.state === mine.state && sameMovedFrom(theirs.movedFrom, mine.movedFrom)) return true;
  return mine.state === 'moving' && theirs.state === 'synced' && !theirs.movedFrom;
}

/**
 * Compares two `movedFrom` values field by field. Never as JSON text: a store may hand the
 * object back with its keys in another order (PostgreSQL jsonb sorts them), and a false
 * "differs" here marked a finished move's entry in doubt under its own mover (chaos seed 11019).
 */
export function sameMovedFrom(a: LedgerEntry['movedFrom'], b: LedgerEntry['movedFrom']): boolean {
  if (!a || !b) return !a && !b;
  return a.listId === b.listId && a.itemId === b.itemId;
}

/**
 * Deletes items a lost race left without a ledger entry pointing at them (404 is done). One
 * that cannot be deleted now is logged: drift finds it as an orphan.
 */
export async function deleteStrays(deps: Pick<SyncDeps, 'log'>, target: ListTarget, siteId: string, strays: LedgerEntry[]): Promise<void> {
  const byList = new Map<string, LedgerEntry[]>();
  for (const e of strays) if (e.itemId) byList.set(e.listId, [...(byList.get(e.listId) ?? []), e]);
  for (const [listId, entries] of byList) {
    const results = await target.writeItems(siteId, listId, entries.map((e) => ({ opId: e.identityHash, kind: 'delete' as const, itemId: e.itemId! })));
    for (const r of results) {
      if (!r.ok && r.code !== 'item_not_found') deps.log.warn('an item left over by a lost ledger race could not be deleted', { listId, identityHash: r.opId, error: `${r.code}: ${r.message}` });
    }
  }
}
