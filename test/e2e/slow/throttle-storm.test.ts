import { newRunMessage } from '../../../src/sync/plan-run';
import { startStack, type Stack } from '../../support/stack';
import { definitionOf, leaseIsFree, poisoned, sourceTable, untilFinal } from './helpers';

/**
 * Done-when (issue 10), on the local host: a 3-minute 429 storm on one list ends with the run
 * `succeeded` after the storm, every row written, nothing poisoned. The batch waits the storm
 * out (re-sent scheduled, no delivery spent) instead of burning its deliveries. Takes ~4 min.
 */
const STORM_MS = 3 * 60_000;

describe('a 3-minute 429 storm (slow, local host)', () => {
  let stack: Stack;
  beforeAll(async () => {
    // The local host's production dequeue count: a storm that spent deliveries would poison the batch.
    stack = await startStack({ queues: { maxDequeueCount: 5 } });
  }, 60_000);
  afterAll(() => stack?.stop());

  it('ends with the run succeeded after the storm, every row written, nothing poisoned', async () => {
    await sourceTable(stack, 'storm', 20);
    const list = 'Storm';
    const id = 'storm';
    await stack.addDefinition(definitionOf(stack, id, 'storm', list));
    let stormEnds = 0;
    let clear: NodeJS.Timeout | undefined;
    stack.rewire({ faultPoint: (point) => {
      // The list exists once the first batch is sent; from then on SharePoint answers its writes with 429.
      if (point !== 'plan:after-send' || stormEnds) return;
      stack.emulator.state.injectFault([{ kind: 'status', status: 429, count: 1_000_000, retryAfter: 5, scope: { list } }] as never);
      stormEnds = Date.now() + STORM_MS;
      clear = setTimeout(() => stack.emulator.state.clearFaults(), STORM_MS);
    } });
    const message = newRunMessage(id, 'incremental', 'manual', new Date());
    await stack.services.bus().send('sync-runs', [{ body: message, messageId: message.runId, sessionId: id }]);

    const waits = new Set<string>();
    let sawWaitingWhileRunning = false;
    const run = await untilFinal(stack, message.runId, STORM_MS + 4 * 60_000, (r) => {
      if (r?.status === 'running' && r.waitingUntil) {
        sawWaitingWhileRunning = true;
        waits.add(`${r.waitingUntil} (${r.waitingReason})`);
      }
    });
    clearTimeout(clear);
    await stack.waitForQuiet();
    const metrics = stack.emulator.state.metrics();
    console.log(JSON.stringify({
      scenario: '429 storm',
      stormSeconds: STORM_MS / 1000,
      status: run.status,
      finishedSecondsAfterStormEnd: (Date.parse(run.finishedAt!) - stormEnds) / 1000,
      counts: run.counts,
      batches: `${run.batchesSettled}/${run.batchesExpected}`,
      waitsSeen: [...waits],
      graphRequests: metrics.requests,
      answered429: metrics.throttled,
    }, null, 2));

    expect(run).toMatchObject({ status: 'succeeded', error: null, counts: { created: 20, failed: 0 }, batchesSettled: run.batchesExpected });
    expect(Date.parse(run.finishedAt!)).toBeGreaterThanOrEqual(stormEnds);
    expect(sawWaitingWhileRunning).toBe(true);
    expect(stack.items().filter((i) => i.list === list)).toHaveLength(20);
    expect(await stack.state.getFailures(id, { includeQuarantined: true })).toHaveLength(0);
    expect(await poisoned(stack)).toBe(0);
    expect(await leaseIsFree(stack, id)).toBe(true);
  }, STORM_MS + 6 * 60_000);
});
