import type { CursorPosition } from '../core/ports/source';
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
  /** Per shard list: what the run does there (also the dry-run plan). */
  byList: Record<string, PlanCounts>;
  sample?: PlannedOpSample[];
  reconciled?: boolean;
  supersededBy?: string;
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

export const emptyPlanCounts = (): PlanCounts => ({ create: 0, update: 0, delete: 0, move: 0, unchanged: 0 });

export function planState(run: RunRecord): RunPlanState | null {
  const plan = run.plan as RunPlanState | undefined;
  return plan && typeof plan === 'object' && 'phase' in plan ? plan : null;
}
