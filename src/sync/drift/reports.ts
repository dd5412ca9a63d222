import { randomUUID } from 'node:crypto';
import { configError, notFound } from '../../core/errors';
import type { DriftCheckMessage } from '../../core/messages';
import { QUEUES } from '../../core/ports/bus';
import type { DriftReportRecord, StateStore } from '../../core/ports/state';
import type { SyncDeps } from '../deps';
import { DIFFERENCES_PAGE_SIZE } from './differences';
import { DIFFERENCE_KINDS, emptyDriftCounts, type Difference, type DifferenceKind, type DriftMode, type DriftSummary, type RepairAction } from './types';

/** Drift reports as the API and the use cases see them: requesting a check, reading a report and its differences. */

export const summaryOf = (record: DriftReportRecord): DriftSummary => record.report as DriftSummary;

export async function requireReport(state: StateStore, definitionId: string, reportId: string): Promise<DriftReportRecord> {
  const record = await state.getDriftReport(definitionId, reportId);
  if (!record) throw notFound('drift', 'drift report', reportId);
  return record;
}

/** Stores a queued report and sends its check to the definition's session of the runs queue. */
export async function requestDriftCheck(deps: Pick<SyncDeps, 'state' | 'bus' | 'now'>, definitionId: string, mode: DriftMode, autoRepair: RepairAction[] = []): Promise<DriftReportRecord> {
  const stored = await deps.state.getDefinition(definitionId);
  if (!stored) throw notFound('drift', 'definition', definitionId);
  if (!stored.mapping || !Object.keys(stored.lists ?? {}).length) {
    throw configError('drift', 'not_provisioned', `definition '${definitionId}' has no lists yet: provision it or run it first`, { status: 409 });
  }
  const now = deps.now().toISOString();
  const summary: DriftSummary = { mode, startedAt: null, finishedAt: null, counts: emptyDriftCounts(), ruSpent: 0, requests: 0, pageSize: DIFFERENCES_PAGE_SIZE, repairs: [] };
  const record: DriftReportRecord = { definitionId, reportId: randomUUID(), createdAt: now, status: 'queued', report: summary };
  await deps.state.putDriftReport(record);
  const message: DriftCheckMessage = { type: 'driftCheck', definitionId, reportId: record.reportId, mode, requestedAt: now, ...(autoRepair.length ? { autoRepair } : {}) };
  await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `drift:${record.reportId}`, sessionId: definitionId }]);
  return record;
}

/**
 * One page of a report's differences: of one kind, or of all kinds in the order of
 * DIFFERENCE_KINDS (page n of "all" is found from the per-kind counts, so every page is one read).
 */
export async function differencesPage(state: StateStore, record: DriftReportRecord, kind: DifferenceKind | undefined, page: number): Promise<{ items: Difference[]; page: number; pages: number }> {
  const summary = summaryOf(record);
  const size = summary.pageSize || DIFFERENCES_PAGE_SIZE;
  const pagesOf = (k: DifferenceKind) => Math.ceil((summary.counts[k] ?? 0) / size);
  const read = async (k: DifferenceKind, n: number) => ((await state.getDriftDifferences(record.definitionId, record.reportId, k, n)) as Difference[] | null) ?? [];
  if (kind) return { items: page < pagesOf(kind) ? await read(kind, page) : [], page, pages: pagesOf(kind) };
  const pages = DIFFERENCE_KINDS.reduce((n, k) => n + pagesOf(k), 0);
  let rest = page;
  for (const k of DIFFERENCE_KINDS) {
    if (rest < pagesOf(k)) return { items: await read(k, rest), page, pages };
    rest -= pagesOf(k);
  }
  return { items: [], page, pages };
}
