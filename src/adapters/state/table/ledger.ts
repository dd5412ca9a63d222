import type { TransactionAction } from '@azure/data-tables';
import type { LedgerEntry, LedgerState, LedgerWrite } from '../../../core/ports/state';
import { backoff, chunk, fieldHashesOrNull, groupBy, mapLimit, stateUnavailable } from '../common';
import type { LedgerStorage } from '../ledger';
import { decodeKey, encodeKey, getJson, str } from './keys';
import { FWD, fwdKey, itemHandOvers, MAX_TX_OPS, planLedgerTransactions, revKey, type LedgerRow, type LedgerTx } from './ledger-plan';
import { after, CONTENTION_ATTEMPTS, fail, isStatus, stillContended, type Row, type StateTables } from './tables';

/**
 * The ledger on Table Storage: forward and reverse rows written together in entity-group
 * transactions (planned by `planLedgerTransactions`), deletes through a tombstone, and
 * optimistic retries when another writer got there first.
 */
export class TableLedgerStorage implements LedgerStorage {
  readonly maxScanPage = 1000;

  constructor(private readonly tables: StateTables) {}

  async read(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>> {
    const out = new Map<string, LedgerEntry>();
    for (const [hash, row] of await this.readRows(definitionId, identityHashes)) if (!row.tombstone) out.set(hash, row.entry);
    return out;
  }

  async readByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null> {
    const pk = encodeKey(definitionId);
    const reverse = await this.tables.get('Ledger', pk, revKey(listId, itemId));
    const hash = reverse ? str(reverse, 'identityHash') : undefined;
    if (hash === undefined) return null;
    const forward = await this.tables.get('Ledger', pk, fwdKey(hash));
    if (!forward) return null;
    const { entry, tombstone } = toLedgerRow(definitionId, forward);
    // The pair is written atomically, so a mismatch means a concurrent move is in flight: the forward row wins.
    return !tombstone && entry.listId === listId && entry.itemId === itemId ? entry : null;
  }

  async readByItems(definitionId: string, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>> {
    const pk = encodeKey(definitionId);
    const reverse = await this.tables.getMany('Ledger', pk, itemIds.map((itemId) => revKey(listId, itemId)));
    const hashes = [...reverse.values()].map((row) => str(row, 'identityHash')).filter((h): h is string => h !== undefined);
    const out = new Map<string, LedgerEntry>();
    if (hashes.length === 0) return out;
    const asked = new Set(itemIds);
    for (const [, row] of await this.readRows(definitionId, hashes)) {
      // As in readByItem: the forward row wins over a reverse row a concurrent move left behind.
      if (!row.tombstone && row.entry.listId === listId && row.entry.itemId !== null && asked.has(row.entry.itemId)) out.set(row.entry.itemId, row.entry);
    }
    return out;
  }

  async write(batch: LedgerEntry[]): Promise<void> {
    for (const [definitionId, group] of groupBy(batch, (e) => e.definitionId)) {
      let pending = group;
      // The first attempt trusts the invariant (reverse rows exist exactly where forward rows
      // point) and reads only forward rows; after a collision it re-reads the reverse rows too.
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > CONTENTION_ATTEMPTS) throw stateUnavailable(`ledger writes for definition '${definitionId}' kept colliding with other writers; retry later`);
        if (attempt > 0) await backoff(attempt);
        const txs = await this.plan(definitionId, pending, attempt > 0);
        pending = await this.submitAll(txs, 'writing the ledger');
      }
    }
  }

