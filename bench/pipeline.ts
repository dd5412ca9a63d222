import { QueueServiceClient } from '@azure/storage-queue';
import { Client } from 'pg';
import { clearTenantLimiters } from '../src/adapters/sharepoint/limiter';
import { createSourceDatabase, SourcePoolCache, type QueryEvent } from '../src/adapters/source';
import { QUEUES } from '../src/core/ports/bus';
import type { RunCounts, RunRecord } from '../src/core/ports/state';
import type { EmulatorMetrics } from '../src/emulator';
import { newRunMessage } from '../src/sync/plan-run';
import { startStack, type Stack } from '../test/support/stack';
import { updatePhase, type UpdateBytesResult } from './pipeline-update';

/**
 * Pipeline benchmark (DESIGN §12 `pipeline`, issue 6): the whole product on the local host
 * stack (Azurite state and queues, the real function table pumped by the local host, real
 * PostgreSQL as the source, the Graph emulator over HTTP, in this process).
 *
 * - `initialLoad`: N rows (default 20,000) into 4 hash-sharded lists under a set emulator budget
 *   and latency, the adapter's limiter configured with the same budget. Every Graph request of
 *   the run is counted, list provisioning included.
 * - `idleRun`: a table of M rows (default 200,000) is first synced at a very high budget (setup,
 *   not measured), then an incremental run with no changes and a `full` run over the same
 *   unchanged rows are measured: rows read, Graph requests, source queries, and this process's
 *   CPU time per row planned during the full run.
 *
 * The tenant limiter is process-wide and keeps the budget it was created with, so each part runs
 * on its own stack (own Azurite, own emulator), with the limiter registry cleared in between.
 */

export interface PipelineBenchOptions {
  /** PostgreSQL URL for the source tables (the stack reads TEST_PG_URL). */
  pgUrl: string;
  /** Which parts to run (default all three). */
  parts?: Array<'initialLoad' | 'idleRun' | 'update'>;
  initialRows?: number;
  idleRows?: number;
  /** Update phase: table rows and rows whose one field changes (default 4,000 and 2,000). */
  updateRows?: number;
  updatedRows?: number;
  /** Emulator budget and limiter budget for the initial load. */
  budgetRuPerMinute?: number;
  latencyMs?: { fixed: number; jitter: number };
  /** GRAPH_MAX_CONCURRENCY for the measured initial load. */
  maxConcurrency?: number;
  /** Emulator budget while the idle part's table is loaded (setup only). */
  setupEmulatorBudgetRuPerMinute?: number;
  /** Limiter budget while the idle part's table is loaded (the setting allows at most 1,000,000). */
  setupLimiterBudgetRuPerMinute?: number;
  /**
   * Where the stacks keep ledger, cursors and runs: `postgres` (the SQL state store, on the same
   * PostgreSQL) or `table` (Table Storage on the stack's Azurite). Default `postgres`: Azurite's
   * in-memory Table emulation slows down with partition size (each ledger operation costs
   * milliseconds and grows with the ledger), so a Table-store run measures Azurite, not us.
   */
  stateStore?: 'postgres' | 'table';
  /** How long one run may take before the benchmark gives up. */
  runTimeoutMs?: number;
  log?: (line: string) => void;
}

export interface InitialLoadResult {
  rows: number;
  created: number;
  /** Rows whose mapped content changed (created + updated + moved + deleted). */
  changedRows: number;
  /** Graph requests as SharePoint counts them (each request inside a $batch is one). */
  graphRequests: number;
  /** HTTP round trips ($batch envelopes count one each). */
  httpRequests: number;
  batches: number;
  /** RU charged for the whole run, list provisioning and throttled requests included. */
  ru: number;
  ruByKind: EmulatorMetrics['ru']['byKind'];
  /** RU charged before the first item was written: site/list lookups, list and column creation. */
  provisioningRu: number;
  /** ru ÷ changedRows (target 2.0 ± 2 %). */
  ruPerChangedRow: number;
  /** RU charged from the first item write on ÷ changedRows. */
  writeRuPerChangedRow: number;
  /** RU per minute over the whole run (planning included) ÷ budget (target ≥ 0.90). */
  ruUtilisation: number;
  /** RU per minute from the first to the last item write ÷ budget. */
  ruUtilisationWritePhase: number;
  throttledShare: number;
  throttled: number;
  /** Wall time from sending the run message until the pipeline is quiet. */
  seconds: number;
  /** From sending the run until the first item write reached the emulator (planning and fan-out). */
  planSeconds: number;
  /** From the first to the last item write. */
  writeSeconds: number;
  rowsPerSecond: number;
  budgetRuPerMinute: number;
  latencyMs: number;
  latencyJitterMs: number;
  maxConcurrency: number;
  lists: Record<string, number>;
  /** This process's CPU (user + system) per row over the whole run; it also hosts the emulator and the pump. */
  cpuMicrosPerRow: number;
  sourceQueries: number;
  stateStore: 'postgres' | 'table';
  status: string;
  counts: RunCounts;
}

