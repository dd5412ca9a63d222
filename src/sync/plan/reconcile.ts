import { BucketDigests, bucketOf, DIGEST_BUCKETS } from '../../core/bucket-digest';
import { identityHash } from '../../core/identity';
import { IdentitySet } from '../../core/identity-set';
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
  /** Most orphan ledger entries held at once (a page of them). */
  heldLedgerEntries: number;
  /** Streams of each side read: one for the digests, one per group of differing buckets. */
  passes: number;
}

/** Differing buckets compared per re-read of both sides: any number; what bounds a pass is the identities it holds. */
const BUCKETS_PER_PASS = DIGEST_BUCKETS;
/** Identities a pass may hold (source identities at 12 bytes each, plus ledger entries): fewer buckets per pass on a large table. */
const MAX_HELD_PER_PASS = 100_000;
/** Orphans handed on at a time. */
const ORPHAN_PAGE_SIZE = 1000;

export interface ReconcileOptions {
  bucketsPerPass?: number;
  /** Most identities one pass may hold; a single bucket larger than this is still compared on its own. */
  maxHeldPerPass?: number;
  orphanPageSize?: number;
  /**
   * The source's row count, when known (the key digest's count). A table of at most
   * `maxHeldPerPass` rows is compared in one exact pass of each side, without the digest pass:
   * it holds no more than the bound either way.
   */
  sourceRows?: number;
}

/**
 * Ledger entries whose source row is gone (delete reconciliation), without holding every key:
 * both sides are streamed into per-bucket digests of their identity hashes (src/core/bucket-digest),
 * then only the buckets that differ are loaded and compared exactly, a group at a time. A group is
 * at most `bucketsPerPass` buckets and at most `maxHeldPerPass` identities by the digests' counts,
 * so what a pass holds does not grow with the table. Each side is read through a factory because
 * a stream is read more than once. Orphans are handed to `onOrphans` a page at a time, in ledger
 * order within each group, and are not kept.
 */
export async function forEachOrphanPage(
  sourceKeys: () => AsyncIterable<Row[]>,
  ledger: () => AsyncIterable<LedgerEntry[]>,
  mapping: ResolvedMapping,
  onOrphans: (orphans: LedgerEntry[], ledgerPositions: number[]) => Promise<void>,
  opts: ReconcileOptions = {},
): Promise<ReconcileStats> {
  const identityOf = (k: Row) => identityHash(mapping.key.map((c) => k[c]), mapping.keyHints);
  const groupSize = opts.bucketsPerPass ?? BUCKETS_PER_PASS;
  const maxHeld = opts.maxHeldPerPass ?? MAX_HELD_PER_PASS;
  const pageSize = opts.orphanPageSize ?? ORPHAN_PAGE_SIZE;
  if (opts.sourceRows !== undefined && opts.sourceRows <= maxHeld && groupSize >= DIGEST_BUCKETS) {
    const stats: ReconcileStats = { differingBuckets: DIGEST_BUCKETS, heldSourceIdentities: 0, heldLedgerEntries: 0, passes: 0 };
    await compareGroups([null], sourceKeys, ledger, identityOf, onOrphans, pageSize, stats);
    return stats;
  }
  const sourceDigests = new BucketDigests();
  for await (const keys of sourceKeys()) for (const k of keys) sourceDigests.add(identityOf(k));
  const ledgerDigests = new BucketDigests();
  for await (const entries of ledger()) for (const e of entries) ledgerDigests.add(e.identityHash);

  const differing = sourceDigests.differingBuckets(ledgerDigests);
  const stats: ReconcileStats = { differingBuckets: differing.length, heldSourceIdentities: 0, heldLedgerEntries: 0, passes: 1 };
  const groups: number[][] = [];
  let current: number[] = [];
  let held = 0;
  for (const b of differing) {
    const size = Math.max(sourceDigests.count(b), ledgerDigests.count(b));
    if (current.length && (current.length >= groupSize || held + size > maxHeld)) {
      groups.push(current);
      current = [];
      held = 0;
    }
    current.push(b);
    held += size;
  }
  if (current.length) groups.push(current);
  await compareGroups(groups, sourceKeys, ledger, identityOf, onOrphans, pageSize, stats);
  return stats;
}

/** One exact pass of both sides per group of buckets (null: every bucket): the group's source identities are held, the ledger streamed past them. */
async function compareGroups(
  groups: Array<number[] | null>,
  sourceKeys: () => AsyncIterable<Row[]>,
  ledger: () => AsyncIterable<LedgerEntry[]>,
  identityOf: (k: Row) => string,
  onOrphans: (orphans: LedgerEntry[], ledgerPositions: number[]) => Promise<void>,
  pageSize: number,
  stats: ReconcileStats,
): Promise<void> {
  for (const buckets of groups) {
    const group = buckets && new Set(buckets);
    const inGroup = (identity: string) => group === null || group.has(bucketOf(identity));
    stats.passes++;
    const present = new IdentitySet();
    for await (const keys of sourceKeys()) {
      for (const k of keys) {
        const identity = identityOf(k);
        if (inGroup(identity)) present.add(identity);
      }
    }
    stats.heldSourceIdentities = Math.max(stats.heldSourceIdentities, present.size);
    let position = 0;
    let orphans: LedgerEntry[] = [];
    let positions: number[] = [];
    const handOn = async () => {
      stats.heldLedgerEntries = Math.max(stats.heldLedgerEntries, orphans.length);
      const page = orphans;
      const at = positions;
      orphans = [];
      positions = [];
      if (page.length) await onOrphans(page, at);
    };
    for await (const entries of ledger()) {
      for (const e of entries) {
        position++;
        if (inGroup(e.identityHash) && !present.has(e.identityHash)) {
          orphans.push(e);
          positions.push(position);
        }
      }
      if (orphans.length >= pageSize) await handOn();
    }
    await handOn();
  }
}

/** Every orphan at once, in ledger order (for callers and tests that want the whole list; the planner pages with forEachOrphanPage). */
export async function findOrphans(
  sourceKeys: () => AsyncIterable<Row[]>,
  ledger: () => AsyncIterable<LedgerEntry[]>,
  mapping: ResolvedMapping,
  opts: ReconcileOptions = {},
): Promise<{ orphans: LedgerEntry[]; stats: ReconcileStats }> {
  const found: Array<{ entry: LedgerEntry; position: number }> = [];
  const stats = await forEachOrphanPage(sourceKeys, ledger, mapping, async (page, positions) => void page.forEach((entry, i) => found.push({ entry, position: positions[i]! })), opts);
  return { orphans: found.sort((a, b) => a.position - b.position).map((o) => o.entry), stats };
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
