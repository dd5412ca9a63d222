import { deleteOlderPlans, PLAN_PAGE_OPS, PLAN_RETENTION_DRY_RUNS } from '../../src/sync/plan/plan-pages';
import { startStack, type Stack } from '../support/stack';

/**
 * A dry run's whole plan, stored in pages and read through `GET /api/runs/{runId}/plan`, and
 * the RU a run records, on the local host stack (real PostgreSQL, Azurite, the Graph emulator
 * over HTTP). The expected plan is computed here from SQL; the RU is checked against the
 * emulator's own meter (which the product never reads).
 */
jest.setTimeout(180_000);

interface PlanPage {
  page: number;
  pages: number;
  total: number;
  lists: string[];
  items: Array<{ op: string; key: unknown[]; list: string; fields?: Record<string, unknown>; changedFields?: string[] | null }>;
}

describe('dry-run plans in pages, and the RU runs record (local host stack)', () => {
  let stack: Stack;
  const table = () => `"${stack.schema}".orders`;
  // 2024: 250 rows (two pages of creates), 2025: 170 (one).
  const ROWS = 420;

  const api = async (path: string) => {
    const response = await fetch(`${stack.host.url}/api${path}`, { headers: { 'x-functions-key': 'test-function-key' } });
    return { status: response.status, type: response.headers.get('content-type') ?? '', body: (await response.json()) as Record<string, unknown> };
  };
  const planPage = async (runId: string, query: string) => {
    const res = await api(`/runs/${encodeURIComponent(runId)}/plan?${query}`);
    expect(res.status).toBe(200);
    return res.body as unknown as PlanPage;
  };
  const wholePlan = async (runId: string, filter = '') => {
    const first = await planPage(runId, filter);
    const pages = [first];
    for (let page = 1; page < first.pages; page++) pages.push(await planPage(runId, `${filter}&page=${page}`));
    return { first, items: pages.flatMap((p) => p.items), sizes: pages.map((p) => p.items.length) };
  };

  beforeAll(async () => {
    stack = await startStack({ serveHttp: true });
    await stack.pg.query(`
      CREATE TABLE ${table()} (
        id integer PRIMARY KEY,
        customer text NOT NULL,
        amount numeric(10,2) NOT NULL,
        ordered_at timestamptz NOT NULL,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      INSERT INTO ${table()} (id, customer, amount, ordered_at)
        SELECT g, 'Customer ' || g, g * 1.5, CASE WHEN g <= 250 THEN timestamptz '2024-06-01' ELSE timestamptz '2025-06-01' END FROM generate_series(1, ${ROWS}) g;`);
    await stack.addDefinition({
      id: 'orders',
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }, { source: 'ordered_at' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'date', column: 'ordered_at', period: 'year', listTemplate: 'Orders {yyyy}' },
      maxRowsPerRun: 5000,
    });
  }, 120_000);

  afterAll(() => stack?.stop());

  it('a dry run stores every row it would create, paged by list and operation, and the API pages, filters and refuses bad input', async () => {
    const dry = await stack.run('orders', 'dryRun');
    expect(dry.status).toBe('succeeded');
    const { first, items, sizes } = await wholePlan(dry.runId);
    expect(first.lists).toEqual(['Orders 2024', 'Orders 2025']);
    expect(first.total).toBe(ROWS);
    expect(sizes).toEqual([PLAN_PAGE_OPS, 250 - PLAN_PAGE_OPS, 170]);
    const expected = (await stack.pg.query(`SELECT id, customer FROM ${table()} ORDER BY id`)).rows as Array<{ id: number; customer: string }>;
    expect(items.map((i) => i.key[0]).sort((a, b) => Number(a) - Number(b))).toEqual(expected.map((r) => r.id));
    expect(new Set(items.map((i) => i.op))).toEqual(new Set(['create']));
    const row7 = items.find((i) => i.key[0] === 7)!;
    expect(row7).toMatchObject({ list: 'Orders 2024', fields: expect.objectContaining({ Title: 'Customer 7' }) });
    expect(items.find((i) => i.key[0] === 300)?.list).toBe('Orders 2025');

    const only2025 = await wholePlan(dry.runId, 'op=create&list=Orders%202025');
    expect(only2025.first).toMatchObject({ pages: 1, total: 170 });
    expect(only2025.items.every((i) => i.list === 'Orders 2025')).toBe(true);
    expect((await planPage(dry.runId, 'op=delete')).pages).toBe(0);

    for (const [query, field] of [
      ['op=upsert', 'op'],
      ['page=-1', 'page'],
      ['page=x', 'page'],
    ] as const) {
      const bad = await api(`/runs/${dry.runId}/plan?${query}`);
      expect(bad.status).toBe(400);
      expect(bad.type).toContain('application/problem+json');
      expect(JSON.stringify(bad.body.errors)).toContain(field);
    }
    expect((await api(`/runs/${dry.runId}/plan?page=3`)).status).toBe(404);
    expect((await api(`/runs/no-such-run/plan`)).status).toBe(404);
    // A dry run writes nothing.
    expect(stack.items()).toHaveLength(0);
  });

  it("a run's ruSpent equals the RU SharePoint (the emulator) charged for it, and the RU-per-hour route adds runs up per tenant", async () => {
    stack.emulator.state.resetMetrics();
    const real = await stack.run('orders');
    expect(real).toMatchObject({ status: 'succeeded', counts: expect.objectContaining({ created: ROWS }) });
    const charged = stack.emulator.state.metrics().ru.total;
    expect(charged).toBeGreaterThan(ROWS);
    expect(real.ruSpent).toBe(charged);
    expect((await api(`/runs/${real.runId}`)).body.ruSpent).toBe(charged);

    const notDry = await api(`/runs/${real.runId}/plan`);
    expect(notDry.status).toBe(409);
    expect(notDry.type).toContain('application/problem+json');

    const runs = (await stack.state.listRuns('orders')).items;
    const stats = await api('/stats/ru-per-hour?hours=3');
    expect(stats.status).toBe(200);
    const tenants = stats.body.tenants as Array<{ tenantId: string; ru: number[]; total: number; runs: number }>;
    const sp = await stack.state.getSharePoint('sp');
    expect(tenants.map((t) => t.tenantId)).toEqual([sp!.tenantId]);
    expect(tenants[0]!.total).toBe(runs.reduce((sum, r) => sum + (r.ruSpent ?? 0), 0));
    expect(tenants[0]!.runs).toBe(runs.length);
    expect((stats.body.hours as string[]).length).toBe(3);
    expect((await api('/stats/ru-per-hour?hours=0')).status).toBe(400);
  });

  it('an update in the plan names the fields that would change, with their new values', async () => {
    await stack.pg.query(`UPDATE ${table()} SET amount = 1000 + id, updated_at = clock_timestamp() WHERE id IN (5, 260)`);
    stack.emulator.state.resetMetrics();
    const dry = await stack.run('orders', 'dryRun');
    expect(dry.ruSpent).toBe(stack.emulator.state.metrics().ru.total);
    const { items, first } = await wholePlan(dry.runId, 'op=update');
    expect(first.total).toBe(2);
    const byKey = new Map(items.map((i) => [i.key[0], i]));
    expect(byKey.get(5)).toMatchObject({ list: 'Orders 2024', changedFields: ['amount'], fields: { amount: 1005 } });
    expect(byKey.get(260)).toMatchObject({ list: 'Orders 2025', changedFields: ['amount'], fields: { amount: 1260 } });
  });

  it('a row whose shard changes is planned as a move between the lists, and the run that moves it records the RU it cost', async () => {
    await stack.pg.query(`UPDATE ${table()} SET ordered_at = '2025-07-01', updated_at = clock_timestamp() WHERE id = 9`);
    const dry = await stack.run('orders', 'dryRun');
    const moves = await wholePlan(dry.runId, 'op=move');
    expect(moves.items).toEqual([expect.objectContaining({ op: 'move', key: [9], fromList: 'Orders 2024', list: 'Orders 2025' })]);
    stack.emulator.state.resetMetrics();
    const real = await stack.run('orders');
    expect(real).toMatchObject({ status: 'succeeded', counts: expect.objectContaining({ moved: 1, updated: 2 }) });
    expect(stack.items().find((i) => i.fields.Title === 'Customer 9')?.list).toBe('Orders 2025');
    const charged = stack.emulator.state.metrics().ru.total;
    expect(charged).toBeGreaterThan(0);
    expect(real.ruSpent).toBe(charged);
  });

  it('a small change written by the planning invocation itself records its RU once', async () => {
    await stack.pg.query(`UPDATE ${table()} SET amount = 2000 + id, updated_at = clock_timestamp() WHERE id IN (11, 12, 300)`);
    stack.emulator.state.resetMetrics();
    const real = await stack.run('orders');
    expect(real).toMatchObject({ status: 'succeeded', counts: expect.objectContaining({ updated: 3 }) });
    const charged = stack.emulator.state.metrics().ru.total;
    expect(charged).toBeGreaterThan(0);
    expect(real.ruSpent).toBe(charged);
  });

  it(`a definition keeps the stored plans of its newest ${PLAN_RETENTION_DRY_RUNS} dry runs; older ones answer 409`, async () => {
    const runs: string[] = [];
    for (let i = 0; i < PLAN_RETENTION_DRY_RUNS; i++) runs.push((await stack.run('orders', 'dryRun')).runId);
    const dryRuns = (await stack.state.listRuns('orders', { limit: 50 })).items.filter((r) => r.mode === 'dryRun').map((r) => r.runId);
    expect(dryRuns.slice(0, PLAN_RETENTION_DRY_RUNS)).toEqual([...runs].reverse());
    const oldest = dryRuns.at(-1)!;
    const gone = await api(`/runs/${oldest}/plan`);
    expect(gone.status).toBe(409);
    expect(String(gone.body.detail)).toMatch(/retention/);
    expect(await stack.state.getRunPlanPage(oldest, 'Orders 2024', 'create', 0)).toBeNull();
    // The newest ones still answer (nothing is left to change by now, so their plans are empty).
    expect(await planPage(runs.at(-1)!, '')).toMatchObject({ pages: 0, total: 0, items: [] });
    // Idempotent: nothing more to delete.
    await deleteOlderPlans({ state: stack.state, log: stack.deps.log }, 'orders');
    expect((await api(`/runs/${runs[0]!}/plan?op=update`)).status).toBe(200);
    expect((await api(`/runs/${oldest}/plan`)).status).toBe(409);
  });

  it("deleting the definition deletes its dry runs' stored plans; the run records stay", async () => {
    const dry = await stack.run('orders', 'dryRun');
    await stack.pg.query(`UPDATE ${table()} SET amount = 1, updated_at = clock_timestamp() WHERE id = 1`);
    const withUpdate = await stack.run('orders', 'dryRun');
    expect(await stack.state.getRunPlanPage(withUpdate.runId, 'Orders 2024', 'update', 0)).toHaveLength(1);
    const response = await fetch(`${stack.host.url}/api/definitions/orders`, { method: 'DELETE', headers: { 'x-functions-key': 'test-function-key' } });
    expect(response.status).toBe(204);
    expect(await stack.state.getRunPlanPage(withUpdate.runId, 'Orders 2024', 'update', 0)).toBeNull();
    expect((await api(`/runs/${withUpdate.runId}/plan`)).status).toBe(409);
    expect((await stack.state.getRun(dry.runId))?.status).toBe('succeeded');
  });
});
