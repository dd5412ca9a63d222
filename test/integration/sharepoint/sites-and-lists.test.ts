import { Client } from '@microsoft/microsoft-graph-client';
import { createGraphListTarget } from '../../../src/adapters/sharepoint/graph-list-target';
import { clearTenantLimiters } from '../../../src/adapters/sharepoint/limiter';
import { GraphListTarget } from '../../../src/adapters/sharepoint/graph-list-target';
import { configError, isSyncError } from '../../../src/core/errors';
import { SYNC_KEY_COLUMN } from '../../../src/core/ports/list-target';
import { ordersSpec, startHarness, type Harness } from './harness';

let h: Harness;
beforeAll(async () => (h = await startHarness()));
afterAll(async () => {
  await h.close();
  clearTenantLimiters();
});

describe('SharePoint sites through Graph', () => {
  it('resolves a site by hostname:/path and by id, and finds it by search', async () => {
    const byPath = await h.target.getSite('contoso.sharepoint.com:/sites/sync');
    expect(byPath.id).toBe(h.siteId);
    expect(byPath.webUrl).toBe('https://contoso.sharepoint.com/sites/sync');
    expect((await h.target.getSite(h.siteId)).displayName).toBe(byPath.displayName);
    expect((await h.target.searchSites('sync')).map((s) => s.id)).toContain(h.siteId);
  });

  it('an unknown site is a config error the admin can read, not a retry loop', async () => {
    const error = await h.target.getSite('contoso.sharepoint.com:/sites/nope').catch((e: unknown) => e);
    expect(isSyncError(error, 'not_found')).toBe(true);
    expect((error as { errorClass: string }).errorClass).toBe('config');
  });

  it('answers a health ping', async () => {
    await expect(h.target.ping()).resolves.toBeUndefined();
  });
});

describe('provisioning a list', () => {
  it('creates the list with its columns and the hidden, indexed, unique SyncKey', async () => {
    const result = await h.target.ensureList(h.siteId, ordersSpec('Orders 2024'));
    expect(result.created).toBe(true);
    expect(result.conflicts).toEqual([]);
    expect(result.added.map((c) => c.name)).toEqual([SYNC_KEY_COLUMN, 'Amount', 'Category', 'Due', 'Status']);

    const summary = h.emulator.state.lists().find((l) => l.id === result.list!.id)!;
    expect(summary.columns.find((c) => c.name === SYNC_KEY_COLUMN)).toEqual({
      name: SYNC_KEY_COLUMN,
      type: 'text',
      indexed: true,
      enforceUniqueValues: true,
      hidden: true,
    });
    const columns = await h.target.listColumns(h.siteId, result.list!.id);
    expect(columns.find((c) => c.name === SYNC_KEY_COLUMN)).toMatchObject({ maxLength: 64, indexed: true, enforceUniqueValues: true, hidden: true });
    expect(columns.find((c) => c.name === 'Due')?.type).toBe('dateOnly');
    expect((await h.target.findList(h.siteId, 'orders 2024'))?.id).toBe(result.list!.id);
    expect((await h.target.listLists(h.siteId)).map((l) => l.displayName)).toContain('Orders 2024');
  });

  it('a second ensureList changes nothing and sends no write', async () => {
    await h.target.ensureList(h.siteId, ordersSpec('Orders 2025'));
    h.emulator.state.resetMetrics();
    const again = await h.target.ensureList(h.siteId, ordersSpec('Orders 2025'));
    expect(again).toMatchObject({ created: false, columnsToAdd: [], added: [], conflicts: [] });
    const m = h.emulator.state.metrics();
    expect(m.ru.byKind.create + m.ru.byKind.update + m.ru.byKind.delete).toBe(0);
  });

  it('a dry run reports the plan and creates nothing', async () => {
    const plan = await h.target.ensureList(h.siteId, ordersSpec('Orders dry'), { dryRun: true });
    expect(plan).toMatchObject({ list: null, created: true, dryRun: true, added: [] });
    expect(plan.columnsToAdd.map((c) => c.name)).toContain(SYNC_KEY_COLUMN);
    expect(await h.target.findList(h.siteId, 'Orders dry')).toBeNull();
  });

  it('adds a column the mapping gained to an existing list', async () => {
    await h.target.ensureList(h.siteId, ordersSpec('Orders grow'));
    const spec = ordersSpec('Orders grow');
    spec.columns.push({ name: 'Notes', type: 'note' });
    const result = await h.target.ensureList(h.siteId, spec);
    expect(result).toMatchObject({ created: false, conflicts: [] });
    expect(result.added.map((c) => c.name)).toEqual(['Notes']);
  });

  it('an incompatible existing column is reported as a conflict and nothing is changed', async () => {
    const first = await h.target.ensureList(h.siteId, ordersSpec('Orders clash'));
    const spec = ordersSpec('Orders clash');
    spec.columns = spec.columns.map((c) => (c.name === 'Amount' ? { name: 'Amount', type: 'text' as const } : c));
    spec.columns.push({ name: 'Extra', type: 'boolean' });
    const result = await h.target.ensureList(h.siteId, spec);
    expect(result.conflicts).toHaveLength(1);
    expect(result.conflicts[0]).toMatchObject({ column: 'Amount', reason: "the existing column is of type 'number', not 'text'" });
    expect(result.added).toEqual([]);
    const columns = await h.target.listColumns(h.siteId, first.list!.id);
    expect(columns.some((c) => c.name === 'Extra')).toBe(false);
  });

  it('an existing SyncKey that is not unique is a conflict: without it retries could duplicate items', async () => {
    // Someone made the list by hand, with a plain SyncKey column.
    const res = await fetch(`${h.emulator.url}/v1.0/sites/${h.siteId}/lists`, {
      method: 'POST',
      headers: { Authorization: 'Bearer t', 'Content-Type': 'application/json' },
      body: JSON.stringify({ displayName: 'Hand made', columns: [{ name: SYNC_KEY_COLUMN, text: { maxLength: 64 } }], list: { template: 'genericList' } }),
    });
    expect(res.status).toBe(201);
    const result = await h.target.ensureList(h.siteId, { displayName: 'Hand made', columns: [] });
    expect(result.created).toBe(false);
    expect(result.conflicts.map((c) => [c.column, c.reason])).toEqual([[SYNC_KEY_COLUMN, 'the existing column does not enforce unique values']]);
  });
});

