import { transientError } from '../core/errors';
import type { MoveBatchMessage, MoveOpMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { SYNC_KEY_COLUMN, type ListTarget, type WriteResult } from '../core/ports/list-target';
import type { LedgerEntry, LedgerWrite, StoredDefinition } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { recordFailures } from './failures';
import { stopForRefusal, throttledUntil, type FailedWrite } from './graph-outcome';
import { deleteStrays, isSuperseded, recordWrites, sameMovedFrom } from './ledger-cas';
import { deferBatch, isRunLive } from './run-lifecycle';
import { chargeRun } from './run-spend';
import { settleBatch } from './settle';

/**
 * Mover (`sync-moves`), for rows whose shard changed: create in the new list (adopting by
 * SyncKey on retry) → ledger points to the new item with `movedFrom` → delete the old item
 * (404 counts as done) → clear `movedFrom` → audit record. Every step can be repeated, so a
 * crash anywhere is finished by the redelivery (or by the next run, which sees `movedFrom`).
 * A row that moves again while its first move is half done first finishes that move, so the
 * intermediate item is not left behind. Graph failures are settled by class as in the writer.
 */
export function handleMoveBatch(deps: SyncDeps, msg: MoveBatchMessage): Promise<void> {
  // Every Graph request of the batch counts towards its run's RU (run-spend.ts).
  return chargeRun(deps, msg.runId, () => moveBatch(deps, msg));
}

async function moveBatch(deps: SyncDeps, msg: MoveBatchMessage): Promise<void> {
  const { state } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) return;
  const run = await state.getRun(msg.runId);
  if (run && !isRunLive(run)) {
    await finishSwappedMoves(deps, stored, msg);
    deps.log.info('move batch of a run that is no longer live dropped', { runId: msg.runId, batchId: msg.batchId, status: run.status });
    return;
  }
  const def = stored.definition;
  const target = await deps.target(def.target.connectionId);
  const ledger = new Map(await state.getLedger(def.id, msg.moves.map((m) => m.identityHash)));
  const now = () => deps.now().toISOString();
  const outcome = new MoveOutcome(msg);
  // As in the writer: a move planned before the ledger's last write for the row is no longer current.
  const plannedAt = run?.startedAt ?? null;

  await finishEarlierMoves(deps, target, msg, ledger, outcome);

  // 1. Create (or find) the item in its new list.
  const placed = new Map<string, { move: MoveOpMessage; itemId: string }>();
  const toCreate = new Map<string, MoveOpMessage[]>();
  for (const move of msg.moves) {
    const entry = ledger.get(move.identityHash);
    if (!entry || outcome.stopped(move.identityHash) || isSuperseded(entry, plannedAt)) continue; // deleted or rewritten since planning, or not ready
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
      if (r.ok) placed.set(r.opId, { move: moves.find((m) => m.identityHash === r.opId)!, itemId: r.itemId });
      else outcome.failed(r, listId, '');
    }
  }

  await deps.faultPoint?.('move:after-create');

  // 2. The ledger points at the new item and remembers the old one.
  const swapped: LedgerEntry[] = [];
  for (const { move, itemId } of placed.values()) {
    const entry = ledger.get(move.identityHash)!;
    const from = entry.movedFrom ?? (entry.listId === move.toListId ? null : { listId: entry.listId, itemId: entry.itemId! });
    swapped.push({ definitionId: def.id, identityHash: move.identityHash, listId: move.toListId, itemId, contentHash: move.contentHash, state: from ? 'moving' : 'synced', movedFrom: from, sourceReadAt: plannedAt, updatedAt: now() });
  }
  // Conditional on the entry as read: a row another batch wrote meanwhile keeps that write (graph-outcome: ledger-cas.ts).
  const swap = swapped.length ? await recordWrites(state, swapped.map((entry) => ({ entry, ifMatch: ledger.get(entry.identityHash)?.etag ?? null })), now) : { etags: new Map<string, string>(), strays: [] };
  await deleteStrays(deps, target, msg.siteId, swap.strays);
  const versions = swap.etags;
  const swappedNow = swapped.filter((e) => versions.has(e.identityHash));
  await deps.faultPoint?.('move:after-swap');

  // 3. Delete the old items (a 404 means an earlier attempt already did).
  const oldItems = await deleteOldItems(target, msg.siteId, swappedNow.filter((e) => e.movedFrom));
  for (const { failure, listId } of oldItems.failed) outcome.failed(failure, listId, 'delete of the old item failed: ');
  const done: LedgerEntry[] = [...swappedNow.filter((e) => !e.movedFrom), ...oldItems.done];

  await deps.faultPoint?.('move:after-delete');

  // 4. Clear movedFrom and write the audit record.
  const clearedNow = await clearMovedFrom(state, done.filter((e) => e.movedFrom), versions, now);
  for (const e of done) {
    if (!e.movedFrom || !clearedNow.has(e.identityHash)) continue;
    await state.addMove({ definitionId: def.id, moveId: `${msg.runId}:${e.identityHash}`, identityHash: e.identityHash, from: e.movedFrom, to: { listId: e.listId, itemId: e.itemId! }, runId: msg.runId, at: now() });
  }
  if (done.length) await state.deleteFailures(def.id, done.map((e) => e.identityHash));
  await outcome.settle(deps, stored, { moved: done.filter((e) => e.movedFrom).length });
}

