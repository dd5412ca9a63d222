import { Router } from '../../src/local/router';
import type { HttpFunction } from '../../src/runtime/function-table';

const fn = (name: string, route: string, methods: HttpFunction['methods'] = ['GET']): HttpFunction => ({
  kind: 'http', name, route, methods, authLevel: 'function', handler: async () => ({ status: 200 }),
});

describe('local host routing follows Functions route templates', () => {
  const router = new Router([
    fn('get', 'definitions/{id}'),
    fn('runs', 'definitions/{id}/runs', ['GET', 'POST']),
    fn('run', 'runs/{runId}'),
    fn('table', 'sources/{id}/tables/{schema}.{table}'),
    fn('opt', 'items/{id?}'),
  ]);

  it('fills route parameters, decoding them', () => {
    expect(router.match('GET', '/definitions/orders%20eu/runs')).toMatchObject({ fn: { name: 'runs' }, params: { id: 'orders eu' } });
    expect(router.match('GET', '/sources/pg1/tables/public.Orders')).toMatchObject({ params: { id: 'pg1', schema: 'public', table: 'Orders' } });
  });

  it('reports the allowed methods for a known path with the wrong method', () => {
    expect(router.match('DELETE', '/definitions/x/runs')).toEqual({ allowed: ['GET', 'POST'] });
  });

  it('optional parameters may be absent and unknown paths do not match', () => {
    expect(router.match('GET', '/items')).toMatchObject({ fn: { name: 'opt' }, params: {} });
    expect(router.match('GET', '/nothing/here')).toBeNull();
  });
});
