/**
 * Graph v1.0 requests for SharePoint sites, lists, columns and items, and `$batch`.
 * One entry point per request (`execute`), used for plain HTTP requests and for each inner
 * request of a batch alike, so both go through the same routing, RU charging, throttling
 * and fault injection.
 */
import { columnJson } from './columns';
import { badRequest, GraphError, graphErrorBody, invalidRequest, itemNotFound } from './errors';
import { FaultBook, type ActiveFault, type FaultOp } from './faults';
import { compileFilter, parseFilter, type Accessor } from './filter';
import { newGuid } from './ids';
import type { MetricsRecorder } from './metrics';
import {
  checkSelect,
  fieldsJson,
  ITEM_PROPERTIES,
  itemJson,
  LIST_PROPERTIES,
  listJson,
  SITE_PROPERTIES,
  siteJson,
  type ItemRender,
} from './render';
import type { ListState, SiteState, Store } from './store';
import { RU_COST, type RuKind, type Throttle } from './throttle';

export interface GraphCall {
  method: string;
  /** Decoded path without the `/v1.0` prefix, starting with `/`. */
  path: string;
  query: URLSearchParams;
  /** Header names in lower case. */
  headers: Record<string, string>;
  body: unknown;
  /** Origin used in absolute links, e.g. `http://127.0.0.1:7072`. */
  baseUrl: string;
  requestId: string;
  clientRequestId: string;
}

export interface GraphResult {
  status: number;
  headers: Record<string, string>;
  body?: unknown;
  /** Applied, but the answer is lost: a 500 in its place, or a destroyed socket. */
  lose?: { mode: 'status' | 'reset'; status: number };
  /** Destroy the connection; nothing was applied. */
  reset?: boolean;
}

export const JSON_CONTENT_TYPE =
  'application/json;odata.metadata=minimal;odata.streaming=true;IEEE754Compatible=false;charset=utf-8';
export const MAX_BATCH_REQUESTS = 20;
const DEFAULT_PAGE_SIZE = 200;
const MAX_PAGE_SIZE = 5000;
const PREFER_NON_INDEXED = 'honornonindexedquerieswarningmayfailrandomly';

interface Endpoint {
  op: FaultOp;
  ru: RuKind;
  /** The list the request addresses, for fault scopes (undefined if none or not found). */
  list?: ListState;
  run(): GraphResult;
}

type SiteRef = { by: 'id'; id: string } | { by: 'path'; hostname: string; path: string };

export interface EngineOptions {
  store: Store;
  throttle: Throttle;
  faults: FaultBook;
  metrics: MetricsRecorder;
  clock: () => number;
  listViewThreshold: number;
}

export class GraphEngine {
  constructor(private readonly o: EngineOptions) {}

  /** One Graph request (top-level or inside a batch). */
  execute(call: GraphCall): GraphResult {
    const result = this.executeUncounted(call);
    this.o.metrics.status(
      result.reset || result.lose?.mode === 'reset' ? 'reset' : result.lose ? result.lose.status : result.status,
    );
    return result;
  }

  private executeUncounted(call: GraphCall): GraphResult {
    let endpoint: Endpoint;
    try {
      endpoint = this.route(call);
    } catch (e) {
      return this.errorResult(e, call);
    }
    const fault = this.o.faults.take({
      op: endpoint.op,
      envelope: false,
      listId: endpoint.list?.id,
      listName: endpoint.list?.displayName,
    });
    if (fault) {
      this.o.metrics.faultsInjected++;
      if (fault.kind === 'status') return faultStatusResult(fault, call);
      if (fault.kind === 'reset') return { status: 0, headers: {}, reset: true };
    }
    const admission = this.o.throttle.admit(this.o.clock(), RU_COST[endpoint.ru]);
    this.o.metrics.charge(endpoint.ru, admission.throttled);
    let result: GraphResult;
    if (admission.throttled) {
      result = errorResult(call, 429, 'activityLimitReached', 'The request has been throttled', admission.headers);
    } else {
      try {
        result = endpoint.run();
      } catch (e) {
        result = this.errorResult(e, call);
      }
      Object.assign(result.headers, admission.headers);
    }
    if (fault?.kind === 'appliedButLost') {
      // "Applied but lost" needs a write that was applied; a throttled or refused one keeps the fault for later.
      if (result.status < 300) result.lose = { mode: fault.mode ?? 'status', status: fault.status ?? 500 };
      else {
        this.o.faults.refund(fault);
        this.o.metrics.faultsInjected--;
      }
    }
    return result;
  }

