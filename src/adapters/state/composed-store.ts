import type {
  LedgerWrite,
  CursorRecord,
  CursorStore,
  DriftDifferencePage,
  DriftReportRecord,
  DriftReportStore,
  FailoverEvent,
  FailoverStore,
  FailurePageOptions,
  FailureRecord,
  FailureStore,
  LeaseStore,
  LedgerEntry,
  LedgerStore,
  MoveRecord,
  MoveStore,
  Page,
  PlannedOpKind,
  ProgressCounter,
  PutConfigOptions,
  ReconcileMark,
  RunPlanPage,
  RunPlanStore,
  RunRecord,
  RunStore,
  SourceHealthRecord,
  ScheduleStore,
  StateStore,
  StoredDefinition,
  StoredSharePoint,
  StoredSource,
} from '../../core/ports/state';
import { ConfigRecords, type ConfigStorage } from './config-records';
import { DriftReports, type DriftReportStorage } from './drift-reports';
import { FailoverBook, type FailoverEventStorage, type SourceHealthStorage } from './failover';
import { Failures, type FailureStorage } from './failures';
import { Leases, type LeaseStorage } from './leases';
import { Ledger, type LedgerStorage } from './ledger';
import { Moves, type MoveStorage } from './moves';
import { RunPlans, type RunPlanStorage } from './run-plans';
import { Runs, type RunPatch, type RunStorage } from './runs';
import { ScheduleBook, type ScheduleCells } from './schedule';

/** What a backend supplies: its storage for each aggregate. Cursors have no rules beyond storing them. */
export interface BackendStorage {
  config: ConfigStorage;
  ledger: LedgerStorage;
  cursors: CursorStore;
  runs: RunStorage;
  runPlans: RunPlanStorage;
  failures: FailureStorage;
  moves: MoveStorage;
  leases: LeaseStorage;
  schedule: ScheduleCells;
  driftReports: DriftReportStorage;
  sourceHealth: SourceHealthStorage;
  failoverEvents: FailoverEventStorage;
}

/**
 * A StateStore made of the shared aggregates over one backend's storage. Each backend class
 * extends this with its lifecycle (tables or migrations, connections); everything the port
 * promises beyond storage lives in the aggregates, once.
 */
export abstract class ComposedStateStore implements StateStore {
  private readonly config: ConfigRecords;
  private readonly ledger: LedgerStore;
  private readonly cursors: CursorStore;
  private readonly runs: RunStore;
  private readonly runPlans: RunPlanStore;
  private readonly failures: FailureStore;
  private readonly moves: MoveStore;
  private readonly leases: LeaseStore;
  private readonly schedule: ScheduleStore;
  private readonly driftReports: DriftReportStore;
  private readonly failover: FailoverStore;

  protected constructor(storage: BackendStorage) {
    this.config = new ConfigRecords(storage.config);
    this.ledger = new Ledger(storage.ledger);
    this.cursors = storage.cursors;
    this.runs = new Runs(storage.runs);
    this.runPlans = new RunPlans(storage.runPlans);
    this.failures = new Failures(storage.failures);
    this.moves = new Moves(storage.moves);
    this.leases = new Leases(storage.leases);
    this.schedule = new ScheduleBook(storage.schedule);
    this.driftReports = new DriftReports(storage.driftReports);
    this.failover = new FailoverBook(storage.sourceHealth, storage.failoverEvents, this.config);
  }

  abstract init(): Promise<void>;
  abstract ping(): Promise<void>;
  abstract close(): Promise<void>;

  putSource(source: StoredSource, opts?: PutConfigOptions) {
    return this.config.put('source', source, opts);
  }
  getSource(id: string) {
    return this.config.get('source', id);
  }
  listSources() {
    return this.config.list('source');
  }
  deleteSource(id: string) {
    return this.config.remove('source', id);
  }
  putSharePoint(conn: StoredSharePoint, opts?: PutConfigOptions) {
    return this.config.put('sharepoint', conn, opts);
  }
  getSharePoint(id: string) {
    return this.config.get('sharepoint', id);
  }
  listSharePoint() {
    return this.config.list('sharepoint');
  }
  deleteSharePoint(id: string) {
    return this.config.remove('sharepoint', id);
  }
  putDefinition(def: StoredDefinition, opts?: PutConfigOptions) {
    return this.config.put('definition', def, opts);
  }
  getDefinition(id: string) {
    return this.config.get('definition', id);
  }
  listDefinitions() {
    return this.config.list('definition');
  }
  deleteDefinition(id: string) {
    return this.config.remove('definition', id);
  }

  getLedger(definitionId: string, identityHashes: string[]) {
    return this.ledger.getLedger(definitionId, identityHashes);
  }
  getLedgerByItem(definitionId: string, listId: string, itemId: string) {
    return this.ledger.getLedgerByItem(definitionId, listId, itemId);
  }
  getLedgerByItems(definitionId: string, listId: string, itemIds: string[]) {
    return this.ledger.getLedgerByItems(definitionId, listId, itemIds);
  }
  putLedger(entries: LedgerEntry[]) {
    return this.ledger.putLedger(entries);
  }
  putLedgerIfMatch(writes: LedgerWrite[]) {
    return this.ledger.putLedgerIfMatch(writes);
  }
  deleteLedger(definitionId: string, identityHashes: string[]) {
    return this.ledger.deleteLedger(definitionId, identityHashes);
  }
  scanLedger(definitionId: string, pageSize?: number) {
    return this.ledger.scanLedger(definitionId, pageSize);
  }

