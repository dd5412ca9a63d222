import { CuttableProxy } from '../../chaos/proxy';
import { startStack, type Stack } from '../../support/stack';
import { definitionOf, leaseIsFree, poisoned, sleep, sourceTable, untilFinal } from './helpers';

/**
 * Done-when (issue 10), on the local host: with a schedule slot every minute, a source that is
 * unreachable for 5 minutes gives at most one failed run per slot, each naming the error, and
 * the first run after recovery catches up. The real scheduler timer fires the slots; the source
 * is reached through a TCP proxy the test cuts. Takes ~8 min.
 */
const OUTAGE_MS = 5 * 60_000;
const SLOT_MS = 60_000;

describe('a source unreachable for 5 minutes (slow, local host)', () => {
  let stack: Stack;
  let proxy: CuttableProxy;
  beforeAll(async () => {
    // Planning retries of 5 s, 10 s, 20 s: a run gives up well inside its slot.
    stack = await startStack({ scheduler: true, settings: { RUN_PLAN_RETRY_SECONDS: '5', RUN_PLAN_MAX_ATTEMPTS: '4' } });
    const url = new URL(process.env.TEST_PG_URL!);
    proxy = new CuttableProxy({ host: url.hostname, port: Number(url.port || 5432) });
    await proxy.start();
    const { etag: _e, createdAt: _c, updatedAt: _u, ...pg } = (await stack.state.getSource('pg'))!;
    await stack.state.putSource({ ...pg, host: '127.0.0.1', port: proxy.port });
  }, 60_000);
  afterAll(async () => {
    await stack?.stop();
    await proxy?.stop();
  });

  it('gives at most one failed run per schedule slot, each naming the error, and the first run after recovery catches up', async () => {
    const id = 'outage';
    const list = 'Outage';
    const table = await sourceTable(stack, 'outage', 10);
    await stack.addDefinition(definitionOf(stack, id, 'outage', list));
    expect(await stack.run(id)).toMatchObject({ status: 'succeeded', counts: { created: 10 } });
    // The schedule starts with the next slot; the first scheduled run catches nothing new.
    const scheduled = await stack.state.getDefinition(id);
    await stack.state.putDefinition({ ...scheduled!, definition: { ...scheduled!.definition, schedule: '0 * * * * *' } }, { ifMatch: scheduled!.etag });

    const cutAt = Date.now();
    proxy.sever();
    // Rows change while the source cannot be read: the run after recovery must bring them all.
    await stack.pg.query(`INSERT INTO ${table} (id, name, qty) SELECT g, 'Item ' || g, g FROM generate_series(11, 15) g`);
    await stack.pg.query(`UPDATE ${table} SET qty = qty + 100, updated_at = clock_timestamp() WHERE id <= 3`);
    await sleep(OUTAGE_MS);
    proxy.restore();
    const restoredAt = Date.now();

    // The first scheduled run that starts after recovery (or was still retrying when it came).
    let firstAfter: string | undefined;
    const deadline = restoredAt + 3 * SLOT_MS;
    while (!firstAfter && Date.now() < deadline) {
      await sleep(2000);
      const runs = (await stack.state.listRuns(id, { limit: 100 })).items.filter((r) => r.trigger === 'schedule');
      firstAfter = runs.filter((r) => r.status !== 'failed' && Date.parse(r.startedAt) >= cutAt).at(-1)?.runId;
    }
    expect(firstAfter).toBeDefined();
    const caughtUp = await untilFinal(stack, firstAfter!, 3 * SLOT_MS);
    const runs = (await stack.state.listRuns(id, { limit: 100 })).items.filter((r) => r.trigger === 'schedule' && Date.parse(r.startedAt) >= cutAt);
    const duringOutage = runs.filter((r) => Date.parse(r.startedAt) < restoredAt);
    const failed = duringOutage.filter((r) => r.status === 'failed');
    const slotsOf = (records: typeof runs) => records.map((r) => Math.floor(Date.parse(r.startedAt) / SLOT_MS));
    console.log(JSON.stringify({
      scenario: 'source unreachable',
      outageSeconds: OUTAGE_MS / 1000,
      slotsDuringOutage: Math.floor(restoredAt / SLOT_MS) - Math.floor(cutAt / SLOT_MS),
      runsDuringOutage: duringOutage.map((r) => ({ startedAt: r.startedAt, status: r.status, attempts: (r.plan as { attempt?: number } | undefined)?.attempt, error: r.error?.slice(0, 160) })),
      caughtUp: { runId: caughtUp.runId, startedAt: caughtUp.startedAt, finishedSecondsAfterRecovery: (Date.parse(caughtUp.finishedAt!) - restoredAt) / 1000, status: caughtUp.status, counts: caughtUp.counts },
    }, null, 2));

    expect(failed.length).toBeGreaterThanOrEqual(4);
    // One run per slot at most, failed or not; no refused or superseded runs piling up.
    expect(new Set(slotsOf(runs)).size).toBe(runs.length);
    expect(duringOutage.every((r) => r.status === 'failed' || r.runId === caughtUp.runId)).toBe(true);
    for (const run of failed) {
      expect(run.finishedAt).toEqual(expect.any(String));
      expect(run.error).toMatch(/source|connect|ECONN|terminated/i);
      expect(run.error).not.toMatch(/superseded/);
    }
    expect(caughtUp).toMatchObject({ status: 'succeeded', counts: { created: 5, updated: 3, failed: 0 } });
    const items = stack.items().filter((i) => i.list === list);
    expect(items).toHaveLength(15);
    expect(await poisoned(stack)).toBe(0);
    expect(await leaseIsFree(stack, id)).toBe(true);
  }, OUTAGE_MS + 8 * SLOT_MS);
});
