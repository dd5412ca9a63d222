import type { TableEntity } from '@azure/data-tables';
import type { Page, RunRecord } from '../../../core/ports/state';
import { backoff, isoOrThrow, type PageRequest } from '../common';
import { applyDeltas, COUNT_KEYS, type CounterDeltas, type RunPatch, type RunStorage } from '../runs';
import { checkEntitySize, encodeKey, getJson, getText, invertedTime, num, putJson, putText, str, type Props } from './keys';
import { fail, isStatus, stillContended, type Row, type StateTables } from './tables';

/**
 * Runs on Table Storage: the run row lives in its definition's partition of `<p>Runs` under an
 * inverted start time (newest first), `<p>RunIds` says where. Counters change by rewriting the
 * row under its ETag; a keyed increment commits a marker row (`m_<run>_<key>`, same partition)
 * in the same transaction.
 */

/** Increments of a hot run row collide often; give them time rather than fail the batch. */
const COUNTER_DEADLINE_MS = 25_000;
const RUN_LOCATION_CACHE = 10_000;
/** Run rows start with the digits of an inverted time; `m_` rows beside them mark counted keys. */
const RUN_ROWS = { ge: '0', lt: ':' };
const runMarkKey = (runId: string, key: string) => `m_${encodeKey(runId)}_${encodeKey(key)}`;

interface RunLocation {
  pk: string;
  rk: string;
}

export class TableRunStorage implements RunStorage {
  /** runId → where its row lives; immutable once written, so caching is safe. */
  private readonly locations = new Map<string, RunLocation>();

  constructor(private readonly tables: StateTables) {}

  async insert(run: RunRecord): Promise<boolean> {
    const pk = encodeKey(run.definitionId);
    const rk = `${invertedTime(isoOrThrow(run.startedAt, 'startedAt').getTime())}_${encodeKey(run.runId)}`;
    const entity = runEntity(run, { pk, rk });
    try {
      await this.tables.client.RunIds.createEntity({ partitionKey: encodeKey(run.runId), rowKey: '', pk, rk });
    } catch (error) {
      if (!isStatus(error, 409)) fail(error, `creating run '${run.runId}'`);
      // A create that crashed after writing the id row may be finished by its retry.
      const location = await this.locate(run.runId);
      if (!location || location.pk !== pk || location.rk !== rk) return false;
    }
    this.remember(run.runId, { pk, rk });
    try {
      await this.tables.client.Runs.createEntity(entity);
      return true;
    } catch (error) {
      if (isStatus(error, 409)) return false;
      fail(error, `creating run '${run.runId}'`);
    }
  }

  async read(runId: string): Promise<RunRecord | null> {
    const location = await this.locate(runId);
    if (!location) return null;
    const row = await this.tables.get('Runs', location.pk, location.rk);
    return row ? toRun(row) : null;
  }

  update(runId: string, patch: RunPatch): Promise<RunRecord | null> {
    return this.rewrite(runId, (run) => ({ ...run, ...patch, runId: run.runId, definitionId: run.definitionId }));
  }

  increment(runId: string, deltas: CounterDeltas): Promise<RunRecord | null> {
    return this.rewrite(runId, (run) => applyDeltas(run, deltas));
  }

  async incrementOnce(runId: string, key: string, deltas: CounterDeltas): Promise<RunRecord | null> {
    const location = await this.locate(runId);
    if (!location) return null;
    const mark = { partitionKey: location.pk, rowKey: runMarkKey(runId, key), runId, key };
    return this.underEtag(runId, location, async (row) => {
      const next = applyDeltas(toRun(row), deltas);
      try {
        // The marker lives in the run's partition, so marker and increment commit as one.
        await this.tables.client.Runs.submitTransaction([
          ['create', mark],
          ['update', runEntity(next, location), 'Replace', { etag: row.etag }],
        ]);
        return next;
      } catch (error) {
        if (isStatus(error, 409)) return null;
        throw error;
      }
    });
  }

  page(definitionId: string, request: PageRequest): Promise<Page<RunRecord>> {
    return this.tables.page('Runs', encodeKey(definitionId), RUN_ROWS, request, toRun);
  }

