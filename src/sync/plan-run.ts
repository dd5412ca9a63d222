import { randomUUID } from 'node:crypto';
import { describe, isSyncError } from '../core/errors';
import type { RunMessage } from '../core/messages';
import { QUEUES } from '../core/ports/bus';
import { emptyRunCounts, type RunRecord, type StoredDefinition } from '../core/ports/state';
import { runLeaseName, type SyncDeps } from './deps';
import { planRun } from './plan/planner';
import { stopRun, storedReason } from './run-lifecycle';
import { chargeRun } from './run-spend';
import { isRunLive, planState, type RunPlanState } from './run-state';

/**
 * The planner (`sync-runs`): one run at a time per definition. Reads what changed since the
 * cursor up to a high-water mark fixed at the start, maps and hashes rows, routes them to
 * shard lists, compares with the ledger in batches and fans out write and move batches. It
 * never reads SharePoint (a new shard's list is the only Graph call it may make). This file
 * takes the run message and its lease, and retries planning within the run; the steps live in
 * `./plan/`.
 */

/** A planning retry never waits longer than this, however many attempts came before. */
const MAX_PLAN_RETRY_DELAY_MS = 10 * 60_000;

export function newRunMessage(definitionId: string, mode: RunMessage['mode'], trigger: RunMessage['trigger'], now: Date): RunMessage {
  return { type: 'run', definitionId, runId: randomUUID(), mode, trigger, requestedAt: now.toISOString() };
}

export async function handleRunMessage(deps: SyncDeps, msg: RunMessage): Promise<RunRecord | null> {
  const { state, log } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) {
    log.warn('run for an unknown definition dropped', { definitionId: msg.definitionId, runId: msg.runId });
    return stopRun(deps, msg.runId, { status: 'failed', reason: `the definition '${msg.definitionId}' no longer exists` });
  }
  const existing = await state.getRun(msg.runId);
  const queued = existing?.status === 'queued';
  if (existing && !queued) {
    // Planning was interrupted (a crash, or a retry this run scheduled): plan again as the next attempt.
    if (isRunLive(existing) && planState(existing)?.phase === 'planning') return replan(deps, stored, msg, existing);
    return existing; // a redelivery of a run already planned or closed
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
  const initialPlan = freshPlan(stored, 1);
  if (queued) await state.updateRun(msg.runId, { status: 'running', startedAt, sourceId: base.sourceId, progressAt: startedAt, plan: initialPlan });
  else await state.createRun({ ...base, progressAt: startedAt, plan: initialPlan });
  return attemptPlanning(deps, stored, msg, initialPlan);
}

function freshPlan(stored: StoredDefinition, attempt: number, lastError?: string): RunPlanState {
  return {
    phase: 'planning',
    sourceId: stored.activeSourceId,
    mappingVersion: stored.mappingVersion,
    cursorKind: stored.definition.cursor.kind,
    start: null,
    next: null,
    passDone: false,
    byList: {},
    attempt,
    ...(lastError ? { lastError } : {}),
  };
}

/**
 * The next planning attempt of a run whose planning did not finish: it starts over from the
 * cursor (which never moved) with counts at zero; batches of the earlier attempt still land
 * harmlessly but no longer count. Past the attempt limit the run fails with the last error.
 */
async function replan(deps: SyncDeps, stored: StoredDefinition, msg: RunMessage, run: RunRecord): Promise<RunRecord | null> {
  const previous = planState(run)!;
  const attempt = (previous.attempt ?? 1) + 1;
  const lastError = previous.lastError ?? 'the planner stopped before it finished (a crash or a timeout)';
  if (attempt > deps.settings.planMaxAttempts) {
    return stopRun(deps, run.runId, { status: 'failed', reason: `planning did not complete in ${deps.settings.planMaxAttempts} attempts; last error: ${lastError}` });
  }
  if (!(await deps.state.acquireLease(runLeaseName(msg.definitionId), msg.runId, deps.settings.leaseTtlMs))) {
    return stopRun(deps, run.runId, { status: 'failed', reason: 'the run lost its lease to another run while planning was retried' });
  }
  const plan = freshPlan(stored, attempt, previous.lastError);
  await deps.state.updateRun(run.runId, { counts: emptyRunCounts(), batchesExpected: 0, batchesSettled: 0, waitingUntil: null, waitingReason: null, progressAt: deps.now().toISOString(), plan });
  deps.log.info('planning again', { definitionId: msg.definitionId, runId: msg.runId, attempt });
  return attemptPlanning(deps, stored, msg, plan);
}

/**
 * Plans the run. A config error (the admin must fix something) fails it at once. A transient
 * one (the source unreachable, a timeout) schedules the same run message again with backoff,
 * so the delivery completes and no fresh run is started: the run shows that it waits, and
 * after the last attempt it fails naming the error. Never a hot loop.
 */
async function attemptPlanning(deps: SyncDeps, stored: StoredDefinition, msg: RunMessage, plan: RunPlanState): Promise<RunRecord | null> {
  const { state, log } = deps;
  try {
    return await chargeRun(deps, msg.runId, () => planRun(deps, stored, msg, plan));
  } catch (error) {
    const reason = storedReason(describe(error));
    const transient = !isSyncError(error) || error.transient;
    const attempt = plan.attempt ?? 1;
    if (!transient) return stopRun(deps, msg.runId, { status: 'failed', reason });
    if (attempt >= deps.settings.planMaxAttempts) {
      return stopRun(deps, msg.runId, { status: 'failed', reason: `planning failed ${attempt} times; last error: ${reason}` });
    }
    const delayMs = Math.min(deps.settings.planRetryBaseMs * 2 ** (attempt - 1), MAX_PLAN_RETRY_DELAY_MS);
    const retryAt = new Date(deps.now().getTime() + delayMs);
    await state.updateRun(msg.runId, {
      waitingUntil: retryAt.toISOString(),
      waitingReason: `planning attempt ${attempt} of ${deps.settings.planMaxAttempts} failed (${reason}); retrying`,
      plan: { ...plan, lastError: reason },
    });
    await state.renewLease(runLeaseName(msg.definitionId), msg.runId, delayMs + deps.settings.leaseTtlMs);
    await deps.bus.send(QUEUES.runs, [{ body: msg, messageId: `${msg.runId}:plan${attempt + 1}`, sessionId: msg.definitionId, scheduledAt: retryAt }]);
    log.warn('planning failed; retrying within the run', { definitionId: msg.definitionId, runId: msg.runId, attempt, retryAt: retryAt.toISOString(), error: reason });
    return state.getRun(msg.runId);
  }
}
