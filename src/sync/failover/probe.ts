import { describe } from '../../core/errors';
import type { ResolvedMapping } from '../../core/mapping';
import { redact } from '../../core/ports/logger';
import type { SourceProbe } from '../../core/ports/source';
import type { SourceHealthRecord, StoredDefinition } from '../../core/ports/state';
import type { SyncDeps } from '../deps';

/**
 * Health probes of a definition's sources (DESIGN §7): connect, the table with the mapped
 * columns, the cursor column, replication where readable. Each probe updates the source's
 * record: consecutive failures, last success, last error, lag.
 */

/** The columns a definition needs of its table: the resolved mapping's once provisioned, else those it names. */
export function requiredColumns(stored: StoredDefinition): string[] {
  const mapping = stored.mapping as ResolvedMapping | undefined;
  const def = stored.definition;
  if (mapping?.fields) return [...new Set([...mapping.key, ...mapping.fields.map((f) => f.source), ...(mapping.title ? [mapping.title.source] : [])])];
  return [...new Set([...(def.key ?? []), ...def.fields.map((f) => f.source), ...(def.title ? [def.title] : [])])];
}

/** Probes one source; a source that cannot even be opened (record or secret missing) is a failed probe, never a throw. */
export async function probeSource(deps: SyncDeps, stored: StoredDefinition, sourceId: string): Promise<SourceProbe> {
  const def = stored.definition;
  try {
    const db = await deps.source(sourceId);
    return await db.probe({ table: def.table, columns: requiredColumns(stored), cursor: def.cursor, timeoutMs: deps.settings.probeTimeoutMs });
  } catch (error) {
    return { ok: false, latencyMs: 0, error: describe(error), errorCode: 'source_unavailable', failedStep: 'connect', serverRole: null, lagSeconds: null, availabilityGroup: null };
  }
}

/** The source's record after one probe. */
export function afterProbe(previous: SourceHealthRecord | undefined, definitionId: string, sourceId: string, probe: SourceProbe, at: Date): SourceHealthRecord {
  const now = at.toISOString();
  const base = { definitionId, sourceId, lastProbeAt: now, lagSeconds: probe.lagSeconds, serverRole: probe.serverRole };
  if (probe.ok) {
    return { ...base, consecutiveFailures: 0, lastSuccessAt: now, lastFailureAt: previous?.lastFailureAt ?? null, lastError: previous?.lastError ?? null, lastErrorCode: previous?.lastErrorCode ?? null };
  }
  return {
    ...base,
    consecutiveFailures: (previous?.consecutiveFailures ?? 0) + 1,
    lastSuccessAt: previous?.lastSuccessAt ?? null,
    lastFailureAt: now,
    lastError: String(redact(`${probe.failedStep ?? 'probe'}: ${probe.error ?? 'failed'}`)).slice(0, 1000),
    lastErrorCode: probe.errorCode ?? null,
  };
}

export interface ProbedSource {
  sourceId: string;
  probe: SourceProbe;
  health: SourceHealthRecord;
}

/** Probes every source of the definition in parallel and stores what each probe saw. */
export async function probeDefinitionSources(deps: SyncDeps, stored: StoredDefinition): Promise<ProbedSource[]> {
  const def = stored.definition;
  const previous = new Map((await deps.state.getSourceHealth(def.id)).map((h) => [h.sourceId, h]));
  return Promise.all(
    def.sources.map(async ({ connectionId }) => {
      const probe = await probeSource(deps, stored, connectionId);
      const health = afterProbe(previous.get(connectionId), def.id, connectionId, probe, deps.now());
      await deps.state.putSourceHealth(health);
      return { sourceId: connectionId, probe, health };
    }),
  );
}

/** Due when any source has not been probed within the interval. */
export function probeDue(stored: StoredDefinition, health: SourceHealthRecord[], now: Date, intervalMs: number): boolean {
  const byId = new Map(health.map((h) => [h.sourceId, h]));
  return stored.definition.sources.some((s) => {
    const last = byId.get(s.connectionId)?.lastProbeAt;
    return !last || now.getTime() - Date.parse(last) >= intervalMs;
  });
}
