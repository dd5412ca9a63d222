import type { RunRecord } from '../../../src/core/ports/state';
import { expectProblem, fieldPaths, pgSource, spConnection, startApiHarness, type ApiHarness } from './harness';

/** Runs, failures and moves of a definition through the API (records written as the pipeline writes them). */

let api: ApiHarness;

const hash = (n: number) => n.toString(16).padStart(64, '0');

function run(runId: string, startedAt: string, status: RunRecord['status'] = 'succeeded'): RunRecord {
  return {
    runId,
    definitionId: 'history',
    mode: 'incremental',
    trigger: 'manual',
    status,
    startedAt,
    counts: { read: 10, created: 4, updated: 3, unchanged: 3, moved: 0, deleted: 0, failed: 0 },
    batchesExpected: 1,
    batchesSettled: status === 'running' ? 0 : 1,
  };
}

const definition = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  sources: [{ connectionId: 'pg', role: 'primary' }],
  table: { schema: 'public', name: 'orders' },
  fields: [{ source: 'customer' }],
  cursor: { kind: 'full' },
  target: { connectionId: 'sp', siteId: api.siteId },
  sharding: { strategy: 'none', list: 'Orders' },
  ...extra,
});

beforeAll(async () => {
  api = await startApiHarness('run');
  expect((await api.call('POST', '/sources', { body: pgSource('pg') })).status).toBe(201);
  expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('orders') })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('paused', { enabled: false }) })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('history') })).status).toBe(201);
});

afterAll(() => api?.close());

describe('starting runs', () => {
  it('queues a run on the definition\'s session and answers 202 with where to follow it', async () => {
    const response = await api.call('POST', '/definitions/orders/runs', { body: { mode: 'full' } });
    expect(response.status).toBe(202);
    const { runId, statusUrl } = response.body;
    expect(statusUrl).toBe(`http://localhost:7071/api/runs/${runId}`);
    expect(response.headers.get('location')).toBe(statusUrl);
    // Visible at once, before the planner picks it up.
    const queued = await api.call('GET', `/runs/${runId}`);
    expect(queued.status).toBe(200);
    expect(queued.body).toMatchObject({ runId, status: 'queued', mode: 'full' });
    expect(api.bus.sent.at(-1)).toEqual({
      queue: 'sync-runs',
      message: { body: expect.objectContaining({ type: 'run', definitionId: 'orders', runId, mode: 'full', trigger: 'manual' }), messageId: runId, sessionId: 'orders' },
    });
  });

  it('defaults to an incremental run when the body is empty', async () => {
    expect((await api.call('POST', '/definitions/orders/runs')).status).toBe(202);
    expect(api.bus.sent.at(-1)?.message.body).toMatchObject({ mode: 'incremental' });
  });

  it('refuses bad input, unknown definitions and real runs of a disabled definition, sending nothing', async () => {
    const before = api.bus.sent.length;
    const badMode = await api.call('POST', '/definitions/orders/runs', { body: { mode: 'everything' } });
    expectProblem(badMode, 400);
    expect(fieldPaths(badMode)).toEqual(['mode']);
    const extra = await api.call('POST', '/definitions/orders/runs', { body: { mode: 'full', force: true } });
    expect(fieldPaths(extra)).toEqual(['force']);
    expectProblem(await api.call('POST', '/definitions/nope/runs', { body: { mode: 'full' } }), 404);
    expectProblem(await api.call('POST', '/definitions/paused/runs', { body: { mode: 'incremental' } }), 409);
    expect(api.bus.sent.length).toBe(before);
    // a dry run writes nothing, so a disabled definition may still have one
    expect((await api.call('POST', '/definitions/paused/runs', { body: { mode: 'dryRun' } })).status).toBe(202);
  });
});

