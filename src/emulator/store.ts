/**
 * The emulator's data: sites, lists, columns and items, with the indexes SharePoint keeps for
 * indexed columns and a change log for `/items/delta`. No HTTP here.
 */
import {
  builtInColumns,
  indexKey,
  parseColumnDefinition,
  validateFieldValue,
  type Column,
  type FieldValue,
} from './columns';
import { GraphError, invalidRequest, itemNotFound, nameAlreadyExists } from './errors';
import { compileFilter, filterPaths, planWithIndexes, type Accessor, type FilterNode } from './filter';
import { isoSeconds, newGuid, stableGuid } from './ids';

export interface SiteSpec {
  hostname: string;
  /** Server-relative path, e.g. `/sites/sync`. */
  path: string;
  displayName: string;
}

export const DEFAULT_SITES: readonly SiteSpec[] = [
  { hostname: 'contoso.sharepoint.com', path: '/sites/sync', displayName: 'Sync' },
];

/** SharePoint Online's list view threshold. */
export const LIST_VIEW_THRESHOLD = 5000;
/** Change-log entries kept per list for delta; older tokens get 410. */
const MAX_CHANGE_LOG = 1_000_000;
const PREFER_NON_INDEXED = 'HonorNonIndexedQueriesWarningMayFailRandomly';

export interface ItemState {
  id: number;
  guid: string;
  version: number;
  created: number;
  modified: number;
  fields: Map<string, FieldValue>;
}

export class SiteState {
  readonly lists = new Map<string, ListState>();
  constructor(
    readonly id: string,
    readonly hostname: string,
    readonly path: string,
    readonly displayName: string,
    readonly created: number,
  ) {}

  get name(): string {
    const segments = this.path.split('/').filter(Boolean);
    return segments[segments.length - 1] ?? this.hostname;
  }

  get webUrl(): string {
    return `https://${this.hostname}${this.path === '/' ? '' : this.path}`;
  }

  findList(ref: string): ListState | undefined {
    const byId = this.lists.get(ref.toLowerCase());
    if (byId) return byId;
    const lower = ref.toLowerCase();
    for (const list of this.lists.values()) if (list.displayName.toLowerCase() === lower) return list;
    return undefined;
  }

  getList(ref: string): ListState {
    const list = this.findList(ref);
    if (!list) throw itemNotFound('The specified list was not found');
    return list;
  }
}

export function siteIdFor(spec: SiteSpec): string {
  const key = `${spec.hostname.toLowerCase()}${spec.path.toLowerCase()}`;
  return `${spec.hostname.toLowerCase()},${stableGuid(`site:${key}`)},${stableGuid(`web:${key}`)}`;
}

export interface QueryOptions {
  filter?: FilterNode;
  /** The request carried `Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`. */
  allowNonIndexed: boolean;
  afterId: number;
  top: number;
  threshold: number;
}

export class ListState {
  readonly columns: Column[] = builtInColumns();
  readonly items = new Map<number, ItemState>();
  /** Item ids in ascending order; deleted ids stay until compaction (see `compact`). */
  private order: number[] = [];
  private holes = 0;
  nextId = 1;
  /** Per indexed column: value key -> item ids. */
  readonly indexes = new Map<string, Map<string, Set<number>>>();
  /** Change sequence; every create/update/delete takes the next number. */
  seq = 0;
  private changeLog: { seq: number; id: number }[] = [];
  /** Delta tokens older than this sequence number are expired. */
  deltaFloor = 0;
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

  column(name: string): Column | undefined {
    return this.columns.find((c) => c.name === name);
  }

  addColumn(column: Column): void {
    this.columns.push(column);
    if (column.indexed) {
      const index = new Map<string, Set<number>>();
      for (const item of this.items.values()) {
        const v = item.fields.get(column.name);
        if (v !== undefined && v !== null) addToIndex(index, indexKey(v), item.id);
      }
      this.indexes.set(column.name, index);
    }
    this.touch();
  }

  private touch(): void {
    this.version++;
  }