  /**
   * First all matching entries together in as few transactions as `putLedger` would use (the
   * forward rows under the expected ETags); the entries of a refused transaction are then tried
   * one per transaction, so one lost race never takes another entry with it. A refused entry is
   * a lost race only if its forward row's ETag moved; otherwise a reverse row collided and it is
   * planned again, carefully.
   */
  async writeIfMatch(writes: LedgerWrite[]): Promise<Map<string, string>> {
    const written = new Map<string, string>();
    for (const [definitionId, group] of groupBy(writes, (w) => w.entry.definitionId)) {
      let pending = group;
      for (let attempt = 0; pending.length > 0; attempt++) {
        if (attempt > CONTENTION_ATTEMPTS) throw stillContended(`conditional ledger writes for definition '${definitionId}'`);
        if (attempt > 1) await backoff(attempt);
        const current = await this.readRows(definitionId, pending.map((w) => w.entry.identityHash));
        const matching = pending.filter((w) => matches(current.get(w.entry.identityHash), w.ifMatch)).map((w) => w.entry);
        const together = attempt === 0;
        const txs = together ? await this.plan(definitionId, matching, false, current) : (await Promise.all(matching.map((e) => this.plan(definitionId, [e], true, current)))).flat();
        const refused = await mapLimit(txs, this.tables.transactionConcurrency, async (tx) => {
          try {
            const res = await this.tables.client.Ledger.submitTransaction(tx.actions);
            for (const e of tx.entries) {
              const at = tx.actions.findIndex((a) => a[1].rowKey === fwdKey(e.identityHash));
              const etag = res.subResponses[at]?.etag ?? (await this.readRows(definitionId, [e.identityHash])).get(e.identityHash)?.etag;
              if (etag !== undefined) written.set(e.identityHash, etag);
            }
            return [];
          } catch (error) {
            if (isStatus(error, 404, 409, 412)) return tx.entries.map((e) => e.identityHash);
            fail(error, 'writing the ledger');
          }
        });
        const again = new Set(refused.flat());
        pending = pending.filter((w) => again.has(w.entry.identityHash));
      }
    }
    return written;
  }

  async remove(definitionId: string, identityHashes: string[]): Promise<void> {
    let pending = identityHashes;
    for (let attempt = 0; pending.length > 0; attempt++) {
      if (attempt > CONTENTION_ATTEMPTS) throw stateUnavailable(`ledger deletes for definition '${definitionId}' kept colliding with other writers; retry later`);
      if (attempt > 0) await backoff(attempt);
      const rows = [...(await this.readRows(definitionId, pending)).values()];
      // Entries without an item have no reverse row: one conditional delete suffices.
      const hasReverse = (row: LedgerRow) => !row.tombstone && row.entry.itemId !== null;
      const alone = await this.removeAlone(definitionId, rows.filter((row) => !hasReverse(row)));
      const withItem = await this.removeWithItem(definitionId, rows.filter(hasReverse), attempt > 0);
      pending = [...alone, ...withItem];
    }
  }

  async scanPage(definitionId: string, afterKey: string | null, size: number): Promise<{ entries: LedgerEntry[]; resumeAfter?: string }> {
    const rows = await this.tables.rangeOf('Ledger', encodeKey(definitionId), { ge: FWD, lt: after(FWD) }, size, afterKey ?? undefined);
    const entries = rows.map((row) => toLedgerRow(definitionId, row)).filter((r) => !r.tombstone).map((r) => r.entry);
    const last = rows[rows.length - 1];
    return rows.length < size || !last ? { entries } : { entries, resumeAfter: last.rowKey };
  }

  private async readRows(definitionId: string, hashes: string[]): Promise<Map<string, LedgerRow>> {
    const rows = await this.tables.getMany('Ledger', encodeKey(definitionId), hashes.map(fwdKey));
    const out = new Map<string, LedgerRow>();
    for (const row of rows.values()) {
      const parsed = toLedgerRow(definitionId, row);
      out.set(parsed.entry.identityHash, parsed);
    }
    return out;
  }

  private async plan(definitionId: string, entries: LedgerEntry[], careful: boolean, known?: Map<string, LedgerRow>): Promise<LedgerTx[]> {
    const current = known ?? (await this.readRows(definitionId, entries.map((e) => e.identityHash)));
    const handOvers = itemHandOvers(entries, current);
    const reverse = careful ? await this.tables.getMany('Ledger', encodeKey(definitionId), [...handOvers.releasing.keys(), ...handOvers.claiming.keys()]) : null;
    return planLedgerTransactions(definitionId, entries, { current, reverse }, handOvers, new Date().toISOString());
  }

  /** Submits transactions in parallel; returns the entries of those that lost a race (to re-plan). */
  private async submitAll(txs: LedgerTx[], what: string): Promise<LedgerEntry[]> {
    const lost = await mapLimit(txs, this.tables.transactionConcurrency, async (tx) => {
      try {
        await this.tables.client.Ledger.submitTransaction(tx.actions);
        return [];
      } catch (error) {
        if (isStatus(error, 404, 409, 412)) return tx.entries;
        fail(error, what);
      }
    });
    return lost.flat();
  }

  /** Deletes rows that have no reverse row under their ETag; returns the hashes that changed meanwhile. */
  private async removeAlone(definitionId: string, rows: LedgerRow[]): Promise<string[]> {
    const pk = encodeKey(definitionId);
    const retry: string[] = [];
    await mapLimit(rows, this.tables.options.concurrency, async (row) => {
      try {
        await this.tables.client.Ledger.deleteEntity(pk, fwdKey(row.entry.identityHash), { etag: row.etag });
      } catch (error) {
        if (isStatus(error, 412)) retry.push(row.entry.identityHash);
        else if (!isStatus(error, 404)) fail(error, 'deleting ledger entries');
      }
    });
    return retry;
  }

