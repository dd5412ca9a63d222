import { expectProblem, pgSource, startApiHarness, type ApiHarness } from './harness';

/** With Entra ID in front (API_ENTRA_ROLES=true) the API checks the caller's app roles. */
let api: ApiHarness;

const principal = (...roles: string[]) =>
  Buffer.from(JSON.stringify({ auth_typ: 'aad', role_typ: 'roles', claims: [{ typ: 'name', val: 'Ada' }, ...roles.map((val) => ({ typ: 'roles', val }))] })).toString('base64');

beforeAll(async () => {
  api = await startApiHarness('roles');
  api.configure({ entraRoles: true });
});
afterAll(() => api?.close());

describe('Entra ID app roles (API_ENTRA_ROLES=true)', () => {
  it('a caller without a signed-in principal gets 401 problem+json', async () => {
    expectProblem(await api.call('GET', '/sources'), 401);
  });

  it('Sync.Read may read but not change anything', async () => {
    const headers = { 'x-ms-client-principal': principal('Sync.Read') };
    expect((await api.call('GET', '/sources', { headers })).status).toBe(200);
    const refused = await api.call('POST', '/sources', { headers, body: pgSource('reader-made') });
    expectProblem(refused, 403);
    expect(refused.body.detail).toContain('Sync.Admin');
    expect((await api.call('GET', '/sources/reader-made', { headers })).status).toBe(404); // nothing stored
  });

  it('Sync.Admin may change things; roles from other claim types do not count', async () => {
    expect((await api.call('POST', '/sources', { headers: { 'x-ms-client-principal': principal('Sync.Admin') }, body: pgSource('admin-made') })).status).toBe(201);
    const spoofed = Buffer.from(JSON.stringify({ claims: [{ typ: 'groups', val: 'Sync.Admin' }] })).toString('base64');
    expectProblem(await api.call('DELETE', '/sources/admin-made', { headers: { 'x-ms-client-principal': spoofed } }), 403);
  });

  it('the OpenAPI document stays open without a principal', async () => {
    expect((await api.call('GET', '/openapi.json')).status).toBe(200);
  });
});