  private recordChange(id: number, now: number): void {
    this.seq++;
    this.changeLog.push({ seq: this.seq, id });
    if (this.changeLog.length > MAX_CHANGE_LOG) {
      const keep = this.changeLog.slice(this.changeLog.length / 2);
      this.deltaFloor = (keep[0]?.seq ?? this.seq) - 1;
      this.changeLog = keep;
    }
    this.modified = now;
  }

  /** Expires every delta token issued so far (tests use it to provoke 410). */
  expireDeltaTokens(): void {
    this.seq++; // tokens carry a sequence <= the old one, all now below the floor
    this.deltaFloor = this.seq;
    this.changeLog = [];
  }

  /** Validates a `fields` body against the columns; returns the new values by column name. */
  private validateFields(fields: unknown): Map<string, FieldValue> {
    if (fields === undefined || fields === null) return new Map();
    if (typeof fields !== 'object' || Array.isArray(fields)) throw invalidRequest("'fields' must be a JSON object.");
    const out = new Map<string, FieldValue>();
    for (const [key, raw] of Object.entries(fields as Record<string, unknown>)) {
      if (key.includes('@')) continue; // OData annotations such as "Tags@odata.type"
      if (key === 'id') throw invalidRequest("Field 'id' is read-only.");
      const column = this.column(key);
      if (!column) throw invalidRequest(`Field '${key}' is not recognized`);
      out.set(column.name, validateFieldValue(column, raw));
    }
    return out;
  }

