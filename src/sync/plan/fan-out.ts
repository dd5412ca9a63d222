import type { SyncDefinition } from '../../core/definitions';
import { QUEUES } from '../../core/ports/bus';
import type { SyncDeps } from '../deps';
import { recordFailures } from '../failures';
import { markProgress } from '../settle';
import { batchMessages, type BatchAddress } from './emit';
import type { PlanPageWriter } from './plan-pages';
import { takeRunRu } from '../run-spend';
import type { PlannedRun } from './planned';

/**
 * Fans a run out page by page, so the planner never holds more than a page of ops: after each
 * planned page its batches are sent and counted into the run's `batchesExpected`, its row
 * failures recorded, and the plan's ops dropped. The finalizer waits for the planner to mark
 * the run `writing` (after the last page) as well as for every counted batch to settle.
 * A crash between a send and its count leaves the run in `planning`: the redelivery re-plans it
 * as the next attempt, whose batch ids differ, so the earlier batches are never counted.
 * A dry run sends nothing: it keeps the counts and writes its planned ops to the plan pages.
 */
export class PageFanOut {
  private seq = 0;
  private countedRead = 0;
  private countedUnchanged = 0;
  private failedRows = 0;

  constructor(
    private readonly deps: SyncDeps,
    private readonly def: SyncDefinition,
    private readonly address: Required<BatchAddress>,
    private readonly dryRun: boolean,
    private readonly planPages?: PlanPageWriter,
  ) {}

  /** Row failures counted so far (a dry run counts without recording). */
  get failed(): number {
    return this.failedRows;
  }

  async flush(plan: PlannedRun): Promise<void> {
    const { deps, def, address } = this;
    const batches = this.dryRun ? { writes: [], moves: [], tooLarge: [] } : batchMessages(plan, address, deps.settings, this.seq);
    plan.writes.clear();
    plan.moves.length = 0;
    const failures = [...plan.failures.splice(0), ...batches.tooLarge];
    const cleared = plan.clearFailures.splice(0);
    this.failedRows += failures.length;
    const read = plan.read - this.countedRead;
    const unchanged = plan.unchanged - this.countedUnchanged;
    this.countedRead = plan.read;
    this.countedUnchanged = plan.unchanged;
    if (this.dryRun) {
      await this.planPages?.write(plan.planned.splice(0));
      return;
    }

    if (failures.length) await recordFailures(deps, def, address.runId, failures);
    if (cleared.length) await deps.state.deleteFailures(def.id, cleared);
    const sent = batches.writes.length + batches.moves.length;
    if (batches.writes.length) await deps.bus.send(QUEUES.writes, batches.writes);
    if (batches.moves.length) await deps.bus.send(QUEUES.moves, batches.moves);
    this.seq += sent;
    await deps.faultPoint?.('plan:after-send');
    if (read + unchanged + failures.length + sent === 0) return;
    const run = await deps.state.incrementRun(address.runId, { read, unchanged, failed: failures.length, batchesExpected: sent, ruSpent: takeRunRu() });
    await markProgress(deps, run);
  }
}
