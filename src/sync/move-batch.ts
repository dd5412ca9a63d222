import { transientError } from '../core/errors';
import type { MoveBatchMessage, MoveOpMessage } from '../core/messages';
import { SYNC_KEY_COLUMN, type WriteResult } from '../core/ports/list-target';
import type { LedgerEntry } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { recordFailures } from './failures';
import { settleBatch } from './settle';

type Failed = Extract<WriteResult, { ok: false }>;

/**
 * Mover (`sync-moves`), for rows whose shard changed: create in the new list (adopting by
 * SyncKey on retry) → ledger points to the new item with `movedFrom` → delete the old item
 * (404 counts as done) → clear `movedFrom` → audit record. Every step can be repeated, so a
 * crash anywhere is finished by the redelivery (or by the next run, which sees `movedFrom`).
 */
export async function handleMoveBatch(deps: SyncDeps, msg: MoveBatchMessage): Promise<void> {
  const { state } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) return;
  const def = stored.definition;
  const target = await deps.target(def.target.connectionId);
  const ledger = await state.getLedger(def.id, msg.moves.map((m) => m.identityHash));
  const now = () => deps.now().toISOString();
  const failures: Array<{ identityHash: string; key: unknown[]; error: string }> = [];
  let transient: Failed | undefined;

  // 1. Create (or find) the item in its new list.
  const placed = new Map<string, { move: MoveOpMessage; itemId: string }>();
  const toCreate = new Map<string, MoveOpMessage[]>();
  for (const move of msg.moves) {
    const entry = ledger.get(move.identityHash);
    if (!entry) continue; // deleted since planning
    if (entry.listId === move.toListId && entry.itemId) placed.set(move.identityHash, { move, itemId: entry.itemId });
    else toCreate.set(move.toListId, [...(toCreate.get(move.toListId) ?? []), move]);
  }
  for (const [listId, moves] of toCreate) {
    const results = await target.writeItems(
      msg.siteId,
      listId,
      moves.map((m) => ({ opId: m.identityHash, kind: 'create' as const, fields: { ...m.fields, [SYNC_KEY_COLUMN]: m.identityHash } })),
    );
    for (const r of results) {
      const move = moves.find((m) => m.identityHash === r.opId)!;
      if (r.ok) placed.set(r.opId, { move, itemId: r.itemId });
      else if (r.errorClass === 'transient') transient ??= r;
      else failures.push({ identityHash: r.opId, key: move.key, error: `${r.code}: ${r.message}` });
    }
  }

  await deps.faultPoint?.('move:after-create');

  // 2. The ledger points at the new item and remembers the old one.
  const swapped: LedgerEntry[] = [];
  for (const { move, itemId } of placed.values()) {
    const entry = ledger.get(move.identityHash)!;
    const from = entry.movedFrom ?? (entry.listId === move.toListId ? null : { listId: entry.listId, itemId: entry.itemId! });
    swapped.push({ definitionId: def.id, identityHash: move.identityHash, listId: move.toListId, itemId, contentHash: move.contentHash, state: from ? 'moving' : 'synced', movedFrom: from, updatedAt: now() });
  }
  if (swapped.length) await state.putLedger(swapped);
  await deps.faultPoint?.('move:after-swap');

  // 3. Delete the old items (a 404 means an earlier attempt already did).
  const byOldList = new Map<string, LedgerEntry[]>();
  for (const e of swapped) if (e.movedFrom) byOldList.set(e.movedFrom.listId, [...(byOldList.get(e.movedFrom.listId) ?? []), e]);
  const done: LedgerEntry[] = swapped.filter((e) => !e.movedFrom);
  for (const [listId, entries] of byOldList) {
    const results = await target.writeItems(msg.siteId, listId, entries.map((e) => ({ opId: e.identityHash, kind: 'delete' as const, itemId: e.movedFrom!.itemId })));
    for (const r of results) {
      const e = entries.find((x) => x.identityHash === r.opId)!;
      if (r.ok || r.code === 'item_not_found') done.push(e);
      else if (r.errorClass === 'transient') transient ??= r;
      else failures.push({ identityHash: e.identityHash, key: msg.moves.find((m) => m.identityHash === e.identityHash)?.key ?? [], error: `delete of the old item failed: ${r.code}: ${r.message}` });
    }
  }

  await deps.faultPoint?.('move:after-delete');

  // 4. Clear movedFrom and write the audit record.
  const cleared = done.filter((e) => e.movedFrom).map((e) => ({ ...e, state: 'synced' as const, movedFrom: null, updatedAt: now() }));
  if (cleared.length) await state.putLedger(cleared);
  for (const e of done) {
    if (!e.movedFrom) continue;
    await state.addMove({ definitionId: def.id, moveId: `${msg.runId}:${e.identityHash}`, identityHash: e.identityHash, from: e.movedFrom, to: { listId: e.listId, itemId: e.itemId! }, runId: msg.runId, at: now() });
  }
  if (done.length) await state.deleteFailures(def.id, done.map((e) => e.identityHash));
  if (transient) throw transientError('sync', 'move_retry', `${transient.code}: ${transient.message}`);
  await recordFailures(deps, def, msg.runId, failures);
  await settleBatch(deps, def.id, msg.runId, msg.batchId, { moved: done.filter((e) => e.movedFrom).length, failed: failures.length });
}
