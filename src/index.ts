import { app } from '@azure/functions';
import { createServices } from './composition';
import { config } from './config';
import { createFunctionTable } from './functions';
import { serviceBusEntity } from './runtime/function-table';

/**
 * The Azure Functions entry point: registers the function table with the v4 programming model.
 * Settings are validated here, at start, so a bad setting stops the host with its name. The
 * services are built once for the process; their adapters connect on first use, not here.
 */
const services = createServices(config());

app.setup({ enableHttpStream: false });

for (const fn of createFunctionTable(services)) {
  switch (fn.kind) {
    case 'http':
      app.http(fn.name, { methods: fn.methods, route: fn.route, authLevel: fn.authLevel, handler: fn.handler });
      break;
    case 'timer':
      app.timer(fn.name, { schedule: fn.schedule, runOnStartup: fn.runOnStartup ?? false, handler: fn.handler });
      break;
    case 'queue':
      app.serviceBusQueue(fn.name, {
        connection: 'ServiceBusConnection',
        queueName: serviceBusEntity(fn),
        // A dead-letter sub-queue is never session-enabled, even under a session queue.
        isSessionsEnabled: !fn.deadLetters && (fn.sessions ?? false),
        handler: fn.handler,
      });
      break;
  }
}
