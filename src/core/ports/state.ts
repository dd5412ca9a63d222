import type { SharePointConnection, SourceConnection, SyncDefinition } from '../definitions';

/**
 * The state store (DESIGN §4, §5): configuration, the ledger, cursors, runs, failures, moves,
 * leases, schedule bookkeeping and drift reports, one interface per aggregate, composed into
 * `StateStore`. Three adapters implement it (Azure Table Storage, PostgreSQL, SQL Server) and
 * one contract suite tests them all.
 *
 * Typed failures: implementations throw `SyncError` with code `state_conflict` (uniqueness or
 * ETag mismatch, status 409) or `not_found` (404); transport failures are `transient`
 * (`state_unavailable`), and so is contention that outlasts a store's optimistic retries
 * (nothing to fix, try again later). Also: `state_invalid` (422, a value the store cannot hold, e.g. an
 * unknown counter), `state_record_too_large` (413, a JSON detail beyond the store's limit:
 * Table Storage keeps ~480K characters of JSON per record), `invalid_page_token` (400),
 * `state_store_config` (settings or credentials an admin must fix) and `state_schema_newer`
 * (the SQL schema was migrated by a newer build).
 */

export interface Versioned {
  /** Opaque optimistic-concurrency token (ETag or row version). */
  etag?: string;
  createdAt?: string;
  updatedAt?: string;
}

export type StoredSource = SourceConnection & Versioned;
export type StoredSharePoint = SharePointConnection & Versioned;

export interface StoredDefinition extends Versioned {
  definition: SyncDefinition;
  /** Increments whenever the field mapping changes; cursors taken under an older one force a rescan. */
  mappingVersion: number;
  /** The source connection currently bound (primary unless failed over). */
  activeSourceId: string;
  /** Resolved mapping chosen at provisioning (JSON, adapter-agnostic). */
  mapping?: unknown;
  /** Schema snapshot taken at validation/provisioning (JSON). */
  schemaSnapshot?: unknown;
  /** Lists provisioned per shard name: shard list display name → list id. */
  lists?: Record<string, string>;
  /**
   * Set when the admin changed the identity (key, table, source engine) with `?rebuild=true`:
   * every full pass then deletes, through the ledger, the items whose identity the source no
   * longer has (all the old ones); cleared by the first pass that finds none left.
   */
  rebuild?: RebuildRequest | null;
}

export interface RebuildRequest {
  requestedAt: string;
  /** What changed, in words (e.g. `the key changes from ["id"] to ["code"]`). */
  reason: string;
}

export type LedgerState = 'pending' | 'synced' | 'moving';

export interface LedgerEntry {
  definitionId: string;
  /** Unique per definition. The (listId, itemId) pair is unique per definition too, whenever itemId is set. */
  identityHash: string;
  listId: string;
  /** Null while a create is pending and its item id is not yet known. */
  itemId: string | null;
  contentHash: string;
  state: LedgerState;
  movedFrom?: { listId: string; itemId: string } | null;
  /**
   * When the run whose batch wrote this entry started reading the source (ISO). Orders the
   * writes for one row: an op planned earlier than this is no longer current. Null when unknown.
   */
  sourceReadAt?: string | null;
  /**
   * SharePoint may hold other content than `contentHash` says: two batches raced and the one
   * that lost cannot tell whose Graph write landed last. The next run rewrites the item.
   */
  contentInDoubt?: boolean;
  /**
   * Per-field hashes of the content the item holds, so an update can send only the fields that
   * changed. Valid only while `contentHash` equals the one they were made for; null = unknown.
   */
  fieldHashes?: FieldHashes | null;
  /** Set by the store on write; ignored on input. */
  createdAt?: string;
  updatedAt?: string;
  /** The stored version, set on every read: what `putLedgerIfMatch` compares. putLedger ignores it. */
  etag?: string;
}

/** What `LedgerEntry.fieldHashes` holds: a short hash per mapped field, for one content hash. */
export interface FieldHashes {
  contentHash: string;
  byField: Record<string, string>;
}

