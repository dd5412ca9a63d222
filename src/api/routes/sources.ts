import { notFound } from '../../core/errors';
import { redact } from '../../core/ports/logger';
import { createSource, deleteSource, describeSourceTable, replaceSource } from '../../sync/definitions-admin';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import {
  IdParams,
  ListOf,
  SourceConnectionBody,
  SourceConnectionReplaceBody,
  SourceConnectionView,
  SourceHealthSchema,
  TableDescriptionSchema,
  TableParams,
  TablesQuery,
  TableSummarySchema,
} from './schemas';
import { created, noContent, okVersioned, ifMatchOf, withoutEtag } from './views';

/** `/sources`: source database connections (DESIGN §3, §8). Secrets only ever as a `secretRef`. */

const tag = 'sources';
/** How long `POST /sources/{id}/test` waits for the database before reporting it unreachable. */
const HEALTH_TIMEOUT_MS = 10_000;

export const sourceRoutes: ApiRoute[] = [
  apiRoute({
    name: 'sourcesList',
    method: 'GET',
    route: 'sources',
    tag,
    summary: 'List source connections',
    responses: { 200: { description: 'every source connection', schema: ListOf(SourceConnectionView) } },
    async handle({ adminDeps }) {
      const { state } = await adminDeps();
      return json(200, { items: (await state.listSources()).map(withoutEtag) });
    },
  }),
  apiRoute({
    name: 'sourcesCreate',
    method: 'POST',
    route: 'sources',
    tag,
    summary: 'Create a source connection',
    body: SourceConnectionBody,
    responses: { 201: { description: 'created', schema: SourceConnectionView, headers: ['ETag', 'Location'] } },
    errors: [409, 415],
    async handle({ body, request, adminDeps }) {
      const saved = await createSource(await adminDeps(), body);
      return created(request, `sources/${encodeURIComponent(saved.id)}`, withoutEtag(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'sourcesGet',
    method: 'GET',
    route: 'sources/{id}',
    tag,
    summary: 'Get a source connection',
    params: IdParams,
    responses: { 200: { description: 'the connection', schema: SourceConnectionView, headers: ['ETag'] } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const found = await (await adminDeps()).state.getSource(params.id);
      if (!found) throw notFound('api', 'source connection', params.id);
      return okVersioned(withoutEtag(found), found.etag);
    },
  }),
  apiRoute({
    name: 'sourcesReplace',
    method: 'PUT',
    route: 'sources/{id}',
    tag,
    summary: 'Replace a source connection',
    description: 'Honours If-Match (412 when the connection changed since it was read).',
    params: IdParams,
    body: SourceConnectionReplaceBody,
    responses: { 200: { description: 'replaced', schema: SourceConnectionView, headers: ['ETag'] } },
    errors: [404, 412, 415],
    async handle({ params, body, request, adminDeps }) {
      const saved = await replaceSource(await adminDeps(), params.id, body, ifMatchOf(request));
      return okVersioned(withoutEtag(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'sourcesDelete',
    method: 'DELETE',
    route: 'sources/{id}',
    tag,
    summary: 'Delete a source connection',
    description: 'Refused (409) while a definition uses it. Honours If-Match.',
    params: IdParams,
    responses: { 204: { description: 'deleted' } },
    errors: [404, 409, 412],
    async handle({ params, request, adminDeps }) {
      await deleteSource(await adminDeps(), params.id, ifMatchOf(request));
      return noContent();
    },
  }),
  apiRoute({
    name: 'sourcesTest',
    method: 'POST',
    route: 'sources/{id}/test',
    tag,
    summary: 'Test a source connection',
    description: 'Connects with the stored settings and secret. A database that cannot be reached is reported in the body (ok: false); a missing secret is a 422 naming the secretRef.',
    params: IdParams,
    responses: { 200: { description: 'the outcome of the probe', schema: SourceHealthSchema } },
    errors: [404, 422],
    async handle({ params, adminDeps }) {
      const source = await (await adminDeps()).source(params.id);
      // Driver messages carry no password, but a connection string echoed by a driver would: redact anyway.
      return json(200, redact(await source.health(HEALTH_TIMEOUT_MS)));
    },
  }),
  apiRoute({
    name: 'sourcesTables',
    method: 'GET',
    route: 'sources/{id}/tables',
    tag,
    summary: 'List the tables and views of a source',
    params: IdParams,
    query: TablesQuery,
    responses: { 200: { description: 'tables and views, sorted by schema then name', schema: ListOf(TableSummarySchema) } },
    errors: [404, 422],
    async handle({ params, query, adminDeps }) {
      const source = await (await adminDeps()).source(params.id);
      return json(200, { items: await source.listTables(query.schema) });
    },
  }),
  apiRoute({
    name: 'sourcesTable',
    method: 'GET',
    route: 'sources/{id}/tables/{schema}.{table}',
    tag,
    summary: 'Describe a table, with the SharePoint column proposed for each column',
    description: 'A name holding "." is resolved against the catalog: the split whose schema exists is used.',
    params: TableParams,
    responses: { 200: { description: 'columns, keys, constraints, indexes and proposals', schema: TableDescriptionSchema } },
    errors: [404, 422],
    async handle({ params, adminDeps }) {
      return json(200, await describeSourceTable(await adminDeps(), params.id, { schema: params.schema, name: params.table }));
    },
  }),
];
