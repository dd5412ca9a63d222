/**
 * Graph requests on sites, lists and columns (learn.microsoft.com/graph/api/site-get,
 * /site-search, /list-list, /list-get, /list-create, /columndefinition-list, /columndefinition-create,
 * /columndefinition-update).
 */
import { collection, created, noContent, ok, type GraphCall, type GraphResult, type ResourceContext } from './call';
import { columnJson } from './columns';
import { invalidRequest, itemNotFound } from './errors';
import { compileFilter, parseFilter, type Accessor } from './filter';
import { parseExpand, parseSelect, queryOption } from './odata';
import { checkSelect, LIST_PROPERTIES, listJson, SITE_PROPERTIES, siteJson } from './render';
import type { ListState } from './list';
import type { SiteState } from './store';

export function searchSites(ctx: ResourceContext, call: GraphCall): GraphResult {
  const select = parseSelect(queryOption(call.query, 'select'));
  checkSelect(select, SITE_PROPERTIES, 'site');
  return collection(
    call,
    ctx.store.searchSites(queryOption(call.query, 'search')).map((s) => siteJson(s, select)),
  );
}

export function getSite(call: GraphCall, site: SiteState): GraphResult {
  const select = parseSelect(queryOption(call.query, 'select'));
  checkSelect(select, SITE_PROPERTIES, 'site');
  return ok(siteJson(site, select));
}

export function getLists(call: GraphCall, site: SiteState): GraphResult {
  const select = parseSelect(queryOption(call.query, 'select'));
  checkSelect(select, LIST_PROPERTIES, 'list');
  const expand = parseExpand(queryOption(call.query, 'expand'), ['columns'], 'list');
  let lists = [...site.lists.values()];
  const filter = queryOption(call.query, 'filter');
  if (filter) {
    const predicate = compileFilter(parseFilter(filter), listAccessor);
    lists = lists.filter(predicate);
  }
  return collection(
    call,
    lists.map((l) => listJson(l, select, expand.has('columns'))),
  );
}

export function createList(ctx: ResourceContext, call: GraphCall, site: SiteState): GraphResult {
  return created(listJson(ctx.store.createList(site, call.body)));
}

export function getList(call: GraphCall, list: ListState): GraphResult {
  const select = parseSelect(queryOption(call.query, 'select'));
  checkSelect(select, LIST_PROPERTIES, 'list');
  const expand = parseExpand(queryOption(call.query, 'expand'), ['columns'], 'list');
  return ok(listJson(list, select, expand.has('columns')));
}

export function deleteList(ctx: ResourceContext, list: ListState): GraphResult {
  ctx.store.deleteList(list.site, list);
  return noContent();
}

export function getColumns(call: GraphCall, list: ListState): GraphResult {
  return collection(call, list.columns.map(columnJson));
}

/** `ref` is the column's id or internal name. */
export function getColumn(list: ListState, ref: string): GraphResult {
  return ok(columnJson(findColumn(list, ref)));
}

/** PATCH a list column (learn.microsoft.com/graph/api/columndefinition-update): 200 with the updated columnDefinition. */
export function updateColumn(ctx: ResourceContext, call: GraphCall, list: ListState, ref: string): GraphResult {
  return ok(columnJson(ctx.store.updateColumn(list, findColumn(list, ref), call.body)));
}

function findColumn(list: ListState, ref: string) {
  const c = list.columns.find((x) => x.id === ref || x.name === ref);
  if (!c) throw itemNotFound('Column not found');
  return c;
}

export function createColumn(ctx: ResourceContext, call: GraphCall, list: ListState): GraphResult {
  return created(columnJson(ctx.store.createColumn(list, call.body)));
}

/** The list properties a `$filter` on `GET .../lists` may use. */
function listAccessor(path: string): Accessor<ListState> {
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
}
