import type { HttpRequest, HttpResponseInit } from '@azure/functions';
import type { ResolvedMapping } from '../../core/mapping';
import type { StoredDefinition, Versioned } from '../../core/ports/state';
import { summariseMapping, type IfMatch } from '../../sync/definitions-admin';
import { json } from '../http';

/**
 * How stored records look on the wire, and the HTTP side of optimistic concurrency. The store's
 * version token travels base64url-encoded inside a quoted ETag: Table Storage tokens contain
 * quotes of their own, which would not survive as an HTTP entity tag.
 */

export function etagOf(storeEtag: string | undefined): Record<string, string> {
  return storeEtag ? { etag: `"${Buffer.from(storeEtag, 'utf8').toString('base64url')}"` } : {};
}

/** `If-Match` → store versions; a tag we never issued cannot match anything, so it yields 412. */
export function ifMatchOf(request: HttpRequest): IfMatch | undefined {
  const header = request.headers.get('if-match');
  if (header === null || header.trim() === '') return undefined;
  if (header.trim() === '*') return '*';
  return header.split(',').map((raw) => {
    const tag = /^\s*(?:W\/)?"([A-Za-z0-9_-]*)"\s*$/.exec(raw)?.[1];
    return tag ? Buffer.from(tag, 'base64url').toString('utf8') : '\u0000unmatched';
  });
}

/** The record without its version token (that travels in the ETag header). */
export function withoutEtag<T extends Versioned>(record: T): Omit<T, 'etag'> {
  const { etag: _etag, ...rest } = record;
  return rest;
}

export function definitionView(stored: StoredDefinition) {
  return {
    definition: stored.definition,
    mappingVersion: stored.mappingVersion,
    activeSourceId: stored.activeSourceId,
    lists: stored.lists ?? {},
    mapping: stored.mapping ? summariseMapping(stored.mapping as ResolvedMapping) : null,
    rebuild: stored.rebuild ?? null,
    createdAt: stored.createdAt,
    updatedAt: stored.updatedAt,
  };
}

/** 200 with the record and its ETag. */
export function okVersioned(body: unknown, storeEtag: string | undefined): HttpResponseInit {
  return json(200, body, etagOf(storeEtag));
}

/** 201 with the record, its ETag and where it lives. */
export function created(request: HttpRequest, path: string, body: unknown, storeEtag: string | undefined): HttpResponseInit {
  return json(201, body, { ...etagOf(storeEtag), location: new URL(`/api/${path}`, request.url).toString() });
}

export const noContent = (): HttpResponseInit => ({ status: 204 });
