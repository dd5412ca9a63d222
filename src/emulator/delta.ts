/**
 * `GET .../items/delta` (learn.microsoft.com/graph/api/listitem-delta,
 * /graph/delta-query-overview): a first enumeration in pages, then the changes since a token.
 */
import { collection, type GraphCall, type GraphResult, type ResourceContext } from './call';
import { GraphError } from './errors';
import { itemRendering } from './items';
import type { ListState } from './list';
import { linkTo, parseTop, queryOption } from './odata';
import { itemJson } from './render';

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

export function delta(ctx: ResourceContext, call: GraphCall, list: ListState): GraphResult {
  const how = itemRendering(call, true);
  const top = parseTop(queryOption(call.query, 'top'));
  const raw = queryOption(call.query, 'token');
  const store = ctx.store;
  const tokenLink = (t: DeltaToken) => linkTo(call, call.path, { token: encodeDeltaToken(t) });

  if (raw === 'latest') {
    return collection(call, [], { '@odata.deltaLink': tokenLink({ e: store.epoch, l: list.id, m: 'c', s: list.seq }) });
  }
  let token: DeltaToken;
  if (!raw) {
    token = { e: store.epoch, l: list.id, m: 'i', s: list.seq, a: 0 };
  } else {
    const decoded = decodeDeltaToken(raw);
    if (!decoded || decoded.e !== store.epoch || decoded.l !== list.id || decoded.s < list.deltaFloor) {
      const restart = linkTo(call, call.path, {});
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
