import type { Config } from '../../config';
import type { SharePointConnection } from '../../core/definitions';
import { configError, SyncError } from '../../core/errors';
import {
  SYNC_KEY_COLUMN,
  type ColumnSpec,
  type DeltaResult,
  type EnsureListResult,
  type ExistingColumn,
  type ListInfo,
  type ListItem,
  type ListSpec,
  type ListTarget,
  type PageOptions,
  type SiteInfo,
  type WriteOp,
  type WriteResult,
} from '../../core/ports/list-target';
import type { Secrets } from '../../core/ports/secrets';
import { tokenSourceFor } from './auth';
import { fromGraphColumn, planColumns, toGraphColumn, validateSpec, withSyncKey } from './columns';
import { GraphTransport, type BatchRequest, type BatchResponse, type GraphTransportOptions } from './graph-client';
import { failureFromBatchResponse, fieldNamedIn, graphStatusOf, MODULE, retryKind, toSyncError, type GraphFailure } from './graph-errors';
import { limiterForTenant, RU_COST, type TenantLimiter } from './limiter';

/**
 * The ListTarget port on Microsoft Graph v1.0 (learn.microsoft.com/graph/api/resources/list,
 * /listitem, /columndefinition, /json-batching), through `@microsoft/microsoft-graph-client`.
 *
 * Every request goes through the tenant's shared limiter, charged its SharePoint RU before it
 * is sent. Item writes always go through `$batch`; reads that fan out (SyncKey lookups) too.
 */

export interface GraphListTargetOptions extends Omit<GraphTransportOptions, 'sleep'> {
  /** Default page size for `pageItems` and `delta`. */
  pageSize?: number;
}

const PREFER_NON_INDEXED = 'HonorNonIndexedQueriesWarningMayFailRandomly';
/** Columns SharePoint's generic list template brings with it (lower-case internal names). */
const BUILT_IN_COLUMNS = new Set(
  ['Title', 'ID', 'Created', 'Modified', 'Author', 'Editor', 'Attachments', 'ContentType', 'LinkTitle', 'LinkTitleNoMenu', 'Edit', '_UIVersionString', 'ItemChildCount', 'FolderChildCount'].map((n) => n.toLowerCase()),
);
/** Graph returns at most 999 list items per page whatever `$top` asks. */
const MAX_PAGE = 999;

type Json = Record<string, unknown>;

export class GraphListTarget implements ListTarget {
  private readonly http: GraphTransport;
  private readonly pageSize: number;

  constructor(opts: GraphListTargetOptions) {
    this.http = new GraphTransport(opts);
    this.pageSize = clampPage(opts.pageSize ?? 500);
  }

  get limiter(): TenantLimiter {
    return this.http.limiter;
  }

  // ---- sites and lists ------------------------------------------------------------------

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

  async ensureList(siteId: string, spec: ListSpec, opts: { dryRun?: boolean } = {}): Promise<EnsureListResult> {
    const dryRun = opts.dryRun === true;
    const displayName = spec.displayName.trim();
    if (!displayName || displayName.length > 255) throw configError(MODULE, 'invalid_list_name', 'a list display name is 1 to 255 characters');
    const wanted = withSyncKey(spec.columns);
    wanted.forEach(validateSpec);

    let list = await this.findList(siteId, displayName);
    let created = false;
    if (!list) {
      // Columns every generic list already has (Title) are not created, only checked below.
      const own = wanted.filter((c) => !BUILT_IN_COLUMNS.has(c.name.toLowerCase()));
      if (dryRun) return { list: null, created: true, columnsToAdd: own, added: [], conflicts: [], dryRun };
      list = await this.createList(siteId, displayName, own);
      created = list !== null;
      // Someone created it between our look and our create: carry on as for an existing list.
      list ??= await this.findList(siteId, displayName);
      if (!list) throw toSyncError({ status: 409, code: 'nameAlreadyExists', message: 'the list exists but cannot be found' }, `creating list '${displayName}'`);
      if (created) {
        // Check what the new list really has: built-in columns may not fit the spec, and a
        // service that dropped a column from the create body must not go unnoticed.
        const { toAdd, conflicts } = planColumns(wanted, await this.listColumns(siteId, list.id));
        for (const column of conflicts.length > 0 ? [] : toAdd) await this.addColumn(siteId, list.id, column);
        const added = [...own.filter((c) => !toAdd.includes(c)), ...(conflicts.length > 0 ? [] : toAdd)];
        return { list, created, columnsToAdd: [...own, ...toAdd.filter((c) => !own.includes(c))], added, conflicts, dryRun };
      }
    }

    const { toAdd, conflicts } = planColumns(wanted, await this.listColumns(siteId, list.id));
    // With a conflict nothing is changed: half-provisioning a list the admin must fix anyway
    // would only leave more to undo.
    if (dryRun || conflicts.length > 0) return { list, created: false, columnsToAdd: toAdd, added: [], conflicts, dryRun };
    const added: ColumnSpec[] = [];
    for (const column of toAdd) {
      await this.addColumn(siteId, list.id, column);
      added.push(column);
    }
    return { list, created: false, columnsToAdd: toAdd, added, conflicts: [], dryRun };
  }

