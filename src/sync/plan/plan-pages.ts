import type { PlannedOpKind, RunRecord, StateStore } from '../../core/ports/state';
import type { SyncDeps } from '../deps';
import { planState, type PlannedOp, type PlanPageCounts } from '../run-state';

/** Ops per stored plan page, and the JSON size past which a page is written early (wide rows). */
export const PLAN_PAGE_OPS = 200;
const PLAN_PAGE_CHARS = 200_000;
/** A definition keeps the stored plans of its newest dry runs; older ones are deleted when a dry run closes. */
export const PLAN_RETENTION_DRY_RUNS = 5;
/** How far back in a definition's run history retention looks for older stored plans. */
const RETENTION_SCAN_RUNS = 100;

interface Segment {
  list: string;
  op: PlannedOpKind;
  items: PlannedOp[];
  chars: number;
}

/**
 * Writes a dry run's planned ops to the state store in pages per (shard list, operation) as the
 * planner goes: it holds at most one unfinished page per segment, never the whole plan.
 * `pages` says how many pages each segment has once `finish` is done (kept in the run record).
 */
export class PlanPageWriter {
  private readonly open = new Map<string, Segment>();
  readonly pages: PlanPageCounts = {};

  constructor(
    private readonly state: Pick<StateStore, 'putRunPlanPage'>,
    private readonly runId: string,
  ) {}

  async write(ops: PlannedOp[]): Promise<void> {
    for (const op of ops) {
      const id = JSON.stringify([op.list, op.op]);
      let segment = this.open.get(id);
      if (!segment) this.open.set(id, (segment = { list: op.list, op: op.op, items: [], chars: 0 }));
      segment.items.push(op);
      segment.chars += JSON.stringify(op).length;
      if (segment.items.length >= PLAN_PAGE_OPS || segment.chars >= PLAN_PAGE_CHARS) await this.store(segment);
    }
  }

  /** Writes the unfinished pages; answers the page count per segment. */
  async finish(): Promise<PlanPageCounts> {
    for (const segment of this.open.values()) if (segment.items.length) await this.store(segment);
    this.open.clear();
    return this.pages;
  }

  private async store(segment: Segment): Promise<void> {
    const counts = (this.pages[segment.list] ??= {});
    const page = counts[segment.op] ?? 0;
    await this.state.putRunPlanPage({ runId: this.runId, list: segment.list, op: segment.op, page, items: segment.items });
    counts[segment.op] = page + 1;
    segment.items = [];
    segment.chars = 0;
  }
}

/**
 * Retention: a definition keeps the stored plans of its newest PLAN_RETENTION_DRY_RUNS dry
 * runs (the run records stay, counts and sample included); older plans are deleted and their
 * run records say so. Called when a dry run closes, looking back RETENTION_SCAN_RUNS runs; a
 * deleted definition keeps none (`keep: 0`, looking through its whole history).
 */
export async function deleteOlderPlans(deps: Pick<SyncDeps, 'state' | 'log'>, definitionId: string, opts: { keep: number; scanRuns: number } = { keep: PLAN_RETENTION_DRY_RUNS, scanRuns: RETENTION_SCAN_RUNS }): Promise<void> {
  const { state } = deps;
  const withPlans: RunRecord[] = [];
  let next: string | undefined;
  let scanned = 0;
  do {
    const page = await state.listRuns(definitionId, { limit: 50, next });
    for (const run of page.items) if (run.mode === 'dryRun' && planState(run)?.pages) withPlans.push(run);
    scanned += page.items.length;
    next = page.next;
  } while (next && scanned < opts.scanRuns);
  for (const run of withPlans.slice(opts.keep)) {
    await state.deleteRunPlan(run.runId);
    const plan = planState(run)!;
    await state.updateRun(run.runId, { plan: { ...plan, pages: undefined, pagesDeleted: true } });
    deps.log.info('stored plan of an older dry run deleted (retention)', { definitionId, runId: run.runId });
  }
}
