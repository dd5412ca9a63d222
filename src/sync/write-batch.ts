import { isSyncError, SyncError, transientError } from '../core/errors';
import type { WriteBatchMessage, WriteOpMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { SYNC_KEY_COLUMN, type ListTarget, type WriteOp, type WriteResult } from '../core/ports/list-target';
import type { LedgerEntry, StoredDefinition } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { recordFailures } from './failures';
import { settleCallError, stopForRefusal, throttledUntil, type FailedWrite } from './graph-outcome';
import { deleteStrays, isSuperseded, recordWrites } from './ledger-cas';
import { deferBatch, isRunLive } from './run-lifecycle';
import { chargeRun } from './run-spend';
import { settleBatch } from './settle';

/**
 * Writer (`sync-writes`): ledger `pending` → Graph `$batch` → ledger `synced` with the item id.
 * Exactly once in effect over at-least-once delivery:
 * - a create whose ledger entry is already `pending` (an earlier attempt died) looks its item
 *   up by SyncKey and adopts it; a unique-value conflict from SharePoint does the same. When the
 *   row's shard changed meanwhile, the earlier attempt's item in the old list is removed first;
 * - an op whose ledger already shows its outcome (a redelivery after success) is skipped;
 * - a delete also removes the old item of a half-done move (`movedFrom`);
 * - a per-row permanent error goes to the failure list and the batch goes on;
 * - 401/403 or a vanished list stops the run (graph-outcome.ts); throttling past the adapter's
 *   inline wait reschedules what is left; other transient failures are rethrown for redelivery;
 * - a batch of a run that is no longer live (stopped, cancelled, superseded) is dropped unwritten.
 */
export function handleWriteBatch(deps: SyncDeps, msg: WriteBatchMessage): Promise<void> {
  // Every Graph request of the batch counts towards its run's RU (run-spend.ts).
  return chargeRun(deps, msg.runId, () => writeBatch(deps, msg));
}

async function writeBatch(deps: SyncDeps, msg: WriteBatchMessage): Promise<void> {
  const { state } = deps;
  // A message of creates only (a load) names rows the planner found no ledger entry for: their
  // pending entries are inserted where still absent instead of read first (below).
  const createsOnly = msg.ops.every((o) => o.kind === 'create');
  // Independent reads at once: a message's state round trips come before its Graph writes.
  const [stored, run, ledgerRead] = await Promise.all([
    deps.recentDefinition ? deps.recentDefinition(msg.definitionId) : state.getDefinition(msg.definitionId),
    state.getRun(msg.runId),
    createsOnly ? undefined : state.getLedger(msg.definitionId, msg.ops.map((o) => o.identityHash)),
  ]);
  if (!stored) {
    deps.log.warn('write batch for an unknown definition dropped', { definitionId: msg.definitionId, batchId: msg.batchId });
    return;
  }
  if (run && !isRunLive(run)) {
    deps.log.info('write batch of a run that is no longer live dropped', { runId: msg.runId, batchId: msg.batchId, status: run.status });
    return;
  }
  const def = stored.definition;
  const target = await deps.target(def.target.connectionId);
  // The run's start orders the writes for one row: an op planned before the ledger's last write is no longer current.
  const plannedAt = run?.startedAt ?? null;
  const now = () => deps.now().toISOString();
  const pendingEntry = (o: WriteOpMessage): LedgerEntry => ({ definitionId: def.id, identityHash: o.identityHash, listId: msg.listId, itemId: null, contentHash: o.contentHash, state: 'pending', movedFrom: null, sourceReadAt: plannedAt, updatedAt: now() });
  // The version each op's final ledger write is conditional on: what this writer last saw or wrote.
  const versions = new Map<string, string>();
  // Creates whose pending entry this delivery inserted where there was none: nothing earlier to adopt or remove.
  const fresh = new Set<string>();
  let ledger: ReadonlyMap<string, LedgerEntry>;
  if (ledgerRead) {
    ledger = ledgerRead;
  } else {
    // Insert-if-absent (ifMatch null) is the same conditional write as the pending write below
    // after a read that found nothing; an entry that exists (a redelivery, a row written
    // meanwhile) makes its insert lose, and only those rows are read and go the general way.
    const written = await state.putLedgerIfMatch(msg.ops.map((o) => ({ entry: pendingEntry(o), ifMatch: null })));
    for (const [hash, etag] of written) {
      versions.set(hash, etag);
      fresh.add(hash);
    }
    const taken = msg.ops.map((o) => o.identityHash).filter((hash) => !fresh.has(hash));
    ledger = taken.length ? await state.getLedger(def.id, taken) : new Map();
  }
  for (const [hash, e] of ledger) if (e.etag !== undefined) versions.set(hash, e.etag);
  const todo = opsStillToDo(msg, ledger).filter((op) => !isSuperseded(ledger.get(op.identityHash), plannedAt));

  // Creates: ops for rows without an item yet. A pending one may have made its item already.
  const creates = todo.filter((o) => o.kind === 'create' || (o.kind === 'update' && !ledger.get(o.identityHash)?.itemId));
  let adoptedBefore: Map<string, { id: string }>;
  try {
    await removeItemsOfEarlierAttempts(target, msg, creates, ledger, deps.now());
    const pendingKeys = creates.filter((o) => ledger.get(o.identityHash)?.state === 'pending').map((o) => o.identityHash);
    adoptedBefore = pendingKeys.length ? await target.findBySyncKey(msg.siteId, msg.listId, pendingKeys) : new Map();
  } catch (error) {
    return settleCallError(deps, stored, QUEUES.writes, { ...msg, ops: todo }, msg.listId, error);
  }
  const pendingEntries: LedgerEntry[] = creates.filter((o) => !adoptedBefore.has(o.identityHash) && !fresh.has(o.identityHash)).map(pendingEntry);
  if (pendingEntries.length) {
    const written = await state.putLedgerIfMatch(pendingEntries.map((entry) => ({ entry, ifMatch: versions.get(entry.identityHash) ?? null })));
    // Another writer got to one of these rows since we read it: nothing is sent yet, so start over.
    if (written.size < pendingEntries.length) throw transientError('sync', 'ledger_contention', 'another batch wrote some of these rows meanwhile; the batch is retried');
    for (const [hash, etag] of written) versions.set(hash, etag);
  }
  await deps.faultPoint?.('write:after-pending');

  const graphOps: WriteOp[] = todo.map((o) => {
    const adopted = adoptedBefore.get(o.identityHash);
    if (o.kind === 'delete') return { opId: o.identityHash, kind: 'delete', itemId: o.itemId };
    if (adopted) return { opId: o.identityHash, kind: 'update', itemId: adopted.id, fields: o.fields ?? {} };
    if (o.kind === 'create' || !ledger.get(o.identityHash)?.itemId) return { opId: o.identityHash, kind: 'create', fields: { ...(o.fields ?? {}), [SYNC_KEY_COLUMN]: o.identityHash } };
    // Only the changed fields: the rest already hold these values (an adopted or re-created item gets all).
    return { opId: o.identityHash, kind: 'update', itemId: o.itemId ?? ledger.get(o.identityHash)!.itemId!, fields: changedFieldsOf(o) };
  });
  let results = graphOps.length ? await target.writeItems(msg.siteId, msg.listId, graphOps) : [];

  // An update of an item someone deleted in SharePoint: create it again (drift repaired in passing).
  const vanished = results.filter((r) => !r.ok && r.code === 'item_not_found' && graphOps.find((g) => g.opId === r.opId)?.kind === 'update');
  if (vanished.length) {
    const recreate = vanished.map((r) => {
      const op = todo.find((o) => o.identityHash === r.opId)!;
      return { opId: op.identityHash, kind: 'create' as const, fields: { ...(op.fields ?? {}), [SYNC_KEY_COLUMN]: op.identityHash } };
    });
    const again = new Map((await target.writeItems(msg.siteId, msg.listId, recreate)).map((r) => [r.opId, r]));
    results = results.map((r) => again.get(r.opId) ?? r);
  }
  results = await deleteMovedFromItems(target, msg.siteId, todo, ledger, results);
  await deps.faultPoint?.('write:after-graph');
  await applyResults(deps, stored, msg, target, { todo, graphOps, results, versions, plannedAt });
}

/** The fields an update of the ledger's own item sends: the changed ones when the planner knew them. */
function changedFieldsOf(op: WriteOpMessage): Record<string, unknown> {
  const fields = op.fields ?? {};
  if (!op.changedFields) return fields;
  return Object.fromEntries(op.changedFields.filter((name) => name in fields).map((name) => [name, fields[name]]));
}

/** The ops the ledger does not already show as done (a redelivery after success skips them). */
function opsStillToDo(msg: WriteBatchMessage, ledger: ReadonlyMap<string, LedgerEntry>): WriteOpMessage[] {
  return msg.ops.filter((op) => {
    const entry = ledger.get(op.identityHash);
    // A delete is still to do only while the ledger points at the item it names.
    if (op.kind === 'delete') return entry !== undefined && entry.itemId === op.itemId && entry.listId === msg.listId;
    return !(entry && entry.state === 'synced' && entry.listId === msg.listId && entry.contentHash === op.contentHash && !entry.movedFrom);
  });
}

/**
 * A `pending` entry in another list than this batch's: an earlier attempt may have created
 * the item there before the row's shard changed. Looking only in this list would leave that
 * item behind as a duplicate, so it is found by SyncKey and deleted before the create here.
 * (The row is briefly absent rather than twice present; the ledger still says `pending`.)
 */
async function removeItemsOfEarlierAttempts(target: ListTarget, msg: WriteBatchMessage, creates: WriteOpMessage[], ledger: ReadonlyMap<string, LedgerEntry>, now: Date): Promise<void> {
  const byOldList = new Map<string, string[]>();
  for (const op of creates) {
    const entry = ledger.get(op.identityHash);
    if (entry?.state === 'pending' && entry.listId !== msg.listId) byOldList.set(entry.listId, [...(byOldList.get(entry.listId) ?? []), op.identityHash]);
  }
  for (const [listId, keys] of byOldList) {
    let found: Map<string, { id: string }>;
    try {
      found = await target.findBySyncKey(msg.siteId, listId, keys);
    } catch (error) {
      if (isSyncError(error, 'not_found')) continue; // the old list is gone, and its items with it
      throw error;
    }
    if (found.size === 0) continue;
    const results = await target.writeItems(msg.siteId, listId, [...found].map(([key, item]) => ({ opId: key, kind: 'delete' as const, itemId: item.id })));
    const failed = results.find((r): r is FailedWrite => !r.ok && r.code !== 'item_not_found');
    if (failed) throw strayDeleteError(failed, listId, now);
  }
}

/** A failed removal of an earlier attempt's item, as the error its class calls for (graph-outcome.ts settles it). */
function strayDeleteError(failed: FailedWrite, listId: string, now: Date): SyncError {
  const message = `removing the item an earlier attempt made in list ${listId} failed: ${failed.code}: ${failed.message}`;
  const retryAfterMs = failed.retryAt ? Math.max(0, Date.parse(failed.retryAt) - now.getTime()) : undefined;
  if (failed.errorClass === 'config') return new SyncError(message, { code: failed.code, module: 'sharepoint', errorClass: 'config', status: failed.status });
  return transientError('sync', 'stray_item_delete_failed', message, { retryAfterMs });
}

/**
 * A delete of an entry whose move is half done (`movedFrom`) must remove the old item too, or
 * it survives the row. A failure there stands in for the op's result, so the op is retried
 * (the first delete then answers 404, which counts as done).
 */
async function deleteMovedFromItems(target: ListTarget, siteId: string, todo: WriteOpMessage[], ledger: ReadonlyMap<string, LedgerEntry>, results: WriteResult[]): Promise<WriteResult[]> {
  const deletesDone = new Set(results.filter((r) => r.ok || r.code === 'item_not_found').map((r) => r.opId));
  const byOldList = new Map<string, WriteOp[]>();
  for (const op of todo) {
    const from = ledger.get(op.identityHash)?.movedFrom;
    if (op.kind !== 'delete' || !from || !deletesDone.has(op.identityHash)) continue;
    byOldList.set(from.listId, [...(byOldList.get(from.listId) ?? []), { opId: op.identityHash, kind: 'delete', itemId: from.itemId }]);
  }
  const replaced = new Map<string, WriteResult>();
  for (const [listId, ops] of byOldList) {
    for (const r of await target.writeItems(siteId, listId, ops)) if (!r.ok && r.code !== 'item_not_found') replaced.set(r.opId, r);
  }
  return results.map((r) => replaced.get(r.opId) ?? r);
}

interface BatchWrites {
  todo: WriteOpMessage[];
  graphOps: WriteOp[];
  results: WriteResult[];
  /** Ledger version per identity that the final write is conditional on. */
  versions: ReadonlyMap<string, string>;
  plannedAt: string | null;
}

async function applyResults(deps: SyncDeps, stored: StoredDefinition, msg: WriteBatchMessage, target: ListTarget, batch: BatchWrites): Promise<void> {
  const { state } = deps;
  const { todo, graphOps, results, versions, plannedAt } = batch;
  const def = stored.definition;
  const byId = new Map(todo.map((o) => [o.identityHash, o]));
  const kindSent = new Map(graphOps.map((g) => [g.opId, g.kind]));
  const synced: LedgerEntry[] = [];
  const removed: string[] = [];
  const failures: Array<{ identityHash: string; key: unknown[]; error: string }> = [];
  const succeeded: string[] = [];
  const retry: FailedWrite[] = [];
  let refused: FailedWrite | undefined;
  let created = 0;
  let updated = 0;
  let deleted = 0;
  for (const r of results) {
    const op = byId.get(r.opId);
    if (!op) continue;
    if (r.ok || (op.kind === 'delete' && r.code === 'item_not_found')) {
      succeeded.push(op.identityHash);
      if (op.kind === 'delete') {
        removed.push(op.identityHash);
        deleted++;
      } else {
        const fieldHashes = op.fieldHashes ? { contentHash: op.contentHash, byField: op.fieldHashes } : null;
        synced.push({ definitionId: def.id, identityHash: op.identityHash, listId: msg.listId, itemId: (r as { itemId: string }).itemId, contentHash: op.contentHash, state: 'synced', movedFrom: null, sourceReadAt: plannedAt, fieldHashes, updatedAt: deps.now().toISOString() });
        if (op.kind === 'create' && kindSent.get(r.opId) === 'create') created++;
        else updated++;
      }
    } else if (r.errorClass === 'transient') {
      retry.push(r);
    } else if (r.errorClass === 'config') {
      refused ??= r;
    } else {
      failures.push({ identityHash: op.identityHash, key: op.key, error: `${r.code}: ${r.message}` });
    }
  }
  // What succeeded is recorded whatever happens next; a redelivery skips it.
  if (synced.length) {
    const { strays } = await recordWrites(state, synced.map((entry) => ({ entry, ifMatch: versions.get(entry.identityHash) ?? null })), () => deps.now().toISOString());
    await deleteStrays(deps, target, msg.siteId, strays);
  }
  if (removed.length) await state.deleteLedger(def.id, removed);
  await deps.faultPoint?.('write:after-synced');
  if (succeeded.length) await state.deleteFailures(def.id, succeeded);

  if (refused) {
    // An admin must act (credentials, permission, a deleted list): no row is to blame.
    await stopForRefusal(deps, stored, msg, msg.listId, refused);
    return;
  }
  const retryAt = throttledUntil(retry);
  if (retry.length && !retryAt) {
    const first = retry[0]!;
    throw transientError('sync', 'write_retry', `${first.code}: ${first.message}`);
  }
  // A create that failed for good leaves no pending entry behind.
  const failedCreates = failures.filter((f) => byId.get(f.identityHash)?.kind === 'create').map((f) => f.identityHash);
  if (failedCreates.length) await state.deleteLedger(def.id, failedCreates);
  await recordFailures(deps, def, msg.runId, failures);
  const counts = { created, updated, deleted, failed: failures.length };
  if (retryAt) {
    // Throttled past the inline wait: count what was done in this delivery, reschedule the rest.
    const left = new Set(retry.map((r) => r.opId));
    await deps.state.incrementRunOnce(msg.runId, `part:${msg.batchId}:${msg.deferrals ?? 0}`, counts);
    await deferBatch(deps, QUEUES.writes, { ...msg, ops: msg.ops.filter((o) => left.has(o.identityHash)) }, retryAt, 'throttled');
    return;
  }
  await settleBatch(deps, def.id, msg.runId, msg.batchId, counts);
}
