import type { FinalizeMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import type { ProgressCounter, RunRecord } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { returnRunRu, takeRunRu } from './run-spend';
import { attemptOfBatch, isRunLive, planAttempt, planState } from './run-state';

/** progressAt is a coarse "still moving" mark for the reaper: at most one write per this interval. */
const PROGRESS_MARK_INTERVAL_MS = 15_000;

/**
 * Counts a batch as settled exactly once, even when its message is delivered twice: the state
 * store records the batch id in the same atomic write as the increment. A batch planned by an
 * earlier planning attempt is not counted (its writes are harmless; the new attempt re-planned
 * them). The batch that completes the run asks for the finalizer, through the runs queue so it
 * is serialised with the definition's other run messages.
 */
export async function settleBatch(deps: SyncDeps, definitionId: string, runId: string, batchId: string, counts: Partial<Record<ProgressCounter, number>>): Promise<void> {
  const before = await deps.state.getRun(runId);
  if (!before) return;
  if (planAttempt(before) !== attemptOfBatch(batchId)) {
    deps.log.info('a batch of an earlier planning attempt settled; not counted', { runId, batchId });
    return;
  }
  const ruSpent = takeRunRu();
  const { run, applied } = await deps.state.incrementRunOnce(runId, `batch:${batchId}`, { ...counts, batchesSettled: 1, ruSpent });
  if (!applied) returnRunRu(ruSpent);
  if (!isRunLive(run)) return;
  // Progress keeps the run's lease alive (a throttled run may outlast one lease period); both are
  // written at most once per PROGRESS_MARK_INTERVAL_MS, far inside the lease, not once per batch.
  if (applied && (await markProgress(deps, run))) await deps.state.renewLease(runLeaseName(definitionId), runId, deps.settings.leaseTtlMs);
  const plan = planState(run);
  if (run.status === 'running' && plan?.phase === 'writing' && run.batchesSettled >= run.batchesExpected) {
    const message: FinalizeMessage = { type: 'finalize', definitionId, runId };
    await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `finalize:${runId}`, sessionId: definitionId }]);
  }
}

/** Records that the run moved (for the reaper), and clears a throttle wait that is over. True when it wrote. */
export async function markProgress(deps: SyncDeps, run: RunRecord, force = false): Promise<boolean> {
  const now = deps.now();
  const waitOver = run.waitingUntil != null && Date.parse(run.waitingUntil) <= now.getTime();
  const stale = !run.progressAt || now.getTime() - Date.parse(run.progressAt) >= PROGRESS_MARK_INTERVAL_MS;
  if (!force && !stale && !waitOver) return false;
  await deps.state.updateRun(run.runId, { progressAt: now.toISOString(), ...(waitOver ? { waitingUntil: null, waitingReason: null } : {}) });
  return true;
}
