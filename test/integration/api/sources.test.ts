import { resolveMapping } from '../../../src/core/mapping';
import { ordersDefinition } from '../../unit/fixtures';
import { expectProblem, fieldPaths, pgSource, quote, spConnection, startApiHarness, type ApiHarness } from './harness';

/** `/api/sources`: source connections, their probe and introspection, over real PostgreSQL and Azurite. */

let api: ApiHarness;

beforeAll(async () => {
  api = await startApiHarness('src');
  const s = quote(api.schema);
  await api.sql(`CREATE TABLE ${s}.orders (id int PRIMARY KEY, customer varchar(80) NOT NULL, amount numeric(12,2), placed timestamptz, payload bytea)`);
  await api.sql(`CREATE TABLE ${s}.y (id int PRIMARY KEY)`);
  await api.sql(`CREATE TABLE ${s}."Mixed Case ü" ("Key Col" uuid PRIMARY KEY, "select" text)`);
  await api.sql(`CREATE TABLE ${s}."v1.orders" (id int PRIMARY KEY)`);
  await api.sql(`CREATE SCHEMA ${quote(`${api.schema}_sp`)}`);
  await api.sql(`CREATE TABLE ${quote(`${api.schema}_sp`)}.reserved_names ("ID" int PRIMARY KEY, "Title" text, "Created" timestamptz, "Title_1" text, blob bytea)`);
  await api.sql(`CREATE SCHEMA ${quote(`${api.schema}.v2`)}`);
  await api.sql(`CREATE TABLE ${quote(`${api.schema}.v2`)}.lines (line int PRIMARY KEY)`);
});


afterAll(async () => {
  await api?.sql(`DROP SCHEMA IF EXISTS ${quote(`${api.schema}.v2`)} CASCADE`);
  await api?.sql(`DROP SCHEMA IF EXISTS ${quote(`${api.schema}_sp`)} CASCADE`);
  await api?.close();
});

describe('creating and reading source connections', () => {
  it('creates a connection with 201, Location and ETag, and lists and reads it back', async () => {
    const created = await api.call('POST', '/sources', { body: pgSource('pg-main') });
    expect(created.status).toBe(201);
    expect(created.headers.get('location')).toBe('http://localhost:7071/api/sources/pg-main');
    expect(created.headers.get('etag')).toMatch(/^"[A-Za-z0-9_-]+"$/);
    expect(created.body).toMatchObject({ id: 'pg-main', engine: 'postgres', secretRef: 'pg-test', tls: { enabled: false, rejectUnauthorized: true } });
    expect(created.body).not.toHaveProperty('etag');

    const list = await api.call('GET', '/sources');
    expect(list.status).toBe(200);
    expect(list.body.items.map((s: { id: string }) => s.id)).toContain('pg-main');

    const one = await api.call('GET', '/sources/pg-main');
    expect(one.status).toBe(200);
    expect(one.headers.get('etag')).toBeTruthy();
    expect(one.body.createdAt).toEqual(expect.any(String));
  });

  it('refuses a second connection with the same id (409) and leaves the first as it was', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-dup') });
    const again = await api.call('POST', '/sources', { body: pgSource('pg-dup', { host: 'elsewhere.example' }) });
    expectProblem(again, 409);
    expect((await api.call('GET', '/sources/pg-dup')).body.host).not.toBe('elsewhere.example');
  });

  it('answers unknown fields and wrong types with 400 naming each field, and stores nothing', async () => {
    const response = await api.call('POST', '/sources', { body: { ...pgSource('pg-bad'), port: 'five', colour: 'blue', tls: { enabled: false, pinned: true } } });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(expect.arrayContaining(['port', 'colour', 'tls.pinned']));
    expectProblem(await api.call('GET', '/sources/pg-bad'), 404);
  });

  it('refuses ids outside the id rule, in the body and in the URL', async () => {
    const body = await api.call('POST', '/sources', { body: pgSource('../etc') });
    expectProblem(body, 400);
    expect(fieldPaths(body)).toContain('id');
    const route = await api.call('GET', `/sources/${encodeURIComponent("x' or 1=1 --")}`);
    expectProblem(route, 400);
    expect(fieldPaths(route)).toContain('route.id');
  });

  it('answers a body that is not JSON with 400 or 415, never echoing it', async () => {
    const malformed = await api.call('POST', '/sources', { rawBody: '{"id": "pg-x", "password": hunter2-in-a-broken-body', headers: { 'content-type': 'application/json' } });
    expectProblem(malformed, 400);
    expect(malformed.text).not.toContain('hunter2');
    const form = await api.call('POST', '/sources', { rawBody: 'id=pg-x', headers: { 'content-type': 'application/x-www-form-urlencoded' } });
    expectProblem(form, 415);
  });

  it('answers 404 problems for unknown connections on every sub-resource', async () => {
    for (const [method, path] of [
      ['GET', '/sources/nope'],
      ['PUT', '/sources/nope'],
      ['DELETE', '/sources/nope'],
      ['POST', '/sources/nope/test'],
      ['GET', '/sources/nope/tables'],
      ['GET', '/sources/nope/tables/public.x'],
    ] as const) {
      const response = await api.call(method, path, method === 'PUT' ? { body: pgSource('nope') } : {});
      expectProblem(response, 404);
    }
  });
});

