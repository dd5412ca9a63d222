import { conflict, notFound } from '../core/errors';
import type { MoveBatchMessage, WriteBatchMessage } from '../core/messages';
import type { QueueName } from '../core/ports/bus';
import { redact } from '../core/ports/logger';
import type { RunRecord } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { recordFailures } from './failures';
import { isRunLive, planState } from './run-state';
import { settleBatch } from './settle';

/**
 * Every run ends (DESIGN §5): the ways a run is stopped, waits, or gives up on a batch, shared
 * by the planner, the writers, the dead-letter functions, the reaper and the cancel endpoint.
 * None of them moves the cursor: only the finalizer does, after every batch has settled.
 */

export { isRunLive };

export interface RunStop {
  status: 'failed' | 'cancelled';
  /** In words an admin can act on; stored redacted. */
  reason: string;
}

/**
 * Ends a queued or running run now, releasing its lease and leaving the cursor where it was, so
 * the next run covers the same rows again. A no-op (returning the run) on a run already final.
 */
export async function stopRun(deps: SyncDeps, runId: string, outcome: RunStop): Promise<RunRecord | null> {
  const run = await deps.state.getRun(runId);
  if (!run || !isRunLive(run)) return run;
  const plan = planState(run);
  const stopped = await deps.state.updateRun(runId, {
    status: outcome.status,
    finishedAt: deps.now().toISOString(),
    error: storedReason(outcome.reason),
    waitingUntil: null,
    waitingReason: null,
    ...(plan ? { plan: { ...plan, phase: 'done' } } : {}),
  });
  await deps.state.releaseLease(runLeaseName(run.definitionId), runId);
  deps.log.warn(`run ${outcome.status}`, { definitionId: run.definitionId, runId, reason: stopped.error });
  return stopped;
}

/** `POST /runs/{runId}/cancel`: 404 for an unknown run, 409 for one that already ended. */
export async function cancelRun(deps: SyncDeps, runId: string): Promise<RunRecord> {
  const run = await deps.state.getRun(runId);
  if (!run) throw notFound('sync', 'run', runId);
  if (!isRunLive(run)) throw conflict('sync', 'run_final', `run '${runId}' already ended (${run.status}); only a queued or running run can be cancelled`);
  const stopped = await stopRun(deps, runId, { status: 'cancelled', reason: 'cancelled by an admin; the cursor did not move' });
  // The run ended by itself between the read and the stop: it is no longer cancellable.
  if (!stopped || stopped.status !== 'cancelled') throw conflict('sync', 'run_final', `run '${runId}' already ended (${stopped?.status ?? 'gone'})`);
  return stopped;
}

export type BatchMessage = WriteBatchMessage | MoveBatchMessage;
export type DeferOutcome = 'deferred' | 'failed' | 'dropped';

/**
 * Throttling is waiting, not failing: re-sends the batch (holding only the ops still to do) to
 * be delivered at `retryAt`, under a fresh message id, marks the run as waiting and stretches
 * its lease over the wait. The current delivery then completes, so no delivery is spent. A run
 * that would wait beyond its throttle budget (`maxThrottleWaitMs` from its start) settles the
 * batch as failed instead; a batch of a run no longer live is dropped.
 */
export async function deferBatch(deps: SyncDeps, queue: QueueName, message: BatchMessage, retryAt: Date, reason: 'throttled'): Promise<DeferOutcome> {
  const run = await deps.state.getRun(message.runId);
  if (!run || !isRunLive(run)) return 'dropped';
  const now = deps.now();
  const waitEnds = Date.parse(run.startedAt) + deps.settings.maxThrottleWaitMs;
  if (retryAt.getTime() > waitEnds) {
    const minutes = Math.round(deps.settings.maxThrottleWaitMs / 60_000);
    await settleBatchAsFailed(deps, message, `SharePoint kept throttling for longer than this run may wait (${minutes} min, RUN_MAX_THROTTLE_WAIT_MINUTES); the rows are retried by the next runs`);
    return 'failed';
  }
  const deferrals = (message.deferrals ?? 0) + 1;
  await deps.bus.send(queue, [{ body: { ...message, deferrals }, messageId: `${message.batchId}~d${deferrals}`, scheduledAt: retryAt }]);
  const waitingUntil = run.waitingUntil && Date.parse(run.waitingUntil) > retryAt.getTime() ? run.waitingUntil : retryAt.toISOString();
  await deps.state.updateRun(run.runId, { waitingUntil, waitingReason: `${reason}: SharePoint asked to wait; batches resume at ${waitingUntil}`, progressAt: now.toISOString() });
  await deps.state.renewLease(runLeaseName(run.definitionId), run.runId, retryAt.getTime() - now.getTime() + deps.settings.leaseTtlMs);
  deps.log.info('batch deferred for throttling', { runId: run.runId, batchId: message.batchId, retryAt: retryAt.toISOString(), deferrals });
  return 'deferred';
}

/**
 * Settles a batch that will not be written (dead-lettered, or throttled past the run's budget):
 * its rows still to do go to the failure list with `reason` and are retried by key on later
 * runs; the batch counts as settled, so the run can end `partial`.
 */
export async function settleBatchAsFailed(deps: SyncDeps, message: BatchMessage, reason: string): Promise<void> {
  const stored = await deps.state.getDefinition(message.definitionId);
  if (!stored) return;
  const rows = 'ops' in message ? message.ops : message.moves;
  const ledger = await deps.state.getLedger(message.definitionId, rows.map((r) => r.identityHash));
  const undone = rows.filter((row) => {
    const entry = ledger.get(row.identityHash);
    if ('ops' in message && 'kind' in row && row.kind === 'delete') return entry !== undefined && entry.itemId === row.itemId;
    const listId = 'ops' in message ? message.listId : (row as MoveBatchMessage['moves'][number]).toListId;
    return !(entry && entry.state === 'synced' && entry.listId === listId && entry.contentHash === row.contentHash && !entry.movedFrom);
  });
  const error = storedReason(reason);
  // A reconcile delete carries no key (its row is gone): it cannot be retried by key, and the
  // next reconcile plans it again from the ledger entry it left.
  const retriable = undone.filter((row) => row.key.length > 0);
  await recordFailures(deps, stored.definition, message.runId, retriable.map((row) => ({ identityHash: row.identityHash, key: row.key, error })));
  await settleBatch(deps, message.definitionId, message.runId, message.batchId, { failed: undone.length });
}

/** Stored error text never carries a secret a driver or URL may have put into it. */
export const storedReason = (reason: string) => String(redact(reason)).slice(0, 2000);