  /** Returns null when a list of that name turns out to exist already (409, and it can be found). */
  private async createList(siteId: string, displayName: string, columns: ColumnSpec[]): Promise<ListInfo | null> {
    try {
      const body = { displayName, columns: columns.map(toGraphColumn), list: { template: 'genericList' } };
      const created = await this.http.call<Json>({ method: 'POST', path: `${sitePath(siteId)}/lists`, body, ru: RU_COST.write }, `creating list '${displayName}'`);
      return toList(created);
    } catch (error) {
      // 409 is also what a repeated create (first answer lost) or a concurrent one gets.
      if (graphStatusOf(error) === 409 && (await this.findList(siteId, displayName))) return null;
      throw error;
    }
  }

  private async addColumn(siteId: string, listId: string, column: ColumnSpec): Promise<void> {
    try {
      await this.http.call({ method: 'POST', path: `${listPath(siteId, listId)}/columns`, body: toGraphColumn(column), ru: RU_COST.write }, `adding column '${column.name}'`);
    } catch (error) {
      // A repeat of a create whose answer was lost: fine if the column now matches.
      if (graphStatusOf(error) !== 409) throw error;
      const { toAdd, conflicts } = planColumns([column], await this.listColumns(siteId, listId));
      if (toAdd.length > 0 || conflicts.length > 0) throw error;
    }
  }

  // ---- writes ---------------------------------------------------------------------------

  async writeItems(siteId: string, listId: string, ops: WriteOp[]): Promise<WriteResult[]> {
    const results: Array<WriteResult | undefined> = new Array(ops.length);
    const valid: number[] = [];
    ops.forEach((op, i) => {
      const problem = invalidOp(op);
      if (problem) results[i] = { opId: op.opId, ok: false, status: 0, code: problem.code, message: problem.message, errorClass: 'config' };
      else valid.push(i);
    });

    // Two ops on one item in a single envelope would run in no defined order, so each item
    // appears at most once per wave and waves run one after another.
    for (const wave of waves(valid, (i) => itemKey(ops[i]!))) {
      const requests = wave.map((i) => writeRequest(siteId, listId, ops[i]!, String(i)));
      const responses = await this.http.batch(requests);
      for (const i of wave) results[i] = writeResult(ops[i]!, responses.get(String(i)));
    }

    await this.adoptConflictingCreates(siteId, listId, ops, results);
    return results.map((r, i) => r ?? lostResult(ops[i]!));
  }

  /**
   * A create refused with 409 on its SyncKey means the item exists: typically our own earlier
   * attempt whose answer was lost. Look it up by SyncKey and adopt it, writing this create's
   * fields onto it so the outcome is the same as if the create had gone through (DESIGN §4).
   * A 409 with no item under that SyncKey is a conflict on another unique column and stays one.
   */
  private async adoptConflictingCreates(siteId: string, listId: string, ops: WriteOp[], results: Array<WriteResult | undefined>): Promise<void> {
    const conflicted = ops
      .map((op, i) => ({ op, i }))
      .filter(({ op, i }) => op.kind === 'create' && results[i]?.ok === false && (results[i] as { code: string }).code === 'unique_conflict');
    if (conflicted.length === 0) return;
    let found: Map<string, ListItem>;
    try {
      found = await this.findBySyncKey(siteId, listId, conflicted.map(({ op }) => syncKeyOf(op)!), { select: [SYNC_KEY_COLUMN] });
    } catch (error) {
      const e = error instanceof SyncError ? error : toSyncError({ status: 0, code: 'lookup_failed', message: String(error) }, 'adopting');
      for (const { op, i } of conflicted) {
        results[i] = { opId: op.opId, ok: false, status: e.status, code: 'adoption_failed', message: `the item exists but could not be looked up: ${e.message}`, errorClass: e.errorClass };
      }
      return;
    }
    const updates: Array<{ i: number; op: WriteOp; itemId: string }> = [];
    for (const { op, i } of conflicted) {
      const item = found.get(syncKeyOf(op)!);
      if (item) updates.push({ i, op, itemId: item.id });
    }
    const patchOps = updates.map(({ op, itemId }): WriteOp => ({ opId: op.opId, kind: 'update', itemId, fields: withoutSyncKey(op.fields ?? {}) }));
    const requests = patchOps
      .map((op, n) => ({ op, n }))
      .filter(({ op }) => Object.keys(op.fields ?? {}).length > 0)
      .map(({ op, n }) => writeRequest(siteId, listId, op, `a${n}`));
    const responses = requests.length > 0 ? await this.http.batch(requests) : new Map<string, BatchResponse>();
    updates.forEach(({ i, itemId }, n) => {
      const patched = patchOps[n]!;
      if (Object.keys(patched.fields ?? {}).length === 0) {
        results[i] = { opId: patched.opId, ok: true, itemId, adopted: true };
        return;
      }
      const result = writeResult(patched, responses.get(`a${n}`));
      results[i] = result.ok ? { ...result, itemId, adopted: true } : result;
    });
  }

