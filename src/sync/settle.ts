import type { FinalizeMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import type { ProgressCounter } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { planState } from './run-state';

const SETTLED_MARK_TTL_MS = 7 * 24 * 3600_000;

/**
 * Counts a batch as settled exactly once, even when its message is delivered twice: a
 * set-once marker (a lease nobody releases) guards the increment. The batch that completes the
 * run asks for the finalizer, through the runs queue so it is serialised with the definition's
 * other run messages.
 */
export async function settleBatch(deps: SyncDeps, definitionId: string, runId: string, batchId: string, counts: Partial<Record<ProgressCounter, number>>): Promise<void> {
  const first = await deps.state.acquireLease(`settled:${batchId}`, batchId, SETTLED_MARK_TTL_MS);
  const run = first ? await deps.state.incrementRun(runId, { ...counts, batchesSettled: 1 }) : await deps.state.getRun(runId);
  if (!run) return;
  const plan = planState(run);
  if (run.status === 'running' && plan?.phase === 'writing' && run.batchesSettled >= run.batchesExpected) {
    const message: FinalizeMessage = { type: 'finalize', definitionId, runId };
    await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `finalize:${runId}`, sessionId: definitionId }]);
  }
}