export interface IdlePassResult {
  mode: 'incremental' | 'full';
  /** Runs started during the measurement (1 unless the run enqueued continuations). */
  runs: number;
  rows: number;
  graphRequests: number;
  httpRequests: number;
  ru: number;
  /** Statements the source adapter sent (its onQuery hook). */
  sourceQueries: number;
  sourceQueriesByKind: Record<string, number>;
  /** seq_scan + idx_scan delta on the source table (pg_stat_user_tables), a cross-check of sourceQueries that touch the table. */
  sourceTableScans: number | null;
  seconds: number;
  cpuMicros: number;
  /** cpuMicros ÷ rows planned (rows read); null when nothing was read. */
  cpuMicrosPerRow: number | null;
  /**
   * This process's CPU per second while the stack sat idle just before the run: the local host's
   * pump polling its queues every 20 ms and this benchmark reading a run record every 250 ms, as
   * it does during the run to see it finish (`runUntilFinished`).
   */
  idleCpuMicrosPerSecond: number;
  /** (cpuMicros − idle CPU rate × run time) ÷ rows planned. */
  cpuMicrosPerRowNetOfIdle: number | null;
  /** Idle CPU rate × run time ÷ cpuMicros: the share of the gross figure that is polling, not planning (above 0.5, polling dominates). */
  idleShareOfCpu: number | null;
  status: string;
  counts: RunCounts;
}

export interface IdleRunResult {
  /** Rows the table holds (and the ledger tracks). */
  tableRows: number;
  /** Runs started during the incremental measurement. */
  runs: number;
  /** Rows the incremental run read: a timestamp cursor re-reads the rows at its mark by design (a late commit with the mark's own timestamp must not be lost). */
  rows: number;
  /** Graph requests during the incremental run (target 0). */
  graphRequests: number;
  sourceQueries: number;
  sourceQueriesByKind: Record<string, number>;
  sourceTableScans: number | null;
  seconds: number;
  status: string;
  counts: RunCounts;
  full: IdlePassResult;
  /** Budget and latency the emulator ran under during the measured runs. */
  budgetRuPerMinute: number;
  latencyMs: number;
  latencyJitterMs: number;
  /** Limiter budget of this stack (fixed per process; high so the setup load is quick). */
  limiterBudgetRuPerMinute: number;
  stateStore: 'postgres' | 'table';
  setup: { rows: number; seconds: number; created: number; ru: number; status: string };
}

export interface PipelineBenchResult {
  initialLoad?: InitialLoadResult;
  idleRun?: IdleRunResult;
  /** Our CPU per row planned in the full run over unchanged rows (target ≤ 50 µs). */
  cpuMicrosPerRow?: number;
  /** PATCH body bytes per updated row, every mapped field vs changed fields only (bench/pipeline-update.ts). */
  updateBytesPerRow?: UpdateBytesResult;
  errors?: Record<string, string>;
}

const round = (n: number, digits = 3) => Number(n.toFixed(digits));