/** One compare-and-set write of `putLedgerIfMatch`. */
export interface LedgerWrite {
  entry: LedgerEntry;
  /** The `etag` of the entry as the writer last read it; null: no entry may be stored. */
  ifMatch: string | null;
}

export interface CursorRecord {
  definitionId: string;
  sourceId: string;
  /** Serialised cursor position (JSON string), null = from the beginning. */
  position: string | null;
  mappingVersion: number;
  updatedAt?: string;
}

export type RunStatus = 'queued' | 'running' | 'succeeded' | 'partial' | 'failed' | 'refused' | 'cancelled';
export type RunMode = 'incremental' | 'full' | 'dryRun';

export interface RunCounts {
  read: number;
  created: number;
  updated: number;
  unchanged: number;
  moved: number;
  deleted: number;
  failed: number;
}

export const emptyRunCounts = (): RunCounts => ({ read: 0, created: 0, updated: 0, unchanged: 0, moved: 0, deleted: 0, failed: 0 });

export interface RunRecord {
  runId: string;
  definitionId: string;
  mode: RunMode;
  trigger: 'schedule' | 'manual' | 'continuation' | 'retry' | 'failover';
  status: RunStatus;
  sourceId?: string;
  startedAt: string;
  finishedAt?: string | null;
  highWater?: string | null;
  counts: RunCounts;
  batchesExpected: number;
  batchesSettled: number;
  error?: string | null;
  /** Dry-run plan or other JSON detail. */
  plan?: unknown;
  /** While the run waits (throttling, a planning retry): until when, and why. */
  waitingUntil?: string | null;
  waitingReason?: string | null;
  /** Last time a batch settled or planning advanced (the reaper's measure of a stalled run). */
  progressAt?: string | null;
  /** SharePoint resource units the run's Graph requests cost (planning, writes, moves; throttled attempts too). Stores read it back as 0 when never counted. */
  ruSpent?: number;
}

export interface FailureRecord {
  definitionId: string;
  identityHash: string;
  /** Key values of the row, so the planner can re-read it by key. */
  key: unknown[];
  attempts: number;
  lastError: string;
  lastRunId?: string;
  quarantined: boolean;
  firstFailedAt: string;
  lastFailedAt: string;
}

export interface MoveRecord {
  definitionId: string;
  moveId: string;
  identityHash: string;
  from: { listId: string; itemId: string };
  to: { listId: string; itemId: string };
  runId?: string;
  at: string;
}

export type DriftReportStatus = 'queued' | 'running' | 'done' | 'failed' | 'refused';

export interface DriftReportRecord {
  definitionId: string;
  reportId: string;
  /** Fixed at creation; listings are newest first by it. */
  createdAt: string;
  status: DriftReportStatus;
  /** Mode, times, counts, RU spent, repairs (JSON). The differences themselves are stored in pages beside it. */
  report: unknown;
}

/** One stored page of a drift report's differences of one kind (pages numbered from 0). */
export interface DriftDifferencePage {
  definitionId: string;
  reportId: string;
  kind: string;
  page: number;
  items: unknown[];
}

export interface Page<T> {
  items: T[];
  /** Opaque continuation; absent on the last page. */
  next?: string;
}

export interface FailurePageOptions {
  quarantined?: boolean;
  /** At most 1000. */
  limit?: number;
  next?: string;
}

export type ProgressCounter = keyof RunCounts | 'batchesSettled' | 'batchesExpected' | 'ruSpent';

/** A dry run's planned operations, in the order its plan is paged. */
export const PLANNED_OPS = ['create', 'update', 'move', 'delete'] as const;
export type PlannedOpKind = (typeof PLANNED_OPS)[number];

/**
 * One stored page of a dry run's plan: the planned ops of one (shard list, operation), pages
 * numbered from 0. The run record's plan says how many pages each (list, op) has.
 */
export interface RunPlanPage {
  runId: string;
  /** The shard list's display name (a list a dry run would provision has no id yet). */
  list: string;
  op: PlannedOpKind;
  page: number;
  items: unknown[];
}

