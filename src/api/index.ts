import type { HttpFunction } from '../runtime/function-table';
import { json } from './http';
import { buildOpenApiDocument } from './openapi';
import { definitionRoutes } from './routes/definitions';
import { failoverRoutes } from './routes/failover';
import { driftRoutes } from './routes/drift';
import { apiRoute, bindApiRoute, type ApiRoute, type ApiWiring } from './routes/route';
import { planRoutes } from './routes/plans';
import { runRoutes } from './routes/runs';
import { sharePointRoutes } from './routes/sharepoint';
import { sourceRoutes } from './routes/sources';

/** The management API (DESIGN §8): every route under `/api`, function-key auth unless noted. */

const openApi: ApiRoute = apiRoute({
  name: 'openapi',
  method: 'GET',
  route: 'openapi.json',
  // The contract is not a secret, and tools fetch it before they hold a key.
  authLevel: 'anonymous',
  tag: 'meta',
  summary: 'This API as an OpenAPI 3.1 document',
  responses: { 200: { description: 'the OpenAPI document' } },
  async handle({ openApiDocument }) {
    return json(200, openApiDocument());
  },
});

/** Every endpoint's declaration (what the OpenAPI document describes). */
export const apiRoutes: ApiRoute[] = [...sourceRoutes, ...sharePointRoutes, ...definitionRoutes, ...runRoutes, ...planRoutes, ...failoverRoutes, ...driftRoutes, openApi];

/** The API's HTTP functions, each bound to what the composition root handed over. Builds nothing yet. */
export function createApiFunctions(wiring: ApiWiring): HttpFunction[] {
  let document: Record<string, unknown> | undefined;
  const openApiDocument = () => (document ??= buildOpenApiDocument(apiRoutes, { title: 'SQL → SharePoint sync management API', version: wiring.version }));
  return apiRoutes.map((route) => bindApiRoute(route, { wiring, openApiDocument }));
}

export type { ApiWiring } from './routes/route';
