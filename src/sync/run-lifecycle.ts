import type { MoveBatchMessage, WriteBatchMessage } from '../core/messages';
import type { QueueName } from '../core/ports/bus';
import type { RunRecord, RunStatus } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { planState } from './run-state';

/**
 * How a run ends or waits outside the planner/finalizer path (issue 10, seam 2). Stream B's
 * smallest honest version, so writers and movers can stop a run and defer a batch; stream A's
 * fuller version (waiting fields on the run record, cancel, the reaper) replaces it.
 */

/** A run whose batches may still write: queued or running. Batches of any other run are dropped unwritten. */
export function isRunLive(run: RunRecord): boolean {
  return run.status === 'queued' || run.status === 'running';
}

export interface RunStop {
  status: Extract<RunStatus, 'failed' | 'cancelled'>;
  /** Says what an admin must fix; stored as the run's error. */
  reason: string;
}

/**
 * Ends a live run now: status, finishedAt and the reason, plan phase `done`, lease released.
 * The cursor is never moved, so the next run covers the same rows. A run already final is
 * left as it is (null when there is no such run).
 */
export async function stopRun(deps: SyncDeps, runId: string, outcome: RunStop): Promise<RunRecord | null> {
  const run = await deps.state.getRun(runId);
  if (!run) return null;
  if (!isRunLive(run)) return run;
  const plan = planState(run);
  const stopped = await deps.state.updateRun(runId, {
    status: outcome.status,
    finishedAt: deps.now().toISOString(),
    error: outcome.reason,
    ...(plan ? { plan: { ...plan, phase: 'done' } } : {}),
  });
  await deps.state.releaseLease(runLeaseName(run.definitionId), runId);
  deps.log.warn('run stopped', { definitionId: run.definitionId, runId, status: outcome.status, reason: outcome.reason });
  return stopped;
}

/**
 * Re-sends a write or move batch (carrying only the ops still to do) to be delivered at
 * `retryAt`, under a fresh message id so duplicate detection does not swallow it, and keeps the
 * run's lease alive over the wait. The current delivery then completes: no delivery is spent.
 */
export async function deferBatch<M extends WriteBatchMessage | MoveBatchMessage>(deps: SyncDeps, queue: QueueName, message: M, retryAt: Date, reason: 'throttled'): Promise<void> {
  const deferrals = (message.deferrals ?? 0) + 1;
  const body: M = { ...message, deferrals };
  const waitMs = Math.max(0, retryAt.getTime() - deps.now().getTime());
  await deps.state.renewLease(runLeaseName(message.definitionId), message.runId, waitMs + deps.settings.leaseTtlMs);
  await deps.bus.send(queue, [{ body, messageId: `${message.batchId}:d${deferrals}`, notBefore: retryAt }]);
  deps.log.info('batch deferred', { runId: message.runId, batchId: message.batchId, reason, retryAt: retryAt.toISOString(), deferrals });
}
