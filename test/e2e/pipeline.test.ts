import { startStack, stateStoreSettings, type Stack } from '../support/stack';
import { retryFailures } from '../../src/sync/failures';
import { assertInvariant } from '../support/invariant';
import { graphAsPerson } from '../support/tamper';
import { QUEUES } from '../../src/core/ports/bus';
import { DEFAULT_SYNC_SETTINGS } from '../../src/sync/deps';

/**
 * Push sync end to end on the local host stack: real PostgreSQL, Azurite state and queues,
 * the Graph emulator over HTTP, the real function table pumped by the local host.
 */

// Whole runs through Azurite's table emulation take tens of seconds on a loaded 2-core machine;
// a jest timeout is no behaviour bound, so give each run room rather than fail on a slow host.
jest.setTimeout(120_000);
describe.each(['table', 'postgres'] as const)('push sync end to end (local host stack, %s state store)', (stateStore) => {
  let stack: Stack;
  const definitionId = 'orders';
  const table = () => `"${stack.schema}".orders`;

  beforeAll(async () => {
    stack = await startStack({ settings: stateStoreSettings(stateStore, 'e2e_state') });
    await stack.pg.query(`
      CREATE TABLE ${table()} (
        id integer PRIMARY KEY,
        customer text NOT NULL,
        amount numeric(10,2) NOT NULL,
        ordered_at timestamptz NOT NULL,
        is_deleted boolean NOT NULL DEFAULT false,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
      )`);
    await stack.pg.query(`
      INSERT INTO ${table()} (id, customer, amount, ordered_at)
      SELECT g, 'Customer ' || g, (g * 1.25)::numeric(10,2), timestamptz '2022-03-01 00:00:00+00' + ((g % 4) * interval '1 year') + (g * interval '1 hour')
      FROM generate_series(1, 300) g`);
    await stack.addDefinition({
      id: definitionId,
      table: { schema: stack.schema, name: 'orders' },
      title: 'customer',
      fields: [{ source: 'amount' }, { source: 'ordered_at' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 5 },
      deletes: { mode: 'softDelete', column: 'is_deleted', value: true },
      sharding: { strategy: 'date', column: 'ordered_at', period: 'year', listTemplate: 'Orders {yyyy}' },
      maxRowsPerRun: 1000,
    });
  }, 60_000);

  afterAll(() => stack?.stop());

  it('a dry run writes nothing and plans what the real run then does', async () => {
    const before = stack.emulator.state.metrics().requests;
    const dry = await stack.run(definitionId, 'dryRun');
    expect(dry.status).toBe('succeeded');
    expect(stack.items()).toHaveLength(0);
    expect(stack.emulator.state.metrics().requests - before).toBeLessThanOrEqual(4); // list lookups only, no writes
    const plan = dry.plan as { byList: Record<string, { create: number }> };
    expect(Object.values(plan.byList).reduce((n, c) => n + c.create, 0)).toBe(300);

    const real = await stack.run(definitionId);
    expect(real.status).toBe('succeeded');
    expect(real.counts).toMatchObject({ read: 300, created: 300, updated: 0, failed: 0 });
    const perList = new Map<string, number>();
    for (const item of stack.items()) perList.set(item.list, (perList.get(item.list) ?? 0) + 1);
    const planned = Object.fromEntries(Object.entries(plan.byList).map(([list, c]) => [list, c.create]));
    expect(Object.fromEntries(perList)).toEqual(planned);
    expect([...perList.keys()].sort()).toEqual(['Orders 2022', 'Orders 2023', 'Orders 2024', 'Orders 2025']);
    await assertInvariant(stack, definitionId, `SELECT * FROM ${table()} WHERE NOT is_deleted`);
  });

  it('a second run with no changes makes zero Graph requests', async () => {
    const before = stack.emulator.state.metrics().requests;
    const run = await stack.run(definitionId);
    expect(run.status).toBe('succeeded');
    expect(run.counts).toMatchObject({ created: 0, updated: 0, moved: 0 });
    expect(stack.emulator.state.metrics().requests - before).toBe(0);
  });

  it('updating 1 % of rows makes exactly that many updates', async () => {
    await stack.pg.query(`UPDATE ${table()} SET amount = amount + 1, updated_at = clock_timestamp() WHERE id IN (10, 20, 30)`);
    const before = stack.emulator.state.metrics();
    const run = await stack.run(definitionId);
    const after = stack.emulator.state.metrics();
    expect(run.counts).toMatchObject({ updated: 3, created: 0, failed: 0 });
    expect(after.ru.byKind.update - before.ru.byKind.update).toBe(3 * 2);
    expect(after.ru.byKind.create - before.ru.byKind.create).toBe(0);
    const item = stack.items().find((i) => i.fields.Title === 'Customer 10');
    expect(item?.fields.amount).toBe(13.5);
  });

  it('an update sends only the fields whose values changed', async () => {
    const item = stack.items().find((i) => i.fields.Title === 'Customer 40')!;
    const listId = stack.emulator.state.lists().find((l) => l.displayName === item.list)!.id;
    // Someone edits the Title in SharePoint; our update of the amount alone must not touch it.
    await graphAsPerson(stack)('PATCH', `/lists/${listId}/items/${item.id}/fields`, { Title: 'Edited in SharePoint' });
    await stack.pg.query(`UPDATE ${table()} SET amount = amount + 1, updated_at = clock_timestamp() WHERE id = 40`);
    const run = await stack.run(definitionId);
    expect(run.counts).toMatchObject({ updated: 1, failed: 0 });
    const after = stack.items().find((i) => i.list === item.list && i.id === item.id)!;
    expect(after.fields.amount).toBe(51);
    expect(after.fields.Title).toBe('Edited in SharePoint');
    // Put the person's edit back, so the invariant checks below compare like with like.
    await graphAsPerson(stack)('PATCH', `/lists/${listId}/items/${item.id}/fields`, { Title: 'Customer 40' });
  });

  it('touching rows without changing mapped content makes no writes', async () => {
    await stack.pg.query(`UPDATE ${table()} SET updated_at = clock_timestamp() WHERE id <= 50`);
    const before = stack.emulator.state.metrics().requests;
    const run = await stack.run(definitionId);
    expect(run.counts.read).toBeGreaterThanOrEqual(50);
    expect(run.counts.unchanged).toBeGreaterThanOrEqual(50);
    expect(stack.emulator.state.metrics().requests - before).toBe(0);
  });

  it('changing a shard column moves the item and records the move', async () => {
    await stack.pg.query(`UPDATE ${table()} SET ordered_at = timestamptz '2021-06-01 00:00:00+00', updated_at = clock_timestamp() WHERE id = 7`);
    const run = await stack.run(definitionId);
    expect(run.counts).toMatchObject({ moved: 1, failed: 0 });
    const copies = stack.items().filter((i) => i.fields.Title === 'Customer 7');
    expect(copies.map((c) => c.list)).toEqual(['Orders 2021']);
    const moves = await stack.state.listMoves(definitionId);
    expect(moves.items).toHaveLength(1);
    expect(moves.items[0]).toMatchObject({ runId: run.runId });
    await assertInvariant(stack, definitionId, `SELECT * FROM ${table()} WHERE NOT is_deleted`);
  });

  it('a soft-deleted row loses its item', async () => {
    await stack.pg.query(`UPDATE ${table()} SET is_deleted = true, updated_at = clock_timestamp() WHERE id IN (3, 4)`);
    const run = await stack.run(definitionId);
    expect(run.counts).toMatchObject({ deleted: 2, failed: 0 });
    expect(stack.items().filter((i) => i.fields.Title === 'Customer 3' || i.fields.Title === 'Customer 4')).toHaveLength(0);
    await assertInvariant(stack, definitionId, `SELECT * FROM ${table()} WHERE NOT is_deleted`);
  });

  it('a row SharePoint cannot hold goes to the failure list, is retried, quarantined, and heals when fixed', async () => {
    // 1850 is before SharePoint's earliest date (1900-01-01).
    await stack.pg.query(`INSERT INTO ${table()} (id, customer, amount, ordered_at) VALUES (1001, 'Old Customer', 5, '1850-01-01T00:00:00Z')`);
    const first = await stack.run(definitionId);
    expect(first.status).toBe('partial');
    expect(first.counts.failed).toBe(1);
    let failures = await stack.state.getFailures(definitionId, { includeQuarantined: true });
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ key: [1001], attempts: 1, quarantined: false });
    expect(failures[0]!.lastError).toContain('ordered_at');
    // Retried by key on the next runs until maxAttempts, then quarantined.
    const stored = (await stack.state.getDefinition(definitionId))!;
    await stack.state.putDefinition({ ...stored, definition: { ...stored.definition, maxAttempts: 2 } });
    await stack.run(definitionId);
    failures = await stack.state.getFailures(definitionId, { includeQuarantined: true });
    expect(failures[0]).toMatchObject({ attempts: 2, quarantined: true });
    const quiet = await stack.run(definitionId);
    expect(quiet.counts.failed).toBe(0); // quarantined rows wait for an admin
    // The admin fixes the row and lifts the quarantine: the next run retries it by key.
    await stack.pg.query(`UPDATE ${table()} SET ordered_at = '2024-05-01T00:00:00Z', updated_at = clock_timestamp() WHERE id = 1001`);
    expect(await retryFailures(stack.deps, definitionId)).toBe(1);
    const healed = await stack.run(definitionId);
    expect(healed.counts).toMatchObject({ created: 1, failed: 0 });
    expect(await stack.state.getFailures(definitionId, { includeQuarantined: true })).toHaveLength(0);
    await assertInvariant(stack, definitionId, `SELECT * FROM ${table()} WHERE NOT is_deleted`);
  });

  it('a changed mapping rescans the table and rewrites only rows whose mapped content changed', async () => {
    const stored = (await stack.state.getDefinition(definitionId))!;
    await stack.state.putDefinition({ ...stored, definition: { ...stored.definition, fields: [...stored.definition.fields, { source: 'is_deleted', target: 'Archived' }] } });
    const live = (await stack.pg.query(`SELECT count(*)::int AS n FROM ${table()} WHERE NOT is_deleted`)).rows[0].n as number;
    const run = await stack.run(definitionId);
    expect(run.counts.read).toBeGreaterThanOrEqual(live);
    expect(run.counts.updated).toBe(live); // every item gains the new column
    const again = await stack.run(definitionId, 'full');
    expect(again.counts).toMatchObject({ updated: 0, created: 0 });
    await assertInvariant(stack, definitionId, `SELECT * FROM ${table()} WHERE NOT is_deleted`);
  });

  it('rows beyond maxRowsPerRun are picked up by continuation runs at once', async () => {
    await stack.pg.query(`CREATE TABLE "${stack.schema}".big (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO "${stack.schema}".big SELECT g, 'row ' || g FROM generate_series(1, 250) g`);
    await stack.addDefinition({
      id: 'big',
      table: { schema: stack.schema, name: 'big' },
      title: 'label',
      fields: [{ source: 'id', target: 'RowNumber' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Big {n}' },
      maxRowsPerRun: 100,
    });
    const first = await stack.run('big');
    expect(first.counts.read).toBe(100);
    const runs = await stack.state.listRuns('big', { limit: 10 });
    expect(runs.items.map((r) => r.trigger).sort()).toEqual(['continuation', 'continuation', 'manual']);
    await assertInvariant(stack, 'big', `SELECT * FROM "${stack.schema}".big`);
  });

  it('bulk-loaded rows sharing one old timestamp are read by one pass, then never again', async () => {
    await stack.pg.query(`CREATE TABLE "${stack.schema}".bulk (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL)`);
    await stack.pg.query(`INSERT INTO "${stack.schema}".bulk SELECT g, 'row ' || g, now() - interval '1 hour' FROM generate_series(1, 120) g`);
    await stack.addDefinition({
      id: 'bulk',
      table: { schema: stack.schema, name: 'bulk' },
      title: 'label',
      fields: [{ source: 'id', target: 'RowNumber' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 60 },
      sharding: { strategy: 'none', list: 'Bulk' },
      maxRowsPerRun: 50,
    });
    await stack.run('bulk');
    const passes = await stack.state.listRuns('bulk', { limit: 10 });
    expect(passes.items.reduce((sum, r) => sum + r.counts.read, 0)).toBe(120);

    const idle = await stack.run('bulk');
    expect(idle.counts.read).toBe(0);
    expect((await stack.state.listRuns('bulk', { limit: 10 })).items).toHaveLength(passes.items.length + 1);

    await stack.pg.query(`UPDATE "${stack.schema}".bulk SET label = 'changed', updated_at = now() WHERE id = 7`);
    const changed = await stack.run('bulk');
    expect(changed.counts).toMatchObject({ read: 1, updated: 1 });
  });

  it('a small change is written by the planning invocation itself; a large one fans out to the write queue', async () => {
    const INLINE_MAX_OPS = DEFAULT_SYNC_SETTINGS.inlineWriteMaxOps;
    const sentTo = new Map<string, number>();
    const realBus = stack.services.bus();
    stack.rewire({
      bus: () => ({
        send: async (queue, messages) => {
          sentTo.set(queue, (sentTo.get(queue) ?? 0) + messages.length);
          await realBus.send(queue, messages);
        },
        ping: () => realBus.ping(),
        close: async () => undefined,
      }),
    });
    try {
      await stack.pg.query(`CREATE TABLE "${stack.schema}".inline (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
      await stack.pg.query(`INSERT INTO "${stack.schema}".inline SELECT g, 'row ' || g FROM generate_series(1, ${INLINE_MAX_OPS + 50}) g`);
      await stack.addDefinition({
        id: 'inline',
        table: { schema: stack.schema, name: 'inline' },
        title: 'label',
        fields: [{ source: 'id', target: 'RowNumber' }],
        cursor: { kind: 'timestamp', column: 'updated_at' },
        sharding: { strategy: 'hash', buckets: 2, listTemplate: 'Inline {n}' },
        maxRowsPerRun: 10_000,
      });
      const load = await stack.run('inline');
      expect(load.counts).toMatchObject({ created: INLINE_MAX_OPS + 50, failed: 0 });
      expect(sentTo.get(QUEUES.writes) ?? 0).toBeGreaterThan(0);

      sentTo.clear();
      await stack.pg.query(`UPDATE "${stack.schema}".inline SET label = 'changed ' || id, updated_at = clock_timestamp() WHERE id <= 30`);
      const small = await stack.run('inline');
      expect(small.status).toBe('succeeded');
      expect(small.counts).toMatchObject({ updated: 30, failed: 0 });
      expect(sentTo.get(QUEUES.writes) ?? 0).toBe(0);
      // nor a finalize message: the planning invocation closed the run
      expect(sentTo.get(QUEUES.runs) ?? 0).toBe(0);
      await assertInvariant(stack, 'inline', `SELECT * FROM "${stack.schema}".inline`);
    } finally {
      stack.rewire({ bus: () => realBus });
    }
  });

  it('a first load does not reconcile against the ledger its own writers fill; the next pass does, and deletes what went missing', async () => {
    await stack.pg.query(`CREATE TABLE "${stack.schema}".recon (id integer PRIMARY KEY, label text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO "${stack.schema}".recon SELECT g, 'row ' || g FROM generate_series(1, 40) g`);
    await stack.addDefinition({
      id: 'recon',
      table: { schema: stack.schema, name: 'recon' },
      title: 'label',
      fields: [{ source: 'id', target: 'RowNumber' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'none', list: 'Recon' },
      deletes: { mode: 'reconcile', everyRuns: 1 },
    });
    const load = await stack.run('recon');
    expect(load.counts).toMatchObject({ created: 40, failed: 0 });
    expect((load.plan as { reconciled?: boolean }).reconciled).toBe(false);

    await stack.pg.query(`DELETE FROM "${stack.schema}".recon WHERE id IN (3, 4)`);
    const next = await stack.run('recon');
    expect((next.plan as { reconciled?: boolean }).reconciled).toBe(true);
    expect(next.counts).toMatchObject({ deleted: 2, failed: 0 });
    await assertInvariant(stack, 'recon', `SELECT * FROM "${stack.schema}".recon`);
  });

  it('a breaking schema change stops the run with an error naming the column', async () => {
    await stack.pg.query(`ALTER TABLE "${stack.schema}".big DROP COLUMN label`);
    const run = await stack.run('big');
    expect(run.status).toBe('failed');
    expect(run.error).toMatch(/label/);
  });
});

