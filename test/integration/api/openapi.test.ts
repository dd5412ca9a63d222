import { HttpRequest, InvocationContext } from '@azure/functions';
import { apiRoutes } from '../../../src/api';
import { createServices } from '../../../src/composition';
import { loadConfig } from '../../../src/config';
import { apiFunctions as wireApiFunctions } from '../../../src/functions/api';
import { Router } from '../../../src/local/router';
import type { HttpFunction } from '../../../src/runtime/function-table';

/** `GET /api/openapi.json`: the contract, generated from the zod schemas that validate requests. */

type Json = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

let doc: Json;
let apiFunctions: HttpFunction[];

beforeAll(async () => {
  apiFunctions = wireApiFunctions(createServices(loadConfig({ AzureWebJobsStorage: 'UseDevelopmentStorage=true', QUEUE_TRANSPORT: 'storage' })));
  const match = new Router(apiFunctions).match('GET', '/openapi.json');
  if (!match || !('fn' in match)) throw new Error('openapi.json is not routed');
  const response = await match.fn.handler(new HttpRequest({ method: 'GET', url: 'http://localhost:7071/api/openapi.json', params: match.params }), new InvocationContext({ functionName: match.fn.name }));
  expect(response.status).toBe(200);
  doc = response.jsonBody as Json;
});

describe('the OpenAPI document', () => {
  it('documents ?rebuild=true on replacing a definition, and the 409 it otherwise answers', () => {
    const put = doc.paths['/definitions/{id}'].put;
    expect(put.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'rebuild', in: 'query' })]));
    expect(put.responses['409']).toBeDefined();
  });

  it('is OpenAPI 3.1 and served without a key, while every other route needs one', () => {
    expect(doc.openapi).toBe('3.1.0');
    expect(apiFunctions.filter((f) => f.authLevel === 'anonymous').map((f) => f.route)).toEqual(['openapi.json']);
    expect(doc.paths['/openapi.json'].get.security).toEqual([]);
    expect(doc.components.securitySchemes.functionKey).toMatchObject({ type: 'apiKey', in: 'header', name: 'x-functions-key' });
  });

  it('describes every route with each of its path parameters', () => {
    for (const route of apiRoutes) {
      const operation = doc.paths[`/${route.route}`]?.[route.methods[0]!.toLowerCase()];
      expect(operation).toBeDefined();
      const declared = [...route.route.matchAll(/\{(\w+)\}/g)].map((m) => m[1]).sort();
      const documented = (operation.parameters as Json[]).filter((p) => p.in === 'path').map((p) => p.name).sort();
      expect({ route: route.route, params: documented }).toEqual({ route: route.route, params: declared });
    }
    expect(new Set(apiRoutes.map((r) => r.name)).size).toBe(apiRoutes.length); // Functions needs unique names
  });

  it('documents bodies from the same zod schemas, and errors as problem+json', () => {
    const createSource = doc.paths['/sources'].post;
    expect(createSource.requestBody.content['application/json'].schema).toEqual({ $ref: '#/components/schemas/SourceConnectionInput' });
    const sourceInput = doc.components.schemas.SourceConnectionInput;
    expect(sourceInput.additionalProperties).toBe(false);
    expect(sourceInput.properties.password.writeOnly).toBe(true);
    expect(sourceInput.properties.engine.enum).toEqual(['postgres', 'sqlserver']);

    const definitionInput = doc.components.schemas.SyncDefinitionInput;
    expect(definitionInput.properties.sharding.oneOf ?? definitionInput.properties.sharding.anyOf).toHaveLength(4);
    expect(definitionInput.required).toEqual(expect.arrayContaining(['id', 'sources', 'table', 'fields', 'cursor', 'target', 'sharding']));
    expect(definitionInput.required).not.toContain('enabled'); // has a default: optional for the client

    const provision = doc.paths['/definitions/{id}/provision'].post;
    expect(provision.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'dryRun', in: 'query', required: false })]));
    expect(provision.responses['409'].content['application/problem+json'].schema).toEqual({ $ref: '#/components/schemas/Problem' });
    expect(doc.paths['/sources/{id}'].put.parameters).toEqual(expect.arrayContaining([expect.objectContaining({ name: 'If-Match', in: 'header' })]));
    for (const route of apiRoutes) {
      const operation = doc.paths[`/${route.route}`][route.methods[0]!.toLowerCase()];
      expect(operation.responses['400'].content['application/problem+json']).toBeDefined();
    }
  });
});
