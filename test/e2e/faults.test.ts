import type { MessageBus } from '../../src/core/ports/bus';
import type { FaultPoint } from '../../src/sync/deps';
import { handleRunMessage, newRunMessage } from '../../src/sync/plan-run';
import { runScheduler } from '../../src/sync/scheduler';
import { assertInvariant } from '../support/invariant';
import { startStack, type Stack } from '../support/stack';

/**
 * Fault tests: whatever crashes, retries, throttling storms or duplicate deliveries happen,
 * once the system is quiet DESIGN §4's invariant holds (no duplicates, nothing missing, ledger exact).
 */
describe('the invariant survives faults (local host stack)', () => {
  let stack: Stack;
  let n = 0;
  const table = () => `"${stack.schema}".items`;

  beforeAll(async () => {
    stack = await startStack({ queues: { maxDequeueCount: 20 } });
  }, 60_000);
  afterAll(() => stack?.stop());

  /** A fresh table and definition per scenario, sharded by a rules policy on `region`. */
  async function scenario(rows = 120): Promise<string> {
    const id = `faults${++n}`;
    await stack.pg.query(`DROP TABLE IF EXISTS ${table()}_${n}`);
    await stack.pg.query(`CREATE TABLE ${table()}_${n} (id integer PRIMARY KEY, name text NOT NULL, region text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table()}_${n} (id, name, region, qty) SELECT g, 'Item ' || g, CASE WHEN g % 3 = 0 THEN 'EU' ELSE 'US' END, g FROM generate_series(1, ${rows}) g`);
    await stack.addDefinition({
      id,
      table: { schema: stack.schema, name: `items_${n}` },
      title: 'name',
      fields: [{ source: 'qty' }, { source: 'region' }],
      cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 },
      sharding: { strategy: 'rules', rules: [{ when: { column: 'region', op: 'eq', value: 'EU' }, list: `F${n} Europe` }], default: `F${n} Rest` },
      deletes: { mode: 'reconcile', everyRuns: 1 },
    });
    return id;
  }
  const itemsOf = (id: string) => stack.items().filter((i) => i.list.startsWith(`F${id.replace('faults', '')} `));
  // (list names are per scenario: F<n> Europe / F<n> Rest)
  const select = (id: string) => `SELECT * FROM ${table()}_${id.replace('faults', '')}`;

  /** Runs until a run finishes clean (faults may leave work for the next run, as in production). */
  async function runUntilClean(id: string, maxRuns = 6) {
    const seen: string[] = [];
    for (let i = 0; i < maxRuns; i++) {
      const run = await stack.run(id);
      if (run.status === 'succeeded' && run.counts.failed === 0 && run.counts.created + run.counts.updated + run.counts.moved + run.counts.deleted === 0) return;
      seen.push(`${run.status} ${JSON.stringify(run.counts)} ${run.error ?? ''}`);
    }
    const failures = await stack.state.getFailures(id, { includeQuarantined: true });
    throw new Error(`definition ${id} did not settle in ${maxRuns} runs:\n${seen.join('\n')}\nfailures: ${JSON.stringify(failures.map((f) => f.lastError))}`);
  }

  it('throttling storms, 5xx, resets and "applied but lost" writes leave exactly one item per row', async () => {
    const id = await scenario(150);
    stack.emulator.state.injectFault([
      { kind: 'appliedButLost', count: 4, scope: { op: 'create' } },
      { kind: 'status', status: 429, count: 6, retryAfter: 1 },
      { kind: 'status', status: 503, count: 5 },
      { kind: 'appliedButLost', count: 2, mode: 'reset', scope: { op: 'create' } },
      { kind: 'reset', count: 2 },
    ] as never);
    await stack.run(id);
    stack.emulator.state.clearFaults();
    await runUntilClean(id);
    expect(itemsOf(id)).toHaveLength(150);
    await assertInvariant(stack, id, select(id));
  }, 120_000);

  const crashPoints: FaultPoint[] = ['plan:after-send', 'write:after-pending', 'write:after-graph', 'write:after-synced', 'move:after-create', 'move:after-swap', 'move:after-delete'];

  it.each(crashPoints)('a worker crash at %s is repaired by redelivery', async (point) => {
    const id = await scenario(60);
    await runUntilClean(id);
    // Move a third of the rows, change another third, then crash once at the step boundary.
    const t = `${table()}_${id.replace('faults', '')}`;
    await stack.pg.query(`UPDATE ${t} SET region = CASE WHEN region = 'EU' THEN 'US' ELSE 'EU' END, updated_at = clock_timestamp() WHERE id % 3 = 1`);
    await stack.pg.query(`UPDATE ${t} SET qty = qty + 100, updated_at = clock_timestamp() WHERE id % 3 = 2`);
    await stack.pg.query(`INSERT INTO ${t} (id, name, region, qty) SELECT g, 'Item ' || g, 'EU', g FROM generate_series(61, 70) g`);
    let crashed = 0;
    stack.rewire({
      faultPoint: (p) => {
        if (p === point && crashed < 2) {
          crashed++;
          throw new Error(`simulated crash at ${p}`);
        }
      },
    });
    try {
      await stack.run(id);
      await stack.waitForQuiet();
    } finally {
      stack.rewire({ faultPoint: undefined });
    }
    expect(crashed).toBeGreaterThan(0);
    await runUntilClean(id);
    expect(itemsOf(id)).toHaveLength(70);
    await assertInvariant(stack, id, select(id));
  }, 120_000);

  it('every message delivered twice still gives one item per row', async () => {
    const id = await scenario(80);
    const real = stack.services.bus();
    const doubling: MessageBus = {
      send: async (queue, messages) => {
        // Without message ids, so nothing de-duplicates them: the handlers must.
        const plain = messages.map(({ messageId: _m, ...rest }) => rest);
        await real.send(queue, [...plain, ...plain]);
      },
      ping: () => real.ping(),
      close: () => real.close(),
    };
    stack.rewire({ bus: () => doubling });
    try {
      await stack.run(id);
      const t = `${table()}_${id.replace('faults', '')}`;
      await stack.pg.query(`UPDATE ${t} SET region = 'EU', qty = qty + 1, updated_at = clock_timestamp() WHERE id <= 20`);
      await stack.pg.query(`DELETE FROM ${t} WHERE id > 75`);
      await stack.run(id);
    } finally {
      stack.rewire({ bus: () => real });
    }
    await runUntilClean(id);
    expect(itemsOf(id)).toHaveLength(75);
    await assertInvariant(stack, id, select(id));
  }, 120_000);

  it('two concurrent triggers of one definition give one run', async () => {
    const id = await scenario(40);
    const [a, b] = await Promise.all([
      handleRunMessage(stack.deps, newRunMessage(id, 'incremental', 'manual', new Date())),
      handleRunMessage(stack.deps, newRunMessage(id, 'incremental', 'manual', new Date())),
    ]);
    expect([a?.status, b?.status].filter((s) => s === 'refused')).toHaveLength(1);
    await stack.waitForQuiet();
    expect(itemsOf(id)).toHaveLength(40);
    await assertInvariant(stack, id, select(id));
  }, 60_000);

  it('a timer that fires twice for one slot enqueues one run', async () => {
    const id = await scenario(5);
    const stored = (await stack.state.getDefinition(id))!;
    await stack.state.putDefinition({ ...stored, definition: { ...stored.definition, schedule: '0 * * * * *' } });
    const now = new Date();
    const sent: unknown[] = [];
    const recording: MessageBus = { send: async (_q, m) => void sent.push(...m.map((x) => x.messageId)), ping: async () => {}, close: async () => {} };
    const deps = { ...stack.deps, bus: recording, now: () => new Date(now.getTime()) };
    await Promise.all([runScheduler(deps), runScheduler(deps)]);
    await runScheduler(deps);
    const forThis = sent.filter((m) => String(m).startsWith(`${id}@`));
    expect(new Set(forThis).size).toBe(1);
  });

  it('missed schedule slots coalesce into one run for the latest slot', async () => {
    const id = await scenario(3);
    const stored = (await stack.state.getDefinition(id))!;
    await stack.state.putDefinition({ ...stored, definition: { ...stored.definition, schedule: '0 * * * * *' } });
    const now = new Date('2030-01-01T10:30:20Z');
    await stack.state.casLastSlot(id, await stack.state.getLastSlot(id), '2030-01-01T10:20:00.000Z'); // ten slots missed
    const sent: Array<{ messageId?: string; body: unknown }> = [];
    const recording: MessageBus = { send: async (_q, m) => void sent.push(...m), ping: async () => {}, close: async () => {} };
    await runScheduler({ ...stack.deps, bus: recording, now: () => now });
    const mine = sent.filter((m) => String(m.messageId).startsWith(`${id}@`));
    expect(mine.map((m) => m.messageId)).toEqual([`${id}@2030-01-01T10:30:00.000Z`]);
    expect(mine[0]!.body).toMatchObject({ type: 'run', definitionId: id, trigger: 'schedule', slot: '2030-01-01T10:30:00.000Z' });
    expect(await stack.state.getLastSlot(id)).toBe('2030-01-01T10:30:00.000Z');
  });
});