  private errorResult(e: unknown, call: GraphCall): GraphResult {
    if (e instanceof GraphError) return errorResult(call, e.status, e.code, e.message, { ...e.headers });
    const message = e instanceof Error ? e.message : String(e);
    return errorResult(call, 500, 'generalException', `General exception while processing: ${message}`);
  }

  /** `POST /$batch` (learn.microsoft.com/graph/json-batching). */
  batch(call: GraphCall): GraphResult {
    this.o.metrics.batches++;
    const envelopeFault = this.o.faults.take({ op: 'batch', envelope: true });
    if (envelopeFault) {
      this.o.metrics.faultsInjected++;
      if (envelopeFault.kind === 'status') return faultStatusResult(envelopeFault, call);
      if (envelopeFault.kind === 'reset') return { status: 0, headers: {}, reset: true };
    }
    let requests: BatchRequest[];
    try {
      requests = parseBatch(call.body);
    } catch (e) {
      return this.errorResult(e, call);
    }

    const results = new Map<string, GraphResult>();
    let lose: GraphResult['lose'];
    const byId = new Map(requests.map((r) => [r.id, r]));
    const run = (r: BatchRequest): GraphResult | 'reset' => {
      const done = results.get(r.id);
      if (done) return done;
      for (const dep of r.dependsOn) {
        const depResult = run(byId.get(dep) as BatchRequest);
        if (depResult === 'reset') return 'reset';
      }
      const failed = r.dependsOn.find((dep) => (results.get(dep)?.status ?? 0) >= 400);
      let result: GraphResult;
      if (failed !== undefined) {
        result = errorResult(call, 424, 'failedDependency', `Request ${r.id} was not run because request ${failed}, which it depends on, failed.`);
        this.o.metrics.status(424);
      } else {
        result = this.execute(innerCall(call, r));
        if (result.reset) return 'reset';
        if (result.lose && !lose) lose = result.lose;
      }
      results.set(r.id, result);
      return result;
    };
    for (const r of requests) {
      if (run(r) === 'reset') return { status: 0, headers: {}, reset: true };
    }

    const responses = requests.map((r) => {
      const res = results.get(r.id) as GraphResult;
      const out: Record<string, unknown> = {
        id: r.id,
        status: res.status,
        headers: res.body === undefined ? { ...res.headers } : { 'Content-Type': 'application/json', ...res.headers },
      };
      if (res.body !== undefined) out.body = res.body;
      return out;
    });
    const result: GraphResult = { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body: { responses } };
    if (envelopeFault?.kind === 'appliedButLost') lose = { mode: envelopeFault.mode ?? 'status', status: envelopeFault.status ?? 500 };
    if (lose) result.lose = lose;
    return result;
  }

  // ---------------------------------------------------------------- routing