/** Counts source statements by routing the handlers' `source()` through an adapter with an onQuery hook. */
function countSourceQueries(stack: Stack): { reset(): void; total(): number; byKind(): Record<string, number>; close(): Promise<void> } {
  const cache = new SourcePoolCache();
  let byKind: Record<string, number> = {};
  const onQuery = (e: QueryEvent) => {
    // 'clock': the look-back's read time and its comparison with the mark (no table touched)
    const kind = /pg_catalog|information_schema/i.test(e.sql) ? 'catalog' : /\bMAX\(/i.test(e.sql) ? 'highWaterMark' : /^\s*SELECT\s+version\(\)/i.test(e.sql) ? 'health' : !/\bFROM\b/i.test(e.sql) ? 'clock' : 'tableRead';
    byKind[kind] = (byKind[kind] ?? 0) + 1;
  };
  const services = stack.services;
  // Only the function handlers' source changes; the stack's own services stay as built.
  stack.rewire({
    async source(connectionId) {
      const conn = await (await services.state()).getSource(connectionId);
      if (!conn) throw new Error(`no source connection ${connectionId}`);
      const { etag: _e, createdAt: _c, updatedAt: _u, ...record } = conn;
      return createSourceDatabase(record, services.secrets(), { cache, onQuery });
    },
  });
  return {
    reset: () => (byKind = {}),
    total: () => Object.values(byKind).reduce((a, b) => a + b, 0),
    byKind: () => ({ ...byKind }),
    close: () => cache.closeAll(),
  };
}

async function tableScans(pg: Client, schema: string, table: string): Promise<number | null> {
  try {
    await pg.query('SELECT pg_stat_clear_snapshot()');
    const r = await pg.query(`SELECT coalesce(seq_scan, 0) + coalesce(idx_scan, 0) AS n FROM pg_stat_user_tables WHERE schemaname = $1 AND relname = $2`, [schema, table]);
    return r.rows[0] ? Number(r.rows[0].n) : null;
  } catch {
    return null;
  }
}

/** How often a measured run's record is read to see it finish (one state-store read, instead of six queue reads every 60 ms). */
const RUN_POLL_MS = 250;

/**
 * Sends a run, reads its record every RUN_POLL_MS until it has finished, then waits until the
 * queues are quiet (a continuation or a late batch would be part of the measurement). Used for
 * the CPU-measured runs: waitForQuiet alone would poll six queues every 60 ms for the whole run,
 * CPU of the benchmark counted as the planner's.
 */
async function runUntilFinished(stack: Stack, definitionId: string, mode: 'incremental' | 'full', timeoutMs: number): Promise<RunRecord> {
  const message = newRunMessage(definitionId, mode, 'manual', new Date());
  const deadline = Date.now() + timeoutMs;
  await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: definitionId }]);
  while (!(await stack.state.getRun(message.runId))?.finishedAt) {
    if (Date.now() > deadline) throw new Error(`run ${message.runId} did not finish in time`);
    await new Promise((r) => setTimeout(r, RUN_POLL_MS));
  }
  await stack.waitForQuiet(Math.max(1, deadline - Date.now()));
  const run = await stack.state.getRun(message.runId);
  if (!run) throw new Error(`run ${message.runId} was never recorded`);
  return run;
}

/** Sends a run and waits until it and everything it fanned out is done (stack.run waits 60 s at most). */
export async function runAndWait(stack: Stack, definitionId: string, mode: 'incremental' | 'full', timeoutMs: number): Promise<RunRecord> {
  const message = newRunMessage(definitionId, mode, 'manual', new Date());
  await stack.services.bus().send(QUEUES.runs, [{ body: message, messageId: message.runId, sessionId: definitionId }]);
  await stack.waitForQuiet(timeoutMs);
  const run = await stack.state.getRun(message.runId);
  if (!run) throw new Error(`run ${message.runId} was never recorded`);
  return run;
}

export async function createSourceTable(stack: Stack, rows: number): Promise<string> {
  const table = `"${stack.schema}".orders`;
  await stack.pg.query(`
    CREATE TABLE ${table} (
      id integer PRIMARY KEY,
      customer text NOT NULL,
      amount numeric(10,2) NOT NULL,
      quantity integer NOT NULL,
      ordered_at timestamptz NOT NULL,
      paid boolean NOT NULL,
      updated_at timestamptz NOT NULL DEFAULT clock_timestamp()
    )`);
  // Inserted in chunks so one statement never holds a huge transaction.
  const chunk = 50_000;
  for (let from = 1; from <= rows; from += chunk) {
    const to = Math.min(rows, from + chunk - 1);
    await stack.pg.query(
      `INSERT INTO ${table} (id, customer, amount, quantity, ordered_at, paid)
       SELECT g, 'Customer ' || (g % 5000), ((g % 100000) * 0.37)::numeric(10,2), g % 50,
              timestamptz '2021-01-01 00:00:00+00' + (g * interval '7 minutes'), g % 3 = 0
       FROM generate_series($1::int, $2::int) g`,
      [from, to],
    );
  }
  await stack.pg.query(`CREATE INDEX ON ${table} (updated_at, id)`);
  await stack.pg.query(`ANALYZE ${table}`);
  return table;
}

