import type { LedgerEntry, LedgerState, LedgerStore } from '../../core/ports/state';
import { distinct, invalidInput, stateConflict } from './common';

/**
 * The ledger for every backend: what a valid batch is, which entry of a batch wins, and the
 * empty and repeated inputs that need no round trip. A backend supplies `LedgerStorage` and
 * enforces the two uniqueness rules against what is stored: one entry per (definition,
 * identity), one identity per (definition, list, item).
 */

const LEDGER_STATES: ReadonlySet<string> = new Set<LedgerState>(['pending', 'synced', 'moving']);

export interface LedgerStorage {
  /** Most entries one scan page may hold. */
  readonly maxScanPage: number;
  /** The entries that exist among these hashes (distinct, at least one). */
  read(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>>;
  readByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null>;
  /** readByItem for several items of one list (distinct, at least one), keyed by item id. */
  readByItems(definitionId: string, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>>;
  /**
   * Writes a checked batch: at least one entry, one per identity, no item claimed twice.
   * Throws state_conflict when an item belongs to another identity that keeps it.
   */
  write(batch: LedgerEntry[]): Promise<void>;
  /** Removes the entries of these hashes (distinct, at least one) with their reverse index. */
  remove(definitionId: string, identityHashes: string[]): Promise<void>;
  /** Up to `size` entries after the position `after` (null: from the start), and where the next page starts (absent at the end). */
  scanPage(definitionId: string, after: string | null, size: number): Promise<{ entries: LedgerEntry[]; resumeAfter?: string }>;
}

/**
 * Checks a ledger batch and keeps the last entry per (definition, identity): a batch that names
 * an identity twice means "the later write wins", and SQL upserts refuse to touch a row twice.
 */
export function normaliseLedgerBatch(entries: LedgerEntry[]): LedgerEntry[] {
  const byKey = new Map<string, LedgerEntry>();
  const claims = new Map<string, string>();
  for (const e of entries) {
    if (!e.definitionId) throw invalidInput('ledger entry without definitionId');
    if (!e.identityHash) throw invalidInput('ledger entry without identityHash');
    if (!e.listId) throw invalidInput(`ledger entry ${e.identityHash} has no listId`);
    if (!LEDGER_STATES.has(e.state)) throw invalidInput(`ledger entry ${e.identityHash} has unknown state '${String(e.state)}'`);
    if (e.itemId === '') throw invalidInput(`ledger entry ${e.identityHash} has an empty itemId; use null while it is unknown`);
    byKey.set(`${e.definitionId}\u0000${e.identityHash}`, e);
  }
  const out = [...byKey.values()];
  for (const e of out) {
    if (e.itemId === null) continue;
    const claim = `${e.definitionId}\u0000${e.listId}\u0000${e.itemId}`;
    const other = claims.get(claim);
    if (other !== undefined) throw stateConflict(`item ${e.itemId} of list ${e.listId} is claimed twice in one ledger batch (identities ${other} and ${e.identityHash})`);
    claims.set(claim, e.identityHash);
  }
  return out;
}

export class Ledger implements LedgerStore {
  constructor(private readonly storage: LedgerStorage) {}

  async getLedger(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>> {
    if (identityHashes.length === 0) return new Map();
    return this.storage.read(definitionId, distinct(identityHashes));
  }

  getLedgerByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    return this.storage.readByItem(definitionId, listId, itemId);
  }

  async getLedgerByItems(definitionId: string, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>> {
    if (itemIds.length === 0) return new Map();
    return this.storage.readByItems(definitionId, listId, distinct(itemIds));
  }

  async putLedger(entries: LedgerEntry[]): Promise<void> {
    const batch = normaliseLedgerBatch(entries);
    if (batch.length > 0) await this.storage.write(batch);
  }

  async deleteLedger(definitionId: string, identityHashes: string[]): Promise<void> {
    if (identityHashes.length > 0) await this.storage.remove(definitionId, distinct(identityHashes));
  }

  async *scanLedger(definitionId: string, pageSize = 1000): AsyncIterable<LedgerEntry[]> {
    const size = Math.min(Math.max(1, pageSize), this.storage.maxScanPage);
    let after: string | null = null;
    do {
      const page: { entries: LedgerEntry[]; resumeAfter?: string } = await this.storage.scanPage(definitionId, after, size);
      if (page.entries.length > 0) yield page.entries;
      after = page.resumeAfter ?? null;
    } while (after !== null);
  }
}
