import { pgSource, quote, spConnection, startApiHarness, type ApiHarness } from './harness';

/**
 * Re-applying provisioning changes nothing on every state store: PostgreSQL hands the stored
 * schema snapshot back with its keys reordered (jsonb), which must not count as a change.
 */
describe.each(['table', 'postgres'] as const)('re-applying provisioning on the %s state store', (stateStore) => {
  let api: ApiHarness;

  beforeAll(async () => {
    api = await startApiHarness(`prov${stateStore.slice(0, 2)}`, { stateStore });
    await api.sql(`CREATE TABLE ${quote(api.schema)}.orders (id int PRIMARY KEY, customer varchar(80) NOT NULL, amount numeric(12,2), placed timestamptz)`);
    expect((await api.call('POST', '/sources', { body: pgSource('pg') })).status).toBe(201);
    expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
    const definition = {
      id: 'reapply',
      sources: [{ connectionId: 'pg', role: 'primary' }],
      table: { schema: api.schema, name: 'orders' },
      fields: [{ source: 'customer' }, { source: 'amount' }, { source: 'placed' }],
      cursor: { kind: 'timestamp', column: 'placed' },
      target: { connectionId: 'sp', siteId: api.siteId },
      sharding: { strategy: 'none', list: `Reapply ${stateStore}` },
    };
    expect((await api.call('POST', '/definitions', { body: definition })).status).toBe(201);
  });

  afterAll(() => api?.close());

  it('answers changed: false and keeps the ETag, so clients holding If-Match get no spurious 412', async () => {
    const first = await api.call('POST', '/definitions/reapply/provision?dryRun=false');
    expect(first.body).toMatchObject({ changed: true, mappingVersion: 1 });
    const read = await api.call('GET', '/definitions/reapply');
    const etag = read.headers.get('etag')!;

    for (let i = 0; i < 2; i++) {
      const again = await api.call('POST', '/definitions/reapply/provision?dryRun=false');
      expect(again.status).toBe(200);
      expect(again.body).toMatchObject({ changed: false, mappingChanged: false, mappingVersion: 1 });
      expect((await api.call('GET', '/definitions/reapply')).headers.get('etag')).toBe(etag);
    }
    const replaced = await api.call('PUT', '/definitions/reapply', { body: read.body.definition, headers: { 'if-match': etag } });
    expect(replaced.status).toBe(200);
  });
});
