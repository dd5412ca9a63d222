import { randomUUID } from 'node:crypto';
import type { SyncDefinition } from '../core/definitions';
import { configError, describe, isSyncError } from '../core/errors';
import { identityHash } from '../core/identity';
import { listSpecFor, mapRow, resolveMapping, type MappedRow, type ResolvedMapping } from '../core/mapping';
import type { ListTarget } from '../core/ports/list-target';
import { chunkByBytes, messageBytes, type FinalizeMessage, type MoveOpMessage, type RunMessage, type WriteOpMessage } from '../core/messages';
import { QUEUES, type OutgoingMessage } from '../core/ports/bus';
import type { CursorPosition, Row, SourceDatabase, TableSchema } from '../core/ports/source';
import { emptyRunCounts, type LedgerEntry, type RunRecord, type StoredDefinition } from '../core/ports/state';
import { diffSchemas } from '../core/schema-diff';
import { shardList } from '../core/sharding';
import { runLeaseName, type SyncDeps } from './deps';
import { finalizeRun } from './finalize';
import { emptyPlanCounts, planState, type PlanCounts, type PlannedOpSample, type RunPlanState } from './run-state';
import { ShardLists } from './shard-lists';
import { recordFailures } from './failures';

/**
 * The planner (`sync-runs`): one run at a time per definition. Reads what changed since the
 * cursor up to a high-water mark fixed at the start, maps and hashes rows, routes them to
 * shard lists, compares with the ledger in batches and fans out write and move batches. It
 * never reads SharePoint (a new shard's list is the only Graph call it may make).
 */

const SAMPLE_SIZE = 20;
const envelopeBytes = 600;


export function newRunMessage(definitionId: string, mode: RunMessage['mode'], trigger: RunMessage['trigger'], now: Date): RunMessage {
  return { type: 'run', definitionId, runId: randomUUID(), mode, trigger, requestedAt: now.toISOString() };
}

export async function handleRunMessage(deps: SyncDeps, msg: RunMessage): Promise<RunRecord | null> {
  const { state, log } = deps;
  const stored = await state.getDefinition(msg.definitionId);
  if (!stored) {
    log.warn('run for an unknown definition dropped', { definitionId: msg.definitionId, runId: msg.runId });
    return null;
  }
  const existing = await state.getRun(msg.runId);
  const queued = existing?.status === 'queued';
  if (existing && !queued) {
    const plan = planState(existing);
    if (existing.status !== 'running' || plan?.phase !== 'planning') return existing; // a redelivery of a run already planned
    // The planner died mid-way: batches it sent still land harmlessly; a fresh run replans.
    const fresh = newRunMessage(msg.definitionId, msg.mode, 'retry', deps.now());
    await state.updateRun(existing.runId, { status: 'failed', finishedAt: deps.now().toISOString(), error: `planning was interrupted; superseded by run ${fresh.runId}`, plan: { ...plan, phase: 'done', supersededBy: fresh.runId } });
    await state.releaseLease(runLeaseName(msg.definitionId), msg.runId);
    await deps.bus.send(QUEUES.runs, [{ body: fresh, messageId: `retry:${msg.runId}`, sessionId: msg.definitionId }]);
    return existing;
  }

  const startedAt = deps.now().toISOString();
  const base: RunRecord = {
    runId: msg.runId,
    definitionId: msg.definitionId,
    mode: msg.mode,
    trigger: msg.trigger,
    status: 'running',
    sourceId: stored.activeSourceId,
    startedAt,
    counts: emptyRunCounts(),
    batchesExpected: 0,
    batchesSettled: 0,
  };
  if (!(await state.acquireLease(runLeaseName(msg.definitionId), msg.runId, deps.settings.leaseTtlMs))) {
    const refused: RunRecord = { ...base, status: 'refused', finishedAt: startedAt, error: 'another run of this definition is in progress' };
    if (queued) await state.updateRun(msg.runId, { status: 'refused', finishedAt: startedAt, error: refused.error });
    else await state.createRun(refused);
    log.info('run refused: another run holds the lease', { definitionId: msg.definitionId, runId: msg.runId });
    return refused;
  }
  const initialPlan: RunPlanState = {
    phase: 'planning',
    sourceId: stored.activeSourceId,
    mappingVersion: stored.mappingVersion,
    cursorKind: stored.definition.cursor.kind,
    start: null,
    next: null,
    passDone: false,
    byList: {},
  };
  if (queued) await state.updateRun(msg.runId, { status: 'running', startedAt, sourceId: base.sourceId, plan: initialPlan });
  else await state.createRun({ ...base, plan: initialPlan });
  try {
    return await plan(deps, stored, msg, initialPlan);
  } catch (error) {
    const transient = !isSyncError(error) || error.transient;
    if (transient) throw error; // the host redelivers; the redelivery supersedes this run
    await state.updateRun(msg.runId, { status: 'failed', finishedAt: deps.now().toISOString(), error: describe(error), plan: { ...initialPlan, phase: 'done' } });
    await state.releaseLease(runLeaseName(msg.definitionId), msg.runId);
    log.warn('run failed', { definitionId: msg.definitionId, runId: msg.runId, error: describe(error) });
    return state.getRun(msg.runId);
  }
}

