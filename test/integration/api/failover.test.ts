import { expectProblem, fieldPaths, pgSource, quote, spConnection, startApiHarness, type ApiHarness } from './harness';

/** `/api/definitions/{id}/failover`, `/failovers` and `/sources` against real PostgreSQL and Azurite. */

let api: ApiHarness;

const definition = (id: string, extra: Record<string, unknown> = {}) => ({
  id,
  sources: [
    { connectionId: 'pg', role: 'primary' },
    { connectionId: 'pg-copy', role: 'secondary', priority: 1 },
    { connectionId: 'pg-nosecret', role: 'secondary', priority: 2 },
  ],
  table: { schema: api.schema, name: 'orders' },
  fields: [{ source: 'customer' }],
  cursor: { kind: 'integer', column: 'id' },
  target: { connectionId: 'sp', siteId: api.siteId },
  sharding: { strategy: 'none', list: `List ${id}` },
  ...extra,
});

beforeAll(async () => {
  api = await startApiHarness('fo');
  await api.sql(`CREATE TABLE ${quote(api.schema)}.orders (id int PRIMARY KEY, customer text NOT NULL)`);
  for (const body of [pgSource('pg'), pgSource('pg-copy'), pgSource('pg-nosecret', { secretRef: 'pg-absent' })]) expect((await api.call('POST', '/sources', { body })).status).toBe(201);
  expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
  expect((await api.call('POST', '/definitions', { body: definition('ha') })).status).toBe(201);
});

afterAll(() => api?.close());

describe('failover through the API', () => {
  it('lists the sources with role, priority and no health before the first probe', async () => {
    const response = await api.call('GET', '/definitions/ha/sources');
    expect(response.status).toBe(200);
    expect(response.body.items).toEqual([
      { connectionId: 'pg', role: 'primary', priority: 0, health: null },
      { connectionId: 'pg-copy', role: 'secondary', priority: 1, health: null },
      { connectionId: 'pg-nosecret', role: 'secondary', priority: 2, health: null },
    ]);
    expectProblem(await api.call('GET', '/definitions/nope/sources'), 404);
  });

  it('refuses a bad request body and a target that fails its probe, as problem+json', async () => {
    const bad = await api.call('POST', '/definitions/ha/failover', { body: { to: 'pg-copy', cursorPolicy: 'sometimes' } });
    expectProblem(bad, 400);
    expect(fieldPaths(bad)).toEqual(['cursorPolicy']);
    expectProblem(await api.call('POST', '/definitions/ha/failover', { body: { to: 'pg-nosecret', cursorPolicy: 'carry' } }), 409);
    expectProblem(await api.call('POST', '/definitions/ha/failover', { body: { to: 'elsewhere', cursorPolicy: 'carry' } }), 422);
    const sources = (await api.call('GET', '/definitions/ha/sources')).body.items;
    expect(sources.find((s: { connectionId: string }) => s.connectionId === 'pg-nosecret').health).toMatchObject({ consecutiveFailures: 1 });
  });

  it('fails over, records the event and starts a run; a PUT cannot change the primary behind its back', async () => {
    const response = await api.call('POST', '/definitions/ha/failover', { body: { to: 'pg-copy', cursorPolicy: 'rescan' } });
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ from: 'pg', to: 'pg-copy', trigger: 'manual', by: 'function key', appliedPolicy: 'rescan', runId: expect.any(String) });
    expect(api.bus.sent.some((s) => (s.message.body as { runId?: string }).runId === response.body.runId)).toBe(true);
    const events = await api.call('GET', '/definitions/ha/failovers');
    expect(events.body.items.map((e: { from: string; to: string }) => [e.from, e.to])).toEqual([['pg', 'pg-copy']]);
    const stored = await api.call('GET', '/definitions/ha');
    expect(stored.body.activeSourceId).toBe('pg-copy');
    const stale = await api.call('PUT', '/definitions/ha', { body: definition('ha') });
    expectProblem(stale, 409);
    expect(stale.body.code).toBe('primary_change_refused');
  });

  it('every failover route is in the OpenAPI document', async () => {
    const doc = (await api.call('GET', '/openapi.json')).body;
    expect(doc.paths['/definitions/{id}/failover'].post).toBeDefined();
    expect(doc.paths['/definitions/{id}/failovers'].get).toBeDefined();
    expect(doc.paths['/definitions/{id}/sources'].get).toBeDefined();
  });
});
