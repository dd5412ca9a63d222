import { configError } from '../../core/errors';
import { SYNC_KEY_COLUMN, type DeltaResult, type ExistingColumn, type ListInfo, type ListItem, type PageOptions, type SiteInfo } from '../../core/ports/list-target';
import { fromGraphColumn } from './columns';
import type { BatchRequest, GraphTransport } from './graph-client';
import { failureFromBatchResponse, graphStatusOf, MODULE, toSyncError } from './graph-errors';
import { expandFields, listPath, odataLiteral, odataString, sitePath, toItem, toList, toSite, unique, type Json } from './graph-resources';
import { RU_COST } from './limiter';

/**
 * Everything the adapter reads from Graph: sites, lists and columns, items by SyncKey (through
 * `$batch`), item pages and the delta feed, each page following `@odata.nextLink`.
 */

const PREFER_NON_INDEXED = 'HonorNonIndexedQueriesWarningMayFailRandomly';
/** Graph returns at most 999 list items per page whatever `$top` asks. */
const MAX_PAGE = 999;

export class GraphListReads {
  private readonly pageSize: number;

  /** `pageSize`: default items per page for `pageItems` and `delta`. */
  constructor(
    private readonly http: GraphTransport,
    pageSize: number,
  ) {
    this.pageSize = clampPage(pageSize);
  }

  async getSite(siteRef: string): Promise<SiteInfo> {
    const ref = siteRef.trim();
    if (!ref) throw configError(MODULE, 'invalid_site_ref', 'a site id or hostname:/path is required');
    // `hostname:/sites/x` addresses a site by path; encodeURI keeps the ':' and '/' it needs.
    const site = await this.http.call<Json>({ method: 'GET', path: `/sites/${encodeURI(ref)}`, ru: RU_COST.read }, `resolving site '${ref}'`);
    return toSite(site);
  }

  async searchSites(query: string): Promise<SiteInfo[]> {
    const out: SiteInfo[] = [];
    for await (const page of this.pages(`/sites?search=${encodeURIComponent(query)}`, `searching sites for '${query}'`)) {
      out.push(...page.map(toSite));
    }
    return out;
  }

  async listLists(siteId: string): Promise<ListInfo[]> {
    const out: ListInfo[] = [];
    for await (const page of this.pages(`${sitePath(siteId)}/lists`, `listing the lists of site '${siteId}'`)) {
      out.push(...page.map(toList));
    }
    return out;
  }

  async findList(siteId: string, displayName: string): Promise<ListInfo | null> {
    // Listing and matching (2 RU) instead of GET .../lists/{title}: titles may hold characters
    // ('/', '#', '%') that do not survive a URL path on every proxy.
    const wanted = displayName.trim().toLowerCase();
    const lists = await this.listLists(siteId);
    return lists.find((l) => l.displayName.toLowerCase() === wanted) ?? null;
  }

  async listColumns(siteId: string, listId: string): Promise<ExistingColumn[]> {
    const out: ExistingColumn[] = [];
    for await (const page of this.pages(`${listPath(siteId, listId)}/columns`, `listing the columns of list '${listId}'`)) {
      out.push(...page.map(fromGraphColumn));
    }
    return out;
  }

  async findBySyncKey(siteId: string, listId: string, syncKeys: string[], opts: { select?: string[] } = {}): Promise<Map<string, ListItem>> {
    const keys = unique(syncKeys);
    const expand = opts.select ? `fields($select=${unique([SYNC_KEY_COLUMN, ...opts.select]).join(',')})` : 'fields';
    // One filtered read per key, twenty to an envelope: the filter is on the indexed SyncKey
    // column, so it stays legal on lists of any size. $top=2 would reveal a duplicate.
    const requests: BatchRequest[] = keys.map((key, n) => ({
      id: String(n),
      method: 'GET',
      url: `${listPath(siteId, listId)}/items?$filter=${encodeURIComponent(`fields/${SYNC_KEY_COLUMN} eq ${odataString(key)}`)}&$expand=${expand}&$top=2`,
      ru: RU_COST.list,
    }));
    const responses = await this.http.batch(requests);
    const found = new Map<string, ListItem>();
    keys.forEach((key, n) => {
      const response = responses.get(String(n));
      if (!response || response.status >= 400 || response.status === 0) {
        const failure = failureFromBatchResponse(response?.status ?? 0, response?.body);
        // Still throttled when the transport stopped waiting: the error says when to come back.
        if (response?.retryAt !== undefined) failure.retryAfterMs = Math.max(0, response.retryAt - this.http.limiter.now());
        throw toSyncError(failure, `looking up items by ${SYNC_KEY_COLUMN}`);
      }
      const value = (response.body as { value?: Json[] } | undefined)?.value ?? [];
      const first = value[0];
      if (first) found.set(key, toItem(first));
    });
    return found;
  }

