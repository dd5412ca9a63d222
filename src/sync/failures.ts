import type { SyncDefinition } from '../core/definitions';
import { IdentitySet } from '../core/identity-set';
import type { FailureRecord, StateStore } from '../core/ports/state';
import type { SyncDeps } from './deps';

/** Failures per page read by the planner and by retry-all. */
const FAILURE_PAGE_SIZE = 500;

/**
 * Rows that failed for a reason a retry will not fix by itself. They do not block the run: each
 * is retried by key on the next runs and quarantined after `maxAttempts` until an admin retries.
 */
export async function recordFailures(deps: SyncDeps, def: SyncDefinition, runId: string, failures: Array<{ identityHash: string; key: unknown[]; error: string }>): Promise<void> {
  if (!failures.length) return;
  const now = deps.now().toISOString();
  const existing = await deps.state.getFailuresFor(def.id, failures.map((f) => f.identityHash));
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

/** `POST /definitions/{id}/failures/retry`: lift quarantine so the next run retries these rows (all of them when none are named). */
export async function retryFailures(deps: SyncDeps, definitionId: string, identityHashes?: string[]): Promise<number> {
  const lift = (chosen: FailureRecord[]) => Promise.all(chosen.map((f) => deps.state.putFailure({ ...f, attempts: 0, quarantined: false })));
  if (identityHashes) {
    const chosen = [...(await deps.state.getFailuresFor(definitionId, identityHashes)).values()];
    await lift(chosen);
    return chosen.length;
  }
  let lifted = 0;
  for await (const page of failurePages(deps.state, definitionId)) {
    await lift(page);
    lifted += page.length;
  }
  return lifted;
}

/** Failures a page at a time (`quarantined`: see StateStore.pageFailures), so no caller holds the whole list. */
export async function* failurePages(state: Pick<StateStore, 'pageFailures'>, definitionId: string, quarantined?: boolean, pageSize = FAILURE_PAGE_SIZE): AsyncIterable<FailureRecord[]> {
  let next: string | undefined;
  do {
    const page = await state.pageFailures(definitionId, { quarantined, limit: pageSize, next });
    if (page.items.length) yield page.items;
    next = page.next;
  } while (next);
}

/** The identities of quarantined rows: only their hashes are held, 12 bytes each (a mapping that fails every row quarantines them all). */
export async function quarantinedIdentities(state: Pick<StateStore, 'pageFailures'>, definitionId: string): Promise<IdentitySet> {
  const hashes = new IdentitySet();
  for await (const page of failurePages(state, definitionId, true)) for (const f of page) hashes.add(f.identityHash);
  return hashes;
}
