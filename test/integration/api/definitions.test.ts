import { expectProblem, fieldPaths, pgSource, quote, spConnection, startApiHarness, type ApiHarness } from './harness';

/**
 * `/api/definitions`: CRUD, validation and list provisioning against real PostgreSQL, Azurite
 * and the Graph emulator.
 */

let api: ApiHarness;

const definition = (id: string, extra: Record<string, unknown> = {}): Record<string, unknown> => ({
  id,
  sources: [{ connectionId: 'pg', role: 'primary' }],
  table: { schema: api.schema, name: 'orders' },
  fields: [{ source: 'customer' }, { source: 'amount' }, { source: 'placed' }],
  title: 'customer',
  cursor: { kind: 'timestamp', column: 'placed' },
  target: { connectionId: 'sp', siteId: api.siteId },
  sharding: { strategy: 'none', list: `List ${id}` },
  schedule: '0 */5 * * * *',
  ...extra,
});

async function create(id: string, extra: Record<string, unknown> = {}) {
  const response = await api.call('POST', '/definitions', { body: definition(id, extra) });
  expect(response.status).toBe(201);
  return response;
}

const listNames = () => api.emulator.state.lists().map((l) => l.displayName);

beforeAll(async () => {
  api = await startApiHarness('def');
  await api.sql(`CREATE TABLE ${quote(api.schema)}.orders (id int PRIMARY KEY, customer varchar(80) NOT NULL, amount numeric(12,2), placed timestamptz, region text, y int)`);
  await api.sql(`CREATE TABLE ${quote(api.schema)}.y (id int PRIMARY KEY)`);
  expect((await api.call('POST', '/sources', { body: pgSource('pg') })).status).toBe(201);
  expect((await api.call('POST', '/sources', { body: pgSource('pg-nosecret', { secretRef: 'pg-absent' }) })).status).toBe(201);
  expect((await api.call('POST', '/sharepoint', { body: spConnection('sp') })).status).toBe(201);
});

afterAll(() => api?.close());

describe('creating, reading, replacing and deleting definitions', () => {
  it('creates a definition unprovisioned (mappingVersion 0, bound to its primary) and reads it back', async () => {
    const created = await create('crud');
    expect(created.headers.get('location')).toBe('http://localhost:7071/api/definitions/crud');
    expect(created.body).toMatchObject({ mappingVersion: 0, activeSourceId: 'pg', lists: {}, mapping: null, definition: { id: 'crud', enabled: true, deletes: { mode: 'none' } } });
    const read = await api.call('GET', '/definitions/crud');
    expect(read.status).toBe(200);
    expect(read.headers.get('etag')).toBe(created.headers.get('etag'));
    expect((await api.call('GET', '/definitions')).body.items.map((d: { definition: { id: string } }) => d.definition.id)).toContain('crud');
  });

  it('names every missing connection (422 with field paths) and stores nothing', async () => {
    const response = await api.call('POST', '/definitions', {
      body: definition('orphan', { sources: [{ connectionId: 'pg', role: 'primary' }, { connectionId: 'ghost', role: 'secondary' }], target: { connectionId: 'no-sp', siteId: api.siteId } }),
    });
    expectProblem(response, 422);
    expect(fieldPaths(response).sort()).toEqual(['sources.1.connectionId', 'target.connectionId']);
    expectProblem(await api.call('GET', '/definitions/orphan'), 404);
  });

  it('refuses a schedule that is not six-field NCRONTAB (422 at schedule)', async () => {
    const response = await api.call('POST', '/definitions', { body: definition('bad-cron', { schedule: '*/5 * * * *' }) });
    expectProblem(response, 422);
    expect(fieldPaths(response)).toEqual(['schedule']);
    expectProblem(await api.call('GET', '/definitions/bad-cron'), 404);
  });

  it('answers unknown fields, wrong types and bad enums with 400 naming each field', async () => {
    const response = await api.call('POST', '/definitions', {
      body: { ...definition('typos'), colour: 'red', cursor: { kind: 'sometimes' }, target: { connectionId: 'sp', siteId: api.siteId, listName: 'x' }, maxRowsPerRun: 'many', sources: [{ connectionId: 'pg', role: 'primary' }, { connectionId: 'pg2', role: 'primary' }] },
    });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['colour', 'cursor.kind', 'target.listName', 'maxRowsPerRun', 'sources']));
    expectProblem(await api.call('GET', '/definitions/typos'), 404);
  });

  it('refuses a target.siteId that could steer the Graph URL (400 at target.siteId), as the API\'s SiteId does', async () => {
    for (const siteId of ['contoso.sharepoint.com:/sites/x', 'a/../../users', 'site?x=1', 'site#frag']) {
      const response = await api.call('POST', '/definitions', { body: definition('steer', { target: { connectionId: 'sp', siteId } }) });
      expectProblem(response, 400);
      expect(fieldPaths(response)).toEqual(['target.siteId']);
    }
    expectProblem(await api.call('GET', '/definitions/steer'), 404);
  });

  it('refuses a second definition with the same id (409)', async () => {
    await create('twice');
    expectProblem(await api.call('POST', '/definitions', { body: definition('twice') }), 409);
  });

  it('replaces with If-Match, refuses a stale ETag with 412, and deletes', async () => {
    const created = await create('replace-me');
    const etag = created.headers.get('etag')!;
    const replaced = await api.call('PUT', '/definitions/replace-me', { body: definition('replace-me', { fields: [{ source: 'customer' }] }), headers: { 'if-match': etag } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.definition.fields).toEqual([{ source: 'customer' }]);

    const stale = await api.call('PUT', '/definitions/replace-me', { body: definition('replace-me'), headers: { 'if-match': etag } });
    expectProblem(stale, 412);
    expectProblem(await api.call('DELETE', '/definitions/replace-me', { headers: { 'if-match': etag } }), 412);
    expectProblem(await api.call('PUT', '/definitions/replace-me', { body: definition('replace-me', { schedule: 'never' }) }), 422);
    expect((await api.call('GET', '/definitions/replace-me')).body.definition.fields).toEqual([{ source: 'customer' }]);

    expect((await api.call('DELETE', '/definitions/replace-me')).status).toBe(204);
    expectProblem(await api.call('GET', '/definitions/replace-me'), 404);
    expectProblem(await api.call('DELETE', '/definitions/replace-me'), 404);
    expectProblem(await api.call('PUT', '/definitions/replace-me', { body: definition('replace-me') }), 404);
  });
});