/** How a configuration record is saved: `mustNotExist` creates (refusing an existing id), `ifMatch` replaces only that version. */
export interface PutConfigOptions {
  ifMatch?: string;
  mustNotExist?: boolean;
}

export interface StateStoreLifecycle {
  /** Creates tables / applies migrations. Idempotent. */
  init(): Promise<void>;
  ping(): Promise<void>;
  close(): Promise<void>;
}

/** Source connections, SharePoint connections and definitions, each versioned by an ETag. */
export interface ConfigStore {
  putSource(source: StoredSource, opts?: PutConfigOptions): Promise<StoredSource>;
  getSource(id: string): Promise<StoredSource | null>;
  listSources(): Promise<StoredSource[]>;
  deleteSource(id: string): Promise<boolean>;

  putSharePoint(conn: StoredSharePoint, opts?: PutConfigOptions): Promise<StoredSharePoint>;
  getSharePoint(id: string): Promise<StoredSharePoint | null>;
  listSharePoint(): Promise<StoredSharePoint[]>;
  deleteSharePoint(id: string): Promise<boolean>;

  putDefinition(def: StoredDefinition, opts?: PutConfigOptions): Promise<StoredDefinition>;
  getDefinition(id: string): Promise<StoredDefinition | null>;
  listDefinitions(): Promise<StoredDefinition[]>;
  deleteDefinition(id: string): Promise<boolean>;
}

export interface LedgerStore {
  /** One or a few round trips for a page of hashes; unknown hashes are simply absent from the map. */
  getLedger(definitionId: string, identityHashes: string[]): Promise<Map<string, LedgerEntry>>;
  getLedgerByItem(definitionId: string, listId: string, itemId: string): Promise<LedgerEntry | null>;
  /** getLedgerByItem for a page of items of one list, in one or a few round trips; items no entry points at are absent from the map (keyed by item id). */
  getLedgerByItems(definitionId: string, listId: string, itemIds: string[]): Promise<Map<string, LedgerEntry>>;
  /**
   * Upserts entries; keeps the reverse (list, item) index in step; throws state_conflict if an item is claimed by another identity.
   * Last writer wins per identity; within one batch a later entry for the same identity wins, and
   * identities may hand items to each other (a swap is accepted). Each entry is written atomically
   * with its reverse index; a whole batch is atomic in SQL, and in Table Storage per transaction
   * (≤100 operations) — after a failure, retry the batch (it is idempotent).
   */
  putLedger(entries: LedgerEntry[]): Promise<void>;
  /**
   * Compare-and-set per entry (DESIGN §5: an older batch never overwrites a newer one): each
   * entry is written, with its reverse index, only if the stored entry still has etag
   * `ifMatch` (null: none is stored). Returns the new etag of every entry written; an identity
   * missing from the map lost its race and nothing was written for it. Entries are independent
   * of each other; an identity may appear once. Throws state_conflict, as putLedger does, when
   * an item belongs to another identity.
   */
  putLedgerIfMatch(writes: LedgerWrite[]): Promise<Map<string, string>>;
  deleteLedger(definitionId: string, identityHashes: string[]): Promise<void>;
  /** Streams every entry of a definition (drift, reconcile). */
  scanLedger(definitionId: string, pageSize?: number): AsyncIterable<LedgerEntry[]>;
}

export interface CursorStore {
  getCursor(definitionId: string, sourceId: string): Promise<CursorRecord | null>;
  putCursor(cursor: CursorRecord): Promise<void>;
}

export interface RunStore {
  createRun(run: RunRecord): Promise<void>;
  getRun(runId: string): Promise<RunRecord | null>;
  updateRun(runId: string, patch: Partial<Omit<RunRecord, 'runId' | 'definitionId'>>): Promise<RunRecord>;
  /** Atomically adds to counters; returns the run after the increment. Never loses an increment under concurrency. */
  incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<RunRecord>;
  /**
   * incrementRun at most once per (runId, key), recording the key in the same atomic write: a
   * redelivered batch cannot count twice, and a crash cannot record the key without the
   * increment (a lease used as a marker can do neither: its holder may re-acquire it).
   * `applied` is false when the key was already counted; `run` is then the run as it stands.
   */
  incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>): Promise<{ run: RunRecord; applied: boolean }>;
  /** Newest first, by the startedAt given at creation (a later patch of startedAt does not reorder). */
  listRuns(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<RunRecord>>;
}

