import type { SyncDefinition } from '../core/definitions';
import { transientError } from '../core/errors';
import type { WriteBatchMessage, WriteOpMessage } from '../core/messages';
import { SYNC_KEY_COLUMN, type WriteOp, type WriteResult } from '../core/ports/list-target';
import type { LedgerEntry } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { recordFailures } from './failures';
import { settleBatch } from './settle';

/**
 * Writer (`sync-writes`): ledger `pending` → Graph `$batch` → ledger `synced` with the item id.
 * Exactly once in effect over at-least-once delivery:
 * - a create whose ledger entry is already `pending` (an earlier attempt died) looks its item
 *   up by SyncKey and adopts it; a unique-value conflict from SharePoint does the same;
 * - an op whose ledger already shows its outcome (a redelivery after success) is skipped;
 * - a per-row permanent error goes to the failure list and the batch goes on;
 * - a transient failure is rethrown so the message is redelivered.
 */
export async function handleWriteBatch(deps: SyncDeps, msg: WriteBatchMessage): Promise<void> {
  const { state } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) {
    deps.log.warn('write batch for an unknown definition dropped', { definitionId: msg.definitionId, batchId: msg.batchId });
    return;
  }
  const def = stored.definition;
  const target = await deps.target(def.target.connectionId);
  const ledger = await state.getLedger(def.id, msg.ops.map((o) => o.identityHash));
  const now = () => deps.now().toISOString();

  const todo: WriteOpMessage[] = [];
  for (const op of msg.ops) {
    const entry = ledger.get(op.identityHash);
    if (op.kind === 'delete') {
      if (entry && entry.itemId === op.itemId && entry.listId === msg.listId) todo.push(op);
      continue; // already deleted, or the row moved on since planning
    }
    if (entry && entry.state === 'synced' && entry.listId === msg.listId && entry.contentHash === op.contentHash && !entry.movedFrom) continue; // done before
    todo.push(op);
  }

  // Pending creates: an earlier attempt may have made the item; find it before creating again.
  const creates = todo.filter((o) => o.kind === 'create' || (o.kind === 'update' && !ledger.get(o.identityHash)?.itemId));
  const pendingKeys = creates.filter((o) => ledger.get(o.identityHash)?.state === 'pending').map((o) => o.identityHash);
  const adoptedBefore = pendingKeys.length ? await target.findBySyncKey(msg.siteId, msg.listId, pendingKeys) : new Map();
  const pendingEntries: LedgerEntry[] = creates
    .filter((o) => !adoptedBefore.has(o.identityHash))
    .map((o) => ({ definitionId: def.id, identityHash: o.identityHash, listId: msg.listId, itemId: null, contentHash: o.contentHash, state: 'pending', movedFrom: null, updatedAt: now() }));
  if (pendingEntries.length) await state.putLedger(pendingEntries);
  await deps.faultPoint?.('write:after-pending');

  const graphOps: WriteOp[] = todo.map((o) => {
    const adopted = adoptedBefore.get(o.identityHash);
    if (o.kind === 'delete') return { opId: o.identityHash, kind: 'delete', itemId: o.itemId };
    if (adopted) return { opId: o.identityHash, kind: 'update', itemId: adopted.id, fields: o.fields ?? {} };
    if (o.kind === 'create' || !ledger.get(o.identityHash)?.itemId) return { opId: o.identityHash, kind: 'create', fields: { ...(o.fields ?? {}), [SYNC_KEY_COLUMN]: o.identityHash } };
    return { opId: o.identityHash, kind: 'update', itemId: o.itemId ?? ledger.get(o.identityHash)!.itemId!, fields: o.fields ?? {} };
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
  await deps.faultPoint?.('write:after-graph');
  await applyResults(deps, def, msg, todo, graphOps, results);
}

async function applyResults(deps: SyncDeps, def: SyncDefinition, msg: WriteBatchMessage, todo: WriteOpMessage[], graphOps: WriteOp[], results: WriteResult[]): Promise<void> {
  const { state } = deps;
  const byId = new Map(todo.map((o) => [o.identityHash, o]));
  const kindSent = new Map(graphOps.map((g) => [g.opId, g.kind]));
  const synced: LedgerEntry[] = [];
  const removed: string[] = [];
  const failures: Array<{ identityHash: string; key: unknown[]; error: string }> = [];
  const succeeded: string[] = [];
  let created = 0;
  let updated = 0;
  let deleted = 0;
  let transient: Extract<WriteResult, { ok: false }> | undefined;
  for (const r of results) {
    const op = byId.get(r.opId);
    if (!op) continue;
    if (r.ok || (op.kind === 'delete' && r.code === 'item_not_found')) {
      succeeded.push(op.identityHash);
      if (op.kind === 'delete') {
        removed.push(op.identityHash);
        deleted++;
      } else {
        synced.push({ definitionId: def.id, identityHash: op.identityHash, listId: msg.listId, itemId: (r as { itemId: string }).itemId, contentHash: op.contentHash, state: 'synced', movedFrom: null, updatedAt: deps.now().toISOString() });
        if (op.kind === 'create' && kindSent.get(r.opId) === 'create') created++;
        else updated++;
      }
    } else if (r.errorClass === 'transient') {
      transient ??= r;
    } else {
      failures.push({ identityHash: op.identityHash, key: op.key, error: `${r.code}: ${r.message}` });
    }
  }
  if (synced.length) await state.putLedger(synced);
  if (removed.length) await state.deleteLedger(def.id, removed);
  await deps.faultPoint?.('write:after-synced');
  if (succeeded.length) await state.deleteFailures(def.id, succeeded);
  if (transient) {
    // What succeeded is recorded; the redelivery skips it and retries the rest.
    throw transientError('sync', 'write_retry', `${transient.code}: ${transient.message}`);
  }
  // A create that failed for good leaves no pending entry behind.
  const failedCreates = failures.filter((f) => byId.get(f.identityHash)?.kind === 'create').map((f) => f.identityHash);
  if (failedCreates.length) await state.deleteLedger(def.id, failedCreates);
  await recordFailures(deps, def, msg.runId, failures);
  await settleBatch(deps, def.id, msg.runId, msg.batchId, { created, updated, deleted, failed: failures.length });
}