  private route(call: GraphCall): Endpoint {
    const { path, method } = call;
    if (path === '/sites' || path === '/sites/') {
      return this.only(method, { GET: () => this.searchSites(call) });
    }
    const m = /^\/sites\/(.+)$/.exec(path);
    if (!m) {
      const segment = path.split('/').filter(Boolean)[0] ?? '';
      throw badRequest(`Resource not found for the segment '${segment}'.`);
    }
    const rest = m[1] as string;
    let ref: SiteRef;
    let segments: string[];
    const colon = rest.indexOf(':');
    const slash = rest.indexOf('/');
    if (colon >= 0 && (slash < 0 || colon < slash)) {
      // /sites/{hostname}:/{server-relative-path}[:/more]
      const hostname = rest.slice(0, colon);
      const after = rest.slice(colon + 1);
      const end = after.indexOf(':');
      ref = { by: 'path', hostname, path: end >= 0 ? after.slice(0, end) : after };
      segments = (end >= 0 ? after.slice(end + 1) : '').split('/').filter(Boolean);
    } else {
      const parts = rest.split('/');
      ref = { by: 'id', id: parts[0] as string };
      segments = parts.slice(1).filter(Boolean);
    }
    const site = (): SiteState =>
      ref.by === 'id' ? this.o.store.siteById(ref.id) : this.o.store.siteByPath(ref.hostname, ref.path);

    const [s0, listRef, s2, s3, s4, ...extra] = segments;
    if (s0 === undefined) return this.only(method, { GET: () => this.getSite(call, site()) });
    if (s0 === 'permissions' && listRef === undefined) {
      return this.only(method, { GET: () => ({ op: 'read', ru: 'permission', run: () => collection(call, []) }) });
    }
    if (s0 !== 'lists') throw badRequest(`Resource not found for the segment '${s0}'.`);
    if (listRef === undefined) {
      return this.only(method, {
        GET: () => this.getLists(call, site()),
        POST: () => this.createList(call, site()),
      });
    }
    let resolved: ListState | undefined;
    try {
      resolved = site().findList(listRef);
    } catch {
      resolved = undefined;
    }
    const list = (): ListState => site().getList(listRef);
    const withList = (e: Endpoint): Endpoint => ({ ...e, list: resolved });

    if (s2 === undefined) {
      return withList(
        this.only(method, {
          GET: () => ({ op: 'read', ru: 'read1', run: () => this.getList(call, list()) }),
          DELETE: () => ({
            op: 'delete',
            ru: 'delete',
            run: () => {
              const l = list();
              this.o.store.deleteList(l.site, l);
              return { status: 204, headers: {} };
            },
          }),
        }),
      );
    }
    if (s2 === 'columns') {
      if (s4 !== undefined) throw badRequest(`Resource not found for the segment '${s4}'.`);
      if (s3 === undefined) {
        return withList(
          this.only(method, {
            GET: () => ({ op: 'read', ru: 'readMany', run: () => collection(call, list().columns.map(columnJson)) }),
            POST: () => ({
              op: 'create',
              ru: 'create',
              run: () => created(columnJson(this.o.store.createColumn(list(), call.body))),
            }),
          }),
        );
      }
      return withList(
        this.only(method, {
          GET: () => ({
            op: 'read',
            ru: 'read1',
            run: () => {
              const c = list().columns.find((x) => x.id === s3 || x.name === s3);
              if (!c) throw itemNotFound('Column not found');
              return ok(columnJson(c));
            },
          }),
        }),
      );
    }
    if (s2 !== 'items') throw badRequest(`Resource not found for the segment '${s2}'.`);
    if (s3 === undefined) {
      return withList(
        this.only(method, {
          GET: () => ({ op: 'read', ru: 'readMany', run: () => this.listItems(call, list()) }),
          POST: () => ({ op: 'create', ru: 'create', run: () => this.createItem(call, list()) }),
        }),
      );
    }
    if (s3 === 'delta' || s3 === 'delta()' || s3 === 'microsoft.graph.delta()' || s3 === 'microsoft.graph.delta') {
      if (s4 !== undefined) throw badRequest(`Resource not found for the segment '${s4}'.`);
      // Microsoft: "delta with a token" costs 1 RU, a delta without one 2 RU.
      const hasToken = !!q(call.query, 'token');
      return withList(
        this.only(method, {
          GET: () => ({ op: 'read', ru: hasToken ? 'read1' : 'readMany', run: () => this.delta(call, list()) }),
        }),
      );
    }
    if (extra.length > 0) throw badRequest(`Resource not found for the segment '${extra[0]}'.`);
    const itemId = (): number => {
      if (!/^[1-9][0-9]{0,9}$/.test(s3)) throw invalidRequest(`The item id '${s3}' is not valid: list item ids are whole numbers.`);
      return Number(s3);
    };
    if (s4 === undefined) {
      return withList(
        this.only(method, {
          GET: () => ({ op: 'read', ru: 'read1', run: () => this.getItem(call, list(), itemId()) }),
          DELETE: () => ({
            op: 'delete',
            ru: 'delete',
            run: () => {
              list().deleteItem(itemId(), call.headers['if-match'], this.o.clock());
              this.o.store.mutations++;
              return { status: 204, headers: {} };
            },
          }),
        }),
      );
    }
    if (s4 !== 'fields') throw badRequest(`Resource not found for the segment '${s4}'.`);
    return withList(
      this.only(method, {
        GET: () => ({
          op: 'read',
          ru: 'read1',
          run: () => {
            const l = list();
            return ok(fieldsJson(l, l.getItem(itemId()), parseSelect(q(call.query, 'select'))));
          },
        }),
        PATCH: () => ({ op: 'update', ru: 'update', run: () => this.updateFields(call, list(), itemId()) }),
      }),
    );
  }

