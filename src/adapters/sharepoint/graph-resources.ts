import type { ListInfo, ListItem, SiteInfo } from '../../core/ports/list-target';

/**
 * Graph resource paths, OData literals, and Graph's site, list and listItem JSON as the port's
 * types (learn.microsoft.com/graph/api/resources/site, /list, /listitem).
 */

export type Json = Record<string, unknown>;

export function sitePath(siteId: string): string {
  return `/sites/${siteId}`;
}

export function listPath(siteId: string, listId: string): string {
  return `/sites/${siteId}/lists/${listId}`;
}

export function unique(names: string[]): string[] {
  return [...new Set(names)];
}

export function expandFields(select: string[] | undefined): string {
  return select && select.length > 0 ? `fields($select=${unique(select).join(',')})` : 'fields';
}

/** OData string literal: quotes doubled. */
export function odataString(value: string): string {
  return `'${value.replace(/'/g, "''")}'`;
}

export function odataLiteral(value: string | number | boolean): string {
  return typeof value === 'string' ? odataString(value) : String(value);
}

export function toSite(raw: Json): SiteInfo {
  return { id: String(raw.id), displayName: String(raw.displayName ?? raw.name ?? ''), webUrl: String(raw.webUrl ?? '') };
}

export function toList(raw: Json): ListInfo {
  const list: ListInfo = { id: String(raw.id), displayName: String(raw.displayName ?? raw.name ?? '') };
  if (typeof raw.webUrl === 'string') list.webUrl = raw.webUrl;
  return list;
}

export function toItem(raw: Json): ListItem {
  const fields = raw.fields && typeof raw.fields === 'object' ? { ...(raw.fields as Json) } : {};
  delete fields['@odata.etag'];
  const item: ListItem = { id: String(raw.id), fields };
  const eTag = raw.eTag ?? raw['@odata.etag'];
  if (typeof eTag === 'string') item.eTag = eTag;
  return item;
}
