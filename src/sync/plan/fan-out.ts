import type { SyncDefinition } from '../../core/definitions';
import { describe } from '../../core/errors';
import type { WriteBatchMessage } from '../../core/messages';
import { QUEUES, type OutgoingMessage } from '../../core/ports/bus';
import type { SyncDeps } from '../deps';
import { recordFailures } from '../failures';
import { markProgress } from '../settle';
import { handleWriteBatch } from '../write-batch';
import { batchMessages, type BatchAddress } from './emit';
import type { PlanPageWriter } from './plan-pages';
import { takeRunRu } from '../run-spend';
import type { PlannedRun } from './planned';

/**
 * A run whose whole plan is this small (write batches, and ops: `settings.inlineWriteMaxOps`; no
 * moves) writes it in the planning invocation instead of fanning out: a short run then costs no
 * queue hop to its writers and none to its finalizer.
 */
export const INLINE_MAX_BATCHES = 8;

/**
 * Fans a run out page by page, so the planner never holds more than a page of ops: after each
 * planned page its batches are sent and counted into the run's `batchesExpected`, its row
 * failures recorded, and the plan's ops dropped. The finalizer waits for the planner to mark
 * the run `writing` (after the last page) as well as for every counted batch to settle.
 * A crash between a send and its count leaves the run in `planning`: the redelivery re-plans it
 * as the next attempt, whose batch ids differ, so the earlier batches are never counted.
 * A dry run sends nothing: it keeps the counts and writes its planned ops to the plan pages.
 *
 * While everything planned so far fits INLINE_MAX_BATCHES / `inlineWriteMaxOps`, the write batches
 * are counted but held; `writeHeld` then runs them through the writer (the same ledger protocol,
 * pending → Graph → synced, and the same settle) while the run is still `planning`. A process
 * crash there is a crash while planning: the run message is redelivered and re-planned, and the
 * writer adopts what the pending entries made; a batch whose inline write throws goes to the
 * write queue instead. The first page that does not fit sends what was
 * held with its own batches, and the run fans out as usual.
 */
export class PageFanOut {
  private seq = 0;
  private countedRead = 0;
  private countedUnchanged = 0;
  private failedRows = 0;
  private holding = true;
  private readonly held: OutgoingMessage[] = [];

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
    let writes = batches.writes;
    if (this.holding && batches.moves.length === 0 && fitsInline([...this.held, ...writes], deps.settings.inlineWriteMaxOps)) {
      this.held.push(...writes);
      writes = [];
    } else if (this.holding) {
      this.holding = false;
      writes = [...this.held.splice(0), ...writes];
    }
    if (writes.length) await deps.bus.send(QUEUES.writes, writes);
    if (batches.moves.length) await deps.bus.send(QUEUES.moves, batches.moves);
    this.seq += sent;
    await deps.faultPoint?.('plan:after-send');
    if (read + unchanged + failures.length + sent === 0) return;
    const run = await deps.state.incrementRun(address.runId, { read, unchanged, failed: failures.length, batchesExpected: sent, ruSpent: takeRunRu() });
    await markProgress(deps, run);
  }

  /**
   * Writes the held batches in this invocation, side by side. A batch whose write fails here is
   * handed to the write queue, where redelivery and dead-lettering take it as its first failed
   * delivery would.
   */
  async writeHeld(): Promise<void> {
    const held = this.held.splice(0);
    this.holding = false;
    await Promise.all(
      held.map(async (message) => {
        try {
          await handleWriteBatch(this.deps, message.body as WriteBatchMessage);
        } catch (error) {
          this.deps.log.info('an inline write batch failed; handing it to the write queue', { runId: this.address.runId, batchId: message.messageId, error: describe(error) });
          await this.deps.bus.send(QUEUES.writes, [message]);
        }
      }),
    );
  }
}

function fitsInline(writes: OutgoingMessage[], maxOps: number): boolean {
  if (writes.length > INLINE_MAX_BATCHES) return false;
  return writes.reduce((ops, w) => ops + (w.body as WriteBatchMessage).ops.length, 0) <= maxOps;
}