  /** Refuses values that would duplicate an enforceUniqueValues column (SharePoint answers 409). */
  private checkUnique(values: Map<string, FieldValue>, selfId: number): void {
    for (const [name, v] of values) {
      if (v === null) continue;
      const column = this.column(name);
      if (!column?.enforceUniqueValues) continue;
      const holders = this.indexes.get(name)?.get(indexKey(v));
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

  private writeValues(item: ItemState, values: Map<string, FieldValue>): void {
    for (const [name, v] of values) {
      const index = this.indexes.get(name);
      if (index) {
        const old = item.fields.get(name);
        if (old !== undefined && old !== null) removeFromIndex(index, indexKey(old), item.id);
        if (v !== null) addToIndex(index, indexKey(v), item.id);
      }
      if (v === null) item.fields.delete(name);
      else item.fields.set(name, v);
    }
  }

  createItem(fields: unknown, now: number): ItemState {
    const values = this.validateFields(fields);
    this.checkUnique(values, -1);
    const item: ItemState = { id: this.nextId++, guid: newGuid(), version: 1, created: now, modified: now, fields: new Map() };
    this.writeValues(item, values);
    this.items.set(item.id, item);
    this.order.push(item.id);
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
    const values = this.validateFields(fields);
    this.checkUnique(values, id);
    this.writeValues(item, values);
    item.version++;
    item.modified = Math.max(now, item.modified);
    this.recordChange(id, now);
    return item;
  }

  deleteItem(id: number, ifMatch: string | undefined, now: number): void {
    const item = this.getItem(id);
    checkIfMatch(item, ifMatch);
    for (const [name, index] of this.indexes) {
      const v = item.fields.get(name);
      if (v !== undefined && v !== null) removeFromIndex(index, indexKey(v), id);
    }
    this.items.delete(id);
    this.holes++;
    if (this.holes > 1024 && this.holes > this.order.length / 2) this.compact();
    this.recordChange(id, now);
  }

  private compact(): void {
    // Map iteration follows insertion order, which is id order because ids only grow.
    this.order = [...this.items.keys()];
    this.holes = 0;
  }

  /** Position of the first id greater than `afterId` in `order`. */
  private firstAfter(afterId: number): number {
    let lo = 0;
    let hi = this.order.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.order[mid] ?? 0) <= afterId) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** How a filter path (`fields/Name`, or `id`) reads an item. */
  accessor(path: string): Accessor<ItemState> & { column: Column } {
    const name = path.startsWith('fields/') ? path.slice('fields/'.length) : path;
    if (name === 'id' || name === 'ID') {
      const column = this.column('ID') as Column;
      return { column, kind: 'counter', get: (item) => item.id };
    }
    if (!path.startsWith('fields/')) {
      throw invalidRequest(`Invalid filter clause: '${path}' is not supported; filter on fields/<name>.`);
    }
    const column = this.column(name);
    if (!column) throw invalidRequest(`Column '${name}' does not exist. It may have been deleted by another user.`);
    switch (column.name) {
      case 'Created':
        return { column, kind: 'dateTime', get: (item) => isoSeconds(item.created) };
      case 'Modified':
        return { column, kind: 'dateTime', get: (item) => isoSeconds(item.modified) };
      default:
        if (column.builtIn && column.name !== 'Title') {
          throw invalidRequest(`Invalid filter clause: field '${column.name}' cannot be used in a filter.`);
        }
        return { column, kind: column.kind, get: (item) => item.fields.get(column.name) ?? null };
    }
  }

  /**
   * One page of items in id order after `afterId`, as SharePoint pages them. Applies the
   * indexed-column rules of Graph list-item queries (learn.microsoft.com/graph/api/listitem-list).
   */
  queryItems(opts: QueryOptions): { items: ItemState[]; more: boolean } {
    let predicate: ((item: ItemState) => boolean) | null = null;
    let candidates: Set<number> | null = null;
    if (opts.filter) {
      const resolve = (p: string) => this.accessor(p);
      const nonIndexed = [...new Set(filterPaths(opts.filter).map((p) => this.accessor(p).column))].filter((c) => !c.indexed);
      const first = nonIndexed[0];
      if (first && !opts.allowNonIndexed) {
        throw invalidRequest(
          `Field '${first.name}' cannot be referenced in filter or orderby as it is not indexed. ` +
            `Provide the 'Prefer: ${PREFER_NON_INDEXED}' header to allow this, but be warned that such queries may fail on large lists.`,
        );
      }
      predicate = compileFilter(opts.filter, resolve);
      candidates = planWithIndexes(opts.filter, resolve, (p) => {
        const c = this.accessor(p).column;
        return c.builtIn ? undefined : this.indexes.get(c.name);
      });
      if (!candidates && first && this.items.size > opts.threshold) {
        // SharePoint refuses a query that has to scan more items than the list view threshold.
        throw new GraphError(
          400,
          'invalidRequest',
          'The request is unprocessable because it uses too many resources: the attempted operation is prohibited because it ' +
            `exceeds the list view threshold (${opts.threshold} items) and field '${first.name}' is not indexed.`,
        );
      }
    }

    const page: ItemState[] = [];
    if (candidates) {
      const ids = [...candidates].filter((id) => id > opts.afterId).sort((a, b) => a - b);
      let i = 0;
      for (; i < ids.length && page.length < opts.top; i++) {
        const item = this.items.get(ids[i] as number);
        if (item && (!predicate || predicate(item))) page.push(item);
      }
      let more = false;
      for (; i < ids.length && !more; i++) {
        const item = this.items.get(ids[i] as number);
        more = !!item && (!predicate || predicate(item));
      }
      return { items: page, more };
    }

    let i = this.firstAfter(opts.afterId);
    for (; i < this.order.length && page.length < opts.top; i++) {
      const item = this.items.get(this.order[i] as number);
      if (item && (!predicate || predicate(item))) page.push(item);
    }
    // Look a little further for a next match, so that the last page has no nextLink;
    // a long run of non-matching items ends the look-ahead and yields a nextLink anyway.
    let more = false;
    for (let looked = 0; i < this.order.length && looked < 5000; i++, looked++) {
      const item = this.items.get(this.order[i] as number);
      if (item && (!predicate || predicate(item))) {
        more = true;
        break;
      }
    }
    if (!more && i < this.order.length) more = true;
    return { items: page, more };
  }

  /** Ids in ascending order, starting after `afterId`, with at most `limit` entries. */
  idsAfter(afterId: number, limit: number): number[] {
    const out: number[] = [];
    for (let i = this.firstAfter(afterId); i < this.order.length && out.length < limit; i++) {
      const id = this.order[i] as number;
      if (this.items.has(id)) out.push(id);
    }
    return out;
  }

  /** Ids of items changed (created, updated or deleted) with sequence in (since, upto], ascending. */
  changedIds(since: number, upto: number): number[] {
    let lo = 0;
    let hi = this.changeLog.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((this.changeLog[mid]?.seq ?? 0) <= since) lo = mid + 1;
      else hi = mid;
    }
    const ids = new Set<number>();
    for (let i = lo; i < this.changeLog.length; i++) {
      const entry = this.changeLog[i] as { seq: number; id: number };
      if (entry.seq > upto) break;
      ids.add(entry.id);
    }
    return [...ids].sort((a, b) => a - b);
  }

