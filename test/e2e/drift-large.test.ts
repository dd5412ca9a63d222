import { differencesPage, requestDriftCheck, summaryOf } from '../../src/sync/drift';
import { seedInStep } from '../support/drift-seed';
import { startStack, stateStoreSettings, type Stack } from '../support/stack';

/** A quick check of a list past SharePoint's 5,000-item list view threshold (DESIGN §7). */
describe('drift check of a large list (local host stack)', () => {
  let stack: Stack;
  const definitionId = 'large';
  const rows = 5_300;

  beforeAll(async () => {
    // The PostgreSQL state store: Azurite's Table emulation takes most of a minute for a ledger this size.
    stack = await startStack({ settings: stateStoreSettings('postgres', 'e2e_drift_large') });
    const table = `"${stack.schema}".big`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, customer text NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.addDefinition({
      id: definitionId,
      table: { schema: stack.schema, name: 'big' },
      title: 'customer',
      fields: [{ source: 'customer', target: 'Customer' }],
      cursor: { kind: 'timestamp', column: 'updated_at' },
      sharding: { strategy: 'none', list: 'Big' },
    });
    // A first run of one row provisions the list; the other rows then go in through the emulator's store.
    await stack.pg.query(`INSERT INTO ${table} (id, customer) VALUES (1, 'Customer 1')`);
    expect((await stack.run(definitionId)).counts).toMatchObject({ created: 1 });
    await stack.pg.query(`INSERT INTO ${table} (id, customer) SELECT g, 'Customer ' || g FROM generate_series(2, ${rows}) g`);
    expect(await seedInStep(stack, definitionId)).toBe(rows - 1);
  }, 60_000);

  afterAll(() => stack?.stop());

  it.each(['quick', 'deep'] as const)('a %s check pages through more than 5,000 items without a threshold error, at 2 RU a page, as SharePoint charged it', async (mode) => {
    stack.emulator.state.resetMetrics();
    const queued = await requestDriftCheck(stack.deps, definitionId, mode);
    await stack.waitForQuiet();
    const record = (await stack.state.getDriftReport(definitionId, queued.reportId))!;
    expect(record.status).toBe('done');
    const summary = summaryOf(record);
    expect(summary.counts).toMatchObject({ itemsScanned: rows, ledgerEntries: rows, missingInSharePoint: 0, orphanInSharePoint: 0, pointsElsewhere: 0, duplicateInSharePoint: 0, contentMismatch: 0 });
    expect(summary.ruSpent).toBe(2 * Math.ceil(rows / 999));
    expect(summary.requests).toBe(Math.ceil(rows / 999));
    const charged = stack.emulator.state.metrics();
    expect({ ru: summary.ruSpent, requests: summary.requests }).toEqual({ ru: charged.ru.total, requests: charged.httpRequests });
    expect((await differencesPage(stack.state, record, undefined, 0)).items).toEqual([]);
  }, 60_000);
});
