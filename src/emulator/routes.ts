/**
 * Routing of Graph v1.0 paths under `/sites` to their handlers, with what each request is for
 * fault scopes (its op and list) and what it costs in resource units.
 *
 * Anything routing throws (unknown segment, wrong method, unknown site) is answered before
 * faults and RU apply; a handler's own errors come after the request was charged.
 */
import { collection, type GraphCall, type GraphResult, type ResourceContext } from './call';
import { delta } from './delta';
import { badRequest, GraphError, invalidRequest } from './errors';
import type { FaultOp } from './faults';
import { createItem, deleteItem, getFields, getItem, listItems, updateFields } from './items';
import type { ListState } from './list';
import { queryOption } from './odata';
import {
  createColumn,
  createList,
  deleteList,
  getColumn,
  getColumns,
  getList,
  getLists,
  getSite,
  searchSites,
  updateColumn,
} from './sites-and-lists';
import type { SiteState } from './store';
import type { RuKind } from './throttle';

export interface Endpoint {
  op: FaultOp;
  ru: RuKind;
  /** The list the request addresses, for fault scopes (undefined if none or not found). */
  list?: ListState;
  run(): GraphResult;
}

type SiteRef = { by: 'id'; id: string } | { by: 'path'; hostname: string; path: string };

export function route(call: GraphCall, ctx: ResourceContext): Endpoint {
  const { path, method } = call;
  if (path === '/sites' || path === '/sites/') {
    return only(method, { GET: () => ({ op: 'read', ru: 'readMany', run: () => searchSites(ctx, call) }) });
  }
  const m = /^\/sites\/(.+)$/.exec(path);
  if (!m) {
    const segment = path.split('/').filter(Boolean)[0] ?? '';
    throw badRequest(`Resource not found for the segment '${segment}'.`);
  }
  const { ref, segments } = parseSiteRef(m[1] as string);
  const site = (): SiteState =>
    ref.by === 'id' ? ctx.store.siteById(ref.id) : ctx.store.siteByPath(ref.hostname, ref.path);

  const [s0, listRef, s2, s3, s4, ...extra] = segments;
  if (s0 === undefined) {
    return only(method, {
      GET: () => {
        const found = site();
        return { op: 'read', ru: 'read1', run: () => getSite(call, found) };
      },
    });
  }
  if (s0 === 'permissions' && listRef === undefined) {
    return only(method, { GET: () => ({ op: 'read', ru: 'permission', run: () => collection(call, []) }) });
  }
  if (s0 !== 'lists') throw badRequest(`Resource not found for the segment '${s0}'.`);
  if (listRef === undefined) {
    return only(method, {
      GET: () => {
        const found = site();
        return { op: 'read', ru: 'readMany', run: () => getLists(call, found) };
      },
      POST: () => {
        const found = site();
        return { op: 'create', ru: 'create', run: () => createList(ctx, call, found) };
      },
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
      only(method, {
        GET: () => ({ op: 'read', ru: 'read1', run: () => getList(call, list()) }),
        DELETE: () => ({ op: 'delete', ru: 'delete', run: () => deleteList(ctx, list()) }),
      }),
    );
  }
  if (s2 === 'columns') {
    if (s4 !== undefined) throw badRequest(`Resource not found for the segment '${s4}'.`);
    if (s3 === undefined) {
      return withList(
        only(method, {
          GET: () => ({ op: 'read', ru: 'readMany', run: () => getColumns(call, list()) }),
          POST: () => ({ op: 'create', ru: 'create', run: () => createColumn(ctx, call, list()) }),
        }),
      );
    }
    return withList(
      only(method, {
        GET: () => ({ op: 'read', ru: 'read1', run: () => getColumn(list(), s3) }),
        PATCH: () => ({ op: 'update', ru: 'update', run: () => updateColumn(ctx, call, list(), s3) }),
      }),
    );
  }
  if (s2 !== 'items') throw badRequest(`Resource not found for the segment '${s2}'.`);
  if (s3 === undefined) {
    return withList(
      only(method, {
        GET: () => ({ op: 'read', ru: 'readMany', run: () => listItems(ctx, call, list()) }),
        POST: () => ({ op: 'create', ru: 'create', run: () => createItem(ctx, call, list()) }),
      }),
    );
  }
  if (s3 === 'delta' || s3 === 'delta()' || s3 === 'microsoft.graph.delta()' || s3 === 'microsoft.graph.delta') {
    if (s4 !== undefined) throw badRequest(`Resource not found for the segment '${s4}'.`);
    // Microsoft: "delta with a token" costs 1 RU, a delta without one 2 RU.
    const hasToken = !!queryOption(call.query, 'token');
    return withList(
      only(method, {
        GET: () => ({ op: 'read', ru: hasToken ? 'read1' : 'readMany', run: () => delta(ctx, call, list()) }),
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
      only(method, {
        GET: () => ({ op: 'read', ru: 'read1', run: () => getItem(call, list(), itemId()) }),
        DELETE: () => ({ op: 'delete', ru: 'delete', run: () => deleteItem(ctx, call, list(), itemId()) }),
      }),
    );
  }
  if (s4 !== 'fields') throw badRequest(`Resource not found for the segment '${s4}'.`);
  return withList(
    only(method, {
      GET: () => ({ op: 'read', ru: 'read1', run: () => getFields(call, list(), itemId()) }),
      PATCH: () => ({ op: 'update', ru: 'update', run: () => updateFields(ctx, call, list(), itemId()) }),
    }),
  );
}

/** `{id}[/more]` or `{hostname}:/{server-relative-path}[:/more]` → the site and the segments after it. */
function parseSiteRef(rest: string): { ref: SiteRef; segments: string[] } {
  const colon = rest.indexOf(':');
  const slash = rest.indexOf('/');
  if (colon >= 0 && (slash < 0 || colon < slash)) {
    const hostname = rest.slice(0, colon);
    const after = rest.slice(colon + 1);
    const end = after.indexOf(':');
    return {
      ref: { by: 'path', hostname, path: end >= 0 ? after.slice(0, end) : after },
      segments: (end >= 0 ? after.slice(end + 1) : '').split('/').filter(Boolean),
    };
  }
  const parts = rest.split('/');
  return { ref: { by: 'id', id: parts[0] as string }, segments: parts.slice(1).filter(Boolean) };
}

function only(method: string, handlers: Record<string, () => Endpoint>): Endpoint {
  const make = handlers[method];
  if (!make) {
    throw new GraphError(405, 'BadRequest', `The HTTP method '${method}' is not supported for this resource.`, {
      Allow: Object.keys(handlers).join(', '),
    });
  }
  return make();
}
