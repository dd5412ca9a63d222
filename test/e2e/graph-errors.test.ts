import { QueueServiceClient } from '@azure/storage-queue';
import { QUEUES } from '../../src/core/ports/bus';
import type { RunRecord } from '../../src/core/ports/state';
import { newRunMessage } from '../../src/sync/plan-run';
import { assertInvariant } from '../support/invariant';
import { startStack, type Stack } from '../support/stack';

/**
 * Graph's error classes as a run meets them (issue 10, finding 3 and throttling): a permission
 * or a deleted list stops the run with what to fix and keeps the cursor; a throttling storm
 * longer than any delivery could hold is waited out by rescheduling, never by poisoning.
 */
describe('Graph errors end runs by class (local host stack)', () => {
  let stack: Stack;
  let n = 0;

  beforeAll(async () => {
    // Two deliveries and a one-second inline wait: a storm that outlasts them must not poison.
    stack = await startStack({ queues: { maxDequeueCount: 2 }, settings: { GRAPH_MAX_INLINE_WAIT_SECONDS: '1' } });
  }, 60_000);
  afterAll(() => stack?.stop());

  async function scenario(rows: number): Promise<{ id: string; table: string; list: string }> {
    const id = `errs${++n}`;
    const table = `"${stack.schema}".errs_${n}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, qty) SELECT g, 'Item ' || g, g FROM generate_series(1, ${rows}) g`);
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `errs_${n}` },
      title: 'name',
      fields: [{ source: 'qty' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: { strategy: 'none', list: `Errs ${n}` },
    });
    return { id, table, list: `Errs ${n}` };
  }

  /** Provisions the list with one synced row, so later writes go to a list that exists. */
  async function provisioned(rows: number) {
    const s = await scenario(1);
    expect((await stack.run(s.id)).status).toBe('succeeded');
    await stack.pg.query(`INSERT INTO ${s.table} (id, name, qty) SELECT g, 'Item ' || g, g FROM generate_series(2, ${rows + 1}) g`);
    const listId = (await stack.state.getDefinition(s.id))!.lists![s.list]!;
    const cursor = await stack.state.getCursor(s.id, 'pg');
    return { ...s, listId, cursor };
  }

  async function poisoned(): Promise<number> {
    const queues = QueueServiceClient.fromConnectionString(stack.services.config.AzureWebJobsStorage!);
    let total = 0;
    for (const q of [QUEUES.writes, QUEUES.moves]) {
      const client = queues.getQueueClient(`${q}-poison`);
      if (await client.exists()) total += (await client.getProperties()).approximateMessagesCount ?? 0;
    }
    return total;
  }

  async function expectStoppedForConfig(id: string, run: RunRecord, cursorBefore: unknown, reason: RegExp) {
    expect(run.status).toBe('failed');
    expect(run.finishedAt).toBeTruthy();
    expect(run.error).toMatch(reason);
    // No row is to blame: nothing goes to the failure list, so nothing gets quarantined.
    expect(await stack.state.getFailures(id, { includeQuarantined: true })).toEqual([]);
    // The cursor stays, so the run after the fix covers the same rows.
    expect(await stack.state.getCursor(id, 'pg')).toEqual(cursorBefore);
    // The lease is released: the next run is not refused.
    expect(await stack.state.acquireLease(`run:${id}`, 'probe', 1000)).toBe(true);
    await stack.state.releaseLease(`run:${id}`, 'probe');
  }

  it('a 403 on the list stops the run naming the list and the permission, keeps the cursor, fails no row', async () => {
    const { id, list, listId, cursor, table } = await provisioned(10);
    stack.emulator.state.injectFault({ kind: 'status', status: 403, count: 100_000, code: 'accessDenied', message: 'Access denied', scope: { list: listId } });
    try {
      const run = await stack.run(id);
      await expectStoppedForConfig(id, run, cursor, new RegExp(`list '${list}'.*Grant it write access`));
    } finally {
      stack.emulator.state.clearFaults();
    }
    // Once the admin fixed the permission, the next run writes every row.
    expect((await stack.run(id)).status).toBe('succeeded');
    await assertInvariant(stack, id, `SELECT * FROM ${table}`);
  }, 60_000);

  it('a list deleted in SharePoint stops the run saying the list no longer exists', async () => {
    const { id, list, listId, cursor } = await provisioned(5);
    const response = await fetch(`${stack.emulator.url}/v1.0/sites/${stack.siteId}/lists/${listId}`, { method: 'DELETE', headers: { authorization: 'Bearer test-token' } });
    expect(response.status).toBeLessThan(300);
    const run = await stack.run(id);
    await expectStoppedForConfig(id, run, cursor, new RegExp(`list '${list}'.*no longer exists`));
  }, 60_000);

  it('a 429 storm longer than every delivery could wait is waited out: the run succeeds, nothing is poisoned', async () => {
    const { id, listId, table } = await provisioned(20);
    stack.emulator.state.injectFault({ kind: 'status', status: 429, count: 1_000_000, retryAfter: 1, scope: { list: listId } });
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: id }]);
    // Two deliveries of twelve throttled attempts each would be spent in about 24 s.
    await new Promise((resolve) => setTimeout(resolve, 28_000));
    expect((await stack.state.getRun(message.runId))?.status).toBe('running');
    stack.emulator.state.clearFaults();
    await stack.waitForQuiet();
    const run = (await stack.state.getRun(message.runId))!;
    expect(run.status).toBe('succeeded');
    expect(run.counts.created).toBe(20);
    expect(await poisoned()).toBe(0);
    await assertInvariant(stack, id, `SELECT * FROM ${table}`);
  }, 90_000);
});
