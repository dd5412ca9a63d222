import type { Page } from '../../../core/ports/state';
import { decodePageToken, encodePageToken, type PageRequest } from '../common';
import { bind, type SqlDb, type SqlValues } from './db';

/** Listings newest first by (time DESC, id), paged by keyset: a page token carries the last row's time and id. */

const isKeyset = (v: unknown): v is { t: string; id: string } =>
  typeof v === 'object' && v !== null && typeof (v as { t?: unknown }).t === 'string' && typeof (v as { id?: unknown }).id === 'string';

export interface NewestFirst<R> {
  table: string;
  /** The definition's rows, by `definition_id`. */
  definitionId: string;
  timeColumn: keyof R & string;
  idColumn: keyof R & string;
  what: string;
}

/** One page of the definition's rows, fetching `limit + 1` rows: a row past the limit means there are more. */
export async function newestFirstPage<R, T>(db: SqlDb, listing: NewestFirst<R>, request: PageRequest, toItem: (row: R) => T): Promise<Page<T>> {
  const from = decodePageToken(request.next, isKeyset);
  const { timeColumn: time, idColumn: id } = listing;
  const values: SqlValues = { definitionId: bind.key(listing.definitionId), take: bind.int(request.limit + 1) };
  let where = 'definition_id = @definitionId';
  if (from) {
    where += ` AND (${time} < @t OR (${time} = @t AND ${id} > @id))`;
    values.t = bind.time(new Date(from.t));
    values.id = bind.key(from.id);
  }
  const text = db.dialect.selectFirst('@take', { columns: '*', from: listing.table, where, orderBy: `${time} DESC, ${id}` });
  const rows = (await db.query<R>(listing.what, text, values)).rows;
  const kept = rows.slice(0, request.limit);
  const items = kept.map(toItem);
  const last = kept[kept.length - 1];
  if (rows.length <= request.limit || !last) return { items };
  return { items, next: encodePageToken({ t: (last[time] as Date).toISOString(), id: last[id] }) };
}
