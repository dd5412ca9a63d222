import { SYNC_KEY_COLUMN, type ListTarget, type WriteOp, type WriteResult } from '../../core/ports/list-target';
import type { ResolvedMapping } from '../../core/mapping';
import type { LedgerEntry, StoredDefinition } from '../../core/ports/state';
import { transientError } from '../../core/errors';
import { identityHash } from '../../core/identity';
import type { SyncDeps } from '../deps';
import { listIdFor, readRows, type FoundRow } from './source-rows';
import type { Difference, DifferenceKind, RepairAction } from './types';

/**
 * What each repair action does to one page of differences, through the ledger protocol the
 * pipeline uses (pending → Graph → synced), so a crash at any step leaves a state the next
 * repair (or run) completes. Every action re-reads the ledger first and leaves alone a
 * difference that something else has fixed since the check.
 */

export const ACTION_KIND: Record<RepairAction, DifferenceKind> = {
  recreateMissing: 'missingInSharePoint',
  adoptOrphans: 'orphanInSharePoint',
  deleteOrphans: 'orphanInSharePoint',
  removeDuplicates: 'duplicateInSharePoint',
  rewriteMismatches: 'contentMismatch',
  fixPointers: 'pointsElsewhere',
};

/** Whether an action applies to a difference of its kind (orphans split between adopting and deleting). */
export function actionApplies(action: RepairAction, d: Difference): boolean {
  if (action === 'adoptOrphans') return d.reason === 'unknownSyncKey' && d.rowSelected === true;
  if (action === 'deleteOrphans') return d.reason !== 'unknownSyncKey' || d.rowSelected !== true;
  return true;
}

export class RepairContext {
  constructor(
    readonly deps: SyncDeps,
    readonly stored: StoredDefinition,
    readonly mapping: ResolvedMapping,
    readonly target: ListTarget,
  ) {}

  get def() {
    return this.stored.definition;
  }

  get site() {
    return this.def.target.siteId;
  }

  /** The rows behind these differences as they are now (by key when the check found one, else by scanning keys). */
  /** The rows behind these differences as they are now, re-read by the key the check found (a difference without one had no row). */
  async rows(differences: Difference[]): Promise<Map<string, FoundRow>> {
    const keys = differences.filter((d) => d.key).map((d) => d.key!);
    if (!keys.length) return new Map();
    const source = await this.deps.source(this.stored.activeSourceId);
    return readRows(await source.readByKeys(this.def.table, this.mapping.readColumns, this.mapping.key, keys), this.def, this.mapping);
  }

  /** The list id a routed row belongs in, if that shard list is provisioned. */
  listFor(row: FoundRow | undefined): string | null {
    return listIdFor(this.stored.lists, row);
  }

  /** The ledger entry for a row's item: `synced` with its id, or `pending` (no id yet) before the Graph step. */
  entry(listId: string, itemId: string | null, row: FoundRow): LedgerEntry {
    const state = itemId === null ? 'pending' : 'synced';
    return { definitionId: this.def.id, identityHash: identityHash(row.key, this.mapping.keyHints), listId, itemId, contentHash: row.mapped!.contentHash, state, movedFrom: null };
  }

  async write(listId: string, ops: WriteOp[]): Promise<Map<string, WriteResult>> {
    if (!ops.length) return new Map();
    const results = await this.target.writeItems(this.site, listId, ops);
    const transient = results.find((r) => !r.ok && r.errorClass === 'transient');
    if (transient && !transient.ok) throw transientError('drift', 'repair_retry', `${transient.code}: ${transient.message}`);
    return new Map(results.map((r) => [r.opId, r]));
  }
}

const byList = <T extends { listId: string }>(items: T[]) => {
  const out = new Map<string, T[]>();
  for (const i of items) out.set(i.listId, [...(out.get(i.listId) ?? []), i]);
  return out;
};

const succeeded = (r: WriteResult | undefined, kind: 'delete' | 'write') => r !== undefined && (r.ok || (kind === 'delete' && r.code === 'item_not_found'));

/** Writes each row's content onto the difference's item, then points the ledger at it (`synced`); returns how many went through. */
async function rewriteItems(ctx: RepairContext, listId: string, group: Difference[], rows: Map<string, FoundRow>): Promise<number> {
  const results = await ctx.write(listId, group.map((d) => ({ opId: d.identityHash!, kind: 'update', itemId: d.itemId, fields: rows.get(d.identityHash!)!.mapped!.fields })));
  await ctx.deps.faultPoint?.('repair:after-graph');
  const synced = group.filter((d) => succeeded(results.get(d.identityHash!), 'write')).map((d) => ctx.entry(listId, d.itemId, rows.get(d.identityHash!)!));
  if (synced.length) await ctx.deps.state.putLedger(synced);
  await ctx.deps.faultPoint?.('repair:after-ledger');
  return synced.length;
}