describe('validating a definition', () => {
  it('returns the proposed mapping and the resolved site', async () => {
    await create('valid');
    const response = await api.call('POST', '/definitions/valid/validate');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ valid: true, sourceId: 'pg', table: { name: 'orders', kind: 'table' }, site: { id: api.siteId } });
    expect(response.body.mapping.key).toEqual(['id']);
    expect(response.body.mapping.fields.map((f: { target: string; type: string }) => [f.target, f.type])).toEqual([
      ['customer', 'text'],
      ['amount', 'number'],
      ['placed', 'dateTime'],
    ]);
    expect((await api.call('GET', '/definitions/valid')).body.mappingVersion).toBe(0); // validation stores nothing
  });

  it('reports injection attempts in column names as unknown columns, and runs none of it', async () => {
    await create('evil-columns', { fields: [{ source: `customer"; DROP TABLE ${quote(api.schema)}.y; --` }, { source: 'amount', target: 'Title' }], title: "x' OR 1=1 --" });
    const response = await api.call('POST', '/definitions/evil-columns/validate');
    expectProblem(response, 422);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['fields.0.source', 'fields.1.target', 'title']));
    expect((await api.sql(`SELECT count(*)::int AS n FROM ${quote(api.schema)}.y`)).rows[0].n).toBe(0);
  });

  it('reports a table that does not exist (injection attempt included) at table', async () => {
    await create('evil-table', { table: { schema: api.schema, name: 'orders"; DROP TABLE y; --' } });
    const response = await api.call('POST', '/definitions/evil-table/validate');
    expectProblem(response, 422);
    expect(fieldPaths(response)).toContain('table');
  });

  it('reports a missing secret on the source naming its secretRef', async () => {
    await create('no-secret', { sources: [{ connectionId: 'pg-nosecret', role: 'primary' }] });
    const response = await api.call('POST', '/definitions/no-secret/validate');
    expectProblem(response, 422);
    expect(response.body.errors).toEqual([expect.objectContaining({ path: 'sources.0.connectionId', message: expect.stringContaining('pg-absent') })]);
  });

  it('answers 404 for an unknown definition', async () => {
    expectProblem(await api.call('POST', '/definitions/nope/validate'), 404);
    expectProblem(await api.call('POST', '/definitions/nope/provision'), 404);
  });
});

