import { meterSpend } from '../../core/spend-meter';
import { randomUUID } from 'node:crypto';
import { configError, describe, isSyncError } from '../../core/errors';
import type { ResolvedMapping } from '../../core/mapping';
import type { DriftRepairMessage } from '../../core/messages';
import { QUEUES } from '../../core/ports/bus';
import type { DriftReportRecord } from '../../core/ports/state';
import { runLeaseName, type SyncDeps } from '../deps';
import { readDifferences } from './differences';
import { driftLeaseHolder } from './handle-check';
import { ACTION_KIND, actionApplies, RepairContext, REPAIRS } from './repair-actions';
import { requireReport, summaryOf } from './reports';
import type { Difference, DriftSummary, RepairAction, RepairRecord } from './types';

/** What a dry run answers per action: how many differences it would repair, and the first few of them. */
export type RepairPreview = Record<string, { wouldRepair: number; examples: Difference[] }>;

/** Dry run: each action's share of the report's differences; nothing is changed. */
export async function previewRepair(deps: Pick<SyncDeps, 'state'>, record: DriftReportRecord, actions: RepairAction[]): Promise<RepairPreview> {
  const summary = summaryOf(record);
  const out: RepairPreview = {};
  for (const action of actions) {
    const kind = ACTION_KIND[action];
    const entry = { wouldRepair: 0, examples: [] as Difference[] };
    for await (const page of readDifferences(deps.state, record.definitionId, record.reportId, kind, summary.counts[kind], summary.pageSize)) {
      for (const d of page.filter((x) => actionApplies(action, x))) {
        entry.wouldRepair++;
        if (entry.examples.length < 5) entry.examples.push(d);
      }
    }
    out[action] = entry;
  }
  return out;
}

/** Records a queued repair on the report and sends it to the definition's session of the runs queue. */
export async function requestRepair(deps: Pick<SyncDeps, 'state' | 'bus' | 'now'>, definitionId: string, reportId: string, actions: RepairAction[]): Promise<RepairRecord> {
  const record = await requireReport(deps.state, definitionId, reportId);
  if (record.status !== 'done') throw configError('drift', 'report_not_done', `drift report '${reportId}' is ${record.status}: only a finished check can be repaired`, { status: 409 });
  const repair: RepairRecord = { repairId: randomUUID(), actions, status: 'queued', requestedAt: deps.now().toISOString(), repaired: {} };
  const summary = summaryOf(record);
  await deps.state.putDriftReport({ ...record, report: { ...summary, repairs: [...summary.repairs, repair] } });
  const message: DriftRepairMessage = { type: 'driftRepair', definitionId, reportId, repairId: repair.repairId, actions };
  await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `repair:${repair.repairId}`, sessionId: definitionId }]);
  return repair;
}

/** Runs a queued repair under the definition's run lease, action by action, page by page; the report records what each fixed. */
export async function handleDriftRepair(deps: SyncDeps, msg: DriftRepairMessage): Promise<void> {
  const { state } = deps;
  const record = await state.getDriftReport(msg.definitionId, msg.reportId);
  const stored = await state.getDefinition(msg.definitionId);
  const known = record && summaryOf(record).repairs.find((r) => r.repairId === msg.repairId);
  if (!record || !stored || !known || known.status === 'done' || known.status === 'failed') return;
  const save = async (patch: Partial<RepairRecord>) => {
    const latest = (await state.getDriftReport(msg.definitionId, msg.reportId))!;
    const summary: DriftSummary = summaryOf(latest);
    await state.putDriftReport({ ...latest, report: { ...summary, repairs: summary.repairs.map((r) => (r.repairId === msg.repairId ? { ...r, ...patch } : r)) } });
  };
  const holder = driftLeaseHolder(msg.repairId);
  const lease = runLeaseName(msg.definitionId);
  if (!(await state.acquireLease(lease, holder, deps.settings.leaseTtlMs))) {
    await save({ status: 'failed', finishedAt: deps.now().toISOString(), error: 'a run of this definition is in progress' });
    return;
  }
  try {
    await save({ status: 'running' });
    // A repair may add ledger entries: the next reconciling run compares every key again (reconcile-mark.ts).
    await state.putReconcileMark(msg.definitionId, null);
    const ctx = new RepairContext(deps, stored, stored.mapping as ResolvedMapping, await deps.target(stored.definition.target.connectionId));
    const { counts, pageSize } = summaryOf(record);
    const repaired: Partial<Record<RepairAction, number>> = {};
    const { spend } = await meterSpend(async () => {
      for (const action of msg.actions) {
        const kind = ACTION_KIND[action];
        repaired[action] = 0;
        for await (const page of readDifferences(state, msg.definitionId, msg.reportId, kind, counts[kind], pageSize)) {
          const todo = page.filter((d) => actionApplies(action, d));
          if (todo.length) repaired[action]! += await REPAIRS[action](ctx, todo);
        }
      }
    });
    await save({ status: 'done', finishedAt: deps.now().toISOString(), repaired, ruSpent: spend.ru, requests: spend.requests });
    deps.log.info('drift repair done', { definitionId: msg.definitionId, reportId: msg.reportId, repaired, ruSpent: spend.ru });
  } catch (error) {
    if (!isSyncError(error) || error.transient) throw error; // redelivered: every step re-reads the ledger, so a repeat is safe
    await save({ status: 'failed', finishedAt: deps.now().toISOString(), error: describe(error) });
  } finally {
    await state.releaseLease(lease, holder);
  }
}
