/**
 * JSON shapes of Graph's site, list and listItem resources
 * (learn.microsoft.com/graph/api/resources/site, /list, /listitem, /fieldvalueset).
 */
import { columnJson } from './columns';
import { invalidRequest } from './errors';
import { isoSeconds } from './ids';
import { itemETag, type ItemState, type ListState } from './list';
import type { SiteState } from './store';

const APP_IDENTITY = { application: { displayName: 'Graph emulator app' }, user: { displayName: 'SharePoint App' } };
/** SharePoint's lookup id of the app principal. */
const APP_LOOKUP_ID = '1073741822';

const ITEM_CONTENT_TYPE = { id: '0x0100', name: 'Item' };

export const ITEM_PROPERTIES = [
  'id',
  'name',
  'description',
  'createdDateTime',
  'lastModifiedDateTime',
  'eTag',
  'webUrl',
  'createdBy',
  'lastModifiedBy',
  'parentReference',
  'contentType',
  'sharepointIds',
  'fields',
];
export const LIST_PROPERTIES = [
  'id',
  'name',
  'displayName',
  'description',
  'createdDateTime',
  'lastModifiedDateTime',
  'eTag',
  'webUrl',
  'createdBy',
  'lastModifiedBy',
  'parentReference',
  'list',
  'sharepointIds',
  'columns',
  'items',
];
export const SITE_PROPERTIES = [
  'id',
  'name',
  'displayName',
  'description',
  'createdDateTime',
  'lastModifiedDateTime',
  'webUrl',
  'siteCollection',
  'sharepointIds',
  'root',
  'lists',
];

/** Refuses `$select` properties the resource does not have, as Graph's OData layer does. */
export function checkSelect(select: string[] | null, allowed: readonly string[], type: string): void {
  for (const p of select ?? []) {
    if (!allowed.includes(p)) throw invalidRequest(`Could not find a property named '${p}' on type 'microsoft.graph.${type}'.`);
  }
}

function pick(obj: Record<string, unknown>, select: string[] | null): Record<string, unknown> {
  if (!select) return obj;
  const out: Record<string, unknown> = {};
  if (obj['@odata.etag'] !== undefined) out['@odata.etag'] = obj['@odata.etag'];
  for (const key of select) if (obj[key] !== undefined) out[key] = obj[key];
  return out;
}

export function siteJson(site: SiteState, select: string[] | null = null): Record<string, unknown> {
  const [, collectionId, webId] = site.id.split(',');
  return pick(
    {
      createdDateTime: isoSeconds(site.created),
      description: '',
      id: site.id,
      lastModifiedDateTime: isoSeconds(site.created),
      name: site.name,
      webUrl: site.webUrl,
      displayName: site.displayName,
      root: site.path === '/' ? {} : undefined,
      siteCollection: { hostname: site.hostname },
      sharepointIds: { siteId: collectionId, webId, siteUrl: site.webUrl },
    },
    select,
  );
}

export function listJson(list: ListState, select: string[] | null = null, expandColumns = false): Record<string, unknown> {
  const etag = `"${list.guid},${list.version}"`;
  const out = pick(
    {
      '@odata.etag': etag,
      createdDateTime: isoSeconds(list.created),
      description: list.description,
      eTag: etag,
      id: list.id,
      lastModifiedDateTime: isoSeconds(list.modified),
      name: list.name,
      webUrl: list.webUrl,
      displayName: list.displayName,
      createdBy: APP_IDENTITY,
      parentReference: { siteId: list.site.id },
      list: { contentTypesEnabled: false, hidden: false, template: 'genericList' },
    },
    select,
  );
  if (expandColumns) out.columns = list.columns.map(columnJson);
  return out;
}

export interface FieldsSelection {
  /** Field names from `$select` inside `$expand=fields(...)`; null means every field. */
  select: string[] | null;
}

/** The fieldValueSet of an item: built-in fields, then every non-empty custom field. */
export function fieldsJson(list: ListState, item: ItemState, select: string[] | null): Record<string, unknown> {
  const out: Record<string, unknown> = { '@odata.etag': itemETag(item) };
  const title = item.fields.get('Title');
  const all: Record<string, unknown> = {
    id: String(item.id),
    ID: item.id,
    Title: title ?? undefined,
    ContentType: 'Item',
    Modified: isoSeconds(item.modified),
    Created: isoSeconds(item.created),
    AuthorLookupId: APP_LOOKUP_ID,
    EditorLookupId: APP_LOOKUP_ID,
    _UIVersionString: `${item.version}.0`,
    Attachments: false,
    Edit: '',
    LinkTitleNoMenu: title ?? undefined,
    LinkTitle: title ?? undefined,
    ItemChildCount: '0',
    FolderChildCount: '0',
  };
  if (!select) {
    for (const [k, v] of Object.entries(all)) if (v !== undefined && k !== 'ID') out[k] = v;
    for (const c of list.columns) {
      if (c.builtIn) continue;
      const v = item.fields.get(c.name);
      if (v !== undefined && v !== null) out[c.name] = v;
    }
    return out;
  }
  for (const name of select) {
    if (name in all) {
      if (all[name] !== undefined) out[name] = all[name];
      continue;
    }
    const v = item.fields.get(name);
    if (v !== undefined && v !== null) out[name] = v;
  }
  return out;
}

export interface ItemRender {
  select: string[] | null;
  /** Whether `fields` is expanded, and with which `$select`. */
  fields: FieldsSelection | null;
}

export function itemJson(list: ListState, item: ItemState, how: ItemRender): Record<string, unknown> {
  const etag = itemETag(item);
  const out = pick(
    {
      '@odata.etag': etag,
      createdDateTime: isoSeconds(item.created),
      eTag: etag,
      id: String(item.id),
      lastModifiedDateTime: isoSeconds(item.modified),
      webUrl: `${list.webUrl}/${item.id}_.000`,
      createdBy: APP_IDENTITY,
      lastModifiedBy: APP_IDENTITY,
      parentReference: list.parentReference,
      contentType: ITEM_CONTENT_TYPE,
    },
    how.select ? how.select.filter((p) => p !== 'fields') : null,
  );
  if (how.fields) out.fields = fieldsJson(list, item, how.fields.select);
  return out;
}
