import { randomUUID } from 'node:crypto';
import type { FinalizeMessage, RunMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { positionAfterRun } from '../core/ports/source';
import type { RunRecord } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { requestDriftWatch } from './drift/watch';
import { planState } from './run-state';

/**
 * Closes a run once every batch is settled: moves the cursor to what the run covered (only now
 * are its writes durable), records counts and status, releases the lease, and enqueues a
 * continuation at once when rows remain. Idempotent: a second finalize of a closed run is a no-op.
 */
export async function finalizeRun(deps: SyncDeps, msg: FinalizeMessage): Promise<RunRecord | null> {
  const { state } = deps;
  const run = await state.getRun(msg.runId);
  const plan = run && planState(run);
  if (!run || !plan || run.status !== 'running' || plan.phase !== 'writing') return run;
  if (run.batchesSettled < run.batchesExpected) return run;

  const stored = await state.getDefinition(run.definitionId);
  if (stored) {
    const position = plan.passDone ? positionAfterRun(plan.cursorKind, plan.start, run.highWater ?? null, plan.visibleBefore ?? null) : plan.next;
    await state.putCursor({ definitionId: run.definitionId, sourceId: plan.sourceId, position: position ? JSON.stringify(position) : null, mappingVersion: plan.mappingVersion, updatedAt: deps.now().toISOString() });
  }
  const closed = await state.updateRun(run.runId, {
    status: run.counts.failed > 0 ? 'partial' : 'succeeded',
    finishedAt: deps.now().toISOString(),
    waitingUntil: null,
    waitingReason: null,
    plan: { ...plan, phase: 'done' },
  });
  await state.releaseLease(runLeaseName(run.definitionId), run.runId);
  if (!plan.passDone && stored) {
    const next: RunMessage = { type: 'run', definitionId: run.definitionId, runId: randomUUID(), mode: run.mode === 'full' ? 'full' : 'incremental', trigger: 'continuation', requestedAt: deps.now().toISOString() };
    // A `full` continuation must not restart the pass: it continues from the stored cursor.
    if (next.mode === 'full') next.mode = 'incremental';
    await deps.bus.send(QUEUES.runs, [{ body: next, messageId: `continue:${run.runId}`, sessionId: run.definitionId }]);
  }
  if (plan.passDone && stored?.definition.drift.watch) await requestDriftWatch(deps, run.definitionId, run.runId);
  deps.log.info('run finished', { definitionId: run.definitionId, runId: run.runId, status: closed.status, counts: closed.counts });
  return closed;
}