/**
 * A row whose earlier move is half done (`movedFrom` set) and whose shard changed again: the
 * ledger can remember one old item, not two, so the earlier move is finished first (its old
 * item deleted, `movedFrom` cleared); the row then moves on from the intermediate item.
 */
async function finishEarlierMoves(deps: SyncDeps, target: ListTarget, msg: MoveBatchMessage, ledger: Map<string, LedgerEntry>, outcome: MoveOutcome): Promise<void> {
  const earlier = msg.moves.flatMap((move) => {
    const entry = ledger.get(move.identityHash);
    return entry?.movedFrom && entry.itemId && entry.listId !== move.toListId ? [entry] : [];
  });
  const { done: finished, failed } = await deleteOldItems(target, msg.siteId, earlier);
  for (const { failure, listId } of failed) outcome.failed(failure, listId, 'delete of the item an earlier move left failed: ');
  if (!finished.length) return;
  const versions = new Map(finished.flatMap((e) => (e.etag === undefined ? [] : [[e.identityHash, e.etag] as const])));
  const cleared = await clearMovedFrom(deps.state, finished, versions, () => deps.now().toISOString());
  for (const e of finished) {
    const now = cleared.get(e.identityHash);
    // The entry no longer points at the item this batch saw: leave it to whoever wrote it.
    if (now === undefined) ledger.delete(e.identityHash);
    else ledger.set(e.identityHash, now);
  }
}

/**
 * A move batch of a run that ended (cancelled, reaped, superseded) writes nothing new, but a
 * move it already swapped (the ledger points at the new item and remembers the old one: a crash
 * after the swap, then the run ended before the redelivery) is finished: no later run re-reads
 * a row that does not change, so the row would keep two items and its entry stay `moving`.
 * Only what the ledger already records is done; a failure is logged and left to drift.
 */
async function finishSwappedMoves(deps: SyncDeps, stored: StoredDefinition, msg: MoveBatchMessage): Promise<void> {
  const ledger = await deps.state.getLedger(stored.definition.id, msg.moves.map((m) => m.identityHash));
  const swapped = msg.moves.flatMap((m) => {
    const e = ledger.get(m.identityHash);
    return e?.movedFrom && e.itemId && e.listId === m.toListId ? [e] : [];
  });
  if (!swapped.length) return;
  const target = await deps.target(stored.definition.target.connectionId);
  const { done, failed } = await deleteOldItems(target, msg.siteId, swapped);
  for (const { failure, listId } of failed) deps.log.warn('the old item of a half-done move could not be deleted', { listId, identityHash: failure.opId, error: `${failure.code}: ${failure.message}` });
  const now = () => deps.now().toISOString();
  const versions = new Map(done.flatMap((e) => (e.etag === undefined ? [] : [[e.identityHash, e.etag] as const])));
  const cleared = await clearMovedFrom(deps.state, done, versions, now);
  for (const e of done) {
    if (!cleared.has(e.identityHash)) continue;
    await deps.state.addMove({ definitionId: stored.definition.id, moveId: `${msg.runId}:${e.identityHash}`, identityHash: e.identityHash, from: e.movedFrom!, to: { listId: e.listId, itemId: e.itemId! }, runId: msg.runId, at: now() });
  }
}

/** Deletes the old item (`movedFrom`) of each entry, per list; a 404 means an earlier attempt already did. */
async function deleteOldItems(target: ListTarget, siteId: string, entries: LedgerEntry[]): Promise<{ done: LedgerEntry[]; failed: Array<{ failure: WriteResult & { ok: false }; listId: string }> }> {
  const byOldList = new Map<string, LedgerEntry[]>();
  for (const e of entries) if (e.movedFrom) byOldList.set(e.movedFrom.listId, [...(byOldList.get(e.movedFrom.listId) ?? []), e]);
  const done: LedgerEntry[] = [];
  const failed: Array<{ failure: WriteResult & { ok: false }; listId: string }> = [];
  for (const [listId, group] of byOldList) {
    const results = await target.writeItems(siteId, listId, group.map((e) => ({ opId: e.identityHash, kind: 'delete' as const, itemId: e.movedFrom!.itemId })));
    for (const r of results) {
      if (r.ok || r.code === 'item_not_found') done.push(group.find((e) => e.identityHash === r.opId)!);
      else failed.push({ failure: r, listId });
    }
  }
  return { done, failed };
}

