import { describe, isSyncError } from '../core/errors';
import type { MoveBatchMessage, WriteBatchMessage } from '../core/messages';
import type { QueueName } from '../core/ports/bus';
import type { WriteResult } from '../core/ports/list-target';
import type { StoredDefinition } from '../core/ports/state';
import type { SyncDeps } from './deps';
import { deferBatch, stopRun } from './run-lifecycle';

/**
 * What a write or move batch does with SharePoint's answers, by error class (issue 10, finding 3):
 * `config` (401/403, the list is gone) stops the run with what to fix and keeps the cursor, and
 * no row goes to the failure list; `transient` throttling past the adapter's inline wait
 * reschedules the batch; other transient failures are rethrown for redelivery; `skippable`
 * failures go to the failure list.
 */

export type FailedWrite = Extract<WriteResult, { ok: false }>;

/** The earliest time worth retrying, when some op is throttled with a `retryAt` (the latest of them). */
export function throttledUntil(failures: readonly FailedWrite[]): Date | null {
  let latest: number | null = null;
  for (const f of failures) {
    if (f.retryAt === undefined) continue;
    const at = Date.parse(f.retryAt);
    if (Number.isFinite(at)) latest = Math.max(latest ?? at, at);
  }
  return latest === null ? null : new Date(latest);
}

/** The name an admin knows a list by: its shard list name when the definition has provisioned it. */
function listLabel(stored: StoredDefinition, listId: string): string {
  const name = Object.entries(stored.lists ?? {}).find(([, id]) => id === listId)?.[0];
  return name ? `list '${name}' (${listId})` : `list ${listId}`;
}

/** The run's stop reason for a config-class refusal: which list, which site, what to fix. */
export function refusalReason(stored: StoredDefinition, siteId: string, listId: string, failure: { status: number; code: string; message: string }): string {
  const def = stored.definition;
  const where = `${listLabel(stored, listId)} on site ${siteId}`;
  const said = `Graph answered ${failure.status || 'nothing'} (${failure.code}: ${failure.message})`;
  switch (failure.code) {
    case 'unauthorized':
    case 'graph_unauthorized':
      return `Microsoft Graph refused the app's credentials writing to ${where}: ${said}. Check SharePoint connection '${def.target.connectionId}' (tenant, client id, secret or certificate) and the app's consent.`;
    case 'forbidden':
    case 'graph_forbidden':
      return `The app may not write to ${where}: ${said}. Grant it write access to the site (Sites.Selected with a write grant on the site, or Sites.ReadWrite.All).`;
    case 'list_not_found':
    case 'not_found':
      return `${where} no longer exists: ${said}. Restore the list, or provision definition '${def.id}' again (POST /definitions/${def.id}/provision) so its rows get a list.`;
    default:
      return `SharePoint refused a write to ${where}: ${said}. An admin must fix this before the definition can sync.`;
  }
}

/** Stops the run for a config-class refusal; the message then completes (nothing to redeliver). */
export async function stopForRefusal(deps: SyncDeps, stored: StoredDefinition, msg: { runId: string; siteId: string }, listId: string, failure: { status: number; code: string; message: string }): Promise<void> {
  await stopRun(deps, msg.runId, { status: 'failed', reason: refusalReason(stored, msg.siteId, listId, failure) });
}

/**
 * A whole Graph call failed (a SyncKey lookup, say): config stops the run, throttling with a
 * known wait reschedules `remaining` (the batch as it stands), anything else is rethrown.
 */
export async function settleCallError<M extends WriteBatchMessage | MoveBatchMessage>(
  deps: SyncDeps,
  stored: StoredDefinition,
  queue: QueueName,
  remaining: M,
  listId: string,
  error: unknown,
): Promise<void> {
  if (isSyncError(error) && error.errorClass === 'config' && error.module === 'sharepoint') {
    await stopForRefusal(deps, stored, remaining, listId, { status: error.status, code: error.code, message: describe(error) });
    return;
  }
  if (isSyncError(error) && error.transient && error.retryAfterMs !== undefined) {
    await deferBatch(deps, queue, remaining, new Date(deps.now().getTime() + error.retryAfterMs), 'throttled');
    return;
  }
  throw error;
}
