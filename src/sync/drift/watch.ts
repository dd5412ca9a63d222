import { randomUUID } from 'node:crypto';
import type { ResolvedMapping } from '../../core/mapping';
import type { DriftWatchMessage } from '../../core/messages';
import { QUEUES } from '../../core/ports/bus';
import { runLeaseName, type SyncDeps } from '../deps';
import { DriftCheck } from './check';
import { DifferenceWriter, DIFFERENCES_PAGE_SIZE } from './differences';
import { driftLeaseHolder } from './handle-check';
import { DIFFERENCE_KINDS, type DriftSummary } from './types';

/**
 * The drift watch (DESIGN §7). A finished run of a definition with `drift.watch` sends it as
 * its own message on the runs queue, so the run's lease is released as always and the watch
 * takes it afresh; a watch that finds the lease taken is skipped, and the next one reads on
 * from the same tokens.
 */
export async function requestDriftWatch(deps: Pick<SyncDeps, 'bus'>, definitionId: string, afterRunId: string): Promise<void> {
  const message: DriftWatchMessage = { type: 'driftWatch', definitionId, watchId: randomUUID(), afterRunId };
  await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `watch:${afterRunId}`, sessionId: definitionId }]);
}

export async function handleDriftWatch(deps: SyncDeps, msg: DriftWatchMessage): Promise<void> {
  const { state } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored?.definition.drift.watch || !stored.mapping || !Object.keys(stored.lists ?? {}).length) return;
  const holder = driftLeaseHolder(msg.watchId);
  const lease = runLeaseName(msg.definitionId);
  if (!(await state.acquireLease(lease, holder, deps.settings.leaseTtlMs))) {
    deps.log.info('drift watch skipped: the definition is busy', { definitionId: msg.definitionId, afterRunId: msg.afterRunId });
    return;
  }
  try {
    const startedAt = deps.now().toISOString();
    const target = await deps.target(stored.definition.target.connectionId);
    const mapping = stored.mapping as ResolvedMapping;
    const reportId = msg.watchId;
    const writer = new DifferenceWriter(state, msg.definitionId, reportId);
    const outcome = await new DriftCheck(deps, stored, mapping, target, 'deep', writer).watch(await state.getWatchTokens(msg.definitionId));
    await state.putWatchTokens(msg.definitionId, outcome.tokens);
    const fellBack = outcome.fellBackLists.length > 0;
    // Every list quick-checked (all tokens expired, or the first watch): the report is that quick check.
    const everyList = outcome.fellBackLists.length === Object.keys(outcome.tokens).length;
    const found = DIFFERENCE_KINDS.some((k) => outcome.counts[k] > 0);
    deps.log.info('drift watch done', { definitionId: msg.definitionId, afterRunId: msg.afterRunId, fellBackLists: outcome.fellBackLists, counts: outcome.counts, ruSpent: outcome.ruSpent, requests: outcome.requests });
    if (!found) return;
    const summary: DriftSummary = {
      mode: fellBack && everyList ? 'quick' : 'watch',
      watchFellBack: fellBack,
      ...(fellBack ? { fellBackLists: outcome.fellBackLists } : {}),
      startedAt,
      finishedAt: deps.now().toISOString(),
      counts: outcome.counts,
      ruSpent: outcome.ruSpent,
      requests: outcome.requests,
      pageSize: DIFFERENCES_PAGE_SIZE,
      repairs: [],
    };
    await state.putDriftReport({ definitionId: msg.definitionId, reportId, createdAt: startedAt, status: 'done', report: summary });
  } finally {
    await state.releaseLease(lease, holder);
  }
}
