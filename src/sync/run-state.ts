import type { CursorPosition, ExactValue } from '../core/ports/source';
import type { RunRecord } from '../core/ports/state';

/** What a run remembers between planning and finalizing (stored in `RunRecord.plan`). */
export interface RunPlanState {
  phase: 'planning' | 'writing' | 'done';
  sourceId: string;
  mappingVersion: number;
  cursorKind: 'timestamp' | 'rowversion' | 'integer' | 'full';
  start: CursorPosition | null;
  /** Where the pass stands after this run's reads; null with passDone = read up to the high-water mark. */
  next: CursorPosition | null;
  passDone: boolean;
  /** `timestamp` cursors: the pass's read time (`SourceDatabase.visibleBefore`), stored with the mark it ends at. */
  visibleBefore?: ExactValue | null;
  /** Per shard list: what the run does there (also the dry-run plan). */
  byList: Record<string, PlanCounts>;
  sample?: PlannedOpSample[];
  /** Dry runs: how many stored plan pages each (shard list, operation) has (`GET /runs/{runId}/plan`). */
  pages?: PlanPageCounts;
  /** Ops per full stored plan page. */
  pageOps?: number;
  /** The stored plan was deleted by retention (the counts and sample remain). */
  pagesDeleted?: boolean;
  reconciled?: boolean;
  /** Reconciled without comparing keys: the source's key set was unchanged since the ledger was known to hold no orphan (reconcile-mark.ts). */
  reconcileSkipped?: boolean;
  supersededBy?: string;
  /** Planning attempt (1 = first). A redelivered or retried run message re-plans as the next attempt. */
  attempt?: number;
  /** The error that ended the previous planning attempt (redacted). */
  lastError?: string;
}

export interface PlanCounts {
  create: number;
  update: number;
  delete: number;
  move: number;
  unchanged: number;
}

export interface PlannedOpSample {
  op: 'create' | 'update' | 'delete' | 'move';
  identityHash: string;
  key: unknown[];
  list: string;
  fromList?: string;
}

/** One planned op of a dry run, as stored in its plan pages. */
export interface PlannedOp extends PlannedOpSample {
  /** Creates and moves: every field; updates: the fields that would change (all when `changedFields` is null). */
  fields?: Record<string, unknown>;
  /** Updates: the names of the fields that would change; null when the ledger cannot tell (every field is then written). */
  changedFields?: string[] | null;
}

/** Stored plan pages per shard list and operation. */
export type PlanPageCounts = Record<string, Partial<Record<PlannedOpSample['op'], number>>>;

export const emptyPlanCounts = (): PlanCounts => ({ create: 0, update: 0, delete: 0, move: 0, unchanged: 0 });

export function planState(run: RunRecord): RunPlanState | null {
  const plan = run.plan as RunPlanState | undefined;
  return plan && typeof plan === 'object' && 'phase' in plan ? plan : null;
}

/**
 * A batch id: the run, the planning attempt, write (`w`) or move (`m`), a sequence number. The
 * first attempt keeps the plain `<run>:w<n>` form; later ones insert `a<attempt>`, so a batch of
 * an earlier attempt is recognised (and not counted) when it settles late.
 */
export function batchIdOf(runId: string, attempt: number, kind: 'w' | 'm', seq: number): string {
  return attempt > 1 ? `${runId}:a${attempt}:${kind}${seq}` : `${runId}:${kind}${seq}`;
}

export function attemptOfBatch(batchId: string): number {
  const match = /:a(\d+):[wm]\d+$/.exec(batchId);
  return match ? Number(match[1]) : 1;
}

export const planAttempt = (run: RunRecord): number => planState(run)?.attempt ?? 1;

/** A run that batches may still write for: writers and movers drop batches of any other run. */
export function isRunLive(run: RunRecord | null | undefined): boolean {
  return run?.status === 'queued' || run?.status === 'running';
}
