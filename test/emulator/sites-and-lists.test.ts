import type { GraphEmulator } from '../../src/emulator';
import { createList, graphClient, graphFailure, raw, startEmulator, SYNC_KEY_COLUMN } from './helpers';

describe('Graph emulator: sites, lists and columns', () => {
  let emulator: GraphEmulator;
  let site: string;
  beforeAll(async () => {
    emulator = await startEmulator();
    site = emulator.state.defaultSiteId;
  });
  afterAll(() => emulator.close());
  beforeEach(() => emulator.state.reset());

  it('finds the default site by hostname and path, by id and by search', async () => {
    const client = graphClient(emulator);
    const byPath = await client.api('/sites/contoso.sharepoint.com:/sites/sync').get();
    expect(byPath.id).toMatch(/^contoso\.sharepoint\.com,[0-9a-f-]{36},[0-9a-f-]{36}$/);
    expect(byPath.webUrl).toBe('https://contoso.sharepoint.com/sites/sync');
    const byId = await client.api(`/sites/${byPath.id}`).get();
    expect(byId.displayName).toBe('Sync');
    const found = await client.api('/sites').query({ search: 'sync' }).get();
    expect(found.value.map((s: { id: string }) => s.id)).toEqual([byPath.id]);
    const none = await client.api('/sites').query({ search: 'payroll' }).get();
    expect(none.value).toEqual([]);
  });

  it('keeps the same site id across restarts', async () => {
    const other = await startEmulator();
    try {
      expect(other.state.defaultSiteId).toBe(site);
    } finally {
      await other.close();
    }
  });

  it('answers an unknown site with 404 itemNotFound', async () => {
    const failure = await graphFailure(graphClient(emulator).api('/sites/contoso.sharepoint.com:/sites/nope').get());
    expect(failure).toMatchObject({ statusCode: 404, code: 'itemNotFound' });
  });

  it('refuses a request without a bearer token with 401 InvalidAuthenticationToken', async () => {
    const res = await fetch(`${emulator.url}/v1.0/sites/${site}`);
    expect(res.status).toBe(401);
    const body = (await res.json()) as { error: { code: string; innerError: Record<string, string> } };
    expect(body.error.code).toBe('InvalidAuthenticationToken');
    expect(body.error.innerError['request-id']).toBeTruthy();
  });

  it('accepts paths with and without the /v1.0 prefix', async () => {
    const withVersion = await raw(emulator, 'GET', `/sites/${site}`);
    const without = await fetch(`${emulator.url}/sites/${site}`, { headers: { authorization: 'Bearer t' } });
    expect(withVersion.status).toBe(200);
    expect(without.status).toBe(200);
  });

  it('creates a list with columns and finds it by id and by display name', async () => {
    const client = graphClient(emulator);
    const created = await client.api(`/sites/${site}/lists`).post({
      displayName: 'Orders 2024',
      columns: [SYNC_KEY_COLUMN, { name: 'Amount', number: { decimalPlaces: 'two', minimum: 0 } }],
      list: { template: 'genericList' },
    });
    expect(created).toMatchObject({ displayName: 'Orders 2024', list: { template: 'genericList' } });
    const byId = await client.api(`/sites/${site}/lists/${created.id}`).get();
    const byName = await client.api(`/sites/${site}/lists/Orders 2024`).get();
    expect(byId.id).toBe(created.id);
    expect(byName.id).toBe(created.id);
    const columns = await client.api(`/sites/${site}/lists/${created.id}/columns`).get();
    const syncKey = columns.value.find((c: { name: string }) => c.name === 'SyncKey');
    expect(syncKey).toMatchObject({ indexed: true, enforceUniqueValues: true, hidden: true, text: { maxLength: 255 } });
  });

  it('refuses a second list with the same display name with 409 nameAlreadyExists', async () => {
    await createList(emulator, 'Customers');
    const failure = await graphFailure(
      graphClient(emulator).api(`/sites/${site}/lists`).post({ displayName: 'customers', list: { template: 'genericList' } }),
    );
    expect(failure).toMatchObject({ statusCode: 409, code: 'nameAlreadyExists' });
  });

  it('filters lists by displayName', async () => {
    await createList(emulator, 'A');
    const b = await createList(emulator, 'B');
    const res = await graphClient(emulator).api(`/sites/${site}/lists`).filter("displayName eq 'B'").get();
    expect(res.value.map((l: { id: string }) => l.id)).toEqual([b]);
  });

  it('gives every list the built-in columns Title, ID, Created and Modified', async () => {
    const list = await createList(emulator, 'Plain', []);
    const res = await raw(emulator, 'GET', `/sites/${site}/lists/${list}/columns`);
    const names = res.json.value.map((c: { name: string }) => c.name);
    expect(names).toEqual(expect.arrayContaining(['Title', 'ID', 'Created', 'Modified']));
    const title = res.json.value.find((c: { name: string }) => c.name === 'Title');
    expect(title.text).toMatchObject({ maxLength: 255, allowMultipleLines: false });
  });

  it('adds columns of every supported type', async () => {
    const list = await createList(emulator, 'Typed', []);
    const defs = [
      { name: 'Notes', text: { allowMultipleLines: true } },
      { name: 'Qty', number: { minimum: 0, maximum: 10 } },
      { name: 'Price', currency: { locale: 'de-de' } },
      { name: 'Active', boolean: {} },
      { name: 'Due', dateTime: { format: 'dateOnly' } },
      { name: 'Status', choice: { choices: ['Open', 'Closed'] } },
    ];
    for (const def of defs) {
      const res = await raw(emulator, 'POST', `/sites/${site}/lists/${list}/columns`, def);
      expect(res.status).toBe(201);
    }
    const notes = await raw(emulator, 'GET', `/sites/${site}/lists/${list}/columns/Notes`);
    expect(notes.json.text.allowMultipleLines).toBe(true);
  });

  it('refuses a column that enforces unique values without being indexed', async () => {
    const list = await createList(emulator, 'Strict', []);
    const res = await raw(emulator, 'POST', `/sites/${site}/lists/${list}/columns`, {
      name: 'Code',
      text: {},
      enforceUniqueValues: true,
    });
    expect(res.status).toBe(400);
    expect(res.json.error.code).toBe('invalidRequest');
    expect(res.json.error.message).toContain('Code');
  });

  it('refuses a duplicate column name with 409', async () => {
    const list = await createList(emulator, 'Dup');
    const res = await raw(emulator, 'POST', `/sites/${site}/lists/${list}/columns`, { name: 'synckey', text: {} });
    expect(res.status).toBe(409);
    expect(res.json.error.code).toBe('nameAlreadyExists');
  });

  it('updates a column: unique values can be switched off and the index removed, then duplicates are accepted', async () => {
    const list = await createList(emulator, 'Loosened');
    const items = `/sites/${site}/lists/${list}/items`;
    expect((await raw(emulator, 'POST', items, { fields: { SyncKey: 'k' } })).status).toBe(201);
    expect((await raw(emulator, 'POST', items, { fields: { SyncKey: 'k' } })).status).toBe(409);
    const columns = `/sites/${site}/lists/${list}/columns`;
    const stillIndexed = await raw(emulator, 'PATCH', `${columns}/SyncKey`, { indexed: false });
    expect(stillIndexed.status).toBe(400);
    expect(stillIndexed.json.error.message).toContain('SyncKey');
    const loosened = await raw(emulator, 'PATCH', `${columns}/SyncKey`, { enforceUniqueValues: false, indexed: false });
    expect(loosened.status).toBe(200);
    expect(loosened.json).toMatchObject({ name: 'SyncKey', enforceUniqueValues: false, indexed: false });
    expect((await raw(emulator, 'POST', items, { fields: { SyncKey: 'k' } })).status).toBe(201);
    // Not indexed any more: a filter on it needs the Prefer header, as for any unindexed column.
    expect((await raw(emulator, 'GET', `${items}?$filter=fields/SyncKey eq 'k'`)).status).toBe(400);
    const back = await raw(emulator, 'PATCH', `${columns}/${loosened.json.id}`, { indexed: true, enforceUniqueValues: true });
    expect(back.status).toBe(400);
    expect(back.json.error.message).toContain('duplicate');
    expect((await raw(emulator, 'PATCH', `${columns}/${loosened.json.id}`, { indexed: true })).json).toMatchObject({ indexed: true, enforceUniqueValues: false });
    expect((await raw(emulator, 'GET', `${items}?$filter=fields/SyncKey eq 'k'`)).json.value).toHaveLength(2);
  });

  it('refuses column updates it cannot honour: read-only columns, type facets, unknown columns', async () => {
    const list = await createList(emulator, 'Fixed');
    const columns = `/sites/${site}/lists/${list}/columns`;
    expect((await raw(emulator, 'PATCH', `${columns}/ID`, { indexed: false })).status).toBe(400);
    expect((await raw(emulator, 'PATCH', `${columns}/SyncKey`, { text: { maxLength: 10 } })).json.error.message).toContain("'text'");
    expect((await raw(emulator, 'PATCH', `${columns}/Nope`, { hidden: true })).status).toBe(404);
  });

  it('answers unknown path segments with a Graph error body', async () => {
    const res = await raw(emulator, 'GET', `/sites/${site}/drives`);
    expect(res.status).toBe(400);
    expect(res.json.error).toMatchObject({ code: 'BadRequest', message: expect.stringContaining('drives') });
    expect(Object.keys(res.json.error.innerError).sort()).toEqual(['client-request-id', 'date', 'request-id']);
  });
});
