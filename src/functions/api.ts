import { buildOpenApiDocument } from '../api/openapi';
import { json } from '../api/http';
import { definitionRoutes } from '../api/routes/definitions';
import { apiRoute, type ApiRoute } from '../api/routes/route';
import { runRoutes } from '../api/routes/runs';
import { sharePointRoutes } from '../api/routes/sharepoint';
import { sourceRoutes } from '../api/routes/sources';
import { services } from '../composition';
import type { HttpFunction } from '../runtime/function-table';

/** The management API (DESIGN §8): every route under `/api`, function-key auth unless noted. */

let openApiDocument: Record<string, unknown> | undefined;

const openApi: ApiRoute = apiRoute({
  name: 'openapi',
  method: 'GET',
  route: 'openapi.json',
  // The contract is not a secret, and tools fetch it before they hold a key.
  authLevel: 'anonymous',
  tag: 'meta',
  summary: 'This API as an OpenAPI 3.1 document',
  responses: { 200: { description: 'the OpenAPI document' } },
  async handle() {
    openApiDocument ??= buildOpenApiDocument(apiRoutes, { title: 'SQL → SharePoint sync management API', version: services().version });
    return json(200, openApiDocument);
  },
});

export const apiRoutes: ApiRoute[] = [...sourceRoutes, ...sharePointRoutes, ...definitionRoutes, ...runRoutes, openApi];

export const apiFunctions: HttpFunction[] = apiRoutes;