  private only(method: string, handlers: Record<string, () => Endpoint>): Endpoint {
    const make = handlers[method];
    if (!make) {
      throw new GraphError(405, 'BadRequest', `The HTTP method '${method}' is not supported for this resource.`, {
        Allow: Object.keys(handlers).join(', '),
      });
    }
    return make();
  }

  // ---------------------------------------------------------------- sites and lists

  private searchSites(call: GraphCall): Endpoint {
    return {
      op: 'read',
      ru: 'readMany',
      run: () => {
        const select = parseSelect(q(call.query, 'select'));
        checkSelect(select, SITE_PROPERTIES, 'site');
        return collection(
          call,
          this.o.store.searchSites(q(call.query, 'search')).map((s) => siteJson(s, select)),
        );
      },
    };
  }

  private getSite(call: GraphCall, site: SiteState): Endpoint {
    return {
      op: 'read',
      ru: 'read1',
      run: () => {
        const select = parseSelect(q(call.query, 'select'));
        checkSelect(select, SITE_PROPERTIES, 'site');
        return ok(siteJson(site, select));
      },
    };
  }

  private getLists(call: GraphCall, site: SiteState): Endpoint {
    return {
      op: 'read',
      ru: 'readMany',
      run: () => {
        const select = parseSelect(q(call.query, 'select'));
        checkSelect(select, LIST_PROPERTIES, 'list');
        const expand = parseExpand(q(call.query, 'expand'), ['columns'], 'list');
        let lists = [...site.lists.values()];
        const filter = q(call.query, 'filter');
        if (filter) {
          const predicate = compileFilter(parseFilter(filter), listAccessor);
          lists = lists.filter(predicate);
        }
        return collection(
          call,
          lists.map((l) => listJson(l, select, expand.has('columns'))),
        );
      },
    };
  }

  private createList(call: GraphCall, site: SiteState): Endpoint {
    return {
      op: 'create',
      ru: 'create',
      run: () => created(listJson(this.o.store.createList(site, call.body))),
    };
  }

  private getList(call: GraphCall, list: ListState): GraphResult {
    const select = parseSelect(q(call.query, 'select'));
    checkSelect(select, LIST_PROPERTIES, 'list');
    const expand = parseExpand(q(call.query, 'expand'), ['columns'], 'list');
    return ok(listJson(list, select, expand.has('columns')));
  }

  // ---------------------------------------------------------------- items

  private itemRender(call: GraphCall, defaultFields: boolean): ItemRender {
    const select = parseSelect(q(call.query, 'select'));
    checkSelect(select, ITEM_PROPERTIES, 'listItem');
    const expand = parseExpand(q(call.query, 'expand'), ['fields'], 'listItem');
    const fields = expand.get('fields');
    return {
      select,
      fields: fields ? { select: fields.select } : defaultFields ? { select: null } : null,
    };
  }

