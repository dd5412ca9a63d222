import { describe, isSyncError } from '../../core/errors';
import type { ResolvedMapping } from '../../core/mapping';
import type { DriftCheckMessage } from '../../core/messages';
import { runLeaseName, type SyncDeps } from '../deps';
import { DriftCheck } from './check';
import { DifferenceWriter } from './differences';
import { requestRepair } from './handle-repair';
import { summaryOf } from './reports';
import { DIFFERENCE_KINDS } from './types';

export const driftLeaseHolder = (id: string) => `drift:${id}`;

/**
 * Runs a queued drift check under the definition's run lease (a check and a run never
 * interleave). A check that finds the lease taken is recorded as refused, like a run.
 */
export async function handleDriftCheck(deps: SyncDeps, msg: DriftCheckMessage): Promise<void> {
  const { state } = deps;
  const record = await state.getDriftReport(msg.definitionId, msg.reportId);
  const stored = await state.getDefinition(msg.definitionId);
  if (!record || !stored) {
    deps.log.warn('drift check for an unknown report or definition dropped', { definitionId: msg.definitionId, reportId: msg.reportId });
    return;
  }
  if (record.status === 'done' || record.status === 'failed' || record.status === 'refused') return; // a redelivery
  const summary = summaryOf(record);
  const holder = driftLeaseHolder(msg.reportId);
  const lease = runLeaseName(msg.definitionId);
  if (!(await state.acquireLease(lease, holder, deps.settings.leaseTtlMs))) {
    await state.putDriftReport({ ...record, status: 'refused', report: { ...summary, finishedAt: deps.now().toISOString(), error: 'a run of this definition is in progress' } });
    return;
  }
  const startedAt = deps.now().toISOString();
  await state.putDriftReport({ ...record, status: 'running', report: { ...summary, startedAt } });
  try {
    const target = await deps.target(stored.definition.target.connectionId);
    const check = new DriftCheck(deps, stored, stored.mapping as ResolvedMapping, target, msg.mode, new DifferenceWriter(state, msg.definitionId, msg.reportId));
    const outcome = await check.run();
    await state.putDriftReport({ ...record, status: 'done', report: { ...summary, startedAt, finishedAt: deps.now().toISOString(), ...outcome } });
    deps.log.info('drift check done', { definitionId: msg.definitionId, reportId: msg.reportId, counts: outcome.counts });
    if (msg.autoRepair?.length && DIFFERENCE_KINDS.some((k) => outcome.counts[k] > 0)) await requestRepair(deps, msg.definitionId, msg.reportId, msg.autoRepair);
  } catch (error) {
    if (!isSyncError(error) || error.transient) throw error; // redelivered; a redelivery starts the check again
    await state.putDriftReport({ ...record, status: 'failed', report: { ...summary, startedAt, finishedAt: deps.now().toISOString(), error: describe(error) } });
  } finally {
    await state.releaseLease(lease, holder);
  }
}