/** Resolves the mapping against the live schema; a breaking schema change stops the run naming it. */
async function currentMapping(deps: SyncDeps, stored: StoredDefinition, source: SourceDatabase, target: ListTarget, dryRun: boolean): Promise<{ stored: StoredDefinition; mapping: ResolvedMapping; schema: TableSchema; mappingChanged: boolean }> {
  const def = stored.definition;
  const schema = await source.describeTable(def.table);
  const previous = stored.mapping as ResolvedMapping | undefined;
  if (stored.schemaSnapshot && previous) {
    const diff = diffSchemas(stored.schemaSnapshot as TableSchema, schema, {
      fields: previous.fields.map((f) => ({ column: f.source, spType: f.spType })),
      key: previous.key,
      cursorColumn: def.cursor.column,
      other: previous.readColumns,
    });
    if (diff.hasBreaking) {
      throw configError('sync', 'schema_changed', `the table changed in a way the mapping cannot follow: ${diff.breaking.map((c) => c.message).join('; ')}`);
    }
    if (diff.additive.length) deps.log.info('additive schema changes', { definitionId: def.id, changes: diff.additive.map((c) => c.message) });
  }
  const mapping = resolveMapping(def, schema);
  if (previous?.hash === mapping.hash && stored.schemaSnapshot) return { stored, mapping, schema, mappingChanged: false };
  if (dryRun) return { stored, mapping, schema, mappingChanged: previous !== undefined && previous.hash !== mapping.hash };
  if (previous && previous.hash !== mapping.hash) {
    // The lists must have every mapped column before rows carrying it are written.
    for (const [name, listId] of Object.entries(stored.lists ?? {})) {
      const result = await target.ensureList(def.target.siteId, listSpecFor(name, mapping));
      if (result.conflicts.length) {
        throw configError('sync', 'column_conflict', `list "${name}" (${listId}) has columns that cannot hold the new mapping: ${result.conflicts.map((c) => `${c.column}: ${c.reason}`).join('; ')}`);
      }
    }
  }
  const next: StoredDefinition = {
    ...stored,
    mapping,
    schemaSnapshot: schema,
    mappingVersion: previous && previous.hash !== mapping.hash ? stored.mappingVersion + 1 : Math.max(1, stored.mappingVersion),
  };
  const saved = await deps.state.putDefinition(next, stored.etag ? { ifMatch: stored.etag } : {});
  return { stored: saved, mapping, schema, mappingChanged: false };
}

function isSoftDeleted(def: SyncDefinition, row: Row): boolean {
  if (def.deletes.mode !== 'softDelete' || !def.deletes.column) return false;
  const actual = row[def.deletes.column];
  const wanted = def.deletes.value ?? true;
  if (actual === null || actual === undefined) return wanted === null;
  if (typeof wanted === 'boolean') return actual === wanted || String(actual).toLowerCase() === String(wanted) || (typeof actual === 'number' && actual === Number(wanted));
  return String(actual) === String(wanted);
}