  getCursor(definitionId: string, sourceId: string) {
    return this.cursors.getCursor(definitionId, sourceId);
  }
  putCursor(cursor: CursorRecord) {
    return this.cursors.putCursor(cursor);
  }

  createRun(run: RunRecord) {
    return this.runs.createRun(run);
  }
  getRun(runId: string) {
    return this.runs.getRun(runId);
  }
  updateRun(runId: string, patch: RunPatch) {
    return this.runs.updateRun(runId, patch);
  }
  incrementRun(runId: string, deltas: Partial<Record<ProgressCounter, number>>) {
    return this.runs.incrementRun(runId, deltas);
  }
  incrementRunOnce(runId: string, key: string, deltas: Partial<Record<ProgressCounter, number>>) {
    return this.runs.incrementRunOnce(runId, key, deltas);
  }
  listRuns(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<RunRecord>> {
    return this.runs.listRuns(definitionId, opts);
  }

  putRunPlanPage(page: RunPlanPage) {
    return this.runPlans.putRunPlanPage(page);
  }
  getRunPlanPage(runId: string, list: string, op: PlannedOpKind, page: number) {
    return this.runPlans.getRunPlanPage(runId, list, op, page);
  }
  deleteRunPlan(runId: string) {
    return this.runPlans.deleteRunPlan(runId);
  }

  putFailure(failure: FailureRecord) {
    return this.failures.putFailure(failure);
  }
  getFailures(definitionId: string, opts?: { includeQuarantined?: boolean }) {
    return this.failures.getFailures(definitionId, opts);
  }
  pageFailures(definitionId: string, opts?: FailurePageOptions) {
    return this.failures.pageFailures(definitionId, opts);
  }
  getFailuresFor(definitionId: string, identityHashes: string[]) {
    return this.failures.getFailuresFor(definitionId, identityHashes);
  }
  deleteFailures(definitionId: string, identityHashes: string[]) {
    return this.failures.deleteFailures(definitionId, identityHashes);
  }

  addMove(move: MoveRecord) {
    return this.moves.addMove(move);
  }
  listMoves(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<MoveRecord>> {
    return this.moves.listMoves(definitionId, opts);
  }

  acquireLease(name: string, holder: string, ttlMs: number) {
    return this.leases.acquireLease(name, holder, ttlMs);
  }
  renewLease(name: string, holder: string, ttlMs: number) {
    return this.leases.renewLease(name, holder, ttlMs);
  }
  releaseLease(name: string, holder: string) {
    return this.leases.releaseLease(name, holder);
  }

  getLastSlot(definitionId: string) {
    return this.schedule.getLastSlot(definitionId);
  }
  casLastSlot(definitionId: string, expected: string | null, slot: string) {
    return this.schedule.casLastSlot(definitionId, expected, slot);
  }
  getReconcilePasses(definitionId: string) {
    return this.schedule.getReconcilePasses(definitionId);
  }
  casReconcilePasses(definitionId: string, expected: number, next: number) {
    return this.schedule.casReconcilePasses(definitionId, expected, next);
  }
  getDriftSlot(definitionId: string) {
    return this.schedule.getDriftSlot(definitionId);
  }
  casDriftSlot(definitionId: string, expected: string | null, slot: string) {
    return this.schedule.casDriftSlot(definitionId, expected, slot);
  }
  getWatchTokens(definitionId: string) {
    return this.schedule.getWatchTokens(definitionId);
  }
  putWatchTokens(definitionId: string, tokens: Record<string, string>) {
    return this.schedule.putWatchTokens(definitionId, tokens);
  }
  getReconcileMark(definitionId: string) {
    return this.schedule.getReconcileMark(definitionId);
  }
  putReconcileMark(definitionId: string, mark: ReconcileMark | null) {
    return this.schedule.putReconcileMark(definitionId, mark);
  }

  putDriftReport(report: DriftReportRecord) {
    return this.driftReports.putDriftReport(report);
  }
  getDriftReport(definitionId: string, reportId: string) {
    return this.driftReports.getDriftReport(definitionId, reportId);
  }

  getSourceHealth(definitionId: string) {
    return this.failover.getSourceHealth(definitionId);
  }
  putSourceHealth(record: SourceHealthRecord) {
    return this.failover.putSourceHealth(record);
  }
  addFailoverEvent(event: FailoverEvent) {
    return this.failover.addFailoverEvent(event);
  }
  listFailoverEvents(definitionId: string, opts?: { limit?: number; next?: string }): Promise<Page<FailoverEvent>> {
    return this.failover.listFailoverEvents(definitionId, opts);
  }
  swapPrimary(definitionId: string, from: string, to: string) {
    return this.failover.swapPrimary(definitionId, from, to);
  }
  listDriftReports(definitionId: string, opts?: { limit?: number; next?: string }) {
    return this.driftReports.listDriftReports(definitionId, opts);
  }
  putDriftDifferences(page: DriftDifferencePage) {
    return this.driftReports.putDriftDifferences(page);
  }
  getDriftDifferences(definitionId: string, reportId: string, kind: string, page: number) {
    return this.driftReports.getDriftDifferences(definitionId, reportId, kind, page);
  }
}
