import { SyncDefinitionInput } from '../../core/definitions';
import { createDefinition, deleteDefinition, replaceDefinition, requireDefinition, validateDefinition } from '../../sync/definitions-admin';
import { applyProvisioning, planProvisioning } from '../../sync/provision';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import { DefinitionView, IdParams, ListOf, ProvisioningReportSchema, ProvisionQuery, ReplaceDefinitionQuery, SyncDefinitionReplaceBody, ValidationReportSchema } from './schemas';
import { created, definitionView, ifMatchOf, noContent, okVersioned } from './views';

/** `/definitions`: sync definitions, their validation and list provisioning (DESIGN §3, §8). */

const tag = 'definitions';

export const definitionRoutes: ApiRoute[] = [
  apiRoute({
    name: 'definitionsList',
    method: 'GET',
    route: 'definitions',
    tag,
    summary: 'List sync definitions',
    responses: { 200: { description: 'every definition', schema: ListOf(DefinitionView) } },
    async handle({ adminDeps }) {
      const { state } = await adminDeps();
      return json(200, { items: (await state.listDefinitions()).map(definitionView) });
    },
  }),
  apiRoute({
    name: 'definitionsCreate',
    method: 'POST',
    route: 'definitions',
    tag,
    summary: 'Create a sync definition',
    description: 'Referenced connections must exist (422 naming e.g. `sources.0.connectionId`); the schedule must be six-field NCRONTAB or null.',
    body: SyncDefinitionInput,
    responses: { 201: { description: 'created (not provisioned yet: mappingVersion 0)', schema: DefinitionView, headers: ['ETag', 'Location'] } },
    errors: [409, 415, 422],
    async handle({ body, request, adminDeps }) {
      const saved = await createDefinition(await adminDeps(), body);
      return created(request, `definitions/${encodeURIComponent(saved.definition.id)}`, definitionView(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'definitionsGet',
    method: 'GET',
    route: 'definitions/{id}',
    tag,
    summary: 'Get a sync definition',
    params: IdParams,
    responses: { 200: { description: 'the definition with its provisioning state', schema: DefinitionView, headers: ['ETag'] } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const stored = await requireDefinition(await adminDeps(), params.id);
      return okVersioned(definitionView(stored), stored.etag);
    },
  }),
  apiRoute({
    name: 'definitionsReplace',
    method: 'PUT',
    route: 'definitions/{id}',
    tag,
    summary: 'Replace a sync definition',
    description:
      'A changed field mapping makes the next run rescan (hash compare keeps writes to rows that really changed). The target cannot change once lists are provisioned (409). ' +
      'Changing key, table or source engine gives every row a new identity: once the lists hold items that is refused (409 naming what changed) unless rebuild=true, ' +
      'which deletes the old items through the ledger on the next runs and creates them under the new identity. Honours If-Match.',
    params: IdParams,
    query: ReplaceDefinitionQuery,
    body: SyncDefinitionReplaceBody,
    responses: { 200: { description: 'replaced', schema: DefinitionView, headers: ['ETag'] } },
    errors: [404, 409, 412, 415, 422],
    async handle({ params, query, body, request, adminDeps }) {
      const saved = await replaceDefinition(await adminDeps(), params.id, body, ifMatchOf(request), { rebuild: query.rebuild });
      return okVersioned(definitionView(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'definitionsDelete',
    method: 'DELETE',
    route: 'definitions/{id}',
    tag,
    summary: 'Delete a sync definition',
    description: 'Lists and their items stay in SharePoint. Honours If-Match.',
    params: IdParams,
    responses: { 204: { description: 'deleted' } },
    errors: [404, 412],
    async handle({ params, request, adminDeps }) {
      await deleteDefinition(await adminDeps(), params.id, ifMatchOf(request));
      return noContent();
    },
  }),
  apiRoute({
    name: 'definitionsValidate',
    method: 'POST',
    route: 'definitions/{id}/validate',
    tag,
    summary: 'Validate a definition against its source table and site',
    description: 'Checks that connections exist, the table exists, the fields fit it and the schedule parses. Every problem is reported at once (422 with one entry per field). Stores nothing.',
    params: IdParams,
    responses: { 200: { description: 'valid, with the proposed mapping', schema: ValidationReportSchema } },
    errors: [404, 422],
    async handle({ params, adminDeps }) {
      return json(200, await validateDefinition(await adminDeps(), params.id));
    },
  }),
  apiRoute({
    name: 'definitionsProvision',
    method: 'POST',
    route: 'definitions/{id}/provision',
    tag,
    summary: 'Provision the lists of a definition (dry run by default)',
    description:
      'dryRun=true (default) reports per list what would be created or added and any conflicts, and changes nothing. dryRun=false applies: nothing is changed while any conflict exists (409 listing them); re-applying changes nothing.',
    params: IdParams,
    query: ProvisionQuery,
    responses: { 200: { description: 'the plan (dry run) or what was done', schema: ProvisioningReportSchema } },
    errors: [404, 409, 422],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      const stored = await requireDefinition(deps, params.id);
      return json(200, query.dryRun ? await planProvisioning(deps, stored) : await applyProvisioning(deps, stored));
    },
  }),
];
