import type { Browser, BrowserContext, Page, Route } from 'playwright-core';
import { runLeaseName } from '../../src/sync/deps';
import { startStack, type Stack } from '../support/stack';
import { buildConsole, expectAccessible, launchChromium, screenshot, tabTo } from './console-browser';

/**
 * The admin console as an admin uses it, in a real browser over the local host stack: both
 * connections, a date-sharded definition built in the wizard, provisioning after its dry-run
 * diff, runs watched to the end, a refused row retried; and the wizard by keyboard alone.
 */
const KEY = 'test-function-key';

describe('the admin console in Chromium', () => {
  let stack: Stack;
  let browser: Browser;
  let context: BrowserContext;
  let page: Page;
  let table: string;

  beforeAll(async () => {
    buildConsole();
    stack = await startStack({ serveHttp: true });
    table = `"${stack.schema}".orders`;
    await stack.pg.query(`
      CREATE TABLE ${table} (
        order_id integer PRIMARY KEY,
        customer text NOT NULL,
        amount numeric(10,2) NOT NULL,
        ordered_at timestamptz NOT NULL,
        shipped_at timestamptz,
        updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
      );
      CREATE INDEX ON ${table} (updated_at);
      INSERT INTO ${table} (order_id, customer, amount, ordered_at)
        SELECT n, 'Customer ' || n, n * 1.5, timestamptz '2024-03-01' + (n % 3) * interval '1 year' FROM generate_series(1, 30) n;`);
    browser = await launchChromium();
    context = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    context.setDefaultTimeout(15_000);
    page = await context.newPage();
  }, 180_000);

  afterAll(async () => {
    await browser?.close();
    await stack?.stop();
  }, 180_000);

  const consoleUrl = () => `${stack.host.url}/api/console/`;
  const status = () => page.getByTestId('run-status');

  async function downloadText(start: () => Promise<void>): Promise<string> {
    const download = page.waitForEvent('download');
    await start();
    const stream = await (await download).createReadStream();
    let text = '';
    for await (const chunk of stream) text += chunk;
    return text;
  }

  async function runAndWait(button: string, finished: RegExp) {
    const accepted = page.waitForResponse((r) => r.request().method() === 'POST' && /\/api\/definitions\/[^/]+\/runs$/.test(new URL(r.url()).pathname));
    await page.getByRole('button', { name: button, exact: true }).click();
    const { runId } = (await (await accepted).json()) as { runId: string };
    // Follow the run this click started: until the API accepts it, the panel still shows the last one.
    await page.getByRole('heading', { name: `Run ${runId}`, exact: true }).waitFor();
    await page.getByRole('progressbar').waitFor();
    await expectAccessible(page, `run in progress (${button})`);
    await status().getByText(finished).waitFor({ timeout: 60_000 });
    return (await status().textContent()) ?? '';
  }

  it('asks for the function key once and keeps it for the browser session', async () => {
    await page.goto(consoleUrl());
    await page.getByLabel('Function key', { exact: true }).waitFor();
    await expectAccessible(page, 'function key form');
    await page.getByLabel('Function key', { exact: true }).fill(KEY);
    await page.getByRole('button', { name: 'Use this key' }).click();
    await page.getByText('No definitions yet').waitFor();
    await expectAccessible(page, 'empty dashboard');
    await page.reload();
    await page.getByText('No definitions yet').waitFor();
    expect(await page.evaluate<string | null>("sessionStorage.getItem('sync-console.functionKey')")).toBe(KEY);
  }, 60_000);

  it('keeps what the admin typed into a new connection form while the connection lists are still loading', async () => {
    // The lists are held back, as on a slow network, until the admin has typed into both forms.
    const held: Array<() => void> = [];
    const lists = /\/api\/(sources|sharepoint)$/;
    const hold = (route: Route) => {
      if (route.request().method() !== 'GET') return route.continue();
      held.push(() => void route.continue());
    };
    await page.route(lists, hold);
    try {
      await page.getByRole('link', { name: 'Connections' }).click();
      const source = page.getByRole('form', { name: 'New source connection' });
      const sp = page.getByRole('form', { name: 'New SharePoint connection' });
      await source.getByLabel('Connection id', { exact: true }).fill('typed-early');
      await source.getByLabel('Host', { exact: true }).fill('db.example');
      await sp.getByLabel('SharePoint connection id', { exact: true }).fill('sp-typed-early');
      expect(held.length).toBe(2);
      for (const release of held) release();
      await page.getByRole('table', { name: 'Source connections' }).waitFor();
      await page.getByRole('table', { name: 'SharePoint connections' }).waitFor();
      expect(await source.getByLabel('Connection id', { exact: true }).inputValue()).toBe('typed-early');
      expect(await source.getByLabel('Host', { exact: true }).inputValue()).toBe('db.example');
      expect(await sp.getByLabel('SharePoint connection id', { exact: true }).inputValue()).toBe('sp-typed-early');
    } finally {
      await page.unroute(lists, hold);
    }
  }, 60_000);

  it('creates and tests a SQL source and a SharePoint connection, and browses the site', async () => {
    await page.getByRole('link', { name: 'Connections' }).click();
    const url = new URL(process.env.TEST_PG_URL!);
    const form = page.getByRole('form', { name: 'New source connection' });
    // The second connection, to the same database, stands in for a replica to fail over to.
    for (const id of ['shop', 'shop-replica']) {
      await form.getByLabel('Connection id', { exact: true }).fill(id);
      await form.getByLabel('Host', { exact: true }).fill(url.hostname);
      await form.getByLabel('Port', { exact: true }).fill(url.port || '5432');
      await form.getByLabel('Database', { exact: true }).fill(decodeURIComponent(url.pathname.slice(1)) || 'postgres');
      await form.getByLabel('User', { exact: true }).fill(decodeURIComponent(url.username) || 'postgres');
      await form.getByLabel('Secret reference', { exact: true }).fill(`${stack.id}-pg`);
      await form.getByLabel('Encrypt the connection (TLS)', { exact: true }).uncheck();
      await form.getByRole('button', { name: 'Save source' }).click();
      await page.getByRole('button', { name: `Test ${id}`, exact: true }).waitFor();
    }
    await page.getByRole('button', { name: 'Test shop', exact: true }).click();
    await page.getByText(/^ok, \d+ ms/).waitFor();
    await expectAccessible(page, 'connections with a tested source');

    const sp = page.getByRole('form', { name: 'New SharePoint connection' });
    await sp.getByLabel('SharePoint connection id', { exact: true }).fill('intranet');
    await sp.getByLabel('Tenant id', { exact: true }).fill('tenant-1');
    await sp.getByLabel('Client id', { exact: true }).fill('client-1');
    await sp.getByRole('button', { name: 'Save SharePoint connection' }).click();
    const browse = page.getByRole('form', { name: 'Browse sites of intranet' });
    await browse.getByRole('button', { name: 'Search sites' }).click();
    await browse.getByRole('button', { name: /^Lists of / }).first().click();
    await expectAccessible(page, 'connections with sites browsed');
  }, 60_000);

  it('builds a date-sharded definition in the wizard and provisions it after the dry-run diff', async () => {
    await page.getByRole('link', { name: 'New definition' }).click();
    await page.getByLabel('Definition id', { exact: true }).fill('orders');
    await page.getByLabel('Source connection', { exact: true }).selectOption('shop');
    await page.getByLabel('Table', { exact: true }).selectOption(`${stack.schema}.orders`);
    await page.getByText(/columns read from/).waitFor({ state: 'attached' });
    await page.getByLabel('Secondary source (for failover)', { exact: true }).selectOption('shop-replica');
    await page.getByLabel('SharePoint connection', { exact: true }).selectOption('intranet');
    await page.getByLabel('Site', { exact: true }).selectOption({ index: 1 });
    await expectAccessible(page, 'wizard: source and table');
    await page.getByRole('button', { name: 'Next: Fields' }).click();
    await page.getByLabel('SharePoint name for customer', { exact: true }).waitFor();
    await page.getByLabel('Title column (the item\'s title in SharePoint)', { exact: true }).selectOption('customer');
    await expectAccessible(page, 'wizard: fields');
    await page.getByRole('button', { name: 'Next: Key' }).click();
    await page.getByText('The key is unique and never empty.').waitFor();
    await page.getByRole('button', { name: 'Next: Cursor' }).click();
    expect(await page.getByLabel('Cursor column', { exact: true }).inputValue()).toBe('updated_at');
    await expectAccessible(page, 'wizard: cursor');
    await page.getByRole('button', { name: 'Next: Deletes' }).click();
    await page.getByRole('button', { name: 'Next: Sharding' }).click();
    await page.getByLabel('Sharding', { exact: true }).selectOption('date');
    await page.getByLabel('Date column', { exact: true }).selectOption('ordered_at');
    await page.getByLabel('List name template', { exact: true }).fill('Orders {yyyy}');
    await page.getByLabel('Sample 1 ordered_at', { exact: true }).fill('2025-06-30');
    await page.getByTestId('preview-list-0').getByText('Orders 2025').waitFor();
    await expectAccessible(page, 'wizard: sharding with preview');
    await screenshot(page, 'wizard');
    await page.getByRole('button', { name: 'Next: Schedule' }).click();
    await page.getByLabel('Schedule (six-field NCRONTAB, UTC)', { exact: true }).fill('0 */5 * * * *');
    await page.getByText('Next fire times:').waitFor();
    await expectAccessible(page, 'wizard: schedule');
    await page.getByRole('button', { name: 'Next: Review and apply' }).click();
    await page.getByRole('button', { name: 'Save, validate and dry-run provisioning' }).click();
    await page.getByText('Provisioning dry run: what applying would change').waitFor();
    // Date shards are created by runs as each year's rows arrive: the diff says so, and nothing exists yet.
    await page.getByText(/one list per year \("Orders \{yyyy\}"\), created by runs/).waitFor();
    expect(stack.emulator.state.lists().filter((l) => l.displayName.startsWith('Orders'))).toHaveLength(0);
    await expectAccessible(page, 'wizard: provisioning diff');
    await page.getByRole('button', { name: 'Apply provisioning' }).click();
    await page.getByText('Provisioned', { exact: true }).waitFor();
  }, 90_000);

  it('runs the definition with live progress to the end, and the next run shows the changed rows', async () => {
    await page.getByRole('link', { name: /Go to orders/ }).click();
    const first = await runAndWait('Run now', /^succeeded/);
    expect(first).toContain('created 30');
    expect(await page.getByRole('progressbar').getAttribute('value')).toBe('100');
    expect(stack.items()).toHaveLength(30);
    expect(stack.emulator.state.lists().map((l) => l.displayName)).toEqual(expect.arrayContaining(['Orders 2024', 'Orders 2025', 'Orders 2026']));

    await stack.pg.query(`UPDATE ${table} SET amount = amount + 1, updated_at = clock_timestamp() WHERE order_id <= 3`);
    const second = await runAndWait('Run now', /^succeeded/);
    expect(second).toMatch(/created 0, updated 3,/);
  }, 120_000);

  it('previews a dry run: every planned update with the fields that would change, filtered by operation, exported as CSV', async () => {
    await stack.pg.query(`UPDATE ${table} SET customer = customer || ' (new name)', updated_at = clock_timestamp() WHERE order_id IN (4, 5)`);
    await runAndWait('Dry run (preview)', /^succeeded/);
    for (const year of ['2025', '2026']) {
      const planned = page.getByRole('row', { name: new RegExp(`^Orders ${year}`) });
      expect(await planned.getByRole('cell').allTextContents()).toEqual(['0', '1', '0', '0', '9']);
    }
    await page.getByLabel('Show operation', { exact: true }).selectOption('update');
    await page.getByTestId('plan-page').getByText('Page 1 of 2 · 2 planned rows match').waitFor();
    const plannedRows = page.getByRole('table', { name: /^Planned rows/ });
    await plannedRows.getByRole('cell', { name: 'Title: Customer 4 (new name); customer: Customer 4 (new name)' }).waitFor();
    await expectAccessible(page, 'dry-run preview filtered to updates');
    const csv = await downloadText(() => page.getByRole('button', { name: 'Export all 2 planned rows as CSV' }).click());
    expect(csv.split('\n').filter(Boolean)).toEqual([
      'operation,key,fromList,list,changedFields,fields',
      // The wizard maps `customer` to Title and to a column of its own: both change.
      'update,[4],,Orders 2025,Title customer,"{""Title"":""Customer 4 (new name)"",""customer"":""Customer 4 (new name)""}"',
      'update,[5],,Orders 2026,Title customer,"{""Title"":""Customer 5 (new name)"",""customer"":""Customer 5 (new name)""}"',
    ]);
    // A dry run writes nothing: the next real run still has both changes to make.
    expect(stack.items().filter((i) => String(i.fields.Title).endsWith('(new name)'))).toHaveLength(0);
  }, 120_000);

  it('shows a refused row in failures with its reason, and retries it once fixed', async () => {
    // 1850 is before SharePoint's earliest date: the emulator refuses the item, as Graph does.
    await stack.pg.query(`INSERT INTO ${table} (order_id, customer, amount, ordered_at, shipped_at) VALUES (99, 'Old Customer', 1, '2025-01-02', '1850-01-01')`);
    const run = await runAndWait('Run now', /^partial/);
    // The two rows the dry run previewed are written now, beside the one refused row.
    expect(run).toMatch(/created 0, updated 2, .*failed 1$/);
    await page.reload();
    const failures = page.getByRole('region', { name: 'Failures' });
    await failures.getByText(/shipped_at/).waitFor();
    await expectAccessible(page, 'definition with a failure');
    await stack.pg.query(`UPDATE ${table} SET shipped_at = '2025-01-03', updated_at = clock_timestamp() WHERE order_id = 99`);
    await failures.getByRole('button', { name: 'Retry [99]' }).click();
    await page.getByTestId('announcer').getByText('1 failures released for the next run').waitFor();
    const healed = await runAndWait('Run now', /^succeeded/);
    expect(healed).toMatch(/created 1, updated 0,.*failed 0/);
  }, 120_000);

  it('finds what was tampered with in SharePoint by a drift check, and repairs it after a dry run', async () => {
    const graph = (method: string, path: string, body?: unknown) =>
      fetch(`${stack.emulator.url}/v1.0/sites/${stack.siteId}${path}`, { method, headers: { authorization: 'Bearer test-token', 'content-type': 'application/json' }, body: body === undefined ? undefined : JSON.stringify(body) });
    const inList = () => stack.items().filter((i) => i.list === 'Orders 2025');
    const before = inList().length;
    const [deleted, edited] = inList();
    const listId = stack.emulator.state.lists().find((l) => l.displayName === 'Orders 2025')!.id;
    expect((await graph('DELETE', `/lists/${listId}/items/${deleted!.id}`)).status).toBe(204);
    expect((await graph('PATCH', `/lists/${listId}/items/${edited!.id}/fields`, { amount: 999 })).status).toBe(200);

    const drift = page.getByRole('region', { name: 'Drift' });
    await drift.getByRole('button', { name: 'Deep drift check (fields too)' }).click();
    await page.getByTestId('drift-status').getByText(/^2 differences/).waitFor({ timeout: 60_000 });
    const count = (kind: string) => drift.getByRole('table', { name: 'Differences by kind' }).getByRole('row', { name: new RegExp(`^${kind}`) }).getByRole('cell');
    expect(await count('missing in SharePoint').textContent()).toBe('1');
    expect(await count('content differs from the row').textContent()).toBe('1');
    await drift.getByLabel('Show kind', { exact: true }).selectOption('contentMismatch');
    await drift.getByRole('cell', { name: /^amount: 999 →/ }).waitFor();
    await expectAccessible(page, 'drift report');

    await drift.getByRole('button', { name: 'Dry-run the repair' }).click();
    await drift.getByText('What the repair would do').waitFor();
    await expectAccessible(page, 'drift repair dry run');
    await drift.getByRole('button', { name: 'Repair now' }).click();
    await drift.getByRole('row', { name: /done/ }).waitFor({ timeout: 60_000 });
    expect(inList()).toHaveLength(before);
    expect(stack.items().find((i) => i.id === edited!.id)?.fields.amount).not.toBe(999);

    await drift.getByRole('button', { name: 'Quick drift check' }).click();
    await page.getByTestId('drift-status').getByText(/^in step/).waitFor({ timeout: 60_000 });
  }, 120_000);

  it('fails over to the secondary by hand, with the cursor policy explained, and runs from it', async () => {
    const section = page.getByRole('region', { name: 'Sources and failover' });
    await section.getByRole('rowheader', { name: 'shop-replica' }).waitFor();
    await section.getByText(/^Carry the cursor: timestamp and integer cursors/).waitFor();
    await expectAccessible(page, 'failover section');
    await section.getByRole('button', { name: 'Fail over to shop-replica' }).click();
    await page.getByTestId('announcer').getByText('failed over from shop to shop-replica (carry)').waitFor();
    await section.getByRole('cell', { name: 'shop → shop-replica' }).waitFor();
    await status().getByText(/^succeeded/).waitFor({ timeout: 60_000 });
    expect((await stack.state.getDefinition('orders'))?.activeSourceId).toBe('shop-replica');
    await page.getByText(/active source shop-replica/).waitFor();
    await expectAccessible(page, 'after a failover');
  }, 90_000);

  it('shows every definition on the dashboard with its last run and next slot, and the RU runs spent per hour per tenant', async () => {
    await page.getByRole('link', { name: 'Dashboard' }).click();
    const row = page.getByRole('row', { name: /orders/ });
    await row.getByText('succeeded').waitFor();
    const runs = (await stack.state.listRuns('orders', { limit: 200 })).items;
    const spent = runs.reduce((sum, r) => sum + (r.ruSpent ?? 0), 0);
    expect(spent).toBeGreaterThan(0);
    const tenant = (await stack.state.getSharePoint('intranet'))!.tenantId;
    const chart = page.getByTestId(`ru-chart-${tenant}`);
    await chart.getByText(`${spent} RU in the last 24 hours, over ${runs.length} runs`, { exact: false }).waitFor();
    await chart.getByText(/as a table$/).click();
    const hourly = chart.getByRole('table', { name: `RU per hour for tenant ${tenant} (hours with spend)` });
    const cells = await hourly.locator('tbody td').allTextContents();
    expect(cells.map(Number).reduce((a, b) => a + b, 0)).toBe(spent);
    await expectAccessible(page, 'dashboard');
    await screenshot(page, 'dashboard');
  }, 60_000);

  it('shows read-only Entra users what is there, with no buttons that change things', async () => {
    const readerContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const reader = await readerContext.newPage();
    try {
      // Stands in for App Service Authentication: /.auth/me names a signed-in Sync.Read user.
      // Function keys apply on top of Entra ID, so the reader enters the key as well.
      await reader.route('**/.auth/me', (route) => route.fulfill({ json: [{ user_id: 'reader@contoso', user_claims: [{ typ: 'roles', val: 'Sync.Read' }] }] }));
      await reader.goto(`${consoleUrl()}#/definitions/orders`);
      await reader.getByLabel('Function key', { exact: true }).fill(KEY);
      await reader.keyboard.press('Enter');
      await reader.getByText('reader@contoso (Sync.Read)').waitFor();
      await reader.getByRole('region', { name: 'Runs' }).getByText('Run history, newest first').waitFor();
      expect(await reader.getByRole('button', { name: /Run now|Dry run|Full run|Retry|Fail over/ }).count()).toBe(0);
      expect(await reader.getByRole('link', { name: 'Edit in the wizard' }).count()).toBe(0);
      await expectAccessible(reader, 'definition page, read-only user');
      await reader.getByRole('link', { name: 'Connections' }).click();
      await reader.getByRole('rowheader', { name: 'shop', exact: true }).waitFor();
      expect(await reader.getByRole('button', { name: /Save|Test|Edit/ }).count()).toBe(0);
      expect(await reader.getByRole('form', { name: 'New source connection' }).count()).toBe(0);
      await expectAccessible(reader, 'connections, read-only user');
    } finally {
      await readerContext.close();
    }
  }, 60_000);

  it('runs the whole wizard by keyboard alone', async () => {
    const keyboardContext = await browser.newContext({ viewport: { width: 1280, height: 900 } });
    const kb = await keyboardContext.newPage();
    try {
      await kb.goto(`${consoleUrl()}#/wizard`);
      await tabTo(kb, 'Function key');
      await kb.keyboard.type(KEY);
      await kb.keyboard.press('Enter');
      await kb.getByText('Step 1 of 8: Source and table').waitFor();
      await tabTo(kb, 'Definition id');
      await kb.keyboard.type('orders-kb');
      await tabTo(kb, 'Source connection');
      await kb.keyboard.type('shop');
      await tabTo(kb, 'Table');
      await kb.keyboard.type(`${stack.schema}.orders`);
      await kb.getByText(/columns read from/).waitFor({ state: 'attached' });
      await tabTo(kb, 'SharePoint connection');
      await kb.keyboard.type('intranet');
      // The sites arrive after the connection is chosen: choose one only once they are listed.
      await kb.getByLabel('Site', { exact: true }).locator('option').nth(1).waitFor({ state: 'attached' });
      await tabTo(kb, 'Site');
      await kb.keyboard.press('ArrowDown');
      for (const next of ['Fields', 'Key', 'Cursor', 'Deletes', 'Sharding']) {
        await tabTo(kb, `Next: ${next}`);
        await kb.keyboard.press('Enter');
        await kb.getByText(new RegExp(`Step \\d of 8: ${next}`)).waitFor();
        await expectAccessible(kb, `keyboard wizard: ${next}`);
      }
      await tabTo(kb, 'Sharding');
      await kb.keyboard.type('hash');
      await kb.getByText('Number of lists').waitFor();
      for (const next of ['Schedule', 'Review and apply']) {
        await tabTo(kb, `Next: ${next}`);
        await kb.keyboard.press('Enter');
        await kb.getByText(new RegExp(`Step \\d of 8: ${next}`)).waitFor();
      }
      await tabTo(kb, 'Save, validate and dry-run provisioning');
      await kb.keyboard.press('Enter');
      await kb.getByText('Provisioning dry run: what applying would change').waitFor();
      await kb.getByRole('rowheader', { name: 'orders 4' }).waitFor();
      await expectAccessible(kb, 'keyboard wizard: provisioning diff');
    } finally {
      await keyboardContext.close();
    }
  }, 120_000);

  it('pages through a large dry-run plan, filters it by list and operation, and exports every page as CSV', async () => {
    await stack.pg.query(`INSERT INTO ${table} (order_id, customer, amount, ordered_at) SELECT n, 'Bulk ' || n, 1, '2025-05-01' FROM generate_series(1001, 1450) n`);
    await page.goto(`${consoleUrl()}#/definitions/orders`);
    await runAndWait('Dry run (preview)', /^succeeded/);
    const pageInfo = page.getByTestId('plan-page');
    await pageInfo.getByText(/^Page 1 of \d+ · 450 planned rows match$/).waitFor();
    await page.getByLabel('Show list', { exact: true }).selectOption('Orders 2025');
    await page.getByLabel('Show operation', { exact: true }).selectOption('create');
    await pageInfo.getByText('Page 1 of 3 · 450 planned rows match').waitFor();
    const plannedRows = page.getByRole('table', { name: /^Planned rows/ });
    expect(await plannedRows.locator('tbody tr').count()).toBe(200);
    await page.getByRole('button', { name: 'Next page' }).click();
    await pageInfo.getByText('Page 2 of 3 · 450 planned rows match').waitFor();
    await page.getByRole('button', { name: 'Next page' }).click();
    await pageInfo.getByText('Page 3 of 3 · 450 planned rows match').waitFor();
    expect(await plannedRows.locator('tbody tr').count()).toBe(50);
    expect(await page.getByRole('button', { name: 'Next page' }).isDisabled()).toBe(true);
    await expectAccessible(page, 'dry-run preview, last page');
    const csv = await downloadText(() => page.getByRole('button', { name: 'Export all 450 planned rows as CSV' }).click());
    const lines = csv.split('\n').filter(Boolean);
    expect(lines[0]).toBe('operation,key,fromList,list,changedFields,fields');
    const keys = lines.slice(1).map((line) => {
      const [op, key, , list] = line.split(',');
      expect([op, list]).toEqual(['create', 'Orders 2025']);
      return Number(JSON.parse(key!)[0]);
    });
    const expected = (await stack.pg.query(`SELECT order_id FROM ${table} WHERE order_id > 1000 ORDER BY order_id`)).rows.map((r: { order_id: number }) => r.order_id);
    expect(keys.sort((a, b) => a - b)).toEqual(expected);
  }, 120_000);

  it('cancels a run that stays running under a 429 storm from the Runs section: it ends cancelled and the definition is free again', async () => {
    // Every create is throttled with a Retry-After beyond the inline wait (30 s): the batches are rescheduled, the run waits and stays running.
    const fault = await fetch(`${stack.emulator.url}/_emulator/faults`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ kind: 'status', status: 429, count: 100_000, retryAfter: 45, scope: { op: 'create' } }),
    });
    expect(fault.status).toBe(201);
    try {
      await page.getByRole('button', { name: 'Run now', exact: true }).click();
      await status().getByText(/^running: .*waiting until/).waitFor({ timeout: 60_000 });
      await expectAccessible(page, 'run waiting out throttling');
      await page.getByRole('button', { name: 'Cancel run' }).click();
      await status().getByText(/^cancelled/).waitFor({ timeout: 30_000 });
      const runs = (await stack.state.listRuns('orders', { limit: 1 })).items;
      expect(runs[0]).toMatchObject({ status: 'cancelled', mode: 'incremental' });
      // The lease is released: another holder can take it at once.
      const lease = runLeaseName('orders');
      expect(await stack.state.acquireLease(lease, 'test-probe', 5_000)).toBe(true);
      await stack.state.releaseLease(lease, 'test-probe');
      expect(await page.getByRole('button', { name: 'Cancel run' }).count()).toBe(0);
      await expectAccessible(page, 'run cancelled');
    } finally {
      await fetch(`${stack.emulator.url}/_emulator/faults`, { method: 'DELETE' });
    }
  }, 120_000);
});
