import { BucketDigests, bucketOf } from '../../core/bucket-digest';
import { identityHash } from '../../core/identity';
import type { ResolvedMapping } from '../../core/mapping';
import type { Row } from '../../core/ports/source';
import { isSyncError } from '../../core/errors';
import type { LedgerEntry, LedgerStore, LedgerWrite } from '../../core/ports/state';
import { deleteOp } from './compare';
import type { PlannedRun } from './planned';

/** What a reconciliation held and read, so its memory can be checked (it never holds every key). */
export interface ReconcileStats {
  differingBuckets: number;
  /** Most source identities held at once (only those of the buckets being compared). */
  heldSourceIdentities: number;
  /** Most ledger entries held at once, orphans found so far included. */
  heldLedgerEntries: number;
  /** Streams of each side read: one for the digests, one per group of differing buckets. */
  passes: number;
}

/** Differing buckets compared per re-read of both sides: at most 1/8 of the table is held at a time. */
const BUCKETS_PER_PASS = 32;

/**
 * Ledger entries whose source row is gone (delete reconciliation), without holding every key:
 * both sides are streamed into per-bucket digests of their identity hashes (src/core/bucket-digest),
 * then only the buckets that differ are loaded and compared exactly, a group at a time. Each side
 * is read through a factory because a stream is read more than once. Orphans come in ledger order.
 */
export async function findOrphans(
  sourceKeys: () => AsyncIterable<Row[]>,
  ledger: () => AsyncIterable<LedgerEntry[]>,
  mapping: ResolvedMapping,
  opts: { bucketsPerPass?: number } = {},
): Promise<{ orphans: LedgerEntry[]; stats: ReconcileStats }> {
  const identityOf = (k: Row) => identityHash(mapping.key.map((c) => k[c]), mapping.keyHints);
  const sourceDigests = new BucketDigests();
  for await (const keys of sourceKeys()) for (const k of keys) sourceDigests.add(identityOf(k));
  const ledgerDigests = new BucketDigests();
  for await (const entries of ledger()) for (const e of entries) ledgerDigests.add(e.identityHash);

  const differing = sourceDigests.differingBuckets(ledgerDigests);
  const stats: ReconcileStats = { differingBuckets: differing.length, heldSourceIdentities: 0, heldLedgerEntries: 0, passes: 1 };
  const orphans: Array<{ entry: LedgerEntry; position: number }> = [];
  const groupSize = opts.bucketsPerPass ?? BUCKETS_PER_PASS;
  for (let i = 0; i < differing.length; i += groupSize) {
    const group = new Set(differing.slice(i, i + groupSize));
    stats.passes++;
    const present = new Set<string>();
    for await (const keys of sourceKeys()) {
      for (const k of keys) {
        const identity = identityOf(k);
        if (group.has(bucketOf(identity))) present.add(identity);
      }
    }
    stats.heldSourceIdentities = Math.max(stats.heldSourceIdentities, present.size);
    let position = 0;
    for await (const entries of ledger()) {
      for (const e of entries) {
        position++;
        if (group.has(bucketOf(e.identityHash)) && !present.has(e.identityHash)) orphans.push({ entry: e, position });
      }
    }
    stats.heldLedgerEntries = Math.max(stats.heldLedgerEntries, orphans.length);
  }
  return { orphans: orphans.sort((a, b) => a.position - b.position).map((o) => o.entry), stats };
}

/**
 * Orphans without an item id are `pending` creates whose outcome the ledger never learnt: the
 * create may have reached SharePoint all the same (applied but the answer lost, then the batch
 * dead-lettered or dropped). Forgetting such an entry would leave its item behind for good, so
 * first its SyncKey is looked up (batched per list, in its list and the old list of a half-done
 * move) and an item found is recorded on the entry with a compare-and-set; the ordinary delete
 * then removes it through the ledger protocol. Entries someone else wrote meanwhile are left for
 * the next reconciliation. Only itemless orphans cost a read (2 RU per key, 20 keys to a `$batch`).
 */
export async function recordItemsOfItemlessOrphans(
  orphans: LedgerEntry[],
  lookup: (listId: string, syncKeys: string[]) => Promise<ReadonlyMap<string, { id: string }>>,
  ledger: Pick<LedgerStore, 'putLedgerIfMatch'>,
  now: () => string,
): Promise<LedgerEntry[]> {
  const itemless = orphans.filter((e) => !e.itemId);
  if (itemless.length === 0) return orphans;
  const keysByList = new Map<string, string[]>();
  for (const e of itemless) {
    for (const listId of new Set([e.listId, ...(e.movedFrom ? [e.movedFrom.listId] : [])])) keysByList.set(listId, [...(keysByList.get(listId) ?? []), e.identityHash]);
  }
  const foundIn = new Map<string, Array<{ listId: string; itemId: string }>>();
  for (const [listId, keys] of keysByList) {
    let found: ReadonlyMap<string, { id: string }>;
    try {
      found = await lookup(listId, keys);
    } catch (error) {
      if (isSyncError(error, 'not_found')) continue; // the list is gone, and its items with it
      throw error;
    }
    for (const [key, item] of found) foundIn.set(key, [...(foundIn.get(key) ?? []), { listId, itemId: item.id }]);
  }
  const writes: LedgerWrite[] = [];
  for (const e of itemless) {
    const items = foundIn.get(e.identityHash) ?? [];
    const own = items.find((i) => i.listId === e.listId) ?? items[0];
    if (!own) continue;
    // Found in both lists: the write batch's delete removes the old one too (as `movedFrom`).
    const other = items.find((i) => i !== own) ?? null;
    writes.push({ entry: { ...e, listId: own.listId, itemId: own.itemId, state: other ? 'moving' : 'synced', movedFrom: other, contentInDoubt: true, updatedAt: now() }, ifMatch: e.etag ?? null });
  }
  const written = writes.length ? await ledger.putLedgerIfMatch(writes) : new Map<string, string>();
  const recorded = new Map(writes.filter((w) => written.has(w.entry.identityHash)).map((w) => [w.entry.identityHash, w.entry]));
  const raced = new Set(writes.filter((w) => !written.has(w.entry.identityHash)).map((w) => w.entry.identityHash));
  return orphans.filter((e) => !raced.has(e.identityHash)).map((e) => recorded.get(e.identityHash) ?? e);
}

/**
 * Plans a delete per orphan: its item is deleted through a write batch. Returns the orphans
 * that never got an item (a create that did not happen, looked up first by
 * `recordItemsOfItemlessOrphans`): only their ledger entry is to drop.
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
