import type { FinalizeMessage, RunMessage } from '../../core/messages';
import type { SyncDefinition } from '../../core/definitions';
import { SYNC_KEY_COLUMN } from '../../core/ports/list-target';
import type { CursorPosition, ExactValue, Row, SourceDatabase } from '../../core/ports/source';
import type { LedgerEntry, RunRecord, StoredDefinition } from '../../core/ports/state';
import { IdentitySet } from '../../core/identity-set';
import { runLeaseName, type SyncDeps } from '../deps';
import { failurePages, quarantinedIdentities } from '../failures';
import { finalizeRun } from '../finalize';
import type { RunPlanState } from '../run-state';
import { finishRebuild, holdsItems } from '../identity-change';
import { takeRunRu } from '../run-spend';
import { ShardLists } from '../shard-lists';
import { currentMapping } from './current-mapping';
import { PageFanOut } from './fan-out';
import type { MapRules } from './map-rows';
import { planPage, type PagePorts } from './plan-page';
import { deleteOlderPlans, PLAN_PAGE_OPS, PlanPageWriter } from './plan-pages';
import { PlannedRun } from './planned';
import { readChangesSinceCursor, readDueFailures, startPosition } from './read';
import { forEachOrphanPage, planOrphanDeletes, recordItemsOfItemlessOrphans } from './reconcile';
import { reconcileDue } from './reconcile-due';
import { digestRowCount, markHolds, nextMark, storeMark, type RunFacts } from './reconcile-mark';

/** Source keys, and ledger entries, per page when reconciling deletes: few round trips, bounded memory. */
const RECONCILE_KEY_PAGE_SIZE = 5000;

/**
 * Plans one run, step by step: resolve the mapping, retry the failure list's due rows, read the
 * changes since the cursor page by page (map → route to shard → compare with the ledger → fan
 * out that page's write and move batches), reconcile deletes when due, write a small plan in
 * place (fan-out.ts), then close a dry run or hand the run to its writers.
 */
