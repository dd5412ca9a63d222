import { PLANNED_OPS, type PlannedOpKind, type RunPlanPage, type RunPlanStore } from '../../core/ports/state';
import { invalidInput } from './common';

/**
 * A dry run's plan in pages, for every backend: one page per (run, shard list, operation, page
 * number), replaced by a later save (a re-planned attempt writes its pages again), deleted with
 * the run's plan by the retention rule (sync/plan/plan-pages.ts).
 */

export interface RunPlanStorage {
  write(page: RunPlanPage): Promise<void>;
  read(runId: string, list: string, op: PlannedOpKind, page: number): Promise<unknown[] | null>;
  deleteAll(runId: string): Promise<void>;
}

export const MAX_PLAN_PAGE = 999_999;

function checkPageKey(list: string, op: string, page: number): void {
  if (!(PLANNED_OPS as readonly string[]).includes(op)) throw invalidInput(`planned operation '${op}' is not one of ${PLANNED_OPS.join(', ')}`);
  if (list.length === 0 || list.length > 255) throw invalidInput('a plan page names its list in 1–255 characters');
  if (!Number.isInteger(page) || page < 0 || page > MAX_PLAN_PAGE) throw invalidInput(`plan page ${page} is not a whole number 0–${MAX_PLAN_PAGE}`);
}

export class RunPlans implements RunPlanStore {
  constructor(private readonly storage: RunPlanStorage) {}

  async putRunPlanPage(page: RunPlanPage): Promise<void> {
    checkPageKey(page.list, page.op, page.page);
    await this.storage.write(page);
  }

  async getRunPlanPage(runId: string, list: string, op: PlannedOpKind, page: number): Promise<unknown[] | null> {
    checkPageKey(list, op, page);
    return this.storage.read(runId, list, op, page);
  }

  deleteRunPlan(runId: string): Promise<void> {
    return this.storage.deleteAll(runId);
  }
}
