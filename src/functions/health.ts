import { json, withProblems } from '../api/http';
import type { Services } from '../composition';
import { redact } from '../core/ports/logger';
import type { HttpFunction } from '../runtime/function-table';
import { checkHealth } from '../sync/health';

/** GET /api/health: config sanity plus reachability of the state store, queues and Graph. */
export function healthFunction(services: Services): HttpFunction {
  return {
    kind: 'http',
    name: 'health',
    methods: ['GET'],
    route: 'health',
    authLevel: 'anonymous',
    handler: withProblems(async () => {
      const report = await checkHealth(services.probes());
      const body = {
        ...report,
        version: services.version,
        settings: { stateStore: services.config.STATE_STORE, queueTransport: services.config.QUEUE_TRANSPORT, graphBaseUrl: services.config.GRAPH_BASE_URL },
      };
      return json(report.status === 'ok' ? 200 : 503, redact(body));
    }),
  };
}