async function addBenchDefinition(stack: Stack, id: string, rows: number): Promise<void> {
  await stack.addDefinition({
    id,
    table: { schema: stack.schema, name: 'orders' },
    title: 'customer',
    fields: [{ source: 'amount' }, { source: 'quantity' }, { source: 'ordered_at' }, { source: 'paid' }],
    cursor: { kind: 'timestamp', column: 'updated_at' },
    sharding: { strategy: 'hash', buckets: 4, listTemplate: 'Bench {n}' },
    // One run covers the whole table, so its counts describe the whole load. Above the row count:
    // a run that stops exactly at maxRowsPerRun cannot know it is done and enqueues a
    // continuation (which then reads nothing).
    maxRowsPerRun: Math.min(1_000_000, Math.max(50_000, rows * 2)),
  });
}

function listCounts(stack: Stack): Record<string, number> {
  const out: Record<string, number> = {};
  for (const l of stack.emulator.state.lists()) if (l.itemCount > 0 || l.displayName.startsWith('Bench')) out[l.displayName] = l.itemCount;
  return out;
}

type Opts = Required<Omit<PipelineBenchOptions, 'log' | 'parts' | 'updateRows' | 'updatedRows'>>;

/** A stack whose state store is the one the options name; on PostgreSQL it gets its own schema. */
export async function benchStack(opts: Pick<Opts, 'pgUrl' | 'stateStore'>, emulatorBudget: number, settings: Record<string, string>): Promise<{ stack: Stack; stop(): Promise<void> }> {
  const stateSchema = `bench_state_${Math.random().toString(36).slice(2, 8)}`;
  const stateSettings: Record<string, string> = opts.stateStore === 'postgres' ? { STATE_STORE: 'postgres', STATE_SQL_URL: opts.pgUrl, STATE_SQL_SCHEMA: stateSchema } : {};
  const stack = await startStack({ emulatorBudget, settings: { ...settings, ...stateSettings } });
  return {
    stack,
    async stop() {
      // A stack whose handlers hang must not hang the benchmark.
      await Promise.race([stack.stop(), new Promise((r) => setTimeout(r, 60_000).unref())]);
      if (opts.stateStore === 'postgres') {
        const pg = new Client({ connectionString: opts.pgUrl });
        try {
          await pg.connect();
          await pg.query(`DROP SCHEMA IF EXISTS "${stateSchema}" CASCADE`);
        } catch {
          // best effort
        } finally {
          await pg.end().catch(() => undefined);
        }
      }
    },
  };
}

/** Messages waiting or in flight on the stack's three queues, for progress lines. */
function queueDepth(stack: Stack): () => Promise<string> {
  const service = QueueServiceClient.fromConnectionString(stack.services.config.AzureWebJobsStorage!);
  return async () => {
    try {
      const parts: string[] = [];
      for (const q of Object.values(QUEUES)) parts.push(`${q} ${(await service.getQueueClient(q).getProperties()).approximateMessagesCount ?? 0}`);
      return parts.join(', ');
    } catch (error) {
      return `queues unavailable (${error instanceof Error ? error.message : String(error)})`;
    }
  };
}

const changedOf = (c: RunCounts) => c.created + c.updated + c.moved + c.deleted;
const cpuMicros = (d: NodeJS.CpuUsage) => d.user + d.system;

