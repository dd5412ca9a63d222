import { contentHash } from '../../core/identity';
import type { ResolvedMapping } from '../../core/mapping';
import { SYNC_KEY_COLUMN, type ListItem, type ListTarget } from '../../core/ports/list-target';
import type { StoredDefinition } from '../../core/ports/state';
import { meterSpend } from '../../core/spend-meter';
import type { SyncDeps } from '../deps';
import { DifferenceWriter } from './differences';
import { SeenIds } from './seen-ids';
import { findRows, listIdFor, sameValue, type FoundRow } from './source-rows';
import { emptyDriftCounts, type Difference, type DriftCounts, type DriftMode } from './types';

/**
 * One drift check (DESIGN §7): every list the definition writes, page by page against the
 * ledger, then the ledger against what was seen. Memory is bounded by a page, the seen-id runs
 * and the differences awaiting a second look (see docs/decisions.md, "Drift checks").
 */

/**
 * Graph returns at most 999 list items per page whatever `$top` asks ("$top … 1 to 999",
 * learn.microsoft.com/graph/paging); the adapter clamps to the same bound.
 */
export const DRIFT_PAGE_SIZE = 999;
/** Differences that need the source (or a second Graph look) are settled in rounds of this many. */
const RESOLVE_ROUND = 2000;

export interface CheckOutcome {
  counts: DriftCounts;
  /** What the check's own Graph requests cost, as the adapter's limiter charged them (core/spend-meter). */
  ruSpent: number;
  /** HTTP requests the check sent to Graph (a `$batch` envelope counts one). */
  requests: number;
}

export interface WatchOutcome extends CheckOutcome {
  /** The delta token to read on from next time, per list. */
  tokens: Record<string, string>;
  /** Lists whose token had expired (410) or did not exist yet: quick-checked instead. */
  fellBackLists: string[];
}

/** A pointer question settled after the list pass: the item carrying `identityHash` is not the one the ledger names. */
interface Misplaced {
  identityHash: string;
  listId: string;
  itemId: string;
  ledger: { listId: string; itemId: string | null };
}

export class DriftCheck {
  private readonly counts = emptyDriftCounts();
  private readonly seen = new Map<string, SeenIds>();
  /** Hashes whose ledger entry is explained by another difference (pointsElsewhere), so not also missing. */
  private readonly explained = new Set<string>();
  private misplaced: Misplaced[] = [];
  private unknownKeys = new Map<string, Difference>();
  private mismatchCandidates = new Map<string, { listId: string; item: ListItem }>();

  constructor(
    private readonly deps: SyncDeps,
    private readonly stored: StoredDefinition,
    private readonly mapping: ResolvedMapping,
    private readonly target: ListTarget,
    private readonly mode: DriftMode,
    private readonly out: DifferenceWriter,
  ) {}

  private get def() {
    return this.stored.definition;
  }

  private get mappedFields(): string[] {
    return [...(this.mapping.title ? ['Title'] : []), ...this.mapping.fields.map((f) => f.target)];
  }

  private get lists(): string[] {
    return [...new Set(Object.values(this.stored.lists ?? {}))];
  }

  async run(): Promise<CheckOutcome> {
    const { result: counts, spend } = await meterSpend(async () => {
      for (const listId of this.lists) await this.scanList(listId, this.mode === 'deep');
      await this.settle();
      await this.findMissing(new Set(this.lists));
      return this.finish();
    });
    return { counts, ruSpent: spend.ru, requests: spend.requests };
  }

  /**
   * The watch pass (DESIGN §7): each list's delta feed since its token. Changed items are
   * compared like a deep check's page: one whose mapped content still hashes to the ledger's is
   * our own write (or an edit undone), so only people's changes are reported. A deleted item the
   * ledger still names is missing; one it no longer names was our own delete.
   *
   * A list whose token expired (410) or that has none yet is quick-checked instead, page by page:
   * its new token is taken first (`token=latest`, 1 RU), so a change made while the pages are
   * read is in the next watch's feed rather than lost between the two.
   */
  async watch(tokens: Readonly<Record<string, string>>): Promise<WatchOutcome> {
    const next: Record<string, string> = {};
    const fellBackLists: string[] = [];
    const { result: counts, spend } = await meterSpend(async () => {
      const select = [SYNC_KEY_COLUMN, ...this.mappedFields];
      for (const listId of this.lists) {
        const token = tokens[listId];
        const feed = token === undefined ? ({ reset: true } as const) : await this.target.delta(this.def.target.siteId, listId, token, { select });
        if (feed.reset) {
          fellBackLists.push(listId);
          continue;
        }
        next[listId] = feed.nextToken;
        for (let at = 0; at < feed.items.length; at += DRIFT_PAGE_SIZE) await this.comparePage(listId, feed.items.slice(at, at + DRIFT_PAGE_SIZE), true);
        for (let at = 0; at < feed.deletedIds.length; at += RESOLVE_ROUND) {
          const named = await this.deps.state.getLedgerByItems(this.def.id, listId, feed.deletedIds.slice(at, at + RESOLVE_ROUND));
          await this.addWithKeys([...named.values()].map((e) => ({ kind: 'missingInSharePoint', listId, itemId: e.itemId!, identityHash: e.identityHash })));
        }
      }
      for (const listId of fellBackLists) next[listId] = await this.target.latestDeltaToken(this.def.target.siteId, listId);
      for (const listId of fellBackLists) await this.scanList(listId, false);
      await this.settle();
      if (fellBackLists.length) await this.findMissing(new Set(fellBackLists));
      return this.finish();
    });
    return { counts, ruSpent: spend.ru, requests: spend.requests, tokens: next, fellBackLists };
  }