/** Items gone from SharePoint: create them again in the row's list (adopting one an earlier attempt made), or forget a row that is gone. */
async function recreateMissing(ctx: RepairContext, page: Difference[]): Promise<number> {
  const { state } = ctx.deps;
  const ledger = await state.getLedger(ctx.def.id, page.map((d) => d.identityHash!));
  // Still as the check saw it, or pending from an earlier attempt of this repair.
  const open = page.filter((d) => {
    const e = ledger.get(d.identityHash!);
    return e && ((e.listId === d.listId && e.itemId === d.itemId) || e.state === 'pending');
  });
  const rows = await ctx.rows(open);
  let repaired = 0;
  const forget = open.filter((d) => ctx.listFor(rows.get(d.identityHash!)) === null).map((d) => d.identityHash!);
  if (forget.length) await state.deleteLedger(ctx.def.id, forget);
  repaired += forget.length;
  const todo = open.filter((d) => ctx.listFor(rows.get(d.identityHash!)) !== null).map((d) => ({ d, row: rows.get(d.identityHash!)!, listId: ctx.listFor(rows.get(d.identityHash!))! }));
  for (const [listId, group] of byList(todo)) {
    await state.putLedger(group.map(({ row }) => ctx.entry(listId, null, row)));
    await ctx.deps.faultPoint?.('repair:after-pending');
    const existing = await ctx.target.findBySyncKey(ctx.site, listId, group.map(({ d }) => d.identityHash!));
    const ops: WriteOp[] = group.map(({ d, row }) => {
      const item = existing.get(d.identityHash!);
      return item ? { opId: d.identityHash!, kind: 'update', itemId: item.id, fields: row.mapped!.fields } : { opId: d.identityHash!, kind: 'create', fields: { ...row.mapped!.fields, [SYNC_KEY_COLUMN]: d.identityHash! } };
    });
    const results = await ctx.write(listId, ops);
    await ctx.deps.faultPoint?.('repair:after-graph');
    const synced = group.filter(({ d }) => succeeded(results.get(d.identityHash!), 'write')).map(({ d, row }) => ctx.entry(listId, (results.get(d.identityHash!) as { itemId: string }).itemId, row));
    if (synced.length) await state.putLedger(synced);
    await ctx.deps.faultPoint?.('repair:after-ledger');
    repaired += synced.length;
  }
  return repaired;
}

/** Orphans carrying the SyncKey of a selected row the ledger does not know: point the ledger at them and write the row's content. */
async function adoptOrphans(ctx: RepairContext, page: Difference[]): Promise<number> {
  const { state } = ctx.deps;
  const ledger = await state.getLedger(ctx.def.id, page.map((d) => d.identityHash!));
  const open = page.filter((d) => {
    const e = ledger.get(d.identityHash!);
    return !e || (e.state === 'pending' && e.listId === d.listId);
  });
  const rows = await ctx.rows(open);
  let repaired = 0;
  // Only an item in the row's own shard list is the row's; one elsewhere stays an orphan.
  for (const [listId, group] of byList(open.filter((d) => ctx.listFor(rows.get(d.identityHash!)) === d.listId))) {
    await state.putLedger(group.map((d) => ctx.entry(listId, null, rows.get(d.identityHash!)!)));
    await ctx.deps.faultPoint?.('repair:after-pending');
    repaired += await rewriteItems(ctx, listId, group, rows);
  }
  return repaired;
}

/** Items no ledger entry names (orphans, duplicates): delete them, unless the ledger has come to name them since the check. */
async function deleteUnclaimed(ctx: RepairContext, page: Difference[]): Promise<number> {
  let repaired = 0;
  for (const [listId, group] of byList(page)) {
    const claimed = await ctx.deps.state.getLedgerByItems(ctx.def.id, listId, group.map((d) => d.itemId));
    const ops: WriteOp[] = group.filter((d) => !claimed.has(d.itemId)).map((d) => ({ opId: d.itemId, kind: 'delete', itemId: d.itemId }));
    const results = await ctx.write(listId, ops);
    await ctx.deps.faultPoint?.('repair:after-graph');
    repaired += ops.filter((o) => succeeded(results.get(o.opId), 'delete')).length;
  }
  return repaired;
}

/** Source wins: write the row's current content onto the item the ledger names. */
async function rewriteMismatches(ctx: RepairContext, page: Difference[]): Promise<number> {
  const { state } = ctx.deps;
  const ledger = await state.getLedger(ctx.def.id, page.map((d) => d.identityHash!));
  const open = page.filter((d) => {
    const e = ledger.get(d.identityHash!);
    return e?.listId === d.listId && e.itemId === d.itemId;
  });
  const rows = await ctx.rows(open);
  let repaired = 0;
  for (const [listId, group] of byList(open.filter((d) => rows.get(d.identityHash!)?.mapped))) {
    repaired += await rewriteItems(ctx, listId, group, rows);
  }
  return repaired;
}

/** The ledger names an item that no longer carries the row's key: point it at the item that does, and write the row's content there. */
async function fixPointers(ctx: RepairContext, page: Difference[]): Promise<number> {
  const { state } = ctx.deps;
  const ledger = await state.getLedger(ctx.def.id, page.map((d) => d.identityHash!));
  const open = page.filter((d) => {
    const e = ledger.get(d.identityHash!);
    return e && e.listId === d.ledger?.listId && e.itemId === d.ledger.itemId;
  });
  const rows = await ctx.rows(open);
  let repaired = 0;
  // A pointer to an item whose row is gone: the item should not exist either.
  const gone = open.filter((d) => !rows.get(d.identityHash!)?.mapped);
  if (gone.length) {
    repaired += await deleteUnclaimed(ctx, gone.map((d) => ({ ...d, kind: 'orphanInSharePoint' })));
    await state.deleteLedger(ctx.def.id, gone.map((d) => d.identityHash!));
  }
  for (const [listId, group] of byList(open.filter((d) => rows.get(d.identityHash!)?.mapped))) {
    repaired += await rewriteItems(ctx, listId, group, rows);
  }
  return repaired;
}

export const REPAIRS: Record<RepairAction, (ctx: RepairContext, page: Difference[]) => Promise<number>> = {
  recreateMissing,
  adoptOrphans,
  deleteOrphans: deleteUnclaimed,
  removeDuplicates: deleteUnclaimed,
  rewriteMismatches,
  fixPointers,
};
