import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { HttpRequest, InvocationContext } from '@azure/functions';
import openapiTS from 'openapi-typescript';
import { createApiFunctions } from '../../api';

/**
 * The console's API types, generated from what `GET /api/openapi.json` serves (the same route
 * handler, called in process), so the page is typed from the API and cannot drift from it.
 * `tsx src/console/scripts/api-types.ts` rewrites them; `--check` fails when they are stale.
 */
export const API_TYPES_FILE = path.resolve(__dirname, '../app/api-types.ts');

const HEADER = '// Generated from GET /api/openapi.json by `npm run console:api-types`. Do not edit.\n';

export async function servedOpenApiDocument(): Promise<Record<string, unknown>> {
  const functions = createApiFunctions({
    // A fixed version: the product version must not make the generated file stale.
    version: 'console',
    entraRoles: false,
    adminDeps: () => Promise.reject(new Error('the OpenAPI document needs no admin dependencies')),
  });
  const openApi = functions.find((f) => f.route === 'openapi.json');
  if (!openApi) throw new Error('the API serves no openapi.json route');
  const response = await openApi.handler(new HttpRequest({ method: 'GET', url: 'http://localhost/api/openapi.json' }), new InvocationContext());
  return response.jsonBody as Record<string, unknown>;
}

export async function renderApiTypes(): Promise<string> {
  const document = await servedOpenApiDocument();
  return HEADER + (await openapiTS(document, { exportType: true }));
}

async function main(): Promise<void> {
  const rendered = await renderApiTypes();
  if (process.argv.includes('--check')) {
    const current = readFileSync(API_TYPES_FILE, 'utf8');
    if (current !== rendered) {
      console.error(`${path.relative(process.cwd(), API_TYPES_FILE)} is stale: run npm run console:api-types`);
      process.exit(1);
    }
    return;
  }
  writeFileSync(API_TYPES_FILE, rendered);
  console.log(`wrote ${path.relative(process.cwd(), API_TYPES_FILE)}`);
}

if (require.main === module) void main();