  // ---- reads ----------------------------------------------------------------------------

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
        throw toSyncError(failureFromBatchResponse(response?.status ?? 0, response?.body), `looking up items by ${SYNC_KEY_COLUMN}`);
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
      return await this.readDelta(start, token, false);
    } catch (error) {
      // 410 Gone: the token expired. Graph's advice is a fresh enumeration; the caller learns
      // through `reset` that it got a full snapshot rather than changes.
      if (token !== undefined && graphStatusOf(error) === 410) {
        return this.readDelta(start, undefined, true);
      }
      throw error;
    }
  }

  private async readDelta(start: string, token: string | undefined, reset: boolean): Promise<DeltaResult> {
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
    if (!deltaLink) throw toSyncError({ status: 502, code: 'no_delta_link', message: 'the delta feed ended without @odata.deltaLink' }, 'reading list changes');
    // The token alone survives a change of host (emulator port, national cloud alias).
    const nextToken = new URL(deltaLink).searchParams.get('token') ?? deltaLink;
    return { items: [...items.values()], deletedIds: [...deleted], nextToken, reset };
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

/**
 * The adapter for a stored SharePoint connection: credentials from the connection (or the
 * emulator's static token), the tenant's process-wide limiter, the Graph base URL from settings.
 */
export async function createGraphListTarget(
  conn: SharePointConnection,
  secrets: Secrets,
  settings: Pick<Config, 'GRAPH_BASE_URL' | 'GRAPH_STATIC_TOKEN' | 'GRAPH_BUDGET_RU_PER_MINUTE' | 'GRAPH_MAX_CONCURRENCY'>,
): Promise<GraphListTarget> {
  const tokens = await tokenSourceFor(conn, secrets, { baseUrl: settings.GRAPH_BASE_URL, staticToken: settings.GRAPH_STATIC_TOKEN });
  const limiter = limiterForTenant(conn.tenantId, {
    budgetRuPerMinute: settings.GRAPH_BUDGET_RU_PER_MINUTE,
    maxConcurrency: settings.GRAPH_MAX_CONCURRENCY,
  });
  return new GraphListTarget({ baseUrl: settings.GRAPH_BASE_URL, tokens, limiter });
}

// ---- helpers ------------------------------------------------------------------------------

function sitePath(siteId: string): string {
  return `/sites/${siteId}`;
}

function listPath(siteId: string, listId: string): string {
  return `/sites/${siteId}/lists/${listId}`;
}

function clampPage(n: number): number {
  return Math.max(1, Math.min(MAX_PAGE, Math.floor(n)));
}

function unique(names: string[]): string[] {
  return [...new Set(names)];
}

function expandFields(select: string[] | undefined): string {
  return select && select.length > 0 ? `fields($select=${unique(select).join(',')})` : 'fields';
}

/** OData string literal: quotes doubled. */
function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

function odataLiteral(value: string | number | boolean): string {
  return typeof value === 'string' ? odataString(value) : String(value);
}

function toSite(raw: Json): SiteInfo {
  return { id: String(raw.id), displayName: String(raw.displayName ?? raw.name ?? ''), webUrl: String(raw.webUrl ?? '') };
}

function toList(raw: Json): ListInfo {
  const list: ListInfo = { id: String(raw.id), displayName: String(raw.displayName ?? raw.name ?? '') };
  if (typeof raw.webUrl === 'string') list.webUrl = raw.webUrl;
  return list;
}

function toItem(raw: Json): ListItem {
  const fields = raw.fields && typeof raw.fields === 'object' ? { ...(raw.fields as Json) } : {};
  delete fields['@odata.etag'];
  const item: ListItem = { id: String(raw.id), fields };
  const eTag = raw.eTag ?? raw['@odata.etag'];
  if (typeof eTag === 'string') item.eTag = eTag;
  return item;
}

function syncKeyOf(op: WriteOp): string | undefined {
  const key = op.fields?.[SYNC_KEY_COLUMN];
  return typeof key === 'string' && key.length > 0 ? key : undefined;
}

function withoutSyncKey(fields: Record<string, unknown>): Record<string, unknown> {
  const { [SYNC_KEY_COLUMN]: _ignored, ...rest } = fields;
  return rest;
}

function invalidOp(op: WriteOp): { code: string; message: string } | null {
  switch (op.kind) {
    case 'create':
      // Without a SyncKey a create whose answer was lost could not be told from a new one.
      return syncKeyOf(op) ? null : { code: 'missing_sync_key', message: `a create must carry the ${SYNC_KEY_COLUMN} field` };
    case 'update':
      if (!op.itemId) return { code: 'missing_item_id', message: 'an update needs itemId' };
      return op.fields && Object.keys(op.fields).length > 0 ? null : { code: 'missing_fields', message: 'an update needs fields' };
    case 'delete':
      return op.itemId ? null : { code: 'missing_item_id', message: 'a delete needs itemId' };
    default:
      return { code: 'invalid_op', message: `unknown write kind '${String((op as { kind: unknown }).kind)}'` };
  }
}

/** What identifies the item an op touches, for ordering ops on the same item. */
function itemKey(op: WriteOp): string {
  return op.kind === 'create' ? `k:${syncKeyOf(op)!.toLowerCase()}` : `i:${op.itemId}`;
}

/** Splits indexes into successive groups in which no key repeats, keeping the order of each key's ops. */
function waves(indexes: number[], key: (i: number) => string): number[][] {
  const out: number[][] = [];
  const seen = new Map<string, number>();
  for (const i of indexes) {
    const k = key(i);
    const wave = (seen.get(k) ?? -1) + 1;
    seen.set(k, wave);
    (out[wave] ??= []).push(i);
  }
  return out;
}

function writeRequest(siteId: string, listId: string, op: WriteOp, id: string): BatchRequest {
  const items = `${listPath(siteId, listId)}/items`;
  switch (op.kind) {
    case 'create':
      return { id, method: 'POST', url: items, body: { fields: op.fields }, ru: RU_COST.write };
    case 'update':
      return { id, method: 'PATCH', url: `${items}/${op.itemId}/fields`, body: op.fields, ru: RU_COST.write };
    case 'delete':
      return { id, method: 'DELETE', url: `${items}/${op.itemId}`, ru: RU_COST.write };
  }
}

function lostResult(op: WriteOp): WriteResult {
  return { opId: op.opId, ok: false, status: 0, code: 'no_response', message: 'no answer from Microsoft Graph', errorClass: 'transient' };
}

/** One op's outcome from its `$batch` response. */
function writeResult(op: WriteOp, response: BatchResponse | undefined): WriteResult {
  if (!response) return lostResult(op);
  if (response.status >= 200 && response.status < 300) {
    const body = (response.body ?? {}) as Json;
    // A create answers the listItem; a PATCH of fields answers the fieldValueSet (no id).
    const itemId = op.kind === 'create' ? String(body.id) : op.itemId!;
    const eTag = body.eTag ?? body['@odata.etag'];
    return typeof eTag === 'string' ? { opId: op.opId, ok: true, itemId, eTag } : { opId: op.opId, ok: true, itemId };
  }
  return failureResult(op, failureFromBatchResponse(response.status, response.body));
}

function failureResult(op: WriteOp, failure: GraphFailure): WriteResult {
  const base = { opId: op.opId, ok: false as const, status: failure.status, message: `${failure.code}: ${failure.message}` };
  const fieldNames = Object.keys(op.fields ?? {});
  switch (failure.status) {
    case 409:
      return { ...base, code: 'unique_conflict', errorClass: 'skippable', ...named(fieldNamedIn(failure.message, fieldNames)) };
    case 400:
    case 422: {
      const field = fieldNamedIn(failure.message, fieldNames);
      return { ...base, code: field ? 'invalid_field' : 'bad_request', errorClass: 'skippable', ...named(field) };
    }
    case 404:
      // On a create the list itself is missing; on update/delete the item is (a delete is done).
      return op.kind === 'create'
        ? { ...base, code: 'list_not_found', errorClass: 'config' }
        : { ...base, code: 'item_not_found', errorClass: 'skippable' };
    case 401:
      return { ...base, code: 'unauthorized', errorClass: 'config' };
    case 403:
      return { ...base, code: 'forbidden', errorClass: 'config' };
    case 413:
      return { ...base, code: 'too_large', errorClass: 'skippable' };
  }
  switch (retryKind(failure.status)) {
    case 'throttled':
      return { ...base, code: failure.status === 429 ? 'throttled' : 'unavailable', errorClass: 'transient' };
    case 'transient':
      return { ...base, code: failure.status === 0 ? 'no_response' : 'unavailable', errorClass: 'transient' };
    default:
      return { ...base, code: 'graph_error', errorClass: 'skippable' };
  }
}

function named(field: string | undefined): { field?: string } {
  return field === undefined ? {} : { field };
}