  /**
   * A transaction cannot delete with If-Match, so the forward row is first turned into a
   * tombstone under its ETag (together with the reverse row's delete), then deleted under the
   * tombstone's ETag. A crash between the two leaves a tombstone that readers skip. Returns the
   * hashes to try again.
   */
  private async removeWithItem(definitionId: string, rows: LedgerRow[], careful: boolean): Promise<string[]> {
    const pk = encodeKey(definitionId);
    const retry: string[] = [];
    const revOf = (row: LedgerRow) => revKey(row.entry.listId, row.entry.itemId ?? '');
    // After a collision, check the reverse rows too: one already gone must not fail the delete again.
    const reverse = careful ? await this.tables.getMany('Ledger', pk, rows.map(revOf)) : undefined;
    await mapLimit(chunk(rows, MAX_TX_OPS / 2), this.tables.transactionConcurrency, async (rowsOfTx) => {
      const actions: TransactionAction[] = [];
      const tombstoneAt: number[] = [];
      for (const row of rowsOfTx) {
        tombstoneAt.push(actions.length);
        actions.push(['update', { partitionKey: pk, rowKey: fwdKey(row.entry.identityHash), identityHash: row.entry.identityHash, tombstone: true }, 'Replace', { etag: row.etag }]);
        const owner = reverse ? str(reverse.get(revOf(row)) ?? {}, 'identityHash') : row.entry.identityHash;
        if (owner === row.entry.identityHash) actions.push(['delete', { partitionKey: pk, rowKey: revOf(row) }]);
      }
      let tags: Array<string | undefined>;
      try {
        const res = await this.tables.client.Ledger.submitTransaction(actions);
        tags = tombstoneAt.map((at) => res.subResponses[at]?.etag);
      } catch (error) {
        if (isStatus(error, 404, 409, 412)) return void retry.push(...rowsOfTx.map((r) => r.entry.identityHash));
        fail(error, 'deleting ledger entries');
      }
      await mapLimit(rowsOfTx, this.tables.options.concurrency, async (row, i) => {
        const tag = tags[i];
        // Without the tombstone's ETag, leave it for the next pass (re-read, conditional delete).
        if (tag === undefined) return void retry.push(row.entry.identityHash);
        try {
          await this.tables.client.Ledger.deleteEntity(pk, fwdKey(row.entry.identityHash), { etag: tag });
        } catch (error) {
          if (!isStatus(error, 404, 412)) fail(error, 'deleting ledger entries');
        }
      });
    });
    return retry;
  }
}

/** The stored row is what the writer expects: absent (or a leftover tombstone) for null, else the same ETag. */
function matches(row: LedgerRow | undefined, ifMatch: string | null): boolean {
  if (ifMatch === null) return row === undefined || row.tombstone;
  return row !== undefined && !row.tombstone && canonicalEtag(row.etag) === canonicalEtag(ifMatch);
}

/** Table Storage spells one ETag differently in different answers (the timestamp percent-encoded or not). */
function canonicalEtag(etag: string): string {
  const bare = etag.trim().replace(/^W\//, '');
  try {
    return decodeURIComponent(bare);
  } catch {
    return bare;
  }
}

function toLedgerRow(definitionId: string, row: Row): LedgerRow {
  const movedFrom = getJson(row, 'movedFrom') as LedgerEntry['movedFrom'];
  const entry: LedgerEntry = {
    definitionId,
    identityHash: str(row, 'identityHash') ?? decodeKey((row.rowKey ?? '').slice(FWD.length)),
    listId: str(row, 'listId') ?? '',
    itemId: str(row, 'itemId') ?? null,
    contentHash: str(row, 'contentHash') ?? '',
    state: (str(row, 'state') ?? 'pending') as LedgerState,
    movedFrom: movedFrom ?? null,
    sourceReadAt: str(row, 'sourceReadAt') ?? null,
    contentInDoubt: row.contentInDoubt === true,
    fieldHashes: fieldHashesOrNull(getJson(row, 'fieldHashes')),
    createdAt: str(row, 'createdAt'),
    updatedAt: str(row, 'updatedAt'),
    etag: row.etag,
  };
  return { entry, etag: row.etag, tombstone: row.tombstone === true };
}
