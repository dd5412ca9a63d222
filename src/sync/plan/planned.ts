import type { MoveOpMessage, WriteOpMessage } from '../../core/messages';
import type { LedgerEntry } from '../../core/ports/state';
import { emptyPlanCounts, type PlanCounts, type PlannedOp, type PlannedOpSample } from '../run-state';
import type { RowDecision } from './compare';
import type { RowFailure } from './map-rows';

/** Ops shown in a run's plan (the dry-run preview); the counts cover every row. */
export const SAMPLE_SIZE = 20;

/**
 * What a run has planned so far: write ops per list id, moves, counts and a sample per shard
 * list, row failures, and failures to clear. Filled page by page; sent by the fan-out step.
 */
export class PlannedRun {
  readonly writes = new Map<string, WriteOpMessage[]>();
  readonly moves: MoveOpMessage[] = [];
  readonly byList: Record<string, PlanCounts> = {};
  readonly sample: PlannedOpSample[] = [];
  /** A dry run's planned ops since the last flush, with their fields (kept only when asked: `keepOps`). */
  readonly planned: PlannedOp[] = [];
  readonly failures: RowFailure[] = [];
  /** Failure-list rows that need no more attempts (written, unchanged, or gone). */
  readonly clearFailures: string[] = [];
  /** `pending` entries of soft-deleted rows, taken by the planner to look their items up (reconcile.ts). */
  readonly pendingOfDeleted: LedgerEntry[] = [];
  /** List id → display name, for naming the list an item is in now. */
  readonly listNames: Map<string, string>;
  read = 0;
  unchanged = 0;

  constructor(
    lists: Record<string, string>,
    private readonly keepOps = false,
  ) {
    this.listNames = new Map(Object.entries(lists).map(([name, id]) => [id, name]));
  }

  /** Adds one row's decision; `retried` says the row came from the failure list. */
  add(decision: RowDecision, retried: boolean): void {
    switch (decision.op) {
      case 'create':
        this.count(decision.list, 'create');
        this.addSample({ op: 'create', identityHash: decision.write.identityHash, key: decision.write.key, list: decision.list }, { fields: decision.write.fields });
        if (decision.to.kind === 'provisioned') this.addWrite(decision.to.listId, decision.write);
        return;
      case 'update':
        this.count(decision.list, 'update');
        this.addSample({ op: 'update', identityHash: decision.write.identityHash, key: decision.write.key, list: decision.list }, changesOf(decision.write));
        this.addWrite(decision.listId, decision.write);
        return;
      case 'move': {
        const { row } = decision;
        this.count(decision.list, 'move');
        this.addSample({ op: 'move', identityHash: row.identity, key: row.key, list: decision.list, fromList: decision.fromList }, { fields: row.fields });
        if (decision.to.kind === 'provisioned') {
          this.moves.push({ identityHash: row.identity, from: decision.from, toListId: decision.to.listId, fields: row.fields, contentHash: row.contentHash, key: row.key });
        }
        return;
      }
      case 'delete':
        this.addDelete(decision.list, decision.listId, decision.write);
        return;
      case 'unchanged':
        this.count(decision.list, 'unchanged');
        this.unchanged++;
        if (retried) this.clearFailures.push(decision.identityHash);
        return;
      case 'nothingToDelete':
        if (retried) this.clearFailures.push(decision.identityHash);
        return;
      case 'deletePending':
        // Counted when the planner plans its delete (or drops the entry).
        this.pendingOfDeleted.push(decision.entry);
        if (retried) this.clearFailures.push(decision.entry.identityHash);
        return;
    }
  }

  addDelete(list: string, listId: string, write: WriteOpMessage): void {
    this.countDelete(list, write.identityHash, write.key);
    this.addWrite(listId, write);
  }

  /** Counts and samples a delete (also one that only drops a ledger entry with no item). */
  countDelete(list: string, identityHash: string, key: unknown[]): void {
    this.count(list, 'delete');
    this.addSample({ op: 'delete', identityHash, key, list });
  }

  fail(failure: RowFailure): void {
    this.failures.push(failure);
  }

  private count(list: string, op: keyof PlanCounts): void {
    const counts = (this.byList[list] ??= emptyPlanCounts());
    counts[op]++;
  }

  private addSample(sample: PlannedOpSample, detail: Pick<PlannedOp, 'fields' | 'changedFields'> = {}): void {
    if (this.sample.length < SAMPLE_SIZE) this.sample.push(sample);
    if (this.keepOps) this.planned.push({ ...sample, ...detail });
  }

  private addWrite(listId: string, op: WriteOpMessage): void {
    const ops = this.writes.get(listId) ?? [];
    ops.push(op);
    this.writes.set(listId, ops);
  }
}

/** An update's changed fields with their new values (every field when the ledger cannot tell which changed). */
function changesOf(write: WriteOpMessage): Pick<PlannedOp, 'fields' | 'changedFields'> {
  const fields = write.fields ?? {};
  if (!write.changedFields) return { fields, changedFields: null };
  return { fields: Object.fromEntries(write.changedFields.filter((name) => name in fields).map((name) => [name, fields[name]])), changedFields: write.changedFields };
}
