import type { SyncDefinition } from '../../core/definitions';
import type { SyncDeps } from '../deps';

/**
 * Counts completed passes; true (and resets) every `everyRuns`-th. A dry run only peeks.
 * Every pass (`everyRuns` 1, the default) is due without counting: no state round trip.
 */
export async function reconcileDue(deps: SyncDeps, def: SyncDefinition, peek: boolean): Promise<boolean> {
  const every = def.deletes.everyRuns ?? 1;
  if (every <= 1) return true;
  const counted = await deps.state.getReconcilePasses(def.id);
  const passes = counted + 1;
  const due = passes >= every;
  if (!peek) await deps.state.casReconcilePasses(def.id, counted, due ? 0 : passes);
  return due;
}
