import { app } from '@azure/functions';

/** The Functions entry registers the very table the local host serves, with the right bindings. */
describe('src/index.ts registers the function table with the v4 model', () => {
  const http = jest.spyOn(app, 'http').mockImplementation(() => undefined);
  const timer = jest.spyOn(app, 'timer').mockImplementation(() => undefined);
  const queue = jest.spyOn(app, 'serviceBusQueue').mockImplementation(() => undefined);

  beforeAll(() => {
    process.env.AzureWebJobsStorage = 'UseDevelopmentStorage=true';
    process.env.QUEUE_TRANSPORT = 'storage';
    require('../../src/index');
  });

  it('every function of the table is registered once, by name', () => {
    const { createFunctionTable } = require('../../src/functions') as typeof import('../../src/functions');
    const { createServices } = require('../../src/composition') as typeof import('../../src/composition');
    const { loadConfig } = require('../../src/config') as typeof import('../../src/config');
    const functionTable = createFunctionTable(createServices(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', QUEUE_TRANSPORT: 'storage' })));
    const registered = [...http.mock.calls, ...timer.mock.calls, ...queue.mock.calls].map((c) => c[0]).sort();
    expect(registered).toEqual(functionTable.map((f) => f.name).sort());
    expect(new Set(registered).size).toBe(registered.length);
  });

  it('queues bind to Service Bus through the ServiceBusConnection setting, runs with sessions', () => {
    const byQueue = Object.fromEntries(queue.mock.calls.map(([, o]) => [o.queueName, o]));
    expect(Object.keys(byQueue).sort()).toEqual(['sync-moves', 'sync-moves/$deadletterqueue', 'sync-runs', 'sync-runs/$deadletterqueue', 'sync-writes', 'sync-writes/$deadletterqueue']);
    for (const options of Object.values(byQueue)) expect(options.connection).toBe('ServiceBusConnection');
    expect(byQueue['sync-runs']?.isSessionsEnabled).toBe(true);
    expect(byQueue['sync-writes']?.isSessionsEnabled).toBe(false);
    // A dead-letter sub-queue is never session-enabled, even under the runs queue.
    expect(byQueue['sync-runs/$deadletterqueue']?.isSessionsEnabled).toBe(false);
  });

  it('the scheduler runs on the SCHEDULER_CRON setting and the anonymous endpoints are health, the OpenAPI document and the console page', () => {
    expect(timer.mock.calls.map(([name, o]) => [name, o.schedule])).toEqual([['scheduler', '%SCHEDULER_CRON%']]);
    const anonymous = http.mock.calls.filter(([, o]) => o.authLevel === 'anonymous').map(([, o]) => o.route).sort();
    expect(anonymous).toEqual(['console/{*path}', 'health', 'openapi.json']);
  });
});
