/**
 * The indexes SharePoint keeps for indexed columns: per column, value key → ids of the items
 * holding that value. They let `eq` filters on indexed columns skip the scan, and they enforce
 * `enforceUniqueValues` ("Enforce unique values", support.microsoft.com; columndefinition).
 */
import { indexKey, type Column, type FieldValue } from './columns';
import { nameAlreadyExists } from './errors';
import type { ItemState } from './list';

export type ValueIndex = Map<string, Set<number>>;

export class ColumnIndexes {
  private readonly byColumn = new Map<string, ValueIndex>();

  /** The index of one column; undefined when the column is not indexed. */
  of(column: string): ValueIndex | undefined {
    return this.byColumn.get(column);
  }

  /** Starts indexing a column over the items the list already has. */
  addColumn(column: string, items: Iterable<ItemState>): void {
    const index: ValueIndex = new Map();
    for (const item of items) {
      const v = item.fields.get(column);
      if (v !== undefined && v !== null) addToIndex(index, indexKey(v), item.id);
    }
    this.byColumn.set(column, index);
  }

  /** Stops indexing a column (its index was removed). */
  dropColumn(column: string): void {
    this.byColumn.delete(column);
  }

  /** Whether two items of the list hold one value (case-insensitively) in an indexed column. */
  hasDuplicates(column: string): boolean {
    for (const ids of this.byColumn.get(column)?.values() ?? []) if (ids.size > 1) return true;
    return false;
  }

  /** Indexes every value of an item (a restored one). */
  addItem(item: ItemState): void {
    for (const [name, index] of this.byColumn) {
      const v = item.fields.get(name);
      if (v !== undefined && v !== null) addToIndex(index, indexKey(v), item.id);
    }
  }

  /** Drops a deleted item from every index. */
  removeItem(item: ItemState): void {
    for (const [name, index] of this.byColumn) {
      const v = item.fields.get(name);
      if (v !== undefined && v !== null) removeFromIndex(index, indexKey(v), item.id);
    }
  }

  /** Moves item `id` from its old value of `column` to the new one (null: empty). */
  change(column: string, id: number, from: FieldValue | undefined, to: FieldValue): void {
    const index = this.byColumn.get(column);
    if (!index) return;
    if (from !== undefined && from !== null) removeFromIndex(index, indexKey(from), id);
    if (to !== null) addToIndex(index, indexKey(to), id);
  }

  /**
   * Refuses values that would duplicate an enforceUniqueValues column (SharePoint answers 409).
   * `selfId` is the item being updated, which may keep its own value; -1 for a create.
   */
  checkUnique(values: Map<string, FieldValue>, selfId: number, columnNamed: (name: string) => Column | undefined): void {
    for (const [name, v] of values) {
      if (v === null) continue;
      const column = columnNamed(name);
      if (!column?.enforceUniqueValues) continue;
      const holders = this.byColumn.get(name)?.get(indexKey(v));
      if (!holders) continue;
      for (const other of holders) {
        if (other !== selfId) {
          throw nameAlreadyExists(
            `The list item could not be added or updated because duplicate values were found in one or more fields in the list. ` +
              `Field '${name}' requires unique values and item ${other} already has the value '${String(v)}'.`,
          );
        }
      }
    }
  }
}

function addToIndex(index: ValueIndex, key: string, id: number): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(id);
}

function removeFromIndex(index: ValueIndex, key: string, id: number): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
}