async function initialLoad(opts: Opts, log: (line: string) => void): Promise<InitialLoadResult> {
  const budget = opts.budgetRuPerMinute;
  const rows = opts.initialRows;
  clearTenantLimiters();
  const handle = await benchStack(opts, budget, { GRAPH_BUDGET_RU_PER_MINUTE: String(budget), GRAPH_MAX_CONCURRENCY: String(opts.maxConcurrency) });
  const stack = handle.stack;
  const queries = countSourceQueries(stack);
  const depth = queueDepth(stack);
  try {
    stack.emulator.state.configure({ latencyMs: opts.latencyMs });
    log(`  initial load: creating a source table of ${rows} rows…`);
    await createSourceTable(stack, rows);
    await addBenchDefinition(stack, 'bench-initial', rows);

    stack.emulator.state.resetMetrics();
    queries.reset();
    // Provisioning (site and list lookups, list and column creation) happens while the planner
    // routes its first rows; item writes start only after it has fanned out. So the RU charged
    // before the first item exists is the provisioning cost, and the rest is item writes.
    let firstWriteAt: number | null = null;
    let lastWriteAt: number | null = null;
    let ruBeforeFirstItem = 0;
    let lastRu = 0;
    const itemsNow = () => stack.emulator.state.lists().reduce((n, l) => n + l.itemCount, 0);
    const started = Date.now();
    const cpu0 = process.cpuUsage();
    const poll = setInterval(() => {
      const m = stack.emulator.state.metrics();
      if (firstWriteAt === null) {
        if (itemsNow() > 0) firstWriteAt = Date.now();
        else ruBeforeFirstItem = m.ru.total;
      }
      if (m.ru.total !== lastRu) {
        lastRu = m.ru.total;
        lastWriteAt = Date.now();
      }
    }, 100);
    const progress = setInterval(() => {
      const m = stack.emulator.state.metrics();
      const line = `  initial load: ${Math.round((Date.now() - started) / 1000)} s, ${m.ru.total} RU, ${m.requests} Graph requests, ${m.throttled} throttled`;
      void depth().then((d) => log(`${line}; queues: ${d}`));
    }, 15_000);
    let run: RunRecord;
    try {
      run = await runAndWait(stack, 'bench-initial', 'incremental', opts.runTimeoutMs);
    } finally {
      clearInterval(poll);
      clearInterval(progress);
    }
    const cpu = cpuMicros(process.cpuUsage(cpu0));
    const seconds = (Date.now() - started) / 1000;
    const m = stack.emulator.state.metrics();
    const lists = listCounts(stack);
    const itemCount = Object.values(lists).reduce((a, b) => a + b, 0);
    if (run.status !== 'succeeded' || run.counts.created !== rows || itemCount !== rows) {
      throw new Error(`initial load did not complete: status ${run.status}${run.error ? ` (${run.error})` : ''}, counts ${JSON.stringify(run.counts)}, ${itemCount} items in the lists`);
    }
    const changed = changedOf(run.counts);
    const writeRuTotal = m.ru.total - ruBeforeFirstItem;
    const firstAt = firstWriteAt ?? started;
    const lastAt = lastWriteAt ?? Date.now();
    const writeSeconds = Math.max(0.001, (lastAt - firstAt) / 1000);
    return {
      rows: run.counts.read,
      created: run.counts.created,
      changedRows: changed,
      graphRequests: m.requests,
      httpRequests: m.httpRequests,
      batches: m.batches,
      ru: m.ru.total,
      ruByKind: m.ru.byKind,
      provisioningRu: ruBeforeFirstItem,
      ruPerChangedRow: round(m.ru.total / changed, 4),
      writeRuPerChangedRow: round(writeRuTotal / changed, 4),
      ruUtilisation: round(m.ru.total / (seconds / 60) / budget),
      ruUtilisationWritePhase: round(writeRuTotal / (writeSeconds / 60) / budget),
      throttledShare: round(m.requests === 0 ? 0 : m.throttled / m.requests, 4),
      throttled: m.throttled,
      seconds: round(seconds, 1),
      planSeconds: round((firstAt - started) / 1000, 1),
      writeSeconds: round(writeSeconds, 1),
      rowsPerSecond: round(rows / seconds, 1),
      budgetRuPerMinute: budget,
      latencyMs: opts.latencyMs.fixed,
      latencyJitterMs: opts.latencyMs.jitter,
      maxConcurrency: opts.maxConcurrency,
      lists,
      cpuMicrosPerRow: round(cpu / Math.max(1, run.counts.read), 1),
      sourceQueries: queries.total(),
      stateStore: opts.stateStore,
      status: run.status,
      counts: run.counts,
    };
  } catch (error) {
    log(`  initial load failed: ${error instanceof Error ? error.message : String(error)}; stopping its stack…`);
    throw error;
  } finally {
    await queries.close().catch(() => undefined);
    await handle.stop();
    clearTenantLimiters();
  }
}

