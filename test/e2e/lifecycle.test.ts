import { transientError } from '../../src/core/errors';
import { QUEUES, type MessageBus } from '../../src/core/ports/bus';
import type { SourceDatabase } from '../../src/core/ports/source';
import { runLeaseName } from '../../src/sync/deps';
import { endRunOfDeadLetter } from '../../src/sync/dead-letters';
import { handleRunMessage, newRunMessage } from '../../src/sync/plan-run';
import { reapStalledRuns } from '../../src/sync/reaper';
import { cancelRun } from '../../src/sync/run-lifecycle';
import { planState } from '../../src/sync/run-state';
import { settleBatch } from '../../src/sync/settle';
import { startStack, type Stack } from '../support/stack';

/**
 * Every run ends (DESIGN §5): dead-lettered batches settle in their run, planning errors are
 * retried inside the run and then fail it naming the error, a crash mid-planning re-plans the
 * same run, an admin can cancel, the reaper ends stalled runs, and planning fans out page by page.
 */
describe('every run ends (local host stack)', () => {
  let stack: Stack;
  let n = 0;

  beforeAll(async () => {
    stack = await startStack({ queues: { maxDequeueCount: 3 }, settings: { RUN_PLAN_MAX_ATTEMPTS: '3' } });
  }, 60_000);
  afterAll(() => stack?.stop());
  afterEach(() => {
    stack.rewire({ faultPoint: undefined, source: stack.services.source, bus: stack.services.bus });
    stack.emulator.state.clearFaults();
  });

  async function scenario(rows: number): Promise<{ id: string; list: string; table: string }> {
    const id = `life${++n}`;
    const table = `"${stack.schema}".life_${n}`;
    await stack.pg.query(`CREATE TABLE ${table} (id integer PRIMARY KEY, name text NOT NULL, qty integer NOT NULL, updated_at timestamptz NOT NULL DEFAULT clock_timestamp())`);
    await stack.pg.query(`INSERT INTO ${table} (id, name, qty) SELECT g, 'Item ' || g, g FROM generate_series(1, ${rows}) g`);
    const list = `Life ${n}`;
    await stack.addDefinition({ id, table: { schema: stack.schema, name: `life_${n}` }, title: 'name', fields: [{ source: 'qty' }], cursor: { kind: 'timestamp', column: 'updated_at', lookbackSeconds: 2 }, sharding: { strategy: 'none', list } });
    return { id, list, table };
  }
  const itemsIn = (list: string) => stack.items().filter((i) => i.list === list);
  const leaseIsFree = async (id: string) => {
    const free = await stack.state.acquireLease(runLeaseName(id), 'probe', 1000);
    if (free) await stack.state.releaseLease(runLeaseName(id), 'probe');
    return free;
  };

  it('a 429 storm longer than one invocation holds makes the run wait, showing until when, without spending deliveries; after the storm it succeeds with every row written', async () => {
    const { id, list } = await scenario(20);
    stack.rewire({ faultPoint: (point) => {
      // The list exists now; from here on SharePoint answers every write of it with 429.
      if (point === 'plan:after-send') stack.emulator.state.injectFault([{ kind: 'status', status: 429, count: 100_000, retryAfter: 1, scope: { list } }] as never);
    } });
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: id }]);
    // The run stays alive and says it waits, for as long as the storm lasts.
    let waiting = await stack.state.getRun(message.runId);
    for (let i = 0; i < 600 && !waiting?.waitingUntil; i++) {
      await new Promise((r) => setTimeout(r, 100));
      waiting = await stack.state.getRun(message.runId);
    }
    expect(waiting).toMatchObject({ status: 'running', finishedAt: null, waitingUntil: expect.any(String), waitingReason: expect.stringContaining('throttled') });
    await new Promise((r) => setTimeout(r, 3000));
    // No delivery was spent into a dead letter: nothing settled as failed, no row in the failure list.
    expect(await stack.state.getRun(message.runId)).toMatchObject({ status: 'running', batchesSettled: 0, counts: { failed: 0 } });
    expect(await stack.state.getFailures(id, { includeQuarantined: true })).toHaveLength(0);
    stack.rewire({ faultPoint: undefined });
    stack.emulator.state.clearFaults();
    await stack.waitForQuiet();
    expect(await stack.state.getRun(message.runId)).toMatchObject({ status: 'succeeded', finishedAt: expect.any(String), counts: { created: 20, failed: 0 } });
    expect(itemsIn(list)).toHaveLength(20);
    expect(await stack.state.getFailures(id, { includeQuarantined: true })).toHaveLength(0);
    expect(await leaseIsFree(id)).toBe(true);
  }, 120_000);

  it('a dead-lettered batch settles as failed in its run, which ends partial and releases the lease', async () => {
    const { id, list } = await scenario(5);
    stack.rewire({ faultPoint: (point) => {
      if (point === 'write:after-pending') throw new Error('this write batch always fails');
    } });
    const run = await stack.run(id);
    expect(run).toMatchObject({ status: 'partial', counts: { failed: 5 } });
    const failures = await stack.state.getFailures(id);
    expect(failures.map((f) => f.lastError)).toEqual(Array(5).fill(expect.stringContaining('dead-lettered')));
    expect(failures[0]!.lastError).toContain('this write batch always fails');
    expect(await leaseIsFree(id)).toBe(true);
    stack.rewire({ faultPoint: undefined });
    expect(await stack.run(id)).toMatchObject({ status: 'succeeded', counts: { created: 5 } });
    expect(itemsIn(list)).toHaveLength(5);
  }, 60_000);

  it('a source that stays unreachable fails one run, after bounded retries inside it, naming the real error', async () => {
    const { id, list } = await scenario(3);
    stack.rewire({ source: async () => { throw transientError('source', 'unreachable', 'connect ECONNREFUSED 10.1.2.3:5432'); } });
    const run = await stack.run(id);
    expect(run.status).toBe('failed');
    expect(run.error).toContain('ECONNREFUSED 10.1.2.3:5432');
    expect(planState(run)?.attempt).toBe(3);
    // One run record, not one per delivery; and the next run catches up once the source is back.
    expect((await stack.state.listRuns(id)).items.map((r) => r.runId)).toEqual([run.runId]);
    expect(await leaseIsFree(id)).toBe(true);
    stack.rewire({ source: stack.services.source });
    expect(await stack.run(id)).toMatchObject({ status: 'succeeded', counts: { created: 3 } });
    expect(itemsIn(list)).toHaveLength(3);
  }, 60_000);

  it('a crash mid-planning re-plans the same run as a new attempt; batches of the earlier attempt are not counted', async () => {
    const { id, list } = await scenario(30);
    let crashed = false;
    stack.rewire({ faultPoint: (point) => {
      if (point === 'plan:after-send' && !crashed) {
        crashed = true;
        throw new Error('worker crash after sending the first batches');
      }
    } });
    const run = await stack.run(id);
    expect(run.status).toBe('succeeded');
    expect(planState(run)?.attempt).toBe(2);
    // Whether attempt 2 found the rows still to write or already written by attempt 1's batch,
    // every row counts once: attempt 1's batch settled outside the run.
    expect(run.counts.created + run.counts.unchanged).toBe(30);
    expect(run.batchesSettled).toBe(run.batchesExpected);
    expect((await stack.state.listRuns(id)).items).toHaveLength(1);
    expect(itemsIn(list)).toHaveLength(30);
  }, 60_000);

  it('cancel ends a running run: the lease is free, the cursor does not move, and the next run covers its rows', async () => {
    const { id, list } = await scenario(10);
    let release!: () => void;
    const held = new Promise<void>((r) => (release = r));
    let runId = '';
    stack.rewire({ faultPoint: async (point) => {
      if (point === 'write:after-pending') await held;
    } });
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    runId = message.runId;
    await stack.services.bus().send('sync-runs', [{ body: message, messageId: runId, sessionId: id }]);
    for (let i = 0; i < 200 && (await stack.state.getRun(runId))?.batchesExpected !== 1; i++) await new Promise((r) => setTimeout(r, 50));
    const cancelled = await cancelRun(stack.deps, runId);
    expect(cancelled).toMatchObject({ status: 'cancelled', finishedAt: expect.any(String) });
    expect(await leaseIsFree(id)).toBe(true);
    release();
    await stack.waitForQuiet();
    expect((await stack.state.getRun(runId))?.status).toBe('cancelled');
    expect(await stack.state.getCursor(id, 'pg')).toBeNull();
    stack.rewire({ faultPoint: undefined });
    expect((await stack.run(id)).status).toBe('succeeded');
    expect(itemsIn(list)).toHaveLength(10);
  }, 60_000);

  it('the reaper ends a run whose batches stopped moving, naming why, and leaves a waiting run alone', async () => {
    const { id } = await scenario(1);
    const startedAt = new Date(Date.now() - 60 * 60_000).toISOString();
    const base = { definitionId: id, mode: 'incremental' as const, trigger: 'manual' as const, status: 'running' as const, startedAt, counts: { read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 }, batchesExpected: 4, batchesSettled: 1 };
    const waitingPlan = { phase: 'writing', sourceId: 'pg', mappingVersion: 1, cursorKind: 'timestamp', start: null, next: null, passDone: true, byList: {} };
    await stack.state.createRun({ ...base, runId: `${id}-waiting`, startedAt: new Date(Date.now() - 50 * 60_000).toISOString(), waitingUntil: new Date(Date.now() + 10 * 60_000).toISOString(), waitingReason: 'throttled', plan: waitingPlan });
    await stack.state.createRun({ ...base, runId: `${id}-stalled`, progressAt: new Date(Date.now() - 40 * 60_000).toISOString(), plan: waitingPlan });
    expect(await stack.state.acquireLease(runLeaseName(id), `${id}-waiting`, 60_000)).toBe(true);
    const reaped = await reapStalledRuns(stack.deps);
    expect(reaped).toContain(`${id}-stalled`);
    expect(reaped).not.toContain(`${id}-waiting`);
    const stalled = await stack.state.getRun(`${id}-stalled`);
    expect(stalled).toMatchObject({ status: 'failed', finishedAt: expect.any(String) });
    expect(stalled?.error).toMatch(/1 of 4 batches settled|took over/);
    expect((await stack.state.getRun(`${id}-waiting`))?.status).toBe('running');
    await stack.state.releaseLease(runLeaseName(id), `${id}-waiting`);
  });

  it('the reaper never ends a long healthy run whose batches keep settling, and ends it once they stop', async () => {
    const { id } = await scenario(1);
    // A controllable clock: 80 minutes of a run whose batches settle every 5 minutes.
    let clock = Date.now();
    const deps = { ...stack.deps, now: () => new Date(clock) };
    const runId = `${id}-long`;
    const plan = { phase: 'writing', sourceId: 'pg', mappingVersion: 1, cursorKind: 'timestamp', start: null, next: null, passDone: true, byList: {} };
    await stack.state.createRun({ runId, definitionId: id, mode: 'full', trigger: 'manual', status: 'running', startedAt: new Date(clock).toISOString(), progressAt: new Date(clock).toISOString(), counts: { read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 }, batchesExpected: 100, batchesSettled: 0, plan });
    expect(await stack.state.acquireLease(runLeaseName(id), runId, 60_000)).toBe(true);
    for (let batch = 0; batch < 16; batch++) {
      clock += 5 * 60_000;
      await settleBatch(deps, id, runId, `${runId}:w${batch}`, { created: 1 });
      expect(await reapStalledRuns(deps)).not.toContain(runId);
    }
    expect(await stack.state.getRun(runId)).toMatchObject({ status: 'running', batchesSettled: 16, progressAt: new Date(clock).toISOString() });
    clock += 16 * 60_000;
    expect(await reapStalledRuns(deps)).toContain(runId);
    const reaped = await stack.state.getRun(runId);
    expect(reaped).toMatchObject({ status: 'failed' });
    expect(reaped?.error).toContain('16 of 100 batches settled, then none for 16 min');
    expect(await leaseIsFree(id)).toBe(true);
  });

  it('a dead-lettered run message ends its run failed with the reason', async () => {
    const { id } = await scenario(1);
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    await endRunOfDeadLetter(stack.deps, message, { reason: 'MaxDeliveryCountExceeded', description: 'the planner kept crashing' });
    const run = await stack.state.getRun(message.runId);
    expect(run).toMatchObject({ status: 'failed', finishedAt: expect.any(String) });
    expect(run?.error).toContain('MaxDeliveryCountExceeded: the planner kept crashing');
  });

  it('a dead-lettered drift check fails its report with the reason instead of leaving it queued', async () => {
    const { id } = await scenario(1);
    const createdAt = new Date().toISOString();
    await stack.state.putDriftReport({ definitionId: id, reportId: 'dl1', createdAt, status: 'queued', report: { mode: 'quick' } });
    await endRunOfDeadLetter(stack.deps, { type: 'driftCheck', definitionId: id, reportId: 'dl1', mode: 'quick', requestedAt: createdAt }, { reason: 'MaxDeliveryCountExceeded', description: 'SharePoint kept failing' });
    const report = await stack.state.getDriftReport(id, 'dl1');
    expect(report).toMatchObject({ status: 'failed', report: { mode: 'quick', error: expect.stringContaining('MaxDeliveryCountExceeded: SharePoint kept failing') } });
  });

  it('planning fans out page by page: batches are sent before the last page is read', async () => {
    const { id } = await scenario(50);
    const events: string[] = [];
    const source = await stack.services.source('pg');
    const counting: SourceDatabase = Object.assign(Object.create(source) as SourceDatabase, {
      readChanges: async (...args: Parameters<SourceDatabase['readChanges']>) => {
        const page = await source.readChanges(...args);
        events.push(page.next === null ? 'last page read' : 'page read');
        return page;
      },
    });
    const bus = stack.services.bus();
    const recording: MessageBus = { ...bus, send: async (queue, messages) => {
      if (queue === 'sync-writes') events.push('batches sent');
      return bus.send(queue, messages);
    } };
    const deps = { ...stack.deps, bus: recording, source: async () => counting, settings: { ...stack.deps.settings, pageSize: 10, inlineWriteMaxOps: 0 } }; // 0: a plan this small would be written inline
    const run = await handleRunMessage(deps, newRunMessage(id, 'incremental', 'manual', new Date()));
    expect(events.indexOf('batches sent')).toBeGreaterThanOrEqual(0);
    expect(events.indexOf('batches sent')).toBeLessThan(events.indexOf('last page read'));
    expect(events.filter((e) => e === 'batches sent')).toHaveLength(5);
    expect(run?.batchesExpected).toBe(5);
    await stack.waitForQuiet();
    expect((await stack.state.getRun(run!.runId))).toMatchObject({ status: 'succeeded', counts: { created: 50 } });
  }, 60_000);
});
