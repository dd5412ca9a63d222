import { conflict, notFound } from '../core/errors';
import { PLANNED_OPS, type PlannedOpKind, type StateStore } from '../core/ports/state';
import { planState, type PlanCounts, type PlannedOp } from './run-state';

/**
 * Pages through a dry run's stored plan (`GET /runs/{runId}/plan`): the stored pages of each
 * (shard list, operation) in a fixed order (lists by name, then create, update, move, delete),
 * numbered from 0 across the segments the filter keeps. The run record says how many pages each
 * segment has, so any page is one read.
 */

export interface PlanQuery {
  op?: PlannedOpKind;
  list?: string;
  page: number;
}

export interface PlanPageView {
  runId: string;
  definitionId: string;
  page: number;
  /** Pages the filter matches (0: nothing planned there). */
  pages: number;
  /** Ops the filter matches, from the run's counts. */
  total: number;
  items: PlannedOp[];
  /** Every shard list the plan names, for filtering. */
  lists: string[];
  byList: Record<string, PlanCounts>;
}

export async function runPlanPage(state: Pick<StateStore, 'getRun' | 'getRunPlanPage'>, runId: string, query: PlanQuery): Promise<PlanPageView> {
  const run = await state.getRun(runId);
  if (!run) throw notFound('sync', 'run', runId);
  const plan = planState(run);
  if (run.mode !== 'dryRun') throw conflict('sync', 'not_a_dry_run', `run '${runId}' is a ${run.mode} run: only dry runs store their whole plan (its plan sample is in the run record)`);
  if (plan?.pagesDeleted) throw conflict('sync', 'plan_deleted', `the stored plan of run '${runId}' was deleted by retention (a definition keeps the plans of its newest dry runs); start another dry run`);
  if (!plan?.pages || plan.phase !== 'done') throw conflict('sync', 'plan_not_ready', `run '${runId}' is ${run.status}: its plan is readable once the dry run has succeeded`);

  const byList = plan.byList ?? {};
  const lists = [...new Set([...Object.keys(byList), ...Object.keys(plan.pages)])].sort();
  const segments = lists
    .filter((list) => query.list === undefined || list === query.list)
    .flatMap((list) => PLANNED_OPS.filter((op) => query.op === undefined || op === query.op).map((op) => ({ list, op, pages: plan.pages![list]?.[op] ?? 0, ops: byList[list]?.[op] ?? 0 })));
  const pages = segments.reduce((sum, s) => sum + s.pages, 0);
  const total = segments.reduce((sum, s) => sum + s.ops, 0);
  const view = { runId, definitionId: run.definitionId, page: query.page, pages, total, lists, byList };
  if (query.page === 0 && pages === 0) return { ...view, items: [] };
  if (query.page >= pages) throw notFound('sync', 'plan page', `${query.page} (the filter matches ${pages} pages, numbered from 0)`);
  let index = query.page;
  for (const segment of segments) {
    if (index < segment.pages) {
      const items = await state.getRunPlanPage(runId, segment.list, segment.op, index);
      if (items === null) throw conflict('sync', 'plan_deleted', `page ${index} of the ${segment.op} plan for '${segment.list}' of run '${runId}' is gone (deleted by retention meanwhile)`);
      return { ...view, items: items as PlannedOp[] };
    }
    index -= segment.pages;
  }
  throw notFound('sync', 'plan page', String(query.page));
}