  async *pageItems(siteId: string, listId: string, opts: PageOptions): AsyncIterable<ListItem[]> {
    const top = clampPage(opts.pageSize ?? this.pageSize);
    let path = `${listPath(siteId, listId)}/items?$expand=${expandFields(opts.select)}&$top=${top}`;
    const headers: Record<string, string> = {};
    if (opts.where) {
      path += `&$filter=${encodeURIComponent(`fields/${opts.where.field} eq ${odataLiteral(opts.where.equals)}`)}`;
      // Lets a filter on a non-indexed column work below the list view threshold; past it
      // Graph refuses and the caller gets a config error (list_view_threshold) to index it.
      headers.Prefer = PREFER_NON_INDEXED;
    }
    for await (const page of this.pages(path, `reading the items of list '${listId}'`, headers)) yield page.map(toItem);
  }

  async delta(siteId: string, listId: string, token?: string, opts: { select?: string[] } = {}): Promise<DeltaResult> {
    const start = `${listPath(siteId, listId)}/items/delta?$expand=${expandFields(opts.select)}&$top=${this.pageSize}`;
    try {
      return await this.readDelta(start, token);
    } catch (error) {
      // 410 Gone: the token expired. Graph's advice is a fresh enumeration; the caller does it
      // page by page rather than this adapter holding the whole list in memory.
      if (token !== undefined && graphStatusOf(error) === 410) return { reset: true };
      throw error;
    }
  }

  async latestDeltaToken(siteId: string, listId: string): Promise<string> {
    // listitem-delta: "If latest, returns empty response with latest delta token." A token is
    // passed, so it costs what a delta with a token costs.
    const page = await this.http.call<Json>({ method: 'GET', path: `${listPath(siteId, listId)}/items/delta?token=latest`, ru: RU_COST.read }, 'taking the latest delta token');
    return tokenOf(page['@odata.deltaLink']);
  }

  private async readDelta(start: string, token: string | undefined): Promise<DeltaResult> {
    let path: string | undefined = token === undefined ? start : `${start}&token=${encodeURIComponent(token)}`;
    const items = new Map<string, ListItem>();
    const deleted = new Set<string>();
    let deltaLink: string | undefined;
    while (path) {
      const page: Json = await this.http.call<Json>({ method: 'GET', path, ru: token === undefined ? RU_COST.list : RU_COST.read }, 'reading list changes');
      for (const raw of (page.value as Json[] | undefined) ?? []) {
        const id = String(raw.id);
        // The feed shows each item's latest state; a later occurrence wins (listitem-delta).
        if (raw.deleted !== undefined || raw['@removed'] !== undefined) {
          items.delete(id);
          deleted.add(id);
        } else {
          deleted.delete(id);
          items.set(id, toItem(raw));
        }
      }
      const next = page['@odata.nextLink'];
      deltaLink = typeof page['@odata.deltaLink'] === 'string' ? page['@odata.deltaLink'] : undefined;
      path = typeof next === 'string' ? this.http.relative(next) : undefined;
    }
    return { items: [...items.values()], deletedIds: [...deleted], nextToken: tokenOf(deltaLink), reset: false };
  }

  async ping(): Promise<void> {
    try {
      await this.http.call({ method: 'GET', path: '/sites/root?$select=id', ru: RU_COST.read }, 'checking Microsoft Graph');
    } catch (error) {
      // Any answer but an auth refusal or an outage proves Graph is reachable with our token.
      if (graphStatusOf(error) === 404) return;
      throw error;
    }
  }

  /** Follows `@odata.nextLink` from `path`, yielding each page's `value`. */
  private async *pages(path: string, what: string, headers?: Record<string, string>): AsyncIterable<Json[]> {
    let next: string | undefined = path;
    while (next) {
      const page: Json = await this.http.call<Json>({ method: 'GET', path: next, headers, ru: RU_COST.list }, what);
      yield (page.value as Json[] | undefined) ?? [];
      const link = page['@odata.nextLink'];
      next = typeof link === 'string' ? this.http.relative(link) : undefined;
    }
  }
}

/** The token of a deltaLink: the token alone survives a change of host (emulator port, national cloud alias). */
function tokenOf(deltaLink: unknown): string {
  if (typeof deltaLink !== 'string') throw toSyncError({ status: 502, code: 'no_delta_link', message: 'the delta feed ended without @odata.deltaLink' }, 'reading list changes');
  return new URL(deltaLink).searchParams.get('token') ?? deltaLink;
}

function clampPage(n: number): number {
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(n)));
}
