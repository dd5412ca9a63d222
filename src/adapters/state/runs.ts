import { notFound } from '../../core/errors';
import type { Page, ProgressCounter, RunCounts, RunRecord, RunStore } from '../../core/ports/state';
import { invalidInput, isoOrThrow, MODULE, pageRequest, stateConflict, storedErrorText, type PageRequest } from './common';

/**
 * Runs and their progress counters for every backend: which counters exist, that increments are
 * whole numbers checked before any I/O, and what a missing run or a repeated key means. A
 * backend supplies `RunStorage`, whose increments are atomic however it achieves that.
 */

export const COUNT_KEYS = ['read', 'created', 'updated', 'unchanged', 'moved', 'deleted', 'failed'] as const satisfies ReadonlyArray<keyof RunCounts>;
export const PROGRESS_COUNTERS = [...COUNT_KEYS, 'batchesExpected', 'batchesSettled', 'ruSpent'] as const satisfies ReadonlyArray<ProgressCounter>;

export type RunPatch = Partial<Omit<RunRecord, 'runId' | 'definitionId'>>;
/** Checked deltas: known counters, whole numbers, none zero. */
export type CounterDeltas = ReadonlyArray<readonly [ProgressCounter, number]>;

export interface RunStorage {
  /** Writes a new run; false when a run with this id exists. */
  insert(run: RunRecord): Promise<boolean>;
  read(runId: string): Promise<RunRecord | null>;
  /** Applies the patch; null when there is no such run. */
  update(runId: string, patch: RunPatch): Promise<RunRecord | null>;
  /** Adds the deltas in one atomic write; null when there is no such run. */
  increment(runId: string, deltas: CounterDeltas): Promise<RunRecord | null>;
  /** Adds the deltas and records `key` in one atomic write; null when `key` is already recorded or there is no such run. */
  incrementOnce(runId: string, key: string, deltas: CounterDeltas): Promise<RunRecord | null>;
  /** The definition's runs newest first, from the page token `request.next`. */
  page(definitionId: string, request: PageRequest): Promise<Page<RunRecord>>;
}

/** Validates deltas before any I/O, so a typo'd counter name cannot silently do nothing. */
function checkDeltas(deltas: Partial<Record<ProgressCounter, number>>): CounterDeltas {
  const out: Array<[ProgressCounter, number]> = [];
  for (const [name, value] of Object.entries(deltas)) {
    if (!(PROGRESS_COUNTERS as readonly string[]).includes(name)) throw invalidInput(`unknown run counter '${name}'`);
    if (value === undefined || value === 0) continue;
    if (!Number.isInteger(value)) throw invalidInput(`run counter '${name}' must change by a whole number, got ${value}`);
    out.push([name as ProgressCounter, value]);
  }
  return out;
}

/** The run after the deltas, for backends that increment by rewriting the record. */
export function applyDeltas(run: RunRecord, deltas: CounterDeltas): RunRecord {
  const counts = { ...run.counts };
  let { batchesExpected, batchesSettled } = run;
  let ruSpent = run.ruSpent ?? 0;
  for (const [name, value] of deltas) {
    if (name === 'batchesExpected') batchesExpected += value;
    else if (name === 'batchesSettled') batchesSettled += value;
    else if (name === 'ruSpent') ruSpent += value;
    else counts[name] += value;
  }
  return { ...run, counts, batchesExpected, batchesSettled, ruSpent };
}

/** The delta for every counter, zero where none is asked: for statements that add to each column. */
export function deltaOf(deltas: CounterDeltas): (counter: ProgressCounter) => number {
  const byName = new Map(deltas);
  return (counter) => byName.get(counter) ?? 0;
}

function checkTimes(run: RunPatch): void {
  if (run.startedAt !== undefined) isoOrThrow(run.startedAt, 'startedAt');
  if (run.finishedAt) isoOrThrow(run.finishedAt, 'finishedAt');
  if (run.waitingUntil) isoOrThrow(run.waitingUntil, 'waitingUntil');
  if (run.progressAt) isoOrThrow(run.progressAt, 'progressAt');
}

export class Runs implements RunStore {
  constructor(private readonly storage: RunStorage) {}

  async createRun(run: RunRecord): Promise<void> {
    checkTimes(run);
    if (!(await this.storage.insert({ ...run, error: storedErrorText(run.error) }))) throw stateConflict(`run '${run.runId}' already exists`);
  }

  getRun(runId: string): Promise<RunRecord | null> {
    return this.storage.read(runId);
  }

  async updateRun(runId: string, patch: RunPatch): Promise<RunRecord> {
    checkTimes(patch);
    return this.found(runId, await this.storage.update(runId, 'error' in patch ? { ...patch, error: storedErrorText(patch.error) } : patch));
  }

  async incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<RunRecord> {
    const checked = checkDeltas(deltas);
    return this.found(runId, await this.storage.increment(runId, checked));
  }

  async incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<{ run: RunRecord; applied: boolean }> {
    const checked = checkDeltas(deltas);
    const counted = await this.storage.incrementOnce(runId, key, checked);
    if (counted) return { run: counted, applied: true };
    return { run: this.found(runId, await this.storage.read(runId)), applied: false };
  }

  listRuns(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<RunRecord>> {
    return this.storage.page(definitionId, pageRequest(opts));
  }

  private found(runId: string, run: RunRecord | null): RunRecord {
    if (!run) throw notFound(MODULE, 'run', runId);
    return run;
  }
}
