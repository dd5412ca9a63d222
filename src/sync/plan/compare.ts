import type { MappedRow } from '../../core/mapping';
import type { MoveOpMessage, WriteOpMessage } from '../../core/messages';
import type { LedgerEntry } from '../../core/ports/state';
import type { ResolvedShardList } from '../shard-lists';

/** Where a mapped row should be now: in a shard list (resolved to its id), or nowhere. */
export type RowDestination = { kind: 'list'; listName: string; list: ResolvedShardList } | { kind: 'softDeleted' };

/**
 * What one row needs, judged against its ledger entry. `list` is the display name the run
 * counts it under; `to` is where a create or move goes.
 */
export type RowDecision =
  | { op: 'create'; list: string; to: ResolvedShardList; write: WriteOpMessage }
  | { op: 'update'; list: string; listId: string; write: WriteOpMessage }
  | { op: 'move'; list: string; fromList: string; from: MoveOpMessage['from']; to: ResolvedShardList; row: MappedRow }
  | { op: 'delete'; list: string; listId: string; write: WriteOpMessage }
  | { op: 'unchanged'; list: string; identityHash: string }
  | { op: 'nothingToDelete'; identityHash: string };

/**
 * Compares a row with its ledger entry. `listNames` (list id → display name) names the list an
 * item is in now; an id it does not know is shown as itself.
 */
export function compareWithLedger(row: MappedRow, destination: RowDestination, entry: LedgerEntry | undefined, listNames: ReadonlyMap<string, string>): RowDecision {
  if (destination.kind === 'softDeleted') {
    if (!entry?.itemId) return { op: 'nothingToDelete', identityHash: row.identity };
    return { op: 'delete', list: listNames.get(entry.listId) ?? entry.listId, listId: entry.listId, write: deleteOp(row.identity, entry.itemId, row.key) };
  }
  const { listName, list } = destination;
  // A pending entry's create may or may not have happened: the writer adopts by SyncKey.
  if (!entry || entry.itemId === null || entry.state === 'pending') {
    return { op: 'create', list: listName, to: list, write: { identityHash: row.identity, kind: 'create', fields: row.fields, contentHash: row.contentHash, key: row.key } };
  }
  const inDestination = list.kind === 'provisioned' && entry.listId === list.listId;
  // A half-done move (movedFrom) is finished by moving again from the old item.
  if (!inDestination || entry.movedFrom) {
    const from = entry.movedFrom ?? { listId: entry.listId, itemId: entry.itemId };
    return { op: 'move', list: listName, fromList: listNames.get(entry.movedFrom?.listId ?? entry.listId) ?? entry.listId, from, to: list, row };
  }
  // Content in doubt: two batches raced and SharePoint may hold either's content; rewrite it.
  if (entry.contentHash !== row.contentHash || entry.contentInDoubt) {
    return { op: 'update', list: listName, listId: entry.listId, write: { identityHash: row.identity, kind: 'update', itemId: entry.itemId, fields: row.fields, contentHash: row.contentHash, key: row.key } };
  }
  return { op: 'unchanged', list: listName, identityHash: row.identity };
}

/** A delete has no content; the message contract still carries a content hash, which the writer ignores for deletes. */
export function deleteOp(identityHash: string, itemId: string, key: unknown[]): WriteOpMessage {
  return { identityHash, kind: 'delete', itemId, contentHash: '', key };
}