interface Planned {
  writes: Map<string, WriteOpMessage[]>;
  moves: MoveOpMessage[];
  byList: Record<string, PlanCounts>;
  sample: PlannedOpSample[];
  failures: Array<{ identityHash: string; key: unknown[]; error: string }>;
  clearFailures: string[];
  read: number;
  unchanged: number;
}

async function plan(deps: SyncDeps, storedAtStart: StoredDefinition, msg: RunMessage, planAtStart: RunPlanState): Promise<RunRecord | null> {
  const { state } = deps;
  const dryRun = msg.mode === 'dryRun';
  const source = await deps.source(storedAtStart.activeSourceId);
  const target = await deps.target(storedAtStart.definition.target.connectionId);
  // On a real run a changed mapping bumps mappingVersion (rescan); a dry run only sees the flag.
  const { stored, mapping, mappingChanged } = await currentMapping(deps, storedAtStart, source, target, dryRun);
  const def = stored.definition;
  const shards = new ShardLists(deps, stored, mapping, target, dryRun);
  const listNames = new Map<string, string>(Object.entries(stored.lists ?? {}).map(([name, id]) => [id, name]));

  const cursor = await state.getCursor(def.id, stored.activeSourceId);
  const rescan = msg.mode === 'full' || !cursor || cursor.mappingVersion !== stored.mappingVersion || mappingChanged;
  const start: CursorPosition | null = rescan ? null : cursor.position ? (JSON.parse(cursor.position) as CursorPosition) : null;
  const highWater = await source.highWaterMark(def.table, def.cursor);

  const planned: Planned = { writes: new Map(), moves: [], byList: {}, sample: [], failures: [], clearFailures: [], read: 0, unchanged: 0 };
  const seen = new Set<string>();
  const count = (listName: string, op: keyof PlanCounts) => {
    const c = (planned.byList[listName] ??= emptyPlanCounts());
    c[op]++;
  };
  const sample = (s: PlannedOpSample) => {
    if (planned.sample.length < SAMPLE_SIZE) planned.sample.push(s);
  };
  const addWrite = (listId: string, op: WriteOpMessage) => {
    const ops = planned.writes.get(listId) ?? [];
    ops.push(op);
    planned.writes.set(listId, ops);
  };

  const allFailures = await state.getFailures(def.id, { includeQuarantined: true });
  // Quarantined rows wait for an admin's retry; look-back re-reads must not retry them.
  const quarantined = new Set(allFailures.filter((f) => f.quarantined).map((f) => f.identityHash));

  const processRows = async (rows: Row[], retried: Set<string>) => {
    const mapped: Array<{ row: Row; m: MappedRow; listName: string }> = [];
    for (const row of rows) {
      if (quarantined.size && quarantined.has(identityHash(mapping.key.map((k) => row[k]), mapping.keyHints))) continue;
      let m: MappedRow | undefined;
      try {
        m = mapRow(row, mapping);
        if (seen.has(m.identity)) continue;
        seen.add(m.identity);
        const listName = isSoftDeleted(def, row) ? '' : shardList(row, def.sharding, m.identity);
        mapped.push({ row, m, listName });
      } catch (error) {
        const key = mapping.key.map((k) => row[k]);
        const identity = m?.identity ?? identityHash(key, mapping.keyHints);
        // A bad value or an unroutable row is that row's problem; anything else stops the run.
        if (isSyncError(error) && error.errorClass !== 'skippable') throw error;
        planned.failures.push({ identityHash: identity, key, error: describe(error) });
      }
    }
    const ledger = await state.getLedger(def.id, mapped.map((x) => x.m.identity));
    for (const { m, listName } of mapped) {
      const entry = ledger.get(m.identity);
      if (listName === '') {
        // Soft-deleted in the source.
        if (entry && entry.itemId && entry.state !== 'deleted') {
          const name = listNames.get(entry.listId) ?? entry.listId;
          count(name, 'delete');
          sample({ op: 'delete', identityHash: m.identity, key: m.key, list: name });
          addWrite(entry.listId, { identityHash: m.identity, kind: 'delete', itemId: entry.itemId, contentHash: '', key: m.key });
        } else if (retried.has(m.identity)) planned.clearFailures.push(m.identity);
        continue;
      }
      let listId: string | null;
      try {
        listId = await shards.resolve(listName);
      } catch (error) {
        if (!isSyncError(error) || error.transient) throw error;
        planned.failures.push({ identityHash: m.identity, key: m.key, error: describe(error) });
        continue;
      }
      if (listId) listNames.set(listId, listName);
      const targetList = listId ?? `(new) ${listName}`;
      if (!entry || entry.state === 'deleted' || entry.itemId === null || entry.state === 'pending') {
        count(listName, 'create');
        sample({ op: 'create', identityHash: m.identity, key: m.key, list: listName });
        addWrite(targetList, { identityHash: m.identity, kind: 'create', fields: m.fields, contentHash: m.contentHash, key: m.key });
      } else if (entry.listId !== listId || entry.movedFrom) {
        const fromName = listNames.get(entry.movedFrom?.listId ?? entry.listId) ?? entry.listId;
        count(listName, 'move');
        sample({ op: 'move', identityHash: m.identity, key: m.key, list: listName, fromList: fromName });
        planned.moves.push({
          identityHash: m.identity,
          from: entry.movedFrom ?? { listId: entry.listId, itemId: entry.itemId },
          toListId: targetList,
          fields: m.fields,
          contentHash: m.contentHash,
          key: m.key,
        });
      } else if (entry.contentHash !== m.contentHash) {
        count(listName, 'update');
        sample({ op: 'update', identityHash: m.identity, key: m.key, list: listName });
        addWrite(targetList, { identityHash: m.identity, kind: 'update', itemId: entry.itemId, fields: m.fields, contentHash: m.contentHash, key: m.key });
      } else {
        count(listName, 'unchanged');
        planned.unchanged++;
        if (retried.has(m.identity)) planned.clearFailures.push(m.identity);
      }
    }
  };

  // 1. Rows in the failure list that are due for another attempt, re-read by key.
  const due = allFailures.filter((f) => !f.quarantined);
  if (due.length) {
    const retried = new Set(due.map((f) => f.identityHash));
    const rows = await source.readByKeys(def.table, mapping.readColumns, mapping.key, due.map((f) => f.key));
    planned.read += rows.length;
    await processRows(rows, retried);
    const found = new Set(rows.map((r) => identityHash(mapping.key.map((k) => r[k]), mapping.keyHints)));
    planned.clearFailures.push(...due.filter((f) => !found.has(f.identityHash)).map((f) => f.identityHash)); // gone from the source
  }

  // 2. Changes since the cursor, up to the high-water mark and maxRowsPerRun.
  let position = start;
  let passDone = false;
  let readInRun = 0;
  for (;;) {
    const limit = Math.min(deps.settings.pageSize, def.maxRowsPerRun - readInRun);
    if (limit <= 0) break;
    const page = await source.readChanges({ table: def.table, columns: mapping.readColumns, key: mapping.key, cursor: def.cursor, after: position, highWater, limit });
    readInRun += page.rows.length;
    planned.read += page.rows.length;
    await processRows(page.rows, new Set());
    if (page.next === null) {
      passDone = true;
      break;
    }
    position = page.next;
  }

  // 3. Reconcile deletes: every N completed passes, compare all source keys with the ledger.
  let reconciled = false;
  if (passDone && def.deletes.mode === 'reconcile' && (msg.mode === 'full' || (await reconcileDue(deps, def, dryRun)))) {
    reconciled = true;
    const present = new Set<string>();
    for await (const keys of source.streamKeys(def.table, mapping.key, 5000)) {
      for (const k of keys) present.add(identityHash(mapping.key.map((c) => k[c]), mapping.keyHints));
    }
    const orphans: LedgerEntry[] = [];
    for await (const entries of state.scanLedger(def.id)) for (const e of entries) if (!present.has(e.identityHash) && e.state !== 'deleted') orphans.push(e);
    for (const e of orphans) {
      const name = listNames.get(e.listId) ?? e.listId;
      count(name, 'delete');
      sample({ op: 'delete', identityHash: e.identityHash, key: [], list: name });
      if (e.itemId) addWrite(e.listId, { identityHash: e.identityHash, kind: 'delete', itemId: e.itemId, contentHash: '', key: [] });
      else if (!dryRun) await state.deleteLedger(def.id, [e.identityHash]);
    }
  }

  const planNow: RunPlanState = {
    ...planAtStart,
    mappingVersion: stored.mappingVersion,
    start,
    next: passDone ? null : position,
    passDone,
    byList: planned.byList,
    sample: planned.sample,
    reconciled,
  };

  if (dryRun) {
    await state.incrementRun(msg.runId, { read: planned.read, unchanged: planned.unchanged, failed: planned.failures.length });
    await state.updateRun(msg.runId, { status: 'succeeded', finishedAt: deps.now().toISOString(), highWater, plan: { ...planNow, phase: 'done' } });
    await state.releaseLease(runLeaseName(def.id), msg.runId);
    return state.getRun(msg.runId);
  }

  // 4. Fan out. Sent before the run records its batch count: a crash in between leaves the run
  //    in `planning`, and its redelivery supersedes it (the sent batches are idempotent).
  const messages: Array<{ queue: typeof QUEUES.writes | typeof QUEUES.moves; message: OutgoingMessage }> = [];
  let seq = 0;
  const siteId = def.target.siteId;
  for (const [listId, ops] of planned.writes) {
    const { chunks, tooLarge } = chunkByBytes(ops, deps.settings.writeBatchMaxOps, deps.settings.messageMaxBytes, envelopeBytes);
    for (const op of tooLarge) planned.failures.push({ identityHash: op.identityHash, key: op.key, error: `row_too_large: the row's mapped fields (${messageBytes(op)} bytes) exceed the ${deps.settings.messageMaxBytes}-byte message limit` });
    for (const chunk of chunks) {
      const batchId = `${msg.runId}:w${seq++}`;
      messages.push({ queue: QUEUES.writes, message: { body: { definitionId: def.id, runId: msg.runId, batchId, siteId, listId, ops: chunk }, messageId: batchId } });
    }
  }
  const { chunks: moveChunks, tooLarge: movesTooLarge } = chunkByBytes(planned.moves, deps.settings.writeBatchMaxOps, deps.settings.messageMaxBytes, envelopeBytes);
  for (const mv of movesTooLarge) planned.failures.push({ identityHash: mv.identityHash, key: mv.key, error: `row_too_large: the row's mapped fields exceed the ${deps.settings.messageMaxBytes}-byte message limit` });
  for (const chunk of moveChunks) {
    const batchId = `${msg.runId}:m${seq++}`;
    messages.push({ queue: QUEUES.moves, message: { body: { definitionId: def.id, runId: msg.runId, batchId, siteId, moves: chunk }, messageId: batchId } });
  }

  if (planned.failures.length) {
    await recordFailures(deps, def, msg.runId, planned.failures);
  }
  if (planned.clearFailures.length) await state.deleteFailures(def.id, planned.clearFailures);

  await deps.bus.send(QUEUES.writes, messages.filter((m) => m.queue === QUEUES.writes).map((m) => m.message));
  await deps.bus.send(QUEUES.moves, messages.filter((m) => m.queue === QUEUES.moves).map((m) => m.message));
  await deps.faultPoint?.('plan:after-send');
  await state.incrementRun(msg.runId, { read: planned.read, unchanged: planned.unchanged, failed: planned.failures.length });
  const run = await state.updateRun(msg.runId, { highWater, batchesExpected: messages.length, plan: { ...planNow, phase: 'writing' } });
  if (run.batchesSettled >= run.batchesExpected) {
    // Nothing to write (or every batch already settled): close the run now.
    return finalizeRun(deps, { type: 'finalize', definitionId: def.id, runId: msg.runId } satisfies FinalizeMessage);
  }
  return run;
}

/** Counts completed passes; true (and resets) every `everyRuns`-th. A dry run only peeks. */
async function reconcileDue(deps: SyncDeps, def: SyncDefinition, peek: boolean): Promise<boolean> {
  const every = def.deletes.everyRuns ?? 1;
  const counted = await deps.state.getReconcilePasses(def.id);
  const passes = counted + 1;
  const due = passes >= every;
  if (!peek) await deps.state.casReconcilePasses(def.id, counted, due ? 0 : passes);
  return due;
}
