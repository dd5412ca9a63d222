import { QueueServiceClient } from '@azure/storage-queue';
import { StorageQueueBus, decodeEnvelope } from '../../src/adapters/bus/storage-queue-bus';
import { transientError } from '../../src/core/errors';
import type { FunctionDefinition } from '../../src/runtime/function-table';
import { LocalHost } from '../../src/local/host';

const connection = () => process.env.TEST_STORAGE_CONNECTION!;
const suffix = Math.random().toString(36).slice(2, 8);

async function waitFor<T>(what: string, probe: () => Promise<T | undefined> | T | undefined, timeoutMs = 15000): Promise<T> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const value = await probe();
    if (value !== undefined) return value;
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('local host (Azurite queues, real HTTP)', () => {
  const received: unknown[] = [];
  const attempts: number[] = [];
  const okQueue = `ok-${suffix}`;
  const failQueue = `fail-${suffix}`;
  const functions: FunctionDefinition[] = [
    { kind: 'http', name: 'echo', methods: ['GET', 'POST'], route: 'things/{id}', authLevel: 'function', handler: async (req) => ({ status: 200, jsonBody: { id: req.params.id, q: req.query.get('q') } }) },
    { kind: 'http', name: 'open', methods: ['GET'], route: 'open', authLevel: 'anonymous', handler: async () => ({ status: 204 }) },
    { kind: 'queue', name: 'ok', queueName: okQueue, handler: async (message) => void received.push(message) },
    {
      kind: 'queue',
      name: 'fail',
      queueName: failQueue,
      handler: async (_message, context) => {
        attempts.push(Number(context.triggerMetadata?.dequeueCount));
        throw transientError('test', 'flaky', 'downstream unavailable');
      },
    },
  ];
  const host = new LocalHost({
    functions,
    port: 0,
    storageConnectionString: connection(),
    functionKey: 'test-function-key',
    queues: { maxDequeueCount: 3, retryDelayMs: 0, pollIntervalMs: 50 },
    log: () => undefined,
  });

  beforeAll(() => host.start());
  afterAll(() => host.stop());

  it('a request without the function key gets 401 problem+json', async () => {
    const response = await fetch(`${host.url}/api/things/1`);
    expect(response.status).toBe(401);
    expect(response.headers.get('content-type')).toContain('application/problem+json');
  });

  it('the key in x-functions-key or ?code= reaches the handler with route params and query', async () => {
    const viaHeader = await fetch(`${host.url}/api/things/42?q=x`, { headers: { 'x-functions-key': 'test-function-key' } });
    expect(viaHeader.status).toBe(200);
    expect(await viaHeader.json()).toEqual({ id: '42', q: 'x' });
    const viaQuery = await fetch(`${host.url}/api/things/7?code=test-function-key`);
    expect(viaQuery.status).toBe(200);
    const wrong = await fetch(`${host.url}/api/things/7?code=nope`);
    expect(wrong.status).toBe(401);
    expect((await fetch(`${host.url}/api/open`)).status).toBe(204);
  });

  it('unknown routes answer 404 and wrong methods 405 with Allow', async () => {
    expect((await fetch(`${host.url}/api/nothing`)).status).toBe(404);
    const wrong = await fetch(`${host.url}/api/things/1`, { method: 'DELETE', headers: { 'x-functions-key': 'test-function-key' } });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, POST');
  });

  it('a message sent through the bus port reaches its handler', async () => {
    const bus = new StorageQueueBus(connection());
    await bus.send(okQueue as never, [{ body: { hello: 'world' }, messageId: 'm-1' }]);
    const message = await waitFor('delivery', () => received[0]);
    expect(message).toEqual({ hello: 'world' });
  });

  it('a handler that throws a transient error is redelivered, then lands in the poison queue', async () => {
    const bus = new StorageQueueBus(connection());
    await bus.send(failQueue as never, [{ body: { n: 1 } }]);
    const poison = QueueServiceClient.fromConnectionString(connection()).getQueueClient(`${failQueue}-poison`);
    const poisoned = await waitFor('poison', async () => {
      const peek = await poison.peekMessages({ numberOfMessages: 1 });
      return peek.peekedMessageItems[0];
    });
    expect(decodeEnvelope(poisoned.messageText).body).toEqual({ n: 1 });
    expect(attempts).toEqual([1, 2, 3]);
    const main = QueueServiceClient.fromConnectionString(connection()).getQueueClient(failQueue);
    const props = await main.getProperties();
    expect(props.approximateMessagesCount).toBe(0);
  });
});

describe('local host queue pump (Azurite queues)', () => {
  const wakeQueue = `wake-${suffix}`;
  const busyQueue = `busy-${suffix}`;
  const woken: unknown[] = [];
  let running = 0;
  let mostAtOnce = 0;
  let finished = 0;
  let release: () => void = () => undefined;
  const gate = new Promise<void>((r) => (release = r));
  const functions: FunctionDefinition[] = [
    { kind: 'queue', name: 'wake', queueName: wakeQueue, handler: async (message) => void woken.push(message) },
    {
      kind: 'queue',
      name: 'busy',
      queueName: busyQueue,
      handler: async () => {
        running++;
        mostAtOnce = Math.max(mostAtOnce, running);
        await gate;
        running--;
        finished++;
      },
    },
  ];
  // A poll interval longer than any test here: only a wake can deliver in time.
  const host = new LocalHost({ functions, port: 0, storageConnectionString: connection(), queues: { pollIntervalMs: 10 * 60_000, batchSize: 4, newBatchThreshold: 2 }, log: () => undefined });

  beforeAll(async () => {
    await host.start();
    // let each pump make its first (empty) poll and go to sleep
    await new Promise((r) => setTimeout(r, 500));
  });
  afterAll(() => host.stop());

  it('a message sent in this process wakes the pump instead of waiting for its next poll, a delayed one when it becomes visible', async () => {
    const bus = new StorageQueueBus(connection());
    await bus.send(wakeQueue as never, [{ body: { now: true }, messageId: 'w-1' }]);
    expect(await waitFor('the sent message', () => woken[0])).toEqual({ now: true });
    await bus.send(wakeQueue as never, [{ body: { later: true }, messageId: 'w-2', scheduledAt: new Date(Date.now() + 1500) }]);
    expect(await waitFor('the delayed message', () => woken[1])).toEqual({ later: true });
  });

  it('runs at most batchSize + newBatchThreshold messages of a queue at once, as the Functions queue trigger does', async () => {
    const bus = new StorageQueueBus(connection());
    await bus.send(busyQueue as never, Array.from({ length: 12 }, (_, i) => ({ body: { i }, messageId: `b-${i}` })));
    // The pump stops fetching once more than newBatchThreshold run (a first fetch may bring 3 of the 4 if the sends are still arriving).
    await waitFor('the pump to fill its slots', () => (running > 2 ? true : undefined));
    // give an unbounded pump the chance to take more
    await new Promise((r) => setTimeout(r, 1000));
    expect(mostAtOnce).toBeLessThanOrEqual(6);
    release();
    await waitFor('every message', () => (finished === 12 ? true : undefined));
    expect(mostAtOnce).toBeLessThanOrEqual(6);
  });
});