describe('replacing and deleting with optimistic concurrency', () => {
  it('replaces with a matching If-Match, and refuses a stale one with 412', async () => {
    const created = await api.call('POST', '/sources', { body: pgSource('pg-etag') });
    const etag = created.headers.get('etag')!;
    const replaced = await api.call('PUT', '/sources/pg-etag', { body: pgSource('pg-etag', { database: 'other' }), headers: { 'if-match': etag } });
    expect(replaced.status).toBe(200);
    expect(replaced.body.database).toBe('other');
    expect(replaced.headers.get('etag')).not.toBe(etag);

    const stale = await api.call('PUT', '/sources/pg-etag', { body: pgSource('pg-etag', { database: 'third' }), headers: { 'if-match': etag } });
    expectProblem(stale, 412);
    expect((await api.call('GET', '/sources/pg-etag')).body.database).toBe('other');

    const staleDelete = await api.call('DELETE', '/sources/pg-etag', { headers: { 'if-match': etag } });
    expectProblem(staleDelete, 412);
    const fresh = (await api.call('GET', '/sources/pg-etag')).headers.get('etag')!;
    expect((await api.call('DELETE', '/sources/pg-etag', { headers: { 'if-match': fresh } })).status).toBe(204);
    expectProblem(await api.call('GET', '/sources/pg-etag'), 404);
  });

  it('refuses a PUT whose body names another id', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-id') });
    const response = await api.call('PUT', '/sources/pg-id', { body: pgSource('pg-other') });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(['id']);
  });

  it('refuses to delete a connection a definition uses (409)', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-used') });
    await api.call('POST', '/sharepoint', { body: spConnection('sp-used') });
    const def = await api.call('POST', '/definitions', {
      body: {
        id: 'uses-pg',
        sources: [{ connectionId: 'pg-used', role: 'primary' }],
        table: { schema: api.schema, name: 'orders' },
        fields: [{ source: 'customer' }],
        cursor: { kind: 'full' },
        target: { connectionId: 'sp-used', siteId: api.siteId },
        sharding: { strategy: 'none', list: 'Orders' },
      },
    });
    expect(def.status).toBe(201);
    const refused = await api.call('DELETE', '/sources/pg-used');
    expectProblem(refused, 409);
    expect(refused.body.detail).toContain('uses-pg');
    expect((await api.call('GET', '/sources/pg-used')).status).toBe(200);
  });
});

