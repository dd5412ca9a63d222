import type { TableEntity, TransactionAction } from '@azure/data-tables';
import type { LedgerEntry } from '../../../core/ports/state';
import { groupBy, invalidInput, stateConflict } from '../common';
import { encodeKey, putJson, str, type Props } from './keys';
import type { Row } from './tables';

/**
 * Ledger rows in `<p>Ledger` (PK = definition) and how a batch becomes entity-group
 * transactions. The entry lives at `k_<hash>`; its reverse index, at `i_<list>_<item>`, names
 * the hash that owns the item. An entry and its reverse row always change in one transaction,
 * so Table Storage upholds both uniqueness rules with nothing but ETags.
 */

/** An entity-group transaction takes at most 100 operations. */
export const MAX_TX_OPS = 100;
export const FWD = 'k_';
const REV = 'i_';
export const fwdKey = (hash: string) => `${FWD}${encodeKey(hash)}`;
export const revKey = (listId: string, itemId: string) => `${REV}${encodeKey(listId)}_${encodeKey(itemId)}`;

/** An entry as read, with the ETag its next write is conditional on; a tombstone is a delete that a crash interrupted. */
export interface LedgerRow {
  entry: LedgerEntry;
  etag: string;
  tombstone: boolean;
}

export interface LedgerTx {
  entries: LedgerEntry[];
  actions: TransactionAction[];
}

/** What the planner knows of the stored rows. */
export interface StoredLedgerRows {
  /** The forward rows of the batch's identities, by hash. */
  current: Map<string, LedgerRow>;
  /**
   * The reverse rows the batch releases or claims, by row key, when they were read (after a
   * collision); null on a first attempt, which trusts that reverse rows exist exactly where
   * forward rows point.
   */
  reverse: Map<string, Row> | null;
}

/** Reverse rows a batch moves: row key → the identity that releases it, and → the identity that claims it. */
export interface ItemHandOvers {
  releasing: Map<string, string>;
  claiming: Map<string, string>;
}

export function itemHandOvers(entries: LedgerEntry[], current: Map<string, LedgerRow>): ItemHandOvers {
  const releasing = new Map<string, string>();
  const claiming = new Map<string, string>();
  for (const e of entries) {
    const row = current.get(e.identityHash);
    const from = row && !row.tombstone && row.entry.itemId !== null ? revKey(row.entry.listId, row.entry.itemId) : null;
    const to = e.itemId === null ? null : revKey(e.listId, e.itemId);
    if (from === to) continue;
    if (from) releasing.set(from, e.identityHash);
    if (to) claiming.set(to, e.identityHash);
  }
  return { releasing, claiming };
}

/**
 * Plans a checked batch of one definition as transactions of at most 100 operations. Entries
 * that hand a reverse row to each other (a swap, a chain of moves) land in the same
 * transaction. Throws state_conflict when an item belongs to an identity outside the batch.
 */
export function planLedgerTransactions(definitionId: string, entries: LedgerEntry[], stored: StoredLedgerRows, handOvers: ItemHandOvers, now: string): LedgerTx[] {
  const pk = encodeKey(definitionId);
  const { current, reverse } = stored;
  const { releasing, claiming } = handOvers;
  const ownerOf = (rk: string) => (reverse ? str(reverse.get(rk) ?? {}, 'identityHash') : undefined);
  for (const [rk, hash] of claiming) {
    const owner = ownerOf(rk);
    if (owner !== undefined && owner !== hash && releasing.get(rk) !== owner) {
      const e = entries.find((x) => x.identityHash === hash);
      throw stateConflict(`item ${e?.itemId} of list ${e?.listId} already belongs to identity ${owner} in definition '${definitionId}'`);
    }
  }

  const groups = new HandOverGroups(entries.map((e) => e.identityHash));
  for (const [rk, hash] of claiming) {
    const from = releasing.get(rk);
    if (from !== undefined) groups.join(hash, from);
  }

  const actionsOf = new Map<string, TransactionAction[]>();
  const add = (hash: string, action: TransactionAction) => {
    const root = groups.rootOf(hash);
    const list = actionsOf.get(root);
    if (list) list.push(action);
    else actionsOf.set(root, [action]);
  };
  for (const e of entries) {
    const row = current.get(e.identityHash);
    const entity: Props = {
      partitionKey: pk,
      rowKey: fwdKey(e.identityHash),
      identityHash: e.identityHash,
      listId: e.listId,
      contentHash: e.contentHash,
      state: e.state,
      createdAt: row && !row.tombstone ? (row.entry.createdAt ?? now) : now,
      updatedAt: now,
    };
    if (e.itemId !== null) entity.itemId = e.itemId;
    if (e.movedFrom) putJson(entity, 'movedFrom', e.movedFrom);
    if (e.sourceReadAt) entity.sourceReadAt = e.sourceReadAt;
    if (e.contentInDoubt) entity.contentInDoubt = true;
    if (e.fieldHashes) putJson(entity, 'fieldHashes', e.fieldHashes);
    add(e.identityHash, row ? ['update', entity as TableEntity, 'Replace', { etag: row.etag }] : ['create', entity as TableEntity]);
  }
  for (const [rk, hash] of claiming) {
    const entity = { partitionKey: pk, rowKey: rk, identityHash: hash };
    const existing = reverse?.get(rk);
    // After a collision the planner knows whether the row exists; a first attempt trusts the releaser's forward row.
    const exists = reverse ? existing !== undefined : releasing.has(rk);
    add(hash, exists ? ['update', entity, 'Replace', { etag: existing?.etag ?? '*' }] : ['create', entity]);
  }
  for (const [rk, hash] of releasing) {
    if (claiming.has(rk)) continue;
    // Unconditional delete is safe: a reverse row only ever changes together with its owner's
    // forward row, whose ETag this same transaction checks.
    if (!reverse || ownerOf(rk) === hash) add(hash, ['delete', { partitionKey: pk, rowKey: rk }]);
  }

  const txs: LedgerTx[] = [];
  let tx: LedgerTx = { entries: [], actions: [] };
  for (const [root, members] of groupBy(entries, (e) => groups.rootOf(e.identityHash))) {
    const actions = actionsOf.get(root) ?? [];
    if (actions.length > MAX_TX_OPS) throw invalidInput(`a ledger batch moves ${members.length} items in one chain; split it`);
    if (tx.actions.length + actions.length > MAX_TX_OPS) {
      txs.push(tx);
      tx = { entries: [], actions: [] };
    }
    tx.entries.push(...members);
    tx.actions.push(...actions);
  }
  if (tx.actions.length > 0) txs.push(tx);
  return txs;
}

/** Union-find over identity hashes: identities that hand items to each other form one group. */
class HandOverGroups {
  private readonly parent: Map<string, string>;

  constructor(hashes: string[]) {
    this.parent = new Map(hashes.map((h) => [h, h]));
  }

  rootOf(hash: string): string {
    let root = hash;
    while (this.parent.get(root) !== root) root = this.parent.get(root) ?? root;
    this.parent.set(hash, root);
    return root;
  }

  join(a: string, b: string): void {
    this.parent.set(this.rootOf(a), this.rootOf(b));
  }
}
