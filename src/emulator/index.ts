/**
 * SharePoint-lists Microsoft Graph v1.0 emulator. Stands alone: it imports nothing from the
 * rest of `src/`, so that a bug shared with the SharePoint adapter cannot hide itself.
 * See docs/emulator.md for the behaviour it emulates and the Microsoft documents it follows.
 */
export { startGraphEmulator, graphPath, type GraphEmulator, type GraphEmulatorOptions } from './server';
export type { EmulatorConfig, EmulatorState, ItemSnapshot, LatencyMs, ListSummary } from './control';
export type { EmulatorMetrics } from './metrics';
export type { ActiveFault, FaultOp, FaultScope, FaultSpec } from './faults';
export { DEFAULT_SITES, LIST_VIEW_THRESHOLD, siteIdFor, type SiteSpec } from './store';
export { RU_COST, type RuKind } from './throttle';
export { MAX_BATCH_REQUESTS } from './batch';
