import { randomUUID } from 'node:crypto';
import { primarySource } from '../../core/definitions';
import { conflict, SyncError } from '../../core/errors';
import type { CursorPosition } from '../../core/ports/source';
import type { CursorPolicy, FailoverEvent, StoredDefinition } from '../../core/ports/state';
import { requestRun, requireDefinition } from '../definitions-admin';
import { runLeaseName, type SyncDeps } from '../deps';
import { carryCursor } from './cursor-policy';
import { afterProbe, probeSource } from './probe';

const MODULE = 'failover';
const LEASE_POLL_MS = 250;

export interface FailoverRequest {
  to: string;
  cursorPolicy: CursorPolicy;
  trigger: FailoverEvent['trigger'];
  /** The admin's principal, or `automatic`. */
  by: string;
  reason: string;
  /** How long to wait for a running run to end before refusing (automatic failover does not wait). */
  leaseWaitMs: number;
}

/**
 * Rebinds a definition to another of its sources (DESIGN §7), under the definition's run lease
 * so no run reads while the roles change: probe the target (refused if it fails, or if its
 * table no longer fits the mapping), flip the roles with the store's compare-and-set, set the
 * new primary's cursor by the policy, record the event, then start a run.
 */
export async function failover(deps: SyncDeps, definitionId: string, request: FailoverRequest): Promise<FailoverEvent> {
  const eventId = randomUUID();
  const holder = `failover:${eventId}`;
  const lease = runLeaseName(definitionId);
  await requireDefinition(deps, definitionId); // a 404 before any waiting
  if (!(await waitForLease(deps, lease, holder, request.leaseWaitMs))) {
    throw conflict(MODULE, 'run_in_progress', `a run of definition '${definitionId}' holds its lease; retry when it has ended (or cancel it)`);
  }
  let event: FailoverEvent;
  try {
    event = await rebind(deps, await requireDefinition(deps, definitionId), eventId, request);
  } finally {
    await deps.state.releaseLease(lease, holder);
  }
  const stored = await requireDefinition(deps, definitionId);
  if (stored.definition.enabled) {
    const run = await requestRun(deps, definitionId, event.appliedPolicy === 'rescan' ? 'full' : 'incremental', 'failover');
    event = { ...event, runId: run.runId };
  }
  await deps.state.addFailoverEvent(event);
  deps.log.info('failover', { definitionId, from: event.from, to: event.to, trigger: event.trigger, policy: event.appliedPolicy, runId: event.runId });
  return event;
}

async function rebind(deps: SyncDeps, stored: StoredDefinition, eventId: string, request: FailoverRequest): Promise<FailoverEvent> {
  const def = stored.definition;
  const from = primarySource(def);
  const target = def.sources.find((s) => s.connectionId === request.to);
  if (!target) throw refused('failover_target_unknown', `'${request.to}' is not a source of definition '${def.id}'`, 422);
  if (target.connectionId === from) throw refused('failover_target_is_primary', `'${request.to}' is already the primary of definition '${def.id}'`, 409);

  const probe = await probeSource(deps, stored, request.to);
  const previous = (await deps.state.getSourceHealth(def.id)).find((h) => h.sourceId === request.to);
  await deps.state.putSourceHealth(afterProbe(previous, def.id, request.to, probe, deps.now()));
  if (!probe.ok) {
    throw refused('failover_target_unhealthy', `source '${request.to}' fails its probe (${probe.failedStep}): ${probe.error ?? 'no detail'}`, 409);
  }

  const before = await deps.state.getCursor(def.id, from);
  const source = def.sources.find((s) => s.connectionId === from);
  const carried = carryCursor({
    cursor: def.cursor,
    position: before?.position ? (JSON.parse(before.position) as CursorPosition) : null,
    requested: request.cursorPolicy,
    sameDatabase: source?.sameDatabase === true && target.sameDatabase === true,
  });
  const swapped = await deps.state.swapPrimary(def.id, from, request.to);
  if (!swapped) throw refused('failover_conflict', `the primary of definition '${def.id}' changed meanwhile; reload and retry`, 409);
  const cursorAfter = carried.position ? JSON.stringify(carried.position) : null;
  // A carried cursor taken under another mapping would be rescanned by the planner anyway.
  await deps.state.putCursor({ definitionId: def.id, sourceId: request.to, position: cursorAfter, mappingVersion: before?.mappingVersion ?? swapped.mappingVersion, updatedAt: deps.now().toISOString() });
  return {
    definitionId: def.id,
    eventId,
    at: deps.now().toISOString(),
    trigger: request.trigger,
    by: request.by,
    from,
    to: request.to,
    cursorPolicy: request.cursorPolicy,
    appliedPolicy: carried.applied,
    cursorBefore: before?.position ?? null,
    cursorAfter,
    reason: carried.note ? `${request.reason}; ${carried.note}` : request.reason,
  };
}

async function waitForLease(deps: SyncDeps, lease: string, holder: string, waitMs: number): Promise<boolean> {
  const deadline = Date.now() + waitMs;
  for (;;) {
    if (await deps.state.acquireLease(lease, holder, Math.max(60_000, deps.settings.probeTimeoutMs * 4))) return true;
    if (Date.now() >= deadline) return false;
    await new Promise((r) => setTimeout(r, LEASE_POLL_MS));
  }
}

function refused(code: string, message: string, status: number): SyncError {
  return new SyncError(message, { code, module: MODULE, errorClass: 'config', status });
}
