import type { RunRecord } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { stopRun } from './run-lifecycle';
import { isRunLive, planState } from './run-state';

/** Runs per page and pages at most, when the reaper walks a definition's history newest first. */
const RUNS_PAGE = 100;
const MAX_PAGES = 10;

/**
 * The reaper (on the scheduler timer): ends runs that will never end by themselves, with the
 * reason, releasing their lease and leaving the cursor where it was.
 * - stalled: no batch settled, planning did not advance and no throttle wait was due for
 *   `stallMs` (a worker died, a message was lost);
 * - superseded: its lease expired and a newer run took it over.
 * Only one run holds a definition's lease, so the walk stops at the first run that finished
 * (refused runs never held it); a stalled run older than that was superseded long ago.
 */
export async function reapStalledRuns(deps: SyncDeps): Promise<string[]> {
  const reaped: string[] = [];
  for (const stored of await deps.state.listDefinitions()) {
    for (const { run, reason } of await stuckRuns(deps, stored.definition.id)) {
      const stopped = await stopRun(deps, run.runId, { status: 'failed', reason });
      if (stopped?.status === 'failed') reaped.push(run.runId);
    }
  }
  return reaped;
}

async function stuckRuns(deps: SyncDeps, definitionId: string): Promise<Array<{ run: RunRecord; reason: string }>> {
  const now = deps.now().getTime();
  const stuck: Array<{ run: RunRecord; reason: string }> = [];
  let newestLive: RunRecord | undefined;
  let next: string | undefined;
  for (let page = 0; page < MAX_PAGES; page++) {
    const runs = await deps.state.listRuns(definitionId, { limit: RUNS_PAGE, next });
    for (const run of runs.items) {
      if (!isRunLive(run)) {
        if (run.status === 'refused') continue;
        return stuck;
      }
      if (newestLive && run.status === 'running' && newestLive.status === 'running') {
        stuck.push({ run, reason: `its lease expired and run ${newestLive.runId} took over; the cursor did not move` });
        continue;
      }
      newestLive ??= run;
      const stall = stalledFor(run, now);
      if (stall >= deps.settings.stallMs) stuck.push({ run, reason: stalledReason(run, stall) });
    }
    if (!runs.next) break;
    next = runs.next;
  }
  return stuck;
}

/** How long since the run last moved; zero while it waits out throttling or a planning retry. */
function stalledFor(run: RunRecord, now: number): number {
  const waitingUntil = run.waitingUntil ? Date.parse(run.waitingUntil) : 0;
  if (waitingUntil > now) return 0;
  const lastMove = Math.max(Date.parse(run.startedAt) || 0, run.progressAt ? Date.parse(run.progressAt) : 0, waitingUntil);
  return now - lastMove;
}

function stalledReason(run: RunRecord, stallMs: number): string {
  const minutes = Math.round(stallMs / 60_000);
  const phase = planState(run)?.phase;
  const where =
    run.status === 'queued'
      ? 'the run was never picked up by the planner'
      : phase === 'writing'
        ? `${run.batchesSettled} of ${run.batchesExpected} batches settled, then none for ${minutes} min`
        : `planning did not advance for ${minutes} min`;
  return `the run stalled: ${where} (a worker may have died or a message was lost). The cursor did not move; the next run covers the same rows`;
}
