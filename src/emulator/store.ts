/**
 * The emulator's data: its sites and their lists (each list in `list.ts`). No HTTP here.
 */
import { ColumnIndexes } from './column-index';
import { applyColumnUpdate, parseColumnDefinition, type Column } from './columns';
import { invalidRequest, itemNotFound, nameAlreadyExists } from './errors';
import { newGuid, stableGuid } from './ids';
import { ListState } from './list';

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

/** A site without lists; its id follows from host name and path, so it is the same on every start. */
export function createSite(spec: SiteSpec, created: number): SiteState {
  const path = spec.path.startsWith('/') ? spec.path : `/${spec.path}`;
  return new SiteState(siteIdFor({ ...spec, path }), spec.hostname.toLowerCase(), path, spec.displayName, created);
}

/** A short random id for the store's epoch. */
function newEpoch(): string {
  return newGuid().slice(0, 8);
}

/** All sites and lists of one emulator. */
export class Store {
  readonly sites = new Map<string, SiteState>();
  /** Changes on every reset and restart: delta tokens from before are answered with 410. */
  epoch = newEpoch();
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
    for (const spec of this.specs) this.addSite(createSite(spec, this.clock()));
    this.epoch = newEpoch();
    this.mutations++;
  }

  /** Replaces every site with restored ones (a snapshot's); configured sites they lack are added. */
  replaceSites(restored: readonly SiteState[]): void {
    this.sites.clear();
    for (const site of restored) this.addSite(site);
    for (const spec of this.specs) {
      const site = createSite(spec, this.clock());
      if (!this.sites.has(site.id)) this.addSite(site);
    }
    this.epoch = newEpoch();
  }

  private addSite(site: SiteState): void {
    this.sites.set(site.id, site);
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

  updateColumn(list: ListState, column: Column, body: unknown): Column {
    // Built without the index while it was off, so duplicates are looked for in a fresh one.
    const hasDuplicates = () => {
      if (column.indexed) return list.indexes.hasDuplicates(column.name);
      const probe = new ColumnIndexes();
      probe.addColumn(column.name, list.items.values());
      return probe.hasDuplicates(column.name);
    };
    const updated = applyColumnUpdate(column, body, list.columns, hasDuplicates);
    list.replaceColumn(updated);
    this.mutations++;
    return updated;
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
}
