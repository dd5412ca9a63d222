import { fieldHashes } from '../../core/identity';
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
  | { op: 'nothingToDelete'; identityHash: string }
  /** A soft-deleted row whose create is still `pending`: its item may exist; it is looked up before the entry is forgotten. */
  | { op: 'deletePending'; entry: LedgerEntry };

/**
 * Compares a row with its ledger entry. `listNames` (list id → display name) names the list an
 * item is in now; an id it does not know is shown as itself. `mappingHash` salts the per-field
 * hashes, so that after a mapping change an update sends every field.
 */
export function compareWithLedger(row: MappedRow, destination: RowDestination, entry: LedgerEntry | undefined, listNames: ReadonlyMap<string, string>, mappingHash: string): RowDecision {
  if (destination.kind === 'softDeleted') {
    if (!entry) return { op: 'nothingToDelete', identityHash: row.identity };
    if (!entry.itemId) return { op: 'deletePending', entry };
    return { op: 'delete', list: listNames.get(entry.listId) ?? entry.listId, listId: entry.listId, write: deleteOp(row.identity, entry.itemId, row.key) };
  }
  const { listName, list } = destination;
  // A pending entry's create may or may not have happened: the writer adopts by SyncKey.
  if (!entry || entry.itemId === null || entry.state === 'pending') {
    const write: WriteOpMessage = { identityHash: row.identity, kind: 'create', fields: row.fields, contentHash: row.contentHash, key: row.key, fieldHashes: fieldHashes(row.fields, mappingHash) };
    return { op: 'create', list: listName, to: list, write };
  }
  const inDestination = list.kind === 'provisioned' && entry.listId === list.listId;
  // A half-done move (movedFrom) is finished by moving again from the old item.
  if (!inDestination || entry.movedFrom) {
    const from = entry.movedFrom ?? { listId: entry.listId, itemId: entry.itemId };
    return { op: 'move', list: listName, fromList: listNames.get(entry.movedFrom?.listId ?? entry.listId) ?? entry.listId, from, to: list, row };
  }
  // Content in doubt: two batches raced and SharePoint may hold either's content; rewrite it.
  if (entry.contentHash !== row.contentHash || entry.contentInDoubt) {
    const hashes = fieldHashes(row.fields, mappingHash);
    const write: WriteOpMessage = { identityHash: row.identity, kind: 'update', itemId: entry.itemId, fields: row.fields, contentHash: row.contentHash, key: row.key, fieldHashes: hashes };
    const changed = changedFields(entry, hashes);
    if (changed) write.changedFields = changed;
    return { op: 'update', list: listName, listId: entry.listId, write };
  }
  return { op: 'unchanged', list: listName, identityHash: row.identity };
}

/**
 * The fields whose value differs from what the item holds, when the ledger knows that per field:
 * its field hashes describe its current content hash, and SharePoint holds that content (not in
 * doubt). Undefined means send every field.
 */
function changedFields(entry: LedgerEntry, hashes: Record<string, string>): string[] | undefined {
  const known = entry.fieldHashes;
  if (!known || known.contentHash !== entry.contentHash || entry.contentInDoubt) return undefined;
  const names = Object.keys(hashes);
  // A field the item holds that the row no longer maps: the mapping changed; send everything.
  if (Object.keys(known.byField).some((name) => !(name in hashes))) return undefined;
  const changed = names.filter((name) => known.byField[name] !== hashes[name]);
  // None changed (the hashes describe other content after all) or all changed: send everything.
  return changed.length > 0 && changed.length < names.length ? changed : undefined;
}

/** A delete has no content; the message contract still carries a content hash, which the writer ignores for deletes. */
export function deleteOp(identityHash: string, itemId: string, key: unknown[]): WriteOpMessage {
  return { identityHash, kind: 'delete', itemId, contentHash: '', key };
}
