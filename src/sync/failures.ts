import type { SyncDefinition } from '../core/definitions';
import type { FailureRecord } from '../core/ports/state';
import type { SyncDeps } from './deps';

/**
 * Rows that failed for a reason a retry will not fix by itself. They do not block the run: each
 * is retried by key on the next runs and quarantined after `maxAttempts` until an admin retries.
 */
export async function recordFailures(deps: SyncDeps, def: SyncDefinition, runId: string, failures: Array<{ identityHash: string; key: unknown[]; error: string }>): Promise<void> {
  if (!failures.length) return;
  const now = deps.now().toISOString();
  const existing = new Map((await deps.state.getFailures(def.id, { includeQuarantined: true })).map((f) => [f.identityHash, f]));
  await Promise.all(
    failures.map((f) => {
      const before = existing.get(f.identityHash);
      const attempts = (before?.attempts ?? 0) + 1;
      const record: FailureRecord = {
        definitionId: def.id,
        identityHash: f.identityHash,
        key: f.key.length ? f.key : (before?.key ?? []),
        attempts,
        lastError: f.error.slice(0, 2000),
        lastRunId: runId,
        quarantined: attempts >= def.maxAttempts,
        firstFailedAt: before?.firstFailedAt ?? now,
        lastFailedAt: now,
      };
      return deps.state.putFailure(record);
    }),
  );
}

/** `POST /definitions/{id}/failures/retry`: lift quarantine so the next run retries these rows. */
export async function retryFailures(deps: SyncDeps, definitionId: string, identityHashes?: string[]): Promise<number> {
  const all = await deps.state.getFailures(definitionId, { includeQuarantined: true });
  const chosen = identityHashes ? all.filter((f) => identityHashes.includes(f.identityHash)) : all;
  await Promise.all(chosen.map((f) => deps.state.putFailure({ ...f, attempts: 0, quarantined: false })));
  return chosen.length;
}
