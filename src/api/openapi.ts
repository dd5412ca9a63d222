import { z } from 'zod';
import { SharePointConnectionInput, SyncDefinitionInput } from '../core/definitions';
import type { ApiRoute } from './routes/route';
import {
  DefinitionView,
  Problem,
  ProvisioningReportSchema,
  SharePointConnectionView,
  SourceConnectionBody,
  SourceConnectionView,
  TableDescriptionSchema,
  ValidationReportSchema,
} from './routes/schemas';

/**
 * The OpenAPI 3.1 document of the management API, generated from the very zod schemas that
 * validate requests (OpenAPI 3.1 schemas are JSON Schema 2020-12, which `z.toJSONSchema`
 * emits). Request schemas are rendered as the client sends them (`io: input`: defaults are
 * optional), responses as the server returns them.
 */

type Json = Record<string, unknown>;
type Io = 'input' | 'output';

/** Schemas worth a name of their own under components: referenced, not repeated. */
const NAMED = new Map<z.ZodType, string>([
  [Problem, 'Problem'],
  [SourceConnectionBody, 'SourceConnectionInput'],
  [SourceConnectionView, 'SourceConnection'],
  [SharePointConnectionInput, 'SharePointConnectionInput'],
  [SharePointConnectionView, 'SharePointConnection'],
  [SyncDefinitionInput, 'SyncDefinitionInput'],
  [DefinitionView, 'SyncDefinition'],
  [TableDescriptionSchema, 'TableDescription'],
  [ValidationReportSchema, 'ValidationReport'],
  [ProvisioningReportSchema, 'ProvisioningReport'],
]);

const TITLES: Record<number, string> = {
  400: 'Bad request: the route, query or body is invalid (field details in `errors`)',
  404: 'Not found',
  409: 'Conflict',
  412: 'Precondition failed: If-Match does not match the current ETag',
  415: 'Unsupported media type: the body must be JSON',
  422: 'Unprocessable: the request is well-formed but does not fit (field details in `errors`)',
  500: 'Internal error',
  503: 'A dependency is unavailable; retry later',
};

function jsonSchema(schema: z.ZodType, io: Io): Json {
  const { $schema: _dialect, ...rest } = z.toJSONSchema(schema, { io, unrepresentable: 'any', target: 'draft-2020-12' }) as Json;
  return rest;
}

class DocumentBuilder {
  readonly components: Record<string, Json> = {};

  schemaRef(schema: z.ZodType, io: Io): Json {
    const name = NAMED.get(schema);
    if (!name) return jsonSchema(schema, io);
    this.components[name] ??= jsonSchema(schema, io);
    return { $ref: `#/components/schemas/${name}` };
  }

  parameters(route: ApiRoute): Json[] {
    const out: Json[] = [];
    const add = (schema: z.ZodType | undefined, where: 'path' | 'query') => {
      if (!schema) return;
      const object = jsonSchema(schema, 'input') as { properties?: Record<string, Json>; required?: string[] };
      for (const [name, property] of Object.entries(object.properties ?? {})) {
        const { description, ...rest } = property as Json & { description?: string };
        out.push({ name, in: where, required: where === 'path' || (object.required ?? []).includes(name), schema: rest, ...(description ? { description } : {}) });
      }
    };
    add(route.doc.params, 'path');
    add(route.doc.query, 'query');
    const method = route.methods[0];
    if (method === 'PUT' || method === 'DELETE') {
      out.push({ name: 'If-Match', in: 'header', required: false, schema: { type: 'string' }, description: 'the ETag last read; the request fails with 412 when the resource changed since' });
    }
    return out;
  }

  operation(route: ApiRoute): Json {
    const { doc } = route;
    const responses: Json = {};
    for (const [status, response] of Object.entries(doc.responses)) {
      responses[status] = {
        description: response.description,
        ...(response.headers ? { headers: Object.fromEntries(response.headers.map((h) => [h, { schema: { type: 'string' } }])) } : {}),
        ...(response.schema ? { content: { 'application/json': { schema: this.schemaRef(response.schema, 'output') } } } : {}),
      };
    }
    for (const status of doc.errors) {
      responses[String(status)] = { description: TITLES[status] ?? 'Error', content: { 'application/problem+json': { schema: this.schemaRef(Problem, 'output') } } };
    }
    return {
      operationId: route.name,
      summary: doc.summary,
      ...(doc.description ? { description: doc.description } : {}),
      tags: [doc.tag],
      parameters: this.parameters(route),
      ...(doc.body ? { requestBody: { required: true, content: { 'application/json': { schema: this.schemaRef(doc.body, 'input') } } } } : {}),
      responses,
      ...(route.authLevel === 'anonymous' ? { security: [] } : {}),
    };
  }
}

export interface OpenApiInfo {
  title: string;
  version: string;
}

export function buildOpenApiDocument(routes: ApiRoute[], info: OpenApiInfo): Json {
  const builder = new DocumentBuilder();
  const paths: Record<string, Json> = {};
  for (const route of routes) {
    const path = `/${route.route.replace(/^\/+/, '')}`;
    paths[path] ??= {};
    for (const method of route.methods) paths[path]![method.toLowerCase()] = builder.operation(route);
  }
  return {
    openapi: '3.1.0',
    info: { ...info, description: 'Management API of the SQL → SharePoint list sync service. Errors are application/problem+json with field-level details.' },
    servers: [{ url: '/api' }],
    security: [{ functionKey: [] }, { functionKeyQuery: [] }],
    paths,
    components: {
      schemas: builder.components,
      securitySchemes: {
        functionKey: { type: 'apiKey', in: 'header', name: 'x-functions-key' },
        functionKeyQuery: { type: 'apiKey', in: 'query', name: 'code' },
      },
    },
  };
}
