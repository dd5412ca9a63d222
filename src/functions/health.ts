import { json, withProblems } from '../api/http';
import { redact } from '../core/ports/logger';
import { checkHealth } from '../sync/health';
import { services } from '../composition';
import type { HttpFunction } from '../runtime/function-table';

/** GET /api/health: config sanity plus reachability of the state store, queues and Graph. */
export const health: HttpFunction = {
  kind: 'http',
  name: 'health',
  methods: ['GET'],
  route: 'health',
  authLevel: 'anonymous',
  handler: withProblems(async () => {
    const s = services();
    const report = await checkHealth(s.probes());
    const body = {
      ...report,
      version: s.version,
      settings: { stateStore: s.config.STATE_STORE, queueTransport: s.config.QUEUE_TRANSPORT, graphBaseUrl: s.config.GRAPH_BASE_URL },
    };
    return json(report.status === 'ok' ? 200 : 503, redact(body));
  }),
};
