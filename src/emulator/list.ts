/**
 * One SharePoint list: its columns and items, the id order items are paged in, its column
 * indexes and its change log for `/items/delta`. No HTTP here.
 */
import { ChangeLog } from './change-log';
import { ColumnIndexes } from './column-index';
import { builtInColumns, validateFields, type Column, type FieldValue } from './columns';
import { GraphError, itemNotFound } from './errors';
import { newGuid } from './ids';
import type { SiteState } from './store';

export interface ItemState {
  id: number;
  guid: string;
  version: number;
  created: number;
  modified: number;
  fields: Map<string, FieldValue>;
}

export class ListState {
  readonly columns: Column[] = builtInColumns();
  readonly items = new Map<number, ItemState>();
  readonly order = new IdOrder((id) => this.items.has(id));
  nextId = 1;
  readonly indexes = new ColumnIndexes();
  private readonly changes = new ChangeLog();
  readonly guid = newGuid();
  version = 1;
  /** Shared by every item's JSON. */
  readonly parentReference: { id: string; siteId: string };

  constructor(
    readonly site: SiteState,
    readonly id: string,
    public displayName: string,
    public description: string,
    readonly created: number,
    public modified: number,
  ) {
    this.parentReference = { id: this.guid, siteId: site.id };
  }

  get name(): string {
    return this.displayName.replace(/[^A-Za-z0-9_-]/g, '') || 'List';
  }

  get webUrl(): string {
    return `${this.site.webUrl}/Lists/${this.name}`;
  }

  /** Change sequence; every create/update/delete takes the next number. */
  get seq(): number {
    return this.changes.seq;
  }

  /** Delta tokens older than this sequence number are expired. */
  get deltaFloor(): number {
    return this.changes.floor;
  }

  column(name: string): Column | undefined {
    return this.columns.find((c) => c.name === name);
  }

  addColumn(column: Column): void {
    this.columns.push(column);
    if (column.indexed) this.indexes.addColumn(column.name, this.items.values());
    this.version++;
  }

  /** Replaces a column with its updated definition, building or dropping its index as `indexed` changed. */
  replaceColumn(updated: Column): void {
    const at = this.columns.findIndex((c) => c.id === updated.id);
    const before = this.columns[at]!;
    this.columns[at] = updated;
    if (updated.indexed && !before.indexed) this.indexes.addColumn(updated.name, this.items.values());
    if (!updated.indexed && before.indexed) this.indexes.dropColumn(updated.name);
    this.version++;
  }

  private recordChange(id: number, now: number): void {
    this.changes.record(id);
    this.modified = now;
  }

  /** Expires every delta token issued so far (tests use it to provoke 410). */
  expireDeltaTokens(): void {
    this.changes.expireAll();
  }

  private writeValues(item: ItemState, values: Map<string, FieldValue>): void {
    for (const [name, v] of values) {
      this.indexes.change(name, item.id, item.fields.get(name), v);
      if (v === null) item.fields.delete(name);
      else item.fields.set(name, v);
    }
  }

  createItem(fields: unknown, now: number): ItemState {
    const values = validateFields(this.columns, fields);
    this.indexes.checkUnique(values, -1, (name) => this.column(name));
    const item: ItemState = { id: this.nextId++, guid: newGuid(), version: 1, created: now, modified: now, fields: new Map() };
    this.writeValues(item, values);
    this.items.set(item.id, item);
    this.order.append(item.id);
    this.recordChange(item.id, now);
    return item;
  }

  getItem(id: number): ItemState {
    const item = this.items.get(id);
    if (!item) throw itemNotFound('Item not found');
    return item;
  }

  updateItem(id: number, fields: unknown, ifMatch: string | undefined, now: number): ItemState {
    const item = this.getItem(id);
    checkIfMatch(item, ifMatch);
    const values = validateFields(this.columns, fields);
    this.indexes.checkUnique(values, id, (name) => this.column(name));
    this.writeValues(item, values);
    item.version++;
    item.modified = Math.max(now, item.modified);
    this.recordChange(id, now);
    return item;
  }

  deleteItem(id: number, ifMatch: string | undefined, now: number): void {
    const item = this.getItem(id);
    checkIfMatch(item, ifMatch);
    this.indexes.removeItem(item);
    this.items.delete(id);
    this.order.removed();
    this.recordChange(id, now);
  }

  /** Ids in ascending order, starting after `afterId`, with at most `limit` entries. */
  idsAfter(afterId: number, limit: number): number[] {
    return this.order.liveIdsAfter(afterId, limit);
  }

  /** Ids of items changed (created, updated or deleted) with sequence in (since, upto], ascending. */
  changedIds(since: number, upto: number): number[] {
    return this.changes.changedIds(since, upto);
  }

  /** Restores items from a snapshot (indexes rebuilt, delta history starts afresh). */
  restoreItems(items: ItemState[], nextId: number, seq: number): void {
    items.sort((a, b) => a.id - b.id);
    for (const item of items) {
      this.items.set(item.id, item);
      this.indexes.addItem(item);
    }
    this.order.replace(items.map((i) => i.id));
    this.nextId = Math.max(nextId, (items[items.length - 1]?.id ?? 0) + 1);
    this.changes.restart(seq);
  }
}

/**
 * Item ids in ascending order, so that pages follow id order. Deleted ids stay as holes (so a
 * delete costs no array shift) until they are more than half of the entries.
 */
export class IdOrder {
  private ids: number[] = [];
  private holes = 0;

  constructor(private readonly isLive: (id: number) => boolean) {}

  get length(): number {
    return this.ids.length;
  }

  /** The id at position `i`; it may be a hole (a deleted item). */
  at(i: number): number {
    return this.ids[i] as number;
  }

  append(id: number): void {
    this.ids.push(id);
  }

  /** Notes that an id became a hole. */
  removed(): void {
    this.holes++;
    if (this.holes > 1024 && this.holes > this.ids.length / 2) {
      this.ids = this.ids.filter(this.isLive);
      this.holes = 0;
    }
  }

  replace(ids: number[]): void {
    this.ids = ids;
    this.holes = 0;
  }

  /** Position of the first id greater than `afterId`. */
  firstAfter(afterId: number): number {
    let lo = 0;
    let hi = this.ids.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.ids[mid] ?? 0) <= afterId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  liveIdsAfter(afterId: number, limit: number): number[] {
    const out: number[] = [];
    for (let i = this.firstAfter(afterId); i < this.ids.length && out.length < limit; i++) {
      const id = this.ids[i] as number;
      if (this.isLive(id)) out.push(id);
    }
    return out;
  }
}

export function itemETag(item: ItemState): string {
  return `"${item.guid},${item.version}"`;
}

function checkIfMatch(item: ItemState, ifMatch: string | undefined): void {
  if (ifMatch === undefined || ifMatch.trim() === '' || ifMatch.trim() === '*') return;
  const strip = (s: string) => s.trim().replace(/^W\//, '').replace(/^"+|"+$/g, '').replace(/\\"/g, '');
  // Item eTags contain a comma ("guid,version"), so If-Match is compared whole, not split.
  if (strip(ifMatch) !== strip(itemETag(item))) {
    throw new GraphError(412, 'resourceModified', 'The eTag in If-Match does not match the item: it has changed since it was read.');
  }
}
