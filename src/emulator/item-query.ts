/**
 * One page of a list's items for `GET .../items`, in id order, with the indexed-column rules of
 * Graph list-item queries (learn.microsoft.com/graph/api/listitem-list) and SharePoint's list
 * view threshold ("Manage large lists and libraries", support.microsoft.com).
 */
import type { Column } from './columns';
import { GraphError, invalidRequest } from './errors';
import { compileFilter, filterPaths, planWithIndexes, type Accessor, type FilterNode } from './filter';
import { isoSeconds } from './ids';
import type { ItemState, ListState } from './list';

export const PREFER_NON_INDEXED = 'HonorNonIndexedQueriesWarningMayFailRandomly';
/** How far past a full page the scan looks for one more match before it answers with a nextLink anyway. */
const LOOK_AHEAD = 5000;

export interface QueryOptions {
  filter?: FilterNode;
  /** The request carried `Prefer: HonorNonIndexedQueriesWarningMayFailRandomly`. */
  allowNonIndexed: boolean;
  afterId: number;
  top: number;
  threshold: number;
}

/** One page of items after `opts.afterId`, and whether more may follow. */
export function queryItems(list: ListState, opts: QueryOptions): { items: ItemState[]; more: boolean } {
  let predicate: ((item: ItemState) => boolean) | null = null;
  let candidates: Set<number> | null = null;
  if (opts.filter) {
    const resolve = (p: string) => itemAccessor(list, p);
    const nonIndexed = [...new Set(filterPaths(opts.filter).map((p) => itemAccessor(list, p).column))].filter((c) => !c.indexed);
    const first = nonIndexed[0];
    if (first && !opts.allowNonIndexed) {
      throw invalidRequest(
        `Field '${first.name}' cannot be referenced in filter or orderby as it is not indexed. ` +
          `Provide the 'Prefer: ${PREFER_NON_INDEXED}' header to allow this, but be warned that such queries may fail on large lists.`,
      );
    }
    predicate = compileFilter(opts.filter, resolve);
    candidates = planWithIndexes(opts.filter, resolve, (p) => {
      const c = itemAccessor(list, p).column;
      return c.builtIn ? undefined : list.indexes.of(c.name);
    });
    if (!candidates && first && list.items.size > opts.threshold) {
      // SharePoint refuses a query that has to scan more items than the list view threshold.
      throw new GraphError(
        400,
        'invalidRequest',
        'The request is unprocessable because it uses too many resources: the attempted operation is prohibited because it ' +
          `exceeds the list view threshold (${opts.threshold} items) and field '${first.name}' is not indexed.`,
      );
    }
  }

  const page: ItemState[] = [];
  if (candidates) {
    const ids = [...candidates].filter((id) => id > opts.afterId).sort((a, b) => a - b);
    let i = 0;
    for (; i < ids.length && page.length < opts.top; i++) {
      const item = list.items.get(ids[i] as number);
      if (item && (!predicate || predicate(item))) page.push(item);
    }
    let more = false;
    for (; i < ids.length && !more; i++) {
      const item = list.items.get(ids[i] as number);
      more = !!item && (!predicate || predicate(item));
    }
    return { items: page, more };
  }

  const order = list.order;
  let i = order.firstAfter(opts.afterId);
  for (; i < order.length && page.length < opts.top; i++) {
    const item = list.items.get(order.at(i));
    if (item && (!predicate || predicate(item))) page.push(item);
  }
  // Look a little further for a next match, so that the last page has no nextLink;
  // a long run of non-matching items ends the look-ahead and yields a nextLink anyway.
  let more = false;
  for (let looked = 0; i < order.length && looked < LOOK_AHEAD; i++, looked++) {
    const item = list.items.get(order.at(i));
    if (item && (!predicate || predicate(item))) {
      more = true;
      break;
    }
  }
  if (!more && i < order.length) more = true;
  return { items: page, more };
}

/** How a filter path (`fields/Name`, or `id`) reads an item. */
function itemAccessor(list: ListState, path: string): Accessor<ItemState> & { column: Column } {
  const name = path.startsWith('fields/') ? path.slice('fields/'.length) : path;
  if (name === 'id' || name === 'ID') {
    const column = list.column('ID') as Column;
    return { column, kind: 'counter', get: (item) => item.id };
  }
  if (!path.startsWith('fields/')) {
    throw invalidRequest(`Invalid filter clause: '${path}' is not supported; filter on fields/<name>.`);
  }
  const column = list.column(name);
  if (!column) throw invalidRequest(`Column '${name}' does not exist. It may have been deleted by another user.`);
  switch (column.name) {
    case 'Created':
      return { column, kind: 'dateTime', get: (item) => isoSeconds(item.created) };
    case 'Modified':
      return { column, kind: 'dateTime', get: (item) => isoSeconds(item.modified) };
    default:
      if (column.builtIn && column.name !== 'Title') {
        throw invalidRequest(`Invalid filter clause: field '${column.name}' cannot be used in a filter.`);
      }
      return { column, kind: column.kind, get: (item) => item.fields.get(column.name) ?? null };
  }
}
