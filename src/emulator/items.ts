/**
 * Graph requests on list items (learn.microsoft.com/graph/api/listitem-list, /listitem-get,
 * /listitem-create, /listitem-update, /listitem-delete).
 */
import { collection, created, noContent, ok, type GraphCall, type GraphResult, type ResourceContext } from './call';
import { invalidRequest } from './errors';
import { parseFilter } from './filter';
import { PREFER_NON_INDEXED, queryItems } from './item-query';
import type { ListState } from './list';
import { decodeSkipToken, encodeSkipToken, linkTo, parseExpand, parseSelect, parseTop, queryOption } from './odata';
import { checkSelect, fieldsJson, ITEM_PROPERTIES, itemJson, type ItemRender } from './render';

/**
 * How the call asks items to be rendered (`$select`, `$expand=fields(...)`). `defaultFields`:
 * whether items carry their fields when `$expand` does not ask for them.
 */
export function itemRendering(call: GraphCall, defaultFields: boolean): ItemRender {
  const select = parseSelect(queryOption(call.query, 'select'));
  checkSelect(select, ITEM_PROPERTIES, 'listItem');
  const expand = parseExpand(queryOption(call.query, 'expand'), ['fields'], 'listItem');
  const fields = expand.get('fields');
  return {
    select,
    fields: fields ? { select: fields.select } : defaultFields ? { select: null } : null,
  };
}

export function createItem(ctx: ResourceContext, call: GraphCall, list: ListState): GraphResult {
  const body = call.body;
  if (body !== undefined && (typeof body !== 'object' || body === null || Array.isArray(body))) {
    throw invalidRequest('The list item must be a JSON object.');
  }
  const item = list.createItem((body as Record<string, unknown> | undefined)?.fields, ctx.clock());
  ctx.store.mutations++;
  return created(itemJson(list, item, { select: null, fields: { select: null } }));
}

export function getItem(call: GraphCall, list: ListState, id: number): GraphResult {
  const how = itemRendering(call, false);
  return ok(itemJson(list, list.getItem(id), how));
}

export function getFields(call: GraphCall, list: ListState, id: number): GraphResult {
  return ok(fieldsJson(list, list.getItem(id), parseSelect(queryOption(call.query, 'select'))));
}

export function updateFields(ctx: ResourceContext, call: GraphCall, list: ListState, id: number): GraphResult {
  const body = call.body;
  if (typeof body !== 'object' || body === null || Array.isArray(body)) {
    throw invalidRequest('The fields to update must be a JSON object.');
  }
  const item = list.updateItem(id, body, call.headers['if-match'], ctx.clock());
  ctx.store.mutations++;
  return ok(fieldsJson(list, item, null));
}

export function deleteItem(ctx: ResourceContext, call: GraphCall, list: ListState, id: number): GraphResult {
  list.deleteItem(id, call.headers['if-match'], ctx.clock());
  ctx.store.mutations++;
  return noContent();
}

/** `GET .../items` (learn.microsoft.com/graph/api/listitem-list). */
export function listItems(ctx: ResourceContext, call: GraphCall, list: ListState): GraphResult {
  for (const unsupported of ['orderby', 'skip', 'search', 'count']) {
    if (queryOption(call.query, unsupported) !== null) {
      throw invalidRequest(`The emulator does not support $${unsupported} on list items.`);
    }
  }
  const how = itemRendering(call, false);
  const top = parseTop(queryOption(call.query, 'top'));
  const afterId = decodeSkipToken(queryOption(call.query, 'skiptoken'));
  const filterSrc = queryOption(call.query, 'filter');
  const page = queryItems(list, {
    filter: filterSrc ? parseFilter(filterSrc) : undefined,
    allowNonIndexed: (call.headers.prefer ?? '').toLowerCase().includes(PREFER_NON_INDEXED.toLowerCase()),
    afterId,
    top,
    threshold: ctx.listViewThreshold,
  });
  const value = page.items.map((item) => itemJson(list, item, how));
  const last = page.items[page.items.length - 1];
  const next = page.more ? linkTo(call, call.path, { $skiptoken: encodeSkipToken(last ? last.id : afterId) }) : undefined;
  return collection(call, value, next ? { '@odata.nextLink': next } : {});
}
