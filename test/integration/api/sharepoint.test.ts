import { expectProblem, fieldPaths, spConnection, startApiHarness, type ApiHarness } from './harness';

/** `/api/sharepoint`: SharePoint connections and browsing sites and lists through the Graph emulator. */

let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness('sp');
  expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
});

afterAll(() => api?.close());

describe('SharePoint connections', () => {
  it('creates, lists, reads, replaces and deletes a connection', async () => {
    const created = await api.call('POST', '/sharepoint', { body: spConnection('sp-crud', { auth: { kind: 'clientSecret', secretRef: 'sp-client-secret' } }) });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('http://localhost:7071/api/sharepoint/sp-crud');
    expect(created.body).toMatchObject({ id: 'sp-crud', auth: { kind: 'clientSecret', secretRef: 'sp-client-secret' } });

    expect((await api.call('GET', '/sharepoint')).body.items.map((c: { id: string }) => c.id)).toEqual(expect.arrayContaining(['sp', 'sp-crud']));
    const read = await api.call('GET', '/sharepoint/sp-crud');
    const etag = read.headers.get('etag')!;

    const replaced = await api.call('PUT', '/sharepoint/sp-crud', { body: spConnection('sp-crud', { defaultSiteId: api.siteId }), headers: { 'if-match': etag } });
    expect(replaced.status).toBe(200);
    expect(replaced.body).toMatchObject({ auth: { kind: 'managedIdentity' }, defaultSiteId: api.siteId });
    expect(replaced.body.createdAt).toBe(read.body.createdAt);

    expectProblem(await api.call('PUT', '/sharepoint/sp-crud', { body: spConnection('sp-crud'), headers: { 'if-match': etag } }), 412);
    expectProblem(await api.call('DELETE', '/sharepoint/sp-crud', { headers: { 'if-match': '"not-an-etag-we-issued"' } }), 412);
    expect((await api.call('DELETE', '/sharepoint/sp-crud', { headers: { 'if-match': '*' } })).status).toBe(204);
    expectProblem(await api.call('GET', '/sharepoint/sp-crud'), 404);
  });

  it('accepts a client secret only as a reference', async () => {
    const response = await api.call('POST', '/sharepoint', { body: spConnection('sp-raw', { auth: { kind: 'clientSecret', secret: 'raw-client-secret-value' } }) });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['auth.secretRef', 'auth.secret']));
    expect(response.text).not.toContain('raw-client-secret-value');
    expectProblem(await api.call('GET', '/sharepoint/sp-raw'), 404);
  });

  it('answers an unknown auth kind and wrong types with 400 naming the fields', async () => {
    const response = await api.call('POST', '/sharepoint', { body: { ...spConnection('sp-bad'), auth: { kind: 'password' }, tenantId: 42 } });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['auth.kind', 'tenantId']));
  });

  it('answers 404 for unknown connections, sites included', async () => {
    expectProblem(await api.call('GET', '/sharepoint/nope'), 404);
    expectProblem(await api.call('PUT', '/sharepoint/nope', { body: spConnection('nope') }), 404);
    expectProblem(await api.call('DELETE', '/sharepoint/nope'), 404);
    expectProblem(await api.call('GET', '/sharepoint/nope/sites'), 404);
    expectProblem(await api.call('GET', `/sharepoint/nope/sites/${encodeURIComponent(api.siteId)}/lists`), 404);
    expectProblem(await api.call('GET', '/sharepoint/sp/sites/contoso.sharepoint.com,00000000-0000-0000-0000-000000000000,00000000-0000-0000-0000-000000000000/lists'), 404);
  });
});

describe('browsing sites and lists', () => {
  it('searches sites', async () => {
    const all = await api.call('GET', '/sharepoint/sp/sites');
    expect(all.status).toBe(200);
    expect(all.body.items).toEqual([expect.objectContaining({ id: api.siteId, displayName: 'Sync' })]);
    expect((await api.call('GET', '/sharepoint/sp/sites?search=sync')).body.items).toHaveLength(1);
    expect((await api.call('GET', '/sharepoint/sp/sites?search=nothing-like-this')).body.items).toEqual([]);
  });

  it('lists the lists of a site', async () => {
    const target = await api.services().target('sp');
    await target.ensureList(api.siteId, { displayName: 'Browse Me', columns: [] });
    const response = await api.call('GET', `/sharepoint/sp/sites/${encodeURIComponent(api.siteId)}/lists`);
    expect(response.status).toBe(200);
    expect(response.body.items.map((l: { displayName: string }) => l.displayName)).toContain('Browse Me');
  });

  it('refuses a site id that could steer the Graph URL', async () => {
    for (const siteId of ['a?$select=x', '..%2F..%2Fme', 'x#y']) {
      const response = await api.call('GET', `/sharepoint/sp/sites/${encodeURIComponent(siteId)}/lists`);
      expectProblem(response, 400);
      expect(fieldPaths(response)).toEqual(['route.siteId']);
    }
  });

  it('refuses a connection in use by a definition (409)', async () => {
    expect((await api.call('POST', '/sources', { body: { id: 'pg', engine: 'postgres', host: '127.0.0.1', database: 'x', user: 'x', secretRef: 'pg-test' } })).status).toBe(201);
    expect((await api.call('POST', '/sharepoint', { body: spConnection('sp-used') })).status).toBe(201);
    const def = await api.call('POST', '/definitions', {
      body: {
        id: 'def-sp',
        sources: [{ connectionId: 'pg', role: 'primary' }],
        table: { schema: 'public', name: 't' },
        fields: [{ source: 'a' }],
        cursor: { kind: 'full' },
        target: { connectionId: 'sp-used', siteId: api.siteId },
        sharding: { strategy: 'none', list: 'L' },
      },
    });
    expect(def.status).toBe(201);
    const refused = await api.call('DELETE', '/sharepoint/sp-used');
    expectProblem(refused, 409);
    expect(refused.body.detail).toContain('def-sp');
  });
});
