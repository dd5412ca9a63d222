import { AsyncLocalStorage } from 'node:async_hooks';
import { meterSpend, type Spend } from '../core/spend-meter';
import type { SyncDeps } from './deps';

/**
 * A run's RU (`RunRecord.ruSpent`), counted where the spend happens: planning, write batches
 * and move batches run inside `chargeRun`, which meters every Graph request sent inside it.
 * The RU rides along with the counter write that already ends the work (a settled batch, a
 * planned page, a closed dry run) through `takeRunRu`, so a finished run already holds its RU;
 * whatever no counter took (a delivery that threw, a deferred batch) is added when the work ends.
 */

class RunCharge {
  readonly spend: Spend = { ru: 0, requests: 0 };
  constructor(readonly runId: string) {}
  private billed = 0;

  take(): number {
    const ru = this.spend.ru - this.billed;
    this.billed = this.spend.ru;
    return ru;
  }

  /** The counter write that took `ru` did not apply (a duplicate delivery): bill it later. */
  giveBack(ru: number): void {
    this.billed -= ru;
  }
}

const charges = new AsyncLocalStorage<RunCharge>();

export async function chargeRun<T>(deps: Pick<SyncDeps, 'state' | 'log'>, runId: string, work: () => Promise<T>): Promise<T> {
  // Work of the same run inside its charge (a small plan written by the planning invocation) is already metered by it.
  if (charges.getStore()?.runId === runId) return work();
  const charge = new RunCharge(runId);
  try {
    return (await charges.run(charge, () => meterSpend(work, charge.spend))).result;
  } finally {
    const left = charge.take();
    if (left > 0) {
      await deps.state.incrementRun(runId, { ruSpent: left }).catch((error: unknown) => {
        deps.log.warn('could not add the RU a delivery spent to its run', { runId, ru: left, error: String(error) });
      });
    }
  }
}

/** The RU spent inside the current `chargeRun` that no counter write has taken yet (0 outside one). */
export function takeRunRu(): number {
  return charges.getStore()?.take() ?? 0;
}

/** Returns RU that `takeRunRu` handed to a counter write that did not apply. */
export function returnRunRu(ru: number): void {
  if (ru > 0) charges.getStore()?.giveBack(ru);
}