/** How often clearing `movedFrom` re-reads a lost race before the batch is retried as a whole. */
const MAX_CLEAR_ROUNDS = 5;

/**
 * The last step of a move whose old item is gone: `movedFrom` cleared and the entry `synced`,
 * conditional on the version this mover last saw or wrote. A lost race is re-read: while the
 * entry still points at the same new item and remembers the same old one, the move is done
 * whatever else the other writer changed (content in doubt, a newer content hash), so the
 * clear is applied on top of its write. Leaving it would strand the entry `moving`, as no later
 * run re-reads a row that does not change (chaos seed 11019). An entry that points elsewhere
 * now, or was cleared by someone else, is left alone. Returns the entries this call cleared.
 */
async function clearMovedFrom(state: SyncDeps['state'], moved: LedgerEntry[], versions: ReadonlyMap<string, string>, now: () => string): Promise<Map<string, LedgerEntry>> {
  const cleared = new Map<string, LedgerEntry>();
  const oldItem = new Map(moved.map((e) => [e.identityHash, e.movedFrom]));
  const newItem = new Map(moved.map((e) => [e.identityHash, { listId: e.listId, itemId: e.itemId }]));
  let round: LedgerWrite[] = moved.map((e) => ({ entry: { ...e, state: 'synced', movedFrom: null, updatedAt: now() }, ifMatch: versions.get(e.identityHash) ?? null }));
  for (let attempt = 0; round.length > 0; attempt++) {
    if (attempt >= MAX_CLEAR_ROUNDS) throw transientError('sync', 'ledger_contention', `${round.length} ledger entries kept changing while their moves were finished; the batch is retried`);
    const written = await state.putLedgerIfMatch(round);
    for (const w of round) {
      const etag = written.get(w.entry.identityHash);
      if (etag !== undefined) cleared.set(w.entry.identityHash, { ...w.entry, etag });
    }
    const lost = round.filter((w) => !written.has(w.entry.identityHash));
    if (lost.length === 0) break;
    const current = await state.getLedger(lost[0]!.entry.definitionId, lost.map((w) => w.entry.identityHash));
    round = [];
    for (const w of lost) {
      const hash = w.entry.identityHash;
      const theirs = current.get(hash);
      const at = newItem.get(hash)!;
      if (!theirs || theirs.listId !== at.listId || theirs.itemId !== at.itemId || !sameMovedFrom(theirs.movedFrom, oldItem.get(hash))) continue;
      round.push({ entry: { ...theirs, state: theirs.state === 'moving' ? 'synced' : theirs.state, movedFrom: null, updatedAt: now() }, ifMatch: theirs.etag ?? null });
    }
  }
  return cleared;
}

/** The failures of one move batch by class, and what the batch does about them at the end. */
class MoveOutcome {
  private readonly retry: FailedWrite[] = [];
  private readonly failures: Array<{ identityHash: string; key: unknown[]; error: string }> = [];
  private refused: { failure: FailedWrite; listId: string } | undefined;

  constructor(private readonly msg: MoveBatchMessage) {}

  failed(r: WriteResult & { ok: false }, listId: string, context: string): void {
    if (r.errorClass === 'transient') this.retry.push(r);
    else if (r.errorClass === 'config') this.refused ??= { failure: r, listId };
    else this.failures.push({ identityHash: r.opId, key: this.msg.moves.find((m) => m.identityHash === r.opId)?.key ?? [], error: `${context}${r.code}: ${r.message}` });
  }

  /** True when an earlier step of this move failed, so its later steps must wait. */
  stopped(identityHash: string): boolean {
    return this.retry.some((r) => r.opId === identityHash) || this.failures.some((f) => f.identityHash === identityHash) || this.refused?.failure.opId === identityHash;
  }

  async settle(deps: SyncDeps, stored: StoredDefinition, counts: { moved: number }): Promise<void> {
    const msg = this.msg;
    if (this.refused) {
      await stopForRefusal(deps, stored, msg, this.refused.listId, this.refused.failure);
      return;
    }
    const retryAt = throttledUntil(this.retry);
    if (this.retry.length && !retryAt) {
      const first = this.retry[0]!;
      throw transientError('sync', 'move_retry', `${first.code}: ${first.message}`);
    }
    await recordFailures(deps, stored.definition, msg.runId, this.failures);
    const all = { moved: counts.moved, failed: this.failures.length };
    if (retryAt) {
      const left = new Set(this.retry.map((r) => r.opId));
      await deps.state.incrementRunOnce(msg.runId, `part:${msg.batchId}:${msg.deferrals ?? 0}`, all);
      await deferBatch(deps, QUEUES.moves, { ...msg, moves: msg.moves.filter((m) => left.has(m.identityHash)) }, retryAt, 'throttled');
      return;
    }
    await settleBatch(deps, stored.definition.id, msg.runId, msg.batchId, all);
  }
}
