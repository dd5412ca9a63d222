import type { Page, RunRecord } from '../../../core/ports/state';
import { iso, isoOrThrow, type PageRequest } from '../common';
import { COUNT_KEYS, deltaOf, PROGRESS_COUNTERS, type CounterDeltas, type RunPatch, type RunStorage } from '../runs';
import { bind, placeholders, setList, type SqlDb, type SqlEngine, type SqlValue, type SqlValues } from './db';
import { newestFirstPage } from './keyset';

/**
 * Runs in SQL: one row per run, counters as columns that an increment adds to in one
 * statement, and `run_marks` holding the keys `incrementRunOnce` has counted.
 */

const COUNTER_COLUMNS = {
  read: 'n_read',
  created: 'n_created',
  updated: 'n_updated',
  unchanged: 'n_unchanged',
  moved: 'n_moved',
  deleted: 'n_deleted',
  failed: 'n_failed',
  batchesExpected: 'batches_expected',
  batchesSettled: 'batches_settled',
  ruSpent: 'ru_spent',
} as const satisfies Record<(typeof PROGRESS_COUNTERS)[number], string>;

/** Marker and increment commit together or not at all; a concurrent twin waits on the marker's key, then finds it and changes nothing. */
const INCREMENT_ONCE: Record<SqlEngine, (s: string, sets: string) => string> = {
  postgres: (s, sets) => `WITH mark AS (
         INSERT INTO ${s}.run_marks (run_id, mark) SELECT @runId, @mark WHERE EXISTS (SELECT 1 FROM ${s}.runs WHERE run_id = @runId)
         ON CONFLICT (run_id, mark) DO NOTHING RETURNING run_id)
       UPDATE ${s}.runs AS r SET ${sets} FROM mark WHERE r.run_id = mark.run_id RETURNING r.*`,
  // UPDLOCK+HOLDLOCK makes the twin wait for the first transaction and then see its marker.
  sqlserver: (s, sets) => `SET XACT_ABORT ON;
         BEGIN TRANSACTION;
         INSERT INTO ${s}.run_marks (run_id, mark)
           SELECT @runId, @mark WHERE EXISTS (SELECT 1 FROM ${s}.runs WHERE run_id = @runId)
             AND NOT EXISTS (SELECT 1 FROM ${s}.run_marks WITH (UPDLOCK, HOLDLOCK) WHERE run_id = @runId AND mark = @mark);
         IF @@ROWCOUNT = 1 UPDATE ${s}.runs SET ${sets} OUTPUT inserted.* WHERE run_id = @runId;
         COMMIT TRANSACTION;`,
};

interface RunRow {
  run_id: string;
  definition_id: string;
  mode: RunRecord['mode'];
  run_trigger: RunRecord['trigger'];
  status: RunRecord['status'];
  source_id: string | null;
  started_at: Date;
  finished_at: Date | null;
  high_water: string | null;
  n_read: number;
  n_created: number;
  n_updated: number;
  n_unchanged: number;
  n_moved: number;
  n_deleted: number;
  n_failed: number;
  batches_expected: number;
  batches_settled: number;
  error: string | null;
  run_plan: unknown;
  listed_at: Date;
  waiting_until: Date | null;
  waiting_reason: string | null;
  progress_at: Date | null;
  ru_spent: number;
}

/** A nullable time column; the field name is for the error when the value is not ISO. */
const optionalTime = (value: string | null | undefined, field: 'finishedAt' | 'waitingUntil' | 'progressAt') => bind.time(value ? isoOrThrow(value, field) : null);

/** The columns a patch sets, with their values. */
function patchColumns(patch: RunPatch): Array<[column: string, value: SqlValue]> {
  const out: Array<[string, SqlValue]> = [];
  if (patch.mode !== undefined) out.push(['mode', bind.key(patch.mode)]);
  if (patch.trigger !== undefined) out.push(['run_trigger', bind.key(patch.trigger)]);
  if (patch.status !== undefined) out.push(['status', bind.key(patch.status)]);
  if ('sourceId' in patch) out.push(['source_id', bind.key(patch.sourceId ?? null)]);
  if (patch.startedAt !== undefined) out.push(['started_at', bind.time(isoOrThrow(patch.startedAt, 'startedAt'))]);
  if ('finishedAt' in patch) out.push(['finished_at', optionalTime(patch.finishedAt, 'finishedAt')]);
  if ('highWater' in patch) out.push(['high_water', bind.text(patch.highWater ?? null)]);
  if ('error' in patch) out.push(['error', bind.text(patch.error ?? null)]);
  if ('plan' in patch) out.push(['run_plan', bind.json(patch.plan)]);
  if ('waitingUntil' in patch) out.push(['waiting_until', optionalTime(patch.waitingUntil, 'waitingUntil')]);
  if ('waitingReason' in patch) out.push(['waiting_reason', bind.text(patch.waitingReason ?? null)]);
  if ('progressAt' in patch) out.push(['progress_at', optionalTime(patch.progressAt, 'progressAt')]);
  if (patch.batchesExpected !== undefined) out.push(['batches_expected', bind.int(patch.batchesExpected)]);
  if (patch.batchesSettled !== undefined) out.push(['batches_settled', bind.int(patch.batchesSettled)]);
  if (patch.ruSpent !== undefined) out.push(['ru_spent', bind.int(patch.ruSpent)]);
  if (patch.counts) for (const name of COUNT_KEYS) if (patch.counts[name] !== undefined) out.push([COUNTER_COLUMNS[name], bind.int(patch.counts[name])]);
  return out;
}

