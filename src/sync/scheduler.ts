import { randomUUID } from 'node:crypto';
import { parseNcrontab, previousOccurrence } from '../core/ncrontab';
import { QUEUES } from '../core/ports/bus';
import type { RunMessage } from '../core/messages';
import type { SyncDeps } from './deps';
import { requestDriftCheck } from './drift/reports';

/**
 * Timer body (every minute): for each enabled definition whose schedule has a slot due since
 * the last one enqueued, enqueue exactly one run. Missed slots coalesce into that one run; the
 * compare-and-set on the last slot plus the message id (definition + slot) keep a re-fired or
 * doubled timer from enqueueing twice.
 */
export async function runScheduler(deps: SyncDeps): Promise<{ enqueued: string[]; driftChecks: string[] }> {
  const now = deps.now();
  const enqueued: string[] = [];
  for (const stored of await deps.state.listDefinitions()) {
    const def = stored.definition;
    if (!def.enabled || !def.schedule) continue;
    let due: Date | null;
    try {
      due = previousOccurrence(parseNcrontab(def.schedule), now);
    } catch (error) {
      deps.log.warn('definition has an invalid schedule', { definitionId: def.id, error: (error as Error).message });
      continue;
    }
    if (!due) continue;
    const slot = due.toISOString();
    const last = await deps.state.getLastSlot(def.id);
    if (last !== null && last >= slot) continue;
    if (last === null && now.getTime() - due.getTime() > 60_000) {
      // A new definition: start at the next slot rather than run for one long past.
      await deps.state.casLastSlot(def.id, null, slot);
      continue;
    }
    // Send before recording the slot: a crash in between re-sends with the same message id,
    // which duplicate detection drops; the other order could lose the run.
    const message: RunMessage = { type: 'run', definitionId: def.id, runId: randomUUID(), mode: 'incremental', trigger: 'schedule', requestedAt: now.toISOString(), slot };
    await deps.bus.send(QUEUES.runs, [{ body: message, messageId: `${def.id}@${slot}`, sessionId: def.id }]);
    await deps.state.casLastSlot(def.id, last, slot);
    enqueued.push(def.id);
  }
  return { enqueued, driftChecks: await scheduleDriftChecks(deps, now) };
}

/**
 * Drift schedules (`drift.schedule`): one check per due slot, with the definition's mode and
 * auto-repair. The slot is taken by compare-and-set before the check is requested: each
 * request stores its own report, so only the winner of a doubled timer may make one (a crash
 * in between skips that slot; the next comes).
 */
async function scheduleDriftChecks(deps: SyncDeps, now: Date): Promise<string[]> {
  const enqueued: string[] = [];
  for (const stored of await deps.state.listDefinitions()) {
    const { id, enabled, drift } = stored.definition;
    if (!enabled || !drift.schedule || !stored.mapping || !Object.keys(stored.lists ?? {}).length) continue;
    const due = previousOccurrence(parseNcrontab(drift.schedule), now);
    if (!due) continue;
    const slot = due.toISOString();
    const last = await deps.state.getDriftSlot(id);
    if (last !== null && last >= slot) continue;
    const won = await deps.state.casDriftSlot(id, last, slot);
    // A new schedule starts at the next slot rather than check for one long past.
    if (!won || (last === null && now.getTime() - due.getTime() > 60_000)) continue;
    await requestDriftCheck(deps, id, drift.mode, drift.autoRepair);
    enqueued.push(id);
  }
  return enqueued;
}
