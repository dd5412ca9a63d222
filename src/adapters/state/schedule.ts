import type { ReconcileMark, ScheduleStore } from '../../core/ports/state';
import { invalidInput } from './common';

/**
 * Schedule bookkeeping for every backend: the last slot the scheduler enqueued and the runs
 * counted towards the next reconcile pass. Each is one value per definition changed only by
 * compare-and-set; a backend supplies one `ScheduleCell` per value.
 */

export interface ScheduleCell<T> {
  /** The definition's value; null when none is stored. */
  read(definitionId: string): Promise<T | null>;
  /** Stores `value` only if the stored value is still `expected` (null: none stored); false when someone else changed it. */
  compareAndSet(definitionId: string, expected: T | null, value: T): Promise<boolean>;
}

function checkPasses(value: number, name: string): void {
  if (!Number.isInteger(value) || value < 0) throw invalidInput(`${name} must be a whole number of runs, 0 or more, got ${value}`);
}

/** The cells a backend supplies: one per value, each keyed by definition. */
export interface ScheduleCells {
  slots: ScheduleCell<string>;
  reconcilePasses: ScheduleCell<number>;
  driftSlots: ScheduleCell<string>;
  /** JSON of `{ listId: deltaToken }`. */
  watchTokens: ScheduleCell<string>;
  /** JSON of a `ReconcileMark`; '' once cleared. */
  reconcileMarks: ScheduleCell<string>;
}

export class ScheduleBook implements ScheduleStore {
  private readonly slots: ScheduleCell<string>;
  private readonly reconcilePasses: ScheduleCell<number>;
  private readonly driftSlots: ScheduleCell<string>;
  private readonly watchTokens: ScheduleCell<string>;
  private readonly reconcileMarks: ScheduleCell<string>;

  constructor(cells: ScheduleCells) {
    ({ slots: this.slots, reconcilePasses: this.reconcilePasses, driftSlots: this.driftSlots, watchTokens: this.watchTokens, reconcileMarks: this.reconcileMarks } = cells);
  }

  async getReconcileMark(definitionId: string): Promise<ReconcileMark | null> {
    const raw = await this.reconcileMarks.read(definitionId);
    return raw ? (JSON.parse(raw) as ReconcileMark) : null;
  }

  async putReconcileMark(definitionId: string, mark: ReconcileMark | null): Promise<void> {
    // Last writer wins: the run holding the lease writes it, a repair only clears it. A lost
    // race is retried against what is there now, so a clear is never lost.
    const value = mark ? JSON.stringify(mark) : '';
    for (let attempt = 0; attempt < 5; attempt++) {
      const current = await this.reconcileMarks.read(definitionId);
      if (current === value || (current === null && value === '')) return;
      if (await this.reconcileMarks.compareAndSet(definitionId, current, value)) return;
    }
    throw invalidInput(`the reconcile mark of '${definitionId}' kept changing while it was written`);
  }

  getDriftSlot(definitionId: string): Promise<string | null> {
    return this.driftSlots.read(definitionId);
  }

  casDriftSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean> {
    return this.driftSlots.compareAndSet(definitionId, expected, slot);
  }

  async getWatchTokens(definitionId: string): Promise<Record<string, string>> {
    const raw = await this.watchTokens.read(definitionId);
    return raw ? (JSON.parse(raw) as Record<string, string>) : {};
  }

  async putWatchTokens(definitionId: string, tokens: Record<string, string>): Promise<void> {
    // One writer (under the lease): compare-and-set against what is there now only guards a lost race with a stale instance.
    const current = await this.watchTokens.read(definitionId);
    if (!(await this.watchTokens.compareAndSet(definitionId, current, JSON.stringify(tokens)))) {
      throw invalidInput(`the drift watch tokens of '${definitionId}' changed while they were written`);
    }
  }

  getLastSlot(definitionId: string): Promise<string | null> {
    return this.slots.read(definitionId);
  }

  casLastSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean> {
    return this.slots.compareAndSet(definitionId, expected, slot);
  }

  async getReconcilePasses(definitionId: string): Promise<number> {
    return (await this.reconcilePasses.read(definitionId)) ?? 0;
  }

  async casReconcilePasses(definitionId: string, expected: number, next: number): Promise<boolean> {
    checkPasses(expected, 'expected reconcile passes');
    checkPasses(next, 'reconcile passes');
    if (expected !== 0) return this.reconcilePasses.compareAndSet(definitionId, expected, next);
    // A definition never counted has no value stored, and that means zero passes.
    return (await this.reconcilePasses.compareAndSet(definitionId, null, next)) || this.reconcilePasses.compareAndSet(definitionId, 0, next);
  }
}
