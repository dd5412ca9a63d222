import { expectProblem, pgSource, spConnection, startApiHarness, type ApiHarness } from './harness';

/** The drift routes: a check is queued on the definition's session, reports are listed and paged, bad input is problem+json. */

let api: ApiHarness;

const definition = (id: string) => ({
  id,
  sources: [{ connectionId: 'pg', role: 'primary' }],
  table: { schema: 'public', name: 'orders' },
  fields: [{ source: 'customer' }],
  cursor: { kind: 'full' },
  target: { connectionId: 'sp', siteId: api.siteId },
  sharding: { strategy: 'none', list: 'Orders' },
});

const counts = (n: number) => ({ itemsScanned: 10, ledgerEntries: 10, missingInSharePoint: n, orphanInSharePoint: 0, pointsElsewhere: 0, duplicateInSharePoint: 0, contentMismatch: 0 });
const summary = (n: number) => ({ mode: 'quick', startedAt: '2025-01-01T00:00:00.000Z', finishedAt: '2025-01-01T00:00:01.000Z', counts: counts(n), ruSpent: 2, requests: 1, pageSize: 2, repairs: [] });

beforeAll(async () => {
  api = await startApiHarness('drift');
  expect((await api.call('POST', '/sources', { body: pgSource('pg') })).status).toBe(201);
  expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('fresh') })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('synced') })).status).toBe(201);
  const state = await api.state();
  const stored = (await state.getDefinition('synced'))!;
  await state.putDefinition({ ...stored, mapping: { key: ['id'] }, lists: { Orders: 'list-1' } }, { ifMatch: stored.etag });
  await state.putDriftReport({ definitionId: 'synced', reportId: 'older', createdAt: '2025-01-01T00:00:00.000Z', status: 'done', report: summary(3) });
  await state.putDriftReport({ definitionId: 'synced', reportId: 'newer', createdAt: '2025-01-02T00:00:00.000Z', status: 'done', report: summary(0) });
  await state.putDriftReport({ definitionId: 'synced', reportId: 'watched', createdAt: '2025-01-03T00:00:00.000Z', status: 'done', report: { ...summary(1), mode: 'watch', watchFellBack: true, fellBackLists: ['list-1'] } });
  for (const page of [0, 1]) {
    const items = [0, 1].slice(0, page === 0 ? 2 : 1).map((n) => ({ kind: 'missingInSharePoint', listId: 'list-1', itemId: String(page * 2 + n + 1), identityHash: String(n).repeat(64) }));
    await state.putDriftDifferences({ definitionId: 'synced', reportId: 'older', kind: 'missingInSharePoint', page, items });
  }
});

afterAll(() => api?.close());

describe('drift through the API', () => {
  it("a check is queued on the definition's session of the runs queue and answers 202 with its report id", async () => {
    const response = await api.call('POST', '/definitions/synced/drift', { body: { mode: 'deep' } });
    expect(response.status).toBe(202);
    expect(response.body).toMatchObject({ status: 'queued', reportId: expect.any(String) });
    const sent = api.bus.sent.at(-1)!;
    expect(sent).toMatchObject({ queue: 'sync-runs', message: { sessionId: 'synced', body: { type: 'driftCheck', mode: 'deep', reportId: response.body.reportId } } });
    const report = await api.call('GET', `/definitions/synced/drift/${response.body.reportId}`);
    expect(report.body).toMatchObject({ status: 'queued', mode: 'deep', differences: { items: [], pages: 0 } });
  });

  it('bad input is problem+json: unknown mode, unknown kind, unknown action, a definition never provisioned, an unknown report', async () => {
    expectProblem(await api.call('POST', '/definitions/synced/drift', { body: { mode: 'thorough' } }), 400);
    expectProblem(await api.call('GET', '/definitions/synced/drift/older?kind=gone'), 400);
    expectProblem(await api.call('POST', '/definitions/synced/drift/older/repair', { body: { actions: ['burnItAll'] } }), 400);
    expectProblem(await api.call('POST', '/definitions/synced/drift/older/repair', { body: { actions: [] } }), 400);
    expectProblem(await api.call('POST', '/definitions/fresh/drift', { body: { mode: 'quick' } }), 409);
    expectProblem(await api.call('POST', '/definitions/nope/drift', { body: { mode: 'quick' } }), 404);
    expectProblem(await api.call('GET', '/definitions/synced/drift/nope'), 404);
  });

  it('reports are listed newest first and a report pages its differences by kind', async () => {
    const list = await api.call('GET', '/definitions/synced/drift?limit=50');
    const ids = list.body.items.map((r: { reportId: string }) => r.reportId);
    expect(ids.indexOf('newer')).toBeLessThan(ids.indexOf('older'));
    const first = await api.call('GET', '/definitions/synced/drift/older?kind=missingInSharePoint&page=0');
    expect(first.body).toMatchObject({ counts: counts(3), ruSpent: 2, differences: { kind: 'missingInSharePoint', page: 0, pages: 2 } });
    expect(first.body.differences.items.map((d: { itemId: string }) => d.itemId)).toEqual(['1', '2']);
    const second = await api.call('GET', '/definitions/synced/drift/older?page=1');
    expect(second.body.differences.items.map((d: { itemId: string }) => d.itemId)).toEqual(['3']);
  });

  it('a watch report says whether a list fell back to a quick check (its delta token had expired)', async () => {
    const watched = await api.call('GET', '/definitions/synced/drift/watched');
    expect(watched.body).toMatchObject({ mode: 'watch', watchFellBack: true });
    expect((await api.call('GET', '/definitions/synced/drift/older')).body).not.toHaveProperty('watchFellBack');
  });

  it('a dry-run repair says what each action would do and queues nothing', async () => {
    const before = api.bus.sent.length;
    const response = await api.call('POST', '/definitions/synced/drift/older/repair', { body: { actions: ['recreateMissing', 'deleteOrphans'], dryRun: true } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ dryRun: true, actions: { recreateMissing: { wouldRepair: 3 }, deleteOrphans: { wouldRepair: 0 } } });
    expect(api.bus.sent.length).toBe(before);
    const real = await api.call('POST', '/definitions/synced/drift/older/repair', { body: { actions: ['recreateMissing'], dryRun: false } });
    expect(real.status).toBe(202);
    expect(api.bus.sent.at(-1)).toMatchObject({ message: { body: { type: 'driftRepair', actions: ['recreateMissing'] } } });
  });

  it('every drift route is in the OpenAPI document', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    expect(Object.keys(doc.paths['/definitions/{id}/drift'])).toEqual(expect.arrayContaining(['get', 'post']));
    expect(doc.paths['/definitions/{id}/drift/{reportId}'].get).toBeDefined();
    expect(doc.paths['/definitions/{id}/drift/{reportId}/repair'].post).toBeDefined();
  });
});