describe('run history', () => {
  beforeAll(async () => {
    const state = await api.state();
    await state.createRun(run('run-1', '2024-05-01T10:00:00.000Z'));
    await state.createRun(run('run-2', '2024-05-01T11:00:00.000Z'));
    await state.createRun(run('run-3', '2024-05-01T12:00:00.000Z', 'running'));
  });

  it('shows one run with its live counts', async () => {
    const response = await api.call('GET', '/runs/run-3');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ runId: 'run-3', status: 'running', counts: { created: 4 }, batchesSettled: 0 });
    expectProblem(await api.call('GET', '/runs/never-queued'), 404);
    expectProblem(await api.call('GET', `/runs/${encodeURIComponent("x' or '1'='1")}`), 400);
  });

  it('cancelling a running run ends it as cancelled with the lease free; an ended run answers 409, an unknown one 404', async () => {
    const state = await api.state();
    await state.createRun({ ...run('run-cancel', '2024-04-01T12:00:00.000Z', 'running'), definitionId: 'orders' });
    expect(await state.acquireLease('run:orders', 'run-cancel', 60_000)).toBe(true);
    const cancelled = await api.call('POST', '/runs/run-cancel/cancel');
    expect(cancelled.status).toBe(200);
    expect(cancelled.body).toMatchObject({ runId: 'run-cancel', status: 'cancelled', finishedAt: expect.any(String), error: expect.stringContaining('cancelled') });
    expect(await state.acquireLease('run:orders', 'someone-else', 60_000)).toBe(true);
    await state.releaseLease('run:orders', 'someone-else');
    expectProblem(await api.call('POST', '/runs/run-cancel/cancel'), 409);
    expectProblem(await api.call('POST', '/runs/never-queued/cancel'), 404);
    expectProblem(await api.call('POST', `/runs/${encodeURIComponent("x' or '1'='1")}/cancel`), 400);
  });

  it('pages through a definition\'s runs, newest first', async () => {
    const first = await api.call('GET', '/definitions/history/runs?limit=2');
    expect(first.status).toBe(200);
    expect(first.body.items.map((r: RunRecord) => r.runId)).toEqual(['run-3', 'run-2']);
    expect(first.body.next).toEqual(expect.any(String));
    const second = await api.call('GET', `/definitions/history/runs?limit=2&next=${encodeURIComponent(first.body.next)}`);
    expect(second.body.items.map((r: RunRecord) => r.runId)).toEqual(['run-1']);
    expect(second.body.next).toBeUndefined();
  });

  it('answers bad paging input with 400 at the query field, and unknown definitions with 404', async () => {
    for (const query of ['limit=abc', 'limit=0', 'limit=100000']) {
      const response = await api.call('GET', `/definitions/orders/runs?${query}`);
      expectProblem(response, 400);
      expect(fieldPaths(response)).toEqual(['query.limit']);
    }
    expectProblem(await api.call('GET', '/definitions/nope/runs'), 404);
  });
});

describe('failures', () => {
  beforeAll(async () => {
    const state = await api.state();
    const at = '2024-05-01T10:00:00.000Z';
    await state.putFailure({ definitionId: 'orders', identityHash: hash(1), key: [1], attempts: 1, lastError: 'value too long', quarantined: false, firstFailedAt: at, lastFailedAt: at });
    await state.putFailure({ definitionId: 'orders', identityHash: hash(2), key: [2], attempts: 5, lastError: 'invalid date', quarantined: true, firstFailedAt: at, lastFailedAt: at });
  });

  it('lists failures, quarantined ones only on request', async () => {
    const open = await api.call('GET', '/definitions/orders/failures');
    expect(open.body.items.map((f: { identityHash: string }) => f.identityHash)).toEqual([hash(1)]);
    const all = await api.call('GET', '/definitions/orders/failures?includeQuarantined=true');
    expect(all.body.items.map((f: { identityHash: string }) => f.identityHash).sort()).toEqual([hash(1), hash(2)]);
  });

  it('releases chosen rows for the next run', async () => {
    const response = await api.call('POST', '/definitions/orders/failures/retry', { body: { identityHashes: [hash(2)] } });
    expect(response.status).toBe(200);
    expect(response.body).toEqual({ retried: 1 });
    const open = await api.call('GET', '/definitions/orders/failures');
    expect(open.body.items.find((f: { identityHash: string }) => f.identityHash === hash(2))).toMatchObject({ quarantined: false, attempts: 0 });
  });

  it('refuses malformed identity hashes and unknown fields, changing nothing', async () => {
    const response = await api.call('POST', '/definitions/orders/failures/retry', { body: { identityHashes: ["'; DELETE FROM failures; --"], all: true } });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['identityHashes.0', 'all']));
    expectProblem(await api.call('GET', '/definitions/nope/failures'), 404);
    expectProblem(await api.call('POST', '/definitions/nope/failures/retry'), 404);
    expectProblem(await api.call('GET', '/definitions/orders/failures?includeQuarantined=yes'), 400);
  });
});

describe('moves', () => {
  it('pages through the move audit, newest first', async () => {
    const state = await api.state();
    for (const [n, at] of [
      [1, '2024-05-01T10:00:00.000Z'],
      [2, '2024-05-01T11:00:00.000Z'],
    ] as const) {
      await state.addMove({ definitionId: 'orders', moveId: `move-${n}`, identityHash: hash(n), from: { listId: 'list-a', itemId: String(n) }, to: { listId: 'list-b', itemId: String(10 + n) }, at });
    }
    const first = await api.call('GET', '/definitions/orders/moves?limit=1');
    expect(first.status).toBe(200);
    expect(first.body.items).toEqual([expect.objectContaining({ moveId: 'move-2', from: { listId: 'list-a', itemId: '2' }, to: { listId: 'list-b', itemId: '12' } })]);
    const second = await api.call('GET', `/definitions/orders/moves?limit=1&next=${encodeURIComponent(first.body.next)}`);
    expect(second.body.items.map((m: { moveId: string }) => m.moveId)).toEqual(['move-1']);
    expectProblem(await api.call('GET', '/definitions/nope/moves'), 404);
  });
});