export interface FailureStore {
  putFailure(failure: FailureRecord): Promise<void>;
  getFailures(definitionId: string, opts?: { includeQuarantined?: boolean }): Promise<FailureRecord[]>;
  /**
   * Failures a page at a time, in identity-hash order, so a long failure list is never held
   * whole. `quarantined`: true = only quarantined rows, false = only rows due for a retry, absent = all.
   */
  pageFailures(definitionId: string, opts?: FailurePageOptions): Promise<Page<FailureRecord>>;
  /** The failures of these rows (one or a few round trips); rows without one are absent from the map. */
  getFailuresFor(definitionId: string, identityHashes: string[]): Promise<Map<string, FailureRecord>>;
  deleteFailures(definitionId: string, identityHashes: string[]): Promise<void>;
}

export interface MoveStore {
  /** Idempotent per (definitionId, moveId): a redelivered move is recorded once. */
  addMove(move: MoveRecord): Promise<void>;
  listMoves(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<MoveRecord>>;
}

/** Leases: exactly one holder at a time; an expired lease can be taken over. */
export interface LeaseStore {
  /**
   * True if `holder` now holds the lease (a holder may re-acquire its own). SQL stores judge
   * expiry by the database clock, Table Storage by the caller's clock: keep TTLs well above
   * the clock skew between instances.
   */
  acquireLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  /** True if `holder` still held the lease (even if expired, as long as nobody took it over). */
  renewLease(name: string, holder: string, ttlMs: number): Promise<boolean>;
  releaseLease(name: string, holder: string): Promise<void>;
}

/** Schedule bookkeeping per definition, each value changed only by compare-and-set. */
export interface ScheduleStore {
  /** The last slot the scheduler enqueued, null before the first. */
  getLastSlot(definitionId: string): Promise<string | null>;
  /** Sets the last slot only if it still equals `expected`; false if someone else moved it. */
  casLastSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean>;
  /** Runs counted towards the next reconcile pass (`deletes.everyRuns`); 0 before the first. */
  getReconcilePasses(definitionId: string): Promise<number>;
  /** Sets the count only if it still equals `expected`; false if someone else changed it. Counts are whole numbers ≥ 0. */
  casReconcilePasses(definitionId: string, expected: number, next: number): Promise<boolean>;
  /** The last slot of the definition's drift schedule (`drift.schedule`) that was enqueued, null before the first. */
  getDriftSlot(definitionId: string): Promise<string | null>;
  /** Sets the drift slot only if it still equals `expected`; false if another scheduler took it. */
  casDriftSlot(definitionId: string, expected: string | null, slot: string): Promise<boolean>;
  /** The drift watch's delta token per list id (DESIGN §7); empty before the first watch. */
  getWatchTokens(definitionId: string): Promise<Record<string, string>>;
  /** Replaces the watch tokens (the watch holds the definition's lease, so there is one writer). */
  putWatchTokens(definitionId: string, tokens: Record<string, string>): Promise<void>;
  /** What the last reconciling run established about the ledger and the source's keys (src/sync/plan/reconcile-mark.ts); null when nothing holds. */
  getReconcileMark(definitionId: string): Promise<ReconcileMark | null>;
  /** Replaces the mark, or clears it (null). Written by the run holding the definition's lease, cleared by repairs. */
  putReconcileMark(definitionId: string, mark: ReconcileMark | null): Promise<void>;
}

/**
 * Every ledger entry of the definition named a row whose key was in the source when the
 * source's key set had `digest` (SourceDatabase.keySetDigest, for these key columns and mapping
 * version). While the digest is unchanged and no ledger entry was added for a key outside it,
 * delete reconciliation can find no orphan, so it skips its compare of every key.
 */
export interface ReconcileMark {
  digest: string;
  key: string[];
  mappingVersion: number;
  /** When a full compare of every key (or an empty ledger) last grounded this mark; the mark is trusted for a bounded time after it. */
  groundedAt: string;
}

export interface DriftReportStore {
  /** Inserts or replaces the report (its createdAt must not change between saves). */
  putDriftReport(report: DriftReportRecord): Promise<void>;
  getDriftReport(definitionId: string, reportId: string): Promise<DriftReportRecord | null>;
  /** Newest first, by createdAt. */
  listDriftReports(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<DriftReportRecord>>;
  /** Inserts or replaces one page of differences. */
  putDriftDifferences(page: DriftDifferencePage): Promise<void>;
  /** Null when that page was never stored. */
  getDriftDifferences(definitionId: string, reportId: string, kind: string, page: number): Promise<unknown[] | null>;
}

/** What the probes last saw of one source of one definition (DESIGN §7). */
export interface SourceHealthRecord {
  definitionId: string;
  sourceId: string;
  /** Failed probes since the last successful one. */
  consecutiveFailures: number;
  lastProbeAt: string | null;
  lastSuccessAt: string | null;
  lastFailureAt: string | null;
  /** Redacted: what the last failed probe said. */
  lastError: string | null;
  lastErrorCode: string | null;
  /** How far a standby's replay is behind, in seconds; null where the engine does not say (or on a primary). */
  lagSeconds: number | null;
  /** What the server says it is: `primary`, `standby` (read-only replica), or null where unknown. */
  serverRole: 'primary' | 'standby' | null;
}

export type CursorPolicy = 'carry' | 'rescan';

/** One rebinding of a definition to another source, manual or automatic. */
export interface FailoverEvent {
  definitionId: string;
  eventId: string;
  at: string;
  trigger: 'manual' | 'automatic';
  /** Who: the admin's principal for a manual failover, `automatic` for a promotion by the probes. */
  by: string;
  from: string;
  to: string;
  /** What was asked, and what was applied (a rowversion cursor carries only between sources declared the same database). */
  cursorPolicy: CursorPolicy;
  appliedPolicy: CursorPolicy;
  /** Serialised cursor positions (as in CursorRecord.position). */
  cursorBefore: string | null;
  cursorAfter: string | null;
  reason: string;
  /** The run started after the failover. */
  runId?: string;
}

/** Source health, failover events and the one-primary compare-and-set. */
export interface FailoverStore {
  getSourceHealth(definitionId: string): Promise<SourceHealthRecord[]>;
  putSourceHealth(record: SourceHealthRecord): Promise<void>;
  /** Idempotent per (definitionId, eventId). */
  addFailoverEvent(event: FailoverEvent): Promise<void>;
  /** Newest first. */
  listFailoverEvents(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<FailoverEvent>>;
  /**
   * The one-primary compare-and-set: if `from` is still the definition's primary, makes `to`
   * (one of its secondaries) the only primary and the active source, and `from` a secondary,
   * in one conditional write. Null when `from` is no longer the primary (a concurrent failover
   * won). Unrelated concurrent edits of the definition are retried, not lost.
   */
  swapPrimary(definitionId: string, from: string, to: string): Promise<StoredDefinition | null>;
}

/** A dry run's plan in pages (the console's preview), kept with the run record until retention deletes it. */
export interface RunPlanStore {
  /** Inserts or replaces one page. */
  putRunPlanPage(page: RunPlanPage): Promise<void>;
  /** Null when that page was never stored (or was deleted). */
  getRunPlanPage(runId: string, list: string, op: PlannedOpKind, page: number): Promise<unknown[] | null>;
  /** Deletes every stored page of the run's plan; idempotent. */
  deleteRunPlan(runId: string): Promise<void>;
}

export interface StateStore
  extends StateStoreLifecycle,
    RunPlanStore,
    FailoverStore,
    ConfigStore,
    LedgerStore,
    CursorStore,
    RunStore,
    FailureStore,
    MoveStore,
    LeaseStore,
    ScheduleStore,
    DriftReportStore {}