  /** Read-modify-write of the run row under its ETag, retried until it wins: concurrent changes all land. */
  private async rewrite(runId: string, change: (run: RunRecord) => RunRecord): Promise<RunRecord | null> {
    const location = await this.locate(runId);
    if (!location) return null;
    return this.underEtag(runId, location, async (row) => {
      const next = change(toRun(row));
      await this.tables.client.Runs.updateEntity(runEntity(next, location), 'Replace', { etag: row.etag });
      return next;
    });
  }

  /** Runs `write` on the current row until it is not refused with 412 (someone else wrote first) or the deadline passes; null when the row is gone. */
  private async underEtag(runId: string, location: RunLocation, write: (row: Row) => Promise<RunRecord | null>): Promise<RunRecord | null> {
    const deadline = Date.now() + (this.tables.options.counterDeadlineMs ?? COUNTER_DEADLINE_MS);
    for (let attempt = 0; ; attempt++) {
      const row = await this.tables.get('Runs', location.pk, location.rk);
      if (!row) return null;
      try {
        return await write(row);
      } catch (error) {
        if (!isStatus(error, 412)) fail(error, `updating run '${runId}'`);
        if (Date.now() > deadline) throw stillContended(`updating run '${runId}'`, error);
        await backoff(attempt, 2, 50);
      }
    }
  }

  private remember(runId: string, location: RunLocation) {
    if (this.locations.size >= RUN_LOCATION_CACHE) {
      const oldest = this.locations.keys().next();
      if (!oldest.done) this.locations.delete(oldest.value);
    }
    this.locations.set(runId, location);
  }

  private async locate(runId: string): Promise<RunLocation | null> {
    const cached = this.locations.get(runId);
    if (cached) return cached;
    const row = await this.tables.get('RunIds', encodeKey(runId), '');
    const pk = row ? str(row, 'pk') : undefined;
    const rk = row ? str(row, 'rk') : undefined;
    if (pk === undefined || rk === undefined) return null;
    this.remember(runId, { pk, rk });
    return { pk, rk };
  }
}

function runEntity(run: RunRecord, location: RunLocation): TableEntity<Props> {
  const e: Props = {
    partitionKey: location.pk,
    rowKey: location.rk,
    runId: run.runId,
    definitionId: run.definitionId,
    mode: run.mode,
    trigger: run.trigger,
    status: run.status,
    startedAt: run.startedAt,
    batchesExpected: run.batchesExpected,
    batchesSettled: run.batchesSettled,
  };
  if (run.sourceId !== undefined) e.sourceId = run.sourceId;
  if (run.finishedAt) e.finishedAt = run.finishedAt;
  if (run.waitingUntil) e.waitingUntil = run.waitingUntil;
  if (run.progressAt) e.progressAt = run.progressAt;
  for (const k of COUNT_KEYS) e[`n_${k}`] = run.counts[k];
  e.ruSpent = run.ruSpent ?? 0;
  putText(e, 'highWater', run.highWater);
  putText(e, 'error', run.error);
  putText(e, 'waitingReason', run.waitingReason);
  putJson(e, 'plan', run.plan);
  checkEntitySize(e, `run '${run.runId}'`);
  return e as TableEntity<Props>;
}

function toRun(row: Row): RunRecord {
  const run: RunRecord = {
    runId: str(row, 'runId') ?? '',
    definitionId: str(row, 'definitionId') ?? '',
    mode: str(row, 'mode') as RunRecord['mode'],
    trigger: str(row, 'trigger') as RunRecord['trigger'],
    status: str(row, 'status') as RunRecord['status'],
    startedAt: str(row, 'startedAt') ?? '',
    finishedAt: str(row, 'finishedAt') ?? null,
    highWater: getText(row, 'highWater') ?? null,
    counts: Object.fromEntries(COUNT_KEYS.map((k) => [k, num(row, `n_${k}`)])) as unknown as RunRecord['counts'],
    batchesExpected: num(row, 'batchesExpected'),
    batchesSettled: num(row, 'batchesSettled'),
    error: getText(row, 'error') ?? null,
    waitingUntil: str(row, 'waitingUntil') ?? null,
    waitingReason: getText(row, 'waitingReason') ?? null,
    progressAt: str(row, 'progressAt') ?? null,
    ruSpent: num(row, 'ruSpent'),
  };
  const sourceId = str(row, 'sourceId');
  if (sourceId !== undefined) run.sourceId = sourceId;
  const plan = getJson(row, 'plan');
  if (plan !== undefined) run.plan = plan;
  return run;
}