  /** Restores items from a snapshot (indexes rebuilt, delta history starts afresh). */
  restoreItems(items: ItemState[], nextId: number, seq: number): void {
    items.sort((a, b) => a.id - b.id);
    for (const item of items) {
      this.items.set(item.id, item);
      for (const [name, index] of this.indexes) {
        const v = item.fields.get(name);
        if (v !== undefined && v !== null) addToIndex(index, indexKey(v), item.id);
      }
    }
    this.order = items.map((i) => i.id);
    this.nextId = Math.max(nextId, (items[items.length - 1]?.id ?? 0) + 1);
    this.seq = seq;
    this.deltaFloor = seq;
  }
}

function addToIndex(index: Map<string, Set<number>>, key: string, id: number): void {
  let set = index.get(key);
  if (!set) {
    set = new Set();
    index.set(key, set);
  }
  set.add(id);
}

function removeFromIndex(index: Map<string, Set<number>>, key: string, id: number): void {
  const set = index.get(key);
  if (!set) return;
  set.delete(id);
  if (set.size === 0) index.delete(key);
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

export interface SnapshotFile {
  format: 'graph-emulator-snapshot';
  version: 1;
  savedAt: string;
  sites: Array<{
    hostname: string;
    path: string;
    displayName: string;
    created: number;
    lists: Array<{
      id: string;
      displayName: string;
      description: string;
      created: number;
      modified: number;
      nextId: number;
      seq: number;
      columns: Column[];
      items: Array<[number, string, number, number, number, Record<string, FieldValue>]>;
    }>;
  }>;
}

/** All sites and lists of one emulator. */
export class Store {
  readonly sites = new Map<string, SiteState>();
  /** Changes on every reset and restart: delta tokens from before are answered with 410. */
  epoch = newGuid().slice(0, 8);
  /** Grows on every change; the snapshot writer compares it to know whether to save. */
  mutations = 0;

  constructor(
    private readonly specs: readonly SiteSpec[],
    private readonly clock: () => number,
  ) {
    this.reset();
  }

  reset(): void {
    this.sites.clear();
    for (const spec of this.specs) this.addSite(spec);
    this.epoch = newGuid().slice(0, 8);
    this.mutations++;
  }

  private addSite(spec: SiteSpec, created = this.clock()): SiteState {
    const path = spec.path.startsWith('/') ? spec.path : `/${spec.path}`;
    const site = new SiteState(siteIdFor({ ...spec, path }), spec.hostname.toLowerCase(), path, spec.displayName, created);
    this.sites.set(site.id, site);
    return site;
  }

  get defaultSite(): SiteState {
    const first = this.sites.values().next().value;
    if (!first) throw new Error('The emulator has no site');
    return first;
  }

  siteById(id: string): SiteState {
    const lower = id.toLowerCase();
    // Graph accepts "hostname,siteCollectionId,webId" and also "siteCollectionId,webId".
    const site = this.sites.get(lower) ?? [...this.sites.values()].find((s) => s.id.slice(s.hostname.length + 1) === lower);
    if (!site) throw itemNotFound('Requested site could not be found');
    return site;
  }

  siteByPath(hostname: string, path: string): SiteState {
    const host = hostname.toLowerCase();
    const p = (path.startsWith('/') ? path : `/${path}`).replace(/\/+$/, '').toLowerCase() || '/';
    for (const site of this.sites.values()) {
      if (site.hostname === host && site.path.toLowerCase() === p) return site;
    }
    throw itemNotFound('Requested site could not be found');
  }

  searchSites(term: string | null): SiteState[] {
    const all = [...this.sites.values()];
    if (term === null || term === '' || term === '*') return all;
    const t = term.toLowerCase();
    return all.filter((s) => `${s.displayName} ${s.name} ${s.webUrl}`.toLowerCase().includes(t));
  }

  /** Creates a list as `POST /sites/{id}/lists` does (learn.microsoft.com/graph/api/list-create). */
  createList(site: SiteState, body: unknown): ListState {
    if (typeof body !== 'object' || body === null || Array.isArray(body)) throw invalidRequest('The list must be a JSON object.');
    const b = body as Record<string, unknown>;
    const displayName = b.displayName;
    if (typeof displayName !== 'string' || displayName.trim() === '') throw invalidRequest("A list needs a 'displayName'.");
    if (displayName.length > 255) throw invalidRequest('A list displayName can have at most 255 characters.');
    const template = (b.list as Record<string, unknown> | undefined)?.template ?? 'genericList';
    if (template !== 'genericList') throw invalidRequest(`The emulator supports only the 'genericList' template, not '${String(template)}'.`);
    if (site.findList(displayName)) {
      throw nameAlreadyExists(
        'A list, survey, discussion board, or document library with the specified title already exists in this Web site.  Please choose another title.',
      );
    }
    const now = this.clock();
    const list = new ListState(site, newGuid(), displayName, typeof b.description === 'string' ? b.description : '', now, now);
    const columns = b.columns ?? [];
    if (!Array.isArray(columns)) throw invalidRequest("'columns' must be an array.");
    for (const def of columns) list.addColumn(parseColumnDefinition(def, list.columns));
    site.lists.set(list.id, list);
    this.mutations++;
    return list;
  }

  deleteList(site: SiteState, list: ListState): void {
    site.lists.delete(list.id);
    this.mutations++;
  }

  createColumn(list: ListState, body: unknown): Column {
    const column = parseColumnDefinition(body, list.columns);
    list.addColumn(column);
    this.mutations++;
    return column;
  }

  /** Finds a list by id or display name in any site (inspection endpoints, fault scopes). */
  findListAnywhere(ref: string): ListState | undefined {
    for (const site of this.sites.values()) {
      const list = site.lists.get(ref.toLowerCase());
      if (list) return list;
    }
    for (const site of this.sites.values()) {
      const list = site.findList(ref);
      if (list) return list;
    }
    return undefined;
  }

  toSnapshot(): SnapshotFile {
    return {
      format: 'graph-emulator-snapshot',
      version: 1,
      savedAt: new Date(this.clock()).toISOString(),
      sites: [...this.sites.values()].map((site) => ({
        hostname: site.hostname,
        path: site.path,
        displayName: site.displayName,
        created: site.created,
        lists: [...site.lists.values()].map((list) => ({
          id: list.id,
          displayName: list.displayName,
          description: list.description,
          created: list.created,
          modified: list.modified,
          nextId: list.nextId,
          seq: list.seq,
          columns: list.columns.filter((c) => !c.builtIn),
          items: [...list.items.values()].map(
            (i) => [i.id, i.guid, i.version, i.created, i.modified, Object.fromEntries(i.fields)] as [
              number,
              string,
              number,
              number,
              number,
              Record<string, FieldValue>,
            ],
          ),
        })),
      })),
    };
  }

  loadSnapshot(snapshot: SnapshotFile): void {
    if (snapshot.format !== 'graph-emulator-snapshot' || snapshot.version !== 1) {
      throw new Error('not a graph emulator snapshot (format graph-emulator-snapshot, version 1)');
    }
    this.sites.clear();
    for (const s of snapshot.sites) {
      const site = this.addSite({ hostname: s.hostname, path: s.path, displayName: s.displayName }, s.created);
      for (const l of s.lists) {
        const list = new ListState(site, l.id, l.displayName, l.description, l.created, l.modified);
        for (const column of l.columns) list.addColumn(column);
        list.restoreItems(
          l.items.map(([id, guid, version, created, modified, fields]) => ({
            id,
            guid,
            version,
            created,
            modified,
            fields: new Map(Object.entries(fields)),
          })),
          l.nextId,
          l.seq,
        );
        site.lists.set(list.id, list);
      }
    }
    // Sites named in the options but missing from the snapshot are added.
    for (const spec of this.specs) {
      const id = siteIdFor({ ...spec, path: spec.path.startsWith('/') ? spec.path : `/${spec.path}` });
      if (!this.sites.has(id)) this.addSite(spec);
    }
    this.epoch = newGuid().slice(0, 8);
  }
}
