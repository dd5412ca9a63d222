import { isSyncError } from '../../core/errors';
import type { FailoverEvent, StoredDefinition } from '../../core/ports/state';
import type { SyncDeps } from '../deps';
import { failover } from './failover';
import { probeDefinitionSources, probeDue, type ProbedSource } from './probe';
import { primarySource } from '../../core/definitions';

/**
 * The scheduler timer's health pass (DESIGN §7): probe each enabled definition's sources when
 * due, and for a definition that opted in, promote a secondary once the primary has failed
 * `afterFailures` consecutive probes.
 */
export async function probeAndFailover(deps: SyncDeps): Promise<{ probed: string[]; failovers: FailoverEvent[] }> {
  const probed: string[] = [];
  const failovers: FailoverEvent[] = [];
  for (const stored of await deps.state.listDefinitions()) {
    if (!stored.definition.enabled) continue;
    try {
      if (!probeDue(stored, await deps.state.getSourceHealth(stored.definition.id), deps.now(), deps.settings.probeIntervalMs)) continue;
      const results = await probeDefinitionSources(deps, stored);
      probed.push(stored.definition.id);
      const event = await promoteIfPrimaryDown(deps, stored, results);
      if (event) failovers.push(event);
    } catch (error) {
      // one definition's trouble must not stop the others' probes
      deps.log.warn('source probes failed', { definitionId: stored.definition.id, error: (error as Error).message });
    }
  }
  return { probed, failovers };
}

/** Secondaries that passed this probe, best first: lower priority value, then less lag (unknown lag last). */
export function rankCandidates(stored: StoredDefinition, results: ProbedSource[]): string[] {
  const byId = new Map(results.map((r) => [r.sourceId, r]));
  return stored.definition.sources
    .filter((s) => s.role === 'secondary' && byId.get(s.connectionId)?.probe.ok === true)
    .sort((a, b) => a.priority - b.priority || lagOf(byId.get(a.connectionId)) - lagOf(byId.get(b.connectionId)))
    .map((s) => s.connectionId);
}

const lagOf = (r: ProbedSource | undefined) => r?.probe.lagSeconds ?? Number.POSITIVE_INFINITY;

async function promoteIfPrimaryDown(deps: SyncDeps, stored: StoredDefinition, results: ProbedSource[]): Promise<FailoverEvent | null> {
  const def = stored.definition;
  if (!def.failover.automatic) return null;
  const primary = primarySource(def);
  const health = results.find((r) => r.sourceId === primary)?.health;
  if (!health || health.consecutiveFailures < def.failover.afterFailures) return null;
  const [last] = (await deps.state.listFailoverEvents(def.id, { limit: 1 })).items;
  const holdDownMs = def.failover.holdDownMinutes * 60_000;
  if (last && deps.now().getTime() - Date.parse(last.at) < holdDownMs) {
    deps.log.warn('primary is failing but the last failover is within the hold-down time', { definitionId: def.id, primary, lastFailoverAt: last.at });
    return null;
  }
  const reason = `primary '${primary}' failed ${health.consecutiveFailures} consecutive probes: ${health.lastError ?? 'no detail'}`;
  for (const to of rankCandidates(stored, results)) {
    try {
      // No waiting at the lease: a run that holds it ends by itself, and the next tick tries again.
      return await failover(deps, def.id, { to, cursorPolicy: 'carry', trigger: 'automatic', by: 'automatic', reason, leaseWaitMs: 0 });
    } catch (error) {
      if (isSyncError(error, 'run_in_progress')) return null;
      // The candidate failed its probe again at the failover: the next one may do.
      if (!isSyncError(error, 'failover_target_unhealthy')) throw error;
    }
  }
  deps.log.warn('primary is failing and no secondary passes its probe', { definitionId: def.id, primary });
  return null;
}
