import { SharePointConnectionInput } from '../../core/definitions';
import { notFound } from '../../core/errors';
import { createSharePoint, deleteSharePoint, replaceSharePoint } from '../../sync/definitions-admin';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import { IdParams, ListOf, ListSchema, SharePointConnectionReplaceBody, SharePointConnectionView, SiteParams, SiteSchema, SitesQuery } from './schemas';
import { created, ifMatchOf, noContent, okVersioned, withoutEtag } from './views';

/** `/sharepoint`: SharePoint (Microsoft Graph) connections, and browsing their sites and lists. */

const tag = 'sharepoint';

export const sharePointRoutes: ApiRoute[] = [
  apiRoute({
    name: 'sharepointList',
    method: 'GET',
    route: 'sharepoint',
    tag,
    summary: 'List SharePoint connections',
    responses: { 200: { description: 'every SharePoint connection', schema: ListOf(SharePointConnectionView) } },
    async handle({ adminDeps }) {
      const { state } = await adminDeps();
      return json(200, { items: (await state.listSharePoint()).map(withoutEtag) });
    },
  }),
  apiRoute({
    name: 'sharepointCreate',
    method: 'POST',
    route: 'sharepoint',
    tag,
    summary: 'Create a SharePoint connection',
    body: SharePointConnectionInput,
    responses: { 201: { description: 'created', schema: SharePointConnectionView, headers: ['ETag', 'Location'] } },
    errors: [409, 415],
    async handle({ body, request, adminDeps }) {
      const saved = await createSharePoint(await adminDeps(), body);
      return created(request, `sharepoint/${encodeURIComponent(saved.id)}`, withoutEtag(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'sharepointGet',
    method: 'GET',
    route: 'sharepoint/{id}',
    tag,
    summary: 'Get a SharePoint connection',
    params: IdParams,
    responses: { 200: { description: 'the connection', schema: SharePointConnectionView, headers: ['ETag'] } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const found = await (await adminDeps()).state.getSharePoint(params.id);
      if (!found) throw notFound('api', 'SharePoint connection', params.id);
      return okVersioned(withoutEtag(found), found.etag);
    },
  }),
  apiRoute({
    name: 'sharepointReplace',
    method: 'PUT',
    route: 'sharepoint/{id}',
    tag,
    summary: 'Replace a SharePoint connection',
    description: 'Honours If-Match (412 when the connection changed since it was read).',
    params: IdParams,
    body: SharePointConnectionReplaceBody,
    responses: { 200: { description: 'replaced', schema: SharePointConnectionView, headers: ['ETag'] } },
    errors: [404, 412, 415],
    async handle({ params, body, request, adminDeps }) {
      const saved = await replaceSharePoint(await adminDeps(), params.id, body, ifMatchOf(request));
      return okVersioned(withoutEtag(saved), saved.etag);
    },
  }),
  apiRoute({
    name: 'sharepointDelete',
    method: 'DELETE',
    route: 'sharepoint/{id}',
    tag,
    summary: 'Delete a SharePoint connection',
    description: 'Refused (409) while a definition uses it. Honours If-Match.',
    params: IdParams,
    responses: { 204: { description: 'deleted' } },
    errors: [404, 409, 412],
    async handle({ params, request, adminDeps }) {
      await deleteSharePoint(await adminDeps(), params.id, ifMatchOf(request));
      return noContent();
    },
  }),
  apiRoute({
    name: 'sharepointSites',
    method: 'GET',
    route: 'sharepoint/{id}/sites',
    tag,
    summary: 'Search the sites a SharePoint connection can see',
    params: IdParams,
    query: SitesQuery,
    responses: { 200: { description: 'matching sites', schema: ListOf(SiteSchema) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const target = await (await adminDeps()).target(params.id);
      return json(200, { items: await target.searchSites(query.search ?? '*') });
    },
  }),
  apiRoute({
    name: 'sharepointSiteLists',
    method: 'GET',
    route: 'sharepoint/{id}/sites/{siteId}/lists',
    tag,
    summary: 'List the lists of a site',
    params: SiteParams,
    responses: { 200: { description: 'the lists of the site', schema: ListOf(ListSchema) } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const target = await (await adminDeps()).target(params.id);
      return json(200, { items: await target.listLists(params.siteId) });
    },
  }),
];
