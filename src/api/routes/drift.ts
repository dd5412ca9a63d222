import type { DriftReportRecord } from '../../core/ports/state';
import { requireDefinition } from '../../sync/definitions-admin';
import { differencesPage, previewRepair, requestDriftCheck, requestRepair, requireReport, summaryOf } from '../../sync/drift';
import { json } from '../http';
import { apiRoute, type ApiRoute } from './route';
import { DifferencesQuery, DriftCheckAccepted, DriftCheckRequest, DriftReport, DriftReportParams, DriftReportSummary, RepairAccepted, RepairPreview, RepairRequest } from './drift-schemas';
import { IdParams, PageOf, PageQuery } from './schemas';

/** Drift checks, their reports and repairs (DESIGN §7). */

const tag = 'drift';

/** A stored report as the API shows it: the record's fields beside its summary. */
function reportView(record: DriftReportRecord) {
  const { mode, watchFellBack, startedAt, finishedAt, counts, ruSpent, requests, error, repairs } = summaryOf(record);
  return { reportId: record.reportId, definitionId: record.definitionId, status: record.status, createdAt: record.createdAt, mode, ...(watchFellBack !== undefined ? { watchFellBack } : {}), startedAt, finishedAt, counts, ruSpent, requests, ...(error ? { error } : {}), repairs };
}

export const driftRoutes: ApiRoute[] = [
  apiRoute({
    name: 'driftCheck',
    method: 'POST',
    route: 'definitions/{id}/drift',
    tag,
    summary: 'Check the lists against the ledger',
    description: 'Queues a drift check (quick: id and SyncKey; deep: also the mapped fields against the rows). It runs under the definition\'s lease, never during a run.',
    params: IdParams,
    body: DriftCheckRequest,
    responses: { 202: { description: 'queued', schema: DriftCheckAccepted, headers: ['Location'] } },
    errors: [404, 409, 415],
    async handle({ params, body, request, adminDeps }) {
      const record = await requestDriftCheck(await adminDeps(), params.id, body.mode);
      const statusUrl = new URL(`/api/definitions/${encodeURIComponent(params.id)}/drift/${encodeURIComponent(record.reportId)}`, request.url).toString();
      return json(202, { reportId: record.reportId, status: 'queued', statusUrl }, { location: statusUrl });
    },
  }),
  apiRoute({
    name: 'driftList',
    method: 'GET',
    route: 'definitions/{id}/drift',
    tag,
    summary: 'Drift reports of a definition, newest first',
    params: IdParams,
    query: PageQuery,
    responses: { 200: { description: 'a page of reports', schema: PageOf(DriftReportSummary) } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      await requireDefinition(deps, params.id);
      const page = await deps.state.listDriftReports(params.id, { limit: query.limit, next: query.next });
      return json(200, { items: page.items.map(reportView), ...(page.next ? { next: page.next } : {}) });
    },
  }),
  apiRoute({
    name: 'driftGet',
    method: 'GET',
    route: 'definitions/{id}/drift/{reportId}',
    tag,
    summary: 'A drift report with one page of its differences',
    params: DriftReportParams,
    query: DifferencesQuery,
    responses: { 200: { description: 'the report', schema: DriftReport } },
    errors: [404],
    async handle({ params, query, adminDeps }) {
      const deps = await adminDeps();
      const record = await requireReport(deps.state, params.id, params.reportId);
      const page = await differencesPage(deps.state, record, query.kind, query.page);
      return json(200, { ...reportView(record), differences: { ...(query.kind ? { kind: query.kind } : {}), ...page } });
    },
  }),
  apiRoute({
    name: 'driftRepair',
    method: 'POST',
    route: 'definitions/{id}/drift/{reportId}/repair',
    tag,
    summary: 'Repair what a report found, action by action',
    description: 'dryRun (default true) answers what each action would do. A real repair is queued under the definition\'s lease and recorded on the report.',
    params: DriftReportParams,
    body: RepairRequest,
    responses: { 200: { description: 'dry run', schema: RepairPreview }, 202: { description: 'queued', schema: RepairAccepted } },
    errors: [404, 409, 415],
    async handle({ params, body, adminDeps }) {
      const deps = await adminDeps();
      if (body.dryRun) return json(200, { dryRun: true, actions: await previewRepair(deps, await requireReport(deps.state, params.id, params.reportId), body.actions) });
      return json(202, { dryRun: false, repair: await requestRepair(deps, params.id, params.reportId, body.actions) });
    },
  }),
];