  private createItem(call: GraphCall, list: ListState): GraphResult {
    const body = call.body;
    if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
      throw invalidRequest('The list item must be a JSON object.');
    }
    const item = list.createItem((body as Record<string, unknown> | undefined)?.fields, this.o.clock());
    this.o.store.mutations++;
    return created(itemJson(list, item, { select: null, fields: { select: null } }));
  }

  private getItem(call: GraphCall, list: ListState, id: number): GraphResult {
    const how = this.itemRender(call, false);
    return ok(itemJson(list, list.getItem(id), how));
  }

  private updateFields(call: GraphCall, list: ListState, id: number): GraphResult {
    const body = call.body;
    if (typeof body !== 'object' || body === null || Array.isArray(body)) {
      throw invalidRequest('The fields to update must be a JSON object.');
    }
    const item = list.updateItem(id, body, call.headers['if-match'], this.o.clock());
    this.o.store.mutations++;
    return ok(fieldsJson(list, item, null));
  }

  /** `GET .../items` (learn.microsoft.com/graph/api/listitem-list). */
  private listItems(call: GraphCall, list: ListState): GraphResult {
    for (const unsupported of ['orderby', 'skip', 'search', 'count']) {
      if (q(call.query, unsupported) !== null) {
        throw invalidRequest(`The emulator does not support $${unsupported} on list items.`);
      }
    }
    const how = this.itemRender(call, false);
    const top = parseTop(q(call.query, 'top'));
    const afterId = decodeSkipToken(q(call.query, 'skiptoken'));
    const filterSrc = q(call.query, 'filter');
    const page = list.queryItems({
      filter: filterSrc ? parseFilter(filterSrc) : undefined,
      allowNonIndexed: (call.headers.prefer ?? '').toLowerCase().includes(PREFER_NON_INDEXED),
      afterId,
      top,
      threshold: this.o.listViewThreshold,
    });
    const value = page.items.map((item) => itemJson(list, item, how));
    const last = page.items[page.items.length - 1];
    const next = page.more ? link(call, call.path, { $skiptoken: encodeSkipToken(last ? last.id : afterId) }) : undefined;
    return collection(call, value, next ? { '@odata.nextLink': next } : {});
  }

  /** `GET .../items/delta` (learn.microsoft.com/graph/api/listitem-delta, /graph/delta-query-overview). */
  private delta(call: GraphCall, list: ListState): GraphResult {
    const how = this.itemRender(call, true);
    const top = parseTop(q(call.query, 'top'));
    const raw = q(call.query, 'token');
    const store = this.o.store;
    const tokenLink = (t: DeltaToken) => link(call, call.path, { token: encodeDeltaToken(t) });

    if (raw === 'latest') {
      return collection(call, [], { '@odata.deltaLink': tokenLink({ e: store.epoch, l: list.id, m: 'c', s: list.seq }) });
    }
    let token: DeltaToken;
    if (!raw) {
      token = { e: store.epoch, l: list.id, m: 'i', s: list.seq, a: 0 };
    } else {
      const decoded = decodeDeltaToken(raw);
      if (!decoded || decoded.e !== store.epoch || decoded.l !== list.id || decoded.s < list.deltaFloor) {
        const restart = link(call, call.path, {});
        throw new GraphError(
          410,
          'resyncRequired',
          "Resync required. Replace any local items with the server's version (including deletes) if you're sure that the " +
            "service was up to date with your local changes when you last sync'd. Upload any local changes that the server " +
            "doesn't know about.",
          { Location: restart },
        );
      }
      token = decoded;
    }

    const after = token.a ?? 0;
    let ids: number[];
    let upto = token.s;
    if (token.m === 'i') {
      // First enumeration: every current item; changes after `s` come with the next delta.
      ids = list.idsAfter(after, top + 1);
    } else {
      upto = token.u ?? list.seq;
      ids = list.changedIds(token.s, upto).filter((id) => id > after);
    }
    const pageIds = ids.slice(0, top);
    const value = pageIds.map((id) => {
      const item = list.items.get(id);
      return item ? itemJson(list, item, how) : { id: String(id), deleted: { state: 'deleted' } };
    });
    const lastId = pageIds[pageIds.length - 1];
    if (ids.length > top && lastId !== undefined) {
      const next: DeltaToken = token.m === 'i' ? { ...token, a: lastId } : { ...token, u: upto, a: lastId };
      return collection(call, value, { '@odata.nextLink': tokenLink(next) });
    }
    return collection(call, value, { '@odata.deltaLink': tokenLink({ e: store.epoch, l: list.id, m: 'c', s: upto }) });
  }
}