export async function planRun(deps: SyncDeps, storedAtStart: StoredDefinition, msg: RunMessage, planAtStart: RunPlanState): Promise<RunRecord | null> {
  const { state } = deps;
  const dryRun = msg.mode === 'dryRun';
  // Reads that do not depend on each other go out together: a short run is mostly round trips.
  const reconciling = storedAtStart.definition.deletes.mode === 'reconcile';
  const [source, target, cursor, quarantined, storedMark] = await Promise.all([
    deps.source(storedAtStart.activeSourceId),
    deps.target(storedAtStart.definition.target.connectionId),
    state.getCursor(storedAtStart.definition.id, storedAtStart.activeSourceId),
    quarantinedIdentities(state, storedAtStart.definition.id),
    reconciling ? state.getReconcileMark(storedAtStart.definition.id) : Promise.resolve(null),
  ]);
  // On a real run a changed mapping bumps mappingVersion (rescan); a dry run only sees the flag.
  const { stored, mapping, mappingChanged } = await currentMapping(deps, storedAtStart, source, target, dryRun);
  const def = stored.definition;
  const shards = new ShardLists(deps, stored, mapping, target, dryRun);
  const plan = new PlannedRun(stored.lists ?? {}, dryRun);
  // A dry run stores its whole plan in pages; a re-planned attempt starts them over.
  const planPages = dryRun ? new PlanPageWriter(state, msg.runId) : undefined;
  if (dryRun && (planAtStart.attempt ?? 1) > 1) await state.deleteRunPlan(msg.runId);
  const fanOut = new PageFanOut(deps, def, { definitionId: def.id, runId: msg.runId, siteId: def.target.siteId, attempt: planAtStart.attempt ?? 1 }, dryRun, planPages);

  const start = startPosition(cursor, msg.mode, stored.mappingVersion, mappingChanged);
  // Read before the high-water mark: every row stamped before it is then at most that mark.
  const visibleBefore = await passVisibleBefore(source, def, start);
  const highWater = await source.highWaterMark(def.table, def.cursor);
  // The source's key set now, after the high-water mark (so the rows this run reads were there), read beside the changes.
  const markFacts = { key: mapping.key, mappingVersion: stored.mappingVersion };
  const startDigest = reconciling && !stored.rebuild ? source.keySetDigest(def.table, mapping.key) : null;
  startDigest?.catch(() => undefined); // awaited below; a failure there fails the planning

  // An empty ledger before the first write of this run: every entry the reconcile could compare
  // was made by this run, from rows it just read, so there is nothing older to reconcile yet.
  const ledgerWasEmpty = def.deletes.mode === 'reconcile' && !stored.rebuild && !(await holdsItems(state, def.id));
  const rules: MapRules = { def, mapping, quarantined, seen: new IdentitySet() };
  const ports: PagePorts = { ledger: (hashes) => state.getLedger(def.id, hashes), shardList: (name) => shards.resolve(name) };
  // A pending create may have made its item: orphans and soft-deleted rows without an item id are looked up by SyncKey before their entry is forgotten.
  const lookup = (listId: string, keys: string[]) => target.findBySyncKey(def.target.siteId, listId, keys, { select: [SYNC_KEY_COLUMN] });
  const deleteOrphans = async (found: LedgerEntry[]) => {
    const orphans = dryRun ? found : await recordItemsOfItemlessOrphans(found, lookup, state, () => deps.now().toISOString());
    const withoutItem = planOrphanDeletes(orphans, plan);
    if (!dryRun && withoutItem.length) await state.deleteLedger(def.id, withoutItem);
  };
  const planRows = async (rows: Row[], retried: ReadonlySet<string>) => {
    await planPage(rows, retried, rules, ports, plan);
    await deleteOrphans(plan.pendingOfDeleted.splice(0));
    await fanOut.flush(plan);
  };

  // 1. Rows in the failure list that are due for another attempt, re-read by key a page at a time.
  for await (const due of failurePages(state, def.id, false)) {
    const { rows, gone } = await readDueFailures(source, def, mapping, due);
    plan.read += rows.length;
    plan.clearFailures.push(...gone);
    await planRows(rows, new Set(due.map((f) => f.identityHash)));
  }

  // 2. Changes since the cursor, up to the high-water mark and maxRowsPerRun.
  const progress = await readChangesSinceCursor(source, { def, mapping, start, highWater, pageSize: deps.settings.pageSize }, async (rows) => {
    plan.read += rows.length;
    await planRows(rows, new Set());
  });

  // 3. Reconcile deletes: every N completed passes (every pass while a rebuild is pending), compare all source keys with the ledger.
  // A pass that began on an empty ledger (the first load) does not count: a row it read and that
  // was deleted since is found by the next reconciling pass, instead of this one re-reading both
  // sides while its own writers are still filling the ledger.
  const rebuild = stored.rebuild;
  const digestAtStart = startDigest ? await startDigest : null;
  const holds = markHolds(storedMark, digestAtStart, markFacts, deps.now());
  let basis: RunFacts['basis'] = holds ? { kind: 'mark', mark: storedMark } : ledgerWasEmpty ? { kind: 'emptyLedger' } : null;
  let orphanCount = 0;
  const reconciled = progress.passDone && Boolean(rebuild || (reconciling && !ledgerWasEmpty && (msg.mode === 'full' || (await reconcileDue(deps, def, dryRun)))));
  // The key set has not changed since the ledger was known to hold no orphan: the compare would find none (reconcile-mark.ts). A `full` run compares all the same.
  const reconcileSkipped = reconciled && !rebuild && holds && msg.mode !== 'full';
  if (reconciled && !reconcileSkipped) {
    // Orphans come a page at a time and are fanned out as they come, so none are held.
    await forEachOrphanPage(() => source.streamKeys(def.table, mapping.key, RECONCILE_KEY_PAGE_SIZE), () => state.scanLedger(def.id, RECONCILE_KEY_PAGE_SIZE), mapping, async (orphans) => {
      orphanCount += orphans.length;
      await deleteOrphans(orphans);
      await fanOut.flush(plan);
    }, { sourceRows: digestRowCount(digestAtStart) });
    if (rebuild && !dryRun && orphanCount === 0) await finishRebuild(state, def.id, rebuild.requestedAt);
    await fanOut.flush(plan);
    basis = { kind: 'compared', orphans: orphanCount };
  }
  if (reconciling && !dryRun) {
    const creates = Object.values(plan.byList).reduce((n, c) => n + c.create, 0);
    const endDigest = () => source.keySetDigest(def.table, mapping.key);
    const mark = rebuild ? null : await nextMark({ basis, startDigest: digestAtStart, creates, orphanDeletes: orphanCount, endDigest }, markFacts, deps.now());
    await storeMark(state, def.id, storedMark, mark);
  }

  // A plan small enough was held back: write it here, before the run is marked `writing`.
  if (!dryRun) await fanOut.writeHeld();

  const next = progress.next && visibleBefore !== null ? { ...progress.next, visibleBefore } : progress.next;
  const planNow: RunPlanState = { ...planAtStart, mappingVersion: stored.mappingVersion, start, next, passDone: progress.passDone, visibleBefore, byList: plan.byList, sample: plan.sample, reconciled, ...(reconcileSkipped ? { reconcileSkipped } : {}) };
  if (planPages) return closeDryRun(deps, stored, msg, plan, fanOut.failed, { ...planNow, pages: await planPages.finish(), pageOps: PLAN_PAGE_OPS }, highWater);
  return startWriting(deps, stored, msg, planNow, highWater);
}

