import { HttpRequest, InvocationContext } from '@azure/functions';
import { loadConfig } from '../../src/config';
import { createServices } from '../../src/composition';
import { healthFunction } from '../../src/functions/health';

/** The health function wired to services whose probes are the given stand-ins. */
function healthWith(probes: Record<string, () => Promise<void>>) {
  const base = createServices(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', QUEUE_TRANSPORT: 'storage' }));
  return healthFunction({ ...base, probes: () => probes });
}

describe('GET /api/health (real InvocationContext and HttpRequest)', () => {
  it('answers 200 with each dependency ok', async () => {
    const health = healthWith({ stateStore: async () => {}, queues: async () => {}, graph: async () => {} });
    const response = await health.handler(new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health' }), new InvocationContext({ functionName: 'health' }));
    expect(response.status).toBe(200);
    expect(response.jsonBody).toMatchObject({ status: 'ok', checks: { stateStore: { status: 'ok' }, queues: { status: 'ok' }, graph: { status: 'ok' } } });
  });

  it('answers 503 naming the dependency that failed, without leaking secrets', async () => {
    const health = healthWith({
      stateStore: async () => {
        throw new Error('connect ECONNREFUSED; Password=hunter2');
      },
      queues: async () => {},
    });
    const response = await health.handler(new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/health' }), new InvocationContext({ functionName: 'health' }));
    expect(response.status).toBe(503);
    const body = response.jsonBody as { status: string; checks: Record<string, { status: string; error?: string }> };
    expect(body.status).toBe('degraded');
    expect(body.checks.stateStore?.status).toBe('failed');
    expect(body.checks.stateStore?.error).toContain('ECONNREFUSED');
    expect(JSON.stringify(body)).not.toContain('hunter2');
    expect(body.checks.queues?.status).toBe('ok');
  });
});