// ------------------------------------------------------------------ helpers

const listAccessor = (path: string): Accessor<ListState> => {
  switch (path) {
    case 'displayName':
      return { kind: 'text', get: (l) => l.displayName };
    case 'name':
      return { kind: 'text', get: (l) => l.name };
    case 'id':
      return { kind: 'text', get: (l) => l.id };
    case 'description':
      return { kind: 'text', get: (l) => l.description };
    default:
      throw invalidRequest(`Could not find a property named '${path}' on type 'microsoft.graph.list'.`);
  }
};

function ok(body: unknown): GraphResult {
  return { status: 200, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body };
}

function created(body: unknown): GraphResult {
  return { status: 201, headers: { 'Content-Type': JSON_CONTENT_TYPE }, body };
}

function collection(call: GraphCall, value: unknown[], extra: Record<string, string> = {}): GraphResult {
  // A simplified context URL (the resource path); Graph's clients do not read it.
  return ok({ '@odata.context': `${call.baseUrl}/v1.0/$metadata#${encodeURI(call.path.slice(1))}`, ...extra, value });
}

export function errorResult(
  call: Pick<GraphCall, 'requestId' | 'clientRequestId'>,
  status: number,
  code: string,
  message: string,
  headers: Record<string, string> = {},
): GraphResult {
  return {
    status,
    headers: { 'Content-Type': 'application/json', ...headers },
    body: graphErrorBody(code, message, call.requestId, call.clientRequestId),
  };
}

const FAULT_CODES: Record<number, [string, string]> = {
  429: ['activityLimitReached', 'The request has been throttled'],
  500: ['generalException', 'General exception while processing'],
  502: ['badGateway', 'The gateway received an invalid response.'],
  503: ['serviceNotAvailable', 'The service is temporarily unavailable. Please retry after a delay.'],
  504: ['gatewayTimeout', 'The gateway timed out waiting for the service.'],
};

function faultStatusResult(fault: Extract<ActiveFault, { kind: 'status' }>, call: GraphCall): GraphResult {
  const [code, message] = FAULT_CODES[fault.status] ?? ['generalException', 'Injected failure'];
  const headers: Record<string, string> = {};
  const retryAfter = fault.retryAfter ?? (fault.status === 429 || fault.status === 503 ? 1 : undefined);
  if (retryAfter !== undefined) headers['Retry-After'] = String(retryAfter);
  return errorResult(call, fault.status, fault.code ?? code, fault.message ?? message, headers);
}

/** An OData system query option, with or without its `$`, in any letter case. */
export function q(query: URLSearchParams, name: string): string | null {
  for (const [k, v] of query) {
    const key = k.toLowerCase();
    if (key === `$${name}` || key === name) return v;
  }
  return null;
}