/** `n_read = n_read + @d_read, …` for every counter, with the deltas bound (zero where none is asked). */
function counterIncrements(deltas: CounterDeltas): { sets: string; values: SqlValues } {
  const delta = deltaOf(deltas);
  const values: SqlValues = {};
  const sets = PROGRESS_COUNTERS.map((name) => {
    values[`d_${name}`] = bind.int(delta(name));
    return `${COUNTER_COLUMNS[name]} = ${COUNTER_COLUMNS[name]} + @d_${name}`;
  });
  return { sets: sets.join(', '), values };
}

export class SqlRunStorage implements RunStorage {
  constructor(private readonly db: SqlDb) {}

  async insert(run: RunRecord): Promise<boolean> {
    const startedAt = bind.time(isoOrThrow(run.startedAt, 'startedAt'));
    const row: SqlValues = {
      definition_id: bind.key(run.definitionId),
      mode: bind.key(run.mode),
      run_trigger: bind.key(run.trigger),
      status: bind.key(run.status),
      source_id: bind.key(run.sourceId ?? null),
      started_at: startedAt,
      finished_at: optionalTime(run.finishedAt, 'finishedAt'),
      high_water: bind.text(run.highWater ?? null),
      ...Object.fromEntries(COUNT_KEYS.map((k) => [COUNTER_COLUMNS[k], bind.int(run.counts[k])])),
      batches_expected: bind.int(run.batchesExpected),
      batches_settled: bind.int(run.batchesSettled),
      error: bind.text(run.error ?? null),
      run_plan: bind.json(run.plan),
      waiting_until: optionalTime(run.waitingUntil, 'waitingUntil'),
      waiting_reason: bind.text(run.waitingReason ?? null),
      progress_at: optionalTime(run.progressAt, 'progressAt'),
      ru_spent: bind.int(run.ruSpent ?? 0),
      // The start time at creation: listing order never shifts when a run is patched later.
      listed_at: startedAt,
    };
    const key = { run_id: bind.key(run.runId) };
    const text = this.db.dialect.insertIfAbsent(this.table, { key: placeholders(key), values: placeholders(row) });
    return (await this.db.query(`creating run '${run.runId}'`, text, { ...key, ...row })).count === 1;
  }

  async read(runId: string): Promise<RunRecord | null> {
    const res = await this.db.query<RunRow>('reading a run', `SELECT * FROM ${this.table} WHERE run_id = @runId`, { runId: bind.key(runId) });
    return this.first(res.rows);
  }

  async update(runId: string, patch: RunPatch): Promise<RunRecord | null> {
    const columns = patchColumns(patch);
    if (columns.length === 0) return this.read(runId);
    const values: SqlValues = Object.fromEntries(columns);
    return this.changed(`updating run '${runId}'`, setList(placeholders(values)).join(', '), { runId: bind.key(runId), ...values });
  }

  increment(runId: string, deltas: CounterDeltas): Promise<RunRecord | null> {
    const { sets, values } = counterIncrements(deltas);
    return this.changed(`updating run '${runId}'`, sets, { runId: bind.key(runId), ...values });
  }

  async incrementOnce(runId: string, key: string, deltas: CounterDeltas): Promise<RunRecord | null> {
    const { sets, values } = counterIncrements(deltas);
    const res = await this.db.query<RunRow>(`updating run '${runId}'`, INCREMENT_ONCE[this.db.engine](this.db.dialect.schema, sets), {
      runId: bind.key(runId),
      mark: bind.key(key),
      ...values,
    });
    return this.first(res.rows);
  }

  page(definitionId: string, request: PageRequest): Promise<Page<RunRecord>> {
    const listing = { table: this.table, definitionId, timeColumn: 'listed_at', idColumn: 'run_id', what: 'listing runs' } as const;
    return newestFirstPage<RunRow, RunRecord>(this.db, listing, request, (r) => this.toRun(r));
  }

  private get table(): string {
    return `${this.db.dialect.schema}.runs`;
  }

  private async changed(what: string, sets: string, values: SqlValues): Promise<RunRecord | null> {
    const res = await this.db.query<RunRow>(what, this.db.dialect.updateReturning(this.table, sets, 'run_id = @runId', ['*']), values);
    return this.first(res.rows);
  }

  private first(rows: RunRow[]): RunRecord | null {
    const row = rows[0];
    return row ? this.toRun(row) : null;
  }

  private toRun(r: RunRow): RunRecord {
    const run: RunRecord = {
      runId: r.run_id,
      definitionId: r.definition_id,
      mode: r.mode,
      trigger: r.run_trigger,
      status: r.status,
      startedAt: iso(r.started_at) ?? '',
      finishedAt: iso(r.finished_at) ?? null,
      highWater: r.high_water,
      counts: { read: r.n_read, created: r.n_created, updated: r.n_updated, unchanged: r.n_unchanged, moved: r.n_moved, deleted: r.n_deleted, failed: r.n_failed },
      batchesExpected: r.batches_expected,
      batchesSettled: r.batches_settled,
      error: r.error,
      waitingUntil: iso(r.waiting_until) ?? null,
      waitingReason: r.waiting_reason,
      progressAt: iso(r.progress_at) ?? null,
      ruSpent: r.ru_spent ?? 0,
    };
    if (r.source_id !== null) run.sourceId = r.source_id;
    const plan = this.db.json(r.run_plan);
    if (plan !== null && plan !== undefined) run.plan = plan;
    return run;
  }
}
