import type { SyncDefinition } from '../../core/definitions';
import type { Row } from '../../core/ports/source';
import { shardList } from '../../core/sharding';

/** Where a source row belongs: in the list its shard policy names, or nowhere (soft-deleted in the source). */
export type RowRoute = { kind: 'list'; listName: string } | { kind: 'softDeleted' };

/** Routes one row; throws (a row failure) when the shard policy cannot place it, e.g. a date shard on an empty date. */
export function routeRow(def: SyncDefinition, row: Row, identity: string): RowRoute {
  if (isSoftDeleted(def, row)) return { kind: 'softDeleted' };
  return { kind: 'list', listName: shardList(row, def.sharding, identity) };
}

/** True when the definition's soft-delete column holds its "deleted" value (`true` unless configured). */
export function isSoftDeleted(def: SyncDefinition, row: Row): boolean {
  if (def.deletes.mode !== 'softDelete' || !def.deletes.column) return false;
  const actual = row[def.deletes.column];
  const wanted = def.deletes.value ?? true;
  if (actual === null || actual === undefined) return wanted === null;
  if (typeof wanted === 'boolean') return actual === wanted || String(actual).toLowerCase() === String(wanted) || (typeof actual === 'number' && actual === Number(wanted));
  return String(actual) === String(wanted);
}