function parseSelect(raw: string | null): string[] | null {
  if (raw === null || raw.trim() === '') return null;
  return raw
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** `$expand=fields($select=a,b),columns` → name → options. */
function parseExpand(raw: string | null, allowed: string[], type: string): Map<string, { select: string[] | null }> {
  const out = new Map<string, { select: string[] | null }>();
  if (raw === null || raw.trim() === '') return out;
  const parts: string[] = [];
  let depth = 0;
  let start = 0;
  for (let i = 0; i < raw.length; i++) {
    const ch = raw.charAt(i);
    if (ch === '(') depth++;
    else if (ch === ')') depth--;
    else if (ch === ',' && depth === 0) {
      parts.push(raw.slice(start, i));
      start = i + 1;
    }
  }
  parts.push(raw.slice(start));
  for (const part of parts) {
    const m = /^\s*([A-Za-z_.]+)\s*(?:\((.*)\))?\s*$/.exec(part);
    if (!m) throw invalidRequest(`Invalid $expand: '${part}'.`);
    const name = m[1] as string;
    if (!allowed.includes(name)) {
      throw invalidRequest(`Could not find a property named '${name}' on type 'microsoft.graph.${type}'.`);
    }
    let select: string[] | null = null;
    for (const option of (m[2] ?? '').split(';')) {
      const eq = option.indexOf('=');
      if (eq < 0) continue;
      const key = option.slice(0, eq).trim().toLowerCase();
      if (key === '$select' || key === 'select') select = parseSelect(option.slice(eq + 1));
    }
    out.set(name, { select });
  }
  return out;
}

function parseTop(raw: string | null): number {
  if (raw === null) return DEFAULT_PAGE_SIZE;
  if (!/^\d+$/.test(raw.trim()) || Number(raw) < 1) throw invalidRequest(`Invalid $top value '${raw}': use a positive whole number.`);
  return Math.min(Number(raw), MAX_PAGE_SIZE);
}

/** SharePoint's own skip token shape: base64 of `Paged=TRUE&p_ID=<last id>`. */
function encodeSkipToken(lastId: number): string {
  return Buffer.from(`Paged=TRUE&p_ID=${lastId}`).toString('base64');
}

function decodeSkipToken(raw: string | null): number {
  if (raw === null) return 0;
  const text = Buffer.from(raw, 'base64').toString('utf8');
  const m = /(?:^|&)p_ID=(\d+)/.exec(text);
  if (!m) throw invalidRequest('The $skiptoken is not valid.');
  return Number(m[1]);
}

interface DeltaToken {
  /** Emulator epoch (changes on reset and restart). */
  e: string;
  /** List id. */
  l: string;
  /** `i`: first enumeration in progress; `c`: changes since `s`. */
  m: 'i' | 'c';
  s: number;
  /** Upper sequence of a change page run. */
  u?: number;
  /** Last id returned (paging). */
  a?: number;
}

function encodeDeltaToken(t: DeltaToken): string {
  return Buffer.from(JSON.stringify(t)).toString('base64url');
}

function decodeDeltaToken(raw: string): DeltaToken | undefined {
  try {
    const t = JSON.parse(Buffer.from(raw, 'base64url').toString('utf8')) as Partial<DeltaToken>;
    if (typeof t.e === 'string' && typeof t.l === 'string' && (t.m === 'i' || t.m === 'c') && typeof t.s === 'number') {
      return t as DeltaToken;
    }
  } catch {
    // fall through: an unreadable token is an unknown token
  }
  return undefined;
}

/** An absolute link to `path` with the call's query options, paging options replaced. */
function link(call: GraphCall, path: string, params: Record<string, string>): string {
  const parts: string[] = [];
  for (const [k, v] of call.query) {
    if (/^\$?(skiptoken|token)$/i.test(k)) continue;
    parts.push(`${k}=${encodeURIComponent(v)}`);
  }
  for (const [k, v] of Object.entries(params)) parts.push(`${k}=${encodeURIComponent(v)}`);
  return `${call.baseUrl}/v1.0${encodeURI(path)}${parts.length ? `?${parts.join('&')}` : ''}`;
}

interface BatchRequest {
  id: string;
  method: string;
  url: string;
  headers: Record<string, string>;
  body: unknown;
  dependsOn: string[];
}

const BATCH_METHODS = ['GET', 'POST', 'PATCH', 'PUT', 'DELETE'];

function parseBatch(body: unknown): BatchRequest[] {
  if (typeof body !== 'object' || body === null || !Array.isArray((body as { requests?: unknown }).requests)) {
    throw badRequest("Invalid batch payload format: the body needs a 'requests' array.");
  }
  const raw = (body as { requests: unknown[] }).requests;
  if (raw.length === 0) throw badRequest('Invalid batch payload format: the batch has no requests.');
  if (raw.length > MAX_BATCH_REQUESTS) {
    throw badRequest(`The batch holds ${raw.length} requests; a batch can hold at most ${MAX_BATCH_REQUESTS}.`);
  }
  const seen = new Set<string>();
  const requests = raw.map((r, index): BatchRequest => {
    if (typeof r !== 'object' || r === null) throw badRequest(`Batch request ${index} is not an object.`);
    const o = r as Record<string, unknown>;
    if (typeof o.id !== 'string' || o.id === '') throw badRequest(`Batch request ${index} needs a string 'id'.`);
    if (seen.has(o.id)) throw badRequest(`Batch request id '${o.id}' is used twice.`);
    seen.add(o.id);
    const method = typeof o.method === 'string' ? o.method.toUpperCase() : '';
    if (!BATCH_METHODS.includes(method)) throw badRequest(`Batch request '${o.id}' has an invalid method.`);
    if (typeof o.url !== 'string' || o.url === '') throw badRequest(`Batch request '${o.id}' needs a 'url'.`);
    if (/^[a-z]+:\/\//i.test(o.url)) throw badRequest(`Batch request '${o.id}' must use a relative url, not '${o.url}'.`);
    const headers: Record<string, string> = {};
    if (o.headers !== undefined && o.headers !== null) {
      if (typeof o.headers !== 'object') throw badRequest(`Batch request '${o.id}' has invalid headers.`);
      for (const [k, v] of Object.entries(o.headers as Record<string, unknown>)) headers[k.toLowerCase()] = String(v);
    }
    if (o.body !== undefined && o.body !== null && !headers['content-type']) {
      throw badRequest(`Write request id : ${o.id} does not contain Content-Type header or body.`);
    }
    let dependsOn: string[] = [];
    if (o.dependsOn !== undefined) {
      if (!Array.isArray(o.dependsOn) || !o.dependsOn.every((d) => typeof d === 'string')) {
        throw badRequest(`dependsOn of batch request '${o.id}' must be an array of request ids.`);
      }
      dependsOn = o.dependsOn as string[];
    }
    let requestBody = o.body ?? undefined;
    if (typeof requestBody === 'string' && (headers['content-type'] ?? '').includes('json')) {
      try {
        requestBody = JSON.parse(requestBody);
      } catch {
        throw badRequest(`The body of batch request '${o.id}' is not valid JSON.`);
      }
    }
    return { id: o.id, method, url: o.url, headers, body: requestBody, dependsOn };
  });
  const byId = new Map(requests.map((r) => [r.id, r]));
  for (const r of requests) {
    for (const dep of r.dependsOn) {
      if (!byId.has(dep)) throw badRequest(`Batch request '${r.id}' depends on '${dep}', which is not in the batch.`);
    }
  }
  // Refuse dependency cycles.
  const state = new Map<string, 1 | 2>();
  const visit = (r: BatchRequest): void => {
    if (state.get(r.id) === 2) return;
    if (state.get(r.id) === 1) throw badRequest(`The dependsOn of batch request '${r.id}' forms a cycle.`);
    state.set(r.id, 1);
    for (const dep of r.dependsOn) visit(byId.get(dep) as BatchRequest);
    state.set(r.id, 2);
  };
  requests.forEach(visit);
  return requests;
}

/** A batch's inner request, as a Graph call. Its url is relative to the version (`/sites/...`). */
function innerCall(outer: GraphCall, r: BatchRequest): GraphCall {
  const url = new URL(r.url.startsWith('/') ? r.url : `/${r.url}`, 'http://batch.invalid');
  let path: string;
  try {
    path = decodeURIComponent(url.pathname);
  } catch {
    path = url.pathname;
  }
  return {
    method: r.method,
    path,
    query: url.searchParams,
    // The envelope's Authorization applies to every inner request.
    headers: { ...r.headers, authorization: outer.headers.authorization ?? '' },
    body: r.body,
    baseUrl: outer.baseUrl,
    requestId: newGuid(),
    clientRequestId: r.headers['client-request-id'] ?? outer.clientRequestId,
  };
}
