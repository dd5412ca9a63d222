import { notFound } from '../../core/errors';
import { requestRun, requireDefinition } from '../../sync/definitions-admin';
import { retryFailures } from '../../sync/failures';
import { cancelRun } from '../../sync/run-lifecycle';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import { FailuresQuery, FailureSchema, IdParams, ListOf, MoveSchema, PageOf, PageQuery, RetryAccepted, RetryFailuresRequest, RunAccepted, RunParams, RunRequest, RunSchema } from './schemas';

/** Runs, per-row failures and moves of a definition (DESIGN §5, §7). */

const tag = 'runs';

export const runRoutes: ApiRoute[] = [
  apiRoute({
    name: 'runsRequest',
    method: 'POST',
    route: 'definitions/{id}/runs',
    tag,
    summary: 'Start a run now',
    description: 'Queues a run (one at a time per definition). Poll statusUrl; it answers 404 until the planner has picked the run up.',
    params: IdParams,
    body: RunRequest,
    responses: { 202: { description: 'queued', schema: RunAccepted, headers: ['Location'] } },
    errors: [404, 409, 415],
    async handle({ params, body, request, adminDeps }) {
      const message = await requestRun(await adminDeps(), params.id, body.mode);
      const statusUrl = new URL(`/api/runs/${encodeURIComponent(message.runId)}`, request.url).toString();
      return json(202, { runId: message.runId, statusUrl }, { location: statusUrl });
    },
  }),
  apiRoute({
    name: 'runsList',
    method: 'GET',
    route: 'definitions/{id}/runs',
    tag,
    summary: 'Run history of a definition, newest first',
    params: IdParams,
    query: PageQuery,
    responses: { 200: { description: 'a page of runs', schema: PageOf(RunSchema) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      return json(200, await deps.state.listRuns(params.id, { limit: query.limit, next: query.next }));
    },
  }),
  apiRoute({
    name: 'runsGet',
    method: 'GET',
    route: 'runs/{runId}',
    tag,
    summary: 'A run with its live counts',
    params: RunParams,
    responses: { 200: { description: 'the run', schema: RunSchema } },
    errors: [404],
    async handle({ params, adminDeps }) {
      const run = await (await adminDeps()).state.getRun(params.runId);
      if (!run) throw notFound('api', 'run', params.runId);
      return json(200, run);
    },
  }),
  apiRoute({
    name: 'runsCancel',
    method: 'POST',
    route: 'runs/{runId}/cancel',
    tag,
    summary: 'Cancel a queued or running run',
    description:
      'Ends the run now as cancelled and releases the definition for the next run. Batches in flight finish or are dropped; the cursor does not move, so the next run covers the same rows. 409 if the run already ended.',
    params: RunParams,
    responses: { 200: { description: 'the cancelled run', schema: RunSchema } },
    errors: [400, 404, 409],
    async handle({ params, adminDeps }) {
      return json(200, await cancelRun(await adminDeps(), params.runId));
    },
  }),
  apiRoute({
    name: 'failuresList',
    method: 'GET',
    route: 'definitions/{id}/failures',
    tag,
    summary: 'Rows that failed to sync',
    description: 'Quarantined rows (past maxAttempts) only with includeQuarantined=true.',
    params: IdParams,
    query: FailuresQuery,
    responses: { 200: { description: 'the failures', schema: ListOf(FailureSchema) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      return json(200, { items: await deps.state.getFailures(params.id, { includeQuarantined: query.includeQuarantined }) });
    },
  }),
  apiRoute({
    name: 'failuresRetry',
    method: 'POST',
    route: 'definitions/{id}/failures/retry',
    tag,
    summary: 'Release failed rows for the next run',
    description: 'Lifts quarantine and resets attempts; the next run retries the rows by key.',
    params: IdParams,
    body: RetryFailuresRequest,
    responses: { 200: { description: 'how many rows were released', schema: RetryAccepted } },
    errors: [404, 415],
    async handle({ params, body, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      return json(200, { retried: await retryFailures(deps, params.id, body.identityHashes) });
    },
  }),
  apiRoute({
    name: 'movesList',
    method: 'GET',
    route: 'definitions/{id}/moves',
    tag,
    summary: 'Audit of items moved between shard lists, newest first',
    params: IdParams,
    query: PageQuery,
    responses: { 200: { description: 'a page of moves', schema: PageOf(MoveSchema) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      return json(200, await deps.state.listMoves(params.id, { limit: query.limit, next: query.next }));
    },
  }),
];
