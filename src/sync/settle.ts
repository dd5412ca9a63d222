import type { FinalizeMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import type { ProgressCounter } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { planState } from './run-state';

/**
 * Counts a batch as settled exactly once, even when its message is delivered twice: the state
 * store records the batch id in the same atomic write as the increment. The batch that
 * completes the run asks for the finalizer, through the runs queue so it is serialised with
 * the definition's other run messages.
 */
export async function settleBatch(deps: SyncDeps, definitionId: string, runId: string, batchId: string, counts: Partial<Record<ProgressCounter, number>>): Promise<void> {
  const { run } = await deps.state.incrementRunOnce(runId, `batch:${batchId}`, { ...counts, batchesSettled: 1 });
  // Progress keeps the run's lease alive: a throttled run may outlast one lease period.
  if (run.status === 'running') await deps.state.renewLease(runLeaseName(definitionId), runId, deps.settings.leaseTtlMs);
  const plan = planState(run);
  if (run.status === 'running' && plan?.phase === 'writing' && run.batchesSettled >= run.batchesExpected) {
    const message: FinalizeMessage = { type: 'finalize', definitionId, runId };
    await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `finalize:${runId}`, sessionId: definitionId }]);
  }
}
