import { ruPerHour } from '../../sync/ru-per-hour';
import { runPlanPage } from '../../sync/run-plan-query';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import { PlanPageSchema, PlanQuery, RuPerHourQuery, RuPerHourSchema, RunParams } from './schemas';

/** A dry run's stored plan, page by page, and the RU runs spent per hour per tenant. */

export const planRoutes: ApiRoute[] = [
  apiRoute({
    name: 'runsPlan',
    method: 'GET',
    route: 'runs/{runId}/plan',
    tag: 'runs',
    summary: "A page of a dry run's plan: every row it would create, update, move or delete",
    description:
      'Pages are numbered from 0 across the shard lists (by name) and operations (create, update, move, delete) the filter keeps; `pages` says how many there are. 409 when the run is not a finished dry run, or its plan was deleted by retention (a definition keeps the plans of its newest 5 dry runs).',
    params: RunParams,
    query: PlanQuery,
    responses: { 200: { description: 'one page of the plan', schema: PlanPageSchema } },
    errors: [404, 409],
    async handle({ params, query, adminDeps }) {
      return json(200, await runPlanPage((await adminDeps()).state, params.runId, query));
    },
  }),
  apiRoute({
    name: 'statsRuPerHour',
    method: 'GET',
    route: 'stats/ru-per-hour',
    tag: 'runs',
    summary: 'SharePoint RU spent per UTC hour per tenant, from what runs record',
    description: "Each run's `ruSpent` counts in the hour the run started; a tenant is the `tenantId` of the definitions' SharePoint connections.",
    query: RuPerHourQuery,
    responses: { 200: { description: 'RU per hour per tenant', schema: RuPerHourSchema } },
    async handle({ query, adminDeps }) {
      const deps = await adminDeps();
      return json(200, await ruPerHour(deps.state, query.hours, deps.now()));
    },
  }),
];