async function idleRun(opts: Opts, log: (line: string) => void): Promise<IdleRunResult> {
  const rows = opts.idleRows;
  clearTenantLimiters();
  const handle = await benchStack(opts, opts.setupEmulatorBudgetRuPerMinute, {
    GRAPH_BUDGET_RU_PER_MINUTE: String(opts.setupLimiterBudgetRuPerMinute),
    GRAPH_MAX_CONCURRENCY: '16',
  });
  const stack = handle.stack;
  const queries = countSourceQueries(stack);
  const depth = queueDepth(stack);
  try {
    stack.emulator.state.configure({ latencyMs: { fixed: 0, jitter: 0 } });
    log(`  idle run: creating a source table of ${rows} rows…`);
    await createSourceTable(stack, rows);
    await addBenchDefinition(stack, 'bench-idle', rows);

    // Setup: sync every row once, fast. Not measured.
    log(`  idle run: loading ${rows} rows (setup, emulator budget ${opts.setupEmulatorBudgetRuPerMinute} RU/min, limiter ${opts.setupLimiterBudgetRuPerMinute} RU/min, no latency)…`);
    const setupStarted = Date.now();
    const progress = setInterval(() => {
      const m = stack.emulator.state.metrics();
      const line = `  idle run setup: ${Math.round((Date.now() - setupStarted) / 1000)} s, ${m.requests} Graph requests`;
      void depth().then((d) => log(`${line}; queues: ${d}`));
    }, 20_000);
    let setup: RunRecord;
    try {
      setup = await runAndWait(stack, 'bench-idle', 'incremental', opts.runTimeoutMs);
    } finally {
      clearInterval(progress);
    }
    const setupSeconds = (Date.now() - setupStarted) / 1000;
    const setupMetrics = stack.emulator.state.metrics();
    const itemCount = Object.values(listCounts(stack)).reduce((a, b) => a + b, 0);
    if (setup.status !== 'succeeded' || setup.counts.created !== rows || itemCount !== rows) {
      throw new Error(`idle-run setup load did not complete: status ${setup.status}${setup.error ? ` (${setup.error})` : ''}, counts ${JSON.stringify(setup.counts)}, ${itemCount} items in the lists`);
    }
    log(`  idle run: setup load took ${Math.round(setupSeconds)} s`);

    // The measured runs meet the same emulator budget and latency as the initial load.
    stack.emulator.state.configure({ budgetRuPerMinute: opts.budgetRuPerMinute, latencyMs: opts.latencyMs });

    const measure = async (mode: 'incremental' | 'full'): Promise<IdlePassResult> => {
      // Backends report table statistics at most every second, idle ones within ~10 s
      // (PostgreSQL 15+): wait so the counters hold everything before the run, then after it.
      const statsSettle = () => new Promise((r) => setTimeout(r, 11_000));
      await statsSettle();
      const scans0 = await tableScans(stack.pg, stack.schema, 'orders');
      // What this process burns with nothing to do, so the per-row figure can also be given net
      // of it: the local host polling its queues and timers, and the benchmark reading a run
      // record every RUN_POLL_MS as runUntilFinished does during the run.
      const idle0 = process.cpuUsage();
      const idleStarted = performance.now();
      while (performance.now() - idleStarted < 5_000) {
        await stack.state.getRun('bench-idle-baseline');
        await new Promise((r) => setTimeout(r, RUN_POLL_MS));
      }
      const idleCpuPerSecond = cpuMicros(process.cpuUsage(idle0)) / ((performance.now() - idleStarted) / 1000);
      stack.emulator.state.resetMetrics();
      queries.reset();
      const started = Date.now();
      const cpu0 = process.cpuUsage();
      const run = await runUntilFinished(stack, 'bench-idle', mode, opts.runTimeoutMs);
      const cpu = cpuMicros(process.cpuUsage(cpu0));
      const seconds = (Date.now() - started) / 1000;
      const m = stack.emulator.state.metrics();
      // Continuations would belong to the measurement too; count the runs it took.
      const runs = (await stack.state.listRuns('bench-idle', { limit: 50 })).items.filter((r) => Date.parse(r.startedAt) >= started).length;
      const sourceQueries = queries.total();
      const byKind = queries.byKind();
      await statsSettle();
      const scans1 = await tableScans(stack.pg, stack.schema, 'orders');
      return {
        mode,
        runs,
        rows: run.counts.read,
        graphRequests: m.requests,
        httpRequests: m.httpRequests,
        ru: m.ru.total,
        sourceQueries,
        sourceQueriesByKind: byKind,
        sourceTableScans: scans0 === null || scans1 === null ? null : scans1 - scans0,
        seconds: round(seconds, 2),
        cpuMicros: cpu,
        cpuMicrosPerRow: run.counts.read > 0 ? round(cpu / run.counts.read, 1) : null,
        idleCpuMicrosPerSecond: Math.round(idleCpuPerSecond),
        cpuMicrosPerRowNetOfIdle: run.counts.read > 0 ? round(Math.max(0, cpu - idleCpuPerSecond * seconds) / run.counts.read, 1) : null,
        idleShareOfCpu: cpu > 0 ? round(Math.min(1, (idleCpuPerSecond * seconds) / cpu), 3) : null,
        status: run.status,
        counts: run.counts,
      };
    };

    log('  idle run: incremental run with no changes…');
    const incremental = await measure('incremental');
    log(`  idle run: full run over ${rows} unchanged rows…`);
    const full = await measure('full');
    for (const pass of [incremental, full]) {
      if (pass.status !== 'succeeded') throw new Error(`idle ${pass.mode} run ended ${pass.status}: ${JSON.stringify(pass.counts)}`);
    }
    return {
      tableRows: rows,
      runs: incremental.runs,
      rows: incremental.rows,
      graphRequests: incremental.graphRequests,
      sourceQueries: incremental.sourceQueries,
      sourceQueriesByKind: incremental.sourceQueriesByKind,
      sourceTableScans: incremental.sourceTableScans,
      seconds: incremental.seconds,
      status: incremental.status,
      counts: incremental.counts,
      full,
      budgetRuPerMinute: opts.budgetRuPerMinute,
      latencyMs: opts.latencyMs.fixed,
      latencyJitterMs: opts.latencyMs.jitter,
      limiterBudgetRuPerMinute: opts.setupLimiterBudgetRuPerMinute,
      stateStore: opts.stateStore,
      setup: { rows, seconds: round(setupSeconds, 1), created: setup.counts.created, ru: setupMetrics.ru.total, status: setup.status },
    };
  } catch (error) {
    log(`  idle run failed: ${error instanceof Error ? error.message : String(error)}; stopping its stack…`);
    throw error;
  } finally {
    await queries.close().catch(() => undefined);
    await handle.stop();
    clearTenantLimiters();
  }
}

