import type { SyncDefinition } from '../core/definitions';
import { conflict, isSyncError, type FieldIssue } from '../core/errors';
import { sameJson } from '../core/json';
import type { ResolvedMapping } from '../core/mapping';
import type { StateStore, StoredDefinition } from '../core/ports/state';

/**
 * A definition's identity: which rows are "the same row" (DESIGN §4). Key columns, the table
 * and the source engine (drivers normalise key values their own way) decide every identity
 * hash, so changing one of them turns every row into a new row whose item is created again
 * next to its old one. With items already written that is refused unless the admin asks for a
 * rebuild.
 */

/** What changed in the identity, one issue per part (empty: the identity stays). */
export async function identityChanges(state: Pick<StateStore, 'getSource'>, current: StoredDefinition, next: SyncDefinition, nextActiveSourceId: string): Promise<FieldIssue[]> {
  const before = current.definition;
  const issues: FieldIssue[] = [];
  const tableChanged = before.table.schema !== next.table.schema || before.table.name !== next.table.name;
  if (tableChanged) issues.push({ path: 'table', message: `the table changes from ${before.table.schema}.${before.table.name} to ${next.table.schema}.${next.table.name}`, code: 'identity_change' });
  // An unset key means the table's default key, which provisioning resolved into the stored mapping.
  const resolvedKey = (current.mapping as ResolvedMapping | undefined)?.key;
  const keyBefore = before.key ?? resolvedKey ?? null;
  const keyAfter = next.key ?? (tableChanged ? null : (resolvedKey ?? null));
  if (!tableChanged && !sameJson(keyBefore, keyAfter)) issues.push({ path: 'key', message: `the key changes from ${JSON.stringify(keyBefore)} to ${JSON.stringify(keyAfter)}`, code: 'identity_change' });
  const [engineBefore, engineAfter] = await Promise.all([current.activeSourceId, nextActiveSourceId].map(async (id) => (await state.getSource(id))?.engine));
  if (engineBefore && engineAfter && engineBefore !== engineAfter) issues.push({ path: 'sources', message: `the source engine changes from ${engineBefore} to ${engineAfter}`, code: 'identity_change' });
  return issues;
}

/** True once the ledger holds any entry: then items (or creates on their way) exist under the current identity. */
export async function holdsItems(state: Pick<StateStore, 'scanLedger'>, definitionId: string): Promise<boolean> {
  for await (const page of state.scanLedger(definitionId, 1)) if (page.length > 0) return true;
  return false;
}

export const identityChangeRefused = (definitionId: string, issues: FieldIssue[]) =>
  conflict(
    'admin',
    'identity_change_refused',
    `definition '${definitionId}' already has items in SharePoint and this change gives every row a new identity (${issues.map((i) => i.message).join('; ')}): ` +
      'its items would be created again next to the old ones. Send the change with ?rebuild=true to delete the old items and create them under the new identity, or create a new definition',
    { details: issues },
  );

/**
 * Clears the rebuild marker once a full pass found no old item left. Only the request that was
 * seen is cleared: a newer rebuild asked for meanwhile stays.
 */
export async function finishRebuild(state: Pick<StateStore, 'getDefinition' | 'putDefinition'>, definitionId: string, requestedAt: string): Promise<void> {
  for (let attempt = 0; attempt < 5; attempt++) {
    const current = await state.getDefinition(definitionId);
    if (!current?.rebuild || current.rebuild.requestedAt !== requestedAt) return;
    try {
      await state.putDefinition({ ...current, rebuild: null }, current.etag ? { ifMatch: current.etag } : {});
      return;
    } catch (error) {
      if (!isSyncError(error, 'state_conflict')) throw error;
    }
  }
  // Still contended: the next pass finds nothing left either and clears it then.
}