  /** Pages through one list (Graph's own order, by id; no filter, so no list-view threshold applies). */
  private async scanList(listId: string, compareContent: boolean): Promise<void> {
    const seen = new SeenIds();
    this.seen.set(listId, seen);
    const select = compareContent ? [SYNC_KEY_COLUMN, ...this.mappedFields] : [SYNC_KEY_COLUMN];
    for await (const page of this.target.pageItems(this.def.target.siteId, listId, { select, pageSize: DRIFT_PAGE_SIZE })) {
      for (const item of page) seen.add(item.id);
      await this.comparePage(listId, page, compareContent);
    }
  }

  private async settle(): Promise<void> {
    await this.settleMisplaced();
    await this.settleUnknownKeys();
    await this.settleMismatches();
  }

  private async finish(): Promise<DriftCounts> {
    await this.out.flush();
    return Object.assign(this.counts, this.out.counts);
  }

  private async comparePage(listId: string, page: ListItem[], compareContent: boolean): Promise<void> {
    this.counts.itemsScanned += page.length;
    const keyOf = (item: ListItem) => (typeof item.fields[SYNC_KEY_COLUMN] === 'string' && item.fields[SYNC_KEY_COLUMN] !== '' ? (item.fields[SYNC_KEY_COLUMN] as string) : null);
    const byHash = await this.deps.state.getLedger(this.def.id, page.map(keyOf).filter((k): k is string => k !== null));
    for (const item of page) {
      const key = keyOf(item);
      if (key === null) {
        await this.out.add({ kind: 'orphanInSharePoint', listId, itemId: item.id, reason: 'noSyncKey' });
        continue;
      }
      const entry = byHash.get(key);
      if (!entry) {
        this.unknownKeys.set(`${listId}/${item.id}`, { kind: 'orphanInSharePoint', listId, itemId: item.id, identityHash: key, reason: 'unknownSyncKey' });
        if (this.unknownKeys.size >= RESOLVE_ROUND) await this.settleUnknownKeys();
        continue;
      }
      if (entry.listId === listId && entry.itemId === item.id) {
        if (compareContent && contentHash(this.pick(item)) !== entry.contentHash) {
          this.mismatchCandidates.set(key, { listId, item });
          if (this.mismatchCandidates.size >= RESOLVE_ROUND) await this.settleMismatches();
        }
        continue;
      }
      // The old half of a move in flight: the mover deletes it.
      if (entry.movedFrom && entry.movedFrom.listId === listId && entry.movedFrom.itemId === item.id) continue;
      this.misplaced.push({ identityHash: key, listId, itemId: item.id, ledger: { listId: entry.listId, itemId: entry.itemId } });
      if (this.misplaced.length >= RESOLVE_ROUND) await this.settleMisplaced();
    }
  }

  /** The mapped fields of an item, in the shape `mapRow` gives them (absent = null), for the content hash. */
  private pick(item: ListItem): Record<string, unknown> {
    return Object.fromEntries(this.mappedFields.map((f) => [f, item.fields[f] ?? null]));
  }