/** A pass's read time is taken when it starts and carried by its continuations (see `CursorPosition.visibleBefore`). */
async function passVisibleBefore(source: Pick<SourceDatabase, 'visibleBefore'>, def: SyncDefinition, start: CursorPosition | null): Promise<ExactValue | null> {
  if (start?.at === 'row' || start?.at === 'nulls') return start.visibleBefore ?? null;
  return source.visibleBefore(def.table, def.cursor);
}

async function closeDryRun(deps: SyncDeps, stored: StoredDefinition, msg: RunMessage, plan: PlannedRun, failed: number, planNow: RunPlanState, highWater: ExactValue | null): Promise<RunRecord | null> {
  const { state } = deps;
  await state.incrementRun(msg.runId, { read: plan.read, unchanged: plan.unchanged, failed, ruSpent: takeRunRu() });
  await state.updateRun(msg.runId, { status: 'succeeded', finishedAt: deps.now().toISOString(), highWater, plan: { ...planNow, phase: 'done' } });
  await state.releaseLease(runLeaseName(stored.definition.id), msg.runId);
  // Retention is housekeeping: a failure is logged, never the run's.
  await deleteOlderPlans(deps, stored.definition.id).catch((error: unknown) => deps.log.warn('deleting older dry-run plans failed', { definitionId: stored.definition.id, error: String(error) }));
  return state.getRun(msg.runId);
}

/**
 * Every page's batches are out and counted: the run now waits for them. The finalizer closes it
 * once the last one settles; when none is left (nothing to write, or all settled already), now.
 */
async function startWriting(deps: SyncDeps, stored: StoredDefinition, msg: RunMessage, planNow: RunPlanState, highWater: ExactValue | null): Promise<RunRecord | null> {
  const def = stored.definition;
  // The planning spend not yet counted: before the run can finish.
  const ru = takeRunRu();
  if (ru > 0) await deps.state.incrementRun(msg.runId, { ruSpent: ru });
  const run = await deps.state.updateRun(msg.runId, { highWater, progressAt: deps.now().toISOString(), plan: { ...planNow, phase: 'writing' } });
  if (run.batchesSettled >= run.batchesExpected) {
    return finalizeRun(deps, { type: 'finalize', definitionId: def.id, runId: msg.runId } satisfies FinalizeMessage);
  }
  return run;
}