describe('connecting', () => {
  it('builds the adapter from a stored connection and settings, with the emulator token', async () => {
    const target = await createGraphListTarget(
      { id: 'sp', tenantId: 'tenant-a', clientId: 'client-a', auth: { kind: 'managedIdentity' } },
      { get: async () => '', set: async (n) => n },
      { GRAPH_BASE_URL: h.emulator.url, GRAPH_STATIC_TOKEN: 'emulator-token', GRAPH_BUDGET_RU_PER_MINUTE: 600_000, GRAPH_MAX_CONCURRENCY: 4 },
    );
    expect((await target.getSite(h.siteId)).id).toBe(h.siteId);
  });

  it('a refused credential is a config error at once, not a retried network failure', async () => {
    const target = new GraphListTarget({
      baseUrl: h.emulator.url,
      limiter: h.limiter,
      tokens: { getAccessToken: async () => Promise.reject(configError('sharepoint.auth', 'graph_auth_failed', 'Entra ID refused the credential')) },
    });
    h.emulator.state.resetMetrics();
    await expect(target.getSite(h.siteId)).rejects.toMatchObject({ code: 'graph_auth_failed', errorClass: 'config' });
    await expect(target.writeItems(h.siteId, 'any', [{ opId: '1', kind: 'delete', itemId: '1' }])).rejects.toMatchObject({ code: 'graph_auth_failed' });
    expect(h.emulator.state.metrics().httpRequests).toBe(0);
  });

  it("the SDK's default auth handler would drop the token for an http:// host even with customHosts, so the adapter attaches its own", async () => {
    const client = Client.init({
      authProvider: (done) => done(null, 'emulator-token'),
      baseUrl: `${h.emulator.url}/`,
      customHosts: new Set([new URL(h.emulator.url).host]),
    });
    const error = await client.api(`/sites/${h.siteId}`).get().catch((e: { statusCode?: number }) => e);
    expect((error as { statusCode?: number }).statusCode).toBe(401);
  });
});