describe('provisioning lists', () => {
  it('plans (dry run by default), applies, and re-applies without changing anything', async () => {
    await create('prov', { sharding: { strategy: 'none', list: 'Orders Prov' } });

    const plan = await api.call('POST', '/definitions/prov/provision');
    expect(plan.status).toBe(200);
    expect(plan.body).toMatchObject({ dryRun: true, mappingVersion: 1, mappingChanged: true, changed: false, onDemand: null });
    expect(plan.body.lists).toEqual([expect.objectContaining({ list: 'Orders Prov', listId: null, action: 'create', conflicts: [] })]);
    expect(plan.body.lists[0].columnsToAdd.map((c: { name: string }) => c.name).sort()).toEqual(['SyncKey', 'amount', 'customer', 'placed']);
    expect(listNames()).not.toContain('Orders Prov'); // a dry run writes nothing anywhere
    expect((await api.call('GET', '/definitions/prov')).body).toMatchObject({ mappingVersion: 0, lists: {}, mapping: null });

    const applied = await api.call('POST', '/definitions/prov/provision?dryRun=false');
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ dryRun: false, mappingVersion: 1, changed: true });
    expect(applied.body.lists[0]).toMatchObject({ list: 'Orders Prov', action: 'create', listId: expect.any(String) });
    const listId = applied.body.lists[0].listId;
    expect(listNames()).toContain('Orders Prov');
    const stored = (await api.call('GET', '/definitions/prov')).body;
    expect(stored).toMatchObject({ mappingVersion: 1, lists: { 'Orders Prov': listId } });
    expect(stored.mapping.fields.map((f: { target: string }) => f.target)).toEqual(['customer', 'amount', 'placed']);
    const etagAfterApply = (await api.call('GET', '/definitions/prov')).headers.get('etag');

    const requestsBefore = api.emulator.state.metrics().byStatus['201'] ?? 0;
    const again = await api.call('POST', '/definitions/prov/provision?dryRun=false');
    expect(again.status).toBe(200);
    expect(again.body).toMatchObject({ changed: false, mappingVersion: 1, mappingChanged: false });
    expect(again.body.lists).toEqual([expect.objectContaining({ listId, action: 'none', columnsToAdd: [], columnsAdded: [] })]);
    expect(api.emulator.state.metrics().byStatus['201'] ?? 0).toBe(requestsBefore); // nothing created in SharePoint
    expect((await api.call('GET', '/definitions/prov')).headers.get('etag')).toBe(etagAfterApply); // nor stored
  });

  it('adds the column of a newly mapped field and bumps mappingVersion', async () => {
    const current = await api.call('GET', '/definitions/prov');
    const replaced = await api.call('PUT', '/definitions/prov', { body: { ...current.body.definition, fields: [...current.body.definition.fields, { source: 'region' }] } });
    expect(replaced.status).toBe(200);
    const applied = await api.call('POST', '/definitions/prov/provision?dryRun=false');
    expect(applied.status).toBe(200);
    expect(applied.body).toMatchObject({ mappingVersion: 2, mappingChanged: true, changed: true });
    expect(applied.body.lists[0]).toMatchObject({ action: 'addColumns', columnsAdded: [expect.objectContaining({ name: 'region', type: 'note' })] });
  });

  it('reports a column of an incompatible type as a conflict, and apply changes nothing (409)', async () => {
    const target = await api.services().target('sp');
    await target.ensureList(api.siteId, { displayName: 'Clash', columns: [{ name: 'amount', type: 'text', maxLength: 20 }] });
    await create('clash', { sharding: { strategy: 'none', list: 'Clash' } });

    const plan = await api.call('POST', '/definitions/clash/provision?dryRun=true');
    expect(plan.status).toBe(200);
    expect(plan.body.lists[0]).toMatchObject({ list: 'Clash', action: 'conflict', conflicts: [expect.objectContaining({ column: 'amount', existingType: 'text', wantedType: 'number' })] });

    const applied = await api.call('POST', '/definitions/clash/provision?dryRun=false');
    expectProblem(applied, 409);
    expect(fieldPaths(applied)).toEqual(['lists.Clash.columns.amount']);
    const clash = api.emulator.state.lists().find((l) => l.displayName === 'Clash')!;
    const columns = (await target.listColumns(api.siteId, clash.id)).map((c) => c.name);
    expect(columns).toContain('amount');
    expect(columns).not.toContain('customer'); // not half-provisioned
    expect((await api.call('GET', '/definitions/clash')).body).toMatchObject({ mappingVersion: 0, lists: {} });
  });

  it('refuses to bind a list another definition already writes', async () => {
    await create('thief', { sharding: { strategy: 'none', list: 'Orders Prov' } });
    const plan = await api.call('POST', '/definitions/thief/provision');
    expect(plan.body.lists[0]).toMatchObject({ action: 'conflict', conflicts: [expect.objectContaining({ column: null, reason: expect.stringContaining("'prov'") })] });
    const applied = await api.call('POST', '/definitions/thief/provision?dryRun=false');
    expectProblem(applied, 409);
    expect(fieldPaths(applied)).toEqual(['lists.Orders Prov']);
  });

  it('provisions every rule list and hash bucket up front, and leaves date shards to runs', async () => {
    await create('rules', { sharding: { strategy: 'rules', rules: [{ when: { column: 'region', op: 'eq', value: 'EU' }, list: 'Rules EU' }], default: 'Rules Other' } });
    const rules = await api.call('POST', '/definitions/rules/provision?dryRun=false');
    expect(rules.body.lists.map((l: { list: string; action: string }) => [l.list, l.action])).toEqual([
      ['Rules EU', 'create'],
      ['Rules Other', 'create'],
    ]);

    await create('hash', { sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Hash {n}' } });
    const hash = await api.call('POST', '/definitions/hash/provision?dryRun=false');
    expect(hash.body.lists.map((l: { list: string }) => l.list)).toEqual(['Hash 1', 'Hash 2']);

    await create('dated', { sharding: { strategy: 'date', column: 'placed', period: 'year', listTemplate: 'Dated {yyyy}' } });
    const dated = await api.call('POST', '/definitions/dated/provision?dryRun=false');
    expect(dated.status).toBe(200);
    expect(dated.body).toMatchObject({ lists: [], mappingVersion: 1, onDemand: expect.stringContaining('Dated {yyyy}') });
  });

  it('refuses a key change once the lists hold items (409 problem naming the key), and accepts it with ?rebuild=true', async () => {
    await create('rekey', { key: ['id'], sharding: { strategy: 'none', list: 'Rekey' } });
    const state = await api.state();
    await state.putLedger([{ definitionId: 'rekey', identityHash: 'a'.repeat(64), listId: 'list-rekey', itemId: '1', contentHash: 'c', state: 'synced' }]);
    const current = await api.call('GET', '/definitions/rekey');
    const refused = await api.call('PUT', '/definitions/rekey', { body: { ...current.body.definition, key: ['customer'] } });
    expectProblem(refused, 409);
    expect(refused.body.code).toBe('identity_change_refused');
    expect(refused.body.detail).toContain('rebuild=true');
    expect(fieldPaths(refused)).toEqual(['key']);
    expect((await api.call('GET', '/definitions/rekey')).headers.get('etag')).toBe(current.headers.get('etag'));

    const table = await api.call('PUT', '/definitions/rekey', { body: { ...current.body.definition, table: { schema: api.schema, name: 'y' } } });
    expectProblem(table, 409);
    expect(fieldPaths(table)).toEqual(['table']);

    const rebuilt = await api.call('PUT', '/definitions/rekey?rebuild=true', { body: { ...current.body.definition, key: ['customer'] } });
    expect(rebuilt.status).toBe(200);
    expect(rebuilt.body.definition.key).toEqual(['customer']);
    expect(rebuilt.body.rebuild).toMatchObject({ requestedAt: expect.any(String), reason: expect.stringContaining('["customer"]') });
    expectProblem(await api.call('PUT', '/definitions/rekey?rebuild=maybe', { body: current.body.definition }), 400);
  });

  it('refuses to move a provisioned definition to another site (409)', async () => {
    const current = await api.call('GET', '/definitions/prov');
    const response = await api.call('PUT', '/definitions/prov', { body: { ...current.body.definition, target: { connectionId: 'sp', siteId: 'contoso.sharepoint.com,other,site' } } });
    expectProblem(response, 409);
  });

  it('answers a bad dryRun flag with 400 at query.dryRun', async () => {
    const response = await api.call('POST', '/definitions/prov/provision?dryRun=maybe');
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(['query.dryRun']);
  });
});
