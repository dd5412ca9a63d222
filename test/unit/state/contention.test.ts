import { TableConfigStorage } from '../../../src/adapters/state/table/config-records';
import { TableRunStorage } from '../../../src/adapters/state/table/runs';
import type { StateTables } from '../../../src/adapters/state/table/tables';

/**
 * Issue 10, finding 7: optimistic Table Storage writes that keep losing to other writers past
 * their retries are transient (the delivery is retried later), not `state_conflict`, a
 * config-class error that would poison the message.
 */
const preconditionFailed = () => Object.assign(new Error('The update condition specified in the request was not satisfied.'), { statusCode: 412 });

/** Tables whose reads find the record and whose every conditional write loses (412). */
function alwaysContended(extra: Record<string, unknown> = {}): StateTables {
  const rows: Record<string, Record<string, unknown>> = {
    RunIds: { partitionKey: 'r', rowKey: '', pk: 'def', rk: '0001', etag: 'W/"1"' },
    Runs: { partitionKey: 'def', rowKey: '0001', runId: 'run-1', definitionId: 'def', mode: 'incremental', trigger: 'manual', status: 'running', startedAt: '2030-01-01T00:00:00.000Z', etag: 'W/"1"' },
    Config: { partitionKey: 'source', rowKey: 'pg', createdAt: '2030-01-01T00:00:00.000Z', etag: 'W/"1"', ...extra },
  };
  const loses = async () => {
    throw preconditionFailed();
  };
  return {
    options: { concurrency: 4 },
    get: async (table: string) => rows[table] ?? null,
    client: { Runs: { updateEntity: loses, submitTransaction: loses }, Config: { updateEntity: loses, createEntity: loses } },
  } as unknown as StateTables;
}

describe('state-store contention that outlasts its retries', () => {
  afterEach(() => jest.useRealTimers());

  it('a run counter that keeps colliding gives up as a transient error', async () => {
    jest.useFakeTimers();
    const runs = new TableRunStorage(alwaysContended());
    const outcome = runs.increment('run-1', [['created', 1]]).catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(await outcome).toMatchObject({ code: 'state_unavailable', errorClass: 'transient' });
  });

  it('a configuration record that keeps changing gives up as a transient error', async () => {
    jest.useFakeTimers();
    const records = new TableConfigStorage(alwaysContended());
    const outcome = records.upsert('source', 'pg', { id: 'pg' }).catch((error: unknown) => error);
    await jest.advanceTimersByTimeAsync(60_000);
    expect(await outcome).toMatchObject({ code: 'state_unavailable', errorClass: 'transient' });
  });
});
