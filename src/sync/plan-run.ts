import { randomUUID } from 'node:crypto';
import { describe, isSyncError } from '../core/errors';
import type { RunMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { emptyRunCounts, type RunRecord } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { planRun } from './plan/planner';
import { planState, type RunPlanState } from './run-state';

/**
 * The planner (`sync-runs`): one run at a time per definition. Reads what changed since the
 * cursor up to a high-water mark fixed at the start, maps and hashes rows, routes them to
 * shard lists, compares with the ledger in batches and fans out write and move batches. It
 * never reads SharePoint (a new shard's list is the only Graph call it may make). This file
 * takes the run message and its lease; the steps live in `./plan/`.
 */

export function newRunMessage(definitionId: string, mode: RunMessage['mode'], trigger: RunMessage['trigger'], now: Date): RunMessage {
  return { type: 'run', definitionId, runId: randomUUID(), mode, trigger, requestedAt: now.toISOString() };
}

export async function handleRunMessage(deps: SyncDeps, msg: RunMessage): Promise<RunRecord | null> {
  const { state, log } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) {
    log.warn('run for an unknown definition dropped', { definitionId: msg.definitionId, runId: msg.runId });
    return null;
  }
  const existing = await state.getRun(msg.runId);
  const queued = existing?.status === 'queued';
  if (existing && !queued) {
    const plan = planState(existing);
    if (existing.status !== 'running' || plan?.phase !== 'planning') return existing; // a redelivery of a run already planned
    // The planner died mid-way: batches it sent still land harmlessly; a fresh run replans.
    const fresh = newRunMessage(msg.definitionId, msg.mode, 'retry', deps.now());
    await state.updateRun(existing.runId, { status: 'failed', finishedAt: deps.now().toISOString(), error: `planning was interrupted; superseded by run ${fresh.runId}`, plan: { ...plan, phase: 'done', supersededBy: fresh.runId } });
    await state.releaseLease(runLeaseName(msg.definitionId), msg.runId);
    await deps.bus.send(QUEUES.runs, [{ body: fresh, messageId: `retry:${msg.runId}`, sessionId: msg.definitionId }]);
    return existing;
  }

  const startedAt = deps.now().toISOString();
  const base: RunRecord = {
    runId: msg.runId,
    definitionId: msg.definitionId,
    mode: msg.mode,
    trigger: msg.trigger,
    status: 'running',
    sourceId: stored.activeSourceId,
    startedAt,
    counts: emptyRunCounts(),
    batchesExpected: 0,
    batchesSettled: 0,
  };
  if (!(await state.acquireLease(runLeaseName(msg.definitionId), msg.runId, deps.settings.leaseTtlMs))) {
    const refused: RunRecord = { ...base, status: 'refused', finishedAt: startedAt, error: 'another run of this definition is in progress' };
    if (queued) await state.updateRun(msg.runId, { status: 'refused', finishedAt: startedAt, error: refused.error });
    else await state.createRun(refused);
    log.info('run refused: another run holds the lease', { definitionId: msg.definitionId, runId: msg.runId });
    return refused;
  }
  const initialPlan: RunPlanState = {
    phase: 'planning',
    sourceId: stored.activeSourceId,
    mappingVersion: stored.mappingVersion,
    cursorKind: stored.definition.cursor.kind,
    start: null,
    next: null,
    passDone: false,
    byList: {},
  };
  if (queued) await state.updateRun(msg.runId, { status: 'running', startedAt, sourceId: base.sourceId, plan: initialPlan });
  else await state.createRun({ ...base, plan: initialPlan });
  try {
    return await planRun(deps, stored, msg, initialPlan);
  } catch (error) {
    const transient = !isSyncError(error) || error.transient;
    if (transient) throw error; // the host redelivers; the redelivery supersedes this run
    await state.updateRun(msg.runId, { status: 'failed', finishedAt: deps.now().toISOString(), error: describe(error), plan: { ...initialPlan, phase: 'done' } });
    await state.releaseLease(runLeaseName(msg.definitionId), msg.runId);
    log.warn('run failed', { definitionId: msg.definitionId, runId: msg.runId, error: describe(error) });
    return state.getRun(msg.runId);
  }
}
