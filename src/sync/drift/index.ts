import type { DriftCheckMessage, DriftRepairMessage, DriftWatchMessage } from '../../core/messages';
import type { SyncDeps } from '../deps';
import { handleDriftCheck } from './handle-check';
import { handleDriftRepair } from './handle-repair';
import { handleDriftWatch } from './watch';

/** Drift (DESIGN §7): checks and repairs, both taken from the runs queue under the definition's lease. */
export function handleDriftMessage(deps: SyncDeps, message: DriftCheckMessage | DriftRepairMessage | DriftWatchMessage): Promise<void> {
  if (message.type === 'driftWatch') return handleDriftWatch(deps, message);
  return message.type === 'driftCheck' ? handleDriftCheck(deps, message) : handleDriftRepair(deps, message);
}

export { requestDriftCheck, differencesPage, requireReport, summaryOf } from './reports';
export { previewRepair, requestRepair } from './handle-repair';
export * from './types';