export async function benchPipeline(options: PipelineBenchOptions): Promise<PipelineBenchResult> {
  const log = options.log ?? (() => {});
  const parts = options.parts ?? ['initialLoad', 'idleRun', 'update'];
  const opts: Opts = {
    pgUrl: options.pgUrl,
    stateStore: options.stateStore ?? 'postgres',
    initialRows: options.initialRows ?? 20_000,
    idleRows: options.idleRows ?? 200_000,
    budgetRuPerMinute: options.budgetRuPerMinute ?? 30_000,
    latencyMs: options.latencyMs ?? { fixed: 20, jitter: 10 },
    maxConcurrency: options.maxConcurrency ?? 8,
    setupEmulatorBudgetRuPerMinute: options.setupEmulatorBudgetRuPerMinute ?? 50_000_000,
    setupLimiterBudgetRuPerMinute: options.setupLimiterBudgetRuPerMinute ?? 1_000_000,
    runTimeoutMs: options.runTimeoutMs ?? 20 * 60_000,
  };
  // The stack takes its PostgreSQL from TEST_PG_URL.
  process.env.TEST_PG_URL = options.pgUrl;
  const out: PipelineBenchResult = {};
  const errors: Record<string, string> = {};
  if (parts.includes('initialLoad')) {
    try {
      out.initialLoad = await initialLoad(opts, log);
    } catch (error) {
      errors.initialLoad = error instanceof Error ? error.message : String(error);
      log(`  initial load failed: ${errors.initialLoad}`);
    }
  }
  if (parts.includes('idleRun')) {
    try {
      out.idleRun = await idleRun(opts, log);
      if (out.idleRun.full.cpuMicrosPerRow !== null) out.cpuMicrosPerRow = out.idleRun.full.cpuMicrosPerRow;
    } catch (error) {
      errors.idleRun = error instanceof Error ? error.message : String(error);
      log(`  idle run failed: ${errors.idleRun}`);
    }
  }
  if (parts.includes('update')) {
    try {
      out.updateBytesPerRow = await updatePhase({ pgUrl: opts.pgUrl, stateStore: opts.stateStore, rows: options.updateRows ?? 4_000, updatedRows: options.updatedRows ?? 2_000, runTimeoutMs: opts.runTimeoutMs, log });
    } catch (error) {
      errors.update = error instanceof Error ? error.message : String(error);
      log(`  update phase failed: ${errors.update}`);
    }
  }
  if (Object.keys(errors).length) out.errors = errors;
  return out;
}