describe('testing a connection', () => {
  it('reports a reachable database with its version', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-ok') });
    const response = await api.call('POST', '/sources/pg-ok/test');
    expect(response.status).toBe(200);
    expect(response.body).toMatchObject({ ok: true, latencyMs: expect.any(Number) });
  });

  it('answers a missing secret with a 422 problem naming the secretRef', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-nosecret', { secretRef: 'pg-not-there' }) });
    const response = await api.call('POST', '/sources/pg-nosecret/test');
    expectProblem(response, 422);
    expect(response.body.detail).toContain('pg-not-there');
    expect(response.body.code).toBe('secret_missing');
  });

  it('reports an unreachable database in the body without failing the call', async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-down', { host: '127.0.0.1', port: 1, options: { connectTimeoutMs: 500 } }) });
    const response = await api.call('POST', '/sources/pg-down/test');
    expect(response.status).toBe(200);
    expect(response.body.ok).toBe(false);
  });
});

describe('introspection', () => {
  beforeAll(async () => {
    await api.call('POST', '/sources', { body: pgSource('pg-intro') });
  });

  it('lists the tables of one schema', async () => {
    const response = await api.call('GET', `/sources/pg-intro/tables?schema=${encodeURIComponent(api.schema)}`);
    expect(response.status).toBe(200);
    expect(response.body.items.map((t: { name: string }) => t.name)).toEqual(['Mixed Case ü', 'orders', 'v1.orders', 'y']);
  });

  it('describes a table with the SharePoint column proposed for each column', async () => {
    const response = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(api.schema)}.orders`);
    expect(response.status).toBe(200);
    expect(response.body.primaryKey).toEqual(['id']);
    expect(response.body.defaultKey).toEqual(['id']);
    const byName = Object.fromEntries(response.body.columns.map((c: { name: string; proposed: unknown }) => [c.name, c.proposed]));
    expect(byName.customer).toMatchObject({ name: 'customer', spType: 'text', maxLength: 80, supported: true });
    expect(byName.amount).toMatchObject({ spType: 'number', decimalPlaces: 2 });
    expect(byName.placed).toMatchObject({ spType: 'dateTime' });
    expect(byName.payload).toMatchObject({ spType: null, supported: false });
  });

  it('proposes the names provisioning really creates for columns named after SharePoint fields (Title_1, ID_1, Created_1)', async () => {
    const response = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(`${api.schema}_sp`)}.reserved_names`);
    expect(response.status).toBe(200);
    const proposed = response.body.columns.map((c: { name: string; proposed: { name: string } }) => [c.name, c.proposed.name]);
    // Title_1 is taken by the renamed Title, so the source column Title_1 becomes Title_1_1, as resolveMapping names it.
    expect(proposed).toEqual([['ID', 'ID_1'], ['Title', 'Title_1'], ['Created', 'Created_1'], ['Title_1', 'Title_1_1'], ['blob', 'blob']]);
    const table = { schema: `${api.schema}_sp`, name: 'reserved_names' };
    const definition = ordersDefinition({ table, key: ['ID'], fields: ['ID', 'Title', 'Created', 'Title_1'].map((source) => ({ source })) });
    const mapping = resolveMapping(definition, response.body); // the described table is the introspected schema plus proposals
    expect(mapping.fields.map((f) => f.target)).toEqual(['ID_1', 'Title_1', 'Created_1', 'Title_1_1']);
  });

  it('describes awkward names (mixed case, spaces, unicode, reserved words)', async () => {
    const response = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(api.schema)}.${encodeURIComponent('Mixed Case ü')}`);
    expect(response.status).toBe(200);
    expect(response.body.columns.map((c: { name: string }) => c.name)).toEqual(['Key Col', 'select']);
  });

  it('finds tables and schemas whose names hold a dot, wherever the route split the name', async () => {
    const table = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(api.schema)}.${encodeURIComponent('v1.orders')}`);
    expect(table.status).toBe(200);
    expect(table.body.table).toEqual({ schema: api.schema, name: 'v1.orders' });
    const schema = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(`${api.schema}.v2`)}.lines`);
    expect(schema.status).toBe(200);
    expect(schema.body.table).toEqual({ schema: `${api.schema}.v2`, name: 'lines' });
  });

  it('answers injection attempts in schema and table names with a 404 problem, and runs none of it', async () => {
    const attempts = [
      `${api.schema}.y"; DROP TABLE ${quote(api.schema)}.y; --`,
      `${api.schema}'; DROP TABLE y; --.y`,
      `pg_catalog.pg_class WHERE 1=1`,
    ];
    for (const attempt of attempts) {
      const response = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(attempt)}`);
      expectProblem(response, 404);
    }
    const listed = await api.call('GET', `/sources/pg-intro/tables?schema=${encodeURIComponent(`${api.schema}' OR '1'='1`)}`);
    expect(listed.status).toBe(200);
    expect(listed.body.items).toEqual([]);
    expect((await api.sql(`SELECT count(*)::int AS n FROM ${quote(api.schema)}.y`)).rows[0].n).toBe(0); // the table is still there
  });

  it('refuses a NUL byte or an over-long name before anything is queried', async () => {
    const nul = await api.call('GET', `/sources/pg-intro/tables/${encodeURIComponent(api.schema)}.bad%00name`);
    expectProblem(nul, 400);
    expect(fieldPaths(nul)).toContain('route.table');
    const long = await api.call('GET', `/sources/pg-intro/tables/public.${'x'.repeat(129)}`);
    expectProblem(long, 400);
  });
});

describe('secrets', () => {
  afterEach(() => api.configure({ allowSecretWrite: false }));

  it('refuses a password unless secret writes are allowed, naming the field and storing nothing', async () => {
    const { secretRef: _ref, ...noRef } = pgSource('pg-pw-refused');
    const response = await api.call('POST', '/sources', { body: { ...noRef, password: 'S3cr3t-Refused!' } });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(['password']);
    expect(response.text).not.toContain('S3cr3t-Refused!');
    expectProblem(await api.call('GET', '/sources/pg-pw-refused'), 404);
    expect(api.secrets.written.size).toBe(0);
  });

  it('with ALLOW_SECRET_WRITE, writes a posted password to the secret store and keeps only its reference', async () => {
    api.configure({ allowSecretWrite: true });
    const password = 'Sup3r-S3cret-Pa55word';
    const { secretRef: _ref, ...noRef } = pgSource('pg-pw');
    const from = api.transcript.length;

    const created = await api.call('POST', '/sources', { body: { ...noRef, password } });
    expect(created.status).toBe(201);
    expect(created.body.secretRef).toMatch(/^source-pg-pw-[0-9a-f]{8}$/);
    expect(created.body).not.toHaveProperty('password');
    expect(api.secrets.written.get(created.body.secretRef)).toBe(password);

    // rotating through PUT writes the same secret again
    const rotated = await api.call('PUT', '/sources/pg-pw', { body: { ...noRef, password: `${password}-2` } });
    expect(rotated.status).toBe(200);
    expect(api.secrets.written.get(created.body.secretRef)).toBe(`${password}-2`);

    await api.call('GET', '/sources/pg-pw');
    await api.call('GET', '/sources');
    // the written secret is what the connection now uses (the test database trusts any password)
    expect((await api.call('POST', '/sources/pg-pw/test')).body).toMatchObject({ ok: true });

    const stored = await (await api.state()).getSource('pg-pw');
    expect(JSON.stringify(stored)).not.toContain(password);
    const seen = api.transcript.slice(from).join('\n');
    expect(seen).not.toContain(password);
    expect(seen).toContain(created.body.secretRef);
  });

  it('with ALLOW_SECRET_WRITE, refuses a body carrying both a password and a secretRef', async () => {
    api.configure({ allowSecretWrite: true });
    const response = await api.call('POST', '/sources', { body: { ...pgSource('pg-both'), password: 'Both-Given-1' } });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(['password']);
    expect(response.text).not.toContain('Both-Given-1');
    expectProblem(await api.call('GET', '/sources/pg-both'), 404);
  });

  it('requires a secretRef when no password is given', async () => {
    const { secretRef: _ref, ...noRef } = pgSource('pg-noref');
    const response = await api.call('POST', '/sources', { body: noRef });
    expectProblem(response, 400);
    expect(fieldPaths(response)).toEqual(['secretRef']);
  });
});
