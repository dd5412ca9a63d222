import type { SyncDefinition } from '../../core/definitions';
import type { SyncDeps } from '../deps';

const reconcileKey = (definitionId: string) => `reconcile~${definitionId}`;

/** Counts completed passes; true (and resets) every `everyRuns`-th. A dry run only peeks. */
export async function reconcileDue(deps: SyncDeps, def: SyncDefinition, peek: boolean): Promise<boolean> {
  const every = def.deletes.everyRuns ?? 1;
  const key = reconcileKey(def.id);
  const last = await deps.state.getLastSlot(key);
  const passes = Number(last ?? '0') + 1;
  const due = passes >= every;
  if (!peek) await deps.state.casLastSlot(key, last, due ? '0' : String(passes));
  return due;
}
