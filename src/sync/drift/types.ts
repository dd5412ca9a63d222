/** What a drift check reports (DESIGN §7): the kinds of difference, the counts and the stored summary. */

export const DIFFERENCE_KINDS = ['missingInSharePoint', 'orphanInSharePoint', 'pointsElsewhere', 'duplicateInSharePoint', 'contentMismatch'] as const;
export type DifferenceKind = (typeof DIFFERENCE_KINDS)[number];

export type DriftMode = 'quick' | 'deep';
/** What a stored report came from: a requested check, or the watch after a run. */
export type ReportMode = DriftMode | 'watch';

/** Why an item is an orphan: it has no SyncKey, its SyncKey names no row we know, or it copies a row whose real item is in another list. */
export type OrphanReason = 'noSyncKey' | 'unknownSyncKey' | 'copyInOtherList';

export interface FieldDifference {
  field: string;
  source: unknown;
  sharePoint: unknown;
}

export interface Difference {
  kind: DifferenceKind;
  listId: string;
  /** The SharePoint item concerned; for `missingInSharePoint`, the item the ledger names. */
  itemId: string;
  identityHash?: string;
  /** Key values of the source row, when the check found the row. */
  key?: unknown[];
  /** orphanInSharePoint: why. */
  reason?: OrphanReason;
  /** orphanInSharePoint: the SyncKey names a row the definition selects and this is the row's shard list (adoptOrphans may take it). */
  rowSelected?: boolean;
  /** pointsElsewhere: where the ledger points instead. */
  ledger?: { listId: string; itemId: string | null };
  /** contentMismatch: each differing field. */
  fields?: FieldDifference[];
}

export type DriftCounts = { itemsScanned: number; ledgerEntries: number } & Record<DifferenceKind, number>;

export const emptyDriftCounts = (): DriftCounts => ({
  itemsScanned: 0,
  ledgerEntries: 0,
  missingInSharePoint: 0,
  orphanInSharePoint: 0,
  pointsElsewhere: 0,
  duplicateInSharePoint: 0,
  contentMismatch: 0,
});

export const REPAIR_ACTIONS = ['recreateMissing', 'adoptOrphans', 'deleteOrphans', 'removeDuplicates', 'rewriteMismatches', 'fixPointers'] as const;
export type RepairAction = (typeof REPAIR_ACTIONS)[number];

export interface RepairRecord {
  repairId: string;
  actions: RepairAction[];
  status: 'queued' | 'running' | 'done' | 'failed';
  requestedAt: string;
  finishedAt?: string;
  /** Differences each action fixed. */
  repaired: Partial<Record<RepairAction, number>>;
  /** RU and Graph requests the repair spent (metered), once done; by the delivery that finished it (a crashed one's spend is lost with it). */
  ruSpent?: number;
  requests?: number;
  error?: string;
}

/** The JSON kept in `DriftReportRecord.report`. */
export interface DriftSummary {
  mode: ReportMode;
  /**
   * A watch in which some list's delta token had expired (410) or did not exist yet, so that
   * list was quick-checked instead (`fellBackLists`). With every list so, `mode` is `quick`.
   */
  watchFellBack?: boolean;
  fellBackLists?: string[];
  startedAt: string | null;
  finishedAt: string | null;
  counts: DriftCounts;
  /** SharePoint resource units the check's own Graph requests cost, metered as the adapter sent them (throttled attempts included). */
  ruSpent: number;
  requests: number;
  /** Differences per stored page. */
  pageSize: number;
  error?: string;
  repairs: RepairRecord[];
}