  /**
   * An item carries a row's SyncKey but the ledger names another item. If the ledger's item
   * still carries the key, this one is a copy: a duplicate in the same list, an orphan in
   * another. Otherwise the ledger points wrongly and this item is the row's (pointsElsewhere).
   */
  private async settleMisplaced(): Promise<void> {
    const batch = this.misplaced;
    this.misplaced = [];
    const byKey = new Map<string, Misplaced[]>();
    for (const m of batch) byKey.set(m.identityHash, [...(byKey.get(m.identityHash) ?? []), m]);
    const pointers: Difference[] = [];
    for (const [key, copies] of byKey) {
      const named = copies[0]!.ledger;
      let ledgerItemHoldsKey = false;
      if (named.itemId !== null) {
        const carriers: string[] = [];
        // Filtered on the indexed SyncKey column: legal past the list-view threshold.
        for await (const page of this.target.pageItems(this.def.target.siteId, named.listId, { select: [SYNC_KEY_COLUMN], where: { field: SYNC_KEY_COLUMN, equals: key } })) {
          carriers.push(...page.map((i) => i.id));
        }
        ledgerItemHoldsKey = carriers.includes(named.itemId);
      }
      for (const [n, m] of copies.entries()) {
        if (ledgerItemHoldsKey || n > 0) {
          const sameList = m.listId === (ledgerItemHoldsKey ? named.listId : copies[0]!.listId);
          if (sameList) await this.out.add({ kind: 'duplicateInSharePoint', listId: m.listId, itemId: m.itemId, identityHash: key });
          else await this.out.add({ kind: 'orphanInSharePoint', listId: m.listId, itemId: m.itemId, identityHash: key, reason: 'copyInOtherList' });
        } else {
          this.explained.add(key);
          pointers.push({ kind: 'pointsElsewhere', listId: m.listId, itemId: m.itemId, identityHash: key, ledger: named });
        }
      }
    }
    await this.addWithKeys(pointers);
  }

  /** Adds differences with the key of their source row, when it still exists (repairs re-read rows by it). */
  private async addWithKeys(differences: Difference[]): Promise<void> {
    if (!differences.length) return;
    const rows = await this.findRows(new Set(differences.map((d) => d.identityHash!)));
    for (const d of differences) {
      const row = rows.get(d.identityHash!);
      await this.out.add(row ? { ...d, key: row.key } : d);
    }
  }

  /** Orphans whose SyncKey the ledger does not know: does it name a row the definition selects (adoptable)? */
  private async settleUnknownKeys(): Promise<void> {
    const batch = [...this.unknownKeys.values()];
    this.unknownKeys = new Map();
    if (!batch.length) return;
    const rows = await this.findRows(new Set(batch.map((d) => d.identityHash!)));
    for (const d of batch) {
      const row = rows.get(d.identityHash!);
      // Adoptable only where the row belongs: an item in another shard list is a stray copy.
      const selected = listIdFor(this.stored.lists, row) === d.listId;
      await this.out.add(selected ? { ...d, rowSelected: true, key: row!.key } : { ...d, rowSelected: false });
    }
  }

  /** Deep: items whose content hash differs from the ledger's, compared field by field with the row as it is now. */
  private async settleMismatches(): Promise<void> {
    const batch = this.mismatchCandidates;
    this.mismatchCandidates = new Map();
    if (!batch.size) return;
    const rows = await this.findRows(new Set(batch.keys()));
    for (const [key, { listId, item }] of batch) {
      const row = rows.get(key);
      if (!row?.mapped) continue; // the row is gone or unmappable: the next run deals with it
      const fields = Object.entries(row.mapped.fields)
        .filter(([field, value]) => !sameValue(value, item.fields[field]))
        .map(([field, value]) => ({ field, source: value, sharePoint: item.fields[field] ?? null }));
      if (fields.length) await this.out.add({ kind: 'contentMismatch', listId, itemId: item.id, identityHash: key, key: row.key, fields });
    }
  }

  /** The ledger against the ids seen: an entry whose item was not in its list is missing. */
  private async findMissing(lists: ReadonlySet<string>): Promise<void> {
    let batch: Difference[] = [];
    const settle = async () => {
      await this.addWithKeys(batch);
      batch = [];
    };
    for await (const entries of this.deps.state.scanLedger(this.def.id)) {
      for (const e of entries) {
        this.counts.ledgerEntries++;
        if (e.itemId === null || !lists.has(e.listId) || this.explained.has(e.identityHash)) continue;
        if (this.seen.get(e.listId)?.has(e.itemId)) continue;
        batch.push({ kind: 'missingInSharePoint', listId: e.listId, itemId: e.itemId, identityHash: e.identityHash });
        if (batch.length >= RESOLVE_ROUND) await settle();
      }
    }
    if (batch.length) await settle();
  }

  private async findRows(hashes: Set<string>): Promise<Map<string, FoundRow>> {
    const source = await this.deps.source(this.stored.activeSourceId);
    return findRows(source, this.def, this.mapping, hashes);
  }
}
